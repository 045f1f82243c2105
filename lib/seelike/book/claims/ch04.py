"""Chapter 4's claims: representation structure (paper Figs 1 and 2).

Each function turns one sentence of the paper into a :class:`~seelike.book.claims.record.Claim`:
the statistic, its pass condition (fixed from the paper's wording before any of our
numbers were seen; the docstring gives the reason) and the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seelike.book.claims.record import Claim, verdict
from seelike.layers import stage_of
from seelike.structure import (
    best_match_halves,
    depth_fraction,
    low_high_similarity,
    mapped_stages,
    stage_contrast,
)

CHAPTER = "04_representation_structure"


CLEAR_STAGE_MARGIN = 0.1
DISSIMILAR_CKA = 0.5
#: Fig 2, lower half: the mean best-match ViT depth must be at most this (partly: 0.5)
LOWER_HALF_BAR = 0.35
#: Fig 2, upper half: the band the mean best-match ViT depth must fall in
UPPER_HALF_BAND = (0.25, 0.65)


def fig1_uniformity(vit_cka: np.ndarray, resnet_cka: np.ndarray) -> Claim:
    """Fig 1: the ViT's lower and higher layers are more alike than the ResNet's.

    Statistic: mean CKA between the lowest and the highest third of layers
    (:func:`low_high_similarity`), ViT minus ResNet. Threshold ``> 0``: the paper's
    claim is a comparison ("ViTs have ... much higher similarity between lower and
    higher layers", ResNets "lower similarity"), so the sign is what it asserts; any
    size of gap would be a number we invented. No "partly".
    """
    value = low_high_similarity(vit_cka) - low_high_similarity(resnet_cka)
    return Claim(
        chapter=CHAPTER, figure="Fig 1",
        statement="ViT representations are more uniform across depth than ResNet ones: the "
                  "ViT's lower and higher layers are much more similar to each other.",
        statistic="mean CKA between lowest and highest third of layers, ViT minus ResNet",
        value=value, threshold="> 0", verdict=verdict(bool(value > 0)))


def fig1_resnet_stages(resnet_cka: np.ndarray, resnet_layers: Sequence[str]) -> Claim:
    """Fig 1: the ResNet's representations form clear stages.

    Statistic: :func:`stage_contrast` with the stages read from the layer names
    (``layerK`` / ``stages.K``). Threshold ``> 0.1`` (reproduced), ``> 0.05``
    (partly): the paper calls the stages "clear", and in its R50/R152 heatmaps the
    within-stage squares stand out from their surroundings by several steps of the
    colour scale. A tenth of the [0, 1] CKA scale is about the smallest difference that
    reads as a distinct block on that scale, and an order of magnitude above the
    repeat-to-repeat spread of our CKA estimates; half of it is visible only as
    shading, hence "partly". A smooth decay along the diagonal alone already gives a
    small positive contrast, which is why 0 is not the bar.
    """
    value = stage_contrast(resnet_cka, [stage_of(name) for name in resnet_layers])
    return Claim(
        chapter=CHAPTER, figure="Fig 1",
        statement="ResNet representations show clear stages: layers are similar within a "
                  "stage and dissimilar across stages.",
        statistic="ResNet: mean CKA within stages minus across stages (distinct layer pairs)",
        value=value, threshold=f"> {CLEAR_STAGE_MARGIN} (partly: > {CLEAR_STAGE_MARGIN / 2})",
        verdict=verdict(bool(value > CLEAR_STAGE_MARGIN),
                        bool(value > CLEAR_STAGE_MARGIN / 2)))


def fig1_vit_no_stages(vit_cka: np.ndarray, resnet_cka: np.ndarray,
                       resnet_layers: Sequence[str]) -> Claim:
    """Fig 1: the ViT shows no comparable stage structure.

    Statistic: :func:`stage_contrast` of the ViT with the ResNet's stage boundaries
    mapped onto the ViT's depth (:func:`mapped_stages`), i.e. the ViT is cut where
    the ResNet changes stage. Reproduced if it is below both the "clear stages"
    margin 0.1 of :func:`fig1_resnet_stages` (the ViT has no clear stages by the same
    bar) and the ResNet's own contrast (less stage structure than the ResNet);
    partly if only one of the two holds.
    """
    stages = [stage_of(name) for name in resnet_layers]
    value = stage_contrast(vit_cka, mapped_stages(len(vit_cka), stages))
    resnet = stage_contrast(resnet_cka, stages)
    below_margin, below_resnet = bool(value < CLEAR_STAGE_MARGIN), bool(value < resnet)
    return Claim(
        chapter=CHAPTER, figure="Fig 1",
        statement="ViT representations show no ResNet-like stages.",
        statistic="ViT: mean CKA within minus across the ResNet's stages mapped by depth "
                  "fraction",
        value=value,
        threshold=f"< {CLEAR_STAGE_MARGIN} and < the ResNet's contrast (partly: one of them)",
        verdict=verdict(below_margin and below_resnet, below_margin or below_resnet))


def fig2_lower_half(cross: np.ndarray) -> Claim:
    """Fig 2: the ResNet's lower half is most similar to roughly the lowest quarter of the ViT.

    ``cross`` is ``(vit_layers, resnet_layers)``. Statistic: for each ResNet layer in
    the lower half of its depth, the depth fraction of its most similar ViT layer
    (:func:`best_match_fraction`), averaged. The paper's "lowest quarter" puts those
    matches in [0, 0.25] (mean about 0.125); reproduced if ``<= 0.35``, allowing a
    tenth of depth for reading "roughly" off a figure and for the coarse layer grid;
    partly if ``<= 0.5`` (the lower ResNet half still maps to the lower ViT half).
    """
    value, _ = best_match_halves(cross)
    return Claim(
        chapter=CHAPTER, figure="Fig 2",
        statement="The lower half of ResNet layers is most similar to roughly the lowest "
                  "quarter of ViT layers.",
        statistic="ResNet lower half: mean depth fraction of the most similar ViT layer",
        value=value, threshold=f"<= {LOWER_HALF_BAR} (partly: <= 0.5)",
        verdict=verdict(bool(value <= LOWER_HALF_BAR), bool(value <= 0.5)))


def fig2_upper_half(cross: np.ndarray) -> Claim:
    """Fig 2: the ResNet's upper half is most similar to the next third of ViT layers.

    Statistic: as :func:`fig2_lower_half`, over the ResNet's upper half. "The next
    third" after the lowest quarter is [0.25, 0.58] of ViT depth; reproduced if the
    mean lies in ``[0.25, 0.65]`` (a little slack at the top for "roughly");
    partly if it lies outside but above the lower half's mean (the ordering of the
    correspondence holds, its place does not).
    """
    lower, value = best_match_halves(cross)
    low, high = UPPER_HALF_BAND
    inside = bool(low <= value <= high)
    return Claim(
        chapter=CHAPTER, figure="Fig 2",
        statement="The upper half of ResNet layers is most similar to roughly the next third "
                  "of ViT layers (after the lowest quarter).",
        statistic="ResNet upper half: mean depth fraction of the most similar ViT layer",
        value=value, threshold=f"in [{low}, {high}] (partly: above the lower half's mean)",
        verdict=verdict(inside, bool(value > lower)))


def fig2_last_third(cross: np.ndarray) -> Claim:
    """Fig 2: the ViT's final third is dissimilar to every ResNet layer.

    Statistic: the largest CKA between any ViT layer in the last third of its depth and
    any ResNet layer. Threshold ``< 0.5``: "dissimilar" read off the paper's [0, 1]
    colour scale, on which those rows are dark while the matched regions are bright;
    0.5 is the midpoint between the two. Partly if only the typical last-third layer is
    dissimilar: the mean over those ViT layers of their best ResNet match is below 0.5
    while some pair exceeds it.
    """
    c = np.asarray(cross, dtype=float)
    last = depth_fraction(c.shape[0]) > 2 / 3
    block = np.where(np.isfinite(c[last]), c[last], np.nan)
    finite = np.isfinite(block)
    value = float(np.nanmax(block)) if finite.any() else float("nan")
    rows = [np.nanmax(r) for r, ok in zip(block, finite, strict=True) if ok.any()]
    typical = float(np.mean(rows)) if rows else float("nan")
    return Claim(
        chapter=CHAPTER, figure="Fig 2",
        statement="The final third of ViT layers is dissimilar to all ResNet layers.",
        statistic="max CKA between ViT's last third of layers and any ResNet layer",
        value=value,
        threshold=f"< {DISSIMILAR_CKA} (partly: mean best match of those ViT layers < "
                  f"{DISSIMILAR_CKA})",
        verdict=verdict(bool(value < DISSIMILAR_CKA), bool(typical < DISSIMILAR_CKA)))


def chapter4_claims(vit_cka: np.ndarray, resnet_cka: np.ndarray, cross: np.ndarray,
                    resnet_layers: Sequence[str]) -> list[Claim]:
    """All claims of Chapter 4: Fig 1 from the within-model matrices, Fig 2 from ``cross``.

    ``cross`` is ViT layers x ResNet layers (Fig 2's layout, ResNet on x).
    """
    vit_cka, resnet_cka = np.asarray(vit_cka), np.asarray(resnet_cka)
    if np.shape(cross) != (len(vit_cka), len(resnet_cka)):
        raise ValueError(f"cross is {np.shape(cross)}, expected (vit, resnet) = "
                         f"({len(vit_cka)}, {len(resnet_cka)})")
    return [
        fig1_uniformity(vit_cka, resnet_cka),
        fig1_resnet_stages(resnet_cka, resnet_layers),
        fig1_vit_no_stages(vit_cka, resnet_cka, resnet_layers),
        fig2_lower_half(cross),
        fig2_upper_half(cross),
        fig2_last_third(cross),
    ]


#: The pass bars of :func:`chapter4_claims`, in its order, for figures that draw them
#: (Chapter 10 plots each statistic against its bar).
PASS_BARS: tuple[tuple[float, ...], ...] = (
    (0.0,), (CLEAR_STAGE_MARGIN,), (CLEAR_STAGE_MARGIN,), (LOWER_HALF_BAR,), UPPER_HALF_BAND,
    (DISSIMILAR_CKA,))
