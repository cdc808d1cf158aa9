"""An agent that fails on purpose, for the leaderboard's error handling (importable as crashing_agent:Crash)."""


class Crash:
    def __init__(self, env):
        self.env = env

    def act(self, obs, info):
        raise RuntimeError("this agent always crashes")

    def update(self, obs, action, reward, next_obs, info):
        pass

    def reset(self):
        pass
