"""The request timeline: FIFO queues, the latency identity, monotonicity in bandwidth."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import small_scenario
from e3gym.core.cluster import CLOUD, COMPONENTS, EDGE, END, FifoResource
from e3gym.core.workload import Request
from e3gym.scenarios import build, load_scenario


def test_fifo_single_worker_hand_worked():
    # Jobs (ready, duration): A(0, 2) B(1, 1) C(1.5, 3) D(7, 1) on one worker.
    res = FifoResource(1)
    assert res.reserve(0.0, 2.0) == (0.0, 2.0)      # A starts at once
    assert res.reserve(1.0, 1.0) == (2.0, 3.0)      # B waits 1 s for A
    assert res.reserve(1.5, 3.0) == (3.0, 6.0)      # C waits behind B
    assert res.queue_length(2.5) == 2               # B in service, C waiting (A done)
    assert res.reserve(7.0, 1.0) == (7.0, 8.0)      # D finds the worker idle
    assert res.queue_length(6.0) == 1


def test_fifo_two_workers_hand_worked():
    res = FifoResource(2)
    assert res.reserve(0.0, 4.0) == (0.0, 4.0)
    assert res.reserve(0.0, 1.0) == (0.0, 1.0)      # second worker
    assert res.reserve(0.5, 1.0) == (1.0, 2.0)      # the earliest free worker
    assert res.reserve(0.5, 5.0) == (2.0, 7.0)
    assert res.queue_length(1.5) == 3


def test_later_issued_job_fills_an_idle_gap_without_moving_reservations():
    res = FifoResource(1)
    assert res.reserve(10.0, 2.0) == (10.0, 12.0)   # issued first, arrives late (slow link)
    assert res.reserve(5.0, 3.0) == (5.0, 8.0)      # arrives early and fits before it
    assert res.reserve(6.0, 3.0) == (12.0, 15.0)    # does not fit in [8, 10): waits
    assert res.slot(8.0, 2.0) == (8.0, 0)           # exactly fits the gap


@settings(max_examples=50, deadline=None)
@given(jobs=st.lists(st.tuples(st.floats(0, 20), st.floats(0.01, 5)), min_size=1, max_size=30),
       workers=st.integers(1, 3))
def test_fifo_reservations_never_overlap_on_a_worker(jobs, workers):
    res = FifoResource(workers)
    intervals = [res.reserve(r, d) for r, d in jobs]
    for (ready, dur), (start, finish) in zip(jobs, intervals):
        assert start >= ready and finish == pytest.approx(start + dur)
    # At any instant at most `workers` jobs are in service.
    for t in {s for s, _ in intervals}:
        assert sum(s <= t < f for s, f in intervals) <= workers


def _cluster(data, seed=0):
    return build(load_scenario(data), np.random.default_rng(seed))


def _request(user=0, t=1.0, noise=(0.0, 0.0, 0.0)):
    return Request(0, t, user, 0.0, math.inf, noise)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), tier=st.sampled_from([END, EDGE, CLOUD]), cut=st.integers(0, 25),
       model=st.integers(0, 2), network=st.sampled_from(["mobile", "wifi", "3g"]), n=st.integers(1, 15))
def test_components_add_up_to_the_total(seed, tier, cut, model, network, n):
    built = _cluster(small_scenario(users={"network": network}), seed)
    wl = built.workload
    from e3gym.core.rng import RandomStream
    wl.reset(RandomStream(np.random.default_rng(seed)))
    for _ in range(n):
        req = wl.next_request()
        out = built.cluster.serve(req, tier, cut, model)
        parts = [getattr(out, c) for c in COMPONENTS]
        assert all(p >= 0 for p in parts)
        assert out.latency_s == sum(parts)  # the identity holds exactly, in timeline order
        assert out.finish_s - req.arrival_s == pytest.approx(out.latency_s, rel=1e-12, abs=1e-12)


def test_tier_end_and_cut_past_last_block_are_all_local():
    c = _cluster(small_scenario()).cluster
    n_blocks = c.table.n_blocks[1]
    for tier, cut in [(END, 0), (EDGE, n_blocks), (CLOUD, n_blocks + 7)]:
        out = c.serve(_request(), tier, cut, 1, commit=False)
        assert (out.tier, out.cut) == (END, n_blocks)
        assert out.uplink == out.downlink == 0.0
        assert out.local_compute == pytest.approx(c.users[0].device.latency("mobilenet_v2").total.median_s)


def test_cloud_path_crosses_the_wan_and_edge_path_does_not():
    c = _cluster(small_scenario(models={"latency_noise": False})).cluster
    edge = c.serve(_request(), EDGE, 0, 0, commit=False)
    cloud = c.serve(_request(), CLOUD, 0, 0, commit=False)
    assert edge.wan == 0 and edge.cloud_compute == 0 and edge.edge_compute > 0
    assert cloud.wan > 0 and cloud.edge_compute == 0 and cloud.cloud_compute > 0
    # 10 Mbps access, 2 ms propagation: the raw 224x224 RGB input takes 150528*8/10e6 s + 2 ms.
    assert edge.uplink == pytest.approx(150528 * 8 / 10e6 + 0.002)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), tier=st.sampled_from([EDGE, CLOUD]), cut=st.integers(0, 20),
       model=st.integers(0, 2), slow=st.floats(0.5, 20), factor=st.floats(1.0, 8.0))
def test_more_bandwidth_never_increases_latency(seed, tier, cut, model, slow, factor):
    def latency(access_mbps, wan_mbps):
        data = small_scenario(users={"network": {"kind": "constant", "mbps": access_mbps}},
                              wan={"network": {"kind": "constant", "mbps": wan_mbps}})
        c = _cluster(data, seed).cluster
        return c.serve(_request(noise=(0.3, -0.2, 0.1)), tier, cut, model).latency_s
    base = latency(slow, 50.0)
    assert latency(slow * factor, 50.0) <= base * (1 + 1e-12)
    assert latency(slow, 50.0 * factor) <= base * (1 + 1e-12)


def test_queueing_delays_a_second_request_on_the_same_server():
    c = _cluster(small_scenario(models={"latency_noise": False})).cluster
    first = c.serve(_request(user=0, t=1.0), EDGE, 0, 2)
    second = c.serve(_request(user=1, t=1.0), EDGE, 0, 2)
    assert first.edge_queue == 0
    assert second.edge_queue == pytest.approx(first.edge_compute)  # same arrival, one worker
    assert c.queue_lengths(0, 1.0)[1] == 2


def test_energy_counts_compute_power_and_radio():
    c = _cluster(small_scenario(users={"network": "wifi"}, models={"latency_noise": False})).cluster
    user = c.users[0]
    local = c.serve(_request(), END, 0, 0, commit=False)
    assert local.energy_j == pytest.approx(user.device.busy_power_w * local.local_compute)
    remote = c.serve(_request(), EDGE, 0, 0, commit=False)
    airtime = remote.uplink - user.uplink.propagation_s
    assert remote.energy_j == pytest.approx(user.tx_power.power_w(18.88e6) * airtime)
