"""The architecture family of a torchvision classifier, from its name (the ``family`` of a model profile).

Stdlib only, so that the profile tools that need no torch can use it too.
"""
from __future__ import annotations

# Prefixes, most specific first: "mobilenet_v3_large" is a mobilenet_v3, "regnet_y_800mf" a regnet_y.
FAMILIES = ("mobilenet_v2", "mobilenet_v3", "efficientnet", "resnet", "regnet_y", "regnet_x", "convnext",
            "vgg", "alexnet", "squeezenet", "shufflenet_v2")


def family_of(name: str) -> str:
    """The architecture family of a torchvision model name (the name itself when no family matches)."""
    return next((f for f in FAMILIES if name.startswith(f)), name)
