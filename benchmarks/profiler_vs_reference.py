"""Check ``e3gym profile`` against the reference measurements and the reference method.

Profiles the 13 reference torchvision classifiers with ``e3gym profile`` (``--partition reference``,
so blocks line up with the reference's) at each thread count, runs the reference's own script
(``profile_ref.py``) on the same machine with the same runs and warm-up, and compares one-piece
median latencies per model three ways:

1. ``e3gym profile`` vs the reference file ``<label>-t<threads>-float32.json``;
2. the reference script here vs that file: how far this machine is from the one the file was made
   on (a property of the hardware, not of the profiler);
3. ``e3gym profile`` vs the reference script here: the profiler against the reference method on
   the same hardware.

Each comparison reports the median over models of ``|ratio - 1|`` (target < 25%), the same over all
block medians, and the geometric-mean ratio. Run from the repository root, in an environment with
torch and torchvision (``e3gym[profile]``), on an otherwise idle machine::

    python benchmarks/profiler_vs_reference.py --reference ../shared/reference --label epyc2 \\
        --threads 2 1 --runs 30 --warmup 5 --out benchmarks/profiler_vs_reference.md

The load average before and after each profiling run is recorded in the report.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS = ["mobilenet_v3_small", "mobilenet_v3_large", "mobilenet_v2", "efficientnet_b0", "efficientnet_b2",
          "resnet18", "resnet50", "regnet_y_800mf", "convnext_tiny", "vgg16", "alexnet", "squeezenet1_1",
          "shufflenet_v2_x1_0"]
TARGET = 0.25


def profile_command(threads: int, runs: int, warmup: int, work: Path, models: list[str]) -> list[str]:
    """The ``e3gym profile`` command line for one thread count."""
    return [sys.executable, "-m", "e3gym.cli", "profile", *models, "--threads", str(threads), "--runs", str(runs),
            "--warmup", str(warmup), "--partition", "reference", "--out", str(work), "--name", f"here-t{threads}"]


def reference_command(script: Path, threads: int, runs: int, warmup: int, out: Path, models: list[str]) -> list[str]:
    """The reference script's command line for one thread count (writes ``here-ref-t<threads>-float32.json``)."""
    return [sys.executable, str(script), "--threads", str(threads), "--reps", str(runs), "--warm", str(warmup),
            "--label", "here-ref", "--models", *models, "--out", str(out)]


def latencies(doc: dict, models: list[str]) -> dict[str, tuple[float, list[float]]]:
    """Per model: (one-piece median s, block medians s), from an e3gym device profile or a reference file."""
    out = {}
    for name in models:
        m = doc["models"][name]
        if "total_ms" in m:  # reference format
            out[name] = (m["total_ms"]["median"] / 1e3, [b["latency_ms"]["median"] / 1e3 for b in m["blocks"]])
        else:
            out[name] = (m["total"]["median_s"], [b["median_s"] for b in m["blocks"]])
    return out


def geomean(xs: list[float]) -> float:
    """Geometric mean of positive numbers."""
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def compare(ours: dict[str, tuple[float, list[float]]], ref: dict[str, tuple[float, list[float]]]) -> dict:
    """Per-model rows and the summary errors of ``ours`` against ``ref``."""
    rows, block_errors = [], []
    for name, (total, blocks) in ours.items():
        ref_total, ref_blocks = ref[name]
        block_ratios = [b / r for b, r in zip(blocks, ref_blocks)]
        block_errors += [abs(r - 1) for r in block_ratios]
        rows.append({"model": name, "ref_ms": ref_total * 1e3, "ours_ms": total * 1e3, "ratio": total / ref_total,
                     "blocks_err": statistics.median(abs(r - 1) for r in block_ratios),
                     "ref_sum_ms": sum(ref_blocks) * 1e3, "ours_sum_ms": sum(blocks) * 1e3})
    scale = geomean([r["ratio"] for r in rows])  # a uniformly faster or slower CPU moves every ratio alike
    return {"rows": rows, "total_err": statistics.median(abs(r["ratio"] - 1) for r in rows),
            "block_err": statistics.median(block_errors), "scale": scale,
            "shape_err": statistics.median(abs(r["ratio"] / scale - 1) for r in rows)}


def timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run a profiling command; wall time and the load average around it."""
    before, start = os.getloadavg()[0], time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return {"wall_s": time.time() - start, "load_before": before, "load_after": os.getloadavg()[0]}


def table(c: dict, ours_label: str, ref_label: str) -> list[str]:
    """The per-model Markdown table of one comparison."""
    lines = [f"| model | {ref_label} (ms) | {ours_label} (ms) | ratio | block medians: median abs error | "
             f"{ref_label}: sum of blocks (ms) | {ours_label}: sum of blocks (ms) |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['ref_ms']:.2f} | {r['ours_ms']:.2f} | {r['ratio']:.3f} | {100 * r['blocks_err']:.1f}% | "
              f"{r['ref_sum_ms']:.2f} | {r['ours_sum_ms']:.2f} |" for r in c["rows"]]
    return lines + ["", f"Median over models of |ratio - 1|: **{100 * c['total_err']:.1f}%** (one-piece totals); "
                        f"{100 * c['block_err']:.1f}% over all block medians; geometric-mean ratio {c['scale']:.3f}, "
                        f"after dividing by it {100 * c['shape_err']:.1f}%.", ""]


def main(argv: list[str] | None = None) -> int:
    """Profile, compare and write the Markdown report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=Path("../shared/reference"),
                    help="folder with profiles/<label>-t<N>-float32.json and profile_ref.py")
    ap.add_argument("--label", default="epyc2", help="reference file prefix (default: epyc2)")
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--work", type=Path, default=Path("/tmp/e3gym-profiler-vs-reference"),
                    help="folder for the measured profiles (default: /tmp/e3gym-profiler-vs-reference)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment variable for the profiling runs (e.g. ONEDNN_MAX_CPU_ISA=AVX2)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/profiler_vs_reference.md"))
    a = ap.parse_args(argv)
    try:
        import torchvision  # noqa: F401  (both profiling commands run in this interpreter)
    except ImportError:
        ap.error("torchvision is not installed: pip install 'e3gym[profile]'")
    script = a.reference / "profile_ref.py"
    if not script.is_file():
        ap.error(f"--reference {a.reference}: no profile_ref.py there (the reference method is run on this machine)")
    env = {**os.environ, **dict(e.split("=", 1) for e in a.env)}
    (a.work / "reference").mkdir(parents=True, exist_ok=True)

    summary, sections = [], []
    for th in a.threads:
        ref_file = a.reference / "profiles" / f"{a.label}-t{th}-float32.json"
        ref_doc = json.loads(ref_file.read_text(encoding="utf-8"))
        # The reference method first, then the profiler, each on the idle machine.
        run_ref = timed(reference_command(script, th, a.runs, a.warmup, a.work / "reference", a.models), env)
        run_ours = timed(profile_command(th, a.runs, a.warmup, a.work, a.models), env)
        here_doc = json.loads((a.work / "reference" / f"here-ref-t{th}-float32.json").read_text(encoding="utf-8"))
        ours_doc = json.loads((a.work / "devices" / f"here-t{th}.json").read_text(encoding="utf-8"))
        ref, here, ours = (latencies(d, a.models) for d in (ref_doc, here_doc, ours_doc))
        comparisons = [("e3gym profile", a.label, compare(ours, ref)),
                       ("reference script here", a.label, compare(here, ref)),
                       ("e3gym profile", "reference script here", compare(ours, here))]
        hw = ours_doc["hardware"]
        for ours_label, ref_label, c in comparisons:
            verdict = "yes" if c["total_err"] < TARGET else "no"
            summary.append(f"| {th} | {ours_label} vs {ref_label} | {100 * c['total_err']:.1f}% | {verdict} | "
                           f"{100 * c['block_err']:.1f}% | {c['scale']:.3f} | {100 * c['shape_err']:.1f}% |")
            print(f"threads {th}: {ours_label} vs {ref_label}: median |ratio - 1| = {100 * c['total_err']:.1f}% "
                  f"(totals), {100 * c['block_err']:.1f}% (blocks), geomean ratio {c['scale']:.3f}")
        lines = [f"### {th} thread(s)", "",
                 f"Here: {hw['cpu_model']} ({hw.get('cpu_id') or 'no cpu id'}), torch {hw['torch']}, torchvision "
                 f"{hw['torchvision']}, {hw['date']}; {a.runs} runs after {a.warmup} warm-up. Reference script "
                 f"{run_ref['wall_s']:.0f} s (load average {run_ref['load_before']:.2f} -> {run_ref['load_after']:.2f}), "
                 f"e3gym profile {run_ours['wall_s']:.0f} s ({run_ours['load_before']:.2f} -> {run_ours['load_after']:.2f}). "
                 f"`{ref_file.name}`: {ref_doc['cpu_model']}, torch {ref_doc['torch']}, {ref_doc['date']}.", ""]
        for ours_label, ref_label, c in comparisons:
            lines += [f"#### {ours_label} vs {ref_label}", "", *table(c, ours_label, ref_label)]
        sections.append("\n".join(lines))

    shown = " ".join(["python benchmarks/profiler_vs_reference.py", "--reference", str(a.reference), "--label", a.label,
                      "--threads", *map(str, a.threads), "--runs", str(a.runs), "--warmup", str(a.warmup),
                      *[f"--env {e}" for e in a.env], "--out", str(a.out)])
    report = ["# e3gym profile vs the reference measurements", "",
              "Generated by (repository root, torchvision installed):", "", "```", shown, "```", "",
              "Per thread count it runs the reference's own script (`profile_ref.py`) and `e3gym profile MODEL... "
              "--partition reference` on this machine with the same runs and warm-up, then compares one-piece "
              f"median latencies per model (target: median |ratio - 1| < {100 * TARGET:.0f}%). The second row of each "
              "thread count measures the hardware (the reference method here against the reference file); the "
              "third measures the profiler (against the reference method on the same hardware).", "",
              f"| threads | comparison | median abs error, totals | < {100 * TARGET:.0f}% | median abs error, blocks | "
              "geomean ratio | "
              "median abs error after dividing by the geomean ratio |",
              "|---:|---|---:|---|---:|---:|---:|", *summary, "", *sections]
    from e3gym.files import write_text_atomic
    write_text_atomic(a.out, "\n".join(report))
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
