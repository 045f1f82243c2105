"""Top-1 accuracy of a classifier as an analysis of the book's shared pass (Chapter 3).

Chapter 3 re-measures every zoo model on the CKA probe images; as a
:class:`seelike.passes.Analysis` that measurement rides on the one pass every model
makes over those images instead of a pass of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from seelike.hooks import Tap
from seelike.passes import Analysis, Batch, Needs


@dataclass(eq=False)
class Accuracy(Analysis):
    """Top-1 accuracy (%) of ``model`` on a probe set whose labels are ``labels`` (Chapter 3).

    A :class:`seelike.passes.Analysis`, so that re-measuring the zoo on the CKA probe
    images rides on the book's one pass over them instead of a pass of its own.
    """

    name: ClassVar[str] = "accuracy"
    model: str
    labels: np.ndarray

    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def params(self) -> dict[str, Any]:
        # The labels follow from the probe set's IDs, which the cache key holds.
        return {"model": self.model, "statistic": "top-1 accuracy (%)"}

    def needs(self, model: str, net: nn.Module) -> Needs:
        return Needs(taps=[Tap("")])  # the root module's output: the logits

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._correct = self._seen = 0

    def update(self, batch: Batch) -> None:
        logits = batch.tap(self.model, Tap(""))
        truth = torch.as_tensor(self.labels[batch.start:batch.start + len(batch)],
                                device=logits.device)
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
