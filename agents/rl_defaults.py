"""The one place for e3gym's defaults of the SB3 algorithms' options.

``e3gym train``, the leaderboard runner and the benchmark scripts all start from these; a suite's
or a command line's options are laid over them. The RL Zoo files in ``hyperparams/`` state the same
values for ``rl_zoo3`` (a test keeps them in step).
"""
from __future__ import annotations

from typing import Any

# A request's reward is nearly immediate (queues drain within a few requests). With SB3's gamma = 0.99
# the return sums ~100 later requests' noise, and on EndEdgeCloud-v1 PPO collapses to the fastest
# model, ignoring accuracy (compare: benchmarks/agents_default.py --ppo-kwargs '{"gamma": 0.99}').
# n_steps 512 / batch 128: four minibatches per rollout, several updates within the 30k-step budgets.
PPO = {"n_steps": 512, "batch_size": 128, "gamma": 0.5}

DEFAULTS: dict[str, dict[str, Any]] = {"ppo": PPO, "maskable_ppo": PPO, "a2c": {}, "dqn": {}}


def algo_kwargs(algo: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The options of ``algo``: e3gym's defaults with ``overrides`` laid over them."""
    return {**DEFAULTS.get(algo, {}), **(overrides or {})}
