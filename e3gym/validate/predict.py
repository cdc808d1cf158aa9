"""The simulator's side: the same profile, link, arrivals and decisions, through ``Cluster.serve``.

The scenario mirrors the real run: ``n`` users on one device profile, the measured link as a
constant rate or the same trace from its start (``users.network``, downlink at the same rate),
Wi-Fi access so there is no RRC promotion, the RTT the delay line adds, one persistent
connection, no latency noise, the edge's ``k`` workers, JPEG at the run's quality with float32
activations and a top-5 result. Users share one cell when they share one shaped veth (netns)
and each have their own when each paces its own sender (loopback).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from e3gym.core.cluster import EDGE, Outcome
from e3gym.core.profiles import ProfileLibrary
from e3gym.core.workload import Request
from e3gym.scenarios import build, load_scenario
from e3gym.validate.shaping import LinkSpec


def scenario(device: str, edge_device: str, model: str, link: LinkSpec, n_users: int, rtt_ms: float,
             workers: int, quality: int, shared_cell: bool) -> dict:
    """The scenario dict the prediction of one run is built from."""
    return {
        "name": "validate", "version": 1,
        "users": {"count": n_users, "device": device, "network": link.scenario_network(), "downlink_ratio": 1.0,
                  "access": "wifi", "rtt_ms": rtt_ms, "cells": 1 if shared_cell else n_users,
                  "connection": "persistent"},
        "edge": {"device": edge_device, "workers": workers},
        "cloud": {"device": edge_device, "workers": 1},
        "models": {"names": [model], "partition": True, "latency_noise": False},
        "payload": {"input": "jpeg", "quality": quality, "activations": "float32", "result": "top5"},
    }


def predict(data: dict, library: ProfileLibrary, requests: Sequence[tuple[int, float, int]],
            cut: int, shared_device: bool = False, tcp_sees_rtt: bool = True) -> dict[int, Outcome]:
    """``Cluster.serve`` of each ``(id, arrival_s, user)`` in arrival order, all at the edge at ``cut``
    (``cut = L`` is everything on the device); the outcomes by request id.

    The simulator is told the testbed's own topology, not tuned: ``shared_device`` when the device
    processes share one CPU core (the users then share one device FIFO), and ``tcp_sees_rtt=False``
    when the round trip is added in user space, so TCP runs over a veth or loopback whose RTT is
    well under a millisecond and its window never stalls (no slow-start cost is predicted).
    """
    cluster = build(load_scenario(data), np.random.default_rng(0), library).cluster
    if shared_device:
        for user in cluster.users[1:]:
            user.resource = cluster.users[0].resource
    if not tcp_sees_rtt:
        cluster.tcp = dataclasses.replace(cluster.tcp, slow_start_after_idle=False)
        for user in cluster.users:
            user.radio.cwnd = 1 << 30  # a window larger than any payload: never a stall
    out = {}
    for request_id, arrival, user in sorted(requests, key=lambda r: (r[1], r[0])):
        req = Request(request_id, arrival, user, 0.0, math.inf, (0.0, 0.0, 0.0))
        out[request_id] = cluster.serve(req, EDGE, cut, 0, commit=True)
    return out
