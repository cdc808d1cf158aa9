"""Shared plumbing for agents that reason about EndEdgeCloud-style actions (tier, cut, model)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from e3gym.agents._system import system_of
from e3gym.agents.base import AgentSpecError
from e3gym.core.cluster import Cluster
from e3gym.core.workload import Request
from e3gym.envs.wrappers import FlatAction


def find_wrapper(env: gym.Env, cls: type) -> gym.Env | None:
    """The outermost wrapper of type ``cls`` around ``env``, or None."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, cls):
            return env
        env = env.env
    return None


class ActionCodec:
    """Maps canonical actions (``env.unwrapped.distinct_actions()``) to what ``env.step`` expects.

    Works for the bare env (MultiDiscrete) and for a :class:`FlatAction`-wrapped one (Discrete): any
    e3gym env whose system model is a :class:`~e3gym.core.cluster.Cluster` (AgentSpecError otherwise).
    """

    def __init__(self, env: gym.Env, agent_name: str):
        system_of(env, Cluster, agent_name, "an env with (tier, cut, model) actions such as e3gym/EndEdgeCloud-v1 "
                                            "or e3gym/ModelSelection-v1")
        base = env.unwrapped
        self.base = base
        self.actions = [tuple(a) for a in base.distinct_actions()]
        flat = find_wrapper(env, FlatAction)
        self._flat = flat is not None
        if flat is not None and [tuple(a) for a in flat.actions] != self.actions:
            raise AgentSpecError(f"{agent_name}: the FlatAction wrapper's actions do not match the env's")

    @property
    def system(self) -> Cluster:
        """The env's system model: the current episode's cluster."""
        return self.base.system

    @property
    def request(self) -> Request:
        """The request the next action decides."""
        return self.base.request

    def encode(self, index: int):
        """The env action for the ``index``-th distinct action."""
        if self._flat:
            return int(index)
        return np.array(self.actions[index], dtype=np.int64)

    def tier_of(self, index: int) -> int:
        """Tier of a distinct action."""
        return self.actions[index][0]

    def model_of(self, index: int) -> int:
        """Model index of a distinct action (always the last component)."""
        return self.actions[index][-1]
