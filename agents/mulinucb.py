"""muLinUCB: the contextual bandit of Zhang, Chen, Xu, "Autodidactic Neurosurgeon: Collaborative Deep
Inference for Mobile Edge Intelligence via Online Learning" (WWW 2021, arXiv 2102.02638).

What is learned is only the offloading delay of a cut (upload + edge compute + result download), as
one linear function of the cut's 7-d context ``x_p`` (work left after p by layer type, bits sent at
p); the device-side (front-end) delay comes from a table. With ``A = a0 I + sum x x^T`` and
``b = sum x y`` over offloaded frames, ``theta = A^-1 b``, frame t picks the cut with the lowest

    D(p) = x_p^T theta - alpha_T sqrt((1 - L) x_p^T A^-1 x_p) + frontend(p)

* **key frames**: L = ``l_key`` (0.8) on a key frame, ``l_nonkey`` (0.2) otherwise, so exploration
  happens mostly on frames that matter less;
* **forced sampling**: every ``ceil(T^mu)`` frames (mu = 0.25) the all-on-device arm (zero context)
  is excluded, so the learner keeps seeing offloading delays instead of freezing on-device (that arm
  yields no delay sample, and A, b only change on offloaded frames);
* **confidence radius**: ``alpha_T = (C_theta + C_noise sqrt(d ln((1 + T C_x^2) / delta))) / (1 - l_key)``,
  C_theta = 1, C_noise = 0.05, delta = 0.1, ``C_x^2`` the largest squared context norm;
* **doubling**: the horizon T starts at 200; the frame counter t counts frames since the last
  doubling and when t exceeds T, T doubles and t restarts at 0 (A and b are kept). Forced frames are
  those with ``t % ceil(T^mu) == 0``, as in the ANS code (so the first frame after a doubling is one).

Reconstructed or chosen here (each a field of :class:`MuLinUCBConfig`): ``a0`` (the ANS code draws
random integers 1-8 for A's diagonal; a fixed diagonal keeps runs reproducible); contexts are those
of ``e3gym/Partition-v0``'s observation, every feature divided by its maximum over the cuts (raw
magnitudes span 1e10 MACs to 10 layers; the ANS code feeds them raw, and fed raw here float64
``inv(A)`` became singular within a 3000-frame run); delays are in seconds
(``delay_unit_s``; the constants C_theta and C_noise are not scale-free, so the unit sets how much
the confidence bonus explores).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from e3gym.agents._system import system_of
from e3gym.core.partition import PartitionSystem
from e3gym.errors import E3GymError


@dataclass
class MuLinUCBConfig:
    """Hyperparameters (defaults: the ANS paper and code)."""

    mu: float = 0.25  # forced-sampling exponent: every ceil(T^mu) frames
    c_theta: float = 1.0  # bound on ||theta||
    c_noise: float = 0.05  # sub-Gaussian noise scale
    delta: float = 0.1  # confidence level
    l_key: float = 0.8  # L on key frames
    l_nonkey: float = 0.2  # L on other frames
    horizon0: int = 200  # first horizon T of the doubling trick
    a0: float = 1.0  # A starts as a0 * I
    delay_unit_s: float = 1.0  # delays enter the regression in this unit (the ANS code: seconds)
    forced_sampling: bool = True  # False: never exclude the on-device arm
    key_frame_weighting: bool = True  # False: L = 0 on every frame and no 1 / (1 - l_key) in alpha

    def __post_init__(self) -> None:
        for name in ("mu", "c_theta", "c_noise", "a0", "delay_unit_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise E3GymError(f"{name} must be a finite number > 0, got {v!r}")
        for name in ("delta", "l_key", "l_nonkey"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 < v < 1) and not (name == "l_nonkey" and v == 0):
                raise E3GymError(f"{name} must be a number in (0, 1), got {v!r}")
        if isinstance(self.horizon0, bool) or not isinstance(self.horizon0, int) or self.horizon0 < 1:
            raise E3GymError(f"horizon0 must be an integer >= 1, got {self.horizon0!r}")


class MuLinUCBModel:
    """The bandit itself, independent of any env.

    Args:
        contexts: (n_arms, d) context of every arm; the last arm runs everything on the device.
        frontend_s: (n_arms,) device-side delay of every arm.
        config: hyperparameters.
    """

    def __init__(self, contexts: np.ndarray, frontend_s: np.ndarray, config: MuLinUCBConfig | None = None):
        self.config = config or MuLinUCBConfig()
        self.contexts = np.asarray(contexts, dtype=float)
        self.frontend_s = np.asarray(frontend_s, dtype=float)
        self._unit = self.config.delay_unit_s
        if self.contexts.ndim != 2 or self.frontend_s.shape != (len(self.contexts),) or len(self.contexts) < 2:
            raise E3GymError(f"contexts must be (n_arms >= 2, d) and frontend_s (n_arms,), got "
                             f"{self.contexts.shape} and {self.frontend_s.shape}")
        self.dim = self.contexts.shape[1]
        self.local_arm = len(self.contexts) - 1
        self.cx2 = float(np.max(np.sum(self.contexts ** 2, axis=1)))  # C_x^2
        self.A = self.config.a0 * np.eye(self.dim)
        self.b = np.zeros(self.dim)
        self.horizon = self.config.horizon0  # T
        self.frame = 0  # t, frames since the last doubling
        self.n_updates = 0

    def alpha(self) -> float:
        """alpha_T for the current horizon."""
        c = self.config
        radius = c.c_theta + c.c_noise * math.sqrt(self.dim * math.log((1 + self.horizon * self.cx2) / c.delta))
        return radius / (1 - c.l_key) if c.key_frame_weighting else radius

    def forced_period(self) -> int:
        """ceil(T^mu): the forced-sampling period for the current horizon."""
        return math.ceil(self.horizon ** self.config.mu)

    def begin_frame(self) -> bool:
        """Advance the frame counter (doubling T when it is exceeded); True when this frame is forced."""
        self.frame += 1
        if self.frame > self.horizon:
            self.horizon *= 2
            self.frame = 0
        return self.config.forced_sampling and self.frame % self.forced_period() == 0

    def scores(self, key_frame: bool) -> np.ndarray:
        """D(p) of every arm: the lower confidence bound of its delay (in units of ``delay_unit_s``)."""
        c = self.config
        L = (c.l_key if key_frame else c.l_nonkey) if c.key_frame_weighting else 0.0
        a_inv = np.linalg.inv(self.A)
        theta = a_inv @ self.b
        width = np.sqrt(np.maximum(np.einsum("ki,ij,kj->k", self.contexts, a_inv, self.contexts), 0.0))
        return self.contexts @ theta - self.alpha() * np.sqrt(1 - L) * width + self.frontend_s / self._unit

    def select(self, key_frame: bool) -> int:
        """The arm of the next frame (ties: lowest index)."""
        forced = self.begin_frame()
        d = self.scores(key_frame)
        if forced:
            d[self.local_arm] = np.inf
        return int(np.argmin(d))

    def update(self, arm: int, offload_delay_s: float) -> None:
        """Add one measured offloading delay (ignored for the on-device arm, which yields none)."""
        if arm == self.local_arm:
            return
        x = self.contexts[arm]
        self.A += np.outer(x, x)
        self.b += offload_delay_s / self._unit * x
        self.n_updates += 1


class MuLinUCB:
    """muLinUCB on ``e3gym/Partition-v0``: contexts and front-end delays from the observation.

    Args:
        env: a Partition-v0 env (bare or wrapped).
        **config: fields of :class:`MuLinUCBConfig`.
    """

    default_config: dict[str, Any] = {}

    def __init__(self, env: gym.Env, **config: Any):
        system_of(env, PartitionSystem, type(self).__name__,
                  "e3gym/Partition-v0 (per-cut contexts in the observation)")
        self._split = env.unwrapped.split_observation
        self.config = MuLinUCBConfig(**{**self.default_config, **config})
        self.model: MuLinUCBModel | None = None
        self._arm: int | None = None
        self._check_tables = False

    def act(self, obs: Any, info: dict) -> int:
        """The cut with the lowest confidence bound (the on-device cut excluded on forced frames)."""
        contexts, frontend, key = self._split(obs)
        if self.model is None:  # contexts and front-end delays are fixed tables: read them once
            self.model = MuLinUCBModel(contexts, frontend, self.config)
        elif self._check_tables:  # moved to another env: it must have the tables learned on
            if not (np.array_equal(contexts, self.model.contexts) and np.array_equal(frontend, self.model.frontend_s)):
                raise E3GymError(f"{type(self).__name__}: moved to an env whose cut contexts or front-end delays "
                                 f"differ from those it learned on")
            self._check_tables = False
        self._arm = self.model.select(key)
        return self._arm

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Learn from the offloading delay the device measured (nothing when the frame stayed on-device)."""
        if self.model is not None and self._arm is not None and info.get("offloaded"):
            self.model.update(self._arm, float(info["offload_delay_s"]))
        self._arm = None

    def reset(self) -> None:
        """Keep A, b and the horizon: the learning carries over between episodes."""
        self._arm = None

    def move_to(self, env: gym.Env) -> None:
        """Act on ``env`` from now on, keeping A, b and the horizon.

        The new env's cut tables (read from its next observation) must be the ones learned on, else
        the next ``act`` raises E3GymError.
        """
        self._split = type(self)(env, **dataclasses.asdict(self.config))._split
        self._check_tables = self.model is not None
        self._arm = None
