"""Leaderboard outputs: a rich table, LEADERBOARD.md, per-cell and summary CSV, results JSON, a score plot."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

METRICS = ("mean_latency_ms", "p95_latency_ms", "accuracy", "energy_j", "deadline_miss_rate", "accuracy_miss_rate",
           "reward")
RESULT_FILES = ("results.json", "results.csv", "summary.csv", "scores.png")
_NAN_CI = {"iqm": math.nan, "ci_low": math.nan, "ci_high": math.nan}


def summarize(cells: list[dict[str, Any]], agents: list[str], scenarios: list[str],
              per_scenario: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    """One row per (agent, scenario): IQM score and CI over seeds, means of the other metrics, failures."""
    rows = []
    for a in agents:
        for s in scenarios:
            mine = [c for c in cells if c["config"]["agent"]["name"] == a and c["config"]["scenario"]["id"] == s]
            if not mine:  # the suite does not run this agent on this scenario
                continue
            ok = [c for c in mine if c.get("status") == "ok"]
            agg = per_scenario.get(s, {}).get(a, _NAN_CI)
            row: dict[str, Any] = {"agent": a, "scenario": s, "score": agg["iqm"], "ci_low": agg["ci_low"],
                                   "ci_high": agg["ci_high"], "seeds": len(ok), "failed": len(mine) - len(ok),
                                   "train_steps": max((c.get("train_steps", 0) for c in ok), default=0),
                                   "wall_s": sum(c.get("wall_s", 0.0) for c in mine)}
            for col in METRICS:
                row[col] = _mean([c["metrics"].get(col, math.nan) for c in ok])
            if len(ok) < len(mine):
                row["error"] = next(c.get("error", "") for c in mine if c.get("status") != "ok")
            rows.append(row)
    return rows


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.{digits}f}"
    if isinstance(v, int):
        return str(v)
    return md_text(v)  # not a number: a malformed results file, shown as literal text


# Characters that Markdown (GFM) or inline HTML give a meaning; each is backslash-escaped to stay literal.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def md_text(text: Any, width: int | None = None) -> str:
    """``text`` as literal Markdown on one line: whitespace runs (newlines too) become one space, and
    ``\\ ` * _ [ ] < > | ~ &`` are backslash-escaped, so a name cannot break a table, emphasize,
    link or inject HTML. ``width`` truncates before escaping, never inside an escape."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat[:width] if width is not None else flat)


def _code(text: Any) -> str:
    """``text`` as one inline code span, fenced by more backticks than any run inside it."""
    flat = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _cell_text(text: str, width: int = 80) -> str:
    """An error message fit for one Markdown table cell."""
    return md_text(text, width)


def _ci(agg: dict[str, float]) -> str:
    return "-" if math.isnan(agg["ci_low"]) else f"[{_fmt(agg['ci_low'])}, {_fmt(agg['ci_high'])}]"


def _order(aggregates: dict[str, dict[str, float]]) -> list[str]:
    return sorted(aggregates, key=lambda a: -np.nan_to_num(aggregates[a]["iqm"], nan=-np.inf))


def _run_time(header: dict[str, Any]) -> str:
    """How long the run took, and how much of it was computed rather than read from cached cells."""
    computed, total = header.get("cells_computed"), header.get("cells")
    took = f"{float(header['wall_s']):.0f} s with {md_text(header['jobs'])} parallel jobs"
    if computed is None or computed == total:
        return f"{took} to train and evaluate"
    return f"{took}, {md_text(computed)} of {md_text(total)} cells computed, the rest read from cached cells"


def _references(header: dict[str, Any]) -> str:
    """The reference pairs, in words: one phrase when every scenario uses the same pair."""
    refs = header.get("references") or {}
    pairs = {tuple(p) for p in refs.values()} or {("static_best", "oracle")}
    if len(pairs) == 1:
        low, high = next(iter(pairs))
        return f"{_code(low)} and {_code(high)} on every scenario"
    return "; ".join(f"{md_text(s)}: {_code(p[0])} / {_code(p[1])}" for s, p in refs.items())


def _agent_summary(rows: list[dict[str, Any]], agent: str) -> dict[str, Any]:
    rs = [r for r in rows if r["agent"] == agent]
    out = {col: _mean([r[col] for r in rs]) for col in METRICS}
    out.update(train_steps=max((r["train_steps"] for r in rs), default=0), wall_s=sum(r["wall_s"] for r in rs),
               failed=sum(r["failed"] for r in rs), error=next((r["error"] for r in rs if r.get("error")), ""))
    return out


def markdown(rows: list[dict[str, Any]], aggregates: dict[str, dict[str, float]], header: dict[str, Any],
             results_link: str) -> str:
    """LEADERBOARD.md: the provenance header, the aggregate table, then every (agent, scenario) row."""
    # Every string here may come from a suite file or a results.json: all of it is escaped.
    t = md_text
    link = f"[results]({quote(results_link)})"
    command = _code(header["command"])
    lines = ["# e3gym leaderboard", "",
             f"<!-- Generated by {command.replace('>', '&gt;')}; do not edit by hand: re-run the command. -->", "",
             f"Generated by {command} on {t(header['date'])} (e3gym {t(header['e3gym_version'])}, "
             f"{t(header['machine'])}; {_run_time(header)}). Do not edit by hand: re-run the command.", "",
             f"Suite {_code(header['suite'])} v{t(header['suite_version'])}: {t(header['description'])} "
             f"Evaluation seeds {t(header['seeds'])} ({t(header['episodes'])} episode(s) per cell); "
             f"training seeds {t(header['train_seeds'])}.", "",
             "Score: mean return per episode (with fixed-length episodes, the mean reward per step), "
             "normalized per scenario and seed so that the scenario's low "
             f"reference scores 0 and its high reference scores 1 ({_references(header)}). IQM: interquartile "
             "mean over seeds x the scenarios an agent runs on, with a 95% stratified bootstrap CI (rliable; "
             "Agarwal et al., NeurIPS 2021). "
             f"Latency, accuracy and energy are means over requests and scenarios. Every cell (scenario version, "
             f"seed, agent options, action sequence hash) is in {link}.", "",
             "| agent | IQM score | 95% CI | mean latency (ms) | p95 latency (ms) | accuracy | energy (J) | "
             "train steps | wall (s) | date | e3gym | results |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in _order(aggregates):
        s = _agent_summary(rows, a)
        name = t(a) if not s["failed"] else f"{t(a)} ({s['failed']} cells failed: {_cell_text(s['error'])})"
        lines.append(f"| {name} | {_fmt(aggregates[a]['iqm'])} | {_ci(aggregates[a])} | "
                     f"{_fmt(s['mean_latency_ms'], 1)} | {_fmt(s['p95_latency_ms'], 1)} | {_fmt(s['accuracy'])} | "
                     f"{_fmt(s['energy_j'])} | {t(s['train_steps'])} | {_fmt(s['wall_s'], 1)} | {t(header['date'])} | "
                     f"{t(header['e3gym_version'])} | {link} |")
    lines += ["", "## Per scenario", "", "Score: IQM over seeds, with its 95% CI.", "",
              "| scenario | agent | score | 95% CI | mean latency (ms) | p95 latency (ms) | accuracy | energy (J) | "
              "deadline misses | accuracy misses | reward | train steps | wall (s) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    for r in sorted(rows, key=lambda r: (scenarios.index(r["scenario"]), -np.nan_to_num(r["score"], nan=-np.inf))):
        status = "" if not r["failed"] else f" ({t(r['failed'])} failed: {_cell_text(r.get('error', ''))})"
        lines.append(f"| {t(r['scenario'])} | {t(r['agent'])}{status} | {_fmt(r['score'])} | {_ci(r)} | "
                     f"{_fmt(r['mean_latency_ms'], 1)} | {_fmt(r['p95_latency_ms'], 1)} | {_fmt(r['accuracy'])} | "
                     f"{_fmt(r['energy_j'])} | {_fmt(r['deadline_miss_rate'])} | {_fmt(r['accuracy_miss_rate'])} | "
                     f"{_fmt(r['reward'], 4)} | {t(r['train_steps'])} | {_fmt(r['wall_s'], 1)} |")
    return "\n".join(lines).rstrip() + "\n"


def _csv(rows: list[dict[str, Any]], fields: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def cell_row(cell: dict[str, Any]) -> dict[str, Any]:
    """A flat, replayable description of one cell and its metrics."""
    c = cell["config"]
    resolved = c.get("scenario_resolved", {})
    row = {"agent": c["agent"]["name"], "agent_spec": c["agent"]["spec"],
           "agent_kwargs": json.dumps(c["agent"]["kwargs"], sort_keys=True),
           "train_steps": cell.get("train_steps", 0), "scenario": c["scenario"]["id"], "env": c["scenario"]["env"],
           "scenario_name": resolved.get("name"), "scenario_version": resolved.get("version"),
           "scenario_sha256": resolved.get("sha256"),
           "scenario_overrides": json.dumps(c["scenario"]["overrides"], sort_keys=True),
           "env_kwargs": json.dumps(c["scenario"]["env_kwargs"], sort_keys=True), "suite": c["suite"],
           "suite_version": c["suite_version"], "seed": c["seed"], "episodes": c["episodes"],
           "max_steps": c["max_steps"], "e3gym_version": c["e3gym_version"], "status": cell.get("status"),
           "error": cell.get("error", ""), "wall_s": cell.get("wall_s"), "date": cell.get("date"),
           "actions_sha256": cell.get("actions_sha256", ""), "cell_file": f"cells/{cell['key']}.json"}
    row.update({"score": math.nan, **{m: math.nan for m in METRICS}, **cell.get("metrics", {})})
    return row


CELL_FIELDS = ["agent", "agent_spec", "agent_kwargs", "train_steps", "scenario", "env", "scenario_name",
               "scenario_version", "scenario_sha256", "scenario_overrides", "env_kwargs", "suite", "suite_version",
               "seed", "episodes", "max_steps", "e3gym_version", "status", "error", "score", *METRICS, "steps",
               "wall_s", "date", "actions_sha256", "cell_file"]
SUMMARY_FIELDS = ["agent", "scenario", "score", "ci_low", "ci_high", *METRICS, "seeds", "failed", "train_steps",
                  "wall_s", "error"]


def plot(aggregates: dict[str, dict[str, float]], path: Path, title: str) -> bool:
    """A PNG of each agent's IQM score with its 95% CI; False when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [a for a in _order(aggregates) if not math.isnan(aggregates[a]["iqm"])][::-1]
    iqm = np.array([aggregates[a]["iqm"] for a in names])
    low = np.array([aggregates[a]["ci_low"] for a in names])
    high = np.array([aggregates[a]["ci_high"] for a in names])
    # Agents far below the static baseline would squeeze the interesting range [0, 1] to nothing: clip the
    # axis and print their value instead.
    left = max(min(-0.5, float(low.min(initial=0.0))), -2.0)
    right = max(1.2, float(high.max(initial=1.0)) + 0.05)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(names) + 1.4))
    y = np.arange(len(names))
    ax.barh(y, np.clip(iqm, left, right), color="#4c72b0", alpha=0.85)
    ax.errorbar(np.clip(iqm, left, right), y, xerr=[np.clip(iqm - low, 0, None) * (iqm > left),
                                                   np.clip(high - iqm, 0, None) * (iqm > left)],
                fmt="none", ecolor="black", capsize=3, lw=1)
    for i, v in enumerate(iqm):
        if v < left:
            ax.text(left + 0.02, i, f"{v:.1f} (off scale)", va="center", fontsize=8, color="white")
    ax.set_yticks(y, names)
    ax.set_xlim(left, right)
    ax.axvline(0, color="grey", lw=0.8)
    ax.axvline(1, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("IQM normalized score (0 = low reference, 1 = high reference) with 95% CI")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    from e3gym.files import open_atomic
    with open_atomic(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
    return True


def rich_table(rows: list[dict[str, Any]], aggregates: dict[str, dict[str, float]]):
    """The terminal summary: one row per agent, best first (failed cells' errors in a caption)."""
    from rich.markup import escape
    from rich.table import Table
    table = Table(title="IQM normalized score over seeds x scenarios (0 = low reference, 1 = high reference)")
    for col in ("agent", "IQM", "95% CI", "mean ms", "p95 ms", "accuracy", "energy J", "failed"):
        table.add_column(col, justify="left" if col == "agent" else "right", no_wrap=col in ("agent", "95% CI"))
    errors = []
    for a in _order(aggregates):
        s = _agent_summary(rows, a)
        if s["failed"]:
            errors.append(f"{a}: {' '.join(str(s['error']).split())[:100]}")
        table.add_row(escape(" ".join(a.split())), _fmt(aggregates[a]["iqm"]), _ci(aggregates[a]),
                      _fmt(s["mean_latency_ms"], 1), _fmt(s["p95_latency_ms"], 1), _fmt(s["accuracy"]),
                      _fmt(s["energy_j"]), f"[red]{s['failed']}[/]" if s["failed"] else "0")
    if errors:
        table.caption = escape("failed cells: " + "; ".join(errors))
    return table


def machine() -> str:
    """A one-line description of the machine the run used."""
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def write_all(out: Path, rows: list[dict], aggregates: dict, cells: list[dict],
              header: dict[str, Any]) -> dict[str, Path]:
    """Write every output file into ``out``: LEADERBOARD.md, results.json, results.csv, summary.csv, scores.png."""
    from e3gym.bench.runner import write_json_atomic
    from e3gym.files import write_text_atomic
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "LEADERBOARD.md", "csv": out / "results.csv",
             "summary": out / "summary.csv", "png": out / "scores.png"}
    write_text_atomic(out / "results.csv", _csv([cell_row(c) for c in cells], CELL_FIELDS))
    write_text_atomic(out / "summary.csv", _csv(rows, SUMMARY_FIELDS))
    if not plot(aggregates, paths["png"], f"suite {header['suite']} v{header['suite_version']}"):
        del paths["png"]
    write_text_atomic(paths["markdown"], markdown(rows, aggregates, header, "results.json"))
    # results.json last: it carries the run key that marks the outputs complete for an identical re-run.
    write_json_atomic(paths["json"], {"header": header, "aggregates": aggregates, "rows": rows,
                                      "cells": [{k: v for k, v in c.items() if k != "actions"} for c in cells]})
    return paths
