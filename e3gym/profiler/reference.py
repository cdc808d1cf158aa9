"""The reference partition: torchvision classifiers split into top-level blocks, as the reference data is.

The shipped device profiles time the blocks that e3gym's reference profiler (``profile_ref.py`` in the
reference data) cuts torchvision classifiers into: the stem, each residual/inverted-residual block,
the pooling and the classifier, named like ``features.3``, ``layer2.1``, ``pool`` and ``fc``. Their
per-block latencies are aligned to those names, so per-block FLOPs and parameter bytes for the
shipped model file must use the same partition, not the ``torch.fx`` cut points.

Fill the shipped model file (needs torchvision; the architectures are built with random weights,
which changes neither FLOPs nor parameter counts)::

    python -m e3gym.profiler.reference profiles/models/torchvision.json

Only each block's ``flops`` and ``param_bytes`` are written; names, sizes and everything else are
checked against a fresh forward pass and left as they are.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from e3gym.core.profiles import parse_models
from e3gym.errors import E3GymError
from e3gym.profiler.flops import block_costs

FAMILIES = ("resnet", "resnext", "wide_resnet", "regnet", "shufflenet", "squeezenet", "mobilenet", "efficientnet",
            "convnext", "vgg", "alexnet")


class _Mean(torch.nn.Module):
    """Global average pooling as ShuffleNetV2's forward writes it (``x.mean([2, 3])``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean([2, 3])


def reference_blocks(name: str, model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """Ordered ``(name, module)`` top-level blocks of a torchvision classifier; their composition is its forward."""
    flatten = torch.nn.Flatten(1)
    if name.startswith(("resnet", "resnext", "wide_resnet")):
        stem = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
        layers = [(f"{ln}.{i}", b) for ln in ("layer1", "layer2", "layer3", "layer4")
                  for i, b in enumerate(getattr(model, ln))]
        return [("stem", stem), *layers, ("pool", torch.nn.Sequential(model.avgpool, flatten)), ("fc", model.fc)]
    if name.startswith("regnet"):
        stages = [(f"{sn}.{bn}", b) for sn, stage in model.trunk_output.named_children()
                  for bn, b in stage.named_children()]
        return [("stem", model.stem), *stages, ("pool", torch.nn.Sequential(model.avgpool, flatten)),
                ("fc", model.fc)]
    if name.startswith("shufflenet"):
        return [("conv1", model.conv1), ("maxpool", model.maxpool), ("stage2", model.stage2),
                ("stage3", model.stage3), ("stage4", model.stage4), ("conv5", model.conv5),
                ("pool", _Mean()), ("fc", model.fc)]
    features = [(f"features.{i}", b) for i, b in enumerate(model.features)]
    if name.startswith("squeezenet"):
        return [*features, ("classifier", torch.nn.Sequential(model.classifier, flatten))]
    if name.startswith(FAMILIES):  # features / avgpool / classifier: MobileNet, EfficientNet, ConvNeXt, VGG, AlexNet
        avgpool = getattr(model, "avgpool", torch.nn.AdaptiveAvgPool2d(1))
        # ConvNeXt's classifier starts with its own flatten-free LayerNorm2d, so its pool keeps 4 dims
        pool = avgpool if name.startswith("convnext") else torch.nn.Sequential(avgpool, flatten)
        return [*features, ("pool", pool), ("classifier", model.classifier)]
    raise E3GymError(f"no reference partition for {name!r}: it covers the families {', '.join(FAMILIES)}")


def torchvision_model(name: str) -> torch.nn.Module:
    """A torchvision classifier with random weights, in eval mode."""
    try:
        from torchvision import models as tvm
    except ImportError:
        raise E3GymError("torchvision is not installed: pip install 'e3gym[profile]'") from None
    return tvm.get_model(name, weights=None).eval()


def fill_costs(data: dict[str, Any], resolution: int | None = None) -> dict[str, Any]:
    """Set ``flops`` and ``param_bytes`` of every block of every model in a model-file dict, in place.

    Raises ValueError if a model's reference blocks differ from the file's (names or output sizes).
    """
    for spec in data["models"]:
        name = spec["name"]
        res = resolution or int(spec.get("variant", {}).get("resolution", 224))
        model = torchvision_model(name)
        with torch.no_grad():
            costs = block_costs(reference_blocks(name, model), torch.zeros(1, 3, res, res))
        got = [(c["name"], c["output_bytes"]) for c in costs]
        want = [(b["name"], b["output_bytes"]) for b in spec["blocks"]]
        if got != want:
            raise E3GymError(f"model {name!r}: the reference partition gives blocks {got}, the file has {want}")
        for block, cost in zip(spec["blocks"], costs):
            block["flops"] = {k: float(v) for k, v in cost["flops"].items()}
            block["param_bytes"] = int(cost["param_bytes"])
    return data


def main(argv: list[str] | None = None) -> int:
    """Command line: fill per-block FLOPs and parameter bytes into a torchvision model file."""
    ap = argparse.ArgumentParser(prog="python -m e3gym.profiler.reference", description=main.__doc__)
    ap.add_argument("model_file", type=Path, help="model JSON to update in place (e.g. profiles/models/torchvision.json)")
    a = ap.parse_args(argv)
    from e3gym.profiler.convert import write_json_atomic  # the shipped files' one-record-per-line layout

    data = json.loads(a.model_file.read_text(encoding="utf-8"))
    fill_costs(data)
    parse_models(data, str(a.model_file))  # validate before anything is written
    write_json_atomic(a.model_file, data)
    print(f"{a.model_file}: flops and param_bytes of {sum(len(m['blocks']) for m in data['models'])} blocks "
          f"in {len(data['models'])} models")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
