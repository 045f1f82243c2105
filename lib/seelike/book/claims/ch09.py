"""Chapter 9's claims: the MLP-Mixer (paper Appendix H, Figs H.1 and H.2).

:data:`DECLARATIONS` holds each sentence of Appendix H that Chapter 9 tests, word for word,
with its statistic and bars, fixed before any of our numbers were seen; the functions
below compute the statistics from CKA matrices, and :func:`chapter9_claims` judges them on
the matrices, their bootstrap draws over probe examples and, for H.2, the other training
seeds of the ViT and the ResNet (the zoo trains one Mixer only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.record import Claim, Declaration, declared, over_draws
from seelike.structure import depth_fraction, mean_best_match, two_block_split

CHAPTER = "09_mixer"

#: H.2: how much better, on average, a Mixer layer's best ViT match must be than its best
#: ResNet match (half the "clear" margin of Fig 1)
VIT_LIKE_MARGIN = CLEAR_STAGE_MARGIN / 2

_H1 = ("The representations seem to also fall very clearly into distinct, uncorrelated "
       "blocks, with a smaller block in the beginning and a larger block afterwards.")
# The figures' own captions cannot be quoted: both are a copy-paste error in the paper.
_WHERE = ("Appendix H, para 1 (the captions of Figs H.1 and H.2 both read 'Similarity of "
          "representations of different ViT model sizes.', a copy-paste error in the paper; "
          "the body text describes the Mixers)")

DECLARATIONS = declared([
    Declaration(
        "h1_blocks", "Fig H.1", _H1, _WHERE,
        "Mixer: CKA within minus across the two blocks of its best split into two runs of "
        "consecutive layers (distinct layer pairs)", ">", CLEAR_STAGE_MARGIN,
        CLEAR_STAGE_MARGIN / 2,
        "'very clearly into distinct, uncorrelated blocks' is Fig 1's 'clear stages': the "
        "same tenth of the colour scale (Chapter 4), half of it for partly"),
    Declaration(
        "h1_small_first", "Fig H.1", _H1, _WHERE,
        "Mixer: fraction of its layers before the cut of its best two-block split", "<", 0.5,
        None,
        "'a smaller block in the beginning and a larger block afterwards': the first block "
        "holds fewer than half of the layers; testable only where the blocks are at least "
        "partly clear, since the cut of a matrix without blocks is noise"),
    Declaration(
        "h2_vit_like", "Fig H.2",
        "Comparing these models with ViT or ResNet as in Figure H.2 models makes it clear "
        "that overall, the models behave more similar to ViT than ResNets (c.f. Fig. 1 and 2).",
        _WHERE,
        "mean over Mixer layers of the highest CKA with any ViT layer minus with any "
        "ResNet layer", ">", VIT_LIKE_MARGIN, 0.0,
        "'makes it clear' asks for a plainly visible difference, not a new block structure: "
        "half of Fig 1's 'clear' margin; any positive difference for partly"),
])

#: The statistic of H.2: how well a Mixer layer is matched, on average, by another model
Match = Callable[[np.ndarray], float]


def blocks_contrast(mixer_cka: np.ndarray) -> float:
    """H.1: the contrast of the best two-block split of the Mixer's layers.

    Mean CKA within the two runs of consecutive layers minus across them, over distinct
    layer pairs, at the cut that maximises it (:func:`seelike.structure.two_block_split`).
    """
    return two_block_split(mixer_cka)[1]


def first_block_fraction(mixer_cka: np.ndarray) -> float:
    """H.1: the fraction of the Mixer's layers in the first block of its best two-block split.

    Below 0.5 the first block is the smaller one, the order the paper describes.
    """
    m = np.asarray(mixer_cka)
    return two_block_split(m)[0] / len(m)


def depth_aligned_match(cross: np.ndarray) -> float:
    """Mean CKA of each row layer with the column layer at the same fraction of depth.

    ``cross`` is ``(mixer_layers, other_layers)``; row ``i`` of ``n`` is paired with column
    ``floor((i + 0.5) / n * m)`` of ``m``. Unlike :func:`seelike.structure.mean_best_match`,
    it penalises a model whose similar layers sit at another depth. NaN entries are skipped.
    """
    c = np.asarray(cross, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cross must be a 2-D CKA matrix, got {c.shape}")
    cols = np.minimum(np.floor(depth_fraction(c.shape[0]) * c.shape[1]).astype(int),
                      c.shape[1] - 1)
    aligned = c[np.arange(c.shape[0]), cols]
    aligned = aligned[np.isfinite(aligned)]
    return float(aligned.mean()) if aligned.size else float("nan")


def vit_like(with_vit: np.ndarray, with_resnet: np.ndarray,
             match: Match = mean_best_match) -> float:
    """H.2: how much better the ViT matches the Mixer's layers than the ResNet does.

    ``match`` of Mixer x ViT minus that of Mixer x ResNet (rows: Mixer layers); the
    declared statistic uses each Mixer layer's best match (:func:`mean_best_match`),
    :func:`depth_aligned_match` is the reading of Exercise 2.
    """
    return match(with_vit) - match(with_resnet)


def judge_vit_like(with_vit: np.ndarray, with_resnet: np.ndarray, *,
                   match: Match = mean_best_match,
                   draws: tuple[np.ndarray, np.ndarray] | None = None,
                   seeds: Sequence[tuple[np.ndarray, np.ndarray]] = (), varies: str = "",
                   statistic: str | None = None) -> Claim:
    """H.2 judged on one reading: ``draws`` the two matrices' bootstrap stacks, ``seeds`` the
    two matrices against each other training seed of the ViT and the ResNet.

    Chapter 9 also judges other readings of H.2 with it (block outputs only, another
    ResNet, depth-aligned matches), by the same bars, to show them beside the declared one.
    """
    def stat(v: np.ndarray, r: np.ndarray) -> float:
        return vit_like(v, r, match)

    value, per_draw = over_draws(stat, (with_vit, with_resnet),
                                 None if draws is None else list(zip(*draws, strict=True)))
    return DECLARATIONS["h2_vit_like"].judge(
        CHAPTER, value, per_draw, seeds=[stat(v, r) for v, r in seeds] or None,
        varies=varies, statistic=statistic)


def chapter9_claims(within: np.ndarray, with_vit: np.ndarray, with_resnet: np.ndarray, *,
                    draws: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                    seeds: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                    varies: str = "", seed_varies: str = "") -> list[Claim]:
    """All claims of Chapter 9, in :data:`DECLARATIONS` order.

    ``within`` is the Mixer with itself; ``with_vit`` and ``with_resnet`` have the Mixer's
    layers as rows. ``draws``: the three matrices' bootstrap stacks ``(draws, ...)`` over
    probe examples; ``seeds``: Mixer x ViT and Mixer x ResNet for each other training seed
    of the ViT and the ResNet (H.2 only: H.1 is about the one Mixer). ``varies`` says what
    the intervals vary; ``seed_varies`` is added to it for H.2 when ``seeds`` are given.
    """
    h1 = DECLARATIONS["h1_blocks"]
    contrast, contrast_draws = over_draws(blocks_contrast, (within,),
                                          None if draws is None else [(d,) for d in draws[0]])
    cut, cut_draws = over_draws(first_block_fraction, (within,),
                                None if draws is None else [(d,) for d in draws[0]])
    cut_statistic = (f"{DECLARATIONS['h1_small_first'].statistic} (cut after layer "
                     f"{round(cut * len(within))} of {len(within)})")
    return [
        h1.judge(CHAPTER, contrast, contrast_draws, varies=varies),
        DECLARATIONS["h1_small_first"].judge(
            CHAPTER, cut, cut_draws, varies=varies, statistic=cut_statistic,
            # the blocks must be at least partly clear for their order to mean anything
            testable=bool(contrast > CLEAR_STAGE_MARGIN / 2)),
        judge_vit_like(with_vit, with_resnet, draws=None if draws is None else draws[1:],
                       seeds=seeds, varies="; ".join(filter(None, (
                           varies, seed_varies if seeds else "")))),
    ]
