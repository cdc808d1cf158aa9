"""Per-cut tables of one DNN split between an end device and an edge server (the ANS setting).

A :class:`CutTable` holds, for every cut p = 0 .. L (blocks ``[0, p)`` on the device, the rest on the
edge; p = L runs everything on the device):

* the 7-d context of Zhang, Chen, Xu (WWW 2021) describing the edge part, in raw units:
  ``[conv MACs after p, #conv after p, fc MACs after p, #fc after p, other ops after p, #other after p,
  bits sent at p]`` (zero for p = L);
* the front-end (device) delay of p, from a measured or published table;
* the edge compute of the blocks after p at nominal load, from a measured per-block device profile,
  and the log-normal spread of that profile (for run-to-run noise).

Sources, in order of preference:

* **ANS models** (``ans-vgg16``, ``ans-tiny-yolov2``): contexts and layer counts as ANS counted them
  (the blocks' ``layers``), front-end delays from ``jetson-tx2-ans``'s ``cut_latency_s``. Edge
  compute: a device profile with per-block latencies for the ANS model itself (a user's measurement),
  else, for VGG16, a profile of torchvision's ``vgg16`` mapped through the model's ``equivalent``
  cuts. Tiny-YOLOv2 has no measured edge profile here: pass your own.
* **any other model** with per-block FLOPs by type: MACs = FLOPs / 2 for conv and fc, ops for other;
  the layer counts are the numbers of *blocks* after p doing work of that type (the profiles do not
  count layers inside a block). Front-end and edge from the two devices' per-block latencies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from e3gym.core.profiles import (
    FLOP_KINDS,
    DeviceProfile,
    ModelProfile,
    ProfileError,
    ProfileLibrary,
    builtin_library,
    load_device_file,
)
from e3gym.errors import E3GymError

CONTEXT_FEATURES = ("conv_macs", "n_conv", "fc_macs", "n_fc", "other_ops", "n_other", "bits")


@dataclass(frozen=True)
class CutTable:
    """Everything about the cuts of one model on one (end device, edge device) pair."""

    model: str
    contexts: np.ndarray  # (n_cuts, 7), raw units, see CONTEXT_FEATURES
    frontend_s: np.ndarray  # (n_cuts,) device-side delay of each cut
    edge_s: np.ndarray  # (n_cuts,) edge compute of each cut at nominal load (0 for the last cut)
    edge_sigma: float  # log-normal sigma of the edge compute's run-to-run variation
    result_bytes: int  # what the edge sends back
    end_device: str
    edge_device: str
    notes: tuple[str, ...] = field(default=())

    @property
    def n_cuts(self) -> int:
        """Number of cuts (blocks + 1)."""
        return len(self.frontend_s)

    @property
    def local_cut(self) -> int:
        """The cut that runs everything on the device."""
        return self.n_cuts - 1

    @property
    def bits(self) -> np.ndarray:
        """Bits uploaded at each cut."""
        return self.contexts[:, 6]


def _device(spec: str | Path | DeviceProfile, lib: ProfileLibrary, what: str) -> DeviceProfile:
    if isinstance(spec, DeviceProfile):
        return spec
    if isinstance(spec, Path) or str(spec).endswith(".json"):
        return load_device_file(spec, lib.models)
    if not isinstance(spec, str):
        raise E3GymError(f"{what} must be a device name, a device JSON path or a DeviceProfile, got {spec!r}")
    return lib.device(spec)


def contexts_of(model: ModelProfile) -> np.ndarray:
    """The raw 7-d context of every cut of ``model`` (needs per-block FLOPs by type)."""
    missing = [b.name for b in model.blocks if b.flops is None]
    if not model.has_blocks or missing:
        raise ProfileError(
            f"model {model.name!r} ({model.source_file or 'in memory'}) has no per-block FLOPs by layer type "
            f"({'no blocks' if not model.has_blocks else 'missing in blocks ' + ', '.join(missing[:3])}); the per-cut "
            f"context needs them: measure the model with `e3gym profile` (which counts FLOPs per block) or use an "
            f"ANS model (ans-vgg16, ans-tiny-yolov2)")
    n = len(model.blocks)
    work = np.array([[b.flops[k] for k in FLOP_KINDS] for b in model.blocks])
    work[:, :2] /= 2.0  # FLOPs -> MACs for conv and fc
    if all(b.layers is not None for b in model.blocks):
        counts = np.array([[float(b.layers[k]) for k in FLOP_KINDS] for b in model.blocks])
    else:  # no layer counts in the profile: count blocks doing work of each type
        counts = (work > 0).astype(float)
    after_work = np.cumsum(work[::-1], axis=0)[::-1]
    after_counts = np.cumsum(counts[::-1], axis=0)[::-1]
    ctx = np.zeros((n + 1, 7))
    ctx[:n, 0], ctx[:n, 1] = after_work[:, 0], after_counts[:, 0]
    ctx[:n, 2], ctx[:n, 3] = after_work[:, 1], after_counts[:, 1]
    ctx[:n, 4], ctx[:n, 5] = after_work[:, 2], after_counts[:, 2]
    ctx[:n, 6] = np.array(model.cut_bytes(), dtype=float) * 8
    return ctx


def frontend_of(model: ModelProfile, device: DeviceProfile) -> np.ndarray:
    """Device-side delay of every cut: the device's per-cut table if it has one, else per-block prefix sums."""
    entry = device.models.get(model.name)
    table = None if entry is None else entry.cut_latency_s  # values checked on load, the count here
    if table is not None:
        if len(table) != model.n_blocks + 1:
            raise ProfileError(f"{device.source_file or 'in memory'}: field 'models.{model.name}.cut_latency_s': "
                               f"{len(table)} values, expected {model.n_blocks + 1} (one per cut)")
        return np.array(table, dtype=float)
    return np.concatenate([[0.0], np.cumsum(device.block_latencies_s(model))])


def _suffix(blocks: np.ndarray, cut: float) -> float:
    """Latency of the blocks after a (possibly fractional) cut."""
    i = int(math.floor(cut))
    if i >= len(blocks):
        return 0.0
    return float(blocks[i] * (1.0 - (cut - i)) + blocks[i + 1:].sum())


def edge_of(model: ModelProfile, device: DeviceProfile, lib: ProfileLibrary) -> tuple[np.ndarray, float, str]:
    """Edge compute of every cut at nominal load, its log-normal spread, and where it comes from."""
    entry = device.models.get(model.name)
    if entry is not None and entry.blocks is not None:
        blocks = np.array(device.block_latencies_s(model))
        return (np.array([_suffix(blocks, c) for c in range(model.n_blocks + 1)]), device.spread(model.name),
                f"per-block latencies of {model.name} on {device.name}")
    equivalent = model.equivalent
    if equivalent is not None:
        other = lib.model(equivalent.model)
        cuts = equivalent.cut
        if max(cuts) > other.n_blocks:
            raise ProfileError(f"{model.source_file or 'in memory'}: field 'models({model.name}).equivalent.cut': "
                               f"cut {max(cuts):g} is beyond the {other.n_blocks} blocks of {other.name!r}")
        if other.name in device.models and device.models[other.name].blocks is not None:
            blocks = np.array(device.block_latencies_s(other))
            return (np.array([_suffix(blocks, c) for c in cuts]), device.spread(other.name),
                    f"per-block latencies of {other.name} on {device.name}, at the cuts equivalent to {model.name}'s")
    raise ProfileError(
        f"no edge-side latency for model {model.name!r} on device {device.name!r}: it needs per-block latencies "
        f"of {model.name!r} ({model.n_blocks} blocks, aligned with the model file {model.source_file})"
        + (f" or of {equivalent.model!r}" if equivalent else "")
        + ". No measured edge profile ships for it; pass your own device profile (a JSON path or DeviceProfile) "
          "as the edge device")


def cut_table(model: str, end_device: str | Path | DeviceProfile, edge_device: str | Path | DeviceProfile,
              library: ProfileLibrary | None = None) -> CutTable:
    """Build the per-cut table of ``model`` on the given end and edge devices."""
    lib = library or builtin_library()
    m = lib.model(model)
    end = _device(end_device, lib, "end_device")
    edge = _device(edge_device, lib, "edge_device")
    contexts = contexts_of(m)
    frontend = frontend_of(m, end)
    edge_s, sigma, source = edge_of(m, edge, lib)
    return CutTable(model=m.name, contexts=contexts, frontend_s=frontend, edge_s=edge_s, edge_sigma=sigma,
                    result_bytes=m.output_bytes, end_device=end.name, edge_device=edge.name,
                    notes=(f"front-end: {end.name} ({end.provenance.get('method')})",
                           f"edge compute: {source} ({edge.provenance.get('method')})"))
