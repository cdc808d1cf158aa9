"""Partition-v0, the per-cut tables behind it (e3gym.core.cut_tables) and the ANS profile conversion."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import e3gym
from e3gym.agents.partition_baselines import NeurosurgeonStatic, OnDevice, OracleCut
from e3gym.core.cut_tables import CONTEXT_FEATURES, cut_table
from e3gym.core.profiles import (
    ModelFile,
    ProfileError,
    ProfileLibrary,
    builtin_library,
    builtin_profile_dir,
    dump_device_file,
    dump_model_file,
    parse_device,
)
from e3gym.curation import ans_tables
from e3gym.envs.partition import PartitionEnv

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "published"
CONSTANT = dict(bandwidth={"kind": "constant", "mbps": 18.88}, load={"kind": "constant", "factor": 1.0})


def test_ans_profiles_load_with_provenance():
    lib = builtin_library()
    tx2 = lib.device("jetson-tx2-ans")
    assert tx2.provenance["method"] == "published" and "Autodidactic Neurosurgeon" in tx2.provenance["source"]
    assert lib.model("ans-vgg16").n_blocks == 22 and lib.model("ans-tiny-yolov2").n_blocks == 31
    assert tx2.latency("ans-vgg16").total.median_s == pytest.approx(0.4869)
    assert tx2.latency("ans-tiny-yolov2").total.median_s == pytest.approx(0.1164)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference data not present beside the repository")
def test_shipped_ans_profiles_equal_a_fresh_conversion():
    for rel, profile in ans_tables.build_all(REFERENCE).items():
        fresh = dump_model_file(profile) if isinstance(profile, ModelFile) else dump_device_file(profile)
        shipped = (builtin_profile_dir() / rel).read_text(encoding="utf-8")
        assert shipped == fresh, f"profiles/{rel} is stale: rerun e3gym.curation.ans_tables"


def test_vgg16_context_matches_the_published_table():
    t = cut_table("ans-vgg16", "jetson-tx2-ans", "h100-fp32")
    assert t.contexts.shape == (23, 7) and CONTEXT_FEATURES[-1] == "bits"
    # p = 0 and p = 19 rows of published/ans-jetson-tx2-vgg16.csv
    assert t.contexts[0] == pytest.approx([15.347e9, 13, 123.63e6, 3, 26.21e6, 24, 4.818e6])
    assert t.contexts[19] == pytest.approx([0, 0, 123.63e6, 3, 0.02e6, 4, 0.804e6])
    assert not t.contexts[-1].any()
    assert t.frontend_s[[0, 3, 22]] == pytest.approx([0.0, 0.150, 0.4869])
    assert t.result_bytes == 4000


def test_vgg16_cuts_line_up_with_torchvision_blocks():
    lib = builtin_library()
    ans, tv = lib.model("ans-vgg16"), lib.model("vgg16")
    assert ans.equivalent.model == "vgg16"
    cuts = ans.equivalent.cut
    for p, c in enumerate(cuts[:-1]):
        if c != int(c):
            assert 32 < c < 33  # inside torchvision's classifier block
            continue
        tv_bits = (tv.input_bytes * 4 if c == 0 else tv.blocks[int(c) - 1].output_bytes) * 8  # float32 input
        gap = ans.cut_bytes()[p] * 8 - tv_bits
        if p == 18:  # the table's figure is the max-pool's input (documented in the model file)
            assert gap == pytest.approx(3 * 802816, abs=2000)
        else:
            assert 0 < gap < 2000, p  # pickle overhead + the table's 1 kbit rounding


def test_edge_compute_follows_the_h100_profile():
    lib = builtin_library()
    t = cut_table("ans-vgg16", "jetson-tx2-ans", "h100-fp32")
    blocks = lib.device("h100-fp32").block_latencies_s(lib.model("vgg16"))
    assert t.edge_s[0] == pytest.approx(sum(blocks))
    assert t.edge_s[19] == pytest.approx(blocks[-1])  # only the classifier is left
    assert t.edge_s[21] == pytest.approx(blocks[-1] * 4.10 / 123.63)  # fc3's share of the FC MACs
    assert np.all(np.diff(t.edge_s) <= 1e-15) and t.edge_s[-1] == 0


def test_tiny_yolo_has_no_shipped_edge_profile_and_takes_a_users():
    with pytest.raises(ProfileError, match="ans-tiny-yolov2.*own device profile"):
        PartitionEnv(model="ans-tiny-yolov2")
    lib = builtin_library()
    # A synthetic 1 ms per block profile: exercises the hook, not a claim about any hardware.
    blocks = [{"name": f"unit{i + 1}", "median_s": 1e-3, "p10_s": 1e-3, "p90_s": 1e-3, "n": 1} for i in range(31)]
    dev = parse_device({"schema": "e3gym.device/1", "name": "my-gpu", "tier": "edge", "hardware": {}, "power": {},
                        "provenance": {"method": "measured", "source": "test fixture"},
                        "models": {"ans-tiny-yolov2": {"total": {"median_s": 0.031, "p10_s": 0.031, "p90_s": 0.031,
                                                                 "n": 1}, "blocks": blocks}}})
    env = PartitionEnv(model="ans-tiny-yolov2", edge_device=dev, **CONSTANT)
    assert env.action_space.n == 32 and env.table.edge_s[0] == pytest.approx(0.031)
    gym_check_env(env, skip_render_check=True)
    assert lib.model("ans-tiny-yolov2").output_bytes == 13 * 13 * 425 * 4


def test_torchvision_model_needs_flops():
    lib = builtin_library()
    resnet = lib.model("resnet50")
    if resnet.blocks[0].flops is not None:  # profiles with FLOPs: the env works with an end device
        env = PartitionEnv(model="resnet50", end_device="rpi4-cortex-a72", **CONSTANT)
        sb3_check_env(env)
        assert env.table.frontend_s[-1] == pytest.approx(lib.device("rpi4-cortex-a72").latency("resnet50").total.median_s)
    stripped = dataclasses.replace(resnet, blocks=tuple(dataclasses.replace(b, flops=None) for b in resnet.blocks))
    small = ProfileLibrary([stripped, lib.model("vgg16")], [lib.device("rpi4-cortex-a72"), lib.device("h100-fp32")])
    with pytest.raises(ProfileError, match="resnet50.*FLOPs"):
        cut_table("resnet50", "rpi4-cortex-a72", "h100-fp32", small)


def test_checkers_pass_on_variants():
    for kwargs in ({}, {"edge_device": "xeon-t16", "bandwidth": "mobile"}, {"edge_noise": False, **CONSTANT}):
        env = PartitionEnv(**kwargs)
        gym_check_env(env, skip_render_check=True)
        sb3_check_env(env)


def rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, r, _, _, info = env.step(a)
        out += [obs, r, info["delay_s"], info["oracle_cut"], info["key_frame"]]
    return out


def test_same_seed_same_trajectory():
    actions = np.random.default_rng(0).integers(0, 23, 300)
    a, b = rollout(PartitionEnv(), 4, actions), rollout(PartitionEnv(), 4, actions)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = rollout(PartitionEnv(), 5, actions)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_delay_is_the_sum_of_its_parts_and_regret_is_against_the_true_best():
    env = PartitionEnv(bandwidth="mobile", load={"kind": "markov", "factors": [1.0, 50.0], "mean_dwell_s": 10.0})
    env.reset(seed=0)
    for t in range(200):
        expected = env.expected_delays()
        _, reward, _, _, info = env.step(t % 23)
        parts = info["breakdown"]
        assert sum(parts.values()) == pytest.approx(info["delay_s"]) and reward == -info["delay_s"]
        assert info["offload_delay_s"] == pytest.approx(parts["upload_s"] + parts["edge_s"] + parts["download_s"])
        assert info["oracle_cut"] == int(np.argmin(expected)) and info["regret_s"] >= 0
        assert info["regret_s"] == pytest.approx(expected[t % 23] - expected.min())


def test_physics_of_one_offloaded_frame():
    env = PartitionEnv(edge_device="xeon-t16", edge_noise=False, propagation_ms=5.0,
                       bandwidth={"kind": "constant", "mbps": 10.0},
                       load={"kind": "step", "times_s": [1.0], "factors": [1.0, 3.0]})
    env.reset(seed=0)
    t = env.table
    factors = []
    for frame in range(4):  # frames every 0.5 s; the load factor is the one when the edge starts
        _, _, _, _, info = env.step(10)
        edge_start = frame * 0.5 + info["breakdown"]["frontend_s"] + info["breakdown"]["upload_s"]
        factor = 1.0 if edge_start < 1.0 else 3.0
        factors.append(factor)
        assert info["breakdown"]["upload_s"] == pytest.approx(t.bits[10] / 10e6 + 0.005)
        assert info["breakdown"]["edge_s"] == pytest.approx(t.edge_s[10] * factor)
        assert info["breakdown"]["download_s"] == pytest.approx(t.result_bytes * 8 / 10e6 + 0.005)
        assert info["breakdown"]["frontend_s"] == pytest.approx(t.frontend_s[10])
    assert factors == [1.0, 3.0, 3.0, 3.0]
    _, _, _, _, info = env.step(22)
    assert info["delay_s"] == pytest.approx(0.4869) and info["offload_delay_s"] == 0 and not info["offloaded"]


def test_observation_layout_and_scaling():
    env = PartitionEnv()
    obs, _ = env.reset(seed=0)
    ctx, front, key = env.split_observation(obs)
    assert ctx == pytest.approx(env.table.contexts / env.context_scale, rel=1e-6)
    assert ctx.max(axis=0) == pytest.approx(np.ones(7)) and front == pytest.approx(env.table.frontend_s, rel=1e-6)
    assert key is False and env.observation_space.contains(obs)
    rows = re.findall(r"^\s*\| (i \+ \d|8 n_cuts) \|", PartitionEnv.__doc__, re.M)
    assert rows == [f"i + {k}" for k in range(8)] + ["8 n_cuts"]
    assert env.observation_space.shape == (8 * env.n_cuts + 1,) and gym.spec("e3gym/Partition-v0").max_episode_steps == 1000


def test_key_frames_have_the_configured_share():
    env = PartitionEnv(key_frame_prob=0.3, key_frame_persistence=0.6, **CONSTANT)
    env.reset(seed=1)
    keys = np.array([env.step(22)[4]["key_frame"] for _ in range(20000)])
    assert keys.mean() == pytest.approx(0.3, abs=0.02)
    after_key = keys[1:][keys[:-1]]
    assert after_key.mean() == pytest.approx(0.6, abs=0.03)


def test_static_predictor_matches_the_oracle_when_nothing_changes():
    env = PartitionEnv(edge_device="xeon-t16", edge_noise=False, **CONSTANT)
    env.reset(seed=0)
    static, oracle = NeurosurgeonStatic(env), OracleCut(env)
    assert static.act(None, {}) == oracle.act(None, {})
    assert OnDevice(env).act(None, {}) == 22
    wrong = NeurosurgeonStatic(env, bandwidth_mbps=1.0)  # a stale estimate: stays on the device
    assert wrong.act(None, {}) == 22


@pytest.mark.parametrize("kwargs, name", [
    (dict(key_frame_prob=1.5), "key_frame_prob"),
    (dict(key_frame_persistence=-0.1), "key_frame_persistence"),
    (dict(key_frame_prob=0.9, key_frame_persistence=0.1), "key_frame_prob"),
    (dict(frame_interval_s=0), "frame_interval_s"),
    (dict(propagation_ms=-1), "propagation_ms"),
    (dict(load={"kind": "step", "times_s": [5.0], "factors": [1.0]}), "load.times_s"),
    (dict(load={"kind": "markov", "factors": [1.0, -2.0]}), "load.factors"),
    (dict(load={"kind": "wave"}), "load.kind"),
    (dict(bandwidth={"kind": "constant", "mbps": -1}), "bandwidth.mbps"),
    (dict(model="no-such-model"), "no-such-model"),
    (dict(edge_device="no-such-device"), "no-such-device"),
])
def test_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=re.escape(name)):
        PartitionEnv(**kwargs)


@pytest.mark.parametrize("action", [23, -1, 2.5, "edge", [1, 2]])
def test_bad_action_is_refused(action):
    env = PartitionEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_registered():
    assert "e3gym/Partition-v0" in e3gym.ENVIRONMENTS
