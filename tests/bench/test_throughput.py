"""benchmarks/throughput.py writes the issue's result format, with the Oracle's cost per decision."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "throughput.py"


def _load():
    spec = importlib.util.spec_from_file_location("throughput_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not shipped in the installed package")
def test_short_run_writes_single_vector_and_oracle_figures(tmp_path):
    out = tmp_path / "throughput.json"
    _load().main(["--envs", "e3gym/ModelSelection-v1", "--block-s", "0.01", "--out", str(out)])
    result = json.loads(out.read_text())
    assert set(result["single"]) == {"e3gym/ModelSelection-v1"}
    assert set(result["vector"]["e3gym/ModelSelection-v1"]) == {"1", "64", "1024"}
    assert set(result["core_only"]["e3gym/ModelSelection-v1"]) == {"1024"}
    cost = result["oracle_steps_per_decision"]["e3gym/ModelSelection-v1"]
    # an Oracle decision costs more than nothing and far less than its 39 what-ifs one by one
    assert 0 < cost < 39
    assert all(r > 0 for r in [*result["single"].values(), *result["core_only"]["e3gym/ModelSelection-v1"].values()])
    assert result["cartpole_steps_per_s"] > 0
