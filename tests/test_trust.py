"""Results and models are data: a planted model file in a bench output folder never runs code.

Each payload is a pickle whose ``__reduce__`` creates a marker file when unpickled. The tests first
check that the payload is live (plain ``pickle.loads`` creates the marker), then plant it under the
names ``e3gym bench`` looks for and check that the marker never appears, the cell fails with a
one-line error naming the file, and the run exits non-zero.
"""
from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from stable_baselines3 import PPO

from e3gym.agents.sb3 import describe_env, load_trained, make_env, save_trained
from e3gym.bench import runner
from e3gym.bench.suite import load_suite
from e3gym.cli import main

SUITE = ('id = "trust"\nmax_steps = 5\nseeds = [100]\ntrain_seeds = [0]\n'
         '[[scenarios]]\nid = "s"\nenv = "e3gym/EndEdgeCloud-v1"\noverrides = { users = { count = 2 } }\n'
         '[[agents]]\nname = "ppo"\ntrain_steps = 64\n')


class Payload:
    """Creates ``marker`` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def _assert_live(data: bytes, marker: Path) -> None:
    """The payload does run when unpickled: the tests below are not passing by accident."""
    pickle.loads(data)
    assert marker.exists()
    marker.unlink()


@pytest.fixture
def planted(tmp_path):
    """A suite, its output folder, the model path bench will read for its one RL job, and a marker path."""
    suite_path = tmp_path / "suite.toml"
    suite_path.write_text(SUITE)
    jobs, _ = runner.plan(load_suite(suite_path))
    (job,) = jobs
    out = tmp_path / "out"
    return suite_path, out, runner.model_path(out, job["key"]), job, tmp_path / "marker"


def _bench(suite_path: Path, out: Path) -> int:
    return main(["bench", "--suite", str(suite_path), "--out", str(out), "--jobs", "1"])


def _ppo_cell_error(out: Path) -> str:
    cells = json.loads((out / "results.json").read_text())["cells"]
    (cell,) = [c for c in cells if c["config"]["agent"]["name"] == "ppo"]
    assert cell["status"] == "error"
    return cell["error"]


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_planted_weights_never_run_and_fail_their_cell(planted, capsys, writer):
    suite_path, out, path, job, marker = planted
    _assert_live(pickle.dumps(Payload(marker)), marker)
    # A genuine sidecar for this job's env, then the payload in place of the weights, with the
    # sidecar's hash updated: the loader gets as far as reading the weights file.
    env = runner._make_env(job)
    model = PPO("MlpPolicy", env, device="cpu")
    weights = save_trained(model, path, env, "ppo", 0)
    with weights.open("wb") as f:
        (torch.save if writer == "torch.save" else pickle.dump)(Payload(marker), f)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    sidecar.write_text(json.dumps(meta))

    assert _bench(suite_path, out) == 1
    assert not marker.exists()
    error = _ppo_cell_error(out)
    assert f"{weights}: not a tensor-only weights file" in error and "weights_only=True" in error
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("e3gym bench: failed cell: agent 'ppo'")]
    assert "scenario 's', seed 100" in line and str(weights) in line
    # the planted file was not retrained over: it is still there for inspection
    assert weights.exists() and json.loads(sidecar.read_text()) == meta


def test_an_sb3_zip_checkpoint_is_never_read(planted, capsys):
    suite_path, out, path, job, marker = planted
    payload = pickle.dumps(Payload(marker))
    _assert_live(payload, marker)
    # What Stable-Baselines3 unpickles from a .zip: base64 pickles in its "data" JSON.
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path.with_suffix(".zip"), "w") as z:
        z.writestr("data", json.dumps({"policy_class": {":type:": "<class 'type'>",
                                                        ":serialized:": base64.b64encode(payload).decode()}}))
        z.writestr("policy.pth", payload)
    env = runner._make_env(job)
    old_sidecar = {**describe_env(env), "algo": "ppo", "seed": 0}
    path.with_suffix(".json").write_text(json.dumps(old_sidecar))

    assert _bench(suite_path, out) == 1
    assert not marker.exists()
    error = _ppo_cell_error(out)
    assert f"{path.with_suffix('.json')}: field 'format'" in error and "not loaded" in error
    assert "e3gym bench: 1 of 3 cells failed" in capsys.readouterr().err


def test_a_zip_alone_is_not_a_model(tmp_path):
    marker = tmp_path / "marker"
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as z:
        payload = base64.b64encode(pickle.dumps(Payload(marker))).decode()
        z.writestr("data", json.dumps({"x": {":serialized:": payload}}))
    env = make_env("e3gym/EndEdgeCloud-v1", "ppo", monitor=False)
    for name in ("model.zip", "model", "model.pt"):
        with pytest.raises(ValueError, match=r"model.json: no saved model"):
            load_trained(tmp_path / name, env)
    assert not marker.exists()
