"""Access networks: TCP slow start, idle restart, RRC promotion and tail, marginal radio energy."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e3gym.core.radio import ACCESS_TYPES, RadioState, TcpModel, access_type, slow_start


def test_slow_start_hand_worked():
    # 35 segments from IW10: windows 10, 20, then 5 of a 40-segment window; 1 ms per segment, RTT 50 ms.
    # After window 1: wait 1 + 50 - 10 = 41 ms; after window 2: 1 + 50 - 20 = 31 ms.
    stall, cwnd = slow_start(35, 10, 0.050, 0.001)
    assert stall == pytest.approx(0.072) and cwnd == 40
    assert slow_start(10, 10, 0.050, 0.001) == (0.0, 10)  # fits the initial window: no stall
    # a window longer than the pipe never stalls (RTT 5 ms < 10 segments of 1 ms)
    assert slow_start(100, 10, 0.005, 0.001)[0] == pytest.approx(0.0)


def test_window_restarts_after_idle_as_rfc2861():
    tcp = TcpModel()
    rtt = 0.05  # RTO = 50 + 200 ms
    assert tcp.window_after_idle(160, 0.2, rtt) == 160  # idle < RTO: kept
    # Linux tcp_cwnd_restart: while ((idle -= RTO) > 0) cwnd /= 2
    assert tcp.window_after_idle(160, 0.3, rtt) == 80  # 0.05 s left after one RTO: halved once
    assert tcp.window_after_idle(160, 0.6, rtt) == 40  # 0.35 and 0.10 s left after each RTO: halved twice
    assert tcp.window_after_idle(160, 100.0, rtt) == 10  # never below the initial window
    assert TcpModel(slow_start_after_idle=False).window_after_idle(160, 100.0, rtt) == 160
    assert TcpModel().handshake_rtts(connected=True) == 0
    assert TcpModel(persistent=False, tls=True).handshake_rtts(connected=True) == 2


def test_access_types_carry_their_cited_figures():
    lte, g3, wifi = ACCESS_TYPES["lte"], ACCESS_TYPES["3g"], ACCESS_TYPES["wifi"]
    assert lte.promotion_s == 0.26 and lte.tail_s == pytest.approx(10.12)  # ARO lte.conf
    assert g3.wake(1.0) == (0.0, 0.0)  # in the DCH tail: no promotion
    assert g3.wake(6.0) == (1.5, 0.80)  # in FACH: FACH -> DCH
    assert g3.wake(20.0) == (2.0, 0.65)  # idle: IDLE -> DCH
    assert wifi.tail_energy_j(math.inf) == pytest.approx(0.403 * 0.25)
    assert {a.rtt_s for a in ACCESS_TYPES.values()} == {0.209, 0.080, 0.066}
    assert all(a.source for a in ACCESS_TYPES.values())
    with pytest.raises(ValueError, match="unknown access type 'wimax'"):
        access_type("wimax")
    with pytest.raises(ValueError, match="rtt must be finite and >= 0"):
        access_type("lte", -0.01)


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=8),
       spans=st.lists(st.floats(0.001, 2.0), min_size=8, max_size=8),
       access=st.sampled_from(sorted(ACCESS_TYPES)))
def test_marginal_charges_add_up_to_the_radio_timeline(gaps, spans, access):
    a = ACCESS_TYPES[access]
    state = RadioState()
    t, charged, timeline = 0.0, 0.0, 0.0
    previous_end = None
    for gap, span in zip(gaps, spans):
        start = t + gap
        activity = 1.7 * span  # any activity energy
        charged += state.marginal_energy_j(a, start, activity, start + span)
        # independently: the radio's energy integrated over its own timeline
        if previous_end is not None:
            timeline += a.tail_energy_j(start - previous_end)
        timeline += activity
        state.tail_start_s = start + span
        previous_end = t = start + span
    timeline += a.tail_energy_j(math.inf)  # the tail after the last activity
    assert charged == pytest.approx(timeline, rel=1e-9)
