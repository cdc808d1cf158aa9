"""Link rates over time: the trace schedule (a pure function), applying it, and a user-space token bucket.

A link is a constant rate or a ``time_s mbps`` trace (e3gym's ``seconds_mbps`` format: each row's
rate holds until the next row's time; the last row closes the period and the trace loops, as the
simulator replays it). :func:`trace_schedule` turns it into the list of ``(time_s, rate_bps)``
changes from the start of a run; :class:`ScheduleRunner` calls ``set_rate`` at those times (``tc``
in network namespaces); :class:`TokenBucket` paces a sender at the scheduled rate where no
namespace can be made (loopback mode).
"""
from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from e3gym.errors import E3GymError

# tc cannot shape to 0 bit/s; a trace's coverage holes become this trickle (the simulator waits them out)
MIN_RATE_BPS = 8_000.0

Schedule = list[tuple[float, float]]


@dataclass(frozen=True)
class LinkSpec:
    """One link condition of the grid: a constant rate, or a trace file replayed from its start."""

    rate_bps: float | None = None
    trace: Path | None = None

    @property
    def label(self) -> str:
        return f"trace:{self.trace.stem}" if self.trace else f"{self.rate_bps / 1e6:g} Mbps"

    def scenario_network(self) -> dict:
        """The ``[users].network`` table the simulator gets for this link."""
        if self.trace:
            return {"kind": "trace", "path": str(self.trace.resolve()), "format": "seconds_mbps",
                    "random_start": False}
        return {"kind": "constant", "mbps": self.rate_bps / 1e6}

    def schedule(self, horizon_s: float) -> Schedule:
        """The rate changes from the start of a run up to ``horizon_s``."""
        if self.trace is None:
            return [(0.0, float(self.rate_bps))]
        from e3gym.core.network import load_trace

        trace = load_trace(self.trace, "seconds_mbps")
        return trace_schedule(trace.durations_s, trace.bandwidth_bps, horizon_s)


def trace_schedule(durations_s: Sequence[float], rates_bps: Sequence[float], horizon_s: float,
                   floor_bps: float = MIN_RATE_BPS) -> Schedule:
    """``(time_s, rate_bps)`` changes covering ``[0, horizon_s)``: the segments in order, looping.

    Consecutive segments of the same (floored) rate are one change; the first change is at 0.
    """
    if not durations_s or len(durations_s) != len(rates_bps):
        raise E3GymError("a trace needs equal, non-zero numbers of durations and rates")
    if any(not (math.isfinite(d) and d > 0) for d in durations_s):
        raise E3GymError("trace segment durations must be positive")
    out: Schedule = []
    t, i = 0.0, 0
    while t < horizon_s or not out:
        rate = max(float(rates_bps[i]), floor_bps)
        if not out or out[-1][1] != rate:
            out.append((t, rate))
        t += durations_s[i]
        i = (i + 1) % len(durations_s)
    return out


def rate_at(schedule: Schedule, t: float) -> float:
    """The rate in force ``t`` seconds after the start (the first rate before 0)."""
    i = bisect_right([s for s, _ in schedule], t) - 1
    return schedule[max(i, 0)][1]


class ScheduleRunner(threading.Thread):
    """Applies a schedule's changes after the first at ``t0 + time_s`` on ``clock`` (a daemon thread).

    The first rate is expected to be set before the run starts. ``clock`` and ``sleep`` are
    injectable so the timing is testable without a network; errors of ``set_rate`` are kept in
    ``error`` and stop the thread.
    """

    def __init__(self, schedule: Schedule, t0: float, set_rate: Callable[[float], None],
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None):
        super().__init__(daemon=True, name="e3v-schedule")
        self.schedule, self.t0, self.set_rate, self.clock = schedule, t0, set_rate, clock
        self._halt = threading.Event()
        self.sleep = sleep or (lambda s: self._halt.wait(s))
        self.applied: list[tuple[float, float]] = []  # (clock time applied, rate): what really happened
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for at, rate in self.schedule[1:]:
                while not self._halt.is_set():
                    left = self.t0 + at - self.clock()
                    if left <= 0:
                        break
                    self.sleep(left)
                if self._halt.is_set():
                    return
                self.set_rate(rate)
                self.applied.append((self.clock(), rate))
        except BaseException as err:  # reported by the caller after the run
            self.error = err

    def stop(self) -> None:
        self._halt.set()


class TokenBucket:
    """Paces a sender at ``rate_fn(now)`` bit/s with a burst of one segment, as tbf does.

    :meth:`take` blocks until ``n_bytes`` may have left: the bytes' airtime is spent before they
    are handed to the socket, so on loopback the last byte arrives when its airtime ends.
    """

    def __init__(self, rate_fn: Callable[[float], float], burst_bytes: int = 1500,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.rate_fn, self.burst_bytes, self.clock, self.sleep = rate_fn, burst_bytes, clock, sleep
        self._free_s = -math.inf  # when the bytes taken so far have finished their airtime
        self._lock = threading.Lock()

    def take(self, n_bytes: int) -> None:
        with self._lock:
            now = self.clock()
            rate = max(self.rate_fn(now), MIN_RATE_BPS)
            # an idle bucket holds at most one burst of credit: a late wake-up does not compound
            start = max(self._free_s, now - 8 * self.burst_bytes / rate)
            self._free_s = start + 8 * n_bytes / rate
            wait = self._free_s - now
        if wait > 0:
            self.sleep(wait)
