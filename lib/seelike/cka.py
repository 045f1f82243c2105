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

Numerics: Grams are formed in float32 (float64 for float64 input) on the features' device,
after subtracting a common offset from every example, which leaves both estimators unchanged
but stops a large mean activation from cancelling catastrophically; everything after the Grams
is float64. Against a float64 reference the error is about 1e-9 on real networks. A layer whose
float32 Gram underflows or overflows, or comes within a safety margin of it (features smaller
than roughly 1e-11 or larger than roughly 1e17 in magnitude), has its Gram formed again in
float64 from its features times a power of two, which is exact, and multiplied back: every
float32 magnitude gives the float64 answer, and sums over minibatches keep their true weights.

On an accelerator (CUDA) no value is read back to the host per minibatch: each layer is
multiplied by a power of two chosen on the device from its range before its Gram is formed
(exact, so the Gram is bit for bit the unscaled one wherever that one neither underflows nor
overflows), sums stay on the device, and NaN or inf features are reported once, by
:meth:`MinibatchCKA.compute`. On the CPU a read-back costs nothing, and each minibatch is
checked as it comes.

Both estimators are ratios of sums of rounded numbers: the unbiased one can be slightly
negative for unrelated features, and a layer compared with itself can read 1 plus or minus a
few units in the last place (``1.0000000000000002``), not exactly 1.

Bad inputs (lists, complex or object arrays, arrays with no examples or no features, NaN or
inf) raise ``TypeError`` or ``ValueError`` naming the argument; nothing is silently converted.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

Features = torch.Tensor | np.ndarray

__all__ = ["Features", "MinibatchCKA", "cka_of_grams", "gram_linear", "gram_of_blocks", "hsic",
           "linear_cka", "reads_back_freely", "transform_gram", "transformed_grams"]


@contextlib.contextmanager
def _full_fp32_matmul() -> Iterator[None]:
    # A caller may have enabled TF32 (or bf16) float32 matmuls globally for speed; their 1e-3
    # relative error would swamp the 1e-6 accuracy the Grams are meant to have.
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


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


def _check_flag(value: object, name: str) -> None:
    # A string such as "no" would otherwise be read as True and pick the other estimator.
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _as_matrix(x: Features, name: str) -> torch.Tensor:
    """Detached ``(n, d)`` matrix of ``(n, ...)`` features, in their own dtype.

    Each example's features come in the order they lie in memory, not necessarily C order: a
    Gram matrix does not depend on the order of the features, and channels-last feature maps
    (a convnet fed images decoded as ``(h, w, c)``, or run channels-last for speed) would
    otherwise be copied whole by ``reshape``. Callers convert to float32 or wider themselves,
    a slab at a time, so that half-precision features are never copied whole either.
    """
    t = torch.as_tensor(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    t = t.detach()
    if t.ndim > 2:
        # Stable sort: C-contiguous features keep C order, so their Grams are bit-for-bit as
        # before; a size-1 axis may sit anywhere, as its stride is never used.
        order = sorted(range(1, t.ndim), key=lambda axis: -t.stride(axis))
        t = t.permute(0, *order)
    return t.reshape(t.shape[0], -1)


def _dtype_of(x: Features) -> torch.dtype:
    """The torch dtype of a tensor or of a NumPy array, without converting the array."""
    return x.dtype if isinstance(x, torch.Tensor) else torch.from_numpy(np.empty(0, x.dtype)).dtype


def _float_dtype(t: torch.Tensor) -> torch.dtype:
    """float32, or ``t``'s dtype if it is a wider float: what its Gram is multiplied in."""
    return torch.promote_types(t.dtype, torch.float32)


# Features are centred and multiplied a slab of about this many elements at a time: a slab stays
# in cache, so centring costs no extra trip through memory and no (n, d) copy is ever made.
_SLAB_ELEMENTS = 1 << 21
# Examples averaged for the offset that _grams subtracts.
_OFFSET_ROWS = 16


def _offset(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The common row offset that :func:`_accumulate_gram` subtracts, in ``dtype``.

    The mean of the first few examples removes a large mean as well as the full mean would
    without a pass over the data, and anchoring it at ``x[0]`` makes a constant layer's Gram
    exactly zero rather than rounding noise that the unbiased estimator would normalise.
    """
    head = x[:_OFFSET_ROWS].to(dtype)
    return head[0] + (head - head[0]).mean(dim=0)


def _accumulate_gram(x: torch.Tensor, k: torch.Tensor) -> None:
    """Add to ``k`` the Gram matrix of the ``(n, d)`` matrix ``x`` less a common row offset.

    Subtracting the same vector from every example changes neither HSIC_0 nor HSIC_1 (both are
    translation invariant), but a large common offset would cancel catastrophically in a
    float32 Gram (see :func:`_offset`).
    """
    n, d = x.shape
    own = _float_dtype(x)
    offset = _offset(x, own)
    cols = max(1, _SLAB_ELEMENTS // n)
    for start in range(0, d, cols):
        slab = (x[:, start:start + cols].to(own) - offset[start:start + cols]).to(k.dtype)
        k.addmm_(slab, slab.T)


# A Gram whose largest diagonal entry is below this many times the smallest normal number of its
# dtype was summed from products some of which were subnormal or flushed to zero: its relative
# error could exceed 1e-12, so it is formed again, scaled (see _scaled_gram).
_UNDERFLOW_MARGIN = 2.0 ** 56
# Power-of-two exponents of the features' largest centred magnitude for which a Gram multiplied
# back to its true scale, and products of two such Grams (HSIC), stay normal float64 numbers.
_EXACT_EXPONENTS = range(-200, 201)


def _scaled_gram(x: torch.Tensor, name: str) -> tuple[torch.Tensor, int]:
    """``(G, e)``: the float64 Gram ``G`` of ``(x - offset) * 2**-e``, ``2**e`` the largest
    magnitude in ``x - offset`` rounded up to a power of two.

    For layers whose float32 Gram underflows or overflows. Multiplying by a power of two is
    exact in floating point, so ``G * 4**e`` is the Gram of ``x - offset`` with float64
    rounding only, as long as that product is representable. Costs a second pass over ``x``.
    """
    n, d = x.shape
    offset = _offset(x, torch.float64)
    cols = max(1, _SLAB_ELEMENTS // n)
    slabs = [slice(start, start + cols) for start in range(0, d, cols)]
    peak = max((x[:, s].double() - offset[s]).abs().max().item() for s in slabs)
    if not math.isfinite(peak):
        problem = ("has NaN or inf" if not bool(torch.isfinite(x).all())
                   else "is too large to centre even in float64")
        raise ValueError(f"{name} {problem} ({x.dtype})")
    # Clamped so that 2**-e stays a normal float64; only subnormal float64 inputs reach the clamp.
    exponent = min(max(math.frexp(peak)[1], -1000), 1000)
    scale = math.ldexp(1.0, -exponent)
    gram = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    for s in slabs:
        slab = (x[:, s].double() - offset[s]) * scale
        gram.addmm_(slab, slab.T)
    return gram, exponent


def reads_back_freely(device: torch.device) -> bool:
    """Whether the host may read values of ``device`` whenever it likes: the CPU only.

    On an accelerator a read-back stalls the host until every queued kernel has run. So
    there the engine scales each layer on the device (:func:`_accumulate_gram_on_device`)
    and checks once at the end, instead of checking (and re-forming a Gram if need be)
    layer by layer and minibatch by minibatch; and full-batch CKA of large layers streams
    them to the device in slabs (:func:`gram_of_blocks`).
    """
    return device.type == "cpu"


# The power-of-two exponents a layer may be scaled by on the device: 2**-e stays a normal
# float32 number, and features from 2**-149 to 2**128 land where their Gram is normal.
_DEVICE_EXPONENTS = (-100, 100)


def _accumulate_gram_on_device(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Add to ``k`` the Gram of ``(x - offset) * 2**-e``; return ``e`` (a device tensor).

    ``2**e`` bounds the features' magnitude (one read-only pass: ``aminmax``), so the scaled
    Gram neither underflows nor overflows, and ``k * 4**e`` is exactly the Gram of
    ``x - offset``. Nothing is read back: a NaN or inf feature makes the Gram NaN, which
    :meth:`MinibatchCKA.compute` reports.
    """
    n, d = x.shape
    own = _float_dtype(x)
    offset = _offset(x, own)
    low, high = torch.aminmax(x if x.is_floating_point() else x.to(own))
    bound = torch.maximum(low.abs(), high.abs()).to(torch.float64)
    exponent = torch.frexp(bound).exponent.clamp(*_DEVICE_EXPONENTS)
    scale = torch.ldexp(torch.ones((), dtype=own, device=x.device), -exponent)
    cols = max(1, _SLAB_ELEMENTS // n)
    for start in range(0, d, cols):
        slab = ((x[:, start:start + cols].to(own) - offset[start:start + cols]) * scale
                ).to(k.dtype)
        k.addmm_(slab, slab.T)
    return exponent


def _grams(named: Mapping[str, Features], *, up_to_scale: bool = False) -> torch.Tensor:
    """``(layers, n, n)`` float64 Grams of ``(n, ...)`` features, on the first one's device.

    Each is multiplied in its own dtype (float32 or wider) on its own device. Work on the small
    ``n x n`` matrices is batched over layers because every separate torch call costs a thread
    synchronisation, which gets expensive on a busy CPU. Layers are turned into matrices one at
    a time, so that a layer that cannot be viewed as one (a non-contiguous NumPy array, say) is
    copied only while its own Gram is formed, never all layers at once.

    A Gram that underflowed or overflowed is formed again by :func:`_scaled_gram` and multiplied
    back to its true scale, so that Grams of different minibatches keep their relative weights.
    ``up_to_scale=True`` skips that step, for callers that need each Gram only up to a positive
    factor (one full-batch CKA), which then works for float64 features of any magnitude.
    """
    first = next(iter(named.values()))
    n = first.shape[0]
    dtype = functools.reduce(torch.promote_types, map(_dtype_of, named.values()), torch.float32)
    device = first.device if isinstance(first, torch.Tensor) else torch.device("cpu")
    k = torch.zeros(len(named), n, n, dtype=dtype, device=device)
    if not reads_back_freely(device):
        exponents = []
        with _full_fp32_matmul():
            for i, (name, f) in enumerate(named.items()):
                x = _as_matrix(f, name)
                gram = k[i] if x.device == device else torch.zeros(n, n, dtype=dtype,
                                                                   device=x.device)
                exponents.append(_accumulate_gram_on_device(x, gram).to(device))
                if x.device != device:
                    k[i] = gram
        if up_to_scale:
            return k.double()
        exponents = torch.stack(exponents)
        scale = torch.ldexp(torch.ones_like(exponents, dtype=torch.float64), 2 * exponents)
        return k.double() * scale[:, None, None]
    with _full_fp32_matmul():
        for i, (name, f) in enumerate(named.items()):
            x = _as_matrix(f, name)
            if x.device == k.device:
                _accumulate_gram(x, k[i])
            else:
                elsewhere = torch.zeros(n, n, dtype=dtype, device=x.device)
                _accumulate_gram(x, elsewhere)
                k[i] = elsewhere
    # NaN, inf, overflow and underflow all show on the diagonal, so one O(n) look per layer
    # (and one device synchronisation for all of them) finds every Gram to redo.
    peak = k.diagonal(dim1=1, dim2=2).amax(dim=1)
    redo = (~torch.isfinite(peak) | (peak < torch.finfo(dtype).tiny * _UNDERFLOW_MARGIN)).tolist()
    k = k.double()
    for i, (name, f) in enumerate(named.items()):
        if not redo[i]:
            continue
        gram, exponent = _scaled_gram(_as_matrix(f, name), name)
        if not up_to_scale and gram.any():
            if exponent not in _EXACT_EXPONENTS:
                raise ValueError(
                    f"{name} has features of magnitude about 2**{exponent}, whose Gram and HSIC "
                    f"do not fit in float64; CKA does not change when a layer is multiplied by "
                    f"a constant, so pass {name} * 2**{-exponent} (linear_cka rescales by itself)")
            gram = gram * math.ldexp(1.0, 2 * exponent)  # exact: a power of two
        k[i] = gram.to(k.device)
    return k


def gram_linear(x: Features) -> torch.Tensor:
    """Centred linear-kernel Gram matrix ``H X X^T H`` of ``(n, ...)`` features, in float64.

    Features are flattened per example and multiplied on ``x``'s device in float32 (float64 for
    float64 input), after removing their common offset so that float32 stays accurate.
    """
    _check_features({"x": x})
    with torch.no_grad():
        return transform_gram(_grams({"x": _as_matrix(x, "x")})[0], unbiased=False)


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
    _check_flag(unbiased, "unbiased")
    kx = _as_matrix(k_x, "k_x").double()
    ky = _as_matrix(k_y, "k_y").double().to(kx.device)
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
    _check_flag(unbiased, "unbiased")
    _check_n(next(iter(named.values())).shape[0], unbiased)
    with torch.no_grad():
        grams = _grams(named)
        return transform_gram(grams, unbiased).flatten(1)


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
    _check_flag(unbiased, "unbiased")
    with torch.no_grad():
        xm, ym = _as_matrix(x, "x"), _as_matrix(y, "y")
        _check_n(xm.shape[0], unbiased)
        # CKA is a ratio in which each side's scale cancels.
        return cka_of_grams(_grams({"x": xm}, up_to_scale=True)[0],
                            _grams({"y": ym}, up_to_scale=True)[0], unbiased=unbiased)


def cka_of_grams(k_x: torch.Tensor, k_y: torch.Tensor, *, unbiased: bool) -> float:
    """Linear CKA from the ``(n, n)`` Gram matrices of two layers' features (any scale).

    What :func:`linear_cka` computes once it has the Grams; with :func:`gram_of_blocks`, the
    full-batch CKA of layers too large to hold on a GPU whole.
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


def gram_of_blocks(blocks: Sequence[torch.Tensor], device: torch.device | str) -> torch.Tensor:
    """The float64 ``(n, n)`` Gram of the rows of ``blocks``, formed on ``device`` in slabs.

    ``blocks`` are ``(n_i, d)`` row blocks (a probe set's minibatches, kept in host memory).
    Each slab of features of every row goes to ``device`` in turn, so it holds ``n × slab``
    features and the Gram, never the whole matrix (10,240 examples of a layer of 802,816
    features are 33 GB in float32). The features are offset and scaled by a power of two as
    in the engine's device path, which leaves CKA unchanged and keeps the float32 Gram in
    range.
    """
    device = torch.device(device)
    n, d = sum(len(b) for b in blocks), blocks[0].shape[1]
    own = _float_dtype(blocks[0])
    offset = _offset(torch.cat([b[:_OFFSET_ROWS] for b in blocks])[:_OFFSET_ROWS], own)
    bounds = [float(b.abs().max()) for b in blocks]  # one read-back per block, once
    if not all(map(math.isfinite, bounds)):
        raise ValueError("the features have NaN or inf")
    bound = max(bounds)
    exponent = min(max(math.frexp(bound)[1], _DEVICE_EXPONENTS[0]), _DEVICE_EXPONENTS[1])
    scale = math.ldexp(1.0, -exponent)
    k = torch.zeros(n, n, dtype=own, device=device)
    cols = max(1, _SLAB_ELEMENTS // n)
    with _full_fp32_matmul():
        for start in range(0, d, cols):
            part = slice(start, start + cols)
            slab = torch.cat([b[:, part] for b in blocks]).to(device, own)
            slab = (slab - offset[part].to(device)) * scale
            k.addmm_(slab, slab.T)
    return k.double() * math.ldexp(1.0, 2 * exponent)


#: The most bootstrap draws one :class:`MinibatchCKA` keeps: each holds a CKA matrix and
#: every minibatch multiplies a ``(draws, b)`` weight matrix into the Grams' row terms, so
#: memory and time grow with the draws (a few hundred settle a percentile interval).
MAX_BOOTSTRAP = 10_000


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
        if not isinstance(bootstrap, int | np.integer) or isinstance(bootstrap, bool) \
                or not 0 <= bootstrap <= MAX_BOOTSTRAP:
            raise ValueError(f"bootstrap must be a number of draws (an int from 0 to "
                             f"MAX_BOOTSTRAP={MAX_BOOTSTRAP}), got {bootstrap!r}; percentile "
                             "intervals settle within a few hundred draws")
        self.bootstrap = int(bootstrap)
        self.seed = seed
        for name, value in (("num_a", num_a), ("num_b", num_b)):
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise TypeError(f"{name} must be a number of layers (an int), got {value!r}")
        _check_flag(unbiased, "unbiased")
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

        On the CPU each minibatch was checked as it came (:func:`_grams`); on an accelerator
        the check waits for the end.
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
