"""Chapter 10's claims: minibatch CKA estimators (beyond the paper).

Each function turns one sentence of the paper into a :class:`~seelike.book.claims.record.Claim`:
the statistic, its pass condition (fixed from the paper's wording before any of our
numbers were seen; the docstring gives the reason) and the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.record import VERDICTS, Claim, verdict
from seelike.structure import off_diagonal_mean

CHAPTER = "10_estimators"


#
# Beyond the paper: do Chapter 4's verdicts survive smaller minibatches, and what would the
# biased HSIC_0 have done? Both conditions were fixed before any of Chapter 10's numbers were
# computed; the docstrings give the reasons.

PAPER_SMALLEST_BATCH = 128  # the paper: minibatches down to 128 had "no noticeable effect"


def estimators_verdicts_hold(by_batch: Mapping[int, Sequence[Claim]],
                             reference: Sequence[Claim], *,
                             down_to: int = PAPER_SMALLEST_BATCH) -> Claim:
    """Chapter 10: the unbiased estimator keeps Chapter 4's verdicts down to minibatches of 128.

    ``by_batch`` maps a minibatch size to :func:`chapter4_claims` on CKA matrices (HSIC_1)
    computed in minibatches of that size; ``reference`` is the same on the largest size (the
    full batch where the probe set is one minibatch). Statistic: the fraction of (claim,
    size >= ``down_to``) pairs whose verdict equals the reference's. Reproduced if 1: the
    paper says smaller minibatches had "no noticeable effect", and a changed verdict is a
    noticeable effect. Partly if every change is a single step (to or from "partly"): a
    statistic near one of its bars crossed it, but no claim turned from reproduced to not
    reproduced or back.
    """
    ref = {c.statistic: c.verdict for c in reference}
    pairs = [(c.verdict, ref[c.statistic]) for b, cs in by_batch.items() if b >= down_to
             for c in cs]
    if not pairs:
        raise ValueError(f"no minibatch size >= {down_to} among {sorted(by_batch)}")
    value = float(np.mean([got == want for got, want in pairs]))
    one_step = all(abs(VERDICTS.index(got) - VERDICTS.index(want)) <= 1 for got, want in pairs)
    return Claim(
        chapter=CHAPTER, figure="Figs 1, 2",
        statement=f"With the unbiased HSIC estimator, minibatches down to {down_to} examples "
                  "leave the representation-structure claims' verdicts unchanged.",
        statistic=f"fraction of Chapter 4 verdicts at minibatch sizes >= {down_to} equal to "
                  "the largest size's",
        value=value, threshold="== 1 (partly: every change is one step, to or from partly)",
        verdict=verdict(value == 1, one_step))


def estimators_biased_inflation(biased_small: np.ndarray, biased_ref: np.ndarray,
                                unbiased_small: np.ndarray, unbiased_ref: np.ndarray,
                                batch: int) -> Claim:
    """Chapter 10: the biased HSIC_0 inflates minibatch CKA at small minibatches; HSIC_1 less so.

    The four matrices are CKA over the same layers and examples (square; the diagonal is
    left out), in minibatches of ``batch`` (``*_small``) and of the largest size
    (``*_ref``). Statistic: the mean CKA over distinct layer pairs with HSIC_0 at ``batch``
    minus at the largest size. Reproduced if ``>= 0.1`` and larger than the absolute shift
    of HSIC_1 between the same sizes: a tenth of the [0, 1] colour scale is the smallest
    change that reads on a heatmap (Chapter 4's "clear stages" bar,
    ``CLEAR_STAGE_MARGIN``), and the comparison with HSIC_1 puts the inflation on the
    estimator rather than on the minibatching. Partly if positive and larger than HSIC_1's
    shift but below 0.1 (present, not visible).
    """
    value = off_diagonal_mean(biased_small) - off_diagonal_mean(biased_ref)
    unbiased_shift = abs(off_diagonal_mean(unbiased_small) - off_diagonal_mean(unbiased_ref))
    beats = bool(value > unbiased_shift)
    return Claim(
        chapter=CHAPTER, figure="beyond the paper",
        statement="The biased HSIC estimator inflates minibatch CKA at small minibatches, "
                  "which the unbiased one avoids.",
        statistic=f"mean CKA of distinct layer pairs, biased HSIC, minibatch {batch} minus "
                  "the largest",
        value=value,
        threshold=f">= {CLEAR_STAGE_MARGIN} and > the unbiased shift (partly: > the unbiased "
                  "shift)",
        verdict=verdict(bool(value >= CLEAR_STAGE_MARGIN) and beats, beats))
