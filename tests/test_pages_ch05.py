"""Chapter 5's page module and the figures it draws, on small arrays whose answers are known;
and the chapter helpers every page uses (``glue_values``, ``Setup.report``).

The page's numbers are what the text quotes, so each is checked against a hand computation;
the figures must fit the page (:func:`seelike.book.plots.show`'s checks) on shapes the
presets produce (a ResNet stem with no pre-residual map, one less-data model or none).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from figure_checks import fits_page

from seelike import receptive_field as rf
from seelike import resample, zoo
from seelike.book import chapter, claims, roles
from seelike.book.claims import ch05
from seelike.book.figures import attention as attention_figures
from seelike.book.figures import receptive_field as erf_figures
from seelike.book.pages import ch05 as page


@pytest.fixture
def glued(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    found: dict[str, object] = {}
    monkeypatch.setattr("myst_nb.glue", lambda key, value, display=True: found.update(
        {key: (value, display)}))
    return found



def test_glue_values_prefixes_each_name_and_shows_nothing(glued: dict[str, object]) -> None:
    chapter.glue_values("ch5", {"U": "12.3", "n": 4})
    assert glued == {"ch5_U": ("12.3", False), "ch5_n": (4, False)}


def test_report_writes_glues_the_counts_and_returns_the_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, glued: dict[str, object]) -> None:
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    decl = claims.Declaration("k", "Fig 3", "a statement", "Section 4", "a statistic", ">",
                              0.0, None, "why", "a control")
    other = claims.Declaration("k2", "Fig 3", "another statement", "Section 4", "a statistic",
                               ">", 0.0, None, "why", "a control")
    found = [decl.judge(ch05.CHAPTER, claims.Measured(0.5)),
             other.judge(ch05.CHAPTER, claims.Measured(-0.5))]
    table = chapter.setup(ch05.CHAPTER, "cifar").report(found, "ch5")
    assert (tmp_path / "cifar" / f"{ch05.CHAPTER}.csv").exists()
    assert glued["ch5_n_sentences"][0] == 2 and glued["ch5_n_reproduced"][0] == 1
    assert glued["ch5_in_short"][0] == claims.in_short(found)
    assert glued["ch5_k_verdict"][0] == "reproduced"
    assert "a statement" in table.to_html()


def test_geometry_numbers_are_the_grid_and_uniform_distance() -> None:
    g = page.Geometry(grid=(4, 4), patch=8, prefix=1, image_px=32)
    n = g.numbers()
    assert (n["grid"], n["patch"], n["image"], g.patches) == ("4 × 4", 8, 32, 16)
    assert n["U"] == f"{g.uniform:.1f}" and n["U_rel"] == f"{g.uniform / 32:.2f}"


def _distances(n_images: int = 6, blocks: int = 4, heads: int = 3) -> page.Distances:
    rng = np.random.default_rng(0)
    per = {n: rng.uniform(1, 20, (n_images, blocks, heads))
           for n in ("vit_cifar", "vit_cifar@seed1")}
    by_model = {n: {"drop": x.mean(0), "drop_per_example": x,
                    "renormalise": x.mean(0) + 1, "renormalise_per_example": x + 1}
                for n, x in per.items()}
    return page.Distances(by_model, resample.multinomial_weights(n_images, 50), 16.0)


def test_distances_draws_are_the_weighted_means_of_each_image() -> None:
    d = _distances()
    w = d.weights[7]
    x = d.by_model["vit_cifar"]["drop_per_example"]
    np.testing.assert_allclose(d.draws("vit_cifar")[7], np.tensordot(w, x, axes=1) / w.sum())
    np.testing.assert_allclose(d.draws("vit_cifar", "renormalise") - d.draws("vit_cifar"), 1.0)


def test_distance_numbers_quote_the_lowest_and_highest_blocks() -> None:
    d = _distances()
    dist = d.of("vit_cifar")
    n = d.numbers("vit_cifar", ["vit_cifar@seed1"])
    assert n["low_min"] == f"{dist[:2].min():.1f}" and n["high_max"] == f"{dist[-2:].max():.1f}"
    assert n["n_local_all"] == int((dist < 8.0).sum())
    assert n["renorm_maxdiff"] == "1.00"
    assert n["seed_min_rel"] == f"{d.of('vit_cifar@seed1').min() / 16:.2f}"
    assert d.numbers("vit_cifar", [])["seed_min_rel"] == "none"


def test_subset_distances_average_the_pooled_heads_block_major() -> None:
    dist = np.arange(12.0).reshape(4, 3)
    request = SimpleNamespace(blocks=(0, 1), subsets=((0, 1), (4, 5)))
    np.testing.assert_allclose(page.subset_distances(dist, request), [0.5, 4.5])


def test_fig4_reading_says_why_a_claim_is_not_tested() -> None:
    dist = np.full((4, 3), 10.0)
    assert "no ViT trained on less data" in page.fig4_reading(None, dist, 16.0)
    assert "0 / 0" in page.fig4_reading("vit_data30", dist, 16.0)
    dist[0, 0] = 1.0
    assert "interval" in page.fig4_reading("vit_data30", dist, 16.0)


def _erf(vit_blocks: int = 12, resnet_blocks: tuple[str, ...] = (
        "net.layer1.0", "net.layer1.1", "net.layer2.0", "net.layer3.0")) -> page.ReceptiveFields:
    return page.ReceptiveFields(
        vit=None, resnet=None, vit_blocks=tuple(f"net.blocks.{i}" for i in range(vit_blocks)),
        resnet_blocks=resnet_blocks, stem="net.conv1", weights=np.ones((2, 3)), patches=16,
        image_px=32)


def test_erf_columns_are_the_paper_s_depths_and_each_stage_s_last_block() -> None:
    assert _erf().vit_columns() == [f"net.blocks.{i}.attn" for i in (0, 2, 5, 8, 11)]
    assert _erf(4).vit_columns() == [f"net.blocks.{i}.attn" for i in (0, 1, 2, 3)]
    assert _erf().resnet_columns() == ["net.conv1", "net.layer1.1", "net.layer2.0",
                                       "net.layer3.0"]


def test_curve_draws_resample_images() -> None:
    moments = np.random.default_rng(1).uniform(0.1, 1, (2, 3, 5))  # (layers, images, 5)
    w = np.array([[3.0, 0, 0], [1, 1, 1]])
    got = erf_figures.curve_draws(moments, lambda m: m[..., 0], w)
    np.testing.assert_allclose(got, [moments[:, 0, 0], moments[:, :, 0].mean(1)])


def test_attention_figures_fit_the_page() -> None:
    d = _distances()
    dist = d.of("vit_cifar")
    fits_page(attention_figures.distance_panels(dist, d.of("vit_cifar", "renormalise"),
                                                d.draws("vit_cifar"), 16.0, model="vit",
                                                colour="C0"))
    for names in (["vit_cifar"], ["vit_cifar", "vit_cifar@seed1"]):
        fits_page(attention_figures.less_data_panels(
            {n: d.of(n) for n in names}, {n: d.draws(n) for n in names},
            {n: n for n in names}, 16.0, top_of=(dist,)))
    cka = np.random.default_rng(2).uniform(0, 1, (5, 3))
    fits_page(attention_figures.subsets_panel(np.linspace(2, 14, 5), cka,
                                              cka[None] + np.zeros((20, 1, 1)),
                                              ["net.conv1", "net.layer1.0", "net.layer1.1"],
                                              16.0, title="t", legend_title="resnet layer"))


def test_a_layer_without_a_map_says_no_residual() -> None:
    maps = {"post": {"net.conv1": np.eye(8), "net.layer1.0": np.eye(8)},
            "pre": {"net.layer1.0": np.eye(8)}}
    fig = erf_figures.map_grid(maps, ["net.conv1", "net.layer1.0"], "ResNet")
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    assert any("no residual" in t for t in texts)
    fits_page(fig)


def test_erf_curves_fit_the_page() -> None:
    maps = np.random.default_rng(3).uniform(0.1, 1, (4, 3, 16, 16))  # (layers, images, H, W)
    x = rf.erf_moments(maps, 4)
    w = resample.multinomial_weights(3, 10)
    depth = np.linspace(0, 1, 4)
    series = {("vit", "post"): (depth, x), ("res", "pre"): (depth, x)}
    fits_page(erf_figures.spread_panel(series, {"vit": "C0", "res": "C1"},
                                       {"vit": "ViT", "res": "ResNet"}, w, 20.0, (1 / 3, 2 / 3)))
    fits_page(erf_figures.centre_panels({"attention": {"post": x, "pre": x}, "MLP": {"post": x}},
                                        "C0", w, 16, 3.0))


def test_a_paper_model_declares_no_share_of_the_data() -> None:
    assert roles.data_label("vit_cifar_data30") == "vit_cifar_data30 (30 % of the data)"
    paper = next(iter(zoo.PAPER_MODELS))
    assert roles.data_share(paper) is None and roles.data_label(paper) == paper
