"""LinUCB with disjoint linear models (Li, Chu, Langford, Schapire, "A Contextual-Bandit Approach to
Personalized News Article Recommendation", WWW 2010, Algorithm 1).

Each arm ``a`` (a distinct action of the env) keeps a ridge regression of the reward on the
context ``x``::

    A_a = lambda I + sum x x^T,   b_a = sum r x,   theta_a = A_a^-1 b_a
    UCB_a(x) = theta_a^T x + alpha sqrt(x^T A_a^-1 x)

and the arm with the highest UCB is played. ``A_a^-1`` is kept directly and updated with the
Sherman-Morrison rank-1 formula ``(A + x x^T)^-1 = A^-1 - (A^-1 x)(A^-1 x)^T / (1 + x^T A^-1 x)``,
in float64. The context is the observation scaled by the observation space's upper bounds, plus a
constant 1 (the bias). As with :class:`~e3gym.envs.FlatAction`'s masks, arms whose model misses the
request's accuracy requirement are left out when some arm meets it (a linear model cannot learn
that step from the requirement alone). The learned models persist across episodes; ``reset``
forgets nothing.

Prior mean: Li et al. start every ``theta_a`` at 0. Rewards here are negative (minus latency), so
an untried arm would look better than every tried one and each of the hundreds of arms would be
tried in every region of the context space. ``prior="first"`` (the default) centres the ridge
prior of every arm on the first reward observed (``b_a += lam * r_0 * e_bias``, i.e. a Gaussian
prior on ``theta_a`` with mean ``r_0`` on the bias feature); ``prior=None`` is the original zero prior.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from e3gym.agents._actions import ActionCodec
from e3gym.core.cluster import END
from e3gym.errors import E3GymError


@dataclass
class LinUCBConfig:
    """Hyperparameters."""

    alpha: float = 0.05  # width of the confidence bonus, in reward units (seconds of latency here)
    lam: float = 1.0  # ridge regularisation: A starts as lam * I

    def __post_init__(self) -> None:
        if not self.alpha >= 0:
            raise E3GymError(f"alpha must be >= 0, got {self.alpha!r}")
        if not self.lam > 0:
            raise E3GymError(f"lam must be > 0, got {self.lam!r}")


def scaled_observation(space: gym.spaces.Box) -> Callable[[np.ndarray], np.ndarray]:
    """Feature map: observation / upper bound (finite, non-zero), then a bias of 1."""
    high = np.where(np.asarray(space.high, dtype=float) > 0, np.asarray(space.high, dtype=float), 1.0)
    return lambda obs: np.append(np.asarray(obs, dtype=float) / high, 1.0)


class LinUCBModel:
    """The bandit itself, independent of any env: ``n_arms`` disjoint ridge models in ``d`` dims."""

    def __init__(self, n_arms: int, dim: int, config: LinUCBConfig | None = None):
        self.config = config or LinUCBConfig()
        self.A_inv = np.repeat(np.eye(dim)[None] / self.config.lam, n_arms, axis=0)
        self.b = np.zeros((n_arms, dim))
        self.counts = np.zeros(n_arms, dtype=np.int64)
        self._theta = np.zeros((n_arms, dim))  # A_inv b, kept up to date by update() and add_prior_mean()

    def theta(self) -> np.ndarray:
        """Ridge estimates theta_a = A_a^-1 b_a for every arm, shape (n_arms, d)."""
        return self._theta.copy()

    def ucb(self, x: np.ndarray) -> np.ndarray:
        """UCB score of every arm for context ``x``."""
        width = np.sqrt(np.maximum(np.einsum("i,kij,j->k", x, self.A_inv, x), 0.0))
        return self._theta @ x + self.config.alpha * width

    def select(self, x: np.ndarray, allowed: np.ndarray | None = None) -> int:
        """The arm with the highest UCB (ties: lowest index), among ``allowed`` if given."""
        scores = self.ucb(x)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        return int(np.argmax(scores))

    def add_prior_mean(self, value: float, bias_index: int = -1) -> None:
        """Centre every arm's ridge prior on ``value`` for the bias feature (``b += lam * value * e``)."""
        self.b[:, bias_index] += self.config.lam * value
        self._theta = np.einsum("kij,kj->ki", self.A_inv, self.b)

    def update(self, arm: int, x: np.ndarray, reward: float) -> None:
        """Add one observation to ``arm``'s model (Sherman-Morrison)."""
        a_inv = self.A_inv[arm]
        ax = a_inv @ x
        a_inv -= np.outer(ax, ax) / (1.0 + x @ ax)
        self.b[arm] += reward * x
        self.counts[arm] += 1
        # Only this arm's estimate moves; one arm's einsum gives the batched one's floats exactly
        # (tests/agents/test_linucb.py holds the two equal bit for bit).
        self._theta[arm] = np.einsum("ij,j->i", a_inv, self.b[arm])


class LinUCB:
    """LinUCB over the env's distinct actions, contexts from the observation.

    Args:
        env: an EndEdgeCloud-style env (bare or FlatAction-wrapped).
        alpha: confidence-bonus width.
        lam: ridge regularisation.
        mask_inaccurate: play only arms whose model meets the request's accuracy requirement.
        prior: "first" (prior mean = the first reward observed), a number, or None (zero prior).
        cuts: every distinct cut is an arm (default); False keeps only whole-model arms (all local,
            or the raw input offloaded): 3 x n_models arms instead of hundreds on the default scenario,
            which a bandit explores in far fewer requests.
    """

    def __init__(self, env: gym.Env, alpha: float = 0.05, lam: float = 1.0, mask_inaccurate: bool = True,
                 prior: str | float | None = "first", cuts: bool = True):
        if not (prior is None or prior == "first" or isinstance(prior, (int, float))):
            raise E3GymError(f"prior must be 'first', a number or None, got {prior!r}")
        self.codec = ActionCodec(env, "LinUCB")
        base = self.codec.base
        self.mask_inaccurate = mask_inaccurate
        self._accuracy = np.array([base.models[self.codec.model_of(i)].top1 for i in range(len(self.codec.actions))])
        self.features = scaled_observation(self.codec.base.observation_space)
        dim = self.codec.base.observation_space.shape[0] + 1
        self.model = LinUCBModel(len(self.codec.actions), dim, LinUCBConfig(alpha, lam))
        self._arm_ok = np.array([cuts or a[0] == END or len(a) == 2 or a[1] == 0 for a in self.codec.actions])
        self._last: tuple[int, np.ndarray] | None = None
        self._prior_pending = prior == "first"
        if isinstance(prior, (int, float)):
            self.model.add_prior_mean(float(prior))

    def act(self, obs: Any, info: dict) -> Any:
        """Play the arm with the highest UCB."""
        x = self.features(obs)
        allowed = self._arm_ok
        if self.mask_inaccurate:
            accurate = allowed & (self._accuracy >= self.codec.request.accuracy_req)
            allowed = accurate if accurate.any() else allowed
        arm = self.model.select(x, allowed)
        self._last = (arm, x)
        return self.codec.encode(arm)

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Learn from the reward of the arm just played."""
        if self._last is None:
            return
        arm, x = self._last
        if self._prior_pending:
            self.model.add_prior_mean(reward)
            self._prior_pending = False
        self.model.update(arm, x, reward)
        self._last = None

    def reset(self) -> None:
        """Keep the learned models (they carry over between episodes)."""
        self._last = None

    def move_to(self, env: gym.Env) -> None:
        """Act on ``env`` from now on, keeping what was learned (for example after warm-up on training data).

        ``env`` must have the same distinct actions and the same observation bounds (the contexts'
        scale), else E3GymError: the learned weights would mean something else there.
        """
        codec = ActionCodec(env, "LinUCB")
        if codec.actions != self.codec.actions:
            raise E3GymError("LinUCB.move_to: the new env's distinct actions differ from those it learned on")
        old, new = self.codec.base.observation_space, codec.base.observation_space
        if old.shape != new.shape or not (np.array_equal(old.low, new.low) and np.array_equal(old.high, new.high)):
            raise E3GymError("LinUCB.move_to: the new env's observation bounds differ, so its contexts would be "
                             "scaled differently from those it learned on")
        self.codec = codec
        self._accuracy = np.array([codec.base.models[codec.model_of(i)].top1 for i in range(len(codec.actions))])
        self.features = scaled_observation(new)
        self._last = None
