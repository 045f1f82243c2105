"""Mean attention distances of ViT heads, and the outputs of subsets of heads.

Serves Chapter 5 — Local and global information: paper Fig 3 (mean attention distance
of every head of the lowest and highest blocks), Fig 4 and C.5 (the same for ViTs
trained on less data), C.6 (ViT-H/14), and Fig 5 (CKA between subsets of first-block
heads, ordered local → global, and ResNet lower layers).

The mean attention distance of a head (Dosovitskiy et al. 2021, appendix D.7) is the
distance in pixels between a query patch and the key patches it attends to, weighted by
the attention probabilities, summed over keys and averaged over query patches and
images. Distances between patches are ``patch_size`` × the Euclidean distance of their
grid positions. The class token has no position; the paper does not say how it is
treated. ``cls="drop"`` follows Kornblith's public code: CLS queries and keys are
dropped and the remaining spatial attention is *not* renormalised, so attention to CLS
counts as distance 0. ``cls="renormalise"`` rescales each query's spatial attention to
sum to 1, i.e. the expected distance among spatial keys only.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from seelike.cka import MinibatchCKA
from seelike.hooks import TokenMode, capture
from seelike.layers import block_layers
from seelike.skips import Tap, run_taps

__all__ = [
    "ClsMode",
    "attention_distances",
    "distance_matrix",
    "head_outputs",
    "head_subset_cka",
    "head_subset_features",
    "head_subsets",
    "mean_attention_distance",
    "uniform_attention_distance",
]

ClsMode = Literal["drop", "renormalise"]


@functools.lru_cache(maxsize=16)
def _distance_matrix(grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    # Row-major, like timm's PatchEmbed flatten(2): token r * gw + c sits at (r, c).
    positions = torch.stack([rows.flatten(), cols.flatten()], dim=1).double()
    return torch.cdist(positions, positions) * patch_size


def distance_matrix(grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """``(gh * gw, gh * gw)`` float64 pixel distances between the spatial tokens' patches."""
    return _distance_matrix((int(grid[0]), int(grid[1])), int(patch_size)).clone()


def _per_image_distance(
    attn: torch.Tensor, grid: tuple[int, int], patch_size: int, num_prefix_tokens: int,
    cls: ClsMode,
) -> torch.Tensor:
    """(b, heads) mean attention distance of each image."""
    if cls not in ("drop", "renormalise"):
        raise ValueError(f"cls must be 'drop' or 'renormalise', not {cls!r}")
    if attn.ndim != 4 or attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"attention must be (b, heads, tokens, tokens), got {tuple(attn.shape)}")
    n = grid[0] * grid[1]
    if attn.shape[-1] != num_prefix_tokens + n:
        raise ValueError(f"{attn.shape[-1]} tokens, but a {grid[0]}x{grid[1]} grid plus "
                         f"{num_prefix_tokens} prefix tokens makes {num_prefix_tokens + n}")
    spatial = attn[:, :, num_prefix_tokens:, num_prefix_tokens:].double()
    if cls == "renormalise":
        spatial = spatial / spatial.sum(dim=-1, keepdim=True)
    dist = _distance_matrix((int(grid[0]), int(grid[1])), int(patch_size)).to(attn.device)
    return (spatial * dist).sum(dim=-1).mean(dim=-1)


def mean_attention_distance(
    attn: torch.Tensor, grid: tuple[int, int], patch_size: int, num_prefix_tokens: int, *,
    cls: ClsMode = "drop",
) -> torch.Tensor:
    """(heads,) mean attention distance in pixels of attention probabilities ``attn``.

    ``attn`` is ``(b, heads, tokens, tokens)`` with ``num_prefix_tokens`` prefix (CLS) tokens
    first, then the ``grid`` row by row. See the module docstring for ``cls``.
    """
    return _per_image_distance(attn, grid, patch_size, num_prefix_tokens, cls).mean(dim=0)


def uniform_attention_distance(grid: tuple[int, int], patch_size: int) -> float:
    """The distance of a head that attends uniformly to all spatial keys: the reference line.

    About 117 px for ViT-L/16's 14 x 14 grid of 16-px patches (the paper's Fig 3 y-range).
    """
    return float(distance_matrix(grid, patch_size).mean())


def _vit_geometry(model: nn.Module) -> tuple[tuple[int, int], int, int]:
    embed = model.net.patch_embed
    ph, pw = embed.patch_size
    if ph != pw:
        raise ValueError(f"non-square patches {ph}x{pw}: distances would need two scales")
    return tuple(embed.grid_size), int(ph), int(model.num_prefix_tokens)


def attention_distances(
    model: nn.Module, probe: Any, *, batch_size: int, device: torch.device | str | None = None,
    cls: ClsMode = "drop",
) -> np.ndarray:
    """(blocks, heads) mean attention distances of a ViT over a probe set (paper Fig 3).

    ``model`` is a :class:`seelike.models.ImageClassifier` around a timm ViT; ``probe`` a
    :class:`seelike.data.ProbeSet`. Every image weighs the same (the last minibatch may be
    smaller). Heads are in the model's order; sort each row for the paper's plots.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device)
    grid, patch, prefix = _vit_geometry(model)
    layers = block_layers(model)
    total: torch.Tensor | None = None
    with capture(model, layers, attention=True) as cap:
        for start in range(0, len(probe), batch_size):
            model(probe.tensor(start, min(start + batch_size, len(probe))).to(device))
            batch = torch.stack([
                _per_image_distance(cap.attention[name], grid, patch, prefix, cls).sum(dim=0)
                for name in layers])
            total = batch if total is None else total + batch
            cap.clear()
    if total is None:
        raise ValueError("the probe set is empty")
    return (total / len(probe)).cpu().numpy()


# ---- Fig 5: subsets of heads -----------------------------------------------------------------


def head_subsets(distances_of_block: np.ndarray, size: int) -> list[np.ndarray]:
    """Sliding windows of ``size`` heads over the heads sorted local → global.

    ``distances_of_block`` is one row of :func:`attention_distances`. Window i holds the
    heads of ranks i … i + size - 1, so consecutive subsets share all but one head and their
    mean distance grows monotonically (paper Fig 5; the paper leaves subset size and sliding
    vs cumulative open).
    """
    d = np.asarray(distances_of_block)
    if not 1 <= size <= len(d):
        raise ValueError(f"subset size must be in 1..{len(d)}, got {size}")
    order = np.argsort(d, kind="stable")
    return [order[i:i + size] for i in range(len(d) - size + 1)]


def head_outputs(model: nn.Module, block_index: int, x: torch.Tensor) -> torch.Tensor:
    """(b, tokens, heads, head_dim): each head's ``attn @ v`` in block ``block_index``.

    Read from the input of the block's output projection ``attn.proj``, which is the
    concatenation of the heads (timm's optional ``attn.norm`` and gate act before it; both
    are off in every model of the book). The forward pass stops there.
    """
    attn = model.net.blocks[block_index].attn
    tap = Tap(f"net.blocks.{block_index}.attn.proj", "input")
    out = run_taps(model, x, [tap])[tap]
    return out.reshape(*out.shape[:2], attn.num_heads, attn.head_dim)


def head_subset_features(
    heads: torch.Tensor, subset: Sequence[int] | np.ndarray, *, num_prefix_tokens: int = 0,
    tokens: TokenMode = "all",
) -> torch.Tensor:
    """(b, tokens × |subset| × head_dim) features of a subset of heads, for CKA.

    ``heads`` is :func:`head_outputs`' result. ``tokens``: ``"all"`` keeps every token;
    ``"spatial"`` drops the ``num_prefix_tokens`` prefix tokens; ``"mean"`` averages the
    spatial ones (``"cls"`` keeps token 0).
    """
    chosen = heads[:, :, torch.as_tensor(np.asarray(subset), dtype=torch.long)]
    if tokens == "cls":
        chosen = chosen[:, :1]
    elif tokens in ("spatial", "mean"):
        chosen = chosen[:, num_prefix_tokens:]
        if tokens == "mean":
            chosen = chosen.mean(dim=1, keepdim=True)
    elif tokens != "all":
        raise ValueError(f"tokens must be 'all', 'cls', 'spatial' or 'mean', not {tokens!r}")
    return chosen.reshape(chosen.shape[0], -1)


def head_subset_cka(
    vit: nn.Module, block_index: int, subsets: Sequence[Sequence[int] | np.ndarray],
    cnn: nn.Module, cnn_layers: Sequence[str], probe: Any, *, batch_size: int,
    tokens: TokenMode = "all", device: torch.device | str | None = None, unbiased: bool = True,
) -> np.ndarray:
    """(subsets, cnn_layers) minibatch CKA between head subsets of one ViT block and CNN layers.

    Paper Fig 5: subsets from :func:`head_subsets`, ``cnn_layers`` the ResNet's lower units
    (e.g. ``layers.block_layers(resnet)[:5]``). As in :func:`seelike.compare.cka_matrix`, a
    last minibatch smaller than ``batch_size`` is dropped.
    """
    if cnn is vit:
        # The capture on cnn would also see the pass that reads the heads.
        raise ValueError("vit and cnn are the same module; pass a copy as cnn")
    device = torch.device(device) if device is not None else next(vit.parameters()).device
    vit, cnn = vit.to(device), cnn.to(device)
    n = len(probe) - len(probe) % batch_size
    if n == 0:
        raise ValueError(f"the probe set has {len(probe)} examples, fewer than one minibatch "
                         f"of {batch_size}")
    acc = MinibatchCKA(len(subsets), len(cnn_layers), unbiased=unbiased)
    prefix = int(vit.num_prefix_tokens)
    with capture(cnn, list(cnn_layers)) as cap:
        for start in range(0, n, batch_size):
            x = probe.tensor(start, start + batch_size).to(device)
            heads = head_outputs(vit, block_index, x)
            cnn(x)
            acc.update([head_subset_features(heads, s, num_prefix_tokens=prefix, tokens=tokens)
                        for s in subsets], [cap.outputs[name] for name in cnn_layers])
            cap.clear()
    return acc.compute()
