"""Chapter 6's claims (seelike.book.claims.ch06) on small hand-built inputs with known answers.

Skip-connection norm ratios and cosines (Figs 7, E.1, E.2) and the retrained no-skip ViTs
(Fig 8): each test builds inputs whose statistic is known by hand and checks the value
and the verdict on both sides of each bar, with draws and seeds where the chapter has them.
"""

from __future__ import annotations

import numpy as np
import pytest

from seelike.book.claims import ch06


def _verdict(key: str, value: float) -> str:
    return ch06.DECLARATIONS[key].judge(ch06.CHAPTER, value).verdict


# --- Fig 7: norm ratios, ViT versus ResNet --------------------------------------------------------


def ratios(vit: float, resnet: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """ViT ratios (4 blocks x 5 tokens, both branches) and ResNet unit ratios, all constant."""
    return ({"attn": np.full((4, 5), vit), "mlp": np.full((4, 5), vit)},
            {"unit": np.full(8, resnet)})


@pytest.mark.parametrize("vit, resnet, value, expected", [
    (20.0, 2.0, 10.0, "reproduced"),     # an order of magnitude, as in the paper
    (4.0, 2.0, 2.0, "partly"),           # exactly twice is not "> 2"
    (3.0, 2.0, 1.5, "partly"),
    (2.0, 2.0, 1.0, "not reproduced"),   # equal is not "> 1"
    (1.0, 4.0, 0.25, "not reproduced"),
])
def test_fig7_ratio_contrast_bars(vit: float, resnet: float, value: float,
                                  expected: str) -> None:
    got = ch06.ratio_contrast(*ratios(vit, resnet))
    assert got == pytest.approx(value) and _verdict("fig7_ratios", got) == expected


def test_fig7_ratio_is_of_medians_pooled_over_branches_and_tokens() -> None:
    vit, res = ratios(1.0, 2.0)
    vit["attn"][:] = 100.0  # half the pooled values large: the median sits between
    vit["mlp"][0, 0] = np.nan  # a block without skips is skipped, not propagated
    res["unit"][:3] = 1000.0
    assert ch06.ratio_contrast(vit, res) == pytest.approx(np.nanmedian(
        np.concatenate([vit["attn"].ravel(), vit["mlp"].ravel()])) / 2.0)


def cls_ratios(cls: list[float], tokens: int = 4, prefix: int = 1) -> np.ndarray:
    """(blocks, tokens) ratios: CLS as given, every spatial token 1."""
    r = np.ones((len(cls), tokens))
    r[:, 0] = cls
    return r


def test_cls_transition_needs_a_crossing() -> None:
    crossing = {"attn": cls_ratios([10, 10, 0.1, 0.1])}
    assert ch06.cls_halves(crossing, 1) == pytest.approx((1.0, -1.0))
    assert ch06.cls_transition(crossing, 1) == pytest.approx(1.0)
    assert _verdict("fig7_cls_transition", 1.0) == "reproduced"
    # A trend without a crossing (CLS above the spatial tokens throughout): the old
    # difference statistic was positive; the crossing statistic is not.
    trend = {"attn": cls_ratios([100, 100, 10, 10])}
    early, late = ch06.cls_halves(trend, 1)
    assert early - late > 0 and ch06.cls_transition(trend, 1) == pytest.approx(-1.0)
    assert _verdict("fig7_cls_transition", -1.0) == "not reproduced"
    with pytest.raises(ValueError, match="CLS"):
        ch06.cls_halves(crossing, 0)


def test_cls_transition_skips_other_prefix_tokens() -> None:
    r = cls_ratios([10, 10, 0.1, 0.1], tokens=6)
    r[:, 1] = 1000.0  # a second prefix token must not count as spatial
    assert ch06.cls_transition({"attn": r}, 2) == pytest.approx(1.0)


def test_e1_cls_mlp_reads_early_skip_and_late_mlp() -> None:
    attn = cls_ratios([10, 10, 10, 10])
    mlp = cls_ratios([10, 10, 0.1, 0.1])  # late, the MLP rewrites the CLS token
    assert ch06.cls_mlp_late({"attn": attn, "mlp": mlp}) == pytest.approx(1.0)
    # Late change through attention instead: negative.
    assert ch06.cls_mlp_late({"attn": mlp, "mlp": attn}) == pytest.approx(-2.0)
    # Early change: the first half's log ratio is negative.
    early = cls_ratios([0.1, 0.1, 10, 10])
    assert ch06.cls_mlp_late({"attn": early, "mlp": early}) < 0


def test_e2_output_crossing() -> None:
    c = np.full((4, 5), 0.9)
    c[:2, 1:] = 0.5   # early, spatial tokens change (lower cosine with the skip)
    c[2:, 0] = 0.4    # late, the CLS token changes
    assert ch06.output_crossing({"attn": c, "mlp": c}, 1) == pytest.approx(0.4)
    assert _verdict("e2_output_cosine", 0.4) == "reproduced"
    same = np.full((4, 5), 0.9)
    assert ch06.output_crossing({"attn": same}, 1) == pytest.approx(0.0)
    assert _verdict("e2_output_cosine", 0.0) == "not reproduced"


# --- Fig 8: removing one block's skip connections ----------------------------------------------

# Four blocks of two layers each; block 1's skip is removed: its layers are neither side.
LAYERS = [name for b in range(4) for name in (f"net.blocks.{b}.attn", f"net.blocks.{b}")]
BEFORE, AFTER = slice(0, 2), slice(4, 8)


def split_cka(across: float, level: float = 0.8) -> np.ndarray:
    m = np.full((8, 8), level)
    np.fill_diagonal(m, 1.0)
    m[BEFORE, AFTER] = m[AFTER, BEFORE] = across
    return m


@pytest.mark.parametrize("across, expected", [
    (0.05, "reproduced"), (0.19, "reproduced"), (0.2, "partly"), (0.39, "partly"),
    (0.4, "not reproduced"), (0.8, "not reproduced"),
])
def test_fig8_split_is_the_absolute_level_across_the_block(across: float, expected: str) -> None:
    value = ch06.across_block(split_cka(across), LAYERS, 1)
    assert value == pytest.approx(across) and _verdict("fig8_split", value) == expected


def test_across_block_reads_only_layers_before_against_layers_after() -> None:
    m = split_cka(0.3)
    m[2:4, :] = m[:, 2:4] = 0.0  # block 1's own layers do not count
    m[0, 4] = np.nan             # a constant layer is skipped, not propagated
    assert ch06.across_block(m, LAYERS, 1) == pytest.approx(0.3)
    for block in (0, 3):
        with pytest.raises(ValueError, match=f"block {block}"):
            ch06.across_block(m, LAYERS, block)
    with pytest.raises(ValueError, match="square"):
        ch06.across_block(m[:, :7], LAYERS, 1)


def _claims(**kwargs):
    vit, res = ratios(20.0, 2.0)
    return {c.key: c for c in ch06.chapter6_claims(vit, res, 1, **kwargs)}


def test_fig8_split_is_one_claim_judged_on_the_worst_block() -> None:
    found = _claims(split=[0.1, 0.15, 0.3], split_draws=list(np.linspace(0.25, 0.35, 50)),
                    split_seeds=[0.32])
    c = found["fig8_split"]
    assert c.value == 0.3 and c.verdict == "partly" and (c.seed_low, c.seed_high) == (0.3, 0.32)
    # A seed that splits cleanly while seed 0 does not: the evidence disagrees.
    assert _claims(split=[0.3], split_draws=list(np.linspace(0.25, 0.35, 50)),
                   split_seeds=[0.12])["fig8_split"].verdict == "inconclusive"
    assert list(found) == list(ch06.DECLARATIONS)
    # A straddling interval is inconclusive; no retrained ViTs is untestable.
    assert _claims(split=[0.19], split_draws=[0.1, 0.15, 0.25, 0.3])["fig8_split"].verdict \
        == "inconclusive"
    assert _claims()["fig8_split"].verdict == "untestable here"


def test_fig8_accuracy_cost_over_seeds() -> None:
    c = _claims(accuracy_costs=[4.0, 3.5, 4.5])["fig8_accuracy"]
    assert c.value == pytest.approx(4.0) and c.verdict == "reproduced"
    assert (c.seed_low, c.seed_high) == (3.5, 4.5)
    # One seed pair at -0.2 and one at 0.4: the seeds span every bar, so inconclusive.
    mixed = _claims(accuracy_costs=[-0.2, 0.4, 2.5])["fig8_accuracy"]
    assert mixed.verdict == "inconclusive"
    low = _claims(accuracy_costs=[-0.2, 0.1, 0.3])["fig8_accuracy"]
    assert low.verdict == "not reproduced"
    assert _claims()["fig8_accuracy"].verdict == "untestable here"


def test_claims_without_cls_token_are_untestable() -> None:
    vit, res = ratios(20.0, 2.0)
    found = {c.key: c for c in ch06.chapter6_claims(vit, res, 0)}
    assert [found[k].verdict for k in ("fig7_cls_transition", "e1_cls_mlp",
                                       "e2_output_cosine")] == ["untestable here"] * 3
    assert found["fig7_ratios"].verdict == "reproduced"
