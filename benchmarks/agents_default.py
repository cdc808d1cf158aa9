"""Every bundled agent on one scenario, over the same held-out evaluation seeds: a table.

    python benchmarks/agents_default.py                       # EndEdgeCloud-v1, default scenario
    python benchmarks/agents_default.py --ppo-timesteps 0     # heuristics and bandits only (seconds)

Fixed policies and the oracle act on evaluation seeds 100..104 (one 200-request episode each).
LinUCB learns online over those same episodes, starting from nothing (``linucb``), and after
warm-up episodes on other seeds (``linucb+warmup``). PPO and MaskablePPO are trained on training
episodes (seed 0 and the env's own stream after it, never an evaluation seed), then act
deterministically. Everything is seeded; rerunning the command gives the same table.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import e3gym  # noqa: F401  (registers the envs)
from e3gym.agents import load_agent, run_episode

FIXED = ["always_local", "always_edge", "always_cloud", "random", "static_best", "greedy", "oracle"]


def summarize(runs: list, wall_s: float) -> dict[str, float]:
    """Mean/p95 latency, accuracy, misses and reward per request over the episodes."""
    lat = np.concatenate([r.metric("latency_s") for r in runs]) * 1e3
    return {"latency_ms": float(lat.mean()), "p95_ms": float(np.percentile(lat, 95)),
            "accuracy": float(np.concatenate([r.metric("accuracy") for r in runs]).mean()),
            "accuracy_missed": float(np.concatenate([r.metric("accuracy_missed") for r in runs]).mean()),
            "reward": float(np.mean([np.mean(r.rewards) for r in runs])), "wall_s": wall_s}


def run_agent(env_id: str, env_kwargs: dict, spec: str, seeds: list[int], warmup_seeds: list[int],
              **kwargs: Any) -> dict[str, float]:
    """One agent: optional warm-up episodes (learning), then one episode per evaluation seed (learning too)."""
    env = gym.make(env_id, **env_kwargs)
    t0 = time.perf_counter()
    agent = load_agent(spec, env, **kwargs)
    for s in warmup_seeds:
        run_episode(env, agent, seed=s)
    runs = [run_episode(env, agent, seed=s) for s in seeds]
    return summarize(runs, time.perf_counter() - t0)


def run_sb3(env_id: str, env_kwargs: dict, algo: str, timesteps: int, seeds: list[int], logdir: Path,
            algo_kwargs: dict) -> dict[str, float]:
    """Train ``algo`` on training episodes, then evaluate it deterministically on ``seeds``."""
    from e3gym.agents.sb3 import SB3Agent, make_env
    from e3gym.agents.train import train

    t0 = time.perf_counter()
    model, _ = train(algo, env_id, timesteps, seed=0, logdir=logdir, env_kwargs=env_kwargs,
                     algo_kwargs=algo_kwargs)
    env = make_env(env_id, algo, monitor=False, **env_kwargs)
    agent = SB3Agent(model, env)
    runs = [run_episode(env, agent, seed=s, learn=False) for s in seeds]
    return summarize(runs, time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a Markdown table (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="e3gym/EndEdgeCloud-v1")
    parser.add_argument("--scenario", default=None, help="scenario name or TOML path (default: the env's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104], help="evaluation seeds")
    parser.add_argument("--linucb-alpha", type=float, default=0.05)
    parser.add_argument("--linucb-warmup", type=int, default=20, help="warm-up episodes (seeds 1000..) for linucb+warmup")
    parser.add_argument("--ppo-timesteps", type=int, default=300_000, help="0 skips PPO and MaskablePPO")
    parser.add_argument("--ppo-kwargs", type=json.loads, default={"gamma": 0.5},
                        help="JSON of PPO/MaskablePPO options (n_steps, batch_size, gamma, ...)")
    parser.add_argument("--logdir", type=Path, default=Path("runs/agents_default"))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    import torch
    torch.set_num_threads(1)  # small MLPs: threads only add overhead on a shared machine
    env_kwargs = {"scenario": args.scenario} if args.scenario else {}
    warm = list(range(1000, 1000 + args.linucb_warmup))
    rows: dict[str, dict[str, float]] = {}
    for name in FIXED:
        rows[name] = run_agent(args.env, env_kwargs, name, args.seeds, [])
    for cuts in (True, False):
        tag = "" if cuts else "(cuts=False)"
        kw = {"alpha": args.linucb_alpha, "cuts": cuts}
        rows[f"linucb{tag}"] = run_agent(args.env, env_kwargs, "linucb", args.seeds, [], **kw)
        rows[f"linucb{tag}+warmup{args.linucb_warmup}"] = run_agent(args.env, env_kwargs, "linucb", args.seeds,
                                                                    warm, **kw)
    if args.ppo_timesteps > 0:
        for algo in ("ppo", "maskable_ppo"):
            rows[f"{algo}({args.ppo_timesteps // 1000}k)"] = run_sb3(
                args.env, env_kwargs, algo, args.ppo_timesteps, args.seeds, args.logdir, dict(args.ppo_kwargs))

    scenario = args.scenario or "(the env's default)"
    print(f"{args.env} scenario={scenario} seeds={args.seeds}")
    print("| agent | mean latency ms | p95 ms | accuracy | accuracy misses | reward/request | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['latency_ms']:.1f} | {r['p95_ms']:.1f} | {r['accuracy']:.4f} | "
              f"{r['accuracy_missed']:.1%} | {r['reward']:.4f} | {r['wall_s']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"env": args.env, "scenario": args.scenario, "seeds": args.seeds,
                                         "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
