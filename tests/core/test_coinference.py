"""The fading-channel cost model (e3gym.core.coinference) and the FadingSplit-v0 / ModelPlacement-v0 envs."""
from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from e3gym.agents.base import run_episode
from e3gym.agents.stopping import FixedPlacement, OptimalPlacement, OptimalStopping
from e3gym.core import coinference
from e3gym.core.coinference import (
    DiscreteChannel,
    FadingChannel,
    LayerModel,
    SplitProblem,
)
from e3gym.core.network import RayleighFading
from e3gym.core.profiles import builtin_library
from e3gym.envs.fading_split import FadingSplitEnv, ModelPlacementEnv


@pytest.mark.parametrize("snr_db", [-5.0, 3.0, 25.0])
@pytest.mark.parametrize("tau", [0.0, 0.05, 1.7])
def test_inverse_rate_integral_against_a_fine_grid(snr_db, tau):
    ch = FadingChannel(2e6, snr_db, -10.0)
    h = np.concatenate([np.linspace(tau, tau + 1e-3, 200001), np.linspace(tau + 1e-3, 60, 2000001)[1:]])
    f = np.exp(-h) / ch.rate_bps(h)
    assert ch.inv_rate_tail(tau) == pytest.approx(float(np.trapezoid(f, h)), rel=1e-6)
    assert ch.prob_at_least(tau) == pytest.approx(math.exp(-tau))


def test_rate_floor_and_its_inverse():
    ch = FadingChannel(2e6, 10.0, -10.0)
    assert ch.rate_bps(0.0) == pytest.approx(2e6 * math.log2(1.1))
    assert ch.gain_for_rate(1e5) == 0.0  # the floor already delivers it
    for g in (0.05, 1.0, 7.0):
        assert ch.gain_for_rate(float(ch.rate_bps(g))) == pytest.approx(g)
    assert ch.gain_for_rate(1e12) == math.inf


def test_path_loss_model_of_huang_et_al():
    g = coinference.path_loss_gain(10.0)
    assert g == pytest.approx(4.11 * (3e8 / (4 * math.pi * 915e6 * 10.0)) ** 2.8)
    assert coinference.mean_snr_db(0.1, 10.0) == pytest.approx(10 * math.log10(0.1 * g / 1e-10))


def test_mlp_layers_are_fully_parametric():
    lm = LayerModel.mlp(n_layers=3, width=10, input_dim=20, bits_per_value=8)
    assert lm.bits == (160.0, 80.0, 80.0, 80.0)
    assert lm.cycles == (100 * 160.0, 100 * 80.0, 100 * 80.0)
    assert lm.param_bits == (21 * 10 * 8.0, 11 * 10 * 8.0, 11 * 10 * 8.0)
    assert LayerModel.mlp(n_layers=2, width=10, input_dim=20, cycles_per_mac=3.0).cycles == (600.0, 300.0)


def test_cnn_layers_from_a_model_profile():
    model = builtin_library().model("ans-vgg16")
    lm = LayerModel.from_profile(model, cycles_per_flop=0.5)
    assert lm.n_layers == 22 and lm.bits[0] == model.input_bytes * 8 and lm.bits[1] == model.blocks[0].output_bytes * 8
    assert lm.cycles[0] == pytest.approx(0.5 * sum(model.blocks[0].flops.values()))
    assert lm.param_bits is None  # the ANS table has no parameter sizes


def test_costs_are_the_formulas():
    lm = LayerModel.mlp()
    p = SplitProblem(lm, FadingChannel(2e6, 5.0, -10.0), tx_power_w=0.2, cpu_hz=2e9, energy_weight=0.5)
    rate = float(p.channel.rate_bps(0.8))
    assert p.stop_time_s(1, 0.8) == pytest.approx(lm.bits[1] / rate)
    assert p.stop_energy_j(1, 0.8) == pytest.approx(0.2 * lm.bits[1] / rate)
    assert p.stop_cost(1, 0.8) == pytest.approx(lm.bits[1] / rate * (1 + 0.5 * 0.2))
    assert p.continue_cost(2) == pytest.approx(lm.cycles[2] / 2e9 + 0.5 * 1e-26 * 4e18 * lm.cycles[2])
    assert p.stop_cost(lm.n_layers, 0.3) == 0.0  # after the last layer nothing is sent
    edge = SplitProblem(lm, p.channel, edge_hz=1e10)
    assert edge.stop_time_s(2, 0.8) == pytest.approx(lm.bits[2] / rate + sum(lm.cycles[2:]) / 1e10)


def test_checkers_pass():
    for env in (FadingSplitEnv(), FadingSplitEnv(horizon=2, mean_snr_db=-3.0), FadingSplitEnv(layers="resnet50")
                if builtin_library().model("resnet50").blocks[0].flops else FadingSplitEnv(horizon=0),
                ModelPlacementEnv(), ModelPlacementEnv(rule="osla", n_inferences=50)):
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env)


def test_env_charges_the_core_costs_and_stops_at_the_horizon():
    env = FadingSplitEnv(horizon=3, mean_snr_db=8.0)
    obs, info = env.reset(seed=2)
    p = env.problem
    for stage in range(3):
        gain = info["gain"]
        assert obs[2] == pytest.approx(p.stop_cost(stage, gain), rel=1e-6) and info["stage"] == stage
        obs, reward, terminated, _, info = env.step(0)
        assert reward == pytest.approx(-p.continue_cost(stage)) and not terminated
    gain = info["gain"]
    obs, reward, terminated, _, info = env.step(0)  # at the horizon "continue" still stops
    assert terminated and info["decided_stage"] == 3 and reward == pytest.approx(-p.stop_cost(3, gain))
    assert env.step(1)[1:3] == (0.0, True)  # the terminal state absorbs


def test_dp_value_equals_the_monte_carlo_mean_through_the_env():
    env = FadingSplitEnv(mean_snr_db=2.0)
    agent = OptimalStopping(env)
    costs = np.array([-run_episode(env, agent, seed=s).total_reward for s in range(4000)])
    mean, half = costs.mean(), 2.58 * costs.std(ddof=1) / math.sqrt(len(costs))  # 99% CI
    assert abs(mean - agent.policy.expected_cost) < half
    assert half < 0.02 * mean  # the check has teeth


def test_same_seed_same_trajectory():
    for make in (FadingSplitEnv, ModelPlacementEnv):
        runs = []
        for seed in (3, 3, 4):
            env = make()
            obs, _ = env.reset(seed=seed)
            trace = [obs]
            for t in range(6):
                obs, r, term, _, _ = env.step(t % 2 if make is FadingSplitEnv else t % 7)
                trace += [obs, r]
                if term:
                    obs, _ = env.reset()
            runs.append(trace)
        assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
        assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_placement_step_matches_its_analytical_cost():
    env = ModelPlacementEnv(snr_step_db=0.0, n_inferences=2000)
    obs, info = env.reset(seed=0, options={"mean_snr_db": 6.0})
    assert obs[0] == pytest.approx(6.0)
    costs = []
    for _ in range(150):
        obs, reward, _, _, info = env.step(2)
        costs.append(-reward)
    problem = env.problem_at(6.0)
    want = coinference.placement_cost(problem, 2, 2000)
    assert info["expected_cost"] == pytest.approx(want)
    assert abs(np.mean(costs) - want) < 2.58 * np.std(costs, ddof=1) / math.sqrt(len(costs))
    best = OptimalPlacement(env)
    assert best.act(obs, info) == int(np.argmin([coinference.placement_cost(problem, m, 2000) for m in range(7)]))
    assert FixedPlacement(env, 4).act(obs, info) == 4


def test_placing_nothing_downloads_nothing():
    p = SplitProblem(LayerModel.mlp(), FadingChannel())
    assert coinference.download_cost(p, 0) == 0.0
    assert coinference.download_cost(p, 2) == pytest.approx(sum(p.layers.param_bits[:2]) * p.channel.inv_rate_tail(0.0))


def test_one_download_at_a_known_gain_is_its_bits_over_the_rate():
    p = SplitProblem(LayerModel.mlp(), DiscreteChannel([2.0], [1.0], 2e6, 10.0, -10.0))  # every gain is 2
    bits = sum(p.layers.param_bits[:2])
    rate = 2e6 * math.log2(1 + 10.0 * 2.0)
    assert coinference.sample_download_s(p, 2, np.random.default_rng(0)) == pytest.approx(bits / rate, rel=1e-12)
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    assert coinference.sample_download_s(p, 0, rng) == 0.0 and rng.bit_generator.state == before  # nothing drawn


def test_rayleigh_links_draw_each_block_from_the_channels_law():
    proc = RayleighFading(2e6, 10.0, 0.02, -10.0)
    mine, twin = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(200):  # one Exp(1) gain per block, in order, at W log2(1 + max(snr h, snr_min))
        duration, rate = proc.next_segment(mine)
        h = twin.standard_exponential()
        assert duration == 0.02 and rate == pytest.approx(2e6 * math.log2(1 + max(10.0 * h, 0.1)), rel=1e-12)
    assert proc.channel.rate_bps(0.3) == pytest.approx(proc.rate_bps(0.3), rel=1e-15)


def test_observation_tables_match_the_spaces():
    for cls, env in ((FadingSplitEnv, FadingSplitEnv()), (ModelPlacementEnv, ModelPlacementEnv())):
        rows = [int(r) for r in re.findall(r"^\s*\| (\d+) \|", cls.__doc__, re.M)]
        assert rows == list(range(env.observation_space.shape[0]))
    assert gym.spec("e3gym/FadingSplit-v0").max_episode_steps is None
    assert gym.spec("e3gym/ModelPlacement-v0").max_episode_steps == 100


@pytest.mark.parametrize("make, name", [
    (lambda: FadingSplitEnv(tx_power_w=-0.1), "tx_power_w"),
    (lambda: FadingSplitEnv(horizon=7), "horizon"),
    (lambda: FadingSplitEnv(horizon=-1), "horizon"),
    (lambda: FadingSplitEnv(cpu_hz=0), "cpu_hz"),
    (lambda: FadingSplitEnv(energy_weight=-1), "energy_weight"),
    (lambda: FadingSplitEnv(distance_m=0), "distance_m"),
    (lambda: FadingSplitEnv(mean_snr_db=-20.0), "min_snr_db"),
    (lambda: FadingSplitEnv(bandwidth_hz=float("inf")), "bandwidth_hz"),
    (lambda: FadingSplitEnv(kappa=-1e-26), "kappa"),
    (lambda: FadingSplitEnv(layers_kwargs={"n_layers": 0}), "n_layers"),
    (lambda: FadingSplitEnv(layers_kwargs={"width": 2.5}), "width"),
    (lambda: FadingSplitEnv(layers="no-such-model"), "no-such-model"),
    (lambda: ModelPlacementEnv(n_inferences=0), "n_inferences"),
    (lambda: ModelPlacementEnv(rule="greedy"), "rule"),
    (lambda: ModelPlacementEnv(snr_low_db=30.0), "snr_low_db"),
    (lambda: ModelPlacementEnv(rx_power_w=-1.0), "rx_power_w"),
    (lambda: ModelPlacementEnv(layers="ans-vgg16"), "param_bits"),
    (lambda: coinference.optimal_policy(SplitProblem(LayerModel.mlp(), FadingChannel()), 9), "horizon"),
    (lambda: coinference.evaluate_policy(SplitProblem(LayerModel.mlp(), FadingChannel()), 2, [0.1]), "thresholds"),
    (lambda: FadingChannel(mean_snr_db=float("nan")), "mean_snr_db"),
])
def test_bad_parameters_name_themselves(make, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        make()


@pytest.mark.parametrize("action", [2, -1, 0.5, "stop"])
def test_bad_action_is_refused(action):
    env = FadingSplitEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_one_decision_costs_what_the_stopping_rules_assume():
    # The env charges decide(); the rules are computed from stop_cost / continue_cost: the same law.
    from e3gym.core.coinference import LayerModel, SplitProblem
    problem = SplitProblem(LayerModel.mlp(), FadingChannel(mean_snr_db=5.0))
    for stage in range(problem.n_layers + 1):
        for gain in (0.05, 1.0, 7.5):
            out = problem.decide(stage, True, gain)
            assert out.cost == problem.stop_cost(stage, gain)
            assert out.vector_reward == (-out.latency_s, -out.energy_j)
        if stage < problem.n_layers:
            assert problem.decide(stage, False, 1.0).cost == problem.continue_cost(stage)
