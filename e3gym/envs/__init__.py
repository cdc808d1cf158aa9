"""Gymnasium shells over e3gym.core."""
from e3gym.envs.end_edge_cloud import EndEdgeCloudEnv, ModelSelectionEnv
from e3gym.envs.wrappers import FlatAction

__all__ = ["EndEdgeCloudEnv", "ModelSelectionEnv", "FlatAction"]
