"""The bounded search of the best action: sound bounds, and the same action as trying every one."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from conftest import small_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

import e3gym  # noqa: F401  (registers the envs)
from e3gym.agents.baselines import Greedy
from e3gym.core.bounds import best_of
from e3gym.core.cluster import CLOUD
from e3gym.core.workload import Request
from e3gym.errors import E3GymError

# Constant links make the bounds tight (a lone transfer takes exactly bits / peak), LTE users idle
# long enough pay the promotion, a high rate and two edge workers keep the queues busy; the shipped
# scenarios replay real traces.
SCENARIOS = {
    "constant": ("e3gym/EndEdgeCloud-v1", small_scenario()),
    "lte-idle": ("e3gym/EndEdgeCloud-v1", small_scenario(users={"access": "lte"}, workload={"rate_per_s": 0.05})),
    "overload": ("e3gym/EndEdgeCloud-v1", small_scenario(workload={"rate_per_s": 40.0}, edge={"workers": 2})),
    "jpeg-traces": ("e3gym/EndEdgeCloud-v1", "default"),
    "whole-models": ("e3gym/ModelSelection-v1", "model_selection"),
}


def _every_outcome(env):
    return [env.what_if(np.array(a)) for a in env.distinct_actions()]


def _check_search(env, outcomes, estimates=None):
    """The search against every outcome: the same argmax, and bounds below every latency and energy."""
    rewards = [env.reward_of(out) for out in outcomes]
    best = env.best_what_if(estimates)
    assert best.index == int(np.argmax(rewards))  # np.argmax: the first maximum
    assert best.reward == max(rewards)
    assert best.outcome.latency_s == outcomes[best.index].latency_s
    assert 1 <= best.evaluated <= len(outcomes)
    latency, energy = env._bounds.lower_bounds(env.system, env.request, True, estimates)
    assert np.all(latency <= [out.latency_s for out in outcomes])
    assert np.all(energy <= [out.energy_j for out in outcomes])
    return best


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(SCENARIOS)), seed=st.integers(0, 2**16),
       mode=st.sampled_from(["penalty", "weighted"]), energy_weight=st.sampled_from([0.0, 0.5, 5.0]),
       steps=st.integers(1, 40), explore=st.floats(0, 1))
def test_bounds_hold_and_the_search_finds_the_argmax(name, seed, mode, energy_weight, steps, explore):
    env_id, scenario = SCENARIOS[name]
    env = gym.make(env_id, scenario=scenario, reward_mode=mode, energy_weight=energy_weight).unwrapped
    obs, _ = env.reset(seed=seed)
    greedy = Greedy(env)
    rng = np.random.default_rng(seed)
    actions = env.distinct_actions()
    for _ in range(steps):
        best = _check_search(env, _every_outcome(env))  # the true future (Oracle)
        _check_search(env, greedy.predictions(obs), greedy.estimates(obs))  # predictions (Greedy)
        # the oracle's choice most of the time, anything else otherwise: queues of every shape
        chosen = best.index if rng.random() > explore else int(rng.integers(len(actions)))
        obs = env.step(np.array(actions[chosen]))[0]


def test_bounds_hold_late_in_a_long_episode():
    # At a clock of 1e3..1e7 s the timeline's latency and idle time are differences of large clock
    # readings, so their rounding is absolute: the bounds' slack must be too. A request lands inside
    # an earlier one's radio activity (a slowed cloud keeps it busy), so the radio adds no energy.
    scenario = small_scenario(users={"count": 1, "access": "wifi"}, cloud={"slowdown": 1000.0},
                              models={"latency_noise": False})
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario=scenario, energy_weight=1.0).unwrapped
    env.reset(seed=0)
    cluster = env.system
    for clock in (1e3, 1e5, 1e7):
        for k in range(5):
            first = Request(2 * k, clock + 0.37123 * k, 0, 0.0, math.inf, (0.0, 0.0, 0.0))
            cluster.serve(first, CLOUD, 0, 2)  # resnet50 on the slowed cloud
            env._request = Request(2 * k + 1, first.arrival_s + 0.01, 0, 0.0, math.inf, (0.0, 0.0, 0.0))
            _check_search(env, _every_outcome(env))


def test_the_search_runs_few_timelines_on_the_default_scenario():
    env = gym.make("e3gym/EndEdgeCloud-v1").unwrapped
    env.reset(seed=0)
    evaluated = []
    for _ in range(200):
        best = env.best_what_if()
        evaluated.append(best.evaluated)
        env.step(np.array(env.distinct_actions()[best.index]))
    # 198 distinct actions; the search ran 1.3 timelines per decision when this was written
    assert np.mean(evaluated) < 3


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(-5, 5), min_size=1, max_size=30), data=st.data())
def test_best_of_is_the_first_argmax(values, data):
    # small integers: ties everywhere; upper bounds at or above each value, some equal to it
    slack = data.draw(st.lists(st.integers(0, 3), min_size=len(values), max_size=len(values)))
    upper = np.array(values, float) + slack
    calls = []

    def evaluate(i):
        calls.append(i)
        return float(values[i])

    index, value, evaluated = best_of(upper, evaluate)
    assert index == int(np.argmax(values)) and value == max(values)
    assert evaluated == len(calls) == len(set(calls))
    # whatever was skipped could not have reached the best value
    assert all(upper[i] < value for i in set(range(len(values))) - set(calls))


def test_best_of_stops_at_the_first_bound_below_the_best():
    upper = np.array([1.0, 5.0, 3.0, -math.inf])
    index, value, evaluated = best_of(upper, lambda i: [0.5, 4.0, 2.0, -1.0][i])
    assert (index, value, evaluated) == (1, 4.0, 1)


def test_best_what_if_needs_a_request():
    env = gym.make("e3gym/EndEdgeCloud-v1").unwrapped
    with pytest.raises(E3GymError, match="reset"):
        env.best_what_if()
