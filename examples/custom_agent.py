"""Write your own agent and plug it in: no e3gym code to touch.

    python examples/custom_agent.py
    e3gym bench --suite smoke --agents custom_agent:FastestAccurate   # from this folder
"""
import gymnasium as gym
import numpy as np

import e3gym  # noqa: F401
from e3gym.agents import load_agent, run_episode


class FastestAccurate:
    """Offload to the edge when the measured uplink is fast, else run locally; smallest accurate model."""

    def __init__(self, env, threshold_mbps: float = 10.0):
        self.env, self.threshold_mbps = env.unwrapped, threshold_mbps

    def act(self, obs, info):
        required = obs[5]  # accuracy requirement (see the env's observation table)
        models = [m for m, p in enumerate(self.env.models) if p.top1 >= required] or [len(self.env.models) - 1]
        model = min(models, key=lambda m: self.env.models[m].top1)
        tier = 1 if obs[0] >= self.threshold_mbps else 0  # obs[0]: the user's uplink estimate in Mbps
        return np.array([tier, 0, model])

    def update(self, obs, action, reward, next_obs, info):
        pass  # a learning agent would learn here

    def reset(self):
        pass


if __name__ == "__main__":
    env = gym.make("e3gym/EndEdgeCloud-v1")
    agent = load_agent("custom_agent:FastestAccurate", env)  # the same path the leaderboard uses
    result = run_episode(env, agent, seed=0)
    print(f"mean latency {result.metric('latency_s').mean() * 1e3:.1f} ms, reward {result.total_reward:.2f}")
