"""Lower bounds on the latency of every action of a request, for an exact search that skips most of them.

The clairvoyant oracle needs the action whose true outcome (:meth:`Cluster.serve` without commit)
has the best reward. Running the timeline for each of a request's ~200 distinct actions costs
~80 env steps; :func:`best_of` instead evaluates the actions best-bound first and stops as soon as
no remaining bound can reach the best reward found, which gives the same action (the first one on
ties, as ``np.argmax`` over all of them) after a few timelines.

:class:`ActionBounds` computes, in one matrix-vector product over all actions at once, a latency that
no timeline of the request can beat: every term the timeline adds that is known before it runs
(compute and codec times with the request's own noise draws, the server's slowdown, the handshake,
round trips, propagation, radio promotion when the radio is idle for any start) plus each transfer's
bits at its link's peak rate (``max_bps()``), and, for each FIFO, the end of the busy block
the job would be ready in (a job never starts inside one). Everything else (queueing behind
airtime, coverage holes, slow-start stalls) only adds time. With an agent's estimates instead of the
truth (:meth:`Cluster.predict`) the same bound uses the estimated rates and reported backlogs. An
energy bound (busy and idle power, the promotion) comes with it. Each bound is lowered by a slack
far above the rounding of the timeline's own sums, so it stays below the computed value in floats.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from e3gym.core.cluster import CLOUD, END, Cluster, Estimates, FifoResource
from e3gym.core.profiles import DeviceProfile
from e3gym.core.workload import Request

# Slack of a bound: relative, for sums of ~20 float64 terms in another order, and absolute, for the
# timeline's differences of clock readings (each of its ~20 operations rounds by at most 2**-53 of
# the clock: ~2e-15 x clock in all; the slack is 1e-12 x clock + 1 ns).
REL_SLACK, ABS_SLACK_S, CLOCK_SLACK = 1e-9, 1e-9, 1e-12


def _clock_slack(clock_s: float) -> float:
    """Absolute slack of a bound at simulated time ``clock_s``."""
    return ABS_SLACK_S + CLOCK_SLACK * abs(clock_s)


def _free_after(resource: FifoResource, ready_s: np.ndarray) -> np.ndarray:
    """Per ready time, the earliest time from it that is inside no worker's busy block (a job's start is
    never earlier: :meth:`FifoResource.reserve` places jobs in gaps)."""
    best = None
    for starts, ends in resource.blocks():
        if not ends:
            return ready_s  # an idle worker: the bound is the ready time itself
        e = np.asarray(ends)
        i = np.searchsorted(e, ready_s, side="right")  # the first block not over by the ready time
        # strictly inside: a job ready exactly at a block's start may still fit before it when its
        # duration is below the clock's rounding
        inside = np.asarray(starts + [math.inf])[i] < ready_s
        free = np.where(inside, np.append(e, math.inf)[i], ready_s)
        best = free if best is None else np.minimum(best, free)
    return best


class ActionBounds:
    """Latency and energy lower bounds of a fixed list of ``(tier, cut, model)`` actions.

    Every term of a bound is a per-action constant times a per-request factor: compute time x the
    request's noise multiplier (x the server's slowdown), wire bits x 1 / the rate, round trips,
    propagation, waits. The constants are one matrix per device kind (they depend on the latency
    table only, so one object serves every episode of an env), and a bound is one matrix-vector
    product with the request's factors (:meth:`lower_bounds`).

    ``tier``, ``cut``, ``model`` and ``accuracy`` hold each action as the timeline serves it
    (:meth:`Cluster.effective`: an all-local action's cut is its model's block count).
    """

    # The factor of each column group (see _matrix).
    _UP, _WAN_UP, _DOWN, _WAN_DOWN, _RTT_UP, _RTT_DOWN, _PROP_UP, _PROP_DOWN = range(8)
    _FIXED, _LOCAL_WAIT, _EDGE_WAIT, _CLOUD_WAIT = range(8, 12)

    def __init__(self, cluster: Cluster, actions: Sequence[tuple[int, int, int]]):
        table = cluster.table
        self.table = table
        self.n_models = len(table.models)
        effective = [(*cluster.effective(tier, cut, model), model) for tier, cut, model in actions]
        self.effective = effective  # (tier, cut, model) per action, as the timeline serves it
        self.tier, self.cut, self.model = (np.array(column) for column in zip(*effective))
        self.offload = self.tier != END
        self.cloud = self.tier == CLOUD
        # The accuracy each action's outcome has (Cluster._timeline: an inner cut serves the split accuracy).
        self.accuracy = np.array([table.split_accuracy[m] if t != END and c > 0 else cluster.accuracy[m]
                                  for t, c, m in effective])
        self._terms = 3 * self.n_models + 2  # the column of _UP: compute and decode columns come first
        self._matrices: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}

    def _matrix(self, device: DeviceProfile, edge: DeviceProfile,
                cloud: DeviceProfile) -> tuple[np.ndarray, np.ndarray]:
        """Per action (rows), the constant of each term (columns): n_models + 1 columns of the device's
        compute before the cut (the last one: encoding at cut 0, not noisy), 2 n_models of the server's
        compute after it (edge models, then cloud models), the server's decode, then the twelve terms
        numbered by the class constants (_UP ... _CLOUD_WAIT). Second, the same matrix with only the terms
        before a job is ready at its server: no server compute or decode, no return trip."""
        key = (device.name, edge.name, cloud.name)
        cached = self._matrices.get(key)
        if cached is not None:
            return cached
        table, n = self.table, self.n_models
        rest = self._terms
        matrix = np.zeros((len(self.effective), rest + 12))
        for row, (tier, cut, m) in enumerate(self.effective):
            prefix = table.prefix(device, m)
            local = prefix[cut] - prefix[0] if cut > 0 else table.encode_s(device, m)
            matrix[row, m if cut > 0 else n] = local
            matrix[row, rest + self._LOCAL_WAIT] = 1.0 if local > 0 else 0.0  # a FIFO job only when > 0
            if tier == END:
                continue
            server = cloud if tier == CLOUD else edge
            prefix = table.prefix(server, m)
            matrix[row, n + 1 + m + n * (tier == CLOUD)] = prefix[-1] - prefix[cut]
            matrix[row, 3 * n + 1] = table.decode_s(server, m) if cut == 0 else 0.0
            up_bits, down_bits = 8.0 * table.cut_wire_bytes[m][cut], 8.0 * table.result_wire_bytes[m]
            matrix[row, rest + self._UP] = up_bits
            matrix[row, rest + self._DOWN] = down_bits
            matrix[row, rest + self._RTT_UP] = matrix[row, rest + self._RTT_DOWN] = 1.0
            matrix[row, rest + self._FIXED] = 1.0
            if tier == CLOUD:
                matrix[row, rest + self._WAN_UP], matrix[row, rest + self._WAN_DOWN] = up_bits, down_bits
                matrix[row, rest + self._PROP_UP] = matrix[row, rest + self._PROP_DOWN] = 1.0
                matrix[row, rest + self._CLOUD_WAIT] = 1.0
            else:
                matrix[row, rest + self._EDGE_WAIT] = 1.0
        matrix.flags.writeable = False
        # Those columns zero, so that one product gives every job's ready time.
        ready = matrix.copy()
        ready[:, n + 1:rest] = 0.0
        ready[:, [rest + self._DOWN, rest + self._WAN_DOWN, rest + self._RTT_DOWN, rest + self._PROP_DOWN]] = 0.0
        ready.flags.writeable = False
        self._matrices[key] = matrix, ready
        return matrix, ready

    def _multipliers(self, cluster: Cluster, device: DeviceProfile, z: float, scale: float = 1.0) -> list[float]:
        """Compute-time multipliers per model on ``device``, as Cluster._compute_s applies them, x ``scale``."""
        noisy = cluster.latency_noise
        return [(math.exp(s * z) if noisy and s else 1.0) * scale for s in self.table.sigmas(device)]

    def lower_bounds(self, cluster: Cluster, request: Request, energy: bool = False,
                     estimates: Estimates | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Per action, a latency and (with ``energy``) a device energy that the timeline of ``request`` cannot
        beat: the true one (:meth:`Cluster.serve`), or with ``estimates`` the predicted one
        (:meth:`Cluster.predict`: its constant rates and reported backlogs, which the bound then uses
        as they are). The energy bound is None without ``energy``."""
        user = cluster.users[request.user]
        z_local, z_edge, z_cloud = request.noise
        device, edge, cloud = user.device, cluster.edge, cluster.cloud
        matrix, ready_matrix = self._matrix(device, edge.device, cloud.device)
        access, radio = user.access, user.radio
        rtt, arrival = access.rtt_s, request.arrival_s
        fixed = cluster.tcp.handshake_rtts(radio.connected) * rtt  # before the first byte
        idle = arrival - radio.tail_start_s > access.tail_s * (1 + REL_SLACK) + ABS_SLACK_S
        if idle:  # idle at arrival, so idle whenever the device is done: a full promotion
            fixed += access.promotion_s
        if estimates is None:  # every transfer at its link's peak rate; waits below
            rates = (user.uplink.max_bps(), cluster.wan_up.max_bps(), user.downlink.max_bps(),
                     cluster.wan_down.max_bps())
            waits = (0.0, 0.0, 0.0)
        else:  # predict()'s constant rates and backlogs
            wan = max(estimates.wan_bps, 1.0)
            rates = (max(estimates.uplink_bps, 1.0), wan, max(estimates.downlink_bps or estimates.uplink_bps, 1.0), wan)
            waits = (cluster.backlog_s(user, estimates.queue_local), cluster.backlog_s(edge, estimates.queue_edge),
                     cluster.backlog_s(cloud, estimates.queue_cloud))
        local = [*self._multipliers(cluster, device, z_local), 1.0]
        server = [*self._multipliers(cluster, edge.device, z_edge, edge.slowdown),
                  *self._multipliers(cluster, cloud.device, z_cloud, cloud.slowdown), 1.0]
        terms = [1 / rates[0], 1 / rates[1], 1 / rates[2], 1 / rates[3], rtt / 2, rtt / 2,
                 cluster.wan_up.propagation_s, cluster.wan_down.propagation_s, fixed, *waits]
        factors = np.array(local + server + terms)
        latency = matrix @ factors
        if estimates is None:
            local_wait = float(_free_after(user.resource, np.array([arrival]))[0]) - arrival
            if local_wait > 0:  # a FIFO job starts no earlier than the end of the busy block it is ready in
                factors[self._terms + self._LOCAL_WAIT] = local_wait
                latency = matrix @ factors
            if edge.resource.busy_after(arrival) or cloud.resource.busy_after(arrival):
                # when each job is ready at its server
                ready_s = arrival + ready_matrix @ factors
                free = np.where(self.cloud, _free_after(cloud.resource, ready_s), _free_after(edge.resource, ready_s))
                latency = latency + np.where(self.offload, free - ready_s, 0.0)
        latency = latency * (1 - REL_SLACK) - _clock_slack(arrival)
        if not energy:
            return latency, None
        # Energy (Cluster._timeline): busy while computing locally, idle from then until the result
        # (every offloaded term but the local wait), and the promotion when idle; the radio's transfer
        # and tail energy are >= 0.
        busy_w, idle_w = device.busy_power_w or 0.0, device.idle_power_w or 0.0
        power = np.full(len(factors), idle_w)
        power[:len(local)] = busy_w
        power[self._terms + self._LOCAL_WAIT] = 0.0
        joules = matrix @ (factors * power)
        if idle:
            offloaded = matrix[:, self._terms + self._FIXED]  # 1 for an offload, else 0
            joules = joules + access.promotion_s * access.promotion_w * offloaded
        # The timeline's idle time is a difference of clock readings: its rounding is absolute, as the latency's.
        return latency, joules * (1 - REL_SLACK) - idle_w * _clock_slack(arrival)


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
