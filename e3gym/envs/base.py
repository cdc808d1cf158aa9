"""The base class of every e3gym env: rendering, action checking, masks, the step/reset contract and
the one accessor to the env's core system model."""
from __future__ import annotations

from typing import Any, Sequence, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.core import ActType, ObsType

from e3gym.envs.actions import ActionCheck
from e3gym.envs.render import TimelineRendering


class E3Env(TimelineRendering, gym.Env[ObsType, ActType]):
    """What every e3gym env shares.

    * ``render_mode``: None, ``"rgb_array"`` or ``"ansi"``; anything else is refused with a one-line
      error naming it (:class:`~e3gym.envs.render.TimelineRendering`).
    * Actions: every action goes through :class:`~e3gym.envs.actions.ActionCheck` (integers of the
      right shape inside the space, nothing else) in :meth:`decode_action`; :meth:`action_masks` is all
      True (for sb3-contrib's MaskablePPO).
    * :meth:`reset` seeds and starts an episode, :meth:`step` refuses to run before it; subclasses
      implement ``_reset(options)`` and ``_step(decoded_action)``.
    * :attr:`system`: the env's core system model, the one way agents reach it.
    """

    _check_action: ActionCheck
    _episode_started: bool = False

    def _setup_actions(self, space: spaces.Discrete | spaces.MultiDiscrete, names: Sequence[str] | None = None) -> None:
        """Declare the action space and the check every action goes through."""
        self.action_space = space
        self._check_action = ActionCheck(space, names)

    @property
    def system(self) -> Any:
        """The env's core system model: what the env simulates, for agents that reason about it.

        ``EndEdgeCloud-v1`` / ``ModelSelection-v1``: the episode's :class:`~e3gym.core.cluster.Cluster`;
        ``Partition-v0``: the :class:`~e3gym.core.partition.PartitionSystem`; ``FadingSplit-v0``: the
        :class:`~e3gym.core.coinference.SplitProblem`; ``ModelPlacement-v0``: the
        :class:`~e3gym.core.coinference.PlacementModel`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not declare its system model")

    def decode_action(self, action: ActType) -> Any:
        """The action as Python ints; ValueError naming the action when it is not integers inside the
        action space (:class:`~e3gym.envs.actions.ActionCheck`)."""
        return self._check_action(action)

    def action_masks(self) -> np.ndarray:
        """Every action is valid: all True (one entry per value of each component for ``MultiDiscrete``)."""
        return self._check_action.all_valid_mask()

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[ObsType, dict[str, Any]]:
        """Seed (when ``seed`` is given) and start an episode: its first observation and info."""
        super().reset(seed=seed)
        out = self._reset(options)
        self._episode_started = True
        return out

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """One decision: observation, reward, terminated, truncated (always False: the registered
        ``max_episode_steps`` truncates) and info."""
        if not self._episode_started:
            raise gym.error.ResetNeeded("call reset() before step()")
        return self._step(self.decode_action(action))

    def _reset(self, options: dict[str, Any] | None) -> tuple[ObsType, dict[str, Any]]:
        raise NotImplementedError

    def _step(self, action: Any) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        raise NotImplementedError
