"""Tests for Chapter 10's claims (minibatch CKA estimators) on hand-built inputs with known
answers."""

from __future__ import annotations

import numpy as np
import pytest

from seelike.book.claims import Claim, ch04, ch10


def _claims(*verdicts: str) -> list[Claim]:
    """Chapter-4-like claims with the given verdicts, told apart by their statistic."""
    return [Claim(ch04.CHAPTER, "Fig 1", "s", f"statistic {i}", 0.0, "> 0", v)
            for i, v in enumerate(verdicts)]


REFERENCE = _claims("reproduced", "partly", "not reproduced")


def test_verdicts_hold_when_every_size_down_to_the_bar_agrees() -> None:
    by_batch = {128: REFERENCE, 256: REFERENCE,
                32: _claims("not reproduced", "reproduced", "reproduced")}  # below the bar
    c = ch10.estimators_verdicts_hold(by_batch, REFERENCE, down_to=128)
    assert (c.chapter, c.value, c.verdict) == (ch10.CHAPTER, 1.0, "reproduced")
    assert "128" in c.statement


def test_one_step_changes_are_partly_and_a_reversal_is_not_reproduced() -> None:
    one_step = {128: _claims("partly", "partly", "not reproduced"), 256: REFERENCE}
    c = ch10.estimators_verdicts_hold(one_step, REFERENCE)
    assert c.value == pytest.approx(5 / 6) and c.verdict == "partly"
    reversal = {128: _claims("not reproduced", "partly", "not reproduced")}
    c = ch10.estimators_verdicts_hold(reversal, REFERENCE)
    assert c.value == pytest.approx(2 / 3) and c.verdict == "not reproduced"


def test_verdicts_hold_needs_a_size_at_or_above_the_bar() -> None:
    with pytest.raises(ValueError, match="no minibatch size >= 128"):
        ch10.estimators_verdicts_hold({32: REFERENCE, 64: REFERENCE}, REFERENCE)


def _uniform(off: float, n: int = 4) -> np.ndarray:
    """A CKA matrix with 1 on the diagonal and ``off`` everywhere else."""
    return np.where(np.eye(n, dtype=bool), 1.0, off)


@pytest.mark.parametrize(("biased_small", "unbiased_small", "value", "expected"), [
    (0.8, 0.51, 0.3, "reproduced"),       # visible inflation, unbiased nearly unmoved
    (0.56, 0.5, 0.06, "partly"),          # inflation beats the unbiased shift, not visible
    (0.8, 0.1, 0.3, "not reproduced"),    # the unbiased estimator moves more (by 0.4)
    (0.4, 0.5, -0.1, "not reproduced"),   # no inflation at all
])
def test_biased_inflation_is_measured_off_the_diagonal_against_the_unbiased_shift(
        biased_small: float, unbiased_small: float, value: float, expected: str) -> None:
    c = ch10.estimators_biased_inflation(_uniform(biased_small), _uniform(0.5),
                                           _uniform(unbiased_small), _uniform(0.5), batch=32)
    assert c.value == pytest.approx(value)
    assert c.verdict == expected
    assert c.chapter == ch10.CHAPTER and "32" in c.statistic


def test_biased_inflation_skips_nan_layers_and_rejects_non_square_input() -> None:
    small = _uniform(0.9)
    small[0, 1] = small[1, 0] = np.nan
    c = ch10.estimators_biased_inflation(small, _uniform(0.5), _uniform(0.5), _uniform(0.5),
                                           batch=8)
    assert c.value == pytest.approx(0.4)
    with pytest.raises(ValueError, match="square"):
        ch10.estimators_biased_inflation(np.ones((2, 3)), _uniform(0.5), _uniform(0.5),
                                           _uniform(0.5), batch=8)
