"""Chapters 2 and 3's page modules and figures: independent features under both HSIC
estimators (the biased one inflated at few examples), the benchmark table, the zoo's seed
table and accuracy numbers, and every figure at page width."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from figure_checks import fits_page

from seelike import zoo
from seelike.book.figures import cka as cka_figures
from seelike.book.figures import zoo as zoo_figures
from seelike.book.pages import ch02, ch03


def test_the_biased_estimator_is_inflated_at_few_examples() -> None:
    summary = ch02.independent_features([8, 256], 4, 64, np.random.default_rng(0))
    mean = summary.set_index(["estimator", "n"])["mean"]
    assert mean["biased HSIC₀", 8] > 0.5 > abs(mean["unbiased HSIC₁", 8])
    assert mean["biased HSIC₀", 8] > mean["biased HSIC₀", 256]


def test_the_benchmark_table_reads_times_against_the_floor(tmp_path: Path) -> None:
    assert ch02.benchmark_table(tmp_path / "missing.json") is None
    run = {"seconds": 2.0, "memory_mib": 10}
    bench = {"runs": {"floor": [{"seconds": 1.0, "memory_mib": 5}], "seelike": [run],
                      "other-no-grad": [run]},
             "libraries": {"other-no-grad": {"version": "1.0", "max_abs_delta": 1e-3}},
             "held_memory_runs": {"seelike": {"memory_mib": 3}}, "max_abs_delta": 1e-6}
    (tmp_path / "b.json").write_text(json.dumps(bench))
    table = ch02.benchmark_table(tmp_path / "b.json")
    assert list(table["× floor"]) == [1.0, 2.0, 2.0]
    assert table.method[2] == "other 1.0, inside torch.no_grad()"
    assert np.isnan(table["held memory (MiB)"][2]) and table["max |Δ| vs float64"][1] == 1e-6


def test_the_seed_table_spans_every_seeded_model() -> None:
    table = ch03.seed_table()
    assert list(table.model) == list(zoo.SEEDS)
    seeds = table.filter(like="seed ")
    np.testing.assert_allclose(table["range (points)"], seeds.max(axis=1) - seeds.min(axis=1))


def test_accuracy_numbers_quote_the_zoo() -> None:
    names = ["vit_cifar", "vit_cifar_gap", "resnet_cifar", "mixer_cifar", "vit_cifar_data10",
             "vit_cifar_data30", "vit_cifar_noskip1", "vit_cifar_noskip7",
             "vit_cifar_noskip10", "resnet56_akamaster"]
    zoo = pd.DataFrame({"model": names, "test_acc": np.arange(80.0, 90.0),
                        "acc_here": np.full(10, 70.0), "minutes": np.arange(10.0)})
    n = ch03.accuracy_numbers(zoo, 512)
    assert set(n) == set(ch03.ACCURACY_KEYS)
    assert n["gap_points"] == "2.0" and n["drop_noskip1"] == "+6.0" and n["acc_aka"] == "70.0 %"



def test_the_figures_fit_the_page() -> None:
    summary = ch02.independent_features([8, 16], 2, 16, np.random.default_rng(1))
    fits_page(cka_figures.estimator_bias(summary, [8, 16], width=16, draws=2))
    fits_page(cka_figures.minibatch_convergence(np.full((4, 2), 0.5), np.array([0.4, 0.6]),
                                                [("net.blocks.0", "net.blocks.1")] * 2, 32))
    fits_page(cka_figures.first_heatmap(np.eye(3), ["a", "b", "c"], "t"))
    fits_page(zoo_figures.training_curves(["vit_cifar", "vit_cifar_noskip7"]))
    fits_page(zoo_figures.predictions(np.zeros((8, 4, 4, 3)), ["cat\nViT: cat"] * 8))
