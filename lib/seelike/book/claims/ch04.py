"""Chapter 4's claims: representation structure (paper Figs 1, 2 and B.1).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 4 tests, clause by
clause, with its statistic, control and bars; the functions below compute the statistics
from CKA matrices, and :func:`chapter4_claims` judges them on the matrices, their
bootstrap draws over probe examples and the other training seeds. The controls of the
Fig 2 claims put the ViT's layers in a random order: what each statistic gives when depth
means nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from seelike.book.claims.declare import Declaration, declared
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured, measure, verdict
from seelike.layers import kinds_and_blocks, stage_of
from seelike.structure import (
    best_match_fraction,
    best_match_halves,
    depth_fraction,
    kind_contrast,
    low_high_similarity,
    mapped_stages,
    off_diagonal_mean,
    row_permutations,
    stage_contrast,
)

__all__ = ["CHAPTER", "CLEAR_STAGE_MARGIN", "DECLARATIONS", "POINT_KEYS", "Structure",
           "chapter4_claims", "last_third_less_similar", "last_third_margin", "lower_half",
           "point_statistics", "point_verdicts", "resnet_stages", "upper_half_in_band",
           "vit_stages"]

CHAPTER = "04_representation_structure"

CLEAR_STAGE_MARGIN = 0.1
#: Fig 2, lower half: the mean best-match ViT depth must be at most this (partly: 0.5)
LOWER_HALF_BAR = 0.35
#: Fig 2, upper half: "the next third" of ViT depth after the lowest quarter, with slack
UPPER_HALF_BAND = (0.25, 0.65)

_FIG1 = ("We observe that ViTs have relatively uniform layer similarity structure, with a "
         "clear grid-like pattern and large similarity between lower and higher layers.")
_FIG1_RESNET = ("By contrast, the ResNet models show clear stages in similarity structure, "
                "with smaller similarity scores between lower and higher layers.")
_B1 = ("We observe similar conclusions: ViT representation structure has a more uniform "
       "similarity structure across layers, and comparing ResNet to ViT representations show "
       "a large fraction of early ResNet layers similar to a smaller number of ViT layers.")
_B1_WHERE = "Appendix B (Fig B.1), tested with a second, independently trained CNN"
_SHUFFLED = ("the same statistic with the ViT's layers in a random order (200 orders): what "
             "it gives when depth carries no information")
_CLEAR = ("'clear' stages stand out by several colour steps on the paper's heatmaps; a tenth "
          "of the [0, 1] scale is the least that reads as a distinct block, half of it only "
          "as shading (partly)")

DECLARATIONS = declared([
    Declaration(
        "fig1_uniform_structure", "Fig 1", _FIG1, "Figure 1 caption",
        "mean CKA over all pairs of distinct layers of the ViT", ">", 0.0, None,
        "'relatively uniform': more alike across the whole matrix than the ResNet it is set "
        "against; any size of gap would be a number we invented",
        "the same mean in the ResNet, whose similarity the paper finds divided into stages",
        net="difference", roles=("vit", "resnet"),
        clause="relatively uniform layer similarity structure"),
    Declaration(
        "fig1_grid", "Fig 1", _FIG1, "Figure 1 caption",
        "ViT: mean CKA between layers of the same kind (norm, attention, MLP, block output) "
        "in different blocks minus between layers of different kinds in different blocks",
        ">", CLEAR_STAGE_MARGIN, CLEAR_STAGE_MARGIN / 2,
        "a grid is rows and columns of one kind of layer alike across depth; " + _CLEAR,
        "the same contrast over the ResNet's layer kinds (inner activation, unit output)",
        clause="with a clear grid-like pattern", roles=("vit",)),
    Declaration(
        "fig1_uniformity", "Fig 1", _FIG1, "Figure 1 caption",
        "mean CKA between the lowest and the highest third of the ViT's layers", ">", 0.0,
        None, "'large' similarity is read against the ResNet's, as the caption sets them "
              "side by side; any gap would be a number we invented",
        "the same mean in the ResNet", net="difference", roles=("vit", "resnet"),
        clause="large similarity between lower and higher layers"),
    Declaration(
        "fig1_resnet_stages", "Fig 1", _FIG1_RESNET, "Figure 1 caption",
        "ResNet: mean CKA within stages minus across stages (distinct layer pairs)", ">",
        CLEAR_STAGE_MARGIN, CLEAR_STAGE_MARGIN / 2,
        "'by contrast' with the ViT: the ResNet's stages must stand out more than the same "
        "cuts do in the ViT; " + _CLEAR,
        "the ViT cut at the same fractions of depth as the ResNet's stages",
        net="difference", roles=("resnet", "vit"),
        clause="the ResNet models show clear stages in similarity structure"),
    Declaration(
        "fig1_resnet_low_high", "Fig 1", _FIG1_RESNET, "Figure 1 caption",
        "mean CKA between the lowest and the highest third of the ResNet's layers", "<", 0.0,
        None, "'smaller' than the ViT's, the model it is contrasted with: the sign",
        "the same mean in the ViT", net="difference", roles=("resnet", "vit"),
        clause="with smaller similarity scores between lower and higher layers"),
    Declaration(
        "fig1_vit_no_stages", "Fig 1",
        "The ViT has no clear stages: cut where the ResNet changes stage, its mean CKA within "
        "minus across stages stays below the bar the ResNet's 'clear stages' must clear.",
        "beyond the paper, which implies but never states it (Section 4: the ResNet's "
        "similarity 'is divided into different (lower/higher) stages')",
        "ViT: mean CKA within minus across the ResNet's stages mapped by depth fraction",
        "<", CLEAR_STAGE_MARGIN, None,
        "the ViT has no clear stages by the same bar as the ResNet's 'clear stages'",
        "the same contrast in the ResNet, whose stages the paper finds clear",
        paper=False, roles=("vit", "resnet")),
    Declaration(
        "fig2_lower_half", "Fig 2",
        "We observe (Figure 2) that the lower half of 60 ResNet layers are similar to "
        "approximately the lowest quarter of ViT layers.",
        "Section 4",
        "ResNet lower half: mean depth fraction of the most similar ViT layer", "<",
        LOWER_HALF_BAR, 0.5,
        "the lowest quarter puts the matches in [0, 0.25]; a tenth of depth of slack for "
        "'approximately' and the coarse layer grid; partly: still the lower ViT half",
        _SHUFFLED, roles=("vit", "resnet")),
    Declaration(
        "fig2_upper_half", "Fig 2",
        "The top half of the ResNet is approximately similar to the next third of the ViT "
        "layers.",
        "Section 4",
        f"ResNet upper half: fraction of layers whose most similar ViT layer lies at "
        f"{UPPER_HALF_BAND[0]}-{UPPER_HALF_BAND[1]} of its depth", ">", 0.5, 0.25,
        "'the next third' after the lowest quarter is [0.25, 0.58] of ViT depth, with slack "
        "to 0.65 for 'approximately'; most of the upper half must match there, a quarter of "
        "it for partly", _SHUFFLED, roles=("vit", "resnet")),
    Declaration(
        "fig2_last_third", "Fig 2",
        "The final third of ViT layers is less similar to all ResNet layers, …",
        "Section 4 (cut: the sentence's explanation, 'likely because this set of layers "
        "mainly manipulates the CLS token representation, further studied in Section 6', "
        "which this claim does not test)",
        "fraction of ResNet layers whose best match in the ViT's final third is below their "
        "best match in its first two thirds", ">", 0.9, 0.5,
        "'less similar to all ResNet layers' is relative: for (nearly) every ResNet layer "
        "the final third must be the less similar part of the ViT; partly: for most",
        _SHUFFLED + " (the first two thirds then win two times in three by their size alone)",
        roles=("vit", "resnet"),
        margin="mean over ResNet layers of its best CKA in the ViT's first two thirds minus "
               "its best in the final third",
        zero_width="a fraction of the ResNet's 16 layers moves only when a layer's two best "
                   "matches swap, which resampling rarely does; the margin shows how far "
                   "they are apart"),
    Declaration(
        "b1_uniform", "Fig B.1", _B1, _B1_WHERE,
        "mean CKA between the lowest and the highest third of the ViT's layers", ">", 0.0,
        None, "'a more uniform similarity structure' than the ResNet's: Fig 1's reading, "
        "the sign", "the same mean in the second CNN", net="difference",
        roles=("vit", "resnet_alt"),
        clause="ViT representation structure has a more uniform similarity structure across "
               "layers"),
    Declaration(
        "b1_early_resnet", "Fig B.1", _B1, _B1_WHERE,
        "second CNN's lower half: mean depth fraction of the most similar ViT layer", "<",
        LOWER_HALF_BAR, 0.5, "Fig 2's lower-half reading and bars: many early CNN layers "
                             "matched by the lowest ViT layers",
        _SHUFFLED, roles=("vit", "resnet_alt"),
        clause="a large fraction of early ResNet layers similar to a smaller number of ViT "
               "layers"),
])


@dataclass(frozen=True)
class Structure:
    """The CKA matrices Chapter 4's claims read, for one probe set, draw or training seed.

    ``cross`` is ViT layers x ResNet layers (Fig 2's layout, ResNet on x).
    """

    vit: np.ndarray
    resnet: np.ndarray
    cross: np.ndarray


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


def upper_half_in_band(cross: np.ndarray) -> float:
    """Fraction of the ResNet's upper-half layers whose best ViT match lies in the band.

    The mean of the best-match depths would hide a bimodal set: half the layers matching
    the ViT's bottom and half its top averages into the band.
    """
    best = best_match_fraction(cross)
    upper = best[depth_fraction(len(best)) >= 0.5]
    upper = upper[np.isfinite(upper)]
    low, high = UPPER_HALF_BAND
    return float(np.mean((upper >= low) & (upper <= high))) if len(upper) else float("nan")


def _early_late(cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each ResNet layer's best CKA with the ViT's first two thirds and with its final third
    (columns without finite values on either side dropped)."""
    c = np.where(np.isfinite(cross), np.asarray(cross, dtype=float), -np.inf)
    last = depth_fraction(c.shape[0]) > 2 / 3
    late, early = c[last].max(axis=0), c[~last].max(axis=0)
    ok = np.isfinite(late) & np.isfinite(early)
    return early[ok], late[ok]


def last_third_less_similar(cross: np.ndarray) -> float:
    """Fraction of ResNet layers matched less well by the ViT's final third than by the rest."""
    early, late = _early_late(cross)
    return float(np.mean(late < early)) if len(early) else float("nan")


def last_third_margin(cross: np.ndarray) -> float:
    """Mean over ResNet layers of (best CKA in the ViT's first two thirds - best in its final
    third): the continuous margin behind :func:`last_third_less_similar`."""
    early, late = _early_late(cross)
    return float(np.mean(early - late)) if len(early) else float("nan")


def _shuffled(statistic: Callable[[np.ndarray], float], cross: np.ndarray,
              count: int) -> Measured:
    """``statistic`` on ``cross`` with the ViT's rows in ``count`` random orders: the mean,
    with each order a draw."""
    values = [statistic(np.asarray(cross)[order])
              for order in row_permutations(len(cross), count)]
    return Measured(float(np.nanmean(values)), tuple(values))


def chapter4_claims(point: Structure, vit_layers: Sequence[str], vit_blocks: Sequence[str],
                    resnet_layers: Sequence[str], resnet_blocks: Sequence[str], *,
                    draws: Sequence[Structure] | None = None,
                    seeds: Sequence[Structure] = (),
                    alt: tuple[np.ndarray, np.ndarray] | None = None,
                    alt_draws: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
                    varies: str = "", permutations: int = 200) -> list[Claim]:
    """All claims of Chapter 4, in :data:`DECLARATIONS` order.

    ``point``: the matrices of the ViT and the ResNet; ``draws``: the same on each bootstrap
    resampling of the probe examples; ``seeds``: on each other training seed of the ViT
    and the ResNet. ``vit_blocks``/``resnet_blocks``: each model's block outputs (the
    groups of the grid statistic). ``alt``: a second CNN's within-model matrix and the ViT x
    second CNN matrix (Fig B.1), with ``alt_draws``; without it the B.1 claims are
    untestable.
    """
    if np.shape(point.cross) != (len(point.vit), len(point.resnet)):
        raise ValueError(f"cross is {np.shape(point.cross)}, expected (vit, resnet) = "
                         f"({len(point.vit)}, {len(point.resnet)})")
    vit_kinds, vit_groups = kinds_and_blocks(list(vit_layers), list(vit_blocks))
    res_kinds, res_groups = kinds_and_blocks(list(resnet_layers), list(resnet_blocks))
    count = len(draws) if draws else permutations

    def of(statistic: Callable[[Structure], float]) -> Measured:
        return measure(statistic, (point,), None if draws is None else [(d,) for d in draws],
                       [(s,) for s in seeds])

    def judge(key: str, m: Measured, control: Measured, margin: Measured | None = None,
              ) -> Claim:
        return DECLARATIONS[key].judge(CHAPTER, m, control=control, margin=margin,
                                       varies=varies)

    vit_uniform = of(lambda s: off_diagonal_mean(s.vit))
    res_uniform = of(lambda s: off_diagonal_mean(s.resnet))
    vit_low_high = of(lambda s: low_high_similarity(s.vit))
    res_low_high = of(lambda s: low_high_similarity(s.resnet))
    vit_grid = of(lambda s: kind_contrast(s.vit, vit_kinds, vit_groups))
    res_grid = of(lambda s: kind_contrast(s.resnet, res_kinds, res_groups))
    res_stages = of(lambda s: resnet_stages(s.resnet, resnet_layers))
    vit_cut = of(lambda s: vit_stages(s.vit, resnet_layers))
    found = [
        judge("fig1_uniform_structure", vit_uniform, res_uniform),
        judge("fig1_grid", vit_grid, res_grid),
        judge("fig1_uniformity", vit_low_high, res_low_high),
        judge("fig1_resnet_stages", res_stages, vit_cut),
        judge("fig1_resnet_low_high", res_low_high, vit_low_high),
        judge("fig1_vit_no_stages", vit_cut, res_stages),
    ]
    for key, statistic in (("fig2_lower_half", lower_half),
                           ("fig2_upper_half", upper_half_in_band),
                           ("fig2_last_third", last_third_less_similar)):
        margin = of(lambda s: last_third_margin(s.cross)) if key == "fig2_last_third" else None
        found.append(judge(key, of(lambda s, f=statistic: f(s.cross)),
                           _shuffled(statistic, point.cross, count), margin))
    if alt is None:
        why = "this preset has no second CNN"
        found += [DECLARATIONS[k].judge(CHAPTER, Measured(float("nan")), untestable=why)
                  for k in ("b1_uniform", "b1_early_resnet")]
        return found
    alt_cross = alt[1]
    pairs = None if alt_draws is None or draws is None else [
        (d, a) for d, a in zip(draws, alt_draws, strict=True)]
    point_pair = (point, alt)

    def of_alt(statistic: Callable[[Structure, tuple[np.ndarray, np.ndarray]], float]
               ) -> Measured:
        return measure(statistic, point_pair, pairs)

    found.append(judge("b1_uniform", of_alt(lambda s, a: low_high_similarity(s.vit)),
                       of_alt(lambda s, a: low_high_similarity(a[0]))))
    found.append(judge("b1_early_resnet", of_alt(lambda s, a: lower_half(a[1])),
                       _shuffled(lower_half, alt_cross, count)))
    return found


#: The claims Chapter 10 re-scores at every minibatch size: those its block-output
#: matrices of the ViT and the ResNet can compute (no grid without intermediate layers, no
#: second CNN).
POINT_KEYS = ("fig1_uniform_structure", "fig1_uniformity", "fig1_resnet_stages",
              "fig1_resnet_low_high", "fig1_vit_no_stages", "fig2_lower_half",
              "fig2_upper_half", "fig2_last_third")


def point_statistics(s: Structure, resnet_layers: Sequence[str]) -> dict[str, float]:
    """Each :data:`POINT_KEYS` claim's judged statistic on one set of matrices, without an
    interval: net of its control where the declaration reads it so."""
    vit_cut, res_stages = vit_stages(s.vit, resnet_layers), resnet_stages(s.resnet,
                                                                          resnet_layers)
    vit_lh, res_lh = low_high_similarity(s.vit), low_high_similarity(s.resnet)
    return {
        "fig1_uniform_structure": off_diagonal_mean(s.vit) - off_diagonal_mean(s.resnet),
        "fig1_uniformity": vit_lh - res_lh,
        "fig1_resnet_stages": res_stages - vit_cut,
        "fig1_resnet_low_high": res_lh - vit_lh,
        "fig1_vit_no_stages": vit_cut,
        "fig2_lower_half": lower_half(s.cross),
        "fig2_upper_half": upper_half_in_band(s.cross),
        "fig2_last_third": last_third_less_similar(s.cross),
    }


def point_verdicts(s: Structure, resnet_layers: Sequence[str]) -> list[str]:
    """The verdict of each :data:`POINT_KEYS` claim by its :func:`point_statistics` value
    alone, in that order (what a change of estimator or minibatch could flip)."""
    values = point_statistics(s, resnet_layers)
    return [verdict(Measured(values[k]), DECLARATIONS[k].direction, DECLARATIONS[k].pass_bar,
                    DECLARATIONS[k].partly_bar) for k in POINT_KEYS]
