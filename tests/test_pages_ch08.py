"""Chapter 8's page module and its figures on values whose answers are known: labels with
each ViT's share of the data, the thirds of a diagonal, middle-third and upper-half probe
accuracies, and every figure at page width, with and without less-data ViTs."""

from __future__ import annotations

import numpy as np
from figure_checks import fits_page

from seelike.book.figures import scale as figures
from seelike.book.pages import ch08 as page
from seelike.book.presets import PRESETS
from seelike.layers import layer_names

P = PRESETS["smoke"]


def _scale(with_less: bool = True) -> page.DataScale:
    less = ["vit_cifar_data30", "vit_cifar_data10"] if with_less else []
    n = len(layer_names(P.vit, "blocks"))
    diag = np.eye(n) * 0.5 + 0.4
    cross = {name: {"cka": diag, "boot": np.stack([diag, diag * 0.9])} for name in less}
    return page.DataScale(P, less, cross, "vit_cifar@seed1",
                          {"cka": np.eye(n), "boot": np.stack([np.eye(n)] * 2)})


def test_labels_give_each_vit_s_share_of_the_data() -> None:
    s = _scale()
    assert s.labels["vit_cifar_data10"] == "vit_cifar_data10 (10 % of the data)"
    assert s.labels["floor"] == "vit_cifar@seed1 (the seed floor)"
    assert s.third_numbers() == {"low": "0.90", "high": "0.90"}
    assert _scale(with_less=False).third_numbers()["low"] == "not measured"


def test_probe_numbers_read_the_middle_third_and_the_upper_half() -> None:
    blocks = 6
    acc = {P.vit: [{"gap": np.linspace(0.1, 0.6, blocks)}] * 2,
           P.resnet: [{"gap": np.full(blocks, 0.5)}]}
    middles, n = page.probe_numbers(P, [P.vit], acc)
    assert middles[P.resnet] == [0.5]
    upper_vit = np.linspace(0.1, 0.6, blocks)[3:].mean()
    assert n["upper_vit"] == f"{upper_vit:.1%}" and n["mid_resnet"] == "50.0%"
    assert n["upper_story"] == ("above" if upper_vit < 0.5 else "below")



def test_the_figures_fit_the_page_with_and_without_less_data_vits() -> None:
    for with_less in (True, False):
        s = _scale(with_less)
        n = len(layer_names(P.vit, "blocks"))
        fits_page(figures.diagonal(s.cross, s.floor["cka"], s.labels, blocks=n, vit=P.vit,
                                   missing="no less-data ViTs"))
        fits_page(figures.cross_heatmaps({k: d["cka"] for k, d in s.cross.items()}, P.vit,
                                         missing="no less-data ViTs"))
    acc = {m: [{"gap": np.linspace(0.1, 0.6, 6)}] * 3 for m in (P.vit, P.resnet)}
    fits_page(figures.probe_curves(acc, [P.vit, P.resnet], {}, 10))
