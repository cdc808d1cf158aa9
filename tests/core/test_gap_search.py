"""Gap searches of FIFO servers and shared media: exact against a linear reference, flat cost under overload."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from conftest import small_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

import e3gym  # noqa: F401  (registers the envs)
from e3gym.core.cluster import FifoResource
from e3gym.core.network import SharedMedium

# Times on a quarter-second grid (exact in binary floating point) make ties, touching jobs and exact
# fits common; arbitrary floats cover the rest. The clock advances on the grid so that it stays on it.
_grid = st.integers(0, 40).map(lambda k: k / 4)
_time = st.one_of(_grid, st.floats(0, 10))
# The timeline reserves positive durations only (zero-length jobs: see the hand-worked test below).
_duration = st.one_of(st.integers(1, 12).map(lambda k: k / 4), st.floats(1e-3, 3))


def _earliest_fit(jobs: list[tuple[float, float]], ready_s: float, duration_at) -> tuple[float, float]:
    """The definition, checked against every job ever reserved: the first candidate start (the ready
    time or a job's end after it) from which the job overlaps no reserved job."""
    for t in sorted({ready_s, *(b for _, b in jobs if b >= ready_s)}):
        d = duration_at(t)
        if all(b <= t or t + d <= a for a, b in jobs):
            return t, d
    raise AssertionError("the end of the last job is always a fit")


@settings(max_examples=300, deadline=None)
@given(workers=st.integers(1, 4),
       ops=st.lists(st.tuples(_grid, _time, _duration, st.booleans()), min_size=1, max_size=60))
def test_fifo_slot_matches_the_linear_reference(workers, ops):
    res = FifoResource(workers)
    jobs: list[list[tuple[float, float]]] = [[] for _ in range(workers)]  # never forgotten
    now = 0.0
    for advance, offset, duration, probe in ops:
        now += advance / 4  # queue_length is called with non-decreasing times, readies never before them
        ready = now + offset
        fits = [_earliest_fit(w, ready, lambda t, d=duration: d)[0] for w in jobs]
        best = min(fits)
        expected = (best, fits.index(best))  # ties go to the lowest-numbered worker
        assert res.slot(ready, duration) == expected
        if probe:
            continue  # a what-if: nothing reserved
        assert res.reserve(ready, duration) == (best, best + duration)
        jobs[expected[1]].append((best, best + duration))
        assert res.queue_length(now) == sum(b > now for w in jobs for _, b in w)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(st.tuples(_grid, _time, st.booleans()), min_size=1, max_size=60),
       airtimes=st.lists(st.one_of(st.integers(1, 12).map(lambda k: k / 4), st.floats(0.01, 3)),
                         min_size=1, max_size=8))
def test_shared_medium_slot_matches_the_linear_reference(ops, airtimes):
    # Airtime depends on the start (a sender's rate changes over time): a step function of time.
    def airtime_at(t: float) -> float:
        return airtimes[int(t * 2) % len(airtimes)]

    medium = SharedMedium()
    held: list[tuple[float, float]] = []  # never forgotten
    now = 0.0
    for advance, offset, probe in ops:
        now += advance / 4
        medium.forget_before(now)
        ready = now + offset
        expected = _earliest_fit(held, ready, airtime_at)
        assert medium.slot(ready, airtime_at) == expected
        if not probe:
            medium.reserve(*expected)
            held.append((expected[0], expected[0] + expected[1]))


def test_gap_checks_count_the_candidate_gaps_hand_worked():
    res = FifoResource(1)
    for ready, duration in ((0.0, 1.0), (2.0, 1.0), (4.0, 1.0)):  # busy [0, 1), [2, 3), [4, 5)
        res.reserve(ready, duration)
    res.gap_checks = 0
    # 1.5 s fits neither [1, 2) nor [3, 4): three gaps passed over, then the open one after 5
    assert res.slot(0.5, 1.5) == (5.0, 0)
    assert res.gap_checks == 4
    # ready at 3.5: blocks ending by then are skipped by bisection; [3.5, 4) is the first gap tried
    assert res.slot(3.5, 0.5) == (3.5, 0)
    assert res.gap_checks == 5

    medium = SharedMedium()
    medium.reserve(1.0, 1.0)
    medium.reserve(2.5, 1.0)  # busy [1, 2), [2.5, 3.5)
    # 1.5 s fits neither [0, 1) nor [2, 2.5): two gaps passed over, then the open one after 3.5
    assert medium.slot(0.0, lambda t: 1.5) == (3.5, 1.5)
    assert medium.gap_checks == 3
    assert medium.slot(0.0, lambda t: 0.75) == (0.0, 0.75)  # the first gap holds it
    assert medium.gap_checks == 4


def test_zero_length_job_never_starts_inside_a_busy_block_hand_worked():
    res = FifoResource(1)
    res.reserve(0.0, 1.0)
    res.reserve(1.0, 1.0)  # touches the first: one busy block [0, 2)
    res.reserve(3.0, 1.0)  # busy [3, 4)
    assert res.slot(1.0, 0.0) == (2.0, 0)  # where the two jobs touch is inside the block
    assert res.slot(2.0, 0.0) == (2.0, 0)  # the end of a block is free
    assert res.slot(3.0, 0.0) == (3.0, 0)  # and so is the start of one: [3, 3) overlaps nothing
    assert res.slot(3.5, 0.0) == (4.0, 0)


def test_gap_checks_stay_flat_along_an_overloaded_episode():
    # 3 users at 20 requests/s each with random actions: the backlog grows all episode long.
    env = gym.make("e3gym/EndEdgeCloud-v1", max_episode_steps=None, queue_obs_max=10**9,
                   scenario=small_scenario(workload={"rate_per_s": 20.0}))
    env.action_space.seed(0)
    env.reset(seed=0)
    cluster = env.unwrapped.cluster
    resources = [u.resource for u in cluster.users] + [cluster.edge.resource, cluster.cloud.resource]
    resources += cluster.cell_up + cluster.cell_down + [cluster.wan_up_medium, cluster.wan_down_medium]

    n_steps = 4000
    quarter = n_steps // 4
    checks, backlog = [], []
    for i in range(n_steps):
        obs, *_ = env.step(env.action_space.sample())
        backlog.append(float(obs[2:5].sum()))  # jobs outstanding at the device, the edge and the cloud
        if (i + 1) % quarter == 0:
            checks.append(sum(r.gap_checks for r in resources))
    per_step = np.diff([0, *checks]) / quarter
    first, last = np.mean(backlog[:quarter]), np.mean(backlog[-quarter:])
    # Overload: far more jobs are outstanding at the end, which a scan from the first reservation visits.
    assert last > 3 * first, (first, last)
    assert per_step[-1] <= 1.5 * per_step[0], per_step


def test_a_duration_below_the_clocks_rounding_fits_before_a_block_as_the_search_says():
    # ready exactly at the last block's start, and ready + d == ready: the search lets the job "fit"
    # before the block (it overlaps nothing in floating point); the fast path must not move it behind
    for clock, tiny in ((1000.0, 1e-14), (1e6, 5e-11)):
        res = FifoResource(1)
        res.reserve(clock, 1.0)
        assert clock + tiny == clock
        assert res.reserve(clock, tiny) == (clock, clock)
        assert res.slot(clock + 0.5, 1.0) == (clock + 1.0, 0)  # still one block [clock, clock + 1)
