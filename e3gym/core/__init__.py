"""The system models: pure numpy, no Gymnasium, no torch.

One module per concept: ``cluster`` (the joint request timeline: ``serve`` and ``predict``),
``payload``, ``radio``, ``network``, ``workload``, ``readout`` (the joint envs' observation and info),
``profiles``, and the seed settings' models: ``cut_tables``
(Autodidactic Neurosurgeon's per-cut tables), ``partition`` (its partition system: the frame timeline,
``serve`` and ``predict``) and ``coinference`` (Yan, Bi, Zhang's device-edge co-inference over a fading
channel: splitting and placement).
"""
from __future__ import annotations

import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

# Compiled by setup.py with mypyc when a C compiler is there; the same source runs otherwise.
COMPILED = ("cluster", "network", "radio", "workload", "rng", "readout")


def compiled_modules() -> list[str]:
    """The core modules that run compiled in this installation (empty for a pure-Python install)."""
    import importlib

    return [name for name in COMPILED
            if not (importlib.import_module(f"e3gym.core.{name}").__file__ or "").endswith(".py")]


def _warn_if_stale() -> None:
    # An editable install compiles the core in place; a source edited since would be shadowed by its
    # older compiled module, so say so rather than silently run the old code.
    here = Path(__file__).parent
    if not (here.parent.parent / "pyproject.toml").exists():  # an installed wheel: built from its own source
        return
    for name in COMPILED:
        source = here / f"{name}.py"
        for suffix in EXTENSION_SUFFIXES:
            built = here / f"{name}{suffix}"
            if built.exists() and source.exists() and source.stat().st_mtime > built.stat().st_mtime:
                warnings.warn(f"{source} changed after it was compiled: {built.name} runs instead of the edit; "
                              f"rebuild with `pip install -e .` or delete {built}", stacklevel=2)


_warn_if_stale()
