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
import os
import shlex
import shutil
import sys
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
    """Entry point of ``e3gym bench``: checks the options, then :func:`e3gym.bench.run_suite`."""
    from e3gym.bench import runner
    from e3gym.bench.run import run_suite
    from e3gym.bench.suite import load_suite

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
    result = run_suite(suite, args.out, args.jobs, args.backend, command_line(args))
    if publish:
        _publish(args.out, {"rows": result.rows, "aggregates": result.aggregates, "header": result.header},
                 suite.id)
    return _exit_status(result.cells)


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


def _publish(out: Path, data: dict, suite_id: str) -> None:
    """benchmarks/LEADERBOARD.md and, beside it, the results files it links to."""
    from e3gym.bench import report
    from e3gym.files import write_text_atomic
    target = PUBLISH_DIR / "results" / suite_id
    if out.resolve() != target.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for name in report.RESULT_FILES:
            if (out / name).exists():
                shutil.copyfile(out / name, target / name)
    md = PUBLISH_DIR / "LEADERBOARD.md"
    write_text_atomic(md, report.markdown(data["rows"], data["aggregates"], data["header"],
                                          os.path.relpath(target / "results.json", PUBLISH_DIR)))
    print(f"published {md} (results in {target})", file=sys.stderr)
