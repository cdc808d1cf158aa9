"""Normalized scores and their aggregates.

A cell's score is its mean return per episode normalized per (scenario, seed) so that the
scenario's low reference scores 0 and its high reference 1: ``(r - r_low) / (r_high - r_low)``
(by default the best static policy and the clairvoyant oracle).
Aggregates over seeds and scenarios are the interquartile mean (IQM) with 95% stratified bootstrap
confidence intervals, computed by rliable (Agarwal et al., "Deep RL at the Edge of the Statistical
Precipice", NeurIPS 2021).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from e3gym.errors import require

LOW_REF, HIGH_REF = "static_best", "oracle"  # the default reference pair of a scenario


def add_scores(cells: list[dict[str, Any]], references: dict[str, tuple[str, str]] | None = None) -> None:
    """Set ``metrics["score"]`` of every successful cell from the reference cells of its scenario and seed.

    ``references`` maps a scenario id to its (low, high) agents; a scenario missing there uses
    (``static_best``, ``oracle``).
    """
    references = references or {}
    rewards: dict[tuple[str, int, str], float] = {}
    for c in cells:
        if c.get("status") == "ok":
            rewards[(c["config"]["scenario"]["id"], c["config"]["seed"], c["config"]["agent"]["name"])] = \
                episode_return(c)
    for c in cells:
        if c.get("status") != "ok":
            continue
        scen, seed = c["config"]["scenario"]["id"], c["config"]["seed"]
        low_ref, high_ref = references.get(scen, (LOW_REF, HIGH_REF))
        low, high = rewards.get((scen, seed, low_ref)), rewards.get((scen, seed, high_ref))
        if low is None or high is None or high == low:
            c["metrics"]["score"] = float("nan")
        else:
            c["metrics"]["score"] = (episode_return(c) - low) / (high - low)


def episode_return(cell: dict[str, Any]) -> float:
    """A cell's mean return per episode: its mean reward per step x steps / episodes."""
    m = cell["metrics"]
    return m["reward"] * m["steps"] / max(len(cell.get("episode_lengths") or [1]), 1)


def score_columns(cells: list[dict[str, Any]], agents: list[str], scenarios: list[str],
                  seeds: list[int]) -> dict[str, dict[str, np.ndarray]]:
    """Per agent, per scenario it runs on: its scores over ``seeds`` (NaN where a cell failed).

    A scenario where an agent has no cell at all (the suite does not run it there) is left out.
    """
    index = {(c["config"]["agent"]["name"], c["config"]["scenario"]["id"], c["config"]["seed"]): c for c in cells}
    out: dict[str, dict[str, np.ndarray]] = {}
    for a in agents:
        out[a] = {}
        for scen in scenarios:
            if not any((a, scen, seed) in index for seed in seeds):
                continue
            col = np.full(len(seeds), np.nan)
            for i, seed in enumerate(seeds):
                c = index.get((a, scen, seed))
                if c is not None and c.get("status") == "ok":
                    col[i] = c["metrics"].get("score", np.nan)
            out[a][scen] = col
    return out


def score_matrices(columns: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per agent, scores shaped (n_seeds, n_scenarios it runs on), as rliable expects."""
    return {a: np.column_stack(list(cols.values())) if cols else np.empty((0, 0)) for a, cols in columns.items()}


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all entries: the mean of the middle 50% (scipy's trim_mean, as rliable's IQM)."""
    from scipy.stats import trim_mean
    return float(trim_mean(np.asarray(scores, dtype=float).ravel(), proportiontocut=0.25))


def aggregate(matrices: dict[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """IQM and its 95% stratified bootstrap CI per agent (rliable); agents with failed cells get NaN.

    ``reps = 0`` is the fast path: the IQM alone, CIs NaN, rliable not imported.
    """
    if reps == 0:
        return {a: {"iqm": iqm(m) if m.size and np.isfinite(m).all() else float("nan"),
                    "ci_low": float("nan"), "ci_high": float("nan")} for a, m in matrices.items()}
    rly = require("rliable.library", "bench", "the leaderboard's confidence intervals")
    metrics = require("rliable.metrics", "bench", "the leaderboard's confidence intervals")
    out = {a: {"iqm": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")} for a in matrices}
    for a, m in matrices.items():
        if not (m.size and np.isfinite(m).all()):
            continue
        # rliable's StratifiedBootstrap.update_indices draws its resamples from NumPy's global generator,
        # not from random_state: seed that for the call, per agent (an agent's CI must not depend on
        # which other agents are in the table, nor on earlier draws), and restore it after.
        saved = np.random.get_state()
        np.random.seed(seed)
        try:
            with warnings.catch_warnings():
                # arch (under rliable) deprecates RandomState, the only way rliable takes a seed
                warnings.simplefilter("ignore", FutureWarning)
                point, interval = rly.get_interval_estimates({a: m}, lambda x: np.array([metrics.aggregate_iqm(x)]),
                                                             reps=reps, random_state=np.random.RandomState(seed))
        finally:
            np.random.set_state(saved)
        out[a] = {"iqm": float(point[a][0]), "ci_low": float(interval[a][0, 0]), "ci_high": float(interval[a][1, 0])}
    return out


def aggregate_by_scenario(columns: dict[str, dict[str, np.ndarray]], scenarios: list[str], reps: int = 2000,
                          seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """Per scenario, per agent running there: IQM over seeds with its 95% bootstrap CI, as :func:`aggregate`."""
    return {s: aggregate({a: cols[s][:, None] for a, cols in columns.items() if s in cols}, reps, seed)
            for s in scenarios}
