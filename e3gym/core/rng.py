"""Buffered random draws: numpy's generator quality at a per-draw cost of a list index."""
from __future__ import annotations

import numpy as np
from mypy_extensions import mypyc_attr  # compiled by setup.py: lets its classes copy, pickle and be subclassed

_BLOCK = 1024


@mypyc_attr(allow_interpreted_subclasses=True, serializable=True)
class RandomStream:
    """Pre-draws blocks of standard variates from one generator, so a scalar draw costs ~100 ns.

    The sequence depends only on the generator's seed, so trajectories stay reproducible.
    """

    __slots__ = ("rng", "_u", "_ui", "_n", "_ni", "_e", "_ei")

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self._u: list[float] = []
        self._n: list[float] = []
        self._e: list[float] = []
        self._ui = self._ni = self._ei = 0

    def uniform(self) -> float:
        """A U[0, 1) draw."""
        if self._ui == len(self._u):
            self._u, self._ui = self.rng.random(_BLOCK).tolist(), 0
        self._ui += 1
        return self._u[self._ui - 1]

    def normal(self) -> float:
        """A standard normal draw."""
        if self._ni == len(self._n):
            self._n, self._ni = self.rng.standard_normal(_BLOCK).tolist(), 0
        self._ni += 1
        return self._n[self._ni - 1]

    def normal_triple(self) -> tuple[float, float, float]:
        """Three standard normal draws (the same values as three calls to :meth:`normal`)."""
        i = self._ni
        if i + 3 <= len(self._n):
            self._ni = i + 3
            n = self._n
            return n[i], n[i + 1], n[i + 2]
        return self.normal(), self.normal(), self.normal()

    def exponential(self) -> float:
        """A standard (mean 1) exponential draw."""
        if self._ei == len(self._e):
            self._e, self._ei = self.rng.standard_exponential(_BLOCK).tolist(), 0
        self._ei += 1
        return self._e[self._ei - 1]
