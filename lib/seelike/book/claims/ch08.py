"""Chapter 8's claims: data and model scale (paper Figs 12 and 13).

Each function turns one sentence of the paper into a :class:`~seelike.book.claims.record.Claim`:
the statistic, its pass condition (fixed from the paper's wording before any of our
numbers were seen; the docstring gives the reason) and the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.record import Claim, verdict
from seelike.structure import diagonal_by_third

CHAPTER = "08_scale"


def fig12_lower_similar(cross: np.ndarray, model: str) -> Claim:
    """Fig 12: with less data, lower blocks stay similar to the full-data ViT, higher ones diverge.

    Statistic: :func:`diagonal_by_third`, lowest third minus highest third, for the
    ViT trained on the least data against the full-data one. Reproduced above 0.1, the
    "clear" margin of Fig 1 (:data:`CLEAR_STAGE_MARGIN`: the paper's curves fall from
    near 1 to well below as depth grows); partly above 0.
    """
    low, high = diagonal_by_third(cross)
    value = low - high
    return Claim(
        chapter=CHAPTER, figure="Fig 12",
        statement="ViTs trained on less data have lower blocks similar to the full-data "
                  "ViT's, and diverge in higher blocks.",
        statistic=f"{model} vs full-data ViT: mean CKA of corresponding blocks, lowest third "
                  "minus highest third",
        value=value, threshold=f"> {CLEAR_STAGE_MARGIN} (partly: > 0)",
        verdict=verdict(bool(value > CLEAR_STAGE_MARGIN), bool(value > 0)))


PROBE_MARGIN = 0.02


def fig13_more_data_better(middle_accuracy: Sequence[float], models: Sequence[str]) -> Claim:
    """Fig 13: more training data gives better intermediate representations.

    ``middle_accuracy`` is the linear-probe accuracy (fraction correct) of the middle third
    of the blocks for ViTs trained on decreasing amounts of data, most data first.
    Statistic: most data minus least data. Reproduced if above 0.02 *and* the accuracy
    falls at every step to less data: the paper reports about 30 points between JFT-300M
    and ImageNet; our fractions span far less data, so only the direction is asked of
    them, with 2 points as the smallest gap that a probe test set of a few thousand
    images resolves (its standard error is about one point). Partly if above 0.
    """
    acc = np.asarray(middle_accuracy, dtype=float)
    if len(acc) < 2 or len(acc) != len(models):
        raise ValueError(f"need one accuracy per model and at least two, got {len(acc)} "
                         f"accuracies for {len(models)} models")
    value = float(acc[0] - acc[-1])
    monotone = bool(np.all(np.diff(acc) < 0))
    return Claim(
        chapter=CHAPTER, figure="Fig 13",
        statement="ViTs trained on more data have better intermediate representations "
                  "(higher linear-probe accuracy in the middle blocks).",
        statistic=f"middle-third probe accuracy, {models[0]} minus {models[-1]}",
        value=value, threshold=f"> {PROBE_MARGIN} and falling with every cut in data "
                               "(partly: > 0)",
        verdict=verdict(value > PROBE_MARGIN and monotone, value > 0))
