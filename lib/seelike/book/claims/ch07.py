"""Chapter 7's claims: spatial information and localization (paper Figs 9-11).

Each function turns one sentence of the paper into a :class:`~seelike.book.claims.record.Claim`:
the statistic, its pass condition (fixed from the paper's wording before any of our
numbers were seen; the docstring gives the reason) and the verdict.
"""

from __future__ import annotations

import numpy as np

from seelike.book.claims.record import Claim, verdict
from seelike.localization import interior, localization_summary

CHAPTER = "07_localization"


#: Fig 9: interior tokens "most similar to the corresponding input patch"
LOCALIZED_TOP1 = 0.75
#: Fig 9, partly: the own patch among the most similar tenth of patches on average
LOCALIZED_RANK = 0.1
#: Fig 10: "noticeably less localized", in normalised own-patch rank
NOTICEABLY_LESS = 0.05
#: Fig 11: "poor" versus "good" per-token probes, in accuracy
PROBE_GAP = 0.1
#: Fig 11: "about as good", in accuracy
ABOUT_EQUAL = 0.05


def fig9_vit_localized(cka: np.ndarray, grid: tuple[int, int], model: str) -> Claim:
    """Fig 9: interior tokens of the CLS ViT's final block are most similar to their own patch.

    ``cka`` is the final block's (tokens, patches) token-to-patch CKA. Statistic: the
    fraction of interior tokens (off the grid's border) whose own input patch is strictly
    the most similar (:func:`seelike.localization.localization_summary`). The paper says
    interior tokens are "most similar to the corresponding input patch" and every interior
    example it draws shows it; reproduced if ``>= 0.75``, three in four, allowing a few
    tokens whose neighbour wins on a noisy estimate. Partly if the own patch is at least
    among the most similar tenth of patches on average (normalised rank ``<= 0.1``):
    localized, but not sharply enough to be first.
    """
    s = localization_summary(cka, interior(grid))
    return Claim(
        chapter=CHAPTER, figure="Fig 9",
        statement="Interior tokens of a CLS ViT's final block are most similar to their own "
                  "input patch: ViT tokens stay localized.",
        statistic=f"{model}, final block: fraction of interior tokens whose own patch is the "
                  "most similar",
        value=s["top1"],
        threshold=f">= {LOCALIZED_TOP1} (partly: normalised own-patch rank <= "
                  f"{LOCALIZED_RANK})",
        verdict=verdict(s["top1"] >= LOCALIZED_TOP1, s["normalised_rank"] <= LOCALIZED_RANK))


def fig10_gap_less_localized(cls_cka: np.ndarray, gap_cka: np.ndarray) -> Claim:
    """Fig 10: the GAP ViT's final-block tokens are less localized than the CLS ViT's.

    Statistic: normalised mean own-patch rank (0: every token finds its own patch first,
    about 0.5: chance) of the GAP model minus that of the CLS model, over all tokens of the
    final block; both ViTs have the same grid. Reproduced if ``> 0.05``: "noticeably less
    localized" asks for a visible shift, and a twentieth of the grid is the smallest we
    call visible; partly if ``> 0`` (the direction holds).
    """
    value = (localization_summary(gap_cka)["normalised_rank"]
             - localization_summary(cls_cka)["normalised_rank"])
    return Claim(
        chapter=CHAPTER, figure="Fig 10",
        statement="A GAP ViT's tokens are noticeably less localized than a CLS ViT's.",
        statistic="normalised own-patch rank, final block: GAP ViT minus CLS ViT",
        value=value, threshold=f"> {NOTICEABLY_LESS} (partly: > 0)",
        verdict=verdict(value > NOTICEABLY_LESS, value > 0))


def fig9_resnet_least_localized(resnet_cka: np.ndarray, cls_cka: np.ndarray,
                                gap_cka: np.ndarray) -> Claim:
    """Fig 9: ResNet's final-layer positions are the least spatially discriminative.

    Statistic: the ResNet final unit's normalised own-patch rank minus the larger of the
    two ViTs' (their final blocks); normalising by the grid lets a 4 x 4 map compare with
    an 8 x 8 one. Reproduced if ``> 0``: the ResNet is less localized than both ViTs, the
    ordering the paper's Figs 9 and 10 show together; any margin would be ours. Partly if
    it is less localized than the CLS ViT only (the comparison Fig 9 itself draws).
    """
    res = localization_summary(resnet_cka)["normalised_rank"]
    cls = localization_summary(cls_cka)["normalised_rank"]
    gap = localization_summary(gap_cka)["normalised_rank"]
    value = res - max(cls, gap)
    return Claim(
        chapter=CHAPTER, figure="Fig 9",
        statement="ResNet's final-layer positions are much less spatially discriminative than "
                  "ViT tokens.",
        statistic="normalised own-patch rank: ResNet final unit minus the less localized ViT",
        value=value, threshold="> 0 (partly: ResNet above the CLS ViT only)",
        verdict=verdict(value > 0, res > cls))


def fig11_token_probes(cls_token: float, other_token: float, other: str) -> Claim:
    """Fig 11a: per-token probes are poor in the CLS ViT's last block, good in ``other``'s.

    ``cls_token`` and ``other_token`` are the mean per-token probe accuracies (10-shot, as
    in the paper) at the last block of the CLS ViT and of ``other`` (the GAP ViT or the
    ResNet). Statistic: ``other`` minus CLS. Reproduced if ``> 0.1``: "poor" against
    "good" is a gap of tens of points in the paper's figure, and ten points is the least
    that reads as such on our accuracy scale; partly if ``> 0``.
    """
    value = float(other_token - cls_token)
    return Claim(
        chapter=CHAPTER, figure="Fig 11",
        statement=f"Per-token linear probes at the last block are poor for the CLS ViT and "
                  f"good for the {other}.",
        statistic=f"mean per-token probe accuracy, last block: {other} minus CLS ViT",
        value=value, threshold=f"> {PROBE_GAP} (partly: > 0)",
        verdict=verdict(value > PROBE_GAP, value > 0))


def fig11_cls_matches_gap(cls_probe: float, gap_probe: float) -> Claim:
    """Fig 11b: the CLS model's CLS-token probe is about as good as the GAP model's GAP probe.

    Both are last-block probe accuracies. Statistic: their absolute difference. Reproduced
    if ``<= 0.05``: "about as good" allows the few points by which two 10-shot probes on
    different models differ by chance (the test set's own sampling error is about a
    point); partly if ``<= 0.1``.
    """
    value = float(abs(cls_probe - gap_probe))
    return Claim(
        chapter=CHAPTER, figure="Fig 11",
        statement="The CLS ViT's CLS-token probe is about as accurate as the GAP ViT's pooled "
                  "probe.",
        statistic="|CLS-token probe (CLS ViT) - GAP probe (GAP ViT)|, last block",
        value=value, threshold=f"<= {ABOUT_EQUAL} (partly: <= {2 * ABOUT_EQUAL})",
        verdict=verdict(value <= ABOUT_EQUAL, value <= 2 * ABOUT_EQUAL))
