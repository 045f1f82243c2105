"""Chapter 9's claims: the MLP-Mixer (paper Figs H.1 and H.2).

Each function turns one sentence of the paper into a :class:`~seelike.book.claims.record.Claim`:
the statistic, its pass condition (fixed from the paper's wording before any of our
numbers were seen; the docstring gives the reason) and the verdict.
"""

from __future__ import annotations

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.record import Claim, verdict
from seelike.structure import mean_best_match, two_block_split

CHAPTER = "09_mixer"


def h1_mixer_blocks(mixer_cka: np.ndarray) -> Claim:
    """H.1: the Mixer's representations form a small block of layers, then a large one.

    Statistic: the contrast of the best two-block split (:func:`two_block_split`).
    Reproduced if it clears the bar of "clear stages" of Fig 1 (> 0.1,
    :data:`CLEAR_STAGE_MARGIN`, for the same reason: a tenth of the colour scale is the
    smallest difference that reads as a block) *and* the cut lies in the lower half, so
    the first block is the smaller one; partly if only the contrast clears the bar.
    """
    k, value = two_block_split(mixer_cka)
    small_first = k / len(mixer_cka) < 0.5
    return Claim(
        chapter=CHAPTER, figure="Fig H.1",
        statement="The Mixer's layers form a small block of similar representations, then a "
                  "large one.",
        statistic=f"Mixer: best two-block CKA contrast (cut after layer {k} of "
                  f"{len(mixer_cka)})",
        value=value, threshold=f"> {CLEAR_STAGE_MARGIN} with the cut in the lower half "
                               "(partly: contrast only)",
        verdict=verdict(bool(value > CLEAR_STAGE_MARGIN) and small_first,
                        bool(value > CLEAR_STAGE_MARGIN)))


def h2_mixer_vit_like(mixer_vs_vit: np.ndarray, mixer_vs_resnet: np.ndarray) -> Claim:
    """H.2: the Mixer is more similar to the ViT than to the ResNet.

    Statistic: :func:`mean_best_match` of Mixer × ViT minus that of Mixer × ResNet:
    how well the average Mixer layer is matched by some ViT layer, compared with some
    ResNet layer. Reproduced if above 0.05, half the "clear" margin of Fig 1 (the
    paper's H.2 shows the difference as plainly visible, not as a new block
    structure); partly if above 0.
    """
    value = mean_best_match(mixer_vs_vit) - mean_best_match(mixer_vs_resnet)
    margin = CLEAR_STAGE_MARGIN / 2
    return Claim(
        chapter=CHAPTER, figure="Fig H.2",
        statement="MLP-Mixer representations are more similar to ViT's than to ResNet's.",
        statistic="mean best-match CKA of Mixer layers: with ViT minus with ResNet",
        value=value, threshold=f"> {margin} (partly: > 0)",
        verdict=verdict(bool(value > margin), bool(value > 0)))
