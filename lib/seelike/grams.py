"""Gram matrices of layers' features: float32 products made exact enough for CKA.

The Gram ``X Xᵀ`` of ``(n, ...)`` features is the one costly step of every CKA
(:mod:`seelike.cka`). Here it is formed in float32 (float64 for float64 input) on the
features' device, a slab of features at a time, after subtracting a common offset from every
example: translation leaves HSIC unchanged, but a large mean activation would otherwise
cancel catastrophically in float32. A layer whose float32 Gram underflows or overflows, or
comes within a safety margin of it, has its Gram formed again in float64 from its features
times a power of two, which is exact, and multiplied back, so sums over minibatches keep
their true weights.

On an accelerator nothing is read back per minibatch: each layer is scaled by a power of two
chosen on the device from its range before its Gram is formed (exact), and NaN or inf show
in the Gram for the caller to report once. On the CPU a read-back costs nothing, and each
layer is checked as it comes.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch

Features = torch.Tensor | np.ndarray

__all__ = ["Features", "as_matrix", "full_fp32_matmul", "gram_of_blocks", "grams",
           "reads_back_freely"]


@contextlib.contextmanager
def full_fp32_matmul() -> Iterator[None]:
    # A caller may have enabled TF32 (or bf16) float32 matmuls globally for speed; their 1e-3
    # relative error would swamp the 1e-6 accuracy the Grams are meant to have.
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def as_matrix(x: Features, name: str) -> torch.Tensor:
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


def grams(named: Mapping[str, Features], *, up_to_scale: bool = False) -> torch.Tensor:
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
        with full_fp32_matmul():
            for i, (name, f) in enumerate(named.items()):
                x = as_matrix(f, name)
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
    with full_fp32_matmul():
        for i, (name, f) in enumerate(named.items()):
            x = as_matrix(f, name)
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
        gram, exponent = _scaled_gram(as_matrix(f, name), name)
        if not up_to_scale and gram.any():
            if exponent not in _EXACT_EXPONENTS:
                raise ValueError(
                    f"{name} has features of magnitude about 2**{exponent}, whose Gram and HSIC "
                    f"do not fit in float64; CKA does not change when a layer is multiplied by "
                    f"a constant, so pass {name} * 2**{-exponent} (linear_cka rescales by itself)")
            gram = gram * math.ldexp(1.0, 2 * exponent)  # exact: a power of two
        k[i] = gram.to(k.device)
    return k


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
    with full_fp32_matmul():
        for start in range(0, d, cols):
            part = slice(start, start + cols)
            slab = torch.cat([b[:, part] for b in blocks]).to(device, own)
            slab = (slab - offset[part].to(device)) * scale
            k.addmm_(slab, slab.T)
    return k.double() * math.ldexp(1.0, 2 * exponent)
