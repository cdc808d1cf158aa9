"""Shared bits of the seed-system benchmarks: confidence intervals, output folder, headless plotting."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results"


def mean_ci(samples: np.ndarray, axis: int = 0, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of the Student-t confidence interval along ``axis``."""
    from scipy import stats

    samples = np.asarray(samples, dtype=float)
    n = samples.shape[axis]
    mean = samples.mean(axis=axis)
    if n < 2:
        return mean, np.zeros_like(mean)
    sem = samples.std(axis=axis, ddof=1) / np.sqrt(n)
    return mean, stats.t.ppf(0.5 + level / 2, n - 1) * sem


def out_dir(args: argparse.Namespace) -> Path:
    """The output folder, created."""
    path = Path(args.out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("matplotlib is not installed, run pip install 'e3gym[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
