"""Every registered e3gym env: checkers, pickling, docs that match the spaces (determinism: test_registry.py)."""
from __future__ import annotations

import doctest
import importlib
import math
import pickle
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import e3gym
from e3gym.envs import FlatAction

ENV_IDS = sorted(e3gym.ENVIRONMENTS)


def rollout(env, seed, n_steps=40, action_seed=123):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(action_seed)
    trace = [obs]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trace += [obs, np.float64(reward)]
        if terminated or truncated:
            obs, _ = env.reset()
    return trace


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_checkers_pass(env_id):
    env = gym.make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip_continues_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    env.action_space.seed(5)
    actions = [env.action_space.sample() for _ in range(10)]
    for action in actions:
        o1, r1, *_ = env.step(action)
        o2, r2, *_ = clone.step(action)
        assert np.array_equal(o1, o2) and r1 == r2


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_docstring_examples_run(env_id):
    module_name, _, cls_name = e3gym.ENVIRONMENTS[env_id][0].partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    finder = doctest.DocTestFinder()
    tests = [t for t in finder.find(cls, cls_name) if t.examples and t.name == cls_name]
    assert tests, f"{cls_name} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


def _obs_table_rows(cls) -> list[str]:
    return re.findall(r"^\s*\| (\d+(?: \.\. [^|]+)?|then [^|]+) \|", cls.__doc__, re.M)


@pytest.mark.parametrize("env_id", ["e3gym/EndEdgeCloud-v1", "e3gym/ModelSelection-v1"])
def test_observation_table_matches_the_space(env_id):
    env = gym.make(env_id).unwrapped
    cls = type(env).__mro__[-3] if env_id.endswith("ModelSelection-v1") else type(env)
    doc = e3gym.envs.EndEdgeCloudEnv.__doc__
    fixed = [int(r) for r in re.findall(r"^\s*\| (\d+) \|", doc, re.M)]
    assert fixed == list(range(7))
    assert "| last |" in doc
    assert env.observation_space.shape == (8 + env.n_users + len(env.device_kinds),)
    high = env.observation_space.high
    assert high[5] == 1.0 and high[2] == high[3] == high[4] == env.queue_obs_max
    assert "max_episode_steps`` (200" in doc and gym.spec(env_id).max_episode_steps == 200
    assert cls is not None


def test_observation_stays_in_bounds_under_heavy_load():
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={"workload": {"rate_per_s": 50.0}})
    obs, _ = env.reset(seed=0)
    for _ in range(300):
        obs, *_ = env.step([1, 0, 5])  # everything to one edge worker: queues explode
        assert env.observation_space.contains(obs)
    assert obs[3] == env.unwrapped.queue_obs_max


@pytest.mark.parametrize("action", [[3, 0, 0], [0, 99, 0], [0, 0, 6], [-1, 0, 0], "edge", [1, 2]])
def test_bad_action_is_a_clear_error_and_changes_nothing(action):
    env = gym.make("e3gym/EndEdgeCloud-v1")
    env.reset(seed=0)
    before = env.unwrapped.request
    with pytest.raises(ValueError, match="action"):
        env.unwrapped.step(action)
    assert env.unwrapped.request is before


def test_flat_action_covers_each_distinct_effect_once():
    env = FlatAction(gym.make("e3gym/EndEdgeCloud-v1"))
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True)
    base = env.unwrapped
    assert env.action_space.n == sum(1 + 2 * n for n in base.n_blocks)
    env.reset(seed=0)
    effects = set()
    for a in env.actions:
        out = base.what_if(a)
        effects.add((out.tier, out.cut, out.model))
    assert len(effects) == env.action_space.n


def test_flat_action_masks_inaccurate_models():
    env = FlatAction(gym.make("e3gym/EndEdgeCloud-v1"))
    env.reset(seed=0)
    for _ in range(50):
        mask = env.action_masks()
        req = env.unwrapped.request.accuracy_req
        accuracies = np.array([env.unwrapped.models[a[-1]].top1 for a in env.actions])
        if (accuracies >= req).any():
            assert np.array_equal(mask, accuracies >= req)
        else:
            assert mask.all()
        env.step(int(np.flatnonzero(mask)[0]))


def test_reward_modes_and_vector_reward():
    kw = dict(scenario_overrides={"workload": {"accuracy_levels": [0.99]}})
    pen = gym.make("e3gym/EndEdgeCloud-v1", accuracy_penalty=2.0, **kw)
    wgt = gym.make("e3gym/EndEdgeCloud-v1", reward_mode="weighted", accuracy_weight=0.5, **kw)
    pen.reset(seed=1)
    wgt.reset(seed=1)
    _, r_pen, _, _, info = pen.step([0, 0, 0])
    _, r_wgt, _, _, _ = wgt.step([0, 0, 0])
    assert info["accuracy_missed"]
    assert r_pen == pytest.approx(-info["latency_s"] - 2.0)
    assert r_wgt == pytest.approx(-info["latency_s"] + 0.5 * info["accuracy"])
    v = info["vector_reward"]
    assert pen.unwrapped.reward_space.contains(v)
    assert v[0] == pytest.approx(-info["latency_s"]) and v[2] == pytest.approx(-info["energy_j"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(reward_mode="fast"), "reward_mode"),
    (dict(accuracy_penalty=-1.0), "accuracy_penalty"),
    (dict(queue_obs_max=0), "queue_obs_max"),
    (dict(scenario="no-such-scenario"), "unknown scenario"),
])
def test_bad_env_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("e3gym/EndEdgeCloud-v1", **kwargs)


def test_partitioning_a_whole_model_profile_is_refused_clearly():
    with pytest.raises(e3gym.ProfileError, match="whole-model data only"):
        gym.make("e3gym/EndEdgeCloud-v1", scenario="model_selection_mobilenet", scenario_overrides={"models": {"partition": True}})


from conftest import small_scenario  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

networks = st.one_of(
    st.sampled_from(["3g", "lte", "wifi", "mobile"]),
    st.builds(lambda m: {"kind": "constant", "mbps": m}, st.floats(0.5, 200)),
    st.builds(lambda s, d: {"kind": "markov", "states_mbps": s, "mean_dwell_s": d},
              st.lists(st.floats(0.5, 100), min_size=1, max_size=4), st.floats(0.1, 10)),
    st.builds(lambda snr: {"kind": "rayleigh", "bandwidth_mhz": 2.0, "mean_snr_db": snr, "coherence_ms": 20.0,
                           "min_snr_db": snr - 15}, st.floats(0, 30)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_users=st.integers(1, 6), rate=st.floats(0.2, 30), edge_workers=st.integers(1, 3),
       cloud_workers=st.integers(1, 3), network=networks, seed=st.integers(0, 2**31 - 1),
       devices=st.sampled_from([["rpi4-cortex-a72"], ["epyc-t1", "xeon-t1"], ["rpi4-cortex-a72", "epyc-t2"]]))
def test_random_scenarios_keep_every_invariant(n_users, rate, edge_workers, cloud_workers, network, seed, devices):
    data = small_scenario(users={"count": n_users, "network": network, "devices": devices},
                          edge={"workers": edge_workers}, cloud={"workers": cloud_workers},
                          workload={"rate_per_s": rate})
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario=data)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    last_arrival = -1.0
    for _ in range(30):
        assert env.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        parts = info["breakdown"].values()
        assert min(parts) >= 0 and info["latency_s"] == pytest.approx(math.fsum(parts), rel=1e-9, abs=1e-12)
        assert info["arrival_s"] > last_arrival
        last_arrival = info["arrival_s"]
        assert np.isfinite(reward) and reward <= 0
        assert not terminated


SYSTEMS = {"e3gym/EndEdgeCloud-v1": "Cluster", "e3gym/ModelSelection-v1": "Cluster",
           "e3gym/mo-EndEdgeCloud-v1": "Cluster", "e3gym/mo-ModelSelection-v1": "Cluster",
           "e3gym/Partition-v0": "PartitionSystem", "e3gym/FadingSplit-v0": "SplitProblem",
           "e3gym/ModelPlacement-v0": "PlacementModel"}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_env_shares_the_base_and_names_its_system(env_id):
    from e3gym.envs.base import E3Env
    base = gym.make(env_id).unwrapped
    assert isinstance(base, E3Env) and type(base.system).__name__ == SYSTEMS[env_id]
    with pytest.raises(gym.error.ResetNeeded):
        base.step(base.action_space.sample())
    base.reset(seed=0)
    assert base.action_masks().all() and type(base.system).__name__ == SYSTEMS[env_id]


@pytest.mark.parametrize("agent, env_id, needs", [
    ("greedy", "e3gym/Partition-v0", "Greedy needs an env with"),
    ("neurosurgeon", "e3gym/FadingSplit-v0", "NeurosurgeonStatic needs e3gym/Partition-v0; got FadingSplitEnv"),
    ("mulinucb", "e3gym/EndEdgeCloud-v1", "MuLinUCB needs e3gym/Partition-v0"),
    ("optimal_stopping", "e3gym/ModelPlacement-v0", "OptimalStopping needs e3gym/FadingSplit-v0"),
    ("optimal_placement", "e3gym/FadingSplit-v0", "OptimalPlacement needs e3gym/ModelPlacement-v0"),
    ("partition_oracle", "CartPole-v1", "OracleCut needs e3gym/Partition-v0; got CartPoleEnv"),
])
def test_agents_refuse_an_env_whose_system_they_cannot_use(agent, env_id, needs):
    from e3gym.agents.base import AgentSpecError, load_agent
    with pytest.raises(AgentSpecError, match=re.escape(needs)):
        load_agent(agent, gym.make(env_id))
