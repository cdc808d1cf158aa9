"""Wrappers over e3gym envs: a flat discrete action space with masks (for DQN and MaskablePPO)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class FlatAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Turns the MultiDiscrete action into ``Discrete`` over the distinct valid action tuples.

    Many MultiDiscrete actions have the same effect (every cut of an all-local action, cuts past a
    model's last block); this wrapper keeps one of each, so value-based agents do not waste
    capacity on duplicates. ``action_masks()`` marks the actions whose model meets the current
    request's accuracy requirement (all of them when none does), for sb3-contrib's MaskablePPO.

    Args:
        env: an e3gym env exposing ``distinct_actions()`` (EndEdgeCloud-v1, ModelSelection-v1).
        mask_inaccurate: mask models below the request's accuracy requirement (default True).
    """

    def __init__(self, env: gym.Env, mask_inaccurate: bool = True):
        gym.utils.RecordConstructorArgs.__init__(self, mask_inaccurate=mask_inaccurate)
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "distinct_actions"):
            raise TypeError(f"FlatAction needs an e3gym env with distinct_actions(); got {type(base).__name__}")
        self.actions = base.distinct_actions()
        self.action_space = spaces.Discrete(len(self.actions))
        self._accuracy = np.array([base.models[a[-1]].top1 for a in self.actions])  # model is last
        self.mask_inaccurate = mask_inaccurate

    def action(self, action) -> np.ndarray:
        try:
            index = int(action)
        except (TypeError, ValueError):
            raise ValueError(f"action {action!r} is not an integer index into {self.action_space}") from None
        if not 0 <= index < len(self.actions):
            raise ValueError(f"action {action!r} is outside {self.action_space}")
        return np.array(self.actions[index], dtype=np.int64)

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the actions allowed for the current request."""
        if not self.mask_inaccurate:
            return np.ones(len(self.actions), dtype=bool)
        ok = self._accuracy >= self.env.unwrapped.request.accuracy_req
        return ok if ok.any() else np.ones(len(self.actions), dtype=bool)
