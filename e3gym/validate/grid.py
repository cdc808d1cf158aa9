"""The validation grid: links x loads x models x cuts, each run measured and predicted, then reported."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from e3gym.errors import E3GymError
from e3gym.validate import report
from e3gym.validate.compare import (
    COMPONENTS,
    REL_FLOOR_S,
    decision_agreement,
    error_stats,
    measured_components,
    predicted_components,
)
from e3gym.validate.models import profile_name, split_model
from e3gym.validate.predict import predict, scenario
from e3gym.validate.profiling import (
    check_models,
    load_library,
    pick_device,
    run_profiler,
)
from e3gym.validate.runner import Session, Settings, arrivals, signals_raise
from e3gym.validate.shaping import LinkSpec


def check_settings(s: Settings) -> dict:
    """Validate the grid before anything starts; returns the split models (for their cuts)."""
    for name, v, low in (("--requests", s.requests, 1), ("--workers", s.workers, 1), ("--users", s.users, 1)):
        if v < low:
            raise E3GymError(f"{name} must be >= {low}, got {v}")
    if not 1 <= s.quality <= 100:
        raise E3GymError(f"--quality must be in 1..100, got {s.quality}")
    if not s.links:
        raise E3GymError("no link to validate: give --rates-mbps and/or --traces")
    for link in s.links:
        if link.trace is None and not (math.isfinite(link.rate_bps) and link.rate_bps >= 0.1e6):
            raise E3GymError(f"--rates-mbps {link.rate_bps / 1e6:g}: a rate must be >= 0.1 Mbps")
        if link.trace is not None:
            link.schedule(1.0)  # a malformed trace fails here, naming the file and line
    if not s.loads or any(not (math.isfinite(x) and x > 0) for x in s.loads):
        raise E3GymError(f"--loads must be positive request rates (requests per second), got {s.loads}")
    if s.rtt_ms is not None and not (math.isfinite(s.rtt_ms) and 0 <= s.rtt_ms <= 2000):
        raise E3GymError(f"--rtt-ms must be in [0, 2000], got {s.rtt_ms}")
    splits = {spec: split_model(spec) for spec in s.models}
    for split in splits.values():
        for cut in s.cuts or []:
            split.check_cut(cut)
    return splits


def run_validation(s: Settings, command: str, profiles: Path | None = None, device_profile: str | None = None,
                   edge_profile: str | None = None, profile_runs: int = 20, console: Any = None) -> dict[str, Any]:
    """Profile (unless ``profiles``), run the grid for real and in the simulator, and write the report."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = console or Console(stderr=True)
    splits = check_settings(s)
    s.out.mkdir(parents=True, exist_ok=True)
    if profiles is None:
        with console.status("profiling the models on this machine (1 thread, pinned)..."):
            profiles = run_profiler(s.models, s.out / "profiles", profile_runs)
    library = load_library(profiles)
    device = pick_device(library, profiles, device_profile)
    edge = edge_profile or device
    check_models(library, device, splits)
    check_models(library, edge, splits)
    cuts = {spec: sorted(set(s.cuts)) if s.cuts else split.default_cuts() for spec, split in splits.items()}

    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    cells: list[dict[str, Any]] = []
    total = len(s.links) * len(s.loads) * sum(len(c) for c in cuts.values())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with signals_raise(), Session(s, log=console.print) as session, Progress(*columns, console=console) as progress:
        task = progress.add_task("validating", total=total)
        for link in s.links:
            for li, load in enumerate(s.loads):
                reqs = arrivals(load, s.requests, s.users, s.seed + li)  # the same for every cut of the cell
                for spec, split in splits.items():
                    cell = {"link": link.label, "load": load, "model": spec, "n_blocks": split.n_blocks, "cuts": {}}
                    for cut in cuts[spec]:
                        progress.update(task, description=f"{link.label}, {load:g} req/s, {spec}, cut {cut}")
                        run_rows = _one_run(session, library, device, edge, link, load, split, cut, reqs)
                        rows.extend(run_rows)
                        runs.append(_run_summary(run_rows, split.n_blocks))
                        cell["cuts"][cut] = (runs[-1]["mean_predicted_ms"] / 1e3, runs[-1]["mean_measured_ms"] / 1e3)
                        progress.advance(task)
                    cells.append(cell)
        mode, mode_note = session.mode, session.mode_note
        rtt_used = _rtt_ms(session)

    per_component = {}
    for name in COMPONENTS:
        pairs = [(r[f"predicted_{name}"], r[f"measured_{name}"]) for r in rows if f"measured_{name}" in r]
        if pairs:
            per_component[name] = error_stats(pairs)
    decisions = decision_agreement(cells)
    e2e = per_component["latency_s"]
    stalls = [r["predicted_tcp_slow_start_s"] for r in rows]
    result = {
        "median_abs_rel_error": e2e["median_abs_rel_error"], "p95_abs_rel_error": e2e["p95_abs_rel_error"],
        "decision_agreement": decisions["decision_agreement"],
        "decision_agreement_offload": decisions["decision_agreement_offload"],
        "per_component": per_component, "rel_error_floor_s": REL_FLOOR_S,
        "predicted_tcp_slow_start_ms_mean": 1e3 * sum(stalls) / max(1, len(stalls)),
        "hardware": report.hardware(), "versions": report.versions(), "command": command, "mode": mode,
        "mode_note": mode_note,
        "settings": {"links": [l.label for l in s.links], "loads": s.loads, "models": s.models, "cuts": cuts,
                     "requests": s.requests, "rtt_ms": rtt_used, "workers": s.workers, "quality": s.quality,
                     "users": s.users, "seed": s.seed, "device_profile": device, "edge_profile": edge,
                     "profiles": str(profiles)},
        "caveats": caveats(mode),
        "runs": runs, "cells": decisions["cells"],
    }
    result = _finite(result)
    report.write_all(s.out, result, rows)
    return result


def _rtt_ms(session: Session) -> float:
    """The RTT the simulator gets: the one added in user space, else the one measured (two machines)."""
    return session.s.rtt_ms if session.s.rtt_ms is not None else 1e3 * (session.rtt_measured_s or 0.0)


def _one_run(session: Session, library: Any, device: str, edge: str, link: LinkSpec, load: float, split: Any,
             cut: int, reqs: list[tuple[int, float, int]]) -> list[dict[str, Any]]:
    """Run one grid point for real and in the simulator; one row per request, measured and predicted."""
    s = session.s
    records = session.run(split.spec, cut, link, reqs)
    data = scenario(device, edge, profile_name(split.spec), link, s.users, _rtt_ms(session), s.workers, s.quality,
                    session.shared_cell)
    # every device process is pinned to the first core (procs.split_cores), in every mode
    outcomes = predict(data, library, reqs, cut, shared_device=True,
                       tcp_sees_rtt=not mode_uses_user_space_delay(session.mode))
    # two machines: the real RTT is inside the uplink and downlink stamps; move it to propagation_s
    hidden = (session.rtt_measured_s or 0.0) if session.mode == "remote" else 0.0
    rows = []
    for rec in records:
        o = outcomes[rec["id"]]
        meas = measured_components(rec, cut, split.n_blocks, hidden)
        row = {"link": link.label, "load": load, "model": split.spec, "cut": cut, "id": rec["id"],
               "user": rec["user"], "arrival_s": rec["arrival"], "bytes_up": rec["bytes_up"],
               "predicted_bytes_up": o.bytes_up}
        row.update({f"measured_{k}": v for k, v in meas.items()})
        row.update({f"predicted_{k}": v for k, v in predicted_components(o, meas).items()})
        row["predicted_tcp_slow_start_s"] = o.tcp_slow_start_s
        rows.append(row)
    return rows


def _run_summary(rows: list[dict[str, Any]], n_blocks: int) -> dict[str, Any]:
    """One run's end-to-end figures (for the runs table and the decisions)."""
    st = error_stats((r["predicted_latency_s"], r["measured_latency_s"]) for r in rows)
    first = rows[0]
    return {"link": first["link"], "load": first["load"], "model": first["model"], "cut": first["cut"],
            "local": first["cut"] >= n_blocks, "n": st["n"], "mean_measured_ms": st["mean_measured_ms"],
            "mean_predicted_ms": st["mean_predicted_ms"], "median_abs_rel_error": st["median_abs_rel_error"],
            "p95_abs_rel_error": st["p95_abs_rel_error"], "bytes_up": _mean(r["bytes_up"] for r in rows),
            "predicted_bytes_up": _mean(r["predicted_bytes_up"] for r in rows)}


def mode_uses_user_space_delay(mode: str) -> bool:
    """Whether the RTT is added by the pipeline itself (one machine), where TCP does not see it."""
    return mode != "remote"


def caveats(mode: str) -> list[str]:
    """What the real set-up does differently from a real deployment, so errors can be read right."""
    out = ["device and edge are the same CPU (device on the first core, edge on the others): offloading only "
           "pays where the edge has more workers or the link is fast; decision_agreement_offload compares the "
           "offloading cuts alone",
           "all device processes share one core: the prediction gives the users one device FIFO too, while the "
           "operating system time-slices them",
           "users sharing the shaped link share it as TCP flows do; the simulator sends one transfer at a time "
           "in issue order",
           "converting the decoded frame to the model's input tensor is measured as part of edge_compute_s; "
           "the simulator has no preprocessing step"]
    if mode_uses_user_space_delay(mode):
        out.insert(0, "propagation delay is added in user space, so TCP does not see the RTT and its window never "
                      "stalls: the prediction is run without slow start, and the TCP model is not exercised here "
                      "(only a run between two machines does)")
    if mode == "netns":
        out.append("tbf lets about one frame through at once on an idle link (burst >= one MTU) and counts "
                   "Ethernet headers (66 B per segment; the simulator counts 52 B)")
    return out


def _mean(values: Any) -> float:
    v = list(values)
    return sum(v) / len(v) if v else math.nan


def _finite(obj: Any) -> Any:
    """NaN/inf become null: the JSON stays strict."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
