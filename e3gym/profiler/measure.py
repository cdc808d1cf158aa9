"""Timing on the machine it runs on: per-block and one-piece latency, and the hardware fingerprint.

Latency statistics follow the reference profiler (``profile_ref.py``): after ``warmup`` untimed
runs, ``runs`` timed runs (``time.perf_counter`` on CPU, CUDA events on a GPU); the median and the
10th/90th percentiles are taken as ``sorted[min(n - 1, int(q * n))]``.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from e3gym.errors import E3GymError
from e3gym.profiler.flops import block_costs


def latency_stats(fn: Callable[[Any], Any], x: Any, device: str = "cpu", runs: int = 20,
                  warmup: int = 3, idle_s: float = 0.0) -> dict[str, Any]:
    """Median, p10 and p90 (seconds) of ``fn(x)`` over ``runs`` timed runs after ``warmup`` untimed ones.

    ``idle_s``: sleep that long before each timed run, as sporadic requests find the machine idle.
    """
    if runs < 1:
        raise E3GymError(f"runs must be >= 1, got {runs}")
    with torch.inference_mode():
        for _ in range(max(0, warmup)):
            fn(x)
        times_s = []
        if device == "cuda":
            torch.cuda.synchronize()
            for _ in range(runs):
                if idle_s:
                    time.sleep(idle_s)
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn(x)
                end.record()
                torch.cuda.synchronize()
                times_s.append(start.elapsed_time(end) / 1e3)
        else:
            for _ in range(runs):
                if idle_s:
                    time.sleep(idle_s)
                t0 = time.perf_counter()
                fn(x)
                times_s.append(time.perf_counter() - t0)
    times_s.sort()
    q = lambda p: times_s[min(len(times_s) - 1, int(p * len(times_s)))]
    return {"median_s": statistics.median(times_s), "p10_s": q(0.1), "p90_s": q(0.9), "n": len(times_s)}


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_id() -> str | None:
    """Vendor, family, model and stepping from /proc/cpuinfo ("model name" alone can hide the generation)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return None
    keys = ("vendor_id", "cpu family", "model", "stepping")
    if not all(k in fields for k in keys):
        return None
    flags = set(fields.get("flags", "").split())
    simd = next((s for s in ("avx512f", "avx2", "avx") if s in flags), None)
    return (f"{fields['vendor_id']} family {fields['cpu family']} model {fields['model']} stepping "
            f"{fields['stepping']}" + (f", {simd}" if simd else ""))


def hardware_fingerprint(device: str, dtype: str) -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, threads, GPU, framework versions, date."""
    try:
        import torchvision
        tv = torchvision.__version__
    except ImportError:
        tv = None
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else None
    return {"cpu_model": cpu_model(), "cpu_id": cpu_id(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(), "device": device, "gpu": gpu,
            "cuda": torch.version.cuda if device == "cuda" else None, "dtype": dtype,
            "torch": torch.__version__, "torchvision": tv, "python": platform.python_version(),
            "os": platform.platform(), "date": time.strftime("%Y-%m-%d")}


@dataclass
class ModelMeasurement:
    """Everything measured for one model: per-block work, sizes and latencies, and the one-piece latency."""

    name: str
    blocks: list[dict[str, Any]] = field(default_factory=list)  # name, flops, param_bytes, output_bytes, shape
    block_latency: list[dict[str, Any]] = field(default_factory=list)  # LatencyStats dicts, in block order
    total: dict[str, Any] = field(default_factory=dict)


def measure_model(name: str, model: Callable[[Any], Any], blocks: Sequence[tuple[str, Callable[[Any], Any]]],
                  x: torch.Tensor, device: str = "cpu", runs: int = 20, warmup: int = 3,
                  on_block: Callable[[int, int], None] | None = None,
                  costs: list[dict[str, Any]] | None = None, idle_s: float = 0.0) -> ModelMeasurement:
    """Time each block on the real activation of the block before it, then the whole model in one piece.

    ``idle_s`` applies to the one-piece runs only: they set the scale (the blocks only the shares,
    see :meth:`~e3gym.core.profiles.DeviceProfile.block_latencies_s`), and a request that finds the
    machine idle runs slower than a back-to-back loop (cold caches and clocks).

    ``on_block(done, total)`` is called after every timed piece (the blocks, then the whole model),
    for a progress bar; ``costs`` are the blocks' :func:`~e3gym.profiler.flops.block_costs` when
    already computed.
    """
    result = ModelMeasurement(name=name, blocks=costs if costs is not None else block_costs(blocks, x))
    n = len(blocks) + 1
    y = x
    for i, (_, block) in enumerate(blocks):
        result.block_latency.append(latency_stats(block, y, device, runs, warmup))
        with torch.inference_mode():
            y = block(y)
        if on_block:
            on_block(i + 1, n)
    result.total = latency_stats(model, x, device, runs, warmup, idle_s)
    if on_block:
        on_block(n, n)
    return result
