"""The end-edge-cloud system: users in cells, an edge server, a cloud, the WAN; the request timeline.

A decision ``(tier, cut, model)`` runs blocks ``[0, cut)`` of the model on the user's device and
blocks ``[cut, L)`` on the chosen tier; ``tier = END`` (or ``cut >= L``) runs everything locally.
The path to the cloud crosses the edge: access uplink, then WAN. :meth:`Cluster.serve` is the one
place a latency is computed; :meth:`Cluster.predict` runs the same timeline on what an agent can
know (bandwidth estimates, reported queue counts) instead of the true future.

The timeline of an offloaded request, each step a component of the breakdown:

1. ``local_queue_s`` + ``local_compute_s`` (blocks before the cut) or ``encode_s`` (cut 0, JPEG) on
   the device's FIFO;
2. ``radio_promotion_s`` when the radio was idle (RRC, :mod:`e3gym.core.radio`), ``tcp_handshake_s``
   for a new connection;
3. ``uplink_queue_s`` waiting for the cell's airtime (or for coverage: a user whose rate is 0 holds
   no airtime; a hole inside a transfer is held), ``uplink_s`` sending the payload's wire bytes
   at the user's own rate, ``tcp_slow_start_s`` the window stalls;
4. ``wan_s`` (cloud only: WAN airtime both ways and its propagation);
5. ``edge_queue_s``/``cloud_queue_s``, ``decode_s`` (JPEG) and ``edge_compute_s``/``cloud_compute_s``
   on the server's FIFO;
6. ``downlink_s`` waiting for and sending the result on the cell's downlink, and
   ``propagation_s``: one access RTT (half up, half down).

Every resource is reserved in issue order and never moves: each device, the edge and the cloud are
FIFO servers with ``k`` workers; each cell's uplink and downlink and the WAN are shared media whose
airtime transfers hold one at a time (:class:`~e3gym.core.network.SharedMedium`). Decisions are
taken in arrival order, so a request's whole timeline is reserved at decision time and the queues
it leaves shape the requests after it.

Energy (one rule): a request is charged what the device spends on it from arrival to result: busy
power while the device computes or encodes for it, idle power while it waits for an offloaded
result, and the radio energy its transfers add to the radio's timeline (promotion when idle, the
active transfer power, and the tail it keeps alive; see :meth:`RadioState.marginal_energy_j`).
A device profile without a cited busy or idle power adds nothing for that part.
"""
from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Sequence

from mypy_extensions import mypyc_attr  # compiled by setup.py: lets its classes copy, pickle and be subclassed

from e3gym.core.network import Link, SharedMedium
from e3gym.core.payload import (
    JpegModel,
    PayloadConfig,
    activation_top1,
    cut_payload_bytes,
    resolution_of,
    result_bytes,
    segments,
    wire_bytes,
)
from e3gym.core.profiles import DeviceProfile, ModelProfile, ProfileError
from e3gym.core.radio import (
    INITIAL_WINDOW_SEGMENTS,
    AccessType,
    RadioState,
    TcpModel,
    init_args,
    slow_start,
)
from e3gym.core.workload import Request
from e3gym.errors import E3GymError

END, EDGE, CLOUD = 0, 1, 2
TIER_NAMES = ("end", "edge", "cloud")
COMPONENTS = ("local_queue_s", "local_compute_s", "encode_s", "radio_promotion_s", "tcp_handshake_s",
              "uplink_queue_s", "uplink_s", "tcp_slow_start_s", "wan_s", "edge_queue_s", "cloud_queue_s",
              "decode_s", "edge_compute_s", "cloud_compute_s", "downlink_s", "propagation_s")


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class FifoResource:
    """A server with ``n_workers`` identical workers on which jobs are reserved in issue order.

    A job takes the earliest slot, on any worker, that starts no earlier than it is ready and
    overlaps no earlier reservation. Usually that is behind the last reservation (first come, first
    served); when a job issued later reaches the server sooner (a faster link), it may fill an idle
    gap that ends before the next reserved job starts (backfilling), so a worker never idles while
    a job that fits is waiting, and no earlier reservation ever moves.

    A search costs O(log n) plus one step per gap it has to pass over (too short for the job): one
    step when the server keeps up, more only when the gaps after ``ready_s`` are too short for the
    job. ``gap_checks`` counts the candidate gaps examined, the one taken included, summed over
    workers and over :meth:`slot` and :meth:`reserve` calls: a cost measure that does not depend on
    timing. Touching jobs form one busy block, so a zero-length job (the timeline reserves none)
    takes the earliest time from ``ready_s`` on that is not inside a block, never a point where two
    jobs touch.
    """

    __slots__ = ("n_workers", "_starts", "_ends", "_finishes", "gap_checks")

    def __init__(self, n_workers: int):
        if not (isinstance(n_workers, int) and n_workers >= 1):
            raise E3GymError(f"n_workers must be an integer >= 1, got {n_workers!r}")
        self.n_workers = n_workers
        self._starts: list[list[float]] = [[] for _ in range(n_workers)]  # per worker: busy blocks, sorted
        self._ends: list[list[float]] = [[] for _ in range(n_workers)]
        self._finishes: list[float] = []  # heap of every reserved job's finish time
        self.gap_checks = 0

    def _slot(self, starts: list[float], ends: list[float], ready_s: float, duration_s: float) -> float:
        # One worker's busy blocks are disjoint, sorted and apart (reserve merges touching ones), so
        # ends are sorted. A block that ends by ready_s cannot overlap a job starting at ready_s or
        # later, and a scan from the first block would pass over all of those without moving t.
        # Starting at the first block not over by ready_s therefore gives the same slot.
        i = i0 = bisect_right(ends, ready_s)
        t, n = ready_s, len(starts)
        while i < n:
            if t + duration_s <= starts[i]:  # fits in the gap before block i
                self.gap_checks += i - i0 + 1
                return t
            if ends[i] > t:
                t = ends[i]
            i += 1
        self.gap_checks += n - i0 + 1  # the passed gaps and the open one after the last block
        return t

    def slot(self, ready_s: float, duration_s: float) -> tuple[float, int]:
        """(start_s, worker) a job ready at ``ready_s`` would get; nothing is reserved."""
        if self.n_workers == 1:  # what the loop below gives for one worker
            return self._slot(self._starts[0], self._ends[0], ready_s, duration_s), 0
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
        if self.n_workers == 1:  # slot() for one worker, without the call
            starts, ends = self._starts[0], self._ends[0]
            if not ends or starts[-1] <= ready_s < ready_s + duration_s:
                # Ready at or after the last block's start, with a duration the clock can hold (ready_s +
                # duration_s > ready_s; the usual case, idle or queued): what _slot() and the merge below
                # give, without the searches. Inside the last block the job fits no gap before the
                # block's end; after it, it starts at once.
                if ends and ready_s < ends[-1]:
                    self.gap_checks += 2  # the last block's gap, passed over, and the open one after it
                    start = ends[-1]
                else:
                    self.gap_checks += 1
                    start = ready_s
                finish = start + duration_s
                if ends and ends[-1] >= start:  # touching: one busy block
                    ends[-1] = finish
                else:
                    starts.append(start)
                    ends.append(finish)
                heapq.heappush(self._finishes, finish)
                return start, finish
            start = self._slot(starts, ends, ready_s, duration_s)
        else:
            start, w = self.slot(ready_s, duration_s)
            starts, ends = self._starts[w], self._ends[w]
        finish = start + duration_s
        i = bisect_right(starts, start)
        # merge touching jobs into one busy block: searches then visit gaps, not jobs
        joins_prev = i > 0 and ends[i - 1] >= start
        joins_next = i < len(starts) and starts[i] <= finish
        if joins_prev and joins_next:
            ends[i - 1] = ends[i]
            del starts[i], ends[i]
        elif joins_prev:
            ends[i - 1] = max(ends[i - 1], finish)
        elif joins_next:
            starts[i] = start
        else:
            starts.insert(i, start)
            ends.insert(i, finish)
        heapq.heappush(self._finishes, finish)
        return start, finish

    def blocks(self) -> list[tuple[list[float], list[float]]]:
        """Each worker's busy blocks as ``(starts, ends)``: sorted, disjoint and apart (read only)."""
        return list(zip(self._starts, self._ends))

    def busy_after(self, t: float) -> bool:
        """Whether any worker has a block ending after ``t``."""
        return any(ends and ends[-1] > t for ends in self._ends)

    def queue_length(self, now_s: float) -> int:
        """Jobs reserved and not yet finished at ``now_s``; forgets jobs finished by then.

        Call it with non-decreasing ``now_s`` (request arrival times): no job issued later can be
        ready before the request that made the call arrived.
        """
        f = self._finishes
        if not f or f[0] > now_s:
            # Nothing finished since the last call, so no block is over either: every block ends at the
            # finish of one of its jobs, and a job popped earlier took its (then over) block with it.
            return len(f)
        while f and f[0] <= now_s:
            heapq.heappop(f)
        for starts, ends in zip(self._starts, self._ends):
            if ends and ends[0] <= now_s:
                n_done = bisect_right(ends, now_s)  # a worker's reservations never overlap: ends are sorted
                del starts[:n_done], ends[:n_done]
        return len(f)


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class RecordedFifo(FifoResource):
    """A FIFO resource that also logs each reservation as ``(lane of its worker, start_s, finish_s)`` (for the
    rendered timeline; beside the FIFO so that it compiles, copies and pickles with it)."""

    __slots__ = ("log", "lane")

    def __init__(self, n_workers: int, log: list, lane: int):
        super().__init__(n_workers)
        self.log, self.lane = log, lane

    def reserve(self, ready_s: float, duration_s: float) -> tuple[float, float]:
        worker = self.slot(ready_s, duration_s)[1]  # the worker reserve() takes (slot reserves nothing)
        start, finish = super().reserve(ready_s, duration_s)
        self.log.append((self.lane + worker, start, finish))
        return start, finish


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass(slots=True)
class Outcome:
    """What happened to one request: the breakdown (``*_s``), the total, accuracy and device energy."""

    tier: int
    cut: int
    model: int
    local_queue_s: float = 0.0
    local_compute_s: float = 0.0
    encode_s: float = 0.0
    radio_promotion_s: float = 0.0
    tcp_handshake_s: float = 0.0
    uplink_queue_s: float = 0.0
    uplink_s: float = 0.0
    tcp_slow_start_s: float = 0.0
    wan_s: float = 0.0
    edge_queue_s: float = 0.0
    cloud_queue_s: float = 0.0
    decode_s: float = 0.0
    edge_compute_s: float = 0.0
    cloud_compute_s: float = 0.0
    downlink_s: float = 0.0
    propagation_s: float = 0.0
    latency_s: float = 0.0
    accuracy: float = 0.0
    energy_j: float = 0.0
    finish_s: float = 0.0  # the timeline's own clock when the result is in the user's hands
    bytes_up: int = 0
    bytes_down: int = 0

    def breakdown(self) -> dict[str, float]:
        """The latency components, in timeline order (the keys of COMPONENTS)."""
        # Spelled out: a dict display is ~2.5x faster than dict(zip(...)), and this runs every step.
        # tests/core/test_fast_paths.py holds the keys to COMPONENTS, in order.
        return {"local_queue_s": self.local_queue_s, "local_compute_s": self.local_compute_s,
                "encode_s": self.encode_s, "radio_promotion_s": self.radio_promotion_s,
                "tcp_handshake_s": self.tcp_handshake_s, "uplink_queue_s": self.uplink_queue_s,
                "uplink_s": self.uplink_s, "tcp_slow_start_s": self.tcp_slow_start_s, "wan_s": self.wan_s,
                "edge_queue_s": self.edge_queue_s, "cloud_queue_s": self.cloud_queue_s, "decode_s": self.decode_s,
                "edge_compute_s": self.edge_compute_s, "cloud_compute_s": self.cloud_compute_s,
                "downlink_s": self.downlink_s, "propagation_s": self.propagation_s}

    @property
    def vector_reward(self) -> tuple[float, float, float]:
        """``(-latency_s, accuracy, -energy_j)``."""
        return -self.latency_s, self.accuracy, -self.energy_j


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass
class User:
    """One end user: a device, its own up/down rate curves, its cell and its access network."""

    device: DeviceProfile
    uplink: Link
    downlink: Link
    access: AccessType
    cell: int = 0
    resource: FifoResource = field(default_factory=lambda: FifoResource(1))
    radio: RadioState = field(default_factory=RadioState)


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass
class Server:
    """An edge server or the cloud: a device profile behind a FIFO with ``n_workers`` workers."""

    device: DeviceProfile
    n_workers: int = 1
    slowdown: float = 1.0  # multiplies compute time: background load sharing the server
    resource: FifoResource = field(init=False)

    def __post_init__(self) -> None:
        self.resource = FifoResource(self.n_workers)


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
@dataclass(frozen=True)
class Estimates:
    """What an agent can know when it predicts: measured bandwidths and reported queue counts."""

    # Frozen: a copy is the object itself, and pickling rebuilds it through __init__ (compiled, the
    # default protocol would set each field and hit the frozen check).
    def __deepcopy__(self, memo: dict) -> Estimates:
        return self

    def __reduce__(self) -> tuple:
        return type(self), init_args(self)

    uplink_bps: float
    wan_bps: float
    queue_local: float = 0.0
    queue_edge: float = 0.0
    queue_cloud: float = 0.0
    downlink_bps: float | None = None  # None: assume the uplink estimate


def _prefix_sums(times: Sequence[float]) -> list[float]:
    out = [0.0]
    for t in times:
        out.append(out[-1] + t)
    out[-1] = math.fsum(times)
    return out


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class LatencyTable:
    """Per-device, per-model compute times for every cut, and the bytes each cut sends.

    ``prefix(device, m)[c]`` is the time of blocks ``[0, c)``; the suffix ``[c, L)`` is the
    total minus the prefix. With ``partition=False`` each model is one block (whole-model figures).
    """

    def __init__(self, models: Sequence[ModelProfile], partition: bool, payload: PayloadConfig | None = None,
                 jpeg: JpegModel | None = None):
        self.models = list(models)
        self.partition = partition
        self.payload = payload or PayloadConfig(input="raw")
        if self.payload.input == "jpeg" and jpeg is None:
            raise E3GymError("a JPEG payload needs the codec model (jpeg=...)")
        self.jpeg = jpeg
        self.n_blocks = [m.n_blocks if partition else 1 for m in self.models]
        self.cut_bytes = [cut_payload_bytes(m, self.payload, jpeg, partition) for m in self.models]
        self.result_bytes = [result_bytes(m, self.payload) for m in self.models]
        # Per model and cut, with the TCP/IP headers (payload.wire_bytes) and in segments (payload.segments).
        self.cut_wire_bytes = [[wire_bytes(b) for b in row] for row in self.cut_bytes]
        self.cut_segments = [[segments(b) for b in row] for row in self.cut_bytes]
        self.result_wire_bytes = [wire_bytes(b) for b in self.result_bytes]
        self.pixels = [resolution_of(m) ** 2 for m in self.models]
        self.split_accuracy = [activation_top1(m, self.payload) if self.payload.activations != "float32" and
                               partition and m.has_blocks else m.top1 for m in self.models]
        self._prefix: dict[str, list[list[float]]] = {}
        self._sigma: dict[str, list[float]] = {}
        self._mean_total: dict[str, float] = {}
        self._encode: dict[str, list[float]] = {}
        self._decode: dict[str, list[float]] = {}

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
        self._mean_total[device.name] = math.fsum(r[-1] for r in rows) / len(rows)
        if self.payload.input == "jpeg":
            assert self.jpeg is not None  # checked in __init__
            codec = self.jpeg.times(device, self.payload.quality)
            self._encode[device.name] = [codec.encode_s(px) for px in self.pixels]
            self._decode[device.name] = [codec.decode_s(px) for px in self.pixels]
        else:
            self._encode[device.name] = self._decode[device.name] = [0.0] * len(self.models)

    def prefix(self, device: DeviceProfile, model: int) -> list[float]:
        """Cumulative compute time of the first c blocks, c = 0..L."""
        return self._prefix[device.name][model]

    def mean_total_s(self, device: DeviceProfile) -> float:
        """Mean whole-model time over the models: what one reported queued job is expected to cost."""
        return self._mean_total[device.name]

    def sigma(self, device: DeviceProfile, model: int) -> float:
        """Log-normal spread of run-to-run variation."""
        return self._sigma[device.name][model]

    def sigmas(self, device: DeviceProfile) -> list[float]:
        """The spread of every model on ``device``, in model order (read only)."""
        return self._sigma[device.name]

    def encode_s(self, device: DeviceProfile, model: int) -> float:
        """Time to encode the model's input frame on ``device`` (0 for raw input)."""
        return self._encode[device.name][model]

    def decode_s(self, device: DeviceProfile, model: int) -> float:
        """Time to decode the model's input frame on ``device`` (0 for raw input)."""
        return self._decode[device.name][model]


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class Cluster:
    """Users in cells, an edge server, a cloud and the WAN, with the request timeline above.

    Args:
        users: the end users (each names its cell).
        edge: the edge server all users reach over their access links.
        cloud: the cloud, reached through the edge over the WAN.
        wan_up, wan_down: the edge-cloud links (shared by every transfer).
        models: the model variants requests may be served with.
        partition: whether cuts inside a model are allowed (needs per-block profiles).
        latency_noise: draw run-to-run variation from each profile's p10/p90 spread.
        ewma_weight: weight of the newest throughput sample in the bandwidth estimates.
        table: a LatencyTable of the same models and partition setting to reuse (saves work per episode).
        tcp: how requests use TCP (persistent connection by default).
        payload: what is sent (used when no ``table`` is given).
        jpeg: the measured JPEG model (needed for a JPEG payload when no ``table`` is given).
    """

    def __init__(self, users: Sequence[User], edge: Server, cloud: Server, wan_up: Link, wan_down: Link,
                 models: Sequence[ModelProfile], partition: bool = True, latency_noise: bool = True,
                 ewma_weight: float = 0.3, table: LatencyTable | None = None, tcp: TcpModel | None = None,
                 payload: PayloadConfig | None = None, jpeg: JpegModel | None = None):
        if not 0 < ewma_weight <= 1:
            raise E3GymError(f"ewma_weight must be in (0, 1], got {ewma_weight!r}")
        if not users:
            raise E3GymError("a cluster needs at least one user")
        self.users = list(users)
        self.edge, self.cloud = edge, cloud
        self.wan_up, self.wan_down = wan_up, wan_down
        if table is not None and (table.models != list(models) or table.partition != partition):
            raise E3GymError("table was built for other models or another partition setting")
        self.table = table or LatencyTable(models, partition, payload, jpeg)  # reusable: depends on profiles only
        self.tcp = tcp or TcpModel()
        self.latency_noise = latency_noise
        for d in {u.device.name: u.device for u in self.users}.values():
            self.table.add_device(d)
        self.table.add_device(edge.device)
        self.table.add_device(cloud.device)
        self.accuracy = [m.top1 for m in models]
        for u in self.users:  # the app opened its connection just before t = 0: the radio is in its tail
            u.radio = RadioState(tail_start_s=0.0, last_send_s=0.0, connected=self.tcp.persistent)
        n_cells = 1 + max(u.cell for u in self.users)
        self.cell_up = [SharedMedium() for _ in range(n_cells)]
        self.cell_down = [SharedMedium() for _ in range(n_cells)]
        self.wan_up_medium, self.wan_down_medium = SharedMedium(), SharedMedium()
        # What the system has measured, not the future: a probe at connection time, then EWMA of transfers.
        self.ewma_weight = ewma_weight
        self.uplink_est_bps = [u.uplink.bandwidth_at(0.0) for u in self.users]
        self.wan_est_bps = wan_up.bandwidth_at(0.0)

    def _observe(self, estimate: float, n_bytes: int, airtime_s: float) -> float:
        return estimate + self.ewma_weight * (8 * n_bytes / airtime_s - estimate)

    def _compute_s(self, device: DeviceProfile, model: int, lo: int, hi: int, z: float) -> float:
        table, name = self.table, device.name
        prefix = table._prefix[name][model]  # table.prefix() and table.sigma(), without the calls
        base = prefix[hi] - prefix[lo]
        if self.latency_noise:
            sigma = table._sigma[name][model]
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
        """Run the request's timeline on the true system; with ``commit=False`` nothing is reserved (what-if)."""
        return self._timeline(request, tier, cut, model, commit, None)

    def predict(self, request: Request, tier: int, cut: int, model: int, estimates: Estimates) -> Outcome:
        """The same timeline fed what an agent knows: constant estimated rates, no other user's airtime,
        and each server's backlog as its reported queue count x its mean whole-model time per worker.

        The user's own device state (its radio, TCP window) is known to it and used as it is.
        """
        return self._timeline(request, tier, cut, model, False, estimates)

    def backlog_s(self, server: Server | User, count: float) -> float:
        """What :meth:`predict` charges for ``count`` reported queued jobs: count x the mean whole-model
        time per worker, x the slowdown of a server."""
        if isinstance(server, User):
            return count * self.table.mean_total_s(server.device)  # one worker, no slowdown
        return count * self.table.mean_total_s(server.device) / server.n_workers * server.slowdown

    def _timeline(self, request: Request, tier: int, cut: int, model: int, commit: bool,
                  est: Estimates | None) -> Outcome:
        # Runs for every step and every what-if, so it reads the tables directly and keeps values in
        # locals; each float is still computed by the same operations, in the same order.
        table = self.table
        n_blocks = table.n_blocks[model]
        if cut >= n_blocks or tier == END:  # effective(): a cut past the last block means all local
            tier, cut = END, n_blocks
        user = self.users[request.user]
        out = Outcome(tier, cut, model, accuracy=self.accuracy[model])
        arrival = t = request.arrival_s
        z_local, z_edge, z_cloud = request.noise
        device = user.device

        # 1. the device: blocks before the cut, or encoding the frame for cut 0
        if cut > 0:
            job = self._compute_s(device, model, 0, cut, z_local)
            out.local_compute_s = job
        else:
            job = table._encode[device.name][model]
            out.encode_s = job
        if job > 0:
            if est is not None:
                start = t + self.backlog_s(user, est.queue_local)
            elif commit:
                start = user.resource.reserve(t, job)[0]
            else:
                start = user.resource.slot(t, job)[0]
            out.local_queue_s = start - t
            t = start + job
        busy_w = device.busy_power_w
        if busy_w is not None:
            out.energy_j = busy_w * job
        if tier == END:
            out.latency_s = t - arrival
            out.finish_s = t
            return out
        local_done = t
        if 0 < cut:
            out.accuracy = table.split_accuracy[model]

        # 2. radio promotion and connection set-up
        access, radio, tcp = user.access, user.radio, self.tcp
        rtt = access.rtt_s
        connected = radio.connected
        promo_s, promo_w = access.wake(t - radio.tail_start_s)
        out.radio_promotion_s = promo_s
        t += promo_s
        radio_start = t
        handshake = tcp.handshake_rtts(connected) * rtt
        out.tcp_handshake_s = handshake
        t += handshake

        # 3. uplink: airtime of the cell, then slow-start stalls, then the half RTT
        n_bytes = table.cut_bytes[model][cut]
        wire = table.cut_wire_bytes[model][cut]
        out.bytes_up = n_bytes
        if est is not None:
            up_start, air = t, 8 * wire / max(est.uplink_bps, 1.0)
        else:
            up_start, air = self.cell_up[user.cell].send(user.uplink, t, wire, commit, arrival)
        uplink_queue = up_start - t
        out.uplink_queue_s = uplink_queue
        out.uplink_s = air
        t = up_start + air
        n_seg = table.cut_segments[model][cut]
        if tcp.persistent and connected:
            cwnd = tcp.window_after_idle(radio.cwnd, up_start - radio.last_send_s, rtt)
        else:
            cwnd = INITIAL_WINDOW_SEGMENTS
        if n_seg <= cwnd:  # one window: no stall (most JPEG frames)
            stall, cwnd_after = 0.0, cwnd
        else:
            stall, cwnd_after = slow_start(n_seg, cwnd, rtt, air / n_seg)
        out.tcp_slow_start_s = stall
        t += stall
        up_done = t
        t += rtt / 2
        if commit and est is None and air > 0:
            estimates = self.uplink_est_bps
            estimates[request.user] = self._observe(estimates[request.user], wire, air)

        # 4. WAN to the cloud
        if tier == EDGE:
            server, z_server = self.edge, z_edge
        else:
            server, z_server = self.cloud, z_cloud
        res_bytes = table.result_bytes[model]
        res_wire = table.result_wire_bytes[model]
        out.bytes_down = res_bytes
        if tier == CLOUD:
            wan_start = t
            t = self._wan(self.wan_up, self.wan_up_medium, t, wire, commit, est, arrival, observe=True)
            out.wan_s = t - wan_start

        # 5. the server: decode the frame (cut 0) and compute the rest, on its FIFO
        server_device = server.device
        decode = table._decode[server_device.name][model] if cut == 0 else 0.0
        compute = self._compute_s(server_device, model, cut, n_blocks, z_server)
        compute *= server.slowdown
        job = decode + compute
        if est is not None:
            count = est.queue_edge if tier == EDGE else est.queue_cloud
            start = t + self.backlog_s(server, count)
        elif commit:
            start = server.resource.reserve(t, job)[0]
        else:
            start = server.resource.slot(t, job)[0]
        queue = start - t
        t = start + job
        out.decode_s = decode
        if tier == EDGE:
            out.edge_queue_s, out.edge_compute_s = queue, compute
        else:
            out.cloud_queue_s, out.cloud_compute_s = queue, compute
            wan_start = t
            t = self._wan(self.wan_down, self.wan_down_medium, t, res_wire, commit, est, arrival)
            out.wan_s += t - wan_start

        # 6. the result back over the access downlink, then the half RTT
        down_ready = t
        if est is not None:
            down_start, down_air = t, 8 * res_wire / max(est.downlink_bps or est.uplink_bps, 1.0)
        else:
            down_start, down_air = self.cell_down[user.cell].send(user.downlink, t, res_wire, commit, arrival)
        out.downlink_s = down_start - down_ready + down_air
        t = down_start + down_air + rtt / 2
        out.propagation_s = rtt
        out.finish_s = t
        out.latency_s = t - arrival

        # energy: idle while waiting for the result, and what the transfers add to the radio's timeline
        idle_w = device.idle_power_w
        if idle_w is not None:
            out.energy_j += idle_w * (t - local_done)
        connected_s = handshake + uplink_queue + air + stall
        activity_j = (access.transfer_energy_j(connected_s, 8 * wire, 0.0)
                      + access.tail_energy_j(t - up_done - down_air)  # waiting for the result
                      + access.transfer_energy_j(down_air, 0.0, 8 * res_wire))
        out.energy_j += promo_s * promo_w + radio.marginal_energy_j(access, radio_start, activity_j, t)
        if commit and est is None:
            if t > radio.tail_start_s:  # max(), without the call
                radio.tail_start_s = t
            radio.cwnd = cwnd_after
            if up_done > radio.last_send_s:
                radio.last_send_s = up_done
            radio.connected = tcp.persistent
        return out

    def _wan(self, link: Link, medium: SharedMedium, t: float, wire: int, commit: bool, est: Estimates | None,
             now_s: float, observe: bool = False) -> float:
        """Time the bytes are at the far end of the WAN: airtime (shared) plus propagation."""
        if est is not None:
            return t + 8 * wire / max(est.wan_bps, 1.0) + link.propagation_s
        start, air = medium.send(link, t, wire, commit, now_s)
        if commit and observe and air > 0:
            self.wan_est_bps = self._observe(self.wan_est_bps, wire, air)
        return start + air + link.propagation_s

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
                f"profiles: use e3gym/ModelSelection-v1 or partition=False")
        for d in devices:
            d.block_latencies_s(m)
