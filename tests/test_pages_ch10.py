"""Chapter 10's page module and its figures, on the smoke preset's study with matrices whose
answers are known: what is averaged, where a verdict is marked as changed, what the text
says when Chapter 4 has not run, and that every figure fits the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from figure_checks import fits_page

from seelike.book import claims, plan
from seelike.book.figures import estimators as estimator_figures
from seelike.book.pages import ch10 as page
from seelike.book.presets import PRESETS

P = PRESETS["smoke"]


def _runs(seed: int = 0, same_sizes: bool = False) -> page.Runs:
    study = plan.estimator_study(P)
    n = sum(len(v) for v in study.layers.values())
    rng = np.random.default_rng(seed)

    def matrices() -> np.ndarray:
        x = rng.uniform(0.1, 0.9, (P.estimator_repeats, len(study.batches), n, n))
        if same_sizes:
            x[:] = x[:, :1]
        x = (x + np.swapaxes(x, -1, -2)) / 2
        x[..., np.arange(n), np.arange(n)] = 1.0
        return x

    return page.Runs(P, study, {"unbiased": matrices(), "biased": matrices()})


def test_the_mean_is_over_probe_sets_and_the_reference_is_the_largest_size() -> None:
    r = _runs()
    np.testing.assert_allclose(r.mean["biased"], r.per["biased"].mean(axis=0))
    assert r.largest == max(r.batches) and r.full_batch == (P.estimator_examples == r.largest)
    assert len(r.vit_layers) + len(r.resnet_layers) == r.mean["unbiased"].shape[-1]
    assert r.per_repeat["unbiased"].shape == (P.estimator_repeats, len(r.batches), len(page.POINT))


def test_verdicts_that_differ_from_the_largest_size_are_starred() -> None:
    r = _runs(same_sizes=True)
    table = r.verdict_rows([None] * len(page.POINT))
    sizes = [f"{b:,}" for b in r.batches]
    assert not table[sizes].map(lambda v: v.endswith(" *")).any().any()
    assert set(table["Chapter 4"]) == {"–"}
    numbers = r.comparison_numbers([None] * len(page.POINT))
    assert numbers["vs_ch4"].startswith("unknown")
    checked = sum(b >= r.down_to() for b in r.batches[:-1])
    assert numbers["flips_unbiased"] == f"0 of {checked * len(page.POINT) * P.estimator_repeats}"
    assert numbers["changed_biased"] == "none"


def test_chapter4_s_verdicts_are_compared_with_the_reference() -> None:
    r = _runs()
    reference = r.on_mean["unbiased"][r.largest]
    other = {"reproduced": "not reproduced"}
    ch4 = [(other.get(v, "reproduced"), 0.5) for v in reference]
    said = r.comparison_numbers(ch4)["vs_ch4"]
    assert said.count("in Chapter 4") == len(page.POINT)
    assert r.comparison_numbers([(v, 0.5) for v in reference])["vs_ch4"].startswith("none")
    table = r.verdict_rows(ch4)
    assert list(table[table.estimator == "unbiased HSIC"]["Chapter 4"]) == [v for v, _ in ch4]


def test_numbers_name_the_reference() -> None:
    n = _runs().numbers()
    assert n["batches"] == ", ".join(f"{b:,}" for b in plan.estimator_study(P).batches)
    full = P.estimator_examples == max(plan.estimator_study(P).batches)
    assert n["reference"] == ("full batch" if full else f"minibatch {n['largest']}")
    assert n["n_layers"] == n["n_vit"] + n["n_resnet"]


def test_inflation_is_smallest_minus_largest() -> None:
    r = _runs()
    stats = r.summary().groupby(["estimator", "part", "batch"]).cka.agg(["mean", "std"])
    table, numbers = r.inflation(stats["mean"].unstack("batch"))
    biased = table["biased HSIC"]
    assert biased[2] == pytest.approx(biased[0] - biased[1])
    assert numbers["shift_biased"] == f"{biased[2]:.3f}"
    mean = page.mean_table(stats)
    assert list(mean.columns[-len(r.batches):]) == [f"{b:,}" for b in r.batches]


def test_chapter4_rows_are_none_where_chapter_4_has_not_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    assert page.chapter4_rows("smoke") == [None] * len(page.POINT)


def test_error_bars_need_two_probe_sets() -> None:
    centre, yerr = estimator_figures.error_bars(np.array([[1.0, 2.0]]))
    assert yerr is None and list(centre) == [1.0, 2.0]
    centre, yerr = estimator_figures.error_bars(np.array([[0.0], [1.0], [2.0]]))
    assert centre[0] == 1.0 and yerr.shape == (2, 1) and (yerr >= 0).all()



def test_the_figures_fit_the_page() -> None:
    r = _runs()
    names = r.vit_layers + r.resnet_layers
    fits_page(estimator_figures.heatmaps(r.mean, r.batches, names, split=len(r.vit_layers),
                                         axis_label="vit | resnet", full_batch=True))
    summary = r.summary()
    stats = summary.groupby(["estimator", "part", "batch"]).cka.agg(["mean", "std"])
    reference = stats.loc["unbiased"].xs(r.largest, level="batch")["mean"]
    assert isinstance(reference, pd.Series)
    fits_page(estimator_figures.similarity_panels(r.part_values(summary), r.batches, {},
                                                  reference))
    fits_page(estimator_figures.statistic_panels(
        r.per_repeat, r.batches, page.NAMES, page.DECLARED,
        [page.Y_LABELS[k] for k in page.POINT]))
