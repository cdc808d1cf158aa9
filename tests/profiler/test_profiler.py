"""``e3gym profile``: fx cut points, block composition, FLOP counts, the written files and its errors.

The models are small ``nn.Module``s defined here and named as ``test_profiler:FACTORY`` on the command
line, so nothing needs torchvision; the torchvision checks skip where it is missing.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from e3gym.cli import main
from e3gym.core.profiles import ProfileLibrary, load_model_file
from e3gym.profiler import cuts, measure
from e3gym.profiler.flops import block_costs, count_flops, param_bytes

SHAPE = (3, 16, 16)


class Residual(nn.Module):
    """A basic residual block: two 3x3 convolutions with a skip connection around them."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.ReLU()
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.out = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv2(self.act(self.conv1(x))) + x)


class TinyResNet(nn.Module):
    """Stem conv, two residual blocks, global pooling, a linear classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.res1 = Residual(8)
        self.res2 = Residual(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.res2(self.res1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def make_tiny_resnet() -> nn.Module:
    """Factory named on the command line as ``test_profiler:make_tiny_resnet``."""
    torch.manual_seed(0)
    return TinyResNet()


def make_broken() -> nn.Module:
    """A factory that fails, as user code can."""
    raise RuntimeError("weights file missing")


def profile(tmp_path: Path, *extra: str, model: str = "test_profiler:make_tiny_resnet") -> int:
    return main(["profile", model, "--input-shape", "3,16,16", "--runs", "3", "--warmup", "1", "--top1", "0.5",
                 "--out", str(tmp_path), "--name", "testbox", "--threads", "1", *extra])


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- cut points
def test_no_cut_inside_a_residual_block_and_cuts_between_blocks() -> None:
    model = make_tiny_resnet().eval()
    gm = cuts.trace(model, torch.randn(1, *SHAPE))
    found = {str(n.target) if n.op == "call_module" else n.name for n in cuts.find_cuts(gm)}
    inside = {f"{b}.{layer}" for b in ("res1", "res2") for layer in ("conv1", "act", "conv2")}
    assert not found & inside, f"cut inside a residual block: {found & inside}"
    assert "stem" in found  # between the stem and the first residual block
    assert "res1.out" in found  # between the two residual blocks
    assert "res2.out" in found and "pool" in found and "flatten" in found


def test_blocks_compose_to_the_forward() -> None:
    model, x = make_tiny_resnet().eval(), torch.randn(1, *SHAPE)
    blocks = cuts.fx_blocks(model, x)
    names = [n for n, _ in blocks]
    assert names == ["stem", "res1", "res1.out", "res2", "res2.out", "pool", "flatten", "fc"]
    cuts.check_composition(model, blocks, x)  # raises if not equal
    with torch.inference_mode():
        y = x
        for _, b in blocks:
            y = b(y)
        assert torch.allclose(y, model(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="do not compose"):
        cuts.check_composition(model, blocks[:3] + blocks[4:], x)


def test_max_blocks_merges_cheapest_neighbours_only_at_cut_points() -> None:
    model, x = make_tiny_resnet().eval(), torch.randn(1, *SHAPE)
    blocks = cuts.fx_blocks(model, x, max_blocks=3)
    assert len(blocks) == 3
    cuts.check_composition(model, blocks, x)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=6))
def test_a_chain_is_cut_after_every_layer(widths: list[int]) -> None:
    layers = [nn.Linear(a, b) for a, b in zip(widths, widths[1:])]
    model, x = nn.Sequential(*layers).eval(), torch.randn(1, widths[0])
    blocks = cuts.fx_blocks(model, x)
    assert len(blocks) == len(layers)
    cuts.check_composition(model, blocks, x)
    costs = block_costs(blocks, x)
    assert [c["flops"]["fc"] for c in costs] == [2.0 * a * b for a, b in zip(widths, widths[1:])]


def test_untraceable_model_gives_a_clear_error() -> None:
    class DataDependent(nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(ValueError, match="cannot trace .* torch.fx"):
        cuts.trace(DataDependent(), torch.randn(1, 4))


# --------------------------------------------------------------------------- FLOPs and bytes
def test_flops_match_the_analytic_counts() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1, groups=1)
    flops, y = count_flops(conv, torch.randn(1, 3, 16, 16))
    assert flops == {"conv": 2 * 8 * 16 * 16 * 3 * 9, "fc": 0.0, "other": 0.0}
    dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
    assert count_flops(dw, y)[0]["conv"] == 2 * 8 * 16 * 16 * 1 * 9
    flops, _ = count_flops(nn.Sequential(nn.Linear(20, 7), nn.ReLU()), torch.randn(1, 20))
    assert flops == {"conv": 0.0, "fc": 2 * 20 * 7, "other": 7.0}  # the ReLU touches 7 elements
    assert param_bytes(nn.Linear(20, 7)) == (20 * 7 + 7) * 4
    shared = nn.Linear(4, 4)
    assert param_bytes(nn.Sequential(shared, shared)) == (16 + 4) * 4  # a shared layer counts once


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")  # torch.ao.quantization's own
def test_quantized_conv_counts_like_its_float_version() -> None:
    engine = next((e for e in ("x86", "fbgemm", "qnnpack") if e in torch.backends.quantized.supported_engines), None)
    if engine is None:
        pytest.skip("no quantized engine in this torch build")
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        from torch.ao import quantization as tq

        model = nn.Sequential(tq.QuantStub(), nn.Conv2d(3, 8, 3), nn.ReLU(), tq.DeQuantStub()).eval()
        model.qconfig = tq.get_default_qconfig(engine)
        prepared = tq.prepare(model)
        prepared(torch.randn(1, 3, 12, 12))
        qmodel = tq.convert(prepared)
        flops, _ = count_flops(qmodel, torch.randn(1, 3, 12, 12))
    finally:
        torch.backends.quantized.engine = old
    assert flops["conv"] == 2 * 8 * 10 * 10 * 3 * 9
    assert param_bytes(qmodel) == 8 * 3 * 9 * 1 + 8 * 4  # int8 weight, float32 bias


# --------------------------------------------------------------------------- end to end
def test_profile_writes_loadable_model_and_device_files(tmp_path: Path) -> None:
    assert profile(tmp_path) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in files_in(tmp_path)) == [
        "devices/testbox.json", "models/make_tiny_resnet.json"]
    lib = ProfileLibrary.from_dirs(tmp_path)  # validates both files and the block alignment
    model, dev = lib.model("make_tiny_resnet"), lib.device("testbox")
    assert [b.name for b in model.blocks] == ["stem", "res1", "res1.out", "res2", "res2.out", "pool", "flatten", "fc"]
    stem, fc = model.blocks[0], model.blocks[-1]
    assert stem.flops == {"conv": 2 * 8 * 16 * 16 * 3 * 9, "fc": 0.0, "other": 0.0}
    assert stem.output_bytes == 8 * 16 * 16 * 4 and stem.param_bytes == (8 * 3 * 9 + 8) * 4
    assert fc.flops["fc"] == 2 * 8 * 10 and fc.output_bytes == 10 * 4 and fc.param_bytes == (80 + 10) * 4
    res = model.blocks[1]
    assert res.flops["conv"] == 2 * (2 * 8 * 16 * 16 * 8 * 9) and res.flops["other"] > 0  # ReLU + add
    assert model.input_bytes == 3 * 16 * 16 * 4 and model.top1 == 0.5
    assert dev.provenance["method"] == "measured" and "e3gym profile" in dev.provenance["source"]
    assert dev.hardware["threads"] == 1 and dev.hardware["cpu_model"] and dev.hardware["torch"] == torch.__version__
    entry = dev.latency("make_tiny_resnet")
    assert len(entry.blocks) == len(model.blocks) and entry.total.n == 3
    assert all(0 < b.p10_s <= b.median_s <= b.p90_s for b in entry.blocks)
    assert len(dev.block_latencies_s(model)) == len(model.blocks)


def test_profile_of_the_same_model_on_two_devices_shares_the_model_file(tmp_path: Path) -> None:
    assert profile(tmp_path) == 0
    assert main(["profile", "test_profiler:make_tiny_resnet", "--input-shape", "3,16,16", "--runs", "2",
                 "--warmup", "0", "--top1", "0.5", "--out", str(tmp_path), "--name", "otherbox"]) == 0
    lib = ProfileLibrary.from_dirs(tmp_path)
    assert set(lib.devices) == {"testbox", "otherbox"} and list(lib.models) == ["make_tiny_resnet"]
    # another partition of the same model would silently misalign testbox: refused
    assert profile(tmp_path, "--max-blocks", "2") == 2


def test_factory_that_raises_gives_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert profile(tmp_path, model="test_profiler:make_broken") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "test_profiler:make_broken" in err and "RuntimeError: weights file missing" in err
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("model, message", [
    ("no_such_module_xyz:make", "cannot import module 'no_such_module_xyz'"),
    ("test_profiler:make_nothing", "has no callable 'make_nothing'"),
    ("test_profiler:SHAPE", "has no callable 'SHAPE'"),
])
def test_bad_factory_names(tmp_path: Path, capsys: pytest.CaptureFixture, model: str, message: str) -> None:
    assert profile(tmp_path, model=model) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_missing_top1_is_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["profile", "test_profiler:make_tiny_resnet", "--input-shape", "3,16,16", "--out", str(tmp_path)]) == 2
    assert "--top1 make_tiny_resnet=FRACTION" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda_gives_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert profile(tmp_path, "--device", "cuda") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "CUDA is not available" in err and "--device cpu" in err
    assert files_in(tmp_path) == []


def test_interrupted_measurement_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = measure.latency_stats

    def fail_on_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # as Ctrl-C mid-way through the blocks
        return real(*args, **kwargs)

    monkeypatch.setattr(measure, "latency_stats", fail_on_fourth)
    assert profile(tmp_path) == 130
    assert calls["n"] == 4 and files_in(tmp_path) == []


def test_failure_while_writing_leaves_old_files_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert profile(tmp_path) == 0
    before = {p: p.read_bytes() for p in files_in(tmp_path)}
    import e3gym.files

    def crash(*args, **kwargs):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(e3gym.files.os, "replace", crash)  # after the temporary files are written
    with pytest.raises(RuntimeError, match="disk went away"):
        profile(tmp_path)
    assert {p: p.read_bytes() for p in files_in(tmp_path)} == before  # no temp files, nothing replaced


# --------------------------------------------------------------------------- torchvision (optional)
def test_missing_torchvision_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    try:
        import torchvision  # noqa: F401
        pytest.skip("torchvision is installed")
    except Exception:
        pass
    assert profile(tmp_path, model="resnet18") == 2
    assert "pip install 'e3gym[profile]'" in capsys.readouterr().err


def test_unknown_torchvision_name_lists_close_matches(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("torchvision")
    assert profile(tmp_path, model="resnet19") == 2
    err = capsys.readouterr().err
    assert "unknown model 'resnet19'" in err and "resnet18" in err


def test_torchvision_reference_partition_matches_the_shipped_blocks(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    from e3gym.profiler.reference_partition import reference_blocks, torchvision_model

    shipped = {m.name: m for m in load_model_file(Path(__file__).parents[2] / "profiles/models/torchvision.json")}
    model = torchvision_model("resnet18")
    costs = block_costs(reference_blocks("resnet18", model), torch.zeros(1, 3, 224, 224))
    assert [(c["name"], c["output_bytes"]) for c in costs] == \
        [(b.name, b.output_bytes) for b in shipped["resnet18"].blocks]
    macs = sum(c["flops"]["conv"] + c["flops"]["fc"] for c in costs) / 2
    assert macs / 1e9 == pytest.approx(1.814, abs=1e-3)  # torchvision's published GFLOPS (multiply-adds)


def test_profile_json_is_valid_for_the_loader_without_extra_files(tmp_path: Path) -> None:
    assert profile(tmp_path, "--max-blocks", "4") == 0
    data = json.loads((tmp_path / "models" / "make_tiny_resnet.json").read_text())
    spec = data["models"][0]
    assert len(spec["blocks"]) == 4 and spec["partition"]["max_blocks"] == 4
    assert sum(sum(b["flops"].values()) for b in spec["blocks"]) > 0


# --------------------------------------------------------------------------- output paths
# Factories whose names are paths: reachable as test_profiler:<name> through getattr.
globals()["../../escaped"] = make_tiny_resnet
globals()["/tmp/e3gym_profiler_absolute"] = make_tiny_resnet


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/e3gym_profiler_absolute"])
def test_a_model_name_that_is_a_path_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture, name: str) -> None:
    out = tmp_path / "out"
    assert profile(out, model=f"test_profiler:{name}") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"MODEL 'test_profiler:{name}'" in err and "not a plain file name" in err
    assert files_in(tmp_path) == [] and not Path(f"{name}.json").exists()


def test_a_device_name_that_is_a_path_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert profile(tmp_path / "out", "--name", "../evil") == 2
    assert "--name '../evil'" in capsys.readouterr().err
    assert files_in(tmp_path) == []


def test_output_file_stays_inside_out_even_through_a_link(tmp_path: Path) -> None:
    from e3gym.profiler.cli import output_file
    out = tmp_path / "out"
    assert output_file(out, "models", "resnet18", "MODEL 'resnet18'") == out / "models" / "resnet18.json"
    (out / "models").mkdir(parents=True)
    (out / "models" / "linked.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ValueError, match=r"MODEL 'x': .*linked.json resolves to .*elsewhere.json, outside"):
        output_file(out, "models", "linked", "MODEL 'x'")
    for bad in ("a/b", "..", ".hidden", "a\\b", ""):
        with pytest.raises(ValueError, match="not a plain file name"):
            output_file(out, "models", bad, "MODEL 'x'")
