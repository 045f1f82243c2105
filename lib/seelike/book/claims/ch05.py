"""Chapter 5's claims: local and global information (paper Figs 3-6 and C.4).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 5 tests, clause by
clause, with its statistic, control and bars. The functions below compute the statistics
from mean attention distances ``(blocks, heads)``
(:class:`seelike.analyses.AttentionDistances`), from the CKA of head subsets with the
ResNet's lower layers (:class:`seelike.analyses.HeadSubsetCKA`), from per-image test
correctness (Fig 4's accuracy) and from summaries of effective receptive fields
(:class:`ErfSummary`); the ``*_claims`` functions judge them on the point estimates, on
their draws over resampled probe images and on the other training seeds.

A claim about local heads is measured whatever the model: a ViT whose lowest blocks have
no local head fails "a mix of local and global heads". Only a statistic that cannot be
computed (a ratio of local heads when the full-data model has none) is untestable here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seelike.accuracy import accuracy_gap
from seelike.book.claims.declare import Declaration, declared
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured, measure
from seelike.receptive_field import centre_share, spread
from seelike.resample import weighted_means
from seelike.structure import depth_fraction, finite_mean

__all__ = ["CHAPTER", "DECLARATIONS", "LOCAL_FRACTION", "MIDDLE", "ErfSummary", "accuracy_claim",
           "attention_claims", "high_global", "less_data_claim", "local_head_ratio", "local_heads",
           "local_margin", "local_most_similar", "local_to_global", "low_mix",
           "lowest_local_count", "middle_third", "receptive_field_claims", "resnet_grows",
           "resnet_smallest_step", "similarity_falls", "smallest_distance", "subsets_claims",
           "vit_grows"]

CHAPTER = "05_local_global"

#: A head is *local* when its mean attention distance is below this fraction of the
#: uniform-attention distance U (the distance of a head attending equally to every
#: spatial key), *global* otherwise. U/2 is the midpoint between attending to one's own
#: patch (0) and attending everywhere (U); in the paper's Fig 3 (U about 117 px) local
#: heads sit near 10-40 px and global ones near 80-120 px, so the cut falls in the gap
#: between the two groups.
LOCAL_FRACTION = 0.5
#: "Lowest" and "highest" blocks: the paper's Fig 3 shows two of each.
EDGE_BLOCKS = 2
#: "Midway through the network": the layers in the middle third of depth.
MIDDLE = (1 / 3, 2 / 3)
#: An ERF is *local* while its spread stays below this fraction of a uniform map's, and
#: *global* once it passes :data:`GLOBAL_SPREAD` of it.
LOCAL_SPREAD, GLOBAL_SPREAD = 1 / 3, 1 / 2

_FIG5 = ("We observe that lower ResNet layers are most similar to the features learned by "
         "local attention heads of ViT, and decrease monotonically in similarity as more "
         "global information is incorporated")
_FIG6 = ("We observe that lower layer effective receptive fields for ViT are indeed larger "
         "than in ResNets, and while ResNet effective receptive fields grow gradually, ViT "
         "receptive fields become much more global midway through the network.")
_FIG6_CAPTION = ("ResNet effective receptive fields are highly local and grow gradually; ViT "
                 "effective receptive fields shift from local to global.")
_APPC = ("Although the pre-residual receptive fields of ViT MLP sublayers resemble the "
         "post-residual receptive fields in Figure C.1, the pre-residual receptive fields of "
         "attention sublayers have a smaller relative contribution from the corresponding "
         "input patch.")
_GROWS = ("'grow gradually' is growth at every step (above 0.99: all of them); partly: at "
          "most steps")
_ORDERS = ("the same statistic with the head subsets' order shuffled (200 orders): what it "
           "gives when locality orders nothing")
_RESEMBLE = ("'resemble', read on the quantity compared: before the residual within a "
             "quarter of after it; partly: within a half")

DECLARATIONS = declared([
    Declaration(
        "fig3_low_mix", "Fig 3",
        "In agreement with Dosovitskiy et al. [14], we observe that even in the lowest layers "
        "of ViT, self-attention layers have a mix of local heads (small distances) and "
        "global heads (large distances).",
        "Section 5, 'Analyzing Attention Distances'",
        "lowest two blocks: the share of the rarer kind of head, local (< U/2) or global",
        ">", 0.0, None,
        "'a mix' asks for at least one head of each kind and nothing more, so the rarer "
        "kind's share must be above 0",
        "the least-data ViT, which by the paper's Fig 4 learns no local heads",
        roles=("vit",),
        margin="how far the most local head of the lowest two blocks is below the local cut "
               "U/2, as a fraction of U (negative: above it, no local head)",
        zero_width="a share of six heads moves only when a head crosses the cut; the margin "
                   "shows how far the nearest one is from it"),
    Declaration(
        "fig3_high_global", "Fig 3",
        "At higher layers, all self-attention heads are global.",
        "Section 5, 'Analyzing Attention Distances'",
        "smallest head distance in the top two blocks / U", ">", LOCAL_FRACTION, None,
        "'all global' is no head below the local cut U/2",
        "the same statistic in the lowest two blocks, where the paper finds local heads",
        roles=("vit",)),
    Declaration(
        "fig4_less_data", "Fig 4",
        "With less training data, lower attention layers do not learn to attend locally.",
        "Figure 4 caption",
        "local heads (< U/2) in the lowest two blocks, least-data ViT / full-data ViT",
        "<", 0.5, 1.0,
        "'do not learn to attend locally': most of the full-data model's local heads are "
        "gone (fewer than half remain; C.5 shows ViT-B/32 keeping some on ImageNet, so not "
        "all need go); partly: fewer",
        "the same ratio between two training seeds of the full-data ViT, which share the "
        "data", roles=("vit", "less_data")),
    Declaration(
        "fig4_accuracy", "Fig 4",
        "These models also perform much worse when only trained on ImageNet, …",
        "Figure 4 caption (cut: 'suggesting that incorporating local features (which is "
        "hardcoded into CNNs) may be important for strong performance', an interpretation)",
        "test accuracy on the 10,000 CIFAR-10 test images, full-data ViT minus least-data "
        "ViT (points)", ">", 5.0, 1.0,
        "'much worse': the paper's ImageNet-only ViT-L/16 trails the JFT one by about ten "
        "points; half of that for 'much', beyond a point (test-set noise) for partly",
        "the same difference between two training seeds of the full-data ViT",
        roles=("vit", "less_data")),
    Declaration(
        "fig5_local_most_similar", "Fig 5", _FIG5, "Figure 5 caption",
        "mean over the ResNet's lower layers of the most local head subset's CKA minus the "
        "highest CKA of any other subset", ">", 0.0, None,
        "'most similar' to the local heads: the most local subset above every other, of no "
        "size", _ORDERS, roles=("vit", "resnet"),
        clause="lower ResNet layers are most similar to the features learned by local "
               "attention heads of ViT"),
    Declaration(
        "fig5_similarity_falls", "Fig 5", _FIG5, "Figure 5 caption",
        "Spearman correlation of head subsets' mean distance with their CKA to a lower "
        "ResNet layer, averaged over those layers", "<", -0.5, 0.0,
        "'decrease monotonically' is a Spearman correlation of -1; -0.5 asks a clear "
        "majority of the ordering to agree, since a few subsets and noisy CKA make an exact "
        "-1 too fragile; partly: the direction", _ORDERS, roles=("vit", "resnet"),
        clause="decrease monotonically in similarity as more global information is "
               "incorporated"),
    Declaration(
        "fig6_vit_wider_early", "Fig 6", _FIG6, "Section 5, 'Effective Receptive Fields'",
        "ERF spread after the residual of the ViT's first attention sublayer", ">", 1.0, None,
        "a comparison ('larger than'): the side of 1 is what it asserts",
        "the ResNet's first unit", net="ratio", roles=("vit", "resnet"),
        clause="lower layer effective receptive fields for ViT are indeed larger than in "
               "ResNets"),
    Declaration(
        "fig6_resnet_gradual", "Fig 6", _FIG6, "Section 5, 'Effective Receptive Fields'",
        "fraction of consecutive ResNet layers (stem, then every unit) whose ERF spread "
        "grows", ">", 0.99, 0.5, _GROWS,
        "the same fraction over the ViT's attention sublayers", roles=("resnet",),
        clause="while ResNet effective receptive fields grow gradually",
        margin="the smallest step of the ResNet's ERF spread, as a fraction of its mean",
        zero_width="a fraction of 9 steps moves only when a step changes sign; the margin "
                   "shows the smallest step"),
    Declaration(
        "fig6_vit_global_midway", "Fig 6", _FIG6, "Section 5, 'Effective Receptive Fields'",
        "mean ERF spread after the residual over the middle third of depth, ViT attention "
        "sublayers", ">", 1.5, 1.0,
        "'much more global' than the ResNet at the same depth: half as wide again is the "
        "least that reads as 'much'; partly: wider at all",
        "the same mean over the ResNet's units", net="ratio", roles=("vit", "resnet"),
        clause="ViT receptive fields become much more global midway through the network"),
    Declaration(
        "fig6_resnet_local", "Fig 6", _FIG6_CAPTION, "Figure 6 caption",
        "mean over the ResNet's layers (stem, then every unit) of the ERF spread after the "
        "residual, as a fraction of a uniform map's", "<", LOCAL_SPREAD, GLOBAL_SPREAD,
        "'highly local': on average within a third of the spread of a map uniform over the "
        "image; partly: within half", "the same mean over the ViT's attention sublayers",
        roles=("resnet",), clause="ResNet effective receptive fields are highly local"),
    Declaration(
        "fig6_resnet_grows", "Fig 6", _FIG6_CAPTION, "Figure 6 caption",
        "fraction of consecutive ResNet layers (stem, then every unit) whose ERF spread "
        "grows", ">", 0.99, 0.5, _GROWS,
        "the same fraction over the ViT's attention sublayers", roles=("resnet",),
        clause="and grow gradually",
        margin="the smallest step of the ResNet's ERF spread, as a fraction of its mean",
        zero_width="a fraction of 9 steps moves only when a step changes sign; the margin "
                   "shows the smallest step"),
    Declaration(
        "fig6_vit_local_to_global", "Fig 6", _FIG6_CAPTION, "Figure 6 caption",
        "smaller of (a third minus the first ViT attention sublayer's spread, the last one's "
        "spread minus a half), spreads as fractions of a uniform map's", ">", 0.0, None,
        "'from local to global': the first map local and the last global, by the cuts of "
        "the ResNet clause (local below a third of a uniform map's spread, global above "
        "half); the statistic is positive only when both hold",
        "the same statistic on the ResNet (stem, then its last unit)", roles=("vit",),
        clause="ViT effective receptive fields shift from local to global"),
    Declaration(
        "fig6_centre_patch", "Fig 6",
        "ViT receptive fields also show strong dependence on their center patch …",
        "Section 5, 'Effective Receptive Fields' (cut: 'due to their strong residual "
        "connections, studied in the next section'; the next sentence, fig6_pre_residual, "
        "tests the residual's part)",
        "smallest share of ERF mass on the centre patch over the ViT's attention sublayers "
        "after the residual, as a multiple of a uniform map's share (1 / patches)",
        ">", 10.0, 3.0,
        "'strong dependence' on one patch of many: in every block it holds an order of "
        "magnitude more than its share under a uniform map; partly: a clear (3x) but not "
        "strong preference",
        "the same statistic on the attention sublayers before the residual, which the "
        "paper finds far less tied to the centre patch", roles=("vit",)),
    Declaration(
        "fig6_pre_residual", "Fig 6",
        "As we show in Appendix C, in attention sublayers, receptive fields taken before the "
        "residual connection show far less dependence on this central patch.",
        "Section 5, 'Effective Receptive Fields'",
        "centre-patch share of the ViT's attention sublayer ERFs, before / after the "
        "residual, mean over blocks", "<", 0.5, 1.0,
        "'far less': at most half the share after the residual; partly: less",
        "the same ratio for the MLP sublayers, whose pre-residual fields Appendix C finds "
        "like their post-residual ones", roles=("vit",)),
    Declaration(
        "appc_mlp_pre_residual", "Fig C.4", _APPC, "Appendix C",
        "|centre-patch share before / after the residual - 1| of the ViT's MLP sublayer "
        "ERFs, mean over blocks", "<", 0.25, 0.5, _RESEMBLE,
        "the same statistic for the attention sublayers", roles=("vit",),
        clause="the pre-residual receptive fields of ViT MLP sublayers resemble the "
               "post-residual receptive fields"),
    Declaration(
        "appc_attn_smaller", "Fig C.4", _APPC, "Appendix C",
        "centre-patch share of the ViT's attention sublayer ERFs, before / after the "
        "residual, mean over blocks", "<", 1.0, None,
        "'a smaller relative contribution': below 1, of no size",
        "the same ratio for the MLP sublayers", roles=("vit",),
        clause="the pre-residual receptive fields of attention sublayers have a smaller "
               "relative contribution from the corresponding input patch"),
    Declaration(
        "appc_resnet_alike", "Fig C.4",
        "ResNet-50 pre-residual receptive fields look similar to the post-residual receptive "
        "fields.",
        "Appendix C",
        "|ERF spread before / after the residual - 1| of the ResNet's units, mean over "
        "units", "<", 0.25, 0.5, _RESEMBLE + " (read on the spread, what a ResNet map varies "
        "in)", "the same statistic for the ViT's attention sublayers", roles=("resnet",)),
])


# ---- Figs 3 and 4: mean attention distances ----------------------------------------------------


def _distances(distances: np.ndarray) -> np.ndarray:
    d = np.asarray(distances, dtype=float)
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
        raise ValueError(f"distances must be a (blocks, heads) array, got {d.shape}")
    return d


def _edge_blocks(distances: np.ndarray, which: str, n: int = EDGE_BLOCKS) -> np.ndarray:
    """The heads of the lowest (``which="low"``) or highest ``n`` blocks, flattened."""
    d = _distances(distances)
    n = min(n, len(d))
    return (d[:n] if which == "low" else d[-n:]).ravel()


def _check_uniform(uniform: float) -> None:
    if not uniform > 0:
        raise ValueError(f"the uniform-attention distance must be positive, got {uniform}")


def local_heads(distances: np.ndarray, uniform: float) -> np.ndarray:
    """Boolean array, True where a head's mean distance is below ``LOCAL_FRACTION * uniform``."""
    _check_uniform(uniform)
    return np.asarray(distances, dtype=float) < LOCAL_FRACTION * uniform


def lowest_local_count(distances: np.ndarray, uniform: float) -> int:
    """How many heads of the lowest two blocks are local."""
    return int(local_heads(_edge_blocks(distances, "low"), uniform).sum())


def low_mix(distances: np.ndarray, uniform: float) -> float:
    """Fig 3: the lowest two blocks' share of their rarer kind of head, local or global.

    0 when every head is of one kind, 0.5 for an even mix.
    """
    share = float(local_heads(_edge_blocks(distances, "low"), uniform).mean())
    return min(share, 1.0 - share)


def local_margin(distances: np.ndarray, uniform: float) -> float:
    """How far the most local head of the lowest two blocks lies below the local cut, as a
    fraction of U: positive when there is a local head, negative when there is none."""
    _check_uniform(uniform)
    return float(LOCAL_FRACTION - _edge_blocks(distances, "low").min() / uniform)


def smallest_distance(distances: np.ndarray, uniform: float, which: str) -> float:
    """The smallest mean distance among the lowest or highest two blocks' heads, over U."""
    _check_uniform(uniform)
    return float(_edge_blocks(distances, which).min() / uniform)


def high_global(distances: np.ndarray, uniform: float) -> float:
    """Fig 3: the smallest mean distance among the top two blocks' heads, as a fraction of U."""
    return smallest_distance(distances, uniform, "high")


def local_head_ratio(full: np.ndarray, less: np.ndarray, uniform: float) -> float:
    """Fig 4: local heads of the lowest two blocks, less-data model over full-data model.

    NaN when the full-data model has none (nothing to lose).
    """
    have = lowest_local_count(full, uniform)
    return float(lowest_local_count(less, uniform) / have) if have else float("nan")


def attention_claims(distances: np.ndarray, uniform: float, *, draws: np.ndarray | None = None,
                     seeds: Sequence[np.ndarray] = (), least: np.ndarray | None = None,
                     least_draws: np.ndarray | None = None, varies: str = "") -> list[Claim]:
    """Fig 3's two claims on the ViT's ``(blocks, heads)`` distances (CLS dropped).

    ``draws``: ``(draws, blocks, heads)`` distances over resampled images; ``seeds``: the
    distances of the other training seeds; ``least``: the least-data ViT's distances (the
    low-mix control), with ``least_draws`` on the same resamplings.
    """
    def of(statistic: Callable[[np.ndarray], float], point: np.ndarray,
           point_draws: np.ndarray | None, others: Sequence[np.ndarray] = ()) -> Measured:
        return measure(statistic, (point,), None if point_draws is None
                       else [(d,) for d in point_draws], [(o,) for o in others])

    mix = of(lambda d: low_mix(d, uniform), distances, draws, seeds)
    control = None if least is None else of(lambda d: low_mix(d, uniform), least, least_draws)
    margin = of(lambda d: local_margin(d, uniform), distances, draws, seeds)
    top = of(lambda d: smallest_distance(d, uniform, "high"), distances, draws, seeds)
    bottom = of(lambda d: smallest_distance(d, uniform, "low"), distances, draws, seeds)
    return [DECLARATIONS["fig3_low_mix"].judge(CHAPTER, mix, control=control, margin=margin,
                                               varies=varies),
            DECLARATIONS["fig3_high_global"].judge(CHAPTER, top, control=bottom,
                                                   varies=varies)]


def less_data_claim(full: np.ndarray, less: np.ndarray | None, uniform: float, *,
                    draws: tuple[np.ndarray, np.ndarray] | None = None,
                    other_seed: np.ndarray | None = None, varies: str = "") -> Claim:
    """Fig 4: the least-data ViT's local heads in its lowest blocks against the full-data
    ViT's; ``other_seed``: another training seed of the full-data ViT (the control).

    ``draws``: the two models' ``(draws, blocks, heads)`` distances under the same
    resamplings of the images they share. Untestable when the preset has no ViT trained on
    less data, or when the full-data ViT has no local head to lose (the ratio is 0 / 0).
    """
    declaration = DECLARATIONS["fig4_less_data"]
    if less is None:
        return declaration.judge(CHAPTER, Measured(float("nan")),
                                 untestable="this preset has no ViT trained on less data")
    m = measure(lambda f, x: local_head_ratio(f, x, uniform), (full, less),
                None if draws is None else list(zip(*draws, strict=True)))
    control = (None if other_seed is None
               else Measured(local_head_ratio(full, other_seed, uniform)))
    untestable = None
    if lowest_local_count(full, uniform) == 0:
        untestable = ("the full-data ViT has no local head in its lowest two blocks, so the "
                      "ratio is 0 / 0: there is nothing to lose")
    return declaration.judge(CHAPTER, m, control=control, varies=varies,
                             untestable=untestable)


def accuracy_claim(full: np.ndarray | None, least: np.ndarray | None,
                   other_seed: np.ndarray | None, weights: np.ndarray | None, *,
                   varies: str = "") -> Claim:
    """Fig 4's accuracy clause from per-image correctness on the test images: the full-data
    ViT, the least-data ViT and another seed of the full-data ViT (the control), with the
    same bootstrap ``weights`` ``(draws, images)`` for all (a paired interval)."""
    declaration = DECLARATIONS["fig4_accuracy"]
    if full is None or least is None:
        return declaration.judge(CHAPTER, Measured(float("nan")), untestable=(
            "this preset has no ViT trained on less data with a recorded test set"))

    def gap(a: np.ndarray, b: np.ndarray) -> Measured:
        return Measured(accuracy_gap(a, b), None if weights is None
                        else tuple(accuracy_gap(a, b, w) for w in weights))

    control = None if other_seed is None else gap(full, other_seed)
    return declaration.judge(CHAPTER, gap(full, least), control=control, varies=varies)


# ---- Fig 5: subsets of heads against the ResNet's lower layers ---------------------------------


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN if either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _subset_cka(subset_distance: np.ndarray, subset_cka: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(subset_distance, dtype=float)
    c = np.asarray(subset_cka, dtype=float)
    if c.ndim != 2 or c.shape[0] != len(d) or len(d) < 2:
        raise ValueError(f"subset_cka must be (subsets, layers) with {len(d)} (>= 2) subsets, "
                         f"got {c.shape}")
    return d, c


def similarity_falls(subset_distance: np.ndarray, subset_cka: np.ndarray) -> float:
    """Fig 5: Spearman(subset mean distance, CKA) for each lower ResNet layer, averaged.

    ``subset_distance`` is ``(subsets,)``; ``subset_cka`` is ``(subsets, resnet_layers)``.
    """
    d, c = _subset_cka(subset_distance, subset_cka)
    return finite_mean(np.array([_spearman(d, c[:, j]) for j in range(c.shape[1])]))


def local_most_similar(subset_distance: np.ndarray, subset_cka: np.ndarray) -> float:
    """Fig 5: mean over the lower ResNet layers of the most local subset's CKA minus the
    highest CKA of any other subset (positive: the most local subset is the most similar)."""
    d, c = _subset_cka(subset_distance, subset_cka)
    local = int(np.argmin(d))
    others = np.delete(c, local, axis=0)
    return finite_mean(c[local] - np.nanmax(others, axis=0))


def subsets_claims(subset_distance: np.ndarray, subset_cka: np.ndarray, *,
                   draws: np.ndarray | None = None,
                   seeds: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                   permutations: int = 200, varies: str = "") -> list[Claim]:
    """Fig 5's two clauses; ``draws`` are ``(draws, subsets, layers)`` CKA over resampled
    images, ``seeds`` each other training seed's subset distances and CKA.

    The subsets' distances are held at their point estimates: they order the subsets, and
    the claim is about how CKA follows that order. The control shuffles that order.
    """
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(subset_distance)) for _ in range(
        len(draws) if draws is not None else permutations)]
    out = []
    for key, statistic in (("fig5_local_most_similar", local_most_similar),
                           ("fig5_similarity_falls", similarity_falls)):
        m = measure(statistic, (subset_distance, subset_cka),
                    None if draws is None else [(subset_distance, c) for c in draws], seeds)
        shuffled = [statistic(np.asarray(subset_distance)[o], subset_cka) for o in orders]
        control = Measured(float(np.nanmean(shuffled)), tuple(shuffled))
        out.append(DECLARATIONS[key].judge(CHAPTER, m, control=control, varies=varies))
    return out


# ---- Fig 6 and C.4: effective receptive fields -------------------------------------------------


@dataclass(frozen=True, eq=False)
class ErfSummary:
    """What Fig 6's claims read from the ERFs of one ViT and one ResNet, on the same images.

    Spreads in pixels (:func:`seelike.receptive_field.erf_spread`), shares of the mass on
    the centre patch (:func:`seelike.receptive_field.centre_patch_fraction`), each in depth
    order.
    """

    vit_spread: np.ndarray      # (blocks,) ViT attention sublayers, after the residual
    vit_pre_spread: np.ndarray  # (blocks,) ... before it
    resnet_spread: np.ndarray   # (1 + units,) ResNet stem, then every unit, after the residual
    resnet_pre_spread: np.ndarray  # (units,) every unit before the residual (the branch)
    attn_post: np.ndarray       # (blocks,) centre share, attention sublayers after the residual
    attn_pre: np.ndarray        # (blocks,) ... before it (the attention branch alone)
    mlp_post: np.ndarray        # (blocks,) MLP sublayers after the residual (block outputs)
    mlp_pre: np.ndarray         # (blocks,) ... before it (the MLP branch alone)
    patches: int                # patches in the ViT's grid: a uniform map's share is 1 / patches
    uniform_spread: float       # the spread of a map uniform over the image, in pixels

    @classmethod
    def of(cls, attn_post: np.ndarray, attn_pre: np.ndarray, mlp_post: np.ndarray,
           mlp_pre: np.ndarray, resnet_post: np.ndarray, resnet_pre: np.ndarray,
           patches: int, uniform_spread: float) -> ErfSummary:
        """From :func:`seelike.receptive_field.erf_moments` ``(layers, 5)`` of the maps (or
        of any sum or mean of per-image maps, e.g. a bootstrap draw)."""
        return cls(np.asarray(spread(attn_post)), np.asarray(spread(attn_pre)),
                   np.asarray(spread(resnet_post)), np.asarray(spread(resnet_pre)),
                   np.asarray(centre_share(attn_post)), np.asarray(centre_share(attn_pre)),
                   np.asarray(centre_share(mlp_post)), np.asarray(centre_share(mlp_pre)),
                   int(patches), float(uniform_spread))

    @classmethod
    def draws(cls, attn_post: np.ndarray, attn_pre: np.ndarray, mlp_post: np.ndarray,
              mlp_pre: np.ndarray, resnet_post: np.ndarray, resnet_pre: np.ndarray,
              patches: int, uniform_spread: float, weights: np.ndarray) -> list[ErfSummary]:
        """One summary per row of ``weights`` (:func:`seelike.resample.multinomial_weights`),
        from per-image moments ``(layers, images, 5)``."""
        means = [weighted_means(np.moveaxis(m, 1, 0), weights)
                 for m in (attn_post, attn_pre, mlp_post, mlp_pre, resnet_post, resnet_pre)]
        return [cls.of(*(m[k] for m in means), patches, uniform_spread)
                for k in range(len(weights))]


def _grows(spreads: np.ndarray) -> float:
    spreads = np.asarray(spreads, dtype=float)
    if spreads.ndim != 1 or len(spreads) < 2:
        raise ValueError(f"need at least two spreads in depth order, got shape {spreads.shape}")
    return float(np.mean(np.diff(spreads) > 0))


def resnet_grows(s: ErfSummary) -> float:
    """Fig 6: the fraction of consecutive ResNet layers (stem first) whose spread grows."""
    return _grows(s.resnet_spread)


def vit_grows(s: ErfSummary) -> float:
    """The same fraction over the ViT's attention sublayers (the control of "grow gradually")."""
    return _grows(s.vit_spread)


def resnet_smallest_step(s: ErfSummary) -> float:
    """The smallest step of the ResNet's spread (stem first) over its mean spread: the margin
    behind :func:`resnet_grows` (negative where a step shrinks)."""
    spreads = np.asarray(s.resnet_spread, dtype=float)
    return float(np.min(np.diff(spreads)) / np.mean(spreads))


def middle_third(values: np.ndarray) -> np.ndarray:
    """The entries of a depth-ordered array whose depth fraction lies in :data:`MIDDLE`."""
    values = np.asarray(values, dtype=float)
    f = depth_fraction(len(values))
    inside = (f >= MIDDLE[0]) & (f <= MIDDLE[1])
    if not inside.any():
        raise ValueError(f"{len(values)} layers leave none in the middle third of depth")
    return values[inside]


def local_to_global(spreads: np.ndarray, uniform_spread: float) -> float:
    """min(:data:`LOCAL_SPREAD` - first spread, last spread - :data:`GLOBAL_SPREAD`), spreads
    as fractions of a uniform map's: positive only when the first map is local and the last
    global."""
    s = np.asarray(spreads, dtype=float) / uniform_spread
    return float(min(LOCAL_SPREAD - s[0], s[-1] - GLOBAL_SPREAD))


def _mean_ratio_gap(before: np.ndarray, after: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(before) / np.asarray(after) - 1.0)))


#: Fig 6 and C.4's statistics by declaration key: (statistic, control), in declaration order.
ERF_STATISTICS: dict[str, tuple[Callable[[ErfSummary], float],
                                Callable[[ErfSummary], float]]] = {
    "fig6_vit_wider_early": (lambda s: float(s.vit_spread[0]),
                             lambda s: float(s.resnet_spread[1])),
    "fig6_resnet_gradual": (resnet_grows, vit_grows),
    "fig6_vit_global_midway": (lambda s: float(middle_third(s.vit_spread).mean()),
                               lambda s: float(middle_third(s.resnet_spread[1:]).mean())),
    "fig6_resnet_local": (lambda s: float(np.mean(s.resnet_spread) / s.uniform_spread),
                          lambda s: float(np.mean(s.vit_spread) / s.uniform_spread)),
    "fig6_resnet_grows": (resnet_grows, vit_grows),
    "fig6_vit_local_to_global": (lambda s: local_to_global(s.vit_spread, s.uniform_spread),
                                 lambda s: local_to_global(s.resnet_spread, s.uniform_spread)),
    "fig6_centre_patch": (lambda s: float(np.min(s.attn_post) * s.patches),
                          lambda s: float(np.min(s.attn_pre) * s.patches)),
    "fig6_pre_residual": (lambda s: float(np.mean(s.attn_pre / s.attn_post)),
                          lambda s: float(np.mean(s.mlp_pre / s.mlp_post))),
    "appc_mlp_pre_residual": (lambda s: _mean_ratio_gap(s.mlp_pre, s.mlp_post),
                              lambda s: _mean_ratio_gap(s.attn_pre, s.attn_post)),
    "appc_attn_smaller": (lambda s: float(np.mean(s.attn_pre / s.attn_post)),
                          lambda s: float(np.mean(s.mlp_pre / s.mlp_post))),
    "appc_resnet_alike": (lambda s: _mean_ratio_gap(s.resnet_pre_spread, s.resnet_spread[1:]),
                          lambda s: _mean_ratio_gap(s.vit_pre_spread, s.vit_spread)),
}


def receptive_field_claims(erf: ErfSummary, *, draws: Sequence[ErfSummary] | None = None,
                           seeds: Sequence[ErfSummary] = (), varies: str = "") -> list[Claim]:
    """Fig 6 and C.4's claims, in :data:`ERF_STATISTICS` order.

    ``draws``: the summaries over resampled receptive-field images; ``seeds``: the
    summaries of each other training seed's ViT and ResNet.
    """
    def of(statistic: Callable[[ErfSummary], float]) -> Measured:
        return measure(statistic, (erf,), None if draws is None else [(d,) for d in draws],
                       [(s,) for s in seeds])

    margin = of(resnet_smallest_step)
    return [DECLARATIONS[key].judge(
        CHAPTER, of(statistic), control=of(control), varies=varies,
        margin=margin if DECLARATIONS[key].margin else None)
        for key, (statistic, control) in ERF_STATISTICS.items()]
