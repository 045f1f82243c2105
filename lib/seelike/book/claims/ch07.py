"""Chapter 7's claims: spatial information and localization (paper Figs 9-11, D.2, D.3, F).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 7 tests, word for word,
with its statistic and bars, fixed before any of our numbers were seen. The functions
below compute the statistics: from token-to-patch CKA matrices
(:class:`seelike.localization.TokenPatchCKA`) for Figs 9, 10, D.2 and D.3, judged over
bootstrap resamplings of the probe images (:func:`localization_claims`); from linear-probe
accuracies (:func:`seelike.book.results.probe_accuracies`) for Fig 11 and appendix F,
judged over independent 10-shot draws of the probe training set (:func:`probe_claims`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from seelike.book.claims.record import Claim, Declaration, declared
from seelike.localization import (
    edge_preference,
    interior,
    layer_matrix,
    localization_summary,
    own_other_contrast,
)
from seelike.structure import depth_fraction

CHAPTER = "07_localization"

#: Fig 9 and D.2: interior tokens "most similar to the corresponding image patch"
LOCALIZED_TOP1 = 0.75
#: Fig 11: "poor" versus "good" per-token probes, in accuracy
PROBE_GAP = 0.1
#: Fig 11: "very similar" / "comparable" probes, in accuracy
ABOUT_EQUAL = 0.05
#: Appendix F: the least gap in accuracy that the probe test set resolves (as Fig 13's)
PROBE_RESOLUTION = 0.02

_WELL_LOCALIZED = ("the paper's interior examples all find their own patch first: three in "
                   "four interior tokens, allowing a few whose neighbour wins on a noisy "
                   "estimate; partly: still most of them")

DECLARATIONS = declared([
    Declaration(
        "fig9_vit_localized", "Fig 9",
        "For ViT, we observe that tokens corresponding to locations at the edge of the image "
        "are similar to edge image patches, but tokens corresponding to interior locations "
        "are well localized, with their representations being most similar to the "
        "corresponding image patch.",
        "Section 7",
        "CLS ViT, final block: fraction of interior tokens whose own patch is the most "
        "similar", ">", LOCALIZED_TOP1, 0.5, _WELL_LOCALIZED),
    Declaration(
        "fig9_edge_tokens", "Fig 9",
        "We observe that ViT tokens have strongest similarity to their corresponding spatial "
        "location in the image, but tokens corresponding to spatial locations at the edge of "
        "the image (e.g. token 0) additionally show similarity to other edge positions.",
        "Figure 9 caption",
        "CLS ViT, final block: edge tokens' mean CKA with the other edge patches minus with "
        "the interior patches", ">", 0.0, None,
        "'additionally show similarity to other edge positions' states a preference of edge "
        "tokens for edge patches, of no size: the sign, the whole interval above 0"),
    Declaration(
        "fig9_resnet_least_localized", "Fig 9",
        "By contrast, ResNet “tokens” (features at a specific spatial location) are much "
        "less spatially discriminative, showing comparable similarity across a broad set of "
        "input spatial locations.",
        "Figure 9 caption",
        "normalised own-patch rank: ResNet final unit minus the less localized ViT's final "
        "block", ">", 0.0, None,
        "'by contrast': the ResNet below both ViTs of Figs 9 and 10, the ordering the two "
        "figures show together; any margin on the rank would be ours"),
    Declaration(
        "fig10_gap_less_localized", "Fig 10",
        "When trained with global average pooling (GAP) instead of a CLS token, ViTs show "
        "less clear localization (compare Figure 9).",
        "Figure 10 caption",
        "final block, interior tokens: CKA with the own patch minus mean CKA with the other "
        "patches, CLS ViT minus GAP ViT", ">", 0.0, None,
        "'less clear' compares two ViTs with no size: the sign, the whole interval above 0; "
        "how clear a peak is shows in its height above the rest of the map, which a rank "
        "misses once both peaks come first"),
    Declaration(
        "d2_penultimate_localized", "Fig D.2",
        "We see that models (as expected) remain well localized in higher layers other than "
        "the final block.",
        "Figure D.2 caption",
        "CLS ViT, penultimate block: fraction of interior tokens whose own patch is the most "
        "similar", ">", LOCALIZED_TOP1, 0.5,
        "'well localized' as in Fig 9, so Fig 9's bars: " + _WELL_LOCALIZED),
    Declaration(
        "d3_resnet_middle_better", "Fig D.3",
        "Comparing to Figure 9 in the main text, we see that layers in the ResNet lower than "
        "the final layer display better localization, but still not as clear as the CLS "
        "trained ViT models.",
        "Figure D.3 caption (first half)",
        "normalised own-patch rank: ResNet final unit minus the last unit of the stage "
        "below", ">", 0.0, None,
        "'better localization' of the lower layer, of no size: the sign; the rank puts the "
        "two stages' grids on one scale"),
    Declaration(
        "d3_resnet_middle_below_vit", "Fig D.3",
        "Comparing to Figure 9 in the main text, we see that layers in the ResNet lower than "
        "the final layer display better localization, but still not as clear as the CLS "
        "trained ViT models.",
        "Figure D.3 caption (second half)",
        "interior tokens' own-patch minus other-patch CKA: CLS ViT final block minus the "
        "ResNet's last unit of the stage below", ">", 0.0, None,
        "'not as clear as the CLS trained ViT', of no size: the sign, on the contrast that "
        "Fig 10's claim reads"),
    Declaration(
        "fig11_token_probes_gap", "Fig 11",
        "ResNet50 and ViT with GAP model tokens perform well at higher layers, while in the "
        "standard ViT trained with a CLS token the spatial tokens do poorly",
        "Section 7, 'Localization and Linear Probe Classification' (GAP ViT part)",
        "10-shot per-token probe accuracy (mean over positions), last block: GAP ViT minus "
        "CLS ViT", ">", PROBE_GAP, 0.0,
        "'poor' against 'well' is a gap of tens of points in the paper's figure; ten points "
        "is the least that reads as such; partly: the order holds"),
    Declaration(
        "fig11_token_probes_resnet", "Fig 11",
        "ResNet50 and ViT with GAP model tokens perform well at higher layers, while in the "
        "standard ViT trained with a CLS token the spatial tokens do poorly",
        "Section 7, 'Localization and Linear Probe Classification' (ResNet part)",
        "10-shot per-token probe accuracy (mean over positions), last block: ResNet minus "
        "CLS ViT", ">", PROBE_GAP, 0.0,
        "'poor' against 'well' is a gap of tens of points in the paper's figure; ten points "
        "is the least that reads as such; partly: the order holds"),
    Declaration(
        "fig11_native_probes", "Fig 11",
        "First, CLS and GAP models evaluated with their “native” representation aggregation "
        "approach – first token for CLS and GAP for GAP – perform very similarly.",
        "Appendix F, para 3",
        "|CLS-token probe of the CLS ViT minus GAP probe of the GAP ViT|, last block, "
        "10-shot", "<", ABOUT_EQUAL, 2 * ABOUT_EQUAL,
        "'very similarly' allows the few points by which two 10-shot probes on different "
        "models differ by chance (the test set alone moves a probe by about a point); "
        "partly: within twice that"),
    Declaration(
        "fig11b_gap_token", "Fig 11",
        "Supporting this are results on the right pane, which shows that a single token "
        "from the ViT-GAP model achieves comparable accuracy in the highest layer to all "
        "tokens pooled together.",
        "Section 7, end",
        "GAP ViT, last block: |GAP probe minus first-token probe|, 10-shot", "<",
        ABOUT_EQUAL, 2 * ABOUT_EQUAL,
        "'comparable accuracy': the bars of 'perform very similarly' above"),
    Declaration(
        "appf_cls_pool_plateau", "Fig 11",
        "Second, the CLS model evaluated with the pooled representation performs on par with "
        "the first token evaluation up to last several layers, at which point the "
        "performance plateaus.",
        "Appendix F, para 3",
        "CLS ViT, 10-shot: CLS-token minus pooled (CLS excluded) probe accuracy at the last "
        "block, minus its mean over the middle third of blocks", ">", PROBE_RESOLUTION, 0.0,
        "on par, then the pooled probe stops rising while the CLS token's goes on: the CLS "
        "probe must pull ahead by more than the test set resolves (2 points, Fig 13's bar); "
        "partly: it pulls ahead at all"),
])

#: The claims read off token-to-patch CKA (:func:`localization_claims`), in their order.
LOCALIZATION_KEYS = ("fig9_vit_localized", "fig9_edge_tokens", "fig9_resnet_least_localized",
                     "fig10_gap_less_localized", "d2_penultimate_localized",
                     "d3_resnet_middle_better", "d3_resnet_middle_below_vit")
#: The claims read off linear probes (:func:`probe_claims`), in their order.
PROBE_KEYS = ("fig11_token_probes_gap", "fig11_token_probes_resnet", "fig11_native_probes",
              "fig11b_gap_token", "appf_cls_pool_plateau")

Grid = tuple[int, int]
Result = Mapping[str, np.ndarray]
Accuracies = Mapping[str, np.ndarray]


# ---- token-to-patch CKA (Figs 9, 10, D.2, D.3) -----------------------------------------------


def interior_top1(cka: np.ndarray, grid: Grid) -> float:
    """Fraction of interior tokens whose own patch is strictly the most similar (Fig 9, D.2)."""
    return localization_summary(cka, interior(grid))["top1"]


def normalised_rank(cka: np.ndarray) -> float:
    """Mean own-patch rank of all tokens, 0 (own patch first) to about 0.5 (chance)."""
    return localization_summary(cka)["normalised_rank"]


def resnet_least_localized(resnet: np.ndarray, cls: np.ndarray, gap: np.ndarray) -> float:
    """Fig 9: the ResNet's normalised own-patch rank minus the larger of the two ViTs'.

    Normalising by the grid lets the ResNet's 4 x 4 final map compare with an 8 x 8 one.
    """
    return normalised_rank(resnet) - max(normalised_rank(cls), normalised_rank(gap))


def gap_less_localized(cls: np.ndarray, gap: np.ndarray, grid: Grid) -> float:
    """Fig 10: interior tokens' own-minus-other CKA contrast, CLS ViT minus GAP ViT.

    Both ViTs have the same grid. :func:`gap_rank_shift` is the statistic it replaced.
    """
    inside = interior(grid)
    return own_other_contrast(cls, inside) - own_other_contrast(gap, inside)


def gap_rank_shift(cls: np.ndarray, gap: np.ndarray) -> float:
    """Fig 10's first statistic: normalised own-patch rank, GAP ViT minus CLS ViT.

    Kept beside :func:`gap_less_localized`: a rank sees only whether the own patch comes
    first, so two ViTs whose peaks both come first tie at 0 however dim one peak is.
    """
    return normalised_rank(gap) - normalised_rank(cls)


def resnet_middle_better(final: np.ndarray, middle: np.ndarray) -> float:
    """D.3: normalised own-patch rank, ResNet final unit minus the unit of the stage below."""
    return normalised_rank(final) - normalised_rank(middle)


def resnet_middle_below_vit(vit: np.ndarray, vit_grid: Grid, middle: np.ndarray,
                            middle_grid: Grid) -> float:
    """D.3: interior tokens' own-minus-other contrast, CLS ViT final block minus ResNet middle.

    On CIFAR both are 8 x 8 grids of 4-px patches; on the paper preset the grids differ,
    and the contrast then also reflects the patch sizes.
    """
    return (own_other_contrast(vit, interior(vit_grid))
            - own_other_contrast(middle, interior(middle_grid)))


def _grid(result: Result, index: int) -> Grid:
    gh, gw = (int(v) for v in result["grid"][index])
    return gh, gw


def _localization_statistics(cls: Result, gap: Result, resnet: Result, middle: int,
                             draw: int | None) -> list[float]:
    """Every localization claim's statistic (:data:`LOCALIZATION_KEYS` order), on the point
    matrices (``draw`` None) or on bootstrap draw ``draw`` of every model."""
    def m(result: Result, index: int) -> np.ndarray:
        return layer_matrix(result, index, draw)

    vit_grid = _grid(cls, -1)
    return [interior_top1(m(cls, -1), vit_grid),
            edge_preference(m(cls, -1), vit_grid),
            resnet_least_localized(m(resnet, -1), m(cls, -1), m(gap, -1)),
            gap_less_localized(m(cls, -1), m(gap, -1), vit_grid),
            interior_top1(m(cls, -2), _grid(cls, -2)),
            resnet_middle_better(m(resnet, -1), m(resnet, middle)),
            resnet_middle_below_vit(m(cls, -1), vit_grid, m(resnet, middle),
                                    _grid(resnet, middle))]


def localization_claims(cls: Result, gap: Result, resnet: Result, middle: int, *,
                        varies: str = "") -> list[Claim]:
    """The claims of Figs 9, 10, D.2 and D.3 from the three models' token-to-patch CKA.

    ``cls``, ``gap``, ``resnet``: :class:`~seelike.localization.TokenPatchCKA` results of
    the CLS ViT's and the GAP ViT's blocks and the ResNet's last stages; ``middle``: the
    index, in the ResNet's result, of the last unit of the stage below the final one. The
    interval: each statistic on every bootstrap draw (``boot``) when all three results keep
    them; draw i resamples the same probe images in every model, so comparisons pair them.
    """
    n = len(resnet["grid"])
    if not -n <= middle < n or middle % n == n - 1:
        raise ValueError(f"middle={middle} must index a ResNet layer below the final one")
    values = _localization_statistics(cls, gap, resnet, middle, None)
    per_draw = None
    if all("boot" in r for r in (cls, gap, resnet)):
        draws = {len(r["boot"]) for r in (cls, gap, resnet)}
        if len(draws) != 1:
            raise ValueError(f"the three results keep different numbers of draws: {draws}")
        per_draw = [_localization_statistics(cls, gap, resnet, middle, i)
                    for i in range(draws.pop())]
    return [DECLARATIONS[key].judge(CHAPTER, values[i],
                                    None if per_draw is None else [d[i] for d in per_draw],
                                    varies=varies)
            for i, key in enumerate(LOCALIZATION_KEYS)]


# ---- linear probes (Fig 11, appendix F) ------------------------------------------------------


def token_probe_gap(cls: Accuracies, other: Accuracies) -> float:
    """Fig 11: mean per-token probe accuracy at the last block, ``other`` minus the CLS ViT."""
    return float(other["token_mean"][-1] - cls["token_mean"][-1])


def native_probes_differ(cls: Accuracies, gap: Accuracies) -> float:
    """Fig 11 (appendix F): |CLS ViT's CLS-token probe - GAP ViT's GAP probe|, last block."""
    return float(abs(cls["cls"][-1] - gap["gap"][-1]))


def gap_token_vs_pool(gap: Accuracies) -> float:
    """Fig 11b: |GAP probe - first-token probe| of the GAP ViT at the last block."""
    return float(abs(gap["gap"][-1] - gap["token"][-1, 0]))


def cls_pool_plateau(cls: Accuracies) -> float:
    """Appendix F: how far the CLS ViT's CLS-token probe pulls ahead of its pooled probe.

    The CLS-token minus pooled (spatial tokens, CLS excluded) accuracy at the last block,
    minus its mean over the middle third of the blocks, where the paper sees them on par.
    """
    lead = np.asarray(cls["cls"], dtype=float) - np.asarray(cls["gap"], dtype=float)
    depth = depth_fraction(len(lead))
    middle = lead[(depth > 1 / 3) & (depth < 2 / 3)]
    if not middle.size:
        raise ValueError(f"{len(lead)} blocks have no middle third")
    return float(lead[-1] - middle.mean())


def over_shot_draws(statistic: Callable[..., float], *per_model: Sequence[Accuracies]
                    ) -> tuple[float, list[float]]:
    """``statistic`` on each shot draw (draw i of every model together) and their mean.

    The mean is the claim's value: each draw is one equally likely 10-shot training set.
    """
    counts = {len(draws) for draws in per_model}
    if len(counts) != 1 or not counts.pop():
        raise ValueError("every model needs the same, non-zero number of shot draws")
    values = [float(statistic(*accs)) for accs in zip(*per_model, strict=True)]
    return float(np.mean(values)), values


def probe_claims(cls: Sequence[Accuracies], gap: Sequence[Accuracies],
                 resnet: Sequence[Accuracies], *, varies: str = "") -> list[Claim]:
    """The claims of Fig 11 and appendix F from the three models' 10-shot probe accuracies.

    Each argument holds one :func:`seelike.book.results.probe_accuracies` dict per draw of
    the probe training set, in the same draw order for every model (draw i fits every
    model's probes on the same images). Value: the mean over draws; interval: the draws.
    """
    computed = [over_shot_draws(token_probe_gap, cls, gap),
                over_shot_draws(token_probe_gap, cls, resnet),
                over_shot_draws(native_probes_differ, cls, gap),
                over_shot_draws(gap_token_vs_pool, gap),
                over_shot_draws(cls_pool_plateau, cls)]
    return [DECLARATIONS[key].judge(CHAPTER, value, draws if len(draws) > 1 else None,
                                    varies=varies)
            for key, (value, draws) in zip(PROBE_KEYS, computed, strict=True)]
