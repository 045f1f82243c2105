"""Tests for Chapter 5's claims (paper Figs 3-6) on hand-built inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seelike import models
from seelike import receptive_field as rf
from seelike.book import claims
from seelike.book.claims import ch05, record

U = 10.0  # the uniform-attention distance of the hand-built models: local means < 5


def distances(low: list[list[float]], high: list[list[float]],
              middle: float = 8.0) -> np.ndarray:
    """(blocks, heads): the two lowest blocks, two middle blocks at ``middle``, the two highest."""
    heads = len(low[0])
    return np.array([*low, *[[middle] * heads] * 2, *high], dtype=float)


MIXED_LOW = [[2.0, 9.0, 10.0], [3.0, 8.0, 10.0]]       # 2 of 6 heads local
GLOBAL_HIGH = [[9.0, 10.0, 10.0], [6.0, 10.0, 10.0]]   # all >= U/2, smallest 6


# --- local heads and Fig 3 ----------------------------------------------------------------------


def test_local_heads_cut_at_half_the_uniform_distance() -> None:
    assert ch05.local_heads(np.array([4.9, 5.0, 9.0]), U).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="positive"):
        ch05.local_heads(np.array([1.0]), 0.0)


def test_fig3_low_mix_reproduced_with_both_kinds() -> None:
    c = ch05.fig3_low_mix(distances(MIXED_LOW, GLOBAL_HIGH), U)
    assert c.chapter == ch05.CHAPTER and c.figure == "Fig 3"
    assert c.value == pytest.approx(2 / 6)
    assert c.verdict == "reproduced"


def test_fig3_low_mix_partly_when_all_global_but_diverse() -> None:
    low = [[6.0, 9.0, 10.0], [7.0, 8.0, 10.0]]           # no local head, range 4
    high = [[9.5, 10.0, 10.0], [9.8, 10.0, 10.0]]        # range 0.5
    c = ch05.fig3_low_mix(distances(low, high), U)
    assert c.value == 0.0
    assert c.verdict == "partly"


def test_fig3_low_mix_fails_when_all_local_and_narrow() -> None:
    low = [[1.0, 1.1, 1.2], [1.0, 1.0, 1.1]]             # all local, range 0.2
    c = ch05.fig3_low_mix(distances(low, GLOBAL_HIGH), U)
    assert c.value == 1.0
    assert c.verdict == "not reproduced"


def test_fig3_high_global() -> None:
    c = ch05.fig3_high_global(distances(MIXED_LOW, GLOBAL_HIGH), U)
    assert c.value == pytest.approx(0.6)
    assert c.verdict == "reproduced"
    # one local top head, but the top blocks are still wider than the lowest on average
    c = ch05.fig3_high_global(distances(MIXED_LOW, [[4.0, 10.0, 10.0], [9.0, 10.0, 10.0]]), U)
    assert c.value == pytest.approx(0.4)
    assert c.verdict == "partly"
    # top blocks more local than the lowest ones
    c = ch05.fig3_high_global(distances([[9.0] * 3] * 2, [[4.0, 5.0, 6.0]] * 2), U)
    assert c.verdict == "not reproduced"


def test_fig3_rejects_a_flat_array() -> None:
    with pytest.raises(ValueError, match="blocks, heads"):
        ch05.fig3_low_mix(np.array([1.0, 2.0]), U)


# --- Fig 4 ---------------------------------------------------------------------------------------


def test_fig4_less_data() -> None:
    full = distances(MIXED_LOW, GLOBAL_HIGH)             # lowest-block mean 42 / 6 = 7
    less = distances([[6.0, 9.0, 10.0], [7.0, 8.0, 10.0]], GLOBAL_HIGH)  # mean 50 / 6, 0 local
    c = ch05.fig4_less_data(full, less, U, "vit_data10")
    assert c.figure == "Fig 4" and "vit_data10" in c.statistic
    assert c.value == pytest.approx(50 / 6 - 7)
    assert c.verdict == "reproduced"
    # distances up, but the same two local heads: only the shift holds
    shifted = distances([[2.0, 9.5, 10.0], [3.0, 9.5, 10.0]], GLOBAL_HIGH)
    c = ch05.fig4_less_data(full, shifted, U, "vit_data10")
    assert c.value == pytest.approx(2 / 6)
    assert c.verdict == "partly"
    # less data, more local: the reverse of the claim
    c = ch05.fig4_less_data(less, full, U, "vit_data10")
    assert c.value < 0
    assert c.verdict == "not reproduced"


# --- Fig 5 ---------------------------------------------------------------------------------------


def test_spearman_known_values() -> None:
    assert ch05._spearman(np.arange(5), np.arange(5)[::-1]) == pytest.approx(-1.0)
    # ranks 1 2 3 5 4 against 1 2 3 4 5: 1 - 6 * 2 / (5 * 24) = 0.9
    assert ch05._spearman(np.arange(5), np.array([1.0, 2, 3, 5, 4])) == pytest.approx(0.9)
    # ties share their average rank: [1.5, 1.5, 3] against [1, 2, 3]
    assert ch05._spearman(np.arange(3), np.array([1.0, 1.0, 2.0])) == pytest.approx(
        np.sqrt(3) / 2)
    assert np.isnan(ch05._spearman(np.arange(4), np.ones(4)))


def test_fig5_similarity_falls() -> None:
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    falling = np.column_stack([5 - d, 0.1 * (5 - d) ** 2])   # both strictly decreasing
    c = ch05.fig5_similarity_falls(d, falling)
    assert c.value == pytest.approx(-1.0)
    assert c.verdict == "reproduced"
    c = ch05.fig5_similarity_falls(d, np.column_stack([5 - d, [1.0, 2, 3, 5, 4]]))
    assert c.value == pytest.approx((-1.0 + 0.9) / 2)
    assert c.verdict == "partly"
    c = ch05.fig5_similarity_falls(d, np.column_stack([d, d]))
    assert c.value == pytest.approx(1.0)
    assert c.verdict == "not reproduced"
    with pytest.raises(ValueError, match="subsets"):
        ch05.fig5_similarity_falls(d, falling[:4])


# --- Fig 6 ---------------------------------------------------------------------------------------


def test_centre_patch_fraction_known_maps() -> None:
    erf = np.zeros((32, 32))
    erf[16:20, 16:20] = 1.0                                  # grid position (4, 4) of 8 x 8
    assert rf.centre_patch_fraction(erf, 4) == pytest.approx(1.0)
    assert rf.centre_patch_fraction(np.ones((32, 32)), 4) == pytest.approx(1 / 64)
    shifted = np.zeros((32, 32))
    shifted[12:16, 12:16] = 1.0                              # the patch up and to the left
    assert rf.centre_patch_fraction(shifted, 4) == 0.0
    assert rf.centre_patch_fraction(np.ones((28, 28)), 4) == pytest.approx(1 / 49)
    with pytest.raises(ValueError, match="patches"):
        rf.centre_patch_fraction(np.ones((30, 30)), 4)


def test_centre_patch_is_the_token_receptive_field_differentiates() -> None:
    """After block 0's attention the skip carries the centre token's own patch: its ERF peak."""
    torch.manual_seed(0)
    vit = models.build("vit_cifar")
    erf = rf.effective_receptive_field(vit, "net.blocks.0.attn", torch.rand(4, 3, 32, 32))
    peak = np.unravel_index(np.argmax(erf), erf.shape)
    assert 16 <= peak[0] < 20 and 16 <= peak[1] < 20
    assert rf.centre_patch_fraction(erf, 4) > 5 / 64


def test_fig6_vit_wider_early() -> None:
    c = ch05.fig6_vit_wider_early(6.0, 2.0)
    assert c.value == pytest.approx(3.0) and c.verdict == "reproduced"
    c = ch05.fig6_vit_wider_early(1.0, 2.0)
    assert c.value == pytest.approx(0.5) and c.verdict == "not reproduced"
    with pytest.raises(ValueError, match="positive"):
        ch05.fig6_vit_wider_early(1.0, 0.0)


@pytest.mark.parametrize(("spreads", "value", "expected"), [
    ([1.0, 2.0, 3.0, 4.0], 1.0, "reproduced"),
    ([1.0, 2.0, 1.5, 3.0, 4.0], 0.75, "partly"),
    ([1.0, 1.0, 2.0], 0.5, "not reproduced"),           # a flat step is not growth
    ([4.0, 3.0, 2.0, 1.0], 0.0, "not reproduced"),
])
def test_fig6_resnet_grows(spreads: list[float], value: float, expected: str) -> None:
    c = ch05.fig6_resnet_grows(spreads)
    assert c.value == pytest.approx(value)
    assert c.verdict == expected


def test_fig6_resnet_grows_needs_two_layers() -> None:
    with pytest.raises(ValueError, match="two"):
        ch05.fig6_resnet_grows([1.0])


def test_fig6_centre_patch() -> None:
    c = ch05.fig6_centre_patch([0.7, 0.5], [0.1, 0.2])
    assert c.value == pytest.approx(0.45) and c.verdict == "reproduced"
    c = ch05.fig6_centre_patch([0.7, 0.1], [0.1, 0.2])
    assert c.value == pytest.approx(0.25) and c.verdict == "partly"
    c = ch05.fig6_centre_patch([0.1, 0.1], [0.2, 0.3])
    assert c.value == pytest.approx(-0.15) and c.verdict == "not reproduced"
    with pytest.raises(ValueError, match="equal-length"):
        ch05.fig6_centre_patch([0.1, 0.2], [0.1])


# --- the chapter's table -------------------------------------------------------------------------


def test_chapter5_claims_write_and_read_back(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(record.RESULTS_ENV, str(tmp_path))
    found = [ch05.fig3_low_mix(distances(MIXED_LOW, GLOBAL_HIGH), U),
             ch05.fig6_resnet_grows([1.0, 2.0, 3.0])]
    path = claims.write(found, "smoke", ch05.CHAPTER)
    assert path == tmp_path / "smoke" / f"{ch05.CHAPTER}.csv"
    back = claims.read_all("smoke")
    assert back.verdict.tolist() == ["reproduced", "reproduced"]
    assert back.value.tolist() == pytest.approx([2 / 6, 1.0])
