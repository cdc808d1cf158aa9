"""The errors e3gym raises for bad input: one base, so a caller can catch e3gym's and nothing else.

Every subclass message names the file, field or argument at fault, on one line. ``E3GymError`` is a
``ValueError``, so code written against plain ``ValueError`` keeps working.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class E3GymError(ValueError):
    """Bad input to e3gym (a file, a field, an argument); the message says which and why."""


class DependencyNotInstalled(ImportError):
    """An optional package a feature needs is missing; the message gives the install command."""


def writable_dir(path, argument: str):
    """Create the folder ``path`` if needed; E3GymError naming ``argument`` when it cannot be."""
    from pathlib import Path
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise E3GymError(f"{argument} {path}: cannot create the folder: {err.strerror}") from None
    return path


def require(module: str, extra: str, feature: str):
    """Import ``module``, or raise :class:`DependencyNotInstalled` naming the extra that provides it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if err.name is not None and not module.startswith(err.name):
            raise  # the package is there but one of its own imports failed: show that
        raise DependencyNotInstalled(f"{feature} needs {module.split('.')[0]}: pip install \"e3gym[{extra}]\"") from None


def did_you_mean(name: str, allowed: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` when ``name`` is a near miss of one of ``allowed``, else ``""``."""
    close = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
