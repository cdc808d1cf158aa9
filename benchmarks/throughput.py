"""Raw step() rate of e3gym envs against Gymnasium's CartPole-v1, measured in the same run.

    python benchmarks/throughput.py [--steps 20000] [--repeats 3] [--envs ID ...]

Prints steps/s for each env and the ratio to CartPole (target for EndEdgeCloud-v1: >= 0.25x).
Each env is built with gymnasium.make (so the registered wrappers are included, as users run
it), actions are pre-sampled, and the best of several repeats is kept to damp machine noise.
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym

import e3gym

TARGETS = {"e3gym/EndEdgeCloud-v1": 0.25}


def steps_per_s(env_id: str, n_steps: int, repeats: int, seed: int = 0) -> float:
    """Best-of-``repeats`` raw step rate of ``env_id`` over ``n_steps`` pre-sampled actions."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(1000)]
    best = 0.0
    for r in range(repeats):
        env.reset(seed=seed + r)
        start = time.perf_counter()
        for i in range(n_steps):
            _, _, terminated, truncated, _ = env.step(actions[i % 1000])
            if terminated or truncated:
                env.reset()
        best = max(best, n_steps / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--envs", nargs="*", default=sorted(e3gym.ENVIRONMENTS))
    args = parser.parse_args()
    baseline = steps_per_s("CartPole-v1", args.steps, args.repeats)
    print(f"{'env':32s} {'steps/s':>10s} {'x CartPole':>10s}  target")
    print(f"{'CartPole-v1':32s} {baseline:10.0f} {1.0:10.2f}")
    for env_id in args.envs:
        rate = steps_per_s(env_id, args.steps, args.repeats)
        target = TARGETS.get(env_id)
        verdict = "" if target is None else f">= {target:.2f}x {'met' if rate / baseline >= target else 'MISSED'}"
        print(f"{env_id:32s} {rate:10.0f} {rate / baseline:10.2f}  {verdict}")


if __name__ == "__main__":
    main()
