"""Chapter 7's claims: spatial information and localization (paper Figs 9-11, D.2, D.3, F).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 7 tests, clause by
clause, with its statistic, control and bars. The functions below compute the statistics:
from token-to-patch CKA matrices (:class:`seelike.analyses.TokenPatchCKA`) for Figs 9,
10, D.2 and D.3, judged over bootstrap resamplings of the probe images
(:func:`localization_claims`); from linear-probe accuracies for Fig 11 and appendix F,
judged over independent 10-shot draws of the probe training set (:func:`probe_claims`).
The localization claims' control puts the patches in a random order: the same statistic
when a token's position tells nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from seelike.book.claims.declare import Declaration, declared
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured, measure
from seelike.localization import (
    edge_preference,
    interior,
    layer_matrix,
    localization_summary,
    own_margin,
    own_other_contrast,
)
from seelike.structure import depth_fraction

__all__ = ["CHAPTER", "DECLARATIONS", "LOCALIZATION_KEYS", "PROBE_KEYS", "Maps", "early_gap",
           "gain", "localization_claims", "on_par", "over_shot_draws", "plateau", "probe_claims"]

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
                   "four tokens, allowing a few whose neighbour wins on a noisy estimate; "
                   "partly: still most of them")
_SHUFFLED = ("the same statistic with the patches in a random order (200 orders): what it "
             "gives when a token's position tells nothing")
_TOP1_ZERO = ("a fraction of tokens moves only when a token's two best patches swap; the "
              "margin shows how far apart they are")
_TOP1_MARGIN = "mean over those tokens of their own patch's CKA minus their best other patch's"
_SIGN = "a comparison of no stated size: the sign, the whole interval beyond 0"
_EQUAL = ("'very similarly' allows the few points by which two 10-shot probes differ by "
          "chance (the test set alone moves a probe by about a point); partly: within "
          "twice that")
_GAIN = ("'much better' / 'substantially improve': ten points (a tenth of the accuracy "
         "scale, the gap of 'poor' against 'well' below); partly: any gain")
_FIG9 = ("For ViT, we observe that tokens corresponding to locations at the edge of the image "
         "are similar to edge image patches, but tokens corresponding to interior locations "
         "are well localized, with their representations being most similar to the "
         "corresponding image patch.")
_FIG9_CAPTION = ("We observe that ViT tokens have strongest similarity to their corresponding "
                 "spatial location in the image, but tokens corresponding to spatial locations "
                 "at the edge of the image (e.g. token 0) additionally show similarity to "
                 "other edge positions.")
_D3 = ("Comparing to Figure 9 in the main text, we see that layers in the ResNet lower than "
       "the final layer display better localization, but still not as clear as the CLS "
       "trained ViT models.")
_FIG11 = ("ResNet50 and ViT with GAP model tokens perform well at higher layers, while in the "
          "standard ViT trained with a CLS token the spatial tokens do poorly")
_PLATEAU = ("Second, the CLS model evaluated with the pooled representation performs on par "
            "with the first token evaluation up to last several layers, at which point the "
            "performance plateaus.")
_FIRST_TOKEN = ("Third, linear probes trained on the first token of a model trained with a "
                "GAP classifier perform very poorly for the earlier layers, but substantially "
                "improve in the latter layers and almost match the performance of the "
                "standard GAP evaluation in the last layer.")
_RESNET_TOKENS = ("Second, in ResNet the probes perform poorly in the early layers, but get "
                  "much better towards the end of the model. This behavior is qualitatively "
                  "similar to the ViT-GAP model, …")
_APPF = "Appendix F, para 3"
_APPF4 = ("Appendix F, para 4 (cut: 'which is perhaps to be expected, since ResNet is also "
          "trained with a GAP classifier')")
_CLS_TOKENS = "the same statistic for the CLS ViT's per-token probes, which the paper finds poor"

DECLARATIONS = declared([
    Declaration(
        "fig9_vit_edge", "Fig 9", _FIG9, "Section 7",
        "CLS ViT, final block: edge tokens' mean CKA with the other edge patches minus with "
        "the interior patches", ">", 0.0, None,
        "'similar to edge image patches', of no size: " + _SIGN, _SHUFFLED, roles=("vit",),
        clause="tokens corresponding to locations at the edge of the image are similar to "
               "edge image patches"),
    Declaration(
        "fig9_vit_localized", "Fig 9", _FIG9, "Section 7",
        "CLS ViT, final block: fraction of interior tokens whose own patch is the most "
        "similar", ">", LOCALIZED_TOP1, 0.5, _WELL_LOCALIZED, _SHUFFLED, roles=("vit",),
        clause="tokens corresponding to interior locations are well localized, with their "
               "representations being most similar to the corresponding image patch",
        margin=_TOP1_MARGIN + " (interior tokens)", zero_width=_TOP1_ZERO),
    Declaration(
        "fig9_own_patch", "Fig 9", _FIG9_CAPTION, "Figure 9 caption",
        "CLS ViT, final block: fraction of all tokens whose own patch is the most similar",
        ">", LOCALIZED_TOP1, 0.5, _WELL_LOCALIZED, _SHUFFLED, roles=("vit",),
        clause="ViT tokens have strongest similarity to their corresponding spatial location "
               "in the image",
        margin=_TOP1_MARGIN + " (all tokens)", zero_width=_TOP1_ZERO),
    Declaration(
        "fig9_edge_tokens", "Fig 9", _FIG9_CAPTION, "Figure 9 caption",
        "CLS ViT, final block: edge tokens' mean CKA with the other edge patches minus with "
        "the interior patches", ">", 0.0, None,
        "'additionally show similarity to other edge positions', of no size: " + _SIGN,
        _SHUFFLED, roles=("vit",),
        clause="tokens corresponding to spatial locations at the edge of the image (e.g. "
               "token 0) additionally show similarity to other edge positions"),
    Declaration(
        "fig9_resnet_least_localized", "Fig 9",
        "By contrast, ResNet “tokens” (features at a specific spatial location) are much "
        "less spatially discriminative, showing comparable similarity across a broad set of "
        "input spatial locations.",
        "Figure 9 caption",
        "normalised own-patch rank of the ResNet's final unit (0: own patch first, 0.5: "
        "chance)", ">", 0.0, None,
        "'by contrast': the ResNet below both ViTs of Figs 9 and 10, the ordering the two "
        "figures show together; any margin on the rank would be ours",
        "the same rank of the less localized of the two ViTs' final blocks",
        net="difference", roles=("resnet", "vit", "vit_gap")),
    Declaration(
        "fig10_gap_less_localized", "Fig 10",
        "When trained with global average pooling (GAP) instead of a CLS token, ViTs show "
        "less clear localization (compare Figure 9).",
        "Figure 10 caption",
        "GAP ViT, final block, interior tokens: CKA with the own patch minus mean CKA with "
        "the other patches", "<", 0.0, None,
        "'less clear' than the CLS ViT, of no size: the sign; how clear a peak is shows in "
        "its height above the rest of the map, which a rank misses once both peaks come "
        "first", "the same contrast in the CLS ViT (Fig 9's model)", net="difference",
        roles=("vit_gap", "vit")),
    Declaration(
        "d2_penultimate_localized", "Fig D.2",
        "We see that models (as expected) remain well localized in higher layers other than "
        "the final block.",
        "Figure D.2 caption",
        "CLS ViT, penultimate block: fraction of interior tokens whose own patch is the most "
        "similar", ">", LOCALIZED_TOP1, 0.5, "'well localized' as in Fig 9, so Fig 9's bars: "
        + _WELL_LOCALIZED, _SHUFFLED, roles=("vit",),
        margin=_TOP1_MARGIN + " (interior tokens)", zero_width=_TOP1_ZERO),
    Declaration(
        "d3_resnet_middle_better", "Fig D.3", _D3, "Figure D.3 caption",
        "normalised own-patch rank of the ResNet's last unit of the stage below the final "
        "one", "<", 0.0, None, "'better localization' than the final unit, of no size: the "
        "sign; the rank puts the two stages' grids on one scale",
        "the same rank of the ResNet's final unit", net="difference", roles=("resnet",),
        clause="layers in the ResNet lower than the final layer display better localization"),
    Declaration(
        "d3_resnet_middle_below_vit", "Fig D.3", _D3, "Figure D.3 caption",
        "interior tokens' own-patch minus other-patch CKA of the ResNet's last unit of the "
        "stage below the final one", "<", 0.0, None,
        "'not as clear as the CLS trained ViT', of no size: the sign, on the contrast that "
        "Fig 10's claim reads", "the same contrast of the CLS ViT's final block",
        net="difference", roles=("resnet", "vit"),
        clause="but still not as clear as the CLS trained ViT models"),
    Declaration(
        "fig11_token_probes_gap", "Fig 11", _FIG11,
        "Section 7, 'Localization and Linear Probe Classification'",
        "10-shot per-token probe accuracy (mean over positions) of the GAP ViT's last block",
        ">", PROBE_GAP, 0.0,
        "'poor' against 'well' is a gap of tens of points in the paper's figure; ten points "
        "is the least that reads as such; partly: the order holds",
        "the same accuracy for the CLS ViT, whose spatial tokens 'do poorly'",
        net="difference", roles=("vit_gap", "vit")),
    Declaration(
        "fig11_token_probes_resnet", "Fig 11", _FIG11,
        "Section 7, 'Localization and Linear Probe Classification'",
        "10-shot per-token probe accuracy (mean over positions) of the ResNet's last unit",
        ">", PROBE_GAP, 0.0,
        "'poor' against 'well' is a gap of tens of points in the paper's figure; ten points "
        "is the least that reads as such; partly: the order holds",
        "the same accuracy for the CLS ViT's last block", net="difference",
        roles=("resnet", "vit")),
    Declaration(
        "fig11_native_probes", "Fig 11",
        "First, CLS and GAP models evaluated with their “native” representation aggregation "
        "approach – first token for CLS and GAP for GAP – perform very similarly.",
        _APPF,
        "|CLS-token probe of the CLS ViT minus GAP probe of the GAP ViT|, last block, "
        "10-shot", "<", ABOUT_EQUAL, 2 * ABOUT_EQUAL, _EQUAL,
        "|the CLS ViT's CLS-token probe minus its own per-token probe|, last block: two "
        "probes the paper finds far apart", roles=("vit", "vit_gap")),
    Declaration(
        "fig11b_gap_token", "Fig 11",
        "Supporting this are results on the right pane, which shows that a single token "
        "from the ViT-GAP model achieves comparable accuracy in the highest layer to all "
        "tokens pooled together.",
        "Section 7, end",
        "GAP ViT, last block: |GAP probe minus first-token probe|, 10-shot", "<",
        ABOUT_EQUAL, 2 * ABOUT_EQUAL, "'comparable accuracy': the bars of 'perform very "
        "similarly' above", "the same statistic for the CLS ViT (its first spatial token "
        "against its pooled spatial tokens)", roles=("vit_gap",)),
    Declaration(
        "appf_cls_pool_on_par", "Fig 11", _PLATEAU, _APPF,
        "CLS ViT, 10-shot: mean over the blocks below the last third of |CLS-token probe "
        "minus pooled (CLS excluded) probe|", "<", ABOUT_EQUAL, 2 * ABOUT_EQUAL,
        "'on par': the bars of 'perform very similarly'",
        "the same statistic with the CLS ViT's per-token probe in place of its pooled probe",
        roles=("vit",),
        clause="the CLS model evaluated with the pooled representation performs on par with "
               "the first token evaluation up to last several layers"),
    Declaration(
        "appf_cls_pool_plateau", "Fig 11", _PLATEAU, _APPF,
        "CLS ViT, 10-shot: CLS-token minus pooled (CLS excluded) probe accuracy at the last "
        "block, minus its mean over the middle third of blocks", ">", PROBE_RESOLUTION, 0.0,
        "on par, then the pooled probe stops rising while the CLS token's goes on: the CLS "
        "probe must pull ahead by more than the test set resolves (2 points, Fig 13's bar); "
        "partly: it pulls ahead at all",
        "the same statistic for the GAP ViT, its first token in the CLS token's place",
        roles=("vit",), clause="at which point the performance plateaus"),
    Declaration(
        "appf_gap_first_poor_early", "Fig 11", _FIRST_TOKEN, _APPF,
        "GAP ViT, 10-shot: first-token minus GAP probe accuracy, mean over the first third "
        "of blocks", "<", -PROBE_GAP, 0.0,
        "'very poorly' beside the model's own pooled probe at the same depth: ten points "
        "below it; partly: below it at all",
        "the same statistic for the CLS ViT's CLS token, which the paper finds on par with "
        "pooling early", roles=("vit_gap",),
        clause="linear probes trained on the first token of a model trained with a GAP "
               "classifier perform very poorly for the earlier layers"),
    Declaration(
        "appf_gap_first_improves", "Fig 11", _FIRST_TOKEN, _APPF,
        "GAP ViT, 10-shot: first-token probe accuracy at the last block minus its mean over "
        "the first third of blocks", ">", PROBE_GAP, 0.0, _GAIN,
        "the same statistic for the CLS ViT's first spatial token", roles=("vit_gap",),
        clause="but substantially improve in the latter layers"),
    Declaration(
        "appf_gap_first_matches", "Fig 11", _FIRST_TOKEN, _APPF,
        "GAP ViT, last block: |GAP probe minus first-token probe|, 10-shot", "<",
        ABOUT_EQUAL, 2 * ABOUT_EQUAL, "'almost match': the bars of 'perform very similarly'",
        "the same statistic for the CLS ViT (its first spatial token against its pooled "
        "spatial tokens)", roles=("vit_gap",),
        clause="and almost match the performance of the standard GAP evaluation in the last "
               "layer"),
    Declaration(
        "appf_resnet_improves", "Fig 11", _RESNET_TOKENS, _APPF4,
        "ResNet, 10-shot per-token probe accuracy (mean over positions): last unit minus the "
        "mean over the first third of units", ">", PROBE_GAP, 0.0, _GAIN, _CLS_TOKENS,
        roles=("resnet",),
        clause="in ResNet the probes perform poorly in the early layers, but get much better "
               "towards the end of the model"),
    Declaration(
        "appf_resnet_like_gap", "Fig 11", _RESNET_TOKENS, _APPF4,
        "GAP ViT, 10-shot per-token probe accuracy (mean over positions): last block minus "
        "the mean over the first third of blocks", ">", PROBE_GAP, 0.0,
        "'qualitatively similar': the GAP ViT's per-token probes rise as the ResNet's must, "
        "by the same bars", _CLS_TOKENS, roles=("vit_gap",),
        clause="This behavior is qualitatively similar to the ViT-GAP model"),
])

#: The claims read off token-to-patch CKA (:func:`localization_claims`), in their order.
LOCALIZATION_KEYS = ("fig9_vit_edge", "fig9_vit_localized", "fig9_own_patch",
                     "fig9_edge_tokens", "fig9_resnet_least_localized",
                     "fig10_gap_less_localized", "d2_penultimate_localized",
                     "d3_resnet_middle_better", "d3_resnet_middle_below_vit")
#: The claims read off linear probes (:func:`probe_claims`), in their order.
PROBE_KEYS = tuple(k for k in DECLARATIONS if k not in LOCALIZATION_KEYS)

Result = Mapping[str, np.ndarray]
Accuracies = Mapping[str, np.ndarray]


# ---- token-to-patch CKA (Figs 9, 10, D.2, D.3) -----------------------------------------------


class Maps:
    """The token-to-patch CKA matrices the localization claims read, for one draw (or the
    point estimate, or one training seed) of the CLS ViT, the GAP ViT and the ResNet."""

    def __init__(self, cls: Result, gap: Result, resnet: Result, middle: int,
                 draw: int | None = None, order: np.ndarray | None = None) -> None:
        self._results, self.middle, self.draw, self.order = (cls, gap, resnet), middle, draw, \
            order

    def matrix(self, which: str, index: int) -> np.ndarray:
        """``which`` ("cls", "gap", "resnet") at layer ``index``, its patches in :attr:`order`."""
        result = self._results[("cls", "gap", "resnet").index(which)]
        m = layer_matrix(result, index, self.draw)
        return m if self.order is None else m[:, self.order]

    def grid(self, which: str, index: int) -> tuple[int, int]:
        result = self._results[("cls", "gap", "resnet").index(which)]
        gh, gw = (int(v) for v in result["grid"][index])
        return gh, gw


def _rank(m: np.ndarray) -> float:
    return localization_summary(m)["normalised_rank"]


def _top1(m: np.ndarray, mask: np.ndarray | None) -> float:
    return localization_summary(m, mask)["top1"]


#: Each localization key: (statistic, control) on :class:`Maps`; a control of None is the
#: statistic on the maps with their patches in a random order (``Maps.order``).
LOCALIZATION: dict[str, tuple[Callable[[Maps], float], Callable[[Maps], float] | None]] = {
    "fig9_vit_edge": (lambda s: edge_preference(s.matrix("cls", -1), s.grid("cls", -1)), None),
    "fig9_vit_localized": (
        lambda s: _top1(s.matrix("cls", -1), interior(s.grid("cls", -1))), None),
    "fig9_own_patch": (lambda s: _top1(s.matrix("cls", -1), None), None),
    "fig9_edge_tokens": (lambda s: edge_preference(s.matrix("cls", -1), s.grid("cls", -1)),
                         None),
    "fig9_resnet_least_localized": (
        lambda s: _rank(s.matrix("resnet", -1)),
        lambda s: max(_rank(s.matrix("cls", -1)), _rank(s.matrix("gap", -1)))),
    "fig10_gap_less_localized": (
        lambda s: own_other_contrast(s.matrix("gap", -1), interior(s.grid("gap", -1))),
        lambda s: own_other_contrast(s.matrix("cls", -1), interior(s.grid("cls", -1)))),
    "d2_penultimate_localized": (
        lambda s: _top1(s.matrix("cls", -2), interior(s.grid("cls", -2))), None),
    "d3_resnet_middle_better": (lambda s: _rank(s.matrix("resnet", s.middle)),
                                lambda s: _rank(s.matrix("resnet", -1))),
    "d3_resnet_middle_below_vit": (
        lambda s: own_other_contrast(s.matrix("resnet", s.middle),
                                     interior(s.grid("resnet", s.middle))),
        lambda s: own_other_contrast(s.matrix("cls", -1), interior(s.grid("cls", -1)))),
}
#: The margins behind the top-1 fractions.
MARGINS: dict[str, Callable[[Maps], float]] = {
    "fig9_vit_localized": lambda s: own_margin(s.matrix("cls", -1), interior(s.grid("cls", -1))),
    "fig9_own_patch": lambda s: own_margin(s.matrix("cls", -1)),
    "d2_penultimate_localized": lambda s: own_margin(s.matrix("cls", -2),
                                                     interior(s.grid("cls", -2))),
}


def localization_claims(cls: Result, gap: Result, resnet: Result, middle: int, *,
                        seeds: Sequence[tuple[Result, Result, Result]] = (),
                        permutations: int = 200, varies: str = "") -> list[Claim]:
    """The claims of Figs 9, 10, D.2 and D.3 from the three models' token-to-patch CKA.

    ``cls``, ``gap``, ``resnet``: :class:`~seelike.analyses.TokenPatchCKA` results of
    the CLS ViT's and the GAP ViT's blocks and the ResNet's last stages; ``middle``: the
    index, in the ResNet's result, of the last unit of the stage below the final one;
    ``seeds``: the three results of each other training seed. The interval: each
    statistic on every bootstrap draw (``boot``) when all three results keep them; draw i
    resamples the same probe images in every model, so comparisons pair them.
    """
    n = len(resnet["grid"])
    if not -n <= middle < n or middle % n == n - 1:
        raise ValueError(f"middle={middle} must index a ResNet layer below the final one")
    draws: list[Maps] | None = None
    if all("boot" in r for r in (cls, gap, resnet)):
        counts = {len(r["boot"]) for r in (cls, gap, resnet)}
        if len(counts) != 1:
            raise ValueError(f"the three results keep different numbers of draws: {counts}")
        draws = [Maps(cls, gap, resnet, middle, k) for k in range(counts.pop())]
    point = Maps(cls, gap, resnet, middle)
    others = [Maps(*s, middle) for s in seeds]
    rng = np.random.default_rng(0)
    patches = len(layer_matrix(cls, -1))
    shuffled = [Maps(cls, gap, resnet, middle, order=rng.permutation(patches))
                for _ in range(len(draws) if draws else permutations)]

    def of(statistic: Callable[[Maps], float]) -> Measured:
        return measure(statistic, (point,), None if draws is None else [(d,) for d in draws],
                       [(o,) for o in others])

    found = []
    for key, (statistic, control) in LOCALIZATION.items():
        if control is None:
            values = [statistic(s) for s in shuffled]
            c = Measured(float(np.nanmean(values)), tuple(values))
        else:
            c = of(control)
        margin = of(MARGINS[key]) if key in MARGINS else None
        found.append(DECLARATIONS[key].judge(CHAPTER, of(statistic), control=c, margin=margin,
                                             varies=varies))
    return found


# ---- linear probes (Fig 11, appendix F) ------------------------------------------------------


def _thirds(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of a depth-ordered array in the first, middle and last third of depth."""
    v = np.asarray(values, dtype=float)
    depth = depth_fraction(len(v))
    parts = v[depth < 1 / 3], v[(depth > 1 / 3) & (depth < 2 / 3)], v[depth > 2 / 3]
    if not all(p.size for p in parts):
        raise ValueError(f"{len(v)} blocks leave a third of depth empty")
    return parts


def gain(curve: np.ndarray) -> float:
    """A probe curve's last block minus its mean over the first third of blocks."""
    return float(np.asarray(curve, dtype=float)[-1] - _thirds(curve)[0].mean())


def early_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over the first third of blocks of ``a`` minus ``b``."""
    return float(_thirds(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))[0].mean())


def on_par(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |``a`` - ``b``| over the blocks below the last third of depth."""
    d = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
    return float(d[depth_fraction(len(d)) < 2 / 3].mean())


def plateau(lead: np.ndarray) -> float:
    """A lead's value at the last block minus its mean over the middle third."""
    return float(np.asarray(lead, dtype=float)[-1] - _thirds(lead)[1].mean())


def _first_spatial(acc: Accuracies, prefix: int) -> np.ndarray:
    return np.asarray(acc["token"], dtype=float)[:, prefix]


#: Each probe key: (statistic, control) of the three models' accuracies of one draw
#: ``(cls, gap, resnet)``. The CLS ViT's per-token probes cover its spatial tokens only, so
#: its "first spatial token" is token column 0.
PROBES: dict[str, tuple[Callable[[Accuracies, Accuracies, Accuracies], float],
                        Callable[[Accuracies, Accuracies, Accuracies], float]]] = {
    "fig11_token_probes_gap": (lambda c, g, r: float(g["token_mean"][-1]),
                               lambda c, g, r: float(c["token_mean"][-1])),
    "fig11_token_probes_resnet": (lambda c, g, r: float(r["token_mean"][-1]),
                                  lambda c, g, r: float(c["token_mean"][-1])),
    "fig11_native_probes": (lambda c, g, r: abs(float(c["cls"][-1] - g["gap"][-1])),
                            lambda c, g, r: abs(float(c["cls"][-1] - c["token_mean"][-1]))),
    "fig11b_gap_token": (lambda c, g, r: abs(float(g["gap"][-1] - _first_spatial(g, 0)[-1])),
                         lambda c, g, r: abs(float(c["gap"][-1] - _first_spatial(c, 0)[-1]))),
    "appf_cls_pool_on_par": (lambda c, g, r: on_par(c["cls"], c["gap"]),
                             lambda c, g, r: on_par(c["cls"], c["token_mean"])),
    "appf_cls_pool_plateau": (
        lambda c, g, r: plateau(np.asarray(c["cls"]) - np.asarray(c["gap"])),
        lambda c, g, r: plateau(_first_spatial(g, 0) - np.asarray(g["gap"]))),
    "appf_gap_first_poor_early": (lambda c, g, r: early_gap(_first_spatial(g, 0), g["gap"]),
                                  lambda c, g, r: early_gap(c["cls"], c["gap"])),
    "appf_gap_first_improves": (lambda c, g, r: gain(_first_spatial(g, 0)),
                                lambda c, g, r: gain(_first_spatial(c, 0))),
    "appf_gap_first_matches": (
        lambda c, g, r: abs(float(g["gap"][-1] - _first_spatial(g, 0)[-1])),
        lambda c, g, r: abs(float(c["gap"][-1] - _first_spatial(c, 0)[-1]))),
    "appf_resnet_improves": (lambda c, g, r: gain(r["token_mean"]),
                             lambda c, g, r: gain(c["token_mean"])),
    "appf_resnet_like_gap": (lambda c, g, r: gain(g["token_mean"]),
                             lambda c, g, r: gain(c["token_mean"])),
}


def over_shot_draws(statistic: Callable[..., float], per_model: Sequence[Sequence[Accuracies]]
                    ) -> Measured:
    """``statistic`` on each shot draw (draw i of every model together); the value is their
    mean, each draw being one equally likely 10-shot training set."""
    counts = {len(draws) for draws in per_model}
    if len(counts) != 1 or not counts.pop():
        raise ValueError("every model needs the same, non-zero number of shot draws")
    values = [float(statistic(*accs)) for accs in zip(*per_model, strict=True)]
    return Measured(float(np.mean(values)), tuple(values) if len(values) > 1 else None)


def probe_claims(cls: Sequence[Accuracies], gap: Sequence[Accuracies],
                 resnet: Sequence[Accuracies], *,
                 seeds: Sequence[tuple[Sequence[Accuracies], Sequence[Accuracies],
                                       Sequence[Accuracies]]] = (),
                 varies: str = "") -> list[Claim]:
    """The claims of Fig 11 and appendix F from the three models' 10-shot probe accuracies.

    Each argument holds one :func:`seelike.book.results.probe_accuracies` dict per draw of
    the probe training set, in the same draw order for every model (draw i fits every
    model's probes on the same images); ``seeds``: the same three for each other training
    seed. Value: the mean over draws; interval: the draws.
    """
    found = []
    for key, (statistic, control) in PROBES.items():
        m = over_shot_draws(statistic, (cls, gap, resnet))
        seed_values = tuple(over_shot_draws(statistic, s).value for s in seeds)
        m = Measured(m.value, m.draws, seed_values)
        c = over_shot_draws(control, (cls, gap, resnet))
        c = Measured(c.value, c.draws, tuple(over_shot_draws(control, s).value for s in seeds))
        found.append(DECLARATIONS[key].judge(CHAPTER, m, control=c, varies=varies))
    return found
