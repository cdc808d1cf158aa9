"""The validation's outputs: ``validation.json``, ``validation.md``, ``validation.png`` and ``requests.csv``."""
from __future__ import annotations

import csv
import os
import platform
from pathlib import Path
from typing import Any

from e3gym.files import open_atomic, write_json_atomic, write_text_atomic
from e3gym.validate.compare import COMPONENTS, REL_FLOOR_S


def hardware() -> dict[str, Any]:
    """The machine: CPU model from /proc/cpuinfo, cores, architecture."""
    from e3gym.profiler.measure import cpu_model

    return {"cpu_model": cpu_model(), "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
            "machine": platform.machine(), "os": platform.platform()}


def versions() -> dict[str, str]:
    """Python, torch, numpy and e3gym versions."""
    import numpy
    import torch

    import e3gym

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "e3gym": e3gym.__version__}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def markdown(result: dict[str, Any]) -> str:
    """The Markdown report: the command, the mode, the error table, the runs and the decisions."""
    hw, s = result["hardware"], result["settings"]
    lines = ["# e3gym validate", "", f"`{result['command']}`", "",
             f"- mode: **{result['mode']}** ({result['mode_note']})",
             f"- hardware: {hw['cpu_model']}, {hw['cores']} cores; versions: "
             + ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
             f"- {s['users']} devices, edge workers {s['workers']}, RTT {s['rtt_ms']} ms, JPEG quality {s['quality']}, "
             f"{s['requests']} requests per run; device profile `{s['device_profile']}`",
             f"- end to end: median |pred - meas| / meas **{_pct(result['median_abs_rel_error'])}**, "
             f"p95 **{_pct(result['p95_abs_rel_error'])}**; "
             f"decision agreement **{_pct(result['decision_agreement'])}** "
             f"(offloading cuts only: {_pct(result['decision_agreement_offload'])})",
             "", "Caveats:", "", *(f"- {c}" for c in result.get("caveats", [])), "",
             f"## Error per component (relative where measured >= {REL_FLOOR_S * 1e3:g} ms)", "",
             "| component | n | median rel. | p95 rel. | median abs. (ms) | p95 abs. (ms) | mean measured (ms) "
             "| mean predicted (ms) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, st in result["per_component"].items():
        lines.append(f"| {name} | {st['n']} | {_pct(st['median_abs_rel_error'])} | {_pct(st['p95_abs_rel_error'])} | "
                     f"{_ms(st['median_abs_error_ms'])} | {_ms(st['p95_abs_error_ms'])} | "
                     f"{_ms(st['mean_measured_ms'])} | "
                     f"{_ms(st['mean_predicted_ms'])} |")
    lines += ["", "## Runs (end-to-end latency)", "",
              "| link | load (req/s) | model | cut | n | bytes up (meas. / pred.) | mean measured (ms) | "
              "mean predicted (ms) | median rel. error |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["runs"]:
        lines.append(f"| {r['link']} | {r['load']:g} | {r['model']} | {r['cut']}{' (local)' if r['local'] else ''} | "
                     f"{r['n']} | {r['bytes_up']:.0f} / {r['predicted_bytes_up']:.0f} | {r['mean_measured_ms']:.1f} | "
                     f"{r['mean_predicted_ms']:.1f} | {_pct(r['median_abs_rel_error'])} |")
    lines += ["", "## Decisions (cut with the lowest mean latency)", "",
              "| link | load (req/s) | model | simulator's best | measured fastest | agree | regret |",
              "|---|---:|---|---:|---:|:---:|---:|"]
    for c in result["cells"]:
        if "agree" in c:
            lines.append(f"| {c['link']} | {c['load']:g} | {c['model']} | {c['best_predicted_cut']} | "
                         f"{c['fastest_measured_cut']} | {'yes' if c['agree'] else 'no'} | {_pct(c['regret'])} |")
    return "\n".join(lines) + "\n"


def scatter(path: Path, rows: list[dict[str, Any]]) -> None:
    """Predicted vs measured end-to-end latency (left) and per component (right), log-log, y = x dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 5))
    cuts = sorted({r["cut"] for r in rows})
    for cut in cuts:
        pts = [(r["measured_latency_s"], r["predicted_latency_s"]) for r in rows if r["cut"] == cut]
        ax.scatter([m * 1e3 for m, _ in pts], [p * 1e3 for _, p in pts], s=10, alpha=0.6, label=f"cut {cut}")
    for name in COMPONENTS[:-1]:
        pts = [(r[f"measured_{name}"], r[f"predicted_{name}"]) for r in rows
               if r.get(f"measured_{name}") not in (None, "") and r[f"measured_{name}"] >= REL_FLOOR_S]
        if pts:
            bx.scatter([m * 1e3 for m, _ in pts], [max(p, 1e-5) * 1e3 for _, p in pts], s=8, alpha=0.5,
                       label=name.removesuffix("_s"))
    for a, title in ((ax, "end to end"), (bx, f"components (measured >= {REL_FLOOR_S * 1e3:g} ms)")):
        a.set_xscale("log")
        a.set_yscale("log")
        lo, hi = a.get_xlim()
        lo2, hi2 = a.get_ylim()
        lim = (min(lo, lo2), max(hi, hi2))
        a.plot(lim, lim, "k--", lw=0.8)
        a.set_xlim(lim)
        a.set_ylim(lim)
        a.set_xlabel("measured (ms)")
        a.set_ylabel("predicted (ms)")
        a.set_title(title)
        a.legend(fontsize=7)
    fig.tight_layout()
    try:
        with open_atomic(path, binary=True) as f:
            fig.savefig(f, format="png", dpi=110)
    finally:
        plt.close(fig)


def write_all(out: Path, result: dict[str, Any], rows: list[dict[str, Any]]) -> list[Path]:
    """Write the four outputs into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "validation.json", out / "validation.md", out / "validation.png", out / "requests.csv"]
    write_json_atomic(paths[0], result)
    write_text_atomic(paths[1], markdown(result))
    scatter(paths[2], rows)
    # the run's keys first, then measured_* and predicted_* side by side per component
    fields = sorted({k for r in rows for k in r}, key=lambda k: (k.startswith(("measured_", "predicted_")),
                                                                 k.split("_", 1)[-1], k))
    with open_atomic(paths[3], newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return paths
