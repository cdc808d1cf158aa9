"""The mo- ids: MO-Gymnasium's vector reward [-latency_s, accuracy, -energy_j] from the same env."""
from __future__ import annotations

import doctest

import gymnasium as gym
import numpy as np
import pytest

import e3gym
from e3gym.envs.end_edge_cloud import MOEndEdgeCloudEnv, MOModelSelectionEnv

mo_gym = pytest.importorskip("mo_gymnasium", reason="mo-gymnasium is not installed")
from mo_gymnasium.wrappers import LinearReward, MORecordEpisodeStatistics  # noqa: E402

PAIRS = [("e3gym/mo-EndEdgeCloud-v1", "e3gym/EndEdgeCloud-v1"),
         ("e3gym/mo-ModelSelection-v1", "e3gym/ModelSelection-v1")]
SHORT = {"scenario_overrides": {"users": {"count": 3}}}


def test_registered_with_the_scalar_envs_step_limit():
    for mo_id, scalar_id in PAIRS:
        assert mo_id in e3gym.MO_ENVIRONMENTS
        assert gym.spec(mo_id).max_episode_steps == gym.spec(scalar_id).max_episode_steps == 200


@pytest.mark.parametrize("mo_id, scalar_id", PAIRS)
def test_vector_reward_is_the_scalar_envs_outcome(mo_id, scalar_id):
    mo, scalar = mo_gym.make(mo_id, energy_weight=0.5), gym.make(scalar_id, energy_weight=0.5)
    obs_mo, _ = mo.reset(seed=4)
    obs_sc, _ = scalar.reset(seed=4)
    mo.action_space.seed(1)
    for _ in range(30):
        action = mo.action_space.sample()
        obs_mo, r_mo, *_, info_mo = mo.step(action)
        obs_sc, r_sc, *_, info_sc = scalar.step(action)
        assert np.array_equal(obs_mo, obs_sc)  # the same system, step for step
        assert isinstance(r_mo, np.ndarray) and r_mo.dtype == np.float32 and r_mo.shape == (3,)
        assert mo.unwrapped.reward_space.contains(r_mo)
        assert np.array_equal(r_mo, info_mo["vector_reward"])
        expected = np.array([-info_sc["latency_s"], info_sc["accuracy"], -info_sc["energy_j"]], np.float32)
        assert np.array_equal(r_mo, expected)
        # the scalar env's penalty reward is the same outcome, scalarised its own way
        missed = info_sc["accuracy"] < info_sc["accuracy_req"]
        assert r_sc == pytest.approx(-info_sc["latency_s"] - 0.5 * info_sc["energy_j"] - missed)


@pytest.mark.parametrize("mo_id", [p[0] for p in PAIRS])
def test_mo_record_episode_statistics_sums_the_vectors(mo_id):
    env = MORecordEpisodeStatistics(mo_gym.make(mo_id, max_episode_steps=25, **SHORT))
    env.reset(seed=0)
    env.action_space.seed(0)
    total, done = np.zeros(3), False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += reward
        done = terminated or truncated
    episode = info["episode"]
    assert episode["l"] == 25 and episode["r"].shape == (3,)
    np.testing.assert_allclose(episode["r"], total, rtol=1e-5)


def test_linear_reward_scalarises_with_the_weights():
    weights = np.array([1.0, 0.25, 2.0])
    env = LinearReward(mo_gym.make("e3gym/mo-EndEdgeCloud-v1", **SHORT), weight=weights)
    plain = gym.make("e3gym/EndEdgeCloud-v1", **SHORT)
    env.reset(seed=5)
    plain.reset(seed=5)
    env.action_space.seed(2)
    for _ in range(20):
        action = env.action_space.sample()
        _, reward, *_ = env.step(action)
        *_, info_plain = plain.step(action)
        want = -info_plain["latency_s"] + 0.25 * info_plain["accuracy"] - 2.0 * info_plain["energy_j"]
        assert np.isscalar(reward) and reward == pytest.approx(want, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("cls", [MOEndEdgeCloudEnv, MOModelSelectionEnv])
def test_docstring_examples_run(cls):
    tests = [t for t in doctest.DocTestFinder().find(cls, cls.__name__) if t.examples and t.name == cls.__name__]
    assert tests
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
