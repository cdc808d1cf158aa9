"""Named, versioned scenario presets: network x load x devices x models, as data (TOML).

A scenario is a nested dict (the TOML file's content). Shipped scenarios live in
``e3gym/scenarios/<name>.toml``; a user's scenario is any TOML file with the same keys, passed by
path. Keyword overrides are merged on top, one level deep per table (``{"users": {"count": 4}}``).

Network presets carry their sources: the access-link rates are the average uplink bandwidths
Neurosurgeon measured (Kang et al., ASPLOS 2017: 3G 1.1 Mbps, LTE 5.85 Mbps, Wi-Fi 18.88 Mbps);
the radio power models are Huang et al. (MobiSys 2012), as used by Neurosurgeon.
"""
from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from e3gym.core.cluster import Cluster, LatencyTable, Server, TxPowerModel, User
from e3gym.core.network import (BandwidthProcess, ConstantBandwidth, Link, MarkovBandwidth, RayleighFading,
                                TraceError, load_trace)
from e3gym.core.profiles import ProfileLibrary, builtin_library
from e3gym.core.workload import BurstyWorkload, PoissonWorkload

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ScenarioError(ValueError):
    """A scenario (file or dict) is malformed; the message names the file and the key."""


NEURO_SOURCE = "Kang et al., Neurosurgeon, ASPLOS 2017 (measured average uplink bandwidth)"
HUANG_SOURCE = "Huang et al., A close examination of performance and power characteristics of 4G LTE networks, MobiSys 2012"

# name -> (uplink Mbps, radio power model (mW per Mbps, mW))
ACCESS_PRESETS: dict[str, tuple[float, tuple[float, float]]] = {
    "3g": (1.1, (868.98, 817.88)),
    "lte": (5.85, (438.39, 1288.04)),
    "wifi": (18.88, (283.17, 132.86)),
}

SCENARIO_KEYS = {
    "": {"name", "version", "description", "users", "edge", "cloud", "wan", "workload", "models", "episode"},
    "users": {"count", "device", "devices", "network", "propagation_ms", "downlink_ratio", "radio"},
    "edge": {"device", "workers", "slowdown"},
    "cloud": {"device", "workers", "slowdown"},
    "wan": {"network", "propagation_ms"},
    "workload": {"kind", "rate_per_s", "accuracy_levels", "accuracy_weights", "deadline_ms",
                 "burst_factor", "mean_burst_s", "mean_calm_s"},
    "models": {"names", "partition", "latency_noise"},
    "episode": {"max_steps"},
}


def scenario_dir() -> Path:
    """Folder of the shipped scenario files."""
    return Path(str(resources.files("e3gym.scenarios")))


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in scenario_dir().glob("*.toml"))


def _load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read scenario: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}") from None


def load_scenario(spec: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict:
    """Resolve a scenario name, TOML path or dict, apply overrides, and validate its keys."""
    if isinstance(spec, Mapping):
        data, origin = copy.deepcopy(dict(spec)), "<scenario dict>"
    else:
        path = Path(spec)
        if path.suffix != ".toml":
            path = scenario_dir() / f"{spec}.toml"
            if not path.exists():
                raise ScenarioError(f"unknown scenario {str(spec)!r}; shipped: {', '.join(list_scenarios())}, "
                                    f"or pass the path of a .toml file")
        data, origin = _load_toml(path), str(path)
        data.setdefault("_dir", str(path.parent))
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(data.get(key), Mapping):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    data["_origin"] = origin
    _check_keys(data, origin)
    return data


def _check_keys(data: Mapping[str, Any], origin: str) -> None:
    for table, allowed in SCENARIO_KEYS.items():
        sub = data if table == "" else data.get(table, {})
        if not isinstance(sub, Mapping):
            raise ScenarioError(f"{origin}: [{table}] must be a table, got {type(sub).__name__}")
        unknown = [k for k in sub if k not in allowed and not k.startswith("_")]
        if unknown:
            where = f"[{table}]" if table else "top level"
            raise ScenarioError(f"{origin}: unknown key {unknown[0]!r} in {where}; expected one of {sorted(allowed)}")


def _get(data: Mapping, table: str, key: str, default: Any = None, required: bool = False) -> Any:
    sub = data.get(table, {}) if table else data
    if key not in sub:
        if required:
            raise ScenarioError(f"{data['_origin']}: [{table}] needs the key {key!r}")
        return default
    return sub[key]


def _number(data: Mapping, where: str, value: Any, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{data['_origin']}: {where} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ScenarioError(f"{data['_origin']}: {where} must be > 0, got {value!r}")
    return float(value)


def bandwidth_process(data: Mapping, where: str, spec: Any) -> tuple[BandwidthProcess, TxPowerModel | None]:
    """Build a bandwidth process (and the matching radio power model, for presets) from a spec."""
    origin = data["_origin"]
    if isinstance(spec, str):
        preset = spec.lower()
        if preset in ACCESS_PRESETS:
            mbps, (a_mw, b_mw) = ACCESS_PRESETS[preset]
            return ConstantBandwidth(mbps * 1e6), TxPowerModel(a_mw / 1e3 / 1e6, b_mw / 1e3, HUANG_SOURCE)
        if preset == "mobile":  # drifts between the three measured access networks
            rates = [ACCESS_PRESETS[k][0] * 1e6 for k in ("3g", "lte", "wifi")]
            a_mw, b_mw = ACCESS_PRESETS["lte"][1]
            return MarkovBandwidth(rates, 5.0), TxPowerModel(a_mw / 1e3 / 1e6, b_mw / 1e3, HUANG_SOURCE)
        raise ScenarioError(f"{origin}: {where}: unknown network preset {spec!r}; expected one of "
                            f"{sorted(ACCESS_PRESETS) + ['mobile']} or a table with 'kind'")
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ScenarioError(f"{origin}: {where} must be a preset name or a table with 'kind', got {spec!r}")
    kind = spec["kind"]
    allowed = {"constant": {"mbps"}, "markov": {"states_mbps", "mean_dwell_s"},
               "rayleigh": {"bandwidth_mhz", "mean_snr_db", "coherence_ms", "min_snr_db"},
               "trace": {"path", "format", "bin_ms"}}
    if kind not in allowed:
        raise ScenarioError(f"{origin}: {where}.kind: unknown {kind!r}; expected one of {sorted(allowed)}")
    unknown = set(spec) - allowed[kind] - {"kind"}
    if unknown:
        raise ScenarioError(f"{origin}: {where}: unknown key {sorted(unknown)[0]!r} for kind {kind!r}; "
                            f"expected {sorted(allowed[kind])}")
    try:
        if kind == "constant":
            return ConstantBandwidth(_number(data, f"{where}.mbps", spec.get("mbps")) * 1e6), None
        if kind == "markov":
            states = spec.get("states_mbps")
            if not isinstance(states, list) or not states:
                raise ScenarioError(f"{origin}: {where}.states_mbps must be a non-empty list of Mbps")
            rates = [_number(data, f"{where}.states_mbps[{i}]", s) * 1e6 for i, s in enumerate(states)]
            return MarkovBandwidth(rates, spec.get("mean_dwell_s", 5.0)), None
        if kind == "rayleigh":
            return RayleighFading(_number(data, f"{where}.bandwidth_mhz", spec.get("bandwidth_mhz")) * 1e6,
                                  _number(data, f"{where}.mean_snr_db", spec.get("mean_snr_db"), positive=False),
                                  _number(data, f"{where}.coherence_ms", spec.get("coherence_ms")) / 1e3,
                                  float(spec.get("min_snr_db", -10.0))), None
        path = Path(spec.get("path", ""))
        if not path.is_absolute() and "_dir" in data:
            path = Path(data["_dir"]) / path
        return load_trace(path, spec.get("format", "auto"), spec.get("bin_ms", 10) / 1e3), None
    except TraceError:
        raise
    except ScenarioError:
        raise
    except ValueError as err:
        raise ScenarioError(f"{origin}: {where}: {err}") from None


@dataclass
class BuiltScenario:
    """Everything an environment needs, built from a scenario for one episode."""

    cluster: Cluster
    workload: PoissonWorkload
    spec: dict


def build(data: Mapping[str, Any], rng: np.random.Generator, library: ProfileLibrary | None = None,
          table: LatencyTable | None = None) -> BuiltScenario:
    """Build the cluster and workload of a (loaded) scenario, drawing link randomness from ``rng``.

    ``table``: the LatencyTable of an earlier build of the same scenario and library, to reuse.
    """
    lib = library or builtin_library()
    origin = data["_origin"]
    n_users = int(_number(data, "[users].count", _get(data, "users", "count", 8)))
    devices = _get(data, "users", "devices") or [_get(data, "users", "device", required=True)]
    if not isinstance(devices, list):
        raise ScenarioError(f"{origin}: [users].devices must be a list of device names")
    try:
        user_devices = [lib.device(devices[i % len(devices)]) for i in range(n_users)]
        edge_dev = lib.device(_get(data, "edge", "device", required=True))
        cloud_dev = lib.device(_get(data, "cloud", "device", required=True))
        names = _get(data, "models", "names", required=True)
        if not isinstance(names, list) or not names:
            raise ScenarioError(f"{origin}: [models].names must be a non-empty list")
        models = [lib.model(n) for n in names]
    except ValueError as err:
        if isinstance(err, ScenarioError):
            raise
        raise ScenarioError(f"{origin}: {err}") from None

    link_rngs = rng.spawn(2 * n_users + 2)
    net_spec = _get(data, "users", "network", "wifi")
    prop_s = _number(data, "[users].propagation_ms", _get(data, "users", "propagation_ms", 0.0), positive=False) / 1e3
    down_ratio = _number(data, "[users].downlink_ratio", _get(data, "users", "downlink_ratio", 1.0))
    users = []
    for u in range(n_users):
        spec_u = net_spec[u % len(net_spec)] if isinstance(net_spec, list) else net_spec
        up_proc, radio = bandwidth_process(data, "[users].network", spec_u)
        down_proc, _ = bandwidth_process(data, "[users].network", spec_u)
        down = Link(down_proc, link_rngs[2 * u + 1], prop_s)
        if down_ratio != 1.0:
            down = _ScaledLink(down, down_ratio)
        users.append(User(user_devices[u], Link(up_proc, link_rngs[2 * u], prop_s), down, radio))
    wan_spec = _get(data, "wan", "network", {"kind": "constant", "mbps": 100.0})
    wan_prop = _number(data, "[wan].propagation_ms", _get(data, "wan", "propagation_ms", 20.0), positive=False) / 1e3
    wan_up = Link(bandwidth_process(data, "[wan].network", wan_spec)[0], link_rngs[-2], wan_prop)
    wan_down = Link(bandwidth_process(data, "[wan].network", wan_spec)[0], link_rngs[-1], wan_prop)
    edge = Server(edge_dev, int(_number(data, "[edge].workers", _get(data, "edge", "workers", 1))),
                  _number(data, "[edge].slowdown", _get(data, "edge", "slowdown", 1.0)))
    cloud = Server(cloud_dev, int(_number(data, "[cloud].workers", _get(data, "cloud", "workers", 4))),
                   _number(data, "[cloud].slowdown", _get(data, "cloud", "slowdown", 1.0)))
    cluster = Cluster(users, edge, cloud, wan_up, wan_down, models,
                      partition=bool(_get(data, "models", "partition", True)),
                      latency_noise=bool(_get(data, "models", "latency_noise", True)), table=table)
    return BuiltScenario(cluster, make_workload(data, n_users), dict(data))


def make_workload(data: Mapping[str, Any], n_users: int) -> PoissonWorkload:
    """The scenario's arrival process."""
    origin = data["_origin"]
    kind = _get(data, "workload", "kind", "poisson")
    rate = _get(data, "workload", "rate_per_s", 1.0)
    rates = rate if isinstance(rate, list) else [rate] * n_users
    if len(rates) != n_users:
        raise ScenarioError(f"{origin}: [workload].rate_per_s has {len(rates)} rates for {n_users} users")
    rates = [_number(data, f"[workload].rate_per_s[{i}]", r) for i, r in enumerate(rates)]
    deadline_ms = _get(data, "workload", "deadline_ms", None)
    kwargs = dict(accuracy_levels=_get(data, "workload", "accuracy_levels", [0.0]),
                  accuracy_weights=_get(data, "workload", "accuracy_weights", None),
                  deadline_s=math.inf if deadline_ms is None else _number(data, "[workload].deadline_ms", deadline_ms) / 1e3)
    try:
        if kind == "poisson":
            return PoissonWorkload(rates, **kwargs)
        if kind == "bursty":
            extra = {k: _get(data, "workload", k) for k in ("burst_factor", "mean_burst_s", "mean_calm_s")
                     if _get(data, "workload", k) is not None}
            return BurstyWorkload(rates, **kwargs, **extra)
    except ValueError as err:
        raise ScenarioError(f"{origin}: [workload]: {err}") from None
    raise ScenarioError(f"{origin}: [workload].kind: unknown {kind!r}; expected 'poisson' or 'bursty'")


class _ScaledLink(Link):
    """A link whose bandwidth is a fixed multiple of another curve (downlink = ratio x uplink-like)."""

    __slots__ = ("inner", "ratio")

    def __init__(self, inner: Link, ratio: float):
        self.inner, self.ratio = inner, ratio
        self.propagation_s = inner.propagation_s

    def bandwidth_at(self, t: float) -> float:
        return self.inner.bandwidth_at(t) * self.ratio

    def transfer_s(self, start_s: float, n_bytes: float) -> float:
        return self.inner.transfer_s(start_s, n_bytes / self.ratio)
