"""Model and device profiles: the measured data every latency in e3gym comes from.

Two kinds of JSON file, kept apart because activation sizes do not depend on hardware:

* a **model file** (``"schema": "e3gym.model/1"``) holds one or more models: name, variant, top-1
  accuracy with its source, input bytes, result bytes and, when known, per-block output bytes,
  FLOPs by layer type and parameter bytes;
* a **device file** (``"schema": "e3gym.device/1"``) holds one device: tier hint, hardware
  fingerprint, power figures, ``provenance`` and, per model, the whole-model latency measured in one
  piece plus (optionally) per-block latencies aligned with the model's blocks.

All quantities are SI (seconds, bytes, watts). Loading validates everything and raises
:class:`ProfileError` naming the file and the field; an unknown key is refused with a close-match
suggestion, and nothing is executed or unpickled.

This module is also the one writer of these files: every dataclass has ``to_dict()``, and
:func:`dump_model_file` / :func:`dump_device_file` give the text in the one layout the shipped files
use (one line per innermost record, a latency or a block, so diffs stay readable), checked by the
loader before it is returned. Loading a file and dumping it again gives the same bytes.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from e3gym.errors import E3GymError, did_you_mean
from e3gym.files import write_text_atomic

MODEL_SCHEMA = "e3gym.model/1"
DEVICE_SCHEMA = "e3gym.device/1"
TIERS = ("end", "edge", "cloud")
PROVENANCE_METHODS = ("measured", "published", "calibrated")
FLOP_KINDS = ("conv", "fc", "other")
# Magnitudes no inference profile reaches; beyond them a typo, not a device, is speaking.
MAX_LATENCY_S = 3600.0
# p90 / p10 of a one-piece total, which sets the run-to-run noise (sigma <= 3.6); block spreads are
# not used for noise, and a block timed a couple of times cold can honestly be 100x apart.
MAX_SPREAD = 1e4
MAX_BYTES = 2 ** 40


class ProfileError(E3GymError):
    """A profile file (or profile lookup) is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class LatencyStats:
    """Latency of one measured piece of work: median and spread over ``n`` runs.

    ``name`` is the block's name in a device's per-block list (None for a whole-model total).
    """

    median_s: float
    p10_s: float
    p90_s: float
    n: int
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of these statistics."""
        named = {} if self.name is None else {"name": self.name}
        return {**named, "median_s": float(self.median_s), "p10_s": float(self.p10_s), "p90_s": float(self.p90_s),
                "n": int(self.n)}


@dataclass(frozen=True)
class BlockProfile:
    """One block of a model: what it sends onward and how much work it is."""

    name: str
    output_bytes: int
    flops: Mapping[str, float] | None = None  # keys: conv, fc, other
    param_bytes: int | None = None
    shape: tuple[int, ...] | None = None  # the output tensor's shape, batch included (documentation only)
    layers: Mapping[str, int] | None = None  # layers of each kind (conv, fc, other), as a published partition counts

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this block."""
        out: dict[str, Any] = {"name": self.name, "output_bytes": int(self.output_bytes)}
        if self.shape is not None:
            out["shape"] = [int(d) for d in self.shape]
        if self.flops is not None:
            out["flops"] = {k: float(self.flops[k]) for k in FLOP_KINDS}
        if self.param_bytes is not None:
            out["param_bytes"] = int(self.param_bytes)
        if self.layers is not None:
            out["layers"] = {k: int(self.layers[k]) for k in FLOP_KINDS}
        return out


@dataclass(frozen=True)
class CutEquivalent:
    """Where each cut of a model falls among another model's blocks.

    ``cut[p]`` is the number of ``model``'s blocks run before this model's cut p; a fractional part
    is the share of the next block run before it. The other model's per-block latencies then stand
    in for this model's on a device that has no profile of its own for it.
    """

    model: str
    cut: tuple[float, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this mapping (whole cuts stay integers)."""
        out: dict[str, Any] = {"model": self.model, "cut": list(self.cut)}
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class ModelProfile:
    """A model variant: accuracy, sizes and (optionally) its block structure.

    ``note``, ``meta``, ``partition`` and ``ans`` document how the figures were made and are never
    interpreted; ``equivalent`` maps its cuts onto another model's blocks (see :class:`CutEquivalent`).
    """

    name: str
    family: str
    variant: Mapping[str, Any]
    top1: float  # fraction in [0, 1]
    top1_source: str
    input_bytes: int
    output_bytes: int
    blocks: tuple[BlockProfile, ...] = ()
    source_file: str = ""
    note: str | None = None
    meta: Mapping[str, Any] | None = None
    partition: Mapping[str, Any] | None = None
    ans: Mapping[str, Any] | None = None
    equivalent: CutEquivalent | None = None

    @property
    def has_blocks(self) -> bool:
        """True when per-block data exists, i.e. the model can be partitioned."""
        return len(self.blocks) > 0

    @property
    def n_blocks(self) -> int:
        """Number of partitionable units; a whole-model-only profile counts as one block."""
        return max(1, len(self.blocks))

    def cut_bytes(self) -> tuple[int, ...]:
        """Bytes that cross the network at each cut 0..n_blocks-1 (cut 0 sends the input)."""
        return (self.input_bytes,) + tuple(b.output_bytes for b in self.blocks[:-1])

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this model, as an entry of a model file's ``models`` list."""
        out: dict[str, Any] = {"name": self.name, "family": self.family, "variant": dict(self.variant),
                               "accuracy": {"top1": float(self.top1), "source": self.top1_source},
                               "input_bytes": int(self.input_bytes), "output_bytes": int(self.output_bytes)}
        for key in ("note", "meta", "partition"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.blocks:
            out["blocks"] = [b.to_dict() for b in self.blocks]
        if self.ans is not None:
            out["ans"] = self.ans
        if self.equivalent is not None:
            out["equivalent"] = self.equivalent.to_dict()
        return out


@dataclass(frozen=True)
class ModelFile:
    """A model file as a whole: its models, what it holds and, when a tool wrote it, how it was made."""

    models: tuple[ModelProfile, ...]
    description: str | None = None
    generated: Mapping[str, Any] | None = None  # e.g. {"by": "e3gym profile", "date": ..., "torch": ...}

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the file."""
        out: dict[str, Any] = {"schema": MODEL_SCHEMA}
        if self.description is not None:
            out["description"] = self.description
        if self.generated is not None:
            out["generated"] = self.generated
        out["models"] = [m.to_dict() for m in self.models]
        return out


@dataclass(frozen=True)
class ModelLatency:
    """A device's latency for one model: whole-model in one piece, and per block when measured.

    ``cut_latency_s`` holds a published device-side delay per cut (0 .. n_blocks) where it cannot be
    stored as positive per-block latencies (such tables need not be monotone in the cut);
    ``measured_top1`` keeps the accuracy a source measured on this device when it differs from the
    model file's (documentation only).
    """

    total: LatencyStats
    blocks: tuple[LatencyStats, ...] | None = None
    cut_latency_s: tuple[float, ...] | None = None
    measured_top1: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this entry of a device file's ``models``."""
        out: dict[str, Any] = {"total": self.total.to_dict()}
        if self.blocks is not None:
            out["blocks"] = [b.to_dict() for b in self.blocks]
        if self.cut_latency_s is not None:
            out["cut_latency_s"] = [float(v) for v in self.cut_latency_s]
        if self.measured_top1 is not None:
            out["measured_top1"] = float(self.measured_top1)
        return out


@dataclass(frozen=True)
class DeviceProfile:
    """A device: what it is, where its figures come from, and its latency per model (a whole device file)."""

    name: str
    tier: str
    hardware: Mapping[str, Any]
    power: Mapping[str, Any]
    provenance: Mapping[str, Any]
    models: Mapping[str, ModelLatency] = field(default_factory=dict)
    source_file: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the device file."""
        return {"schema": DEVICE_SCHEMA, "name": self.name, "tier": self.tier, "hardware": dict(self.hardware),
                "power": dict(self.power), "provenance": dict(self.provenance),
                "models": {name: entry.to_dict() for name, entry in self.models.items()}}

    @property
    def busy_power_w(self) -> float | None:
        """Power drawn while computing, or None when no cited figure exists."""
        return self.power.get("busy_w")

    @property
    def idle_power_w(self) -> float | None:
        """Power drawn while idle (waiting for a result), or None when no cited figure exists."""
        return self.power.get("idle_w")

    def latency(self, model: str) -> ModelLatency:
        """The latency entry of ``model``; ProfileError when this device has none."""
        try:
            return self.models[model]
        except KeyError:
            raise ProfileError(
                f"device profile {self.name!r} ({self.source_file or 'in memory'}) has no latency for "
                f"model {model!r}; it has: {', '.join(sorted(self.models)) or 'none'}"
            ) from None

    def block_latencies_s(self, model: ModelProfile) -> tuple[float, ...]:
        """Median latency of each block, scaled so the blocks add up to the one-piece total.

        Blocks timed in isolation carry launch and cache overheads that a model run in one piece
        does not (10-30% on an eager GPU), so the measured per-block medians give the *shape* and
        the one-piece median gives the *scale*. Whole-model-only profiles yield one block.
        """
        entry = self.latency(model.name)
        total = entry.total.median_s
        if not model.has_blocks:
            return (total,)
        if entry.blocks is None:
            raise ProfileError(
                f"device profile {self.name!r} ({self.source_file or 'in memory'}) has only a whole-model "
                f"latency for {model.name!r} (provenance {self.provenance.get('method')!r}); partitioning "
                f"needs per-block latencies: use whole-model decisions (cut 0 or all blocks) for it"
            )
        raw = [b.median_s for b in entry.blocks]
        scale = total / sum(raw)
        return tuple(r * scale for r in raw)

    def spread(self, model: str) -> float:
        """Log-normal sigma of run-to-run variation, from the one-piece p10/p90 (z(0.9) = 1.2816)."""
        t = self.latency(model).total
        if t.p10_s <= 0 or t.p90_s <= t.p10_s:
            return 0.0
        return math.log(t.p90_s / t.p10_s) / (2 * 1.2815515655446004)


# --------------------------------------------------------------------------- validation helpers
# The keys each object of the schema may hold; anything else is refused (a typo would be ignored).
MODEL_FILE_KEYS = ("schema", "description", "generated", "models")
MODEL_KEYS = ("name", "family", "variant", "accuracy", "input_bytes", "output_bytes", "note", "meta", "partition",
              "blocks", "ans", "equivalent")
ACCURACY_KEYS = ("top1", "source")
BLOCK_KEYS = ("name", "output_bytes", "shape", "flops", "param_bytes", "layers")
EQUIVALENT_KEYS = ("model", "cut", "note")
DEVICE_KEYS = ("schema", "name", "tier", "hardware", "power", "provenance", "models")
ENTRY_KEYS = ("total", "blocks", "cut_latency_s", "measured_top1")
STATS_KEYS = ("median_s", "p10_s", "p90_s", "n")


class _Reader:
    """Field access that reports the file and the JSON path of whatever is wrong."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, path: str, msg: str) -> ProfileError:
        return ProfileError(f"{self.file}: field {path!r}: {msg}")

    def keys(self, obj: Any, allowed: Iterable[str], path: str) -> None:
        """Refuse a key of ``obj`` that the schema does not have, suggesting the closest one."""
        if not isinstance(obj, Mapping):
            raise self.fail(path or "(top level)", f"expected an object, got {type(obj).__name__}")
        for key in obj:
            if key not in allowed:
                raise self.fail(f"{path}.{key}" if path else str(key),
                                f"unknown key{did_you_mean(key, allowed)}; expected one of {list(allowed)}")

    def get(self, obj: Mapping[str, Any], key: str, path: str, kind: type | tuple, optional: bool = False):
        if not isinstance(obj, Mapping):
            raise self.fail(path, f"expected an object, got {type(obj).__name__}")
        if key not in obj or obj[key] is None:
            if optional:
                return None
            raise self.fail(f"{path}.{key}" if path else key, "missing")
        value = obj[key]
        full = f"{path}.{key}" if path else key
        if kind in (float, int) or kind == (int, float):
            return self.number(value, full, kind)
        if not isinstance(value, kind):
            name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(full, f"expected {name}, got {type(value).__name__}")
        return value

    def number(self, value: Any, full: str, kind: type | tuple = float) -> Any:
        """A finite number; ``kind`` float converts, int requires an integral value, (int, float) keeps it."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(full, f"expected a number, got {value!r}")
        if isinstance(value, int) and abs(value) > 2 ** 63:  # math.isfinite would overflow
            raise self.fail(full, f"{value:.3e} is too large")
        if not math.isfinite(value):
            raise self.fail(full, f"expected a finite number, got {value!r}")
        if kind is int and not float(value).is_integer():
            raise self.fail(full, f"expected an integer, got {value!r}")
        return int(value) if kind is int else float(value) if kind is float else value

    def nonneg(self, obj, key, path, kind=float, optional=False):
        v = self.get(obj, key, path, kind, optional)
        if v is not None and v < 0:
            raise self.fail(f"{path}.{key}" if path else key, f"must be >= 0, got {v!r}")
        return v

    def size(self, obj, key, path, optional=False):
        """A byte count: an integer in [0, MAX_BYTES]."""
        v = self.nonneg(obj, key, path, int, optional)
        if v is not None and v > MAX_BYTES:
            raise self.fail(f"{path}.{key}", f"{v!r} bytes is over {MAX_BYTES} (1 TiB)")
        return v

    def fraction(self, obj, key, path, optional=False):
        """A fraction in [0, 1] (an accuracy)."""
        v = self.get(obj, key, path, float, optional)
        if v is not None and not 0 <= v <= 1:
            raise self.fail(f"{path}.{key}", f"must be a fraction in [0, 1], got {v}")
        return v

    def numbers(self, obj, key, path, high: float | None, kind: type | tuple = float, optional=False):
        """A non-empty list of finite numbers in [0, high] (``high`` None: no upper bound)."""
        items = self.get(obj, key, path, list, optional)
        if items is None:
            return None
        full = f"{path}.{key}"
        if not items:
            raise self.fail(full, "must not be empty")
        out = tuple(self.number(v, f"{full}[{i}]", kind) for i, v in enumerate(items))
        bad = next((i for i, v in enumerate(out) if v < 0 or (high is not None and v > high)), None)
        if bad is not None:
            raise self.fail(f"{full}[{bad}]", f"must be >= 0{'' if high is None else f' and <= {high:g}'}, "
                                              f"got {out[bad]!r}")
        return out

    def free(self, obj, key, path, optional=False):
        """A free-form object (documentation such as ``hardware`` or ``meta``): any JSON, but finite numbers.

        Python's JSON reader accepts NaN and Infinity, which are not JSON: the writer could not write them back.
        """
        value = self.get(obj, key, path, dict, optional)
        stack = [(f"{path}.{key}" if path else key, value)]
        while stack:
            where, v = stack.pop()
            if isinstance(v, float) and not math.isfinite(v):
                raise self.fail(where, f"expected a finite number, got {v!r}")
            if isinstance(v, Mapping):
                stack.extend((f"{where}.{k}", x) for k, x in v.items())
            elif isinstance(v, list):
                stack.extend((f"{where}[{i}]", x) for i, x in enumerate(v))
        return value

    def kinds(self, obj, key, path, kind: type = float):
        """An object with one number >= 0 per FLOP kind (conv, fc, other), or None when absent."""
        value = self.get(obj, key, path, dict, optional=True)
        if value is None:
            return None
        full = f"{path}.{key}"
        self.keys(value, FLOP_KINDS, full)
        return {k: self.nonneg(value, k, full, kind) for k in FLOP_KINDS}


def _read_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(f"{path}: cannot read profile: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not valid JSON: not a UTF-8 text file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProfileError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a JSON object at the top level")
    return data


def _latency_stats(r: _Reader, obj: Any, path: str, total: bool = False) -> LatencyStats:
    """A total (``total=True``, no name) or a named per-block latency."""
    r.keys(obj, STATS_KEYS if total else ("name",) + STATS_KEYS, path)
    name = None if total else r.get(obj, "name", path, str)
    med = r.nonneg(obj, "median_s", path)
    p10 = r.nonneg(obj, "p10_s", path)
    p90 = r.nonneg(obj, "p90_s", path)
    n = r.nonneg(obj, "n", path, int)
    if not 0 < med <= MAX_LATENCY_S:
        raise r.fail(f"{path}.median_s", f"must be in (0, {MAX_LATENCY_S:g}] s, got {med!r}")
    if not p10 <= med <= p90:
        raise r.fail(f"{path}.p10_s", f"expected p10_s <= median_s <= p90_s, got {p10}, {med}, {p90}")
    if p90 > MAX_LATENCY_S:
        raise r.fail(f"{path}.p90_s", f"must be <= {MAX_LATENCY_S:g} s, got {p90!r}")
    if total and p10 > 0 and p90 > MAX_SPREAD * p10:
        raise r.fail(f"{path}.p90_s", f"{p90!r} s is over {MAX_SPREAD:g}x p10_s ({p10!r} s)")
    return LatencyStats(med, p10, p90, n, name)


def _block(r: _Reader, b: Any, bp: str) -> BlockProfile:
    r.keys(b, BLOCK_KEYS, bp)
    shape = r.get(b, "shape", bp, list, optional=True)
    if shape is not None:
        shape = tuple(r.number(d, f"{bp}.shape[{i}]", int) for i, d in enumerate(shape))
        if any(d < 0 for d in shape):
            raise r.fail(f"{bp}.shape", f"dimensions must be >= 0, got {list(shape)}")
    return BlockProfile(
        name=r.get(b, "name", bp, str),
        output_bytes=r.size(b, "output_bytes", bp),
        flops=r.kinds(b, "flops", bp),
        param_bytes=r.size(b, "param_bytes", bp, optional=True),
        shape=shape,
        layers=r.kinds(b, "layers", bp, int),
    )


def _equivalent(r: _Reader, m: Mapping[str, Any], p: str, n_cuts: int) -> CutEquivalent | None:
    eq = r.get(m, "equivalent", p, dict, optional=True)
    if eq is None:
        return None
    ep = f"{p}.equivalent"
    r.keys(eq, EQUIVALENT_KEYS, ep)
    cut = r.numbers(eq, "cut", ep, None, kind=(int, float))  # whole cuts stay integers; bounded where used
    if len(cut) != n_cuts:
        raise r.fail(f"{ep}.cut", f"{len(cut)} cuts, expected {n_cuts} (one per cut of this model)")
    return CutEquivalent(model=r.get(eq, "model", ep, str), cut=cut, note=r.get(eq, "note", ep, str, optional=True))


def parse_model_file(data: Mapping[str, Any], file: str = "<memory>") -> ModelFile:
    """Validate a model-file dict and return the whole file."""
    r = _Reader(file)
    r.keys(data, MODEL_FILE_KEYS, "")
    if r.get(data, "schema", "", str) != MODEL_SCHEMA:
        raise r.fail("schema", f"expected {MODEL_SCHEMA!r}, got {data.get('schema')!r}")
    out = []
    for i, m in enumerate(r.get(data, "models", "", list)):
        p = f"models[{i}]"
        name = r.get(m, "name", p, str)
        p = f"models[{i}]({name})"
        r.keys(m, MODEL_KEYS, p)
        acc = r.get(m, "accuracy", p, dict)
        r.keys(acc, ACCURACY_KEYS, f"{p}.accuracy")
        blocks = [_block(r, b, f"{p}.blocks[{j}]")
                  for j, b in enumerate(r.get(m, "blocks", p, list, optional=True) or [])]
        names = [b.name for b in blocks]
        if len(set(names)) != len(names):
            raise r.fail(f"{p}.blocks", "block names must be unique")
        output_bytes = r.size(m, "output_bytes", p, optional=True)
        if output_bytes is None:
            if not blocks:
                raise r.fail(f"{p}.output_bytes", "missing (required when there are no blocks)")
            output_bytes = blocks[-1].output_bytes
        out.append(ModelProfile(
            name=name,
            family=r.get(m, "family", p, str),
            variant=r.free(m, "variant", p),
            top1=r.fraction(acc, "top1", f"{p}.accuracy"),
            top1_source=r.get(acc, "source", f"{p}.accuracy", str),
            input_bytes=r.size(m, "input_bytes", p),
            output_bytes=output_bytes,
            blocks=tuple(blocks),
            source_file=file,
            note=r.get(m, "note", p, str, optional=True),
            meta=r.free(m, "meta", p, optional=True),
            partition=r.free(m, "partition", p, optional=True),
            ans=r.free(m, "ans", p, optional=True),
            equivalent=_equivalent(r, m, p, max(1, len(blocks)) + 1),
        ))
    return ModelFile(models=tuple(out), description=r.get(data, "description", "", str, optional=True),
                     generated=r.free(data, "generated", "", optional=True))


def parse_models(data: Mapping[str, Any], file: str = "<memory>") -> list[ModelProfile]:
    """Validate a model-file dict and return its models."""
    return list(parse_model_file(data, file).models)


def parse_device(data: Mapping[str, Any], file: str = "<memory>") -> DeviceProfile:
    """Validate a device-file dict and return the device."""
    r = _Reader(file)
    r.keys(data, DEVICE_KEYS, "")
    if r.get(data, "schema", "", str) != DEVICE_SCHEMA:
        raise r.fail("schema", f"expected {DEVICE_SCHEMA!r}, got {data.get('schema')!r}")
    tier = r.get(data, "tier", "", str)
    if tier not in TIERS:
        raise r.fail("tier", f"expected one of {list(TIERS)}, got {tier!r}")
    prov = r.free(data, "provenance", "")
    method = r.get(prov, "method", "provenance", str)
    if method not in PROVENANCE_METHODS:
        raise r.fail("provenance.method", f"expected one of {list(PROVENANCE_METHODS)}, got {method!r}")
    r.get(prov, "source", "provenance", str)
    power = r.free(data, "power", "")
    for key in ("busy_w", "idle_w"):
        r.nonneg(power, key, "power", optional=True)
    if power.get("busy_w") is not None:
        r.get(power, "source", "power", str)
    models = {}
    for name, entry in r.get(data, "models", "", dict).items():
        p = f"models.{name}"
        r.keys(entry, ENTRY_KEYS, p)
        blocks = r.get(entry, "blocks", p, list, optional=True)
        models[name] = ModelLatency(
            total=_latency_stats(r, r.get(entry, "total", p, dict), f"{p}.total", total=True),
            blocks=None if blocks is None else tuple(
                _latency_stats(r, b, f"{p}.blocks[{j}]") for j, b in enumerate(blocks)),
            cut_latency_s=r.numbers(entry, "cut_latency_s", p, MAX_LATENCY_S, optional=True),
            measured_top1=r.fraction(entry, "measured_top1", p, optional=True),
        )
    return DeviceProfile(
        name=r.get(data, "name", "", str), tier=tier, hardware=r.free(data, "hardware", ""),
        power=power, provenance=prov, models=models, source_file=file,
    )


def check_device_against_models(device: DeviceProfile, models: Mapping[str, ModelProfile]) -> None:
    """Check that every per-block list (latencies by count and name, per-cut delays by count) lines up with its model."""
    for name, entry in device.models.items():
        model = models.get(name)
        if model is None:
            raise ProfileError(f"{device.source_file}: field 'models.{name}': no model profile named {name!r}")
        if entry.cut_latency_s is not None and len(entry.cut_latency_s) != model.n_blocks + 1:
            raise ProfileError(
                f"{device.source_file}: field 'models.{name}.cut_latency_s': {len(entry.cut_latency_s)} values "
                f"but model {name!r} ({model.source_file}) has {model.n_blocks + 1} cuts (one value per cut)")
        if entry.blocks is None:
            continue
        if len(entry.blocks) != len(model.blocks):
            raise ProfileError(
                f"{device.source_file}: field 'models.{name}.blocks': {len(entry.blocks)} block latencies "
                f"but model {name!r} ({model.source_file}) has {len(model.blocks)} blocks")
        got = [b.name for b in entry.blocks]
        want = [b.name for b in model.blocks]
        if got != want:
            bad = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
            raise ProfileError(
                f"{device.source_file}: field 'models.{name}.blocks[{bad}].name': "
                f"{got[bad]!r} does not match model block {want[bad]!r}")


def read_model_file(path: str | Path) -> ModelFile:
    """Load and validate a model JSON file as a whole (description and generation record included)."""
    path = Path(path)
    return parse_model_file(_read_json(path), str(path))


def load_model_file(path: str | Path) -> list[ModelProfile]:
    """Load and validate a model JSON file."""
    return list(read_model_file(path).models)


def load_device_file(path: str | Path, models: Mapping[str, ModelProfile] | None = None) -> DeviceProfile:
    """Load and validate a device JSON file (and, given the models, its block alignment)."""
    path = Path(path)
    device = parse_device(_read_json(path), str(path))
    if models is not None:
        check_device_against_models(device, models)
    return device


# --------------------------------------------------------------------------- the writer
def sig(x: float) -> float:
    """``x`` rounded to 10 significant digits: how figures are stored (far below timing noise, short files)."""
    return float(f"{x:.10g}")


def _flat(v: Any) -> bool:
    """True for a scalar or a list of scalars."""
    items = v if isinstance(v, list) else [] if not isinstance(v, dict) else [v]
    return not any(isinstance(x, (dict, list)) for x in items)


def _layout(obj: Any, indent: int = 0) -> str:
    """JSON with one line per innermost record (a latency, a block), readable in diffs."""
    if _flat(obj) or (isinstance(obj, dict) and all(_flat(v) for v in obj.values())):
        return json.dumps(obj, allow_nan=False)
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        body = [f"{inner}{json.dumps(k)}: {_layout(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(body) + f"\n{pad}}}"
    return "[\n" + ",\n".join(f"{inner}{_layout(v, indent + 1)}" for v in obj) + f"\n{pad}]"


def dump_model_file(model_file: ModelFile, file: str = "<memory>") -> str:
    """The text of a model file in the shipped layout; ProfileError (naming ``file``) if the loader would refuse it."""
    text = _layout(model_file.to_dict()) + "\n"
    parse_model_file(json.loads(text), file)  # the writer never writes what the reader refuses
    return text


def dump_device_file(device: DeviceProfile, file: str = "<memory>") -> str:
    """The text of a device file in the shipped layout; ProfileError (naming ``file``) if the loader would refuse it."""
    text = _layout(device.to_dict()) + "\n"
    parse_device(json.loads(text), file)
    return text


def write_model_file(path: str | Path, model_file: ModelFile) -> None:
    """Write a model file atomically (validated first, see :func:`dump_model_file`)."""
    write_text_atomic(path, dump_model_file(model_file, str(path)))


def write_device_file(path: str | Path, device: DeviceProfile) -> None:
    """Write a device file atomically (validated first, see :func:`dump_device_file`)."""
    write_text_atomic(path, dump_device_file(device, str(path)))


# --------------------------------------------------------------------------- the library
class ProfileLibrary:
    """A set of model and device profiles that belong together, looked up by name."""

    def __init__(self, models: Iterable[ModelProfile], devices: Iterable[DeviceProfile]):
        self.models: dict[str, ModelProfile] = {}
        for m in models:
            if m.name in self.models:
                raise ProfileError(f"{m.source_file}: model {m.name!r} is also defined in "
                                   f"{self.models[m.name].source_file}")
            self.models[m.name] = m
        self.devices: dict[str, DeviceProfile] = {}
        for d in devices:
            if d.name in self.devices:
                raise ProfileError(f"{d.source_file}: device {d.name!r} is also defined in "
                                   f"{self.devices[d.name].source_file}")
            self.devices[d.name] = d

    @classmethod
    def from_dirs(cls, *roots: str | Path) -> "ProfileLibrary":
        """Load every ``models/*.json`` and ``devices/*.json`` under the given folders."""
        models: list[ModelProfile] = []
        raw_devices = []
        for root in roots:
            root = Path(root)
            for f in sorted((root / "models").glob("*.json")):
                models.extend(load_model_file(f))
            for f in sorted((root / "devices").glob("*.json")):
                raw_devices.append(f)
        lib = cls(models, [])
        for f in raw_devices:
            device = parse_device(_read_json(f), str(f))
            check_device_against_models(device, lib.models)
            if device.name in lib.devices:
                raise ProfileError(f"{f}: device {device.name!r} is also defined in "
                                   f"{lib.devices[device.name].source_file}")
            lib.devices[device.name] = device
        return lib

    def model(self, name: str) -> ModelProfile:
        """The model profile called ``name``."""
        try:
            return self.models[name]
        except KeyError:
            raise ProfileError(f"no model profile named {name!r}; known: {', '.join(sorted(self.models))}") from None

    def device(self, name: str) -> DeviceProfile:
        """The device profile called ``name``."""
        try:
            return self.devices[name]
        except KeyError:
            raise ProfileError(f"no device profile named {name!r}; known: {', '.join(sorted(self.devices))}") from None


def builtin_profile_dir() -> Path:
    """Folder of the profiles shipped with e3gym."""
    return Path(str(resources.files("e3gym.profiles")))


_BUILTIN: ProfileLibrary | None = None


def builtin_library() -> ProfileLibrary:
    """The shipped profiles, loaded and validated once per process."""
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = ProfileLibrary.from_dirs(builtin_profile_dir())
    return _BUILTIN
