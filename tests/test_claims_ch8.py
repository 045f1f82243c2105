"""Tests for Chapter 8's claims (paper Figs 12, 13): each statistic on matrices and
accuracies with known answers, and each verdict over bootstrap and shot draws,
inconclusive and untestable here included."""

from __future__ import annotations

import numpy as np
import pytest

from seelike import structure
from seelike.book.claims import ch08

ORDER = ["full", "data30", "data10"]


def falling(top: float = 0.95, bottom: float = 0.3, blocks: int = 9) -> np.ndarray:
    """A cross-CKA matrix whose diagonal falls linearly from ``top`` to ``bottom``."""
    return np.diag(np.linspace(top, bottom, blocks)) + 0.01


def middles(full: float, data30: float, data10: float, resnet: float = 0.3,
            draws: int = 5, spread: float = 0.0) -> dict[str, list[float]]:
    """Middle-third accuracies per shot draw; ``spread`` moves the least-data ViT's draws."""
    shift = np.linspace(-spread, spread, draws)
    return {"full": [full] * draws, "data30": [data30] * draws,
            "data10": list(data10 + shift), "resnet": [resnet] * draws}


def claims(cross: np.ndarray | None = None, boot: np.ndarray | None = None,
           mids: dict[str, list[float]] | None = None, order: list[str] = ORDER,
           floor: np.ndarray | None = None) -> dict:
    mids = mids or middles(0.6, 0.5, 0.4)
    if floor is None:
        floor = np.eye(9) * 0.95 + 0.01  # a second seed: every block alike, no fall
    found = ch08.chapter8_claims(cross, boot, None if cross is None else floor, None, mids,
                                 order, "resnet", cka_varies="cka draws",
                                 shot_varies="shot draws")
    assert [c.key for c in found] == list(ch08.DECLARATIONS)
    return {c.key: c for c in found}


def test_statistics() -> None:
    low, high = structure.diagonal_by_third(falling())
    assert ch08.lower_minus_higher(falling()) == pytest.approx(low - high) and low > high
    assert ch08.lowest_third(falling()) == pytest.approx(low)
    # Nine blocks at depths (i + 0.5) / 9: the middle third holds blocks 3, 4 and 5.
    assert ch08.middle_third(np.arange(9.0)) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="middle third"):
        ch08.middle_third(np.arange(2.0))
    assert ch08.more_data_gain([0.6, 0.65, 0.4]) == pytest.approx(0.2)
    assert ch08.smallest_step([0.6, 0.65, 0.4]) == pytest.approx(-0.05)
    with pytest.raises(ValueError, match="at least two"):
        ch08.more_data_gain([0.5])


def test_fig12_is_read_net_of_the_seed_floor() -> None:
    cross = falling()
    boot = np.stack([falling(0.95, b) for b in (0.3, 0.35, 0.4)])
    c = claims(cross, boot)["fig12_lower_similar"]
    assert c.verdict == "reproduced" and c.low < c.value and c.varies == "cka draws"
    assert c.control_value == pytest.approx(0.0)
    # Two seeds that fall as far as the data: the data add nothing beyond seed noise.
    same = claims(cross, floor=falling())["fig12_lower_similar"]
    assert same.value == pytest.approx(0.0) and same.verdict == "not reproduced"
    # The lowest third: close to the seed floor there.
    assert claims(cross)["fig12_lower_very_similar"].verdict == "reproduced"
    far = claims(falling(0.5, 0.3))["fig12_lower_very_similar"]
    assert far.verdict == "not reproduced"  # 0.5 against the floor's 0.96
    assert claims(falling(0.6, 0.55))["fig12_lower_similar"].verdict == "partly"


def test_fig13_verdicts_over_shot_draws() -> None:
    found = claims(falling())
    assert found["fig13_more_data"].verdict == "reproduced"
    assert found["fig13_more_data"].value == pytest.approx(0.2)
    assert found["fig13_every_cut"].verdict == "reproduced"
    assert found["fig13_more_data"].varies == "shot draws"
    not_monotone = claims(falling(), mids=middles(0.6, 0.65, 0.4))
    assert not_monotone["fig13_more_data"].verdict == "reproduced"
    assert not_monotone["fig13_every_cut"].verdict == "not reproduced"
    assert not not_monotone["fig13_every_cut"].paper
    assert claims(falling(), mids=middles(0.6, 0.59, 0.59))["fig13_more_data"].verdict == \
        "partly"
    assert claims(falling(), mids=middles(0.4, 0.5, 0.6))["fig13_more_data"].verdict == \
        "not reproduced"
    # Draws of the least-data ViT from 0.35 to 0.65: the gain straddles every bar.
    wide = claims(falling(), mids=middles(0.6, 0.55, 0.5, spread=0.15))["fig13_more_data"]
    assert wide.low < 0 < ch08.PROBE_MARGIN < wide.high and wide.verdict == "inconclusive"


def test_only_the_clauses_about_larger_models_are_untestable() -> None:
    found = claims(falling())
    assert found["fig12_larger_models"].verdict == "untestable here"
    assert found["fig13b_larger"].verdict == "untestable here"
    assert np.isnan(found["fig12_larger_models"].value)
    vit_vs_resnet = found["fig13b_vit_vs_resnet"]  # measured: the ViT against the ResNet
    assert vit_vs_resnet.value == pytest.approx(0.3) and vit_vs_resnet.verdict == "reproduced"
    weaker = claims(falling(), mids=middles(0.3, 0.25, 0.2, resnet=0.45))
    assert weaker["fig13b_vit_vs_resnet"].verdict == "not reproduced"


def test_fig13b_shows_the_other_seeds() -> None:
    mids = middles(0.6, 0.5, 0.4) | {"vit1": [0.5] * 5, "res1": [0.55] * 5}
    found = {c.key: c for c in ch08.chapter8_claims(
        falling(), None, falling(), None, mids, ORDER, "resnet", seed_pairs=[("vit1", "res1")])}
    c = found["fig13b_vit_vs_resnet"]
    assert c.seeds == "-0.05" and c.verdict == "inconclusive"


def test_without_less_data_vits_the_data_claims_are_untestable() -> None:
    found = claims(None, None, {"full": [0.6] * 3, "resnet": [0.4] * 3}, ["full"])
    untestable = {k for k, c in found.items() if c.verdict == "untestable here"}
    assert untestable == set(found) - {"fig13b_vit_vs_resnet"}
    assert np.isnan(found["fig13_more_data"].value)


def test_one_draw_has_no_interval_and_draws_must_agree() -> None:
    found = claims(falling(), mids=middles(0.6, 0.5, 0.4, draws=1))
    assert np.isnan(found["fig13_more_data"].low)
    assert found["fig13_more_data"].verdict == "reproduced"
    mids = middles(0.6, 0.5, 0.4)
    mids["resnet"] = mids["resnet"][:2]
    with pytest.raises(ValueError, match="same, non-zero number"):
        claims(falling(), mids=mids)
