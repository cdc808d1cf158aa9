"""Stable-Baselines3 models as e3gym agents: env construction, TensorBoard metrics, saving and loading.

``make_env(env_id, algo)`` builds the env an algorithm trains on (``Monitor`` with the e3gym
metrics as ``info_keywords``; ``FlatAction`` for DQN and MaskablePPO on e3gym's MultiDiscrete
request envs, whose masks reach sb3-contrib through the wrapper's ``action_masks()``), and refuses
an algorithm that cannot act in the env's action space. :class:`E3MetricsCallback` writes the
env's own metrics and histograms of the tier, cut and model choices to TensorBoard.

A saved model is data, not code: :func:`save_trained` writes the policy's weights (``.pt``, tensors
only) and a JSON sidecar (``.json``) with what rebuilds the policy and the env it was trained on;
:func:`load_trained` reads them without unpickling anything, and refuses a model from another env
or a malformed file with a message naming the file and field.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from e3gym.errors import require

# torch and SB3 are the "rl" extra: say how to install them rather than fail on an import line.
require("torch", "rl", "RL agents (training, loading, e3gym bench's RL cells)")
require("stable_baselines3", "rl", "RL agents (training, loading, e3gym bench's RL cells)")
import torch  # noqa: E402
from gymnasium import spaces  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.torch_layers import (  # noqa: E402
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)
from torch import nn  # noqa: E402

from e3gym.agents._system import has_system
from e3gym.agents.base import AgentSpecError
from e3gym.agents.train import ALGOS
from e3gym.core.cluster import Cluster
from e3gym.envs.end_edge_cloud import EndEdgeCloudEnv
from e3gym.envs.wrappers import FlatAction
from e3gym.errors import E3GymError
from e3gym.files import write_bytes_atomic, write_json_atomic

FLAT_ALGOS = ("dqn", "maskable_ppo")  # need a Discrete action space
INFO_KEYWORDS = ("latency_s", "accuracy", "energy_j", "deadline_missed")
METRICS = ("latency_s", "accuracy", "energy_j", "deadline_missed", "accuracy_missed")


def algo_class(algo: str) -> type:
    """The SB3 (or sb3-contrib) class of ``algo``."""
    if algo not in ALGOS:
        raise AgentSpecError(f"unknown algorithm {algo!r}; expected one of {', '.join(ALGOS)}")
    if algo == "maskable_ppo":
        MaskablePPO = require("sb3_contrib", "rl", "maskable_ppo").MaskablePPO
        return MaskablePPO
    import stable_baselines3 as sb3
    return getattr(sb3, algo.upper())


# The action spaces each algorithm's policies can act in (SB3 and sb3-contrib).
ACTION_SPACES: dict[str, tuple[type, ...]] = {
    "ppo": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "a2c": (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
    "dqn": (spaces.Discrete,),
    "maskable_ppo": (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
}


def _is_request_env(env: gym.Env) -> bool:
    # EndEdgeCloud and ModelSelection: one request per step, with the metrics of INFO_KEYWORDS in its info.
    return has_system(env, Cluster)


def make_env(env_id: str, algo: str, monitor: bool = True, **env_kwargs: Any) -> gym.Env:
    """The env ``algo`` trains and acts on: bounded observations rescaled to [-1, 1] by the space's bounds.

    AgentSpecError when ``algo`` is unknown or cannot act in the env's action space.
    """
    algo_class(algo)  # an unknown algorithm fails before the env is built
    env = gym.make(env_id, **env_kwargs)
    if isinstance(env.unwrapped, EndEdgeCloudEnv) and env.unwrapped.vector_reward:
        raise AgentSpecError(f"{env_id} returns a vector reward; SB3 trains on scalars: use the scalar id "
                             f"{env_id.replace('/mo-', '/')} (or wrap it in mo_gymnasium.wrappers.LinearReward)")
    obs = env.observation_space
    if isinstance(obs, spaces.Box) and np.isfinite(obs.low).all() and np.isfinite(obs.high).all():
        # Fixed bounds, not running statistics: the same mapping in training and evaluation.
        low, high = np.full(obs.shape, -1, np.float32), np.full(obs.shape, 1, np.float32)
        env = gym.wrappers.RescaleObservation(env, low, high)
    if algo in FLAT_ALGOS and isinstance(env.action_space, spaces.MultiDiscrete) and _is_request_env(env):
        env = FlatAction(env)
    if not isinstance(env.action_space, ACTION_SPACES[algo]):
        names = ", ".join(t.__name__ for t in ACTION_SPACES[algo])
        raise AgentSpecError(f"{algo} cannot act in the action space {env.action_space} of {env_id}; it needs {names}")
    if algo == "maskable_ppo":
        try:
            env.get_wrapper_attr("action_masks")
        except AttributeError:
            raise AgentSpecError(f"maskable_ppo needs action masks, which {env_id} does not provide "
                                 "(no action_masks()); use ppo") from None
    return Monitor(env, info_keywords=INFO_KEYWORDS if _is_request_env(env) else ()) if monitor else env


def observation_bounds(env: gym.Env) -> dict[str, list[float]] | None:
    """The bounds of the env's own (unwrapped) observations, by which the policy's inputs are rescaled."""
    space = env.unwrapped.observation_space
    if not isinstance(space, spaces.Box):
        return None
    return {"low": [float(v) for v in space.low.ravel()], "high": [float(v) for v in space.high.ravel()]}


def describe_env(env: gym.Env) -> dict[str, Any]:
    """What a checkpoint must agree with: env id, spaces (as strings), observation bounds and scenario name."""
    base = env.unwrapped
    return {"env_id": base.spec.id if base.spec else type(base).__name__,
            "observation_space": str(env.observation_space), "action_space": str(env.action_space),
            "observation_bounds": observation_bounds(env), "scenario": base.spec_data.get("name") if isinstance(base, EndEdgeCloudEnv) else None}


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
            if not all(key in info for key in self._rows):  # not a request env's step
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


# Saved models are data: the policy's tensors in a torch file read with weights_only=True, and
# everything needed to rebuild the policy in a JSON sidecar. Loading unpickles nothing, so a planted
# model file cannot run code.
MODEL_FORMAT = "e3gym.sb3-policy/2"  # 2: the sidecar records the observation bounds
_SIDECAR_KEYS = {"format", "algo", "policy", "policy_kwargs", "algo_kwargs", "env_id", "observation_space",
                 "action_space", "observation_bounds", "scenario", "seed", "weights_sha256", "info"}
_SDE_ALGOS = ("ppo", "a2c")  # their policy is built with the algorithm's use_sde
# policy_kwargs fields that hold a class: the classes a sidecar may name, by name.
CLASS_FIELDS: dict[str, dict[str, type]] = {
    "activation_fn": {c.__name__: c for c in (nn.ReLU, nn.Tanh, nn.ELU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Sigmoid,
                                              nn.Softplus, nn.SELU, nn.Mish, nn.Identity)},
    "optimizer_class": {c.__name__: c for c in (torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop,
                                                torch.optim.SGD)},
    "features_extractor_class": {c.__name__: c for c in (FlattenExtractor, NatureCNN, CombinedExtractor)},
}


class ModelFileError(E3GymError):
    """A saved model is missing, malformed or trained on another env; the message names the file and field."""


def _model_files(path: str | Path) -> tuple[Path, Path]:
    """The weights file and the sidecar of the model saved at ``path`` (with or without a suffix)."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".pt", ".json", ".zip") else path
    return stem.with_name(stem.name + ".pt"), stem.with_name(stem.name + ".json")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:  # streamed: a planted huge file is not read into memory
        return hashlib.file_digest(f, "sha256").hexdigest()


def _json_value(value: Any, field: str) -> Any:
    """``value`` as plain JSON (tuples become lists); AgentSpecError naming ``field`` otherwise."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v, f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _json_value(v, f"{field}.{k}") for k, v in value.items()}
    raise AgentSpecError(f"cannot save {field} = {value!r}: a saved model holds JSON values only")


def policy_config(model: Any, algo: str) -> dict[str, Any]:
    """What rebuilds ``model``'s policy: its alias (``MlpPolicy``), policy_kwargs with classes by name, options.

    Raises AgentSpecError for anything that cannot be written as data (a custom class, say), so
    training can check it before it starts.
    """
    cls = algo_class(algo)
    policy = next((name for name, c in cls.policy_aliases.items() if c is type(model.policy)), None)
    if policy is None:
        raise AgentSpecError(f"cannot save a {type(model.policy).__name__} policy; only "
                             f"{', '.join(cls.policy_aliases)}")
    kwargs: dict[str, Any] = {}
    for key, value in model.policy_kwargs.items():
        if key in CLASS_FIELDS:
            name = next((n for n, c in CLASS_FIELDS[key].items() if c is value), None)
            if name is None:
                raise AgentSpecError(f"cannot save policy_kwargs.{key} = {value!r}; expected one of "
                                     f"{', '.join(CLASS_FIELDS[key])}")
            kwargs[key] = name
        else:
            kwargs[key] = _json_value(value, f"policy_kwargs.{key}")
    return {"policy": policy, "policy_kwargs": kwargs,
            "algo_kwargs": {"use_sde": bool(model.use_sde)} if algo in _SDE_ALGOS else {}}


def save_trained(model: Any, path: str | Path, env: gym.Env, algo: str, seed: int,
                 info: dict[str, Any] | None = None) -> Path:
    """Save ``model``'s policy to ``path``.pt and its JSON sidecar ``path``.json; returns the ``.pt`` path.

    The weights are ``model.policy.state_dict()`` (``torch.save``); the sidecar holds the algorithm,
    the policy alias and policy_kwargs, the env description (:func:`describe_env`), the seed, the
    weights' SHA-256 and ``info`` (free-form JSON, never interpreted). Each file is written to a
    temporary file beside it and moved into place with ``os.replace``, the sidecar last: weights
    without their sidecar, or with a sidecar of another save, are never loaded.
    """
    weights, sidecar = _model_files(path)
    config = policy_config(model, algo)
    extra = _json_value({"num_timesteps": int(model.num_timesteps), **(info or {})}, "info")
    buffer = io.BytesIO()  # policies are small MLPs: hash the bytes that are written, then write them
    torch.save({k: v.detach().cpu() for k, v in model.policy.state_dict().items()}, buffer)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    write_bytes_atomic(weights, buffer.getvalue())
    meta = {"format": MODEL_FORMAT, "algo": algo, **config, **describe_env(env), "seed": int(seed),
            "weights_sha256": digest, "info": extra}
    write_json_atomic(sidecar, meta)
    return weights


def _no_constant(name: str) -> None:
    raise E3GymError(f"non-JSON value {name}")


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """A model sidecar, checked field by field, with policy_kwargs' class names mapped to their classes."""
    path = Path(path)

    def bad(field: str, why: str) -> ModelFileError:
        return ModelFileError(f"{path}: field {field!r}: {why}")

    try:
        meta = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise ModelFileError(f"{path}: not a JSON model sidecar ({err})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: not a JSON model sidecar (expected an object)")
    if meta.get("format") != MODEL_FORMAT:
        raise bad("format", f"expected {MODEL_FORMAT!r}, got {meta.get('format')!r} (SB3 .zip checkpoints are "
                            "not loaded, since loading them runs pickled code: train again)")
    for key in sorted(set(meta) ^ _SIDECAR_KEYS):
        if key != "info" or key in meta:
            raise bad(key, "unknown field" if key in meta else "missing")
    if not isinstance(meta["algo"], str) or meta["algo"] not in ALGOS:
        raise bad("algo", f"unknown algorithm {meta['algo']!r}; expected one of {', '.join(ALGOS)}")
    aliases = algo_class(meta["algo"]).policy_aliases
    if not isinstance(meta["policy"], str) or meta["policy"] not in aliases:
        raise bad("policy", f"unknown policy {meta['policy']!r}; expected one of {', '.join(aliases)}")
    for key in ("env_id", "observation_space", "action_space"):
        if not isinstance(meta[key], str):
            raise bad(key, f"expected a string, got {meta[key]!r}")
    bounds = meta["observation_bounds"]
    if bounds is not None and not (isinstance(bounds, dict) and set(bounds) == {"low", "high"} and all(
            isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            for v in bounds.values())):
        raise bad("observation_bounds", "expected null or an object with lists of numbers 'low' and 'high'")
    if meta["scenario"] is not None and not isinstance(meta["scenario"], str):
        raise bad("scenario", f"expected a string or null, got {meta['scenario']!r}")
    if not isinstance(meta["seed"], int) or isinstance(meta["seed"], bool):
        raise bad("seed", f"expected an integer, got {meta['seed']!r}")
    if not (isinstance(meta["weights_sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", meta["weights_sha256"])):
        raise bad("weights_sha256", "expected 64 hex digits")
    if not isinstance(meta.get("info", {}), dict):
        raise bad("info", "expected an object")
    algo_kwargs = meta["algo_kwargs"]
    allowed = ("use_sde",) if meta["algo"] in _SDE_ALGOS else ()
    if not isinstance(algo_kwargs, dict):
        raise bad("algo_kwargs", "expected an object")
    for key, value in algo_kwargs.items():
        if key not in allowed or not isinstance(value, bool):
            raise bad(f"algo_kwargs.{key}", f"unexpected {value!r}; {meta['algo']} takes "
                                            f"{', '.join(allowed) or 'none'} (true or false)")
    policy_kwargs = meta["policy_kwargs"]
    if not isinstance(policy_kwargs, dict):
        raise bad("policy_kwargs", "expected an object")
    decoded = dict(policy_kwargs)
    for key, classes in CLASS_FIELDS.items():
        if key in decoded:
            if not isinstance(decoded[key], str) or decoded[key] not in classes:
                what = key.removesuffix("_fn").removesuffix("_class").replace("_", " ")
                raise bad(f"policy_kwargs.{key}", f"unknown {what} {decoded[key]!r}; expected one of "
                                                  f"{', '.join(classes)}")
            decoded[key] = classes[decoded[key]]
    return {**meta, "policy_kwargs": decoded}


def load_trained(path: str | Path, env: gym.Env) -> Any:
    """Rebuild the model saved at ``path`` (by :func:`save_trained`) to act in ``env``, unpickling nothing.

    The sidecar must pass :func:`read_sidecar` and describe ``env``; the weights must have the
    sidecar's SHA-256 and load with ``torch.load(weights_only=True)`` as a dict of tensors. The model
    is rebuilt as ``algo_class(policy, env, policy_kwargs=...)`` and given the weights, for acting
    (a DQN gets no replay memory). Any problem is a ModelFileError naming the file and field.
    """
    weights, sidecar = _model_files(path)
    if not sidecar.exists():
        raise ModelFileError(f"{sidecar}: no saved model (a model is {weights.name} with its sidecar {sidecar.name})")
    meta = read_sidecar(sidecar)
    here = describe_env(env)
    for key in ("env_id", "observation_space", "action_space"):
        if meta[key] != here[key]:
            raise ModelFileError(f"{sidecar}: trained on {key} {meta[key]!r}, but this env has {here[key]!r}")
    if meta["observation_bounds"] != here["observation_bounds"]:
        raise ModelFileError(f"{sidecar}: the policy was trained on observations rescaled by other bounds than "
                             f"this env's (field 'observation_bounds'): its inputs would be mis-scaled")
    if not weights.exists():
        raise ModelFileError(f"{weights}: missing, though its sidecar {sidecar.name} is there")
    if _sha256(weights) != meta["weights_sha256"]:
        raise ModelFileError(f"{weights}: its SHA-256 is not field 'weights_sha256' of {sidecar.name} "
                             "(the two files come from different saves)")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # weights_only refuses any pickled object that is not plain tensor data
        raise ModelFileError(f"{weights}: not a tensor-only weights file; torch.load(weights_only=True) refused it "
                             f"({type(err).__name__})") from None
    if not (isinstance(state, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                            for k, v in state.items())):
        raise ModelFileError(f"{weights}: expected a dict of named tensors (a policy state_dict)")
    extra = {"buffer_size": 1} if meta["algo"] == "dqn" else {}  # for acting: no replay memory
    try:
        model = algo_class(meta["algo"])(meta["policy"], env, policy_kwargs=meta["policy_kwargs"], device="cpu",
                                         verbose=0, **meta["algo_kwargs"], **extra)
        model.policy.load_state_dict(state)
    except (TypeError, ValueError, KeyError, RuntimeError, AssertionError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(f"{sidecar}: cannot rebuild the {meta['algo']} policy with these weights: "
                             f"{first}") from None
    return model


class E3CheckpointCallback(BaseCallback):
    """Saves the model with :func:`save_trained` every ``save_freq`` calls, as ``<prefix>_<steps>_steps.pt``.

    Each checkpoint gets its sidecar, like the final model, so every one of them loads with
    :func:`load_trained`.
    """

    def __init__(self, save_freq: int, save_dir: str | Path, name_prefix: str, env: gym.Env, algo: str, seed: int):
        super().__init__(0)
        self.save_freq, self.save_dir, self.name_prefix = save_freq, Path(save_dir), name_prefix
        self.env, self.algo, self.seed = env, algo, seed

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            save_trained(self.model, self.save_dir / f"{self.name_prefix}_{self.num_timesteps}_steps", self.env,
                         self.algo, self.seed)
        return True

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
