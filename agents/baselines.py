"""Reference policies for EndEdgeCloud-v0 and ModelSelection-v0.

* :class:`AlwaysLocal`, :class:`AlwaysEdge`, :class:`AlwaysCloud` - one tier for everything (raw
  input offloaded, no partition), each request served by the model that is cheapest on that tier
  among those meeting its accuracy requirement (the most accurate one when none does).
* :class:`RandomAgent` - uniform over the action space.
* :class:`StaticBest` - the single fixed action with the best mean reward on a calibration run
  (its own seed): score 0 of the leaderboard.
* :class:`Greedy` - Neurosurgeon-style (Kang et al., ASPLOS 2017): predicts every action's latency
  from the profiles and the *observed* estimates (bandwidth EWMA, reported queue lengths) and
  picks the best predicted reward.
* :class:`Oracle` - clairvoyant: evaluates every action against the true future bandwidth and
  queue state (``env.what_if``) and takes the per-request optimum: score 1 of the leaderboard.
"""
from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np

from e3gym.agents._actions import ActionCodec
from e3gym.core.cluster import CLOUD, EDGE, END

# Observation indices shared by EndEdgeCloud-v0 and ModelSelection-v0 (see the env docstring).
OBS_UPLINK_MBPS, OBS_WAN_MBPS, OBS_Q_LOCAL, OBS_Q_EDGE, OBS_Q_CLOUD, OBS_ACCURACY_REQ = 0, 1, 2, 3, 4, 5


class _Fixed:
    """Base of the policies that learn nothing."""

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Nothing to learn."""

    def reset(self) -> None:
        """Nothing to forget."""


class _AlwaysTier(_Fixed):
    tier = END

    def __init__(self, env: gym.Env, model: int | None = None):
        self.codec = ActionCodec(env, type(self).__name__)
        self.fixed_model = model
        base = self.codec.base
        if model is not None and not 0 <= model < len(base.models):
            raise ValueError(f"model must be an index in [0, {len(base.models)}), got {model!r}")
        self._by_model = {self.codec.model_of(i): i for i, a in enumerate(self.codec.actions)
                          if self.codec.tier_of(i) == self.tier and (self.tier == END or _cut(a) == 0)}

    def _cost(self, model: int) -> float:
        cluster = self.codec.base.cluster
        device = {END: cluster.users[self.codec.base.request.user].device, EDGE: cluster.edge.device,
                  CLOUD: cluster.cloud.device}[self.tier]
        return cluster.table.prefix(device, model)[-1]

    def act(self, obs: Any, info: dict) -> Any:
        """The tier's action with the cheapest model that meets the requirement."""
        base = self.codec.base
        if self.fixed_model is not None:
            return self.codec.encode(self._by_model[self.fixed_model])
        req = base.request.accuracy_req
        ok = [m for m in self._by_model if base.models[m].top1 >= req]
        model = min(ok, key=self._cost) if ok else max(self._by_model, key=lambda m: base.models[m].top1)
        return self.codec.encode(self._by_model[model])


def _cut(action: tuple) -> int:
    return action[1] if len(action) == 3 else 0


class AlwaysLocal(_AlwaysTier):
    """Every request on the user's own device."""

    tier = END


class AlwaysEdge(_AlwaysTier):
    """Every request offloaded whole (raw input) to the edge server."""

    tier = EDGE


class AlwaysCloud(_AlwaysTier):
    """Every request offloaded whole (raw input) to the cloud, through the edge."""

    tier = CLOUD


class RandomAgent(_Fixed):
    """Uniformly random actions from the env's action space (seeded)."""

    def __init__(self, env: gym.Env, seed: int = 0):
        self.space = copy.deepcopy(env.action_space)
        self.space.seed(seed)

    def act(self, obs: Any, info: dict) -> Any:
        """A random action."""
        return self.space.sample()


class StaticBest(_Fixed):
    """The best single fixed action, chosen by mean reward over a calibration run on its own seed.

    Args:
        env: the env (its scenario and reward settings are copied for calibration).
        calibration_seed: seed of the calibration episode (keep it apart from evaluation seeds).
        calibration_steps: requests in the calibration episode.
    """

    def __init__(self, env: gym.Env, calibration_seed: int = 10_000, calibration_steps: int = 200):
        self.codec = ActionCodec(env, "StaticBest")
        means = []
        for index in range(len(self.codec.actions)):
            sim = copy.deepcopy(self.codec.base)
            sim.reset(seed=calibration_seed)
            action = np.array(self.codec.actions[index])
            means.append(np.mean([sim.step(action)[1] for _ in range(calibration_steps)]))
        self.index = int(np.argmax(means))
        self.calibration_rewards = means

    @property
    def action(self) -> tuple:
        """The chosen (tier, cut, model) or (tier, model)."""
        return self.codec.actions[self.index]

    def act(self, obs: Any, info: dict) -> Any:
        """The calibrated fixed action."""
        return self.codec.encode(self.index)


class Greedy(_Fixed):
    """Neurosurgeon-style: the best action as predicted from profiles and observed estimates.

    Latency is predicted per action as local compute + local backlog + uplink (bytes / estimated
    bandwidth + propagation) + server backlog (reported queue x mean service time / workers) +
    server compute (+ WAN both ways for the cloud) + result download. The true future bandwidth
    is never used; queues are known only as the counts the servers report.
    """

    def __init__(self, env: gym.Env):
        self.codec = ActionCodec(env, "Greedy")
        base = self.codec.base
        self._accuracy = np.array([base.models[self.codec.model_of(i)].top1 for i in range(len(self.codec.actions))])

    def _predict_latency(self, obs: np.ndarray) -> np.ndarray:
        base = self.codec.base
        c = base.cluster
        user = c.users[base.request.user]
        table = c.table
        up_bps = max(float(obs[OBS_UPLINK_MBPS]) * 1e6, 1.0)
        wan_bps = max(float(obs[OBS_WAN_MBPS]) * 1e6, 1.0)
        mean_service = {dev.name: np.mean([table.prefix(dev, m)[-1] for m in range(len(base.models))]) / workers
                        for dev, workers in ((user.device, 1), (c.edge.device, c.edge.n_workers),
                                             (c.cloud.device, c.cloud.n_workers))}
        out = np.empty(len(self.codec.actions))
        for i, action in enumerate(self.codec.actions):
            tier, model = action[0], action[-1]
            n_blocks = table.n_blocks[model]
            cut = n_blocks if tier == END else _cut(action)
            local = user.device
            latency = table.prefix(local, model)[cut] + obs[OBS_Q_LOCAL] * mean_service[local.name] * (cut > 0)
            if tier != END:
                sent = table.cut_bytes[model][cut]
                result = table.models[model].output_bytes
                server, q = (c.edge, obs[OBS_Q_EDGE]) if tier == EDGE else (c.cloud, obs[OBS_Q_CLOUD])
                prefix = table.prefix(server.device, model)
                latency += 8 * (sent + result) / up_bps + 2 * user.uplink.propagation_s
                latency += q * mean_service[server.device.name] + (prefix[-1] - prefix[cut]) * server.slowdown
                if tier == CLOUD:
                    latency += 8 * (sent + result) / wan_bps + 2 * c.wan_up.propagation_s
            out[i] = latency
        return out

    def act(self, obs: Any, info: dict) -> Any:
        """The action with the best predicted reward (latency and accuracy terms of the env)."""
        base = self.codec.base
        latency = self._predict_latency(np.asarray(obs, dtype=float))
        req = base.request.accuracy_req
        if base.reward_mode == "penalty":
            score = -latency - base.accuracy_penalty * (self._accuracy < req)
        else:
            score = -latency + base.accuracy_weight * self._accuracy
        return self.codec.encode(int(np.argmax(score)))


class Oracle(_Fixed):
    """Clairvoyant per-request optimum: tries every action on the true future (nothing committed)."""

    def __init__(self, env: gym.Env):
        self.codec = ActionCodec(env, "Oracle")

    def act(self, obs: Any, info: dict) -> Any:
        """The action whose true outcome has the highest reward."""
        base = self.codec.base
        rewards = [base.reward_of(base.what_if(np.array(a))) for a in self.codec.actions]
        return self.codec.encode(int(np.argmax(rewards)))
