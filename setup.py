"""Build hook: compiles the simulator's hot core with mypyc, so one request's timeline runs as C.

The compiled modules are the same source as the pure-Python ones (mypyc keeps Python's float
semantics, so trajectories are bit for bit the same: tests/envs/test_trajectory_pins.py holds for
both). Set ``E3GYM_PURE_PYTHON=1`` to install without compiling; a machine without a C compiler
gets the pure-Python package with a warning, since the extensions are optional.
"""
import os

from setuptools import setup

# One request's timeline: the cluster (FIFOs, the timeline), the links and shared media, the radio, the
# requests with their buffered draws, and the observation read from them (e3gym.core.COMPILED names the
# same modules; tests/test_packaging.py checks that the two lists agree).
COMPILED = ["e3gym/core/cluster.py", "e3gym/core/network.py", "e3gym/core/radio.py", "e3gym/core/workload.py",
            "e3gym/core/rng.py", "e3gym/core/readout.py"]


def ext_modules() -> list:
    if os.environ.get("E3GYM_PURE_PYTHON"):
        return []
    from mypyc.build import mypycify

    # Only the compiled modules are checked: the modules they import are read for their types, silently.
    options = ["--ignore-missing-imports", "--follow-imports=silent"]
    extensions = mypycify([*options, *COMPILED], opt_level="3", group_name="e3gym_core")
    for ext in extensions:
        ext.optional = True  # no compiler: the pure-Python modules are installed and work the same
    return extensions


setup(ext_modules=ext_modules())
