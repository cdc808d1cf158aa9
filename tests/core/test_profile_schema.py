"""The profile schema's reader and writer agree: load then dump gives the same bytes, for the profiler's
files, for every shipped file and for generated profiles; and the reader refuses what the writer never writes."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from e3gym.cli import main
from e3gym.core.profiles import (
    FLOP_KINDS,
    PROVENANCE_METHODS,
    TIERS,
    BlockProfile,
    CutEquivalent,
    DeviceProfile,
    LatencyStats,
    ModelFile,
    ModelLatency,
    ModelProfile,
    ProfileError,
    ProfileLibrary,
    dump_device_file,
    dump_model_file,
    load_device_file,
    parse_device,
    parse_model_file,
    read_model_file,
    write_device_file,
    write_model_file,
)

TESTS = Path(__file__).resolve().parent
PROFILES = TESTS.parents[1] / "profiles"  # from this file, not the package: CI tests an installed copy
SHIPPED_MODELS = sorted((PROFILES / "models").glob("*.json"))
SHIPPED_DEVICES = sorted((PROFILES / "devices").glob("*.json"))


def make_mlp() -> nn.Module:
    """Factory named on the command line as ``test_profile_schema:make_mlp``."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


PROFILE_ARGS = ["profile", "test_profile_schema:make_mlp", "--input-shape", "8", "--runs", "2", "--warmup", "0",
                "--top1", "0.5", "--top1-source", "test fixture", "--name", "schemabox", "--threads", "1"]


def redump(path: Path) -> str:
    """``path`` loaded through the schema and dumped again."""
    if path.parent.name == "models":
        return dump_model_file(read_model_file(path))
    return dump_device_file(load_device_file(path))


# --------------------------------------------------------------------------- files that exist
def test_profiler_output_reloads_and_rewrites_to_the_same_bytes(tmp_path: Path) -> None:
    out = tmp_path / "measured"
    assert main([*PROFILE_ARGS, "--out", str(out)]) == 0
    model_path, device_path = out / "models" / "make_mlp.json", out / "devices" / "schemabox.json"
    lib = ProfileLibrary.from_dirs(out)  # loads both and checks their block alignment
    assert [b.name for b in lib.model("make_mlp").blocks] == [b.name for b in lib.device("schemabox").models[
        "make_mlp"].blocks]
    for path in (model_path, device_path):
        assert redump(path) == path.read_text(encoding="utf-8"), path
    # written again through the writer's own file functions: byte-identical files
    write_model_file(tmp_path / "again" / "m.json", read_model_file(model_path))
    write_device_file(tmp_path / "again" / "d.json", load_device_file(device_path))
    assert (tmp_path / "again" / "m.json").read_bytes() == model_path.read_bytes()
    assert (tmp_path / "again" / "d.json").read_bytes() == device_path.read_bytes()


def test_the_profiler_does_not_import_the_curation_tools(tmp_path: Path) -> None:
    code = ("import sys; from e3gym.cli import main; "
            f"rc = main({[*PROFILE_ARGS, '--out', str(tmp_path)]!r}); "
            "print(rc, sorted(m for m in sys.modules if m.startswith('e3gym.curation')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr[-2000:]


@pytest.mark.parametrize("path", SHIPPED_MODELS + SHIPPED_DEVICES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_is_exactly_what_the_writer_writes(path: Path) -> None:
    assert redump(path) == path.read_text(encoding="utf-8")


def test_there_are_shipped_files_to_check() -> None:
    assert len(SHIPPED_MODELS) >= 4 and len(SHIPPED_DEVICES) >= 20


def test_ans_fields_are_kept_by_the_schema() -> None:
    # values read off profiles/ (ANS tables, published/ans-jetson-tx2-vgg16.csv: 1 conv + 1 other layer in unit 1)
    vgg = next(m for m in read_model_file(PROFILES / "models" / "ans-vgg16.json").models)
    assert vgg.blocks[0].layers == {"conv": 1, "fc": 0, "other": 1}
    assert vgg.equivalent.model == "vgg16" and len(vgg.equivalent.cut) == vgg.n_blocks + 1
    assert vgg.equivalent.cut[:3] == (0, 2, 4) and all(type(c) is int for c in vgg.equivalent.cut[:3])
    tx2 = load_device_file(PROFILES / "devices" / "jetson-tx2-ans.json")
    cuts = tx2.models["ans-vgg16"].cut_latency_s
    assert len(cuts) == 23 and cuts[0] == 0.0 and cuts[-1] == tx2.models["ans-vgg16"].total.median_s


# --------------------------------------------------------------------------- generated profiles
names = st.text("abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=8)
json_scalars = (st.none() | st.booleans() | st.integers(-10 ** 9, 10 ** 9) | st.floats(allow_nan=False,
                allow_infinity=False) | st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
free_dicts = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
sizes = st.integers(0, 2 ** 40)
optional = lambda s: st.none() | s  # noqa: E731


@st.composite
def latency_stats(draw, name: str | None = None) -> LatencyStats:
    med = draw(st.floats(1e-6, 60.0))  # p90 <= 50 x median stays under the 3600 s cap
    p10 = draw(st.floats(med / 50, med))  # p90 / p10 <= 2500, inside the loader's spread limit
    p90 = draw(st.floats(med, med * 50))
    return LatencyStats(med, p10, p90, draw(st.integers(0, 10 ** 6)), name)


@st.composite
def model_profiles(draw) -> ModelProfile:
    block_names = draw(st.lists(names, max_size=5, unique=True))
    blocks = tuple(BlockProfile(
        name=b, output_bytes=draw(sizes),
        flops=draw(optional(st.fixed_dictionaries({k: st.floats(0, 1e15) for k in FLOP_KINDS}))),
        param_bytes=draw(optional(sizes)),
        shape=draw(optional(st.tuples(*[st.integers(0, 4096)] * draw(st.integers(0, 4))))),
        layers=draw(optional(st.fixed_dictionaries({k: st.integers(0, 100) for k in FLOP_KINDS}))),
    ) for b in block_names)
    n_cuts = max(1, len(blocks)) + 1
    cuts = st.lists(st.integers(0, 50) | st.floats(0, 50), min_size=n_cuts, max_size=n_cuts).map(tuple)
    return ModelProfile(
        name=draw(names), family=draw(names), variant=draw(free_dicts), top1=draw(st.floats(0, 1)),
        top1_source=draw(st.text(max_size=20)), input_bytes=draw(sizes), output_bytes=draw(sizes), blocks=blocks,
        note=draw(optional(st.text(max_size=20))), meta=draw(optional(free_dicts)),
        partition=draw(optional(free_dicts)), ans=draw(optional(free_dicts)),
        equivalent=draw(optional(st.builds(CutEquivalent, model=names, cut=cuts, note=optional(st.text(max_size=9))))),
    )


@st.composite
def model_files(draw) -> ModelFile:
    return ModelFile(models=tuple(draw(st.lists(model_profiles(), min_size=1, max_size=3))),
                     description=draw(optional(st.text(max_size=20))), generated=draw(optional(free_dicts)))


@st.composite
def model_latencies(draw) -> ModelLatency:
    blocks = draw(optional(st.lists(names, max_size=4, unique=True)))
    return ModelLatency(
        total=draw(latency_stats()),
        blocks=None if blocks is None else tuple(draw(latency_stats(b)) for b in blocks),
        cut_latency_s=draw(optional(st.lists(st.floats(0, 3600), min_size=1, max_size=5).map(tuple))),
        measured_top1=draw(optional(st.floats(0, 1))),
    )


@st.composite
def devices(draw) -> DeviceProfile:
    busy = draw(optional(st.floats(0, 1e4)))
    power = {"busy_w": busy, "idle_w": draw(optional(st.floats(0, 1e4))), "note": draw(st.text(max_size=9))}
    if busy is not None:
        power["source"] = draw(st.text(max_size=20))  # a power figure needs its citation
    provenance = {**draw(free_dicts), "method": draw(st.sampled_from(PROVENANCE_METHODS)),
                  "source": draw(st.text(max_size=20))}
    return DeviceProfile(name=draw(names), tier=draw(st.sampled_from(TIERS)), hardware=draw(free_dicts),
                         power=power, provenance=provenance,
                         models=draw(st.dictionaries(names, model_latencies(), max_size=3)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_files())
def test_model_file_round_trips_through_dump_and_load(model_file: ModelFile) -> None:
    text = dump_model_file(model_file)
    loaded = parse_model_file(json.loads(text), "gen.json")
    assert loaded == dataclasses.replace(model_file, models=tuple(
        dataclasses.replace(m, source_file="gen.json") for m in model_file.models))
    assert dump_model_file(loaded) == text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(devices())
def test_device_file_round_trips_through_dump_and_load(device: DeviceProfile) -> None:
    text = dump_device_file(device)
    loaded = parse_device(json.loads(text), "gen.json")
    assert loaded == dataclasses.replace(device, source_file="gen.json")
    assert dump_device_file(loaded) == text


# --------------------------------------------------------------------------- what the reader refuses
def shipped(rel: str) -> dict:
    return json.loads((PROFILES / rel).read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict, name: str = "broken.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_misspelt_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    data = shipped("models/torchvision.json")
    block = data["models"][0]["blocks"][0]
    block["ouput_bytes"] = block.pop("output_bytes")
    path = write(tmp_path, data)
    with pytest.raises(ProfileError) as err:
        read_model_file(path)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1 and str(path) in msg
    assert "'models[0](mobilenet_v3_small).blocks[0].ouput_bytes'" in msg and "did you mean 'output_bytes'" in msg


def test_an_unknown_device_entry_key_is_refused(tmp_path: Path) -> None:
    data = shipped("devices/xeon-t4.json")
    data["models"]["resnet50"]["cut_latency"] = [0.0]
    with pytest.raises(ProfileError, match=r"'models\.resnet50\.cut_latency'.*did you mean 'cut_latency_s'"):
        load_device_file(write(tmp_path, data))


def test_nan_in_a_free_form_field_is_refused_naming_it(tmp_path: Path) -> None:
    data = shipped("devices/xeon-t4.json")
    text = json.dumps(data).replace('"threads": 4', '"threads": NaN', 1)  # Python's reader takes NaN; JSON has none
    assert "NaN" in text
    path = tmp_path / "nan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=r"nan\.json: field 'hardware\.threads': expected a finite number, got nan"):
        load_device_file(path)


def test_per_cut_delays_must_have_one_value_per_cut(tmp_path: Path) -> None:
    lib = ProfileLibrary.from_dirs(PROFILES)
    data = shipped("devices/jetson-tx2-ans.json")
    data["models"]["ans-vgg16"]["cut_latency_s"].pop()
    with pytest.raises(ProfileError, match=r"'models\.ans-vgg16\.cut_latency_s': 22 values .* 23 cuts"):
        load_device_file(write(tmp_path, data), lib.models)


def test_equivalent_cuts_must_have_one_value_per_cut(tmp_path: Path) -> None:
    data = shipped("models/ans-vgg16.json")
    data["models"][0]["equivalent"]["cut"].append(34)
    with pytest.raises(ProfileError, match=r"equivalent\.cut': 24 cuts, expected 23"):
        read_model_file(write(tmp_path, data))


def test_a_block_latency_named_otherwise_than_the_model_block_is_refused(tmp_path: Path) -> None:
    lib = ProfileLibrary.from_dirs(PROFILES)
    data = shipped("devices/xeon-t4.json")
    data["models"]["resnet50"]["blocks"][2]["name"] = "layer9.9"
    with pytest.raises(ProfileError, match=r"'models\.resnet50\.blocks\[2\]\.name': 'layer9\.9' does not match"):
        load_device_file(write(tmp_path, data), lib.models)


def test_the_writer_refuses_what_the_reader_would() -> None:
    bad = ModelProfile(name="m", family="f", variant={}, top1=1.5, top1_source="s", input_bytes=1, output_bytes=1)
    with pytest.raises(ProfileError, match=r"out\.json: field 'models\[0\]\(m\)\.accuracy\.top1'"):
        dump_model_file(ModelFile(models=(bad,)), "out.json")
