"""Small CNNs for validation runs, and the blocks a split pipeline runs on each side.

The models are plain ``torch.nn`` (no torchvision): four conv stages that halve the resolution
and double the channels, then a linear classifier, on a 3x224x224 frame. One inference takes a
few milliseconds on one CPU thread, so a validation grid runs in minutes. Both sides of the
pipeline split a model with the profiler's own :func:`~e3gym.profiler.cuts.fx_blocks`, with the
same ``max_blocks``, so cut ``c`` means "blocks ``[0, c)`` on the device" exactly as in the profile
that ``e3gym profile e3gym.validate.models:small_cnn`` writes (the block names are checked too).

A model spec is a name of :data:`MODELS`, a ``package.module:factory`` (any ``nn.Module``, as in
``e3gym profile``), or a torchvision classifier name when torchvision is installed.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from e3gym.errors import E3GymError

INPUT_SHAPE = (3, 224, 224)
MAX_BLOCKS = 40  # e3gym profile's default: the profile and the pipeline must split alike


def _stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
                                     relu=nn.ReLU(inplace=True), pool=nn.MaxPool2d(2)))


def _cnn(widths: tuple[int, int, int, int], n_classes: int = 1000) -> nn.Sequential:
    c1, c2, c3, c4 = widths
    torch.manual_seed(0)  # deterministic weights: latency does not depend on them, outputs are reproducible
    return nn.Sequential(OrderedDict(
        stage1=_stage(3, c1, 2),  # 224 -> 112 -> 56
        stage2=_stage(c1, c2, 1),  # 56 -> 28
        stage3=_stage(c2, c3, 1),  # 28 -> 14
        stage4=_stage(c3, c4, 1),  # 14 -> 7
        pool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(),
        fc=nn.Linear(c4, n_classes),
    )).eval()


def small_cnn() -> nn.Module:
    """Four conv stages (16-32-64-128 channels) and a 1000-way classifier: ~5-15 ms on one thread."""
    return _cnn((16, 32, 64, 128))


def tiny_cnn() -> nn.Module:
    """Half the width of :func:`small_cnn` (8-16-32-64 channels): a few ms on one thread."""
    return _cnn((8, 16, 32, 64))


# name -> (factory spec for e3gym profile, block names after which the default cuts fall)
MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "small_cnn": ("e3gym.validate.models:small_cnn", ("stage3.pool", "stage4.pool")),
    "tiny_cnn": ("e3gym.validate.models:tiny_cnn", ("stage3.pool", "stage4.pool")),
}


def profile_spec(spec: str) -> str:
    """What ``e3gym profile`` is given for a model spec."""
    return MODELS[spec][0] if spec in MODELS else spec


def profile_name(spec: str) -> str:
    """The model's name in the profile ``e3gym profile`` writes (the factory's name, or the torchvision name)."""
    return spec.rpartition(":")[2] if ":" in spec else spec


def build_module(spec: str) -> nn.Module:
    """The ``nn.Module`` a spec names, in eval mode (ValueError with what to do when it cannot)."""
    target = profile_spec(spec)
    if ":" in target:
        module_name, _, attr = target.partition(":")
        try:
            factory: Callable[[], nn.Module] = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise E3GymError(f"model {spec!r}: cannot load {target} ({type(err).__name__}: {err}); known: "
                             f"{', '.join(MODELS)}, package.module:factory, or a torchvision name") from None
        return factory().eval()
    from e3gym.profiler.cli import import_torchvision

    try:
        import_torchvision()
    except ValueError:
        raise E3GymError(f"unknown model {spec!r}: use one of {', '.join(MODELS)} or package.module:factory "
                         "(torchvision models need pip install 'e3gym[profile]')") from None
    from torchvision import models as tvm

    if spec not in tvm.list_models(module=tvm):
        raise E3GymError(f"unknown model {spec!r}: not one of {', '.join(MODELS)} nor a torchvision classifier")
    return tvm.get_model(spec, weights=None).eval()


@dataclass
class SplitModel:
    """A model split into the profiler's blocks: run ``[lo, hi)`` of them on a tensor."""

    spec: str
    name: str
    blocks: list[tuple[str, nn.Module]]
    module: nn.Module | None = None  # the unsplit model

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def run(self, x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        """Blocks ``[lo, hi)`` applied to ``x`` (no autograd).

        The whole range runs the unsplit module, as a device that does not offload (or a server that
        gets the frame) would, and as the profile's one-piece figure was measured; a part runs its
        blocks one after the other.
        """
        with torch.inference_mode():
            if lo == 0 and hi == self.n_blocks and self.module is not None:
                return self.module(x)
            for _, block in self.blocks[lo:hi]:
                x = block(x)
        return x

    def activation_shape(self, cut: int) -> tuple[int, ...]:
        """Shape of the tensor entering block ``cut`` (the input for cut 0)."""
        return self._shapes[cut]

    def default_cuts(self) -> list[int]:
        """0 (send the frame), the model's named inner cuts, and ``L`` (everything on the device)."""
        names = [n for n, _ in self.blocks]
        inner = [names.index(n) + 1 for n in MODELS.get(self.spec, ("", ()))[1] if n in names]
        return sorted({0, *inner, self.n_blocks})

    def check_cut(self, cut: int) -> None:
        """ValueError unless ``0 <= cut <= L`` (``L``: everything on the device)."""
        if not 0 <= cut <= self.n_blocks:
            n = self.n_blocks
            raise E3GymError(f"--cuts {cut}: model {self.spec} has {n} blocks, so a cut is 0..{n} "
                             f"(0 sends the frame, {n} runs everything on the device)")


def split_model(spec: str, max_blocks: int = MAX_BLOCKS) -> SplitModel:
    """Build ``spec`` and split it at the fx cut points, as ``e3gym profile`` does."""
    from e3gym.profiler.cuts import fx_blocks

    module = build_module(spec)
    x = torch.zeros(1, *INPUT_SHAPE)
    blocks = fx_blocks(module, x, max_blocks=max_blocks, label=spec)
    split = SplitModel(spec, profile_name(spec), blocks, module)
    shapes, y = [tuple(x.shape)], x
    for _, block in blocks:
        with torch.inference_mode():
            y = block(y)
        shapes.append(tuple(y.shape))
    split._shapes = shapes
    return split


def check_blocks_match(split: SplitModel, profile_blocks: list[str]) -> None:
    """ValueError unless the pipeline's blocks are the profile's (same names, same order)."""
    names = [n for n, _ in split.blocks]
    if names != list(profile_blocks):
        raise E3GymError(f"model {split.spec}: the pipeline splits it into {len(names)} blocks but the profile has "
                         f"{len(profile_blocks)} other ones; profile it again with this torch (omit --profiles)")
