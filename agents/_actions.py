"""Shared plumbing for agents that reason about EndEdgeCloud-style actions (tier, cut, model)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from e3gym.agents.base import AgentSpecError
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

    Works for the bare env (MultiDiscrete) and for a :class:`FlatAction`-wrapped one (Discrete).
    """

    def __init__(self, env: gym.Env, agent_name: str):
        base = env.unwrapped
        if not hasattr(base, "distinct_actions") or not hasattr(base, "what_if"):
            raise AgentSpecError(f"{agent_name} needs an env with (tier, cut, model) actions such as "
                                 f"e3gym/EndEdgeCloud-v1 or e3gym/ModelSelection-v1; got {type(base).__name__}")
        self.base = base
        self.actions = [tuple(a) for a in base.distinct_actions()]
        flat = find_wrapper(env, FlatAction)
        self._flat = flat is not None
        if flat is not None and [tuple(a) for a in flat.actions] != self.actions:
            raise AgentSpecError(f"{agent_name}: the FlatAction wrapper's actions do not match the env's")

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
