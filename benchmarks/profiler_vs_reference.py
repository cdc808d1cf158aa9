"""Check ``e3gym profile`` against the reference measurements taken on the same machine class.

Profiles the 13 reference torchvision classifiers with ``e3gym profile`` (``--partition reference``,
so blocks line up with the reference's) at each thread count, and compares the one-piece median
latency of every model with the reference file ``<label>-t<threads>-float32.json``: the ratio
ours / reference per model, and the median over models of ``|ratio - 1|`` (the target is < 25%).
Per-block medians are compared the same way (median over all blocks of all models).

Run from the repository root, in an environment with torch and torchvision (``e3gym[profile]``),
on a machine of the reference's class (for ``epyc2``: a 2-core AMD EPYC VM)::

    python benchmarks/profiler_vs_reference.py --reference ../shared/reference --label epyc2 \
        --threads 2 1 --runs 10 --out benchmarks/profiler_vs_reference.md

Timing is only meaningful on an otherwise idle machine: the load average before and after each
profiling run is recorded in the report.
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


def profile_command(threads: int, runs: int, warmup: int, work: Path, models: list[str]) -> list[str]:
    """The ``e3gym profile`` command line for one thread count."""
    return [sys.executable, "-m", "e3gym.cli", "profile", *models, "--threads", str(threads), "--runs", str(runs),
            "--warmup", str(warmup), "--partition", "reference", "--out", str(work), "--name", f"here-t{threads}"]


def geomean(xs: list[float]) -> float:
    """Geometric mean of positive numbers."""
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def compare(ours: dict, ref: dict, models: list[str]) -> tuple[list[dict], float, float]:
    """Per-model rows, median |ours/ref - 1| of the one-piece totals, and of all block medians."""
    rows, block_errors = [], []
    for name in models:
        mine, theirs = ours["models"][name], ref["models"][name]
        ref_total = theirs["total_ms"]["median"] / 1e3
        ratio = mine["total"]["median_s"] / ref_total
        block_ratios = [b["median_s"] / (r["latency_ms"]["median"] / 1e3)
                        for b, r in zip(mine["blocks"], theirs["blocks"])]
        block_errors += [abs(r - 1) for r in block_ratios]
        rows.append({"model": name, "ref_ms": ref_total * 1e3, "ours_ms": mine["total"]["median_s"] * 1e3,
                     "ratio": ratio, "blocks_median_err": statistics.median(abs(r - 1) for r in block_ratios),
                     "ref_sum_ms": sum(r["latency_ms"]["median"] for r in theirs["blocks"]),
                     "ours_sum_ms": sum(b["median_s"] for b in mine["blocks"]) * 1e3})
    return rows, statistics.median(abs(r["ratio"] - 1) for r in rows), statistics.median(block_errors)


def main(argv: list[str] | None = None) -> int:
    """Profile, compare and write the Markdown report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=Path("../shared/reference"))
    ap.add_argument("--label", default="epyc2", help="reference file prefix (default: epyc2)")
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--work", type=Path, default=Path("/tmp/e3gym-profiler-vs-reference"),
                    help="folder for the measured profiles (default: /tmp/e3gym-profiler-vs-reference)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment variable for the profiling runs (e.g. ONEDNN_MAX_CPU_ISA=AVX2)")
    ap.add_argument("--skip-profile", action="store_true", help="compare profiles already in --work")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/profiler_vs_reference.md"))
    a = ap.parse_args(argv)

    sections, summary = [], []
    for th in a.threads:
        cmd = profile_command(th, a.runs, a.warmup, a.work, a.models)
        load_before = os.getloadavg()
        start = time.time()
        if not a.skip_profile:
            env = {**os.environ, **dict(e.split("=", 1) for e in a.env)}
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        wall_s, load_after = time.time() - start, os.getloadavg()
        ours = json.loads((a.work / "devices" / f"here-t{th}.json").read_text(encoding="utf-8"))
        ref_file = a.reference / "profiles" / f"{a.label}-t{th}-float32.json"
        ref = json.loads(ref_file.read_text(encoding="utf-8"))
        rows, total_err, block_err = compare(ours, ref, a.models)
        # scale-free check: a uniformly faster or slower CPU moves every ratio alike
        scale = geomean([r["ratio"] for r in rows])
        shape_err = statistics.median(abs(r["ratio"] / scale - 1) for r in rows)
        summary.append(f"| {th} | {100 * total_err:.1f}% | {100 * block_err:.1f}% | {scale:.3f} | "
                       f"{100 * shape_err:.1f}% | "
                       f"{ours['hardware']['cpu_model']} ({ours['hardware'].get('cpu_id') or 'no cpu id'}) | "
                       f"{ref['cpu_model']} |")
        lines = [f"### {th} thread(s): reference `{ref_file.name}`", "",
                 f"e3gym profile: torch {ours['hardware']['torch']}, torchvision {ours['hardware']['torchvision']}, "
                 f"{ours['hardware']['date']}, {a.runs} runs after {a.warmup} warm-up; profiling took {wall_s:.0f} s; "
                 f"load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after. "
                 f"Reference: torch {ref['torch']}, {ref['date']}.", "",
                 "| model | reference (ms) | e3gym profile (ms) | ratio | block medians: median abs error | "
                 "reference sum of blocks (ms) | e3gym sum of blocks (ms) |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['model']} | {r['ref_ms']:.2f} | {r['ours_ms']:.2f} | {r['ratio']:.3f} | "
                  f"{100 * r['blocks_median_err']:.1f}% | {r['ref_sum_ms']:.2f} | {r['ours_sum_ms']:.2f} |" for r in rows]
        lines += ["", f"Median over models of |ratio - 1|: **{100 * total_err:.1f}%** (one-piece totals); "
                      f"{100 * block_err:.1f}% over all block medians. Geometric-mean ratio {scale:.3f}; after "
                      f"dividing every ratio by it, median |ratio - 1| = {100 * shape_err:.1f}%.", ""]
        if not 0.8 <= scale <= 1.25 and shape_err < total_err / 2:
            lines += [f"Every model is about {1 / scale:.2f}x {'faster' if scale < 1 else 'slower'} here than in the "
                      f"reference, while the models' latencies relative to each other agree within "
                      f"{100 * shape_err:.0f}% (median): the two machines differ in speed (CPU generation, "
                      "instruction set, clock or load), so the absolute figures cannot agree.", ""]
        sections.append("\n".join(lines))
        print(f"threads {th}: median |ours/ref - 1| = {100 * total_err:.1f}% (totals), {100 * block_err:.1f}% "
              f"(blocks); geomean ratio {scale:.3f}, scale-free error {100 * shape_err:.1f}%")

    shown = " ".join(["python benchmarks/profiler_vs_reference.py", "--reference", str(a.reference), "--label", a.label,
                      "--threads", *map(str, a.threads), "--runs", str(a.runs), "--warmup", str(a.warmup),
                      *[f"--env {e}" for e in a.env], "--out", str(a.out)])
    report = ["# e3gym profile vs the reference measurements", "",
              "Generated by (repository root, torchvision installed):", "", "```", shown, "```", "",
              "which runs, per thread count, `" + " ".join(profile_command(0, a.runs, a.warmup, a.work, ["MODEL..."])[3:])
              .replace("--threads 0", "--threads N").replace("here-t0", "here-tN") + "`, then compares one-piece "
              "median latencies with the reference file of the same thread count (target: median error < 25%).", "",
              "| threads | median abs error, totals | median abs error, blocks | geomean ratio | "
              "median abs error after dividing by the geomean ratio | CPU here | CPU of the reference |",
              "|---:|---:|---:|---:|---:|---|---|", *summary, "", *sections]
    a.out.write_text("\n".join(report), encoding="utf-8")
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
