"""Built-in agents, the plug-in protocol and the one runner loop."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from e3gym.agents import load_agent, run_episode
from e3gym.agents.base import AgentSpecError, resolve_agent_class
from e3gym.agents.registry import BUILTIN
from e3gym.envs import FlatAction

EEC_AGENTS = ["always_local", "always_edge", "always_cloud", "random", "static_best", "greedy", "oracle", "linucb"]
SHORT = {"scenario_overrides": {"users": {"count": 3}}}


@pytest.mark.parametrize("env_id", ["e3gym/EndEdgeCloud-v1", "e3gym/ModelSelection-v1"])
@pytest.mark.parametrize("name", EEC_AGENTS)
def test_every_builtin_agent_runs_an_episode(env_id, name):
    env = gym.make(env_id, max_episode_steps=30, **SHORT)
    agent = load_agent(name, env)
    result = run_episode(env, agent, seed=1)
    assert len(result.rewards) == 30
    assert np.isfinite(result.total_reward)


@pytest.mark.parametrize("name", ["always_local", "greedy", "oracle", "linucb", "static_best"])
def test_agents_also_act_through_flat_action(name):
    env = FlatAction(gym.make("e3gym/EndEdgeCloud-v1", max_episode_steps=20, **SHORT))
    result = run_episode(env, load_agent(name, env), seed=2)
    assert all(isinstance(a, int) for a in result.actions)


def test_always_tier_agents_keep_their_tier():
    env = gym.make("e3gym/EndEdgeCloud-v1", max_episode_steps=25, **SHORT)
    for name, tier in [("always_local", "end"), ("always_edge", "edge"), ("always_cloud", "cloud")]:
        result = run_episode(env, load_agent(name, env), seed=3)
        assert set(result.metric("tier_name")) == {tier}
        # the cheapest model that meets each requirement: never an accuracy miss when one is possible
        assert not result.metric("accuracy_missed").any()


def test_oracle_takes_the_best_true_outcome_every_step():
    env = gym.make("e3gym/EndEdgeCloud-v1", **SHORT)
    base = env.unwrapped
    oracle = load_agent("oracle", env)
    obs, info = env.reset(seed=4)
    for _ in range(25):
        action = oracle.act(obs, info)
        best = base.reward_of(base.what_if(action))
        others = [base.reward_of(base.what_if(np.array(a))) for a in base.distinct_actions()]
        assert best >= max(others) - 1e-12
        obs, reward, *_, info = env.step(action)
        assert reward == pytest.approx(best)


def test_oracle_beats_fixed_policies_on_the_same_seeds():
    env = gym.make("e3gym/EndEdgeCloud-v1", max_episode_steps=60, **SHORT)
    mean = lambda name: np.mean([run_episode(env, load_agent(name, env), seed=s).total_reward for s in (5, 6)])
    oracle = mean("oracle")
    for name in ("always_local", "always_edge", "always_cloud", "random"):
        assert oracle > mean(name)


def test_static_best_is_the_best_fixed_action_of_its_calibration_run():
    env = gym.make("e3gym/ModelSelection-v1", **SHORT)
    agent = load_agent("static_best", env, calibration_steps=50)
    assert agent.calibration_rewards[agent.index] == max(agent.calibration_rewards)
    result = run_episode(env, agent, seed=7, max_steps=10)
    assert len({tuple(a) for a in result.actions}) == 1


def test_third_party_agent_by_module_and_class():
    env = gym.make("e3gym/EndEdgeCloud-v1", max_episode_steps=15, **SHORT)
    agent = load_agent("thirdparty_agent:FirstAction", env)
    result = run_episode(env, agent, seed=0)
    assert agent.updates == 15 and len(result.infos) == 15
    assert run_episode(env, agent, seed=0, learn=False) and agent.updates == 15


@pytest.mark.parametrize("spec, match", [
    ("no_such_agent", "unknown agent 'no_such_agent'"),
    ("no_such_module_xyz:Agent", "cannot import module 'no_such_module_xyz'"),
    ("thirdparty_agent:Missing", "has no attribute 'Missing'"),
])
def test_bad_agent_specs(spec, match):
    with pytest.raises(AgentSpecError, match=match):
        resolve_agent_class(spec)


def test_agent_missing_the_protocol_is_refused():
    with pytest.raises(AgentSpecError, match="does not implement"):
        load_agent("fractions:Fraction", gym.make("e3gym/EndEdgeCloud-v1"))


def test_agents_refuse_an_env_they_cannot_handle():
    with pytest.raises(AgentSpecError, match="needs an env with"):
        load_agent("greedy", gym.make("CartPole-v1"))


def test_registry_names_resolve():
    for name in BUILTIN:
        assert callable(resolve_agent_class(name))


def test_custom_agent_example_plugs_in(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    examples = Path(__file__).resolve().parents[2] / "examples"
    out = subprocess.run([sys.executable, str(examples / "custom_agent.py")], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "mean latency" in out.stdout
    assert len((examples / "custom_agent.py").read_text().splitlines()) < 40


def test_rl_zoo_hyperparameter_files_name_registered_envs():
    from importlib import resources

    import yaml

    import e3gym
    folder = resources.files("e3gym.agents") / "hyperparams"
    for name in ("ppo.yml", "a2c.yml", "dqn.yml"):
        text = (folder / name).read_text()
        data = yaml.load(text, Loader=yaml.SafeLoader)
        assert set(data) <= set(e3gym.ENVIRONMENTS)
        assert all(cfg["n_timesteps"] > 0 for cfg in data.values())


def _exact_scenario(env_id: str) -> dict:
    from conftest import small_scenario
    return small_scenario(models={"names": ["mobilenet_v3_small", "mobilenet_v2", "resnet50"],
                                  "partition": env_id.endswith("EndEdgeCloud-v1"), "latency_noise": False})


@pytest.mark.parametrize("env_id", ["e3gym/EndEdgeCloud-v1", "e3gym/ModelSelection-v1"])
def test_greedy_prediction_is_exact_when_the_estimates_are(env_id):
    # constant links, empty queues, no run-to-run noise: the observed estimates are the truth
    env = gym.make(env_id, scenario=_exact_scenario(env_id))
    greedy = load_agent("greedy", env)
    obs, _ = env.reset(seed=0)
    predicted = [out.latency_s for out in greedy.predictions(obs)]
    true = [env.unwrapped.what_if(np.array(a)).latency_s for a in greedy.codec.actions]
    np.testing.assert_allclose(predicted, true, rtol=1e-9)
    assert len(set(np.round(true, 9))) > len(true) // 2  # the actions really differ


def test_always_edge_with_a_fixed_model_and_cut():
    env = gym.make("e3gym/EndEdgeCloud-v1", max_episode_steps=10, **SHORT)
    result = run_episode(env, load_agent("always_edge", env, model=1, cut=3), seed=0)
    assert {(i["tier_name"], i["cut"], i["model"]) for i in result.infos} == {("edge", 3, 1)}


@pytest.mark.parametrize("env_id, kwargs, match", [
    ("e3gym/EndEdgeCloud-v1", {"cut": -1}, "cut must be an integer >= 0"),
    ("e3gym/EndEdgeCloud-v1", {"cut": 500}, "cut=500 leaves no model"),
    ("e3gym/EndEdgeCloud-v1", {"model": 99}, "model must be an index"),
    ("e3gym/ModelSelection-v1", {"cut": 2}, "takes no cut"),
])
def test_always_tier_bad_options(env_id, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_agent("always_cloud", gym.make(env_id, **SHORT), **kwargs)


def test_static_best_calibrates_once_per_env_configuration(monkeypatch):
    from e3gym.agents.baselines import StaticBest
    env = gym.make("e3gym/ModelSelection-v1", **SHORT)
    first = load_agent("static_best", env, calibration_steps=20, calibration_seed=77)

    def no_second_calibration(self, seed, steps):
        raise AssertionError("calibrated again")
    monkeypatch.setattr(StaticBest, "_calibrate", no_second_calibration)
    again = load_agent("static_best", gym.make("e3gym/ModelSelection-v1", **SHORT), calibration_steps=20,
                       calibration_seed=77)
    assert again.calibration_rewards == first.calibration_rewards and again.action == first.action
    with pytest.raises(AssertionError, match="calibrated again"):  # another seed is another calibration
        load_agent("static_best", env, calibration_steps=20, calibration_seed=78)


def test_linucb_without_cuts_plays_whole_model_actions_only():
    env = gym.make("e3gym/EndEdgeCloud-v1", max_episode_steps=60, **SHORT)
    result = run_episode(env, load_agent("linucb", env, cuts=False), seed=0)
    for info in result.infos:
        assert info["tier_name"] == "end" or info["cut"] == 0
