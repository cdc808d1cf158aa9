"""``e3gym profiles list|show``: what profiles there are, what they cover and where their figures come from.

``list`` prints every device profile (name, tier, hardware, provenance method, source) and every
model file (how many models, how many with blocks); ``show NAME`` prints one device (models with
their one-piece latency, whether per-block latencies exist, the full provenance) or one model
(its blocks with output bytes, FLOPs and parameter bytes). ``--dir DIR`` adds a folder of your own
profiles (with ``models/`` and ``devices/`` subfolders, as ``e3gym profile --out`` writes); each
folder is loaded on its own, so a folder may redefine a shipped model. ``--json`` prints the same
information as JSON.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from e3gym.errors import E3GymError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands ``list`` and ``show`` of ``e3gym profiles``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (("list", "every device profile and model file"),
                            ("show", "one device or model profile in detail")):
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == "show":
            sp.add_argument("name", help="device or model name (as in `e3gym profiles list`)")
        sp.add_argument("--dir", type=Path, action="append", default=[],
                        help="also read this folder of profiles (models/ and devices/ inside); repeatable")
        sp.add_argument("--json", action="store_true", help="print JSON instead of a table")


def load_roots(dirs: list[Path]) -> list[tuple[str, Any]]:
    """``(label, ProfileLibrary)`` for the shipped profiles and each extra folder."""
    from e3gym.core.profiles import ProfileLibrary, builtin_library

    out = [("builtin", builtin_library())]
    for d in dirs:
        if not (d / "models").is_dir() and not (d / "devices").is_dir():
            raise E3GymError(f"--dir {d}: expected a folder with models/ and/or devices/ subfolders")
        out.append((str(d), ProfileLibrary.from_dirs(d)))
    return out


def hardware_summary(hw: dict[str, Any], short: bool = False) -> str:
    """One line: platform or CPU/GPU, threads, machine (``short``), then framework and dtype."""
    what = str(hw.get("gpu") or hw.get("platform") or hw.get("cpu_model") or hw.get("cpu") or "?")
    if short:
        parts = [what.split(" (")[0].split(",")[0]]
        if hw.get("threads") and not hw.get("gpu"):
            parts.append(f"{hw['threads']} thr")
        return ", ".join(parts + ([str(hw["machine"])] if hw.get("machine") else []))
    parts = [what]
    if hw.get("gpu") and hw.get("cpu_model"):
        parts.append(f"host {hw['cpu_model']}")
    elif hw.get("platform") and hw.get("cpu_model") and hw["cpu_model"] not in str(what):
        parts.append(str(hw["cpu_model"]))
    if hw.get("threads"):
        parts.append(f"{hw['threads']} thread(s)")
    if hw.get("machine"):
        parts.append(str(hw["machine"]))
    if hw.get("framework"):
        parts.append(str(hw["framework"]))
    if hw.get("dtype"):
        parts.append(str(hw["dtype"]))
    return ", ".join(parts)


def device_record(root: str, dev: Any) -> dict[str, Any]:
    """A device profile as plain data for ``list``."""
    with_blocks = sum(1 for e in dev.models.values() if e.blocks is not None)
    return {"name": dev.name, "tier": dev.tier, "hardware": dict(dev.hardware), "hardware_summary":
            hardware_summary(dict(dev.hardware)), "provenance": {"method": dev.provenance.get("method"),
                                                                 "source": dev.provenance.get("source"),
                                                                 "date": dev.provenance.get("date")},
            "n_models": len(dev.models), "n_models_with_blocks": with_blocks, "root": root, "file": dev.source_file}


def model_files(root: str, lib: Any) -> list[dict[str, Any]]:
    """Per model file: how many models, how many partitionable, with FLOPs."""
    files: dict[str, dict[str, Any]] = {}
    for m in lib.models.values():
        f = files.setdefault(m.source_file, {"file": m.source_file, "root": root, "n_models": 0,
                                             "n_with_blocks": 0, "n_with_flops": 0, "models": []})
        f["n_models"] += 1
        f["n_with_blocks"] += m.has_blocks
        f["n_with_flops"] += bool(m.blocks) and all(b.flops is not None for b in m.blocks)
        f["models"].append(m.name)
    return list(files.values())


def _list(roots: list[tuple[str, Any]], as_json: bool) -> int:
    devices = [device_record(label, d) for label, lib in roots for d in lib.devices.values()]
    files = [f for label, lib in roots for f in model_files(label, lib)]
    if as_json:
        print(json.dumps({"devices": devices, "model_files": files}, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    wide = console.width >= 120  # the source column only where it can be read; `show NAME` prints it in full
    table = Table(title="Device profiles", caption="models: how many (how many with per-block latencies)")
    for col in ("name", "tier", "hardware", "method", "models") + (("source",) if wide else ()):
        table.add_column(col, overflow="fold", no_wrap=col not in ("hardware", "source"),
                         min_width=14 if col == "hardware" else None)
    for d in devices:
        source = d["provenance"]["source"] or ""
        row = [d["name"] + ("" if d["root"] == "builtin" else f"\n[dim]{d['root']}[/dim]"), d["tier"],
               hardware_summary(d["hardware"], short=True), d["provenance"]["method"],
               f"{d['n_models']} ({d['n_models_with_blocks']})"]
        table.add_row(*row, *([source if len(source) <= 60 else source[:57] + "..."] if wide else []))
    models = Table(title="Model profiles")
    for col in ("folder", "file", "models", "with blocks", "with FLOPs"):
        models.add_column(col, overflow="fold")
    for f in files:
        models.add_row(f["root"], Path(f["file"]).name, str(f["n_models"]), str(f["n_with_blocks"]),
                       str(f["n_with_flops"]))
    console.print(table)
    console.print(models)
    return 0


def _find(roots: list[tuple[str, Any]], name: str) -> tuple[str, str, Any]:
    """(kind, root, profile) for a device or model name; the last folder given wins over earlier ones."""
    import difflib

    for label, lib in reversed(roots):
        if name in lib.devices:
            return "device", label, lib.devices[name]
        if name in lib.models:
            return "model", label, lib.models[name]
    known = sorted({n for _, lib in roots for n in (*lib.devices, *lib.models)})
    close = difflib.get_close_matches(name, known, n=4, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "run `e3gym profiles list` for the names"
    raise E3GymError(f"no device or model profile named {name!r}: {hint}")


def device_details(dev: Any) -> dict[str, Any]:
    """A device profile with every model's one-piece latency and per-block availability."""
    models = {m: {"total_median_s": e.total.median_s, "total_p10_s": e.total.p10_s, "total_p90_s": e.total.p90_s,
                  "n": e.total.n, "blocks": None if e.blocks is None else len(e.blocks)}
              for m, e in sorted(dev.models.items())}
    return {"kind": "device", "name": dev.name, "tier": dev.tier, "file": dev.source_file,
            "hardware": dict(dev.hardware), "power": dict(dev.power), "provenance": dict(dev.provenance),
            "models": models}


def model_details(m: Any) -> dict[str, Any]:
    """A model profile with its blocks."""
    return {"kind": "model", "name": m.name, "family": m.family, "variant": dict(m.variant), "top1": m.top1,
            "top1_source": m.top1_source, "input_bytes": m.input_bytes, "output_bytes": m.output_bytes,
            "file": m.source_file,
            "blocks": [{"name": b.name, "output_bytes": b.output_bytes,
                        "flops": None if b.flops is None else dict(b.flops), "param_bytes": b.param_bytes}
                       for b in m.blocks]}


def _show(roots: list[tuple[str, Any]], name: str, as_json: bool) -> int:
    kind, _, prof = _find(roots, name)
    details = device_details(prof) if kind == "device" else model_details(prof)
    if as_json:
        print(json.dumps(details, indent=1, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if kind == "device":
        console.print(f"[bold]{prof.name}[/bold]  tier {prof.tier}  ({prof.source_file})")
        console.print(f"hardware: {hardware_summary(dict(prof.hardware))}")
        for key, value in prof.provenance.items():
            console.print(f"provenance.{key}: {value}", highlight=False)
        power = prof.power.get("busy_w")
        console.print(f"power: busy {power} W, idle {prof.power.get('idle_w')} W" if power is not None else
                      "power: no cited figure")
        table = Table(title="Models")
        for col in ("model", "median (ms)", "p10 (ms)", "p90 (ms)", "n", "per-block latency"):
            table.add_column(col, justify="left" if col in ("model", "per-block latency") else "right")
        for m, e in details["models"].items():
            table.add_row(m, f"{e['total_median_s'] * 1e3:.3f}", f"{e['total_p10_s'] * 1e3:.3f}",
                          f"{e['total_p90_s'] * 1e3:.3f}", str(e["n"]),
                          f"{e['blocks']} blocks" if e["blocks"] is not None else "whole model only")
    else:
        console.print(f"[bold]{prof.name}[/bold]  family {prof.family}  variant {dict(prof.variant)}  "
                      f"({prof.source_file})")
        console.print(f"top-1 {prof.top1:.4f} ({prof.top1_source}); input {prof.input_bytes} B, "
                      f"output {prof.output_bytes} B", highlight=False)
        table = Table(title="Blocks" if prof.blocks else "No blocks: whole model only")
        for col in ("block", "output (bytes)", "conv GFLOPs", "fc GFLOPs", "other GFLOPs", "params (bytes)"):
            table.add_column(col, justify="left" if col == "block" else "right")
        for b in prof.blocks:
            fl = b.flops or {}
            g = lambda k: f"{fl[k] / 1e9:.4f}" if k in fl else "-"
            table.add_row(b.name, str(b.output_bytes), g("conv"), g("fc"), g("other"),
                          "-" if b.param_bytes is None else str(b.param_bytes))
    console.print(table)
    return 0


def run(args: argparse.Namespace) -> int:
    """List the profiles or show one."""
    roots = load_roots(args.dir)
    if args.action == "list":
        return _list(roots, args.json)
    return _show(roots, args.name, args.json)
