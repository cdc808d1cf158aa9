"""Shared fixtures: small scenarios built from the shipped profiles."""
from __future__ import annotations

import pytest


def small_scenario(**overrides) -> dict:
    """A fast, fully specified scenario dict (constant links unless overridden)."""
    data = {
        "name": "test", "version": 1,
        "users": {"count": 3, "device": "rpi4-cortex-a72", "network": {"kind": "constant", "mbps": 10.0},
                  "access": "wifi", "rtt_ms": 4.0},
        "edge": {"device": "aws-m7g.2xlarge-calibrated", "workers": 1},
        "cloud": {"device": "h100-fp32-cudagraph", "workers": 1},
        "wan": {"network": {"kind": "constant", "mbps": 100.0}, "propagation_ms": 10.0},
        "workload": {"rate_per_s": 3.0, "accuracy_levels": [0.0, 0.7], "deadline_ms": 300.0},
        "models": {"names": ["mobilenet_v3_small", "mobilenet_v2", "resnet50"], "partition": True},
    }
    for table, values in overrides.items():
        data[table] = {**data.get(table, {}), **values} if isinstance(values, dict) else values
    return data


@pytest.fixture
def scenario() -> dict:
    return small_scenario()
