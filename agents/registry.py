"""Built-in agents by short name -> ``module:Class`` (imported only when used)."""

BUILTIN: dict[str, str] = {
    "always_local": "e3gym.agents.baselines:AlwaysLocal",
    "always_edge": "e3gym.agents.baselines:AlwaysEdge",
    "always_cloud": "e3gym.agents.baselines:AlwaysCloud",
    "random": "e3gym.agents.baselines:RandomAgent",
    "static_best": "e3gym.agents.baselines:StaticBest",
    "greedy": "e3gym.agents.baselines:Greedy",
    "oracle": "e3gym.agents.baselines:Oracle",
    "linucb": "e3gym.agents.linucb:LinUCB",
}
