"""Effective receptive fields: which input pixels move the centre of a feature map.

The maps of paper Fig 6 and Figs C.1–C.4, for any layer of a ViT or a ResNet, taken
after (C.1–C.3) or before (C.4) the residual connection.

The effective receptive field (ERF) of a layer is ``|∂ y / ∂ x|`` for y the layer's
output at the centre location and x the input image (Luo et al. 2016). The paper takes
"the absolute value of the gradient of the center location of the feature map … averaged
over channels" and 32 random images; it leaves open whether channels are averaged before
or after the absolute value, how colour channels are combined and how the map is
normalised. This module's choices, one backward pass per layer and batch:

1. y = the mean over channels of the output at the centre location, for each image;
2. g = ∂ y / ∂ x (each image's y depends only on its own pixels in eval mode, so one
   backward of the batch sum gives every image's gradient);
3. ERF = |g| summed over the three colour channels, averaged over images;
4. divided by its maximum, so every map peaks at 1 (maps compare by shape, not scale).

Every summary of a map computed here (its spread, the share of its mass on the centre
patch) is a ratio of sums that are linear in the map: its :func:`erf_moments`. The pass
keeps them for each image, so the summary of the map averaged over any reweighting of the
images (a bootstrap draw, say) is read off their weighted sums with no second pass.

Centre location: for ViT token outputs ``(b, tokens, d)`` the spatial token at grid
position ``(gh // 2, gw // 2)`` (prefix tokens skipped); for CNN maps ``(b, c, h, w)`` the
pixel ``(h // 2, w // 2)``. For even sizes that is the lower right of the four central
positions.

"After" (``residual="post"``) and "before" (``residual="pre"``) the residual connection
are resolved by :func:`residual_tap` from the anatomy in :mod:`seelike.skips`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from timm.layers import PatchEmbed
from torch import nn

from seelike.selectors import submodule
from seelike.skips import branch_taps
from seelike.taps import Tap, run_taps

__all__ = [
    "MOMENTS",
    "Residual",
    "centre_patch_fraction",
    "centre_share",
    "effective_receptive_field",
    "effective_receptive_fields",
    "erf_moments",
    "erf_spread",
    "receptive_field_maps",
    "receptive_field_pass",
    "residual_tap",
    "spread",
]

#: What :func:`erf_moments` sums over a map, in order: its mass, its first moments (row,
#: column) and its second moment (row² + column²), coordinates taken from the image centre
#: (which keeps the second moment small), and the mass on the centre patch.
MOMENTS = ("mass", "row", "col", "square", "centre")

Residual = Literal["post", "pre"]


def residual_tap(model: nn.Module, layer: str, residual: Residual = "post") -> Tap:
    """The tensor whose ERF is meant by ``layer`` and ``residual``.

    * a residual block (``net.blocks.3``, ``net.layer2.1``, ``net.stages.1.blocks.0``):
      ``"post"`` its output; ``"pre"`` its last branch before the addition (a ViT block's
      MLP branch; a ResNet unit's last op, e.g. ``bn2`` of a BasicBlock, ``conv3`` of BiT's
      pre-activation bottleneck);
    * a ViT sublayer ``net.blocks.k.attn`` or ``net.blocks.k.mlp``: ``"post"`` the residual
      stream just after that branch is added (for ``attn`` the input of the MLP half — not
      the output of any module — for ``mlp`` the block output); ``"pre"`` the branch output
      (layer scale included);
    * any other module (``net.conv1``, ``net.stem.conv``): its output; ``"pre"`` is an error,
      since no residual addition follows it.
    """
    if residual not in ("post", "pre"):
        raise ValueError(f"residual must be 'post' or 'pre', not {residual!r}")
    submodule(model, layer)  # a misspelt name is refused with the closest valid ones
    try:
        anatomy = branch_taps(model)
    except (ValueError, LookupError):  # Mixers, other families, undeclared: plain layers
        anatomy = {}
    if layer in anatomy:
        if residual == "post":
            return Tap(layer)
        return list(anatomy[layer].values())[-1].branch
    block, _, branch = layer.rpartition(".")
    if block in anatomy and branch in anatomy[block]:
        taps = anatomy[block][branch]
        return taps.post if residual == "post" else taps.branch
    if residual == "pre":
        raise ValueError(f"{layer!r} is neither a residual block nor a ViT sublayer "
                         f"(blocks.k.attn / blocks.k.mlp), so it has no 'pre' residual point")
    return Tap(layer)


def _centre(model: nn.Module, t: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
    """(b, channels): the centre location of a token sequence or a feature map."""
    if t.ndim == 4:
        return t[:, :, t.shape[2] // 2, t.shape[3] // 2]
    if t.ndim != 3:
        raise ValueError(f"expected (b, tokens, d) or (b, c, h, w), got {tuple(t.shape)}")
    embed = next((m for m in model.modules() if isinstance(m, PatchEmbed)), None)
    if embed is None:
        raise ValueError("a 3-D output needs a timm PatchEmbed to place its tokens on a grid")
    ph, pw = embed.patch_size
    gh, gw = image_hw[0] // ph, image_hw[1] // pw
    prefix = int(getattr(model, "num_prefix_tokens", 0))
    if t.shape[1] != prefix + gh * gw:
        raise ValueError(f"{t.shape[1]} tokens, but a {gh}x{gw} grid plus {prefix} prefix "
                         f"tokens makes {prefix + gh * gw}")
    return t[:, prefix + (gh // 2) * gw + gw // 2]


def _patch_size(model: nn.Module) -> int | None:
    """The side of the model's square patches (None for a model without a PatchEmbed)."""
    embed = next((m for m in model.modules() if isinstance(m, PatchEmbed)), None)
    if embed is None:
        return None
    ph, pw = embed.patch_size
    return int(ph) if ph == pw else None


def _moments(maps: torch.Tensor, patch_size: int | None) -> torch.Tensor:
    """``(..., 5)`` float64 :data:`MOMENTS` of ``(..., H, W)`` non-negative maps."""
    w = maps.double()
    height, width = w.shape[-2:]
    rows = torch.arange(height, dtype=w.dtype, device=w.device) - (height - 1) / 2
    cols = torch.arange(width, dtype=w.dtype, device=w.device) - (width - 1) / 2
    by_row, by_col = w.sum(dim=-1), w.sum(dim=-2)
    if patch_size is None:
        centre = torch.full(w.shape[:-2], float("nan"), dtype=w.dtype, device=w.device)
    else:
        r0 = (height // patch_size // 2) * patch_size
        c0 = (width // patch_size // 2) * patch_size
        centre = w[..., r0:r0 + patch_size, c0:c0 + patch_size].sum(dim=(-2, -1))
    return torch.stack([by_row.sum(dim=-1), (by_row * rows).sum(dim=-1),
                        (by_col * cols).sum(dim=-1),
                        (by_row * rows ** 2).sum(dim=-1) + (by_col * cols ** 2).sum(dim=-1),
                        centre], dim=-1)


def erf_moments(erf: np.ndarray, patch_size: int | None = None) -> np.ndarray:
    """``(..., 5)``: the :data:`MOMENTS` of ``(..., H, W)`` maps (centre NaN without a patch).

    Linear in the map: the moments of a mean of maps are the mean of their moments.
    """
    return _moments(torch.as_tensor(np.asarray(erf, dtype=np.float64)), patch_size).numpy()


def spread(moments: np.ndarray) -> np.ndarray | float:
    """The ERF spread (:func:`erf_spread`) from :func:`erf_moments` ``(..., 5)``: ``(...)``.

    NaN where the mass is not positive.
    """
    m = np.asarray(moments, dtype=np.float64)
    mass = m[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (m[..., 3] - (m[..., 1] ** 2 + m[..., 2] ** 2) / mass) / mass
        out = np.where(mass > 0, np.sqrt(np.maximum(var, 0.0)), np.nan)
    return float(out) if out.ndim == 0 else out


def centre_share(moments: np.ndarray) -> np.ndarray | float:
    """The share of the mass on the centre patch from :func:`erf_moments` ``(..., 5)``."""
    m = np.asarray(moments, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(m[..., 0] > 0, m[..., 4] / m[..., 0], np.nan)
    return float(out) if out.ndim == 0 else out


def receptive_field_pass(
    model: nn.Module, requests: Sequence[tuple[str, Residual]], images: torch.Tensor, *,
    batch_size: int | None = None,
) -> dict[tuple[str, Residual], dict[str, np.ndarray]]:
    """Each ``(layer, residual)``'s ERF on ``images`` ``(b, 3, H, W)`` in [0, 1], and per image.

    For each request: ``erf``, the ``(H, W)`` map (see the module docstring), normalised to
    maximum 1 (an all-zero map is returned as zeros); ``moments``, the ``(images, 5)``
    :func:`erf_moments` of each image's unnormalised map (the centre patch is the model's
    patch, NaN for a model without one). One forward pass per minibatch serves every
    request, before and after the residual alike (it stops after the deepest tap); each
    request costs one backward pass. ``images`` must be on the model's device.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (b, 3, H, W) batch of RGB images, got {shape}; "
                         "a single image needs its batch axis, images[None]")
    if not images.is_floating_point():
        raise TypeError(f"images have dtype {images.dtype}; pass floats in [0, 1] "
                        "(images.float() / 255)")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, int)):
        raise TypeError(f"batch_size={batch_size!r}: expected a whole number (an int)")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected a positive number of images")
    requests = list(dict.fromkeys((layer, residual) for layer, residual in requests))
    taps = {r: residual_tap(model, *r) for r in requests}
    height, width = images.shape[-2:]
    patch = _patch_size(model)
    sums = {r: torch.zeros(height, width, dtype=torch.float64, device=images.device)
            for r in requests}
    moments: dict[tuple[str, Residual], list[torch.Tensor]] = {r: [] for r in requests}
    step = batch_size or len(images)
    unique = list(dict.fromkeys(taps.values()))
    for start in range(0, len(images), step):
        x = images[start:start + step].detach().clone().requires_grad_(True)
        got = run_taps(model, x, unique, grad=True)
        for i, r in enumerate(requests):
            y = _centre(model, got[taps[r]], (height, width)).mean(dim=1).sum()
            (g,) = torch.autograd.grad(y, x, retain_graph=i < len(requests) - 1)
            per_image = g.abs().sum(dim=1).double()  # (b, H, W)
            sums[r] += per_image.sum(dim=0)
            moments[r].append(_moments(per_image, patch).cpu())
    result = {}
    for r, total in sums.items():
        erf = (total / len(images)).cpu().numpy()
        peak = erf.max()
        result[r] = {"erf": erf / peak if peak > 0 else erf,
                     "moments": torch.cat(moments[r]).numpy()}
    return result


def receptive_field_maps(
    model: nn.Module, requests: Sequence[tuple[str, Residual]], images: torch.Tensor, *,
    batch_size: int | None = None,
) -> dict[tuple[str, Residual], np.ndarray]:
    """The ERF ``(H, W)`` of each ``(layer, residual)`` on ``images``: the maps of
    :func:`receptive_field_pass`."""
    return {r: out["erf"] for r, out in receptive_field_pass(model, requests, images,
                                                             batch_size=batch_size).items()}


def effective_receptive_fields(
    model: nn.Module, layers: Sequence[str], images: torch.Tensor, *,
    residual: Residual = "post", batch_size: int | None = None,
) -> dict[str, np.ndarray]:
    """The ERF ``(H, W)`` of each of ``layers`` (:func:`receptive_field_maps`, one mode)."""
    maps = receptive_field_maps(model, [(layer, residual) for layer in layers], images,
                                batch_size=batch_size)
    return {layer: maps[(layer, residual)] for layer in layers}


def effective_receptive_field(
    model: nn.Module, layer: str, images: torch.Tensor, *, residual: Residual = "post",
    batch_size: int | None = None,
) -> np.ndarray:
    """The ERF ``(H, W)`` of one layer, normalised to maximum 1 (paper Fig 6, C.1–C.4)."""
    return effective_receptive_fields(model, [layer], images, residual=residual,
                                      batch_size=batch_size)[layer]


def erf_spread(erf: np.ndarray) -> float:
    """Root-mean-square distance in pixels of the ERF's mass from its centroid.

    One number per map for "how wide": √(4/3) ≈ 1.15 px for uniform mass on a 3x3 square, about
    91 px for uniform mass on a 224-px square. NaN for a map without mass.
    """
    return float(spread(erf_moments(erf)))


def centre_patch_fraction(erf: np.ndarray, patch_size: int) -> float:
    """The share of an ERF's mass on the centre patch (grid position ``(gh // 2, gw // 2)``).

    The patch whose token :mod:`seelike.receptive_field` differentiates for a ViT.
    """
    w = np.asarray(erf, dtype=float)
    if w.ndim != 2 or patch_size < 1 or w.shape[0] % patch_size or w.shape[1] % patch_size:
        raise ValueError(f"an (H, W) map divisible into {patch_size}-px patches is needed, "
                         f"got {w.shape}")
    return float(centre_share(erf_moments(w, patch_size)))
