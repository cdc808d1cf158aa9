"""Raw step() rate of e3gym envs as a ratio to Gymnasium's CartPole-v1, measured interleaved in CPU time.

    python benchmarks/throughput.py [--steps 5000] [--repeats 5] [--envs ID ...] [--out FILE.json]

For each env, rounds alternate CartPole and the env (same number of steps each), timing each
block with ``time.process_time`` (CPU time of this process: other load on a shared machine does
not count). The ratio of each round is env steps/s over CartPole steps/s from the same round, and
the median over ``--repeats`` rounds is reported, so drifts in machine speed cancel. Each env is
built with ``gymnasium.make`` (registered wrappers included) and actions are pre-sampled.
Target for EndEdgeCloud-v1: >= 0.25x.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import gymnasium as gym

import e3gym

TARGETS = {"e3gym/EndEdgeCloud-v1": 0.25}
STEPS = {"e3gym/ModelPlacement-v0": 200}  # one step of the placement env solves a whole stopping problem


class Runner:
    """An env stepped with pre-sampled actions, reset whenever an episode ends."""

    def __init__(self, env_id: str, seed: int = 0):
        self.env = gym.make(env_id)
        self.env.action_space.seed(seed)
        self.actions = [self.env.action_space.sample() for _ in range(1000)]
        self.env.reset(seed=seed)
        self.i = 0

    def cpu_s(self, n_steps: int) -> float:
        """CPU seconds for ``n_steps`` steps."""
        env, actions = self.env, self.actions
        start = time.process_time()
        for _ in range(n_steps):
            _, _, terminated, truncated, _ = env.step(actions[self.i % 1000])
            self.i += 1
            if terminated or truncated:
                env.reset()
        return time.process_time() - start


def ratio(env_id: str, n_steps: int, repeats: int) -> tuple[float, float, float]:
    """(median ratio to CartPole, median env steps/s, median CartPole steps/s), interleaved rounds."""
    cart, env = Runner("CartPole-v1"), Runner(env_id)
    cart.cpu_s(200), env.cpu_s(min(n_steps, 200))  # warm-up
    ratios, rates, cart_rates = [], [], []
    for _ in range(repeats):
        c = n_steps / cart.cpu_s(n_steps)
        e = n_steps / env.cpu_s(n_steps)
        ratios.append(e / c)
        rates.append(e)
        cart_rates.append(c)
    return statistics.median(ratios), statistics.median(rates), statistics.median(cart_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000, help="steps per block (default 5000)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per env (default 5)")
    parser.add_argument("--envs", nargs="*", default=sorted(e3gym.ENVIRONMENTS))
    parser.add_argument("--out", type=Path, default=None, help="also write the ratios as JSON")
    args = parser.parse_args()
    print(f"{'env':32s} {'steps/s':>10s} {'CartPole':>10s} {'ratio':>7s}  target")
    results = {}
    for env_id in args.envs:
        r, rate, cart = ratio(env_id, STEPS.get(env_id, args.steps), args.repeats)
        results[env_id] = round(r, 4)
        target = TARGETS.get(env_id)
        verdict = "" if target is None else f">= {target:.2f}x {'met' if r >= target else 'MISSED'}"
        print(f"{env_id:32s} {rate:10.0f} {cart:10.0f} {r:7.3f}  {verdict}", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"single": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
