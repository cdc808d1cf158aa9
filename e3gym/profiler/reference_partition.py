"""The reference partition: torchvision classifiers split into top-level blocks, as the reference data is.

The shipped device profiles time the blocks that e3gym's reference profiler (``profile_ref.py`` in the
reference data) cuts torchvision classifiers into: the stem, each residual/inverted-residual block,
the pooling and the classifier, named like ``features.3``, ``layer2.1``, ``pool`` and ``fc``. Their
per-block latencies are aligned to those names, so a profile that is to line up with the shipped
``torchvision.json`` (``e3gym profile --partition reference``) uses this partition, not the
``torch.fx`` cut points of :mod:`e3gym.profiler.cuts`.
"""
from __future__ import annotations

import torch

from e3gym.errors import DependencyNotInstalled, E3GymError

# name prefixes this partition covers
COVERED = ("resnet", "resnext", "wide_resnet", "regnet", "shufflenet", "squeezenet", "mobilenet", "efficientnet",
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
    if name.startswith(COVERED):  # features / avgpool / classifier: MobileNet, EfficientNet, ConvNeXt, VGG, AlexNet
        avgpool = getattr(model, "avgpool", torch.nn.AdaptiveAvgPool2d(1))
        # ConvNeXt's classifier starts with its own flatten-free LayerNorm2d, so its pool keeps 4 dims
        pool = avgpool if name.startswith("convnext") else torch.nn.Sequential(avgpool, flatten)
        return [*features, ("pool", pool), ("classifier", model.classifier)]
    raise E3GymError(f"no reference partition for {name!r}: it covers the families {', '.join(COVERED)}")


def torchvision_model(name: str) -> torch.nn.Module:
    """A torchvision classifier with random weights, in eval mode (FLOPs and parameter counts do not depend on them)."""
    try:
        from torchvision import models as tvm
    except ImportError:
        raise DependencyNotInstalled("torchvision is not installed: pip install 'e3gym[profile]'") from None
    return tvm.get_model(name, weights=None).eval()
