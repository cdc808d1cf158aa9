"""Leaderboard cells: one agent x one scenario x one evaluation seed, each a replayable JSON file.

A cell's key is a hash of everything that determines its result: the scenario as the env resolved
it (its content, not only its name), the env options, the agent spec and options, the seed, the
episode length and count, the training seeds and budget, and the e3gym version. Finished cells are
written atomically to ``<out>/cells/<key>.json`` (temporary file + ``os.replace``); a run skips
every cell whose file exists, so an interrupted run resumes where it stopped and an identical
re-run recomputes nothing. A cell whose agent raised is written too, with the error, so one
crashing agent fails its own cells and nothing else. RL agents are trained once per scenario
on the training seeds before their evaluation cells run, and saved as data: policy weights
``<out>/models/<key>.pt`` and the JSON sidecar ``<key>.json``, written last (see
:func:`e3gym.agents.sb3.save_trained`). Loading them unpickles nothing. A model file in the output
folder that does not load cleanly (tampered with, malformed, from another env, or an SB3 ``.zip``,
which is never read) is not retrained over: each cell that needs it fails with the one-line error
naming the file, so ``e3gym bench`` exits non-zero and the file can be inspected before it is
deleted.

A cell is replayed by making its env (``config.scenario``, ``config.max_steps``), resetting with
``config.seed`` and stepping ``actions`` (then ``reset()`` without a seed for each further episode,
``episode_lengths`` telling where each ends).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable

import gymnasium as gym
import numpy as np

from e3gym import files
from e3gym.bench.suite import REFERENCE_AGENTS, AgentEntry, ScenarioEntry, Suite
from e3gym.errors import DependencyNotInstalled, E3GymError

# Fields of a cell's config that say where files are, not what is computed: not part of its key.
_NOT_KEYED = ("suite_dir",)


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _key(config: dict[str, Any]) -> str:
    return _hash({k: v for k, v in config.items() if k not in _NOT_KEYED})


def run_key(cells: list[dict[str, Any]], command: str) -> str:
    """Identity of a whole run's outputs: its cells and the command that wrote them."""
    return _hash({"cells": sorted(c["key"] for c in cells), "command": command})


def write_json_atomic(path: Path, data: Any) -> None:
    """A cell or model record as JSON, atomically (NaN stands for a metric a cell could not measure)."""
    files.write_json_atomic(path, data, allow_nan=True, default=float)


def resolved_scenario(scenario: ScenarioEntry, suite_dir: Path | None) -> dict[str, Any]:
    """Name, version and content hash of the scenario the env actually builds (for keys and replay)."""
    import e3gym  # noqa: F401
    env = gym.make(scenario.env, **scenario.make_kwargs(suite_dir))
    env.close()
    return _describe_scenario(env)


def _describe_scenario(env: gym.Env) -> dict[str, Any]:
    data = getattr(env.unwrapped, "spec_data", None)
    if not isinstance(data, dict):  # an env without scenario data: its options are all there is
        return {"name": None, "version": None, "sha256": None}
    content = {k: v for k, v in data.items() if not str(k).startswith("_")}
    return {"name": data.get("name"), "version": data.get("version"), "sha256": _hash(content)}


# Suite options added after cells were first published: left out of a cell's config at their default,
# so that the keys of cells that do not use them stay the same.
_OMITTED_AT_DEFAULT = {"reference": REFERENCE_AGENTS, "train": {}, "scenarios": None, "episodes": None}


def _as_config(entry: Any) -> dict[str, Any]:
    """A suite entry as JSON data (see ``_OMITTED_AT_DEFAULT``)."""
    data = asdict(entry)
    for name, default in _OMITTED_AT_DEFAULT.items():
        if name in data and (data[name] == default or (isinstance(default, tuple) and tuple(data[name]) == default)):
            del data[name]
    return data


def _agent_config(agent: AgentEntry) -> dict[str, Any]:
    """The agent entry, RL options resolved over the shipped defaults (so a change of defaults changes the key)."""
    data = _as_config(agent)
    if agent.is_rl:
        from e3gym.agents.rl_defaults import algo_kwargs
        data["kwargs"] = algo_kwargs(agent.spec, agent.kwargs)
    return data


def _base_configs(suite: Suite) -> dict[tuple[str, str], dict[str, Any]]:
    import e3gym
    suite_dir = suite.path.parent if suite.path else None
    out = {}
    for scenario in suite.scenarios:
        resolved = resolved_scenario(scenario, suite_dir)
        for agent in suite.agents_on(scenario):
            config = {
                "suite": suite.id, "suite_version": suite.version, "scenario": _as_config(scenario),
                "scenario_resolved": resolved, "suite_dir": str(suite_dir) if suite_dir else None,
                "agent": _agent_config(agent), "max_steps": suite.steps_of(scenario), "episodes": suite.episodes_of(scenario),
                "train_seeds": list(suite.train_seeds) if (agent.is_rl or agent.warmup_episodes) else [],
                "e3gym_version": e3gym.__version__}
            if scenario.has_train_variant:
                config["train_scenario_resolved"] = resolved_scenario(scenario.training_variant(), suite_dir)
            out[(scenario.id, agent.name)] = config
    return out


def plan(suite: Suite) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The training jobs (one per RL agent x scenario) and the evaluation cells (agent x scenario x seed)."""
    base = _base_configs(suite)
    jobs, cells = [], []
    for scenario in suite.scenarios:
        for agent in suite.agents_on(scenario):
            config = base[(scenario.id, agent.name)]
            model_key = None
            if agent.is_rl:
                job = {**config, "kind": "train"}
                model_key = _key(job)
                jobs.append({**job, "key": model_key})
            for seed in suite.seeds:
                cell = {**config, "kind": "eval", "seed": seed, "model_key": model_key}
                cells.append({**cell, "key": _key(cell)})
    return jobs, cells


def cell_path(out_dir: str | Path, cell: dict[str, Any]) -> Path:
    """Where a cell's result lives."""
    return Path(out_dir) / "cells" / f"{cell['key']}.json"


def model_path(out_dir: str | Path, key: str) -> Path:
    """Where a trained model lives (``.pt`` weights and ``.json`` sidecar; ``.failed.json`` when training raised)."""
    return Path(out_dir) / "models" / key


def train_done(out_dir: str | Path, job: dict[str, Any]) -> bool:
    """Whether a training job has a saved model, or a recorded failure."""
    path = model_path(out_dir, job["key"])
    return path.with_suffix(".json").exists() or path.with_suffix(".failed.json").exists()


def _make_env(config: dict[str, Any], training: bool = False) -> gym.Env:
    """The cell's evaluation env, or (``training``) its training variant."""
    import e3gym  # noqa: F401  (registers the envs in a fresh worker process)
    scenario = ScenarioEntry(**config["scenario"])
    expected = config["scenario_resolved"]
    if training and scenario.has_train_variant:
        scenario, expected = scenario.training_variant(), config["train_scenario_resolved"]
    suite_dir = Path(config["suite_dir"]) if config.get("suite_dir") else None
    kwargs = {"max_episode_steps": config["max_steps"], **scenario.make_kwargs(suite_dir)}
    agent = AgentEntry(**config["agent"])
    if agent.is_rl:
        from e3gym.agents.sb3 import make_env
        env = make_env(scenario.env, agent.spec, monitor=False, **kwargs)
    else:
        env = gym.make(scenario.env, **kwargs)
    # The key promises this scenario content: a scenario file edited after planning must not be cached under it.
    if _describe_scenario(env) != expected:
        raise RuntimeError(f"scenario {scenario.id!r} changed on disk since this run was planned; run again")
    return env


class SeedCycle(gym.Wrapper):
    """Resets the env with the training seeds in turn, so training never sees an evaluation seed."""

    def __init__(self, env: gym.Env, seeds: list[int]):
        super().__init__(env)
        self.seeds, self._i = list(seeds), 0

    def reset(self, *, seed=None, options=None):
        seed = self.seeds[self._i % len(self.seeds)]
        self._i += 1
        return self.env.reset(seed=seed, options=options)


def run_train_job(job: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """Train one RL agent on its scenario's training seeds and save it; a failure is recorded, not raised."""
    path = model_path(out_dir, job["key"])
    if train_done(out_dir, job):
        return {"key": job["key"], "cached": True}
    start = time.perf_counter()
    try:
        import torch
        from stable_baselines3.common.monitor import Monitor

        from e3gym.agents.sb3 import algo_class, policy_config, save_trained
        torch.set_num_threads(1)  # small MLPs gain nothing from threads; parallel jobs would oversubscribe
        agent = AgentEntry(**job["agent"])
        env = Monitor(SeedCycle(_make_env(job, training=True), job["train_seeds"]))
        kwargs = dict(agent.kwargs)
        model = algo_class(agent.spec)("MlpPolicy", env, seed=job["train_seeds"][0], device="cpu", verbose=0,
                                       **kwargs)
        policy_config(model, agent.spec)  # a policy that cannot be saved as data fails before training
        model.learn(agent.train_steps)
        # Weights, then the sidecar, each atomically: the sidecar is what marks the model complete.
        save_trained(model, path, env, agent.spec, job["train_seeds"][0],
                     info={"train_wall_s": time.perf_counter() - start, "train_steps": agent.train_steps})
    except Exception as err:  # a failing training run fails its agent's cells, not the whole benchmark
        write_json_atomic(path.with_suffix(".failed.json"),
                          {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc(limit=5)[-2000:],
                           "train_wall_s": time.perf_counter() - start})
        return {"key": job["key"], "cached": False, "error": str(err)}
    return {"key": job["key"], "cached": False}


def _metrics(infos: list[dict], rewards: list[float]) -> dict[str, float]:
    def col(key: str) -> np.ndarray:
        return np.array([float(i[key]) for i in infos if key in i])
    lat = col("latency_s") if any("latency_s" in i for i in infos) else col("delay_s")  # Partition-v0: delay_s
    out = {"steps": len(rewards), "reward": float(np.mean(rewards)) if rewards else float("nan")}
    out["mean_latency_ms"] = float(lat.mean() * 1e3) if lat.size else float("nan")
    out["p95_latency_ms"] = float(np.percentile(lat, 95) * 1e3) if lat.size else float("nan")
    for key, name in (("accuracy", "accuracy"), ("energy_j", "energy_j"), ("deadline_missed", "deadline_miss_rate"),
                      ("accuracy_missed", "accuracy_miss_rate")):
        values = col(key)
        out[name] = float(values.mean()) if values.size else float("nan")
    return out


def actions_sha256(actions: list[Any]) -> str:
    """Hash of an action sequence (as JSON), to check a replay against."""
    return hashlib.sha256(json.dumps(actions).encode()).hexdigest()


def _agent(cell: dict[str, Any], env: gym.Env, out_dir: str) -> tuple[Any, int]:
    """The cell's agent, ready to be evaluated, and the environment steps it trained or warmed up for."""
    from e3gym.agents.base import load_agent, resolve_agent_class, run_episode
    entry = AgentEntry(**cell["agent"])
    if entry.is_rl:
        import torch

        from e3gym.agents.sb3 import SB3Agent, load_trained
        torch.set_num_threads(1)
        path = model_path(out_dir, cell["model_key"])
        failed = path.with_suffix(".failed.json")
        if failed.exists():
            raise RuntimeError(f"training failed: {json.loads(failed.read_text())['error']}")
        return SB3Agent(load_trained(path, env), env), entry.train_steps
    from e3gym.agents.baselines import use_calibration_dir
    scenario = ScenarioEntry(**cell["scenario"])
    movable = callable(getattr(resolve_agent_class(entry.spec), "move_to", None))
    if scenario.has_train_variant and not movable and entry.warmup_episodes:
        raise E3GymError(f"agent {entry.name!r} warms up on scenario {scenario.id!r}'s training variant, so it "
                         f"must be movable to the evaluation env: define move_to(env)")
    # Agents that learn before evaluation (warm-up, calibration) do it on the training variant, then move.
    home = _make_env(cell, training=True) if scenario.has_train_variant and movable else env
    use_calibration_dir(Path(out_dir) / "calibrations")  # StaticBest calibrates once per scenario, on disk
    try:
        agent = load_agent(entry.spec, home, **entry.kwargs)
    finally:
        use_calibration_dir(None)  # the folder is this run's: later agents in this process keep to memory
    steps = 0
    for k in range(entry.warmup_episodes):  # online learners keep what they learn on the training seeds
        steps += len(run_episode(home, agent, seed=cell["train_seeds"][k % len(cell["train_seeds"])]).rewards)
    if home is not env:
        agent.move_to(env)
        home.close()
    return agent, steps


def run_eval_cell(cell: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """Evaluate one agent on one seed; always writes the cell file (with the error if it failed)."""
    from e3gym.agents.base import run_episode
    path = cell_path(out_dir, cell)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    record: dict[str, Any] = {"config": {k: v for k, v in cell.items() if k != "key"}, "key": cell["key"],
                              "date": time.strftime("%Y-%m-%d")}
    start = time.perf_counter()
    try:
        env = _make_env(cell)
        agent, train_steps = _agent(cell, env, out_dir)
        infos, rewards, actions, lengths = [], [], [], []
        for episode in range(cell["episodes"]):
            # The first reset takes the cell's seed; later episodes continue its random stream.
            result = run_episode(env, agent, seed=cell["seed"] if episode == 0 else None)
            infos += result.infos
            rewards += result.rewards
            actions += result.actions
            lengths.append(len(result.rewards))
        record.update(status="ok", metrics=_metrics(infos, rewards), train_steps=train_steps,
                      episode_lengths=lengths, actions_sha256=actions_sha256(actions), actions=actions)
    except Exception as err:  # a crashing agent fails its own cell, not the run
        record.update(status="error", error=f"{type(err).__name__}: {err}",
                      traceback=traceback.format_exc(limit=5)[-2000:])
    record["wall_s"] = time.perf_counter() - start
    write_json_atomic(path, record)
    return record


def execute(tasks: Iterable[dict[str, Any]], fn: Callable[[dict, str], dict], out_dir: Path, jobs: int,
            backend: str, on_done: Callable[[dict], None]) -> list[dict[str, Any]]:
    """Run ``fn(task, out_dir)`` for every task: in this process, a spawn-safe process pool, or on Ray."""
    if backend not in ("process", "ray"):
        raise E3GymError(f"unknown backend {backend!r}; expected 'process' or 'ray'")
    tasks = list(tasks)
    results: list[dict[str, Any]] = []
    if not tasks:
        return results
    if backend == "ray":
        ray = import_ray()
        if not ray.is_initialized():
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(_import_path())}})
        remote = ray.remote(fn)
        pending = [remote.remote(t, str(out_dir)) for t in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                results.append(ray.get(ref))
                on_done(results[-1])
        return results
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            results.append(fn(t, str(out_dir)))
            on_done(results[-1])
        return results
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    # spawn, not fork: a fresh interpreter per worker is safe with torch and threads, and the same on every OS.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(fn, t, str(out_dir)) for t in tasks]
        for fut in as_completed(futures):
            results.append(fut.result())
            on_done(results[-1])
    return results


def import_ray() -> Any:
    """The ray module, or a one-line instruction to install it."""
    try:
        import ray
    except ImportError:
        raise DependencyNotInstalled("--backend ray needs Ray: pip install 'e3gym[ray]'") from None
    return ray


def _import_path() -> list[str]:
    # Ray workers start from the driver's working directory; custom module:Class agents found on this
    # process's path (for example a test folder) must be importable there too.
    import sys
    return [p for p in sys.path if p and os.path.isdir(p)]
