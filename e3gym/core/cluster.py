"""The end-edge-cloud system: users with devices and access links, an edge server, a cloud, the WAN.

A decision ``(tier, cut, model)`` for a request runs blocks ``[0, cut)`` of the model on the user's
device and blocks ``[cut, L)`` on the chosen tier; ``tier = END`` (or ``cut >= L``) runs everything
locally. The path to the cloud crosses the edge: access uplink, then WAN. Every resource (each
user's device, the edge, the cloud) is a FIFO server with ``k`` workers. Decisions are taken in
arrival order, so a request's whole timeline is reserved at decision time, and the queues it leaves
behind shape the requests after it.

Device energy is the end device's busy power times its compute time plus the radio's transmit
power (Huang et al.'s throughput model) times the uplink airtime; idle power while the device
waits for a result is not counted, and a device profile without a cited busy power adds nothing
for compute.

Simplifications (documented, each a place to extend): transfers on one link do not queue behind
each other (each sees the link's full bandwidth); reservations never move once made, so a request
that reaches a server before an earlier-issued one can only use the idle gap before it (see
:class:`FifoResource`); the result travels back over the same path.
"""
from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Sequence

from e3gym.core.network import Link
from e3gym.core.profiles import DeviceProfile, ModelProfile, ProfileError
from e3gym.core.workload import Request

END, EDGE, CLOUD = 0, 1, 2
TIER_NAMES = ("end", "edge", "cloud")
COMPONENTS = ("local_queue", "local_compute", "uplink", "edge_queue", "edge_compute",
              "wan", "cloud_queue", "cloud_compute", "downlink")


@dataclass(frozen=True)
class TxPowerModel:
    """Radio power while sending: ``alpha_w_per_bps * throughput_bps + beta_w`` (Huang et al., MobiSys 2012)."""

    alpha_w_per_bps: float
    beta_w: float
    source: str = ""

    def power_w(self, throughput_bps: float) -> float:
        """Transmit power at the given throughput."""
        return self.alpha_w_per_bps * throughput_bps + self.beta_w


class FifoResource:
    """A server with ``n_workers`` identical workers on which jobs are reserved in issue order.

    A job takes the earliest slot, on any worker, that starts no earlier than it is ready and
    overlaps no earlier reservation. Usually that is behind the last reservation (first come, first
    served); when a job issued later reaches the server sooner (a faster link), it may fill an idle
    gap that ends before the next reserved job starts (backfilling), so a worker never idles while
    a job that fits is waiting, and no earlier reservation ever moves.
    """

    __slots__ = ("n_workers", "_starts", "_ends", "_finishes")

    def __init__(self, n_workers: int):
        if not (isinstance(n_workers, int) and n_workers >= 1):
            raise ValueError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        self.n_workers = n_workers
        self._starts: list[list[float]] = [[] for _ in range(n_workers)]  # per worker, sorted
        self._ends: list[list[float]] = [[] for _ in range(n_workers)]
        self._finishes: list[float] = []  # heap of every reserved job's finish time

    @staticmethod
    def _slot(starts: list[float], ends: list[float], ready_s: float, duration_s: float) -> float:
        t = ready_s
        for a, b in zip(starts, ends):
            if b <= t:
                continue
            if t + duration_s <= a:
                return t
            t = b
        return t

    def slot(self, ready_s: float, duration_s: float) -> tuple[float, int]:
        """(start_s, worker) a job ready at ``ready_s`` would get; nothing is reserved."""
        best, best_w = math.inf, 0
        for w in range(self.n_workers):
            t = self._slot(self._starts[w], self._ends[w], ready_s, duration_s)
            if t < best:
                best, best_w = t, w
                if t == ready_s:
                    break
        return best, best_w

    def reserve(self, ready_s: float, duration_s: float) -> tuple[float, float]:
        """Reserve the earliest slot; returns (start_s, finish_s)."""
        start, w = self.slot(ready_s, duration_s)
        finish = start + duration_s
        i = bisect_right(self._starts[w], start)
        self._starts[w].insert(i, start)
        self._ends[w].insert(i, finish)
        heapq.heappush(self._finishes, finish)
        return start, finish

    def queue_length(self, now_s: float) -> int:
        """Jobs reserved and not yet finished at ``now_s``; forgets jobs finished by then.

        Call it with non-decreasing ``now_s`` (request arrival times): no job issued later can be
        ready before the request that made the call arrived.
        """
        f = self._finishes
        while f and f[0] <= now_s:
            heapq.heappop(f)
        for starts, ends in zip(self._starts, self._ends):
            n_done = 0
            while n_done < len(ends) and ends[n_done] <= now_s:
                n_done += 1
            if n_done:
                del starts[:n_done], ends[:n_done]
        return len(f)


@dataclass
class Outcome:
    """What happened to one request: the breakdown, the total, accuracy and device energy."""

    tier: int
    cut: int
    model: int
    local_queue: float = 0.0
    local_compute: float = 0.0
    uplink: float = 0.0
    edge_queue: float = 0.0
    edge_compute: float = 0.0
    wan: float = 0.0
    cloud_queue: float = 0.0
    cloud_compute: float = 0.0
    downlink: float = 0.0
    latency_s: float = 0.0
    accuracy: float = 0.0
    energy_j: float = 0.0
    finish_s: float = 0.0
    bytes_up: int = 0

    def breakdown(self) -> dict[str, float]:
        """The latency components, in timeline order."""
        return {c: getattr(self, c) for c in COMPONENTS}


@dataclass
class User:
    """One end user: a device, an access link (up and down) and a radio power model."""

    device: DeviceProfile
    uplink: Link
    downlink: Link
    tx_power: TxPowerModel | None = None
    resource: FifoResource = field(default_factory=lambda: FifoResource(1))


@dataclass
class Server:
    """An edge server or the cloud: a device profile behind a FIFO with ``n_workers`` workers."""

    device: DeviceProfile
    n_workers: int = 1
    slowdown: float = 1.0  # multiplies compute time: background load sharing the server
    resource: FifoResource = field(init=False)

    def __post_init__(self) -> None:
        self.resource = FifoResource(self.n_workers)


def _prefix_sums(times: Sequence[float]) -> list[float]:
    out = [0.0]
    for t in times:
        out.append(out[-1] + t)
    out[-1] = math.fsum(times)
    return out


class LatencyTable:
    """Per-device, per-model compute times for every cut, precomputed once per episode layout.

    ``prefix(device, m)[c]`` is the time of blocks ``[0, c)``; the suffix ``[c, L)`` is the
    total minus the prefix. With ``partition=False`` each model is one block (whole-model figures).
    """

    def __init__(self, models: Sequence[ModelProfile], partition: bool):
        self.models = list(models)
        self.partition = partition
        self.n_blocks = [m.n_blocks if partition else 1 for m in self.models]
        self.cut_bytes = [list(m.cut_bytes()) if partition else [m.input_bytes] for m in self.models]
        self._prefix: dict[str, list[list[float]]] = {}
        self._sigma: dict[str, list[float]] = {}

    def add_device(self, device: DeviceProfile) -> None:
        """Precompute this device's tables (raises ProfileError when it lacks a model)."""
        if device.name in self._prefix:
            return
        rows, sigmas = [], []
        for m in self.models:
            if self.partition and m.has_blocks:
                rows.append(_prefix_sums(device.block_latencies_s(m)))
            else:
                rows.append([0.0, device.latency(m.name).total.median_s])
            sigmas.append(device.spread(m.name))
        self._prefix[device.name] = rows
        self._sigma[device.name] = sigmas

    def prefix(self, device: DeviceProfile, model: int) -> list[float]:
        """Cumulative compute time of the first c blocks, c = 0..L."""
        return self._prefix[device.name][model]

    def sigma(self, device: DeviceProfile, model: int) -> float:
        """Log-normal spread of run-to-run variation."""
        return self._sigma[device.name][model]


class Cluster:
    """Users, an edge server, a cloud and the WAN, with the request timeline of DESIGN.md.

    Args:
        users: the end users.
        edge: the edge server all users reach over their access links.
        cloud: the cloud, reached through the edge over the WAN.
        wan_up, wan_down: the edge-cloud links.
        models: the model variants requests may be served with.
        partition: whether cuts inside a model are allowed (needs per-block profiles).
        latency_noise: draw run-to-run variation from each profile's p10/p90 spread.
        ewma_weight: weight of the newest throughput sample in the bandwidth estimates.
        table: a LatencyTable of the same models and partition setting to reuse (saves work per episode).
    """

    def __init__(self, users: Sequence[User], edge: Server, cloud: Server, wan_up: Link, wan_down: Link,
                 models: Sequence[ModelProfile], partition: bool = True, latency_noise: bool = True,
                 ewma_weight: float = 0.3, table: LatencyTable | None = None):
        if not 0 < ewma_weight <= 1:
            raise ValueError(f"ewma_weight must be in (0, 1], got {ewma_weight!r}")
        if not users:
            raise ValueError("a cluster needs at least one user")
        self.users = list(users)
        self.edge, self.cloud = edge, cloud
        self.wan_up, self.wan_down = wan_up, wan_down
        if table is not None and (table.models != list(models) or table.partition != partition):
            raise ValueError("table was built for other models or another partition setting")
        self.table = table or LatencyTable(models, partition)  # reusable: it depends on profiles only
        self.latency_noise = latency_noise
        for d in {u.device.name: u.device for u in self.users}.values():
            self.table.add_device(d)
        self.table.add_device(edge.device)
        self.table.add_device(cloud.device)
        self.accuracy = [m.top1 for m in models]
        # What the system has measured, not the future: a probe at connection time, then EWMA of transfers.
        self.ewma_weight = ewma_weight
        self.uplink_est_bps = [u.uplink.bandwidth_at(0.0) for u in self.users]
        self.wan_est_bps = wan_up.bandwidth_at(0.0)

    def _observe(self, estimate: float, n_bytes: int, airtime_s: float) -> float:
        return estimate + self.ewma_weight * (8 * n_bytes / airtime_s - estimate)

    def _compute_s(self, device: DeviceProfile, model: int, lo: int, hi: int, z: float) -> float:
        prefix = self.table.prefix(device, model)
        base = prefix[hi] - prefix[lo]
        if self.latency_noise:
            sigma = self.table.sigma(device, model)
            if sigma:
                return base * math.exp(sigma * z)
        return base

    def effective(self, tier: int, cut: int, model: int) -> tuple[int, int]:
        """(tier, cut) after clipping: a cut past the last block is ``L``, which means all local."""
        n_blocks = self.table.n_blocks[model]
        if cut >= n_blocks or tier == END:
            return END, n_blocks
        return tier, cut

    def serve(self, request: Request, tier: int, cut: int, model: int, commit: bool = True) -> Outcome:
        """Run the request's timeline; with ``commit=False`` nothing is reserved (what-if)."""
        tier, cut = self.effective(tier, cut, model)
        user = self.users[request.user]
        out = Outcome(tier, cut, model, accuracy=self.accuracy[model])
        t = request.arrival_s
        z_local, z_edge, z_cloud = request.noise
        n_blocks = self.table.n_blocks[model]

        if cut > 0:
            duration = self._compute_s(user.device, model, 0, cut, z_local)
            res = user.resource
            start = res.reserve(t, duration)[0] if commit else res.slot(t, duration)[0]
            out.local_queue = start - t
            out.local_compute = duration
            t = start + duration
        if tier != END:
            n_bytes = self.table.cut_bytes[model][cut]
            out.bytes_up = n_bytes
            airtime = user.uplink.transfer_s(t, n_bytes)
            out.uplink = airtime + user.uplink.propagation_s
            t += out.uplink
            if commit and airtime > 0:
                self.uplink_est_bps[request.user] = self._observe(self.uplink_est_bps[request.user], n_bytes, airtime)
            result_bytes = self.table.models[model].output_bytes
            server = self.edge if tier == EDGE else self.cloud
            if tier == CLOUD:
                wan_air = self.wan_up.transfer_s(t, n_bytes)
                wan_in = wan_air + self.wan_up.propagation_s
                t += wan_in
                if commit and wan_air > 0:
                    self.wan_est_bps = self._observe(self.wan_est_bps, n_bytes, wan_air)
            duration = self._compute_s(server.device, model, cut, n_blocks, z_edge if tier == EDGE else z_cloud)
            duration *= server.slowdown
            res = server.resource
            start = res.reserve(t, duration)[0] if commit else res.slot(t, duration)[0]
            queue = start - t
            t = start + duration
            if tier == EDGE:
                out.edge_queue, out.edge_compute = queue, duration
            else:
                out.cloud_queue, out.cloud_compute = queue, duration
                wan_out = self.wan_down.delay_s(t, result_bytes)
                out.wan = wan_in + wan_out
                t += wan_out
            out.downlink = user.downlink.delay_s(t, result_bytes)
            if user.tx_power is not None and airtime > 0:
                out.energy_j += user.tx_power.power_w(8 * n_bytes / airtime) * airtime
        busy_w = user.device.busy_power_w
        if busy_w is not None:
            out.energy_j += busy_w * out.local_compute
        out.latency_s = (out.local_queue + out.local_compute + out.uplink + out.edge_queue + out.edge_compute
                         + out.wan + out.cloud_queue + out.cloud_compute + out.downlink)
        out.finish_s = request.arrival_s + out.latency_s
        return out

    def queue_lengths(self, user: int, now_s: float) -> tuple[int, int, int]:
        """Jobs outstanding at the user's device, the edge and the cloud."""
        return (self.users[user].resource.queue_length(now_s), self.edge.resource.queue_length(now_s),
                self.cloud.resource.queue_length(now_s))


def require_partitionable(models: Sequence[ModelProfile], devices: Sequence[DeviceProfile]) -> None:
    """Raise ProfileError naming the first model/device pair that cannot be partitioned."""
    for m in models:
        if not m.has_blocks:
            raise ProfileError(
                f"model {m.name!r} ({m.source_file}) has whole-model data only; partitioning needs per-block "
                f"profiles: use e3gym/ModelSelection-v0 or partition=False")
        for d in devices:
            d.block_latencies_s(m)
