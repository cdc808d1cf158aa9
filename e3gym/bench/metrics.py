"""Normalized scores and their aggregates.

A cell's score is its mean reward normalized per (scenario, seed) so that the best static policy
scores 0 and the clairvoyant oracle scores 1: ``(r - r_static) / (r_oracle - r_static)``.
Aggregates over seeds and scenarios are the interquartile mean (IQM) with 95% stratified bootstrap
confidence intervals, computed by rliable (Agarwal et al., "Deep RL at the Edge of the Statistical
Precipice", NeurIPS 2021).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from e3gym.errors import E3GymError

LOW_REF, HIGH_REF = "static_best", "oracle"


def add_scores(cells: list[dict[str, Any]]) -> None:
    """Set ``metrics["score"]`` of every successful cell from the reference cells of its scenario and seed."""
    refs: dict[tuple[str, int, str], float] = {}
    for c in cells:
        if c.get("status") == "ok" and c["config"]["agent"]["name"] in (LOW_REF, HIGH_REF):
            refs[(c["config"]["scenario"]["id"], c["config"]["seed"], c["config"]["agent"]["name"])] = \
                c["metrics"]["reward"]
    for c in cells:
        if c.get("status") != "ok":
            continue
        scen, seed = c["config"]["scenario"]["id"], c["config"]["seed"]
        low, high = refs.get((scen, seed, LOW_REF)), refs.get((scen, seed, HIGH_REF))
        if low is None or high is None or high == low:
            c["metrics"]["score"] = float("nan")
        else:
            c["metrics"]["score"] = (c["metrics"]["reward"] - low) / (high - low)


def score_matrices(cells: list[dict[str, Any]], agents: list[str], scenarios: list[str],
                   seeds: list[int]) -> dict[str, np.ndarray]:
    """Per agent, scores shaped (n_seeds, n_scenarios) as rliable expects (NaN where a cell failed)."""
    index = {(c["config"]["agent"]["name"], c["config"]["scenario"]["id"], c["config"]["seed"]): c for c in cells}
    out = {}
    for a in agents:
        m = np.full((len(seeds), len(scenarios)), np.nan)
        for i, seed in enumerate(seeds):
            for j, scen in enumerate(scenarios):
                c = index.get((a, scen, seed))
                if c is not None and c.get("status") == "ok":
                    m[i, j] = c["metrics"].get("score", np.nan)
        out[a] = m
    return out


def aggregate(matrices: dict[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """IQM and its 95% stratified bootstrap CI per agent (rliable); agents with failed cells get NaN."""
    try:
        from rliable import library as rly
        from rliable import metrics
    except ImportError:
        raise E3GymError("aggregates need rliable: pip install 'e3gym[bench]'") from None
    complete = {a: m for a, m in matrices.items() if m.size and np.isfinite(m).all()}
    out = {a: {"iqm": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")} for a in matrices}
    if not complete:
        return out
    with warnings.catch_warnings():
        # arch (under rliable) deprecates RandomState, the only way rliable takes a seed
        warnings.simplefilter("ignore", FutureWarning)
        point, interval = rly.get_interval_estimates(complete, lambda x: np.array([metrics.aggregate_iqm(x)]),
                                                     reps=reps, random_state=np.random.RandomState(seed))
    for a in complete:
        out[a] = {"iqm": float(point[a][0]), "ci_low": float(interval[a][0, 0]), "ci_high": float(interval[a][1, 0])}
    return out


def aggregate_by_scenario(matrices: dict[str, np.ndarray], scenarios: list[str], reps: int = 2000,
                          seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """Per scenario, per agent: IQM over seeds with its 95% bootstrap CI (rliable), as :func:`aggregate`."""
    return {s: aggregate({a: m[:, j:j + 1] for a, m in matrices.items()}, reps, seed)
            for j, s in enumerate(scenarios)}
