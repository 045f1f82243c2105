"""Mean attention distances of ViT heads, and the outputs of subsets of heads.

Two quantities: the mean attention distance of every head of every block of a ViT
(:class:`seelike.analyses.AttentionDistances`, :func:`attention_distances`; paper Figs
3-4, C.5, C.6), and the minibatch CKA between subsets of one block's heads, ordered
local → global by that distance, and the layers of a CNN
(:class:`seelike.analyses.HeadSubsetCKA`, :func:`head_subset_cka`).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from seelike import passes
from seelike.analyses import AttentionDistances, ClsMode, HeadSubsetCKA
from seelike.cka import MinibatchCKA, transformed_grams
from seelike.layers import block_layers
from seelike.passes import Analysis, Batch, GramSpec, Needs
from seelike.taps import Tap, run_taps
from seelike.tokens import TokenMode

__all__ = [
    "AttentionDistancesAccumulator",
    "HeadSubsetCKAAccumulator",
    "attention_distances",
    "distance_matrix",
    "head_outputs",
    "head_subset_cka",
    "head_subset_features",
    "mean_attention_distance",
    "uniform_attention_distance",
    "vit_geometry",
]


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


def vit_geometry(model: nn.Module) -> tuple[tuple[int, int], int, int]:
    """A timm ViT's patch grid, square patch size (px) and number of prefix tokens."""
    net = getattr(model, "net", model)
    if not isinstance(net, VisionTransformer):
        raise TypeError(f"model is a {type(net).__name__}: attention distances are defined "
                        "for Vision Transformers (timm's VisionTransformer); pass a ViT of the "
                        "zoo or of the paper preset")
    embed = net.patch_embed
    ph, pw = embed.patch_size
    if ph != pw:
        raise ValueError(f"non-square patches {ph}x{pw}: distances would need two scales")
    return tuple(embed.grid_size), int(ph), int(model.num_prefix_tokens)


#: Images per chunk when a block's attention is reduced to distances: one chunk's float64
#: probabilities are the transient memory (ViT-L/16 at 224 px: 64 images, 0.3 GB), however
#: large the minibatch.
DISTANCE_CHUNK = 64


@dataclass(frozen=True)
class _Distances:
    """A :class:`~seelike.taps.Tap` transform: ``(b, heads, tokens, tokens)`` attention to
    ``(b, modes, heads)`` per-image distances, a chunk of images at a time.

    Applied as each block's attention is recorded, so a pass holds ``b × heads`` numbers
    per block instead of every block's ``b × heads × tokens²`` probabilities (about 30 GB
    for ViT-L/16's 24 blocks at a minibatch of 1,024).
    """

    grid: tuple[int, int]
    patch_size: int
    prefix: int
    modes: tuple[ClsMode, ...]

    def __call__(self, attn: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.stack([
            _per_image_distance(attn[i:i + DISTANCE_CHUNK], self.grid, self.patch_size,
                                self.prefix, cls) for cls in self.modes], dim=1)
            for i in range(0, len(attn), DISTANCE_CHUNK)])


class AttentionDistancesAccumulator(AttentionDistances, Analysis):
    """Computes :class:`seelike.analyses.AttentionDistances` in a pass: the softmax
    probabilities of every block, reduced to distances per image as the forward pass
    records them, for all ``cls`` modes at once."""

    def _taps(self, net: nn.Module) -> list[Tap]:
        reduce = _Distances(*vit_geometry(net), tuple(self.cls))
        return [Tap(f"{block}.attn", "attention", reduce) for block in block_layers(net)]

    def needs(self, model: str, net: nn.Module) -> Needs:
        return Needs(taps=self._taps(net))

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._tap_list = self._taps(nets[self.model])
        self._per_example: list[torch.Tensor] = []

    def update(self, batch: Batch) -> None:
        # (b, blocks, modes, heads), float64, kept on the pass's device until the end.
        self._per_example.append(torch.stack([batch.tap(self.model, t)
                                              for t in self._tap_list], dim=1))

    def result(self) -> dict[str, np.ndarray]:
        every = torch.cat(self._per_example).cpu().numpy()
        out: dict[str, np.ndarray] = {}
        for m, cls in enumerate(self.cls):
            out[cls] = every[:, :, m].mean(axis=0)
            out[f"{cls}_per_example"] = every[:, :, m].astype(np.float32)
        return out


def attention_distances(
    model: nn.Module, probe: Any, *, batch_size: int, device: torch.device | str | None = None,
    cls: ClsMode = "drop",
) -> np.ndarray:
    """(blocks, heads) mean attention distances of a ViT over a probe set (paper Fig 3).

    ``model`` is a :class:`seelike.network.ImageClassifier` around a timm ViT; ``probe`` a
    :class:`seelike.probe_sets.ProbeSet`. Every image weighs the same (the last minibatch
    may be smaller). Heads are in the model's order; sort each row for the paper's plots.
    """
    device = device if device is not None else next(model.parameters()).device
    (out,) = passes.run([AttentionDistances("model", (cls,))], {"model": model}, probe,
                        batch_size=batch_size, device=device)
    return out[cls]


# ---- subsets of heads ------------------------------------------------------------------------


def head_outputs(model: nn.Module, block_index: int, x: torch.Tensor) -> torch.Tensor:
    """(b, tokens, heads, head_dim): each head's ``attn @ v`` in block ``block_index``.

    Read from the input of the block's output projection ``attn.proj``, which is the
    concatenation of the heads (timm's optional ``attn.norm`` and gate act before it; both
    are off unless the ViT was built with them). The forward pass stops there.
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


class HeadSubsetCKAAccumulator(HeadSubsetCKA, Analysis):
    """Computes a :class:`seelike.analyses.HeadSubsetCKA` in a pass: each subset's heads
    read at the input of its blocks' output projections, one transformed Gram per subset,
    against the CNN layers' Grams from the pass (:meth:`seelike.cka.MinibatchCKA.
    compute_bootstrap` for the draws)."""

    def _accumulator(self) -> MinibatchCKA:
        return MinibatchCKA(len(self.subsets), len(self.cnn_layers), unbiased=self.unbiased,
                            bootstrap=self.bootstrap)

    def state_bytes(self, batch: int, image_size: int) -> int:
        return self._accumulator().state_bytes(batch)

    def _head_taps(self) -> list[Tap]:
        return [Tap(f"net.blocks.{b}.attn.proj", "input") for b in self.blocks]

    def _cnn_specs(self) -> list[GramSpec]:
        return [GramSpec(Tap(layer), "all", self.unbiased) for layer in self.cnn_layers]

    def needs(self, model: str, net: nn.Module) -> Needs:
        need = Needs()
        if model == self.vit:
            need.taps += self._head_taps()
        if model == self.cnn:
            need.grams += self._cnn_specs()
        return need

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        vit = nets[self.vit]
        self._shapes = [(vit.net.blocks[b].attn.num_heads, vit.net.blocks[b].attn.head_dim)
                        for b in self.blocks]
        self._prefix = int(vit.num_prefix_tokens)
        self._acc = self._accumulator()

    def update(self, batch: Batch) -> None:
        if not batch.full:
            return
        heads = torch.cat([batch.tap(self.vit, t).reshape(*batch.tap(self.vit, t).shape[:2],
                                                          h, d)
                           for t, (h, d) in zip(self._head_taps(), self._shapes, strict=True)],
                          dim=2)
        feats = {f"heads {list(s)}": head_subset_features(heads, s, tokens=self.tokens,
                                                          num_prefix_tokens=self._prefix)
                 for s in self.subsets}
        a = torch.stack([transformed_grams({k: f}, unbiased=self.unbiased)[0]
                         for k, f in feats.items()])
        self._acc.update_transformed(a, batch.grams(self.cnn, self._cnn_specs()), len(batch))

    def result(self) -> dict[str, np.ndarray]:
        out = {"cka": self._acc.compute()}
        if self.bootstrap:
            out["boot"] = self._acc.compute_bootstrap().astype(np.float32)
        return out


def head_subset_cka(
    vit: nn.Module, block_index: int, subsets: Sequence[Sequence[int] | np.ndarray],
    cnn: nn.Module, cnn_layers: Sequence[str], probe: Any, *, batch_size: int,
    tokens: TokenMode = "all", device: torch.device | str | None = None, unbiased: bool = True,
) -> np.ndarray:
    """(subsets, cnn_layers) minibatch CKA between head subsets of one ViT block and CNN layers.

    Subsets usually come from :func:`seelike.analyses.head_subsets`, ``cnn_layers`` from
    the ResNet's lower units (e.g. ``layers.block_layers(resnet)[:5]``). As in
    :func:`seelike.compare.cka_matrix`, a last minibatch smaller than ``batch_size`` is
    dropped. See :class:`seelike.analyses.HeadSubsetCKA`.
    """
    device = device if device is not None else next(vit.parameters()).device
    analysis = HeadSubsetCKA("vit", (block_index,), tuple(tuple(np.asarray(s).tolist())
                                                          for s in subsets),
                             "cnn", tuple(cnn_layers), tokens, unbiased)
    if len(probe) < batch_size:
        raise ValueError(f"the probe set has {len(probe)} examples, fewer than one minibatch "
                         f"of {batch_size}")
    (out,) = passes.run([analysis], {"vit": vit, "cnn": cnn}, probe, batch_size=batch_size,
                        device=device)
    return out["cka"]
