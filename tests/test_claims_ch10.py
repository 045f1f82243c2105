"""Tests for Chapter 10's claims (minibatch CKA estimators) on hand-built inputs with known
answers."""

from __future__ import annotations

import numpy as np
import pytest

from seelike import resample
from seelike.book.claims import ch10

REFERENCE = ["reproduced", "partly", "not reproduced"]


def test_verdicts_kept_counts_sizes_from_the_bar_up() -> None:
    by_batch = {128: REFERENCE, 256: REFERENCE,
                32: ["not reproduced", "reproduced", "reproduced"]}  # below the bar
    assert ch10.verdicts_kept(by_batch, REFERENCE, down_to=128) == 1.0
    assert ch10.verdicts_kept(by_batch, REFERENCE, down_to=32) == pytest.approx(6 / 9)
    one_change = {128: ["partly", "partly", "not reproduced"], 256: REFERENCE}
    assert ch10.verdicts_kept(one_change, REFERENCE) == pytest.approx(5 / 6)


def test_verdicts_kept_needs_a_size_at_or_above_the_bar_and_matching_claims() -> None:
    with pytest.raises(ValueError, match="no minibatch size >= 128"):
        ch10.verdicts_kept({32: REFERENCE, 64: REFERENCE}, REFERENCE)
    with pytest.raises(ValueError):
        ch10.verdicts_kept({128: REFERENCE[:2]}, REFERENCE)


CHANGED = {128: ["partly", "partly", "not reproduced"], 256: ["partly", "partly",
                                                               "not reproduced"]}


def test_verdicts_hold_verdicts_from_the_interval_over_resamplings() -> None:
    same = ({128: REFERENCE, 256: REFERENCE}, REFERENCE)
    changed = ({128: ["partly", "partly", "not reproduced"], 256: REFERENCE}, REFERENCE)
    control = (CHANGED, REFERENCE)  # the biased estimator moves a verdict at every size
    c = ch10.judge_batch_sizes(*same, *control, draws=[same] * 20, varies="20 resamplings")
    assert (c.chapter, c.key, c.value, c.verdict) == (ch10.CHAPTER, "verdicts_hold", 1.0,
                                                      "reproduced")
    assert c.control_value == pytest.approx(2 / 3)
    assert c.paper and c.varies == "20 resamplings" and "from 128 up" in c.statistic
    # Kept on the average, changed on some resamplings of the probe sets: inconclusive.
    c = ch10.judge_batch_sizes(*same, *control, draws=[same] * 10 + [changed] * 10)
    assert (c.low, c.verdict) == (pytest.approx(5 / 6), "inconclusive")
    c = ch10.judge_batch_sizes(*changed, *control, draws=[changed] * 20)
    assert c.verdict == "not reproduced"
    # The statistic names the preset's own bar where its sizes stop below 128.
    c = ch10.judge_batch_sizes({16: REFERENCE}, REFERENCE, {16: REFERENCE}, REFERENCE,
                               down_to=16)
    assert "from 16 up" in c.statistic
    # A control that keeps every verdict too: the statistic cannot beat it, cannot decide.
    assert c.verdict == "inconclusive"


def test_examples_clause_compares_each_probe_set_with_their_average() -> None:
    c = ch10.judge_examples([REFERENCE] * 4, REFERENCE, [CHANGED[128]] * 4,
                            references=[REFERENCE] * 20, varies="20 resamplings")
    assert (c.key, c.value, c.verdict) == ("verdicts_hold_examples", 1.0, "reproduced")
    assert c.control_value == pytest.approx(2 / 3)
    one_flips = [REFERENCE, REFERENCE, REFERENCE, CHANGED[128]]
    assert ch10.judge_examples(one_flips, REFERENCE, [CHANGED[128]] * 4).verdict == \
        "not reproduced"
    with pytest.raises(ValueError, match="no probe set"):
        ch10.judge_examples([], REFERENCE, [])


def _uniform(off: float, n: int = 4) -> np.ndarray:
    """A CKA matrix with 1 on the diagonal and ``off`` everywhere else."""
    return np.where(np.eye(n, dtype=bool), 1.0, off)


def _sizes(*offs: float) -> np.ndarray:
    """``(sizes, layers, layers)``: one uniform matrix per minibatch size, smallest first."""
    return np.stack([_uniform(o) for o in offs])


@pytest.mark.parametrize(("biased", "unbiased", "value", "expected"), [
    ((0.8, 0.5), (0.51, 0.5), 0.29, "reproduced"),             # visible, unbiased unmoved
    ((0.56, 0.5), (0.5, 0.5), 0.06, "partly"),                 # beats the unbiased shift only
    ((0.8, 0.5), (0.1, 0.5), -0.1, "not reproduced"),          # the unbiased one moves more
    ((0.4, 0.5), (0.5, 0.5), -0.1, "not reproduced"),          # no inflation at all
])  # the value: the biased shift minus its control, the unbiased shift's size
def test_biased_inflation_is_the_biased_shift_less_the_unbiased_one(
        biased: tuple[float, ...], unbiased: tuple[float, ...], value: float,
        expected: str) -> None:
    c = ch10.judge_biased_inflation(_sizes(*biased), _sizes(*unbiased), [32, 1024])
    assert c.value == pytest.approx(value)
    assert c.verdict == expected
    assert c.key == "biased_inflation" and not c.paper
    assert "minibatch 32 minus 1,024" in c.statistic


def test_biased_inflation_is_inconclusive_when_resamplings_straddle_the_bar() -> None:
    visible = (_sizes(0.8, 0.5), _sizes(0.5, 0.5))
    faint = (_sizes(0.55, 0.5), _sizes(0.5, 0.5))
    c = ch10.judge_biased_inflation(*visible, [8, 32], draws=[visible] * 10 + [faint] * 10)
    assert c.value == pytest.approx(0.3)
    assert (c.low, c.verdict) == (pytest.approx(0.05), "inconclusive")


def test_shift_skips_nan_layers_and_rejects_non_square_input() -> None:
    small = _uniform(0.9)
    small[0, 1] = small[1, 0] = np.nan
    assert ch10.shift(small, _uniform(0.5)) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="square"):
        ch10.shift(np.ones((2, 3)), _uniform(0.5))


def test_resampled_means_average_probe_sets_drawn_with_replacement() -> None:
    per_repeat = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    draws = resample.bootstrap_means(per_repeat, 50)
    assert draws is not None and draws.shape == (50, 2)
    # Every draw is a mean of three of the rows: between the smallest and the largest row,
    # on the lattice of thirds, and the rows' own extremes occur.
    assert np.all((draws[:, 0] >= 0) & (draws[:, 0] <= 4))
    np.testing.assert_allclose(draws[:, 1] - draws[:, 0], 1.0)
    np.testing.assert_allclose(draws[:, 0] * 3 / 2, np.round(draws[:, 0] * 3 / 2))
    assert len(np.unique(draws[:, 0])) > 3
    np.testing.assert_array_equal(draws, resample.bootstrap_means(per_repeat, 50))  # fixed seed
    assert resample.bootstrap_means(per_repeat[:1], 50) is None


def test_declarations_quote_appendix_a() -> None:
    d = ch10.DECLARATIONS
    assert "had no noticeable effect on the results" in d["verdicts_hold"].quote
    assert d["verdicts_hold"].sentence == d["verdicts_hold_examples"].sentence
    assert d["verdicts_hold"].where.startswith("Appendix A")
    assert d["verdicts_hold"].paper and not d["biased_inflation"].paper
