"""e3gym: Gymnasium environments for end-edge-cloud DNN inference orchestration.

Importing the package registers its environments (``e3gym/<Name>-v<N>``). The v0 versions of
EndEdgeCloud and ModelSelection are retired: ``gym.make`` of them raises Gymnasium's
``DeprecatedEnv``, which names the v1 id. ``e3gym.core`` (the system models) needs only numpy and
imports without Gymnasium; the envs need it.
"""
from e3gym.core.network import TraceError
from e3gym.core.profiles import ProfileError
from e3gym.errors import E3GymError
from e3gym.scenarios import ScenarioError

try:
    from gymnasium.envs.registration import register, registry
except ImportError:  # core-only use: nothing to register into
    register, registry = None, {}

__version__ = "0.2.0"

# id -> (entry point, max_episode_steps)
ENVIRONMENTS = {
    "e3gym/EndEdgeCloud-v1": ("e3gym.envs.end_edge_cloud:EndEdgeCloudEnv", 200),
    "e3gym/ModelSelection-v1": ("e3gym.envs.end_edge_cloud:ModelSelectionEnv", 200),
    "e3gym/Partition-v0": ("e3gym.envs.partition:PartitionEnv", 1000),
    "e3gym/FadingSplit-v0": ("e3gym.envs.fading_split:FadingSplitEnv", None),
    "e3gym/ModelPlacement-v0": ("e3gym.envs.fading_split:ModelPlacementEnv", 100),
}

# Vector-reward variants (MO-Gymnasium's convention: make them with ``mo_gymnasium.make``).
MO_ENVIRONMENTS = {
    "e3gym/mo-EndEdgeCloud-v1": ("e3gym.envs.end_edge_cloud:MOEndEdgeCloudEnv", 200),
    "e3gym/mo-ModelSelection-v1": ("e3gym.envs.end_edge_cloud:MOModelSelectionEnv", 200),
}

# ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")`` builds these.
VECTOR_ENTRY_POINTS = {
    "e3gym/EndEdgeCloud-v1": "e3gym.envs.vector:EndEdgeCloudVectorEnv",
    "e3gym/ModelSelection-v1": "e3gym.envs.vector:ModelSelectionVectorEnv",
}

for _id, (_entry, _steps) in {**ENVIRONMENTS, **MO_ENVIRONMENTS}.items():
    if register is not None and _id not in registry:
        register(id=_id, entry_point=_entry, max_episode_steps=_steps,
                 vector_entry_point=VECTOR_ENTRY_POINTS.get(_id))

__all__ = ["E3GymError", "ENVIRONMENTS", "MO_ENVIRONMENTS", "ProfileError", "ScenarioError", "TraceError", "__version__"]
