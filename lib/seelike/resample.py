"""Bootstrap resampling for confidence intervals: the one home of the concern.

* :class:`PoissonMeans`: draws of per-example means accumulated while a pass streams the
  examples (the skip connections' norm ratios and cosines, :mod:`seelike.skips`): each draw
  weighs example i by c_i ~ Poisson(1), the streaming form of resampling with replacement,
  so the draws cost one small product per minibatch and no second pass;
* :func:`multinomial_weights` / :func:`weighted_means`: the same for per-example values
  already in hand (attention distances, receptive fields);
* :func:`bootstrap_means`: means over whole probe sets resampled with replacement
  (a statistic repeated on independently drawn probe sets).

Every draw comes from a fixed numpy seed, so a rebuild gives the same interval. CKA has
its own, linearised, form (:meth:`seelike.cka.MinibatchCKA.compute_bootstrap`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["PoissonMeans", "bootstrap_means", "multinomial_weights", "weighted_means"]


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


def multinomial_weights(n: int, draws: int, seed: int = 0) -> np.ndarray:
    """``(draws, n)``: how often each of ``n`` examples is taken in each bootstrap draw.

    Each row is a draw of ``n`` examples with replacement (a multinomial count).
    """
    if n < 1 or draws < 1:
        raise ValueError(f"need at least one example and one draw, got {n} and {draws}")
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=draws).astype(float)


def weighted_means(per_example: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(draws, ...)``: the mean of ``per_example`` ``(n, ...)`` under each row of weights."""
    x = np.asarray(per_example, dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(x):
        raise ValueError(f"weights must be (draws, {len(x)}), got {w.shape}")
    means = (w @ x.reshape(len(x), -1)) / w.sum(axis=1, keepdims=True)
    return means.reshape(len(w), *x.shape[1:])


def bootstrap_means(per_set: np.ndarray, draws: int, *, seed: int = 0) -> np.ndarray | None:
    """``(draws, ...)``: means over whole sets resampled with replacement; None with one set.

    ``per_set`` is ``(sets, ...)``, one entry per independently drawn probe set; each draw
    averages ``sets`` of them picked with replacement, as the estimate averages all of them,
    so a statistic of each draw varies as the statistic of the average does.
    """
    per_set = np.asarray(per_set)
    sets = len(per_set)
    if sets < 2:
        return None
    picks = np.random.default_rng(seed).integers(0, sets, size=(draws, sets))
    return np.stack([per_set[pick].mean(axis=0) for pick in picks])
