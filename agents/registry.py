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
    "mulinucb": "e3gym.agents.mulinucb:MuLinUCB",
    "partition_linucb": "e3gym.agents.partition_baselines:PartitionLinUCB",
    "neurosurgeon": "e3gym.agents.partition_baselines:NeurosurgeonStatic",
    "partition_oracle": "e3gym.agents.partition_baselines:OracleCut",
    "on_device": "e3gym.agents.partition_baselines:OnDevice",
    "all_edge": "e3gym.agents.partition_baselines:AllEdge",
    "optimal_stopping": "e3gym.agents.stopping:OptimalStopping",
    "osla": "e3gym.agents.stopping:OSLA",
    "offload_at_input": "e3gym.agents.stopping:OffloadAtInput",
    "offload_at_horizon": "e3gym.agents.stopping:OffloadAtHorizon",
    "optimal_placement": "e3gym.agents.stopping:OptimalPlacement",
    "fixed_placement": "e3gym.agents.stopping:FixedPlacement",
}
