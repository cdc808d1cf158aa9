"""How an agent reaches the system model of the env it acts in: ``env.unwrapped.system``, checked by type."""
from __future__ import annotations

from typing import TypeVar

import gymnasium as gym

from e3gym.agents.base import AgentSpecError
from e3gym.envs.base import E3Env

S = TypeVar("S")


def has_system(env: gym.Env, kind: type) -> bool:
    """Whether ``env`` is an e3gym env whose system model is a ``kind``."""
    base = env.unwrapped
    return isinstance(base, E3Env) and isinstance(base.system, kind)


def system_of(env: gym.Env, kind: type[S], agent: str, needs: str) -> S:
    """The system model of ``env`` (bare or wrapped) when it is a ``kind``; else AgentSpecError
    ``"<agent> needs <needs>; got <env class>"``."""
    if not has_system(env, kind):
        raise AgentSpecError(f"{agent} needs {needs}; got {type(env.unwrapped).__name__}")
    return env.unwrapped.system
