"""muLinUCB (agents/mulinucb.py) and plain LinUCB over the same contexts, against hand computations."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from e3gym.agents.base import AgentSpecError, load_agent, run_episode
from e3gym.agents.mulinucb import MuLinUCB, MuLinUCBConfig, MuLinUCBModel
from e3gym.agents.partition_baselines import PartitionLinUCB
from e3gym.envs.partition import PartitionEnv

# Three arms in two dimensions; the last runs on the device (zero context).
CONTEXTS = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
FRONTEND = np.array([0.1, 0.2, 0.5])


def test_forced_sampling_schedule_with_horizon_doubling():
    model = MuLinUCBModel(CONTEXTS, FRONTEND)
    forced = [f for f in range(1, 700) if model.begin_frame()]
    # T = 200: ceil(200^0.25) = 4, frames 4..200; frame 201 exceeds T: T = 400, t restarts at 0 (forced);
    # ceil(400^0.25) = 5 for frames 202..601 (t = 1..400); frame 602: T = 800, t = 0; then ceil(800^0.25) = 6.
    expected = (list(range(4, 201, 4)) + [201] + [201 + t for t in range(5, 401, 5)] + [602]
                + [602 + t for t in range(6, 98, 6)])
    assert forced == expected
    assert model.horizon == 800 and model.forced_period() == 6


def test_alpha_matches_the_formula():
    model = MuLinUCBModel(CONTEXTS, FRONTEND)
    c_x2 = 1.0  # largest squared context norm
    want = (1 + 0.05 * math.sqrt(2 * math.log((1 + 200 * c_x2) / 0.1))) / (1 - 0.8)
    assert model.alpha() == pytest.approx(want)
    plain = MuLinUCBModel(CONTEXTS, FRONTEND, MuLinUCBConfig(key_frame_weighting=False, forced_sampling=False))
    assert plain.alpha() == pytest.approx(want * (1 - 0.8))


def test_lower_confidence_bound_by_hand():
    model = MuLinUCBModel(CONTEXTS, FRONTEND)
    model.update(0, 0.3)  # A = diag(2, 1), b = (0.3, 0) -> theta = (0.15, 0)
    assert model.A == pytest.approx(np.diag([2.0, 1.0])) and model.b == pytest.approx([0.3, 0.0])
    a = model.alpha()
    for key, L in ((False, 0.2), (True, 0.8)):
        want = [0.15 - a * math.sqrt((1 - L) * 0.5) + 0.1, 0.0 - a * math.sqrt((1 - L) * 1.0) + 0.2, 0.5]
        assert model.scores(key) == pytest.approx(want)
    model.frame = 1  # not a forced frame next
    assert model.select(False) == 1  # the less explored arm has the lower bound


def test_forced_frame_excludes_the_device_arm():
    # The device arm is by far the best once the offloading arms are known to be slow.
    model = MuLinUCBModel(CONTEXTS, np.array([1.0, 1.0, 0.01]))
    for _ in range(500):
        model.update(0, 5.0)
        model.update(1, 5.0)
    choices = []
    for _ in range(40):
        arm = model.select(False)
        choices.append((model.frame % model.forced_period() == 0, arm))
    assert sum(forced for forced, _ in choices) == 10
    assert all(arm != 2 for forced, arm in choices if forced)
    assert all(arm == 2 for forced, arm in choices if not forced)


def test_device_arm_yields_no_update():
    model = MuLinUCBModel(CONTEXTS, FRONTEND)
    A, b = model.A.copy(), model.b.copy()
    model.update(2, 0.7)
    assert np.array_equal(model.A, A) and np.array_equal(model.b, b) and model.n_updates == 0


def test_plain_linucb_is_never_forced_and_ignores_key_frames():
    model = MuLinUCBModel(CONTEXTS, FRONTEND, MuLinUCBConfig(forced_sampling=False, key_frame_weighting=False))
    assert not any(model.begin_frame() for _ in range(1000))
    assert model.scores(True) == pytest.approx(model.scores(False))


def test_agents_learn_only_from_offloaded_frames():
    env = PartitionEnv(edge_device="xeon-t16", bandwidth="wifi", load={"kind": "constant", "factor": 1.0})
    for cls in (MuLinUCB, PartitionLinUCB):
        agent = cls(env)
        res = run_episode(env, agent, seed=0, max_steps=300)
        offloaded = sum(info["offloaded"] for info in res.infos)
        assert agent.model.n_updates == offloaded > 0
    mu = MuLinUCB(env)
    res = run_episode(env, mu, seed=0, max_steps=400)
    cuts = np.array(res.actions)
    # Every forced frame offloads; the doubling counter matches the frames seen.
    assert mu.model.frame == 400 - 201 and mu.model.horizon == 400
    forced_frames = [4 * k - 1 for k in range(1, 51)] + [200] + [200 + t for t in range(5, 200, 5)]
    assert all(cuts[f] != 22 for f in forced_frames)


def test_mulinucb_regret_falls_as_it_learns():
    env = PartitionEnv(edge_device="xeon-t16", bandwidth="wifi", load={"kind": "constant", "factor": 1.0})
    res = run_episode(env, MuLinUCB(env), seed=0, max_steps=1500)
    regret = res.metric("regret_s")
    assert regret[-500:].mean() < 0.75 * regret[:500].mean()


def test_forced_sampling_recovers_offloading_after_the_load_drops():
    # Load x1 -> x8 -> x1 at frames 1000 and 2000: under x8 everything on the device is best, back at
    # x1 offloading the input is best again. Plain LinUCB settles on near-device cuts and never goes
    # back; forced sampling keeps muLinUCB's offloading estimates fresh, so it finds the input cut again.
    load = {"kind": "step", "times_s": [500.0, 1000.0], "factors": [1.0, 8.0, 1.0]}
    env = PartitionEnv(edge_device="xeon-t16", bandwidth="wifi", load=load)
    runs = {cls: run_episode(env, cls(env), seed=3, max_steps=3000) for cls in (MuLinUCB, PartitionLinUCB)}
    after = {cls: res.metric("regret_s")[1000:].sum() for cls, res in runs.items()}
    assert after[MuLinUCB] < 0.8 * after[PartitionLinUCB]
    mu = runs[MuLinUCB]
    assert np.mean(np.array(mu.actions)[2500:] == mu.metric("oracle_cut")[2500:]) > 0.8


def test_registered_names_and_wrong_env():
    env = gym.make("e3gym/Partition-v0")
    assert isinstance(load_agent("mulinucb", env), MuLinUCB)
    assert isinstance(load_agent("partition_linucb", env, delay_unit_s=0.1), PartitionLinUCB)
    with pytest.raises(AgentSpecError, match="Partition-v0"):
        load_agent("mulinucb", gym.make("e3gym/FadingSplit-v0"))


@pytest.mark.parametrize("field, value", [("mu", 0.0), ("delta", 1.5), ("l_key", 1.0), ("horizon0", 0),
                                          ("a0", -1.0), ("c_noise", float("nan")), ("delay_unit_s", 0.0)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        MuLinUCBConfig(**{field: value})
