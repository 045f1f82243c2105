"""Effective receptive fields: which input pixels move the centre of a feature map.

Serves Chapter 5 — Local and global information: paper Fig 6 (ViT-B/32 attention
sublayers 1/3/6/9/12 vs ResNet-50 initial conv and blocks 3/7/12/16) and Figs C.1–C.3
(every sublayer after the residual connection) and C.4 (before it).

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

from seelike.hooks import Tap, run_taps
from seelike.skips import branch_taps

__all__ = [
    "Residual",
    "centre_patch_fraction",
    "effective_receptive_field",
    "effective_receptive_fields",
    "erf_spread",
    "receptive_field_maps",
    "residual_tap",
]

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
    model.get_submodule(layer)  # a clear AttributeError for a misspelt name
    try:
        anatomy = branch_taps(model)
    except ValueError:  # Mixers and other families: plain layers only
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


def receptive_field_maps(
    model: nn.Module, requests: Sequence[tuple[str, Residual]], images: torch.Tensor, *,
    batch_size: int | None = None,
) -> dict[tuple[str, Residual], np.ndarray]:
    """The ERF ``(H, W)`` of each ``(layer, residual)`` on ``images`` ``(b, 3, H, W)`` in [0, 1].

    One forward pass per minibatch serves every request, before and after the residual
    alike (it stops after the deepest tap); each request costs one backward pass. See the
    module docstring for the definition; each map is normalised to maximum 1 (an all-zero
    map is returned as zeros). ``images`` must be on the model's device.
    """
    requests = list(dict.fromkeys((layer, residual) for layer, residual in requests))
    taps = {r: residual_tap(model, *r) for r in requests}
    height, width = images.shape[-2:]
    sums = {r: torch.zeros(height, width, dtype=torch.float64, device=images.device)
            for r in requests}
    step = batch_size or len(images)
    unique = list(dict.fromkeys(taps.values()))
    for start in range(0, len(images), step):
        x = images[start:start + step].detach().clone().requires_grad_(True)
        got = run_taps(model, x, unique, grad=True)
        for i, r in enumerate(requests):
            y = _centre(model, got[taps[r]], (height, width)).mean(dim=1).sum()
            (g,) = torch.autograd.grad(y, x, retain_graph=i < len(requests) - 1)
            sums[r] += g.abs().sum(dim=1).sum(dim=0).double()
    result = {}
    for r, total in sums.items():
        erf = (total / len(images)).cpu().numpy()
        peak = erf.max()
        result[r] = erf / peak if peak > 0 else erf
    return result


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
    91 px for uniform mass on a 224-px square.
    """
    w = np.asarray(erf, dtype=np.float64)
    total = w.sum()
    if total <= 0:
        return float("nan")
    rows, cols = np.indices(w.shape)
    r0, c0 = (w * rows).sum() / total, (w * cols).sum() / total
    return float(np.sqrt((w * ((rows - r0) ** 2 + (cols - c0) ** 2)).sum() / total))


def centre_patch_fraction(erf: np.ndarray, patch_size: int) -> float:
    """The share of an ERF's mass on the centre patch (grid position ``(gh // 2, gw // 2)``).

    The patch whose token :mod:`seelike.receptive_field` differentiates for a ViT.
    """
    w = np.asarray(erf, dtype=float)
    if w.ndim != 2 or patch_size < 1 or w.shape[0] % patch_size or w.shape[1] % patch_size:
        raise ValueError(f"an (H, W) map divisible into {patch_size}-px patches is needed, "
                         f"got {w.shape}")
    total = w.sum()
    if total <= 0:
        return float("nan")
    r0 = (w.shape[0] // patch_size // 2) * patch_size
    c0 = (w.shape[1] // patch_size // 2) * patch_size
    return float(w[r0:r0 + patch_size, c0:c0 + patch_size].sum() / total)
