"""Validators for the numbers, flags, choices and lists that e3gym reads from files and arguments.

Each takes ``where`` (the file and field, or the argument, as the user wrote it) and raises the
given :class:`~e3gym.errors.E3GymError` subclass with one line that names it. Ranges are inclusive
unless said otherwise; the magnitude limits below are far outside any real system and exist so
that no input can make the simulator run or allocate without bound.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from e3gym.errors import E3GymError, did_you_mean

# Limits on what a setting can be (see each use for why it is generous).
MAX_RATE_PER_S = 1e5  # requests per second per user
MIN_RATE_PER_S = 1e-3  # one request per ~17 min: slower streams put arrivals days apart
MAX_USERS = 4096
MAX_WORKERS = 1024
MAX_DELAY_MS = 1e4  # a one-way delay or an RTT of 10 s (geostationary satellite RTT ~ 600 ms)
MIN_MBPS, MAX_MBPS = 1e-3, 1e6  # 1 kbit/s to 1 Tbit/s
MIN_FACTOR, MAX_FACTOR = 1e-3, 1e3  # slowdowns, down/up ratios, trace scales
MIN_SECONDS, MAX_SECONDS = 1e-3, 1e6  # dwell, burst and calm times: 1 ms to ~11.6 days
MAX_DEADLINE_MS = 1e7


def number(where: str, value: Any, low: float | None = None, high: float | None = None, *,
           above: float | None = None, error: type[E3GymError] = E3GymError) -> float:
    """A finite real number within [low, high] (``above``: strictly greater than it); bools refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{where} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise error(f"{where} must be a finite number, got {value!r}")
    if above is not None and not value > above:
        raise error(f"{where} must be > {above:g}, got {value!r}")
    if low is not None and value < low:
        raise error(f"{where} must be >= {low:g}, got {value!r}")
    if high is not None and value > high:
        raise error(f"{where} must be <= {high:g}, got {value!r}")
    return float(value)


def integer(where: str, value: Any, low: int | None = None, high: int | None = None, *,
            error: type[E3GymError] = E3GymError) -> int:
    """An int (not a bool, not a float such as 2.0 or 2.5) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{where} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise error(f"{where} must be >= {low}, got {value!r}")
    if high is not None and value > high:
        raise error(f"{where} must be <= {high}, got {value!r}")
    return value


def flag(where: str, value: Any, *, error: type[E3GymError] = E3GymError) -> bool:
    """true or false, nothing that merely reads as one ("no" is truthy, 1 is not a flag)."""
    if not isinstance(value, bool):
        raise error(f"{where} must be true or false, got {value!r}")
    return value


def choice(where: str, value: Any, allowed: Iterable[str], *, error: type[E3GymError] = E3GymError) -> str:
    """One of ``allowed``, with a close-match suggestion when it is not."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        raise error(f"{where}: unknown {value!r}{hint}; expected one of {sorted(allowed)}")
    return value


def number_list(where: str, value: Any, low: float | None = None, high: float | None = None, *,
                above: float | None = None, length: int | None = None, nonempty: bool = True,
                error: type[E3GymError] = E3GymError) -> list[float]:
    """A list of numbers, each as :func:`number`; ``length`` fixes its size."""
    if not isinstance(value, list):
        raise error(f"{where} must be a list of numbers, got {value!r}")
    if nonempty and not value:
        raise error(f"{where} must not be empty")
    if length is not None and len(value) != length:
        raise error(f"{where} has {len(value)} values, expected {length}")
    return [number(f"{where}[{i}]", v, low, high, above=above, error=error) for i, v in enumerate(value)]


def keys(where: str, table: Any, allowed: Iterable[str], *, prefix: str = "",
         error: type[E3GymError] = E3GymError) -> None:
    """Refuse keys of ``table`` not in ``allowed`` (keys starting with ``_`` are internal)."""
    allowed = sorted(allowed)
    for key in table:
        if key not in allowed and not str(key).startswith("_"):
            raise error(f"{prefix}unknown key {key!r} in {where}{did_you_mean(key, allowed)}; "
                        f"expected one of {allowed}")
