"""The leaderboard command: outputs parse, cells are cached, mistakes are caught before work."""
from __future__ import annotations

import csv
import json
import time

import pytest

from e3gym.bench.suite import SuiteError, list_suites, load_suite
from e3gym.cli import main


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    start = time.perf_counter()
    assert main(["bench", "--suite", "smoke", "--out", str(out), "--jobs", "1"]) == 0
    first = time.perf_counter() - start
    start = time.perf_counter()
    assert main(["bench", "--suite", "smoke", "--out", str(out), "--jobs", "1"]) == 0
    second = time.perf_counter() - start
    return out, first, second


def test_smoke_outputs_parse_and_references_score_0_and_1(smoke_run):
    out, _, _ = smoke_run
    data = json.loads((out / "results.json").read_text())
    suite = load_suite("smoke")
    assert len(data["cells"]) == len(suite.agents) * len(suite.scenarios) * len(suite.seeds)
    for cell in data["cells"]:
        assert cell["status"] == "ok", cell.get("error")
        name, score = cell["config"]["agent"]["name"], cell["metrics"]["score"]
        if name == "oracle":
            assert score == pytest.approx(1.0)
        if name == "static_best":
            assert score == pytest.approx(0.0)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["agent"] for r in rows} == {a.name for a in suite.agents}
    assert all(float(r["mean_latency_ms"]) > 0 for r in rows)
    md = (out / "LEADERBOARD.md").read_text()
    assert "e3gym bench --suite smoke" in md and "| oracle |" in md
    assert (out / "scores.png").stat().st_size > 1000
    agg = data["aggregates"]["oracle"]
    assert agg["iqm"] == pytest.approx(1.0) and agg["ci_low"] <= agg["iqm"] <= agg["ci_high"]


def test_cells_are_replayable_records(smoke_run):
    out, _, _ = smoke_run
    cell = json.loads(next((out / "cells").glob("*.json")).read_text())
    assert {"suite", "suite_version", "scenario", "agent", "seed", "e3gym_version"} <= set(cell["config"])
    assert len(cell["actions"]) == cell["metrics"]["steps"] == 40


def test_second_identical_run_is_at_least_10x_faster(smoke_run):
    _, first, second = smoke_run
    assert second * 10 <= first, (first, second)


def test_interrupted_run_resumes_only_the_missing_cells(smoke_run, tmp_path):
    out, _, _ = smoke_run
    cells = sorted((out / "cells").glob("*.json"))
    removed = cells[0].name
    copy = tmp_path / "copy"
    (copy / "cells").mkdir(parents=True)
    for c in cells[1:]:
        (copy / "cells" / c.name).write_text(c.read_text())
    before = {c.name: c.stat().st_mtime_ns for c in (copy / "cells").glob("*.json")}
    assert main(["bench", "--suite", "smoke", "--out", str(copy), "--jobs", "1"]) == 0
    after = {c.name: c.stat().st_mtime_ns for c in (copy / "cells").glob("*.json")}
    assert removed in after and all(after[n] == t for n, t in before.items())


def test_crashing_agent_fails_only_its_cells(tmp_path):
    assert main(["bench", "--suite", "smoke", "--agents", "always_local", "crashing_agent:Crash",
                 "--seeds", "2", "--out", str(tmp_path), "--jobs", "1"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    status = {(c["config"]["agent"]["name"], c["status"]) for c in data["cells"]}
    assert ("crashing_agent:Crash", "error") in status and ("always_local", "ok") in status
    bad = next(c for c in data["cells"] if c["status"] == "error")
    assert "this agent always crashes" in bad["error"]
    assert "failed" in (tmp_path / "LEADERBOARD.md").read_text()


@pytest.mark.parametrize("text, match", [
    ('id = "x"\nseeds = [1]\nscenarios = []\nagents = []\nseedz = [2]\n', r":5: key 'seedz': unknown key"),
    ('id = "x"\nseeds = [1]\nagents = []\n[[scenarios]]\nid = "a"\nenv = "e3gym/NoSuchEnv-v0"\n',
     r"key 'scenarios\[0\].env': unknown env id"),
    ('id = "x"\nseeds = [1]\nscenarios = []\n[[agents]]\nname = "b"\nspec = "no_such_agent"\n',
     r"key 'agents\[0\].spec': unknown agent"),
    ('id = "x"\nseeds = [1]\ntrain_seeds = [1]\nscenarios = []\nagents = []\n', "disjoint"),
    ('id = "x"\nseeds = [1]\nscenarios = []\n[[agents]]\nname = "ppo"\n', "train_steps"),
    ('id = "x"\nseeds = [1]\nagents = []\n[[scenarios]]\nid = "a"\nenv = "e3gym/EndEdgeCloud-v0"\nscenaro = "default"\n',
     r":7: key 'scenarios\[0\].scenaro'"),
])
def test_suite_typos_are_named_before_any_work(tmp_path, text, match):
    path = tmp_path / "suite.toml"
    path.write_text(text)
    with pytest.raises(SuiteError, match=match) as err:
        load_suite(path)
    assert str(path) in str(err.value)


def test_unknown_suite_and_cli_error(tmp_path, capsys):
    with pytest.raises(SuiteError, match="unknown suite 'nope'"):
        load_suite("nope")
    assert main(["bench", "--suite", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown suite" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_shipped_suites_load():
    assert {"smoke", "default", "full"} <= set(list_suites())
    for name in list_suites():
        suite = load_suite(name)
        assert suite.scenarios and suite.agents and suite.seeds
