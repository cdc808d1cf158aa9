"""The shipped profiles load and are consistent; the converter reproduces them from the reference data."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from e3gym.core.profiles import (ProfileError, ProfileLibrary, builtin_library, builtin_profile_dir,
                                 load_device_file)
from e3gym.profiler import convert

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
SOURCES = REPO / "profiles" / "sources"
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "profiles").is_dir(),
    reason=f"reference data folder {REFERENCE} is not present (it sits beside the repository in CI)")


@pytest.fixture(scope="module")
def lib() -> ProfileLibrary:
    """The shipped profile library."""
    return builtin_library()


def shares(xs: list[float]) -> list[float]:
    """Each value as a fraction of the sum."""
    total = sum(xs)
    return [x / total for x in xs]


def test_builtin_library_loads(lib: ProfileLibrary) -> None:
    assert {"h100-fp32", "xeon-t4", "epyc-t1", "rpi4-cortex-a72", "aws-m7g.2xlarge-tflite",
            "aws-m7g.2xlarge-calibrated"} <= set(lib.devices)
    assert "resnet50" in lib.models and "mobilenet-v2-precision_float-1.0-224" in lib.models


def test_blocks_line_up_with_models(lib: ProfileLibrary) -> None:
    for dev in lib.devices.values():
        assert dev.models, dev.name
        for name, entry in dev.models.items():
            model = lib.model(name)
            if entry.blocks is None:
                if model.has_blocks:  # a whole-model figure for a partitionable model: refused clearly
                    with pytest.raises(ProfileError, match="only a whole-model latency"):
                        dev.block_latencies_s(model)
                    continue
            else:
                assert len(entry.blocks) == len(model.blocks), (dev.name, name)
            lat = dev.block_latencies_s(model)
            assert len(lat) == model.n_blocks
            assert math.isclose(sum(lat), entry.total.median_s, rel_tol=1e-9)


def test_every_device_has_provenance_and_tier(lib: ProfileLibrary) -> None:
    for dev in lib.devices.values():
        assert dev.provenance["method"] in ("measured", "published", "calibrated"), dev.name
        assert len(dev.provenance["source"]) > 20, dev.name
        assert dev.tier in ("end", "edge", "cloud")
        if dev.power.get("busy_w") is not None:
            assert dev.power["source"]


def test_rpi4_resnet50_matches_published_midpoint(lib: ProfileLibrary) -> None:
    rpi = lib.device("rpi4-cortex-a72")
    assert rpi.provenance["method"] == "calibrated"
    assert rpi.latency("resnet50").total.median_s == pytest.approx(0.32905, abs=1e-12)
    assert set(rpi.provenance["matched"]) == {"resnet50"}


@pytest.mark.parametrize("target", ["rpi4-cortex-a72", "aws-m7g.2xlarge-calibrated"])
def test_calibrated_shares_equal_source_shares(lib: ProfileLibrary, target: str) -> None:
    dev = lib.device(target)
    src = lib.device(dev.provenance["shape_from"])
    assert src.provenance["method"] == "measured"
    for name, entry in dev.models.items():
        mine = shares([b.median_s for b in entry.blocks])
        theirs = shares([b.median_s for b in src.latency(name).blocks])
        assert mine == pytest.approx(theirs, rel=1e-6), name
        factor = entry.total.median_s / src.latency(name).total.median_s
        for key in ("p10_s", "p90_s"):
            assert getattr(entry.total, key) == pytest.approx(getattr(src.latency(name).total, key) * factor,
                                                              rel=1e-6)


def test_m7g_calibration_matches_published_figures(lib: ProfileLibrary) -> None:
    cal, pub = lib.device("aws-m7g.2xlarge-calibrated"), lib.device("aws-m7g.2xlarge-tflite")
    for tv, ml in convert.M7G_MATCHES.items():
        assert cal.latency(tv).total.median_s == pytest.approx(pub.latency(ml).total.p90_s, abs=1e-12)
    factors = [v["scale"] for v in cal.provenance["matched"].values()]
    assert cal.provenance["extrapolation_scale"] == pytest.approx(convert.geomean(factors), rel=1e-5)
    assert not any(n.startswith("efficientnet") for n in cal.provenance["matched"])


def test_published_device_is_whole_model_only(lib: ProfileLibrary) -> None:
    pub = lib.device("aws-m7g.2xlarge-tflite")
    for name, entry in pub.models.items():
        assert entry.blocks is None and entry.total.n == 1
        assert entry.total.median_s == entry.total.p10_s == entry.total.p90_s
        assert not lib.model(name).has_blocks


def test_mlperf_names_parse() -> None:
    fam, var, classes = convert.parse_mlperf_name("mobilenet-v2-precision_uint8-0.35-160")
    assert (fam, var["width"], var["resolution"], var["precision"], classes) == ("mobilenet_v2", 0.35, 160,
                                                                                   "uint8", 1001)
    fam, var, _ = convert.parse_mlperf_name("mobilenet-v3-precision_float-small-minimalistic-224")
    assert fam == "mobilenet_v3_small" and var["minimalistic"] is True
    assert convert.parse_mlperf_name("efficientnet-fp32-lite4")[1]["resolution"] == 300
    with pytest.raises(ValueError):
        convert.parse_mlperf_name("resnet50")


@needs_reference
def test_reference_round_trips_medians() -> None:
    ref = convert.load_json(REFERENCE / "profiles" / "devcpu-t4-float32.json")
    dev = convert.reference_to_device(ref, "xeon-t4", "edge", "devcpu-t4-float32.json")
    models = convert.reference_to_models(ref)
    for name, m in ref["models"].items():
        assert dev["models"][name]["total"]["median_s"] == pytest.approx(m["total_ms"]["median"] / 1000, abs=1e-9)
        got = [b["median_s"] for b in dev["models"][name]["blocks"]]
        assert got == pytest.approx([b["latency_ms"]["median"] / 1000 for b in m["blocks"]], abs=1e-9)
    spec = next(m for m in models["models"] if m["name"] == "resnet50")
    assert spec["input_bytes"] == 3 * 224 * 224
    assert spec["blocks"][0]["output_bytes"] == ref["models"]["resnet50"]["blocks"][0]["out_numel"] * 4


@needs_reference
def test_shipped_files_are_up_to_date() -> None:
    built = convert.build_all(REFERENCE, SOURCES)
    for rel, data in built.items():
        shipped = json.loads((builtin_profile_dir() / rel).read_text(encoding="utf-8"))
        assert shipped == json.loads(json.dumps(data)), f"profiles/{rel} is stale: rerun the converter"


@needs_reference
def test_main_writes_a_loadable_library(tmp_path: Path) -> None:
    assert convert.main(["--reference", str(REFERENCE), "--sources", str(SOURCES), "--out", str(tmp_path)]) == 0
    lib = ProfileLibrary.from_dirs(tmp_path)
    assert set(lib.devices) == set(builtin_library().devices)
    assert not list(tmp_path.rglob("*.tmp"))


def corrupt(tmp_path: Path, edit) -> Path:
    """A copy of the shipped xeon-t4 device file with ``edit`` applied to its JSON."""
    data = json.loads((builtin_profile_dir() / "devices" / "xeon-t4.json").read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "xeon-t4-broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["models"]["resnet50"].pop("total"), "models.resnet50.total"),
    (lambda d: d["models"]["resnet50"]["total"].update(median_s=-0.01), "models.resnet50.total.median_s"),
    (lambda d: d.update(schema="e3gym.device/0"), "schema"),
    (lambda d: d["provenance"].pop("source"), "provenance.source"),
    (lambda d: d["models"]["vgg16"]["blocks"][3].update(p90_s="slow"), "models.vgg16.blocks[3].p90_s"),
])
def test_corrupted_device_file_names_file_and_field(tmp_path: Path, edit, field: str) -> None:
    path = corrupt(tmp_path, edit)
    with pytest.raises(ProfileError) as err:
        load_device_file(path)
    assert str(path) in str(err.value) and repr(field) in str(err.value)


def test_misaligned_blocks_are_rejected(tmp_path: Path, lib: ProfileLibrary) -> None:
    path = corrupt(tmp_path, lambda d: d["models"]["resnet50"]["blocks"].pop())
    with pytest.raises(ProfileError, match=r"models\.resnet50\.blocks"):
        load_device_file(path, lib.models)
