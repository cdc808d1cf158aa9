"""The leaderboard: suites, cells, scores, reports (``e3gym bench``; :func:`run_suite` in Python)."""
from __future__ import annotations

from typing import Any

__all__ = ["load_suite", "run_suite"]


def __getattr__(name: str) -> Any:  # lazy: importing e3gym.bench must not import Gymnasium, rich or rliable
    if name == "run_suite":
        from e3gym.bench.run import run_suite
        return run_suite
    if name == "load_suite":
        from e3gym.bench.suite import load_suite
        return load_suite
    raise AttributeError(f"module 'e3gym.bench' has no attribute {name!r}")
