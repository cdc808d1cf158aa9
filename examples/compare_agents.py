"""Compare agents on one scenario, on the same evaluation seeds, and print a table.

    python examples/compare_agents.py --scenario default --seeds 5

This is a one-scenario leaderboard suite run through :func:`e3gym.bench.run_suite` (the path
``e3gym bench`` takes), so every number here is computed exactly as on the leaderboard.
"""
import argparse

from e3gym.bench import run_suite
from e3gym.bench.suite import suite_from_dict

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--env", default="e3gym/EndEdgeCloud-v1")
parser.add_argument("--scenario", default=None)
parser.add_argument("--seeds", type=int, default=5)
parser.add_argument("--agents", nargs="*", default=["always_local", "always_edge", "always_cloud", "random",
                                                    "static_best", "greedy", "linucb", "oracle"])
parser.add_argument("--out", default="runs/compare_agents")
args = parser.parse_args()

scenario = {"id": "scenario", "env": args.env, **({"scenario": args.scenario} if args.scenario else {})}
# linucb is an online learner: it warms up on 20 training episodes first.
agents = [{"name": n, **({"warmup_episodes": 20} if n == "linucb" else {})} for n in args.agents]
suite = suite_from_dict({"id": "compare-agents", "seeds": list(range(100, 100 + args.seeds)),
                         "train_seeds": list(range(1000, 1020)), "scenarios": [scenario], "agents": agents})
result = run_suite(suite, args.out, quiet=True)
print(f"{'agent':14s} {'score':>6s} {'latency ms':>10s} {'p95 ms':>8s} {'accuracy':>8s} {'acc. misses':>11s} {'reward/step':>11s}")
for r in result.rows:
    print(f"{r['agent']:14s} {r['score']:6.3f} {r['mean_latency_ms']:10.1f} {r['p95_latency_ms']:8.1f} {r['accuracy']:8.3f} "
          f"{r['accuracy_miss_rate']:11.1%} {r['reward']:11.4f}")
