"""Build the shipped profile JSON files from the reference measurements and published figures.

Three kinds of device profile come out of it (see ``profiles/README.md``):

* ``measured``: one reference file made by ``profile_ref.py`` (per-block and one-piece latency of
  torchvision classifiers), converted from milliseconds to seconds and nothing else;
* ``published``: whole-model figures of the transcribed MLPerf tables in ``profiles/sources`` (v5.0
  AWS Graviton TFLite/ArmNN, v2.0 Krai ResNet50 on ARM boards);
* ``calibrated``: a measured per-block profile whose every figure is multiplied, per model, by the
  factor that makes its one-piece median equal a published figure for the target hardware.

Regenerate with ``python -m e3gym.curation.convert --reference ../shared/reference --out profiles``
from the repository root. Per-block ``flops``/``param_bytes`` already in the output's
``models/torchvision.json`` (added by ``python -m e3gym.curation.reference``) are carried over. Stdlib only: no torch.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from e3gym.core.profiles import (
    BlockProfile,
    DeviceProfile,
    LatencyStats,
    ModelFile,
    ModelLatency,
    ModelProfile,
    check_device_against_models,
    dump_device_file,
    dump_model_file,
    read_model_file,
    sig,
    write_device_file,
    write_model_file,
)
from e3gym.errors import E3GymError
from e3gym.profiler.families import family_of

CAMERA_NOTE = ("input_bytes: the camera image as uint8 RGB 3x{r}x{r}, what is uploaded at cut 0; "
               "block output_bytes: float32 activations (4 bytes per element)")

# device name -> (reference file under profiles/, tier hint)
MEASURED: dict[str, tuple[str, str]] = {
    "h100-fp32": ("h100-t16-float32.json", "cloud"),
    "h100-fp16": ("h100-t16-float16.json", "cloud"),
    "h100-fp32-cudagraph": ("h100-t16-float32-graphs.json", "cloud"),
    "h100-fp16-cudagraph": ("h100-t16-float16-graphs.json", "cloud"),
    "xeon-t16": ("devcpu-t16-float32.json", "edge"),
    "xeon-t4": ("devcpu-t4-float32.json", "edge"),
    "xeon-t1": ("devcpu-t1-float32.json", "end"),
    "epyc-t2": ("epyc2-t2-float32.json", "end"),
    "epyc-t1": ("epyc2-t1-float32.json", "end"),
}
TIER_REASONS = {
    "cloud": "datacenter GPU",
    "edge": "multi-core server CPU, the compute an edge server offers one request",
    "end": "one or two cores, the compute class of a user device",
}
H100_POWER = {"busy_w": 700.0, "idle_w": None, "transmit_w": None,
              "source": "NVIDIA H100 Tensor Core GPU datasheet: max thermal design power (TDP) up to 700 W "
                        "for H100 SXM (the 80GB HBM3 part profiled here)",
              "note": "GPU board only, an upper bound: batch-1 inference draws less; host CPU not included"}
NO_POWER = {"busy_w": None, "idle_w": None, "transmit_w": None, "note": "no cited power figure for this CPU"}

# Raspberry Pi 4: MLPerf v2.0 Krai ResNet50 single-stream, the median ("50.00 percentile latency
# (ns) : 329052669") of the official run, since the calibration sets medians.
# Per-model published Raspberry Pi 4 figures (median or per-frame model time, seconds) and where each is from.
RPI4_TUTORIAL = ("PyTorch tutorial 'Real Time Inference on Raspberry Pi 4 and 5' (pytorch/tutorials, "
                 "intermediate_source/realtime_rpi.rst@3c4e4e0): Raspberry Pi 4 Model B 4 GB, 64-bit Raspberry Pi OS, "
                 "4 threads, 224x224, 'model ms/frame' column")
RPI4_MODEL_TARGETS = {
    "resnet18": (0.1003, RPI4_TUTORIAL),
    "resnet50": (0.2252, RPI4_TUTORIAL),
    "shufflenet_v2_x1_0": (0.0377, RPI4_TUTORIAL),
    "mobilenet_v2": (0.0624, "MLPerf Inference v2.0 open, Krai, rpi4-tflite-v2.7.1-ruy, mobilenet-v2-1.0-224 "
                             "non-quantized, SingleStream mlperf_log_summary.txt: p50 62.4 ms (TFLite fp32)"),
}
# The Pi's own run-to-run spread: Krai's ResNet50 log on the same board gives p50 329.05 ms, p90 347.37 ms.
RPI4_P90_OVER_MEDIAN = 347.37 / 329.05
RPI4_TARGETS_S = {m: t for m, (t, _) in RPI4_MODEL_TARGETS.items()}
RPI4_CITATION = ("MLPerf Inference v2.0, Krai submission, closed division (mlcommons/inference_results_v2.0, "
                 "closed/Krai/results/rpi4-armnn-v21.11-neon/resnet50/singlestream/performance/run_1/"
                 "mlperf_log_summary.txt): ResNet50 single-stream on Raspberry Pi 4 Model B Rev 1.4 (4x Cortex-A72 "
                 "@ 1.8 GHz, ArmNN v21.11 NEON), 50.00 percentile latency 329052669 ns = 329.05 ms")
RPI4_LOG_CHECK = ("the same log reports min 319.08 ms, mean 333.39 ms, p90 347.37 ms and early-stopping p90 "
                  "349.11 ms (the published rpi4-cortex-a72-armnn figure, profiles/sources/mlperf2-krai-arm-"
                  "boards.csv); the 312-319 ms range quoted in the reference data README is not in this log "
                  "(its minimum is 319.08 ms) and is not used")
RPI4_POWER = {"busy_w": 6.4, "idle_w": 2.7, "transmit_w": None,
              "source": "RasPi.TV (Alex Eames), 'How much power does Pi4B use? Power Measurements', 2019: "
                        "Raspberry Pi 4 Model B idle 540 mA = 2.7 W, 400% CPU load (stress --cpu 4) "
                        "1280 mA = 6.4 W at 5 V",
              "note": "whole board at launch firmware; later firmware lowered both figures (by roughly 0.5 W "
                      "idle and up to 1 W loaded, The MagPi thermal testing, 2019)"}
# torchvision model <- MLPerf TFLite variant of the same architecture (EfficientNet-Lite is not B0: no match)
M7G_MATCHES = {
    "mobilenet_v2": "mobilenet-v2-precision_float-1.0-224",
    "mobilenet_v3_large": "mobilenet-v3-precision_float-large-224",
    "mobilenet_v3_small": "mobilenet-v3-precision_float-small-224",
}
# EfficientNet-Lite input resolution and width multiplier (tensorflow/tpu EfficientNet-Lite release)
LITE = {0: (224, 1.0), 1: (240, 1.0), 2: (260, 1.1), 3: (280, 1.2), 4: (300, 1.4)}
# torchvision weights whose accuracy was evaluated at another resolution than the profiled 224
NATIVE_EVAL = {"efficientnet_b2": 288}


# --------------------------------------------------------------------------- small helpers
def seconds(ms: float) -> float:
    """Milliseconds to seconds."""
    return sig(ms / 1000.0)


def stats_s(ms: Mapping[str, Any], name: str | None = None) -> LatencyStats:
    """A reference ``{median, p10, p90, n}`` in ms as latency statistics in seconds."""
    return LatencyStats(seconds(ms["median"]), seconds(ms["p10"]), seconds(ms["p90"]), int(ms["n"]), name)


def scaled(st: LatencyStats, factor: float) -> LatencyStats:
    """Latency statistics with every time multiplied by ``factor`` (n and name kept)."""
    return dataclasses.replace(st, median_s=sig(st.median_s * factor), p10_s=sig(st.p10_s * factor),
                               p90_s=sig(st.p90_s * factor))


def load_json(path: Path) -> dict[str, Any]:
    """Read one reference JSON file (``profile_ref.py`` output, not a profile)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- reference (profile_ref.py)
def reference_to_models(ref: Mapping[str, Any]) -> ModelFile:
    """The model file of every model in a ``profile_ref.py`` file (sizes, accuracy, blocks)."""
    tv = str(ref["torchvision"]).split("+")[0]
    res = int(ref.get("input", [3, 224, 224])[-1])
    models = []
    for name, m in ref["models"].items():
        blocks = tuple(BlockProfile(name=b["name"], output_bytes=int(b["out_numel"]) * 4, shape=tuple(b["out_shape"]))
                       for b in m["blocks"])
        note = CAMERA_NOTE.format(r=res)
        if name in NATIVE_EVAL:
            note += (f"; top-1 and meta.gflops are torchvision's figures at the weights' native "
                     f"{NATIVE_EVAL[name]}x{NATIVE_EVAL[name]} evaluation, latency is profiled at {res}x{res}")
        models.append(ModelProfile(
            name=name, family=family_of(name),
            variant={"resolution": res, "precision": "float32", "width": 1.0},
            top1=round(m["acc1"] / 100.0, 6),
            top1_source=f"torchvision {tv} weights metadata (ImageNet-1K acc@1 of the DEFAULT weights)",
            input_bytes=3 * res * res,
            output_bytes=blocks[-1].output_bytes,
            note=note,
            meta={"params": m.get("params"), "gflops": m.get("gflops"),
                  "source": f"torchvision {tv} weights metadata (num_params, _ops)"},
            blocks=blocks,
        ))
    return ModelFile(models=tuple(models),
                     description="torchvision ImageNet classifiers split into their top-level blocks, as timed by "
                                 "profile_ref.py (batch 1, 3x224x224)")


def reference_hardware(ref: Mapping[str, Any]) -> dict[str, Any]:
    """The hardware fingerprint recorded in a reference file."""
    keys = ("cpu_model", "threads", "gpu", "dtype", "torch", "torchvision", "machine")
    return {**{k: ref.get(k) for k in keys}, "cuda_graphs": bool(ref.get("cuda_graphs", False))}


def reference_to_device(ref: Mapping[str, Any], name: str, tier: str, ref_file: str) -> DeviceProfile:
    """A ``measured`` device from one ``profile_ref.py`` file (ms -> s)."""
    gpu = ref.get("device") == "cuda"
    timing = ("each block and the whole model captured in a CUDA graph and replayed" if ref.get("cuda_graphs")
              else "eager PyTorch") + (", CUDA-event timing" if gpu else f", {ref['threads']} CPU thread(s), "
                                       "perf_counter timing")
    where = f"{ref['gpu']} (host {ref['cpu_model']})" if gpu else f"{ref['cpu_model']}, {ref['machine']}"
    notes = [f"tier {tier!r} is a hint: {TIER_REASONS[tier]}"]
    if ref.get("dtype") != "float32":
        notes.append(f"latencies are for the {ref['dtype']} model; the activation sizes in the model file are "
                     "float32 (a float16 activation is half as large)")
    if gpu and not ref.get("cuda_graphs"):
        notes.append("eager batch-1 GPU latency is dominated by kernel launches: per-block sums differ from "
                     "the one-piece figure by 10-30%")
    prov = {"method": "measured",
            "source": (f"e3gym reference data profiles/{ref_file}, made by profile_ref.py per-block timing: "
                       f"torchvision {ref['torchvision']} architectures with random weights, batch 1, 3x224x224, "
                       "each top-level block timed in isolation on the real activation of the block before it, "
                       f"then the whole model in one piece; median/p10/p90 over n runs after warm-up; {timing}; "
                       f"machine: {where}"),
            "date": ref.get("date"), "reference_file": f"profiles/{ref_file}", "notes": notes}
    models = {m: ModelLatency(total=stats_s(e["total_ms"]),
                              blocks=tuple(stats_s(b["latency_ms"], b["name"]) for b in e["blocks"]))
              for m, e in ref["models"].items()}
    return DeviceProfile(name=name, tier=tier, hardware=reference_hardware(ref),
                         power=H100_POWER if gpu else NO_POWER, provenance=prov, models=models)


# --------------------------------------------------------------------------- published tables (profiles/sources)
SOURCES = "profiles/sources"
# the MLPerf v5.0 table whose top-1 is the canonical accuracy of each TFLite variant in the model file
CANONICAL_TABLE = "mlperf5-aws-m7g.2xlarge-tflite.csv"
NOT_CITED_POWER = {"busy_w": None, "idle_w": None, "transmit_w": None, "note": "no cited power figure"}
# AWS instance family -> (tier hint, why); the published Graviton tables span three core generations
AWS_TIER_REASONS = {
    "c6g": ("end", "Graviton2 (Arm Neoverse N1, a Cortex-A76-class core): an ARM Neoverse N1 server instance "
                   "standing in for an ARM end device, as in the TECS 2022 setup of AWS and ARM core "
                   "configurations"),
    "c6gd": ("end", "Graviton2 (Arm Neoverse N1, a Cortex-A76-class core): an ARM Neoverse N1 server instance "
                    "standing in for an ARM end device, as in the TECS 2022 setup of AWS and ARM core "
                    "configurations"),
    "c7g": ("edge", "Graviton3 (Arm Neoverse V1): a current 8-16 vCPU Arm server instance, the compute an "
                    "edge server offers"),
    "m7g": ("edge", "Graviton3 (Arm Neoverse V1): a current 8-vCPU Arm server instance, the compute an edge "
                    "server offers"),
    "m8g": ("cloud", "Graviton4 (Arm Neoverse V2): the newest and fastest Arm server core of the tables, "
                     "datacenter-class"),
}
AWS_FRAMEWORKS = {"tflite": "TFLite", "armnn": "ArmNN"}


def read_mlperf_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The ``#`` header comments and the rows of a transcribed MLPerf table."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    comments = [ln.lstrip("# ").strip() for ln in lines if ln.startswith("#")]
    rows = list(csv.DictReader(ln for ln in lines if ln.strip() and not ln.startswith("#")))
    return comments, rows


def parse_mlperf_name(name: str) -> tuple[str, dict[str, Any], int]:
    """Family, variant and class count of an MLPerf TFLite model name."""
    m = re.fullmatch(r"mobilenet-v([12])-precision_(float|uint8)-([\d.]+)-(\d+)", name)
    if m:  # TF-slim MobileNet v1/v2 have 1001 outputs (class 0 is background)
        prec = "float32" if m[2] == "float" else "uint8"
        return f"mobilenet_v{m[1]}", {"resolution": int(m[4]), "precision": prec, "width": float(m[3])}, 1001
    m = re.fullmatch(r"mobilenet-v3-precision_(float|uint8)-(large|small)(-minimalistic)?-(\d+)", name)
    if m:
        prec = "float32" if m[1] == "float" else "uint8"
        return f"mobilenet_v3_{m[2]}", {"resolution": int(m[4]), "precision": prec, "width": 1.0,
                                        "minimalistic": bool(m[3])}, 1000
    m = re.fullmatch(r"efficientnet-(fp32|int8)-lite(\d)", name)
    if m:
        res, width = LITE[int(m[2])]
        prec = "float32" if m[1] == "fp32" else "int8"
        return "efficientnet_lite", {"resolution": res, "precision": prec, "width": width, "lite": int(m[2])}, 1000
    raise E3GymError(f"unrecognised MLPerf model name {name!r}")


def table_source(comments: list[str], path: Path) -> str:
    """The citation of a transcribed table: its first two header lines and where it is transcribed."""
    return " ".join(comments[:2]) + f" (transcribed in e3gym {SOURCES}/{Path(path).name})"


def top1(row: Mapping[str, str]) -> float:
    """A table's ``accuracy_top1_pct`` as a fraction."""
    return round(float(row["accuracy_top1_pct"]) / 100.0, 6)


def single_figure(ms: float) -> LatencyStats:
    """Whole-model stats from the one published figure: ``median_s = p10_s = p90_s``, ``n = 1``."""
    s = seconds(ms)
    return LatencyStats(s, s, s, 1)


def mlperf_to_models(path: Path) -> ModelFile:
    """The model file of whole-model-only TFLite variants with the canonical table's top-1."""
    comments, rows = read_mlperf_csv(path)
    models = []
    for row in rows:
        family, variant, classes = parse_mlperf_name(row["model"])
        per = 4 if variant["precision"] == "float32" else 1
        note = (f"{CAMERA_NOTE.format(r=variant['resolution']).split(';')[0]}; output_bytes: "
                f"{classes} class scores x {per} byte(s) ({variant['precision']} output tensor)")
        if classes == 1000:
            note += "; the class count (1000, or 1001 with a background class) is assumed, not confirmed"
        models.append(ModelProfile(
            name=row["model"], family=family, variant={**variant, "framework": "tflite"}, top1=top1(row),
            top1_source="ImageNet top-1 measured by the submitter: " + table_source(comments, path),
            input_bytes=3 * variant["resolution"] ** 2, output_bytes=classes * per, note=note,
        ))
    return ModelFile(models=tuple(models),
                     description="TFLite MobileNet v1/v2/v3 and EfficientNet-Lite variants of the MLPerf Inference "
                                 "v5.0 GATEOverflow submission; whole-model only (no blocks)")


def aws_header(comments: list[str], path: Path) -> dict[str, Any]:
    """Instance, CPU, vCPUs, framework and cited source path from an AWS table's ``#`` header."""
    head = re.search(r"platform aws_(\S+) \(AWS (Graviton\d), Arm (Neoverse \w+), (\d+) vCPU\), "
                     r"(TFLite|ArmNN) \(([^)]*)\)", comments[0] if comments else "")
    src = re.search(r"Source: repository (\S+), (\S+)", comments[1] if len(comments) > 1 else "")
    if not head or not src:
        raise E3GymError(f"{path}: header must start with the 'platform aws_<instance> (AWS <GravitonN>, Arm "
                         "<core>, <n> vCPU), <TFLite|ArmNN> (...)' line and the 'Source: repository ..., <path>' line")
    return {"instance": head[1], "cpu_model": f"AWS {head[2]} (Arm {head[3]})", "vcpus": int(head[4]),
            "framework": f"{head[5]} ({head[6]})", "repository": src[1], "path": src[2]}


def aws_table_device(path: Path, canonical: Mapping[str, float]) -> DeviceProfile:
    """A ``published`` whole-model device from one MLPerf v5.0 AWS Graviton table in ``profiles/sources``.

    ``canonical`` maps model -> the top-1 in the model file; where this table's top-1 differs, the
    device's model entry keeps it as ``measured_top1``.
    """
    path = Path(path)
    m = re.fullmatch(r"mlperf5-aws-(([a-z0-9]+)\.[a-z0-9]+)-(tflite|armnn)\.csv", path.name)
    if not m:
        raise E3GymError(f"{path}: expected a file name like mlperf5-aws-<instance>-<tflite|armnn>.csv")
    instance, family, backend = m[1], m[2], m[3]
    if family not in AWS_TIER_REASONS:
        raise E3GymError(f"{path}: no tier hint for instance family {family!r}; known: {sorted(AWS_TIER_REASONS)}")
    tier, why = AWS_TIER_REASONS[family]
    comments, rows = read_mlperf_csv(path)
    head = aws_header(comments, path)
    if head["instance"] != instance or not head["framework"].lower().startswith(backend):
        raise E3GymError(f"{path}: header names {head['instance']} / {head['framework']}, the file name "
                         f"{instance} / {backend}")
    models, differ = {}, []
    for row in rows:
        measured = None
        if row["model"] in canonical and top1(row) != canonical[row["model"]]:
            measured = top1(row)
            differ.append(row["model"])
        models[row["model"]] = ModelLatency(total=single_figure(float(row["latency_p90_ms"])), measured_top1=measured)
    notes = [f"tier {tier!r} is a hint: {why}"]
    if differ:
        notes.append(f"accuracy: the model file keeps the top-1 of {SOURCES}/{CANONICAL_TABLE}; this table measured "
                     f"another top-1 for {len(differ)} variant(s), kept per model as measured_top1")
    prov = {"method": "published", "source": table_source(comments, path),
            "source_repository": head["repository"], "source_path": head["path"],
            "source_file": f"{SOURCES}/{path.name}",
            "statistic": "one figure is published per model, loadgen's single-stream early-stopping 90th-percentile "
                         "estimate; median_s = p10_s = p90_s = that figure and n = 1",
            "date": "2025-04 (MLPerf Inference v5.0 results)", "notes": notes + comments[2:]}
    hardware = {"platform": f"AWS EC2 {instance}", "cpu_model": head["cpu_model"], "vcpus": head["vcpus"],
                "machine": "aarch64", "framework": head["framework"], "dtype": "per model (float32, uint8 or int8)"}
    return DeviceProfile(name=f"aws-{instance}-{backend}", tier=tier, hardware=hardware, power=NOT_CITED_POWER,
                         provenance=prov, models=models)


# platform column of mlperf2-krai-arm-boards.csv -> (device name prefix, key in the row notes, hardware)
KRAI_BOARDS = {
    "rpi4": ("rpi4-cortex-a72", "rpi4", "Raspberry Pi 4 Model B Rev 1.4, 4x Arm Cortex-A72 @ 1.8 GHz"),
    "odroid-n2+": ("odroid-n2plus", "odroid", "Odroid N2+, Amlogic S922X, 4x Cortex-A73 @ 2.2 GHz + 2x Cortex-A53"),
    "xavier-agx-cpu": ("xavier-agx-cpu", "xavier",
                       "NVIDIA Jetson AGX Xavier CPU only, 8x Carmel (ARMv8.2) @ 2.27 GHz, power mode MAXN"),
}
# loadgen statistic in a Krai row note -> key in provenance.log_figures_ms (v2.0 summary and detail log wording)
KRAI_FIGURES = {"early_stopping_p90": r"(?:early-stopping p90|early_stopping_latency_ss) (\d+) ns",
                "p90": r"(?:raw p90|result_90\.00_percentile_latency_ns) (\d+) ns",
                "min": r"\bmin (\d+) ns", "mean": r"\bmean (\d+) ns"}


RPI4_TFLITE_TABLE = "mlperf2-krai-rpi4-tflite.csv"


def rpi4_tflite_device(path: Path, canonical: Mapping[str, float]) -> DeviceProfile:
    """``published`` Raspberry Pi 4 TFLite device: MLPerf v2.0 Krai open-division MobileNet-v1 / EfficientNet-Lite.

    The log gives median, p90 and minimum: ``median_s`` and ``p90_s`` are those, ``p10_s`` holds the
    minimum (a lower bound of the p10, which is not published). Rows without a latency are skipped.
    """
    comments, rows = read_mlperf_csv(path)
    models = {}
    for row in rows:
        if not row["latency_p50_ms"] or row["model"] not in canonical:
            continue
        total = LatencyStats(median_s=seconds(float(row["latency_p50_ms"])), p10_s=seconds(float(row["latency_min_ms"])),
                             p90_s=seconds(float(row["latency_p90_ms"])), n=1)
        differs = row["accuracy_top1_pct"] and top1(row) != canonical[row["model"]]
        models[row["model"]] = ModelLatency(total=total, measured_top1=top1(row) if differs else None)
    prov = {"method": "published", "source": table_source(comments, path), "source_file": f"{SOURCES}/{path.name}",
            "statistic": "loadgen single-stream median (median_s) and 90th percentile (p90_s) of the official run; "
                         "p10_s holds the run's minimum latency, a lower bound of its p10, which is not published",
            "date": "2022-04 (MLPerf Inference v2.0 results)",
            "notes": ["tier 'end' is a hint: a single-board computer",
                      "accuracy: the model file keeps the AWS m7g TFLite table's top-1 for each variant; where the Pi "
                      "run measured another value, the entry holds it as measured_top1"] + comments[2:]}
    return DeviceProfile(name="rpi4-cortex-a72-tflite", tier="end",
                         hardware={"platform": "Raspberry Pi 4 Model B Rev 1.4", "cpu_model": "Broadcom BCM2711, 4x "
                                   "Arm Cortex-A72 @ 1.8 GHz", "machine": "aarch64", "framework": "TFLite v2.7.1 (ruy)",
                                   "dtype": "per model (float32, uint8 or int8)"},
                         power=RPI4_POWER, provenance=prov, models=models)


def krai_row_notes(comments: list[str]) -> dict[str, str]:
    """The ``Row N <board>/<backend>: ...`` header lines, keyed ``<board>/<backend>``."""
    return {m[1]: m[2] for c in comments if (m := re.match(r"Row \d+ (\w+/\w+): (.*)", c))}


def krai_devices(path: Path) -> dict[str, DeviceProfile]:
    """``published`` ResNet50-only end devices from the MLPerf v2.0 Krai ARM board table."""
    path = Path(path)
    comments, rows = read_mlperf_csv(path)
    notes_by_row = krai_row_notes(comments)
    out = {}
    for row in rows:
        if row["platform"] not in KRAI_BOARDS:
            raise E3GymError(f"{path}: unknown platform {row['platform']!r}; known: {sorted(KRAI_BOARDS)}")
        prefix, key, hardware = KRAI_BOARDS[row["platform"]]
        backend = row["backend"].split("-")[0]
        name, detail = f"{prefix}-{backend}", notes_by_row.get(f"{key}/{backend}")
        if detail is None:
            raise E3GymError(f"{path}: no '# Row N {key}/{backend}: ...' header line for the {name} row")
        figures = {k: sig(int(m[1]) / 1e6) for k, rx in KRAI_FIGURES.items() if (m := re.search(rx, detail))}
        if figures.get("early_stopping_p90") != sig(float(row["latency_p90_ms"])):
            raise E3GymError(f"{path}: {name} latency_p90_ms {row['latency_p90_ms']} is not the early-stopping p90 "
                             f"of its header line ({figures.get('early_stopping_p90')} ms)")
        notes = [detail, "the latency is of MLPerf's ResNet50 v1.5, the architecture of torchvision's resnet50; "
                         "the accuracy in the model file is that of torchvision's weights",
                 "tier 'end' is a hint: an ARM single-board computer / embedded module CPU"]
        if row["accuracy_top1_pct"]:
            notes.append("measured_top1: the MLPerf ResNet50 v1.5 weights' top-1 measured by the submitter")
        prov = {"method": "published", "source": table_source(comments, path), "source_file": f"{SOURCES}/{path.name}",
                "log_file": detail.split(":")[0],
                "statistic": "loadgen's single-stream early-stopping 90th-percentile estimate (the v2.0 SingleStream "
                             "result); median_s = p10_s = p90_s = that figure and n = 1; log_figures_ms holds the "
                             "other statistics the table's header gives for this run",
                "log_figures_ms": figures,
                "date": "2022-04 (MLPerf Inference v2.0 results)", "notes": notes}
        entry = ModelLatency(total=single_figure(float(row["latency_p90_ms"])),
                             measured_top1=top1(row) if row["accuracy_top1_pct"] else None)
        out[name] = DeviceProfile(name=name, tier="end",
                                  hardware={"platform": hardware, "machine": "aarch64", "framework": row["backend"],
                                            "dtype": "float32"},
                                  power=NOT_CITED_POWER, provenance=prov, models={"resnet50": entry})
    return out


# --------------------------------------------------------------------------- calibration
def geomean(values: Iterable[float]) -> float:
    """Geometric mean of positive numbers."""
    vals = list(values)
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def calibrate(source: DeviceProfile, targets_s: Mapping[str, float]
              ) -> tuple[dict[str, ModelLatency], dict[str, Any]]:
    """Scale a device's latencies per model so matched one-piece medians equal ``targets_s``.

    Each model's total and blocks (median, p10, p90) are multiplied by one factor, so per-block
    shares stay those of ``source``. Unmatched models get the geometric mean of the matched factors
    (with one matched model, its factor).
    Returns the latency per model and a provenance record of factors, matched and extrapolated models.
    """
    src = source.models
    factors = {m: t / src[m].total.median_s for m, t in targets_s.items()}
    default = geomean(factors.values())
    models = {}
    for m, e in src.items():
        f = factors.get(m, default)
        total = scaled(e.total, f)
        if m in targets_s:  # exact, whatever the rounding of the factor
            total = dataclasses.replace(total, median_s=sig(targets_s[m]))
        models[m] = ModelLatency(total=total, blocks=tuple(scaled(b, f) for b in e.blocks))
    record = {"shape_from": source.name,
              "matched": {m: {"target_s": targets_s[m], "source_s": src[m].total.median_s,
                              "scale": round(factors[m], 6)} for m in targets_s},
              "extrapolated": sorted(set(src) - set(targets_s)),
              "extrapolation_scale": round(default, 6)}
    return models, record


def _with_spread(st: LatencyStats, p90_over_median: float) -> LatencyStats:
    return dataclasses.replace(st, p10_s=sig(st.median_s / p90_over_median), p90_s=sig(st.median_s * p90_over_median))


def rpi4_device(epyc_t1: DeviceProfile) -> DeviceProfile:
    """Raspberry Pi 4 end device: epyc-t1 per-block shape, each model scaled to its own published Pi figure."""
    models, rec = calibrate(epyc_t1, RPI4_TARGETS_S)
    factors = [m["scale"] for m in rec["matched"].values()]
    # the Pi's own spread (log-symmetric around the median), not the EPYC's
    models = {m: ModelLatency(total=_with_spread(e.total, RPI4_P90_OVER_MEDIAN),
                              blocks=tuple(_with_spread(b, RPI4_P90_OVER_MEDIAN) for b in e.blocks))
              for m, e in models.items()}
    prov = {"method": "calibrated",
            "source": (f"per-block shape: {epyc_t1.name} (measured, {epyc_t1.provenance['reference_file']}); "
                       "scale: each matched model's own published Raspberry Pi 4 figure (see 'targets')"),
            "date": epyc_t1.provenance["date"], **rec,
            "targets": {m: {"target_s": t, "source": src} for m, (t, src) in RPI4_MODEL_TARGETS.items()},
            "uncertainty": {m: f"extrapolated with the geometric-mean factor {rec['extrapolation_scale']:.3f}; the "
                               f"matched models' factors span {min(factors):.3f}-{max(factors):.3f}, so this model's "
                               f"latency may be off by {min(factors) / rec['extrapolation_scale'] - 1:+.0%} to "
                               f"{max(factors) / rec['extrapolation_scale'] - 1:+.0%}"
                            for m in rec["extrapolated"]},
            "spread": f"p10/p90 = median /x {RPI4_P90_OVER_MEDIAN:.4f}: the p90/p50 of {RPI4_CITATION}, "
                      "mirrored for p10 (the log gives no p10)",
            "rule": "every latency of a model (total and blocks) is multiplied by its own factor (published / "
                    "epyc-t1 one-piece median) when the Pi figure is published, else by the geometric mean of "
                    "those factors; p10/p90 then follow the Pi's own spread",
            "why_shape": "the single-thread profile times each block's compute without thread-pool overheads; "
                         "the 2-vCPU EPYC VM profile carries threading artefacts (shufflenet_v2 is slower on 2 "
                         "threads than on 1), and the Pi's slow cores are compute-bound, so its block shares "
                         "follow per-block work rather than thread scaling",
            "notes": [RPI4_LOG_CHECK,
                      "the tutorial's mobilenet_v2 and mobilenet_v3_large rows ran qnnpack-quantized weights, so "
                      "they are not used for these float32 models; mobilenet_v2 takes Krai's TFLite fp32 figure",
                      "the tutorial does not state the precision of the other rows; they are taken as float32",
                      "block shares are PyTorch eager on x86, not measurements on the Pi",
                      "tier 'end' is a hint: a single-board computer"]}
    return DeviceProfile(name="rpi4-cortex-a72", tier="end",
                         hardware={"platform": "Raspberry Pi 4 Model B",
                                   "cpu_model": "Broadcom BCM2711, 4x Arm Cortex-A72 @ 1.8 GHz",
                                   "machine": "aarch64", "framework": "PyTorch (tutorial) / TFLite (mobilenet_v2)",
                                   "dtype": "float32"},
                         power=RPI4_POWER, provenance=prov, models=models)


def m7g_device(xeon_t4: DeviceProfile, published: DeviceProfile) -> DeviceProfile:
    """AWS m7g.2xlarge edge server: xeon-t4 per-block shape scaled to the published TFLite figures."""
    targets = {tv: published.models[ml].total.median_s for tv, ml in M7G_MATCHES.items()}
    models, rec = calibrate(xeon_t4, targets)
    prov = {"method": "calibrated",
            "source": (f"per-block shape: {xeon_t4.name} (measured, {xeon_t4.provenance['reference_file']}); "
                       f"scale: {published.provenance['source']}"),
            "date": xeon_t4.provenance["date"], **rec,
            "matched_variants": dict(M7G_MATCHES),
            "rule": "every latency of a model (total and blocks; median, p10, p90) is multiplied by one factor; "
                    "matched models: the published p90 single-stream figure becomes the median; the others use "
                    "the geometric mean of the matched factors. EfficientNet-Lite is not EfficientNet-B0, so no "
                    "EfficientNet is matched",
            "why_shape": "a dedicated multi-core server CPU running 4 threads, closest to an 8-core Graviton3 "
                         "running one single-stream request; the 2-vCPU EPYC VM shows threading artefacts",
            "notes": ["the published figures are TFLite on Arm, the shape PyTorch eager on x86: block shares and "
                      "the extrapolated models are assumptions, not measurements on Graviton3",
                      "using the p90 figure as the median is slightly pessimistic",
                      "tier 'edge' is a hint: an 8-vCPU Arm server instance"]}
    return DeviceProfile(name="aws-m7g.2xlarge-calibrated", tier="edge",
                         hardware={**published.hardware, "dtype": "float32"}, power=NOT_CITED_POWER,
                         provenance=prov, models=models)


# --------------------------------------------------------------------------- everything
def carry_block_costs(model_file: ModelFile, existing: Path) -> ModelFile:
    """``model_file`` with each block's ``flops``/``param_bytes`` taken from ``existing`` (same model and block name).

    These per-block costs are written by ``python -m e3gym.curation.reference``, not by this converter.
    """
    existing = Path(existing)
    if not existing.is_file():
        return model_file
    costs = {(m.name, b.name): b for m in read_model_file(existing).models for b in m.blocks}
    models = []
    for m in model_file.models:
        blocks = []
        for b in m.blocks:
            old = costs.get((m.name, b.name))
            if old is not None:
                b = dataclasses.replace(b, flops=b.flops if old.flops is None else old.flops,
                                        param_bytes=b.param_bytes if old.param_bytes is None else old.param_bytes)
            blocks.append(b)
        models.append(dataclasses.replace(m, blocks=tuple(blocks)))
    return dataclasses.replace(model_file, models=tuple(models))


def build_all(reference: Path, sources: Path = Path(SOURCES), existing: Path | None = None
              ) -> dict[str, ModelFile | DeviceProfile]:
    """Every profile this converter makes, keyed by its path under ``profiles/``, validated against the loader.

    ``reference`` holds the measured per-block profiles, ``sources`` the transcribed published tables;
    ``existing`` is the folder about to be overwritten, whose per-block costs are carried over.
    """
    reference, sources = Path(reference), Path(sources)
    refs = {name: load_json(reference / "profiles" / f) for name, (f, _) in MEASURED.items()}
    torchvision = reference_to_models(refs["h100-fp32"])
    if existing is not None:
        torchvision = carry_block_costs(torchvision, Path(existing) / "models" / "torchvision.json")
    mlperf = mlperf_to_models(sources / CANONICAL_TABLE)
    out: dict[str, ModelFile | DeviceProfile] = {"models/torchvision.json": torchvision,
                                                 "models/mlperf-tflite.json": mlperf}
    devices = {name: reference_to_device(refs[name], name, tier, f) for name, (f, tier) in MEASURED.items()}
    canonical = {m.name: m.top1 for m in mlperf.models}
    tables = sorted(sources.glob("mlperf5-aws-*.csv"))
    if not tables:
        raise E3GymError(f"sources {sources}: no mlperf5-aws-*.csv tables found")
    for path in tables:
        device = aws_table_device(path, canonical)
        devices[device.name] = device
    devices.update(krai_devices(sources / "mlperf2-krai-arm-boards.csv"))
    devices["rpi4-cortex-a72-tflite"] = rpi4_tflite_device(sources / RPI4_TFLITE_TABLE, canonical)
    devices["rpi4-cortex-a72"] = rpi4_device(devices["epyc-t1"])
    devices["aws-m7g.2xlarge-calibrated"] = m7g_device(devices["xeon-t4"], devices["aws-m7g.2xlarge-tflite"])
    out.update({f"devices/{name}.json": d for name, d in devices.items()})
    check_consistent(refs, out)
    return out


def check_consistent(refs: Mapping[str, Mapping[str, Any]], files: Mapping[str, ModelFile | DeviceProfile]) -> None:
    """Fail unless all reference files share block structure and every built file passes the loader."""
    structure = lambda r: {m: [(b["name"], b["out_numel"]) for b in e["blocks"]] for m, e in r["models"].items()}
    first = next(iter(refs.values()))
    for name, r in refs.items():
        if structure(r) != structure(first):
            raise E3GymError(f"reference for {name!r} has other blocks or activation sizes than the others")
    models = {}
    for f, d in files.items():
        if isinstance(d, ModelFile):
            dump_model_file(d, f)
            models.update({m.name: dataclasses.replace(m, source_file=f) for m in d.models})
    for f, d in files.items():
        if isinstance(d, DeviceProfile):
            dump_device_file(d, f)
            check_device_against_models(dataclasses.replace(d, source_file=f), models)


def main(argv: list[str] | None = None) -> int:
    """Command line: convert the reference folder into ``models/`` and ``devices/`` JSON files."""
    ap = argparse.ArgumentParser(prog="python -m e3gym.curation.convert", description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, default=Path("../shared/reference"),
                    help="folder with the measured profiles/ (default: ../shared/reference, from the repo root)")
    ap.add_argument("--sources", type=Path, default=Path(SOURCES),
                    help=f"folder of transcribed published tables (default: {SOURCES})")
    ap.add_argument("--out", type=Path, default=Path("profiles"),
                    help="folder to write models/ and devices/ into; other files there are left alone "
                         "(default: profiles)")
    a = ap.parse_args(argv)
    for rel, profile in build_all(a.reference, a.sources, existing=a.out).items():
        if isinstance(profile, ModelFile):
            write_model_file(a.out / rel, profile)
        else:
            write_device_file(a.out / rel, profile)
        print(a.out / rel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
