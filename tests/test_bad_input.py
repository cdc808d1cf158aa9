"""A battery of malformed inputs: each gets one clear line naming what is wrong, fast.

Every case must raise an :class:`~e3gym.errors.E3GymError` (a ``ValueError``) whose message is one
line and names the field, file or argument, within a second of CPU time: no hang, no unbounded
allocation, no silent coercion, no bare ``KeyError`` / ``ZeroDivisionError`` / ``OverflowError``.
"""
from __future__ import annotations

import copy
import json
import math
import re
import signal
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from e3gym.core.profiles import ProfileLibrary, builtin_profile_dir
from e3gym.errors import E3GymError

CASES: list[tuple[str, Callable[[Path], Any], str]] = []  # (id, action given a tmp dir, regex the message matches)


def case(case_id: str, match: str):
    def register(fn: Callable[[Path], Any]):
        CASES.append((case_id, fn, match))
        return fn
    return register


def _run_scenario(overrides: dict, steps: int = 4, scenario: str = "default") -> None:
    from e3gym.envs.end_edge_cloud import EndEdgeCloudEnv
    env = EndEdgeCloudEnv(scenario, scenario_overrides=overrides)
    env.reset(seed=0)
    for i in range(steps):
        env.step([1 + i % 2, 0, 0])  # offload: exercises uplink, WAN and servers


def scenario_case(case_id: str, overrides: dict, match: str) -> None:
    CASES.append((f"scenario-{case_id}", lambda tmp, o=overrides: _run_scenario(o), match))


# ----------------------------------------------------------------------------- scenario keys
BAD_NUMBERS = {"zero": 0, "negative": -1, "nan": math.nan, "inf": math.inf, "string": "2", "bool": True,
               "list": [1], "huge": 1e300, "tiny": 1e-300}
POSITIVE_FIELDS = {  # (table, key): the bad values that must be refused
    ("workload", "rate_per_s"): BAD_NUMBERS,
    ("edge", "slowdown"): BAD_NUMBERS,
    ("cloud", "slowdown"): BAD_NUMBERS,
    ("users", "downlink_ratio"): BAD_NUMBERS,
    ("workload", "deadline_ms"): BAD_NUMBERS,
}
for (table, key), values in POSITIVE_FIELDS.items():
    for label, value in values.items():
        scenario_case(f"{table}.{key}-{label}", {table: {key: value}}, re.escape(f"[{table}].{key}"))

NON_NEGATIVE_FIELDS = {("users", "rtt_ms"), ("wan", "propagation_ms")}
for table, key in sorted(NON_NEGATIVE_FIELDS):
    for label in ("negative", "nan", "inf", "string", "bool", "huge"):
        scenario_case(f"{table}.{key}-{label}", {table: {key: BAD_NUMBERS[label]}}, re.escape(f"[{table}].{key}"))

INTEGER_FIELDS = {("users", "count"), ("edge", "workers"), ("cloud", "workers"), ("users", "cells")}
for table, key in sorted(INTEGER_FIELDS):
    for label, value in {"fraction": 2.5, "zero": 0, "negative": -3, "string": "2", "bool": True,
                         "huge": 10**9, "float-integral": 2.0}.items():
        scenario_case(f"{table}.{key}-{label}", {table: {key: value}}, re.escape(f"[{table}].{key}"))

FLAG_FIELDS = {("models", "partition"), ("models", "latency_noise"), ("users", "tls")}
for table, key in sorted(FLAG_FIELDS):
    for label, value in {"no": "no", "one": 1, "zero": 0, "yes": "yes", "list": [True]}.items():
        scenario_case(f"{table}.{key}-{label}", {table: {key: value}}, re.escape(f"[{table}].{key}"))

CHOICE_FIELDS = {
    ("users", "access"): ["6g", 5, ""],
    ("users", "connection"): ["keepalive", 1, True],
    ("workload", "kind"): ["uniform", 3],
    ("payload", "input"): ["png", 1],
    ("payload", "activations"): ["int4", 8],
    ("payload", "result"): ["everything", 5],
    ("users", "device"): ["no-such-device", 5, ["rpi4-cortex-a72"]],
    ("edge", "device"): ["no-such-device", 5],
    ("cloud", "device"): ["no-such-device", None],
}
for (table, key), values in CHOICE_FIELDS.items():
    for i, value in enumerate(values):
        match = re.escape(f"[{table}].{key}") if value != "no-such-device" else "no-such-device"
        scenario_case(f"{table}.{key}-{i}", {table: {key: value}}, match)

for label, value in {"zero": 0, "over-100": 101, "fraction": 50.5, "string": "high", "bool": True}.items():
    scenario_case(f"payload.quality-{label}", {"payload": {"quality": value}}, re.escape("[payload].quality"))

for label, value in {"empty": [], "string": "resnet18", "unknown": ["no-such-model"], "number": [5],
                     "duplicate": ["resnet18", "resnet18"]}.items():
    scenario_case(f"models.names-{label}", {"models": {"names": value}},
                  "no-such-model" if label == "unknown" else re.escape("[models].names"))

for label, value in {"string": "rpi4-cortex-a72", "empty": [], "number": [5]}.items():
    scenario_case(f"users.devices-{label}", {"users": {"devices": value}}, re.escape("[users].devices"))

for label, value in {"wrong-length": [1.0, 2.0], "empty": [], "bad-entry": [1.0] * 7 + ["x"]}.items():
    scenario_case(f"workload.rate_per_s-{label}", {"workload": {"rate_per_s": value}},
                  re.escape("[workload].rate_per_s"))
for label, value in {"empty": [], "above-1": [1.5], "negative": [-0.1], "string": "0.7", "nan": [math.nan],
                     "text-entry": ["high"]}.items():
    scenario_case(f"workload.accuracy_levels-{label}", {"workload": {"accuracy_levels": value}},
                  re.escape("[workload].accuracy_levels"))
for label, value in {"wrong-length": [1.0], "negative": [1, 1, 1, -1], "all-zero": [0, 0, 0, 0],
                     "string": "uniform", "nan": [1, 1, 1, math.nan]}.items():
    scenario_case(f"workload.accuracy_weights-{label}", {"workload": {"accuracy_weights": value}},
                  re.escape("[workload].accuracy_weights"))
for key in ("burst_factor", "mean_burst_s", "mean_calm_s"):
    for label in ("zero", "negative", "huge", "tiny", "string"):
        scenario_case(f"workload.{key}-{label}", {"workload": {"kind": "bursty", key: BAD_NUMBERS[label]}},
                      re.escape(f"[workload].{key}"))

# Unknown keys and tables: an error with a close-match suggestion.
scenario_case("unknown-top-level", {"user": {"count": 2}}, r"unknown key 'user'.*did you mean 'users'")
scenario_case("unknown-users-key", {"users": {"cont": 2}}, r"unknown key 'cont'.*did you mean 'count'")
scenario_case("unknown-workload-key", {"workload": {"rate": 2}}, r"unknown key 'rate'.*rate_per_s")
scenario_case("episode-max-steps", {"episode": {"max_steps": 10}}, r"\[episode\]|episode")
CASES.append(("scenario-spec-number", lambda tmp: _run_scenario({}, scenario=3), "scenario must be"))
scenario_case("table-not-table", {"users": 5}, r"\[users\] must be a table")
scenario_case("edge-not-table", {"edge": "big"}, r"\[edge\] must be a table")
scenario_case("payload-unknown", {"payload": {"qualty": 80}}, r"did you mean 'quality'")

# ----------------------------------------------------------------------------- network specs
NETWORK_WHERE = {"users": "network", "wan": "network"}
BAD_NETWORKS = {
    "number": 5,
    "unknown-preset": "6g",
    "empty-table": {},
    "unknown-kind": {"kind": "fibre"},
    "empty-list": [],
    "list-of-junk": [5],
    "constant-missing": {"kind": "constant"},
    "constant-zero": {"kind": "constant", "mbps": 0},
    "constant-negative": {"kind": "constant", "mbps": -5},
    "constant-nan": {"kind": "constant", "mbps": math.nan},
    "constant-string": {"kind": "constant", "mbps": "fast"},
    "constant-tiny": {"kind": "constant", "mbps": 1e-300},
    "constant-huge": {"kind": "constant", "mbps": 1e300},
    "constant-extra-key": {"kind": "constant", "mbps": 5, "rtt": 3},
    "markov-empty": {"kind": "markov", "states_mbps": []},
    "markov-zero-state": {"kind": "markov", "states_mbps": [0, 5]},
    "markov-string-state": {"kind": "markov", "states_mbps": ["x"]},
    "markov-dwell-zero": {"kind": "markov", "states_mbps": [1, 5], "mean_dwell_s": 0},
    "markov-dwell-tiny": {"kind": "markov", "states_mbps": [1, 5], "mean_dwell_s": 1e-300},
    "markov-dwell-string": {"kind": "markov", "states_mbps": [1, 5], "mean_dwell_s": "long"},
    "markov-tiny-state": {"kind": "markov", "states_mbps": [1e-300, 5]},
    "rayleigh-snr-huge": {"kind": "rayleigh", "bandwidth_mhz": 10, "mean_snr_db": 5000, "coherence_ms": 10},
    "rayleigh-snr-tiny": {"kind": "rayleigh", "bandwidth_mhz": 10, "mean_snr_db": -5000, "coherence_ms": 10,
                          "min_snr_db": -6000},
    "rayleigh-coherence-zero": {"kind": "rayleigh", "bandwidth_mhz": 10, "mean_snr_db": 10, "coherence_ms": 0},
    "rayleigh-coherence-tiny": {"kind": "rayleigh", "bandwidth_mhz": 10, "mean_snr_db": 10, "coherence_ms": 1e-300},
    "rayleigh-bandwidth-zero": {"kind": "rayleigh", "bandwidth_mhz": 0, "mean_snr_db": 10, "coherence_ms": 10},
    "rayleigh-min-above-mean": {"kind": "rayleigh", "bandwidth_mhz": 10, "mean_snr_db": 10, "coherence_ms": 10,
                                "min_snr_db": 20},
    "rayleigh-min-string": {"kind": "rayleigh", "bandwidth_mhz": 10, "mean_snr_db": 10, "coherence_ms": 10,
                            "min_snr_db": "low"},
    "rayleigh-missing-snr": {"kind": "rayleigh", "bandwidth_mhz": 10, "coherence_ms": 10},
    "trace-no-path": {"kind": "trace"},
    "trace-empty-paths": {"kind": "trace", "paths": []},
    "trace-path-number": {"kind": "trace", "path": 5},
    "trace-both": {"kind": "trace", "path": "a.txt", "paths": ["b.txt"]},
    "trace-missing-file": {"kind": "trace", "path": "/nonexistent/trace.txt"},
    "trace-bad-format": {"kind": "trace", "path": "@5g", "format": "pcap"},
    "trace-bin-zero": {"kind": "trace", "path": "@mahimahi", "bin_ms": 0},
    "trace-bin-tiny": {"kind": "trace", "path": "@mahimahi", "bin_ms": 1e-300},
    "trace-bin-negative": {"kind": "trace", "path": "@mahimahi", "bin_ms": -10},
    "trace-scale-zero": {"kind": "trace", "path": "@5g", "scale": 0},
    "trace-scale-tiny": {"kind": "trace", "path": "@5g", "scale": 1e-300},
    "trace-scale-huge": {"kind": "trace", "path": "@5g", "scale": 1e300},
    "trace-random-start-string": {"kind": "trace", "path": "@5g", "random_start": "yes"},
    "trace-extra-key": {"kind": "trace", "path": "@5g", "loop": True},
}


def _network_case(where_table: str, spec: Any) -> Callable[[Path], Any]:
    def run(tmp: Path) -> None:
        spec_here = copy.deepcopy(spec)
        if isinstance(spec_here, dict) and str(spec_here.get("path", "")).startswith("@"):
            spec_here["path"] = str(_trace_file(tmp, spec_here["path"][1:]))
        _run_scenario({where_table: {"network": spec_here}})
    return run


def _trace_file(tmp: Path, kind: str) -> Path:
    from e3gym.scenarios import preset_files
    if kind == "5g":
        return Path(preset_files("5g")[0])
    path = tmp / "mahimahi.txt"
    path.write_text("".join(f"{ms}\n" for ms in range(0, 1000, 3)))
    return path


for table in NETWORK_WHERE:
    for label, spec in BAD_NETWORKS.items():
        CASES.append((f"network-{table}-{label}", _network_case(table, spec), re.escape(f"[{table}].network")))
for label in ("number", "unknown-kind", "constant-zero", "markov-dwell-tiny", "trace-no-path"):
    CASES.append((f"network-downlink-{label}",
                  lambda tmp, s=BAD_NETWORKS[label]: _run_scenario({"users": {"downlink_network": s}}),
                  re.escape("[users].downlink_network")))

# ----------------------------------------------------------------------------- trace files
BAD_TRACES: dict[str, tuple[bytes, str]] = {  # file content, regex of the message (after the file name)
    "empty": (b"", "empty"),
    "only-comments": (b"# a comment\n\n# another\n", "empty"),
    "binary": (bytes(range(128, 256)) * 4, "not a text file"),
    "mahimahi-huge-period": (b"100000000000\n", "segments"),
    "mahimahi-negative": (b"0\n-5\n", "line 2"),
    "mahimahi-decreasing": (b"0\n10\n5\n", "line 3"),
    "mahimahi-fraction": (b"0\n1.5\n", "line 2"),
    "mahimahi-text": (b"0\nfast\n", "line 2"),
    "mahimahi-nan": (b"0\nnan\n", "line 2"),
    "mahimahi-inf": (b"0\ninf\n", "line 2"),
    "mahimahi-mixed-columns": (b"0\n5 6\n", "line 2"),
    "seconds-one-row": (b"0 5\n", "two rows"),
    "seconds-decreasing": (b"0 5\n2 5\n1 5\n", "line 3"),
    "seconds-equal-times": (b"0 5\n0 5\n", "line 2"),
    "seconds-negative-rate": (b"0 -5\n1 5\n", "line 1"),
    "seconds-all-zero": (b"0 0\n1 0\n2 0\n", "never delivers"),
    "seconds-three-columns": (b"0 5 6\n1 5 6\n", "line 1"),
    "seconds-nan": (b"0 nan\n1 5\n", "line 1"),
    "seconds-text": (b"0 fast\n1 5\n", "line 1"),
    "seconds-tiny-rates": (b"0 1e-300\n1 1e-300\n", "Mbps"),
    "seconds-huge-rate": (b"0 1e300\n1 5\n", "Mbps"),
    "seconds-huge-span": (b"0 5\n1e300 5\n", "line 2"),
    "seconds-tiny-span": (b"0 5\n1e-300 5\n", "line 2"),
    "latin1": ("0 5\n1 5 # caf\u00e9\n".encode("latin-1"), "not a text file"),
}


def _trace_case(content: bytes, match: str) -> Callable[[Path], Any]:
    def run(tmp: Path) -> None:
        path = tmp / "bad-trace.txt"
        path.write_bytes(content)
        _run_scenario({"users": {"network": {"kind": "trace", "path": str(path)}}})
    return run


for label, (content, match) in BAD_TRACES.items():
    CASES.append((f"trace-{label}", _trace_case(content, match), r"bad-trace\.txt.*" + match))


@case("trace-secret-not-echoed", r"bad-trace\.txt")
def _secret(tmp: Path) -> None:
    path = tmp / "bad-trace.txt"
    path.write_text("root:SECRET-PASSWORD-HASH:0:0\n")
    try:
        _run_scenario({"users": {"network": {"kind": "trace", "path": str(path)}}})
    except E3GymError as err:
        assert "SECRET" not in str(err), "an error must not echo the file's contents"
        raise


@case("trace-directory", r"cannot read trace")
def _trace_dir(tmp: Path) -> None:
    _run_scenario({"users": {"network": {"kind": "trace", "path": str(tmp)}}})


# ----------------------------------------------------------------------------- scenario files
BAD_SCENARIO_FILES: dict[str, tuple[bytes, str]] = {
    "not-toml": (b"[users\ncount = 2\n", "not valid TOML"),
    "binary": (bytes(range(128, 256)), "not valid TOML|not a text file"),
    "duplicate-key": (b"[users]\ncount = 2\ncount = 3\n", "not valid TOML"),
    "unknown-table": (b"[userz]\ncount = 2\n", "did you mean 'users'"),
    "wrong-type-table": (b"users = 3\n", r"\[users\] must be a table"),
    "missing-device": (b"[users]\ncount = 2\n[edge]\ndevice='aws-m7g.2xlarge-calibrated'\n", "device"),
}


def _scenario_file_case(content: bytes) -> Callable[[Path], Any]:
    def run(tmp: Path) -> None:
        from e3gym.envs.end_edge_cloud import EndEdgeCloudEnv
        path = tmp / "bad-scenario.toml"
        path.write_bytes(content)
        EndEdgeCloudEnv(str(path)).reset(seed=0)
    return run


for label, (content, match) in BAD_SCENARIO_FILES.items():
    CASES.append((f"scenario-file-{label}", _scenario_file_case(content), r"bad-scenario\.toml.*(" + match + ")"))
CASES.append(("scenario-unknown-name", lambda tmp: _run_scenario({}, scenario="defualt"), "did you mean 'default'"))
CASES.append(("scenario-missing-file", lambda tmp: _run_scenario({}, scenario=str(tmp / "nope.toml")),
              r"nope\.toml"))

# ----------------------------------------------------------------------------- profiles
def _shipped(kind: str, name: str) -> dict:
    return json.loads((builtin_profile_dir() / kind / f"{name}.json").read_text())


def _library_with(tmp: Path, device: dict | bytes | None = None, models: dict | bytes | None = None) -> None:
    (tmp / "devices").mkdir(exist_ok=True)
    (tmp / "models").mkdir(exist_ok=True)
    if device is not None:
        (tmp / "devices" / "bad-device.json").write_bytes(
            device if isinstance(device, bytes) else json.dumps(device).encode())
    if models is not None:
        (tmp / "models" / "bad-models.json").write_bytes(
            models if isinstance(models, bytes) else json.dumps(models).encode())
    lib = ProfileLibrary.from_dirs(builtin_profile_dir(), tmp) if models is None else ProfileLibrary.from_dirs(tmp)
    from e3gym.envs.end_edge_cloud import EndEdgeCloudEnv
    env = EndEdgeCloudEnv(scenario_overrides={"users": {"device": "bad"}, "models": {"names": ["resnet18"]}},
                          profiles=lib)
    env.reset(seed=0)
    for _ in range(3):
        env.step([0, 99, 0])  # all local: the device's own figures


def _device_mutation(mutate: Callable[[dict], None]) -> Callable[[Path], Any]:
    def run(tmp: Path) -> None:
        device = _shipped("devices", "rpi4-cortex-a72")
        device["name"] = "bad"
        mutate(device)
        _library_with(tmp, device=device)
    return run


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        keys = path.split(".")
        for k in keys[:-1]:
            d = d[k]
        if value is _DELETE:
            del d[keys[-1]]
        else:
            d[keys[-1]] = value
    return mutate


_DELETE = object()
R18 = "models.resnet18.total"
DEVICE_MUTATIONS = {
    "schema": ("schema", "e3gym.device/0", "schema"),
    "no-schema": ("schema", _DELETE, "schema"),
    "tier": ("tier", "fog", "tier"),
    "provenance-method": ("provenance.method", "guessed", "provenance.method"),
    "provenance-source-missing": ("provenance.source", _DELETE, "provenance.source"),
    "power-negative": ("power.busy_w", -3.0, "power.busy_w"),
    "power-string": ("power.idle_w", "low", "power.idle_w"),
    "models-list": ("models", [], "models"),
    "median-zero": (f"{R18}.median_s", 0.0, "median_s"),
    "median-negative": (f"{R18}.median_s", -0.1, "median_s"),
    "median-string": (f"{R18}.median_s", "fast", "median_s"),
    "median-huge": (f"{R18}.median_s", 1e300, "median_s"),
    "p90-huge": (f"{R18}.p90_s", 1e300, "p90_s"),
    "p10-above-median": (f"{R18}.p10_s", 10.0, "p10_s"),
    "p10-tiny": (f"{R18}.p10_s", 1e-300, "p90_s"),
    "n-fraction": (f"{R18}.n", 2.5, r"\.n"),
    "n-negative": (f"{R18}.n", -1, r"\.n"),
    "total-missing": (R18, _DELETE, "total"),
    "name-number": ("name", 5, "name"),
    "hardware-string": ("hardware", "pi", "hardware"),
}
for label, (path, value, match) in DEVICE_MUTATIONS.items():
    CASES.append((f"device-{label}", _device_mutation(_set(path, value)), r"bad-device\.json.*" + match))


@case("device-blocks-wrong-count", r"bad-device\.json.*blocks")
def _blocks_count(tmp: Path) -> None:
    device = _shipped("devices", "rpi4-cortex-a72")
    device["name"] = "bad"
    device["models"]["resnet18"]["blocks"] = device["models"]["resnet18"]["blocks"][:-1]
    _library_with(tmp, device=device)


@case("device-blocks-renamed", r"bad-device\.json.*blocks\[0\]\.name")
def _blocks_name(tmp: Path) -> None:
    device = _shipped("devices", "rpi4-cortex-a72")
    device["name"] = "bad"
    device["models"]["resnet18"]["blocks"][0]["name"] = "not-a-block"
    _library_with(tmp, device=device)


for label, (content, match) in {"not-json": (b"{", "not valid JSON"), "list": (b"[]", "JSON object"),
                                "binary": (bytes(range(128, 256)), "not valid JSON|not a text file"),
                                "nan-literal": (b'{"schema": NaN}', "schema")}.items():
    CASES.append((f"device-file-{label}", lambda tmp, c=content: _library_with(tmp, device=c),
                  r"bad-device\.json.*(" + match + ")"))


def _model_mutation(mutate: Callable[[dict], None]) -> Callable[[Path], Any]:
    def run(tmp: Path) -> None:
        models = _shipped("models", "torchvision")
        mutate(models["models"][[m["name"] for m in models["models"]].index("resnet18")])
        (tmp / "devices").mkdir(exist_ok=True)
        for name in ("rpi4-cortex-a72", "aws-m7g.2xlarge-calibrated", "h100-fp32-cudagraph"):
            d = _shipped("devices", name)
            d["models"] = {k: v for k, v in d["models"].items() if k == "resnet18"}
            if name == "rpi4-cortex-a72":
                d["name"] = "bad"
            (tmp / "devices" / f"{name}.json").write_text(json.dumps(d))
        models["models"] = [m for m in models["models"] if m["name"] == "resnet18"]
        _library_with(tmp, models=models)
    return run


MODEL_MUTATIONS = {
    "top1-above-1": ("accuracy.top1", 1.5, "top1"),
    "top1-string": ("accuracy.top1", "high", "top1"),
    "top1-source-missing": ("accuracy.source", _DELETE, "source"),
    "input-bytes-negative": ("input_bytes", -1, "input_bytes"),
    "input-bytes-fraction": ("input_bytes", 10.5, "input_bytes"),
    "input-bytes-huge": ("input_bytes", 1e300, "input_bytes"),
    "output-bytes-string": ("output_bytes", "small", "output_bytes"),
    "family-missing": ("family", _DELETE, "family"),
    "variant-string": ("variant", "v1", "variant"),
    "blocks-dict": ("blocks", {}, "blocks"),
}
for label, (path, value, match) in MODEL_MUTATIONS.items():
    CASES.append((f"model-{label}", _model_mutation(_set(path, value)), r"bad-models\.json.*" + match))


@case("model-block-bytes-huge", r"bad-models\.json.*output_bytes")
def _block_huge(tmp: Path) -> None:
    def mutate(m: dict) -> None:
        m["blocks"][3]["output_bytes"] = 10**300
    _model_mutation(mutate)(tmp)


@case("model-duplicate-block", r"bad-models\.json.*unique")
def _block_dup(tmp: Path) -> None:
    def mutate(m: dict) -> None:
        m["blocks"][1]["name"] = m["blocks"][0]["name"]
    _model_mutation(mutate)(tmp)


# ----------------------------------------------------------------------------- env arguments
def _make(env_id: str, **kwargs: Any) -> None:
    import gymnasium as gym

    import e3gym  # noqa: F401
    gym.make(env_id, **kwargs).reset(seed=0)


ENV_KWARGS = {
    "e3gym/EndEdgeCloud-v1": {"reward_mode": "fastest", "accuracy_penalty": -1, "accuracy_weight": math.nan,
                              "energy_weight": math.inf, "queue_obs_max": 0, "scenario_overrides": 5},
    "e3gym/ModelSelection-v1": {"reward_mode": 3, "energy_weight": "high", "queue_obs_max": True,
                                "accuracy_penalty": True},
    "e3gym/Partition-v0": {"key_frame_prob": 1.5, "frame_interval_s": 0, "propagation_ms": -1,
                           "model": "no-such-model", "end_device": "no-such-device", "edge_noise": "yes",
                           "key_frame_persistence": -0.5},
    "e3gym/FadingSplit-v0": {"horizon": -1, "distance_m": -1, "tx_power_w": 0, "bandwidth_hz": math.nan,
                             "cpu_hz": 0, "energy_weight": -1, "layers": "no-such-layers", "min_snr_db": 1e300},
    "e3gym/ModelPlacement-v0": {"n_inferences": 0, "rule": "psychic", "snr_low_db": 30, "snr_step_db": -1,
                                "rx_power_w": -1, "kappa": -1},
}
for env_id, kwargs in ENV_KWARGS.items():
    for key, value in kwargs.items():
        CASES.append((f"env-{env_id.split('/')[1]}-{key}", lambda tmp, e=env_id, k=key, v=value: _make(e, **{k: v}),
                      re.escape(key) if not str(value).startswith("no-such") else str(value)))


# ----------------------------------------------------------------------------- actions and render modes
def _act(env_id: str, action: Any) -> None:
    import gymnasium as gym

    import e3gym  # noqa: F401
    env = gym.make(env_id).unwrapped  # the env's own check, not the passive checker's warning
    env.reset(seed=0)
    env.step(action)


BAD_ACTIONS = {
    "e3gym/EndEdgeCloud-v1": {"float": [1.0, 0, 0], "fraction": [1, 0.5, 0], "tier-3": [3, 0, 0], "negative": [0, -1, 0],
                              "cut-99": [0, 99, 0], "short": [1, 0], "long": [1, 0, 0, 0], "string": "edge",
                              "none": None, "bool": [True, 0, 0], "nested": [[1, 0, 0]]},
    "e3gym/ModelSelection-v1": {"float": [2.0, 0], "tier-5": [5, 0], "model-99": [0, 99], "short": [1],
                                "string": ["a", "b"], "none": None},
    "e3gym/Partition-v0": {"float": 1.0, "negative": -1, "too-large": 10**6, "string": "3", "none": None,
                           "list": [1, 2]},
    "e3gym/FadingSplit-v0": {"float": 0.0, "two": 2, "negative": -1, "string": "stop", "none": None},
    "e3gym/ModelPlacement-v0": {"float": 1.0, "negative": -1, "too-large": 10**6, "string": "1", "none": None},
}
for env_id, actions in BAD_ACTIONS.items():
    for label, action in actions.items():
        CASES.append((f"action-{env_id.split('/')[1]}-{label}", lambda tmp, e=env_id, a=action: _act(e, a), "action"))
for env_id in BAD_ACTIONS:
    CASES.append((f"render-mode-{env_id.split('/')[1]}",
                  lambda tmp, e=env_id: _make(e, render_mode="rgb"), "render_mode"))


# ----------------------------------------------------------------------------- suites
GOOD_SUITE = """id = "bad"
max_steps = 10
seeds = [100]
train_seeds = [0]

[[scenarios]]
id = "s"
env = "e3gym/EndEdgeCloud-v1"
overrides = { users = { count = 2 } }

[[agents]]
name = "always_local"
"""
BAD_SUITES: dict[str, tuple[str, str, str]] = {  # label: (old text, new text, regex)
    "unknown-top-key": ("max_steps = 10", "max_step = 10", "did you mean 'max_steps'"),
    "max-steps-zero": ("max_steps = 10", "max_steps = 0", "max_steps"),
    "max-steps-fraction": ("max_steps = 10", "max_steps = 2.5", "max_steps"),
    "max-steps-string": ("max_steps = 10", 'max_steps = "10"', "max_steps"),
    "max-steps-huge": ("max_steps = 10", "max_steps = 100000000000000", "max_steps"),
    "episodes-zero": ("max_steps = 10", "max_steps = 10\nepisodes = 0", "episodes"),
    "version-string": ("max_steps = 10", 'max_steps = 10\nversion = "one"', "version"),
    "seeds-empty": ("seeds = [100]", "seeds = []", "seeds"),
    "seeds-negative": ("seeds = [100]", "seeds = [-1]", "seeds"),
    "seeds-float": ("seeds = [100]", "seeds = [1.5]", "seeds"),
    "seeds-huge": ("seeds = [100]", "seeds = [100000000000000]", "seeds"),
    "seeds-duplicate": ("seeds = [100]", "seeds = [100, 100]", "seeds"),
    "seeds-string": ("seeds = [100]", 'seeds = "100"', "seeds"),
    "train-overlap": ("train_seeds = [0]", "train_seeds = [100]", "train_seeds"),
    "id-number": ('id = "bad"', "id = 5", "'id'"),
    "id-missing": ('id = "bad"\n', "", "'id'"),
    "scenario-unknown-key": ('id = "s"', 'id = "s"\nenvv = 1', "did you mean 'env'"),
    "scenario-env-unknown": ('env = "e3gym/EndEdgeCloud-v1"', 'env = "e3gym/EndEdge-v1"', "unknown env id"),
    "scenario-env-list": ('env = "e3gym/EndEdgeCloud-v1"', 'env = ["e3gym/EndEdgeCloud-v1"]', "env"),
    "scenario-env-missing": ('env = "e3gym/EndEdgeCloud-v1"\n', "", "needs 'id' and 'env'"),
    "scenario-overrides-key": ("users = { count = 2 }", "users = { cont = 2 }", "cont"),
    "scenario-overrides-value": ("users = { count = 2 }", "users = { count = 0 }", "count"),
    "scenario-overrides-not-table": ("overrides = { users = { count = 2 } }", "overrides = 3", "overrides"),
    "scenario-name-unknown": ('id = "s"', 'id = "s"\nscenario = "nope"', "scenario"),
    "scenario-kwargs-unknown": ('id = "s"', 'id = "s"\nenv_kwargs = { colour = 1 }', "env_kwargs"),
    "scenario-kwargs-value": ('id = "s"', 'id = "s"\nenv_kwargs = { queue_obs_max = 0 }', "env_kwargs"),
    "scenario-max-steps": ('id = "s"', 'id = "s"\nmax_steps = -4', "max_steps"),
    "scenarios-not-array": ("[[scenarios]]", "[scenarios]", "scenarios"),
    "scenario-duplicate": ("[[agents]]", '[[scenarios]]\nid = "s"\nenv = "e3gym/EndEdgeCloud-v1"\n[[agents]]',
                           "duplicate 's'"),
    "agent-unknown": ('name = "always_local"', 'name = "always_locale"', "always_locale"),
    "agent-unknown-key": ('name = "always_local"', 'name = "always_local"\nkwarg = {}', "did you mean 'kwargs'"),
    "agent-train-negative": ('name = "always_local"', 'name = "always_local"\ntrain_steps = -1', "train_steps"),
    "agent-train-fraction": ('name = "always_local"', 'name = "always_local"\nwarmup_episodes = 1.5',
                             "warmup_episodes"),
    "agent-kwargs-not-table": ('name = "always_local"', 'name = "always_local"\nkwargs = 3', "kwargs"),
    "agent-rl-no-budget": ('name = "always_local"', 'name = "ppo"', "train_steps"),
    "agent-name-number": ('name = "always_local"', "name = 5", "name"),
    "agent-spec-os-system-missing": ('name = "always_local"', 'name = "x"\nspec = "no_such_module:Thing"',
                                     "no_such_module"),
    "agent-spec-function": ('name = "always_local"', 'name = "x"\nspec = "os:system"\nkwargs = { command = "true" }',
                            "not a class"),
    "scenario-env-mo": ('env = "e3gym/EndEdgeCloud-v1"', 'env = "e3gym/mo-EndEdgeCloud-v1"', "vector reward"),
    "scenario-kwarg-scenario-number": ('id = "s"', 'id = "s"\nenv_kwargs = { scenario = 3 }', "scenario"),
    "agent-duplicate": ('name = "always_local"', 'name = "always_local"\n[[agents]]\nname = "always_local"',
                        "duplicate"),
    "not-toml": ("[[agents]]", "[[agents]", "not valid TOML"),
}


def _suite_case(old: str, new: str) -> Callable[[Path], Any]:
    def run(tmp: Path) -> None:
        from e3gym.bench.suite import load_suite
        assert old in GOOD_SUITE
        path = tmp / "bad-suite.toml"
        path.write_text(GOOD_SUITE.replace(old, new, 1))
        load_suite(path)
    return run


for label, (old, new, match) in BAD_SUITES.items():
    CASES.append((f"suite-{label}", _suite_case(old, new), r"bad-suite\.toml.*" + match))


@case("suite-binary", r"bad-suite\.toml.*not valid TOML")
def _suite_binary(tmp: Path) -> None:
    from e3gym.bench.suite import load_suite
    path = tmp / "bad-suite.toml"
    path.write_bytes(bytes(range(128, 256)))
    load_suite(path)


@case("suite-unknown-name", "did you mean 'default'")
def _suite_name(tmp: Path) -> None:
    from e3gym.bench.suite import load_suite
    load_suite("defualt")


# ----------------------------------------------------------------------------- command lines
CLI_CASES: list[tuple[list[str], str]] = [  # argv, regex the one-line error matches
    (["bench", "--suite", "defualt"], "did you mean 'default'"),
    (["bench", "--suite", "/nonexistent/suite.toml"], r"suite\.toml"),
    (["bench", "--suite", "smoke", "--seeds", "0"], "--seeds"),
    (["bench", "--suite", "smoke", "--seeds", "-2"], "--seeds"),
    (["bench", "--suite", "smoke", "--jobs", "0"], "--jobs"),
    (["bench", "--suite", "smoke", "--agents", "no_such_agent"], "no_such_agent"),
    (["bench", "--suite", "smoke", "--agents", "ppo"], "training budget"),
    (["bench", "--suite", "smoke", "--agents", "no_such_module:Agent"], "no_such_module"),
    (["bench", "--suite", "smoke", "--seeds", "two"], "--seeds"),
    (["bench", "--backend", "threads"], "--backend"),
    (["train", "--env", "e3gym/NoSuchEnv-v1", "--timesteps", "10"], "NoSuchEnv"),
    (["train", "--env", "e3gym/EndEdgeCloud-v0", "--timesteps", "10"], "EndEdgeCloud-v1"),
    (["train", "--algo", "sac"], "--algo"),
    (["train", "--timesteps", "0"], "--timesteps"),
    (["train", "--timesteps", "-5"], "--timesteps"),
    (["train", "--timesteps", "lots"], "--timesteps"),
    (["train", "--seed", "-1", "--timesteps", "10"], "--seed"),
    (["train", "--eval-episodes", "-1", "--timesteps", "10"], "--eval-episodes"),
    (["train", "--checkpoint-freq", "-1", "--timesteps", "10"], "--checkpoint-freq"),
    (["train", "--scenario", "defualt", "--timesteps", "10"], "did you mean 'default'"),
    (["train", "--env", "e3gym/Partition-v0", "--scenario", "default", "--timesteps", "10"], "--scenario"),
    (["profiles", "show", "no-such-profile"], "no-such-profile"),
    (["nonsense"], "nonsense"),
    (["bench", "--suite", "smoke", "--seeds", "100000000"], "--seeds"),
    (["bench", "--suite", "smoke", "--out", "/dev/null/x"], "--out"),
    (["train", "--timesteps", "10", "--logdir", "/dev/null/x"], "--logdir"),
    (["train", "--env", "e3gym/mo-EndEdgeCloud-v1", "--timesteps", "10"], "vector reward"),
]


@pytest.mark.parametrize("argv,match", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_malformed_command_line_gets_one_line(argv: list[str], match: str, capsys, tmp_path, monkeypatch) -> None:
    from e3gym.cli import main
    monkeypatch.chdir(tmp_path)  # nothing a failed command might write lands in the checkout
    start = time.process_time()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    elapsed = time.process_time() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, f"exit status {code}"
    assert err, "no message"
    assert "Traceback" not in "\n".join(err)
    assert re.search(match, err[-1]), f"last line {err[-1]!r} does not name {match!r}"
    assert elapsed < 5.0


# ----------------------------------------------------------------------------- the test
class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


@pytest.mark.parametrize("case_id,action,match", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_gets_a_clear_error_fast(case_id: str, action: Callable[[Path], Any], match: str,
                                                 tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 10.0)  # a hang fails the test instead of the run
    start = time.process_time()
    try:
        with pytest.raises(E3GymError) as info:
            action(tmp_path)
    except _Timeout:
        pytest.fail(f"{case_id}: no error after 10 s (a hang)")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.process_time() - start
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert re.search(match, message), f"message {message!r} does not name {match!r}"
    assert elapsed < 1.0, f"took {elapsed:.2f} s of CPU to refuse"


def test_the_battery_is_large() -> None:
    assert len(CASES) + len(CLI_CASES) >= 250
