"""``e3gym profiles list|show``: every shipped profile is listed with its provenance; user folders join in."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from e3gym.cli import main
from e3gym.core.profiles import builtin_library


def make_mlp() -> nn.Module:
    """Factory named on the command line as ``test_profiles_cli:make_mlp``."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    assert main(["profiles", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder made by ``e3gym profile`` with one model and one device."""
    out = tmp_path_factory.mktemp("mine")
    assert main(["profile", "test_profiles_cli:make_mlp", "--input-shape", "16", "--runs", "2", "--warmup", "0",
                 "--top1", "0.9", "--top1-source", "test fixture", "--out", str(out), "--name", "my-laptop"]) == 0
    return out


def test_list_json_covers_every_shipped_device_with_provenance(capsys: pytest.CaptureFixture) -> None:
    listed = run_json(capsys, "list")
    devices = {d["name"]: d for d in listed["devices"]}
    assert set(devices) == set(builtin_library().devices)
    for d in devices.values():
        assert d["provenance"]["method"] in ("measured", "published", "calibrated")
        assert len(d["provenance"]["source"]) > 20 and d["tier"] in ("end", "edge", "cloud")
    arm_end = [d for d in devices.values() if d["tier"] == "end" and d["hardware"].get("machine") == "aarch64"]
    assert arm_end, "no ARM end-device profile listed"
    aws = [d for d in devices.values() if "AWS" in d["hardware_summary"]]
    assert aws and all(d["provenance"]["method"] in ("published", "calibrated") for d in aws)
    files = {Path(f["file"]).name: f for f in listed["model_files"]}
    assert files["torchvision.json"]["n_models"] == 13 and files["torchvision.json"]["n_with_blocks"] == 13
    assert files["mlperf-tflite.json"]["n_with_blocks"] == 0


def test_list_table_names_devices_and_methods(capsys: pytest.CaptureFixture) -> None:
    assert main(["profiles", "list"]) == 0
    out = capsys.readouterr().out
    assert "rpi4-cortex-a72" in out and "calibrated" in out and "published" in out and "torchvision.json" in out


def test_show_device_json_has_totals_block_availability_and_provenance(capsys: pytest.CaptureFixture) -> None:
    shown = run_json(capsys, "show", "rpi4-cortex-a72")
    dev = builtin_library().device("rpi4-cortex-a72")
    assert shown["kind"] == "device" and shown["provenance"]["method"] == "calibrated"
    assert shown["models"]["resnet50"]["total_median_s"] == dev.latency("resnet50").total.median_s
    assert shown["models"]["resnet50"]["blocks"] == len(builtin_library().model("resnet50").blocks)
    published = run_json(capsys, "show", "aws-m7g.2xlarge-tflite")
    assert all(m["blocks"] is None for m in published["models"].values())  # whole-model figures only


def test_show_model_lists_blocks(capsys: pytest.CaptureFixture) -> None:
    shown = run_json(capsys, "show", "resnet50")
    assert shown["kind"] == "model" and [b["name"] for b in shown["blocks"]][:2] == ["stem", "layer1.0"]
    assert main(["profiles", "show", "resnet50"]) == 0
    assert "layer4.2" in capsys.readouterr().out


def test_user_folder_is_listed_and_shown(capsys: pytest.CaptureFixture, user_dir: Path) -> None:
    listed = run_json(capsys, "list", "--dir", str(user_dir))
    mine = [d for d in listed["devices"] if d["root"] == str(user_dir)]
    assert [d["name"] for d in mine] == ["my-laptop"] and mine[0]["provenance"]["method"] == "measured"
    shown = run_json(capsys, "show", "my-laptop", "--dir", str(user_dir))
    assert shown["models"]["make_mlp"]["blocks"] == 3
    model = run_json(capsys, "show", "make_mlp", "--dir", str(user_dir))
    assert [b["flops"]["fc"] for b in model["blocks"]] == [2 * 16 * 32, 0.0, 2 * 32 * 4]
    assert model["top1_source"] == "test fixture"


def test_unknown_name_and_bad_dir(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["profiles", "show", "rpi4-cortex-a27"]) == 2
    err = capsys.readouterr().err
    assert "no device or model profile named 'rpi4-cortex-a27'" in err and "rpi4-cortex-a72" in err
    assert main(["profiles", "list", "--dir", str(tmp_path)]) == 2
    assert "models/ and/or devices/" in capsys.readouterr().err
