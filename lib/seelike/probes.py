"""Linear probes on every block's tokens: closed-form ridge regression, streamed.

At every block output: one probe per token position (paper Fig 11 averages their
accuracies over positions, D.4 maps them per position), a probe on the CLS token, and
probes on pooled tokens (Figs 11 and 13).

The probe follows the paper's text: regularised least squares onto {-1, 1} one-hot
targets, closed form, with an intercept (features centred on the training set); the
predicted class is the largest output. What the paper leaves open we fix here:

* **Primal or dual.** With more examples than features (the 500-per-class probes of the
  ``cifar`` preset), nothing is stored per example: a fit over the ``probe_train`` set
  accumulates, per fold, the sufficient statistics n, Σx, ΣxxT, ΣxyT, Σy and Σ‖y‖² of
  every probe (one per token position, CLS or pooled representation, per block), so
  memory is folds × probes × d², whatever the number of examples. With fewer (the
  paper's 10-shot probes: 100 examples against widths of 192 to 2,048), the fit keeps
  the examples' features instead, n × d per probe, and solves the dual (kernel) form,
  n × n systems (:func:`kernel_ridge`): the same estimator, where the primal statistics
  of a BiT-R50's per-token probes would take tens of GB. A second pass over
  ``probe_test`` applies the fitted weights (:class:`ProbeEval`).
* **Regularisation** is chosen on the training set only, by :data:`FOLDS`-fold
  cross-validation: each fold's held-out squared error follows from the fold's own
  statistics (no stored features), for every λ of :data:`LAMBDAS`, each a multiple of
  trace(XcᵀXc)/d of the centred training features (so one grid serves every layer's
  scale). Folds are consecutive rounds of the class-balanced probe draw, so each fold
  holds the same number of examples per class. One λ per block and probe family: the
  per-token probes of a block share the λ with the smallest summed held-out error over
  an evenly spaced subset of at most :data:`SELECTION_POSITIONS` positions (neighbouring
  tokens of one block have alike statistics, and the d × d solves per λ and fold are
  the cost of the fit).
* **Positions.** A layer with more than :data:`MAX_POSITIONS` positions (a ResNet's
  early stages) is probed on a regular sub-grid of at most that many, so the per-token
  average is over a uniform sample of the map.
* **Shots.** The paper's probes are 10-shot. The ``probe_train`` draw is class-balanced
  round-robin, so its first ``shots × classes`` examples are a ``shots``-shot set:
  ``shots`` below the preset's ``probe_train_per_class`` gives that prefix.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

from seelike import catalogue
from seelike.hooks import Tap, token_layout
from seelike.localization import spatial_tokens
from seelike.passes import Analysis, Batch, Needs

__all__ = [
    "FOLDS",
    "KINDS",
    "LAMBDAS",
    "MAX_POSITIONS",
    "ProbeEval",
    "ProbeFit",
    "Stats",
    "cross_validate",
    "kernel_cross_validate",
    "kernel_ridge",
    "probe_kinds",
    "ridge",
    "squared_error",
    "statistics",
    "targets",
    "token_positions",
]

#: ridge penalties, as multiples of trace(XcᵀXc)/d: from nearly unregularised to strong
LAMBDAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
FOLDS = 3
SELECTION_POSITIONS = 4
MAX_POSITIONS = 64
#: probe families: every position separately, the CLS token, the mean of the spatial
#: tokens (a ResNet's global average pool), the mean of all tokens with CLS (Fig 11b)
KINDS = ("token", "cls", "gap", "gap_all")


def targets(labels: np.ndarray, classes: int) -> np.ndarray:
    """``(n, classes)`` float64 targets: +1 for the label, -1 elsewhere (the paper's {-1, 1})."""
    labels = np.asarray(labels)
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= classes:
        raise ValueError(f"labels must lie in 0..{classes - 1}")
    y = -np.ones((len(labels), classes))
    y[np.arange(len(labels)), labels] = 1.0
    return y


class Stats(NamedTuple):
    """Sufficient statistics of ``G`` ridge problems sharing their targets.

    Shapes, after optional leading axes (e.g. folds): ``n`` (), ``sx`` (G, d), ``sxx``
    (G, d, d), ``sxy`` (G, d, C), ``sy`` (C,), ``syy`` ().
    """

    n: np.ndarray
    sx: np.ndarray
    sxx: np.ndarray
    sxy: np.ndarray
    sy: np.ndarray
    syy: np.ndarray

    def total(self) -> Stats:
        """The statistics of all folds together (the sum over the leading axis)."""
        return Stats(*(a.sum(axis=0) for a in self))

    def without(self, fold: int) -> Stats:
        """The statistics of every fold but ``fold``."""
        return Stats(*(a.sum(axis=0) - a[fold] for a in self))

    def fold(self, fold: int) -> Stats:
        return Stats(*(a[fold] for a in self))


def statistics(x: np.ndarray, y: np.ndarray) -> Stats:
    """The :class:`Stats` of features ``x`` (n, G, d) and targets ``y`` (n, C), in float64."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return Stats(np.array(float(len(x))), x.sum(0), np.einsum("ngd,nge->gde", x, x),
                 np.einsum("ngd,nc->gdc", x, y), y.sum(0), np.array((y * y).sum()))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a⁻¹ b`` for a batch of systems, in float64.

    torch's batched LU: on the many small systems of a cross-validated fit it is several
    times faster than numpy's per-matrix solve or torch's batched Cholesky on a CPU.
    """
    return torch.linalg.solve(torch.from_numpy(np.array(a)), torch.from_numpy(np.array(b))).numpy()


def _check_penalty(lam: object) -> None:
    values = np.asarray(lam, dtype=float) if not isinstance(lam, torch.Tensor) else (
        lam.detach().cpu().numpy())
    if values.size == 0 or not np.all(np.isfinite(values)) or not np.all(values > 0):
        raise ValueError(f"lam={lam!r}: the ridge penalty must be finite and positive (a "
                         f"multiple of trace/d, e.g. one of {LAMBDAS})")


def _check_finite(what: str, values: np.ndarray | torch.Tensor) -> None:
    finite = (torch.isfinite(values).all().item() if isinstance(values, torch.Tensor)
              else bool(np.all(np.isfinite(values))))
    if not finite:
        raise ValueError(f"{what} holds NaN or infinite values: a probe fitted on them would "
                         "report chance accuracy without a word; check the layer's activations")


def ridge(s: Stats, lam: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(..., G, d, C)`` and intercepts ``(..., G, C)`` of ridge regression.

    Minimises ‖Y − XW − 1bᵀ‖² + λ‖W‖² with λ = ``lam`` × trace(XcᵀXc)/d, Xc the centred
    features: W = (XcᵀXc + λI)⁻¹ XcᵀYc and b = ȳ − Wᵀx̄. ``lam`` broadcasts against the
    ``(..., G)`` problems, so several penalties can be solved at once (a leading λ axis
    of size 1 in ``s``). A problem whose features are constant gets W = 0.
    """
    n = np.asarray(s.n, dtype=float)
    if (n < 1).any():
        raise ValueError("ridge needs at least one example")
    _check_penalty(lam)
    mean_x = s.sx / n[..., None, None]
    mean_y = s.sy / n[..., None]
    cov = s.sxx - n[..., None, None, None] * mean_x[..., :, None] * mean_x[..., None, :]
    cross = s.sxy - n[..., None, None, None] * mean_x[..., :, None] * mean_y[..., None, None, :]
    d = cov.shape[-1]
    scale = np.trace(cov, axis1=-2, axis2=-1) / d
    penalty = np.asarray(lam, dtype=float) * scale
    # A constant feature block has zero scale: any positive penalty gives its W = 0.
    penalty = np.where(scale > 0, penalty, 1.0)
    system = cov + penalty[..., None, None] * np.eye(d)
    w = _solve(system, np.broadcast_to(cross, system.shape[:-1] + cross.shape[-1:]))
    b = mean_y[..., None, :] - np.einsum("...gd,...gdc->...gc", mean_x, w)
    return w, b


def squared_error(w: np.ndarray, b: np.ndarray, s: Stats) -> np.ndarray:
    """``(..., G)`` summed squared error ‖Y − XW − 1bᵀ‖² of each probe on the examples of ``s``.

    Expanded so that it needs only the statistics of those examples.
    """
    xw_y = np.einsum("...gdc,...gdc->...g", w, s.sxy)
    wxxw = np.einsum("...gdc,...gdc->...g", w, s.sxx @ w)
    xw = np.einsum("...gd,...gdc->...gc", s.sx, w)
    return (s.syy[..., None] - 2 * xw_y - 2 * np.einsum("...gc,...c->...g", b, s.sy) + wxxw
            + 2 * (b * xw).sum(-1) + np.asarray(s.n, dtype=float)[..., None] * (b * b).sum(-1))


def cross_validate(folds: Stats, lambdas: Sequence[float] = LAMBDAS,
                   groups: np.ndarray | None = None) -> np.ndarray:
    """``(len(lambdas), G')`` held-out squared error per λ, summed over folds.

    ``folds`` has a leading fold axis; each fold is held out once and the probe is fitted
    on the others, all penalties of one fold in one batched solve. ``groups`` (indices)
    restricts the work to some of the problems.
    """
    if groups is not None:
        folds = folds._replace(sx=folds.sx[:, groups], sxx=folds.sxx[:, groups],
                               sxy=folds.sxy[:, groups])
    k = int((np.asarray(folds.n) > 0).sum())
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds holding examples, got {k}: "
                         "with nothing held out every penalty scores 0; draw at least two "
                         "rounds (2 shots a class)")
    lam = np.asarray(lambdas, dtype=float)[:, None]
    errors = np.zeros((len(lam), folds.sx.shape[1]))
    for f in range(len(folds.n)):
        train, held = folds.without(f), folds.fold(f)
        if float(held.n) == 0 or float(train.n) == 0:
            continue
        w, b = ridge(Stats(*(a[None] for a in train)), lam)
        errors += squared_error(w, b, Stats(*(a[None] for a in held)))
    return errors


# ---- the dual (kernel) form, for fewer examples than features ------------------------------


def _dual(x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centred features ``(G, m, d)``, their means ``(G, d)``, the targets' mean ``(C,)`` and
    the dual coefficients ``(..., G, m, C)`` of ridge regression of ``y`` on ``x``.

    A = (XcXcᵀ + λ·trace(XcXcᵀ)/d · I)⁻¹ Yc, so that W = XcᵀA is :func:`ridge`'s
    (XcᵀXc + λ·trace/d · I)⁻¹ XcᵀYc: trace(XcᵀXc) = trace(XcXcᵀ), and a constant feature
    block (zero trace) gets penalty 1 and hence W = 0, as there.
    """
    mean_x, mean_y = x.mean(dim=1), y.mean(dim=0)
    xc, yc = x - mean_x[:, None], y - mean_y
    k = xc @ xc.transpose(1, 2)
    scale = k.diagonal(dim1=-2, dim2=-1).sum(-1) / x.shape[-1]
    penalty = torch.where(scale > 0, lam * scale, torch.ones_like(lam * scale))
    system = k + penalty[..., None, None] * torch.eye(k.shape[-1], dtype=k.dtype,
                                                      device=k.device)
    a = torch.linalg.solve(system, yc.expand(*system.shape[:-1], yc.shape[-1]))
    return xc, mean_x, mean_y, a


def _shape(a: object) -> str:
    return str(tuple(a.shape)) if isinstance(a, torch.Tensor) else type(a).__name__


def _check_examples(x: object, y: object, fold: object | None = None) -> None:
    """The dual fit's inputs: features ``(G, n, d)``, targets ``(n, C)``, folds ``(n,)``."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError(f"x must be a (probes, examples, features) tensor, got {_shape(x)}")
    if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[0] != x.shape[1]:
        raise ValueError(f"y must be an (examples, classes) tensor with {x.shape[1]} rows, got "
                         f"{_shape(y)}")
    if fold is not None and (not isinstance(fold, torch.Tensor) or fold.shape != (x.shape[1],)):
        raise ValueError(f"fold must be an ({x.shape[1]},) tensor of fold numbers, got "
                         f"{_shape(fold)}")
    if x.shape[1] < 2:
        raise ValueError(f"a fit needs at least 2 examples, got {x.shape[1]}")
    _check_finite("the probe features", x)
    _check_finite("the probe targets", y)


def kernel_ridge(x: torch.Tensor, y: torch.Tensor, lam: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`ridge`'s weights ``(G, d, C)`` and intercepts ``(G, C)``, from the examples.

    ``x`` is ``(G, n, d)`` (G probes of the same n examples), ``y`` ``(n, C)``; float64 on
    any device. The dual form costs n × n solves, for n below d.
    """
    _check_examples(x, y)
    _check_penalty(lam)
    xc, mean_x, mean_y, a = _dual(x, y, torch.tensor(float(lam), dtype=x.dtype,
                                                     device=x.device))
    w = xc.transpose(1, 2) @ a
    return w, mean_y - torch.einsum("gd,gdc->gc", mean_x, w)


def kernel_cross_validate(x: torch.Tensor, y: torch.Tensor, fold: torch.Tensor,
                          lambdas: Sequence[float] = LAMBDAS) -> torch.Tensor:
    """:func:`cross_validate` from the examples: ``(len(lambdas), G)`` held-out squared error.

    ``fold`` ``(n,)`` numbers each example's fold; each fold is held out once, every
    penalty solved at once, and held-out predictions come from the kernel between held-out
    and training examples, so no weights are formed. As there, a fold that leaves nothing
    to train on adds nothing; fewer than 2 folds holding examples are refused.
    """
    _check_examples(x, y, fold)
    _check_penalty(list(lambdas))
    if len(fold.unique()) < 2:
        raise ValueError(f"cross-validation needs at least 2 folds holding examples, got "
                         f"{len(fold.unique())}: with nothing held out every penalty scores 0; "
                         "draw at least two rounds (2 shots a class)")
    lam = torch.tensor(list(lambdas), dtype=x.dtype, device=x.device)[:, None]
    errors = torch.zeros(len(lam), x.shape[0], dtype=x.dtype, device=x.device)
    for f in fold.unique().tolist():
        held = fold == f
        if held.all():
            continue
        xc, mean_x, mean_y, a = _dual(x[:, ~held], y[~held], lam)
        cross = (x[:, held] - mean_x[:, None]) @ xc.transpose(1, 2)  # (G, h, m)
        residual = y[held] - (cross @ a + mean_y)  # (L, G, h, C)
        errors += (residual * residual).sum(dim=(-1, -2))
    return errors


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
        x = x - self.offset
        y = y.to(x)
        for f in fold.unique().tolist():
            rows = fold == f
            xf, yf = x[rows].transpose(0, 1), y[rows]  # (G, n_f, d)
            self.n[f] += int(rows.sum())
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
        x = torch.cat(self._x).double().transpose(0, 1)
        return x, torch.cat(self._y).double(), torch.cat(self._fold)


def _digest(labels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(labels, dtype="<i8").tobytes()).hexdigest()


@dataclass(eq=False)
class _Probes(Analysis):
    """What fitting and evaluating share: the model, its layers and the probe families."""

    model: str
    labels: np.ndarray = field(repr=False)
    layers: tuple[str, ...]
    kinds: tuple[str, ...]
    classes: int = 10
    max_positions: int | None = MAX_POSITIONS

    def __post_init__(self) -> None:
        self.layers, self.kinds = tuple(self.layers), tuple(self.kinds)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds or not self.layers:
            raise ValueError(f"need layers and kinds among {KINDS}, got {self.kinds}")

    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def _params(self) -> dict[str, Any]:
        return {"model": self.model, "layers": list(self.layers), "kinds": list(self.kinds),
                "classes": self.classes, "max_positions": self.max_positions,
                "labels": _digest(self.labels)}

    def needs(self, model: str, net: nn.Module) -> Needs:
        return Needs(taps=[Tap(layer) for layer in self.layers])

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._prefix = token_layout(nets[self.model])[1]
        self._grid: dict[str, tuple[int, int]] = {}

    def _each(self, batch: Batch):
        """(layer index, kind, features) of every probe input in ``batch``."""
        if batch.start + len(batch) > len(self.labels):
            raise ValueError(f"{len(self.labels)} labels for a probe set of at least "
                             f"{batch.start + len(batch)} examples")
        for i, layer in enumerate(self.layers):
            out = batch.tap(self.model, Tap(layer))
            for kind in self.kinds:
                feats, grid = _features(out, kind, self._prefix, self.max_positions)
                if kind == "token":
                    self._grid[layer] = grid
                yield i, kind, feats

    def _grids(self) -> np.ndarray:
        return np.array([self._grid.get(layer, (0, 0)) for layer in self.layers])


@dataclass(eq=False)
class ProbeFit(_Probes):
    """Ridge probes of every block and probe family of ``model``, fitted on one probe set.

    A :class:`seelike.passes.Analysis` (cache folder ``probe_fit``) for the ``probe_train``
    set; ``labels`` are that set's labels in order. The result holds, per kind and layer
    index i, ``{kind}_w{i}`` (probes, d, classes) and ``{kind}_b{i}`` (probes, classes) for
    raw features, ``{kind}_lambda`` (layers,) the chosen multiple of trace/d,
    ``{kind}_cv`` (layers, lambdas) the held-out mean squared error per target entry,
    and ``token_grid`` (layers, 2) the probed sub-grid. See the module docstring.
    """

    name: ClassVar[str] = "probe_fit"
    folds: int = FOLDS
    lambdas: tuple[float, ...] = LAMBDAS

    def params(self) -> dict[str, Any]:
        return {**self._params(), "folds": self.folds, "lambdas": list(self.lambdas),
                "selection_positions": SELECTION_POSITIONS,
                "probe": "ridge onto {-1,1} one-hot, intercept, lambda by k-fold CV"}

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        super().begin(nets)
        self._acc: dict[tuple[int, str], _FoldAccumulator | _ExampleStore] = {}

    def update(self, batch: Batch) -> None:
        rows = np.arange(batch.start, batch.start + len(batch))
        y, fold = None, None
        for i, kind, feats in self._each(batch):
            if y is None:
                y = torch.from_numpy(targets(self.labels[rows], self.classes))
                # Consecutive rounds of the class-balanced draw: equal classes per fold.
                fold = torch.from_numpy((rows // self.classes) % self.folds).to(feats.device)
            if (i, kind) not in self._acc:
                dual = _keeps_examples(len(self.labels), feats.shape[-1])
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
            _check_finite(f"the {self.model} probe features", x)
            pick = _selection(x.shape[0])
            errors = kernel_cross_validate(x[torch.as_tensor(pick, device=x.device)], y, fold,
                                           self.lambdas).sum(dim=1).cpu().numpy()
            w, b = kernel_ridge(x, y, self.lambdas[int(np.argmin(errors))])
            return errors, float(x.shape[1]), len(pick), w.cpu().numpy(), b.cpu().numpy()
        folds = acc.stats()
        _check_finite(f"the {self.model} probe features", folds.sxx)
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


@dataclass(eq=False)
class ProbeEval(_Probes):
    """Test accuracy of fitted probes (:class:`ProbeFit`'s result ``fit``) on a probe set.

    A :class:`seelike.passes.Analysis` (cache folder ``probe_eval``) for ``probe_test``;
    ``fit_id`` names the fit (the digest of its cache key) so that the cache key changes
    with the weights. Result: ``token`` (layers, positions) per-position accuracy, NaN
    beyond a layer's probed grid ``token_grid``; ``token_mean`` (layers,); and one
    (layers,) array per pooled kind (``cls``, ``gap``, ``gap_all``).
    """

    name: ClassVar[str] = "probe_eval"
    fit: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    fit_id: str = ""

    def params(self) -> dict[str, Any]:
        return {**self._params(), "fit": self.fit_id, "statistic": "top-1 accuracy"}

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
        labels = torch.from_numpy(self.labels[batch.start:batch.start + len(batch)])
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


# ---- which probes apply -------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def probe_kinds(model_name: str) -> tuple[str, ...]:
    """The probe families that apply to model ``model_name`` (:mod:`seelike.catalogue`).

    Every model: ``token`` and ``gap``; a ViT with a class token adds ``cls`` and
    ``gap_all``. Read from the architecture built on the meta device (no weights).
    """
    has_class = token_layout(catalogue.meta_build(model_name))[2]
    return ("token", "cls", "gap", "gap_all") if has_class else ("token", "gap")
