"""Chapter 9's page module and its figures on matrices whose answers are known: a Mixer
split into two blocks at a known layer, best matches that favour one model, the readings
table's verdict from the value alone, and every figure at page width."""

from __future__ import annotations

import numpy as np
from figure_checks import fits_page

from seelike.book import roles
from seelike.book.claims.verdict import VERDICTS
from seelike.book.figures import mixer as figures
from seelike.book.pages import ch09 as page
from seelike.book.presets import PRESETS
from seelike.layers import layer_names

P = PRESETS["smoke"]


def _comparison(cut: int = 10, vit_level: float = 0.8) -> page.MixerComparison:
    n = {m: len(layer_names(m)) for m in (P.mixer, P.vit, P.resnet)}
    side = np.arange(n[P.mixer]) >= cut
    within = np.where(side[:, None] == side[None, :], 0.9, 0.1)
    rng = np.random.default_rng(0)
    vit = rng.uniform(0, vit_level, (n[P.mixer], n[P.vit]))
    res = rng.uniform(0, 1 - vit_level, (n[P.mixer], n[P.resnet]))

    def boot(m: np.ndarray) -> np.ndarray:
        return np.stack([m, m * 0.95, m * 1.02])

    got = {None: {"cka": within, "boot": boot(within)}, P.vit: {"cka": vit, "boot": boot(vit)},
           P.resnet: {"cka": res, "boot": boot(res)}}
    # The other seeds and CNNs the preset compares, as the plan's requests return them.
    for v, r in roles.seed_pairs(P):
        got |= {v: got[P.vit], r: got[P.resnet]}
    for cnn in roles.resnets(P)[1:]:
        n_cnn = len(layer_names(cnn))
        got[cnn] = {"cka": np.full((n[P.mixer], n_cnn), 0.2),
                    "boot": np.full((3, n[P.mixer], n_cnn), 0.2)}
    return page.MixerComparison(P, got)


def test_the_split_is_found_where_the_blocks_meet() -> None:
    n = _comparison(cut=10).split_numbers()
    assert n["cut"] == 10 and n["cut_range"] == "10 on every one"
    assert n["order"].startswith("the smaller" if len(layer_names(P.mixer)) / 2 > 10
                                 else "the larger")


def test_best_matches_favour_the_model_built_to_match() -> None:
    m = _comparison(vit_level=0.9)
    best, draws = m.best()
    assert (best[P.vit] > best[P.resnet]).all()
    assert draws[P.vit].shape == (3, len(layer_names(P.mixer)))
    n = m.best_numbers()
    assert n["vit_wins"] == "100%" and n["top"].startswith("the top Mixer layer")


def test_the_readings_table_reads_each_claim() -> None:
    m = _comparison(vit_level=0.9)
    readings = m.readings()
    assert next(iter(readings)).startswith("declared")
    table, alone = page.reading_table(readings)
    assert list(table.reading) == list(readings) == list(alone)
    assert set(alone.values()) <= set(VERDICTS)
    assert alone[next(iter(readings))] == "reproduced"  # the ViT built to match better



def test_the_figures_fit_the_page() -> None:
    m = _comparison()
    fits_page(figures.within_heatmap(m.matrix("within"), m.layers[P.mixer],
                                     m.blocks[P.mixer], 10, P.mixer))
    fits_page(figures.cross_heatmaps({P.vit: m.matrix("vit"), P.resnet: m.matrix("resnet")},
                                     P.mixer, m.layers, m.blocks))
    fits_page(figures.best_match(*m.best()))
