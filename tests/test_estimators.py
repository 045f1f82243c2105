"""Tests for seelike.estimators (Chapter 10): chunked minibatch CKA against known answers and
against passes run at each minibatch size, on random features and random-init paper models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch

from seelike import cka, models, passes
from seelike.analyses import CKAAnalysis, EstimatorCKA
from seelike.estimators import (
    add_chunks,
    chunk_grams,
    layer_sizes,
    mean_similarity,
    similarity_summary,
)
from seelike.layers import block_layers
from seelike.passes import Analysis, Batch, Needs
from seelike.probe_sets import TensorProbe
from seelike.taps import Tap


def _features(n: int, dims: tuple[int, ...], seed: int = 0) -> list[torch.Tensor]:
    """Correlated float64 layers: each a random linear map of a shared signal, plus noise."""
    g = torch.Generator().manual_seed(seed)
    signal = torch.randn(n, 6, generator=g, dtype=torch.float64)
    return [signal @ torch.randn(6, d, generator=g, dtype=torch.float64)
            + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64) + 3.0 for d in dims]


def _grams(feats: list[torch.Tensor]) -> torch.Tensor:
    """Centred Grams H K H, as the pass gives them (GramSpec with unbiased=False)."""
    return torch.stack([cka.gram_linear(f) for f in feats])


def test_chunks_are_the_grams_of_consecutive_examples() -> None:
    feats = _features(12, (5, 3))
    raw = torch.stack([f @ f.T for f in feats])
    chunks = chunk_grams(raw, 4)
    assert chunks.shape == (2, 3, 4, 4)
    for layer, f in enumerate(feats):
        for c in range(3):
            part = f[4 * c:4 * c + 4]
            torch.testing.assert_close(chunks[layer, c], part @ part.T)
    with pytest.raises(ValueError, match="chunks of 5"):
        chunk_grams(raw, 5)


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("size", [6, 12, 48])
def test_chunked_cka_is_minibatch_cka_fed_the_chunks_by_hand(size: int, unbiased: bool) -> None:
    feats = _features(48, (7, 20, 4))
    chunked = cka.MinibatchCKA(3, unbiased=unbiased)
    add_chunks(chunked, _grams(feats), size)
    by_hand = cka.MinibatchCKA(3, unbiased=unbiased)
    for start in range(0, 48, size):
        by_hand.update([f[start:start + size] for f in feats])
    assert chunked.num_batches == by_hand.num_batches == 48 // size
    np.testing.assert_allclose(chunked.compute(), by_hand.compute(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("unbiased", [False, True])
def test_the_full_batch_is_linear_cka(unbiased: bool) -> None:
    feats = _features(40, (9, 5))
    acc = cka.MinibatchCKA(2, unbiased=unbiased)
    add_chunks(acc, _grams(feats), 40)
    expected = cka.linear_cka(feats[0], feats[1], unbiased=unbiased)
    np.testing.assert_allclose(acc.compute()[0, 1], expected, rtol=0, atol=1e-12)


def test_biased_cka_of_independent_features_is_inflated_at_small_n_and_unbiased_is_not() -> None:
    # Independent Gaussian layers with many features: the population CKA is 0. HSIC_0's bias
    # grows as n falls below the feature count; HSIC_1 has none.
    g = torch.Generator().manual_seed(1)
    feats = [torch.randn(512, 1024, generator=g, dtype=torch.float64) for _ in range(2)]
    grams = _grams(feats)
    cka_at = {}
    for size in (16, 512):
        for unbiased in (False, True):
            acc = cka.MinibatchCKA(2, unbiased=unbiased)
            add_chunks(acc, grams, size)
            cka_at[size, unbiased] = acc.compute()[0, 1]
    assert cka_at[16, False] > 0.7
    assert cka_at[16, False] > cka_at[512, False] + 0.2
    assert abs(cka_at[16, True]) < 0.05 and abs(cka_at[512, True]) < 0.05


def test_analysis_checks_its_arguments_and_cuts_its_matrices() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        EstimatorCKA({"a": ("x",)}, (2, 8))
    with pytest.raises(ValueError, match="ascending"):
        EstimatorCKA({"a": ("x",)}, (16, 8))
    with pytest.raises(ValueError, match="with layers"):
        EstimatorCKA({"a": ()}, (8,))
    a = EstimatorCKA({"v": ("v0", "v1", "v2"), "r": ("r0", "r1")}, (4, 8))
    m = np.arange(25.0).reshape(5, 5)
    np.testing.assert_array_equal(a.block(m, "v", "r"), m[:3, 3:])
    np.testing.assert_array_equal(a.block(m[None], "r", "r"), m[None, 3:, 3:])
    # The model order is the result's layout, so it is part of the cache key.
    b = EstimatorCKA({"r": ("r0", "r1"), "v": ("v0", "v1", "v2")}, (4, 8))
    assert a.params() != b.params()


def test_mean_similarity_skips_the_diagonal_within_a_model() -> None:
    m = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, np.nan], [0.4, np.nan, 1.0]])
    assert mean_similarity(m, within=True) == pytest.approx(0.3)
    assert mean_similarity(m[:1, 1:], within=False) == pytest.approx(0.3)
    a = EstimatorCKA({"v": ("v0", "v1"), "r": ("r0",)}, (4,))
    summary = similarity_summary(a, m)
    assert summary == pytest.approx({"v": 0.2, "r": float("nan"), "v × r": 0.4},
                                    nan_ok=True)


@pytest.fixture(scope="module")
def paper_nets() -> dict[str, torch.nn.Module]:
    # float64: chunking is an identity, and float32 Grams would blur it by their rounding
    # (about 1e-4 in unbiased CKA at 4 examples, where HSIC_1 divides by n(n - 3) = 4).
    torch.manual_seed(0)
    return {"vit": models.build_paper("vit_base_patch32_224.augreg_in21k").double(),
            "resnet": models.build_paper("resnetv2_50x1_bit.goog_in21k").double()}


def _images(n: int) -> torch.Tensor:
    return torch.rand(n, 3, 224, 224, generator=torch.Generator().manual_seed(0),
                      dtype=torch.float64)


class _Record(Analysis):
    """Keeps one tap per model from a pass of a single minibatch: the full-batch features."""

    name = "record"

    def __init__(self, taps: dict[str, Tap]) -> None:
        self.taps = taps

    def models(self) -> tuple[str, ...]:
        return tuple(self.taps)

    def params(self) -> dict[str, Any]:
        return {}

    def needs(self, model: str, net: torch.nn.Module) -> Needs:
        return Needs(taps=[self.taps[model]])

    def begin(self, nets: Mapping[str, torch.nn.Module]) -> None:
        self.got: dict[str, np.ndarray] = {}

    def update(self, batch: Batch) -> None:
        self.got = {m: batch.tap(m, tap).numpy() for m, tap in self.taps.items()}

    def result(self) -> dict[str, np.ndarray]:
        return self.got


def test_paper_models_one_pass_equals_a_pass_per_size_and_full_batch_cka(paper_nets) -> None:
    layers = {name: tuple(block_layers(net)) for name, net in paper_nets.items()}
    probe = TensorProbe(_images(8))
    study = EstimatorCKA(layers, (4, 8))
    first_vit, last_resnet = layers["vit"][0], layers["resnet"][-1]
    record = _Record({"vit": Tap(first_vit), "resnet": Tap(last_resnet)})
    got, full = passes.run([study, record], paper_nets, probe, batch_size=8, device="cpu")
    assert got["biased"].shape == got["unbiased"].shape == (2, 28, 28)
    np.testing.assert_array_equal(got["batches"], [4, 8])

    # Minibatches of 4 from one pass at 8 are what a pass at 4 gives, both estimators.
    pass_at_4 = [CKAAnalysis("vit", layers["vit"], "resnet", layers["resnet"], "all", u)
                 for u in (False, True)]
    within_at_4 = CKAAnalysis("resnet", layers["resnet"], "resnet", layers["resnet"])
    biased, unbiased, within = passes.run([*pass_at_4, within_at_4], paper_nets, probe,
                                          batch_size=4, device="cpu")
    np.testing.assert_allclose(study.block(got["biased"][0], "vit", "resnet"), biased["cka"],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(study.block(got["unbiased"][0], "vit", "resnet"),
                               unbiased["cka"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(study.block(got["unbiased"][0], "resnet", "resnet"),
                               within["cka"], rtol=0, atol=1e-9)

    # The largest size holds every example: full-batch CKA.
    row, col = 0, len(layers["vit"]) + len(layers["resnet"]) - 1
    for est in ("biased", "unbiased"):
        expected = cka.linear_cka(full["vit"], full["resnet"], unbiased=est == "unbiased")
        np.testing.assert_allclose(got[est][1][row, col], expected, rtol=0, atol=1e-9)


def test_a_pass_minibatch_the_sizes_do_not_divide_is_refused(paper_nets) -> None:
    nets = {"vit": paper_nets["vit"]}
    study = EstimatorCKA({"vit": tuple(block_layers(nets["vit"]))[:2]}, (4, 8))
    with pytest.raises(ValueError, match=r"\[8\] do not divide"):
        passes.run([study], nets, TensorProbe(_images(4)), batch_size=4, device="cpu")


def test_layer_sizes_come_from_a_forward_on_the_meta_device() -> None:
    # The CIFAR ViT: 64 patches and a CLS token of width 192; the ResNet's first stage 32 x 32.
    assert layer_sizes("vit_cifar", ["net.blocks.0"], 32) == [65 * 192]
    assert layer_sizes("resnet_cifar", ["net.layer1.0", "net.layer4.1"], 32) == [32 * 32 * 32,
                                                                                256 * 4 * 4]
