"""Work per block: FLOPs split by layer type (conv, fc, other) and parameter bytes.

FLOPs are counted by intercepting every ATen (and quantized) operator a block runs, in a
``TorchDispatchMode``, so a block's count does not depend on how its Python code is written:

* **conv**: convolution operators, with PyTorch's own formula (``torch.utils.flop_counter``:
  2 x multiply-adds, i.e. ``2 * out_elements * in_channels/groups * kernel_elements``; bias not counted);
* **fc**: matrix products (``mm``, ``addmm``, ``bmm``, ``baddbmm``; what ``nn.Linear`` runs), same source,
  ``2 * m * n * k``;
* **other**: every remaining operator that computes (activations, normalization, pooling, additions,
  softmax...), counted as one operation per element it touches, ``max(elements in, elements out)``
  of its first tensor argument and its result. Views and pure data movement (reshape, permute, cat,
  copy, quantize/dequantize...) count zero. This is a work proxy, not an exact arithmetic count: what
  matters for a per-layer-type latency regression (muLinUCB) is that it grows with the work.

Quantized int8 conv/linear operators (``quantized::conv2d``, ``quantized::linear``...) are counted like
their float counterparts, from the packed weight's shape.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from e3gym.errors import E3GymError

FLOP_KINDS = ("conv", "fc", "other")
_aten = torch.ops.aten
_CONV = {_aten.convolution, _aten._convolution, _aten.cudnn_convolution, _aten._slow_conv2d_forward,
         _aten.convolution_overrideable}
_FC = {_aten.mm, _aten.addmm, _aten.bmm, _aten.baddbmm}
# data movement and bookkeeping: no arithmetic on the values
_NO_WORK = {"cat", "stack", "clone", "copy", "copy_", "_to_copy", "contiguous", "empty", "empty_like", "zeros",
            "zeros_like", "ones", "ones_like", "full", "full_like", "fill_", "quantize_per_tensor",
            "quantize_per_channel", "dequantize", "detach", "lift_fresh", "constant_pad_nd", "pad", "split",
            "split_with_sizes", "chunk", "unbind", "index_select", "cat_out", "_unsafe_view", "view_copy",
            "channel_shuffle", "pixel_shuffle", "native_channel_shuffle", "flatten", "reshape"}


def _numel(x: Any) -> int:
    return x.numel() if isinstance(x, torch.Tensor) else 0


def _first_tensor(args: Sequence[Any]) -> torch.Tensor | None:
    return next((a for a in tree_flatten(list(args))[0] if isinstance(a, torch.Tensor)), None)


def _quantized_flops(name: str, args: Sequence[Any], out: Any) -> tuple[str, float] | None:
    """(kind, FLOPs) of a quantized conv/linear operator, from its packed weight's shape."""
    if not (name.startswith("conv") or name.startswith("linear")) or "prepack" in name or "unpack" in name:
        return None
    packed = next((a for a in args if isinstance(a, torch.ScriptObject)), None)
    if packed is None or not hasattr(packed, "unpack"):
        return None
    weight = packed.unpack()[0]
    if name.startswith("conv"):  # weight: [out_channels, in_channels/groups, *kernel]
        return "conv", 2.0 * _numel(out) * math.prod(weight.shape[1:])
    return "fc", 2.0 * _numel(out) * weight.shape[-1]  # weight: [out_features, in_features]


class FlopCounter(TorchDispatchMode):
    """Context manager that adds up the FLOPs of every operator run inside it, by layer type."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = {k: 0.0 for k in FLOP_KINDS}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func._overloadpacket
        if packet not in _CONV and packet not in _FC and func.namespace == "aten":
            # composite operators (conv2d, linear, batch_norm...) reach this mode undecomposed under
            # inference mode: count their constituent operators instead, as FlopCounterMode does
            with self:
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        out = func(*args, **kwargs)
        kind, n = self._classify(func, args, kwargs, out)
        if kind:
            self.flops[kind] += n
        return out

    @staticmethod
    def _classify(func, args, kwargs, out) -> tuple[str | None, float]:
        packet = func._overloadpacket
        if packet in _CONV or packet in _FC:
            return ("conv" if packet in _CONV else "fc"), float(flop_registry[packet](*args, **kwargs, out_val=out))
        ns, name = func.namespace, packet.__name__.split(".")[-1]
        if ns == "quantized":
            q = _quantized_flops(name, args, out)
            if q:
                return q
        if name in _NO_WORK or any(r.alias_info is not None and not r.alias_info.is_write
                                   for r in func._schema.returns):
            return None, 0.0  # views alias their input and do no arithmetic of their own
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if not outs or not any(t.dtype.is_floating_point or t.is_quantized for t in outs):
            return None, 0.0  # shape and index computations
        return "other", float(max(_numel(_first_tensor(args)), sum(t.numel() for t in outs)))


def count_flops(fn: Any, x: Any) -> tuple[dict[str, float], Any]:
    """FLOPs by layer type of ``fn(x)``, and its result (run once under inference mode)."""
    with torch.inference_mode(), FlopCounter() as counter:
        y = fn(x)
    return counter.flops, y


def param_bytes(module: torch.nn.Module) -> int:
    """Bytes of the module's parameters, each shared tensor counted once (quantized weights included)."""
    seen: set[int] = set()
    total = 0

    def add(t: torch.Tensor | None) -> None:
        nonlocal total
        if isinstance(t, torch.Tensor) and id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()

    for m in module.modules():
        for p in m.parameters(recurse=False):
            add(p)
        # quantized Conv/Linear keep their weights in packed form, reachable through weight()/bias()
        if "quantized" in type(m).__module__ and callable(getattr(m, "weight", None)):
            add(m.weight())
            add(m.bias() if callable(getattr(m, "bias", None)) else None)
    return total


def block_costs(blocks: Iterable[tuple[str, Any]], x: torch.Tensor) -> list[dict[str, Any]]:
    """Per block of an ordered ``(name, module)`` list: FLOPs by type, parameter bytes, output size.

    Each block is fed the output of the block before it, starting from ``x``; the returned dicts hold
    ``name``, ``flops`` ({conv, fc, other}), ``param_bytes``, ``output_bytes`` and ``shape``.
    """
    out = []
    y = x
    for name, block in blocks:
        flops, y = count_flops(block, y)
        if not isinstance(y, torch.Tensor):
            raise E3GymError(f"block {name!r} returns {type(y).__name__}, not one tensor: blocks must pass a "
                             "single tensor from one to the next")
        out.append({"name": name, "flops": flops,
                    "param_bytes": param_bytes(block) if isinstance(block, torch.nn.Module) else 0,
                    "output_bytes": y.numel() * y.element_size(), "shape": list(y.shape)})
    return out
