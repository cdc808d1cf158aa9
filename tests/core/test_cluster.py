"""The request timeline: FIFO queues, the latency identity, monotonicity in bandwidth."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import small_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from e3gym.core.cluster import CLOUD, COMPONENTS, EDGE, END, FifoResource
from e3gym.core.payload import load_jpeg_model, wire_bytes
from e3gym.core.rng import RandomStream
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


def _request(user=0, t=1.0, noise=(0.0, 0.0, 0.0), index=0):
    return Request(index, t, user, 0.0, math.inf, noise)


def _quiet(**overrides):
    """A small scenario without run-to-run noise: every number below can be worked out by hand."""
    return small_scenario(models={"latency_noise": False}, **overrides)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), tier=st.sampled_from([END, EDGE, CLOUD]), cut=st.integers(0, 25),
       model=st.integers(0, 2), network=st.sampled_from(["mobile", "wifi", "3g", "5g", "lte"]), n=st.integers(1, 15))
def test_components_add_up_to_the_clock_of_the_timeline(seed, tier, cut, model, network, n):
    built = _cluster(small_scenario(users={"network": network, "access": "lte", "cells": 1}), seed)
    wl = built.workload
    wl.reset(RandomStream(np.random.default_rng(seed)))
    cluster = built.cluster
    for _ in range(n):
        req = wl.next_request()
        out = cluster.serve(req, tier, cut, model)
        parts = [getattr(out, c) for c in COMPONENTS]
        assert all(p >= 0 for p in parts)
        # finish_s is the clock the timeline advanced; the components are recorded separately
        assert math.fsum(parts) == pytest.approx(out.finish_s - req.arrival_s, rel=1e-9, abs=1e-12)
        assert out.latency_s == pytest.approx(out.finish_s - req.arrival_s, rel=1e-12, abs=1e-12)
        if out.tier == EDGE:  # the server's own reservation ends where the timeline says compute ends
            after_compute = out.finish_s - out.downlink_s - out.propagation_s / 2
            assert any(f == pytest.approx(after_compute, abs=1e-9) for f in cluster.edge.resource._finishes)


def test_tier_end_and_cut_past_last_block_are_all_local():
    c = _cluster(_quiet()).cluster
    n_blocks = c.table.n_blocks[1]
    for tier, cut in [(END, 0), (EDGE, n_blocks), (CLOUD, n_blocks + 7)]:
        out = c.serve(_request(), tier, cut, 1, commit=False)
        assert (out.tier, out.cut) == (END, n_blocks)
        assert out.uplink_s == out.downlink_s == out.propagation_s == out.bytes_up == 0
        assert out.local_compute_s == pytest.approx(c.users[0].device.latency("mobilenet_v2").total.median_s)


def test_hand_worked_edge_offload_of_a_jpeg_frame():
    # Wi-Fi access (no RRC promotion), RTT 4 ms, constant 10 Mbps, a new TCP connection per request.
    c = _cluster(_quiet(users={"connection": "new"})).cluster
    jpeg = load_jpeg_model()
    pi, edge = c.users[0].device, c.edge.device
    size = jpeg.size_bytes(224, 75)
    assert 5_000 < size < 50_000  # a JPEG frame, not the 150,528-byte raw image
    wire = size + math.ceil(size / 1448) * 52
    encode = jpeg.times(pi, 75).encode_s(224 * 224)
    decode = jpeg.times(edge, 75).decode_s(224 * 224)
    compute = edge.latency("mobilenet_v3_small").total.median_s
    result_wire = 60 + 52  # top-5: five int64 + five float32, one segment
    expected = (encode + 0.004 + wire * 8 / 10e6 + 0.002 + decode + compute
                + result_wire * 8 / 10e6 + 0.002)
    out = c.serve(_request(t=1.0), EDGE, 0, 0)
    assert out.bytes_up == size and out.bytes_down == 60
    assert out.encode_s == pytest.approx(encode) and out.decode_s == pytest.approx(decode)
    assert out.tcp_handshake_s == pytest.approx(0.004)  # one RTT: a new connection
    assert out.radio_promotion_s == 0 and out.tcp_slow_start_s == 0  # Wi-Fi; 8 segments fit the initial window
    assert out.latency_s == pytest.approx(expected, rel=1e-9)
    assert c.serve(_request(t=2.0, index=1), EDGE, 0, 0).tcp_handshake_s == pytest.approx(0.004)
    # a persistent connection (the default) was opened before the episode: no handshake at all
    persistent = _cluster(_quiet()).cluster.serve(_request(t=1.0), EDGE, 0, 0)
    assert persistent.tcp_handshake_s == 0
    assert persistent.latency_s == pytest.approx(expected - 0.004, rel=1e-9)


def test_two_users_of_one_cell_share_its_airtime():
    def run(both: bool):
        c = _cluster(_quiet(users={"cells": 1, "network": {"kind": "constant", "mbps": 2.0}})).cluster
        first = c.serve(_request(user=0, t=1.0), EDGE, 0, 2)
        second = c.serve(_request(user=1, t=1.0, index=1), EDGE, 0, 2) if both else None
        return first, second
    alone, _ = run(False)
    first, second = run(True)
    assert first == alone  # the earlier reservation never moves
    # same arrival, same payload: the second upload waits exactly for the first one's airtime
    assert second.uplink_queue_s == pytest.approx(first.uplink_s)
    assert second.uplink_s == pytest.approx(first.uplink_s)
    # in separate cells neither waits
    c = _cluster(_quiet(users={"cells": 2, "network": {"kind": "constant", "mbps": 2.0}})).cluster
    c.serve(_request(user=0, t=1.0), EDGE, 0, 2)
    assert c.serve(_request(user=1, t=1.0, index=1), EDGE, 0, 2).uplink_queue_s == 0


def test_cloud_requests_share_the_wan():
    c = _cluster(_quiet(users={"cells": 3})).cluster
    first = c.serve(_request(user=0, t=1.0), CLOUD, 0, 0)
    second = c.serve(_request(user=1, t=1.0, index=1), CLOUD, 0, 0)
    assert first.wan_s > 0 and first.edge_compute_s == 0 and first.cloud_compute_s > 0
    wan_air = wire_bytes(first.bytes_up) * 8 / 100e6
    assert second.wan_s == pytest.approx(first.wan_s + wan_air)  # waited one upload's WAN airtime


def test_slow_start_stalls_a_large_activation_hand_worked():
    # resnet50 cut after its stem: a big float32 activation over 10 Mbps with a 4 ms RTT.
    c = _cluster(_quiet()).cluster
    out = c.serve(_request(), EDGE, 1, 2)
    n = out.bytes_up
    segs = math.ceil(n / 1448)
    seg_s = out.uplink_s / segs
    stall, sent, w = 0.0, 0, 10
    while sent + w < segs:  # Kurose-Ross: after each window but the last, wait for the first ACK
        sent += w
        stall += max(0.0, seg_s + 0.004 - w * seg_s)
        w *= 2
    assert segs > 10 and out.tcp_slow_start_s == pytest.approx(stall)
    assert out.uplink_s == pytest.approx((n + segs * 52) * 8 / 10e6)


def test_lte_radio_promotes_from_idle_and_not_within_its_tail():
    c = _cluster(_quiet(users={"network": "lte", "access": "lte"})).cluster
    assert c.users[0].access.name == "lte"
    # the connection was opened at t = 0, so at t = 1 s the radio is still in its tail
    first = c.serve(_request(t=1.0), EDGE, 0, 0)
    assert first.radio_promotion_s == 0
    within_tail = c.serve(_request(t=8.0, index=1), EDGE, 0, 0)
    assert within_tail.radio_promotion_s == 0
    after_tail = c.serve(_request(t=40.0, index=2), EDGE, 0, 0)  # > 10.12 s since the last transfer
    assert after_tail.radio_promotion_s == pytest.approx(0.26)  # ARO lte.conf T_PROMOTION
    # TCP: idle far longer than the RTO, the window restarts, but the connection is kept
    assert after_tail.tcp_handshake_s == 0


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
    c = _cluster(_quiet(users={"cells": 3})).cluster
    first = c.serve(_request(user=0, t=1.0), EDGE, 0, 2)
    second = c.serve(_request(user=1, t=1.0, index=1), EDGE, 0, 2)
    assert first.edge_queue_s == 0
    assert second.edge_queue_s == pytest.approx(first.decode_s + first.edge_compute_s)  # one worker
    assert c.queue_lengths(0, 1.0)[1] == 2


def test_energy_follows_the_one_accounting_rule():
    c = _cluster(_quiet(users={"network": "wifi"})).cluster
    user = c.users[0]
    busy, idle = user.device.power["busy_w"], user.device.power["idle_w"]
    local = c.serve(_request(), END, 0, 0, commit=False)
    assert local.energy_j == pytest.approx(busy * local.local_compute_s)
    wifi = user.access  # ARO WiFi.conf: 0.403 W active, 0.25 s tail at that power
    assert wifi.tail_s == pytest.approx(0.25)

    def expected(out, previous_tail_s):
        up_active = out.tcp_handshake_s + out.uplink_queue_s + out.uplink_s + out.tcp_slow_start_s
        waiting = out.latency_s - out.encode_s - out.downlink_s - up_active  # the radio in its tail meanwhile
        radio = 0.403 * (up_active + out.downlink_s) + 0.403 * min(waiting, 0.25) + 0.403 * previous_tail_s
        return busy * out.encode_s + idle * (out.latency_s - out.encode_s) + radio

    first = c.serve(_request(t=1.0), EDGE, 0, 0)
    assert first.energy_j == pytest.approx(expected(first, 0.25), rel=1e-9)  # the set-up's tail, long over
    # 5 s later the first tail is long over: the second pays that tail (which it replaces) and its own activity
    second = c.serve(_request(t=6.0, index=1), EDGE, 0, 0)
    assert second.tcp_handshake_s == 0
    assert second.energy_j == pytest.approx(expected(second, 0.25), rel=1e-9)
    # 0.1 s after the second result: only the 0.1 s of tail it cut short
    t3 = second.finish_s + 0.1
    third = c.serve(_request(t=t3, index=2), EDGE, 0, 0)
    assert third.energy_j == pytest.approx(expected(third, 0.1 + third.encode_s), rel=1e-9)
