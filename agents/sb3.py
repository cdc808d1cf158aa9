"""Stable-Baselines3 models as e3gym agents: env construction, TensorBoard metrics, save/load checks.

``make_env(env_id, algo)`` builds the env an algorithm trains on (``Monitor`` with the e3gym
metrics as ``info_keywords``; ``FlatAction`` for DQN and MaskablePPO, whose masks reach
sb3-contrib through the wrapper's ``action_masks()``). :class:`E3MetricsCallback` writes the env's
own metrics and histograms of the tier, cut and model choices to TensorBoard. A saved model has a
JSON sidecar describing its env, so :func:`load_trained` refuses a checkpoint from another env
with a message naming the mismatch.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor

from e3gym.agents.base import AgentSpecError
from e3gym.agents.train import ALGOS
from e3gym.envs.wrappers import FlatAction

FLAT_ALGOS = ("dqn", "maskable_ppo")  # need a Discrete action space
INFO_KEYWORDS = ("latency_s", "accuracy", "energy_j", "deadline_missed")
METRICS = ("latency_s", "accuracy", "energy_j", "deadline_missed", "accuracy_missed")


def algo_class(algo: str) -> type:
    """The SB3 (or sb3-contrib) class of ``algo``."""
    if algo not in ALGOS:
        raise AgentSpecError(f"unknown algorithm {algo!r}; expected one of {', '.join(ALGOS)}")
    if algo == "maskable_ppo":
        from sb3_contrib import MaskablePPO
        return MaskablePPO
    import stable_baselines3 as sb3
    return getattr(sb3, algo.upper())


def make_env(env_id: str, algo: str, monitor: bool = True, **env_kwargs: Any) -> gym.Env:
    """The env ``algo`` trains and acts on: observations rescaled to [-1, 1] by the space's bounds."""
    env = gym.make(env_id, **env_kwargs)
    if isinstance(env.observation_space, gym.spaces.Box):
        # Fixed bounds, not running statistics: the same mapping in training and evaluation.
        shape = env.observation_space.shape
        env = gym.wrappers.RescaleObservation(env, np.full(shape, -1, np.float32), np.full(shape, 1, np.float32))
    if algo in FLAT_ALGOS:
        env = FlatAction(env)
    elif not isinstance(env.action_space, (gym.spaces.MultiDiscrete, gym.spaces.Discrete, gym.spaces.Box)):
        raise AgentSpecError(f"{algo} cannot act in {env.action_space} of {env_id}")
    return Monitor(env, info_keywords=INFO_KEYWORDS) if monitor else env


def describe_env(env: gym.Env) -> dict[str, Any]:
    """What a checkpoint must agree with: env id, spaces (as strings) and scenario name."""
    base = env.unwrapped
    return {"env_id": base.spec.id if base.spec else type(base).__name__,
            "observation_space": str(env.observation_space), "action_space": str(env.action_space),
            "scenario": getattr(base, "spec_data", {}).get("name")}


class E3MetricsCallback(BaseCallback):
    """Logs e3gym's own metrics (means over the last ``log_freq`` steps) and choice histograms.

    Args:
        log_freq: environment steps (summed over vectorized envs' calls) between two logs.
    """

    def __init__(self, log_freq: int = 256, verbose: int = 0):
        super().__init__(verbose)
        self.log_freq = log_freq
        self._rows: dict[str, list[float]] = {k: [] for k in METRICS + ("tier", "cut", "model")}
        self._writer = None

    def _on_training_start(self) -> None:
        from stable_baselines3.common.logger import TensorBoardOutputFormat
        self._writer = next((f.writer for f in self.logger.output_formats
                             if isinstance(f, TensorBoardOutputFormat)), None)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "latency_s" not in info:
                continue
            for key in self._rows:
                self._rows[key].append(float(info[key]))
        if self.n_calls % self.log_freq == 0 and self._rows["latency_s"]:
            self._flush()
        return True

    def _flush(self) -> None:
        for key in METRICS:
            self.logger.record(f"e3gym/mean_{key}", float(np.mean(self._rows[key])))
        if self._writer is not None:
            for key in ("tier", "cut", "model"):
                self._writer.add_histogram(f"e3gym/{key}_choice", np.asarray(self._rows[key]), self.num_timesteps)
            self._writer.flush()
        self._rows = {k: [] for k in self._rows}

    def _on_training_end(self) -> None:
        if self._rows["latency_s"]:
            self._flush()
            self.logger.dump(self.num_timesteps)


def save_trained(model: Any, path: str | Path, env: gym.Env, algo: str, seed: int) -> Path:
    """Save ``model`` to ``path``.zip with a ``.json`` sidecar describing its env."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    meta = {**describe_env(env), "algo": algo, "seed": seed}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return path.with_suffix(".zip")


def load_trained(path: str | Path, env: gym.Env) -> Any:
    """Load a saved model for ``env``; ValueError naming the mismatch when it was trained elsewhere."""
    path = Path(path)
    zip_path = path if path.suffix == ".zip" else path.with_suffix(".zip")
    meta_path = zip_path.with_suffix(".json")
    if not zip_path.exists() or not meta_path.exists():
        raise ValueError(f"{zip_path}: no saved model (expected {zip_path.name} and {meta_path.name})")
    meta = json.loads(meta_path.read_text())
    here = describe_env(env)
    for key in ("env_id", "observation_space", "action_space"):
        if meta.get(key) != here[key]:
            raise ValueError(f"{zip_path}: trained on {key} {meta.get(key)!r}, but this env has {here[key]!r}")
    return algo_class(meta["algo"]).load(str(zip_path), device="cpu")


class SB3Agent:
    """A trained SB3 model behind the Agent protocol (deterministic actions; masks when maskable)."""

    def __init__(self, model: Any, env: gym.Env, deterministic: bool = True):
        self.model, self.env, self.deterministic = model, env, deterministic
        self._maskable = type(model).__name__ == "MaskablePPO"

    def act(self, obs: Any, info: dict) -> Any:
        """The model's action."""
        kwargs = {"action_masks": self.env.get_wrapper_attr("action_masks")()} if self._maskable else {}
        action, _ = self.model.predict(obs, deterministic=self.deterministic, **kwargs)
        return action

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Trained offline; nothing to do online."""

    def reset(self) -> None:
        """Stateless policy."""
