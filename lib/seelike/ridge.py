"""Closed-form ridge regression onto class targets, primal and dual, with cross-validation.

The estimator of the linear probes (:mod:`seelike.probes`): regularised least squares onto
{-1, 1} one-hot targets, with an intercept (features centred on the training set), every
penalty a multiple of trace(XcᵀXc)/d of the centred training features so that one grid of
penalties serves every layer's scale. Two forms of the same estimator:

* **primal**, from sufficient statistics (:class:`Stats`: n, Σx, ΣxxT, ΣxyT, Σy, Σ‖y‖²),
  summed as examples stream past, d × d systems; cross-validation reads each fold's
  held-out error off the fold's own statistics, with no stored features;
* **dual** (kernel), from the examples' features, n × n systems, for fewer examples than
  features (:func:`kernel_ridge`, :func:`kernel_cross_validate`).

Many problems sharing their targets (one per token position, say) are solved as one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from seelike.bounds import LAMBDAS

__all__ = ["Stats", "check_finite", "cross_validate", "kernel_cross_validate",
           "kernel_ridge", "ridge", "squared_error", "statistics", "targets"]


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


def check_finite(what: str, values: np.ndarray | torch.Tensor) -> None:
    # A finite sum needs every entry finite (one read of the data, where the elementwise test
    # takes several); only a sum that overflows is checked entry by entry.
    if isinstance(values, torch.Tensor):
        finite = bool(torch.isfinite(values.sum())) or bool(torch.isfinite(values).all())
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.sum(values)
        finite = bool(np.isfinite(total)) or bool(np.all(np.isfinite(values)))
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
    system = _plus_diagonal(cov, penalty)
    w = _solve(system, np.broadcast_to(cross, system.shape[:-1] + cross.shape[-1:]))
    b = mean_y[..., None, :] - np.einsum("...gd,...gdc->...gc", mean_x, w)
    return w, b


def _plus_diagonal(cov: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """``cov + penalty[..., None, None] * I`` (broadcast), adding to the diagonal alone: the
    same numbers, without forming and adding the products with the identity's zeros."""
    d = cov.shape[-1]
    system = np.array(np.broadcast_to(cov, np.broadcast_shapes(cov.shape, (*penalty.shape, 1, 1))))
    flat = system.reshape(*system.shape[:-2], d * d)  # a view: system is a fresh C array
    flat[..., ::d + 1] += penalty[..., None]
    return system


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
    # k + penalty·I, adding to the diagonal alone (the same numbers, without the eye products)
    system = k.expand(torch.broadcast_shapes(k.shape, (*penalty.shape, 1, 1))).clone()
    system.diagonal(dim1=-2, dim2=-1).add_(penalty[..., None])
    a = torch.linalg.solve(system, yc.expand(*system.shape[:-1], yc.shape[-1]))
    return xc, mean_x, mean_y, a


def _shape(a: object) -> str:
    return str(tuple(a.shape)) if isinstance(a, torch.Tensor) else type(a).__name__


def _check_examples(x: object, y: object, fold: object | None = None, *,
                    what: str = "the probe features") -> None:
    """The dual fit's inputs: features ``(G, n, d)`` (``what``, in messages), targets
    ``(n, C)``, folds ``(n,)``."""
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
    check_finite(what, x)
    check_finite("the probe targets", y)


def kernel_ridge(x: torch.Tensor, y: torch.Tensor, lam: float, *,
                 what: str = "the probe features") -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`ridge`'s weights ``(G, d, C)`` and intercepts ``(G, C)``, from the examples.

    ``x`` is ``(G, n, d)`` (G probes of the same n examples), ``y`` ``(n, C)``; float64 on
    any device. The dual form costs n × n solves, for n below d. ``what`` names the
    features in the error raised when they are not finite.
    """
    _check_examples(x, y, what=what)
    _check_penalty(lam)
    xc, mean_x, mean_y, a = _dual(x, y, torch.tensor(float(lam), dtype=x.dtype,
                                                     device=x.device))
    w = xc.transpose(1, 2) @ a
    return w, mean_y - torch.einsum("gd,gdc->gc", mean_x, w)


def kernel_cross_validate(x: torch.Tensor, y: torch.Tensor, fold: torch.Tensor,
                          lambdas: Sequence[float] = LAMBDAS, *,
                          what: str = "the probe features") -> torch.Tensor:
    """:func:`cross_validate` from the examples: ``(len(lambdas), G)`` held-out squared error.

    ``fold`` ``(n,)`` numbers each example's fold; each fold is held out once, every
    penalty solved at once, and held-out predictions come from the kernel between held-out
    and training examples, so no weights are formed. As there, a fold that leaves nothing
    to train on adds nothing; fewer than 2 folds holding examples are refused. ``what``
    names the features in the error raised when they are not finite.
    """
    _check_examples(x, y, fold, what=what)
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
