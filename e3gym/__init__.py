"""e3gym: Gymnasium environments for end-edge-cloud DNN inference orchestration.

Importing the package registers its environments (``e3gym/<Name>-v<N>``). The v0 versions of
EndEdgeCloud and ModelSelection are retired: ``gym.make`` of them raises Gymnasium's
``DeprecatedEnv``, which names the v1 id.
"""
from gymnasium.envs.registration import register, registry

from e3gym.core.network import TraceError
from e3gym.core.profiles import ProfileError
from e3gym.scenarios import ScenarioError

__version__ = "0.1.0"

# id -> (entry point, max_episode_steps)
ENVIRONMENTS = {
    "e3gym/EndEdgeCloud-v1": ("e3gym.envs.end_edge_cloud:EndEdgeCloudEnv", 200),
    "e3gym/ModelSelection-v1": ("e3gym.envs.end_edge_cloud:ModelSelectionEnv", 200),
    "e3gym/Partition-v0": ("e3gym.envs.partition:PartitionEnv", 1000),
    "e3gym/FadingSplit-v0": ("e3gym.envs.fading_split:FadingSplitEnv", None),
    "e3gym/ModelPlacement-v0": ("e3gym.envs.fading_split:ModelPlacementEnv", 100),
}

for _id, (_entry, _steps) in ENVIRONMENTS.items():
    if _id not in registry:
        register(id=_id, entry_point=_entry, max_episode_steps=_steps)

__all__ = ["ENVIRONMENTS", "ProfileError", "ScenarioError", "TraceError", "__version__"]
