"""Leaderboard cells: one agent x one scenario x one evaluation seed, each a replayable JSON file.

A cell's key is a hash of everything that determines its result (suite id and version, scenario,
agent spec and options, seed, episode length, training seeds, e3gym version). Finished cells are
written atomically to ``<out>/cells/<key>.json``; a run skips every cell whose file exists, so an
interrupted run resumes where it stopped and an identical re-run recomputes nothing. RL agents are
trained once per scenario (``<out>/models/<key>.zip``) before their evaluation cells run.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable

import gymnasium as gym
import numpy as np

from e3gym.bench.suite import AgentEntry, ScenarioEntry, Suite


def _key(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_key(cells: list[dict[str, Any]], command: str) -> str:
    """Identity of a whole run's outputs: its cells and the command that wrote them."""
    return _key({"cells": sorted(c["key"] for c in cells), "command": command})


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON via a temporary file and ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=float)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _base_config(suite: Suite, scenario: ScenarioEntry, agent: AgentEntry) -> dict[str, Any]:
    import e3gym
    suite_dir = str(suite.path.parent) if suite.path else None
    return {"suite": suite.id, "suite_version": suite.version, "scenario": asdict(scenario), "suite_dir": suite_dir,
            "agent": asdict(agent), "max_steps": suite.max_steps, "train_seeds": list(suite.train_seeds),
            "e3gym_version": e3gym.__version__}


def train_jobs(suite: Suite) -> list[dict[str, Any]]:
    """One training job per (RL agent, scenario)."""
    jobs = []
    for scenario in suite.scenarios:
        for agent in suite.agents:
            if agent.is_rl:
                config = {**_base_config(suite, scenario, agent), "kind": "train"}
                jobs.append({**config, "key": _key(config)})
    return jobs


def eval_cells(suite: Suite) -> list[dict[str, Any]]:
    """Every (agent, scenario, seed) cell, with its key and (for RL agents) its training job's key."""
    train_keys = {(j["scenario"]["id"], j["agent"]["name"]): j["key"] for j in train_jobs(suite)}
    cells = []
    for scenario in suite.scenarios:
        for agent in suite.agents:
            for seed in suite.seeds:
                config = {**_base_config(suite, scenario, agent), "kind": "eval", "seed": seed,
                          "model_key": train_keys.get((scenario.id, agent.name))}
                cells.append({**config, "key": _key(config)})
    return cells


def _make_env(config: dict[str, Any]) -> gym.Env:
    import e3gym  # noqa: F401  (registers the envs in a fresh worker process)
    from e3gym.agents.sb3 import make_env
    scenario = ScenarioEntry(**config["scenario"])
    suite_dir = Path(config["suite_dir"]) if config.get("suite_dir") else None
    kwargs = {"max_episode_steps": config["max_steps"], **scenario.make_kwargs(suite_dir)}
    agent = AgentEntry(**config["agent"])
    if agent.is_rl:
        return make_env(scenario.env, agent.spec, monitor=False, **kwargs)
    return gym.make(scenario.env, **kwargs)


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
    """Train one RL agent on its scenario's training seeds and save it (skipped when saved)."""
    from stable_baselines3.common.monitor import Monitor

    import torch

    from e3gym.agents.sb3 import algo_class, save_trained
    torch.set_num_threads(1)  # small MLPs gain nothing from threads; parallel jobs would oversubscribe
    path = Path(out_dir) / "models" / job["key"]
    if path.with_suffix(".json").exists():
        return {"key": job["key"], "cached": True}
    agent = AgentEntry(**job["agent"])
    env = Monitor(SeedCycle(_make_env(job), job["train_seeds"]))
    start = time.perf_counter()
    kwargs = dict(agent.kwargs)
    model = algo_class(agent.spec)("MlpPolicy", env, seed=job["train_seeds"][0], device="cpu", verbose=0, **kwargs)
    model.learn(agent.train_steps)
    save_trained(model, path, env, agent.spec, job["train_seeds"][0])
    meta = json.loads(path.with_suffix(".json").read_text())
    write_json_atomic(path.with_suffix(".json"), {**meta, "train_wall_s": time.perf_counter() - start,
                                                  "train_steps": agent.train_steps})
    return {"key": job["key"], "cached": False}


def _metrics(infos: list[dict], rewards: list[float]) -> dict[str, float]:
    def col(key: str) -> np.ndarray:
        return np.array([float(i[key]) for i in infos if key in i])
    lat = col("latency_s")
    out = {"steps": len(rewards), "reward": float(np.mean(rewards)) if rewards else float("nan")}
    out["mean_latency_ms"] = float(lat.mean() * 1e3) if lat.size else float("nan")
    out["p95_latency_ms"] = float(np.percentile(lat, 95) * 1e3) if lat.size else float("nan")
    for key, name in (("accuracy", "accuracy"), ("energy_j", "energy_j"), ("deadline_missed", "deadline_miss_rate"),
                      ("accuracy_missed", "accuracy_miss_rate")):
        values = col(key)
        out[name] = float(values.mean()) if values.size else float("nan")
    return out


def run_eval_cell(cell: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """Evaluate one agent on one seed; always writes the cell file (with the error if it failed)."""
    from e3gym.agents.base import load_agent, run_episode
    path = Path(out_dir) / "cells" / f"{cell['key']}.json"
    if path.exists():
        return json.loads(path.read_text())
    agent_entry = AgentEntry(**cell["agent"])
    record: dict[str, Any] = {"config": {k: v for k, v in cell.items() if k != "key"}, "key": cell["key"],
                              "date": time.strftime("%Y-%m-%d")}
    start = time.perf_counter()
    try:
        env = _make_env(cell)
        train_steps = 0
        if agent_entry.is_rl:
            import torch

            from e3gym.agents.sb3 import SB3Agent, load_trained
            torch.set_num_threads(1)
            model_path = Path(out_dir) / "models" / cell["model_key"]
            agent = SB3Agent(load_trained(model_path, env), env)
            train_steps = agent_entry.train_steps
        else:
            agent = load_agent(agent_entry.spec, env, **agent_entry.kwargs)
            for k in range(agent_entry.warmup_episodes):
                result = run_episode(env, agent, seed=cell["train_seeds"][k % len(cell["train_seeds"])])
                train_steps += len(result.rewards)
        result = run_episode(env, agent, seed=cell["seed"])
        record.update(status="ok", metrics=_metrics(result.infos, result.rewards), train_steps=train_steps,
                      actions=result.actions)
    except Exception as err:  # a crashing agent fails its own cell, not the run
        record.update(status="error", error=f"{type(err).__name__}: {err}",
                      traceback=traceback.format_exc(limit=5)[-2000:])
    record["wall_s"] = time.perf_counter() - start
    write_json_atomic(path, record)
    return record


def execute(tasks: Iterable[dict[str, Any]], fn: Callable[[dict, str], dict], out_dir: Path, jobs: int,
            backend: str, on_done: Callable[[dict], None]) -> list[dict[str, Any]]:
    """Run ``fn(task, out_dir)`` for every task: in this process, a process pool, or on Ray."""
    tasks = list(tasks)
    results: list[dict[str, Any]] = []
    if backend == "ray":
        try:
            import ray
        except ImportError:
            raise ValueError("the ray backend needs Ray: pip install 'e3gym[ray]'") from None
        if not ray.is_initialized():
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
        remote = ray.remote(fn)
        pending = [remote.remote(t, str(out_dir)) for t in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                results.append(ray.get(ref))
                on_done(results[-1])
        return results
    if backend != "process":
        raise ValueError(f"unknown backend {backend!r}; expected 'process' or 'ray'")
    if jobs <= 1 or len(tasks) <= 1:
        for t in tasks:
            results.append(fn(t, str(out_dir)))
            on_done(results[-1])
        return results
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(fn, t, str(out_dir)) for t in tasks]
        for fut in as_completed(futures):
            results.append(fut.result())
            on_done(results[-1])
    return results
