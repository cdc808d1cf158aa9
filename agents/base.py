"""The Agent protocol and the one runner loop used by examples, tests and the leaderboard.

An agent is anything with ``act(obs, info) -> action``, ``update(obs, action, reward, next_obs,
info) -> None`` and ``reset() -> None``. Third-party agents plug in without touching e3gym: name
them as ``package.module:Class`` (found on ``sys.path`` or in the current directory) or register
them in the entry-point group ``e3gym.agents``.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from e3gym.errors import E3GymError

ENTRY_POINT_GROUP = "e3gym.agents"


@runtime_checkable
class Agent(Protocol):
    """What every e3gym agent provides."""

    def act(self, obs: Any, info: dict) -> Any:
        """The action for the current observation (``info`` is the last step's or reset's info)."""

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Learn from one transition (no-op for fixed policies)."""

    def reset(self) -> None:
        """Forget per-episode state (learned parameters persist)."""


class AgentSpecError(E3GymError):
    """An agent name or ``module:Class`` spec cannot be resolved, or the agent does not fit the env."""


@dataclass
class EpisodeResult:
    """Per-step records of one episode, and its totals."""

    rewards: list[float] = field(default_factory=list)
    infos: list[dict] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)

    @property
    def total_reward(self) -> float:
        """Sum of rewards."""
        return float(sum(self.rewards))

    def metric(self, key: str) -> np.ndarray:
        """One info field across the episode's steps, as an array."""
        return np.array([info[key] for info in self.infos])


def run_episode(env: gym.Env, agent: Agent, seed: int | None = None, learn: bool = True,
                max_steps: int | None = None, on_step: Callable[[int, dict], None] | None = None,
                options: dict | None = None) -> EpisodeResult:
    """Run one episode of ``agent`` on ``env`` (the one episode loop of e3gym: the leaderboard, ``e3gym
    train``'s evaluation and the scripts use it); ``learn=False`` skips ``update``; ``options`` go to ``reset``."""
    obs, info = env.reset(seed=seed, options=options)
    agent.reset()
    result = EpisodeResult()
    step = 0
    while max_steps is None or step < max_steps:
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        if learn:
            agent.update(obs, action, float(reward), next_obs, info)
        result.rewards.append(float(reward))
        result.infos.append(info)
        result.actions.append(np.asarray(action).tolist())
        if on_step is not None:
            on_step(step, info)
        obs = next_obs
        step += 1
        if terminated or truncated:
            break
    return result


def _builtin_agents() -> dict[str, str]:
    # Filled in as agents are added: short name -> "module:Class".
    from e3gym.agents import registry
    return dict(registry.BUILTIN)


def import_from_path_or_cwd(module_name: str) -> Any:
    """Import ``module_name``; if its top-level package is not on ``sys.path``, retry from the current directory.

    ``python script.py`` puts the script's folder on ``sys.path``, but a console script such as
    ``e3gym`` does not put the current directory there, so ``e3gym bench --agents my_agent:Cls``
    run beside ``my_agent.py`` would not find it. The directory is on ``sys.path`` for this import only.
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        top = module_name.partition(".")[0]
        cwd = os.getcwd()
        if err.name != top or cwd in sys.path:  # the module itself was found, or the cwd was searched already
            raise
    sys.path.append(cwd)  # last: a json.py in the folder must not shadow the standard library
    importlib.invalidate_caches()  # a finder cached for this directory may predate the module's file
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(cwd)


def resolve_agent_class(spec: str) -> type:
    """A class from a built-in name, an ``e3gym.agents`` entry point, or ``package.module:Class``."""
    builtin = _builtin_agents()
    if spec in builtin:
        spec = builtin[spec]
    elif ":" not in spec:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == spec:
                return ep.load()
        raise AgentSpecError(f"unknown agent {spec!r}; built-in: {', '.join(sorted(builtin))}; "
                             f"or name a class as 'package.module:Class'")
    module_name, _, attr = spec.partition(":")
    try:
        module = import_from_path_or_cwd(module_name)
    except ImportError as err:
        raise AgentSpecError(f"agent {spec!r}: cannot import module {module_name!r} (searched sys.path and the "
                             f"current directory): {err}") from None
    try:
        cls = getattr(module, attr)
    except AttributeError:
        raise AgentSpecError(f"agent {spec!r}: module {module_name!r} has no attribute {attr!r}") from None
    if not inspect.isclass(cls):  # `os:system` and other callables are not agents
        raise AgentSpecError(f"agent {spec!r}: {attr!r} is a {type(cls).__name__}, not a class")
    return cls


def load_agent(spec: str, env: gym.Env, **kwargs: Any) -> Agent:
    """Build the agent named by ``spec`` for ``env``; checks that it satisfies the protocol."""
    cls = resolve_agent_class(spec)
    try:
        takes_env = "env" in inspect.signature(cls).parameters
    except (TypeError, ValueError):  # builtins without a signature
        takes_env = False
    try:
        agent = cls(env, **kwargs) if takes_env else cls(**kwargs)
    except TypeError as err:
        raise AgentSpecError(f"agent {spec!r}: cannot construct it with {sorted(kwargs) or 'no'} options: {err}") from None
    missing = [m for m in ("act", "update", "reset") if not callable(getattr(agent, m, None))]
    if missing:
        raise AgentSpecError(f"agent {spec!r} does not implement {', '.join(missing)} of the e3gym Agent protocol")
    return agent
