"""The one evaluation path: :func:`run_suite` trains, evaluates, scores and reports a suite.

``e3gym bench``, the benchmark scripts and the examples all call it::

    from e3gym.bench import load_suite, run_suite
    result = run_suite(load_suite("smoke"), "bench-out")
    result.aggregates["greedy"]["iqm"]

Cells are cached in ``out`` (one JSON file each), so an interrupted run resumes and an identical
re-run recomputes nothing.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e3gym.bench.suite import Suite
from e3gym.errors import E3GymError


@dataclass
class SuiteResult:
    """What a suite run produced: every cell, the per-(agent, scenario) rows and the aggregates."""

    cells: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    aggregates: dict[str, dict[str, float]]
    header: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)
    up_to_date: bool = False

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The cells whose agent raised, whose training failed or whose model did not load."""
        return [c for c in self.cells if c.get("status") != "ok"]

    def row(self, agent: str, scenario: str) -> dict[str, Any]:
        """The summary row of ``agent`` on ``scenario``."""
        for r in self.rows:
            if r["agent"] == agent and r["scenario"] == scenario:
                return r
        raise E3GymError(f"no row for agent {agent!r} on scenario {scenario!r}")


def run_suite(suite: Suite, out: str | Path, jobs: int = 1, backend: str = "process", command: str | None = None,
              console: Any = None, quiet: bool = False) -> SuiteResult:
    """Train the RL agents, evaluate every cell, score and aggregate, and write the reports into ``out``.

    Args:
        suite: a loaded suite (:func:`e3gym.bench.load_suite`; ``with_agents``/``with_seeds`` to narrow it).
        out: output folder; cells found there are reused.
        jobs: cells (and training jobs) run in parallel.
        backend: ``"process"`` (local spawn pool) or ``"ray"``.
        command: the command line recorded in the reports (default: a ``run_suite`` call).
        console: a rich Console for progress and tables (default: stderr).
        quiet: no progress bars or tables.
    """
    from rich.console import Console

    from e3gym.bench import runner
    from e3gym.checks import integer

    start = time.perf_counter()
    jobs = integer("jobs", jobs, low=1, high=1024)
    if backend not in ("process", "ray"):
        raise E3GymError(f"backend must be 'process' or 'ray', got {backend!r}")
    out = Path(out)
    if console is None:
        console = Console(stderr=True, quiet=quiet)
        if not console.is_terminal:  # a log file or a pipe: wide enough for the table instead of 80 columns
            console = Console(stderr=True, width=120, quiet=quiet)
    command = command or f"run_suite({suite.id!r}, {str(out)!r})"
    train_jobs, cells = runner.plan(suite)
    key = runner.run_key(cells, command)
    todo_jobs = [j for j in train_jobs if not runner.train_done(out, j)]
    todo = [c for c in cells if not runner.cell_path(out, c).exists()]
    previous = _previous(out, key) if not (todo or todo_jobs) else None
    if previous is not None:  # same cells, same command, all on disk: nothing to recompute
        from e3gym.bench import report
        console.print(report.rich_table(previous["rows"], previous["aggregates"]))
        console.print(f"up to date: {out} already holds these results ({time.perf_counter() - start:.2f} s)")
        return SuiteResult(previous["cells"], previous["rows"], previous["aggregates"], previous["header"],
                           up_to_date=True)
    console.print(f"suite [bold]{suite.id}[/] v{suite.version}: {len(suite.scenarios)} scenarios, "
                  f"{len(suite.agents)} agents, {len(suite.seeds)} seeds = {len(cells)} cells "
                  f"({len(cells) - len(todo)} cached), {len(todo_jobs)} of {len(train_jobs)} RL training jobs to run; "
                  f"output in {out}")
    _execute(out, todo_jobs, todo, len(cells), jobs, backend, console)
    results = [runner.run_eval_cell(c, str(out)) for c in cells]  # all on disk now: reads the files
    return _report(suite, results, out, key, command, start, jobs, backend, console,
                   {"cells": len(cells), "cells_computed": len(todo), "train_jobs_run": len(todo_jobs)})


def _previous(out: Path, key: str) -> dict | None:
    path = out / "results.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("header", {}).get("run_key") == key else None


def _execute(out: Path, todo_jobs: list, todo: list, n_cells: int, jobs: int, backend: str, console: Any) -> None:
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from e3gym.bench import runner
    # Names and errors are printed as text: rich would read "[...]" in them as markup.
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        if todo_jobs:
            t = progress.add_task("training RL agents", total=len(todo_jobs))

            def trained(result: dict) -> None:
                progress.advance(t)
                if result.get("error"):
                    progress.console.print(f"[red]training failed[/]: {escape(str(result['error']))}")
            runner.execute(todo_jobs, runner.run_train_job, out, jobs, backend, trained)
        t = progress.add_task("evaluating cells", total=n_cells, completed=n_cells - len(todo))

        def evaluated(cell: dict) -> None:
            progress.advance(t)
            if cell.get("status") != "ok":
                c = cell["config"]
                progress.console.print(f"[red]failed[/] {escape(c['agent']['name'])} on "
                                       f"{escape(c['scenario']['id'])} seed {c['seed']}: "
                                       f"{escape(str(cell.get('error')))}")
        runner.execute(todo, runner.run_eval_cell, out, jobs, backend, evaluated)


def _report(suite: Suite, results: list[dict], out: Path, key: str, command: str, start: float, jobs: int,
            backend: str, console: Any, work: dict[str, int]) -> SuiteResult:
    import e3gym
    from e3gym.bench import metrics, report
    with console.status(f"scoring {len(results)} cells ({suite.bootstrap_reps} bootstrap resamples per CI)"):
        metrics.add_scores(results, suite.references())
        agents = [a.name for a in suite.agents]
        scenarios = [s.id for s in suite.scenarios]
        columns = metrics.score_columns(results, agents, scenarios, list(suite.seeds))
        aggregates = metrics.aggregate(metrics.score_matrices(columns), suite.bootstrap_reps)
        per_scenario = metrics.aggregate_by_scenario(columns, scenarios, suite.bootstrap_reps)
        rows = report.summarize(results, agents, scenarios, per_scenario)
    dates = sorted(c.get("date", "") for c in results)
    header = {"command": command, "date": dates[-1] if dates else time.strftime("%Y-%m-%d"),
              "e3gym_version": e3gym.__version__, "machine": report.machine(), "suite": suite.id,
              "suite_version": suite.version, "description": suite.description, "seeds": list(suite.seeds),
              "train_seeds": list(suite.train_seeds), "episodes": suite.episodes,
              "references": suite.references(), "bootstrap_reps": suite.bootstrap_reps,
              "wall_s": time.perf_counter() - start, "run_key": key, "jobs": jobs, "backend": backend, **work}
    with console.status("writing the reports"):
        paths = report.write_all(out, rows, aggregates, results, header)
    console.print(report.rich_table(rows, aggregates))
    failed = sum(c.get("status") != "ok" for c in results)
    if failed:
        console.print(f"[yellow]{failed} cell(s) failed; their errors are in the table, LEADERBOARD.md and the "
                      f"cell files, and listed below[/]")
    console.print(f"wrote {', '.join(str(p) for p in paths.values())} in {header['wall_s']:.1f} s")
    cells = [{k: v for k, v in c.items() if k != "actions"} for c in results]
    return SuiteResult(cells, rows, aggregates, header, paths)
