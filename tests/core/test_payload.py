"""What crosses the network: the measured JPEG model, activations, results, wire bytes."""
from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest

import e3gym  # noqa: F401
from e3gym.core.payload import (
    INT8_TOP1_COST,
    PayloadConfig,
    cut_payload_bytes,
    load_jpeg_model,
    result_bytes,
    wire_bytes,
)
from e3gym.core.profiles import ProfileError, builtin_library


def test_jpeg_sizes_follow_the_measurements_they_were_fitted_to():
    jpeg = load_jpeg_model()
    data = json.loads(open(jpeg.file).read())
    for res, per_q in data["sizes_bytes"].items():
        for q, stats in per_q.items():
            # the fitted line lies within the measured range of the six photographs
            assert stats["min"] * 0.8 <= jpeg.size_bytes(int(res), int(q)) <= stats["max"] * 1.2, (res, q)
    assert jpeg.size_bytes(224, 75) < jpeg.size_bytes(224, 90) < jpeg.size_bytes(224, 100)
    assert jpeg.size_bytes(160, 75) < jpeg.size_bytes(224, 75) < jpeg.size_bytes(299, 75)
    assert 5_000 < jpeg.size_bytes(224, 75) < 20_000  # vs 150,528 B raw


def test_codec_time_is_measured_on_x86_and_scaled_for_arm():
    jpeg, lib = load_jpeg_model(), builtin_library()
    x86 = jpeg.times(lib.device("xeon-t4"), 75)
    pi = jpeg.times(lib.device("rpi4-cortex-a72"), 75)
    assert x86.factor == 1.0 and pi.factor > 1.0
    assert pi.encode_s(224 * 224) == pytest.approx(x86.encode_s(224 * 224) * pi.factor)
    assert 1e-5 < x86.decode_s(224 * 224) < 5e-3


def test_cut_payloads_results_and_int8():
    lib = builtin_library()
    model = lib.model("resnet18")
    jpeg = load_jpeg_model()
    f32 = cut_payload_bytes(model, PayloadConfig(), jpeg, partition=True)
    raw = cut_payload_bytes(model, PayloadConfig(input="raw"), jpeg, partition=True)
    int8 = cut_payload_bytes(model, PayloadConfig(activations="int8"), jpeg, partition=True)
    assert raw[0] == 3 * 224 * 224 and f32[0] == jpeg.size_bytes(224, 75)
    assert f32[1:] == raw[1:] == [b.output_bytes for b in model.blocks[:-1]]
    assert int8[1:] == [math.ceil(b / 4) for b in f32[1:]]
    assert [result_bytes(model, PayloadConfig(result=k)) for k in ("logits", "top5", "label")] == [4000, 60, 8]
    assert wire_bytes(1448) == 1500 and wire_bytes(1449) == 1449 + 104 and wire_bytes(0) == 0
    assert set(INT8_TOP1_COST) <= set(lib.models)


def test_int8_activations_cost_cited_accuracy_at_inner_cuts_only():
    names = ["resnet18", "resnet50"]
    env = gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={
        "payload": {"activations": "int8"}, "models": {"names": names}, "users": {"count": 2}})
    env.reset(seed=0)
    base = env.unwrapped
    inner = base.what_if(np.array([1, 3, 0]))
    whole = base.what_if(np.array([1, 0, 0]))
    assert whole.accuracy == pytest.approx(base.models[0].top1)
    assert inner.accuracy == pytest.approx(base.models[0].top1 - (69.758 - 69.494) / 100)
    with pytest.raises(ValueError, match="no cited int8 accuracy cost for model 'mobilenet_v3_small'"):
        gym.make("e3gym/EndEdgeCloud-v1", scenario_overrides={"payload": {"activations": "int8"}})


def test_env_sends_the_encoded_frame_at_cut_zero():
    env = gym.make("e3gym/EndEdgeCloud-v1")
    env.reset(seed=3)
    jpeg = load_jpeg_model()
    for model in range(len(env.unwrapped.models)):
        *_, info = env.step([1, 0, model])
        assert info["bytes_up"] == jpeg.size_bytes(224, 75) < 50_000
        assert info["breakdown"]["encode_s"] > 0 and info["breakdown"]["decode_s"] > 0
        assert info["bytes_down"] == 60  # top-5 by default


@pytest.mark.parametrize("text, match", [
    ('{"schema": "e3gym.codec/1"}', "malformed codec file"),
    ('{"schema": "nope"}', "field 'schema'"),
    ("[1, 2]", "expected a JSON object"),
    ("{", "not valid JSON"),
])
def test_bad_codec_file_names_the_file(tmp_path, text, match):
    path = tmp_path / "codec.json"
    path.write_text(text)
    with pytest.raises(ProfileError, match=match) as err:
        load_jpeg_model(str(path))
    assert str(path) in str(err.value) and "\n" not in str(err.value)
