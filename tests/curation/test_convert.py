"""The shipped profiles load and are consistent; the converter reproduces them from the reference data."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from e3gym.core.profiles import (
    ModelFile,
    ProfileError,
    ProfileLibrary,
    builtin_library,
    dump_device_file,
    dump_model_file,
    load_device_file,
)
from e3gym.curation import convert

# Paths from this file, not from the package: CI tests an installed (non-editable) copy of e3gym.
REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"  # the repository sits beside shared/
PROFILES = REPO / "profiles"
SOURCES = PROFILES / "sources"
AWS_TABLES = sorted(SOURCES.glob("mlperf5-aws-*.csv"))
KRAI_DEVICES = {"rpi4-cortex-a72-armnn", "odroid-n2plus-armnn", "odroid-n2plus-tflite", "xavier-agx-cpu-armnn",
                "xavier-agx-cpu-tflite"}
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


def test_rpi4_models_match_their_own_published_figures(lib: ProfileLibrary) -> None:
    rpi = lib.device("rpi4-cortex-a72")
    assert rpi.provenance["method"] == "calibrated"
    # realtime_rpi.rst "model ms/frame": resnet18 100.3, resnet50 225.2, shufflenet_v2_x1_0 37.7;
    # Krai MLPerf v2.0 TFLite mobilenet-v2 p50 62.4 ms
    published = {"resnet18": 0.1003, "resnet50": 0.2252, "shufflenet_v2_x1_0": 0.0377, "mobilenet_v2": 0.0624}
    for name, seconds in published.items():
        assert rpi.latency(name).total.median_s == pytest.approx(seconds, abs=1e-12), name
    assert set(rpi.provenance["matched"]) == set(published)
    factors = {m: r["scale"] for m, r in rpi.provenance["matched"].items()}
    assert len(set(factors.values())) == 4  # one factor per model, not one for all
    # every extrapolated model says how far off it may be
    assert set(rpi.provenance["uncertainty"]) == set(rpi.provenance["extrapolated"])
    # the spread is the Pi's own (Krai ResNet50 log: p90 347.37 / p50 329.05), not the EPYC's
    t = rpi.latency("vgg16").total
    assert t.p90_s / t.median_s == pytest.approx(347.37 / 329.05, rel=1e-6)


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
        if target == "rpi4-cortex-a72":
            continue  # its p10/p90 are the Pi's own spread (test above)
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


def test_published_devices_are_whole_model_only(lib: ProfileLibrary) -> None:
    published = [d for d in lib.devices.values() if d.provenance["method"] == "published"]
    assert {d.name for d in published} >= {"aws-m7g.2xlarge-tflite"} | KRAI_DEVICES
    for pub in published:
        if pub.name == "rpi4-cortex-a72-tflite" or pub.source_file.endswith("jetson-tx2-ans.json"):
            continue  # tables that publish several statistics (checked on their own)
        for name, entry in pub.models.items():
            assert entry.blocks is None and entry.total.n == 1, (pub.name, name)
            assert entry.total.median_s == entry.total.p10_s == entry.total.p90_s
        assert "n = 1" in pub.provenance["statistic"]


def test_every_aws_table_is_a_device_with_its_header_hardware(lib: ProfileLibrary) -> None:
    assert len(AWS_TABLES) == 9
    tiers = {"c6g": "end", "c6gd": "end", "c7g": "edge", "m7g": "edge", "m8g": "cloud"}
    for path in AWS_TABLES:
        instance, backend = path.stem.removeprefix("mlperf5-aws-").rsplit("-", 1)
        dev = lib.device(f"aws-{instance}-{backend}")
        comments, rows = convert.read_mlperf_csv(path)
        assert dev.tier == tiers[instance.split(".")[0]]
        assert dev.hardware["platform"] == f"AWS EC2 {instance}"
        graviton = dev.hardware["cpu_model"].split(" (")[0].removeprefix("AWS ")
        assert f"{graviton}, " in comments[0] and f"{dev.hardware['vcpus']} vCPU" in comments[0]
        assert dev.provenance["source_path"] in comments[1] and dev.provenance["source_path"].endswith("README.md")
        assert dev.provenance["source_file"] == f"profiles/sources/{path.name}"
        assert len(dev.models) == len(rows)
        row = rows[0]
        assert dev.latency(row["model"]).total.p90_s == pytest.approx(float(row["latency_p90_ms"]) / 1000)


def test_table_accuracy_differing_from_model_file_is_kept_per_device(lib: ProfileLibrary) -> None:
    raw = json.loads((PROFILES / "devices" / "aws-c6g.2xlarge-tflite.json").read_text(encoding="utf-8"))
    _, rows = convert.read_mlperf_csv(SOURCES / "mlperf5-aws-c6g.2xlarge-tflite.csv")
    differ = 0
    for row in rows:
        entry, canonical = raw["models"][row["model"]], lib.model(row["model"]).top1
        if round(float(row["accuracy_top1_pct"]) / 100, 6) == pytest.approx(canonical, abs=1e-9):
            assert "measured_top1" not in entry
        else:
            assert entry["measured_top1"] == pytest.approx(float(row["accuracy_top1_pct"]) / 100)
            differ += 1
    assert differ > 0 and "measured_top1" in " ".join(raw["provenance"]["notes"])


def test_krai_boards_keep_log_figures(lib: ProfileLibrary) -> None:
    assert KRAI_DEVICES <= set(lib.devices)
    for name in KRAI_DEVICES:
        dev = lib.device(name)
        assert dev.tier == "end" and set(dev.models) == {"resnet50"}
        figs = dev.provenance["log_figures_ms"]
        assert figs["early_stopping_p90"] / 1000 == pytest.approx(dev.latency("resnet50").total.median_s)
        assert figs["p90"] <= figs["early_stopping_p90"]  # early stopping only adds a margin
    rpi = lib.device("rpi4-cortex-a72-armnn").provenance["log_figures_ms"]
    assert (rpi["min"], rpi["mean"], rpi["p90"]) == (319.078626, 333.393956, 347.371992)


def test_krai_row_must_match_its_header_line(tmp_path: Path) -> None:
    text = (SOURCES / "mlperf2-krai-arm-boards.csv").read_text(encoding="utf-8")
    bad = tmp_path / "krai.csv"
    bad.write_text(text.replace("rpi4,resnet50,armnn-v21.11-neon,,349.114113", "rpi4,resnet50,armnn-v21.11-neon,,315"),
                   encoding="utf-8")
    with pytest.raises(ValueError, match="rpi4-cortex-a72-armnn latency_p90_ms 315"):
        convert.krai_devices(bad)


def test_aws_table_header_must_match_file_name(tmp_path: Path) -> None:
    text = (SOURCES / "mlperf5-aws-c7g.2xlarge-armnn.csv").read_text(encoding="utf-8")
    bad = tmp_path / "mlperf5-aws-c7g.4xlarge-armnn.csv"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="header names c7g.2xlarge"):
        convert.aws_table_device(bad, {})


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
        assert dev.models[name].total.median_s == pytest.approx(m["total_ms"]["median"] / 1000, abs=1e-9)
        got = [b.median_s for b in dev.models[name].blocks]
        assert got == pytest.approx([b["latency_ms"]["median"] / 1000 for b in m["blocks"]], abs=1e-9)
    spec = next(m for m in models.models if m.name == "resnet50")
    assert spec.input_bytes == 3 * 224 * 224
    assert spec.blocks[0].output_bytes == ref["models"]["resnet50"]["blocks"][0]["out_numel"] * 4


@needs_reference
def test_shipped_files_are_up_to_date() -> None:
    built = convert.build_all(REFERENCE, SOURCES, existing=PROFILES)
    for rel, profile in built.items():
        fresh = dump_model_file(profile) if isinstance(profile, ModelFile) else dump_device_file(profile)
        assert (PROFILES / rel).read_text(encoding="utf-8") == fresh, f"profiles/{rel} is stale: rerun the converter"


@needs_reference
def test_main_writes_a_loadable_library(tmp_path: Path) -> None:
    assert convert.main(["--reference", str(REFERENCE), "--sources", str(SOURCES), "--out", str(tmp_path)]) == 0
    lib = ProfileLibrary.from_dirs(tmp_path)
    assert {f"devices/{d}.json" for d in lib.devices} == {r for r in convert.build_all(REFERENCE, SOURCES)
                                                          if r.startswith("devices/")}
    assert KRAI_DEVICES | {"rpi4-cortex-a72", "aws-m7g.2xlarge-calibrated", "aws-c6gd.2xlarge-armnn"} \
        <= set(lib.devices)
    assert not list(tmp_path.rglob("*.tmp"))


@needs_reference
def test_regenerating_keeps_block_costs_and_other_files(tmp_path: Path) -> None:
    assert convert.main(["--reference", str(REFERENCE), "--sources", str(SOURCES), "--out", str(tmp_path)]) == 0
    tv = tmp_path / "models" / "torchvision.json"
    data = json.loads(tv.read_text(encoding="utf-8"))
    resnet = next(m for m in data["models"] if m["name"] == "resnet50")
    resnet["blocks"][0].update(flops={"conv": 2.36e8, "fc": 0.0, "other": 3.2e6}, param_bytes=37632)
    tv.write_text(json.dumps(data), encoding="utf-8")
    other = tmp_path / "devices" / "someone-else.json"
    other.write_text("{}", encoding="utf-8")  # not made by the converter: must survive untouched
    assert convert.main(["--reference", str(REFERENCE), "--sources", str(SOURCES), "--out", str(tmp_path)]) == 0
    again = json.loads(tv.read_text(encoding="utf-8"))
    block = next(m for m in again["models"] if m["name"] == "resnet50")["blocks"][0]
    assert block["flops"] == {"conv": 2.36e8, "fc": 0.0, "other": 3.2e6} and block["param_bytes"] == 37632
    assert other.read_text(encoding="utf-8") == "{}"


def corrupt(tmp_path: Path, edit) -> Path:
    """A copy of the shipped xeon-t4 device file with ``edit`` applied to its JSON."""
    data = json.loads((PROFILES / "devices" / "xeon-t4.json").read_text(encoding="utf-8"))
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


def test_rpi4_tflite_table_keeps_its_median_p90_and_minimum(lib: ProfileLibrary) -> None:
    dev = lib.device("rpi4-cortex-a72-tflite")
    assert dev.tier == "end" and dev.provenance["method"] == "published"
    t = dev.latency("mobilenet-v1-precision_float-1.0-192").total  # row: 56.429759, 63.581926, min 54.928699 ms
    assert (t.median_s, t.p90_s, t.p10_s) == pytest.approx((0.056429759, 0.063581926, 0.054928699))
    assert "minimum" in dev.provenance["statistic"]
