"""Bootstrap draws of per-example means, accumulated while a pass streams the examples.

Serves the intervals of every claim whose statistic is built from means over probe
images (Chapter 6's norm ratios, paper Fig 7): each draw weighs example i by
c_i ~ Poisson(1), the streaming form of resampling the examples with replacement, so
the draws cost one small product per minibatch and no second pass. CKA has its own,
linearised, form (:meth:`seelike.cka.MinibatchCKA.compute_bootstrap`).
"""

from __future__ import annotations

import numpy as np


class PoissonMeans:
    """``draws`` resampled means of per-example arrays, fed one minibatch at a time."""

    def __init__(self, draws: int, seed: int = 0) -> None:
        if not isinstance(draws, int | np.integer) or isinstance(draws, bool) or draws < 1:
            raise ValueError(f"draws must be a positive int, got {draws!r}")
        self.draws = int(draws)
        self._rng = np.random.default_rng(seed)
        self._sums: np.ndarray | None = None
        self._weights = np.zeros(self.draws)

    def update(self, values: np.ndarray) -> None:
        """Add a minibatch: ``values`` is ``(examples, ...)``, one array per example."""
        values = np.asarray(values, dtype=float)
        weights = self._rng.poisson(1.0, (self.draws, len(values))).astype(float)
        sums = (weights @ values.reshape(len(values), -1)).reshape(self.draws, *values.shape[1:])
        self._sums = sums if self._sums is None else self._sums + sums
        self._weights += weights.sum(axis=1)

    def result(self) -> np.ndarray:
        """``(draws, ...)``: each draw's weighted mean over every example seen."""
        if self._sums is None:
            raise RuntimeError("PoissonMeans.result() called before any update()")
        shape = (self.draws,) + (1,) * (self._sums.ndim - 1)
        return self._sums / self._weights.reshape(shape)
