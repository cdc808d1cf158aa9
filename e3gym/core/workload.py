"""Request arrivals and per-request features.

Users issue inference requests as independent Poisson processes (:class:`PoissonWorkload`), or
with bursts (:class:`BurstyWorkload`: a Markov-modulated Poisson process whose rate switches
between a base and a burst level). Each request carries its accuracy requirement, its deadline
and the standard-normal draws that set its run-to-run compute-time variation, so that the
outcome of any action is a pure function of the state and the request (what the clairvoyant
oracle relies on).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate
from typing import Sequence

import numpy as np
from mypy_extensions import mypyc_attr  # compiled by setup.py: lets its classes copy, pickle and be subclassed

from e3gym.core.rng import RandomStream
from e3gym.errors import E3GymError


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass(slots=True)
class Request:
    """One inference request."""

    index: int
    arrival_s: float
    user: int
    accuracy_req: float  # minimum top-1 (fraction) the user accepts; 0 = any
    deadline_s: float  # response-time target; inf = none
    noise: tuple[float, float, float]  # N(0,1) draws for local, edge and cloud compute time


def _check_levels(accuracy_levels: Sequence[float], accuracy_weights: Sequence[float] | None) -> tuple[list, list]:
    levels = [float(a) for a in accuracy_levels]
    if not levels or any(not 0 <= a <= 1 for a in levels):
        raise E3GymError(f"accuracy_levels must be fractions in [0, 1], got {list(accuracy_levels)}")
    weights = [1.0] * len(levels) if accuracy_weights is None else [float(w) for w in accuracy_weights]
    if len(weights) != len(levels) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise E3GymError(f"accuracy_weights must be {len(levels)} non-negative numbers with a positive sum")
    total = sum(weights)
    return levels, list(accumulate(w / total for w in weights))


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class PoissonWorkload:
    """Independent Poisson arrivals per user.

    Args:
        rates_per_s: request rate of each user (requests per second).
        accuracy_levels: accuracy requirements a request may carry (fractions).
        accuracy_weights: their probabilities (default uniform).
        deadline_s: the response-time target every request carries (inf for none).
    """

    def __init__(self, rates_per_s: Sequence[float], accuracy_levels: Sequence[float] = (0.0,),
                 accuracy_weights: Sequence[float] | None = None, deadline_s: float = math.inf):
        self.rates_per_s = [float(r) for r in rates_per_s]
        if not self.rates_per_s or any(not (math.isfinite(r) and r > 0) for r in self.rates_per_s):
            raise E3GymError(f"rates_per_s must be positive finite rates, got {list(rates_per_s)}")
        if not deadline_s > 0:
            raise E3GymError(f"deadline_s must be > 0, got {deadline_s!r}")
        self.levels, self._level_cdf = _check_levels(accuracy_levels, accuracy_weights)
        self.deadline_s = float(deadline_s)
        self.total_rate = sum(self.rates_per_s)
        self._user_cdf = list(accumulate(r / self.total_rate for r in self.rates_per_s))

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.rates_per_s)

    def reset(self, stream: RandomStream) -> None:
        """Start a new episode drawing from ``stream``."""
        self._stream = stream
        self._t = 0.0  # arrival time of the last request drawn (drawn ahead in batches)
        self._index = 0
        self._ahead: list[Request] = []

    def _gap_s(self) -> float:
        return self._stream.exponential() / self.total_rate

    def next_request(self) -> Request:
        """The next arrival (superposition of the users' processes)."""
        if not self._ahead:
            self._draw_ahead()
        return self._ahead.pop()

    def _arrivals(self, n: int) -> list[float]:
        """The next ``n`` arrival times (Poisson: one numpy call)."""
        times = (self._t + np.cumsum(self._stream.rng.standard_exponential(n)) / self.total_rate).tolist()
        self._t = times[-1]
        return times

    def _draw_ahead(self, n: int = 64) -> None:
        # Arrivals are independent of the actions, so they are drawn in batches, a numpy call each.
        rng = self._stream.rng
        times = self._arrivals(n)
        users = np.minimum(np.searchsorted(self._user_cdf, rng.random(n), side="right"), self.n_users - 1).tolist()
        levels = np.minimum(np.searchsorted(self._level_cdf, rng.random(n), side="right"), len(self.levels) - 1)
        noise = rng.standard_normal((n, 3)).tolist()
        lv, deadline, i0 = self.levels, self.deadline_s, self._index
        batch = [Request(i0 + k, t, u, lv[lev], deadline, tuple(z))
                 for k, (t, u, lev, z) in enumerate(zip(times, users, levels.tolist(), noise))]
        self._index += n
        batch.reverse()
        self._ahead = batch


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class BurstyWorkload(PoissonWorkload):
    """Poisson arrivals whose total rate is multiplied by ``burst_factor`` during bursts.

    Bursts and calm periods alternate with exponential durations (a two-state Markov-modulated
    Poisson process); users keep their relative shares.

    Args:
        rates_per_s, accuracy_levels, accuracy_weights, deadline_s: as :class:`PoissonWorkload`.
        burst_factor: rate multiplier during a burst (> 1).
        mean_burst_s: mean burst length.
        mean_calm_s: mean time between bursts.
    """

    def __init__(self, rates_per_s: Sequence[float], accuracy_levels: Sequence[float] = (0.0,),
                 accuracy_weights: Sequence[float] | None = None, deadline_s: float = math.inf,
                 burst_factor: float = 4.0, mean_burst_s: float = 2.0, mean_calm_s: float = 8.0):
        super().__init__(rates_per_s, accuracy_levels, accuracy_weights, deadline_s)
        for name, v in (("burst_factor", burst_factor), ("mean_burst_s", mean_burst_s), ("mean_calm_s", mean_calm_s)):
            if not (math.isfinite(v) and v > 0):
                raise E3GymError(f"{name} must be a positive finite number, got {v!r}")
        self.burst_factor = float(burst_factor)
        self.mean_burst_s = float(mean_burst_s)
        self.mean_calm_s = float(mean_calm_s)

    def reset(self, stream: RandomStream) -> None:
        super().reset(stream)
        self._bursting = False
        self._switch_s = stream.exponential() * self.mean_calm_s

    def _arrivals(self, n: int) -> list[float]:
        out = []
        for _ in range(n):  # the burst state carries from one gap to the next
            self._t += self._gap_s()
            out.append(self._t)
        return out

    def _gap_s(self) -> float:
        # Spend one Exp(1) of "rate x time" across the piecewise-constant rate.
        work = self._stream.exponential()
        t = self._t
        while True:
            rate = self.total_rate * (self.burst_factor if self._bursting else 1.0)
            if t + work / rate <= self._switch_s:
                return t + work / rate - self._t
            work -= (self._switch_s - t) * rate
            t = self._switch_s
            self._bursting = not self._bursting
            mean = self.mean_burst_s if self._bursting else self.mean_calm_s
            self._switch_s = t + self._stream.exponential() * mean
