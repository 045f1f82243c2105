"""Linear centred kernel alignment (CKA), full-batch and minibatch.

The similarity index of every CKA figure of Raghu et al. (2021), "Do Vision Transformers See
Like Convolutional Neural Networks?": full-batch CKA of two layers' features
(:func:`linear_cka`) and minibatch CKA between every layer of two models
(:class:`MinibatchCKA`).

Two HSIC estimators are offered:

* biased, HSIC_0 (Kornblith et al. 2019): ``tr(K H L H) / (n - 1)^2`` with ``H = I - 11^T / n``;
* unbiased, HSIC_1 (Song et al. 2012), the one the paper uses with minibatches
  (Nguyen, Raghu & Kornblith 2021).

Both are written as a Frobenius inner product ``<T(K), T(L)> / c(n)`` of transformed Gram
matrices: ``T(K) = HKH`` for HSIC_0 and the U-centred ``K`` of Szekely & Rizzo (2014) for
HSIC_1. That is what lets :class:`MinibatchCKA` get every layer pair of a minibatch from one
matrix product.

Numerics: the Grams come from :mod:`seelike.grams` (float32 after a common offset, re-formed
exactly in float64 where float32 would underflow or overflow); everything after them is
float64. Against a float64 reference the error is about 1e-9 on real networks. On an
accelerator no value is read back to the host per minibatch: sums stay on the device, and NaN
or inf features are reported once, by :meth:`MinibatchCKA.compute`. On the CPU each
minibatch is checked as it comes.

Both estimators are ratios of sums of rounded numbers: the unbiased one can be slightly
negative for unrelated features, and a layer compared with itself can read 1 plus or minus a
few units in the last place (``1.0000000000000002``), not exactly 1.

Bad inputs (lists, complex or object arrays, arrays with no examples or no features, NaN or
inf) raise ``TypeError`` or ``ValueError`` naming the argument; nothing is silently converted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from seelike.bounds import check_bootstrap, check_flag
from seelike.grams import Features, as_matrix, grams

__all__ = ["MinibatchCKA", "cka_of_grams", "gram_linear", "hsic", "linear_cka", "transform_gram",
           "transformed_grams"]


def _check_features(named: Mapping[str, Features]) -> None:
    """Raise unless every value is a real tensor or array of ``(n, ...)`` features, same ``n``.

    Keys name the arguments in the messages. Runs before any arithmetic, so a bad call leaves
    no partial sums behind.
    """
    for name, x in named.items():
        if not isinstance(x, torch.Tensor | np.ndarray):
            raise TypeError(f"{name} must be a torch.Tensor or numpy array of (n, ...) features, "
                            f"got {type(x).__name__}; convert it with np.asarray({name})")
        if x.is_complex() if isinstance(x, torch.Tensor) else x.dtype.kind == "c":
            raise TypeError(f"{name} is complex ({x.dtype}); CKA needs real features: pass "
                            f"{name}.real, or abs({name}), explicitly")
        if isinstance(x, np.ndarray) and x.dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {x.dtype}, not numbers; CKA needs bool, integer "
                            f"or float features, e.g. {name}.astype(np.float32)")
        if x.ndim == 0:
            raise ValueError(f"{name} must have a leading example axis, got a scalar")
        if x.shape[0] == 0 or math.prod(x.shape[1:]) == 0:
            what = "examples" if x.shape[0] == 0 else "features"
            raise ValueError(f"{name} has no {what}: shape {tuple(x.shape)}; CKA needs (n, ...) "
                             f"features with n >= 2 examples and at least one feature each")
    _check_same_n(dict(named))


def gram_linear(x: Features) -> torch.Tensor:
    """Centred linear-kernel Gram matrix ``H X X^T H`` of ``(n, ...)`` features, in float64.

    Features are flattened per example and multiplied on ``x``'s device in float32 (float64 for
    float64 input), after removing their common offset so that float32 stays accurate.
    """
    _check_features({"x": x})
    with torch.no_grad():
        return transform_gram(grams({"x": as_matrix(x, "x")})[0], unbiased=False)


def _check_n(n: int, unbiased: bool) -> None:
    if unbiased and n < 4:
        raise ValueError(f"the unbiased HSIC estimator needs at least 4 examples, got {n}")
    if n < 2:
        raise ValueError(f"HSIC needs at least 2 examples, got {n}")


def transform_gram(k: torch.Tensor, unbiased: bool) -> torch.Tensor:
    """``T(K)`` such that HSIC(K, L) = <T(K), T(L)> / c(n), for ``(..., n, n)`` Grams K.

    Double centring (biased HSIC_0) or U-centring (unbiased HSIC_1); see
    :func:`_normaliser` for c(n). Leading axes are batch axes, so a stack of Grams (the
    chunks of one Gram matrix, say) is transformed in one call.
    """
    n = k.shape[-1]
    if not unbiased:
        row_mean = k.mean(dim=-2)
        return (k - row_mean[..., :, None] - row_mean[..., None, :]
                + row_mean.mean(dim=-1)[..., None, None])
    # U-centring: Song et al.'s trace, sum and cross terms all come out of expanding
    # <U(K), U(L)>, which is why a Frobenius product reproduces HSIC_1 exactly.
    k = k.clone()
    k.diagonal(dim1=-2, dim2=-1).zero_()
    row_sum = k.sum(dim=-2)
    u = (k - (row_sum[..., :, None] + row_sum[..., None, :]) / (n - 2)
         + row_sum.sum(dim=-1)[..., None, None] / ((n - 1) * (n - 2)))
    u.diagonal(dim1=-2, dim2=-1).zero_()
    return u


def _normaliser(n: int, unbiased: bool) -> float:
    return float(n * (n - 3)) if unbiased else float((n - 1) ** 2)


def hsic(k_x: Features, k_y: Features, *, unbiased: bool = False) -> float:
    """HSIC of two ``(n, n)`` Gram matrices K = ``k_x`` and L = ``k_y`` of any kernel, in float64.

    ``unbiased=False`` gives HSIC_0 = tr(KHLH) / (n - 1)^2 (Kornblith et al. 2019);
    ``unbiased=True`` gives Song et al.'s (2012) HSIC_1.
    """
    _check_features({"k_x": k_x})
    _check_features({"k_y": k_y})
    check_flag(unbiased, "unbiased")
    kx = as_matrix(k_x, "k_x").double()
    ky = as_matrix(k_y, "k_y").double().to(kx.device)
    if kx.shape != ky.shape or kx.shape[0] != kx.shape[1]:
        raise ValueError(f"k_x and k_y must be equal square matrices, got {tuple(k_x.shape)} "
                         f"and {tuple(k_y.shape)}")
    n = kx.shape[0]
    _check_n(n, unbiased)
    inner = (transform_gram(kx, unbiased) * transform_gram(ky, unbiased)).sum()
    return inner.item() / _normaliser(n, unbiased)


def transformed_grams(named: Mapping[str, Features], *, unbiased: bool) -> torch.Tensor:
    """``(layers, n^2)`` float64 flattened T(K) of each layer's minibatch, on its device.

    The per-layer half of :class:`MinibatchCKA`: compute it once per model and minibatch
    and feed it to :meth:`MinibatchCKA.update_transformed` for every pair the model is in
    (:func:`seelike.compare.cka_matrices`). Keys name the layers in error messages.
    """
    if not named:
        raise ValueError("named holds no layers")
    _check_features(named)
    check_flag(unbiased, "unbiased")
    _check_n(next(iter(named.values())).shape[0], unbiased)
    with torch.no_grad():
        k = grams(named)
        return transform_gram(k, unbiased).flatten(1)


def _check_same_n(named: dict[str, Features]) -> None:
    """Raise unless every array has the same number of examples (leading axis)."""
    (first, x), *rest = named.items()
    for name, y in rest:
        if tuple(x.shape[:1]) != tuple(y.shape[:1]):
            raise ValueError(f"{first} and {name} have different numbers of examples: "
                             f"shapes {tuple(x.shape)} and {tuple(y.shape)}")


def _undefined_warning(names: list[str]) -> None:
    warnings.warn(
        f"CKA is undefined, and reported as NaN, for features with zero self-HSIC over all "
        f"examples (a constant layer, say): {', '.join(names)}",
        RuntimeWarning,
        stacklevel=3,
    )


def linear_cka(x: Features, y: Features, *, unbiased: bool = False) -> float:
    """Linear CKA between ``(n, ...)`` features ``x`` and ``y`` of the same ``n`` examples.

    CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear Gram matrices K and L, the
    similarity index of every CKA figure of the paper (Figs 1, 2, 5, 8, 9, 12, H.1).
    Returns NaN, with a warning, if either side has zero variance.

    The biased estimator lies in [0, 1]. The unbiased one (``unbiased=True``) is not a cosine
    of two Gram matrices but of their U-centred versions, and can come out slightly negative
    for unrelated features, most often with few examples. Either may exceed 1 by rounding:
    ``linear_cka(x, x)`` can read ``1.0000000000000002``.
    """
    _check_features({"x": x, "y": y})
    check_flag(unbiased, "unbiased")
    with torch.no_grad():
        xm, ym = as_matrix(x, "x"), as_matrix(y, "y")
        _check_n(xm.shape[0], unbiased)
        # CKA is a ratio in which each side's scale cancels.
        return cka_of_grams(grams({"x": xm}, up_to_scale=True)[0],
                            grams({"y": ym}, up_to_scale=True)[0], unbiased=unbiased)


def cka_of_grams(k_x: torch.Tensor, k_y: torch.Tensor, *, unbiased: bool) -> float:
    """Linear CKA from the ``(n, n)`` Gram matrices of two layers' features (any scale).

    What :func:`linear_cka` computes once it has the Grams; with
    :func:`seelike.grams.gram_of_blocks`, the full-batch CKA of layers too large to hold on a
    GPU whole.
    """
    with torch.no_grad():
        tx = transform_gram(k_x.double(), unbiased)
        ty = transform_gram(k_y.double(), unbiased).to(tx.device)
        xy, xx, yy = ((a * b).sum().item() for a, b in ((tx, ty), (tx, tx), (ty, ty)))
    if xx == 0 or yy == 0:
        _undefined_warning([name for name, s in (("x", xx), ("y", yy)) if s == 0])
        return float("nan")
    # Two square roots, not one of the product, which can underflow for tiny features.
    return xy / (float(np.sqrt(xx)) * float(np.sqrt(yy)))



class MinibatchCKA:
    """Accumulates minibatch linear CKA between every layer of model a and every layer of b.

    Minibatch CKA (Nguyen, Raghu & Kornblith 2021), the estimator behind the paper's CKA
    heatmaps (Figs 1, 2, 5, 8, 9, 12, H.1): per-minibatch HSIC is summed over minibatches and
    only then normalised, CKA_ij = sum HSIC(K_i, L_j) / sqrt(sum HSIC(K_i, K_i) sum HSIC(L_j, L_j)).
    The unbiased HSIC_1 (the default) makes the result independent of the batch size; like
    :func:`linear_cka` with ``unbiased=True`` it can be slightly negative for unrelated layers,
    and a layer against itself can read 1 plus a rounding error.

    Each :meth:`update` takes one minibatch and costs one Gram matrix per layer plus one
    ``(num_a, b^2) @ (b^2, num_b)`` product; memory is O(layers * b^2) whatever the number of
    examples, and no layer's features are copied whole (channels-last and half-precision ones
    included). Grams are formed on the features' device; sums are kept in float64.
    """

    def __init__(self, num_a: int, num_b: int | None = None, *, unbiased: bool = True,
                 bootstrap: int = 0, seed: int = 0) -> None:
        num_b = num_a if num_b is None else num_b
        self.bootstrap = check_bootstrap(bootstrap)
        self.seed = seed
        for name, value in (("num_a", num_a), ("num_b", num_b)):
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise TypeError(f"{name} must be a number of layers (an int), got {value!r}")
        check_flag(unbiased, "unbiased")
        if num_a < 1 or num_b < 1:
            raise ValueError(f"need at least one layer on each side, got {num_a} and {num_b}")
        self.num_a = num_a
        self.num_b = num_b
        self.unbiased = unbiased
        self.reset()

    def reset(self) -> None:
        """Forget all minibatches seen so far."""
        self._num_batches = 0
        self._rng = np.random.default_rng(self.seed)
        # The float64 sums live on the Grams' device, made by the first update: on an
        # accelerator, reading them back every minibatch would stall the host.
        self._sums: dict[str, torch.Tensor] = {}

    def _sum(self, name: str, value: torch.Tensor) -> None:
        if name in self._sums:
            self._sums[name] += value
        else:
            self._sums[name] = value.clone()

    def _read(self, *names: str) -> list[np.ndarray]:
        """The sums called ``names`` as float64 NumPy arrays: one read-back, at the end."""
        return [self._sums[name].cpu().numpy() for name in names]

    def _check_finite(self) -> None:
        """Raise if some layer's features had NaN or inf in a minibatch the device summed.

        On the CPU each minibatch was checked as it came (:func:`seelike.grams.grams`); on an
        accelerator the check waits for the end.
        """
        self_a, self_b = self._read("self_a", "self_b")
        bad = ([f"feats_a[{i}]" for i in np.flatnonzero(~np.isfinite(self_a))]
               + [f"feats_b[{j}]" for j in np.flatnonzero(~np.isfinite(self_b))])
        if bad:
            raise ValueError(f"{', '.join(bad)} had NaN or inf features in at least one of the "
                             f"{self._num_batches} minibatches (checked once, at the end, on "
                             f"{self._sums['self_a'].device.type})")

    def state_bytes(self, batch: int) -> int:
        """Bytes this accumulator holds with minibatches of ``batch``: its float64 sums, and
        with bootstrap draws their sums and one minibatch's row terms and weights."""
        a, b, n = self.num_a, self.num_b, batch
        sums = a * b + a + b
        if self.bootstrap:
            sums += self.bootstrap * (a * b + a + b)  # the draws' own sums
            # one update's work: row terms, weights, the product and its scaled copy
            sums += n * (a * b + a + b) + self.bootstrap * (n + 2 * a * b)
        return 8 * sums

    @property
    def num_batches(self) -> int:
        """Number of minibatches accumulated since construction or the last :meth:`reset`."""
        return self._num_batches

    @staticmethod
    def _named(feats: Sequence[Features] | Mapping[str, Features], expected: int,
               side: str) -> dict[str, Features]:
        """``{"feats_a[i]": features}``, the names used in every error message."""
        # A mapping is what seelike.hooks.Capture.outputs gives: layer name -> features.
        if isinstance(feats, torch.Tensor | np.ndarray | str) or not isinstance(
                feats, Mapping | Iterable):
            raise TypeError(f"feats_{side} must be a list (or mapping) of per-layer features, "
                            f"got {type(feats).__name__}; wrap one layer as [features]")
        layers = list(feats.values()) if isinstance(feats, Mapping) else list(feats)
        if len(layers) != expected:
            raise ValueError(f"feats_{side} has {len(layers)} layers, but this MinibatchCKA was "
                             f"built for {expected}")
        return {f"feats_{side}[{i}]": f for i, f in enumerate(layers)}

    def update(self, feats_a: Sequence[Features] | Mapping[str, Features],
               feats_b: Sequence[Features] | Mapping[str, Features] | None = None) -> None:
        """Add one minibatch: per-layer features, each ``(b, ...)`` for the same ``b`` examples.

        Layers come as a sequence, or a mapping whose values are taken in order.
        ``feats_b=None`` compares model a with itself (``num_b`` must then equal ``num_a``).
        """
        if feats_b is None and self.num_b != self.num_a:
            raise ValueError(f"feats_b=None compares model a with itself, but this "
                             f"MinibatchCKA was built for {self.num_a} x {self.num_b}")
        named_a = self._named(feats_a, self.num_a, "a")
        named_b = None if feats_b is None else self._named(feats_b, self.num_b, "b")
        # All checks that need no arithmetic come first, so a bad call leaves no partial sums.
        _check_features(named_a | (named_b or {}))
        n = next(iter(named_a.values())).shape[0]
        _check_n(n, self.unbiased)
        a = transformed_grams(named_a, unbiased=self.unbiased)
        b = None if named_b is None else transformed_grams(named_b, unbiased=self.unbiased)
        self.update_transformed(a, b, n)

    def update_transformed(self, a: torch.Tensor, b: torch.Tensor | None, n: int) -> None:
        """Add one minibatch of ``n`` examples given as :func:`transformed_grams` outputs.

        ``b=None`` compares model a with itself. For callers that share one model's
        transformed Grams between several accumulators.
        """
        if a.shape[0] != self.num_a or (b if b is not None else a).shape[0] != self.num_b:
            raise ValueError(f"transformed Grams for {a.shape[0]} x "
                             f"{(b if b is not None else a).shape[0]} layers, but this "
                             f"MinibatchCKA was built for {self.num_a} x {self.num_b}")
        with torch.no_grad():
            b_ = a if b is None else b.to(a.device)
            scale = 1.0 / _normaliser(n, self.unbiased)
            self_a = (a * a).sum(dim=1) * scale
            self._sum("cross", (a @ b_.T) * scale)
            self._sum("self_a", self_a)
            self._sum("self_b", self_a if b is None else (b_ * b_).sum(dim=1) * scale)
        self._num_batches += 1
        if self.bootstrap:
            self._bootstrap_update(a, None if b is None else b_, n, scale)

    def _bootstrap_update(self, a: torch.Tensor, b: torch.Tensor | None, n: int,
                          scale: float) -> None:
        """Add this minibatch's examples to every bootstrap draw, from the Grams in hand.

        HSIC is a sum of per-example row terms r_i = sum_j T(K)_ij T(L)_ij. Its influence
        function is 2 (g(x) - HSIC) (the centring's own terms vanish against a doubly centred
        Gram), so a draw that takes example i c_i times, c_i ~ Poisson(1), is the linearised
        bootstrap sum_i (2 c_i - 1) r_i: no forward pass and no Gram is recomputed.
        """
        weights = torch.as_tensor(2.0 * self._rng.poisson(1.0, (self.bootstrap, n)) - 1.0,
                                  dtype=a.dtype)
        if a.device.type == "cuda":  # a copy from pinned memory does not block the host
            weights = weights.pin_memory()
        weights = weights.to(a.device, non_blocking=True)
        with torch.no_grad():
            rows_a = a.reshape(self.num_a, n, n).transpose(0, 1)  # (n, A, n)
            rows_b = rows_a if b is None else b.reshape(self.num_b, n, n).transpose(0, 1)
            cross = torch.bmm(rows_a, rows_b.transpose(1, 2)).reshape(n, -1)  # (n, A*B)
            self_a = (rows_a * rows_a).sum(dim=2)
            self_b = self_a if b is None else (rows_b * rows_b).sum(dim=2)
            self._sum("boot_cross", (weights @ cross).reshape(
                self.bootstrap, self.num_a, self.num_b) * scale)
            self._sum("boot_a", (weights @ self_a) * scale)
            self._sum("boot_b", (weights @ self_b) * scale)

    def compute_bootstrap(self) -> np.ndarray:
        """``(bootstrap, num_a, num_b)`` CKA matrices, one per resampling of the examples.

        The uncertainty of any statistic of the CKA matrix: apply the statistic to each draw
        and read off its percentiles. A draw whose resampled self-HSIC is not positive gives
        NaN for that layer, which percentiles then skip.
        """
        if not self.bootstrap:
            raise RuntimeError("this MinibatchCKA keeps no bootstrap draws; build it with "
                               "bootstrap=N (e.g. 200)")
        if self._num_batches == 0:
            raise RuntimeError("MinibatchCKA.compute_bootstrap() called before any update()")
        self._check_finite()
        cross, boot_a, boot_b = self._read("boot_cross", "boot_a", "boot_b")
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(boot_a > 0, np.sqrt(np.abs(boot_a)), np.nan)
            b = np.where(boot_b > 0, np.sqrt(np.abs(boot_b)), np.nan)
            return cross / (a[:, :, None] * b[:, None, :])

    def compute(self) -> np.ndarray:
        """``(num_a, num_b)`` float64 CKA matrix over all minibatches so far.

        Rows/columns of layers with zero self-HSIC (e.g. constant layers) are NaN, and one
        warning names them.
        """
        if self._num_batches == 0:
            raise RuntimeError("MinibatchCKA.compute() called before any update()")
        self._check_finite()
        cross, self_a, self_b = self._read("cross", "self_a", "self_b")
        bad_a, bad_b = self_a <= 0, self_b <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            cka = cross / np.outer(np.sqrt(self_a), np.sqrt(self_b))
        cka[bad_a, :] = np.nan
        cka[:, bad_b] = np.nan
        if bad_a.any() or bad_b.any():
            _undefined_warning([f"feats_a[{i}]" for i in np.flatnonzero(bad_a)]
                               + [f"feats_b[{j}]" for j in np.flatnonzero(bad_b)])
        return cka
