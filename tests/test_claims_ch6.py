"""Chapter 6's claims (seelike.book.claims.ch06) on small hand-built inputs with known answers.

Skip-connection norm ratios (Fig 7) and the retrained no-skip ViTs (Fig 8): each test builds
inputs whose statistic is known by hand and checks the value and the verdict on both sides
of each bar.
"""

from __future__ import annotations

import numpy as np
import pytest

from seelike.book.claims import ch06

# --- Fig 7: norm ratios, ViT versus ResNet --------------------------------------------------------


def ratios(vit: float, resnet: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """ViT ratios (4 blocks x 5 tokens, both branches) and ResNet unit ratios, all constant."""
    return ({"attn": np.full((4, 5), vit), "mlp": np.full((4, 5), vit)},
            {"unit": np.full(8, resnet)})


@pytest.mark.parametrize("vit, resnet, value, expected", [
    (20.0, 2.0, 10.0, "reproduced"),     # an order of magnitude, as in the paper
    (5.0, 2.0, 2.5, "reproduced"),
    (4.0, 2.0, 2.0, "partly"),           # exactly twice is not "> 2"
    (3.0, 2.0, 1.5, "partly"),
    (2.0, 2.0, 1.0, "not reproduced"),   # equal is not "> 1"
    (1.0, 4.0, 0.25, "not reproduced"),
])
def test_fig7_vit_ratios_higher_bars(vit: float, resnet: float, value: float,
                                     expected: str) -> None:
    c = ch06.fig7_vit_ratios_higher(*ratios(vit, resnet))
    assert c.value == pytest.approx(value)
    assert c.verdict == expected
    assert c.chapter == ch06.CHAPTER == "06_skip_connections" and c.figure == "Fig 7"


def test_fig7_ratio_is_of_medians_pooled_over_branches_and_tokens() -> None:
    # ViT: three 1s (attn) and five 9s (mlp, as a 1 x 5 block): the pooled median is 9,
    # where a mean of per-branch medians would be 5 and a mean of all values 6.
    vit = {"attn": np.ones(3), "mlp": np.full((1, 5), 9.0)}
    c = ch06.fig7_vit_ratios_higher(vit, {"unit": np.full((2, 2), 3.0)})
    assert c.value == pytest.approx(3.0)
    # One branch that outputs almost nothing (a huge ratio) does not move a median.
    resnet = {"unit": np.array([2.0, 2.0, 2.0, 2.0, 1e9])}
    c = ch06.fig7_vit_ratios_higher({"attn": np.full(5, 3.0)}, resnet)
    assert c.value == pytest.approx(1.5) and c.verdict == "partly"
    # Only the ResNet's ``unit`` ratios count.
    resnet = {"unit": np.full(4, 2.0), "other": np.full(4, 1e-6)}
    assert ch06.fig7_vit_ratios_higher({"attn": np.full(4, 6.0)}, resnet).value == \
        pytest.approx(3.0)


# --- Fig 7: the CLS token's phase transition ---------------------------------------------------


def cls_ratios(cls: list[float], spatial: float = 1.0, tokens: int = 5,
               prefix: int = 1) -> np.ndarray:
    """(blocks, tokens) ratios: the CLS token's per block, every other token ``spatial``."""
    r = np.full((len(cls), tokens), spatial)
    r[:, 0] = cls
    if prefix > 1:
        r[:, 1:prefix] = 1e6  # other prefix tokens (a distillation token): never averaged
    return r


@pytest.mark.parametrize("cls, value, expected", [
    ([10, 10, 0.1, 0.1], 2.0, "reproduced"),         # log10 ratios +1, +1 | -1, -1: a crossing
    ([100, 100, 10, 10], 1.0, "partly"),             # +2, +2 | +1, +1: no crossing
    ([1, 1, 0.1, 0.1], 1.0, "partly"),               # 0 | -1: early is not > 0
    ([10, 10, 10, 10], 0.0, "not reproduced"),       # no change
    ([0.1, 0.1, 10, 10], -2.0, "not reproduced"),    # the reverse order
])
def test_fig7_cls_phase_transition_bars(cls: list[float], value: float, expected: str) -> None:
    r = cls_ratios(cls)
    c = ch06.fig7_cls_phase_transition({"attn": r, "mlp": r}, num_prefix_tokens=1)
    assert c.value == pytest.approx(value)
    assert c.verdict == expected
    assert c.chapter == ch06.CHAPTER and c.figure == "Fig 7"


def test_fig7_cls_phase_transition_averages_branches_and_halves() -> None:
    # Branch logs +1,+1,+1,+1 and +1,+1,-3,-3 average to +1,+1,-1,-1: a crossing that
    # neither branch shows alone (the first alone has no change at all).
    a, b = cls_ratios([10, 10, 10, 10]), cls_ratios([10, 10, 1e-3, 1e-3])
    c = ch06.fig7_cls_phase_transition({"attn": a, "mlp": b}, num_prefix_tokens=1)
    assert c.value == pytest.approx(2.0) and c.verdict == "reproduced"
    assert ch06.fig7_cls_phase_transition({"attn": a}, 1).verdict == "not reproduced"
    # The spatial tokens' mean is the reference: CLS 10 over spatial 0.1 and 1.9 (mean 1).
    r = cls_ratios([10, 10, 0.1, 0.1])
    r[:, 1:] = [0.1, 1.9, 0.1, 1.9]
    assert ch06.fig7_cls_phase_transition({"attn": r}, 1).value == pytest.approx(2.0)
    # An odd number of blocks: the first half is the first two of five.
    r = cls_ratios([10, 10, 0.1, 0.1, 0.1])
    assert ch06.fig7_cls_phase_transition({"attn": r}, 1).value == pytest.approx(2.0)
    r = cls_ratios([10, 10, 10, 0.1, 0.1])  # first half +1; second half (1 - 2) / 3
    assert ch06.fig7_cls_phase_transition({"attn": r}, 1).value == pytest.approx(1 + 1 / 3)


def test_fig7_cls_phase_transition_skips_other_prefix_tokens_and_needs_a_cls() -> None:
    r = cls_ratios([10, 10, 0.1, 0.1], tokens=6, prefix=2)
    c = ch06.fig7_cls_phase_transition({"attn": r}, num_prefix_tokens=2)
    assert c.value == pytest.approx(2.0) and c.verdict == "reproduced"
    with pytest.raises(ValueError, match="CLS"):
        ch06.fig7_cls_phase_transition({"attn": r}, num_prefix_tokens=0)


# --- Fig 8: removing one block's skip connections ----------------------------------------------

# Four blocks of two layers each; block 1's skip is removed: its layers are neither side.
LAYERS = [name for b in range(4) for name in (f"net.blocks.{b}.attn", f"net.blocks.{b}")]
BEFORE, AFTER = slice(0, 2), slice(4, 8)


def cka_pair(drop: float, level: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Intact CKA ``level`` everywhere; the no-skip one ``drop`` lower between the two sides."""
    intact = np.full((8, 8), level)
    np.fill_diagonal(intact, 1.0)
    noskip = intact.copy()
    noskip[BEFORE, AFTER] -= drop
    noskip[AFTER, BEFORE] -= drop
    return intact, noskip


@pytest.mark.parametrize("drop, expected", [
    (0.4, "reproduced"),
    (0.15, "reproduced"),
    (0.09, "partly"),         # just under a tenth
    (0.05, "partly"),
    (0.0, "not reproduced"),
    (-0.2, "not reproduced"),  # the groups became *more* similar
])
def test_fig8_split_bars(drop: float, expected: str) -> None:
    c = ch06.fig8_split(*cka_pair(drop), LAYERS, block=1, model="vit_cifar_noskip1")
    assert c.value == pytest.approx(drop)
    assert c.verdict == expected
    assert c.chapter == ch06.CHAPTER and c.figure == "Fig 8"
    assert "vit_cifar_noskip1" in c.statistic and "block 1" in c.statement


def test_fig8_split_reads_only_layers_before_against_layers_after() -> None:
    intact, noskip = cka_pair(0.3)
    # Block 1's own layers, the within-side pairs and the lower triangle do not count.
    noskip[2:4, :] = noskip[:, 2:4] = 0.0
    noskip[BEFORE, BEFORE] = noskip[AFTER, AFTER] = 0.0
    noskip[AFTER, BEFORE] = 5.0
    assert ch06.fig8_split(intact, noskip, LAYERS, 1, "m").value == pytest.approx(0.3)
    # Non-finite entries (a constant layer) are skipped, not propagated.
    noskip[0, 4] = np.nan
    intact[1, 5] = np.inf
    assert ch06.fig8_split(intact, noskip, LAYERS, 1, "m").value == pytest.approx(0.3)
    # The sides follow the block: block 2 puts blocks 0-1 before and block 3 after.
    intact, noskip = cka_pair(0.0)
    noskip[0:4, 6:8] -= 0.2
    assert ch06.fig8_split(intact, noskip, LAYERS, 2, "m").value == pytest.approx(0.2)


def test_fig8_split_needs_layers_on_both_sides_and_square_matrices() -> None:
    intact, noskip = cka_pair(0.3)
    for block in (0, 3):
        with pytest.raises(ValueError, match=f"block {block}"):
            ch06.fig8_split(intact, noskip, LAYERS, block, "m")
    with pytest.raises(ValueError, match="square"):
        ch06.fig8_split(intact[:, :7], noskip, LAYERS, 1, "m")


@pytest.mark.parametrize("intact, noskip, expected", [
    (90.0, 86.0, "reproduced"),       # the paper's ~4 points
    (90.0, 88.0, "reproduced"),       # exactly 2: ">= 2"
    (90.0, 88.5, "partly"),
    (90.0, 89.4, "partly"),
    (90.0, 89.5, "not reproduced"),   # exactly 0.5 is not "> 0.5"
    (90.0, 91.0, "not reproduced"),   # the retrained model is better
])
def test_fig8_accuracy_cost_bars(intact: float, noskip: float, expected: str) -> None:
    c = ch06.fig8_accuracy_cost(intact, noskip, "vit_cifar_noskip7")
    assert c.value == pytest.approx(intact - noskip)
    assert c.verdict == expected
    assert c.chapter == ch06.CHAPTER and c.figure == "Fig 8"
    assert "vit_cifar_noskip7" in c.statistic
