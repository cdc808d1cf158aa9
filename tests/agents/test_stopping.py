"""Backward induction, OSLA and the fixed rules (e3gym.core.coinference, agents/stopping.py)."""
from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e3gym.agents.base import AgentSpecError, load_agent
from e3gym.agents.stopping import (
    OSLA,
    OffloadAtHorizon,
    OffloadAtInput,
    OptimalStopping,
)
from e3gym.core import coinference
from e3gym.core.coinference import (
    DiscreteChannel,
    FadingChannel,
    LayerModel,
    SplitProblem,
)


def small_problem(snr_db: float = 0.0) -> SplitProblem:
    """Three layers, a three-valued channel: small enough to enumerate every policy."""
    layers = LayerModel(bits=(40e3, 12e3, 30e3, 4e3), cycles=(2e6, 5e6, 1e6))
    channel = DiscreteChannel([0.05, 0.6, 2.5], [0.3, 0.5, 0.2], mean_snr_db=snr_db)
    return SplitProblem(layers, channel, energy_weight=0.2)


def brute_force_cost(problem: SplitProblem, horizon: int, stop_sets: tuple) -> float:
    """Expected cost of a policy (stop at stage l iff the gain's index is in stop_sets[l]), by enumerating
    every sequence of gains (the stages after the stop are drawn but unused)."""
    ch = problem.channel
    total = 0.0
    for path in itertools.product(range(len(ch.gains)), repeat=horizon + 1):
        cost = 0.0
        for stage, i in enumerate(path):
            if stage == horizon or i in stop_sets[stage]:
                cost += problem.stop_cost(stage, ch.gains[i])
                break
            cost += problem.continue_cost(stage)
        total += math.prod(ch.probs[i] for i in path) * cost
    return total


@pytest.mark.parametrize("snr_db", [-8.0, 0.0, 12.0])
@pytest.mark.parametrize("horizon", [1, 2, 3])
def test_backward_induction_equals_the_best_of_every_policy(snr_db, horizon):
    problem = small_problem(snr_db)
    subsets = [frozenset(s) for r in range(4) for s in itertools.combinations(range(3), r)]
    best = min(brute_force_cost(problem, horizon, sets) for sets in itertools.product(subsets, repeat=horizon))
    opt = coinference.optimal_policy(problem, horizon)
    assert opt.expected_cost == pytest.approx(best, rel=1e-12)
    # and the optimal thresholds, enumerated as stop sets, cost exactly that
    sets = tuple(frozenset(i for i, g in enumerate(problem.channel.gains) if g >= t) for t in opt.thresholds)
    assert brute_force_cost(problem, horizon, sets) == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("horizon", [2, 3])
def test_policy_evaluation_equals_enumeration_for_any_thresholds(horizon):
    problem = small_problem(3.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        tau = rng.choice([0.0, 0.1, 1.0, 3.0, math.inf], size=horizon)
        sets = tuple(frozenset(i for i, g in enumerate(problem.channel.gains) if g >= t) for t in tau)
        assert coinference.evaluate_policy(problem, horizon, tau).expected_cost == pytest.approx(
            brute_force_cost(problem, horizon, sets), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(snr_db=st.floats(-6, 30), energy_weight=st.floats(0, 2), n_layers=st.integers(1, 6),
       width=st.integers(16, 1024), horizon_frac=st.floats(0, 1), tau=st.lists(st.floats(0, 5), min_size=6, max_size=6))
def test_optimal_is_never_worse_than_any_rule(snr_db, energy_weight, n_layers, width, horizon_frac, tau):
    problem = SplitProblem(LayerModel.mlp(n_layers=n_layers, width=width), FadingChannel(2e6, snr_db, -10.0),
                           energy_weight=energy_weight)
    m = round(horizon_frac * n_layers)
    opt = coinference.optimal_policy(problem, m).expected_cost
    rules = [coinference.osla_policy(problem, m), coinference.fixed_stage_policy(problem, m, 0),
             coinference.fixed_stage_policy(problem, m, m), coinference.evaluate_policy(problem, m, tau[:m])]
    for rule in rules:
        assert opt <= rule.expected_cost * (1 + 1e-9), rule.name


def test_osla_is_optimal_one_stage_before_the_horizon_and_its_threshold_is_closed_form():
    problem = SplitProblem(LayerModel.mlp(), FadingChannel(2e6, 4.0, -10.0))
    opt, osla = coinference.optimal_policy(problem, 6), coinference.osla_policy(problem, 6)
    assert osla.thresholds[-1] == pytest.approx(opt.thresholds[-1])
    for l, tau in enumerate(osla.thresholds):
        if 0 < tau < math.inf:  # at the threshold, stopping costs exactly the one-step look-ahead
            assert problem.stop_cost(l, tau) == pytest.approx(problem.continue_cost(l) + problem.stop_cost_tail(l + 1))


def test_fixed_rules_have_their_obvious_costs():
    problem = SplitProblem(LayerModel.mlp(), FadingChannel(2e6, 4.0, -10.0))
    at_input = coinference.fixed_stage_policy(problem, 6, 0)
    assert at_input.expected_cost == pytest.approx(problem.stop_cost_tail(0))
    at_end = coinference.fixed_stage_policy(problem, 6, 6)
    assert at_end.expected_cost == pytest.approx(sum(problem.continue_cost(l) for l in range(6)))


def test_agents_play_their_thresholds():
    env = gym.make("e3gym/FadingSplit-v0", mean_snr_db=1.0)
    opt = OptimalStopping(env)
    assert opt.policy.thresholds == coinference.optimal_policy(env.unwrapped.problem, 6).thresholds
    for stage in range(6):
        tau = opt.policy.thresholds[stage]
        assert opt.act(None, {"stage": stage, "gain": tau * 1.001 + 1e-12}) == 1
        if tau > 0:
            assert opt.act(None, {"stage": stage, "gain": tau * 0.999}) == 0
    assert opt.act(None, {"stage": 6, "gain": 0.0}) == 1  # the horizon always stops
    assert OffloadAtInput(env).act(None, {"stage": 0, "gain": 1e-6}) == 1
    assert OffloadAtHorizon(env).act(None, {"stage": 5, "gain": 40.0}) == 0
    obs, info = env.reset(seed=0)  # from the observation alone (stage / N and the gain)
    assert opt.act(obs, {}) == opt.act(obs, info)
    assert isinstance(load_agent("osla", env), OSLA)
    with pytest.raises(AgentSpecError, match="FadingSplit-v0"):
        load_agent("optimal_stopping", gym.make("e3gym/Partition-v0"))
