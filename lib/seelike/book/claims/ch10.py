"""Chapter 10's claims: minibatch CKA estimators (paper Appendix A, and beyond the paper).

:data:`DECLARATIONS` holds the paper's sentence that smaller minibatches (down to 128)
and fewer examples had "no noticeable effect", each clause tested on Chapter 4's verdicts
(paper Figs 1 and 2), and, beyond the paper, that the biased HSIC_0 would have inflated
minibatch CKA. The control of the paper's clauses is the biased estimator, which the
chapter finds minibatching does move. The ``judge_*`` functions judge them with an
interval over the chapter's independently drawn probe sets: like the paper, the chapter
averages the CKA matrices of its probe sets, and :func:`seelike.resample.bootstrap_means`
resamples those probe sets to give the statistic of the average its interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.declare import Declaration, declared
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured
from seelike.structure import off_diagonal_mean

__all__ = ["CHAPTER", "DECLARATIONS", "PAPER_SMALLEST_BATCH", "judge_batch_sizes",
           "judge_biased_inflation", "judge_examples", "sets_kept", "shift", "verdicts_kept"]

CHAPTER = "10_estimators"

PAPER_SMALLEST_BATCH = 128  # the paper: minibatches down to 128 had "no noticeable effect"

_APPA = ("Experiments varying the exact batch size (down to 128), and total number of "
         "examples used for CKA ( down to 2560 total examples, repeated 10 times), had no "
         "noticeable effect on the results.")
_KEPT = ("a changed verdict is a noticeable effect, so every verdict must be kept (one "
         "change in fewer than 100 claim-size pairs falls below 0.99); no partly: a verdict "
         "that moves is the effect the paper rules out")
_BIASED = ("the same fraction with the biased HSIC estimator, which this chapter finds "
           "inflates minibatch CKA")

DECLARATIONS = declared([
    Declaration(
        "verdicts_hold", "Figs 1, 2", _APPA,
        "Appendix A, \"Additional details on CKA implementation\"",
        "fraction of Chapter 4's verdicts (each statistic against its bars) at minibatch "
        "sizes from 128 up, unbiased HSIC, equal to those at the largest size", ">", 0.99,
        None, _KEPT, _BIASED,
        clause="Experiments varying the exact batch size (down to 128)"),
    Declaration(
        "verdicts_hold_examples", "Figs 1, 2", _APPA,
        "Appendix A, \"Additional details on CKA implementation\"",
        "fraction of Chapter 4's verdicts on one probe set alone (a fraction of the "
        "examples) equal to those on the average over all probe sets, unbiased HSIC, "
        "largest minibatch", ">", 0.99, None, _KEPT,
        "the same fraction for the biased estimator at the smallest minibatch, each probe "
        "set against the unbiased reference: a measurement this chapter finds inflated",
        clause="total number of examples used for CKA ( down to 2560 total examples, "
               "repeated 10 times)"),
    Declaration(
        "biased_inflation", "beyond the paper",
        "The biased HSIC estimator inflates minibatch CKA at small minibatches, which the "
        "unbiased one avoids.",
        "beyond the paper: it uses the unbiased estimator (Section 3) and never shows the "
        "biased one",
        "mean CKA of distinct layer pairs, smallest minibatch minus the largest, biased HSIC",
        ">", CLEAR_STAGE_MARGIN, 0.0,
        "a tenth of the colour scale is the least change that reads on a heatmap (Chapter "
        "4's 'clear stages'); net of the unbiased shift it is the estimator's, not the "
        "minibatching's; any inflation beyond that shift is partly",
        "the absolute value of the same shift with unbiased HSIC", net="difference",
        paper=False),
])

Verdicts = Sequence[str]


def verdicts_kept(by_batch: Mapping[int, Verdicts], reference: Verdicts, *,
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


def sets_kept(per_set: Sequence[Verdicts], reference: Verdicts) -> float:
    """The fraction of (claim, probe set) verdicts on single probe sets equal to the
    reference (the verdicts on their average)."""
    pairs = [(got, want) for verdicts in per_set
             for got, want in zip(verdicts, reference, strict=True)]
    if not pairs:
        raise ValueError("no probe set to compare")
    return float(np.mean([got == want for got, want in pairs]))


def shift(small: np.ndarray, reference: np.ndarray) -> float:
    """Mean CKA of distinct layer pairs at a small minibatch minus at the reference size.

    Both square (layers, layers) matrices of the same layers and examples; NaN entries
    (constant layers) are skipped.
    """
    return off_diagonal_mean(small) - off_diagonal_mean(reference)


def _measured(value: float, draws: Sequence[float]) -> Measured:
    return Measured(value, tuple(draws) or None)


def judge_batch_sizes(by_batch: Mapping[int, Verdicts], reference: Verdicts,
                      biased_by_batch: Mapping[int, Verdicts], biased_reference: Verdicts, *,
                      draws: Sequence[tuple[Mapping[int, Verdicts], Verdicts]] = (),
                      biased_draws: Sequence[tuple[Mapping[int, Verdicts], Verdicts]] = (),
                      down_to: int = PAPER_SMALLEST_BATCH, varies: str = "") -> Claim:
    """Appendix A's minibatch clause, on Chapter 4's verdicts.

    ``by_batch`` and ``reference``: the unbiased estimator's verdicts on the probe sets'
    averaged matrices (as the paper averages its runs), ``biased_*`` the biased one's (the
    control); ``draws``: the same pairs on each resampling of the probe sets
    (:func:`seelike.resample.bootstrap_means`), for the interval.
    """
    def kept(b: Mapping[int, Verdicts], r: Verdicts) -> float:
        return verdicts_kept(b, r, down_to=down_to)

    decl = DECLARATIONS["verdicts_hold"]
    return decl.judge(
        CHAPTER, _measured(kept(by_batch, reference), [kept(b, r) for b, r in draws]),
        control=_measured(kept(biased_by_batch, biased_reference),
                          [kept(b, r) for b, r in biased_draws]),
        varies=varies, statistic=decl.statistic.replace("from 128", f"from {down_to}"))


def judge_examples(per_set: Sequence[Verdicts], reference: Verdicts,
                   control_per_set: Sequence[Verdicts], *,
                   references: Sequence[Verdicts] = (), varies: str = "") -> Claim:
    """Appendix A's examples clause: Chapter 4's verdicts on each probe set alone against
    those on their average (``reference``; ``references`` on each resampling of the probe
    sets), the unbiased estimator at the largest minibatch. The control: the biased
    estimator's verdicts at the smallest minibatch on each probe set (``control_per_set``)
    against the same reference."""
    return DECLARATIONS["verdicts_hold_examples"].judge(
        CHAPTER, _measured(sets_kept(per_set, reference),
                           [sets_kept(per_set, r) for r in references]),
        control=_measured(sets_kept(control_per_set, reference),
                          [sets_kept(control_per_set, r) for r in references]),
        varies=varies)


def judge_biased_inflation(biased: np.ndarray, unbiased: np.ndarray, batches: Sequence[int],
                           *, draws: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                           varies: str = "") -> Claim:
    """The biased estimator's inflation (beyond the paper).

    ``biased`` and ``unbiased``: ``(sizes, layers, layers)`` CKA averaged over the probe
    sets, one entry per size of ``batches`` (ascending); ``draws``: the same pair on each
    resampling of the probe sets, for the interval.
    """
    def biased_shift(b: np.ndarray) -> float:
        return shift(b[0], b[-1])

    def unbiased_shift(u: np.ndarray) -> float:
        return abs(shift(u[0], u[-1]))

    decl = DECLARATIONS["biased_inflation"]
    return decl.judge(
        CHAPTER, _measured(biased_shift(biased), [biased_shift(b) for b, _ in draws]),
        control=_measured(unbiased_shift(unbiased), [unbiased_shift(u) for _, u in draws]),
        varies=varies, statistic=decl.statistic.replace(
            "smallest minibatch minus the largest", f"minibatch {batches[0]:,} minus "
                                                    f"{batches[-1]:,}"))
