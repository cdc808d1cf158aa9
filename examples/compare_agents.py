"""Compare agents on one scenario, on the same evaluation seeds, and print a table.

    python examples/compare_agents.py --scenario default --seeds 5
"""
import argparse

import gymnasium as gym
import numpy as np

import e3gym  # noqa: F401
from e3gym.agents import load_agent, run_episode

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--env", default="e3gym/EndEdgeCloud-v1")
parser.add_argument("--scenario", default=None)
parser.add_argument("--seeds", type=int, default=5)
parser.add_argument("--agents", nargs="*", default=["always_local", "always_edge", "always_cloud", "random",
                                                    "static_best", "greedy", "linucb", "oracle"])
args = parser.parse_args()

kwargs = {"scenario": args.scenario} if args.scenario else {}
print(f"{'agent':14s} {'latency ms':>10s} {'p95 ms':>8s} {'accuracy':>8s} {'acc. misses':>11s} {'reward/step':>11s}")
for name in args.agents:
    env = gym.make(args.env, **kwargs)
    agent = load_agent(name, env)
    if name == "linucb":  # an online learner: let it learn on other seeds first
        for s in range(20):
            run_episode(env, agent, seed=1000 + s)
    runs = [run_episode(env, agent, seed=100 + s) for s in range(args.seeds)]
    lat = np.concatenate([r.metric("latency_s") for r in runs]) * 1e3
    acc = np.concatenate([r.metric("accuracy") for r in runs])
    miss = np.concatenate([r.metric("accuracy_missed") for r in runs])
    reward = np.mean([np.mean(r.rewards) for r in runs])
    print(f"{name:14s} {lat.mean():10.1f} {np.percentile(lat, 95):8.1f} {acc.mean():8.3f} {miss.mean():11.1%} {reward:11.4f}")
