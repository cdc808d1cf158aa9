"""Every e3gym id in Gymnasium's registry, as Gymnasium tests its own: made, checked, deterministic.

Driven by the registry, so an env registered later is covered without editing this file.
Determinism compares everything a step returns, ``info`` included (Gymnasium's
``data_equivalence``), over a rollout with resets.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import e3gym  # noqa: F401  (registers the envs)


def _live_e3gym_ids() -> list[str]:
    ids = []
    for env_id, spec in sorted(gym.registry.items()):
        if env_id.startswith("e3gym/") and spec.entry_point is not None:
            try:
                gym.make(env_id).close()
            except gym.error.DeprecatedEnv:  # retired versions point to their successor
                continue
            ids.append(env_id)
    return ids


IDS = _live_e3gym_ids()


def test_the_registry_holds_every_declared_env():
    assert set(IDS) == set(e3gym.ENVIRONMENTS) | set(e3gym.MO_ENVIRONMENTS)


def _rollout(env_id: str, seed: int, steps: int = 30) -> list:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    out = [env.reset(seed=seed)]
    for _ in range(steps):
        step = env.step(env.action_space.sample())
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    env.close()
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_gives_the_same_steps_info_included(env_id):
    a, b = _rollout(env_id, 7), _rollout(env_id, 7)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert data_equivalence(x, y), f"{env_id}: {x!r} != {y!r}"


@pytest.mark.parametrize("env_id", IDS)
def test_another_seed_gives_another_rollout(env_id):
    assert not all(data_equivalence(x, y) for x, y in zip(_rollout(env_id, 7), _rollout(env_id, 8)))


@pytest.mark.parametrize("env_id", IDS)
def test_spaces_hold_what_the_env_returns(env_id):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    masks = env.unwrapped.action_masks()
    assert masks.dtype == bool and masks.any()
    for _ in range(20):
        obs, reward, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        assert np.all(np.isfinite(reward))
