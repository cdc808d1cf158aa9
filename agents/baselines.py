"""Reference policies for EndEdgeCloud-v1 and ModelSelection-v1.

* :class:`AlwaysLocal`, :class:`AlwaysEdge`, :class:`AlwaysCloud` - one tier for everything (raw
  input offloaded unless ``cut`` is given). By default each request is served by the model that is
  cheapest on that tier among those meeting its accuracy requirement (the most accurate one when
  none does); ``model=k`` fixes the model instead.
* :class:`RandomAgent` - uniform over the action space.
* :class:`StaticBest` - the single fixed action with the best mean reward on a calibration run
  (its own seed): score 0 of the leaderboard.
* :class:`Greedy` - Neurosurgeon-style (Kang et al., ASPLOS 2017): predicts every action's latency
  from the profiles and the *observed* estimates (bandwidth EWMA, reported queue lengths) and
  picks the best predicted reward.
* :class:`Oracle` - clairvoyant: the per-request optimum against the true future bandwidth and
  queue state (``env.best_what_if``: the best ``env.what_if`` of every action, found by a bounded
  search): score 1 of the leaderboard.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from e3gym.agents._actions import ActionCodec
from e3gym.core.cluster import CLOUD, EDGE, END, Estimates
from e3gym.errors import E3GymError

# Observation indices shared by EndEdgeCloud-v1 and ModelSelection-v1 (see the env docstring).
OBS_UPLINK_MBPS, OBS_WAN_MBPS, OBS_Q_LOCAL, OBS_Q_EDGE, OBS_Q_CLOUD, OBS_ACCURACY_REQ = 0, 1, 2, 3, 4, 5


class _Fixed:
    """Base of the policies that learn nothing."""

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Nothing to learn."""

    def reset(self) -> None:
        """Nothing to forget."""


class _AlwaysTier(_Fixed):
    """One tier for every request.

    Args:
        env: an EndEdgeCloud-style env (bare or FlatAction-wrapped).
        model: a fixed model index for every request; None (default) picks, per request, the model
            cheapest to compute on the tier's device among those meeting the request's accuracy
            requirement (the most accurate one when none does), from the profiles alone.
        cut: blocks run on the user's device before offloading (edge and cloud only; default 0 =
            the raw input is uploaded). Models with no more than ``cut`` blocks are never chosen,
            since the env would run them locally.
    """

    tier = END

    def __init__(self, env: gym.Env, model: int | None = None, cut: int = 0):
        self.codec = ActionCodec(env, type(self).__name__)
        self.fixed_model = model
        base = self.codec.base
        if model is not None and not (isinstance(model, int) and 0 <= model < len(base.models)):
            raise E3GymError(f"model must be an index in [0, {len(base.models)}), got {model!r}")
        if not (isinstance(cut, int) and cut >= 0):
            raise E3GymError(f"cut must be an integer >= 0, got {cut!r}")
        if cut and (self.tier == END or not base.partition):
            raise E3GymError(f"cut={cut}: {type(self).__name__} on {type(base).__name__} takes no cut (use 0)")
        self.cut = cut
        self._by_model = {self.codec.model_of(i): i for i, a in enumerate(self.codec.actions)
                          if self.codec.tier_of(i) == self.tier and (self.tier == END or _cut(a) == cut)}
        if not self._by_model:
            raise E3GymError(f"cut={cut} leaves no model to offload: every model has at most {cut} blocks")
        if model is not None and model not in self._by_model:
            raise E3GymError(f"model {model} has {base.n_blocks[model]} blocks: cannot offload after cut={cut}")

    def _cost(self, model: int) -> float:
        cluster = self.codec.system
        device = {END: cluster.users[self.codec.request.user].device, EDGE: cluster.edge.device,
                  CLOUD: cluster.cloud.device}[self.tier]
        prefix = cluster.table.prefix(device, model)
        return prefix[-1] - prefix[self.cut]

    def act(self, obs: Any, info: dict) -> Any:
        """The tier's action with the fixed model, or the cheapest model that meets the requirement."""
        base = self.codec.base
        if self.fixed_model is not None:
            return self.codec.encode(self._by_model[self.fixed_model])
        req = self.codec.request.accuracy_req
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

    The calibration is cached per env configuration (scenario, reward settings, seed, steps), so
    building the agent again for each evaluation seed costs nothing.

    Args:
        env: the env (its scenario and reward settings are copied for calibration).
        calibration_seed: seed of the calibration episode (keep it apart from evaluation seeds).
        calibration_steps: requests in the calibration episode.
    """

    def __init__(self, env: gym.Env, calibration_seed: int = 10_000, calibration_steps: int = 200):
        if not (isinstance(calibration_steps, int) and calibration_steps >= 1):
            raise E3GymError(f"calibration_steps must be an integer >= 1, got {calibration_steps!r}")
        self.codec = ActionCodec(env, "StaticBest")
        key = _calibration_key(self.codec.base, calibration_seed, calibration_steps)
        means = _cached_calibration(key, len(self.codec.actions)) if key is not None else None
        if means is None:
            means = self._calibrate(calibration_seed, calibration_steps)
            if key is not None:
                _store_calibration(key, means)
        self.index = int(np.argmax(means))
        self.calibration_rewards = list(means)

    def _calibrate(self, seed: int, steps: int) -> list[float]:
        sim = copy.deepcopy(self.codec.base)  # never touches the env the agent acts in
        means = []
        for action in self.codec.actions:
            sim.reset(seed=seed)  # same seed: every action sees the same requests and links
            means.append(float(np.mean([sim.step(np.array(action))[1] for _ in range(steps)])))
        return means

    @property
    def action(self) -> tuple:
        """The chosen (tier, cut, model) or (tier, model)."""
        return self.codec.actions[self.index]

    def move_to(self, env: gym.Env) -> None:
        """Play the calibrated action on ``env`` (for example the evaluation variant of the scenario it was
        calibrated on); ``env`` must have the same distinct actions."""
        codec = ActionCodec(env, "StaticBest")
        if codec.actions != self.codec.actions:
            raise E3GymError("StaticBest.move_to: the new env's distinct actions differ from those it calibrated")
        self.codec = codec

    def act(self, obs: Any, info: dict) -> Any:
        """The calibrated fixed action."""
        return self.codec.encode(self.index)


_CALIBRATIONS: dict[str, list[float]] = {}
_calibration_dir: Path | None = None  # set by use_calibration_dir


def use_calibration_dir(path: str | Path | None) -> None:
    """Also keep StaticBest's calibrations as JSON files in ``path`` (None: in memory only).

    The leaderboard points this at ``<out>/calibrations`` so that every worker process, and every
    later run, reuses a scenario's calibration instead of repeating it.
    """
    global _calibration_dir
    _calibration_dir = Path(path) if path is not None else None


def _calibration_file(key: str) -> Path | None:
    if _calibration_dir is None:
        return None
    return _calibration_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _cached_calibration(key: str, n_actions: int) -> list[float] | None:
    """The calibration of ``key`` from memory or its file; a file for another key, or malformed, is ignored."""
    if key in _CALIBRATIONS:
        return _CALIBRATIONS[key]
    path = _calibration_file(key)
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    means = data.get("mean_rewards") if isinstance(data, dict) and data.get("key") == key else None
    if not (isinstance(means, list) and len(means) == n_actions and all(isinstance(m, float) for m in means)):
        return None  # recomputed and rewritten
    _CALIBRATIONS[key] = means
    return means


def _store_calibration(key: str, means: list[float]) -> None:
    _CALIBRATIONS[key] = means
    path = _calibration_file(key)
    if path is not None:
        from e3gym.files import write_json_atomic
        write_json_atomic(path, {"key": key, "mean_rewards": means})


def _calibration_key(base: gym.Env, seed: int, steps: int) -> str | None:
    """What a calibration depends on, as a string; None (no caching) for custom profile libraries."""
    if base.profiles is not None:
        return None
    settings = {name: getattr(base, name) for name in
                ("reward_mode", "accuracy_penalty", "accuracy_weight", "energy_weight", "queue_obs_max")}
    return json.dumps([type(base).__name__, base.spec_data, settings, seed, steps], sort_keys=True, default=str)


class Greedy(_Fixed):
    """Neurosurgeon-style: the best action as predicted from profiles and observed estimates.

    Each action's outcome comes from :meth:`~e3gym.core.cluster.Cluster.predict`: the env's own
    request timeline (compute, codec, RTT, TCP slow start, radio promotion, server queues) fed the
    observed bandwidth estimates (EWMA of past transfers) and the queue counts the servers report,
    never the true future. The reward is the env's own :meth:`reward_of`.
    """

    def __init__(self, env: gym.Env):
        self.codec = ActionCodec(env, "Greedy")

    def estimates(self, obs: np.ndarray) -> Estimates:
        """What the observation tells: bandwidth estimates and reported queue counts."""
        obs = np.asarray(obs, dtype=float)
        return Estimates(uplink_bps=float(obs[OBS_UPLINK_MBPS]) * 1e6, wan_bps=float(obs[OBS_WAN_MBPS]) * 1e6,
                         queue_local=float(obs[OBS_Q_LOCAL]), queue_edge=float(obs[OBS_Q_EDGE]),
                         queue_cloud=float(obs[OBS_Q_CLOUD]))

    def predictions(self, obs: np.ndarray) -> list:
        """The predicted Outcome of every action, in the codec's order."""
        base, est = self.codec.base, self.estimates(obs)
        cluster, request = self.codec.system, self.codec.request
        return [cluster.predict(request, *base.decode_action(np.array(a)), est) for a in self.codec.actions]

    def act(self, obs: Any, info: dict) -> Any:
        """The action with the best predicted reward (the env's reward of the predicted outcome), the first
        one on ties; found by the env's bounded search (``best_what_if``), the same as predicting them all."""
        return self.codec.encode(self.codec.base.best_what_if(self.estimates(obs)).index)


class Oracle(_Fixed):
    """Clairvoyant per-request optimum: the action whose true outcome (nothing committed) has the best
    reward, the first one on ties, found by the env's bounded search (``best_what_if``): the same action
    as trying every one, at the cost of a few."""

    def __init__(self, env: gym.Env):
        self.codec = ActionCodec(env, "Oracle")

    def act(self, obs: Any, info: dict) -> Any:
        """The action whose true outcome has the highest reward."""
        return self.codec.encode(self.codec.base.best_what_if().index)
