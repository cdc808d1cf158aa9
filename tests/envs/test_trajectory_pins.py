"""Seeded trajectories of every registered env, pinned as hashes.

Refactors and speed-ups of the simulator must leave every trajectory identical, bit for bit: these
hashes were taken from the code before such changes and are only updated together with a change of
the physics that explains why (and a new env version where results change).
"""
from __future__ import annotations

import hashlib
import json

import gymnasium as gym
import numpy as np
import pytest

import e3gym

STEPS = 150


def _canonical(value):
    """JSON-ready form that keeps every float exactly (repr of the float64)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_canonical(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def trajectory_hash(env_id: str, seed: int = 0, steps: int = STEPS) -> str:
    """sha256 of observations, rewards, flags and info along a seeded run with seeded random actions."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    record = [_canonical(obs), _canonical(info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        record.append([_canonical(obs), _canonical(reward), bool(terminated), bool(truncated), _canonical(info)])
        if terminated or truncated:
            obs, info = env.reset()
            record.append([_canonical(obs), _canonical(info)])
    env.close()
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()


PINNED = {
    "e3gym/EndEdgeCloud-v1": "ebf1720335dfebfa33500f29f586b638879eaa96d1680b9fcd09d613c8003c2f",
    "e3gym/FadingSplit-v0": "29834777e9f9ad9521c521bd6cc25c9d30cb246d2f728369ae88649a77c140ed",
    "e3gym/ModelPlacement-v0": "278281d5d05fd797034333869e3330d2e59030c7e34e4f1ec48361d22ebf8dcf",
    "e3gym/ModelSelection-v1": "f64d5ce00cf084c44fe625e02cc18ee802de452183cf1ef0275c7e7ed2abfe91",
    "e3gym/Partition-v0": "1d35cc5dd70d627a03bece11e8d54e96d0fc4aab173eb298eb34cf9e5bde0810",
}


@pytest.mark.parametrize("env_id", sorted(e3gym.ENVIRONMENTS))
def test_seeded_trajectory_is_pinned(env_id):
    assert env_id in PINNED, f"no pinned hash for {env_id}: {trajectory_hash(env_id)}"
    assert trajectory_hash(env_id) == PINNED[env_id]


AGENT_CASES = [
    ("e3gym/EndEdgeCloud-v1", "greedy"), ("e3gym/EndEdgeCloud-v1", "oracle"),
    ("e3gym/EndEdgeCloud-v1", "static_best"), ("e3gym/EndEdgeCloud-v1", "linucb"),
    ("e3gym/ModelSelection-v1", "oracle"), ("e3gym/ModelSelection-v1", "greedy"),
    ("e3gym/Partition-v0", "neurosurgeon"), ("e3gym/Partition-v0", "partition_oracle"),
    ("e3gym/Partition-v0", "mulinucb"), ("e3gym/FadingSplit-v0", "optimal_stopping"),
    ("e3gym/FadingSplit-v0", "osla"), ("e3gym/ModelPlacement-v0", "optimal_placement"),
    ("e3gym/ModelPlacement-v0", "fixed_placement"),
]


def agent_hash(env_id: str, agent_name: str, seed: int = 3, steps: int = 60) -> str:
    """sha256 of an agent's actions and rewards over a seeded run (its decisions, pinned)."""
    from e3gym.agents.base import load_agent

    env = gym.make(env_id)
    agent = load_agent(agent_name, env)
    obs, info = env.reset(seed=seed)
    record = []
    for _ in range(steps):
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, info)
        record.append([_canonical(action), _canonical(reward)])
        obs = next_obs
        if terminated or truncated:
            obs, info = env.reset()
    env.close()
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()


AGENT_PINNED = {
    "e3gym/EndEdgeCloud-v1 greedy": "74295c4544a95498452e4d4d4f9d9c55156e65ff3a71487a03569b088c3a52c2",
    "e3gym/EndEdgeCloud-v1 oracle": "e1f284f57dbbf3b1c86b34c7da1f09c14728e267a95d576d3fe7cfba3f1b60b4",
    "e3gym/EndEdgeCloud-v1 static_best": "c7625759872a2fd4479b2765f896480a0aad9760d5d3e10ba3e7730e5ffa7f89",
    "e3gym/EndEdgeCloud-v1 linucb": "44d3e0cd9b0c44d251e14e1fc143d08b65bba60477faa074fa15170f7bf866e8",
    "e3gym/ModelSelection-v1 oracle": "817c55a5e25d6b0a529287bda21127b9ee34ea9087605a2343aeb279d547f7fd",
    "e3gym/ModelSelection-v1 greedy": "817c55a5e25d6b0a529287bda21127b9ee34ea9087605a2343aeb279d547f7fd",
    "e3gym/Partition-v0 neurosurgeon": "16ea0b27538d0e8488da82b01a596224755563c5b469afaad6b442a1cd3163b0",
    "e3gym/Partition-v0 partition_oracle": "16ea0b27538d0e8488da82b01a596224755563c5b469afaad6b442a1cd3163b0",
    "e3gym/Partition-v0 mulinucb": "7fd7bf80dd4c666f26bb717144602259654015f1a83a3be2d076bc0f67cf633f",
    "e3gym/FadingSplit-v0 optimal_stopping": "302bb50fc1310eeb8add85b44e8c4ad9d5ba22237628f482af8020e9a00b1d5f",
    "e3gym/FadingSplit-v0 osla": "3981d38f0c98527633987736f55817ec49d7628e935cce5a9f696cc1d61a80f6",
    "e3gym/ModelPlacement-v0 optimal_placement": "aa37514ca5e31bbdae6cfee80006ab1477712babf0f43b5ea0fb796d81a4d57b",
    "e3gym/ModelPlacement-v0 fixed_placement": "be956c1836535cfdbdedb3330a83f0a8b0b50d140a66607432d9237127c2d4b7",
}


@pytest.mark.parametrize("env_id,agent_name", AGENT_CASES)
def test_agent_decisions_are_pinned(env_id, agent_name):
    key = f"{env_id} {agent_name}"
    assert key in AGENT_PINNED, f"no pinned hash for {key}: {agent_hash(env_id, agent_name)}"
    assert agent_hash(env_id, agent_name) == AGENT_PINNED[key]
