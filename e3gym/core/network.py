"""Bandwidth processes and links.

A bandwidth process produces a piecewise-constant bandwidth curve, one segment ``(duration_s,
bandwidth_bps)`` at a time, drawing any randomness from the generator it is given. A :class:`Link`
extends that curve lazily and integrates it: a transfer of ``n_bytes`` starting at ``t`` ends when
the area under the curve reaches ``8 * n_bytes`` (exact for piecewise-constant curves), plus the
link's one-way propagation delay.

Processes:

* :class:`ConstantBandwidth` - one rate forever.
* :class:`MarkovBandwidth` - a continuous-time Markov chain over rates (e.g. 3G / LTE / Wi-Fi),
  exponential dwell times.
* :class:`RayleighFading` - block fading: every coherence interval the power gain ``h ~ Exp(1)`` is
  redrawn and the rate is Shannon's ``W log2(1 + snr h)``, with ``snr`` truncated below at
  ``min_snr_db`` so no transfer takes forever (the law of :class:`~e3gym.core.coinference.FadingChannel`).
* :class:`TraceBandwidth` - replays a user's trace file, looping; :func:`load_trace` reads Mahimahi
  packet-delivery traces and two-column ``seconds Mbps`` text.
"""
from __future__ import annotations

import math
import os
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from operator import mul
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from mypy_extensions import mypyc_attr  # compiled by setup.py: lets its classes copy, pickle and be subclassed

from e3gym.core.coinference import FadingChannel
from e3gym.errors import E3GymError

MAHIMAHI_PACKET_BYTES = 1500
MAX_TRACE_SEGMENTS = 5_000_000  # ~14 h of Mahimahi at 10 ms bins: bounds the memory a trace can ask for
MIN_ROW_S, MAX_ROW_S = 1e-6, 1e7  # a 'seconds Mbps' row: 1 us to ~116 days
# A link's curve is extended as simulated time advances; this bounds it (at 10 ms segments, ~5.5 h
# of simulated time; whole-period trace extensions may overshoot it by one period).
MAX_LINK_SEGMENTS = 2_000_000
# Processes drawn one segment at a time (Markov, fading) cost ~25 us a segment: a cap that errors
# within seconds (at a 5 s dwell that is ~12 days of simulated time; at 10 ms coherence ~33 min).
MAX_STEPPED_SEGMENTS = 200_000


class TraceError(E3GymError):
    """A bandwidth trace file is malformed; the message names the file and the line."""


class HorizonError(E3GymError):
    """Simulated time ran past what a link's bandwidth curve may hold (MAX_LINK_SEGMENTS)."""


class BandwidthProcess(Protocol):
    """Anything that yields piecewise-constant bandwidth segments."""

    def first_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        """The (duration_s, bandwidth_bps) segment starting at time 0."""

    def next_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        """The segment following the last one returned."""

    def max_bps(self) -> float:
        """An upper bound on the bandwidth (for finite observation bounds)."""

    def mean_bps(self) -> float:
        """The long-run mean bandwidth (for reports and nominal estimates)."""


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise E3GymError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass
class ConstantBandwidth:
    """A link whose bandwidth never changes."""

    bandwidth_bps: float

    def __post_init__(self) -> None:
        _positive("bandwidth_bps", self.bandwidth_bps)

    def first_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        return math.inf, self.bandwidth_bps

    def next_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        return math.inf, self.bandwidth_bps

    def max_bps(self) -> float:
        return self.bandwidth_bps

    def mean_bps(self) -> float:
        return self.bandwidth_bps


def _as_tuple(matrix: Sequence[Sequence[float]] | None) -> tuple | None:
    return None if matrix is None else tuple(tuple(float(x) for x in row) for row in matrix)


@lru_cache(maxsize=256)
def _markov_chain(dwell: tuple[float, ...], transition: tuple | None, initial: tuple | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple, tuple]:
    """Validated jump matrix, time-average occupancy, initial law, and the cdfs that draw the initial
    state and each jump (:func:`_choice_cdf`); cached: envs rebuild links every reset."""
    n = len(dwell)
    if transition is None:
        p = np.full((n, n), 1.0 / max(1, n - 1))
        np.fill_diagonal(p, 0.0)
        if n == 1:
            p[0, 0] = 1.0
    else:
        p = np.asarray(transition, dtype=float)
        if p.shape != (n, n) or np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0):
            raise E3GymError(f"transition must be a {n}x{n} row-stochastic matrix, got {p.tolist()}")
    # Stationary law of the jump chain weighted by dwell time = time-average state occupancy.
    w, v = np.linalg.eig(p.T)
    pi = np.abs(np.real(v[:, np.argmin(np.abs(w - 1.0))]))
    occupancy = pi * np.asarray(dwell)
    stationary = occupancy / occupancy.sum()
    start = stationary if initial is None else np.asarray(initial, dtype=float)
    if start.shape != (n,) or np.any(start < 0) or not np.isclose(start.sum(), 1.0):
        raise E3GymError(f"initial must be {n} probabilities summing to 1, got {initial!r}")
    for a in (p, stationary, start):
        a.flags.writeable = False  # shared between every chain with the same parameters
    return p, stationary, start, _choice_cdf(start), tuple(_choice_cdf(row) for row in p)


def _choice_cdf(p: np.ndarray) -> tuple[float, ...]:
    """The cdf that ``Generator.choice(len(p), p=p)`` searches, computed as numpy computes it.

    numpy's choice with ``p`` (replace=True, ``numpy/random/_generator.pyx``) takes ``cdf = p.cumsum()``,
    ``cdf /= cdf[-1]``, draws one ``random()`` and returns ``cdf.searchsorted(u, side="right")``.
    ``bisect_right(cdf, rng.random())`` on this list is the same index from the same single draw, so
    the generator's stream is unchanged; it skips choice's checks and array set-up (~5 us a draw).
    """
    cdf = np.array(p, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    return tuple(cdf.tolist())


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class MarkovBandwidth:
    """Continuous-time Markov chain over bandwidth states with exponential dwell times.

    ``stochastic``: it draws from its generator every time the curve is extended.

    Args:
        states_bps: bandwidth of each state.
        mean_dwell_s: mean time spent in a state (one value, or one per state).
        transition: row-stochastic jump matrix with a zero diagonal; default uniform over other states.
        initial: initial-state probabilities; default the stationary distribution.
    """

    def __init__(self, states_bps: Sequence[float], mean_dwell_s: float | Sequence[float],
                 transition: Sequence[Sequence[float]] | None = None,
                 initial: Sequence[float] | None = None):
        self.states_bps = [_positive(f"states_bps[{i}]", s) for i, s in enumerate(states_bps)]
        n = len(self.states_bps)
        if n == 0:
            raise E3GymError("states_bps must hold at least one state")
        dwell = [mean_dwell_s] * n if isinstance(mean_dwell_s, (int, float)) else list(mean_dwell_s)
        if len(dwell) != n:
            raise E3GymError(f"mean_dwell_s has {len(dwell)} values for {n} states")
        self.mean_dwell_s = [_positive(f"mean_dwell_s[{i}]", d) for i, d in enumerate(dwell)]
        self.stochastic = True
        # The cdfs draw a state as rng.choice(n, p=row) would, from the same single draw (_choice_cdf).
        self.transition, self.stationary, self.initial, self._initial_cdf, self._jump_cdf = _markov_chain(
            tuple(self.mean_dwell_s), _as_tuple(transition), None if initial is None else tuple(initial))
        self._state = 0

    def _segment(self, rng: np.random.Generator) -> tuple[float, float]:
        return float(rng.exponential(self.mean_dwell_s[self._state])), self.states_bps[self._state]

    def first_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        self._state = bisect_right(self._initial_cdf, rng.random())
        return self._segment(rng)

    def next_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        self._state = bisect_right(self._jump_cdf[self._state], rng.random())
        return self._segment(rng)

    def max_bps(self) -> float:
        return max(self.states_bps)

    def mean_bps(self) -> float:
        return float(np.dot(self.stationary, self.states_bps))


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class RayleighFading:
    """Block Rayleigh fading as a bandwidth process: each block a fresh gain of a
    :class:`~e3gym.core.coinference.FadingChannel`, at that channel's Shannon rate (the one rate law).

    Args:
        bandwidth_hz: channel bandwidth W.
        mean_snr_db: average received SNR (path loss and transmit power folded in).
        coherence_s: block length; the gain is constant within a block.
        min_snr_db: SNR floor; deep fades below it are raised to it (E[1/rate] is infinite otherwise).
    """

    def __init__(self, bandwidth_hz: float, mean_snr_db: float, coherence_s: float, min_snr_db: float = -10.0):
        self.channel = FadingChannel(bandwidth_hz, mean_snr_db, min_snr_db)
        self.coherence_s = _positive("coherence_s", coherence_s)
        self.stochastic = True  # draws a gain for every block

    @property
    def bandwidth_hz(self) -> float:
        """W."""
        return self.channel.bandwidth_hz

    @property
    def mean_snr(self) -> float:
        """Average received SNR (linear)."""
        return self.channel.mean_snr

    @property
    def min_snr(self) -> float:
        """The SNR floor (linear)."""
        return self.channel.min_snr

    def rate_bps(self, gain: float) -> float:
        """Shannon rate at power gain ``gain`` (floored at the minimum SNR)."""
        return self.channel.block_rate_bps(gain)

    def first_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        return self.next_segment(rng)

    def next_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        return self.coherence_s, self.rate_bps(float(self.channel.sample(rng)))

    def max_bps(self) -> float:
        # Gains above 50x the mean have probability e^-50: a finite bound that is never reached.
        return self.rate_bps(50.0)

    def mean_bps(self) -> float:
        # E[W log2(1 + max(snr h, floor))] by quadrature over h ~ Exp(1).
        h = np.linspace(0, 50, 200001)
        return float(np.trapezoid(self.channel.rate_bps(h) * np.exp(-h), h))


@mypyc_attr(native_class=False)  # a Python class when compiled: variant() copies its __dict__
class TraceBandwidth:
    """Replays a recorded trace of (duration_s, bandwidth_bps) segments, looping at its end.

    Args:
        durations_s, bandwidth_bps: the segments.
        name: for messages (the file).
        scale: multiplies every bandwidth (e.g. an uplink derived from a downlink trace).
        random_start: start each episode at a uniformly drawn point of the trace (from the link's
            generator), so users replaying one file do not move in lockstep; False starts at 0.
    """

    def __init__(self, durations_s: Sequence[float], bandwidth_bps: Sequence[float], name: str = "trace",
                 scale: float = 1.0, random_start: bool = False):
        if len(durations_s) == 0 or len(durations_s) != len(bandwidth_bps):
            raise E3GymError(f"{name}: need equal, non-zero numbers of durations and bandwidths")
        self.durations_s = tuple(float(d) for d in durations_s)
        self.bandwidth_bps = tuple(float(b) * float(scale) for b in bandwidth_bps)
        if any(d <= 0 or not math.isfinite(d) for d in self.durations_s):
            raise E3GymError(f"{name}: segment durations must be positive")
        if any(b < 0 or not math.isfinite(b) for b in self.bandwidth_bps):
            raise E3GymError(f"{name}: bandwidths must be finite and >= 0")
        if max(self.bandwidth_bps) <= 0:
            raise E3GymError(f"{name}: the trace never delivers a byte (all bandwidths are 0)")
        self.name = name
        self.random_start = random_start
        self._starts = list(accumulate(self.durations_s, initial=0.0))[:-1]
        self.period_s = math.fsum(self.durations_s)
        self.offset_s = 0.0
        self._i = 0
        self._scaled: dict[float, tuple[tuple[float, ...], float]] = {}  # scale -> (bandwidths, mean)
        self._max_bps = max(self.bandwidth_bps)
        self._mean_bps = float(np.dot(self.durations_s, self.bandwidth_bps) / self.period_s)

    def variant(self, scale: float = 1.0, random_start: bool = False) -> "TraceBandwidth":
        """A replay of the same (validated) segments, scaled and/or started at random: O(1) when unscaled."""
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise E3GymError(f"{self.name}: scale must be a positive finite number, got {scale!r}")
        out = object.__new__(type(self))  # copy.copy(self) without its generic protocol (a copy per link per reset)
        out.__dict__.update(self.__dict__)
        if scale != 1.0:
            scaled = self._scaled.get(scale)
            if scaled is None:  # shared by every replay at this scale
                bps = tuple(b * scale for b in self.bandwidth_bps)
                scaled = self._scaled[scale] = (bps, float(np.dot(self.durations_s, bps) / self.period_s))
            out.bandwidth_bps, out._mean_bps = scaled
            out._max_bps = self._max_bps * scale  # exact: scaling by a positive number keeps the order
        out.random_start, out.offset_s, out._i = random_start, 0.0, 0
        return out

    def first_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        if not self.random_start:
            self._i, self.offset_s = 0, 0.0
            return self.durations_s[0], self.bandwidth_bps[0]
        self.offset_s = float(rng.random()) * self.period_s
        self._i = min(bisect_right(self._starts, self.offset_s) - 1, len(self.durations_s) - 1)
        left = self._starts[self._i] + self.durations_s[self._i] - self.offset_s
        return max(left, 1e-9), self.bandwidth_bps[self._i]

    def next_segment(self, rng: np.random.Generator) -> tuple[float, float]:
        self._i = (self._i + 1) % len(self.durations_s)
        return self.durations_s[self._i], self.bandwidth_bps[self._i]

    def next_segments(self, rng: np.random.Generator) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The segments up to the end of the trace's current period (many at once: cheaper to extend)."""
        i = (self._i + 1) % len(self.durations_s)
        self._i = len(self.durations_s) - 1
        return self.durations_s[i:], self.bandwidth_bps[i:]

    def max_bps(self) -> float:
        return self._max_bps

    def mean_bps(self) -> float:
        return self._mean_bps


# --------------------------------------------------------------------------- trace files
def _numbers(path: Path, line_no: int, line: str, count: int) -> list[float]:
    # Messages never quote the line: a mistyped path may point at a file that is not a trace at all.
    parts = line.replace(",", " ").split()
    if len(parts) != count:
        raise TraceError(f"{path}: line {line_no}: expected {count} number(s), got {len(parts)} fields")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise TraceError(f"{path}: line {line_no}: not a number") from None
    if not all(math.isfinite(v) for v in values):
        raise TraceError(f"{path}: line {line_no}: not a finite number")
    return values


def parse_mahimahi(path: Path, lines: Sequence[tuple[int, str]], bin_s: float = 0.01) -> TraceBandwidth:
    """Mahimahi format: one millisecond timestamp per line, each a 1500-byte delivery opportunity."""
    stamps: list[float] = []
    for no, line in lines:
        (ms,) = _numbers(path, no, line, 1)
        if ms < 0 or not ms.is_integer():
            raise TraceError(f"{path}: line {no}: Mahimahi timestamps are non-negative integer milliseconds, "
                             f"got {ms:g}")
        if stamps and ms < stamps[-1]:
            raise TraceError(f"{path}: line {no}: timestamps must not decrease ({ms:g} after {stamps[-1]:g})")
        stamps.append(ms)
    # The trace repeats every `last timestamp` ms, as Mahimahi replays it.
    period_s = max(stamps[-1], 1.0) / 1000
    n_bins = max(1, math.ceil(period_s / bin_s - 1e-9))
    if n_bins > MAX_TRACE_SEGMENTS:
        raise TraceError(f"{path}: a {period_s:g} s trace in {bin_s * 1e3:g} ms bins needs {n_bins} segments "
                         f"(at most {MAX_TRACE_SEGMENTS}); use a larger bin_ms or a shorter trace")
    counts = np.bincount(np.minimum((np.asarray(stamps) / 1000 / bin_s).astype(int), n_bins - 1), minlength=n_bins)
    durations = [bin_s] * n_bins
    durations[-1] = period_s - bin_s * (n_bins - 1)
    bps = [c * MAHIMAHI_PACKET_BYTES * 8 / d for c, d in zip(counts, durations)]
    return TraceBandwidth(durations, bps, name=str(path))


def parse_seconds_mbps(path: Path, lines: Sequence[tuple[int, str]]) -> TraceBandwidth:
    """Two columns ``seconds Mbps``: the bandwidth from each timestamp until the next one."""
    rows: list[tuple[int, float, float]] = []  # typed: compiled, an untyped tuple would make line numbers floats
    for no, line in lines:
        seconds, mbps = _numbers(path, no, line, 2)
        rows.append((no, seconds, mbps))
    if len(rows) < 2:
        raise TraceError(f"{path}: a 'seconds Mbps' trace needs at least two rows (the last one closes the period)")
    durations, bps = [], []
    for (no, t0, mbps), (no1, t1, _) in zip(rows, rows[1:]):
        if mbps < 0:
            raise TraceError(f"{path}: line {no}: bandwidth must be >= 0 Mbps, got {mbps:g}")
        if t1 <= t0:
            raise TraceError(f"{path}: line {no1}: timestamps must increase ({t1:g} after {t0:g})")
        if not MIN_ROW_S <= t1 - t0 <= MAX_ROW_S:
            raise TraceError(f"{path}: line {no1}: a row lasting {t1 - t0:g} s; expected {MIN_ROW_S:g} to "
                             f"{MAX_ROW_S:g} s")
        durations.append(t1 - t0)
        bps.append(mbps * 1e6)
    try:
        return TraceBandwidth(durations, bps, name=str(path))
    except ValueError as err:
        raise TraceError(str(err)) from None


def load_trace(path: str | Path, fmt: str = "auto", bin_s: float = 0.01, scale: float = 1.0,
               random_start: bool = False) -> TraceBandwidth:
    """Read a bandwidth trace file; ``fmt`` is "mahimahi", "seconds_mbps" or "auto" (by column count).

    Blank lines and lines starting with ``#`` are ignored. Each file is parsed once per process
    (keyed by its resolved path, size and modification time); ``scale`` and ``random_start`` are
    as in :class:`TraceBandwidth`.
    """
    shown = os.fspath(path)
    try:
        st = os.stat(shown)
    except OSError as err:
        raise TraceError(f"{shown}: cannot read trace: {err.strerror}") from None
    base = _parsed_trace(os.path.abspath(shown), st.st_size, st.st_mtime_ns, fmt, bin_s, shown)
    return base.variant(scale, random_start)


@lru_cache(maxsize=128)
def _parsed_trace(absolute: str, size: int, mtime_ns: int, fmt: str, bin_s: float, shown: str) -> TraceBandwidth:
    return _read_trace(Path(shown), fmt, bin_s)


def _read_trace(path: Path, fmt: str, bin_s: float) -> TraceBandwidth:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TraceError(f"{path}: cannot read trace: {err.strerror}") from None
    except UnicodeDecodeError:
        raise TraceError(f"{path}: not a text file") from None
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise TraceError(f"{path}: the trace is empty")
    if fmt == "auto":
        fmt = "mahimahi" if len(lines[0][1].replace(",", " ").split()) == 1 else "seconds_mbps"
    if fmt == "mahimahi":
        return parse_mahimahi(path, lines, bin_s)
    if fmt == "seconds_mbps":
        return parse_seconds_mbps(path, lines)
    raise TraceError(f"{path}: unknown trace format {fmt!r}; expected 'mahimahi', 'seconds_mbps' or 'auto'")


# --------------------------------------------------------------------------- links
@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class Link:
    """One direction of a network link: a bandwidth curve, extended lazily, plus propagation delay.

    Args:
        process: where the bandwidth curve comes from.
        rng: the generator the process draws from (one per link, spawned from the episode seed).
        propagation_s: one-way delay added to every transfer.
        name: for messages (the scenario field the link comes from).
    """

    __slots__ = ("process", "rng", "propagation_s", "name", "_ends", "_bps", "_cum")

    def __init__(self, process: BandwidthProcess, rng: np.random.Generator, propagation_s: float = 0.0,
                 name: str = "link"):
        if not (math.isfinite(propagation_s) and propagation_s >= 0):
            raise E3GymError(f"propagation_s must be finite and >= 0, got {propagation_s!r}")
        self.process = process
        self.rng = rng
        self.propagation_s = float(propagation_s)
        self.name = name
        duration, bps = process.first_segment(rng)
        self._ends = [duration]
        self._bps = [bps]
        self._cum = [duration * bps]  # bits deliverable from time 0 to the end of each segment

    def _extend_past(self, t: float) -> None:
        ends, bps, cum = self._ends, self._bps, self._cum
        bulk = getattr(self.process, "next_segments", None)
        cap = MAX_LINK_SEGMENTS if bulk is not None else MAX_STEPPED_SEGMENTS
        while ends[-1] <= t:
            if len(ends) > cap:
                raise HorizonError(
                    f"{self.name}: simulated time reached {t:.4g} s, past the {ends[-1]:.4g} s that "
                    f"{cap} bandwidth segments cover; reset the env more often or check the "
                    f"scenario's time scales (request rates, dwell times, slowdowns, link rates)")
            if bulk is not None:
                durations, rates = bulk(self.rng)
                ends.extend(accumulate(durations, initial=ends[-1]))
                del ends[-len(durations) - 1]  # accumulate repeats the start value
                bps.extend(rates)
                cum.extend(accumulate(map(mul, durations, rates), initial=cum[-1]))
                del cum[-len(durations) - 1]
                continue
            duration, rate = self.process.next_segment(self.rng)
            ends.append(ends[-1] + duration)
            bps.append(rate)
            cum.append(cum[-1] + duration * rate)

    def bandwidth_at(self, t: float) -> float:
        """True bandwidth (bps) at time ``t``."""
        if self._ends[-1] <= t:
            self._extend_past(t)
        return self._bps[bisect_right(self._ends, t)]

    def max_bps(self) -> float:
        """An upper bound on the link's bandwidth at any time (its process's)."""
        return self.process.max_bps()

    def transfer_s(self, start_s: float, n_bytes: float) -> float:
        """Airtime of ``n_bytes`` starting at ``start_s`` (propagation not included).

        Within one segment it is ``bits / rate``; across segments the cumulative deliverable bits
        are searched by bisection, so a long transfer (or one across a coverage hole) costs
        O(log n), not one step per segment.
        """
        if n_bytes <= 0:
            return 0.0
        ends, bps = self._ends, self._bps
        if ends[-1] <= start_s:
            self._extend_past(start_s)
        i = bisect_right(ends, start_s)
        bits = 8.0 * n_bytes
        rate = bps[i]
        span = ends[i] - start_s
        if bits <= span * rate:  # the common case, exact for tiny transfers too
            return bits / rate
        cum = self._cum
        target = cum[i] + (bits - span * rate)
        while cum[-1] < target:
            self._extend_past(ends[-1])
        j = bisect_left(cum, target, i + 1)  # the segment in which the last bit goes out (its rate > 0)
        return (ends[j - 1] - start_s) + (target - cum[j - 1]) / bps[j]

    def transfer_from(self, t: float, n_bytes: float) -> tuple[float, float]:
        """``(sending_from(t), transfer_s(it, n_bytes))`` with one search when the rate at ``t`` is positive."""
        ends, bps = self._ends, self._bps
        if ends[-1] <= t:
            self._extend_past(t)
        i = bisect_right(ends, t)
        rate = bps[i]
        if rate <= 0:
            t = self.sending_from(t)
            return t, self.transfer_s(t, n_bytes)
        if n_bytes <= 0:
            return t, 0.0
        bits = 8.0 * n_bytes
        if bits <= (ends[i] - t) * rate:  # transfer_s's common case, same arithmetic
            return t, bits / rate
        return t, self.transfer_s(t, n_bytes)

    def sending_from(self, t: float) -> float:
        """The first time >= ``t`` at which the link's rate is positive (a sender waits out coverage holes)."""
        ends, bps = self._ends, self._bps
        if ends[-1] <= t:  # bandwidth_at(t), inlined: the segment index is needed below too
            self._extend_past(t)
        i = bisect_right(ends, t)
        if bps[i] > 0:
            return t
        while True:
            i += 1
            if i == len(ends):
                self._extend_past(ends[-1])
            if bps[i] > 0:
                return ends[i - 1]

    def delay_s(self, start_s: float, n_bytes: float) -> float:
        """Airtime plus propagation: when the last byte arrives, relative to ``start_s``."""
        if n_bytes <= 0:
            return 0.0
        return self.transfer_s(start_s, n_bytes) + self.propagation_s


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class SharedMedium:
    """Airtime of one shared channel (a cell's uplink, the WAN): transfers hold it one at a time.

    Each transfer runs at its own sender's rate (its link's curve) while it holds the medium, and
    takes the earliest gap, no earlier than it is ready, long enough for it at that start time;
    earlier reservations never move (issue order, like :class:`~e3gym.core.cluster.FifoResource`).
    Against processor sharing (every active sender gets an equal share at once) this finishes the
    first transfer sooner and the second at the same time for equal rates, so mean completion time
    is lower and the last completion equal: the medium is work-conserving either way.

    Touching reservations are merged into busy blocks, and a search starts by bisection at the first
    block not over by the ready time. It costs O(log n) plus one step per gap it has to pass over
    (too short for the transfer), so it stays short under overload too, when transfers queue back to
    back into one block. ``gap_checks`` counts the candidate gaps examined, the one taken included:
    a cost measure that does not depend on timing.
    """

    __slots__ = ("_starts", "_ends", "gap_checks")

    def __init__(self) -> None:
        self._starts: list[float] = []  # busy blocks, disjoint and sorted
        self._ends: list[float] = []
        self.gap_checks = 0

    def slot(self, ready_s: float, airtime_at) -> tuple[float, float]:
        """(start_s, airtime_s) of the earliest fit; ``airtime_at(t)`` is the airtime if started at t."""
        starts, ends = self._starts, self._ends
        # Blocks are disjoint, sorted and apart (reserve merges touching ones), so ends are sorted.
        # Blocks [0, i0) are over by ready_s: a scan from block 0 would pass over them without
        # moving t, so starting at i0 gives the same slot.
        i = i0 = bisect_right(ends, ready_s)
        t = ready_s
        n = len(starts)
        while i < n:
            if t < starts[i]:  # a gap before block i: try it at its start
                d = airtime_at(t)
                if t + d <= starts[i]:
                    self.gap_checks += i - i0 + 1
                    return t, d
            if ends[i] > t:
                t = ends[i]
            i += 1
        self.gap_checks += n - i0 + 1  # the passed gaps and the open one after the last block
        return t, airtime_at(t)

    def reserve(self, start_s: float, airtime_s: float) -> None:
        """Hold the medium over [start_s, start_s + airtime_s) (a slot returned by :meth:`slot`)."""
        if airtime_s <= 0:
            return
        starts, ends = self._starts, self._ends
        end_s = start_s + airtime_s
        i = bisect_right(starts, start_s)
        joins_prev = i > 0 and ends[i - 1] >= start_s
        joins_next = i < len(starts) and starts[i] <= end_s
        if joins_prev and joins_next:
            ends[i - 1] = max(ends[i], end_s)
            del starts[i], ends[i]
        elif joins_prev:
            ends[i - 1] = max(ends[i - 1], end_s)
        elif joins_next:
            starts[i] = min(starts[i], start_s)
            ends[i] = max(ends[i], end_s)
        else:
            starts.insert(i, start_s)
            ends.insert(i, end_s)

    def send(self, link: Link, ready_s: float, n_bytes: float, commit: bool = True, now_s: float = -math.inf
             ) -> tuple[float, float]:
        """(start_s, airtime_s) of ``n_bytes`` sent at ``link``'s own rate, ready at ``ready_s``.

        A sender out of coverage (rate 0) does not hold the medium: it waits until it can send
        (:meth:`Link.sending_from`), then takes the earliest fit (:meth:`slot`). With ``commit`` the
        medium first forgets blocks over by ``now_s`` (:meth:`forget_before`; no later transfer is
        ready before it) and then holds the airtime (:meth:`reserve`); without, nothing changes.
        """
        ends = self._ends
        if commit and ends and ends[0] <= now_s:  # forget_before(now_s), inlined
            k = bisect_right(ends, now_s)
            del self._starts[:k], ends[:k]
        ready, air = link.transfer_from(ready_s, n_bytes)
        starts = self._starts
        if not ends or starts[-1] <= ready:
            # Ready after the last block starts (the usual case): what slot() and reserve() give, without
            # the searches. Inside the last block there is no gap before its end; after it, the open gap.
            if ends and ready < ends[-1]:
                self.gap_checks += 2  # the last block's gap, passed over, and the open one after it
                start = ends[-1]
                air = link.transfer_s(start, n_bytes)
            else:
                self.gap_checks += 1
                start = ready
            if commit and air > 0:
                if ends and ends[-1] >= start:  # touching (or the block it waited for): one busy block
                    ends[-1] = start + air
                else:
                    starts.append(start)
                    ends.append(start + air)
            return start, air
        start, air = self.slot(ready, lambda s: link.transfer_s(s, n_bytes))
        if commit:
            self.reserve(start, air)
        return start, air

    def forget_before(self, now_s: float) -> None:
        """Drop busy blocks over by ``now_s`` (no later transfer can be ready before it)."""
        ends = self._ends
        if ends and ends[0] <= now_s:
            k = bisect_right(ends, now_s)
            del self._starts[:k], ends[:k]


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class ScaledLink(Link):
    """A link whose bandwidth is a fixed multiple of another curve (downlink = ratio x uplink-like).

    It lives beside :class:`Link` because a compiled class cannot be subclassed by interpreted code."""

    __slots__ = ("inner", "ratio")

    def __init__(self, inner: Link, ratio: float):
        self.inner, self.ratio = inner, ratio
        self.propagation_s = inner.propagation_s

    def bandwidth_at(self, t: float) -> float:
        return self.inner.bandwidth_at(t) * self.ratio

    def max_bps(self) -> float:
        return self.inner.max_bps() * self.ratio

    def transfer_s(self, start_s: float, n_bytes: float) -> float:
        return self.inner.transfer_s(start_s, n_bytes / self.ratio)

    def transfer_from(self, t: float, n_bytes: float) -> tuple[float, float]:
        return self.inner.transfer_from(t, n_bytes / self.ratio)

    def sending_from(self, t: float) -> float:
        return self.inner.sending_from(t)


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class RecordedMedium(SharedMedium):
    """A shared medium that also logs each held airtime as ``(lane, start_s, end_s)`` (for the rendered
    timeline)."""

    __slots__ = ("log", "lane")

    def __init__(self, log: list, lane: int):
        super().__init__()
        self.log, self.lane = log, lane

    def send(self, link: Link, ready_s: float, n_bytes: float, commit: bool = True, now_s: float = -math.inf
             ) -> tuple[float, float]:
        start, air = super().send(link, ready_s, n_bytes, commit, now_s)
        if commit and air > 0:  # what send() held (its fast path holds without calling reserve())
            self.log.append((self.lane, start, start + air))
        return start, air
