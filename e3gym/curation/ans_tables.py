"""Build the ANS profiles (models ``ans-vgg16``/``ans-tiny-yolov2``, device ``jetson-tx2-ans``) from the
per-cut tables of Zhang, Chen, Xu, "Autodidactic Neurosurgeon" (WWW 2021).

The tables (``published/ans-jetson-tx2-*.csv`` in the reference data) give, for every cut p of the two
DNNs the ANS code partitions, the work left after p by layer type, the bits of the serialized tensor
sent at p, and the front-end delay measured on an NVIDIA Jetson TX2. They become:

* a **model file** per DNN: one block per ANS layer unit (unit p runs between cuts p and p+1), with
  ``output_bytes`` = bits sent at p+1 / 8, ``flops`` = 2 x MACs (conv, fc) and ops (other) of the unit,
  ``layers`` (the unit's number of conv/fc/other layers, as ANS counts them, which
  :mod:`e3gym.core.cut_tables` reads) and, for VGG16, ``equivalent`` (where each ANS cut falls among
  torchvision's ``vgg16`` blocks, so a measured per-block profile of torchvision's VGG16 on another
  device gives the edge-side compute of each cut);
* a **device file** ``jetson-tx2-ans`` (``provenance.method = "published"``): the all-on-device delay
  as the whole-model total, and the per-cut front-end delays as ``cut_latency_s`` (they are not
  monotone in p, so they cannot be stored as positive per-block latencies).

Regenerate with ``python -m e3gym.curation.ans_tables --published ../shared/reference/published --out profiles``.
Stdlib only.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from e3gym.core.profiles import (
    BlockProfile,
    CutEquivalent,
    DeviceProfile,
    LatencyStats,
    ModelFile,
    ModelLatency,
    ModelProfile,
    ProfileError,
    dump_device_file,
    dump_model_file,
    write_device_file,
    write_model_file,
)
from e3gym.errors import E3GymError

ANS_SOURCE = ("Zhang, Chen, Xu, 'Autodidactic Neurosurgeon: Collaborative Deep Inference for Mobile Edge "
              "Intelligence via Online Learning', WWW 2021 (arXiv 2102.02638); official repository "
              "letian-zhang/ANS, commit 6895eed: client_camera_main.py (per-cut layer counts, MACs, data sizes) "
              "and models/*FrontEndDelay.pkl (front-end delay measured on an NVIDIA Jetson TX2)")
DEVICE_NAME = "jetson-tx2-ans"

# ANS cut p of VGG16 -> torchvision vgg16 cut (number of its top-level blocks run before the cut), read
# off the slices of the ANS code's models/vgg16.py (device side runs features[0:k], then avgpool+flatten,
# then classifier[0:3] / classifier[0:6]). torchvision's blocks: features.0 .. features.30, 'pool'
# (avgpool + flatten), 'classifier' (fc1, ReLU, Dropout, fc2, ReLU, Dropout, fc3). Cuts 20 and 21 fall
# inside the classifier block: the fractional part is the share of the classifier's FC MACs run on the
# device (at batch 1 an FC layer streams each weight once, so its time follows its MACs).
VGG16_TORCHVISION_CUTS = [0, 2, 4, 5, 7, 9, 10, 12, 14, 16, 17, 19, 21, 23, 24, 26, 28, 30, 31, 32, "fc", "fc", 33]

# What comes back from the edge (the model's output), float32.
RESULTS: dict[str, dict[str, Any]] = {
    "vgg16": {"output_bytes": 4000, "note": "1000 ImageNet logits, float32"},
    "tiny-yolov2": {"output_bytes": 425 * 13 * 13 * 4,
                    "note": ("13x13x425 float32 region map; 425 = 5 anchors x (80 COCO classes + 5), the channel count "
                             "implied by the table's last-layer MACs (73548800 = 1024 x 425 x 13 x 13, a 1x1 conv)")},
}

MODELS: dict[str, dict[str, Any]] = {
    "vgg16": {
        "family": "vgg", "variant": {"resolution": 224, "precision": "float32", "width": 1.0},
        "accuracy": {"top1": 0.71592,
                     "source": ("torchvision VGG16_Weights.IMAGENET1K_V1 (vgg16-397923af.pth, the weights the ANS code "
                                "loads), ImageNet-1K acc@1 71.592")},
    },
    "tiny-yolov2": {
        "family": "yolo", "variant": {"resolution": 416, "precision": "float32", "width": 1.0},
        "accuracy": {"top1": 0.571,
                     "source": ("NOT a top-1 accuracy: detection mAP@0.5 of Tiny YOLO (v2) trained on VOC 2007+2012, "
                                "tested on VOC 2007, 57.1, from pjreddie.com/darknet/yolo; the ANS code loads "
                                "yolov2-tiny-voc.weights. The schema has one accuracy field, so the mAP is stored here")},
    },
}

KINDS = ("conv", "fc", "other")


class AnsTableError(E3GymError):
    """An ANS per-cut CSV is malformed; the message names the file, the row and the column."""


def read_table(path: Path) -> list[dict[str, float]]:
    """Rows of an ANS per-cut CSV (comment lines skipped), as numbers; missing fc columns read as 0."""
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    except OSError as err:
        raise AnsTableError(f"{path}: cannot read: {err.strerror}") from None
    rows = []
    reader = csv.DictReader(lines)
    need = {"p", "n_conv_after", "n_other_after", "conv_gmacs_after", "other_mops_after", "feature_mbit",
            "frontend_delay_ms"}
    missing = need - set(reader.fieldnames or [])
    if missing:
        raise AnsTableError(f"{path}: missing column(s) {sorted(missing)}")
    for i, raw in enumerate(reader):
        row = {}
        for key, value in raw.items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                raise AnsTableError(f"{path}: row {i + 1}, column {key!r}: not a number: {value!r}") from None
        row.setdefault("n_fc_after", 0.0)
        row.setdefault("fc_mmacs_after", 0.0)
        if row["p"] != i:
            raise AnsTableError(f"{path}: row {i + 1}: expected p = {i}, got {row['p']:g}")
        rows.append(row)
    if len(rows) < 2:
        raise AnsTableError(f"{path}: need at least two cuts")
    last = rows[-1]
    if any(last[k] != 0 for k in ("n_conv_after", "n_fc_after", "n_other_after", "feature_mbit")):
        raise AnsTableError(f"{path}: the last cut must run everything on the device (no work after it, no bits sent)")
    return rows


def _after(row: dict[str, float]) -> dict[str, float]:
    """Work left after a cut: MACs (conv, fc) and ops (other)."""
    return {"conv": row["conv_gmacs_after"] * 1e9, "fc": row["fc_mmacs_after"] * 1e6, "other": row["other_mops_after"] * 1e6}


def _counts(row: dict[str, float]) -> dict[str, int]:
    return {k: int(row[f"n_{k}_after"]) for k in KINDS}


def build_model(key: str, rows: list[dict[str, float]], csv_name: str) -> ModelProfile:
    """The model profile of one ANS DNN."""
    spec = MODELS[key]
    n_units = len(rows) - 1
    blocks = []
    for p in range(n_units):
        a, b = _after(rows[p]), _after(rows[p + 1])
        ca, cb = _counts(rows[p]), _counts(rows[p + 1])
        work = {k: a[k] - b[k] for k in KINDS}
        layers = {k: ca[k] - cb[k] for k in KINDS}
        if min(work.values()) < 0 or min(layers.values()) < 0:
            raise AnsTableError(f"{csv_name}: work or layer counts increase from cut {p} to {p + 1}")
        out_bits = rows[p + 1]["feature_mbit"] * 1e6 if p + 1 < n_units else RESULTS[key]["output_bytes"] * 8
        blocks.append(BlockProfile(
            name=f"unit{p + 1}",
            output_bytes=int(round(out_bits / 8)),
            # FLOPs = 2 x MACs for conv and fc (the e3gym convention); 'other' stays in ANS's ops.
            flops={"conv": 2 * work["conv"], "fc": 2 * work["fc"], "other": work["other"]},
            layers=layers,
        ))
    return ModelProfile(
        name=f"ans-{key}", family=spec["family"], variant=spec["variant"], top1=spec["accuracy"]["top1"],
        top1_source=spec["accuracy"]["source"],
        input_bytes=int(round(rows[0]["feature_mbit"] * 1e6 / 8)),
        output_bytes=RESULTS[key]["output_bytes"],
        blocks=tuple(blocks),
        note=(f"blocks = the {n_units} layer units between ANS's cuts; input_bytes and block output_bytes are the "
              f"serialized tensors ANS sends (float32 + pickle overhead), from feature_mbit rounded to 1 kbit; "
              f"output_bytes: {RESULTS[key]['note']}; flops: 2 x MACs (conv, fc), ANS's op count (other), "
              f"rounded as in the table (1 MMAC conv, 10 kMAC fc, 10 kop other)"),
        ans={"source": ANS_SOURCE, "table": f"published/{csv_name}", "layers_after_last_cut": _counts(rows[-1])},
        equivalent=vgg16_equivalent(rows) if key == "vgg16" else None,
    )


def vgg16_equivalent(rows: list[dict[str, float]]) -> CutEquivalent:
    """Fractional torchvision-vgg16 cut of every ANS cut (see VGG16_TORCHVISION_CUTS)."""
    fc_total = _after(rows[0])["fc"]
    cuts = []
    for p, c in enumerate(VGG16_TORCHVISION_CUTS):
        cuts.append(c if c != "fc" else 32 + (fc_total - _after(rows[p])["fc"]) / fc_total)
    return CutEquivalent(
        model="vgg16", cut=tuple(cuts),
        note=("torchvision vgg16 cut (blocks run before it) of each ANS cut, from the slices in the ANS code's "
                 "models/vgg16.py; cuts 20 and 21 fall inside torchvision's 'classifier' block, the fraction being "
                 "the share of its FC MACs run on the device. Alignment check: bits sent at every cut equal the "
                 "torchvision activation x 32 within 2 kbit (pickle overhead of ~1.4 kbit and the table's rounding to 1 kbit), except ANS cut 18, whose "
                 "table entry (3.213 Mbit, the 512x14x14 input of the last max-pool) differs from what the code's "
              "cut 18 sends (its 512x7x7 output, 0.803 Mbit); the table's figure is kept"),
    )


def build_device(tables: dict[str, list[dict[str, float]]], csv_names: dict[str, str]) -> DeviceProfile:
    """The ``jetson-tx2-ans`` device."""
    models = {}
    for key, rows in tables.items():
        cut_s = tuple(r["frontend_delay_ms"] / 1000 for r in rows)
        total = cut_s[-1]
        models[f"ans-{key}"] = ModelLatency(total=LatencyStats(total, total, total, 1), cut_latency_s=cut_s)
    return DeviceProfile(
        name=DEVICE_NAME, tier="end",
        hardware={"platform": "NVIDIA Jetson TX2", "gpu": "on-module 256-core NVIDIA Pascal GPU",
                  "framework": "PyTorch with CUDA (the ANS code runs the device part with model.cuda())",
                  "dtype": "float32"},
        power={"busy_w": None, "idle_w": None, "transmit_w": None, "note": "no cited power figure"},
        provenance={
            "method": "published", "source": ANS_SOURCE,
            "statistic": ("one figure per cut, the front-end delay of running ANS layer units [0, p) on the TX2 "
                          "(as stored by the ANS code; the statistic behind it is not stated); the all-on-device "
                          "figure is the whole-model total, with median_s = p10_s = p90_s and n = 1"),
            "reference_files": [f"published/{n}" for n in csv_names.values()],
            "notes": ["cut_latency_s[p]: front-end delay of cut p (p = 0: nothing runs on the device); not "
                      "monotone in p (e.g. VGG16 cut 2: 178.6 ms, cut 3: 150.0 ms), kept as published",
                      "tier 'end' is a hint: an embedded GPU module"],
        },
        models=models,
    )


def build_all(published: str | Path) -> dict[str, ModelFile | DeviceProfile]:
    """Every ANS profile, keyed by its file's path relative to the profiles folder; validated by the writer."""
    published = Path(published)
    csv_names = {key: f"ans-jetson-tx2-{key}.csv" for key in MODELS}
    tables = {key: read_table(published / name) for key, name in csv_names.items()}
    out: dict[str, ModelFile | DeviceProfile] = {}
    for key, rows in tables.items():
        rel = f"models/ans-{key}.json"
        out[rel] = ModelFile(
            models=(build_model(key, rows, csv_names[key]),),
            description=f"ANS's {key} as partitioned by the ANS code, from published/{csv_names[key]}")
        dump_model_file(out[rel], rel)
    rel = f"devices/{DEVICE_NAME}.json"
    out[rel] = build_device(tables, csv_names)
    dump_device_file(out[rel], rel)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: convert the ANS CSVs into profile files."""
    ap = argparse.ArgumentParser(prog="python -m e3gym.curation.ans_tables", description=__doc__.splitlines()[0])
    ap.add_argument("--published", required=True, help="folder holding ans-jetson-tx2-*.csv")
    ap.add_argument("--out", required=True, help="profiles folder to write models/ and devices/ into")
    args = ap.parse_args(argv)
    try:
        files = build_all(args.published)
    except (AnsTableError, ProfileError) as err:
        print(f"error: {err}")
        return 2
    for rel, profile in files.items():
        path = Path(args.out) / rel
        if isinstance(profile, ModelFile):
            write_model_file(path, profile)
        else:
            write_device_file(path, profile)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
