"""Chapter 4's claims: representation structure (paper Figs 1 and 2).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 4 tests, word for word,
with its statistic and bars, fixed before any of our numbers were seen; the functions
below compute the statistics from CKA matrices, and :func:`chapter4_claims` judges them on
the matrices, their bootstrap draws over probe examples and the other training seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seelike.book.claims.record import Claim, Declaration, declared
from seelike.layers import stage_of
from seelike.structure import (
    best_match_fraction,
    best_match_halves,
    depth_fraction,
    low_high_similarity,
    mapped_stages,
    stage_contrast,
)

CHAPTER = "04_representation_structure"

CLEAR_STAGE_MARGIN = 0.1
#: Fig 2, lower half: the mean best-match ViT depth must be at most this (partly: 0.5)
LOWER_HALF_BAR = 0.35
#: Fig 2, upper half: "the next third" of ViT depth after the lowest quarter, with slack
UPPER_HALF_BAND = (0.25, 0.65)

DECLARATIONS = declared([
    Declaration(
        "fig1_uniformity", "Fig 1",
        "We observe that ViTs have relatively uniform layer similarity structure, with a "
        "clear grid-like pattern and large similarity between lower and higher layers.",
        "Figure 1 caption",
        "mean CKA between lowest and highest third of layers, ViT minus ResNet", ">", 0.0,
        None,
        "a comparison with the ResNet ('by contrast'): the sign is what the sentence asserts; "
        "any size of gap would be a number we invented"),
    Declaration(
        "fig1_resnet_stages", "Fig 1",
        "By contrast, the ResNet models show clear stages in similarity structure, with "
        "smaller similarity scores between lower and higher layers.",
        "Figure 1 caption",
        "ResNet: mean CKA within stages minus across stages (distinct layer pairs)", ">",
        CLEAR_STAGE_MARGIN, CLEAR_STAGE_MARGIN / 2,
        "'clear' stages stand out by several colour steps on the paper's heatmaps; a tenth "
        "of the [0, 1] scale is the least that reads as a distinct block, half of it only "
        "as shading (partly); a smooth diagonal decay alone gives a small positive contrast"),
    Declaration(
        "fig1_vit_no_stages", "Fig 1",
        "lower and higher layers in ViT show much greater similarity than in the ResNet, "
        "where similarity is divided into different (lower/higher) stages.",
        "Section 4 (the paper implies, but never states, that ViT has no stages)",
        "ViT: mean CKA within minus across the ResNet's stages mapped by depth fraction",
        "<", CLEAR_STAGE_MARGIN, None,
        "the ViT has no clear stages by the same bar as the ResNet's 'clear stages'"),
    Declaration(
        "fig2_lower_half", "Fig 2",
        "We observe (Figure 2) that the lower half of 60 ResNet layers are similar to "
        "approximately the lowest quarter of ViT layers.",
        "Section 4",
        "ResNet lower half: mean depth fraction of the most similar ViT layer", "<",
        LOWER_HALF_BAR, 0.5,
        "the lowest quarter puts the matches in [0, 0.25]; a tenth of depth of slack for "
        "'approximately' and the coarse layer grid; partly: still the lower ViT half"),
    Declaration(
        "fig2_upper_half", "Fig 2",
        "The top half of the ResNet is approximately similar to the next third of the ViT "
        "layers.",
        "Section 4",
        f"ResNet upper half: fraction of layers whose most similar ViT layer lies at "
        f"{UPPER_HALF_BAND[0]}-{UPPER_HALF_BAND[1]} of its depth", ">", 0.5, 0.25,
        "'the next third' after the lowest quarter is [0.25, 0.58] of ViT depth, with slack "
        "to 0.65 for 'approximately'; most of the upper half must match there, a quarter of "
        "it for partly"),
    Declaration(
        "fig2_last_third", "Fig 2",
        "The final third of ViT layers is less similar to all ResNet layers, likely because "
        "this set of layers mainly manipulates the CLS token representation, further "
        "studied in Section 6.",
        "Section 4",
        "fraction of ResNet layers whose best match in the ViT's final third is below their "
        "best match in its first two thirds", ">", 0.9, 0.5,
        "'less similar to all ResNet layers' is relative: for (nearly) every ResNet layer "
        "the final third must be the less similar part of the ViT; partly: for most"),
])

#: The pass bars of :func:`chapter4_claims`, in its order, for figures that draw them
#: (Chapter 10 plots each statistic against its bar).
PASS_BARS: tuple[float, ...] = tuple(d.pass_bar for d in DECLARATIONS.values())


def uniformity(vit_cka: np.ndarray, resnet_cka: np.ndarray) -> float:
    """Mean CKA between the lowest and highest third of layers, ViT minus ResNet."""
    return low_high_similarity(vit_cka) - low_high_similarity(resnet_cka)


def resnet_stages(resnet_cka: np.ndarray, resnet_layers: Sequence[str]) -> float:
    """:func:`stage_contrast` of the ResNet, stages read from its layer names."""
    return stage_contrast(resnet_cka, [stage_of(name) for name in resnet_layers])


def vit_stages(vit_cka: np.ndarray, resnet_layers: Sequence[str]) -> float:
    """:func:`stage_contrast` of the ViT cut where the ResNet changes stage (by depth)."""
    stages = [stage_of(name) for name in resnet_layers]
    return stage_contrast(vit_cka, mapped_stages(len(vit_cka), stages))


def lower_half(cross: np.ndarray) -> float:
    """Mean best-match ViT depth fraction over the ResNet's lower half."""
    return best_match_halves(cross)[0]


def upper_half_mean(cross: np.ndarray) -> float:
    """Mean best-match ViT depth fraction over the ResNet's upper half (the old statistic)."""
    return best_match_halves(cross)[1]


def upper_half_in_band(cross: np.ndarray) -> float:
    """Fraction of the ResNet's upper-half layers whose best ViT match lies in the band.

    The mean of the best-match depths (:func:`upper_half_mean`) hides a bimodal set:
    half the layers matching the ViT's bottom and half its top averages into the band.
    """
    best = best_match_fraction(cross)
    upper = best[depth_fraction(len(best)) >= 0.5]
    upper = upper[np.isfinite(upper)]
    low, high = UPPER_HALF_BAND
    return float(np.mean((upper >= low) & (upper <= high))) if len(upper) else float("nan")


def last_third_less_similar(cross: np.ndarray) -> float:
    """Fraction of ResNet layers matched less well by the ViT's final third than by the rest.

    For each ResNet layer (column of ``(vit_layers, resnet_layers)``), its highest CKA with
    a ViT layer in the final third of depth against its highest with one in the first two
    thirds; columns without finite values on either side are skipped.
    """
    c = np.where(np.isfinite(cross), np.asarray(cross, dtype=float), -np.inf)
    last = depth_fraction(c.shape[0]) > 2 / 3
    late, early = c[last].max(axis=0), c[~last].max(axis=0)
    ok = np.isfinite(late) & np.isfinite(early)
    return float(np.mean(late[ok] < early[ok])) if ok.any() else float("nan")


def last_third_max(cross: np.ndarray) -> float:
    """The largest CKA between the ViT's final third and any ResNet layer (the old statistic).

    An absolute level, which the paper never states; kept beside the relative statistic.
    """
    c = np.asarray(cross, dtype=float)
    block = c[depth_fraction(c.shape[0]) > 2 / 3]
    return float(np.nanmax(block)) if np.isfinite(block).any() else float("nan")


def _statistics(vit: np.ndarray, resnet: np.ndarray, cross: np.ndarray,
                resnet_layers: Sequence[str]) -> list[float]:
    """Every claim's statistic, in :data:`DECLARATIONS` order."""
    return [uniformity(vit, resnet), resnet_stages(resnet, resnet_layers),
            vit_stages(vit, resnet_layers), lower_half(cross), upper_half_in_band(cross),
            last_third_less_similar(cross)]


def chapter4_claims(vit_cka: np.ndarray, resnet_cka: np.ndarray, cross: np.ndarray,
                    resnet_layers: Sequence[str], *,
                    draws: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                    seeds: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] = (),
                    varies: str = "") -> list[Claim]:
    """All claims of Chapter 4: Fig 1 from the within-model matrices, Fig 2 from ``cross``.

    ``cross`` is ViT layers x ResNet layers (Fig 2's layout, ResNet on x). ``draws``: the
    three matrices' bootstrap stacks ``(draws, ...)`` over probe examples; ``seeds``: the
    three matrices of each other training seed of the ViT and the ResNet.
    """
    vit_cka, resnet_cka = np.asarray(vit_cka), np.asarray(resnet_cka)
    if np.shape(cross) != (len(vit_cka), len(resnet_cka)):
        raise ValueError(f"cross is {np.shape(cross)}, expected (vit, resnet) = "
                         f"({len(vit_cka)}, {len(resnet_cka)})")
    values = _statistics(vit_cka, resnet_cka, cross, resnet_layers)
    per_draw = ([_statistics(v, r, c, resnet_layers) for v, r, c in zip(*draws, strict=True)]
                if draws is not None else None)
    per_seed = [_statistics(v, r, c, resnet_layers) for v, r, c in seeds]
    return [d.judge(CHAPTER, values[i], None if per_draw is None else [s[i] for s in per_draw],
                    seeds=[s[i] for s in per_seed] or None, varies=varies)
            for i, d in enumerate(DECLARATIONS.values())]
