"""The profile the simulator predicts with: measured here by ``e3gym profile``, or given with ``--profiles``.

The profiler runs once per validation, as a child pinned to the device's core with one torch thread
(what the pipeline's processes use), into ``<out>/profiles``. Both sides of the pipeline run on this
machine, so the device and the edge share that profile. Before anything runs, the pipeline's blocks
are checked against the profile's: a cut must mean the same split on both.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from e3gym.core.profiles import ProfileLibrary, builtin_profile_dir
from e3gym.errors import E3GymError
from e3gym.validate.models import check_blocks_match, profile_name, profile_spec
from e3gym.validate.procs import child_env, split_cores

DEVICE_NAME = "validate-t1"
TOP1_SOURCE = "not meaningful: e3gym validate models have untrained weights (latency does not depend on them)"


# Requests reach each process of the default grid every 133-400 ms, and an inference that finds the
# machine idle is slower than a back-to-back loop (cold caches and clocks: small_cnn took 3.85 ms back
# to back and 5.5 ms after 100 ms idle on the Intel Xeon development VM). The profile is timed the
# way requests arrive, not the way a benchmark loop runs.
IDLE_MS = 100.0


def run_profiler(specs: list[str], out: Path, runs: int = 20, idle_ms: float = IDLE_MS) -> Path:
    """``e3gym profile SPECS --threads 1 --idle-ms ... --out out --name validate-t1`` pinned to the device core."""
    cores = split_cores(1)[0]
    argv = [sys.executable, "-m", "e3gym.cli", "profile", *[profile_spec(s) for s in specs], "--threads", "1",
            "--out", str(out), "--name", DEVICE_NAME, "--tier", "end", "--runs", str(runs), "--top1", "0",
            "--top1-source", TOP1_SOURCE, "--idle-ms", f"{idle_ms:g}"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=child_env(),
                          preexec_fn=lambda: os.sched_setaffinity(0, cores))
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise E3GymError(f"profiling failed: {tail}")
    return out


def load_library(profiles: Path) -> ProfileLibrary:
    """The measured profiles next to the shipped ones (the codec model and built-ins stay available)."""
    if not (profiles / "devices").is_dir():
        raise E3GymError(f"--profiles {profiles}: no devices/ folder there; make one with "
                         f"e3gym profile --out {profiles}")
    return ProfileLibrary.from_dirs(profiles, builtin_profile_dir())


def pick_device(library: ProfileLibrary, profiles: Path, name: str | None) -> str:
    """The device profile to use: ``name``, else validate-t1, else the only device measured in ``profiles``."""
    if name:
        library.device(name)
        return name
    root = profiles.resolve()
    own = [d.name for d in library.devices.values() if Path(d.source_file).resolve().parent.parent == root]
    if DEVICE_NAME in own:
        return DEVICE_NAME
    if len(own) == 1:
        return own[0]
    raise E3GymError(f"--profiles {profiles} holds {len(own)} device profiles ({', '.join(own) or 'none'}): "
                     "name one with --device-profile")


def check_models(library: ProfileLibrary, device: str, splits: dict) -> None:
    """Every model is profiled on ``device`` with the pipeline's blocks."""
    dev = library.device(device)
    for spec, split in splits.items():
        name = profile_name(spec)
        model = library.model(name)
        check_blocks_match(split, [b.name for b in model.blocks])
        dev.block_latencies_s(model)  # raises naming the device and model when it was not profiled there
