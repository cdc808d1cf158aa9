"""Wrappers over e3gym envs: a flat discrete action space with masks (for DQN and MaskablePPO)."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from e3gym.envs.actions import ActionCheck


class FlatAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Turns the MultiDiscrete action into ``Discrete`` over the distinct valid action tuples.

    Many MultiDiscrete actions have the same effect (every cut of an all-local action, cuts past a
    model's last block); this wrapper keeps one of each, so value-based agents do not waste
    capacity on duplicates. ``action_masks()`` marks the actions the env's own ``action_masks()``
    allows (every component allowed; all of them in the e3gym envs) whose model meets the current
    request's accuracy requirement (the env-allowed ones when none does), for sb3-contrib's
    MaskablePPO. Actions are checked as in the envs (:class:`~e3gym.envs.actions.ActionCheck`).

    Args:
        env: an e3gym env exposing ``distinct_actions()`` (EndEdgeCloud-v1, ModelSelection-v1).
        mask_inaccurate: mask models below the request's accuracy requirement (default True).
    """

    def __init__(self, env: gym.Env, mask_inaccurate: bool = True):
        gym.utils.RecordConstructorArgs.__init__(self, mask_inaccurate=mask_inaccurate)
        super().__init__(env)
        from e3gym.envs.end_edge_cloud import EndEdgeCloudEnv
        base = env.unwrapped
        if not isinstance(base, EndEdgeCloudEnv):  # the joint envs: (tier, cut, model) actions
            raise TypeError(f"FlatAction needs e3gym/EndEdgeCloud-v1 or e3gym/ModelSelection-v1 (joint actions "
                            f"with distinct_actions()); got {type(base).__name__}")
        self.actions = base.distinct_actions()
        self.action_space = spaces.Discrete(len(self.actions))
        self._check_action = ActionCheck(self.action_space)
        self._accuracy = np.array([base.models[a[-1]].top1 for a in self.actions])  # model is last
        # where each component of each flat action sits in the env's concatenated per-component mask
        nvec = base.action_space.nvec
        self._mask_index = np.array(self.actions) + np.concatenate([[0], np.cumsum(nvec)[:-1]])
        self.mask_inaccurate = mask_inaccurate

    def action(self, action) -> np.ndarray:
        return np.array(self.actions[self._check_action(action)], dtype=np.int64)

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the actions allowed for the current request."""
        base = self.env.unwrapped
        allowed = base.action_masks()[self._mask_index].all(axis=1)
        if not self.mask_inaccurate:
            return allowed
        ok = allowed & (self._accuracy >= base.request.accuracy_req)
        return ok if ok.any() else allowed
