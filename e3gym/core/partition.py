"""The ANS partition system: one DNN cut between a device and an edge server, one frame at a time.

After Zhang, Chen, Xu, "Autodidactic Neurosurgeon" (WWW 2021). A frame cut at p runs blocks
``[0, p)`` on the device (the front-end delay of the cut table, :mod:`e3gym.core.cut_tables`), uploads the
tensor at p over a link whose bandwidth drifts, computes the rest on the edge and downloads the
result. The edge compute is the table's time at nominal load, scaled by the edge's background-load
factor when the edge part starts (:class:`EdgeLoad`) and by log-normal run-to-run noise with the
profile's spread. The last cut runs everything on the device.

One function lays out a frame's timeline (:meth:`PartitionSystem._timeline`):
:meth:`~PartitionSystem.serve` runs it on the truth (the link curve integrated exactly, the load,
the noise), :meth:`~PartitionSystem.expected_delays` on the truth without noise (the clairvoyant
reference), and :meth:`~PartitionSystem.predict` on what an agent believes
(:class:`PartitionEstimates`: a constant bandwidth and the edge seconds of each cut).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from e3gym import checks
from e3gym.core.cut_tables import CutTable
from e3gym.core.network import (
    BandwidthProcess,
    ConstantBandwidth,
    Link,
    MarkovBandwidth,
    TraceBandwidth,
)
from e3gym.errors import E3GymError

COMPONENTS = ("frontend_s", "upload_s", "edge_s", "download_s")  # a frame's timeline, in order
_FOREVER_S = 1e12  # the last factor of a step load holds for ~31,700 years


class LoadProcess:
    """How the edge's background-load factor evolves: piecewise-constant ``(duration_s, factor)`` segments.

    A factor scales the edge compute (1 = the profiled, otherwise idle server). The segments come from
    a constant, Markov or step process (drawn like a bandwidth curve, but they are slowdown factors,
    not rates); :meth:`start` realizes one episode's curve.

    Args:
        segments: the process of factors.
    """

    def __init__(self, segments: ConstantBandwidth | MarkovBandwidth | TraceBandwidth):
        self.segments = segments

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.segments!r})"

    def start(self, rng: np.random.Generator, name: str = "load") -> EdgeLoad:
        """A new episode's factor curve, drawn from ``rng`` as it is extended."""
        return EdgeLoad(Link(self.segments, rng, name=name))

    def max_factor(self) -> float:
        """The largest factor the process reaches."""
        return self.segments.max_bps()

    def mean_factor(self) -> float:
        """The long-run mean factor."""
        return self.segments.mean_bps()


class EdgeLoad:
    """One episode's background-load factor curve of the edge (see :class:`LoadProcess`)."""

    __slots__ = ("_curve",)

    def __init__(self, curve: Link):
        self._curve = curve  # a Link holds and extends a piecewise-constant curve; only its values are used

    def factor_at(self, t: float) -> float:
        """The factor by which the edge's compute is slowed at time ``t``."""
        return self._curve.bandwidth_at(t)


def load_process(spec: Any) -> LoadProcess:
    """The edge's slowdown factor over time, from a spec.

    ``{"kind": "constant", "factor": f}``, ``{"kind": "markov", "factors": [...], "mean_dwell_s": s}`` or
    ``{"kind": "step", "times_s": [t1, ...], "factors": [f0, f1, ...]}`` (``f0`` until ``t1``, then ``f1``...).
    A factor scales the edge compute (1 = the profiled, otherwise idle server).
    """
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise E3GymError(f"load must be a dict with 'kind' (constant, markov or step), got {spec!r}")
    kind = spec["kind"]
    allowed = {"constant": {"factor"}, "markov": {"factors", "mean_dwell_s"}, "step": {"times_s", "factors"}}
    if kind not in allowed:
        raise E3GymError(f"load.kind must be one of {sorted(allowed)}, got {kind!r}")
    unknown = set(spec) - allowed[kind] - {"kind"}
    if unknown:
        raise E3GymError(f"load: unknown key {sorted(unknown)[0]!r} for kind {kind!r}; "
                         f"expected {sorted(allowed[kind])}")
    try:
        if kind == "constant":
            factor = checks.number("load.factor", spec.get("factor", 1.0), checks.MIN_FACTOR, checks.MAX_FACTOR)
            return LoadProcess(ConstantBandwidth(factor))
        factors = checks.number_list("load.factors", list(spec["factors"]) if isinstance(spec.get("factors"), (list, tuple))
                                     else spec.get("factors"), checks.MIN_FACTOR, checks.MAX_FACTOR)
        if kind == "markov":
            dwell = checks.number("load.mean_dwell_s", spec.get("mean_dwell_s", 60.0), checks.MIN_SECONDS,
                                  checks.MAX_SECONDS)
            return LoadProcess(MarkovBandwidth(factors, dwell))
        times = [float(t) for t in spec.get("times_s", [])]
        if len(times) != len(factors) - 1 or any(t <= 0 for t in times) or times != sorted(set(times)):
            raise E3GymError(f"load.times_s must be {len(factors) - 1} increasing times > 0 (one per change), got "
                             f"{spec.get('times_s')!r}")
        edges = [0.0] + times
        return LoadProcess(TraceBandwidth([b - a for a, b in zip(edges, edges[1:])] + [_FOREVER_S], factors,
                                          name="load"))
    except (TypeError, ValueError) as err:
        msg = str(err)
        raise E3GymError(msg if msg.startswith("load") else f"load: {msg}") from None


@dataclass(frozen=True)
class PartitionEstimates:
    """What an agent believes when it predicts a frame.

    Args:
        bandwidth_bps: the link's bandwidth, taken as constant over the frame.
        edge_s: the edge seconds of every cut (load included; the last cut's entry is not used).
    """

    bandwidth_bps: float
    edge_s: np.ndarray

    def __post_init__(self) -> None:
        bps = self.bandwidth_bps
        if isinstance(bps, bool) or not isinstance(bps, (int, float, np.floating)) \
                or not (math.isfinite(bps) and bps > 0):
            raise E3GymError(f"bandwidth_bps must be a finite number > 0, got {bps!r}")
        edge = np.asarray(self.edge_s, dtype=float)
        if edge.ndim != 1 or not np.all(np.isfinite(edge)) or np.any(edge < 0):
            raise E3GymError(f"edge_s must be a 1-d array of finite seconds >= 0 (one per cut), got {self.edge_s!r}")
        object.__setattr__(self, "edge_s", edge)


@dataclass(frozen=True)
class PartitionOutcome:
    """What happened to one frame: the breakdown (``*_s``, in timeline order), the total and the energy.

    ``energy_j`` is 0: the shipped per-cut tables have no power figure. ``starts_s`` holds the start of
    each interval of the breakdown that the frame ran (only the front end when it stayed on the device).
    """

    cut: int
    offloaded: bool
    frontend_s: float
    upload_s: float
    edge_s: float
    download_s: float
    latency_s: float
    offload_delay_s: float  # what the device measures for an offloaded frame: upload + edge + download
    starts_s: tuple[float, ...]
    energy_j: float = 0.0

    def breakdown(self) -> dict[str, float]:
        """The latency components, in timeline order (they add up to ``latency_s``)."""
        return {"frontend_s": self.frontend_s, "upload_s": self.upload_s, "edge_s": self.edge_s,
                "download_s": self.download_s}

    @property
    def vector_reward(self) -> tuple[float]:
        """``(-latency_s,)``: accuracy is fixed by the model and energy is not modelled."""
        return (-self.latency_s,)


class PartitionSystem:
    """The device, the link, the loaded edge and the cut table of one DNN (the ANS setting).

    Call :meth:`start` at the start of every episode: it draws the episode's bandwidth and load curves
    and the noise from the generators it is given.

    Args:
        table: the per-cut table (:func:`e3gym.core.cut_tables.cut_table`).
        bandwidth: the link's bandwidth process (upload and download share it).
        load: the edge's background-load process (:func:`load_process`).
        propagation_s: one-way delay added to the upload and to the download.
        edge_noise: log-normal run-to-run noise on the edge compute, with the table's ``edge_sigma``.
        name: for messages (the env the system belongs to).
    """

    def __init__(self, table: CutTable, bandwidth: BandwidthProcess, load: LoadProcess, propagation_s: float = 0.0,
                 edge_noise: bool = True, name: str = "partition system"):
        if isinstance(propagation_s, bool) or not isinstance(propagation_s, (int, float)) \
                or not (math.isfinite(propagation_s) and propagation_s >= 0):
            raise E3GymError(f"propagation_s must be a finite number >= 0, got {propagation_s!r}")
        if not isinstance(load, LoadProcess):
            raise E3GymError(f"load must be a LoadProcess (see load_process), got {load!r}")
        self.table = table
        self.bandwidth = bandwidth
        self.load = load
        self.propagation_s = float(propagation_s)
        self.edge_noise = bool(edge_noise)
        self.name = name
        self._link: Link | None = None
        self._load: EdgeLoad | None = None
        self._noise_rng: np.random.Generator | None = None

    @property
    def n_cuts(self) -> int:
        """Number of cuts (blocks + 1)."""
        return self.table.n_cuts

    def start(self, link_rng: np.random.Generator, load_rng: np.random.Generator,
              noise_rng: np.random.Generator) -> None:
        """Begin an episode: fresh bandwidth and load curves and the noise, each from its own generator."""
        self._link = Link(self.bandwidth, link_rng, self.propagation_s, name=f"{self.name} bandwidth")
        self._load = self.load.start(load_rng, name=f"{self.name} load")
        self._noise_rng = noise_rng

    def bandwidth_at(self, t: float) -> float:
        """The link's true bandwidth (bps) at time ``t``."""
        return self._started()[0].bandwidth_at(t)

    def load_factor_at(self, t: float) -> float:
        """The edge's true background-load factor at time ``t``."""
        return self._started()[1].factor_at(t)

    def serve(self, cut: int, start_s: float) -> PartitionOutcome:
        """The frame starting at ``start_s`` cut at ``cut``, on the truth; draws its edge noise (one normal
        per frame, whether the noise is on or not, so switching it off keeps the other draws)."""
        cut = self._cut(cut)
        self._started()
        z = float(self._noise_rng.standard_normal())
        noise = math.exp(self.table.edge_sigma * z) if self.edge_noise else 1.0
        return self._timeline(cut, start_s, noise, None)

    def expected_delays(self, start_s: float) -> np.ndarray:
        """Noise-free delay of every cut for a frame starting at ``start_s``, on the true bandwidth and load."""
        self._started()
        return np.array([self._timeline(p, start_s, 1.0, None).latency_s for p in range(self.n_cuts)])

    def predict(self, cut: int, estimates: PartitionEstimates, start_s: float = 0.0) -> PartitionOutcome:
        """The same timeline fed what an agent believes: the estimated bandwidth held constant and the
        estimated edge seconds of the cut (no noise, no load curve). Needs no episode."""
        if not isinstance(estimates, PartitionEstimates):
            raise E3GymError(f"estimates must be PartitionEstimates, got {type(estimates).__name__}")
        if len(estimates.edge_s) != self.n_cuts:
            raise E3GymError(f"estimates.edge_s has {len(estimates.edge_s)} entries; expected one per cut "
                             f"({self.n_cuts})")
        return self._timeline(self._cut(cut), start_s, 1.0, estimates)

    # ------------------------------------------------------------------ the one timeline
    def _timeline(self, cut: int, t0: float, noise: float, est: PartitionEstimates | None) -> PartitionOutcome:
        table = self.table
        front = float(table.frontend_s[cut])
        if cut == table.local_cut:
            return PartitionOutcome(cut, False, front, 0.0, 0.0, 0.0, front, 0.0, (t0,))
        t_up = t0 + front
        upload = self._transfer_s(t_up, float(table.bits[cut]) / 8, est)
        t_edge = t_up + upload
        if est is None:
            edge = float(table.edge_s[cut]) * self._load.factor_at(t_edge) * noise
        else:
            edge = float(est.edge_s[cut])
        download = self._transfer_s(t_edge + edge, table.result_bytes, est)
        return PartitionOutcome(cut, True, front, upload, edge, download, front + upload + edge + download,
                                upload + edge + download, (t0, t_up, t_edge, t_edge + edge))

    def _transfer_s(self, start_s: float, n_bytes: float, est: PartitionEstimates | None) -> float:
        """Airtime plus propagation of ``n_bytes`` from ``start_s``: the true curve integrated, or the
        estimated constant rate (the same arithmetic as a constant curve's)."""
        if est is None:
            return self._link.delay_s(start_s, n_bytes)
        if n_bytes <= 0:
            return 0.0
        return 8.0 * n_bytes / est.bandwidth_bps + self.propagation_s

    def _cut(self, cut: int) -> int:
        if isinstance(cut, bool) or not isinstance(cut, (int, np.integer)) or not 0 <= cut < self.n_cuts:
            raise E3GymError(f"cut must be an integer in [0, {self.n_cuts}), got {cut!r}")
        return int(cut)

    def _started(self) -> tuple[Link, EdgeLoad]:
        if self._link is None or self._load is None:
            raise E3GymError(f"{self.name}: no episode yet; call start() (the env's reset) first")
        return self._link, self._load
