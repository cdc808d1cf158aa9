"""Where a model can be cut: single-tensor cut points found by ``torch.fx`` graph analysis.

A *cut point* is a graph node after which exactly one value crosses from the part before to the
part after, and that value is a tensor: every later node depends on earlier ones only through it.
That is where a partitioned model can hand one activation to another machine. Nothing is listed per
model family: in a ResNet the skip connections keep every node inside a residual block from being a
cut point, so cuts fall only between blocks; a plain chain of layers can be cut after every layer.

Parameters and buffers read through ``get_attr`` do not count as crossing values (each block gets
its own copy of the reference). The blocks are ``fx.GraphModule`` objects sharing the model's
submodules, and :func:`check_composition` verifies that running them one after the other gives the
model's forward.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import fx
from torch.fx.passes.shape_prop import ShapeProp

from e3gym.errors import E3GymError


def trace(model: torch.nn.Module, x: torch.Tensor, label: str = "model") -> fx.GraphModule:
    """Symbolically trace ``model`` and record every node's output shape on the example input ``x``."""
    try:
        gm = fx.symbolic_trace(model)
    except Exception as err:  # tracing runs arbitrary user code: any failure means "not traceable"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise E3GymError(f"cannot trace {label} with torch.fx ({type(err).__name__}: {first}); a model with "
                         "data-dependent control flow cannot be split into blocks") from None
    inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        raise E3GymError(f"{label} takes {len(inputs)} inputs; only single-input models can be profiled")
    with torch.inference_mode():
        ShapeProp(gm).propagate(x)
    out = _output_value(gm, label)
    if "tensor_meta" not in out.meta:
        raise E3GymError(f"{label} does not return a single tensor; only models returning one tensor can be profiled")
    return gm


def _output_value(gm: fx.GraphModule, label: str) -> fx.Node:
    output = next(n for n in gm.graph.nodes if n.op == "output")
    value = output.args[0]
    if not isinstance(value, fx.Node):
        raise E3GymError(f"{label} does not return a single tensor; only models returning one tensor can be profiled")
    return value


def _is_tensor(node: fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return meta is not None and hasattr(meta, "shape")


def find_cuts(gm: fx.GraphModule) -> list[fx.Node]:
    """Nodes after which exactly one tensor (that node's output) crosses to the rest of the graph.

    Sweeps the nodes in topological order keeping the set of values still needed later (live values);
    a node is a cut point when, right after it, it is the only live value. The model's input and its
    final value are not cut points (they would leave an empty block).
    """
    nodes = list(gm.graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    final = _output_value(gm, "model")
    expires: dict[int, list[fx.Node]] = {}
    live: set[fx.Node] = set()
    cuts = []
    for i, n in enumerate(nodes):
        if n.op == "output":
            break
        if n.op != "get_attr" and n.users:
            live.add(n)
            expires.setdefault(max(index[u] for u in n.users), []).append(n)
        for dead in expires.pop(i, []):
            live.discard(dead)
        if live == {n} and n.op != "placeholder" and n is not final and _is_tensor(n):
            cuts.append(n)
    return cuts


def _node_path(node: fx.Node) -> str:
    """The qualified name of the module a node belongs to (its own name outside any submodule)."""
    stack = node.meta.get("nn_module_stack")
    if stack:
        return list(stack.values())[-1][0]
    return str(node.target) if node.op == "call_module" else node.name


def _common_prefix(paths: Sequence[str]) -> str:
    parts = [p.split(".") for p in paths]
    common = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return ".".join(common)


def segments(gm: fx.GraphModule, cuts: Sequence[fx.Node]) -> list[list[fx.Node]]:
    """The compute nodes between consecutive cuts (input excluded, the last segment ends at the output)."""
    out: list[list[fx.Node]] = [[]]
    cut_set = set(cuts)
    for n in gm.graph.nodes:
        if n.op in ("placeholder", "output"):
            continue
        out[-1].append(n)
        if n in cut_set:
            out.append([])
    return [s for s in out if s]


def segment_name(nodes: Sequence[fx.Node]) -> str:
    """Block name: the deepest module holding all of its nodes, else ``first..last``."""
    compute = [n for n in nodes if n.op != "get_attr"] or list(nodes)
    paths = [_node_path(n) for n in compute]
    prefix = _common_prefix(paths)
    if prefix:
        return prefix
    first, last = paths[0], paths[-1]
    return first if first == last else f"{first}..{last}"


def build_block(gm: fx.GraphModule, nodes: Sequence[fx.Node]) -> fx.GraphModule:
    """A GraphModule computing ``nodes`` from the one tensor that enters them."""
    inside = set(nodes)
    g = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    x = None
    for n in nodes:
        for a in n.all_input_nodes:
            if a in env or a in inside:
                continue
            if a.op == "get_attr":
                env[a] = g.node_copy(a)
            elif x is None:
                x = env[a] = g.placeholder("x")
            else:  # the cut finder guarantees one entering value; anything else is a bug here
                raise RuntimeError(f"segment starting at {nodes[0].name!r} has more than one input")
        env[n] = g.node_copy(n, lambda a: env[a])
    if x is None:
        x = g.placeholder("x")  # a block that ignores its input (constant output) still takes one
    g.output(env[nodes[-1]])
    return fx.GraphModule(gm, g, class_name="Block")


def merge_segments(segs: list[list[fx.Node]], costs: Sequence[float], max_blocks: int) -> list[list[fx.Node]]:
    """Join neighbouring segments, cheapest pair first, until at most ``max_blocks`` remain."""
    segs, costs = [list(s) for s in segs], list(costs)
    while len(segs) > max(1, max_blocks):
        k = min(range(len(segs) - 1), key=lambda i: costs[i] + costs[i + 1])
        segs[k:k + 2] = [segs[k] + segs[k + 1]]
        costs[k:k + 2] = [costs[k] + costs[k + 1]]
    return segs


def fx_blocks(model: torch.nn.Module, x: torch.Tensor, max_blocks: int = 0, label: str = "model",
              cost: Callable[[Any, torch.Tensor], float] | None = None) -> list[tuple[str, fx.GraphModule]]:
    """``model`` split at every single-tensor cut point, as ordered ``(name, GraphModule)`` blocks.

    With ``max_blocks > 0`` neighbouring segments are merged, the pair with the least combined
    ``cost(block, input)`` first (default: FLOPs from :mod:`e3gym.profiler.flops`), until at most
    ``max_blocks`` remain; cuts are only ever removed, so every boundary is still a cut point.
    """
    gm = trace(model, x, label)
    segs = segments(gm, find_cuts(gm))
    if max_blocks and len(segs) > max_blocks:
        if cost is None:
            from e3gym.profiler.flops import count_flops

            def cost(block, inp):
                flops, _ = count_flops(block, inp)
                return sum(flops.values())
        costs, y = [], x
        with torch.inference_mode():
            for s in segs:
                block = build_block(gm, s)
                costs.append(float(cost(block, y)))
                y = block(y)
        segs = merge_segments(segs, costs, max_blocks)
    blocks: list[tuple[str, fx.GraphModule]] = []
    used: set[str] = set()
    for s in segs:
        name = segment_name(s)
        if name in used:  # a module split over several segments, or reused: add the segment's last node
            name = f"{name}/{s[-1].name}"
        used.add(name)
        blocks.append((name, build_block(gm, s)))
    return blocks


def check_composition(model: Callable[[torch.Tensor], Any], blocks: Sequence[tuple[str, Callable]],
                      x: torch.Tensor, label: str = "model", rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Raise ValueError unless running ``blocks`` one after the other equals ``model(x)``."""
    with torch.inference_mode():
        ref = model(x)
        y = x
        for _, b in blocks:
            y = b(y)
    ref_f = ref.dequantize() if ref.is_quantized else ref
    y_f = y.dequantize() if y.is_quantized else y
    if ref_f.shape != y_f.shape or not torch.allclose(ref_f.float(), y_f.float(), rtol=rtol, atol=atol):
        diff = (ref_f.float() - y_f.float()).abs().max().item() if ref_f.shape == y_f.shape else "shape"
        raise E3GymError(f"the {len(blocks)} blocks of {label} do not compose to its forward "
                         f"(max abs difference {diff}); it cannot be profiled block by block")
