"""The vector envs of EndEdgeCloud-v1 and ModelSelection-v1 (Gymnasium's ``vector_entry_point``).

``gym.make_vec("e3gym/EndEdgeCloud-v1", num_envs=N, vectorization_mode="vector_entry_point")``
builds :class:`EndEdgeCloudVectorEnv`: N copies of the single env's simulation stepped in one
process, each through the single env's own ``reset``/``step`` (the same core code, never a copy
of it), with the results stacked into preallocated arrays.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import e3gym
from e3gym.envs.end_edge_cloud import EndEdgeCloudEnv, ModelSelectionEnv
from e3gym.errors import E3GymError

__all__ = ["EndEdgeCloudVectorEnv", "ModelSelectionVectorEnv"]


def _check_steps(max_episode_steps: Any) -> int | None:
    if max_episode_steps is None:
        return None
    if isinstance(max_episode_steps, bool) or not (isinstance(max_episode_steps, int) and max_episode_steps >= 1):
        raise E3GymError(f"max_episode_steps must be an integer >= 1 or None, got {max_episode_steps!r}")
    return max_episode_steps


class EndEdgeCloudVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` independent copies of :class:`~e3gym.envs.end_edge_cloud.EndEdgeCloudEnv`.

    Equal, bit for bit, to Gymnasium's ``SyncVectorEnv`` of ``gym.make`` single envs: the same
    observations, rewards, flags and vector ``info`` dict (built by ``VectorEnv._add_info``) for the
    same seeds and actions. What it leaves out is what a vector env does not need per sub-env:
    Gymnasium's ``PassiveEnvChecker`` and ``OrderEnforcing`` wrappers (the single env refuses a step
    before reset itself) and the ``TimeLimit`` wrapper, replaced by a step count here.

    * Autoreset: ``metadata["autoreset_mode"]`` is ``AutoresetMode.NEXT_STEP``, SyncVectorEnv's
      default: the step after a sub-env's episode ends resets it (its action is ignored) and returns
      its reset observation and info, reward 0, terminated and truncated False.
    * Seeds: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i``; a list gives one seed per sub-env;
      None leaves them unseeded (fresh entropy on the first reset).
    * Spaces: ``single_observation_space`` / ``single_action_space`` are the single env's;
      ``observation_space`` / ``action_space`` are batched (``batch_space``): observations are
      ``(num_envs, obs_dim)`` float32, actions ``(num_envs, n_components)`` integers.

    Speed: this batches the bookkeeping (stacking, flags, the vector info dict), not the request
    timeline, which stays one request at a time per sub-env in :mod:`e3gym.core.cluster`. One run of
    ``python benchmarks/throughput.py`` (2-CPU Intel Xeon, CPU time) gave EndEdgeCloud-v1 0.070x
    CartPole-v1's steps/s at N = 1 (the per-call cost of the info dict dominates), 0.277x at N = 64
    and 0.291x at N = 1024, against 0.632x for one ``gym.make`` env in the same run; the core alone
    (``Cluster.serve`` and the next request over 1024 systems, nothing else) ran at 0.696x, the
    ceiling of any vector env over it on one core. An earlier run at N = 64 measured about twice
    ``SyncVectorEnv``'s decisions/s (37-45k against 20-25k), and slower at N = 1.

    Args:
        num_envs: number of sub-envs, an integer >= 1.
        max_episode_steps: truncate each sub-env's episode after this many steps; None never
            truncates; default: the registered id's (200).
        copy: return a copy of the observation array (True, default) or the array this env writes
            into on the next call.
        **env_kwargs: passed to every sub-env's constructor (``scenario``, ``reward_mode``, ...).

    Example:
        >>> import gymnasium as gym, e3gym
        >>> envs = gym.make_vec("e3gym/EndEdgeCloud-v1", num_envs=4, vectorization_mode="vector_entry_point")
        >>> obs, infos = envs.reset(seed=0)
        >>> obs.shape == (4, envs.single_observation_space.shape[0]), obs.dtype
        (True, dtype('float32'))
        >>> obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        >>> rewards.shape, bool(infos["_latency_s"].all())
        ((4,), True)
    """

    env_class: type[EndEdgeCloudEnv] = EndEdgeCloudEnv
    env_id = "e3gym/EndEdgeCloud-v1"

    def __init__(self, num_envs: int = 1, max_episode_steps: int | None | Literal["registered"] = "registered",
                 copy: bool = True, **env_kwargs: Any):
        if isinstance(num_envs, bool) or not (isinstance(num_envs, int) and num_envs >= 1):
            raise E3GymError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if max_episode_steps == "registered":
            max_episode_steps = e3gym.ENVIRONMENTS[self.env_id][1]
        self.max_episode_steps = _check_steps(max_episode_steps)
        self.copy = bool(copy)
        self.num_envs = num_envs
        self.envs: list[EndEdgeCloudEnv] = [self.env_class(**env_kwargs) for _ in range(num_envs)]
        first = self.envs[0]
        self.metadata = {**first.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self.render_mode = first.render_mode
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

        self._observations = np.zeros(self.observation_space.shape, np.float32)
        self._rewards = np.zeros(num_envs, np.float64)
        self._terminations = np.zeros(num_envs, np.bool_)
        self._truncations = np.zeros(num_envs, np.bool_)
        self._autoreset = [False] * num_envs  # Python lists: read and written per sub-env every step
        self._elapsed = [0] * num_envs

    # ------------------------------------------------------------------ one sub-env
    def reset_at(self, index: int, seed: int | None = None,
                 options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset sub-env ``index`` (and its step count): its first observation and info."""
        self._elapsed[index] = 0
        return self.envs[index].reset(seed=seed, options=options)

    def step_at(self, index: int, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Step sub-env ``index``: the single env's step with the time limit applied (truncated once
        ``max_episode_steps`` steps have been taken since its reset, as Gymnasium's ``TimeLimit``)."""
        obs, reward, terminated, truncated, info = self.envs[index].step(action)
        self._elapsed[index] = steps = self._elapsed[index] + 1
        if self.max_episode_steps is not None and steps >= self.max_episode_steps:
            truncated = True
        return obs, reward, terminated, truncated, info

    # ------------------------------------------------------------------ vector API
    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env (``seed``: None, an int ``s`` giving ``s + i``, or one seed per sub-env)."""
        seeds = self._seeds(seed)
        mask = self._reset_mask(options)
        if mask is not None:
            options = {k: v for k, v in options.items() if k != "reset_mask"}
        infos: dict[str, Any] = {}
        obs = self._observations
        for i, s in enumerate(seeds):
            if mask is None or mask[i]:
                obs[i], info = self.reset_at(i, s, options)
                infos = self._add_info(infos, info, i)
                self._terminations[i] = self._truncations[i] = self._autoreset[i] = False
        return (obs.copy() if self.copy else obs), infos

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env with its row of ``actions``; a sub-env whose episode ended on the previous
        step is reset instead (NEXT_STEP autoreset)."""
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise E3GymError(f"actions must have shape {self.action_space.shape} (num_envs, components), "
                             f"got {actions.shape}")
        n = self.num_envs
        obs = self._observations
        rewards, terminations, truncations = [0.0] * n, [False] * n, [False] * n
        env_infos: list[dict[str, Any]] = [{}] * n
        autoreset = self._autoreset
        for i in range(n):
            if autoreset[i]:
                obs[i], env_infos[i] = self.reset_at(i)
            else:
                obs[i], rewards[i], terminations[i], truncations[i], env_infos[i] = self.step_at(i, actions[i])
        infos = self.stack_infos(env_infos)
        # One conversion per array per step, not one numpy scalar write per sub-env.
        self._rewards[:] = rewards
        self._terminations[:] = terminations
        self._truncations[:] = truncations
        self._autoreset = [t or u for t, u in zip(terminations, truncations)]
        return ((obs.copy() if self.copy else obs), self._rewards.copy(), self._terminations.copy(),
                self._truncations.copy(), infos)

    def stack_infos(self, env_infos: list[dict[str, Any]]) -> dict[str, Any]:
        """Gymnasium's vector info dict of one info per sub-env: exactly what ``VectorEnv._add_info``
        builds sub-env by sub-env, one column at a time when every sub-env has the same keys with
        values of one type (each step but an autoreset of some sub-envs only), else by ``_add_info``."""
        stacked = self._stack_columns(env_infos)
        if stacked is None:
            stacked = {}
            for i, info in enumerate(env_infos):
                stacked = self._add_info(stacked, info, i)
        return stacked

    def _stack_columns(self, env_infos: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The column-wise fast path of :meth:`stack_infos`; None where it does not apply."""
        keys = tuple(env_infos[0])
        if "final_obs" in keys or any(tuple(info) != keys for info in env_infos):
            return None  # (the same keys in another order also go the general way)
        n = len(env_infos)
        out: dict[str, Any] = {}
        for key, column in zip(keys, zip(*(info.values() for info in env_infos))):
            kinds = set(map(type, column))
            if len(kinds) != 1:
                return None
            kind = kinds.pop()
            first = column[0]
            if kind is dict:
                array = self._stack_columns(column)
                if array is None:
                    return None
            elif kind in (int, float, bool) or issubclass(kind, np.number):
                array = np.array(column, dtype=kind)
            elif kind is np.ndarray:
                if any(v.shape != first.shape or v.dtype != first.dtype for v in column):
                    return None
                array = np.stack(column)
            else:  # _add_info's object array, filled element by element (a sequence stays one element)
                array = np.full(n, None, dtype=object)
                for i, v in enumerate(column):
                    array[i] = v
            out[key], out[f"_{key}"] = array, np.ones(n, np.bool_)
        return out

    def render(self) -> tuple[Any, ...]:
        """Each sub-env's frame (``render_mode`` as given to the constructor)."""
        return tuple(env.render() for env in self.envs)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method ``name`` of every sub-env (or read the attribute when it is not callable)."""
        out = []
        for env in self.envs:
            value = getattr(env, name)
            out.append(value(*args, **kwargs) if callable(value) else value)
        return tuple(out)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute ``name`` of every sub-env."""
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values: Any) -> None:
        """Set attribute ``name`` of every sub-env: one value each (list or tuple) or one for all."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise E3GymError(f"values must have one entry per sub-env ({self.num_envs}), got {len(values)}")
        for env, value in zip(self.envs, values):
            setattr(env, name, value)

    def close_extras(self, **kwargs: Any) -> None:
        """Close every sub-env."""
        for env in self.envs:
            env.close()

    def _reset_mask(self, options: dict[str, Any] | None) -> np.ndarray | None:
        """``options["reset_mask"]`` (SyncVectorEnv's partial reset: which sub-envs to reset) or None."""
        if options is None or "reset_mask" not in options:
            return None
        mask = options["reset_mask"]
        if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (self.num_envs,)):
            raise E3GymError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},), got {mask!r}")
        if not mask.any():
            raise E3GymError("options['reset_mask'] must select at least one sub-env, got all False")
        return mask

    def _seeds(self, seed: int | Sequence[int | None] | None) -> list[int | None]:
        """One seed per sub-env, SyncVectorEnv's way; E3GymError naming ``seed`` otherwise."""
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(self.num_envs)]
        if not isinstance(seed, (list, tuple)):
            raise E3GymError(f"seed must be None, an int or a list of {self.num_envs} seeds, got {seed!r}")
        if len(seed) != self.num_envs:
            raise E3GymError(f"seed: a list of seeds must have one per sub-env (num_envs={self.num_envs}), "
                             f"got {len(seed)}")
        return list(seed)


class ModelSelectionVectorEnv(EndEdgeCloudVectorEnv):
    """``num_envs`` copies of :class:`~e3gym.envs.end_edge_cloud.ModelSelectionEnv`; everything else
    (autoreset, seeds, spaces, arguments) is as in :class:`EndEdgeCloudVectorEnv`.

    Example:
        >>> import gymnasium as gym, e3gym
        >>> envs = gym.make_vec("e3gym/ModelSelection-v1", num_envs=2, vectorization_mode="vector_entry_point")
        >>> envs.action_space.shape
        (2, 2)
    """

    env_class = ModelSelectionEnv
    env_id = "e3gym/ModelSelection-v1"
