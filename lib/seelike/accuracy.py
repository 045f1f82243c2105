"""Top-1 accuracy of a classifier, measured as an analysis of a shared forward pass.

As a :class:`seelike.passes.Analysis`, the accuracy of a model on a probe set rides on
the one pass the model makes over those images for every other analysis of them,
instead of a pass of its own. :func:`accuracy_gap` compares two models image by image.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from seelike.analyses import Accuracy
from seelike.passes import Analysis, Batch, Needs
from seelike.taps import Tap

__all__ = ["AccuracyAccumulator", "accuracy_gap"]


class AccuracyAccumulator(Accuracy, Analysis):
    """Computes a :class:`seelike.analyses.Accuracy` in a pass, from the logits (the root
    module's output) and the minibatch's labels."""

    def needs(self, model: str, net: nn.Module) -> Needs:
        return Needs(taps=[Tap("")])  # the root module's output: the logits

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._correct = self._seen = 0

    def update(self, batch: Batch) -> None:
        logits = batch.tap(self.model, Tap(""))
        truth = torch.as_tensor(batch.labels, device=logits.device)
        self._correct += int((logits.argmax(1) == truth).sum())
        self._seen += len(batch)

    def result(self) -> dict[str, np.ndarray]:
        return {"accuracy": np.array(100.0 * self._correct / self._seen)}


def accuracy_gap(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Accuracy of ``a`` minus ``b`` in points, from per-image correctness on the same
    images (bool arrays), each image weighted by ``weights`` (e.g. a bootstrap draw's
    multinomial counts): a paired difference, resampled image by image.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"per-image correctness of one set of images each, got shapes "
                         f"{a.shape} and {b.shape}")
    w = np.ones_like(a) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != a.shape or not np.all(np.isfinite(w)) or (w < 0).any() or not w.sum() > 0:
        raise ValueError(f"weights must be {a.shape[0]} finite, non-negative numbers with a "
                         f"positive sum, got shape {w.shape}")
    return float(100.0 * np.sum(w * (a - b)) / np.sum(w))
