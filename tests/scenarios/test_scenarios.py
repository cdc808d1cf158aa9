"""Scenarios are data: shipped presets load, user files work, mistakes are named."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from conftest import small_scenario

import e3gym
from e3gym.core.network import TraceError
from e3gym.core.rng import RandomStream
from e3gym.core.workload import BurstyWorkload, PoissonWorkload
from e3gym.scenarios import ScenarioError, build, list_scenarios, load_scenario


def test_shipped_scenarios_build():
    assert {"default", "model_selection"} <= set(list_scenarios())
    for name in list_scenarios():
        built = build(load_scenario(name), np.random.default_rng(0))
        assert built.cluster.users and built.workload.n_users == len(built.cluster.users)


def test_user_scenario_file_with_a_relative_trace(tmp_path):
    (tmp_path / "uplink.txt").write_text("0 4\n1 12\n2 0\n")
    (tmp_path / "mine.toml").write_text("""
name = "mine"
version = 1
[users]
count = 2
device = "rpi4-cortex-a72"
network = { kind = "trace", path = "uplink.txt", random_start = false }
[edge]
device = "aws-m7g.2xlarge-calibrated"
[cloud]
device = "h100-fp32"
[models]
names = ["mobilenet_v2"]
""")
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario=str(tmp_path / "mine.toml"))
    obs, _ = env.reset(seed=0)
    assert obs[0] == pytest.approx(4.0)  # the probe at t = 0 reads the trace's first rate
    # the bounds are the env version's, not the trace's maximum (12 Mbps)
    from e3gym.envs.end_edge_cloud import OBS_ACCESS_MBPS_MAX
    assert env.observation_space.high[0] == OBS_ACCESS_MBPS_MAX


def test_relative_trace_in_overrides_resolves_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "mine.txt").write_text("0 3\n1 7\n2 0\n")
    monkeypatch.chdir(tmp_path)
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={
        "users": {"count": 2, "network": {"kind": "trace", "path": "mine.txt", "random_start": False}}})
    obs, _ = env.reset(seed=0)
    assert obs[0] == pytest.approx(3.0)
    assert env.unwrapped.spec_data["users"]["network"]["path"] == str(tmp_path / "mine.txt")


@pytest.mark.parametrize("text, match", [
    ("[users]\ncount = 2\ndevise = 'x'\n", r"unknown key 'devise' in \[users\]"),
    ("[edge\n", "not valid TOML"),
    ("colour = 1\n", "unknown key 'colour' in top level"),
])
def test_scenario_file_mistakes_name_file_and_key(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=match) as err:
        load_scenario(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("override, match", [
    ({"users": {"device": "no-such-device"}}, "no device profile named 'no-such-device'"),
    ({"models": {"names": ["no-such-model"]}}, "no model profile named 'no-such-model'"),
    ({"users": {"network": "5g-dreams"}}, "unknown network preset"),
    ({"users": {"network": {"kind": "constant", "mbps": -3}}}, r"\[users\].network.mbps must be >= 0.001"),
    ({"users": {"network": {"kind": "markov", "states_mbps": [1, 2], "dwell": 3}}}, "unknown key 'dwell'"),
    ({"workload": {"rate_per_s": [1.0]}}, r"\[workload\].rate_per_s has 1 values, expected 3"),
    ({"workload": {"accuracy_levels": [1.5]}}, "accuracy_levels"),
    ({"workload": {"kind": "steady"}}, "unknown 'steady'"),
    ({"users": {"cells": [0, 1]}}, r"\[users\].cells must be a count or one cell index per user \(3 users\)"),
    ({"users": {"cells": [0, -1, 0]}}, r"\[users\].cells\[1\]: user 1 is in no cell"),
    ({"users": {"cells": 0}}, r"\[users\].cells must be >= 1"),
    ({"users": {"cells": [0, "a", 1]}}, r"\[users\].cells\[1\]"),
    ({"users": {"rtt_ms": -5}}, r"\[users\].rtt_ms must be >= 0, got -5"),
    ({"users": {"access": "wimax"}}, r"\[users\].access: unknown 'wimax'"),
    ({"users": {"connection": "sometimes"}}, r"\[users\].connection: unknown 'sometimes'; expected one of \['new', 'persistent'\]"),
    ({"users": {"tls": "yes"}}, r"\[users\].tls must be true or false"),
    ({"users": {"count": 2.5}}, r"\[users\].count must be an integer, got 2.5"),
    ({"users": {"propagation_ms": 5}}, r"unknown key 'propagation_ms' in \[users\]"),
    ({"payload": {"quality": 0}}, r"\[payload\].quality: quality must be an integer in 1..100"),
    ({"payload": {"quality": 101}}, r"\[payload\].quality"),
    ({"payload": {"quality": 75.5}}, r"\[payload\].quality"),
    ({"payload": {"input": "png"}}, r"\[payload\].input: input must be one of"),
    ({"payload": {"result": "all"}}, r"\[payload\].result"),
    ({"payload": {"activations": "fp8"}}, r"\[payload\].activations"),
    ({"payload": {"colour": 1}}, r"unknown key 'colour' in \[payload\]"),
    ({"models": {"partition": "no"}}, r"\[models\].partition must be true or false"),
    ({"edge": {"workers": 1.5}}, r"\[edge\].workers must be an integer, got 1.5"),
    ({"users": {"network": {"kind": "trace", "paths": []}}}, "a trace needs 'path'"),
    ({"users": {"network": {"kind": "trace", "path": "x.txt", "random_start": "yes"}}},
     r"\[users\].network.random_start must be true or false"),
    ({"users": {"network": {"kind": "trace", "path": "/no/such/trace.txt"}}}, "cannot read trace"),
])
def test_bad_scenario_values(override, match):
    with pytest.raises((ScenarioError, TraceError), match=match) as err:
        build(load_scenario(small_scenario(**override)), np.random.default_rng(0))
    assert "\n" not in str(err.value)


def test_errors_are_value_errors_from_one_hierarchy():
    for cls in (e3gym.ProfileError, e3gym.ScenarioError, e3gym.TraceError):
        assert issubclass(cls, ValueError)


def test_poisson_workload_rate_and_user_shares():
    wl = PoissonWorkload([1.0, 3.0], accuracy_levels=[0.0, 0.7], accuracy_weights=[1, 3])
    wl.reset(RandomStream(np.random.default_rng(0)))
    reqs = [wl.next_request() for _ in range(20000)]
    assert reqs[-1].arrival_s / len(reqs) == pytest.approx(1 / 4.0, rel=0.03)
    assert np.mean([r.user == 1 for r in reqs]) == pytest.approx(0.75, abs=0.02)
    assert np.mean([r.accuracy_req == 0.7 for r in reqs]) == pytest.approx(0.75, abs=0.02)
    assert all(b.arrival_s > a.arrival_s for a, b in zip(reqs, reqs[1:]))


def test_bursty_workload_is_burstier_at_the_same_base_rate():
    def gaps(wl):
        wl.reset(RandomStream(np.random.default_rng(1)))
        t = np.array([wl.next_request().arrival_s for _ in range(20000)])
        return np.diff(t)
    poisson, bursty = gaps(PoissonWorkload([2.0])), gaps(BurstyWorkload([2.0], burst_factor=8.0))
    cv = lambda g: g.std() / g.mean()
    assert cv(poisson) == pytest.approx(1.0, abs=0.05)  # exponential gaps
    assert cv(bursty) > 1.2
    # Long-run rate: base x (calm share + factor x burst share) = 2 x (0.8 + 8 x 0.2).
    assert 1 / bursty.mean() == pytest.approx(2.0 * (0.8 + 8 * 0.2), rel=0.1)


def test_deadline_is_carried_and_missed_deadlines_reported():
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario=small_scenario(workload={"deadline_ms": 1.0}))
    obs, _ = env.reset(seed=0)
    assert obs[6] == pytest.approx(0.001)
    *_, info = env.step([0, 0, 2])  # resnet50 on a Raspberry Pi takes far longer than 1 ms
    assert info["deadline_missed"]
    assert math.isfinite(info["latency_s"])


def test_trace_presets_replay_real_files_from_seeded_random_offsets():
    env = gym.make("e3gym/EndEdgeCloud-v1")  # the default: 5G traces
    env.reset(seed=0)
    offsets = lambda: [(u.uplink.process.name, u.uplink.process.offset_s) for u in env.unwrapped.cluster.users]
    first = offsets()
    assert len({o for _, o in first}) == len(first)  # users do not replay in lockstep
    assert all("5gophers-5g-down" in name for name, _ in first)
    env.reset(seed=0)
    assert offsets() == first  # same seed, same files and offsets
    env.reset(seed=1)
    assert offsets() != first
    # the uplink is the downlink trace over the cited ratio, and the downlink the trace itself
    user = env.unwrapped.cluster.users[0]
    assert user.downlink.bandwidth_at(3.0) == pytest.approx(user.uplink.bandwidth_at(3.0) * 166.13 / 21.08)


def test_each_trace_file_is_parsed_once_per_process(tmp_path):
    from e3gym.core import network
    path = tmp_path / "t.txt"
    path.write_text("0 5\n1 6\n2 0\n")
    network._parsed_trace.cache_clear()
    data = small_scenario(users={"network": {"kind": "trace", "path": str(path)}})
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario=data)
    for seed in range(5):
        env.reset(seed=seed)
    # a miss of the per-process cache is a parse (counted there: the compiled core calls the parser directly)
    info = network._parsed_trace.cache_info()
    assert info.misses == 1 and info.hits >= 5


def test_separate_downlink_trace(tmp_path):
    (tmp_path / "up.txt").write_text("0 2\n10 2\n")
    (tmp_path / "down.txt").write_text("0 40\n10 40\n")
    data = small_scenario(users={"network": {"kind": "trace", "path": str(tmp_path / "up.txt")},
                                 "downlink_network": {"kind": "trace", "path": str(tmp_path / "down.txt")}})
    user = build(load_scenario(data), np.random.default_rng(0)).cluster.users[0]
    assert user.uplink.bandwidth_at(1.0) == pytest.approx(2e6)
    assert user.downlink.bandwidth_at(1.0) == pytest.approx(40e6)
