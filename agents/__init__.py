"""Agents for e3gym envs: one small protocol, and the runner loop every caller shares."""
from e3gym.agents.base import Agent, EpisodeResult, load_agent, run_episode

__all__ = ["Agent", "EpisodeResult", "load_agent", "run_episode"]
