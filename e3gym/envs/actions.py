"""One action check for every e3gym env: integers of the right shape inside the space, nothing else."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from gymnasium import spaces

from e3gym.errors import E3GymError


class ActionCheck:
    """Validates actions of a ``Discrete`` or ``MultiDiscrete`` space and returns them as Python ints.

    Accepted: a Python int or numpy integer scalar (``Discrete``), an integer numpy array, list or
    tuple of the space's shape (``MultiDiscrete``; a 0-d integer array for ``Discrete``). Refused with
    a one-line ``E3GymError`` (a ``ValueError``) naming the action, the space and the fault: floats (even ``1.0``),
    bools, other types, wrong shapes and values outside the space. ``names`` labels the
    ``MultiDiscrete`` components in errors (``("tier", "cut", "model")``).
    """

    __slots__ = ("space", "_shape", "_lo", "_hi", "_bounds", "_names", "_space_str")

    def __init__(self, space: spaces.Discrete | spaces.MultiDiscrete, names: Sequence[str] | None = None):
        if isinstance(space, spaces.Discrete):
            self._shape: tuple[int, ...] = ()
            self._lo, self._hi = [int(space.start)], [int(space.start + space.n)]
        elif isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
            self._shape = space.shape
            self._lo = [int(s) for s in space.start]
            self._hi = [int(s + n) for s, n in zip(space.start, space.nvec)]
        else:
            raise TypeError(f"ActionCheck needs a Discrete or 1-d MultiDiscrete space, got {space}")
        if names is not None and len(names) != len(self._lo):
            raise E3GymError(f"names must have {len(self._lo)} entries (one per component), got {list(names)!r}")
        self.space = space
        self._bounds = list(zip(self._lo, self._hi))
        self._names = list(names) if names else None
        self._space_str = " ".join(str(space).split())  # numpy may wrap a long nvec over lines

    def __call__(self, action) -> int | list[int]:
        """The action as an int (``Discrete``) or a list of ints (``MultiDiscrete``); ValueError otherwise."""
        # Fast path for what samplers, SB3 and agents pass: an integer array of the space's shape, a
        # list or tuple of Python ints, a Python int. Anything else, and any value outside the space,
        # goes through the general path (:meth:`checked`), which alone converts and words the errors.
        t = type(action)
        shape = self._shape
        if t is np.ndarray:
            if action.shape == shape and action.dtype.kind in "iu":
                values = action.tolist()  # Python ints (one for a 0-d array)
                if not shape:
                    if self._lo[0] <= values < self._hi[0]:
                        return values
                    return self.checked(action)
            else:
                return self.checked(action)
        elif shape and (t is list or t is tuple) and len(action) == shape[0]:
            values = list(action)
        elif t is int and not shape:
            if self._lo[0] <= action < self._hi[0]:
                return action
            return self.checked(action)
        else:
            return self.checked(action)
        for v, lo, hi in zip(values, self._lo, self._hi):
            if type(v) is not int or not lo <= v < hi:  # bool, numpy or float components: general path
                return self.checked(action)
        return values

    def checked(self, action) -> int | list[int]:
        """The general path of :meth:`__call__` (same result, same errors), for any input."""
        if type(action) is np.ndarray and action.dtype.kind in "iu" and action.shape == self._shape:
            values = action.tolist()
        else:
            values = self._to_ints(action)
        if self._shape:
            for i, (v, (lo, hi)) in enumerate(zip(values, self._bounds)):
                if not lo <= v < hi:
                    raise self._fail(action, f"{self._label(i)} = {v} is outside [{lo}, {hi})")
        elif not self._lo[0] <= values < self._hi[0]:
            raise self._fail(action, f"{values} is outside [{self._lo[0]}, {self._hi[0]})")
        return values

    def _to_ints(self, action) -> int | list[int]:
        if not self._shape:
            if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer, np.ndarray)):
                raise self._fail(action, f"expected an integer, got {type(action).__name__}")
            if isinstance(action, np.ndarray):
                what = f"shape {action.shape}" if action.shape != () else f"dtype {action.dtype}"
                raise self._fail(action, f"expected an integer (or 0-d integer array), got an array of {what}")
            return int(action)
        n = self._shape[0]
        if isinstance(action, np.ndarray):
            if action.shape != self._shape:
                raise self._fail(action, f"expected shape {self._shape}, got shape {action.shape}")
            raise self._fail(action, f"expected integers, got dtype {action.dtype}")
        if not isinstance(action, (list, tuple)):
            raise self._fail(action, f"expected {n} integers, got {type(action).__name__}")
        if len(action) != n:
            raise self._fail(action, f"expected {n} integers, got {len(action)}")
        for i, v in enumerate(action):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise self._fail(action, f"{self._label(i)} must be an integer, got {type(v).__name__} {v!r}")
        return [int(v) for v in action]

    def _fail(self, action, what: str) -> E3GymError:
        return E3GymError(f"action {action!r} is not valid for {self._space_str}: {what}")

    def _label(self, i: int) -> str:
        return f"component {i} ({self._names[i]})" if self._names else f"component {i}"

    def all_valid_mask(self) -> np.ndarray:
        """A mask allowing every action: ``n`` Trues for ``Discrete``, ``sum(nvec)`` for ``MultiDiscrete``
        (per-component masks concatenated, as sb3-contrib's MaskablePPO expects)."""
        return np.ones(sum(hi - lo for lo, hi in zip(self._lo, self._hi)), dtype=bool)
