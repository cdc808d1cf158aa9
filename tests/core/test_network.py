"""Bandwidth processes, trace files and exact transfer integration."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e3gym.core.network import (
    ConstantBandwidth,
    Link,
    MarkovBandwidth,
    RayleighFading,
    TraceBandwidth,
    TraceError,
    load_trace,
)


def link(process, propagation_s=0.0, seed=0):
    return Link(process, np.random.default_rng(seed), propagation_s)


def test_constant_transfer_is_bytes_over_rate_plus_propagation():
    lnk = link(ConstantBandwidth(8e6), propagation_s=0.01)
    assert lnk.transfer_s(3.0, 1_000_000) == pytest.approx(1.0)
    assert lnk.delay_s(3.0, 1_000_000) == pytest.approx(1.01)
    assert lnk.delay_s(3.0, 0) == 0.0


def test_transfer_integrates_a_piecewise_trace_exactly():
    # 1 s at 8 Mbps (1 MB), then 1 s at 16 Mbps (2 MB), looping.
    lnk = link(TraceBandwidth([1.0, 1.0], [8e6, 16e6]))
    assert lnk.transfer_s(0.0, 1_000_000) == pytest.approx(1.0)
    assert lnk.transfer_s(0.0, 2_000_000) == pytest.approx(1.5)  # 1 MB in the first second, 1 MB at 2 MB/s
    assert lnk.transfer_s(0.5, 3_500_000) == pytest.approx(2.5)  # 0.5 + 2 + 1 MB across the loop
    assert lnk.bandwidth_at(2.25) == 8e6  # looped back to the first segment


def test_zero_bandwidth_gap_is_waited_out():
    lnk = link(TraceBandwidth([1.0, 1.0], [0.0, 8e6]))
    assert lnk.transfer_s(0.0, 500_000) == pytest.approx(1.5)


@settings(max_examples=60, deadline=None)
@given(rates=st.lists(st.floats(0.0, 50e6), min_size=1, max_size=8).filter(lambda r: max(r) > 1e3),
       durations=st.lists(st.floats(0.01, 2.0), min_size=8, max_size=8),
       scale=st.floats(1.0, 10.0), start=st.floats(0.0, 20.0), n_bytes=st.integers(1, 5_000_000))
def test_more_bandwidth_never_slows_a_transfer(rates, durations, scale, start, n_bytes):
    durations = durations[:len(rates)]
    slow = link(TraceBandwidth(durations, rates))
    fast = link(TraceBandwidth(durations, [r * scale for r in rates]))
    assert fast.transfer_s(start, n_bytes) <= slow.transfer_s(start, n_bytes) * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_bytes=st.integers(1, 10_000_000), start=st.floats(0, 100))
def test_markov_transfer_is_bounded_by_slowest_and_fastest_state(seed, n_bytes, start):
    proc = MarkovBandwidth([1e6, 5e6, 20e6], mean_dwell_s=0.5)
    t = link(proc, seed=seed).transfer_s(start, n_bytes)
    assert 8 * n_bytes / 20e6 * (1 - 1e-9) <= t <= 8 * n_bytes / 1e6 * (1 + 1e-9)


def test_same_seed_same_curve_and_different_seed_differs():
    proc = lambda: MarkovBandwidth([1e6, 5e6, 20e6], mean_dwell_s=0.5)
    a, b, c = link(proc(), seed=1), link(proc(), seed=1), link(proc(), seed=2)
    times = np.linspace(0, 30, 200)
    assert [a.bandwidth_at(t) for t in times] == [b.bandwidth_at(t) for t in times]
    assert [a.bandwidth_at(t) for t in times] != [c.bandwidth_at(t) for t in times]


def test_markov_stationary_mean_matches_long_run_average():
    proc = MarkovBandwidth([1e6, 10e6], mean_dwell_s=[1.0, 3.0])
    lnk = link(proc, seed=3)
    times = np.linspace(0, 20000, 200001)
    empirical = np.mean([lnk.bandwidth_at(t) for t in times])
    assert empirical == pytest.approx(proc.mean_bps(), rel=0.03)
    assert proc.mean_bps() == pytest.approx(0.25 * 1e6 + 0.75 * 10e6)


def test_rayleigh_rate_is_floored_at_min_snr():
    proc = RayleighFading(bandwidth_hz=1e6, mean_snr_db=10, coherence_s=0.01, min_snr_db=0)
    assert proc.rate_bps(0.0) == pytest.approx(1e6 * math.log2(2))
    assert proc.rate_bps(1.0) == pytest.approx(1e6 * math.log2(11))
    rates = [proc.next_segment(np.random.default_rng(s))[1] for s in range(200)]
    assert min(rates) >= 1e6 * (1 - 1e-12) and max(rates) <= proc.max_bps()


@pytest.mark.parametrize("kwargs, match", [
    (dict(bandwidth_hz=-1, mean_snr_db=10, coherence_s=0.01), "bandwidth_hz"),
    (dict(bandwidth_hz=1e6, mean_snr_db=10, coherence_s=0.0), "coherence_s"),
    (dict(bandwidth_hz=1e6, mean_snr_db=0, coherence_s=0.01, min_snr_db=5), "min_snr_db"),
])
def test_rayleigh_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RayleighFading(**kwargs)


# ---------------------------------------------------------------- trace files
def test_mahimahi_trace_rates_and_period(tmp_path):
    # 10 packets in the first 10 ms bin, none in the second, 5 in the third; period = last stamp (30 ms).
    stamps = [0] * 10 + [25] * 5 + [30]
    path = tmp_path / "cell.up"
    path.write_text("\n".join(map(str, stamps)) + "\n")
    trace = load_trace(path)
    assert trace.durations_s == pytest.approx([0.01, 0.01, 0.01])
    assert trace.bandwidth_bps == pytest.approx([10 * 1500 * 8 / 0.01, 0, 6 * 1500 * 8 / 0.01])
    assert sum(d * b for d, b in zip(trace.durations_s, trace.bandwidth_bps)) / 8 == pytest.approx(16 * 1500)


def test_seconds_mbps_trace(tmp_path):
    path = tmp_path / "bw.txt"
    path.write_text("# time_s mbps\n0 10\n2.5 2\n4 0\n")
    trace = load_trace(path)
    assert trace.durations_s == (2.5, 1.5)
    assert trace.bandwidth_bps == (10e6, 2e6)
    assert load_trace(path, fmt="seconds_mbps").bandwidth_bps == trace.bandwidth_bps


@pytest.mark.parametrize("text, fmt, match", [
    ("", "auto", "empty"),
    ("0 10\n", "auto", "at least two rows"),
    ("0 10\n1 abc\n", "auto", r": line 2: not a number"),
    ("0 10\n0 5\n", "auto", r": line 2: timestamps must increase"),
    ("0 -3\n1 5\n", "auto", r": line 1: bandwidth must be >= 0"),
    ("0 0\n1 0\n", "auto", "never delivers"),
    ("5\n3\n", "mahimahi", r": line 2: timestamps must not decrease"),
    ("1.5\n", "mahimahi", r": line 1: Mahimahi timestamps"),
    ("1 2 3\n", "auto", r": line 1: expected 2 number"),
    ("0 1\n1 1\n", "pcap", "unknown trace format"),
])
def test_bad_traces_name_file_and_line(tmp_path, text, fmt, match):
    path = tmp_path / "bad.trace"
    path.write_text(text)
    with pytest.raises(TraceError, match=match) as err:
        load_trace(path, fmt=fmt)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_missing_trace_file(tmp_path):
    with pytest.raises(TraceError, match="cannot read trace"):
        load_trace(tmp_path / "nope.txt")
