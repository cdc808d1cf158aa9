"""Reference policies for ``e3gym/Partition-v0`` (the comparisons of the ANS paper).

* :class:`PartitionLinUCB` - plain LinUCB over muLinUCB's contexts: the same ridge regression and
  lower confidence bound, no forced sampling, no key-frame weighting (L = 0, OFUL radius without the
  ``1 / (1 - l_key)`` factor).
* :class:`NeurosurgeonStatic` - Neurosurgeon-style (Kang et al., ASPLOS 2017): an offline-profiled
  linear regression of the edge delay on the work by layer type (conv MACs, fc MACs, other ops after
  the cut), fitted once to the idle server's profile, plus a fixed bandwidth estimate; each cut's
  delay is predicted by the env's own timeline (:meth:`~e3gym.core.partition.PartitionSystem.predict`)
  and the cut with the smallest prediction is played forever (never updated).
* :class:`FixedCut` - one cut always: :class:`OnDevice` (everything on the device), :class:`AllEdge`
  (the raw input offloaded).
* :class:`OracleCut` - clairvoyant: the cut with the smallest true (noise-free) delay of each frame.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from e3gym.agents._system import system_of
from e3gym.agents.mulinucb import MuLinUCB
from e3gym.core.partition import PartitionEstimates, PartitionSystem
from e3gym.errors import E3GymError


def _partition_system(env: gym.Env, who: str) -> PartitionSystem:
    return system_of(env, PartitionSystem, who, "e3gym/Partition-v0")


class PartitionLinUCB(MuLinUCB):
    """LinUCB over the per-cut contexts: muLinUCB without forced sampling and key-frame weighting."""

    default_config = {"forced_sampling": False, "key_frame_weighting": False}


class _Fixed:
    cut = 0

    def act(self, obs: Any, info: dict) -> int:
        """The fixed cut."""
        return self.cut

    def update(self, obs: Any, action: Any, reward: float, next_obs: Any, info: dict) -> None:
        """Nothing to learn."""

    def reset(self) -> None:
        """Nothing to forget."""


class FixedCut(_Fixed):
    """Always the same cut.

    Args:
        env: a Partition-v0 env.
        cut: the cut index.
    """

    def __init__(self, env: gym.Env, cut: int = 0):
        system = _partition_system(env, type(self).__name__)
        if isinstance(cut, bool) or not isinstance(cut, int) or not 0 <= cut < system.n_cuts:
            raise E3GymError(f"cut must be an integer in [0, {system.n_cuts}), got {cut!r}")
        self.cut = cut


class OnDevice(FixedCut):
    """Everything on the device."""

    def __init__(self, env: gym.Env):
        super().__init__(env, _partition_system(env, "OnDevice").table.local_cut)


class AllEdge(FixedCut):
    """The raw input offloaded (cut 0)."""

    def __init__(self, env: gym.Env):
        super().__init__(env, 0)


class NeurosurgeonStatic(_Fixed):
    """Offline regression of edge delay per layer type + a fixed bandwidth estimate; never updated.

    Args:
        env: a Partition-v0 env.
        bandwidth_mbps: the bandwidth estimate; default the long-run mean of the env's bandwidth process.
    """

    def __init__(self, env: gym.Env, bandwidth_mbps: float | None = None):
        self.system = _partition_system(env, "NeurosurgeonStatic")
        table = self.system.table
        bps = self.system.bandwidth.mean_bps() if bandwidth_mbps is None else float(bandwidth_mbps) * 1e6
        if not (np.isfinite(bps) and bps > 0):
            raise E3GymError(f"bandwidth_mbps must be > 0, got {bandwidth_mbps!r}")
        offload = np.arange(table.n_cuts) != table.local_cut
        work = table.contexts[:, [0, 2, 4]]  # conv MACs, fc MACs, other ops after the cut
        scale = np.where(work.max(axis=0) > 0, work.max(axis=0), 1.0)
        # Profiled once on the idle server (load factor 1): edge seconds per unit of work of each type.
        coef, *_ = np.linalg.lstsq(work[offload] / scale, table.edge_s[offload], rcond=None)
        self.edge_coef = coef / scale
        self.bandwidth_bps = bps
        # A least-squares coefficient can come out slightly negative; an edge delay cannot.
        self.estimates = PartitionEstimates(bps, np.where(offload, np.maximum(work @ self.edge_coef, 0.0), 0.0))
        self.predicted_s = self.predictions(self.estimates)
        self.cut = int(np.argmin(self.predicted_s))

    def move_to(self, env: gym.Env) -> None:
        """Play the cut chosen from this env's profiles and bandwidth estimate on ``env`` (for example the
        evaluation variant of the scenario it was fitted on); ``env`` must have the same cut table."""
        system = _partition_system(env, "NeurosurgeonStatic")
        if not (np.array_equal(system.table.contexts, self.system.table.contexts)
                and np.array_equal(system.table.frontend_s, self.system.table.frontend_s)):
            raise E3GymError("NeurosurgeonStatic.move_to: the new env's cut table differs from the one it fitted")
        self.system = system

    def predictions(self, estimates: PartitionEstimates) -> np.ndarray:
        """The delay of every cut predicted from ``estimates`` by the env's own frame timeline."""
        return np.array([self.system.predict(p, estimates).latency_s for p in range(self.system.n_cuts)])


class OracleCut(_Fixed):
    """The best cut of every frame under the true bandwidth and load (clairvoyant, noise-free)."""

    def __init__(self, env: gym.Env):
        _partition_system(env, "OracleCut")
        self.base = env.unwrapped

    def act(self, obs: Any, info: dict) -> int:
        """argmin of the env's true expected delays for the current frame."""
        return int(np.argmin(self.base.expected_delays()))
