"""Stopping rules for ``e3gym/FadingSplit-v0`` and placement rules for ``e3gym/ModelPlacement-v0``
(Yan, Bi, Zhang, IEEE TWC 2022).

Every rule is a threshold on the channel gain per stage, computed by :mod:`e3gym.core.coinference`
from the env's own :class:`~e3gym.core.coinference.SplitProblem` (``env.unwrapped.system``: the cost
functions the env charges):

* :class:`OptimalStopping` - backward induction, ``J_l(h) = min(S_l(h), C_{l+1} + E[J_{l+1}])``;
* :class:`OSLA` - one-stage look-ahead, stop iff ``S_l(h) <= C_{l+1} + E[S_{l+1}]``;
* :class:`OffloadAtInput` - always upload the raw input; :class:`OffloadAtHorizon` - always run the
  placed layers first.

Placement: :class:`OptimalPlacement` picks, for the observed mean SNR, the M that minimizes the
analytical expected cost per inference (download amortized over K, plus the rule's expected cost),
from the env's :class:`~e3gym.core.coinference.PlacementModel`;
:class:`FixedPlacement` always places the same number of layers.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from e3gym.agents._system import system_of
from e3gym.core import coinference
from e3gym.core.coinference import PlacementModel, SplitProblem
from e3gym.errors import E3GymError


class _Stopping:
    """Base: a threshold rule from the env's problem; acts on the info's exact stage and gain."""

    def __init__(self, env: gym.Env):
        self.problem = system_of(env, SplitProblem, type(self).__name__, "e3gym/FadingSplit-v0")
        self.policy = self.make_policy(self.problem, env.unwrapped.horizon)

    def make_policy(self, problem: SplitProblem, horizon: int) -> coinference.StoppingPolicy:
        raise NotImplementedError

    def act(self, obs: Any, info: dict) -> int:
        """1 (stop) when the current gain reaches the stage's threshold, else 0 (continue)."""
        if "stage" in info and "gain" in info:
            stage, gain = int(info["stage"]), float(info["gain"])
        else:  # the observation carries them too (gain clipped at 50, where every rule stops anyway)
            stage, gain = int(round(float(obs[0]) * self.problem.n_layers)), float(obs[1])
        return int(self.policy.stops(stage, gain))

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Nothing to learn: the rule is computed from the model of the channel."""

    def reset(self) -> None:
        """Nothing to forget."""


class OptimalStopping(_Stopping):
    """The optimal rule by backward induction."""

    def make_policy(self, problem, horizon):
        return coinference.optimal_policy(problem, horizon)


class OSLA(_Stopping):
    """The one-stage look-ahead rule."""

    def make_policy(self, problem, horizon):
        return coinference.osla_policy(problem, horizon)


class OffloadAtInput(_Stopping):
    """Always upload the raw input (stage 0)."""

    def make_policy(self, problem, horizon):
        return coinference.fixed_stage_policy(problem, horizon, 0)


class OffloadAtHorizon(_Stopping):
    """Always compute every placed layer, then upload (or finish, when all N are placed)."""

    def make_policy(self, problem, horizon):
        return coinference.fixed_stage_policy(problem, horizon, horizon)


class _Placement:
    def __init__(self, env: gym.Env):
        self.model = system_of(env, PlacementModel, type(self).__name__, "e3gym/ModelPlacement-v0")

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Nothing to learn."""

    def reset(self) -> None:
        """Nothing to forget."""


class OptimalPlacement(_Placement):
    """For the observed mean SNR, the M with the lowest expected cost per inference.

    Args:
        env: a ModelPlacement-v0 env.
        rule: the splitting rule assumed inside the period (default: the env's).
    """

    def __init__(self, env: gym.Env, rule: str | None = None):
        super().__init__(env)
        self.rule = self.model.rule if rule is None else rule
        if self.rule not in coinference.RULES:
            raise E3GymError(f"rule must be one of {sorted(coinference.RULES)}, got {rule!r}")

    def costs(self, mean_snr_db: float) -> np.ndarray:
        """Expected cost per inference of every M at this SNR."""
        model = self.model
        problem = model.problem_at(mean_snr_db)
        return np.array([coinference.placement_cost(problem, m, model.n_inferences, self.rule, model.rx_power_w)
                         for m in range(model.n_layers + 1)])

    def act(self, obs: Any, info: dict) -> int:
        """argmin over M of the expected cost per inference."""
        return int(np.argmin(self.costs(float(np.asarray(obs).ravel()[0]))))


class FixedPlacement(_Placement):
    """Always place the same number of layers.

    Args:
        env: a ModelPlacement-v0 env.
        horizon: M (default: all layers).
    """

    def __init__(self, env: gym.Env, horizon: int | None = None):
        super().__init__(env)
        n = self.model.n_layers
        self.horizon = n if horizon is None else horizon
        if isinstance(self.horizon, bool) or not isinstance(self.horizon, int) or not 0 <= self.horizon <= n:
            raise E3GymError(f"horizon must be an integer in [0, {n}], got {horizon!r}")

    def act(self, obs: Any, info: dict) -> int:
        """The fixed M."""
        return self.horizon
