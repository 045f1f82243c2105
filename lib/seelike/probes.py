"""Linear probes on every block's tokens: closed-form ridge regression, streamed.

At every block output: one probe per token position (paper Fig 11 averages their
accuracies over positions, D.4 maps them per position), a probe on the CLS token, and
probes on pooled tokens (Figs 11 and 13).

The probe follows the paper's text: regularised least squares onto {-1, 1} one-hot
targets, closed form, with an intercept (features centred on the training set;
:mod:`seelike.ridge`); the predicted class is the largest output. What the paper leaves
open we fix here:

* **Primal or dual.** With more examples than features (the 500-per-class probes of the
  ``cifar`` preset), nothing is stored per example: a fit over the ``probe_train`` set
  accumulates, per fold, the sufficient statistics n, Σx, ΣxxT, ΣxyT, Σy and Σ‖y‖² of
  every probe (one per token position, CLS or pooled representation, per block), so
  memory is folds × probes × d², whatever the number of examples. With fewer (the
  paper's 10-shot probes: 100 examples against widths of 192 to 2,048), the fit keeps
  the examples' features instead, n × d per probe, and solves the dual (kernel) form,
  n × n systems (:func:`seelike.ridge.kernel_ridge`): the same estimator, where the primal
  statistics of a BiT-R50's per-token probes would take tens of GB. A second pass over
  ``probe_test`` applies the fitted weights (:class:`seelike.analyses.ProbeEval`).
* **Regularisation** is chosen on the training set only, by
  :data:`seelike.analyses.FOLDS`-fold cross-validation: each fold's held-out squared error
  follows from the fold's own statistics (no stored features), for every λ of
  :data:`seelike.analyses.LAMBDAS`, each a multiple of trace(XcᵀXc)/d of the centred
  training features (so one grid serves every layer's scale). Folds are consecutive rounds
  of the class-balanced probe draw, so each fold holds the same number of examples per
  class. One λ per block and probe family: the per-token probes of a block share the λ with
  the smallest summed held-out error over an evenly spaced subset of at most
  :data:`~seelike.analyses.SELECTION_POSITIONS` positions (neighbouring tokens of one block
  have alike statistics, and the d × d solves per λ and fold are the cost of the fit).
* **Positions.** A layer with more than :data:`seelike.analyses.MAX_POSITIONS` positions (a
  ResNet's early stages) is probed on a regular sub-grid of at most that many, so the
  per-token average is over a uniform sample of the map.
* **Shots.** The paper's probes are 10-shot. The ``probe_train`` draw is class-balanced
  round-robin, so its first ``shots × classes`` examples are a ``shots``-shot set:
  ``shots`` below the preset's ``probe_train_per_class`` gives that prefix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from seelike.analyses import (
    KINDS,
    MAX_POSITIONS,
    SELECTION_POSITIONS,
    ProbeEval,
    ProbeFit,
    _Probes,
)
from seelike.localization import spatial_tokens
from seelike.passes import Analysis, Batch, Needs
from seelike.ridge import (
    Stats,
    check_finite,
    cross_validate,
    kernel_cross_validate,
    kernel_ridge,
    ridge,
    targets,
)
from seelike.taps import Tap
from seelike.tokens import token_layout

__all__ = [
    "ProbeEvalAccumulator",
    "ProbeFitAccumulator",
    "token_positions",
]


def token_positions(grid: tuple[int, int], max_positions: int | None = MAX_POSITIONS
                    ) -> tuple[np.ndarray, tuple[int, int]]:
    """Row-major indices of the probed positions of a ``grid``, and the sub-grid they form.

    All positions if there are at most ``max_positions``; otherwise every s-th row and
    column, starting s // 2 in so the sample is centred, with the smallest s that fits.
    """
    gh, gw = grid
    stride = 1
    if max_positions is not None:
        while math.ceil(gh / stride) * math.ceil(gw / stride) > max_positions:
            stride += 1
    start = stride // 2 if stride > 1 else 0
    rows, cols = np.arange(start, gh, stride), np.arange(start, gw, stride)
    return (rows[:, None] * gw + cols[None, :]).ravel(), (len(rows), len(cols))


def _features(output: torch.Tensor, kind: str, prefix: int,
              max_positions: int | None) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(b, probes, d)`` features of one probe family, and the probed grid for ``token``."""
    if kind == "cls":
        if output.ndim != 3 or prefix < 1:
            raise ValueError("a CLS-token probe needs a ViT with a class token")
        return output[:, :1], (1, 1)
    if kind == "gap_all":
        if output.ndim != 3:
            raise ValueError("'gap_all' pools a ViT's tokens; use 'gap' for a CNN")
        return output.mean(dim=1, keepdim=True), (1, 1)
    tokens, grid = spatial_tokens(output, prefix)
    if kind == "gap":
        return tokens.mean(dim=1, keepdim=True), (1, 1)
    if kind != "token":
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    index, sub = token_positions(grid, max_positions)
    if len(index) == tokens.shape[1]:
        # Every position: the same contiguous tensor as the gather, without its index kernel.
        return tokens.contiguous(), sub
    return tokens[:, torch.as_tensor(index, device=tokens.device)], sub


class _FoldAccumulator:
    """Per-fold :class:`Stats` of ``(b, G, d)`` features, summed on the features' device.

    float32 sums of features less a fixed offset (the mean of the first examples): the
    probe is translation invariant, and without the offset a large mean activation would
    cancel catastrophically in ΣxxT - n x̄x̄ᵀ. Halving the memory of float64 is what keeps
    the per-token statistics of every block of two ViTs in a few hundred MB.
    """

    def __init__(self, folds: int) -> None:
        self.folds = folds
        self.offset: torch.Tensor | None = None

    def update(self, x: torch.Tensor, y: torch.Tensor, fold: torch.Tensor) -> None:
        x = x.float()
        if self.offset is None:
            _, g, d = x.shape
            c, k = y.shape[1], self.folds
            self.offset = x[:16].mean(dim=0)
            zeros = functools.partial(torch.zeros, device=x.device)
            self.n = zeros(k, dtype=torch.float64)
            self.sx, self.sxx = zeros(k, g, d), zeros(k, g, d, d)
            self.sxy, self.sy, self.syy = zeros(k, g, d, c), zeros(k, c), zeros(k)
        # Probes first, each fold's examples one run (a stable sort keeps their order): every
        # fold is then a slice whose products read plain row-major matrices, not strided ones
        # that the batched product would copy first.
        order = torch.argsort(fold, stable=True)
        x = (x - self.offset).index_select(0, order).transpose(0, 1).contiguous()
        fold, y = fold[order], y.to(x)[order]
        start = 0
        for f, count in zip(*(t.tolist() for t in fold.unique_consecutive(return_counts=True)),
                            strict=True):
            xf, yf = x[:, start:start + count], y[start:start + count]  # (G, n_f, d)
            start += count
            self.n[f] += count
            self.sx[f] += xf.sum(dim=1)
            self.sxx[f] += xf.transpose(1, 2) @ xf
            self.sxy[f] += xf.transpose(1, 2) @ yf
            self.sy[f] += yf.sum(dim=0)
            self.syy[f] += (yf * yf).sum()

    def stats(self) -> Stats:
        return Stats(*(t.double().cpu().numpy() for t in (self.n, self.sx, self.sxx, self.sxy,
                                                         self.sy, self.syy)))


class _ExampleStore:
    """Every example's ``(b, G, d)`` features (less the same offset as :class:`_FoldAccumulator`),
    targets and fold, on the features' device: the input of the dual fit (module docstring).
    """

    def __init__(self, folds: int) -> None:
        self.folds = folds
        self.offset: torch.Tensor | None = None
        self._x: list[torch.Tensor] = []
        self._y: list[torch.Tensor] = []
        self._fold: list[torch.Tensor] = []

    def update(self, x: torch.Tensor, y: torch.Tensor, fold: torch.Tensor) -> None:
        x = x.float()
        if self.offset is None:
            self.offset = x[:16].mean(dim=0)
        self._x.append(x - self.offset)
        self._y.append(y.to(x.device))
        self._fold.append(fold)

    def examples(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features ``(G, n, d)`` and targets ``(n, C)`` in float64, folds ``(n,)``."""
        # Contiguous: the kernel products of strided (G, n, d) features run several times slower.
        x = torch.cat(self._x).double().transpose(0, 1).contiguous()
        return x, torch.cat(self._y).double(), torch.cat(self._fold)


class _ProbesAccumulator(_Probes, Analysis):
    """What fitting and evaluating share in a pass: each layer's features per probe family,
    and the labels as class indices."""

    def needs(self, model: str, net: nn.Module) -> Needs:
        # Each layer's features (at most a copy of its tap) are shared by the model's probes.
        taps = [Tap(layer) for layer in self.layers]
        return Needs(taps=taps, shared=taps)

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._prefix = token_layout(nets[self.model])[1]
        self._grid: dict[str, tuple[int, int]] = {}

    def _each(self, batch: Batch):
        """(layer index, kind, features) of every probe input in ``batch``."""
        for i, layer in enumerate(self.layers):
            out = batch.tap(self.model, Tap(layer))
            for kind in self.kinds:
                # Every probe of this model in the pass (each draw's) reads the same features.
                feats, grid = batch.shared(
                    ("probe features", self.model, layer, kind, self.max_positions),
                    lambda out=out, kind=kind: _features(out, kind, self._prefix,
                                                         self.max_positions))
                if kind == "token":
                    self._grid[layer] = grid
                yield i, kind, feats

    def _classes(self, batch: Batch) -> np.ndarray:
        """The minibatch's labels as class indices, 0 to ``classes - 1``."""
        labels = batch.labels
        if not self.class_ids:
            return labels
        index = {c: i for i, c in enumerate(self.class_ids)}
        unknown = sorted(set(labels.tolist()) - set(index))
        if unknown:
            raise ValueError(f"labels {unknown} are none of the probes' class_ids "
                             f"{self.class_ids}")
        return np.array([index[c] for c in labels.tolist()], dtype=np.int64)

    def _grids(self) -> np.ndarray:
        return np.array([self._grid.get(layer, (0, 0)) for layer in self.layers])


class ProbeFitAccumulator(ProbeFit, _ProbesAccumulator):
    """Fits a :class:`seelike.analyses.ProbeFit` in a pass: per-fold sums (primal form) or
    every example (dual form) per layer and family, solved at the end (module docstring)."""

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        super().begin(nets)
        self._acc: dict[tuple[int, str], _FoldAccumulator | _ExampleStore] = {}

    def update(self, batch: Batch) -> None:
        rows = np.arange(batch.start, batch.start + len(batch))
        y, fold = None, None
        for i, kind, feats in self._each(batch):
            if y is None:
                y = torch.from_numpy(targets(self._classes(batch), self.classes))
                # Consecutive rounds of the class-balanced draw: equal classes per fold.
                fold = torch.from_numpy((rows // self.classes) % self.folds).to(feats.device)
            if (i, kind) not in self._acc:
                dual = _keeps_examples(batch.total, feats.shape[-1])
                self._acc[(i, kind)] = (_ExampleStore if dual else _FoldAccumulator)(self.folds)
            acc = self._acc[(i, kind)]
            with torch.no_grad():
                acc.update(feats, y.to(feats.device), fold)

    def result(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"token_grid": self._grids()}
        for kind in self.kinds:
            chosen, cv = [], []
            for i in range(len(self.layers)):
                acc = self._acc[(i, kind)]
                errors, n, picked, w, b = self._fit(acc)
                best = int(np.argmin(errors))
                offset = acc.offset.double().cpu().numpy()
                out[f"{kind}_w{i}"] = w.astype(np.float32)
                out[f"{kind}_b{i}"] = (b - np.einsum("gd,gdc->gc", offset, w)).astype(np.float32)
                chosen.append(self.lambdas[best])
                cv.append(errors / (n * picked * self.classes))
            out[f"{kind}_lambda"], out[f"{kind}_cv"] = np.array(chosen), np.array(cv)
        return out

    def _fit(self, acc: _FoldAccumulator | _ExampleStore
             ) -> tuple[np.ndarray, float, int, np.ndarray, np.ndarray]:
        """One probe family of one layer, from its accumulated data read once: held-out
        squared error per λ (summed over the selection positions), the number of examples
        and of positions summed, and every probe's weights and intercepts at the best λ."""
        if isinstance(acc, _ExampleStore):
            x, y, fold = acc.examples()
            pick = _selection(x.shape[0])
            # Each checks its features are finite; kernel_ridge reads all of x, so no check here.
            what = f"the {self.model} probe features"
            errors = kernel_cross_validate(x[torch.as_tensor(pick, device=x.device)], y, fold,
                                           self.lambdas, what=what).sum(dim=1).cpu().numpy()
            w, b = kernel_ridge(x, y, self.lambdas[int(np.argmin(errors))], what=what)
            return errors, float(x.shape[1]), len(pick), w.cpu().numpy(), b.cpu().numpy()
        folds = acc.stats()
        check_finite(f"the {self.model} probe features", folds.sxx)
        pick = _selection(folds.sx.shape[1])
        errors = cross_validate(folds, self.lambdas, pick).sum(axis=1)
        total = folds.total()
        w, b = ridge(total, self.lambdas[int(np.argmin(errors))])
        return errors, float(total.n), len(pick), w, b


def _keeps_examples(examples: int, width: int) -> bool:
    """Whether a fit of ``examples`` inputs of ``width`` features takes the dual form: fewer
    examples than features, where n × d per probe is less than d² (module docstring)."""
    return examples < width


def _selection(probes: int) -> np.ndarray:
    """The evenly spaced positions (at most :data:`SELECTION_POSITIONS`) that choose λ."""
    return np.unique(np.linspace(0, probes - 1, min(probes, SELECTION_POSITIONS))
                     .round().astype(int))


class ProbeEvalAccumulator(ProbeEval, _ProbesAccumulator):
    """Scores a :class:`seelike.analyses.ProbeEval`'s fitted probes in a pass, counting hits
    on the pass's device."""

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        super().begin(nets)
        # Counts and weights stay on the pass's device: no read-back per minibatch.
        self._correct: dict[tuple[int, str], torch.Tensor] = {}
        self._weights: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}
        self._n = 0

    def _fitted(self, i: int, kind: str, device: torch.device
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if (i, kind) not in self._weights:
            self._weights[(i, kind)] = tuple(  # type: ignore[assignment]
                torch.from_numpy(self.fit[f"{kind}_{p}{i}"]).double().to(device)
                for p in ("w", "b"))
        return self._weights[(i, kind)]

    def update(self, batch: Batch) -> None:
        labels = torch.from_numpy(self._classes(batch))
        for i, kind, feats in self._each(batch):
            w, b = self._fitted(i, kind, feats.device)
            with torch.no_grad():
                scores = torch.einsum("ngd,gdc->ngc", feats.double(), w) + b
                hits = (scores.argmax(dim=-1) == labels.to(feats.device)[:, None]).sum(dim=0)
            self._correct[(i, kind)] = self._correct.get((i, kind), 0) + hits
        self._n += len(batch)

    def result(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"token_grid": self._grids()}
        for kind in self.kinds:
            acc = [self._correct[(i, kind)].cpu().numpy() / self._n
                   for i in range(len(self.layers))]
            if kind == "token":
                table = np.full((len(acc), max(len(a) for a in acc)), np.nan)
                for i, a in enumerate(acc):
                    table[i, :len(a)] = a
                out["token"], out["token_mean"] = table, np.nanmean(table, axis=1)
            else:
                out[kind] = np.array([a[0] for a in acc])
        return out
