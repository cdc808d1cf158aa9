"""Named, versioned scenario presets: network x load x devices x models, as data (TOML).

A scenario is a nested dict (the TOML file's content). Shipped scenarios live in
``e3gym/scenarios/<name>.toml``; a user's scenario is any TOML file with the same keys, passed by
path. Keyword overrides are merged on top, one level deep per table (``{"users": {"count": 4}}``).

Network presets carry their sources. Trace presets replay real throughput traces shipped in
``e3gym/traces`` (licences and citations in its README): ``5g`` (5Gophers 1.0, commercial 5G/4G),
``mmwave`` (Lumos5G 1.0, mmWave 5G/LTE) and ``broadband`` (FCC Measuring Broadband America). They
are downlink measurements: a user's uplink is the trace divided by a cited down/up ratio (5G: 7.88,
Ookla Speedtest Intelligence Q3 2021 global 5G medians 166.13 / 21.08 Mbps; fixed: 1.87, Ookla
Global Index Sep 2020, 85.73 / 45.74 Mbps), its downlink the trace itself, and each user replays a
seeded random file from its own seeded random start every episode. Stylised presets: ``3g``,
``lte``, ``wifi`` (constant: the average uplink rates Neurosurgeon measured, Kang et al., ASPLOS
2017: 1.1 / 5.85 / 18.88 Mbps) and ``mobile`` (a Markov chain over the three).

Relative trace paths resolve against the scenario file's folder when written in a file, and against
the working directory when given in ``scenario_overrides``.
"""
from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from e3gym import checks
from e3gym.core.cluster import Cluster, LatencyTable, Server, User
from e3gym.core.network import (
    BandwidthProcess,
    ConstantBandwidth,
    Link,
    MarkovBandwidth,
    RayleighFading,
    ScaledLink,
    load_trace,
)
from e3gym.core.payload import PayloadConfig, load_jpeg_model
from e3gym.core.profiles import ProfileLibrary, builtin_library
from e3gym.core.radio import ACCESS_TYPES, TcpModel, access_type
from e3gym.core.workload import BurstyWorkload, PoissonWorkload
from e3gym.errors import E3GymError, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ScenarioError(E3GymError):
    """A scenario (file or dict) is malformed; the message names the file and the key."""


LTE_RATIO = 13 / 6  # Huang et al., MobiSys 2012 (abstract): LTE median downlink 13, uplink 6 Mbps
FIVE_G_RATIO = 166.13 / 21.08  # Ookla Speedtest Intelligence Q3 2021, global 5G median down / up
FIXED_RATIO = 85.73 / 45.74  # Ookla Speedtest Global Index Sep 2020, global fixed broadband down / up

# Stylised presets: name -> (uplink Mbps, access type, downlink/uplink ratio)
ACCESS_PRESETS: dict[str, tuple[float, str, float]] = {
    "3g": (1.1, "3g", LTE_RATIO),  # no 3G ratio found: LTE's
    "lte": (5.85, "lte", LTE_RATIO),
    "wifi": (18.88, "wifi", FIXED_RATIO),
}
# Trace presets: name -> (file glob in e3gym/traces, access type, downlink/uplink ratio)
TRACE_PRESETS: dict[str, tuple[str, str, float]] = {
    "5g": ("5gophers-5g-down-*.txt", "5g", FIVE_G_RATIO),
    "mmwave": ("lumos5g-5gmmwave-down-*.txt", "5g", FIVE_G_RATIO),
    "broadband": ("fcc-broadband-down-*.txt", "wifi", FIXED_RATIO),
}
PRESET_ACCESS = {**{k: v[1] for k, v in ACCESS_PRESETS.items()}, **{k: v[1] for k, v in TRACE_PRESETS.items()},
                 "mobile": "lte"}
PRESET_RATIO = {**{k: v[2] for k, v in ACCESS_PRESETS.items()}, **{k: v[2] for k, v in TRACE_PRESETS.items()},
                "mobile": LTE_RATIO}

SCENARIO_KEYS = {
    "": {"name", "version", "description", "users", "edge", "cloud", "wan", "workload", "models", "payload"},
    "users": {"count", "device", "devices", "network", "downlink_network", "downlink_ratio", "access", "rtt_ms",
              "cells", "connection", "tls"},
    "edge": {"device", "workers", "slowdown"},
    "cloud": {"device", "workers", "slowdown"},
    "wan": {"network", "propagation_ms"},
    "workload": {"kind", "rate_per_s", "accuracy_levels", "accuracy_weights", "deadline_ms",
                 "burst_factor", "mean_burst_s", "mean_calm_s"},
    "models": {"names", "partition", "latency_noise"},
    "payload": {"input", "quality", "activations", "result"},
}
NETWORK_KEYS = (("users", "network"), ("users", "downlink_network"), ("wan", "network"))


def trace_dir() -> Path:
    """Folder of the shipped bandwidth traces (with their licences and citations in README.md)."""
    return Path(str(resources.files("e3gym.traces")))


@lru_cache(maxsize=None)
def preset_files(preset: str) -> tuple[str, ...]:
    """The shipped trace files of a trace preset, sorted."""
    return tuple(str(p) for p in sorted(trace_dir().glob(TRACE_PRESETS[preset][0])))


@lru_cache(maxsize=None)
def preset_traces(preset: str) -> tuple:
    """The parsed traces of a trace preset (shipped files do not change while a process runs)."""
    return tuple(load_trace(f, "seconds_mbps") for f in preset_files(preset))


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
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not valid TOML: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}") from None


def load_scenario(spec: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict:
    """Resolve a scenario name, TOML path or dict, apply overrides, and validate its keys."""
    if isinstance(spec, Mapping):
        data, origin = copy.deepcopy(dict(spec)), "<scenario dict>"
    elif not isinstance(spec, (str, Path)):
        raise ScenarioError(f"scenario must be a shipped name, a .toml path or a dict, got {spec!r}")
    else:
        path = Path(spec)
        if path.suffix != ".toml":
            path = scenario_dir() / f"{spec}.toml"
            if not path.exists():
                raise ScenarioError(f"unknown scenario {str(spec)!r}{did_you_mean(str(spec), list_scenarios())}; "
                                    f"shipped: {', '.join(list_scenarios())}, or pass the path of a .toml file")
        data, origin = _load_toml(path), str(path)
        _absolute_trace_paths(data, path.parent)
    overrides = copy.deepcopy(dict(overrides or {}))
    _absolute_trace_paths(overrides, Path.cwd())
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(data.get(key), Mapping):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    data["_origin"] = origin
    _check_keys(data, origin)
    return data


def _absolute_trace_paths(data: Mapping[str, Any], base: Path) -> None:
    """Make relative trace paths of the network specs in ``data`` absolute against ``base``."""
    for table, key in NETWORK_KEYS:
        sub = data.get(table)
        if not isinstance(sub, Mapping) or key not in sub:
            continue
        specs = sub[key] if isinstance(sub[key], list) else [sub[key]]
        for spec in specs:
            if isinstance(spec, dict) and spec.get("kind") == "trace":
                for k in ("path", "paths"):
                    v = spec.get(k)
                    if isinstance(v, str) and not Path(v).is_absolute():
                        spec[k] = str(base / v)
                    elif isinstance(v, list):
                        spec[k] = [str(base / p) if isinstance(p, str) and not Path(p).is_absolute() else p
                                   for p in v]


def _check_keys(data: Mapping[str, Any], origin: str) -> None:
    if "episode" in data:  # a table older scenarios had; it never set anything
        raise ScenarioError(f"{origin}: unknown table [episode]; the episode length is gym.make's "
                            f"max_episode_steps (or a suite's max_steps)")
    for table, allowed in SCENARIO_KEYS.items():
        sub = data if table == "" else data.get(table, {})
        if not isinstance(sub, Mapping):
            raise ScenarioError(f"{origin}: [{table}] must be a table, got {type(sub).__name__}")
        checks.keys(f"[{table}]" if table else "top level", sub, allowed, prefix=f"{origin}: ", error=ScenarioError)


def _get(data: Mapping, table: str, key: str, default: Any = None, required: bool = False) -> Any:
    sub = data.get(table, {}) if table else data
    if key not in sub:
        if required:
            raise ScenarioError(f"{data['_origin']}: [{table}] needs the key {key!r}")
        return default
    return sub[key]


def _number(data: Mapping, where: str, value: Any, low: float | None = None, high: float | None = None,
            above: float | None = None) -> float:
    return checks.number(f"{data['_origin']}: {where}", value, low, high, above=above, error=ScenarioError)


def _trace_paths(data: Mapping, where: str, spec: Mapping) -> list[Path]:
    origin = data["_origin"]
    if "path" in spec and "paths" in spec:
        raise ScenarioError(f"{origin}: {where}: give 'path' or 'paths', not both")
    paths = spec.get("paths", [spec.get("path")] if "path" in spec else None)
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise ScenarioError(f"{origin}: {where}: a trace needs 'path' (a file) or 'paths' (a non-empty list of files)")
    return [Path(p) for p in paths]


def bandwidth_process(data: Mapping, where: str, spec: Any, rng: np.random.Generator | None = None) -> BandwidthProcess:
    """Build a bandwidth process from a preset name or a table; ``rng`` picks among a trace set's files."""
    origin = data["_origin"]
    rng = rng if rng is not None else np.random.default_rng(0)
    if isinstance(spec, list):
        raise ScenarioError(f"{origin}: {where}: a list of networks gives one per user; each entry must be a "
                            f"preset name or a table with 'kind', got {spec!r}")
    if isinstance(spec, str):
        preset = spec.lower()
        if preset in ACCESS_PRESETS:
            return ConstantBandwidth(ACCESS_PRESETS[preset][0] * 1e6)
        if preset == "mobile":  # drifts between the three measured access networks
            return MarkovBandwidth([ACCESS_PRESETS[k][0] * 1e6 for k in ("3g", "lte", "wifi")], 5.0)
        if preset in TRACE_PRESETS:
            traces = preset_traces(preset)
            return traces[int(rng.integers(len(traces)))].variant(1.0 / TRACE_PRESETS[preset][2], random_start=True)
        raise ScenarioError(f"{origin}: {where}: unknown network preset {spec!r}{did_you_mean(preset, PRESET_ACCESS)}; "
                            f"expected one of {sorted(PRESET_ACCESS)} or a table with 'kind'")
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ScenarioError(f"{origin}: {where} must be a preset name or a table with 'kind', got {spec!r}")
    kind = spec["kind"]
    allowed = {"constant": {"mbps"}, "markov": {"states_mbps", "mean_dwell_s"},
               "rayleigh": {"bandwidth_mhz", "mean_snr_db", "coherence_ms", "min_snr_db"},
               "trace": {"path", "paths", "format", "bin_ms", "scale", "random_start"}}
    checks.choice(f"{origin}: {where}.kind", kind, allowed, error=ScenarioError)
    checks.keys(f"{where} (kind {kind!r})", spec, allowed[kind] | {"kind"}, prefix=f"{origin}: ", error=ScenarioError)
    mbps = (checks.MIN_MBPS, checks.MAX_MBPS)
    try:
        if kind == "constant":
            return ConstantBandwidth(_number(data, f"{where}.mbps", spec.get("mbps"), *mbps) * 1e6)
        if kind == "markov":
            rates = checks.number_list(f"{origin}: {where}.states_mbps", spec.get("states_mbps"), *mbps,
                                       error=ScenarioError)
            dwell = _number(data, f"{where}.mean_dwell_s", spec.get("mean_dwell_s", 5.0),
                            checks.MIN_SECONDS, checks.MAX_SECONDS)
            return MarkovBandwidth([r * 1e6 for r in rates], dwell)
        if kind == "rayleigh":
            mean_snr_db = _number(data, f"{where}.mean_snr_db", spec.get("mean_snr_db"), -50.0, 100.0)
            channel = RayleighFading(_number(data, f"{where}.bandwidth_mhz", spec.get("bandwidth_mhz"), *mbps) * 1e6,
                                     mean_snr_db,
                                     _number(data, f"{where}.coherence_ms", spec.get("coherence_ms"), 1e-2, 1e9) / 1e3,
                                     _number(data, f"{where}.min_snr_db", spec.get("min_snr_db", -10.0), -100.0,
                                             mean_snr_db))
            floor_bps = channel.rate_bps(0.0)
            if floor_bps < checks.MIN_MBPS * 1e6:  # a deep fade must still move data, or a transfer never ends
                raise ScenarioError(f"{origin}: {where}.min_snr_db: the floor rate is {floor_bps:.3g} bit/s, "
                                    f"below {checks.MIN_MBPS * 1e6:g} bit/s; raise min_snr_db")
            return channel
        paths = _trace_paths(data, where, spec)
        random_start = checks.flag(f"{origin}: {where}.random_start", spec.get("random_start", True),
                                   error=ScenarioError)
        scale = _number(data, f"{where}.scale", spec.get("scale", 1.0), checks.MIN_FACTOR, checks.MAX_FACTOR)
        bin_s = _number(data, f"{where}.bin_ms", spec.get("bin_ms", 10), 0.1, 1e6) / 1e3
        fmt = checks.choice(f"{origin}: {where}.format", spec.get("format", "auto"),
                            ("auto", "mahimahi", "seconds_mbps"), error=ScenarioError)
        path = paths[int(rng.integers(len(paths)))] if len(paths) > 1 else paths[0]
        trace = load_trace(path, fmt, bin_s, scale=scale, random_start=random_start)
        if not (trace.mean_bps() >= checks.MIN_MBPS * 1e6 and trace.max_bps() <= checks.MAX_MBPS * 1e6):
            raise ScenarioError(f"{origin}: {where}: {path} scaled by {scale:g} averages {trace.mean_bps() / 1e6:.3g} "
                                f"Mbps and peaks at {trace.max_bps() / 1e6:.3g} Mbps; expected a mean >= "
                                f"{checks.MIN_MBPS:g} and a peak <= {checks.MAX_MBPS:g} Mbps")
        return trace
    except ScenarioError:
        raise
    except ValueError as err:  # TraceError included: say which field named the file
        raise ScenarioError(f"{origin}: {where}: {err}") from None


def network_max_bps(data: Mapping, where: str, spec: Any) -> float:
    """An upper bound on the bandwidth a spec can produce in any episode (for observation bounds)."""
    if isinstance(spec, list):
        return max(network_max_bps(data, where, s) for s in spec)
    preset = _preset_name(spec)
    if preset in TRACE_PRESETS:
        return max(load_trace(f, "seconds_mbps").max_bps() for f in preset_files(preset)) / TRACE_PRESETS[preset][2]
    if isinstance(spec, Mapping) and spec.get("kind") == "trace":
        one_file = {k: v for k, v in spec.items() if k not in ("path", "paths")}
        return max(bandwidth_process(data, where, {**one_file, "path": str(p)}).max_bps()
                   for p in _trace_paths(data, where, spec))
    return bandwidth_process(data, where, spec).max_bps()


@dataclass
class BuiltScenario:
    """Everything an environment needs, built from a scenario for one episode."""

    cluster: Cluster
    workload: PoissonWorkload
    spec: dict


def _cells(data: Mapping, n_users: int) -> list[int]:
    origin = data["_origin"]
    cells = _get(data, "users", "cells", 1)
    if isinstance(cells, bool):
        raise ScenarioError(f"{origin}: [users].cells must be a count or a list of cell indices, got {cells!r}")
    if isinstance(cells, int):
        checks.integer(f"{origin}: [users].cells", cells, 1, checks.MAX_USERS, error=ScenarioError)
        return [u % cells for u in range(n_users)]
    if not isinstance(cells, list) or len(cells) != n_users:
        raise ScenarioError(f"{origin}: [users].cells must be a count or one cell index per user "
                            f"({n_users} users), got {cells!r}")
    for u, c in enumerate(cells):
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < checks.MAX_USERS:
            raise ScenarioError(f"{origin}: [users].cells[{u}]: user {u} is in no cell (expected an index >= 0, "
                                f"got {c!r})")
    return list(cells)


def payload_config(data: Mapping) -> PayloadConfig:
    """The scenario's ``[payload]`` table (defaults: JPEG at quality 75, float32 activations, top-5)."""
    table = data.get("payload", {})
    try:
        return PayloadConfig(**table)
    except ValueError as err:
        raise ScenarioError(f"{data['_origin']}: [payload].{str(err).split()[0]}: {err}") from None
    except TypeError:
        unknown = sorted(set(table) - SCENARIO_KEYS["payload"])
        raise ScenarioError(f"{data['_origin']}: [payload]: unknown key {unknown[0]!r}") from None


def _preset_name(spec: Any) -> str | None:
    return spec.lower() if isinstance(spec, str) else None


def build(data: Mapping[str, Any], rng: np.random.Generator, library: ProfileLibrary | None = None,
          table: LatencyTable | None = None) -> BuiltScenario:
    """Build the cluster and workload of a (loaded) scenario, drawing link randomness from ``rng``.

    ``table``: the LatencyTable of an earlier build of the same scenario and library, to reuse.
    """
    lib = library or builtin_library()
    origin = data["_origin"]
    n_users = checks.integer(f"{origin}: [users].count", _get(data, "users", "count", 8), 1, checks.MAX_USERS,
                             error=ScenarioError)
    if "devices" in data.get("users", {}):
        devices = _names(data, "[users].devices", _get(data, "users", "devices"))
    else:
        devices = [_get(data, "users", "device", required=True)]
    kinds = {name: _device(data, lib, "[users].devices" if "devices" in data.get("users", {}) else "[users].device", name)
             for name in devices}
    user_devices = [kinds[devices[i % len(devices)]] for i in range(n_users)]
    edge_dev = _device(data, lib, "[edge].device", _get(data, "edge", "device", required=True))
    cloud_dev = _device(data, lib, "[cloud].device", _get(data, "cloud", "device", required=True))
    names = _names(data, "[models].names", _get(data, "models", "names", required=True), unique=True)
    models = []
    for name in names:
        try:
            models.append(lib.model(name))
        except ValueError as err:
            raise ScenarioError(f"{origin}: [models].names: {err}") from None

    def link(where: str, spec: Any, propagation_s: float = 0.0) -> Link:
        # File choice and trace offset come from ``rng`` in a fixed order; a process that keeps drawing
        # as its curve is extended (Markov, fading) gets a generator of its own, so the curve never
        # depends on the order in which links are extended (what-if calls extend them too).
        process = bandwidth_process(data, where, spec, rng)
        return Link(process, rng.spawn(1)[0] if getattr(process, "stochastic", False) else rng, propagation_s,
                    f"{origin}: {where}")

    net_spec = _network_spec(data, "[users].network", _get(data, "users", "network", "5g"))
    down_spec = _get(data, "users", "downlink_network")
    if down_spec is not None:
        down_spec = _network_spec(data, "[users].downlink_network", down_spec)
    cells = _cells(data, n_users)
    rtt_ms = _get(data, "users", "rtt_ms")
    rtt_s = None if rtt_ms is None else _number(data, "[users].rtt_ms", rtt_ms, 0.0, checks.MAX_DELAY_MS) / 1e3
    connection = checks.choice(f"{origin}: [users].connection", _get(data, "users", "connection", "persistent"),
                               ("persistent", "new"), error=ScenarioError)
    users = []
    for u in range(n_users):
        spec_u = net_spec[u % len(net_spec)] if isinstance(net_spec, list) else net_spec
        preset = _preset_name(spec_u)
        access_name = checks.choice(f"{origin}: [users].access",
                                    _get(data, "users", "access", PRESET_ACCESS.get(preset, "lte")), ACCESS_TYPES,
                                    error=ScenarioError)
        up = link("[users].network", spec_u)
        if down_spec is not None:
            spec_d = down_spec[u % len(down_spec)] if isinstance(down_spec, list) else down_spec
            down = link("[users].downlink_network", spec_d)
        else:  # the same channel, faster down: exactly the downlink trace for trace presets
            ratio = _number(data, "[users].downlink_ratio",
                            _get(data, "users", "downlink_ratio", PRESET_RATIO.get(preset, 1.0)),
                            checks.MIN_FACTOR, checks.MAX_FACTOR)
            down = up if ratio == 1.0 else ScaledLink(up, ratio)
        users.append(User(user_devices[u], up, down, access_type(access_name, rtt_s), cells[u]))
    wan_spec = _get(data, "wan", "network", {"kind": "constant", "mbps": WAN_MBPS})
    wan_prop = _number(data, "[wan].propagation_ms", _get(data, "wan", "propagation_ms", WAN_ONE_WAY_MS),
                       0.0, checks.MAX_DELAY_MS) / 1e3
    wan_up = link("[wan].network", wan_spec, wan_prop)
    wan_down = link("[wan].network", wan_spec, wan_prop)
    slowdown = (checks.MIN_FACTOR, checks.MAX_FACTOR)
    edge = Server(edge_dev, _workers(data, "edge", 1),
                  _number(data, "[edge].slowdown", _get(data, "edge", "slowdown", 1.0), *slowdown))
    cloud = Server(cloud_dev, _workers(data, "cloud", 4),
                   _number(data, "[cloud].slowdown", _get(data, "cloud", "slowdown", 1.0), *slowdown))
    partition = _flag(data, "models", "partition", True)
    tcp = TcpModel(persistent=connection == "persistent", tls=_flag(data, "users", "tls", False))
    if table is None:
        cfg = payload_config(data)
        try:
            table = LatencyTable(models, partition, cfg, load_jpeg_model() if cfg.input == "jpeg" else None)
        except ValueError as err:
            raise ScenarioError(f"{origin}: [payload]: {err}") from None
    try:
        cluster = Cluster(users, edge, cloud, wan_up, wan_down, models, partition=partition,
                          latency_noise=_flag(data, "models", "latency_noise", True), table=table, tcp=tcp)
    except ValueError as err:
        if isinstance(err, ScenarioError):
            raise
        raise ScenarioError(f"{origin}: {err}") from None
    return BuiltScenario(cluster, make_workload(data, n_users), dict(data))


# The WAN between edge and cloud: EdgeCloudSim's empirical single-client WAN throughput "from real
# deployments" (Sonmez et al., EdgeCloudSim, sample_app2 SampleNetworkModel.java: 20.70 Mbps), and
# half of IBM Cloud's Dallas-Washington inter-region average latency (32 ms, taken as a round trip;
# ibm-cloud-docs/vpc network-latency.md, Feb-Mar 2024).
WAN_MBPS = 20.70
WAN_ONE_WAY_MS = 16.0


def _flag(data: Mapping, table: str, key: str, default: bool) -> bool:
    return checks.flag(f"{data['_origin']}: [{table}].{key}", _get(data, table, key, default), error=ScenarioError)


def _workers(data: Mapping, table: str, default: int) -> int:
    return checks.integer(f"{data['_origin']}: [{table}].workers", _get(data, table, "workers", default), 1,
                          checks.MAX_WORKERS, error=ScenarioError)


def _names(data: Mapping, where: str, value: Any, unique: bool = False) -> list[str]:
    """A non-empty list of profile names."""
    origin = data["_origin"]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ScenarioError(f"{origin}: {where} must be a non-empty list of names, got {value!r}")
    if unique and len(set(value)) != len(value):
        twice = next(v for v in value if value.count(v) > 1)
        raise ScenarioError(f"{origin}: {where} names {twice!r} twice")
    return value


def _device(data: Mapping, lib: ProfileLibrary, where: str, name: Any):
    if not isinstance(name, str):
        raise ScenarioError(f"{data['_origin']}: {where} must be a device name, got {name!r}")
    try:
        return lib.device(name)
    except ValueError as err:
        raise ScenarioError(f"{data['_origin']}: {where}: {err}") from None


def _network_spec(data: Mapping, where: str, spec: Any) -> Any:
    """A network spec, or a non-empty list of them (one per user, cycling)."""
    if isinstance(spec, list) and not spec:
        raise ScenarioError(f"{data['_origin']}: {where} is an empty list; give a preset, a table or one per user")
    return spec


def make_workload(data: Mapping[str, Any], n_users: int) -> PoissonWorkload:
    """The scenario's arrival process."""
    origin = data["_origin"]
    kind = checks.choice(f"{origin}: [workload].kind", _get(data, "workload", "kind", "poisson"),
                         ("poisson", "bursty"), error=ScenarioError)
    rate = _get(data, "workload", "rate_per_s", 1.0)
    rate_range = (checks.MIN_RATE_PER_S, checks.MAX_RATE_PER_S)
    if isinstance(rate, list):
        rates = checks.number_list(f"{origin}: [workload].rate_per_s", rate, *rate_range, length=n_users,
                                   error=ScenarioError)
    else:
        rates = [_number(data, "[workload].rate_per_s", rate, *rate_range)] * n_users
    levels = checks.number_list(f"{origin}: [workload].accuracy_levels",
                                _get(data, "workload", "accuracy_levels", [0.0]), 0.0, 1.0, error=ScenarioError)
    weights = _get(data, "workload", "accuracy_weights", None)
    if weights is not None:
        weights = checks.number_list(f"{origin}: [workload].accuracy_weights", weights, 0.0, length=len(levels),
                                     error=ScenarioError)
        if sum(weights) <= 0:
            raise ScenarioError(f"{origin}: [workload].accuracy_weights must have a positive sum, got {weights}")
    deadline_ms = _get(data, "workload", "deadline_ms", None)
    deadline_s = math.inf if deadline_ms is None else _number(data, "[workload].deadline_ms", deadline_ms,
                                                               1e-3, checks.MAX_DEADLINE_MS) / 1e3
    kwargs = dict(accuracy_levels=levels, accuracy_weights=weights, deadline_s=deadline_s)
    if kind == "poisson":
        return PoissonWorkload(rates, **kwargs)
    bursts = {"burst_factor": (1.0, checks.MAX_FACTOR), "mean_burst_s": (checks.MIN_SECONDS, checks.MAX_SECONDS),
              "mean_calm_s": (checks.MIN_SECONDS, checks.MAX_SECONDS)}
    extra = {k: _number(data, f"[workload].{k}", _get(data, "workload", k), *limits)
             for k, limits in bursts.items() if _get(data, "workload", k) is not None}
    return BurstyWorkload(rates, **kwargs, **extra)


