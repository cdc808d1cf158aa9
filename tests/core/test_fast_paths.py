"""Fast paths of the simulator against the general code they replace or skip: MarkovBandwidth's
cdf draws against ``rng.choice``, ``SharedMedium.send`` against sending_from + an earliest-fit
reference, and ``Outcome.breakdown`` against COMPONENTS."""
from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from e3gym.core.cluster import COMPONENTS, Outcome
from e3gym.core.network import ConstantBandwidth, Link, MarkovBandwidth, SharedMedium, TraceBandwidth
from e3gym.errors import E3GymError


class _ChoiceChain:
    """The same chain drawn the general way: ``rng.choice(n, p=row)`` for every state, then the dwell."""

    def __init__(self, chain: MarkovBandwidth):
        self.chain, self.state = chain, 0

    def _segment(self, rng: np.random.Generator) -> tuple[float, float]:
        return float(rng.exponential(self.chain.mean_dwell_s[self.state])), self.chain.states_bps[self.state]

    def first_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        self.state = int(rng.choice(len(self.chain.states_bps), p=self.chain.initial))
        return self._segment(rng)

    def next_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        self.state = int(rng.choice(len(self.chain.states_bps), p=self.chain.transition[self.state]))
        return self._segment(rng)


def _law(draw, n: int) -> list[float]:
    # Integer weights make zeros (never-taken jumps) and ties with cdf boundaries common.
    weights = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n).filter(any))
    return [w / sum(weights) for w in weights]


@st.composite
def _chains(draw):
    n = draw(st.integers(1, 5))
    rates = draw(st.lists(st.floats(1e5, 1e8), min_size=n, max_size=n))
    dwell = draw(st.one_of(st.floats(0.01, 10), st.lists(st.floats(0.01, 10), min_size=n, max_size=n)))
    transition = draw(st.one_of(st.none(), st.just([_law(draw, n) for _ in range(n)])))
    initial = draw(st.one_of(st.none(), st.just(_law(draw, n))))
    return rates, dwell, transition, initial


@settings(max_examples=200, deadline=None)
@given(chain=_chains(), seed=st.integers(0, 2**32 - 1))
def test_markov_segments_and_generator_state_equal_rng_choice(chain, seed):
    rates, dwell, transition, initial = chain
    try:
        fast = MarkovBandwidth(rates, dwell, transition, initial)
    except E3GymError:  # e.g. a reducible chain without an initial law: no stationary law to start from
        assume(False)
    general = _ChoiceChain(fast)
    rng_fast, rng_general = np.random.default_rng(seed), np.random.default_rng(seed)
    assert fast.first_segment(rng_fast) == general.first_segment(rng_general)
    for _ in range(60):
        assert fast.next_segment(rng_fast) == general.next_segment(rng_general)
    # the stream is left where choice leaves it: later draws from the generator are unchanged too
    assert rng_fast.bit_generator.state == rng_general.bit_generator.state


def test_markov_draw_hand_worked():
    # From state 0 the jump law is (0, 0.25, 0.75): cdf (0, 0.25, 1). A uniform of exactly 0.25 goes
    # to state 2, as searchsorted(side="right") sends a value equal to a boundary to the next state.
    chain = MarkovBandwidth([1e6, 2e6, 3e6], 1.0, transition=[[0, 0.25, 0.75], [0.5, 0, 0.5], [0.5, 0.5, 0]],
                            initial=[1.0, 0.0, 0.0])

    class Uniforms:
        def __init__(self, values):
            self.values = list(values)

        def random(self):
            return self.values.pop(0)

        def exponential(self, mean):
            return mean

    assert chain.first_segment(Uniforms([0.9])) == (1.0, 1e6)  # initial law: state 0 whatever the draw
    assert chain.next_segment(Uniforms([0.25])) == (1.0, 3e6)
    chain.first_segment(Uniforms([0.0]))
    assert chain.next_segment(Uniforms([0.2499])) == (1.0, 2e6)


def _earliest_fit(held: list[tuple[float, float]], ready_s: float, airtime_at) -> tuple[float, float]:
    """The first candidate start (the ready time or the end of a held interval after it) from which the
    transfer overlaps no interval ever held."""
    for t in sorted({ready_s, *(b for _, b in held if b >= ready_s)}):
        d = airtime_at(t)
        if all(b <= t or t + d <= a for a, b in held):
            return t, d
    raise AssertionError("the end of the last interval is always a fit")


_grid = st.integers(0, 40).map(lambda k: k / 4)


@settings(max_examples=300, deadline=None)
@given(rates_mbps=st.lists(st.sampled_from([0.0, 0.05, 0.4, 2.0]), min_size=1, max_size=6).filter(any),
       ops=st.lists(st.tuples(_grid, _grid, st.integers(1, 60_000), st.booleans()), min_size=1, max_size=50))
def test_send_waits_out_holes_then_takes_the_earliest_fit(rates_mbps, ops):
    # A looping 0.25 s-per-segment curve with coverage holes (rate 0): airtime depends on the start.
    link = Link(TraceBandwidth([0.25] * len(rates_mbps), [r * 1e6 for r in rates_mbps]), np.random.default_rng(0))
    medium = SharedMedium()
    held: list[tuple[float, float]] = []  # never forgotten
    now = 0.0
    for advance, offset, n_bytes, commit in ops:
        now += advance / 4
        ready = now + offset
        expected = _earliest_fit(held, link.sending_from(ready), lambda t, n=n_bytes: link.transfer_s(t, n))
        assert medium.send(link, ready, n_bytes, commit, now) == expected
        if commit:
            held.append((expected[0], expected[0] + expected[1]))


@settings(max_examples=300, deadline=None)
@given(rates_mbps=st.lists(st.sampled_from([0.0, 0.05, 0.4, 2.0]), min_size=1, max_size=6).filter(any),
       starts=st.lists(st.one_of(_grid, st.floats(0, 20)), min_size=1, max_size=20),
       n_bytes=st.sampled_from([0, 1, 1500, 60_000, 400_000]))
def test_transfer_from_is_sending_from_then_transfer_s(rates_mbps, starts, n_bytes):
    link = Link(TraceBandwidth([0.25] * len(rates_mbps), [r * 1e6 for r in rates_mbps]), np.random.default_rng(0))
    for t in starts:
        ready = link.sending_from(t)
        assert link.transfer_from(t, n_bytes) == (ready, link.transfer_s(ready, n_bytes))


def test_send_without_commit_changes_nothing():
    link = Link(ConstantBandwidth(8e6), np.random.default_rng(0))  # 1 MB/s
    medium = SharedMedium()
    assert medium.send(link, 0.0, 1_000_000, commit=True, now_s=0.0) == (0.0, 1.0)
    assert medium.send(link, 0.5, 500_000, commit=False, now_s=0.5) == (1.0, 0.5)  # behind [0, 1)
    assert medium.send(link, 0.5, 500_000, commit=False, now_s=0.5) == (1.0, 0.5)  # the what-if held nothing
    assert medium.send(link, 2.0, 500_000, commit=True, now_s=2.0) == (2.0, 0.5)  # forgets [0, 1): over by 2 s
    assert medium.slot(1.0, lambda t: 1.0) == (1.0, 1.0)  # [1, 2) is free again
    assert medium.slot(1.5, lambda t: 1.0) == (2.5, 1.0)  # [2, 2.5) is held


def test_breakdown_is_every_component_in_timeline_order():
    values = {name: float(i + 1) for i, name in enumerate(COMPONENTS)}
    out = Outcome(1, 0, 0, **values, latency_s=99.0, accuracy=0.5, energy_j=7.0)
    breakdown = out.breakdown()
    assert list(breakdown) == list(COMPONENTS)
    assert breakdown == values
