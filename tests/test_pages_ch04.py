"""Chapter 4's page module and its figures on matrices whose answers are known: the mean
over probe sets, the spread between them, verdicts that flip between probe sets, the
appendix's side-by-side layers, and every figure at page width."""

from __future__ import annotations

import numpy as np
from figure_checks import fits_page

from seelike.book.figures import structure as figures
from seelike.book.pages import ch04 as page
from seelike.book.presets import PRESETS
from seelike.layers import layer_names

P = PRESETS["smoke"].with_overrides(cka_repeats=2)  # two probe sets: a spread to measure


def _structure(runs: int = 2) -> page.Structure:
    resnets = [P.resnet]
    names = [P.vit, *resnets]
    sizes = {n: len(layer_names(n, "paper")) for n in names}
    rng = np.random.default_rng(0)
    pairs = [(n, n) for n in names] + [(P.vit, c) for c in resnets]
    matrices = [{(a, b): rng.uniform(0, 1, (sizes[a], sizes[b])) for a, b in pairs}
                for _ in range(runs)]
    first = {pair: {"cka": m, "boot": np.stack([m, m])} for pair, m in matrices[0].items()}
    return page.Structure(P, resnets, first, matrices)


def test_the_mean_is_over_probe_sets_and_the_spread_is_the_largest_difference() -> None:
    s = _structure()
    pair = (P.vit, P.resnet)
    np.testing.assert_allclose(s.mean[pair], (s.runs[0][pair] + s.runs[1][pair]) / 2)
    spread = max(np.abs(s.runs[0][k] - s.runs[1][k]).max() for k in s.first)
    assert s.numbers(64)["spread"] == f"{spread:.3f}"
    assert s.numbers(64)["n_matrices"] == len(s.first) * P.cka_repeats


def test_a_verdict_that_differs_between_probe_sets_is_listed() -> None:
    same = _structure(runs=1)
    same = page.Structure(P, same.resnets, same.first, same.runs * 2)
    table, flips = same.agreement()
    assert flips == [] and list(table.columns[:4]) == ["claim", "on the mean", "repeat 0",
                                                       "repeat 1"]
    _, flips = _structure(runs=2).agreement()
    assert set(flips) <= set(table.claim)


def test_the_last_third_and_kinds_are_read_off_the_mean() -> None:
    s = _structure()
    numbers = s.last_third_numbers()
    assert float(numbers["last_max"]) <= 1.0
    means, words = s.by_kind()
    assert words["darkest_kind"] == means.index[0] and means.is_monotonic_increasing


def test_the_appendix_lists_every_layer_of_every_model() -> None:
    s = _structure()
    table = page.appendix(s)
    assert list(table.columns) == ["layer", *s.names]
    assert len(table) == max(len(v) for v in s.layers.values())
    assert table[P.vit].iloc[0] == s.layers[P.vit][0]



def test_the_figures_fit_the_page() -> None:
    s = _structure()
    v, c = P.vit, P.resnet
    fits_page(figures.heatmaps([(s.mean[(v, v)], v, v, "t"), (s.mean[(v, c)], v, c, "t")],
                               s.layers, s.blocks))
    fits_page(figures.best_match({c: s.mean[(v, c)]}))
    fits_page(figures.seed_heatmaps({v: s.mean[(v, v)], c: s.mean[(c, c)]}, s.layers,
                                    s.blocks))
    fits_page(figures.note("this preset's models have no second training seed"))
