"""Chapter 9's claims (paper Appendix H, Figs H.1 and H.2) on matrices with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from seelike import structure
from seelike.book.claims import ch09


def blocks(sizes: list[int], inside: float = 0.9, across: float = 0.2) -> np.ndarray:
    """A within-model CKA matrix of consecutive blocks: ``inside`` within, ``across`` between."""
    labels = np.repeat(np.arange(len(sizes)), sizes)
    m = np.where(labels[:, None] == labels[None, :], inside, across)
    np.fill_diagonal(m, 1.0)
    return m


def test_two_block_split_finds_the_boundary_and_its_contrast() -> None:
    k, contrast = structure.two_block_split(blocks([3, 9]))
    assert k == 3
    assert contrast == pytest.approx(0.7)


def test_two_block_split_needs_four_layers() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        structure.two_block_split(np.eye(3))


def test_h1_statistics_are_the_contrast_and_the_share_before_the_cut() -> None:
    assert ch09.blocks_contrast(blocks([3, 9])) == pytest.approx(0.7)
    assert ch09.first_block_fraction(blocks([3, 9])) == pytest.approx(3 / 12)
    assert ch09.first_block_fraction(blocks([9, 3])) == pytest.approx(9 / 12)
    assert ch09.blocks_contrast(blocks([3, 9], 0.5, 0.45)) == pytest.approx(0.05)


FLAT_VIT = blocks([6, 6], 0.8, 0.8)  # the control: a ViT without blocks


def test_h1_judges_clear_blocks_against_the_vit_and_their_order_apart() -> None:
    h1, first, _ = ch09.chapter9_claims(blocks([3, 9]), FLAT_VIT, np.eye(2), np.eye(2))
    assert (h1.key, h1.verdict, first.key, first.verdict) == (
        "h1_blocks", "reproduced", "h1_small_first", "reproduced")
    assert h1.control_value == pytest.approx(0.0) and h1.value == pytest.approx(0.7)
    assert "cut after layer 3 of 12" in first.statistic
    assert first.margin > 0
    h1, first, _ = ch09.chapter9_claims(blocks([9, 3]), FLAT_VIT, np.eye(2), np.eye(2))
    assert (h1.verdict, first.verdict) == ("reproduced", "not reproduced")  # large block first
    assert first.margin < 0
    # A ViT with blocks nearly as clear: the Mixer's stand out by less than the margin.
    h1, _, _ = ch09.chapter9_claims(blocks([3, 9]), blocks([6, 6], 0.9, 0.28), np.eye(2),
                                    np.eye(2))
    assert h1.value == pytest.approx(0.7 - 0.62) and h1.verdict == "partly"


def test_the_order_of_blocks_that_are_not_there_is_measured_too() -> None:
    flat = blocks([3, 9], 0.5, 0.48)  # a contrast of 0.02: no blocks
    h1, first, _ = ch09.chapter9_claims(flat, FLAT_VIT, np.eye(2), np.eye(2))
    assert h1.verdict == "not reproduced"
    assert first.value < 0.5 and first.verdict != "untestable here"


def test_h1_is_inconclusive_when_its_draws_straddle_a_bar() -> None:
    draws = np.stack([blocks([3, 9]), blocks([3, 9], 0.5, 0.45), blocks([9, 3])] * 5)
    vit = np.stack([FLAT_VIT] * 15)
    h1, first, _ = ch09.chapter9_claims(blocks([3, 9]), FLAT_VIT, np.eye(2), np.eye(2),
                                        draws=(draws, vit, np.stack([np.eye(2)] * 15),
                                               np.stack([np.eye(2)] * 15)),
                                        varies="15 draws")
    assert h1.verdict == "inconclusive" and h1.low == pytest.approx(0.05)
    assert first.verdict == "inconclusive" and first.high == pytest.approx(0.75)
    assert h1.varies == "15 draws"


VIT_LIKE = np.array([[0.9, 0.1], [0.2, 0.8]])
RESNET_LIKE = np.array([[0.5, 0.3], [0.4, 0.6]])


def test_h2_compares_the_best_matches_with_each_model() -> None:
    assert structure.mean_best_match(VIT_LIKE) == pytest.approx(0.85)
    verdict = {name: ch09.judge_vit_like(v, r).verdict for name, (v, r) in {
        "reproduced": (VIT_LIKE, RESNET_LIKE),
        "not reproduced": (RESNET_LIKE, VIT_LIKE),
        "partly": (RESNET_LIKE + 0.02, RESNET_LIKE)}.items()}
    assert verdict == {k: k for k in verdict}


def test_h2_is_inconclusive_when_draws_or_seeds_cross_the_bar() -> None:
    close = RESNET_LIKE + 0.06  # 0.06 over 0.05 on the point estimate
    claim = ch09.judge_vit_like(close, RESNET_LIKE)
    assert claim.value == pytest.approx(0.06) and claim.verdict == "reproduced"
    draws = (np.stack([close, RESNET_LIKE + 0.03] * 10), np.stack([RESNET_LIKE] * 20))
    claim = ch09.judge_vit_like(close, RESNET_LIKE, draws=draws)
    assert (claim.low, claim.verdict) == (pytest.approx(0.03), "inconclusive")
    claim = ch09.judge_vit_like(close, RESNET_LIKE, seeds=[(RESNET_LIKE - 0.01, RESNET_LIKE)])
    assert (claim.seed_low, claim.verdict) == (pytest.approx(-0.01), "inconclusive")


def test_depth_aligned_match_pairs_layers_at_the_same_depth() -> None:
    # 2 Mixer layers against 4 layers: rows at depth 0.25 and 0.75 meet columns 1 and 3.
    cross = np.array([[0.1, 0.9, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5]])
    assert ch09.depth_aligned_match(cross) == pytest.approx(0.7)
    cross[1, 3] = np.nan
    assert ch09.depth_aligned_match(cross) == pytest.approx(0.9)
    # A model whose best match sits at another depth wins on the best match, not aligned.
    shifted = np.array([[0.0, 0.9], [0.9, 0.0]])
    half = np.full((2, 2), 0.5)
    assert ch09.judge_vit_like(shifted, half).value == pytest.approx(0.4)
    assert ch09.judge_vit_like(shifted, half, match=ch09.depth_aligned_match).value == (
        pytest.approx(-0.5))
    with pytest.raises(ValueError, match="2-D"):
        ch09.depth_aligned_match(np.ones(3))


def test_declarations_quote_appendix_h_and_note_the_captions() -> None:
    d = ch09.DECLARATIONS
    assert list(d) == ["h1_blocks", "h1_small_first", "h2_vit_like"]
    assert d["h1_blocks"].quote == d["h1_small_first"].quote  # one sentence, two clauses
    assert d["h1_blocks"].sentence == d["h1_small_first"].sentence == "h1_blocks"
    assert "a smaller block in the beginning and a larger block afterwards" in (
        d["h1_blocks"].quote)
    assert "more similar to ViT than ResNets" in d["h2_vit_like"].quote
    assert all("copy-paste error" in x.where and x.paper for x in d.values())
    assert (d["h2_vit_like"].pass_bar, d["h2_vit_like"].partly_bar) == (0.05, 0.0)
