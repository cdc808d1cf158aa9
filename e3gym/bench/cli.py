"""``e3gym bench``: every agent x scenario x seed of a suite, scored and aggregated.

    e3gym bench --suite smoke --out bench-out                 # a quick check
    e3gym bench --suite default --out bench-out --publish     # also regenerates benchmarks/LEADERBOARD.md
    e3gym bench --suite my_suite.toml --agents greedy mypkg.agents:MyAgent --seeds 3 --jobs 4

``--publish`` (implied by ``--suite default --out benchmarks``) is meant to be run from the
repository root: it writes ``benchmarks/LEADERBOARD.md`` and the results it links to under
``benchmarks/results/``.

The exit status is 0 when every cell succeeded and 1 when any failed (an agent raised, its training
failed, or its saved model did not load); the failed cells are then listed at the end, one line
each with agent, scenario, seed and error. Their cell files are kept, so a re-run reports them
again: delete a cell's file (or the model files it names) to run it again.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from e3gym.errors import E3GymError, writable_dir

PUBLISH_DIR = Path("benchmarks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``e3gym bench``."""
    parser.add_argument("--suite", default="default", help="shipped suite name (smoke, default, full) or a .toml path")
    parser.add_argument("--agents", nargs="+", default=None,
                        help="agents to run (names from the suite, built-ins, entry points or module:Class); "
                             "static_best and oracle always run, they define the score")
    parser.add_argument("--seeds", type=int, default=None, help="number of evaluation seeds (default: the suite's)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="cells run in parallel")
    parser.add_argument("--backend", choices=("process", "ray"), default="process",
                        help="where parallel cells run: local processes, or Ray (pip install 'e3gym[ray]')")
    parser.add_argument("--out", type=Path, default=Path("bench-out"), help="output folder (cells are cached here)")
    parser.add_argument("--publish", action="store_true",
                        help=f"also regenerate {PUBLISH_DIR}/LEADERBOARD.md (run from the repository root)")


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run's outputs."""
    parts = ["e3gym bench", f"--suite {shlex.quote(str(args.suite))}"]
    if args.agents:
        parts.append("--agents " + " ".join(shlex.quote(a) for a in args.agents))
    if args.seeds is not None:
        parts.append(f"--seeds {args.seeds}")
    parts.append(f"--out {shlex.quote(str(args.out))}")
    if args.publish:
        parts.append("--publish")
    return " ".join(parts)


def _publishing(args: argparse.Namespace) -> bool:
    return bool(args.publish) or (args.suite == "default" and args.out.resolve() == PUBLISH_DIR.resolve())


def run(args: argparse.Namespace) -> int:
    """Entry point of ``e3gym bench``."""
    from rich.console import Console

    from e3gym.bench import runner
    from e3gym.bench.suite import load_suite

    start = time.perf_counter()
    if args.jobs < 1:
        raise E3GymError(f"--jobs must be >= 1, got {args.jobs}")
    writable_dir(args.out, "--out")
    publish = _publishing(args)
    if publish and not PUBLISH_DIR.is_dir():
        raise E3GymError(f"--publish writes {PUBLISH_DIR}/LEADERBOARD.md: run it from the repository root "
                         f"(no {PUBLISH_DIR}/ folder in {Path.cwd()})")
    if args.backend == "ray":
        runner.import_ray()  # fail before any work when Ray is missing
    # Every mistake in the suite or the options is reported here, before any work.
    suite = load_suite(args.suite)
    if args.agents:
        suite = suite.with_agents(args.agents)
    if args.seeds is not None:
        suite = suite.with_seeds(args.seeds)
    console = Console(stderr=True)
    if not console.is_terminal:  # a log file or a pipe: wide enough for the table instead of 80 columns
        console = Console(stderr=True, width=120)
    out: Path = args.out
    jobs, cells = runner.plan(suite)
    key = runner.run_key(cells, command_line(args))
    todo_jobs = [j for j in jobs if not runner.train_done(out, j)]
    todo = [c for c in cells if not runner.cell_path(out, c).exists()]

    previous = _previous(out, key) if not (todo or todo_jobs) else None
    if previous is not None:  # same cells, same command, all on disk: nothing to recompute
        from e3gym.bench import report
        console.print(report.rich_table(previous["rows"], previous["aggregates"]))
        if publish:
            _publish(out, previous, suite.id, console)
        console.print(f"up to date: {out} already holds these results ({time.perf_counter() - start:.2f} s)")
        return _exit_status(previous["cells"])

    console.print(f"suite [bold]{suite.id}[/] v{suite.version}: {len(suite.scenarios)} scenarios x "
                  f"{len(suite.agents)} agents x {len(suite.seeds)} seeds = {len(cells)} cells "
                  f"({len(cells) - len(todo)} cached), {len(todo_jobs)} of {len(jobs)} RL training jobs to run; "
                  f"output in {out}")
    _execute(args, out, todo_jobs, todo, len(cells), console)
    results = [runner.run_eval_cell(c, str(out)) for c in cells]  # all on disk now: reads the files
    data = _report(args, suite, results, out, key, time.perf_counter() - start, console)
    if publish:
        _publish(out, data, suite.id, console)
    return _exit_status(results)


def failure_lines(cells: list[dict]) -> list[str]:
    """One line per failed cell: its agent, scenario and seed, and its error on one line."""
    lines = []
    for cell in cells:
        if cell.get("status") != "ok":
            c = cell["config"]
            error = " ".join(str(cell.get("error", "unknown error")).split())[:300]
            lines.append(f"failed cell: agent {c['agent']['name']!r}, scenario {c['scenario']['id']!r}, "
                         f"seed {c['seed']}: {error}")
    return lines


def _exit_status(cells: list[dict]) -> int:
    """1, after listing the failed cells on stderr, when any cell failed; else 0."""
    lines = failure_lines(cells)
    for line in lines:
        print(f"e3gym bench: {line}", file=sys.stderr)
    if lines:
        print(f"e3gym bench: {len(lines)} of {len(cells)} cells failed", file=sys.stderr)
    return 1 if lines else 0


def _previous(out: Path, key: str) -> dict | None:
    path = out / "results.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if data.get("header", {}).get("run_key") == key else None


def _execute(args: argparse.Namespace, out: Path, todo_jobs: list, todo: list, n_cells: int, console) -> None:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
            runner.execute(todo_jobs, runner.run_train_job, out, args.jobs, args.backend, trained)
        t = progress.add_task("evaluating cells", total=n_cells, completed=n_cells - len(todo))

        def evaluated(cell: dict) -> None:
            progress.advance(t)
            if cell.get("status") != "ok":
                c = cell["config"]
                progress.console.print(f"[red]failed[/] {escape(c['agent']['name'])} on "
                                       f"{escape(c['scenario']['id'])} seed {c['seed']}: "
                                       f"{escape(str(cell.get('error')))}")
        runner.execute(todo, runner.run_eval_cell, out, args.jobs, args.backend, evaluated)


def _report(args: argparse.Namespace, suite, results: list[dict], out: Path, key: str, wall_s: float,
            console) -> dict:
    import e3gym
    from e3gym.bench import metrics, report
    metrics.add_scores(results)
    agents = [a.name for a in suite.agents]
    scenarios = [s.id for s in suite.scenarios]
    matrices = metrics.score_matrices(results, agents, scenarios, list(suite.seeds))
    aggregates = metrics.aggregate(matrices)
    per_scenario = metrics.aggregate_by_scenario(matrices, scenarios)
    rows = report.summarize(results, agents, scenarios, per_scenario)
    dates = sorted(c.get("date", "") for c in results)
    header = {"command": command_line(args), "date": dates[-1] if dates else time.strftime("%Y-%m-%d"),
              "e3gym_version": e3gym.__version__, "machine": report.machine(), "suite": suite.id,
              "suite_version": suite.version, "description": suite.description, "seeds": list(suite.seeds),
              "train_seeds": list(suite.train_seeds), "episodes": suite.episodes, "wall_s": wall_s, "run_key": key,
              "jobs": args.jobs, "backend": args.backend}
    paths = report.write_all(out, rows, aggregates, results, header)
    console.print(report.rich_table(rows, aggregates))
    failed = sum(c.get("status") != "ok" for c in results)
    if failed:
        console.print(f"[yellow]{failed} cell(s) failed; their errors are in the table, LEADERBOARD.md and the "
                      f"cell files, and listed below[/]")
    console.print(f"wrote {', '.join(str(p) for p in paths.values())} in {wall_s:.1f} s")
    return json.loads(paths["json"].read_text(encoding="utf-8"))


def _publish(out: Path, data: dict, suite_id: str, console) -> None:
    """benchmarks/LEADERBOARD.md and, beside it, the results files it links to."""
    from e3gym.bench import report
    target = PUBLISH_DIR / "results" / suite_id
    if out.resolve() != target.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for name in report.RESULT_FILES:
            if (out / name).exists():
                shutil.copyfile(out / name, target / name)
    md = PUBLISH_DIR / "LEADERBOARD.md"
    md.write_text(report.markdown(data["rows"], data["aggregates"], data["header"],
                                  os.path.relpath(target / "results.json", PUBLISH_DIR)), encoding="utf-8")
    console.print(f"published {md} (results in {target})")
