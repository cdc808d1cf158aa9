"""Render modes: the image draws the intervals the simulator reserved, the text the last request;
rendering never changes a trajectory."""
from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from conftest import small_scenario
from gymnasium.utils.env_checker import check_env

import e3gym
from e3gym.core.cluster import FifoResource
from e3gym.envs.render import LABEL_INK, LABEL_PX, LANE_SHADES, TIER_COLOURS, TIER_EDGES

ENV_IDS = sorted(e3gym.ENVIRONMENTS)
ALL_IDS = ENV_IDS + sorted(e3gym.MO_ENVIRONMENTS)


def make(env_id, **kwargs):
    return gym.make(env_id, disable_env_checker=env_id in e3gym.MO_ENVIRONMENTS, **kwargs)


def lane_columns(image, lane, lane_px=16):
    """Columns of the lane's middle row that are not background, right of the label panel."""
    row = image[lane * lane_px + lane_px // 2, LABEL_PX:]
    return np.flatnonzero((row != LANE_SHADES[lane % 2]).any(axis=1))


def expected_columns(start, end, t0, t1, width=640):
    """[first, last] column a bar over [start, end] should cover in an image spanning [t0, t1]."""
    dt = (t1 - t0) / width
    first = int((start - t0) / dt)
    return first, max(first + 1, math.ceil((end - t0) / dt)) - 1


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_every_env_renders_an_image_and_text(env_id):
    env = make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    blank = env.render()
    assert blank.dtype == np.uint8 and blank.ndim == 3 and blank.shape[2] == 3
    assert {tuple(p) for p in blank[:, LABEL_PX:].reshape(-1, 3)} <= {tuple(s) for s in LANE_SHADES}
    ink = (blank[:, :LABEL_PX] == LABEL_INK).all(axis=2).any(axis=1).reshape(-1, 16)  # rows with ink, per lane
    assert ink.any(axis=1).all(), "every lane is named"
    env.action_space.seed(0)
    for _ in range(5):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    image = env.render()
    assert image.shape == blank.shape and image.dtype == np.uint8
    assert not np.array_equal(image, blank)
    text_env = make(env_id, render_mode="ansi")
    text_env.reset(seed=0)
    assert isinstance(text_env.render(), str) and text_env.render()
    text_env.step(text_env.action_space.sample())
    assert "ms" in text_env.render()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_with_a_render_mode(env_id):
    check_env(gym.make(env_id, render_mode="rgb_array").unwrapped)


@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_unknown_render_mode_names_the_allowed_ones(env_id):
    with pytest.raises(ValueError, match=r"render_mode must be one of \['rgb_array', 'ansi'\] or None, got 'rgb'"):
        make(env_id, render_mode="rgb")
    with pytest.raises(ValueError, match="render_mode"):  # gym.make would wrap "human" in HumanRendering
        gym.envs.registration.load_env_creator(gym.spec(env_id).entry_point)(render_mode="human")


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_rendering_does_not_change_the_trajectory(env_id):
    def run(render_mode):
        env = make(env_id, render_mode=render_mode)
        obs, _ = env.reset(seed=11)
        env.action_space.seed(3)
        out = [obs]
        for _ in range(60):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            out += [obs, np.asarray(reward), info.get("vector_reward")]
            if render_mode:
                env.render()
            if terminated or truncated:
                out.append(env.reset()[0])
        return out

    plain, drawn = run(None), run("rgb_array")
    assert all(np.array_equal(a, b) for a, b in zip(plain, drawn, strict=True))


def test_nothing_is_recorded_without_a_render_mode():
    env = gym.make("e3gym/EndEdgeCloud-v1").unwrapped
    env.reset(seed=0)
    env.step([1, 0, 0])
    assert env.timeline is None and type(env.cluster.edge.resource) is FifoResource


def _one_request(tier, cut=1):
    env = gym.make("e3gym/EndEdgeCloud-v1", render_mode="rgb_array", scenario=small_scenario()).unwrapped
    env.reset(seed=0)
    _, _, _, _, info = env.step([tier, cut, 1])
    return env, info


def test_image_bars_span_the_breakdown_of_an_edge_request():
    env, info = _one_request(tier=1)
    b, arrival = info["breakdown"], info["arrival_s"]
    assert info["tier_name"] == "edge" and info["cut"] == 1
    half_rtt = b["propagation_s"] / 2
    device = arrival + b["local_queue_s"], arrival + b["local_queue_s"] + b["local_compute_s"]
    up_start = device[1] + b["radio_promotion_s"] + b["tcp_handshake_s"] + b["uplink_queue_s"]
    uplink = up_start, up_start + b["uplink_s"]
    edge_start = uplink[1] + b["tcp_slow_start_s"] + half_rtt + b["edge_queue_s"]
    edge = edge_start, edge_start + b["decode_s"] + b["edge_compute_s"]
    end = arrival + info["latency_s"] - half_rtt  # the result is in: the downlink airtime ends here
    downlink = end - b["downlink_s"], end  # the only request: no downlink queue
    lanes = env.timeline.lanes
    expected = {lanes.index(f"user {info['user']}"): device, lanes.index("uplink cell 0"): uplink,
                lanes.index("edge worker"): edge, lanes.index("downlink cell 0"): downlink}
    image = env.render()
    t0, t1 = device[0], end
    for lane in range(len(lanes)):
        cols = lane_columns(image, lane)
        if lane not in expected:
            assert cols.size == 0, lanes[lane]
            continue
        first, last = expected_columns(*expected[lane], t0, t1)
        assert abs(cols[0] - first) <= 1 and abs(cols[-1] - last) <= 1, lanes[lane]
        row = image[lane * 16 + 8, LABEL_PX + cols]
        assert {tuple(p) for p in row} <= {tuple(TIER_COLOURS[1]), tuple(TIER_EDGES[1])}  # edge blue


def test_recorded_cloud_intervals_match_the_breakdown():
    env, info = _one_request(tier=2)
    b = info["breakdown"]
    bars = {env.timeline.lanes[lane]: (s, e) for lane, s, e in env.timeline.entries[-1].bars}
    assert set(bars) == {f"user {info['user']}", "uplink cell 0", "wan up", "cloud worker", "wan down",
                         "downlink cell 0"}
    cloud = bars["cloud worker"]
    assert cloud[1] - cloud[0] == pytest.approx(b["decode_s"] + b["cloud_compute_s"], abs=1e-12)
    assert bars["wan up"][1] <= cloud[0] and bars["wan down"][0] >= cloud[1]
    wan_propagation = env.cluster.wan_up.propagation_s + env.cluster.wan_down.propagation_s
    air = sum(bars[k][1] - bars[k][0] for k in ("wan up", "wan down"))
    assert air + wan_propagation == pytest.approx(b["wan_s"], abs=1e-12)  # no WAN queue for one request
    assert bars["downlink cell 0"][1] == pytest.approx(info["arrival_s"] + info["latency_s"] - b["propagation_s"] / 2)
    image = env.render()
    colours = {tuple(p) for lane in range(len(env.timeline.lanes)) for p in image[lane * 16 + 8]}
    assert tuple(TIER_COLOURS[2]) in colours and tuple(TIER_COLOURS[1]) not in colours


def test_ansi_describes_the_last_request():
    env = gym.make("e3gym/EndEdgeCloud-v1", render_mode="ansi", scenario=small_scenario())
    env.reset(seed=0)
    assert env.render() == "no step yet"
    *_, info = env.step([1, 1, 1])
    text = env.render()
    assert f"tier edge, model {info['model_name']}, cut 1, latency {info['latency_s'] * 1e3:.3f} ms" in text
    assert f"{'edge_compute_s':<18} {info['breakdown']['edge_compute_s'] * 1e3:10.3f} ms" in text
    assert "edge worker" in text and "uplink cell 0" in text


def test_the_image_keeps_the_last_twenty_requests_and_resets_with_the_episode():
    env = gym.make("e3gym/EndEdgeCloud-v1", render_mode="rgb_array", scenario=small_scenario()).unwrapped
    env.reset(seed=0)
    arrivals = [env.step([0, 0, 0])[4]["arrival_s"] for _ in range(25)]  # all local: one bar each
    kept = [e.lines[0] for e in env.timeline.entries]
    assert kept == [line for line in kept if line.startswith("request at")]
    assert [line.split()[2] for line in kept] == [f"{a * 1e3:.3f}" for a in arrivals[5:]]
    assert env.timeline.window()[0] >= arrivals[5]
    env.reset(seed=1)
    image = env.render()
    assert env.timeline.window() is None
    assert {tuple(p) for p in image[:, LABEL_PX:].reshape(-1, 3)} <= {tuple(s) for s in LANE_SHADES}


def test_partition_bars_follow_the_frame_breakdown():
    env = gym.make("e3gym/Partition-v0", render_mode="rgb_array").unwrapped
    env.reset(seed=0)
    *_, info = env.step(10)
    assert info["offloaded"]
    b, t = info["breakdown"], info["time_s"]
    ends = np.cumsum([b["frontend_s"], b["upload_s"], b["edge_s"], b["download_s"]]) + t
    starts = [t, *ends[:3]]
    image = env.render()
    for lane in range(4):
        first, last = expected_columns(starts[lane], ends[lane], t, t + info["delay_s"])
        cols = lane_columns(image, lane)
        assert abs(cols[0] - first) <= 1 and abs(cols[-1] - last) <= 1
    *_, info = env.step(env.unwrapped.table.local_cut)
    assert [lane for lane, *_ in env.timeline.entries[-1].bars] == [0]  # on the device only
    assert env.timeline.entries[-1].tier == 0


def test_fading_split_draws_the_inference_and_its_tier():
    env = gym.make("e3gym/FadingSplit-v0", render_mode="rgb_array").unwrapped
    env.reset(seed=0)
    times = []
    for _ in range(2):
        *_, info = env.step(0)  # two layers on the device
        times.append(info["time_s"])
    assert env.timeline.entries[-1].tier == 0 and len(env.timeline.entries) == 1
    *_, terminated, _, info = env.step(1)
    times.append(info["time_s"])
    entry = env.timeline.entries[-1]
    assert terminated and entry.tier == 1  # uploaded: served at the edge
    assert [lane for lane, *_ in entry.bars] == [0, 0, 1]
    assert sum(e - s for _, s, e in entry.bars) == pytest.approx(sum(times))
    env.reset()
    env.step(1)
    assert len(env.timeline.entries) == 2 and env.timeline.entries[-1].bars[0][1] == pytest.approx(sum(times))


def test_model_placement_draws_each_period_as_its_time_per_inference():
    env = gym.make("e3gym/ModelPlacement-v0", render_mode="rgb_array", n_inferences=200).unwrapped
    env.reset(seed=0)
    clock = 0.0
    for m in (0, 3, 6):
        *_, info = env.step(m)
        bars = env.timeline.entries[-1].bars
        assert bars[0][1] == pytest.approx(clock)
        assert sum(e - s for _, s, e in bars) == pytest.approx(-float(info["vector_reward"][0]), rel=1e-6)
        assert (0 in {lane for lane, *_ in bars}) == (m > 0)  # parameters downloaded only when placed
        clock = bars[-1][2]


def test_a_rendering_env_pickles_and_continues_identically():
    env = gym.make("e3gym/EndEdgeCloud-v1", render_mode="rgb_array")
    env.reset(seed=2)
    env.step([1, 0, 0])
    clone = pickle.loads(pickle.dumps(env))
    for action in ([2, 3, 1], [1, 0, 4], [0, 0, 0]):
        assert np.array_equal(env.step(action)[0], clone.step(action)[0])
    assert np.array_equal(env.render(), clone.render())
