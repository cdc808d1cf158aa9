"""Fill per-block FLOPs and parameter bytes into the shipped torchvision model file.

The reference data times torchvision classifiers in their top-level blocks
(:mod:`e3gym.profiler.reference_partition`) but does not count their work; this counts it on the
same partition (needs torchvision; the architectures are built with random weights, which changes
neither FLOPs nor parameter counts)::

    python -m e3gym.curation.reference profiles/models/torchvision.json

Only each block's ``flops`` and ``param_bytes`` are written; names, sizes and everything else are
checked against a fresh forward pass and left as they are.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from e3gym.core.profiles import ModelFile, read_model_file, write_model_file
from e3gym.errors import E3GymError
from e3gym.profiler.flops import block_costs
from e3gym.profiler.reference_partition import reference_blocks, torchvision_model


def fill_costs(model_file: ModelFile, resolution: int | None = None) -> ModelFile:
    """``model_file`` with ``flops`` and ``param_bytes`` of every block of every model counted afresh.

    Raises E3GymError if a model's reference blocks differ from the file's (names or output sizes).
    """
    models = []
    for spec in model_file.models:
        res = resolution or int(spec.variant.get("resolution", 224))
        with torch.no_grad():
            costs = block_costs(reference_blocks(spec.name, torchvision_model(spec.name)), torch.zeros(1, 3, res, res))
        got = [(c["name"], c["output_bytes"]) for c in costs]
        want = [(b.name, b.output_bytes) for b in spec.blocks]
        if got != want:
            raise E3GymError(f"model {spec.name!r}: the reference partition gives blocks {got}, the file has {want}")
        blocks = tuple(dataclasses.replace(b, flops={k: float(v) for k, v in c["flops"].items()},
                                           param_bytes=int(c["param_bytes"])) for b, c in zip(spec.blocks, costs))
        models.append(dataclasses.replace(spec, blocks=blocks))
    return dataclasses.replace(model_file, models=tuple(models))


def main(argv: list[str] | None = None) -> int:
    """Command line: fill per-block FLOPs and parameter bytes into a torchvision model file."""
    ap = argparse.ArgumentParser(prog="python -m e3gym.curation.reference", description=main.__doc__)
    ap.add_argument("model_file", type=Path, help="model JSON to update in place (e.g. profiles/models/torchvision.json)")
    a = ap.parse_args(argv)
    filled = fill_costs(read_model_file(a.model_file))
    write_model_file(a.model_file, filled)  # validated before anything is written
    print(f"{a.model_file}: flops and param_bytes of {sum(len(m.blocks) for m in filled.models)} blocks "
          f"in {len(filled.models)} models")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
