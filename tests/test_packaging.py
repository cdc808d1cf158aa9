"""The installed package works on its own: fresh interpreter, another folder, every env and profile."""
from __future__ import annotations

import json
import subprocess
import sys

import e3gym

SCRIPT = """
import json, gymnasium as gym, e3gym
gym.register_envs(e3gym)
from e3gym.core.profiles import builtin_library
ids = sorted(e3gym.ENVIRONMENTS)
for env_id in ids:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())
gym.make("e3gym:e3gym/EndEdgeCloud-v1")  # the module:id form needs no import at all
lib = builtin_library()
print(json.dumps({"ids": ids, "devices": len(lib.devices), "models": len(lib.models), "file": e3gym.__file__}))
"""


def test_fresh_interpreter_in_another_folder_finds_envs_and_profiles(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["ids"] == sorted(e3gym.ENVIRONMENTS)
    assert report["devices"] >= 10 and report["models"] >= 13
