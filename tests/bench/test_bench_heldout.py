"""Held-out data: training, warm-up and calibration on a scenario's training variant only."""
from __future__ import annotations

import gymnasium as gym
import pytest

from e3gym.bench import run_suite, runner
from e3gym.bench.suite import suite_from_dict


def _suite() -> dict:
    # Evaluation on the 5Gophers 5G traces, training on the FCC broadband traces: other trace files.
    return {
        "id": "heldout", "max_steps": 30, "seeds": [100], "train_seeds": [0, 1],
        "scenarios": [{"id": "s", "env": "e3gym/EndEdgeCloud-v1", "scenario": "default",
                       "overrides": {"users": {"count": 2, "network": "5g"}},
                       "train": {"overrides": {"users": {"count": 2, "network": "broadband"}}}}],
        "agents": [{"name": "linucb", "warmup_episodes": 1},
                   {"name": "ppo", "train_steps": 128, "kwargs": {"n_steps": 64, "batch_size": 32}},
                   {"name": "greedy"}],
    }


def test_training_warmup_and_calibration_see_only_the_training_traces(tmp_path, monkeypatch):
    made = []
    real = runner._make_env

    def spy(config, training=False):
        env = real(config, training)
        traces = env.unwrapped.spec_data["users"]["network"]
        made.append((config["agent"]["name"], config["kind"], training, traces))
        return env

    monkeypatch.setattr(runner, "_make_env", spy)
    result = run_suite(suite_from_dict(_suite()), tmp_path, quiet=True)
    assert not result.failed, [c.get("error") for c in result.failed]
    seen = {(name, kind, training): traces for name, kind, training, traces in made}
    # the RL job trains on the training variant; every evaluation runs on the evaluation variant
    assert seen[("ppo", "train", True)] == "broadband"
    assert all(traces == "5g" for name, kind, training, traces in made if kind == "eval" and not training)
    # the learners that adapt before evaluation (warm-up, calibration) were built on the training variant
    assert seen[("linucb", "eval", True)] == "broadband"
    assert seen[("static_best", "eval", True)] == "broadband"
    # agents that learn nothing beforehand are built on the evaluation env only
    assert ("greedy", "eval", True) not in seen and ("oracle", "eval", True) not in seen
    cell = next(c for c in result.cells if c["config"]["agent"]["name"] == "ppo")
    assert cell["config"]["train_scenario_resolved"]["sha256"] != cell["config"]["scenario_resolved"]["sha256"]


def test_a_saved_model_refuses_an_env_with_other_observation_bounds(tmp_path):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    from e3gym.agents.sb3 import ModelFileError, load_trained, make_env, save_trained

    env = make_env("e3gym/EndEdgeCloud-v1", "ppo", monitor=False, scenario_overrides={"users": {"count": 2}})
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=16, seed=0, device="cpu")
    model.learn(32)
    path = save_trained(model, tmp_path / "m", env, "ppo", 0)
    # Another trace set, same fixed bounds: the model loads and acts.
    other = make_env("e3gym/EndEdgeCloud-v1", "ppo", monitor=False,
                     scenario_overrides={"users": {"count": 2, "network": "broadband"}})
    assert load_trained(path, other) is not None
    # Other bounds (queue counters saturating at 32 instead of 64): the inputs would be mis-scaled.
    rescaled = make_env("e3gym/EndEdgeCloud-v1", "ppo", monitor=False, scenario_overrides={"users": {"count": 2}},
                        queue_obs_max=32)
    assert str(rescaled.observation_space) == str(env.observation_space)  # the rescaled space looks the same
    with pytest.raises(ModelFileError, match="observation_bounds"):
        load_trained(path, rescaled)


def test_moved_linucb_keeps_its_model_and_refuses_other_bounds():
    from e3gym.agents.base import load_agent, run_episode
    from e3gym.errors import E3GymError

    train = gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={"users": {"count": 2, "network": "broadband"}})
    agent = load_agent("linucb", train)
    run_episode(train, agent, seed=0, max_steps=30)
    n_before = int(agent.model.counts.sum())
    evaluation = gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={"users": {"count": 2}})
    agent.move_to(evaluation)
    assert agent.codec.base is evaluation.unwrapped
    run_episode(evaluation, agent, seed=100, max_steps=5)
    assert int(agent.model.counts.sum()) == n_before + 5  # it went on learning from what it had
    with pytest.raises(E3GymError, match="observation bounds"):
        agent.move_to(gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={"users": {"count": 2}}, queue_obs_max=8))
