"""Stable-Baselines3's ``VecEnv`` over the EndEdgeCloud-v1 / ModelSelection-v1 vector env.

SB3 resets a sub-env in the same step its episode ends and hands the last observation over in
``info["terminal_observation"]``; Gymnasium's vector env resets on the next step. So this adapter
does not sit on the vector env's ``step``: it drives the sub-envs through the vector env's per-sub-env
``reset_at`` / ``step_at`` (the single env's code plus the time limit) with SB3's semantics, those of
its ``DummyVecEnv``.
"""
from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

import e3gym
from e3gym.envs.vector import EndEdgeCloudVectorEnv
from e3gym.errors import E3GymError

__all__ = ["SB3VecEnv", "make_sb3_vec_env"]


class SB3VecEnv(VecEnv):
    """SB3's ``VecEnv`` over the sub-envs of an :class:`~e3gym.envs.vector.EndEdgeCloudVectorEnv`.

    Step for step equal to ``DummyVecEnv([lambda: gym.make(env_id, ...)] * n)``: observations
    float32 ``(n_envs, obs_dim)``, rewards float32, ``dones`` = terminated or truncated, one info dict
    per sub-env with ``"TimeLimit.truncated"`` and, when done, ``"terminal_observation"``; the
    sub-env is then reset at once (its reset info in ``reset_infos``). Seeds set with ``seed(s)``
    give sub-env ``i`` the seed ``s + i`` at the next ``reset()``, as in SB3.

    Args:
        venv: the vector env whose sub-envs are driven (its own ``step``/``reset`` are not used).

    Example:
        >>> import gymnasium as gym, e3gym
        >>> from e3gym.agents.sb3_vec import make_sb3_vec_env
        >>> venv = make_sb3_vec_env("e3gym/EndEdgeCloud-v1", n_envs=2)
        >>> _ = venv.seed(0)
        >>> venv.reset().shape == (2, venv.observation_space.shape[0])
        True
    """

    def __init__(self, venv: EndEdgeCloudVectorEnv):
        if not isinstance(venv, EndEdgeCloudVectorEnv):
            raise E3GymError(f"venv must be an EndEdgeCloudVectorEnv (gym.make_vec(..., "
                             f"vectorization_mode='vector_entry_point')), got {type(venv).__name__}")
        self.venv = venv
        self.envs = venv.envs
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self.buf_obs = np.zeros((self.num_envs, *self.observation_space.shape), self.observation_space.dtype)
        self.buf_rews = np.zeros(self.num_envs, np.float32)  # DummyVecEnv's dtypes
        self.buf_dones = np.zeros(self.num_envs, np.bool_)
        self.buf_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        self.actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Reset every sub-env with the seeds and options set since the last reset (then forgotten)."""
        for i in range(self.num_envs):
            options = self._options[i] or None
            self.buf_obs[i], self.reset_infos[i] = self.venv.reset_at(i, self._seeds[i], options)
        self._reset_seeds()
        self._reset_options()
        return self.buf_obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self.actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every sub-env; reset those whose episode ended, keeping the last observation in info."""
        rewards, dones = [0.0] * self.num_envs, [False] * self.num_envs
        for i in range(self.num_envs):
            obs, rewards[i], terminated, truncated, info = self.venv.step_at(i, self.actions[i])
            dones[i] = done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:
                info["terminal_observation"] = obs
                obs, self.reset_infos[i] = self.venv.reset_at(i)
            self.buf_obs[i] = obs
            self.buf_infos[i] = info
        self.buf_rews[:] = rewards
        self.buf_dones[:] = dones
        return self.buf_obs.copy(), self.buf_rews.copy(), self.buf_dones.copy(), deepcopy(self.buf_infos)

    def close(self) -> None:
        """Close the vector env and its sub-envs."""
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Each sub-env's ``rgb_array`` frame (None for each when the render mode is another)."""
        if self.render_mode != "rgb_array":
            return [None] * self.num_envs
        return list(self.venv.render())

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attribute ``attr_name`` of the selected sub-envs."""
        return [getattr(env, attr_name) for env in self._targets(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set attribute ``attr_name`` of the selected sub-envs to ``value``."""
        for env in self._targets(indices):
            setattr(env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        """Call method ``method_name`` of the selected sub-envs."""
        return [getattr(env, method_name)(*method_args, **method_kwargs) for env in self._targets(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Always False: the sub-envs are unwrapped (the time limit lives in the vector env)."""
        return [False for _ in self._targets(indices)]

    def _targets(self, indices: VecEnvIndices) -> list[gym.Env]:
        return [self.envs[i] for i in self._get_indices(indices)]


def make_sb3_vec_env(env_id: str = "e3gym/EndEdgeCloud-v1", n_envs: int = 1, **kwargs: Any) -> SB3VecEnv:
    """:class:`SB3VecEnv` over ``gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
    **kwargs)`` (``kwargs``: ``max_episode_steps`` and the single env's arguments)."""
    if env_id not in e3gym.VECTOR_ENTRY_POINTS:
        raise E3GymError(f"env_id must be one of {sorted(e3gym.VECTOR_ENTRY_POINTS)} (the ids with a vector env), "
                         f"got {env_id!r}")
    venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **kwargs)
    return SB3VecEnv(venv)
