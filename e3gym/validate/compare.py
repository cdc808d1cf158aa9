"""Measured against predicted: per-request components, error statistics, decision agreement.

The components compared (seconds), each measured on the side that observes it:

* ``local_queue_s``: arrival to the device starting the request (device);
* ``local_compute_s`` (cut > 0) or ``encode_s`` (cut 0): the device's work, including serializing
  the activation (device);
* ``uplink_s``: ready to send until the server has the last byte, i.e. waiting for the link and
  sending; the simulator's ``uplink_queue_s + uplink_s + tcp_slow_start_s`` (device, server);
* ``edge_queue_s``: the request at the server (after its propagation delay) to a worker starting it;
* ``decode_s`` (cut 0): JPEG decode and the conversion to the model's input tensor (server);
* ``edge_compute_s``: blocks ``[cut, L)`` and the top-5 (server);
* ``downlink_s``: result ready until its last byte is at the device (server, device);
* ``propagation_s``: the two user-space delays (one RTT);
* ``latency_s``: arrival to the result in the device's hands (device).

Relative errors ``|predicted - measured| / measured`` are taken where the measured value is at
least :data:`REL_FLOOR_S` (below it, scheduling jitter of microseconds would dominate); absolute
errors are reported for every sample.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from e3gym.core.cluster import Outcome

COMPONENTS = ("local_queue_s", "local_compute_s", "encode_s", "uplink_s", "edge_queue_s", "decode_s",
              "edge_compute_s", "downlink_s", "propagation_s", "latency_s")
REL_FLOOR_S = 1e-3


def measured_components(rec: dict[str, Any], cut: int, n_blocks: int, hidden_rtt_s: float = 0.0) -> dict[str, float]:
    """The components of one measured request (those that apply to its cut).

    ``hidden_rtt_s``: a real network's RTT that the uplink and downlink stamps include (two
    machines, no user-space delay); half of it is moved from each to ``propagation_s``.
    """
    out = {"local_queue_s": rec["start"] - rec["arrival"],
           ("encode_s" if cut == 0 else "local_compute_s"): rec["ready"] - rec["start"]}
    if cut >= n_blocks:
        out["latency_s"] = rec["delivered"] - rec["arrival"]
        return out
    s = rec["server"]
    out.update(uplink_s=s["recv_done"] - rec["ready"] - hidden_rtt_s / 2,
               edge_queue_s=s["start"] - s["delivered"],
               edge_compute_s=s["computed"] - s["decoded"],
               downlink_s=rec["recv_done"] - s["computed"] - hidden_rtt_s / 2,
               propagation_s=(s["delivered"] - s["recv_done"]) + (rec["delivered"] - rec["recv_done"]) + hidden_rtt_s,
               latency_s=rec["delivered"] - rec["arrival"])
    if cut == 0:
        out["decode_s"] = s["decoded"] - s["start"]
    return out


def predicted_components(o: Outcome, measured: dict[str, float]) -> dict[str, float]:
    """The simulator's figures for the components ``measured`` has."""
    p = {"local_queue_s": o.local_queue_s, "local_compute_s": o.local_compute_s, "encode_s": o.encode_s,
         "uplink_s": o.uplink_queue_s + o.uplink_s + o.tcp_slow_start_s, "edge_queue_s": o.edge_queue_s,
         "decode_s": o.decode_s, "edge_compute_s": o.edge_compute_s, "downlink_s": o.downlink_s,
         "propagation_s": o.propagation_s, "latency_s": o.latency_s}
    return {k: p[k] for k in measured}


def _q(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def error_stats(pairs: Iterable[tuple[float, float]]) -> dict[str, Any]:
    """Median and p95 of the absolute relative (and absolute) error over ``(predicted, measured)`` pairs."""
    pairs = [(p, m) for p, m in pairs if math.isfinite(p) and math.isfinite(m)]
    abs_err = [abs(p - m) for p, m in pairs]
    rel = [abs(p - m) / m for p, m in pairs if m >= REL_FLOOR_S]
    ms = lambda v: None if v is None else v * 1e3
    return {"median_abs_rel_error": _q(rel, 50), "p95_abs_rel_error": _q(rel, 95),
            "median_abs_error_ms": ms(_q(abs_err, 50)), "p95_abs_error_ms": ms(_q(abs_err, 95)),
            "mean_measured_ms": ms(float(np.mean([m for _, m in pairs]))) if pairs else None,
            "mean_predicted_ms": ms(float(np.mean([p for p, _ in pairs]))) if pairs else None,
            "n": len(pairs), "n_rel": len(rel)}


def decision_agreement(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Per grid cell, is the cut with the lowest mean predicted latency the fastest measured one?

    ``cells``: ``{"cuts": {cut: (mean_predicted_s, mean_measured_s)}, "n_blocks": L, ...}``. Also over
    the offloading cuts only (cut < L), since on one machine the device is as fast as the edge.
    """
    def pick(cuts: dict[int, tuple[float, float]]) -> tuple[int, int] | None:
        if len(cuts) < 2:
            return None
        best_pred = min(cuts, key=lambda c: (cuts[c][0], c))
        best_meas = min(cuts, key=lambda c: (cuts[c][1], c))
        return best_pred, best_meas

    rows, agree, agree_off, n_off = [], 0, 0, 0
    for cell in cells:
        cuts = cell["cuts"]
        both = pick(cuts)
        off = pick({c: v for c, v in cuts.items() if c < cell["n_blocks"]})
        row = {k: v for k, v in cell.items() if k != "cuts"}
        row["mean_ms"] = {str(c): {"predicted": 1e3 * p, "measured": 1e3 * m} for c, (p, m) in sorted(cuts.items())}
        if both:
            bp, bm = both
            agree += bp == bm
            row.update(best_predicted_cut=bp, fastest_measured_cut=bm, agree=bp == bm,
                       regret=cuts[bp][1] / cuts[bm][1] - 1.0)
        if off:
            n_off += 1
            agree_off += off[0] == off[1]
            row.update(best_predicted_offload_cut=off[0], fastest_measured_offload_cut=off[1])
        rows.append(row)
    n = sum(1 for c in cells if pick(c["cuts"]))
    return {"decision_agreement": agree / n if n else None,
            "decision_agreement_offload": agree_off / n_off if n_off else None, "cells": rows}
