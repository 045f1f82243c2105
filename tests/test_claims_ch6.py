"""Chapter 6's claims (seelike.book.claims.ch06) on small hand-built inputs with known answers.

Skip-connection norm ratios and cosines (Figs 7, E.1, E.2) and the retrained no-skip ViTs
(Fig 8): each test builds inputs whose statistic is known by hand and checks the value
and the verdict on both sides of each bar, with draws and seeds where the chapter has them.
"""

from __future__ import annotations

import numpy as np
import pytest

from seelike.book import claims
from seelike.book.claims import ch06


def _verdict(key: str, value: float, control: float | None = None) -> str:
    c = None if control is None else claims.Measured(control)
    return ch06.DECLARATIONS[key].judge(ch06.CHAPTER, claims.Measured(value),
                                        control=c).verdict


# --- Fig 7: norm ratios, ViT versus ResNet --------------------------------------------------------


def ratios(vit: float, resnet: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """ViT ratios (4 blocks x 5 tokens, both branches) and ResNet unit ratios, all constant."""
    return ({"attn": np.full((4, 5), vit), "mlp": np.full((4, 5), vit)},
            {"unit": np.full(8, resnet)})


@pytest.mark.parametrize("vit, resnet, expected", [
    (20.0, 2.0, "reproduced"),     # an order of magnitude, as in the paper
    (4.0, 2.0, "partly"),          # exactly twice is not "> 2"
    (3.0, 2.0, "partly"),
    (2.0, 2.0, "not reproduced"),  # equal is not "> 1"
    (1.0, 4.0, "not reproduced"),
])
def test_fig7_ratio_of_medians_against_the_resnet(vit: float, resnet: float,
                                                   expected: str) -> None:
    v, r = ratios(vit, resnet)
    assert ch06.ratio_median(v) == vit and ch06.ratio_median(r) == resnet
    assert _verdict("fig7_ratios", vit, resnet) == expected


def test_fig7_ratio_is_of_medians_pooled_over_branches_and_tokens() -> None:
    vit, _ = ratios(1.0, 2.0)
    vit["attn"][:] = 100.0  # half the pooled values large: the median sits between
    vit["mlp"][0, 0] = np.nan  # a block without skips is skipped, not propagated
    assert ch06.ratio_median(vit) == pytest.approx(np.nanmedian(
        np.concatenate([vit["attn"].ravel(), vit["mlp"].ravel()])))


def cls_ratios(cls: list[float], tokens: int = 4) -> np.ndarray:
    """(blocks, tokens) ratios: CLS as given, every spatial token 1."""
    r = np.ones((len(cls), tokens))
    r[:, 0] = cls
    return r


def test_cls_contrast_first_and_second_half() -> None:
    crossing = {"attn": cls_ratios([10, 10, 0.1, 0.1])}
    assert ch06.token_contrast(crossing, 1) == pytest.approx((1.0, -1.0))
    # the control: the first spatial token in the CLS token's place, all 1s: no contrast
    assert ch06.token_contrast(crossing, 1, "pseudo", "rest") == pytest.approx((0.0, 0.0))
    with pytest.raises(ValueError, match="CLS"):
        ch06.token_contrast(crossing, 0)


def test_cls_contrast_skips_other_prefix_tokens() -> None:
    r = cls_ratios([10, 10, 0.1, 0.1], tokens=6)
    r[:, 1] = 1000.0  # a second prefix token must not count as spatial
    assert ch06.token_contrast({"attn": r}, 2) == pytest.approx((1.0, -1.0))


def test_e1_statistics_read_each_clause() -> None:
    attn = cls_ratios([10, 10, 10, 10])
    mlp = cls_ratios([10, 10, 0.1, 0.1])  # late, the MLP rewrites the CLS token
    r = {"attn": attn, "mlp": mlp}
    assert ch06.log_ratio_halves(r, 1, "cls") == pytest.approx((1.0, 0.0))
    assert ch06.attention_over_mlp_late(r, 1, "cls") == pytest.approx(2.0)
    assert ch06.attention_over_mlp_late({"attn": mlp, "mlp": attn}, 1, "cls") == \
        pytest.approx(-2.0)
    assert ch06.log_ratio_halves(r, 1, "spatial") == pytest.approx((0.0, 0.0))


def test_e2_output_contrast() -> None:
    c = np.full((4, 5), 0.9)
    c[:2, 1:] = 0.5   # early, spatial tokens change (lower cosine with the skip)
    c[2:, 0] = 0.4    # late, the CLS token changes
    early, late = ch06.cosine_contrast({"attn": c, "mlp": c}, 1)
    assert (early, -late) == pytest.approx((0.4, 0.5))
    assert _verdict("e2_output_cosine", 0.4) == "reproduced"
    same = np.full((4, 5), 0.9)
    assert ch06.cosine_contrast({"attn": same}, 1) == pytest.approx((0.0, 0.0))


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
    # the intact ViT across the same block, the control, stays high: it fails the bar
    assert value == pytest.approx(across) and _verdict("fig8_split", value, 0.8) == expected


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


def skips(vit: float = 20.0, resnet: float = 2.0, cls: list[float] | None = None
          ) -> ch06.Skips:
    v, r = ratios(vit, resnet)
    if cls is not None:
        v = {b: x * cls_ratios(cls, 5) for b, x in v.items()}
    cos = {b: np.full((4, 5), 0.9) for b in ("attn", "mlp")}
    return ch06.Skips(v, r, cos)


def _claims(**kwargs):
    return {c.key: c for c in ch06.chapter6_claims(skips(cls=[10, 10, 0.1, 0.1]), 1, **kwargs)}


def test_every_clause_is_judged_in_declaration_order() -> None:
    found = _claims()
    assert list(found) == list(ch06.DECLARATIONS)
    assert found["fig7_ratios"].verdict == "reproduced"
    assert found["fig7_cls_transition"].verdict == "reproduced"
    assert found["fig7_cls_reversed"].verdict == "reproduced"
    assert found["fig7_cls_transition"].control_value == pytest.approx(0.0)
    # both sentences of Fig 7 share a sentence id within each quote
    assert found["fig7_ratios"].sentence == found["fig7_ratios_transition"].sentence


def test_fig8_split_is_one_claim_judged_on_the_worst_block() -> None:
    split = claims.Measured(0.3, tuple(np.linspace(0.25, 0.35, 50)), (0.32,))
    intact = claims.Measured(0.8, tuple(np.linspace(0.75, 0.85, 50)), (0.81,))
    c = _claims(split=split, intact_split=intact)["fig8_split"]
    assert c.value == 0.3 and c.verdict == "partly" and (c.seed_low, c.seed_high) == (0.3, 0.32)
    # A seed that splits cleanly while seed 0 does not: the evidence disagrees.
    mixed = claims.Measured(0.3, tuple(np.linspace(0.25, 0.35, 50)), (0.12,))
    assert _claims(split=mixed, intact_split=intact)["fig8_split"].verdict == "inconclusive"
    assert _claims()["fig8_split"].verdict == "untestable here"


def test_fig8_accuracy_cost_with_its_seed_control() -> None:
    cost = claims.Measured(4.0, (3.8, 4.2), (3.5, 4.5))
    c = _claims(cost=cost, seed_cost=claims.Measured(0.2, (0.0, 0.4)))["fig8_accuracy"]
    assert c.value == pytest.approx(4.0) and c.verdict == "reproduced"
    assert (c.seed_low, c.seed_high) == (3.5, 4.5) and c.control_value == 0.2
    mixed = _claims(cost=claims.Measured(0.4, (0.3, 0.5), (-0.2, 2.5)))["fig8_accuracy"]
    assert mixed.verdict == "inconclusive"
    low = _claims(cost=claims.Measured(0.1, (0.0, 0.2), (-0.2, 0.3)))["fig8_accuracy"]
    assert low.verdict == "not reproduced"
    assert _claims()["fig8_accuracy"].verdict == "untestable here"


def test_claims_without_cls_token_are_untestable() -> None:
    found = {c.key: c for c in ch06.chapter6_claims(skips(), 0)}
    assert all(found[k].verdict == "untestable here" for k in ch06.CLS_KEYS)
    assert found["fig7_ratios"].verdict == "reproduced"
