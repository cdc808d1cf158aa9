"""Stable-Baselines3 out of the box: make_vec_env with the registered ids, PPO and MaskablePPO."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import e3gym
from e3gym.envs import FlatAction

sb3_contrib = pytest.importorskip("sb3_contrib", reason="sb3-contrib is not installed")
from sb3_contrib import MaskablePPO  # noqa: E402
from sb3_contrib.common.maskable.utils import get_action_masks  # noqa: E402

FAST = dict(n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
SHORT = {"scenario_overrides": {"users": {"count": 3}}}


@pytest.mark.parametrize("env_id", sorted(e3gym.ENVIRONMENTS))
def test_ppo_trains_on_make_vec_env(env_id):
    vec = make_vec_env(env_id, n_envs=2, seed=0)  # passes render_mode="rgb_array"
    assert vec.get_attr("render_mode") == ["rgb_array"] * 2
    model = PPO("MlpPolicy", vec, **FAST).learn(128)
    assert model.num_timesteps >= 128
    images = vec.get_images()
    assert all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 for im in images)
    vec.close()


@pytest.mark.parametrize("env_id", sorted(e3gym.ENVIRONMENTS))
def test_maskable_ppo_trains_on_the_bare_env(env_id):
    vec = make_vec_env(env_id, n_envs=2, seed=0)
    masks = get_action_masks(vec)
    space = vec.action_space
    width = int(space.nvec.sum()) if hasattr(space, "nvec") else int(space.n)
    assert masks.shape == (2, width) and masks.dtype == bool and masks.all()  # every action is valid
    MaskablePPO("MlpPolicy", vec, **FAST).learn(128)
    vec.close()


def test_maskable_ppo_takes_flat_action_masks():
    vec = make_vec_env("e3gym/EndEdgeCloud-v1", n_envs=2, seed=0, wrapper_class=FlatAction, env_kwargs=SHORT)
    vec.reset()
    masks = get_action_masks(vec)
    flat = vec.envs[0].get_wrapper_attr("action_masks")
    assert np.array_equal(masks[0], flat()) and not masks.all()  # some models miss the requirement
    model = MaskablePPO("MlpPolicy", vec, **FAST).learn(128)
    obs = vec.reset()
    for _ in range(20):  # the policy never picks a masked action
        masks = get_action_masks(vec)
        actions, _ = model.predict(obs, action_masks=masks)
        assert masks[np.arange(2), actions].all()
        obs, *_ = vec.step(actions)
    vec.close()


SUBPROC_SCRIPT = """
import json
import e3gym
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

if __name__ == "__main__":  # the default start method (forkserver or spawn) re-imports this script
    fast = dict(n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    vec = make_vec_env("e3gym/EndEdgeCloud-v1", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv)
    steps = PPO("MlpPolicy", vec, **fast).learn(128).num_timesteps
    steps_masked = MaskablePPO("MlpPolicy", vec, **fast).learn(128).num_timesteps
    shapes = [list(im.shape) for im in vec.get_images()]
    vec.close()
    print(json.dumps({"steps": steps, "steps_masked": steps_masked, "shapes": shapes}))
"""


def test_subproc_vec_env_trains_ppo_and_maskable_ppo(tmp_path):
    script = tmp_path / "train_subproc.py"
    script.write_text(SUBPROC_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["steps"] >= 128 and report["steps_masked"] >= 128
    assert len(report["shapes"]) == 2 and all(s[2] == 3 for s in report["shapes"])
