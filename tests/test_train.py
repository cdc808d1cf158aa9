"""SB3 training: TensorBoard holds the env metrics, checkpoints know their env, Ctrl-C keeps work."""
from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from e3gym.agents import run_episode
from e3gym.agents.base import AgentSpecError
from e3gym.agents.sb3 import SB3Agent, algo_class, load_trained, make_env
from e3gym.agents.train import evaluate, train

SMALL = {"scenario_overrides": {"users": {"count": 3}}}


def _events(run_dir: Path) -> EventAccumulator:
    files = sorted(run_dir.rglob("events.out.tfevents.*"))
    assert files, f"no TensorBoard event file under {run_dir}"
    acc = EventAccumulator(str(files[0].parent), size_guidance={"histograms": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_short_ppo_run_logs_env_metrics(tmp_path):
    model, path = train("ppo", "e3gym/EndEdgeCloud-v1", 512, seed=0, logdir=tmp_path, env_kwargs=SMALL,
                        algo_kwargs={"n_steps": 128, "batch_size": 64})
    acc = _events(path.parent)
    scalars = set(acc.Tags()["scalars"])
    for key in ("latency_s", "accuracy", "energy_j", "deadline_missed", "accuracy_missed"):
        tag = f"e3gym/mean_{key}"
        assert tag in scalars
        values = [e.value for e in acc.Scalars(tag)]
        assert values and np.all(np.isfinite(values))
    latency = [e.value for e in acc.Scalars("e3gym/mean_latency_s")]
    assert all(0 < v < 60 for v in latency)
    assert {"e3gym/tier_choice", "e3gym/cut_choice", "e3gym/model_choice"} <= set(acc.Tags()["histograms"])
    result = evaluate(model, "ppo", "e3gym/EndEdgeCloud-v1", [100], SMALL)
    assert result["mean_latency_ms"] > 0 and 0 < result["mean_accuracy"] <= 1
    assert model.gamma == 0.5  # the e3gym default: rewards are nearly immediate


def test_maskable_ppo_trains_on_flat_actions_and_respects_masks(tmp_path):
    model, path = train("maskable_ppo", "e3gym/EndEdgeCloud-v1", 256, seed=1, logdir=tmp_path,
                        env_kwargs=SMALL, algo_kwargs={"n_steps": 128, "batch_size": 64})
    env = make_env("e3gym/EndEdgeCloud-v1", "maskable_ppo", monitor=False, **SMALL)
    result = run_episode(env, SB3Agent(load_trained(path, env), env), seed=3, max_steps=40)
    assert not result.metric("accuracy_missed").any()  # masked: only models meeting the requirement


def test_checkpoint_from_another_env_is_refused(tmp_path):
    _, path = train("a2c", "e3gym/EndEdgeCloud-v1", 64, seed=0, logdir=tmp_path, env_kwargs=SMALL)
    other = make_env("e3gym/ModelSelection-v1", "a2c", **SMALL)
    with pytest.raises(ValueError, match="trained on env_id 'e3gym/EndEdgeCloud-v1'"):
        load_trained(path, other)
    resized = make_env("e3gym/EndEdgeCloud-v1", "a2c", scenario_overrides={"users": {"count": 5}})
    with pytest.raises(ValueError, match="observation_space"):
        load_trained(path, resized)
    assert load_trained(path, make_env("e3gym/EndEdgeCloud-v1", "a2c", **SMALL)) is not None


def test_ctrl_c_keeps_the_model_and_the_events(tmp_path, monkeypatch):
    from stable_baselines3 import PPO
    calls = {"n": 0}
    original = PPO.train

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(PPO, "train", interrupted)
    model, path = train("ppo", "e3gym/EndEdgeCloud-v1", 10_000, seed=0, logdir=tmp_path, env_kwargs=SMALL,
                        algo_kwargs={"n_steps": 128, "batch_size": 64})
    assert path.exists() and path.with_suffix(".json").exists()
    assert 128 <= model.num_timesteps < 10_000
    assert "e3gym/mean_latency_s" in _events(path.parent).Tags()["scalars"]


def test_unknown_algorithm():
    with pytest.raises(AgentSpecError, match="unknown algorithm 'sac'"):
        algo_class("sac")


def test_train_cli_parses(tmp_path):
    from e3gym.cli import main
    with pytest.raises(SystemExit):
        main(["train", "--algo", "sac"])
    assert main(["train", "--timesteps", "64", "--algo", "a2c", "--logdir", str(tmp_path), "--eval-episodes", "1"]) == 0
    assert list(tmp_path.rglob("model.zip"))
