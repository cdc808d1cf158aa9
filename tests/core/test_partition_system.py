"""The ANS partition system (e3gym.core.partition): the frame timeline, the edge load, the noise, predict."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e3gym.agents.partition_baselines import NeurosurgeonStatic
from e3gym.core.cut_tables import CutTable, cut_table
from e3gym.core.network import ConstantBandwidth, TraceBandwidth
from e3gym.core.partition import (
    COMPONENTS,
    LoadProcess,
    PartitionEstimates,
    PartitionSystem,
    load_process,
)
from e3gym.envs.partition import PartitionEnv

CONSTANT_LOAD = {"kind": "constant", "factor": 1.0}


def _table(frontend_s=(0.0, 0.1, 0.3), bits=(8e6, 4e6, 0.0), edge_s=(0.2, 0.1, 0.0), sigma=0.1,
           result_bytes=1000) -> CutTable:
    """A 3-cut table with round numbers (a test fixture, not a claim about any hardware)."""
    contexts = np.zeros((len(bits), 7))
    contexts[:, 6] = bits
    return CutTable("toy", contexts, np.array(frontend_s), np.array(edge_s), sigma, result_bytes, "toy-device",
                    "toy-edge")


def _system(bandwidth, load, propagation_s=0.0, edge_noise=False, table=None, seed=0) -> PartitionSystem:
    system = PartitionSystem(table or _table(), bandwidth, load_process(load), propagation_s, edge_noise)
    system.start(*np.random.default_rng(seed).spawn(3))
    return system


def test_hand_worked_frame_across_a_load_step():
    # 8 Mbps, 10 ms each way; the load doubles at t = 0.6 s.
    system = _system(ConstantBandwidth(8e6), {"kind": "step", "times_s": [0.6], "factors": [1.0, 2.0]}, 0.01)
    out = system.serve(1, 0.0)
    # front 0.1; upload 4e6 / 8e6 + 0.01 = 0.51; the edge starts at 0.61 > 0.6: 0.1 x 2; result 8000 bits: 0.011
    assert out.breakdown() == pytest.approx({"frontend_s": 0.1, "upload_s": 0.51, "edge_s": 0.2, "download_s": 0.011},
                                            rel=1e-12)
    assert out.latency_s == pytest.approx(0.821, rel=1e-12) and out.offload_delay_s == pytest.approx(0.721, rel=1e-12)
    assert out.starts_s == pytest.approx((0.0, 0.1, 0.61, 0.81), rel=1e-12) and out.offloaded
    later = _system(ConstantBandwidth(8e6), {"kind": "step", "times_s": [0.7], "factors": [1.0, 2.0]}, 0.01)
    assert later.serve(1, 0.0).edge_s == pytest.approx(0.1, rel=1e-12)  # the step comes after the edge starts
    # the raw input: 1 s upload + 0.01; the edge at 1.01 s, doubled: 0.4
    assert system.serve(0, 0.0).latency_s == pytest.approx(1.01 + 0.4 + 0.011, rel=1e-12)


def test_upload_integrates_the_curve_across_a_rate_change():
    # 4 Mbps for the first second, then 8 Mbps. 8e6 bits from t = 0.5: 2e6 bits by t = 1, the other 6e6 in 0.75 s.
    system = _system(TraceBandwidth([1.0, 1e6], [4e6, 8e6]), CONSTANT_LOAD)
    out = system.serve(0, 0.5)
    assert out.upload_s == pytest.approx(1.25, rel=1e-12)
    assert out.edge_s == pytest.approx(0.2, rel=1e-12) and out.download_s == pytest.approx(8000 / 8e6, rel=1e-12)
    assert system.bandwidth_at(0.99) == 4e6 and system.bandwidth_at(1.0) == 8e6


def test_the_local_cut_runs_only_the_front_end():
    out = _system(ConstantBandwidth(1e6), CONSTANT_LOAD, 0.05).serve(2, 3.0)
    assert out.latency_s == 0.3 and not out.offloaded and out.offload_delay_s == 0.0
    assert out.breakdown() == {"frontend_s": 0.3, "upload_s": 0.0, "edge_s": 0.0, "download_s": 0.0}
    assert out.starts_s == (3.0,) and out.energy_j == 0.0 and out.vector_reward == (-0.3,)


def test_edge_load_follows_its_step_times_and_markov_law():
    load = load_process({"kind": "step", "times_s": [1.0, 2.5], "factors": [1.0, 3.0, 2.0]})
    curve = load.start(np.random.default_rng(0))
    assert [curve.factor_at(t) for t in (0.0, 0.999, 1.0, 2.49, 2.5, 1e6)] == [1.0, 1.0, 3.0, 3.0, 2.0, 2.0]
    markov = load_process({"kind": "markov", "factors": [1.0, 4.0], "mean_dwell_s": 120.0})
    assert isinstance(markov, LoadProcess)
    # two states, equal dwell, jumps always to the other state: half the time at each factor
    assert markov.mean_factor() == pytest.approx(2.5) and markov.max_factor() == 4.0


def test_edge_noise_is_log_normal_with_the_tables_spread():
    sigma = 0.1
    system = _system(ConstantBandwidth(8e6), CONSTANT_LOAD, edge_noise=True, table=_table(sigma=sigma), seed=7)
    z = np.log(np.array([system.serve(1, 0.0).edge_s for _ in range(20000)]) / 0.1) / sigma
    assert abs(z.mean()) < 2.58 / math.sqrt(len(z))  # 99% CI of a standard normal's mean
    assert z.std() == pytest.approx(1.0, abs=0.03)
    assert system.expected_delays(0.0)[1] == pytest.approx(0.1 + 0.5 + 0.1 + 0.001, rel=1e-12)  # noise-free


def test_neurosurgeon_prediction_equals_serve_when_its_estimates_are_the_truth():
    env = PartitionEnv(edge_noise=False, propagation_ms=5.0, bandwidth={"kind": "constant", "mbps": 18.88},
                       load=CONSTANT_LOAD)
    agent = NeurosurgeonStatic(env)
    served = []
    for cut in range(env.n_cuts):
        env.reset(seed=0)
        served.append(env.step(cut)[4]["delay_s"])
    truth = PartitionEstimates(env.system.bandwidth_at(0.0), env.table.edge_s)
    np.testing.assert_allclose(agent.predictions(truth), served, rtol=1e-12)
    assert len(set(np.round(served, 9))) == env.n_cuts  # the cuts really differ


def test_neurosurgeon_estimates_the_process_mean_bandwidth():
    agent = NeurosurgeonStatic(PartitionEnv())  # default: Markov between 5.85 and 18.88 Mbps, equal dwell
    assert agent.bandwidth_bps == pytest.approx((5.85e6 + 18.88e6) / 2)
    assert agent.predicted_s[agent.cut] == agent.predicted_s.min()


VGG16 = cut_table("ans-vgg16", "jetson-tx2-ans", "h100-fp32")


@settings(max_examples=60, deadline=None)
@given(mbps=st.floats(0.5, 200.0), propagation_ms=st.floats(0.0, 50.0), start_s=st.floats(0.0, 1e4),
       cut=st.integers(0, VGG16.n_cuts - 1))
def test_predict_on_the_truth_is_serve_and_the_parts_add_up(mbps, propagation_ms, start_s, cut):
    system = _system(ConstantBandwidth(mbps * 1e6), CONSTANT_LOAD, propagation_ms / 1e3, table=VGG16)
    out = system.serve(cut, start_s)
    predicted = system.predict(cut, PartitionEstimates(mbps * 1e6, VGG16.edge_s), start_s)
    assert predicted.latency_s == pytest.approx(out.latency_s, rel=1e-12)
    parts = out.breakdown()
    assert tuple(parts) == COMPONENTS and sum(parts.values()) == pytest.approx(out.latency_s, rel=1e-12)
    assert out.offload_delay_s == pytest.approx(out.upload_s + out.edge_s + out.download_s, rel=1e-12)
    assert list(out.starts_s) == sorted(out.starts_s) and out.vector_reward == (-out.latency_s,)
    if out.offloaded:  # each transfer pays the propagation once, on top of its airtime
        assert out.upload_s >= propagation_ms / 1e3 and out.download_s >= propagation_ms / 1e3


@pytest.mark.parametrize("make, name", [
    (lambda s: PartitionEstimates(0.0, np.zeros(3)), "bandwidth_bps"),
    (lambda s: PartitionEstimates(1e6, [0.1, -1.0, 0.0]), "edge_s"),
    (lambda s: s.predict(0, PartitionEstimates(1e6, np.zeros(2))), "edge_s"),
    (lambda s: s.predict(0, {"bandwidth_bps": 1e6}), "estimates"),
    (lambda s: s.serve(3, 0.0), "cut"),
    (lambda s: PartitionSystem(_table(), ConstantBandwidth(1e6), load_process(CONSTANT_LOAD)).serve(0, 0.0), "start"),
    (lambda s: PartitionSystem(_table(), ConstantBandwidth(1e6), CONSTANT_LOAD), "load"),
    (lambda s: PartitionSystem(_table(), ConstantBandwidth(1e6), load_process(CONSTANT_LOAD), -1.0), "propagation_s"),
    (lambda s: load_process({"kind": "step", "times_s": [2.0, 1.0], "factors": [1, 2, 3]}), "load.times_s"),
])
def test_bad_input_names_itself(make, name):
    system = _system(ConstantBandwidth(1e6), CONSTANT_LOAD)
    with pytest.raises(ValueError, match=name):
        make(system)
