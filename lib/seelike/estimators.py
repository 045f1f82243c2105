"""Biased and unbiased minibatch CKA at several minibatch sizes, from one forward pass.

A check beyond the paper. Raghu et al. (2021) compute every CKA heatmap with minibatches of
1,024 and Song et al.'s unbiased HSIC_1, and report that minibatches down to 128 have no
noticeable effect. This module measures that, and what the biased HSIC_0 would have done,
without running the models once per size.

:class:`EstimatorCKAAccumulator` computes a :class:`seelike.analyses.EstimatorCKA`. The pass
runs each model once per minibatch of the largest size B and forms every layer's B x B Gram
matrix once. A smaller size b (a divisor of B) is the B / b consecutive b-example chunks of
that minibatch, whose Gram matrices are the diagonal b x b blocks of the big one
(:func:`chunk_grams`). The CKA at b is therefore what a pass in minibatches of b over the
same examples in the same order gives, both estimators come from the same Grams, and a probe
set of exactly B examples makes the largest size full-batch CKA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from seelike import catalogue
from seelike.analyses import EstimatorCKA
from seelike.cka import MinibatchCKA, transform_gram
from seelike.passes import Analysis, Batch, GramSpec, Needs
from seelike.taps import Tap, run_taps

ESTIMATORS = ("biased", "unbiased")

__all__ = ["ESTIMATORS", "EstimatorCKAAccumulator", "add_chunks", "chunk_grams", "layer_sizes",
           "mean_similarity", "similarity_summary"]


def chunk_grams(grams: torch.Tensor, size: int) -> torch.Tensor:
    """``(layers, n // size, size, size)`` Gram matrices of consecutive ``size``-example chunks.

    ``grams`` is ``(layers, n, n)``, each layer's Gram matrix of the same n examples. A chunk's
    Gram is a diagonal block: the inner products of its examples need no other example. The
    Grams may be of features translated by any common vector (e.g. centred over all n), since
    both HSIC estimators are translation invariant.
    """
    layers, n, n2 = grams.shape
    if n != n2:
        raise ValueError(f"grams must be (layers, n, n), got {tuple(grams.shape)}")
    if size < 1 or n % size:
        raise ValueError(f"{n} examples do not split into chunks of {size}")
    m = n // size
    # Block (c, c) of the (m x m) grid of size x size blocks; diagonal() puts the chunk last.
    blocks = grams.reshape(layers, m, size, m, size).diagonal(dim1=1, dim2=3)
    return blocks.permute(0, 3, 1, 2)


def add_chunks(acc: MinibatchCKA, grams: torch.Tensor, size: int) -> None:
    """Feed ``acc`` each consecutive ``size``-example chunk of ``grams``' examples as a minibatch.

    ``grams`` as for :func:`chunk_grams`; ``acc`` compares these layers with themselves
    (``num_a == num_b == layers``) with its own estimator. Every chunk costs one
    ``(layers, size^2) @ (size^2, layers)`` product, all layer pairs at once.
    """
    transformed = transform_gram(chunk_grams(grams, size), acc.unbiased)
    for chunk in transformed.unbind(dim=1):
        acc.update_transformed(chunk.flatten(1), None, size)


class EstimatorCKAAccumulator(EstimatorCKA, Analysis):
    """Computes an :class:`seelike.analyses.EstimatorCKA` in a pass.

    Memory: per pass minibatch of B examples, one float64 B x B Gram per layer (8 B^2 bytes
    each) besides the activations the pass holds, and while a size is transformed a few
    temporaries as large as those Grams (at size B; a smaller size b needs b / B of that).
    """

    def _specs(self, model: str) -> list[GramSpec]:
        # The biased transform H K H is the Gram of the features centred over the minibatch:
        # a translation, so its diagonal blocks serve both estimators (see chunk_grams).
        return [GramSpec(Tap(layer), self.tokens, False) for layer in self.layers[model]]

    def needs(self, model: str, net: nn.Module) -> Needs:
        return Needs(grams=self._specs(model))

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._acc = {(b, est): MinibatchCKA(self.num_layers, unbiased=est == "unbiased")
                     for b in self.batches for est in ESTIMATORS}

    def update(self, batch: Batch) -> None:
        if not batch.full:
            return
        n = len(batch)
        misfits = [b for b in self.batches if n % b]
        if misfits:
            raise ValueError(f"minibatch sizes {misfits} do not divide the pass's minibatch "
                             f"of {n}; run the pass in minibatches of {max(self.batches)}")
        grams = torch.cat([batch.grams(m, self._specs(m)) for m in self.models()])
        grams = grams.reshape(self.num_layers, n, n)
        for (size, _), acc in self._acc.items():
            add_chunks(acc, grams, size)

    def result(self) -> dict[str, np.ndarray]:
        """``biased`` and ``unbiased``: ``(len(batches), L, L)`` CKA; ``batches``: the sizes."""
        out = {est: np.stack([self._acc[b, est].compute() for b in self.batches])
               for est in ESTIMATORS}
        return {**out, "batches": np.asarray(self.batches)}


def layer_sizes(model_name: str, layers: Sequence[str], image_size: int) -> list[int]:
    """Features per example of each of ``layers`` (flattened), for the memory a pass needs.

    From a forward pass of model ``model_name`` on the meta device (built by its catalogue,
    :mod:`seelike.catalogue`): shapes only, no weights loaded and no arithmetic done.
    """
    net = catalogue.meta_build(model_name)
    x = torch.empty(1, 3, image_size, image_size, device="meta")
    taps = [Tap(layer) for layer in layers]
    got = run_taps(net, x, taps)
    return [got[t].shape[1:].numel() for t in taps]


def mean_similarity(matrix: np.ndarray, *, within: bool) -> float:
    """Mean CKA over layer pairs: distinct pairs (off-diagonal) if ``within``, else all entries.

    A within-model matrix's diagonal is 1 by construction and says nothing about the
    estimator; NaN entries (constant layers) are skipped.
    """
    m = np.asarray(matrix, dtype=float)
    if within:
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"a within-model matrix must be square, got {m.shape}")
        m = m[~np.eye(len(m), dtype=bool)]
    values = m[np.isfinite(m)]
    return float(values.mean()) if values.size else float("nan")


def similarity_summary(analysis: EstimatorCKA, matrix: np.ndarray) -> dict[str, float]:
    """Mean CKA of each model with itself (distinct layers) and of each pair of models.

    ``matrix`` is one ``(L, L)`` result matrix of ``analysis``; keys are a model's name, or
    ``"a × b"`` for a pair in the analysis's order.
    """
    names = analysis.models()
    out = {m: mean_similarity(analysis.block(matrix, m, m), within=True) for m in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            out[f"{a} × {b}"] = mean_similarity(analysis.block(matrix, a, b), within=False)
    return out
