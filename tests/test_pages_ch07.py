"""Chapter 7's page module and its figures on token-to-patch matrices and probe accuracies
whose answers are known: a perfectly localized layer, the ResNet's stage below its last,
the numbers the text quotes, and every figure at page width."""

from __future__ import annotations

import numpy as np
import pytest
from figure_checks import fits_page

from seelike.book.figures import localization as figures
from seelike.book.pages import ch07 as page
from seelike.book.presets import PRESETS

P = PRESETS["smoke"]
NAMES = [P.vit, P.vit_gap, P.resnet]


def _result(grids: list[tuple[int, int]], boot: int = 4, localized: bool = True) -> dict:
    """A token-to-patch result as the analysis stores it: each layer's (tokens, patches)
    matrix flattened and padded to the largest grid, per layer and per bootstrap draw."""
    n = max(h * w for h, w in grids)
    rng = np.random.default_rng(0)
    mats = []
    for h, w in grids:
        m = np.eye(h * w) * 0.5 + 0.1 if localized else rng.uniform(0, 0.5, (h * w, h * w))
        padded = np.full((n, n), np.nan)
        padded[:h * w, :h * w] = m
        mats.append(padded)
    cka = np.stack(mats)
    return {"grid": np.array(grids), "cka": cka, "boot": np.stack([cka] * boot)}


def _token_cka() -> page.TokenCKA:
    grids = {P.vit: [(4, 4)] * 3, P.vit_gap: [(4, 4)] * 3, P.resnet: [(8, 8), (4, 4), (4, 4)]}
    return page.TokenCKA({n: _result(g) for n, g in grids.items()},
                         {P.vit: ["net.blocks.0", "net.blocks.1", "net.blocks.2"],
                          P.vit_gap: ["net.blocks.0", "net.blocks.1", "net.blocks.2"],
                          P.resnet: ["net.layer2.0", "net.layer3.0", "net.layer3.1"]})


def test_the_middle_unit_is_the_last_of_the_stage_below_the_last() -> None:
    assert _token_cka().middle(P.resnet) == 0


def test_a_localized_layer_has_top1_one_and_a_positive_contrast(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cka = _token_cka()
    monkeypatch.setattr(page, "layer_names", lambda name, kind: cka.layers_of[name])
    summary = cka.summary(NAMES, page.looks(P))
    assert len(summary) == 9 and (summary.top1 == 1.0).all()
    assert (summary.contrast > 0).all() and (summary.contrast_low <= summary.contrast).all()
    numbers = cka.final_numbers({P.vit: "cls"})
    assert numbers["cls_top1"] == "1.00"


def _accuracies(blocks: int = 3, tokens: int = 16, level: float = 0.5) -> dict:
    return {"token_mean": np.linspace(0.2, level, blocks), "cls": np.full(blocks, 0.3),
            "gap": np.full(blocks, 0.4), "gap_all": np.full(blocks, 0.45),
            "token": np.full((blocks, tokens), level), "token_grid": np.array([(4, 4)] * blocks),
            "layers": np.array([f"net.blocks.{i}" for i in range(blocks)])}


def _probes() -> page.Probes:
    few = {n: [_accuracies(level=0.5), _accuracies(level=0.7)] for n in NAMES}
    full = {n: [_accuracies(level=0.9)] for n in NAMES}
    return page.Probes(10, 50, few, full)


def test_probe_numbers_are_means_over_draws() -> None:
    n = _probes().numbers(P, {P.vit: "cls"})
    assert n["cls_token_last"] == "0.60" and n["full_cls"] == "0.90"
    assert n["cls_token_best"] == "0.60" and n["cls_token_peak_depth"] == "0.83"
    assert n["gap_first_last"] == "0.60" and (n["shots"], n["full_shots"]) == (10, 50)



def test_the_figures_fit_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    cka, looks, acc = _token_cka(), page.looks(P), _probes()
    monkeypatch.setattr(page, "layer_names", lambda name, kind: cka.layers_of[name])
    fits_page(figures.token_grids(cka.by_model, [(n, -1) for n in NAMES], cka.layers_of,
                                  looks))
    summary = cka.summary(NAMES, looks)
    fits_page(figures.summary_panels(summary, NAMES, looks))
    fits_page(figures.contrast_panel(summary, NAMES, looks))
    fits_page(figures.probe_panels(acc.few, NAMES, looks, vit=P.vit, vit_gap=P.vit_gap,
                                   shots=10, n_test=100))
    fits_page(figures.position_probes(acc.few, NAMES, looks, 10))
