"""Chapters 8 and 9 claims (paper Figs 12, 13, H.1, H.2) on matrices with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from seelike import structure
from seelike.book.claims import ch08, ch09


def blocks(sizes: list[int], inside: float = 0.9, across: float = 0.2) -> np.ndarray:
    labels = np.repeat(np.arange(len(sizes)), sizes)
    m = np.where(labels[:, None] == labels[None, :], inside, across)
    np.fill_diagonal(m, 1.0)
    return m


def test_two_block_split_finds_the_boundary_and_its_contrast() -> None:
    k, contrast = structure.two_block_split(blocks([3, 9]))
    assert k == 3
    assert contrast == pytest.approx(0.7)


def test_h1_needs_a_clear_contrast_and_the_small_block_first() -> None:
    assert ch09.h1_mixer_blocks(blocks([3, 9])).verdict == "reproduced"
    assert ch09.h1_mixer_blocks(blocks([9, 3])).verdict == "partly"   # large block first
    assert ch09.h1_mixer_blocks(blocks([3, 9], 0.5, 0.45)).verdict == "not reproduced"


def test_two_block_split_needs_four_layers() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        structure.two_block_split(np.eye(3))


def test_h2_compares_the_best_matches_with_each_model() -> None:
    vit_like = np.array([[0.9, 0.1], [0.2, 0.8]])
    resnet_like = np.array([[0.5, 0.3], [0.4, 0.6]])
    assert structure.mean_best_match(vit_like) == pytest.approx(0.85)
    claim = ch09.h2_mixer_vit_like(vit_like, resnet_like)
    assert claim.value == pytest.approx(0.85 - 0.55)
    assert claim.verdict == "reproduced"
    assert ch09.h2_mixer_vit_like(resnet_like, vit_like).verdict == "not reproduced"
    assert ch09.h2_mixer_vit_like(resnet_like + 0.02, resnet_like).verdict == "partly"


def test_fig12_asks_lower_blocks_to_stay_similar_and_higher_ones_to_diverge() -> None:
    falling = np.diag(np.linspace(0.95, 0.3, 9)) + 0.01
    assert structure.diagonal_by_third(falling)[0] > structure.diagonal_by_third(falling)[1]
    assert ch08.fig12_lower_similar(falling, "less").verdict == "reproduced"
    flat = np.full((9, 9), 0.8)
    assert ch08.fig12_lower_similar(flat, "less").verdict == "not reproduced"


def test_fig13_needs_accuracy_to_fall_with_every_cut_in_data() -> None:
    names = ["full", "data30", "data10"]
    assert ch08.fig13_more_data_better([0.6, 0.5, 0.4], names).verdict == "reproduced"
    assert ch08.fig13_more_data_better([0.6, 0.65, 0.4], names).verdict == "partly"
    assert ch08.fig13_more_data_better([0.4, 0.5, 0.6], names).verdict == "not reproduced"
    with pytest.raises(ValueError, match="one accuracy per model"):
        ch08.fig13_more_data_better([0.5], ["full", "less"])
