"""Model and device profiles: the measured data every latency in e3gym comes from.

Two kinds of JSON file, kept apart because activation sizes do not depend on hardware:

* a **model file** (``"schema": "e3gym.model/1"``) holds one or more models: name, variant, top-1
  accuracy with its source, input bytes, result bytes and, when known, per-block output bytes,
  FLOPs by layer type and parameter bytes;
* a **device file** (``"schema": "e3gym.device/1"``) holds one device: tier hint, hardware
  fingerprint, power figures, ``provenance`` and, per model, the whole-model latency measured in one
  piece plus (optionally) per-block latencies aligned with the model's blocks.

All quantities are SI (seconds, bytes, watts). Loading validates everything and raises
:class:`ProfileError` naming the file and the field; nothing is executed or unpickled.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from e3gym.errors import E3GymError

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
    """Latency of one measured piece of work: median and spread over ``n`` runs."""

    median_s: float
    p10_s: float
    p90_s: float
    n: int


@dataclass(frozen=True)
class BlockProfile:
    """One block of a model: what it sends onward and how much work it is."""

    name: str
    output_bytes: int
    flops: Mapping[str, float] | None = None  # keys: conv, fc, other
    param_bytes: int | None = None


@dataclass(frozen=True)
class ModelProfile:
    """A model variant: accuracy, sizes and (optionally) its block structure."""

    name: str
    family: str
    variant: Mapping[str, Any]
    top1: float  # fraction in [0, 1]
    top1_source: str
    input_bytes: int
    output_bytes: int
    blocks: tuple[BlockProfile, ...] = ()
    source_file: str = ""

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


@dataclass(frozen=True)
class ModelLatency:
    """A device's latency for one model: whole-model in one piece, and per block when measured."""

    total: LatencyStats
    blocks: tuple[LatencyStats, ...] | None = None


@dataclass(frozen=True)
class DeviceProfile:
    """A device: what it is, where its figures come from, and its latency per model."""

    name: str
    tier: str
    hardware: Mapping[str, Any]
    power: Mapping[str, Any]
    provenance: Mapping[str, Any]
    models: Mapping[str, ModelLatency] = field(default_factory=dict)
    source_file: str = ""

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
class _Reader:
    """Field access that reports the file and the JSON path of whatever is wrong."""

    def __init__(self, file: str):
        self.file = file

    def fail(self, path: str, msg: str) -> ProfileError:
        return ProfileError(f"{self.file}: field {path!r}: {msg}")

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
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(full, f"expected a number, got {value!r}")
            if isinstance(value, int) and abs(value) > 2 ** 63:  # math.isfinite would overflow
                raise self.fail(full, f"{value:.3e} is too large")
            if not math.isfinite(value):
                raise self.fail(full, f"expected a finite number, got {value!r}")
            if kind is int and not float(value).is_integer():
                raise self.fail(full, f"expected an integer, got {value!r}")
            return int(value) if kind is int else float(value)
        if not isinstance(value, kind):
            name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(full, f"expected {name}, got {type(value).__name__}")
        return value

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
    return LatencyStats(med, p10, p90, n)


def parse_models(data: Mapping[str, Any], file: str = "<memory>") -> list[ModelProfile]:
    """Validate a model-file dict and return its models."""
    r = _Reader(file)
    if r.get(data, "schema", "", str) != MODEL_SCHEMA:
        raise r.fail("schema", f"expected {MODEL_SCHEMA!r}, got {data.get('schema')!r}")
    out = []
    for i, m in enumerate(r.get(data, "models", "", list)):
        p = f"models[{i}]"
        name = r.get(m, "name", p, str)
        p = f"models[{i}]({name})"
        acc = r.get(m, "accuracy", p, dict)
        top1 = r.get(acc, "top1", f"{p}.accuracy", float)
        if not 0 <= top1 <= 1:
            raise r.fail(f"{p}.accuracy.top1", f"must be a fraction in [0, 1], got {top1}")
        blocks = []
        for j, b in enumerate(r.get(m, "blocks", p, list, optional=True) or []):
            bp = f"{p}.blocks[{j}]"
            flops = r.get(b, "flops", bp, dict, optional=True)
            if flops is not None:
                unknown = set(flops) - set(FLOP_KINDS)
                if unknown:
                    raise r.fail(f"{bp}.flops", f"unknown kinds {sorted(unknown)}; expected {list(FLOP_KINDS)}")
                flops = {k: r.nonneg(flops, k, f"{bp}.flops") for k in FLOP_KINDS}
            blocks.append(BlockProfile(
                name=r.get(b, "name", bp, str),
                output_bytes=r.size(b, "output_bytes", bp),
                flops=flops,
                param_bytes=r.size(b, "param_bytes", bp, optional=True),
            ))
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
            variant=r.get(m, "variant", p, dict),
            top1=top1,
            top1_source=r.get(acc, "source", f"{p}.accuracy", str),
            input_bytes=r.size(m, "input_bytes", p),
            output_bytes=output_bytes,
            blocks=tuple(blocks),
            source_file=file,
        ))
    return out


def parse_device(data: Mapping[str, Any], file: str = "<memory>") -> DeviceProfile:
    """Validate a device-file dict and return the device."""
    r = _Reader(file)
    if r.get(data, "schema", "", str) != DEVICE_SCHEMA:
        raise r.fail("schema", f"expected {DEVICE_SCHEMA!r}, got {data.get('schema')!r}")
    tier = r.get(data, "tier", "", str)
    if tier not in TIERS:
        raise r.fail("tier", f"expected one of {list(TIERS)}, got {tier!r}")
    prov = r.get(data, "provenance", "", dict)
    method = r.get(prov, "method", "provenance", str)
    if method not in PROVENANCE_METHODS:
        raise r.fail("provenance.method", f"expected one of {list(PROVENANCE_METHODS)}, got {method!r}")
    r.get(prov, "source", "provenance", str)
    power = r.get(data, "power", "", dict)
    for key in ("busy_w", "idle_w"):
        r.nonneg(power, key, "power", optional=True)
    if power.get("busy_w") is not None:
        r.get(power, "source", "power", str)
    models = {}
    for name, entry in r.get(data, "models", "", dict).items():
        p = f"models.{name}"
        blocks = r.get(entry, "blocks", p, list, optional=True)
        models[name] = ModelLatency(
            total=_latency_stats(r, r.get(entry, "total", p, dict), f"{p}.total", total=True),
            blocks=None if blocks is None else tuple(
                _latency_stats(r, b, f"{p}.blocks[{j}]") for j, b in enumerate(blocks)),
        )
        if blocks is not None:
            for j, b in enumerate(blocks):
                r.get(b, "name", f"{p}.blocks[{j}]", str)
    return DeviceProfile(
        name=r.get(data, "name", "", str), tier=tier, hardware=r.get(data, "hardware", "", dict),
        power=power, provenance=prov, models=models, source_file=file,
    )


def check_device_against_models(device: DeviceProfile, models: Mapping[str, ModelProfile],
                                raw: Mapping[str, Any] | None = None) -> None:
    """Check that every per-block latency list lines up with its model's blocks, by count and name."""
    for name, entry in device.models.items():
        model = models.get(name)
        if model is None:
            raise ProfileError(f"{device.source_file}: field 'models.{name}': no model profile named {name!r}")
        if entry.blocks is None:
            continue
        if len(entry.blocks) != len(model.blocks):
            raise ProfileError(
                f"{device.source_file}: field 'models.{name}.blocks': {len(entry.blocks)} block latencies "
                f"but model {name!r} ({model.source_file}) has {len(model.blocks)} blocks")
        if raw is not None:
            got = [b["name"] for b in raw["models"][name]["blocks"]]
            want = [b.name for b in model.blocks]
            if got != want:
                bad = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
                raise ProfileError(
                    f"{device.source_file}: field 'models.{name}.blocks[{bad}].name': "
                    f"{got[bad]!r} does not match model block {want[bad]!r}")


def load_model_file(path: str | Path) -> list[ModelProfile]:
    """Load and validate a model JSON file."""
    path = Path(path)
    return parse_models(_read_json(path), str(path))


def load_device_file(path: str | Path, models: Mapping[str, ModelProfile] | None = None) -> DeviceProfile:
    """Load and validate a device JSON file (and, given the models, its block alignment)."""
    path = Path(path)
    raw = _read_json(path)
    device = parse_device(raw, str(path))
    if models is not None:
        check_device_against_models(device, models, raw)
    return device


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
            raw = _read_json(f)
            device = parse_device(raw, str(f))
            check_device_against_models(device, lib.models, raw)
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
