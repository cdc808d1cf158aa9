"""``e3gym profile``: measure model and device profiles on the machine it runs on.

For each MODEL it finds the single-tensor cut points of the model's ``torch.fx`` graph (see
:mod:`e3gym.profiler.cuts`), checks that the blocks between them compose to the model's forward,
counts each block's FLOPs by layer type and parameter bytes, and times every block on the real
activation of the block before it, then the whole model in one piece. It writes, under ``--out``:

* ``models/<model>.json``: one ``e3gym.model/1`` file per model (blocks, output bytes, FLOPs,
  parameter bytes; hardware-independent, so several devices profiled into one folder share it);
* ``devices/<name>.json``: one ``e3gym.device/1`` file (``provenance.method = "measured"``, the
  hardware fingerprint, per-block and one-piece latencies) for the models of this run; a device
  file of the same ``--name`` is replaced. A model file is only replaced by one with the same blocks.

Model and device names become these file names: a name that is not a plain file name (a path,
``..``) is refused, naming its argument, before anything is measured, and no file is written
outside ``--out``.

The files are built as :mod:`e3gym.core.profiles` dataclasses and written by its writer, which
checks each against the loader (and the device's blocks against the models') before anything is
replaced; all of them go to temporary files first and are then moved into place with ``os.replace``
(:func:`e3gym.files.write_texts_atomic`): an interrupted run leaves no half-written profile. ``--max-blocks`` (default 40) joins the cheapest neighbouring segments of
models with more cut points than that (MobileNets have 60-90); ``0`` keeps every cut point.
``--partition reference`` uses the top-level blocks of the shipped ``torchvision.json`` instead,
so the device file lines up with the shipped model profiles.

MODEL is a torchvision classifier name (``resnet18``; needs ``pip install 'e3gym[profile]'``), a
quantized int8 torchvision model on CPU (``quantized:mobilenet_v2``), or any ``nn.Module`` as
``package.module:factory`` (a callable returning the module; no torchvision needed).
"""
from __future__ import annotations

import argparse
import difflib
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from e3gym.errors import DependencyNotInstalled, E3GymError

if TYPE_CHECKING:
    from e3gym.core.profiles import DeviceProfile, LatencyStats, ModelFile

TIERS = ("end", "edge", "cloud")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``e3gym profile``."""
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="torchvision classifier (resnet18), quantized:NAME (int8, CPU) or package.module:factory")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to run (default: cpu)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (torch.set_num_threads; default: torch's default)")
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="parameter and activation type (default: float32)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per block and per model (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before timing (default: 3)")
    parser.add_argument("--idle-ms", type=float, default=0.0,
                        help="idle time before each timed one-piece run, as sporadic requests find the machine "
                             "(default: 0, back to back)")
    parser.add_argument("--out", type=Path, default=Path("measured-profiles"),
                        help="folder to write models/ and devices/ into (default: measured-profiles)")
    parser.add_argument("--name", default=None,
                        help="device profile name (default: from the CPU/GPU model, threads and dtype)")
    parser.add_argument("--tier", choices=TIERS, default=None,
                        help="tier hint written to the device file (default: cloud for cuda, else end)")
    parser.add_argument("--max-blocks", type=int, default=40,
                        help="join the cheapest neighbouring segments until at most this many blocks remain; "
                             "0 keeps every cut point (default: 40)")
    parser.add_argument("--partition", choices=("fx", "reference"), default="fx",
                        help="fx: single-tensor cut points of the torch.fx graph (default); reference: the "
                             "top-level blocks of the shipped torchvision profiles (torchvision classifiers only)")
    parser.add_argument("--input-shape", default="3,224,224",
                        help="input tensor shape without the batch dimension (default: 3,224,224); batch is 1")
    parser.add_argument("--top1", action="append", default=[], metavar="[MODEL=]FRACTION",
                        help="top-1 accuracy of a package.module:factory model (fraction in [0, 1]); "
                             "torchvision models take theirs from the weights metadata")
    parser.add_argument("--top1-source", default="given on the e3gym profile command line (--top1)",
                        help="where the --top1 figures come from, written to the model file")


# --------------------------------------------------------------------------- resolving MODEL
@dataclass
class ResolvedModel:
    """A model ready to profile, with what its model file needs to say about it."""

    spec: str
    name: str
    family: str
    module: Any
    variant: dict[str, Any]
    top1: float | None
    top1_source: str
    input_bytes: int
    notes: list[str] = field(default_factory=list)
    torchvision_name: str | None = None
    quantized_engine: str | None = None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def import_torchvision():
    """The torchvision module, or a one-line ValueError telling how to install it."""
    try:
        import torchvision
        from torchvision import models  # noqa: F401  (fails when torch and torchvision do not match)
    except ImportError:
        raise DependencyNotInstalled("torchvision is not installed: pip install 'e3gym[profile]'") from None
    except Exception as err:  # a torchvision built for another torch fails with RuntimeError/OSError
        raise E3GymError(f"torchvision cannot be imported ({_first_line(err)}): install the torchvision that "
                         "matches your torch, e.g. pip install 'e3gym[profile]'") from None
    return torchvision


def _load_factory(spec: str) -> tuple[str, Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise E3GymError(f"model {spec!r}: expected package.module:factory")
    from e3gym.agents.base import import_from_path_or_cwd
    try:
        module = import_from_path_or_cwd(module_name)
    except Exception as err:
        raise E3GymError(f"model {spec!r}: cannot import module {module_name!r} ({_first_line(err)}); "
                         "searched sys.path and the current directory") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise E3GymError(f"model {spec!r}: module {module_name!r} has no callable {attr!r}")
    try:
        built = factory()
    except Exception as err:
        raise E3GymError(f"model {spec!r}: the factory raised {_first_line(err)}") from None
    import torch
    if not isinstance(built, torch.nn.Module):
        raise E3GymError(f"model {spec!r}: the factory returned {type(built).__name__}, not a torch.nn.Module")
    return attr, built


def _torchvision_meta(tvm: Any, name: str) -> tuple[float, str, str | None]:
    """Top-1 (fraction) of the DEFAULT weights of a torchvision model, its source, and their backend."""
    import torchvision
    weights = tvm.get_model_weights(name).DEFAULT
    acc = weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    return (round(acc / 100.0, 6),
            f"torchvision {torchvision.__version__.split('+')[0]} weights metadata (ImageNet-1K acc@1 of the "
            f"DEFAULT weights, {weights})", weights.meta.get("backend"))


def resolve_model(spec: str, device: str, dtype: str, input_shape: tuple[int, ...],
                  top1: dict[str, float], top1_source: str) -> ResolvedModel:
    """Build the module that ``spec`` names (eval mode, on ``device`` in ``dtype``)."""
    import torch

    from e3gym.profiler.families import family_of

    torch_dtype = getattr(torch, dtype)
    numel = 1
    for d in input_shape:
        numel *= d
    resolution = input_shape[-1] if len(input_shape) == 3 and input_shape[-1] == input_shape[-2] else None
    variant: dict[str, Any] = {"precision": dtype, "input_shape": list(input_shape)}
    if resolution:
        variant["resolution"] = resolution
    camera = ("input_bytes: the camera image as uint8 RGB, what is uploaded at cut 0; block output_bytes: "
              f"{dtype} activations")
    if ":" in spec and not spec.startswith("quantized:"):
        name, module = _load_factory(spec)
        name = name if dtype == "float32" else f"{name}-{dtype}"
        if name not in top1 and "" not in top1:
            raise E3GymError(f"model {spec!r}: the model file needs its top-1 accuracy: pass --top1 {name}=FRACTION "
                             "(and --top1-source saying where it comes from)")
        acc = top1.get(name, top1.get(""))
        return ResolvedModel(spec, name, spec.split(":")[0], module.eval().to(device, torch_dtype), variant, acc,
                             top1_source, numel * torch.empty((), dtype=torch_dtype).element_size(),
                             [f"input_bytes: the {dtype} input tensor; block output_bytes: {dtype} activations"])
    tv = import_torchvision()
    from torchvision import models as tvm

    if spec.startswith("quantized:"):
        base = spec.split(":", 1)[1]
        name = f"quantized_{base}"
        known = tvm.list_models(module=tvm.quantization)
        if name not in known:
            close = difflib.get_close_matches(name, known, n=4, cutoff=0.5)
            hint = f"did you mean {', '.join('quantized:' + c.removeprefix('quantized_') for c in close)}?" if close \
                else f"known: {', '.join('quantized:' + c.removeprefix('quantized_') for c in known)}"
            raise E3GymError(f"unknown quantized model {spec!r}: {hint}")
        if device != "cpu" or dtype != "float32":
            raise E3GymError(f"model {spec!r}: quantized int8 models run on CPU only: use --device cpu --dtype float32")
        acc, source, engine = _torchvision_meta(tvm, name)
        engine = engine or torch.backends.quantized.engine
        if engine not in torch.backends.quantized.supported_engines:
            engine = next(e for e in ("fbgemm", "x86", "qnnpack") if e in torch.backends.quantized.supported_engines)
        module = tvm.get_model(name, weights=None, quantize=True, backend=engine).eval()
        torch.backends.quantized.engine = engine
        variant = {**variant, "precision": "int8", "quantized_engine": engine}
        notes = [camera.replace(dtype, "int8 (quint8)"),
                 "int8 quantized with random weights, calibrated on one random input (latency does not depend "
                 "on the weight values); top-1 is that of torchvision's quantized DEFAULT weights"]
        return ResolvedModel(spec, name, family_of(base), module, variant, acc, source,
                             3 * resolution ** 2 if resolution else numel, notes, name, engine)
    known = tvm.list_models(module=tvm)
    if spec not in known:
        close = difflib.get_close_matches(spec, known, n=4, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else \
            "run python -c 'import torchvision; print(torchvision.models.list_models())' for the names"
        raise E3GymError(f"unknown model {spec!r}: {hint} (MODEL is a torchvision classifier, quantized:NAME or "
                         "package.module:factory)")
    acc, source, _ = _torchvision_meta(tvm, spec)
    module = tvm.get_model(spec, weights=None).eval().to(device, torch_dtype)
    name = spec if dtype == "float32" else f"{spec}-{dtype}"
    notes = [camera, f"random weights (latency does not depend on the weight values); top-1 is that of "
                     f"torchvision {tv.__version__.split('+')[0]}'s DEFAULT weights at their own evaluation resolution"]
    return ResolvedModel(spec, name, family_of(spec), module, variant, acc, source,
                         3 * resolution ** 2 if resolution else numel, notes, spec)


# --------------------------------------------------------------------------- writing
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def default_device_name(hardware: dict[str, Any]) -> str:
    """``<cpu-or-gpu>-t<threads>-<dtype>``, e.g. ``amd-epyc-t2-float32``."""
    what = hardware["gpu"] if hardware["gpu"] else hardware["cpu_model"]
    what = re.sub(r"\((r|tm)\)|processor|cpu|@.*", "", what, flags=re.I)
    return f"{_slug(what)[:40] or 'device'}-t{hardware['threads']}-{hardware['dtype']}"


# A profile's file name is its model or device name: one plain name, never a path.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def output_file(out: Path, folder: str, name: str, what: str) -> Path:
    """``<out>/<folder>/<name>.json``; ValueError naming ``what`` (the argument) unless that stays in ``out``."""
    if not _FILE_NAME.fullmatch(name):
        raise E3GymError(f"{what}: the name {name!r} is not a plain file name (letters, digits, '.', '_' and '-', "
                         f"starting with a letter or digit); it would be written as {folder}/{name}.json under --out")
    path = out / folder / f"{name}.json"
    # Checked on the resolved path too, so that no name (or link already there) writes outside --out.
    if path.resolve().parent != (out / folder).resolve():
        raise E3GymError(f"{what}: {path} resolves to {path.resolve()}, outside {out / folder}")
    return path


def write_profiles(model_files: dict[Path, ModelFile], device_path: Path, device: DeviceProfile) -> None:
    """Write the model files and the device file together, only once every one of them is valid.

    Each is dumped through :mod:`e3gym.core.profiles` (which checks it against the loader), the
    device's per-block latencies are checked against the models' blocks, and only then are the
    files written, all to temporary files first (:func:`e3gym.files.write_texts_atomic`). On any
    error no target is touched and no temporary file is left.
    """
    from e3gym.core.profiles import (
        check_device_against_models,
        dump_device_file,
        dump_model_file,
    )
    from e3gym.files import write_texts_atomic

    texts = {path: dump_model_file(f, str(path)) for path, f in model_files.items()}
    texts[device_path] = dump_device_file(device, str(device_path))
    check_device_against_models(device, {m.name: m for f in model_files.values() for m in f.models})
    write_texts_atomic(texts)


def _check_existing(path: Path, blocks: list[dict[str, Any]]) -> None:
    """Refuse to replace a model file whose blocks differ (device files elsewhere may depend on them)."""
    if not path.exists():
        return
    from e3gym.core.profiles import ProfileError, load_model_file
    try:
        old = load_model_file(path)[0].blocks
        same = [(b.name, b.output_bytes) for b in old] == [(b["name"], b["output_bytes"]) for b in blocks]
    except (ProfileError, IndexError):
        same = False
    if not same:
        raise E3GymError(f"{path} already describes this model with other blocks (another partition, "
                         "--max-blocks, input shape or torch version), or is not a valid model file: use "
                         "another --out folder")


def _parse_top1(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, _, value = item.rpartition("=")
        try:
            frac = float(value)
        except ValueError:
            raise E3GymError(f"--top1 {item!r}: expected [MODEL=]FRACTION, e.g. --top1 mynet=0.71") from None
        if not 0 <= frac <= 1:
            raise E3GymError(f"--top1 {item!r}: the accuracy must be a fraction in [0, 1]")
        out[key] = frac
    return out


def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in re.split(r"[,x ]+", text.strip()) if s)
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise E3GymError(f"--input-shape {text!r}: expected positive integers like 3,224,224")
    return shape


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (options in canonical form)."""
    opts = [*args.models, "--device", args.device, "--dtype", args.dtype, "--runs", str(args.runs),
            "--warmup", str(args.warmup), *(["--idle-ms", f"{args.idle_ms:g}"] if args.idle_ms else []),
            "--partition", args.partition, "--max-blocks", str(args.max_blocks),
            "--input-shape", args.input_shape]
    if args.threads is not None:
        opts += ["--threads", str(args.threads)]
    return "e3gym profile " + " ".join(shlex.quote(o) for o in opts)


# --------------------------------------------------------------------------- the command
def run(args: argparse.Namespace) -> int:
    """Profile every MODEL and write the model files and the device file."""
    if not (math.isfinite(args.idle_ms) and 0 <= args.idle_ms <= 60_000):
        raise E3GymError(f"--idle-ms must be between 0 and 60000, got {args.idle_ms!r}")
    for opt, low in (("runs", 1), ("warmup", 0), ("max_blocks", 0)):
        if getattr(args, opt) < low:
            raise E3GymError(f"--{opt.replace('_', '-')} must be >= {low}, got {getattr(args, opt)}")
    if args.threads is not None and args.threads < 1:
        raise E3GymError(f"--threads must be >= 1, got {args.threads}")
    if args.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.name):
        raise E3GymError(f"--name {args.name!r}: use letters, digits, '.', '_' and '-' (it becomes a file name)")
    shape = _parse_shape(args.input_shape)
    top1 = _parse_top1(args.top1)

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise E3GymError(f"--device cuda: CUDA is not available on this machine ({why}); use --device cpu")
    old_threads = torch.get_num_threads()
    old_engine = torch.backends.quantized.engine
    try:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        return _profile(args, shape, top1)
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.quantized.engine = old_engine


def _stats(t: dict[str, Any], name: str | None = None) -> LatencyStats:
    """Measured latency statistics as stored: 10 significant digits."""
    from e3gym.core.profiles import LatencyStats, sig

    return LatencyStats(sig(t["median_s"]), sig(t["p10_s"]), sig(t["p90_s"]), t["n"], name)


def _profile(args: argparse.Namespace, shape: tuple[int, ...], top1: dict[str, float]) -> int:
    import torch
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from e3gym.core.profiles import (
        BlockProfile,
        DeviceProfile,
        ModelFile,
        ModelLatency,
        ModelProfile,
    )
    from e3gym.profiler.cuts import check_composition, fx_blocks
    from e3gym.profiler.flops import block_costs
    from e3gym.profiler.measure import hardware_fingerprint, measure_model

    console = Console(stderr=True)
    resolved = [resolve_model(s, args.device, args.dtype, shape, top1, args.top1_source) for s in args.models]
    names = [r.name for r in resolved]
    if len(set(names)) != len(names):
        raise E3GymError(f"a model is named twice: {', '.join(args.models)}")
    hardware = hardware_fingerprint(args.device, args.dtype)
    engines = {r.quantized_engine for r in resolved if r.quantized_engine}
    if engines:
        hardware["quantized_engine"] = ", ".join(sorted(engines))
    device_name = args.name or default_device_name(hardware)
    # Every output name is checked before any measurement.
    model_paths = {r.name: output_file(args.out, "models", r.name, f"MODEL {r.spec!r}") for r in resolved}
    device_path = output_file(args.out, "devices", device_name, "--name" if args.name else "device name")
    tier = args.tier or ("cloud" if args.device == "cuda" else "end")
    tol = {"float32": (1e-4, 1e-5), "float16": (1e-2, 1e-2)}[args.dtype]

    model_files: dict[Path, ModelFile] = {}
    latencies: dict[str, ModelLatency] = {}
    rows = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        for r in resolved:
            task = progress.add_task(f"{r.name}: splitting", total=None)
            x = torch.randn(1, *shape, device=args.device, dtype=getattr(torch, args.dtype))
            if args.partition == "reference":
                from e3gym.profiler.reference_partition import reference_blocks

                if r.torchvision_name is None or r.quantized_engine:
                    raise E3GymError(f"model {r.spec!r}: --partition reference covers float torchvision classifiers "
                                     "only; use --partition fx")
                blocks = reference_blocks(r.torchvision_name, r.module)
            else:
                blocks = fx_blocks(r.module, x, max_blocks=args.max_blocks, label=r.spec)
            check_composition(r.module, blocks, x, r.spec, *tol)
            costs = block_costs(blocks, x)
            model_path = model_paths[r.name]
            _check_existing(model_path, costs)  # before spending time on measurements that could not be kept
            progress.update(task, description=f"{r.name}: {len(blocks)} blocks", total=len(blocks) + 1)
            m = measure_model(r.name, r.module, blocks, x, args.device, args.runs, args.warmup,
                              on_block=lambda done, n, t=task: progress.update(t, completed=done), costs=costs,
                              idle_s=args.idle_ms / 1e3)
            model = ModelProfile(
                name=r.name, family=r.family, variant=r.variant, top1=r.top1, top1_source=r.top1_source,
                input_bytes=r.input_bytes, output_bytes=m.blocks[-1]["output_bytes"],
                note="; ".join(r.notes + ["flops: conv and fc count 2 per multiply-add, other counts one per "
                                          "element touched (e3gym.profiler.flops)"]),
                partition={"method": "torch.fx single-tensor cut points" if args.partition == "fx" else
                           "reference top-level blocks (profile_ref.py)",
                           "max_blocks": args.max_blocks if args.partition == "fx" else None},
                blocks=tuple(BlockProfile(name=b["name"], output_bytes=b["output_bytes"], shape=tuple(b["shape"]),
                                          flops=b["flops"], param_bytes=b["param_bytes"]) for b in m.blocks),
            )
            model_files[model_path] = ModelFile(
                models=(model,), description=f"{r.spec} measured by e3gym profile ({args.partition} partition)",
                generated={"by": "e3gym profile", "date": hardware["date"], "torch": hardware["torch"],
                           "torchvision": hardware["torchvision"]})
            latencies[r.name] = ModelLatency(total=_stats(m.total), blocks=tuple(
                _stats(t, b["name"]) for b, t in zip(m.blocks, m.block_latency)))
            rows.append((r.name, len(blocks), m.total["median_s"], sum(t["median_s"] for t in m.block_latency),
                         sum(sum(b["flops"].values()) for b in m.blocks)))
            progress.update(task, description=f"{r.name}: done")

    where = f"{hardware['gpu']} (host {hardware['cpu_model']})" if hardware["gpu"] else \
        f"{hardware['cpu_model']}, {hardware['machine']}, {hardware['threads']} thread(s)"
    timing = "CUDA-event timing" if args.device == "cuda" else "time.perf_counter timing"
    command = _command(args)
    device = DeviceProfile(
        name=device_name, tier=tier, hardware=hardware,
        power={"busy_w": None, "idle_w": None, "transmit_w": None, "note": "not measured by e3gym profile"},
        provenance={
            "method": "measured",
            "source": (f"measured by e3gym profile on {where}: torch {hardware['torch']}, {args.dtype}, batch 1, "
                       f"input {list(shape)}; each block ({args.partition} partition) timed in isolation on the real "
                       f"activation of the block before it, then the whole model in one piece; median/p10/p90 over "
                       f"{args.runs} runs after {args.warmup} warm-up runs"
                       f"{f', each one-piece run after {args.idle_ms:g} ms idle' if args.idle_ms else ''}; {timing}"),
            "date": hardware["date"], "runs": args.runs, "warmup": args.warmup, "partition": args.partition,
            "idle_ms": args.idle_ms,
            "command": command,
            "notes": [f"tier {tier!r} is a hint" + ("" if args.tier else " (default for the device kind)")]},
        models=latencies, source_file=str(device_path),
    )
    write_profiles(model_files, device_path, device)

    table = Table(title=f"{device_name} ({tier})")
    for col in ("model", "blocks", "one piece (ms)", "sum of blocks (ms)", "GFLOPs"):
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=col == "model")
    for name, n, total, summed, flops in rows:
        table.add_row(name, str(n), f"{total * 1e3:.2f}", f"{summed * 1e3:.2f}", f"{flops / 1e9:.3f}")
    Console().print(table)
    for path in [*model_files, device_path]:
        print(path)
    return 0
