"""Every bundled agent on one scenario, over the same held-out evaluation seeds: a table.

    python benchmarks/agents_default.py                       # EndEdgeCloud-v1, default scenario
    python benchmarks/agents_default.py --ppo-timesteps 0     # heuristics and bandits only (seconds)

A one-scenario suite run through :func:`e3gym.bench.run_suite`, the leaderboard's own path: fixed
policies and the oracle act on evaluation seeds 100..104 (one 200-request episode each); LinUCB
starts from nothing (``linucb``) or after warm-up episodes on the training seeds
(``linucb+warmup``); PPO and MaskablePPO are trained on the training seeds (e3gym's defaults of
``e3gym.agents.rl_defaults``, ``--ppo-kwargs`` laid over them), then act deterministically.
Everything is seeded and cached in ``--out``; rerunning the command gives the same table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from e3gym.bench import run_suite
from e3gym.bench.suite import suite_from_dict

FIXED = ["always_local", "always_edge", "always_cloud", "random", "static_best", "greedy", "oracle"]


def suite(env: str, scenario: str | None, seeds: list[int], alpha: float, warmup: int, ppo_timesteps: int,
          ppo_kwargs: dict) -> dict:
    """The one-scenario suite of this comparison, as suite-file keys."""
    agents = [{"name": n} for n in FIXED]
    for cuts in (True, False):
        tag = "" if cuts else "(cuts=False)"
        kwargs = {"alpha": alpha, "cuts": cuts}
        agents.append({"name": f"linucb{tag}", "spec": "linucb", "kwargs": kwargs})
        if warmup:
            agents.append({"name": f"linucb{tag}+warmup{warmup}", "spec": "linucb", "kwargs": kwargs,
                           "warmup_episodes": warmup})
    if ppo_timesteps > 0:
        for algo in ("ppo", "maskable_ppo"):
            agents.append({"name": f"{algo}({ppo_timesteps // 1000}k)", "spec": algo, "train_steps": ppo_timesteps,
                           "kwargs": ppo_kwargs})
    scen = {"id": "scenario", "env": env, **({"scenario": scenario} if scenario else {})}
    return {"id": "agents-default", "description": f"every bundled agent on {env}", "max_steps": 200,
            "seeds": seeds, "train_seeds": list(range(1000, 1000 + max(warmup, 1))), "scenarios": [scen],
            "agents": agents}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a Markdown table (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="e3gym/EndEdgeCloud-v1")
    parser.add_argument("--scenario", default=None, help="scenario name or TOML path (default: the env's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104], help="evaluation seeds")
    parser.add_argument("--linucb-alpha", type=float, default=0.05)
    parser.add_argument("--linucb-warmup", type=int, default=20, help="warm-up episodes (seeds 1000..) for linucb+warmup")
    parser.add_argument("--ppo-timesteps", type=int, default=300_000, help="0 skips PPO and MaskablePPO")
    parser.add_argument("--ppo-kwargs", type=json.loads, default={},
                        help="JSON of PPO/MaskablePPO options laid over e3gym's defaults (n_steps, gamma, ...)")
    parser.add_argument("--out", type=Path, default=Path("runs/agents_default"), help="cells are cached here")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    data = suite(args.env, args.scenario, args.seeds, args.linucb_alpha, args.linucb_warmup, args.ppo_timesteps,
                 args.ppo_kwargs)
    result = run_suite(suite_from_dict(data, name="agents_default.py"), args.out, jobs=args.jobs,
                       command="python benchmarks/agents_default.py " + " ".join(argv or []))
    print(f"{args.env} scenario={args.scenario or '(the env default)'} seeds={args.seeds}")
    print("| agent | score | mean latency ms | p95 ms | accuracy | accuracy misses | reward/request | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in result.rows:
        print(f"| {r['agent']} | {r['score']:.3f} | {r['mean_latency_ms']:.1f} | {r['p95_latency_ms']:.1f} | "
              f"{r['accuracy']:.4f} | {r['accuracy_miss_rate']:.1%} | {r['reward']:.4f} | {r['wall_s']:.1f} |")
    if args.json:
        from e3gym.files import write_json_atomic
        write_json_atomic(args.json, {"env": args.env, "scenario": args.scenario, "seeds": args.seeds,
                                      "rows": result.rows}, allow_nan=True)  # NaN: a metric a failed row lacks
    return 0 if not result.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
