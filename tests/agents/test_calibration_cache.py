"""StaticBest's calibration kept on disk: computed once per scenario, reused by any process."""
from __future__ import annotations

import json

import gymnasium as gym
import pytest

from e3gym.agents import baselines
from e3gym.agents.base import load_agent


@pytest.fixture
def cache_dir(tmp_path):
    baselines.use_calibration_dir(tmp_path)
    baselines._CALIBRATIONS.clear()
    yield tmp_path
    baselines.use_calibration_dir(None)
    baselines._CALIBRATIONS.clear()


def _env():
    return gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={"users": {"count": 2}})


def test_a_calibration_is_read_back_from_disk_by_a_fresh_process(cache_dir, monkeypatch):
    first = load_agent("static_best", _env(), calibration_steps=10, calibration_seed=5)
    files = list(cache_dir.glob("*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text())["mean_rewards"] == first.calibration_rewards
    baselines._CALIBRATIONS.clear()  # what a new worker process starts with

    def calibrate_again(self, seed, steps):
        raise AssertionError("calibrated again although the calibration is on disk")
    monkeypatch.setattr(baselines.StaticBest, "_calibrate", calibrate_again)
    second = load_agent("static_best", _env(), calibration_steps=10, calibration_seed=5)
    assert second.action == first.action and second.calibration_rewards == first.calibration_rewards


def test_a_file_of_another_calibration_is_not_trusted(cache_dir):
    first = load_agent("static_best", _env(), calibration_steps=10, calibration_seed=5)
    path = next(cache_dir.glob("*.json"))
    path.write_text(json.dumps({"key": "something else", "mean_rewards": [0.0] * len(first.calibration_rewards)}))
    baselines._CALIBRATIONS.clear()
    again = load_agent("static_best", _env(), calibration_steps=10, calibration_seed=5)
    assert again.calibration_rewards == first.calibration_rewards  # recomputed, not read
    assert json.loads(path.read_text())["key"] != "something else"  # and rewritten


def test_other_settings_get_their_own_calibration(cache_dir):
    load_agent("static_best", _env(), calibration_steps=10, calibration_seed=5)
    load_agent("static_best", _env(), calibration_steps=10, calibration_seed=6)
    assert len(list(cache_dir.glob("*.json"))) == 2
