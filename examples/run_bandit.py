"""Run the LinUCB bandit online on EndEdgeCloud-v1 and print how its episodes improve.

    python examples/run_bandit.py --episodes 30
"""
import argparse

import gymnasium as gym
import numpy as np

import e3gym  # noqa: F401  (registers the envs)
from e3gym.agents import load_agent, run_episode

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--episodes", type=int, default=30)
parser.add_argument("--alpha", type=float, default=0.05, help="confidence-bonus width (reward units)")
args = parser.parse_args()

env = gym.make("e3gym/EndEdgeCloud-v1")
bandit = load_agent("linucb", env, alpha=args.alpha)
for episode in range(args.episodes):
    result = run_episode(env, bandit, seed=episode)  # learns online, across episodes
    latency_ms = result.metric("latency_s").mean() * 1e3
    missed = result.metric("accuracy_missed").mean()
    print(f"episode {episode:3d}  reward/step {np.mean(result.rewards):8.4f}  "
          f"latency {latency_ms:7.1f} ms  accuracy misses {missed:.0%}")
