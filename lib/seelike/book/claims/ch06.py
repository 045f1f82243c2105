"""Chapter 6's claims: skip connections (paper Figs 7 and 8).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 6 tests, word for word,
with its statistic and bars, fixed before any of our numbers were seen; the functions
below compute the statistics from norm ratios, CKA matrices and test accuracies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seelike.book.claims.record import Claim, Declaration, declared
from seelike.layers import block_index
from seelike.structure import finite_mean, square_matrix

CHAPTER = "06_skip_connections"

DECLARATIONS = declared([
    Declaration(
        "fig7_ratios", "Fig 7",
        "skip connection is much more influential in ViT compared to ResNet: we observe much "
        "higher norm ratios for ViT throughout, along with the phase transition from CLS to "
        "spatial token propagation",
        "Section 6", "median ViT ratio / median ResNet ratio", ">", 2.0, 1.0,
        "'much higher' must mean at least twice (the paper's Fig 7 shows about an order of "
        "magnitude); higher at all is partly"),
    Declaration(
        "fig7_cls_transition", "Fig 7",
        "We observe a striking phase transition: in the first half of the network, the CLS "
        "token (token 0) representation is primarily propagated by the skip connection branch "
        "(high norm ratio), while the spatial token representations have a large contribution "
        "coming from the long branch (lower norm ratio).",
        "Section 6 (followed by: 'Strikingly, in the second half of the network, this is "
        "reversed.')",
        "smaller of (first-half mean, minus second-half mean) of log10(CLS / spatial ratio)",
        ">", 0.0, None,
        "a crossing: CLS above the spatial tokens in the first half (log > 0) and below in "
        "the second (log < 0); the statistic is positive only when both hold"),
    Declaration(
        "e1_cls_mlp", "Fig E.1",
        "In both cases, we observe that the CLS token representation is mostly unchanged in "
        "the first few layers, while later layers change it rapidly, mostly via MLP blocks.",
        "Appendix E",
        "smaller of (first-half mean log10 CLS ratio, second-half mean log10 of the CLS "
        "token's attention ratio over its MLP ratio)", ">", 0.0, None,
        "'mostly unchanged' early means the skip outweighs both branches (log ratio > 0); "
        "'mostly via MLP blocks' late means the MLP branch is the larger one relative to the "
        "skip (attention ratio above MLP ratio); both must hold"),
    Declaration(
        "e2_output_cosine", "Fig E.2",
        "while spatial token representations change more in early layers, the output of "
        "later blocks is very similar to the representation present on the skip "
        "connections, while the inverse is true for the CLS token.",
        "Appendix E",
        "smaller of (first-half mean of CLS minus spatial cos(z, z + f(z)), second-half mean "
        "of spatial minus CLS), over both branches", ">", 0.0, None,
        "the sentence is a crossing of two tokens' cosines, early one way and late the other; "
        "the statistic is positive only when both halves hold"),
    Declaration(
        "fig8_split", "Fig 8",
        "ViT models trained without any skip connections in block i show very little "
        "representation similarity between layers before/after block i.",
        "Figure 8 caption",
        "largest over the retrained ViTs of the mean CKA between layers before and after the "
        "block without skips", "<", 0.2, 0.4,
        "'very little similarity' is the darkest fifth of the paper's [0, 1] colour scale; "
        "below 0.4, clearly under the middle of the scale, is partly; every block must split"),
    Declaration(
        "fig8_accuracy", "Fig 8",
        "(We note a performance drop of 4% when removing skip connections from middle "
        "blocks.)",
        "Section 6",
        "test accuracy, intact ViT minus ViT without block 7's skips (points), mean over seeds",
        ">", 2.0, 0.5,
        "half the paper's drop, allowing for a different scale; partly: a cost beyond a few "
        "tenths of a point"),
])


def ratio_contrast(vit_ratio: Mapping[str, np.ndarray],
                   resnet_ratio: Mapping[str, np.ndarray]) -> float:
    """Median ViT norm ratio (every block, both branches, every token) over the ResNet's.

    Medians, because a branch that outputs almost nothing gives a huge ratio.
    """
    vit = np.nanmedian(np.concatenate([np.ravel(v) for v in vit_ratio.values()]))
    return float(vit / np.nanmedian(np.ravel(resnet_ratio["unit"])))


def cls_halves(vit_ratio: Mapping[str, np.ndarray], num_prefix_tokens: int
               ) -> tuple[float, float]:
    """Mean log10(CLS ratio / mean spatial ratio) over the first and the second half of blocks.

    Per block, the log is averaged over the two branches.
    """
    if num_prefix_tokens < 1:
        raise ValueError("the CLS phase transition needs a model with a CLS token")
    logs = np.mean([np.log10(r[:, 0] / r[:, num_prefix_tokens:].mean(1))
                    for r in vit_ratio.values()], axis=0)
    half = len(logs) // 2
    return float(logs[:half].mean()), float(logs[half:].mean())


def cls_transition(vit_ratio: Mapping[str, np.ndarray], num_prefix_tokens: int) -> float:
    """min(first-half mean, -second-half mean) of :func:`cls_halves`: > 0 iff it crosses."""
    early, late = cls_halves(vit_ratio, num_prefix_tokens)
    return min(early, -late)


def cls_mlp_late(vit_ratio: Mapping[str, np.ndarray]) -> float:
    """min(first-half mean log10 CLS ratio, second-half mean log10(attn / mlp CLS ratio)).

    Positive only when the CLS token passes the early blocks mostly on the skip (both
    branches) and the late blocks change it more through the MLP than through attention.
    """
    attn, mlp = np.log10(vit_ratio["attn"][:, 0]), np.log10(vit_ratio["mlp"][:, 0])
    half = len(attn) // 2
    early = float(np.mean([attn[:half], mlp[:half]]))
    return min(early, float(np.mean(attn[half:] - mlp[half:])))


def output_crossing(vit_output_cosine: Mapping[str, np.ndarray], num_prefix_tokens: int
                    ) -> float:
    """min(first-half mean (CLS - spatial), second-half mean (spatial - CLS)) of cos(z, z + f).

    Per block, averaged over the two branches; spatial is the mean over spatial tokens.
    """
    diff = np.mean([c[:, 0] - c[:, num_prefix_tokens:].mean(1)
                    for c in vit_output_cosine.values()], axis=0)
    half = len(diff) // 2
    return min(float(diff[:half].mean()), float(-diff[half:].mean()))


def across_block(cka: np.ndarray, layer_names: Sequence[str], block: int) -> float:
    """Mean CKA between the layers of blocks before ``block`` and those of blocks after it."""
    blocks = np.array([block_index(n) if block_index(n) is not None else -1 for n in layer_names])
    before, after = blocks < block, blocks > block
    if not before.any() or not after.any():
        raise ValueError(f"block {block} leaves no layers on one side of {len(layer_names)}")
    return finite_mean(square_matrix(cka, "CKA")[np.ix_(before, after)])


def chapter6_claims(vit_ratio: Mapping[str, np.ndarray], resnet_ratio: Mapping[str, np.ndarray],
                    num_prefix_tokens: int, *,
                    vit_output_cosine: Mapping[str, np.ndarray] | None = None,
                    output_draws: Sequence[Mapping[str, np.ndarray]] | None = None,
                    output_seeds: Sequence[Mapping[str, np.ndarray]] = (),
                    ratio_draws: Sequence[tuple[Mapping[str, np.ndarray],
                                                Mapping[str, np.ndarray]]] | None = None,
                    ratio_seeds: Sequence[tuple[Mapping[str, np.ndarray],
                                                Mapping[str, np.ndarray]]] = (),
                    split: Sequence[float] | None = None,
                    split_draws: Sequence[float] | None = None,
                    split_seeds: Sequence[float] = (),
                    accuracy_costs: Sequence[float] | None = None,
                    varies: str = "", seeds_text: str = "") -> list[Claim]:
    """Chapter 6's claims from its measurements.

    ``vit_ratio``/``resnet_ratio``: norm ratios (Fig 7); ``ratio_draws``: their bootstrap
    draws over probe images; ``ratio_seeds``: the ratios of the other training seeds.
    ``vit_output_cosine``: the ViT's cos(z, z + f(z)) (Fig E.2), with its draws and seeds.
    ``split``: :func:`across_block` of each skip-removed ViT; ``split_draws``: the largest
    of them per bootstrap draw; ``split_seeds``: the largest with the other seeds' block-7
    ViT. ``accuracy_costs``: intact minus no-skip test accuracy for each seed pair. The Fig 8
    claims are untestable where the preset has no retrained ViTs (``split`` None).
    """
    d = DECLARATIONS
    found = [d["fig7_ratios"].judge(
        CHAPTER, ratio_contrast(vit_ratio, resnet_ratio),
        None if ratio_draws is None else [ratio_contrast(v, r) for v, r in ratio_draws],
        seeds=[ratio_contrast(v, r) for v, r in ratio_seeds] or None,
        varies=varies + seeds_text)]
    if num_prefix_tokens:
        found.append(d["fig7_cls_transition"].judge(
            CHAPTER, cls_transition(vit_ratio, num_prefix_tokens),
            None if ratio_draws is None else [cls_transition(v, num_prefix_tokens)
                                               for v, _ in ratio_draws],
            seeds=[cls_transition(v, num_prefix_tokens) for v, _ in ratio_seeds] or None,
            varies=varies + seeds_text))
        found.append(d["e1_cls_mlp"].judge(
            CHAPTER, cls_mlp_late(vit_ratio),
            None if ratio_draws is None else [cls_mlp_late(v) for v, _ in ratio_draws],
            seeds=[cls_mlp_late(v) for v, _ in ratio_seeds] or None,
            varies=varies + seeds_text))
        if vit_output_cosine is not None:
            found.append(d["e2_output_cosine"].judge(
                CHAPTER, output_crossing(vit_output_cosine, num_prefix_tokens),
                None if output_draws is None else [output_crossing(c, num_prefix_tokens)
                                                    for c in output_draws],
                seeds=[output_crossing(c, num_prefix_tokens) for c in output_seeds] or None,
                varies=varies + seeds_text))
    if not num_prefix_tokens or vit_output_cosine is None:
        keys = ("fig7_cls_transition", "e1_cls_mlp") if not num_prefix_tokens else ()
        why = "the ViT has no CLS token" if not num_prefix_tokens else "not measured"
        found += [d[key].judge(CHAPTER, float("nan"), testable=False, varies=why)
                  for key in (*keys, "e2_output_cosine")]
    if split is None or not len(split):
        found.append(d["fig8_split"].judge(CHAPTER, float("nan"), testable=False,
                                           varies="no ViT retrained without skips"))
    else:
        found.append(d["fig8_split"].judge(CHAPTER, max(split), split_draws,
                                           seeds=list(split_seeds) or None,
                                           varies=varies + seeds_text))
    if accuracy_costs is None or not len(accuracy_costs):
        found.append(d["fig8_accuracy"].judge(CHAPTER, float("nan"), testable=False,
                                              varies="no ViT retrained without skips"))
    else:
        costs = [float(c) for c in accuracy_costs]
        found.append(d["fig8_accuracy"].judge(
            CHAPTER, float(np.mean(costs)), seeds=costs if len(costs) > 1 else None,
            varies=f"{len(costs)} training seed(s) of each model, paired by seed"))
    return found
