"""``e3gym bench``: every agent x scenario x seed of a suite, scored and aggregated.

    e3gym bench --suite default --out bench-out
    e3gym bench --suite default --out benchmarks/results --publish benchmarks/LEADERBOARD.md
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``e3gym bench``."""
    parser.add_argument("--suite", default="default", help="shipped suite name (smoke, default, full) or a .toml path")
    parser.add_argument("--agents", nargs="*", default=None,
                        help="agents to run (names from the suite, built-ins, entry points or module:Class); "
                             "static_best and oracle always run, they define the score")
    parser.add_argument("--seeds", type=int, default=None, help="number of evaluation seeds (default: the suite's)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="cells run in parallel")
    parser.add_argument("--backend", choices=("process", "ray"), default="process", help="where parallel cells run")
    parser.add_argument("--out", type=Path, default=Path("bench-out"), help="output folder (cells are cached here)")
    parser.add_argument("--publish", type=Path, default=None, help="also write LEADERBOARD.md to this path")


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run's outputs."""
    parts = ["e3gym bench", f"--suite {args.suite}"]
    if args.agents:
        parts.append("--agents " + " ".join(args.agents))
    if args.seeds:
        parts.append(f"--seeds {args.seeds}")
    parts.append(f"--out {args.out}")
    if args.publish:
        parts.append(f"--publish {args.publish}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``e3gym bench``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    import e3gym
    from e3gym.bench import metrics, report, runner
    from e3gym.bench.suite import load_suite

    start = time.perf_counter()
    suite = load_suite(args.suite)  # every mistake in the suite is reported here, before any work
    if args.agents:
        suite = suite.with_agents(args.agents)
    if args.seeds:
        suite = suite.with_seeds(args.seeds)
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    console = Console(stderr=True)
    out = args.out
    jobs, cells = runner.train_jobs(suite), runner.eval_cells(suite)
    run_key = runner.run_key(cells, command_line(args))
    previous = out / "results.json"
    if previous.exists():
        done = json.loads(previous.read_text(encoding="utf-8"))
        if done.get("header", {}).get("run_key") == run_key:  # same cells, same outputs: nothing to redo
            console.print(report.rich_table(done["rows"], done["aggregates"]))
            console.print(f"up to date: {out} already holds this run's results")
            return 0
    cached = sum((out / "cells" / f"{c['key']}.json").exists() for c in cells)
    console.print(f"suite [bold]{suite.id}[/] v{suite.version}: {len(suite.scenarios)} scenarios x "
                  f"{len(suite.agents)} agents x {len(suite.seeds)} seeds = {len(cells)} cells "
                  f"({cached} cached), {len(jobs)} training jobs; output in {out}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        todo_jobs = [j for j in jobs if not (out / "models" / f"{j['key']}.json").exists()]
        if todo_jobs:
            t = progress.add_task("training RL agents", total=len(todo_jobs))
            runner.execute(todo_jobs, runner.run_train_job, out, args.jobs, args.backend,
                           lambda r: progress.advance(t))
        todo = [c for c in cells if not (out / "cells" / f"{c['key']}.json").exists()]
        t = progress.add_task("evaluating cells", total=len(cells), completed=len(cells) - len(todo))
        runner.execute(todo, runner.run_eval_cell, out, args.jobs, args.backend, lambda r: progress.advance(t))

    results = [runner.run_eval_cell(c, str(out)) for c in cells]  # all cached now: reads the files
    metrics.add_scores(results)
    agents = [a.name for a in suite.agents]
    scenarios = [s.id for s in suite.scenarios]
    matrices = metrics.score_matrices(results, agents, scenarios, list(suite.seeds))
    aggregates = metrics.aggregate(matrices)
    rows = report.summarize(results, agents, scenarios)
    results_json = out / "results.json"
    link_base = args.publish.parent if args.publish else out
    header = {"command": command_line(args), "date": time.strftime("%Y-%m-%d"),
              "e3gym_version": e3gym.__version__, "machine": report.machine(), "suite": suite.id,
              "suite_version": suite.version, "description": suite.description, "seeds": list(suite.seeds),
              "train_seeds": list(suite.train_seeds), "results_file": os.path.relpath(results_json, link_base),
              "wall_s": time.perf_counter() - start, "run_key": run_key}
    paths = report.write_all(out, rows, aggregates, results, header, args.publish)
    console.print(report.rich_table(rows, aggregates))
    failed = sum(c.get("status") != "ok" for c in results)
    if failed:
        console.print(f"[yellow]{failed} cell(s) failed; their errors are in the cell files and the table[/]")
    console.print(f"wrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - start:.1f} s")
    return 0
