"""Per-scenario reference pairs, agents restricted to scenarios, the seed-systems suite, run_suite."""
from __future__ import annotations

import json

import numpy as np
import pytest

from e3gym.bench import metrics, run_suite
from e3gym.bench.suite import SuiteError, load_suite, suite_from_dict
from e3gym.cli import main


def _three_settings(steps: int = 60, episodes: int = 20) -> dict:
    return {
        "id": "three", "max_steps": steps, "seeds": [100, 101], "train_seeds": [0],
        "scenarios": [
            {"id": "ans", "env": "e3gym/Partition-v0", "reference": ["neurosurgeon", "partition_oracle"]},
            {"id": "fading", "env": "e3gym/FadingSplit-v0", "episodes": episodes,
             "reference": ["offload_at_input", "optimal_stopping"]},
            {"id": "placement", "env": "e3gym/ModelPlacement-v0", "reference": ["fixed_placement", "optimal_placement"]},
        ],
        "agents": [{"name": "on_device", "scenarios": ["ans"]}, {"name": "osla", "scenarios": ["fading"]},
                   {"name": "random"}],
    }


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    out = tmp_path_factory.mktemp("three")
    return run_suite(suite_from_dict(_three_settings()), out, quiet=True), out


def test_each_scenario_is_scored_by_its_own_reference_pair(three):
    result, _ = three
    assert not result.failed
    refs = {"ans": ("neurosurgeon", "partition_oracle"), "fading": ("offload_at_input", "optimal_stopping"),
            "placement": ("fixed_placement", "optimal_placement")}
    by = {(c["config"]["agent"]["name"], c["config"]["scenario"]["id"], c["config"]["seed"]): c for c in result.cells}
    for scen, (low, high) in refs.items():
        for seed in (100, 101):
            assert by[(low, scen, seed)]["metrics"]["score"] == pytest.approx(0.0)
            assert by[(high, scen, seed)]["metrics"]["score"] == pytest.approx(1.0)
            # the score is the cell's return mapped linearly between the pair's returns
            r = {a: metrics.episode_return(by[(a, scen, seed)]) for a in (low, high, "random")}
            assert by[("random", scen, seed)]["metrics"]["score"] == pytest.approx(
                (r["random"] - r[low]) / (r[high] - r[low]))


def test_agents_run_only_where_the_suite_puts_them(three):
    result, _ = three
    where = {}
    for c in result.cells:
        where.setdefault(c["config"]["agent"]["name"], set()).add(c["config"]["scenario"]["id"])
    assert where["on_device"] == {"ans"} and where["osla"] == {"fading"}
    assert where["random"] == {"ans", "fading", "placement"}
    assert where["neurosurgeon"] == {"ans"} and where["optimal_placement"] == {"placement"}
    assert {(r["agent"], r["scenario"]) for r in result.rows} == {
        (a, s) for a, scens in where.items() for s in scens}


def test_optimal_stopping_beats_the_one_stage_look_ahead_per_inference(three):
    # Backward induction is optimal in expectation; averaged over 2 x 20 inferences OSLA is not better.
    result, _ = three
    assert result.row("osla", "fading")["score"] <= 1.0 + 1e-9
    assert result.row("optimal_stopping", "fading")["score"] == pytest.approx(1.0)


def test_the_leaderboard_names_every_reference_pair(three):
    _, out = three
    md = (out / "LEADERBOARD.md").read_text()
    assert "ans: `neurosurgeon` / `partition_oracle`" in md
    assert "fading: `offload_at_input` / `optimal_stopping`" in md
    data = json.loads((out / "results.json").read_text())
    assert data["header"]["references"]["placement"] == ["fixed_placement", "optimal_placement"]


def test_seed_systems_suite_runs_from_the_command_line(tmp_path):
    assert main(["bench", "--suite", "seed-systems", "--seeds", "1", "--out", str(tmp_path), "--jobs", "1"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    envs = {c["config"]["scenario"]["env"] for c in data["cells"]}
    assert envs == {"e3gym/Partition-v0", "e3gym/FadingSplit-v0", "e3gym/ModelPlacement-v0"}
    assert all(c["status"] == "ok" for c in data["cells"])
    assert data["aggregates"]["partition_oracle"]["iqm"] == pytest.approx(1.0)
    assert "# e3gym leaderboard" in (tmp_path / "LEADERBOARD.md").read_text()


def test_default_reference_pair_is_static_best_and_oracle():
    suite = load_suite("smoke")
    assert set(suite.references().values()) == {("static_best", "oracle")}
    names = [a.name for a in suite.agents]
    assert "static_best" in names and "oracle" in names


def test_zero_bootstrap_reps_gives_the_iqm_without_a_ci():
    rng = np.random.default_rng(0)
    m = {"a": rng.normal(size=(5, 3))}
    fast = metrics.aggregate(m, reps=0)["a"]
    full = metrics.aggregate(m, reps=200)["a"]
    assert fast["iqm"] == pytest.approx(full["iqm"], abs=1e-12)
    assert np.isnan(fast["ci_low"]) and np.isnan(fast["ci_high"])
    # the IQM is the mean of the middle half: for 0..11, the mean of 3..8
    assert metrics.iqm(np.arange(12.0).reshape(4, 3)) == pytest.approx(5.5)


@pytest.mark.parametrize("change,match", [
    ({"scenarios": [{"id": "x", "env": "e3gym/Partition-v0", "reference": ["neurosurgeon"]}]}, "two different agent"),
    ({"scenarios": [{"id": "x", "env": "e3gym/Partition-v0", "reference": ["nosuch", "partition_oracle"]}]},
     "nosuch"),
    ({"agents": [{"name": "random", "scenarios": ["nowhere"]}]}, "unknown scenario 'nowhere'"),
    ({"scenarios": [{"id": "x", "env": "e3gym/Partition-v0", "train": {"overides": {}}}]}, "overides"),
    ({"bootstrap_reps": -1}, "bootstrap_reps"),
    ({"scenarios": [{"id": "x", "env": "e3gym/Partition-v0", "episodes": 0}]}, "episodes"),
])
def test_new_suite_keys_are_checked(change, match):
    data = {"id": "t", "seeds": [1], "scenarios": [{"id": "x", "env": "e3gym/Partition-v0",
                                                    "reference": ["neurosurgeon", "partition_oracle"]}],
            "agents": [{"name": "random"}], **change}
    with pytest.raises(SuiteError, match=match):
        suite_from_dict(data)


def test_a_reference_left_out_of_its_scenario_is_refused():
    data = {"id": "t", "seeds": [1], "scenarios": [{"id": "x", "env": "e3gym/Partition-v0",
                                                    "reference": ["on_device", "partition_oracle"]},
                                                   {"id": "y", "env": "e3gym/Partition-v0",
                                                    "reference": ["neurosurgeon", "partition_oracle"]}],
            "agents": [{"name": "on_device", "scenarios": ["y"]}]}
    with pytest.raises(SuiteError, match="reference but its 'scenarios' leave out 'x'"):
        suite_from_dict(data)


def test_an_agents_ci_depends_on_its_scores_only():
    # rliable resamples from NumPy's global generator; the aggregate seeds it per agent.
    rng = np.random.default_rng(1)
    m, other = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    alone = metrics.aggregate({"a": m}, reps=300)["a"]
    np.random.seed(12345)  # whatever drew from the global generator before
    beside = metrics.aggregate({"b": other, "a": m}, reps=300)["a"]
    assert alone == beside
    state = np.random.get_state()[1].copy()
    metrics.aggregate({"a": m}, reps=50)
    assert np.array_equal(np.random.get_state()[1], state)  # the caller's global stream is left as it was
