"""Chapter 9's claims: the MLP-Mixer (paper Appendix H, Figs H.1 and H.2).

:data:`DECLARATIONS` holds each sentence of Appendix H that Chapter 9 tests, clause by
clause, with its statistic, control and bars; the functions below compute the statistics
from CKA matrices, and :func:`chapter9_claims` judges them on the matrices, their
bootstrap draws over probe examples and, for H.2, the other training seeds of the ViT and
the ResNet (the zoo trains one Mixer only). H.1's control is the ViT, which Chapter 4
finds without stages: a block structure must stand out more in the Mixer than the same
statistic finds in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.declare import Declaration, declared
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured, measure
from seelike.structure import (
    depth_fraction,
    mean_best_match,
    square_matrix,
    stage_contrast,
    two_block_split,
)

__all__ = ["CHAPTER", "DECLARATIONS", "blocks_contrast", "chapter9_claims", "depth_aligned_match",
           "first_block_fraction", "judge_vit_like", "split_order_margin"]

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
_VIT = ("the same statistic on the ViT's layers, which Chapter 4 finds without stages "
        "(Fig 1)")

DECLARATIONS = declared([
    Declaration(
        "h1_blocks", "Fig H.1", _H1, _WHERE,
        "Mixer: CKA within minus across the two blocks of its best split into two runs of "
        "consecutive layers (distinct layer pairs)", ">", CLEAR_STAGE_MARGIN,
        CLEAR_STAGE_MARGIN / 2,
        "'very clearly into distinct, uncorrelated blocks' is Fig 1's 'clear stages': the "
        "Mixer's split must stand out from the ViT's by the same tenth of the colour scale "
        "(Chapter 4), half of it for partly", _VIT, net="difference", roles=("mixer",),
        clause="The representations seem to also fall very clearly into distinct, "
               "uncorrelated blocks"),
    Declaration(
        "h1_small_first", "Fig H.1", _H1, _WHERE,
        "Mixer: fraction of its layers before the cut of its best two-block split", "<", 0.5,
        None,
        "'a smaller block in the beginning and a larger block afterwards': the first block "
        "holds fewer than half of the layers",
        "the same fraction on the Mixer's layers in reverse order, where the larger block "
        "comes first", roles=("mixer",),
        clause="with a smaller block in the beginning and a larger block afterwards",
        margin="the best two-block contrast with the smaller block first minus the best with "
               "the larger block first",
        zero_width="the cut moves only when another cut's contrast overtakes the best one; "
                   "the margin shows by how much the best order wins"),
    Declaration(
        "h2_vit_like", "Fig H.2",
        "Comparing these models with ViT or ResNet as in Figure H.2 models makes it clear "
        "that overall, the models behave more similar to ViT than ResNets (c.f. Fig. 1 and 2).",
        _WHERE,
        "mean over Mixer layers of the highest CKA with any ViT layer", ">", VIT_LIKE_MARGIN,
        0.0,
        "'makes it clear' asks for a plainly visible difference, not a new block structure: "
        "half of Fig 1's 'clear' margin; any positive difference for partly",
        "the same mean with the ResNet's layers", net="difference",
        roles=("mixer", "vit", "resnet")),
])

#: The statistic of H.2: how well a Mixer layer is matched, on average, by another model
Match = Callable[[np.ndarray], float]


def blocks_contrast(within: np.ndarray) -> float:
    """H.1: the contrast of the best two-block split of a model's layers.

    Mean CKA within the two runs of consecutive layers minus across them, over distinct
    layer pairs, at the cut that maximises it (:func:`seelike.structure.two_block_split`).
    """
    return two_block_split(within)[1]


def first_block_fraction(within: np.ndarray) -> float:
    """H.1: the fraction of the layers in the first block of the best two-block split.

    Below 0.5 the first block is the smaller one, the order the paper describes.
    """
    m = np.asarray(within)
    return two_block_split(m)[0] / len(m)


def split_order_margin(within: np.ndarray) -> float:
    """The best two-block contrast with the first block the smaller minus the best with it
    the larger: the margin behind :func:`first_block_fraction` (positive: smaller first)."""
    m = square_matrix(within, "matrix")
    n = len(m)
    contrast = {k: stage_contrast(m, [0] * k + [1] * (n - k)) for k in range(2, n - 1)}
    small = [c for k, c in contrast.items() if k < n / 2]
    large = [c for k, c in contrast.items() if k >= n / 2]
    if not small or not large:
        raise ValueError(f"{n} layers leave no cut on one side of the middle")
    return float(np.nanmax(small) - np.nanmax(large))


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


def judge_vit_like(with_vit: np.ndarray, with_resnet: np.ndarray, *,
                   match: Match = mean_best_match,
                   draws: tuple[np.ndarray, np.ndarray] | None = None,
                   seeds: Sequence[tuple[np.ndarray, np.ndarray]] = (), varies: str = "",
                   statistic: str | None = None) -> Claim:
    """H.2 judged on one reading: ``match`` of Mixer x ViT against Mixer x ResNet (rows:
    Mixer layers); ``draws`` the two matrices' bootstrap stacks, ``seeds`` the two matrices
    against each other training seed of the ViT and the ResNet.

    Chapter 9 also judges other readings of H.2 with it (block outputs only, another
    ResNet, depth-aligned matches), by the same bars, to show them beside the declared one.
    """
    def of(which: int) -> Measured:
        point = (with_vit, with_resnet)[which]
        return measure(match, (point,), None if draws is None else [(d,) for d in draws[which]],
                       [(s[which],) for s in seeds])

    return DECLARATIONS["h2_vit_like"].judge(CHAPTER, of(0), control=of(1), varies=varies,
                                            statistic=statistic)


def chapter9_claims(within: np.ndarray, vit_within: np.ndarray, with_vit: np.ndarray,
                    with_resnet: np.ndarray, *,
                    draws: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
                    seeds: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                    varies: str = "", seed_varies: str = "") -> list[Claim]:
    """All claims of Chapter 9, in :data:`DECLARATIONS` order.

    ``within`` is the Mixer with itself, ``vit_within`` the ViT with itself (H.1's
    control); ``with_vit`` and ``with_resnet`` have the Mixer's layers as rows. ``draws``:
    the four matrices' bootstrap stacks ``(draws, ...)`` over the same probe resamplings;
    ``seeds``: Mixer x ViT and Mixer x ResNet for each other training seed of the ViT and
    the ResNet (H.2 only: H.1 is about the one Mixer).
    """
    def of(statistic: Callable[[np.ndarray], float], point: np.ndarray, which: int
           ) -> Measured:
        return measure(statistic, (point,), None if draws is None
                       else [(d,) for d in draws[which]])

    return [
        DECLARATIONS["h1_blocks"].judge(
            CHAPTER, of(blocks_contrast, within, 0), control=of(blocks_contrast, vit_within, 1),
            varies=varies),
        DECLARATIONS["h1_small_first"].judge(
            CHAPTER, of(first_block_fraction, within, 0),
            control=of(lambda m: first_block_fraction(m[::-1, ::-1]), within, 0),
            margin=of(split_order_margin, within, 0), varies=varies,
            statistic=(f"{DECLARATIONS['h1_small_first'].statistic} (cut after layer "
                       f"{two_block_split(within)[0]} of {len(within)})")),
        judge_vit_like(with_vit, with_resnet, draws=None if draws is None else draws[2:],
                       seeds=seeds, varies="; ".join(filter(None, (
                           varies, seed_varies if seeds else "")))),
    ]
