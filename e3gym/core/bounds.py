"""Lower bounds on the latency of every action of a request, for an exact search that skips most of them.

The clairvoyant oracle needs the action whose true outcome (:meth:`Cluster.serve` without commit)
has the best reward. Running the timeline for each of a request's ~200 distinct actions costs
~80 env steps; :func:`best_of` instead evaluates the actions best-bound first and stops as soon as
no remaining bound can reach the best reward found, which gives the same action (the first one on
ties, as ``np.argmax`` over all of them) after a few timelines.

:class:`ActionBounds` computes, in a few numpy operations over all actions at once, a latency that
no timeline of the request can beat: every term the timeline adds that is known before it runs
(compute and codec times with the request's own noise draws, the server's slowdown, the handshake,
round trips, propagation, radio promotion when the radio is idle for any start) plus each transfer's
bits at its link's peak rate (``max_bps()``), and, for each FIFO, the end of the busy block
the job would be ready in (a job never starts inside one). Everything else (queueing behind
airtime, coverage holes, slow-start stalls) only adds time. The bound is lowered by a slack far
above the rounding of the timeline's own sums, so it stays below the computed latency in floats.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from e3gym.core.cluster import CLOUD, END, Cluster, FifoResource
from e3gym.core.workload import Request

# Relative and absolute slack of a bound: the timeline's latency is a difference of sums of ~20
# float64 terms, each rounding by at most 2**-53 of the clock's magnitude.
REL_SLACK, ABS_SLACK_S = 1e-9, 1e-9


def _free_after(resource: FifoResource, ready_s: np.ndarray) -> np.ndarray:
    """Per ready time, the earliest time from it that is inside no worker's busy block (a job's start is
    never earlier: :meth:`FifoResource.reserve` places jobs in gaps)."""
    best = None
    for starts, ends in zip(resource._starts, resource._ends):
        if not ends:
            return ready_s  # an idle worker: the bound is the ready time itself
        e = np.asarray(ends)
        i = np.searchsorted(e, ready_s, side="right")  # the first block not over by the ready time
        inside = np.asarray(starts + [math.inf])[i] <= ready_s
        free = np.where(inside, np.append(e, math.inf)[i], ready_s)
        best = free if best is None else np.minimum(best, free)
    return best


class ActionBounds:
    """Latency and energy lower bounds of a fixed list of ``(tier, cut, model)`` actions.

    The per-action constants (compute prefixes, codec times, wire bytes) depend on the latency
    table only, so one object serves every episode of an env; the links' peak rates and the servers'
    slowdowns are read once per episode (per cluster) and user, and the request's noise draws and
    the queues once per call of :meth:`lower_bounds`.
    """

    def __init__(self, cluster: Cluster, actions: Sequence[tuple[int, int, int]]):
        table = cluster.table
        self.table = table
        self.n_models = len(table.models)
        effective = [(*cluster.effective(tier, cut, model), model) for tier, cut, model in actions]
        self.tier, self.cut, self.model = (np.array(column) for column in zip(*effective))
        self.offload = self.tier != END
        self.cloud = self.tier == CLOUD
        self._offload = self.offload.astype(float)
        # The accuracy each action's outcome has (Cluster._timeline: an inner cut serves the split accuracy).
        self.accuracy = np.array([table.split_accuracy[m] if t != END and c > 0 else cluster.accuracy[m]
                                  for t, c, m in effective])
        self._up_bits = np.array([8.0 * table.cut_wire_bytes[m][c] if t != END else 0.0 for t, c, m in effective])
        self._down_bits = np.array([8.0 * table.result_wire_bytes[m] if t != END else 0.0 for t, c, m in effective])
        # Which compute-time multiplier (:meth:`_multipliers`) scales each action's device part (its
        # model; the last, 1, when it encodes at cut 0) and its server part (its model on the edge,
        # n_models + its model on the cloud; the last, 1, when it runs all locally).
        self._device_noise = np.where(self.cut > 0, self.model, self.n_models)
        self._server_noise = np.where(self.offload, self.model + self.n_models * self.cloud, 2 * self.n_models)
        self._effective = effective
        self._devices: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._episode: Cluster | None = None
        self._users: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._server_job: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0))

    def _device_part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(blocks before the cut, or the encoding at cut 0; the decode at cut 0, else 0) per action on ``name``."""
        part = self._devices.get(name)
        if part is None:
            prefix, encode, decode = self.table._prefix[name], self.table._encode[name], self.table._decode[name]
            before = np.array([prefix[m][c] - prefix[m][0] if c > 0 else encode[m] for _, c, m in self._effective])
            decoded = np.array([decode[m] if c == 0 else 0.0 for _, c, m in self._effective])
            part = self._devices[name] = (before, decoded)
        return part

    def _new_episode(self, cluster: Cluster) -> None:
        """The per-episode constants: each action's server compute (slowdown included) and decode."""
        self._episode, self._users = cluster, {}
        edge, cloud = cluster.edge, cluster.cloud
        after, decode = [], []
        edge_decode, cloud_decode = self._device_part(edge.device.name)[1], self._device_part(cloud.device.name)[1]
        for i, (t, c, m) in enumerate(self._effective):
            if t == END:
                after.append(0.0)
                decode.append(0.0)
                continue
            server = cloud if t == CLOUD else edge
            prefix = self.table._prefix[server.device.name][m]
            after.append((prefix[-1] - prefix[c]) * server.slowdown)
            decode.append(float(cloud_decode[i] if t == CLOUD else edge_decode[i]))
        self._server_job = (np.array(after), np.array(decode))

    def _user(self, cluster: Cluster, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Per action, for ``user``: (the transfers at peak rate, round trip and propagation; the part of it
        before the server, its half RTT on the way up included)."""
        cached = self._users.get(user)
        if cached is None:
            u = cluster.users[user]
            rtt = u.access.rtt_s
            up = self._up_bits / u.uplink.max_bps() + rtt / 2
            wan_up = self._up_bits / cluster.wan_up.max_bps() + cluster.wan_up.propagation_s
            wan_down = self._down_bits / cluster.wan_down.max_bps() + cluster.wan_down.propagation_s
            before_server = (up + np.where(self.cloud, wan_up, 0.0)) * self._offload
            total = before_server + (np.where(self.cloud, wan_down, 0.0) + self._down_bits / u.downlink.max_bps()
                                     + rtt / 2) * self._offload
            cached = self._users[user] = (total, before_server)
        return cached

    def _multipliers(self, cluster: Cluster, names: Sequence[str], draws: Sequence[float]) -> np.ndarray:
        """Compute-time multipliers per (device, model), as Cluster._compute_s applies them, then 1."""
        out = []
        for name, z in zip(names, draws):
            out.extend(math.exp(s * z) if cluster.latency_noise and s else 1.0 for s in self.table._sigma[name])
        out.append(1.0)
        return np.array(out)

    def lower_bounds(self, cluster: Cluster, request: Request, energy: bool = False
                     ) -> tuple[np.ndarray, np.ndarray | None]:
        """Per action, a latency and (with ``energy``) a device energy that the true timeline of ``request``
        (:meth:`Cluster.serve`) cannot beat; the energy bound is None without ``energy``."""
        if cluster is not self._episode:
            self._new_episode(cluster)
        user = cluster.users[request.user]
        z_local, z_edge, z_cloud = request.noise
        device = user.device
        before = self._device_part(device.name)[0]
        local_job = before * self._multipliers(cluster, (device.name,), (z_local,))[self._device_noise]
        transfers, before_server = self._user(cluster, request.user)
        edge, cloud = cluster.edge, cluster.cloud
        server_compute, decode = self._server_job
        server_job = server_compute * self._multipliers(
            cluster, (edge.device.name, cloud.device.name), (z_edge, z_cloud))[self._server_noise] + decode

        arrival = request.arrival_s
        access, radio = user.access, user.radio
        fixed = cluster.tcp.handshake_rtts(radio.connected) * access.rtt_s  # before the first byte
        idle = arrival - radio.tail_start_s > access.tail_s * (1 + REL_SLACK) + ABS_SLACK_S
        if idle:  # idle at arrival, so idle whenever the device is done: a full promotion
            fixed += access.promotion_s
        offloaded = transfers + server_job + fixed * self._offload  # 0 for all-local actions
        latency = local_job + offloaded
        # Queues: a FIFO job starts no earlier than the end of the busy block it is ready in.
        local_wait = float(_free_after(user.resource, np.array([arrival]))[0]) - arrival
        if local_wait > 0:
            latency = latency + np.where(local_job > 0, local_wait, 0.0)
        if _busy_after(edge.resource, arrival) or _busy_after(cloud.resource, arrival):
            ready = arrival + (latency - offloaded) + fixed + before_server
            wait = np.where(self.cloud, _free_after(cloud.resource, ready), _free_after(edge.resource, ready)) - ready
            latency = latency + wait * self._offload
        latency = latency * (1 - REL_SLACK) - ABS_SLACK_S * (1 + arrival)
        if not energy:
            return latency, None
        # Energy (Cluster._timeline): busy while computing locally, idle while waiting for an offloaded
        # result, and the promotion when idle; the radio's transfer and tail energy are >= 0.
        busy_w, idle_w = device.busy_power_w or 0.0, device.idle_power_w or 0.0
        joules = busy_w * local_job + idle_w * (offloaded * (1 - REL_SLACK))
        if idle:
            joules = joules + access.promotion_s * access.promotion_w * self._offload
        return latency, joules * (1 - REL_SLACK)


def _busy_after(resource: FifoResource, t: float) -> bool:
    """Whether any worker of ``resource`` has a block ending after ``t``."""
    return any(ends and ends[-1] > t for ends in resource._ends)


def best_of(upper: np.ndarray, evaluate: Callable[[int], float]) -> tuple[int, float, int]:
    """``(index, value, evaluated)``: the argmax of ``evaluate(i)`` over all i, the first one on ties (as
    ``np.argmax`` of every value), given ``upper[i] >= evaluate(i)``; evaluates best bound first and stops
    once no remaining bound can reach the best value found."""
    best_i, best_v, n = -1, -math.inf, 0
    for i in np.argsort(-upper, kind="stable").tolist():
        if upper[i] < best_v:
            break
        v = evaluate(i)
        n += 1
        if v > best_v or (v == best_v and i < best_i):
            best_i, best_v = i, v
    return best_i, best_v, n
