"""What the joint envs read off the system each step: the observation row before a decision and the
info dict after it.

Compiled with the timeline (setup.py): both are read from compiled objects every step, and built here
they cost a fraction of the same reads from interpreted code. The observation's layout is documented
in :class:`e3gym.envs.end_edge_cloud.EndEdgeCloudEnv` ("Observation Space").
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from e3gym.core.cluster import TIER_NAMES, Cluster, Outcome
from e3gym.core.workload import Request


def observation_row(cluster: Cluster, request: Request, queue_cap: int, access_max_mbps: float,
                    wan_max_mbps: float, deadline_max_s: float, kind_onehot: list[float]) -> list[float]:
    """The observation of ``request`` in ``cluster`` as floats (the env makes it float32).

    Bandwidths in Mbps and the deadline are capped at the given maxima, queue counts at
    ``queue_cap``; ``kind_onehot`` is the requesting user's device-kind one-hot.
    """
    # ``a if a < x else x`` is min(x, a) exactly, without a call.
    u, now = request.user, request.arrival_s
    q_local, q_edge, q_cloud = cluster.queue_lengths(u, now)
    deadline = request.deadline_s if request.deadline_s != math.inf else 0.0
    est = cluster.uplink_est_bps
    user = cluster.users[u]
    connected = 1.0 if now - user.radio.tail_start_s < user.access.tail_s else 0.0
    own, wan = est[u] / 1e6, cluster.wan_est_bps / 1e6
    row: list[float] = [
        access_max_mbps if access_max_mbps < own else own,
        wan_max_mbps if wan_max_mbps < wan else wan,
        queue_cap if queue_cap < q_local else q_local,
        queue_cap if queue_cap < q_edge else q_edge,
        queue_cap if queue_cap < q_cloud else q_cloud,
        request.accuracy_req,
        deadline_max_s if deadline_max_s < deadline else deadline,
    ]
    for bps in est:
        mbps = bps / 1e6
        row.append(access_max_mbps if access_max_mbps < mbps else mbps)
    row.extend(kind_onehot)
    row.append(connected)
    return row


def step_info(request: Request, out: Outcome, model_name: str) -> dict[str, Any]:
    """The info dict of ``request`` served as ``out`` (``model_name``: the name of ``out.model``): the
    outcome's latency, breakdown, accuracy, energy and bytes, whether it missed the request's accuracy
    requirement or deadline, the decision (tier, cut, model, with names), the request's user and arrival
    time, and ``vector_reward`` ``[-latency_s, accuracy, -energy_j]`` as float32."""
    latency, accuracy, energy = out.latency_s, out.accuracy, out.energy_j
    return {
        "latency_s": latency, "breakdown": out.breakdown(), "accuracy": accuracy,
        "accuracy_req": request.accuracy_req, "accuracy_missed": accuracy < request.accuracy_req,
        "energy_j": energy, "deadline_missed": latency > request.deadline_s,
        "tier": out.tier, "tier_name": TIER_NAMES[out.tier], "cut": out.cut, "model": out.model,
        "model_name": model_name, "user": request.user, "arrival_s": request.arrival_s,
        "bytes_up": out.bytes_up, "bytes_down": out.bytes_down,
        "vector_reward": np.array((-latency, accuracy, -energy), np.float32),  # Outcome.vector_reward
    }
