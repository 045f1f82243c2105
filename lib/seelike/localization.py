"""Token-to-patch CKA: how much each token still knows about where it sits in the image.

The CKA between each token of a layer and the input patch at every position (paper
Figs 9 and 10: final-block tokens of CLS and GAP ViTs; D.1–D.3: penultimate blocks and
ResNet middle units), and a summary the paper lacks: for each model and block, the
fraction of token positions whose most similar input patch is their own, and the mean
rank of their own patch.

A *token* at grid position p is the representation of one spatial position of a layer's
output: a ViT's spatial token p (CLS excluded), or all channels at one spatial position
of a ResNet feature map, positions in row-major order as timm's patch embedding orders
them. Its *input patch* at position q is the block of pixels of the same grid cell, the
image split into non-overlapping patches of ``image size / grid size`` pixels (a ViT's
own patch size; 8 px for ``resnet_cifar``'s 4 × 4 final map on 32-px images), flattened
after the model's own input normalisation (the pixels the network sees). CKA is taken
across images, for every (p, q) pair, with the minibatch estimator of the other CKA
figures.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from seelike import catalogue
from seelike.analyses import TokenPatchCKA
from seelike.cka import MinibatchCKA, transformed_grams
from seelike.memory import one_image
from seelike.passes import Analysis, Batch, Needs
from seelike.taps import Tap
from seelike.tokens import token_layout

__all__ = [
    "TokenPatchCKAAccumulator",
    "border",
    "edge_preference",
    "example_tokens",
    "image_patches",
    "interior",
    "layer_matrix",
    "localization_summary",
    "own_margin",
    "own_other_contrast",
    "own_patch_rank",
    "spatial_tokens",
]


def spatial_tokens(output: torch.Tensor, prefix: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(b, positions, dim)`` spatial tokens of a layer's output, and their grid.

    A ViT block's ``(b, prefix + h·w, dim)`` output loses its ``prefix`` (CLS) tokens and
    must hold a square grid; a CNN's ``(b, c, h, w)`` map becomes ``(b, h·w, c)`` in
    row-major order, the order of timm's patch embedding.
    """
    if output.ndim == 4:
        h, w = output.shape[-2:]
        return output.flatten(2).transpose(1, 2), (int(h), int(w))
    if output.ndim != 3:
        raise ValueError(f"expected (b, tokens, dim) or (b, c, h, w), got {tuple(output.shape)}")
    spatial = output[:, prefix:]
    side = math.isqrt(spatial.shape[1])
    if side * side != spatial.shape[1]:
        raise ValueError(f"{spatial.shape[1]} spatial tokens do not form a square grid")
    return spatial, (side, side)


def image_patches(x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``(b, gh·gw, c·ph·pw)`` non-overlapping patches of images ``x`` on a ``grid``, row-major."""
    b, c, h, w = x.shape
    gh, gw = grid
    if h % gh or w % gw:
        raise ValueError(f"a {h}x{w} image does not split into a {gh}x{gw} grid of patches")
    ph, pw = h // gh, w // gw
    patches = x.reshape(b, c, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(b, gh * gw, c * ph * pw)


@functools.lru_cache(maxsize=64)
def _grids(model: str, layers: tuple[str, ...], image_size: int, _generation: int
           ) -> tuple[tuple[int, int], ...]:
    # Cached with the catalogue's generation, as the shapes are (seelike.memory.one_image):
    # every pass's memory check asks, and the meta build that gives the token layout costs
    # more than the check itself.
    prefix = token_layout(catalogue.meta_build(model))[1]
    shapes = one_image(model, [Tap(layer) for layer in layers], image_size)
    return tuple(spatial_tokens(t, prefix)[1] for t in shapes.values())


class TokenPatchCKAAccumulator(TokenPatchCKA, Analysis):
    """Computes a :class:`seelike.analyses.TokenPatchCKA` in a pass.

    Every token's and every patch's transformed Gram matrix is formed once per minibatch;
    all pairs then come from one ``(positions, b^2) @ (b^2, positions)`` product. Every
    layer's accumulator draws its example weights from the same seed, so draw i resamples
    the same examples in every layer, and in every other model run over the same probe set
    (:meth:`seelike.cka.MinibatchCKA.compute_bootstrap`, from the Grams already formed).
    """

    def state_bytes(self, batch: int, image_size: int) -> int:
        """Each layer's positions x positions sums and draws, its grid read on the meta
        device; a model no catalogue holds counts nothing."""
        try:
            grids = _grids(self.model, tuple(self.layers), image_size, catalogue.generation())
        except KeyError:
            return 0
        return sum(MinibatchCKA(h * w, bootstrap=self.bootstrap).state_bytes(batch)
                   for h, w in grids)

    def needs(self, model: str, net: nn.Module) -> Needs:
        return Needs(taps=[Tap(layer) for layer in self.layers])

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        net = nets[self.model]
        self._normalize: nn.Module = getattr(net, "normalize", nn.Identity())
        self._prefix = token_layout(net)[1]
        self._acc: dict[str, MinibatchCKA] = {}
        self._grid: dict[str, tuple[int, int]] = {}

    def update(self, batch: Batch) -> None:
        if not batch.full:
            return
        with torch.no_grad():
            pixels = self._normalize(batch.x)
            patch_grams: dict[tuple[int, int], torch.Tensor] = {}
            for layer in self.layers:
                tokens, grid = spatial_tokens(batch.tap(self.model, Tap(layer)), self._prefix)
                if grid not in patch_grams:  # layers of one stage share their patches
                    patches = image_patches(pixels, grid)
                    patch_grams[grid] = transformed_grams(
                        {f"patch {q}": patches[:, q] for q in range(patches.shape[1])},
                        unbiased=self.unbiased)
                token_grams = transformed_grams(
                    {f"{layer} token {p}": tokens[:, p] for p in range(tokens.shape[1])},
                    unbiased=self.unbiased)
                n = grid[0] * grid[1]
                acc = self._acc.setdefault(layer, MinibatchCKA(n, n, unbiased=self.unbiased,
                                                               bootstrap=self.bootstrap))
                self._grid[layer] = grid
                acc.update_transformed(token_grams, patch_grams[grid], len(batch))

    def result(self) -> dict[str, np.ndarray]:
        if not self._acc:
            raise RuntimeError("no full minibatch reached TokenPatchCKA: the probe set is "
                               "smaller than one minibatch")
        size = max(g[0] * g[1] for g in self._grid.values())
        cka = np.full((len(self.layers), size, size), np.nan)
        boot = np.full((self.bootstrap, len(self.layers), size, size), np.nan, np.float32)
        for i, layer in enumerate(self.layers):
            m = self._acc[layer].compute()
            cka[i, :len(m), :len(m)] = m
            if self.bootstrap:
                boot[:, i, :len(m), :len(m)] = self._acc[layer].compute_bootstrap()
        out = {"cka": cka, "grid": np.array([self._grid[layer] for layer in self.layers])}
        return out | ({"boot": boot} if self.bootstrap else {})


def layer_matrix(result: Mapping[str, np.ndarray], index: int, draw: int | None = None
                 ) -> np.ndarray:
    """The ``(positions, positions)`` matrix of layer ``index`` of a TokenPatchCKA result.

    ``draw``: the matrix of that bootstrap draw instead (a result of a
    :class:`seelike.analyses.TokenPatchCKA` built with ``bootstrap`` draws).
    """
    gh, gw = (int(v) for v in result["grid"][index])
    if draw is None:
        return np.asarray(result["cka"][index, :gh * gw, :gh * gw])
    if "boot" not in result:
        raise KeyError("this token-to-patch CKA result keeps no bootstrap draws; build "
                       "TokenPatchCKA with bootstrap=N")
    return np.asarray(result["boot"][draw, index, :gh * gw, :gh * gw], dtype=float)


# ---- the localization summary ------------------------------------------------------------------


def own_patch_rank(cka: np.ndarray) -> np.ndarray:
    """``(positions,)`` rank of each token's own patch among all patches, 1 = most similar.

    ``cka[p, q]`` is the similarity of token p to patch q. Ties share the mean of the
    ranks they span, so a token equally similar to every patch ranks its own patch in
    the middle, ``(positions + 1) / 2``, not first. Tokens whose own entry is NaN get NaN;
    NaN similarities to other patches never outrank the own patch.
    """
    c = np.asarray(cka, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"need a square (tokens, patches) matrix, got shape {c.shape}")
    own = np.diag(c)[:, None]
    others = ~np.eye(len(c), dtype=bool)
    with np.errstate(invalid="ignore"):
        above = ((c > own) & others).sum(axis=1)
        tied = ((c == own) & others).sum(axis=1)
    rank = 1 + above + tied / 2
    return np.where(np.isfinite(np.diag(c)), rank, np.nan)


def localization_summary(cka: np.ndarray, positions: np.ndarray | None = None
                         ) -> dict[str, float]:
    """How localized a layer's tokens are, from its ``(positions, positions)`` CKA matrix.

    ``top1``: the fraction of tokens whose own patch is strictly the most similar one;
    ``mean_rank``: the mean rank of the own patch (1 best; :func:`own_patch_rank`);
    ``normalised_rank``: ``(mean_rank - 1) / (positions - 1)``, 0 when every token finds
    its own patch first and about 0.5 at chance, so grids of different sizes compare;
    ``chance_top1`` and ``chance_rank``: the values for a token unrelated to position.
    ``positions`` (boolean mask or indices) restricts the average to some tokens, e.g.
    the interior ones, while every patch still competes.
    """
    rank = own_patch_rank(cka)
    n = len(rank)
    chosen = rank if positions is None else rank[np.asarray(positions)]
    chosen = chosen[np.isfinite(chosen)]
    if not chosen.size:
        raise ValueError("no token with a finite own-patch similarity")
    mean_rank = float(chosen.mean())
    return {"top1": float((chosen == 1).mean()), "mean_rank": mean_rank,
            "normalised_rank": (mean_rank - 1) / (n - 1) if n > 1 else 0.0,
            "chance_top1": 1 / n, "chance_rank": (n + 1) / 2}


def interior(grid: tuple[int, int]) -> np.ndarray:
    """Boolean mask over a row-major grid: True for positions off the border."""
    gh, gw = grid
    mask = np.zeros((gh, gw), dtype=bool)
    mask[1:-1, 1:-1] = True
    return mask.ravel()


def border(grid: tuple[int, int]) -> np.ndarray:
    """Boolean mask over a row-major grid: True for the edge positions, corners included
    (the paper's "edge" tokens, token 0 among them)."""
    return ~interior(grid)


def _square(cka: np.ndarray) -> np.ndarray:
    c = np.asarray(cka, dtype=float)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"need a square (tokens, patches) matrix, got shape {c.shape}")
    return c


def own_other_contrast(cka: np.ndarray, positions: np.ndarray | None = None) -> float:
    """Mean over tokens of CKA(token, own patch) minus its mean CKA with the other patches.

    The size of the own-patch peak in CKA units, where :func:`own_patch_rank` sees only
    its order: a dim peak that is still the brightest cell ranks first all the same.
    ``positions`` (boolean mask or indices) restricts the mean to some tokens, e.g.
    :func:`interior` ones; every other patch counts as "other". NaN entries are skipped.
    """
    c = _square(cka)
    others = np.where(np.eye(len(c), dtype=bool), np.nan, c)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row gives NaN
        contrast = np.diag(c) - np.nanmean(others, axis=1)
    chosen = contrast if positions is None else contrast[np.asarray(positions)]
    chosen = chosen[np.isfinite(chosen)]
    return float(chosen.mean()) if chosen.size else float("nan")


def own_margin(cka: np.ndarray, positions: np.ndarray | None = None) -> float:
    """Mean over tokens of CKA(token, own patch) minus its highest CKA with another patch.

    The continuous margin behind ``top1`` of :func:`localization_summary`: positive when the
    own patch wins on average, and by how much; ``positions`` as in
    :func:`own_other_contrast`.
    """
    c = _square(cka)
    others = np.where(np.eye(len(c), dtype=bool), -np.inf, c)
    margin = np.diag(c) - np.max(np.where(np.isfinite(others), others, -np.inf), axis=1)
    chosen = margin if positions is None else margin[np.asarray(positions)]
    chosen = chosen[np.isfinite(chosen)]
    return float(chosen.mean()) if chosen.size else float("nan")


def edge_preference(cka: np.ndarray, grid: tuple[int, int]) -> float:
    """Mean over edge tokens of their mean CKA with the *other* edge patches minus their mean
    CKA with the interior patches (paper Fig 9: edge tokens "additionally show similarity
    to other edge positions").

    Each token's own patch is left out, so the statistic does not reward localization
    itself. NaN for a grid without interior positions (at most 2 rows or columns).
    """
    c = _square(cka)
    edge = border(grid)
    if len(c) != len(edge):
        raise ValueError(f"a {grid[0]}x{grid[1]} grid has {len(edge)} positions, the matrix "
                         f"{len(c)}")
    if edge.all():
        return float("nan")
    rows = c[edge]
    others = np.where(np.eye(len(c), dtype=bool)[edge], np.nan, rows)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        to_edge = np.nanmean(others[:, edge], axis=1)
        to_interior = np.nanmean(rows[:, ~edge], axis=1)
        return float(np.nanmean(to_edge - to_interior))


def example_tokens(grid: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """The tokens drawn one grid each, as in the paper's Fig 9: corner, edge, interior.

    The interior token sits just above and left of the centre (the paper's ViT-B/32
    examples include (2, 1) and (4, 2) of a 7 × 7 grid).
    """
    gh, gw = grid
    return {"corner": (0, 0), "edge": (gh // 2, 0),
            "interior": (max(1, gh // 2 - 1), max(1, gw // 2 - 1))}
