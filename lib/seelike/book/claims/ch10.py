"""Chapter 10's claims: minibatch CKA estimators (paper Appendix A, and beyond the paper).

:data:`DECLARATIONS` holds the paper's sentence that minibatches down to 128 had "no
noticeable effect" (tested on Chapter 4's verdicts, paper Figs 1 and 2) and, beyond the
paper, that the biased HSIC_0 would have inflated minibatch CKA; both with their
statistics and bars, fixed before any of Chapter 10's numbers were computed. The
functions below compute the statistics from Chapter 4's verdicts and from CKA matrices,
and the ``judge_*`` functions judge them with an interval over the chapter's
independently drawn probe sets: like the paper, the chapter averages the CKA matrices of
its probe sets, and :func:`seelike.resample.bootstrap_means` resamples those probe sets to give the
statistic of the average its interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.record import Claim, Declaration, declared
from seelike.structure import off_diagonal_mean

CHAPTER = "10_estimators"

PAPER_SMALLEST_BATCH = 128  # the paper: minibatches down to 128 had "no noticeable effect"

DECLARATIONS = declared([
    Declaration(
        "verdicts_hold", "Figs 1, 2",
        "Experiments varying the exact batch size (down to 128), and total number of "
        "examples used for CKA ( down to 2560 total examples, repeated 10 times), had no "
        "noticeable effect on the results.",
        "Appendix A, \"Additional details on CKA implementation\"",
        "fraction of Chapter 4's verdicts (each statistic against its bars) at minibatch "
        "sizes from 128 up, unbiased HSIC, equal to those at the largest size", ">", 0.99,
        None,
        "a changed verdict is a noticeable effect, so every verdict must be kept (one change "
        "in fewer than 100 claim-size pairs falls below 0.99); no partly: a verdict that "
        "moves with the minibatch is the effect the paper rules out"),
    Declaration(
        "biased_inflation", "beyond the paper",
        "The biased HSIC estimator inflates minibatch CKA at small minibatches, which the "
        "unbiased one avoids.",
        "beyond the paper: it uses the unbiased estimator (Section 3) and never shows the "
        "biased one",
        "mean CKA of distinct layer pairs, smallest minibatch minus the largest, biased HSIC, "
        "less the absolute value of the same shift with unbiased HSIC", ">",
        CLEAR_STAGE_MARGIN, 0.0,
        "a tenth of the colour scale is the least change that reads on a heatmap (Chapter "
        "4's 'clear stages'); subtracting the unbiased shift puts it on the estimator, not "
        "on the minibatching; any inflation beyond that shift is partly",
        paper=False),
])


def verdicts_kept(by_batch: Mapping[int, Sequence[str]], reference: Sequence[str], *,
                  down_to: int = PAPER_SMALLEST_BATCH) -> float:
    """The fraction of (claim, minibatch size >= ``down_to``) verdicts equal to the reference.

    ``by_batch`` maps a minibatch size to Chapter 4's verdicts on CKA computed in
    minibatches of that size, in one order; ``reference`` is the same at the largest size
    (which ``by_batch`` need not hold).
    """
    pairs = [(got, want) for b, verdicts in by_batch.items() if b >= down_to
             for got, want in zip(verdicts, reference, strict=True)]
    if not pairs:
        raise ValueError(f"no minibatch size >= {down_to} among {sorted(by_batch)}")
    return float(np.mean([got == want for got, want in pairs]))


def shift(small: np.ndarray, reference: np.ndarray) -> float:
    """Mean CKA of distinct layer pairs at a small minibatch minus at the reference size.

    Both square (layers, layers) matrices of the same layers and examples; NaN entries
    (constant layers) are skipped.
    """
    return off_diagonal_mean(small) - off_diagonal_mean(reference)


def biased_inflation(biased: np.ndarray, unbiased: np.ndarray) -> float:
    """The biased estimator's shift between the smallest and the largest minibatch, less the
    unbiased one's absolute shift.

    ``biased`` and ``unbiased`` are ``(sizes, layers, layers)`` stacks, smallest size first,
    largest last. Positive: the biased estimator moves more than minibatching alone moves
    the unbiased one, and upwards.
    """
    return shift(biased[0], biased[-1]) - abs(shift(unbiased[0], unbiased[-1]))


def judge_verdicts_hold(by_batch: Mapping[int, Sequence[str]], reference: Sequence[str], *,
                        draws: Sequence[tuple[Mapping[int, Sequence[str]],
                                              Sequence[str]]] = (),
                        down_to: int = PAPER_SMALLEST_BATCH, varies: str = "") -> Claim:
    """Appendix A's "no noticeable effect", on Chapter 4's verdicts.

    ``by_batch`` and ``reference``: the verdicts on the probe sets' averaged matrices (as
    the paper averages its runs); ``draws``: the same pair on each resampling of the probe
    sets (:func:`seelike.resample.bootstrap_means`), for the interval.
    """
    value = verdicts_kept(by_batch, reference, down_to=down_to)
    per_draw = [verdicts_kept(b, r, down_to=down_to) for b, r in draws] or None
    decl = DECLARATIONS["verdicts_hold"]
    return decl.judge(CHAPTER, value, per_draw, varies=varies,
                      statistic=decl.statistic.replace("from 128", f"from {down_to}"))


def judge_biased_inflation(biased: np.ndarray, unbiased: np.ndarray, batches: Sequence[int],
                           *, draws: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                           varies: str = "") -> Claim:
    """The biased estimator's inflation (beyond the paper).

    ``biased`` and ``unbiased``: ``(sizes, layers, layers)`` CKA averaged over the probe
    sets, one entry per size of ``batches`` (ascending); ``draws``: the same pair on each
    resampling of the probe sets (:func:`seelike.resample.bootstrap_means`), for the interval.
    """
    value = biased_inflation(biased, unbiased)
    per_draw = [biased_inflation(b, u) for b, u in draws] or None
    decl = DECLARATIONS["biased_inflation"]
    return decl.judge(CHAPTER, value, per_draw, varies=varies,
                      statistic=decl.statistic.replace(
                          "smallest minibatch minus the largest",
                          f"minibatch {batches[0]:,} minus {batches[-1]:,}"))
