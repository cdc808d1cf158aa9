"""What crosses a link: the encoded camera frame, activations at a cut, and the result sent back.

* **Cut 0** sends the camera frame. By default it is a JPEG (``input = "jpeg"``): its size comes
  from a measured model, ``bytes = header_bytes(q) + bytes_per_pixel(q) * pixels``, fitted per
  quality over natural photographs (``profiles/codecs/jpeg.json``, made by
  ``benchmarks/measure_jpeg.py``; linear in quality between the measured points). The device pays
  the encode time and the server the decode time, both from the same file: measured on x86 and
  scaled per platform by cited decode rates. ``input = "raw"`` uploads the uint8 RGB array (the
  model's ``input_bytes``) with no codec time, as e3gym v0 did.
* **Cuts inside the model** send the activation of the block before the cut: float32 (the model
  profile's ``output_bytes``) or, with ``activations = "int8"``, a quarter of it at the accuracy
  cost :data:`INT8_TOP1_COST` cites for that model (models without a cited cost refuse int8).
* **The result** is ``logits`` (the model's output tensor), ``top5`` (five int64 class indices and
  five float32 scores, what ``torch.topk`` returns: 60 B) or ``label`` (one int64: 8 B).

Sizes are application bytes; :func:`wire_bytes` adds the TCP/IP headers of each segment.
"""
from __future__ import annotations

import fnmatch
import json
import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from e3gym.core.profiles import DeviceProfile, ModelProfile, ProfileError
from e3gym.errors import E3GymError

CODEC_SCHEMA = "e3gym.codec/1"
INPUT_KINDS = ("jpeg", "raw")
ACTIVATION_KINDS = ("float32", "int8")
RESULT_KINDS = ("logits", "top5", "label")
RESULT_BYTES = {"top5": 5 * 8 + 5 * 4, "label": 8}  # int64 indices + float32 scores, as torch.topk returns

# TCP over IPv4 with the timestamp option (Linux default): 20 B IP + 20 B TCP + 12 B options per
# segment (RFC 791, RFC 9293, RFC 7323); MSS 1448 B on a 1500 B MTU.
MSS_BYTES = 1448
HEADER_BYTES_PER_SEGMENT = 52

# Top-1 cost (fraction) of running a model with int8 activations: float top-1 minus the int8
# post-training-quantized top-1 that torchvision publishes for the same architecture (weights and
# every activation int8, fbgemm; torchvision.models.quantization weight metadata). Quantizing the
# whole network is an upper bound on quantizing the one activation sent at the cut.
INT8_SOURCE = "torchvision model metadata: IMAGENET1K_V1 float vs IMAGENET1K_FBGEMM_V1 quantized acc@1"
INT8_TOP1_COST: dict[str, float] = {
    "resnet18": (69.758 - 69.494) / 100,
    "resnet50": (76.130 - 75.920) / 100,
    "mobilenet_v2": (71.878 - 71.658) / 100,
    "mobilenet_v3_large": (74.042 - 73.004) / 100,
    "shufflenet_v2_x1_0": (69.362 - 68.360) / 100,
}


def wire_bytes(n_bytes: int) -> int:
    """Bytes on the wire for ``n_bytes`` of payload: each MSS-sized segment carries TCP/IP headers."""
    if n_bytes <= 0:
        return 0
    return n_bytes + math.ceil(n_bytes / MSS_BYTES) * HEADER_BYTES_PER_SEGMENT


def segments(n_bytes: int) -> int:
    """TCP segments needed for ``n_bytes`` of payload."""
    return max(1, math.ceil(n_bytes / MSS_BYTES))


@dataclass(frozen=True)
class CodecTimes:
    """Encode/decode time of a frame on one platform: ``fixed_s + s_per_pixel * pixels`` (x86) x factor."""

    encode_fixed_s: float
    encode_s_per_pixel: float
    decode_fixed_s: float
    decode_s_per_pixel: float
    factor: float

    def encode_s(self, pixels: int) -> float:
        return max(0.0, self.encode_fixed_s + self.encode_s_per_pixel * pixels) * self.factor

    def decode_s(self, pixels: int) -> float:
        return max(0.0, self.decode_fixed_s + self.decode_s_per_pixel * pixels) * self.factor


class JpegModel:
    """Measured JPEG frame size by resolution and quality, and codec time per platform."""

    def __init__(self, data: Mapping[str, Any], file: str = "<memory>"):
        self.file = file
        if data.get("schema") != CODEC_SCHEMA:
            raise ProfileError(f"{file}: field 'schema': expected {CODEC_SCHEMA!r}, got {data.get('schema')!r}")
        try:
            fit = sorted(data["size_fit"], key=lambda r: r["quality"])
            self._q = [float(r["quality"]) for r in fit]
            self._header = [float(r["header_bytes"]) for r in fit]
            self._bpp = [float(r["bytes_per_pixel"]) for r in fit]
            times = {int(r["quality"]): r for r in data["time_fit"]}
            self._times = {q: tuple(float(r[k]) for k in ("encode_fixed_s", "encode_s_per_pixel",
                                                           "decode_fixed_s", "decode_s_per_pixel"))
                           for q, r in times.items()}
            self._factors = [(list(f["match"]), float(f["factor"])) for f in data["platforms"]["factors"]]
            self._fallback = {k: float(v) for k, v in data["platforms"]["fallback_by_machine"].items()}
        except (KeyError, TypeError, ValueError) as err:
            raise ProfileError(f"{file}: malformed codec file ({type(err).__name__}: {err})") from None
        if len(self._q) < 2 or any(b <= 0 for b in self._bpp) or not self._times:
            raise ProfileError(f"{file}: field 'size_fit': need >= 2 qualities with positive bytes_per_pixel")
        self.provenance = dict(data.get("provenance", {}))

    def size_bytes(self, resolution: int, quality: int) -> int:
        """Expected JPEG size of a ``resolution`` x ``resolution`` frame at ``quality`` (1-100)."""
        q = float(quality)
        i = min(max(bisect_right(self._q, q) - 1, 0), len(self._q) - 2)
        w = (q - self._q[i]) / (self._q[i + 1] - self._q[i])  # below the lowest point: extrapolated linearly
        header = self._header[i] + w * (self._header[i + 1] - self._header[i])
        bpp = self._bpp[i] + w * (self._bpp[i + 1] - self._bpp[i])
        return max(1, round(header + bpp * resolution * resolution))

    def factor(self, device: DeviceProfile) -> float:
        """Codec time multiplier of ``device`` relative to the measured x86 figures."""
        for patterns, factor in self._factors:
            if any(fnmatch.fnmatch(device.name, p) for p in patterns):
                return factor
        machine = str(device.hardware.get("machine", ""))
        if machine in self._fallback:
            return self._fallback[machine]
        raise ProfileError(f"{self.file}: no codec speed for device {device.name!r} (machine {machine!r}); "
                           f"add a 'platforms.factors' entry that matches it, or use input = 'raw'")

    def times(self, device: DeviceProfile, quality: int) -> CodecTimes:
        """Encode/decode time model of ``device`` at the measured quality nearest ``quality``."""
        q = min(self._times, key=lambda k: (abs(k - quality), k))
        return CodecTimes(*self._times[q], self.factor(device))


def default_codec_path() -> Path:
    """The shipped measured JPEG file."""
    return Path(str(resources.files("e3gym.profiles"))) / "codecs" / "jpeg.json"


@lru_cache(maxsize=8)
def load_jpeg_model(path: str | None = None) -> JpegModel:
    """Read and validate a codec file once per process (default: the shipped one)."""
    p = Path(path) if path else default_codec_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ProfileError(f"{p}: cannot read codec file: {err.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ProfileError(f"{p}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{p}: expected a JSON object at the top level")
    return JpegModel(data, str(p))


@dataclass(frozen=True)
class PayloadConfig:
    """What a scenario sends: input encoding, JPEG quality, activation precision, result kind."""

    input: str = "jpeg"
    quality: int = 75
    activations: str = "float32"
    result: str = "top5"

    def __post_init__(self) -> None:
        if self.input not in INPUT_KINDS:
            raise E3GymError(f"input must be one of {INPUT_KINDS}, got {self.input!r}")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 1 <= self.quality <= 100:
            raise E3GymError(f"quality must be an integer in 1..100, got {self.quality!r}")
        if self.activations not in ACTIVATION_KINDS:
            raise E3GymError(f"activations must be one of {ACTIVATION_KINDS}, got {self.activations!r}")
        if self.result not in RESULT_KINDS:
            raise E3GymError(f"result must be one of {RESULT_KINDS}, got {self.result!r}")


def resolution_of(model: ModelProfile) -> int:
    """Side of the square input frame: the variant's resolution, else from the uint8 RGB input size."""
    res = model.variant.get("resolution")
    if isinstance(res, int) and res > 0:
        return res
    return max(1, round(math.sqrt(model.input_bytes / 3)))


def cut_payload_bytes(model: ModelProfile, cfg: PayloadConfig, jpeg: JpegModel | None, partition: bool
                      ) -> list[int]:
    """Application bytes sent at each cut 0..L-1 of ``model``."""
    if cfg.input == "jpeg":
        first = jpeg.size_bytes(resolution_of(model), cfg.quality)
    else:
        first = model.input_bytes
    if not partition or not model.has_blocks:
        return [first]
    scale = 4 if cfg.activations == "int8" else 1
    return [first] + [math.ceil(b.output_bytes / scale) for b in model.blocks[:-1]]


def result_bytes(model: ModelProfile, cfg: PayloadConfig) -> int:
    """Application bytes of the result sent back."""
    return model.output_bytes if cfg.result == "logits" else RESULT_BYTES[cfg.result]


def activation_top1(model: ModelProfile, cfg: PayloadConfig) -> float:
    """Top-1 when the model is split at an inner cut (int8 activations lose their cited cost)."""
    if cfg.activations == "float32":
        return model.top1
    if model.name not in INT8_TOP1_COST:
        raise E3GymError(f"activations = 'int8': no cited int8 accuracy cost for model {model.name!r} "
                         f"(cited for {', '.join(sorted(INT8_TOP1_COST))}); use 'float32'")
    return model.top1 - INT8_TOP1_COST[model.name]
