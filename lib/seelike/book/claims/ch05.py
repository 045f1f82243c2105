"""Chapter 5's claims: local and global information (paper Figs 3-6, C.1 and C.4).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 5 tests, word for word,
with its statistic and bars, fixed before any of our numbers were seen. The functions
below compute the statistics from mean attention distances ``(blocks, heads)``
(:class:`seelike.attention.AttentionDistances`), from the CKA of head subsets with the
ResNet's lower layers (:class:`seelike.attention.HeadSubsetCKA`) and from summaries of
effective receptive fields (:class:`ErfSummary`); the ``*_claims`` functions judge them on
the point estimates, on their draws over resampled probe images and on the other
training seeds.

Claims about *local* heads need a local head to be about. A model whose lowest blocks
have none is the paper's own finding for too little data (Fig 4), not a test of what
local heads do; on such a model those claims are ``untestable here``, never reproduced
on an empty contrast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seelike.book.claims.record import Claim, Declaration, declared
from seelike.receptive_field import centre_share, spread
from seelike.resample import weighted_means
from seelike.structure import depth_fraction, finite_mean

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
_NO_LOCAL = "Untestable when no head of the lowest blocks is local (< U/2)."

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
        f"kind's share must be above 0. {_NO_LOCAL}"),
    Declaration(
        "fig3_high_global", "Fig 3",
        "At higher layers, all self-attention heads are global.",
        "Section 5, 'Analyzing Attention Distances'",
        "smallest head distance in the top two blocks / U", ">", LOCAL_FRACTION, None,
        "'all global' is no local head, by the same U/2 cut. The sentence contrasts the top "
        "with the local heads below it: without them 'all global' contrasts with nothing. "
        f"{_NO_LOCAL}"),
    Declaration(
        "fig4_less_data", "Fig 4",
        "With less training data, lower attention layers do not learn to attend locally.",
        "Figure 4 caption",
        "local heads (< U/2) in the lowest two blocks, least-data ViT / full-data ViT",
        "<", 0.5, 1.0,
        "'do not learn to attend locally': most of the full-data model's local heads are "
        "gone (fewer than half remain; C.5 shows ViT-B/32 keeping some on ImageNet, so not "
        "all need go); partly: fewer. Untestable when the full-data model has no local "
        "head to lose."),
    Declaration(
        "fig5_similarity_falls", "Fig 5",
        "We observe that lower ResNet layers are most similar to the features learned by "
        "local attention heads of ViT, and decrease monotonically in similarity as more "
        "global information is incorporated",
        "Figure 5 caption",
        "Spearman correlation of head subsets' mean distance with their CKA to a lower "
        "ResNet layer, averaged over those layers", "<", -0.5, 0.0,
        "'decrease monotonically' is a Spearman correlation of -1; -0.5 asks a clear "
        "majority of the ordering to agree, since a few subsets and noisy CKA make an exact "
        "-1 too fragile; partly: the direction. Untestable when even the most local subset "
        "is not local (mean distance >= U/2)."),
    Declaration(
        "fig6_vit_wider_early", "Fig 6",
        "We observe that lower layer effective receptive fields for ViT are indeed larger "
        "than in ResNets",
        "Section 5, 'Effective Receptive Fields' (first clause of the sentence)",
        "ERF spread after the residual, ViT first attention sublayer / ResNet first unit",
        ">", 1.0, None,
        "a comparison ('larger than'): the side of 1 is what it asserts"),
    Declaration(
        "fig6_resnet_grows", "Fig 6",
        "ResNet effective receptive fields are highly local and grow gradually; ViT "
        "effective receptive fields shift from local to global.",
        "Figure 6 caption (the ResNet half; the ViT half is fig6_vit_global_midway)",
        "fraction of consecutive ResNet layers (stem, then every unit) whose ERF spread "
        "grows", ">", 0.99, 0.5,
        "'grow gradually' is growth at every step (above 0.99: all of them); partly: at "
        "most steps"),
    Declaration(
        "fig6_vit_global_midway", "Fig 6",
        "while ResNet effective receptive fields grow gradually, ViT receptive fields become "
        "much more global midway through the network.",
        "Section 5, 'Effective Receptive Fields' (second clause of the sentence)",
        "mean ERF spread after the residual over the middle third of depth, ViT attention "
        "sublayers / ResNet units", ">", 1.5, 1.0,
        "'much more global' than the ResNet at the same depth: half as wide again is the "
        "least that reads as 'much'; partly: wider at all"),
    Declaration(
        "fig6_centre_patch", "Fig 6",
        "ViT receptive fields also show strong dependence on their center patch due to "
        "their strong residual connections, studied in the next section.",
        "Section 5, 'Effective Receptive Fields'",
        "smallest share of ERF mass on the centre patch over the ViT's attention sublayers "
        "after the residual, as a multiple of a uniform map's share (1 / patches)",
        ">", 10.0, 3.0,
        "'strong dependence' on one patch of many: in every block it holds an order of "
        "magnitude more than its share under a uniform map; partly: a clear (3x) but not "
        "strong preference"),
    Declaration(
        "fig6_pre_residual", "Fig 6",
        "As we show in Appendix C, in attention sublayers, receptive fields taken before the "
        "residual connection show far less dependence on this central patch.",
        "Section 5, 'Effective Receptive Fields'",
        "centre-patch share of the ViT's attention sublayer ERFs, before / after the "
        "residual, mean over blocks", "<", 0.5, 1.0,
        "'far less': at most half the share after the residual; partly: less, Appendix C's "
        "'smaller relative contribution'"),
    Declaration(
        "appc_mlp_pre_residual", "Fig C.1",
        "Although the pre-residual receptive fields of ViT MLP sublayers resemble the "
        "post-residual receptive fields in Figure C.1, the pre-residual receptive fields of "
        "attention sublayers have a smaller relative contribution from the corresponding "
        "input patch.",
        "Appendix C, para 1 (the MLP half; the attention half is fig6_pre_residual)",
        "|centre-patch share before / after the residual - 1| of the ViT's MLP sublayer "
        "ERFs, mean over blocks", "<", 0.25, 0.5,
        "'resemble', read on the quantity the sentence contrasts (the centre patch's "
        "relative contribution): before the residual within a quarter of its share after "
        "it; partly: within a half"),
])


# ---- resampling the probe images ---------------------------------------------------------------


def _draws(statistic: Callable[[Any], float], draws: Iterable[Any] | None) -> list[float] | None:
    """The statistic of each draw (None without draws)."""
    return None if draws is None else [float(statistic(d)) for d in draws]


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


def local_heads(distances: np.ndarray, uniform: float) -> np.ndarray:
    """Boolean array, True where a head's mean distance is below ``LOCAL_FRACTION * uniform``."""
    if not uniform > 0:
        raise ValueError(f"the uniform-attention distance must be positive, got {uniform}")
    return np.asarray(distances, dtype=float) < LOCAL_FRACTION * uniform


def lowest_local_count(distances: np.ndarray, uniform: float) -> int:
    """How many heads of the lowest two blocks are local: the test of every local claim."""
    return int(local_heads(_edge_blocks(distances, "low"), uniform).sum())


def lowest_local_share(distances: np.ndarray, uniform: float) -> float:
    """The share of the lowest two blocks' heads that are local (Fig 3's old statistic)."""
    return float(local_heads(_edge_blocks(distances, "low"), uniform).mean())


def low_mix(distances: np.ndarray, uniform: float) -> float:
    """Fig 3: the lowest two blocks' share of their rarer kind of head, local or global.

    0 when every head is of one kind, 0.5 for an even mix.
    """
    share = lowest_local_share(distances, uniform)
    return min(share, 1.0 - share)


def high_global(distances: np.ndarray, uniform: float) -> float:
    """Fig 3: the smallest mean distance among the top two blocks' heads, as a fraction of U."""
    if not uniform > 0:
        raise ValueError(f"the uniform-attention distance must be positive, got {uniform}")
    return float(_edge_blocks(distances, "high").min() / uniform)


def local_head_ratio(full: np.ndarray, less: np.ndarray, uniform: float) -> float:
    """Fig 4: local heads of the lowest two blocks, less-data model over full-data model.

    NaN when the full-data model has none (nothing to lose).
    """
    have = lowest_local_count(full, uniform)
    return float(lowest_local_count(less, uniform) / have) if have else float("nan")


def less_data_shift(full: np.ndarray, less: np.ndarray) -> float:
    """The lowest two blocks' mean head distance, less-data minus full-data model, in px.

    Fig 4's old statistic: it moves with every head, local or not, so it could pass on a
    model that has no local head to lose.
    """
    return float(_edge_blocks(less, "low").mean() - _edge_blocks(full, "low").mean())


def attention_claims(distances: np.ndarray, uniform: float, *, draws: np.ndarray | None = None,
                     seeds: Sequence[np.ndarray] = (), varies: str = "") -> list[Claim]:
    """Fig 3's two claims on the ViT's ``(blocks, heads)`` distances (CLS dropped).

    ``draws``: ``(draws, blocks, heads)`` distances over resampled images; ``seeds``: the
    distances of the other training seeds. Both claims are untestable without a local
    head in the lowest blocks (module docstring).
    """
    testable = lowest_local_count(distances, uniform) > 0
    out = []
    for key, statistic in (("fig3_low_mix", low_mix), ("fig3_high_global", high_global)):
        out.append(DECLARATIONS[key].judge(
            CHAPTER, statistic(distances, uniform),
            _draws(lambda d, f=statistic: f(d, uniform), draws),
            seeds=[statistic(s, uniform) for s in seeds] or None, varies=varies,
            testable=testable))
    return out


def less_data_claim(full: np.ndarray, less: np.ndarray | None, uniform: float,
                    model: str | None, *, draws: tuple[np.ndarray, np.ndarray] | None = None,
                    varies: str = "") -> Claim:
    """Fig 4: ``model``'s local heads in its lowest blocks against the full-data ViT's.

    ``draws``: the two models' ``(draws, blocks, heads)`` distances under the same
    resamplings of the images they share. ``less`` None: the preset has no ViT trained on
    less data, and the claim is untestable here.
    """
    declaration = DECLARATIONS["fig4_less_data"]
    if less is None:
        return declaration.judge(CHAPTER, float("nan"), testable=False,
                                 statistic="no ViT trained on less data on this preset")
    pairs = None if draws is None else list(zip(*draws, strict=True))
    return declaration.judge(
        CHAPTER, local_head_ratio(full, less, uniform),
        _draws(lambda p: local_head_ratio(p[0], p[1], uniform), pairs), varies=varies,
        testable=lowest_local_count(full, uniform) > 0,
        statistic=f"local heads (< U/2) in the lowest two blocks, {model} / full-data ViT")


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


def similarity_falls(subset_distance: np.ndarray, subset_cka: np.ndarray) -> float:
    """Fig 5: Spearman(subset mean distance, CKA) for each lower ResNet layer, averaged.

    ``subset_distance`` is ``(subsets,)``; ``subset_cka`` is ``(subsets, resnet_layers)``.
    """
    d = np.asarray(subset_distance, dtype=float)
    c = np.asarray(subset_cka, dtype=float)
    if c.ndim != 2 or c.shape[0] != len(d):
        raise ValueError(f"subset_cka must be (subsets, layers) with {len(d)} subsets, "
                         f"got {c.shape}")
    return finite_mean(np.array([_spearman(d, c[:, j]) for j in range(c.shape[1])]))


def has_local_subset(subset_distance: np.ndarray, uniform: float) -> bool:
    """Whether the most local subset of heads is local: its mean distance below U/2."""
    return bool(local_heads(np.min(subset_distance), uniform))


def subsets_claim(subset_distance: np.ndarray, subset_cka: np.ndarray, uniform: float, *,
                  draws: np.ndarray | None = None, varies: str = "") -> Claim:
    """Fig 5's claim; ``draws`` are ``(draws, subsets, layers)`` CKA over resampled images.

    The subsets' distances are held at their point estimates: they order the subsets, and
    the claim is about how CKA follows that order.
    """
    return DECLARATIONS["fig5_similarity_falls"].judge(
        CHAPTER, similarity_falls(subset_distance, subset_cka),
        _draws(lambda c: similarity_falls(subset_distance, c), draws), varies=varies,
        testable=has_local_subset(subset_distance, uniform))


# ---- Fig 6, C.1 and C.4: effective receptive fields --------------------------------------------


@dataclass(frozen=True, eq=False)
class ErfSummary:
    """What Fig 6's claims read from the ERFs of one ViT and one ResNet, on the same images.

    Spreads in pixels (:func:`seelike.receptive_field.erf_spread`), shares of the mass on
    the centre patch (:func:`seelike.receptive_field.centre_patch_fraction`), each in depth
    order.
    """

    vit_spread: np.ndarray    # (blocks,) ViT attention sublayers, after the residual
    resnet_spread: np.ndarray  # (1 + units,) ResNet stem, then every unit, after the residual
    attn_post: np.ndarray     # (blocks,) centre share, attention sublayers after the residual
    attn_pre: np.ndarray      # (blocks,) ... before it (the attention branch alone)
    mlp_post: np.ndarray      # (blocks,) MLP sublayers after the residual (block outputs)
    mlp_pre: np.ndarray       # (blocks,) ... before it (the MLP branch alone)
    patches: int              # patches in the ViT's grid: a uniform map's share is 1 / patches

    @classmethod
    def of(cls, attn_post: np.ndarray, attn_pre: np.ndarray, mlp_post: np.ndarray,
           mlp_pre: np.ndarray, resnet_post: np.ndarray, patches: int) -> ErfSummary:
        """From :func:`seelike.receptive_field.erf_moments` ``(layers, 5)`` of the maps (or
        of any sum or mean of per-image maps, e.g. a bootstrap draw)."""
        return cls(np.asarray(spread(attn_post)), np.asarray(spread(resnet_post)),
                   np.asarray(centre_share(attn_post)), np.asarray(centre_share(attn_pre)),
                   np.asarray(centre_share(mlp_post)), np.asarray(centre_share(mlp_pre)),
                   int(patches))

    @classmethod
    def draws(cls, attn_post: np.ndarray, attn_pre: np.ndarray, mlp_post: np.ndarray,
              mlp_pre: np.ndarray, resnet_post: np.ndarray, patches: int,
              weights: np.ndarray) -> list[ErfSummary]:
        """One summary per row of ``weights`` (:func:`seelike.resample.multinomial_weights`),
        from per-image moments ``(layers, images, 5)``."""
        means = [weighted_means(np.moveaxis(m, 1, 0), weights)
                 for m in (attn_post, attn_pre, mlp_post, mlp_pre, resnet_post)]
        return [cls.of(*(m[k] for m in means), patches) for k in range(len(weights))]


def vit_wider_early(s: ErfSummary) -> float:
    """Fig 6: ERF spread of the ViT's first attention sublayer over the ResNet's first unit."""
    if not s.resnet_spread[1] > 0:
        raise ValueError(f"the ResNet spread must be positive, got {s.resnet_spread[1]}")
    return float(s.vit_spread[0] / s.resnet_spread[1])


def resnet_grows(s: ErfSummary) -> float:
    """Fig 6: the fraction of consecutive ResNet layers (stem first) whose spread grows."""
    spreads = np.asarray(s.resnet_spread, dtype=float)
    if spreads.ndim != 1 or len(spreads) < 2:
        raise ValueError(f"need at least two spreads in depth order, got shape {spreads.shape}")
    return float(np.mean(np.diff(spreads) > 0))


def middle_third(values: np.ndarray) -> np.ndarray:
    """The entries of a depth-ordered array whose depth fraction lies in :data:`MIDDLE`."""
    values = np.asarray(values, dtype=float)
    f = depth_fraction(len(values))
    inside = (f >= MIDDLE[0]) & (f <= MIDDLE[1])
    if not inside.any():
        raise ValueError(f"{len(values)} layers leave none in the middle third of depth")
    return values[inside]


def vit_global_midway(s: ErfSummary) -> float:
    """Fig 6: mean spread over the middle third of depth, ViT attention sublayers / ResNet
    units (the stem left out: it has no depth among the units)."""
    return float(middle_third(s.vit_spread).mean() / middle_third(s.resnet_spread[1:]).mean())


def centre_strength(s: ErfSummary) -> float:
    """Fig 6: the smallest centre-patch share after the residual over the ViT's attention
    sublayers, times the number of patches (1: a uniform map)."""
    return float(np.min(s.attn_post) * s.patches)


def centre_post_minus_pre(s: ErfSummary) -> float:
    """The centre-patch share of attention ERFs after minus before the residual, mean over
    blocks: Fig 6's old statistic, nearly guaranteed positive by the identity path, which
    adds the centre patch's own token to the stream after the residual."""
    return float(np.mean(s.attn_post - s.attn_pre))


def attention_pre_ratio(s: ErfSummary) -> float:
    """Fig 6 / C.4: centre-patch share before / after the residual, attention sublayers,
    mean over blocks."""
    return float(np.mean(s.attn_pre / s.attn_post))


def mlp_pre_resembles(s: ErfSummary) -> float:
    """C.1: |centre-patch share before / after the residual - 1|, MLP sublayers, mean over
    blocks (0: the branch alone depends on the centre patch as much as the stream)."""
    return float(np.mean(np.abs(s.mlp_pre / s.mlp_post - 1.0)))


#: Fig 6, C.1 and C.4's statistics, by declaration key.
ERF_STATISTICS = {
    "fig6_vit_wider_early": vit_wider_early,
    "fig6_resnet_grows": resnet_grows,
    "fig6_vit_global_midway": vit_global_midway,
    "fig6_centre_patch": centre_strength,
    "fig6_pre_residual": attention_pre_ratio,
    "appc_mlp_pre_residual": mlp_pre_resembles,
}


def receptive_field_claims(erf: ErfSummary, *, draws: Sequence[ErfSummary] | None = None,
                           seeds: Sequence[ErfSummary] = (), varies: str = "") -> list[Claim]:
    """Fig 6, C.1 and C.4's claims, in :data:`ERF_STATISTICS` order.

    ``draws``: the summaries over resampled receptive-field images; ``seeds``: the
    summaries of each other training seed's ViT and ResNet.
    """
    return [DECLARATIONS[key].judge(CHAPTER, statistic(erf), _draws(statistic, draws),
                                    seeds=[statistic(s) for s in seeds] or None,
                                    varies=varies)
            for key, statistic in ERF_STATISTICS.items()]
