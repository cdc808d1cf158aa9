"""A third-party agent, importable as ``thirdparty_agent:FirstAction`` (not part of e3gym)."""


class FirstAction:
    """Always the first distinct action; counts its updates."""

    def __init__(self, env):
        self.action = env.unwrapped.distinct_actions()[0]
        self.updates = 0

    def act(self, obs, info):
        return list(self.action)

    def update(self, obs, action, reward, next_obs, info):
        self.updates += 1

    def reset(self):
        pass
