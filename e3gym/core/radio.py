"""Access networks: round trips, TCP's short-transfer cost, radio promotion, tail and power.

Per access type (:data:`ACCESS_TYPES`: ``3g``, ``lte``, ``5g``, ``wifi``):

* **RTT** to a server behind the access network: Chromium's network-quality estimator defaults,
  "typical network quality for that connection type" (chromium ``net/nqe/
  network_quality_estimator_params.cc``: transport RTT 3G 209 ms, 4G 80 ms, Wi-Fi 66 ms). They are
  RTTs to ordinary Internet servers, so an edge server at the access network may be nearer;
  ``rtt_ms`` in a scenario overrides them. No measured 5G RTT was found: 5G uses the 4G figure.
* **RRC promotion and tail** (AT&T ARO default profiles ``lte.conf``, ``i997.conf`` (3G),
  ``WiFi.conf``): a transfer that finds the radio idle first waits for the promotion; after the
  last transfer the radio stays in its tail (high-power states) before it goes idle again. 5G NSA
  keeps its RRC connection on the LTE anchor, so it uses LTE's timers.
* **Power**: LTE ``P = alpha_up * up_Mbps + alpha_down * down_Mbps + beta`` while transferring,
  ARO's promotion and tail powers otherwise; 3G and Wi-Fi ARO's state powers. 5G: the LTE powers x 2,
  the low end of "5G power ... escalates to 2 - 3x over 4G" (Xu et al., SIGCOMM 2020, abstract).

TCP (:class:`TcpModel`): a new connection costs one RTT of handshake (plus one for TLS 1.3); a
transfer of ``d`` segments is sent in windows that double from the congestion window (initial
window 10 segments, RFC 6928; Linux ``TCP_INIT_CWND``), and the sender stalls after a window
whenever the window is shorter than the pipe: ``max(0, S/R + RTT - w * S/R)`` per window, the
Kurose-Ross slow-start delay model with an initial window ``w1`` instead of 1. After an idle
longer than the RTO the window is halved once per RTO of idleness, down to the initial window
(RFC 2861, Linux's default ``tcp_slow_start_after_idle = 1``); the RTO is SRTT + 200 ms (Linux
``TCP_RTO_MIN``, ``tcp_rtt_estimator`` keeps ``rttvar`` >= it). No losses, no delayed ACKs.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from mypy_extensions import mypyc_attr  # compiled by setup.py: lets its classes copy, pickle and be subclassed

from e3gym.errors import E3GymError

ARO = "AT&T ARO (attdevsupport/ARO 5.0.0, ARO.Core/src/main/resources/{lte,i997,WiFi}.conf)"
NQE = "Chromium net/nqe/network_quality_estimator_params.cc default_observations (typical transport RTT)"
XU2020 = "Xu et al., Understanding Operational 5G: A First Measurement Study on Its Coverage, Performance and Energy Consumption, SIGCOMM 2020 (abstract: 5G power 2-3x 4G)"

INITIAL_WINDOW_SEGMENTS = 10  # RFC 6928; Linux TCP_INIT_CWND
RTO_MIN_S = 0.2  # Linux TCP_RTO_MIN = HZ/5


def init_args(frozen: object) -> tuple:
    """The arguments that rebuild a frozen dataclass: its ``init`` fields, in order (for ``__reduce__``)."""
    return tuple(getattr(frozen, f.name) for f in dataclasses.fields(frozen) if f.init)  # type: ignore[arg-type]


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass(frozen=True)
class TailStage:
    """A high-power radio state after the last transfer: how long, at what power, and waking from it."""

    # Frozen: a copy is the object itself, and pickling rebuilds it through __init__ (compiled, the
    # default protocol would set each field and hit the frozen check).
    def __deepcopy__(self, memo: dict) -> TailStage:
        return self

    def __reduce__(self) -> tuple:
        return type(self), init_args(self)

    duration_s: float
    power_w: float
    wake_s: float = 0.0  # promotion delay of a transfer that starts in this stage
    wake_w: float = 0.0  # power during that promotion


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass(frozen=True)
class AccessType:
    """One kind of access network: RTT, radio state machine and power model."""

    # Frozen: a copy is the object itself, and pickling rebuilds it through __init__ (compiled, the
    # default protocol would set each field and hit the frozen check).
    def __deepcopy__(self, memo: dict) -> AccessType:
        return self

    def __reduce__(self) -> tuple:
        return type(self), init_args(self)

    name: str
    rtt_s: float
    promotion_s: float  # IDLE -> connected
    promotion_w: float
    connected_w: float  # baseline while transferring
    alpha_up_w_per_bps: float  # extra transmit power per bit/s sent (0: no throughput term)
    alpha_down_w_per_bps: float
    tail: tuple[TailStage, ...]
    source: str
    tail_s: float = field(init=False)  # total time from the last transfer until the radio is idle

    def __post_init__(self) -> None:
        object.__setattr__(self, "tail_s", math.fsum(s.duration_s for s in self.tail))

    def tail_energy_j(self, elapsed_s: float) -> float:
        """Energy of the first ``elapsed_s`` seconds of the tail."""
        energy, left = 0.0, elapsed_s
        for stage in self.tail:
            if left <= 0:
                break
            d = min(left, stage.duration_s)
            energy += d * stage.power_w
            left -= d
        return energy

    def wake(self, since_tail_start_s: float) -> tuple[float, float]:
        """(delay_s, power_w) of waking the radio ``since_tail_start_s`` after its last transfer."""
        if since_tail_start_s < 0:
            return 0.0, 0.0  # still transferring
        left = since_tail_start_s
        for stage in self.tail:
            if left < stage.duration_s:
                return stage.wake_s, stage.wake_w
            left -= stage.duration_s
        return self.promotion_s, self.promotion_w

    def transfer_energy_j(self, airtime_s: float, bits_up: float, bits_down: float) -> float:
        """Energy of ``airtime_s`` connected seconds moving the given bits."""
        return (self.connected_w * airtime_s + self.alpha_up_w_per_bps * bits_up
                + self.alpha_down_w_per_bps * bits_down)


_LTE_TAIL = (  # ARO lte.conf: inactivity timer 0.1 s at beta, short DRX 0.02 s, long DRX 10 s at P_TAIL
    TailStage(0.1, 1.2), TailStage(0.02, 1.06), TailStage(10.0, 1.06))
ACCESS_TYPES: dict[str, AccessType] = {
    "3g": AccessType("3g", 0.209, promotion_s=2.0, promotion_w=0.65, connected_w=1.30, alpha_up_w_per_bps=0.0,
                     alpha_down_w_per_bps=0.0,
                     # DCH tail 4 s, then FACH 10 s; FACH -> DCH promotion 1.5 s at 0.80 W
                     tail=(TailStage(4.0, 1.30), TailStage(10.0, 0.30, wake_s=1.5, wake_w=0.80)),
                     source=f"RTT: {NQE} (3G 209 ms); radio: {ARO}, Samsung i997 on AT&T 3G"),
    "lte": AccessType("lte", 0.080, promotion_s=0.26, promotion_w=1.21, connected_w=1.2,
                      alpha_up_w_per_bps=0.43839e-6, alpha_down_w_per_bps=0.05197e-6, tail=_LTE_TAIL,
                      source=f"RTT: {NQE} (4G 80 ms); radio: {ARO} LTE (T_PROMOTION, P_TAIL, LTE_ALPHA/BETA)"),
    "5g": AccessType("5g", 0.080, promotion_s=0.26, promotion_w=2 * 1.21, connected_w=2 * 1.2,
                     alpha_up_w_per_bps=2 * 0.43839e-6, alpha_down_w_per_bps=2 * 0.05197e-6,
                     tail=tuple(TailStage(s.duration_s, 2 * s.power_w) for s in _LTE_TAIL),
                     source=f"RTT: {NQE} 4G figure (no 5G figure found); timers: ARO LTE (NSA anchor); "
                            f"powers: ARO LTE x 2 ({XU2020})"),
    "wifi": AccessType("wifi", 0.066, promotion_s=0.0, promotion_w=0.0, connected_w=0.403, alpha_up_w_per_bps=0.0,
                       alpha_down_w_per_bps=0.0, tail=(TailStage(0.25, 0.403),),
                       source=f"RTT: {NQE} (Wi-Fi 66 ms); radio: {ARO} Wi-Fi (active 0.403 W, tail 0.25 s)"),
}


def access_type(name: str, rtt_s: float | None = None) -> AccessType:
    """The access type called ``name`` (3g, lte, 5g, wifi), optionally with another RTT."""
    try:
        a = ACCESS_TYPES[name]
    except KeyError:
        raise E3GymError(f"unknown access type {name!r}; expected one of {sorted(ACCESS_TYPES)}") from None
    if rtt_s is None:
        return a
    if not (math.isfinite(rtt_s) and rtt_s >= 0):
        raise E3GymError(f"rtt must be finite and >= 0, got {rtt_s!r}")
    return dataclasses.replace(a, rtt_s=float(rtt_s))


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass(frozen=True)
class TcpModel:
    """How requests use TCP: one persistent connection per user, or a new one per request."""

    # Frozen: a copy is the object itself, and pickling rebuilds it through __init__ (compiled, the
    # default protocol would set each field and hit the frozen check).
    def __deepcopy__(self, memo: dict) -> TcpModel:
        return self

    def __reduce__(self) -> tuple:
        return type(self), init_args(self)

    persistent: bool = True
    tls: bool = False
    slow_start_after_idle: bool = True  # Linux net.ipv4.tcp_slow_start_after_idle default

    def handshake_rtts(self, connected: bool) -> int:
        """Round trips before the first data byte."""
        if self.persistent and connected:
            return 0
        return 1 + int(self.tls)

    def window_after_idle(self, cwnd: int, idle_s: float, rtt_s: float) -> int:
        """Congestion window when sending again after ``idle_s`` (RFC 2861: halve per idle RTO)."""
        if not self.slow_start_after_idle or cwnd <= INITIAL_WINDOW_SEGMENTS:
            return cwnd
        if not math.isfinite(idle_s):
            return INITIAL_WINDOW_SEGMENTS
        rto = rtt_s + RTO_MIN_S
        halvings = max(0, math.ceil(idle_s / rto) - 1) if idle_s > rto else 0
        return max(INITIAL_WINDOW_SEGMENTS, cwnd >> min(halvings, 62))


def slow_start(n_segments: int, cwnd: int, rtt_s: float, segment_s: float) -> tuple[float, int]:
    """(stall_s, cwnd_after) of sending ``n_segments`` from window ``cwnd`` over a pipe of ``rtt_s``.

    After each window but the last the sender waits for the first ACK: ``segment_s + rtt_s`` after
    the window started, of which ``w * segment_s`` were spent sending; the window then doubles.
    """
    stall, sent, w = 0.0, 0, max(1, cwnd)
    while True:
        sent += w
        if sent >= n_segments:
            return stall, w
        stall += max(0.0, segment_s + rtt_s - w * segment_s)
        w *= 2


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass
class RadioState:
    """A user's radio and connection, as the timeline leaves them: tail start, window, last send."""

    tail_start_s: float = -math.inf  # end of the last transfer: the tail runs from here
    cwnd: int = INITIAL_WINDOW_SEGMENTS
    last_send_s: float = -math.inf
    connected: bool = False

    def marginal_energy_j(self, access: AccessType, start_s: float, activity_j: float, end_s: float) -> float:
        """Radio energy a request adds to the radio's timeline, given the tail left by earlier ones.

        ``activity_j`` is the energy of the request's own activity from ``start_s`` (first byte,
        after any promotion, whose energy the caller adds) to ``end_s`` (result received). Without
        the request the radio finishes its current tail; with it, that tail is cut at ``start_s``
        and a full new tail follows ``end_s``. The difference is the elapsed part of the old tail
        plus the activity, so the charges of an episode's requests add up to the radio's energy.
        """
        since = start_s - self.tail_start_s
        if since < 0:  # overlaps an activity still running: only the part that extends it is new
            span = end_s - start_s
            return activity_j * max(0.0, end_s - self.tail_start_s) / span if span > 0 else 0.0
        return access.tail_energy_j(since) + activity_j
