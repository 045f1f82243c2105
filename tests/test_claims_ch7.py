"""Tests for Chapter 7's claims (paper Figs 9-11, D.2, D.3, appendix F): each statistic on
hand-built CKA maps and probe accuracies with known answers, each verdict (inconclusive
included) over bootstrap and shot draws, and the draws themselves: token-to-patch CKA's
bootstrap and the plan's independent 10-shot probe training sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from seelike import passes
from seelike.analyses import TokenPatchCKA
from seelike.book import plan, roles, schedule, store
from seelike.book.claims import ch07
from seelike.book.images import probe_set
from seelike.book.presets import get_preset
from seelike.localization import (
    border,
    edge_preference,
    interior,
    layer_matrix,
    own_margin,
    own_other_contrast,
)
from seelike.probe_sets import TensorProbe

GRID = (4, 4)


def peaked(own: float, other: float, n: int = 16) -> np.ndarray:
    """An n x n token-to-patch map: ``own`` on the diagonal, ``other`` elsewhere."""
    return np.full((n, n), other) + np.eye(n) * (own - other)


def edge_loving(n_side: int = 4, edge: float = 0.5, rest: float = 0.1) -> np.ndarray:
    """Own patch 1; edge tokens at ``edge`` with every edge patch, ``rest`` elsewhere."""
    mask = border((n_side, n_side))
    m = np.full((n_side ** 2, n_side ** 2), rest)
    m[np.ix_(mask, mask)] = edge
    np.fill_diagonal(m, 1.0)
    return m


# ---- the statistics -----------------------------------------------------------------------------


def test_every_claim_is_declared_once_in_the_order_the_functions_return() -> None:
    assert list(ch07.DECLARATIONS) == [*ch07.LOCALIZATION_KEYS, *ch07.PROBE_KEYS]
    assert all(d.paper for d in ch07.DECLARATIONS.values())


def test_own_other_contrast_is_the_height_of_the_own_patch_peak() -> None:
    assert own_other_contrast(peaked(0.9, 0.1)) == pytest.approx(0.8)
    m = peaked(0.9, 0.1)
    m[0, 0] = 0.1  # token 0 loses its peak
    assert own_other_contrast(m, [0]) == pytest.approx(0.0)
    assert own_other_contrast(m) == pytest.approx(0.8 * 15 / 16)
    m[1, 5] = np.nan  # NaN similarities are skipped, not propagated
    assert own_other_contrast(m, [1]) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="square"):
        own_other_contrast(np.ones((2, 3)))


def test_edge_preference_compares_other_edge_patches_with_interior_ones() -> None:
    assert border(GRID).sum() == 12 and not border(GRID)[5]
    assert edge_preference(edge_loving(), GRID) == pytest.approx(0.4)
    # The own patch is left out: a perfectly localized map prefers nothing.
    assert edge_preference(np.eye(16), GRID) == pytest.approx(0.0)
    assert np.isnan(edge_preference(np.eye(4), (2, 2)))  # no interior patch to compare with
    with pytest.raises(ValueError, match="positions"):
        edge_preference(np.eye(9), GRID)


def test_own_margin_is_the_gap_to_the_best_other_patch() -> None:
    assert own_margin(peaked(0.9, 0.1)) == pytest.approx(0.8)
    m = peaked(0.9, 0.1)
    m[0, 3] = 1.0  # token 0's best other patch beats its own by 0.1
    assert own_margin(m, [0]) == pytest.approx(-0.1)


def test_fig10_contrast_separates_peaks_that_a_rank_cannot() -> None:
    sharp, dim = peaked(0.9, 0.1), peaked(0.4, 0.2)  # both own patches come first
    assert ch07._rank(sharp) == ch07._rank(dim) == 0.0
    inside = interior(GRID)
    assert own_other_contrast(dim, inside) - own_other_contrast(sharp, inside) == \
        pytest.approx(-0.6)


# ---- localization claims over bootstrap draws --------------------------------------------------


def result(layers: list[np.ndarray], boot: list[list[np.ndarray]] | None = None) -> dict:
    """A TokenPatchCKA-like result of square layers, NaN-padded to the largest grid."""
    size = max(len(m) for m in layers)
    cka = np.full((len(layers), size, size), np.nan)
    for i, m in enumerate(layers):
        cka[i, :len(m), :len(m)] = m
    side = [int(np.sqrt(len(m))) for m in layers]
    out = {"cka": cka, "grid": np.array([[s, s] for s in side])}
    if boot is not None:
        stack = np.full((len(boot), len(layers), size, size), np.nan)
        for k, draw in enumerate(boot):
            for i, m in enumerate(draw):
                stack[k, i, :len(m), :len(m)] = m
        out["boot"] = stack
    return out


def models(gap_final: np.ndarray, gap_draws: list[np.ndarray] | None = None
           ) -> tuple[dict, dict, dict]:
    """CLS ViT (two sharp 4 x 4 blocks, edge-loving), GAP ViT, ResNet (middle 4 x 4, final
    2 x 2 at chance), each with draws equal to the point except the GAP ViT's final block."""
    cls_layers = [edge_loving(), edge_loving()]
    res_layers = [peaked(0.5, 0.1), np.full((4, 4), 0.3)]
    gap_layers = [peaked(0.6, 0.1), gap_final]
    if gap_draws is None:
        return result(cls_layers), result(gap_layers), result(res_layers)
    n = len(gap_draws)
    return (result(cls_layers, [cls_layers] * n),
            result(gap_layers, [[gap_layers[0], g] for g in gap_draws]),
            result(res_layers, [res_layers] * n))


def test_localization_claims_on_clean_maps_are_reproduced() -> None:
    cls, gap, res = models(peaked(0.4, 0.2), [peaked(0.4, 0.2)] * 3)
    found = ch07.localization_claims(cls, gap, res, 0, varies="3 draws")
    assert [c.key for c in found] == list(ch07.LOCALIZATION_KEYS)
    by = {c.key: c for c in found}
    assert all(c.verdict == "reproduced" for c in found), [(c.key, c.verdict) for c in found]
    assert by["fig9_edge_tokens"].value == pytest.approx(0.4)
    # the control puts the patches in a random order: the edge preference vanishes
    assert abs(by["fig9_edge_tokens"].control_value) < 0.2
    assert by["fig9_vit_localized"].control_value < 0.5
    assert by["fig9_vit_localized"].margin == pytest.approx(0.9)  # own 1, the rest 0.1
    # Interior tokens: GAP ViT 0.4 - 0.2, against the CLS ViT's 1 - 0.1.
    assert by["fig10_gap_less_localized"].value == pytest.approx(-0.7)
    assert by["fig10_gap_less_localized"].low == pytest.approx(-0.7)
    assert by["d3_resnet_middle_better"].value == pytest.approx(-0.5)
    assert all(c.varies == "3 draws" and c.chapter == "07_localization" for c in found)


def test_a_fig10_interval_that_straddles_zero_is_inconclusive() -> None:
    # The point says less localized; half the resamplings make the GAP ViT sharper.
    draws = [peaked(0.4, 0.2)] * 10 + [peaked(1.0, 0.0)] * 10
    found = {c.key: c for c in ch07.localization_claims(*models(peaked(0.4, 0.2), draws), -2)}
    claim = found["fig10_gap_less_localized"]
    assert claim.value < 0 and claim.low < 0 < claim.high
    assert claim.verdict == "inconclusive"
    # Wholly on the wrong side: a GAP ViT sharper than the CLS ViT in every draw.
    found = {c.key: c for c in ch07.localization_claims(
        *models(peaked(1.0, 0.0), [peaked(1.0, 0.0)] * 4), 0)}
    assert found["fig10_gap_less_localized"].verdict == "not reproduced"


def test_without_draws_a_claim_has_no_interval_and_middle_must_be_below_the_final() -> None:
    cls, gap, res = models(peaked(0.4, 0.2))
    found = ch07.localization_claims(cls, gap, res, 0, permutations=20)
    assert all(np.isnan(c.low) and np.isnan(c.high) for c in found)
    assert found[1].verdict == "reproduced"
    for bad in (1, -1, 2, -3):
        with pytest.raises(ValueError, match="below the final"):
            ch07.localization_claims(cls, gap, res, bad)


def test_partly_localized_tokens_and_seed_values() -> None:
    m = edge_loving()
    m[5, 6] = 1.5  # one interior token of four prefers a neighbour: 3/4 is not above 0.75
    cls = result([m, m])
    _, gap, res = models(peaked(0.4, 0.2))
    found = {c.key: c for c in ch07.localization_claims(cls, gap, res, 0, permutations=20)}
    assert found["fig9_vit_localized"].value == 0.75
    assert found["fig9_vit_localized"].verdict == "partly"
    clean = models(peaked(0.4, 0.2))
    seeded = {c.key: c for c in ch07.localization_claims(cls, gap, res, 0, permutations=20,
                                                         seeds=[clean])}
    assert seeded["fig9_vit_localized"].seeds == "1"
    # seed 0 partly, the other seed reproduced: the seed spread straddles the pass bar
    assert seeded["fig9_vit_localized"].verdict == "inconclusive"


# ---- probe claims over shot draws ---------------------------------------------------------------


def accuracies(token_last: float = 0.2, cls_last: float = 0.6, gap: float = 0.6,
               first_token: float | None = None, blocks: int = 6) -> dict[str, np.ndarray]:
    """A probe_accuracies-like dict: flat curves except the last block's values."""
    token = np.full((blocks, 4), 0.3)
    token[-1] = token_last
    if first_token is not None:
        token[-1, 0] = first_token
    return {"token": token, "token_mean": token.mean(axis=1),
            "cls": np.r_[np.full(blocks - 1, 0.5), cls_last],
            "gap": np.r_[np.full(blocks - 1, 0.5), gap]}


def test_probe_statistics() -> None:
    curve = np.array([0.1, 0.1, 0.3, 0.3, 0.5, 0.6])
    assert ch07.gain(curve) == pytest.approx(0.5)
    assert ch07.early_gap(curve, curve + 0.2) == pytest.approx(-0.2)
    assert ch07.on_par(curve, curve + 0.05) == pytest.approx(0.05)
    # Middle third of 6 blocks: blocks 2 and 3.
    assert ch07.plateau(curve) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="third"):
        ch07.plateau(np.array([0.1, 0.2]))


def test_probe_claims_verdicts_over_shot_draws() -> None:
    cls = [accuracies(0.2, 0.62, 0.5)] * 5
    gap = [accuracies(0.5, gap=0.6, first_token=0.58)] * 5
    res = [accuracies(0.25)] * 5  # per-token gap to the CLS ViT: 0.05, partly
    found = {c.key: c for c in ch07.probe_claims(cls, gap, res, varies="5 draws")}
    assert list(found) == list(ch07.PROBE_KEYS)
    assert found["fig11_token_probes_gap"].verdict == "reproduced"
    assert found["fig11_token_probes_resnet"].verdict == "partly"
    assert found["fig11_token_probes_resnet"].control_value == pytest.approx(0.2)
    assert found["fig11_native_probes"].verdict == "reproduced"
    assert found["fig11b_gap_token"].verdict == "reproduced"
    assert found["appf_cls_pool_plateau"].value == pytest.approx(0.12)
    # A ResNet whose tokens beat the CLS ViT's on some draws and lose on others.
    mixed = [accuracies(t) for t in (0.1, 0.15, 0.3, 0.35, 0.4)]
    claim = {c.key: c for c in ch07.probe_claims(cls, gap, mixed)}["fig11_token_probes_resnet"]
    assert claim.low < 0 < claim.high and claim.verdict == "inconclusive"
    # Native probes far apart on every draw.
    far = {c.key: c for c in ch07.probe_claims([accuracies(cls_last=0.9)] * 2, gap[:2],
                                               res[:2])}
    assert far["fig11_native_probes"].verdict == "not reproduced"
    # Seed values: one per other seed, each the mean over its draws.
    seeded = {c.key: c for c in ch07.probe_claims(cls, gap, res, seeds=[(cls, gap, mixed)])}
    assert seeded["fig11_token_probes_resnet"].seeds == "0.06"


def test_one_shot_draw_gives_no_interval_and_models_must_share_draws() -> None:
    found = ch07.probe_claims([accuracies()], [accuracies(0.5)], [accuracies(0.5)])
    assert all(np.isnan(c.low) for c in found)
    with pytest.raises(ValueError, match="same, non-zero number"):
        ch07.probe_claims([accuracies()] * 2, [accuracies()] * 3, [accuracies()] * 2)
    with pytest.raises(ValueError, match="same, non-zero number"):
        ch07.probe_claims([], [], [])


# ---- where the draws come from ------------------------------------------------------------------


class _TwoTaps(nn.Module):
    """A 'CNN' whose 4 x 4 output map is its 8-px input patches, tapped twice."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = nn.Identity()
        self.net = nn.Sequential()
        self.net.add_module("unshuffle", nn.PixelUnshuffle(8))
        self.net.add_module("noisy", nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def test_token_patch_cka_keeps_bootstrap_draws_that_resample_every_layer_alike() -> None:
    torch.manual_seed(0)
    probe = TensorProbe(torch.rand(48, 3, 32, 32))
    analysis = TokenPatchCKA("m", ("net.unshuffle", "net.noisy"), bootstrap=30)
    assert analysis.params()["bootstrap"] == 30
    (out,) = passes.run([analysis], {"m": _TwoTaps()}, probe, batch_size=16)
    assert out["boot"].shape == (30, 2, 16, 16)
    for k in (0, 29):
        draw = layer_matrix(out, 0, k)
        np.testing.assert_allclose(np.diag(draw), 1.0, atol=1e-5)
        # Identical layers, the same resampled examples: the same draw.
        np.testing.assert_allclose(draw, layer_matrix(out, 1, k), atol=1e-6)
    off = ~np.eye(16, dtype=bool)
    spread = out["boot"][:, 0][:, off].std(axis=0)
    assert spread.mean() > 1e-3  # the draws do move the off-diagonal CKA
    (plain,) = passes.run([TokenPatchCKA("m", ("net.unshuffle",))], {"m": _TwoTaps()}, probe,
                          batch_size=16)
    assert "boot" not in plain
    with pytest.raises(KeyError, match="bootstrap"):
        layer_matrix(plain, 0, 0)


def test_the_plan_keeps_bootstrap_draws_for_every_localization_analysis() -> None:
    assert all(a.bootstrap == plan.BOOTSTRAP for a in plan.localization(get_preset("cifar")))


def test_shot_draws_are_the_claims_few_shot_sets_only() -> None:
    assert plan.SHOT_DRAWS >= 5
    assert plan.shot_draws(10) == list(range(plan.SHOT_DRAWS))
    assert plan.shot_draws(500) == [0]  # the full probe set beside the claims' probes
    assert plan.shot_draws(20, claims_shots=20) == list(range(plan.SHOT_DRAWS))


def test_each_shot_draw_is_an_independent_probe_set_fitted_and_evaluated_apart(
        mirror: Path) -> None:
    smoke, cifar = get_preset("smoke"), get_preset("cifar")
    sets = [probe_set(smoke, "probe_train", seed=d) for d in plan.shot_draws(10)]
    assert all(len(s) == 100 for s in sets)
    ids = [set(s.ids) for s in sets]
    assert all(len(a & b) < 10 for i, a in enumerate(ids) for b in ids[i + 1:])
    # Every draw's fit is planned on its own probe set; the full cifar set has one draw.
    for d in plan.shot_draws(10):
        planned = schedule.analyses(smoke, "probe_train", repeat=d)
        assert {a.model for a in planned} == set(roles.probe_models(smoke))
        assert all(a.classes == len(np.unique(sets[d].labels)) for a in planned)
    assert schedule.analyses(smoke, "probe_train", repeat=plan.SHOT_DRAWS) == []
    assert schedule.analyses(cifar, "probe_train", repeat=1) == []
    assert schedule.analyses(plan.with_shots(cifar, 10), "probe_train", repeat=1)
    # Each draw's fit has its own identity, which the evaluation's cache key carries.
    fit = plan.probe_fit(smoke, smoke.vit)
    assert len({store.result_id(smoke, fit, purpose="probe_train", batch_size=32, repeat=d)
                for d in plan.shot_draws(10)}) == \
        plan.SHOT_DRAWS
