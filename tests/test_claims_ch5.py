"""Tests for Chapter 5's claims (paper Figs 3-6, C.4) on hand-built inputs with known
answers, and for the per-example measurements their intervals are resampled from."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seelike import models, network, passes, resample
from seelike import receptive_field as rf
from seelike.analyses import AttentionDistances, HeadSubsetCKA
from seelike.attention import attention_distances
from seelike.book import claims
from seelike.book.claims import ch05
from seelike.probe_sets import TensorProbe

U = 10.0  # the uniform-attention distance of the hand-built models: local means < 5


def distances(low: list[list[float]], high: list[list[float]],
              middle: float = 8.0) -> np.ndarray:
    """(blocks, heads): the two lowest blocks, two middle blocks at ``middle``, the two highest."""
    heads = len(low[0])
    return np.array([*low, *[[middle] * heads] * 2, *high], dtype=float)


MIXED_LOW = [[2.0, 9.0, 10.0], [3.0, 8.0, 10.0]]       # 2 of 6 heads local
GLOBAL_LOW = [[6.0, 9.0, 10.0], [7.0, 8.0, 10.0]]      # no local head
GLOBAL_HIGH = [[9.0, 10.0, 10.0], [6.0, 10.0, 10.0]]   # all >= U/2, smallest 6


# --- the declarations ---------------------------------------------------------------------------


def test_every_declaration_quotes_the_paper_names_a_control_and_states_a_reason() -> None:
    decls = ch05.DECLARATIONS
    assert list(decls)[:4] == ["fig3_low_mix", "fig3_high_global", "fig4_less_data",
                               "fig4_accuracy"]
    for d in decls.values():
        assert d.paper and d.quote and d.reason and d.where and d.control
    assert decls["fig3_high_global"].quote == (
        "At higher layers, all self-attention heads are global.")
    assert decls["fig6_vit_global_midway"].quote.endswith("midway through the network.")
    assert decls["fig6_centre_patch"].threshold == "> 10 (partly > 3)"
    # Fig 6's body sentence is one sentence of three clauses
    assert {decls[k].sentence for k in ("fig6_vit_wider_early", "fig6_resnet_gradual",
                                        "fig6_vit_global_midway")} == {"fig6_vit_wider_early"}
    assert decls["appc_mlp_pre_residual"].figure == "Fig C.4"


# --- resampling -----------------------------------------------------------------------------------


def test_resample_weights_draw_n_examples_with_replacement_reproducibly() -> None:
    w = resample.multinomial_weights(7, 50)
    assert w.shape == (50, 7) and (w.sum(axis=1) == 7).all() and (w >= 0).all()
    assert (w == 0).any()                                   # some examples left out
    np.testing.assert_array_equal(w, resample.multinomial_weights(7, 50))
    assert not np.array_equal(w, resample.multinomial_weights(7, 50, seed=1))
    with pytest.raises(ValueError, match="at least one"):
        resample.multinomial_weights(0, 5)


def test_resampled_means_weigh_examples() -> None:
    x = np.arange(12.0).reshape(3, 2, 2)                   # 3 examples of (2, 2)
    w = np.array([[1.0, 1.0, 1.0], [3.0, 0.0, 0.0], [0.0, 1.0, 2.0]])
    m = resample.weighted_means(x, w)
    np.testing.assert_allclose(m[0], x.mean(axis=0))
    np.testing.assert_allclose(m[1], x[0])
    np.testing.assert_allclose(m[2], (x[1] + 2 * x[2]) / 3)
    with pytest.raises(ValueError, match="weights"):
        resample.weighted_means(x, w[:, :2])


# --- local heads and Fig 3 ----------------------------------------------------------------------


def test_local_heads_cut_at_half_the_uniform_distance() -> None:
    assert ch05.local_heads(np.array([4.9, 5.0, 9.0]), U).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="positive"):
        ch05.local_heads(np.array([1.0]), 0.0)
    assert ch05.lowest_local_count(distances(MIXED_LOW, GLOBAL_HIGH), U) == 2
    assert ch05.lowest_local_count(distances(GLOBAL_LOW, [[1.0] * 3] * 2), U) == 0


def test_fig3_statistics() -> None:
    d = distances(MIXED_LOW, GLOBAL_HIGH)
    assert ch05.low_mix(d, U) == pytest.approx(2 / 6)      # the rarer kind: local
    all_local = distances([[1.0, 1.1, 1.2], [1.0, 1.0, 4.0]], GLOBAL_HIGH)
    assert ch05.low_mix(all_local, U) == 0.0
    mostly_local = distances([[1.0, 1.1, 9.0], [1.0, 1.0, 4.0]], GLOBAL_HIGH)
    assert ch05.low_mix(mostly_local, U) == pytest.approx(1 / 6)  # the rarer kind: global
    assert ch05.high_global(d, U) == pytest.approx(0.6)
    assert ch05.local_margin(d, U) == pytest.approx(0.5 - 0.2)   # the 2-px head
    assert ch05.local_margin(distances(GLOBAL_LOW, GLOBAL_HIGH), U) == pytest.approx(-0.1)
    assert ch05.smallest_distance(d, U, "low") == pytest.approx(0.2)
    with pytest.raises(ValueError, match="blocks, heads"):
        ch05.low_mix(np.array([1.0, 2.0]), U)
    with pytest.raises(ValueError, match="positive"):
        ch05.high_global(d, 0.0)


def test_fig3_reproduced_with_local_heads_low_and_none_high() -> None:
    least = distances(GLOBAL_LOW, GLOBAL_HIGH)             # the control: no local head
    mix, high = ch05.attention_claims(distances(MIXED_LOW, GLOBAL_HIGH), U, least=least)
    assert (mix.key, high.key) == ("fig3_low_mix", "fig3_high_global")
    assert mix.chapter == ch05.CHAPTER and mix.figure == "Fig 3"
    assert mix.verdict == "reproduced" and high.verdict == "reproduced"
    assert mix.control_value == 0.0 and mix.reading == "the control fails the bar"
    assert high.control_value == pytest.approx(0.2)        # the lowest blocks: local


def test_fig3_measured_and_failed_without_a_local_head_in_the_lowest_blocks() -> None:
    # Every head global: no mix, a measured failure, never "untestable here".
    d = distances(GLOBAL_LOW, GLOBAL_HIGH)
    mix, high = ch05.attention_claims(d, U, draws=np.stack([d, d + 0.1]))
    assert mix.verdict == "not reproduced" and mix.value == 0.0
    assert mix.margin == pytest.approx(-0.1) and mix.low == mix.high == 0.0
    # The top is all global, but so is the bottom (the control clears the bar): the top
    # does not beat it, so this measurement cannot decide the sentence.
    assert high.value == pytest.approx(0.6) and "clears" in high.reading
    assert high.verdict == "inconclusive"


def test_fig3_not_reproduced_when_all_lowest_heads_are_local_or_a_top_head_is() -> None:
    all_local = distances([[1.0, 1.1, 1.2], [1.0, 1.0, 4.0]], [[4.0, 10.0, 10.0]] * 2)
    mix, high = ch05.attention_claims(all_local, U)
    assert mix.verdict == "not reproduced" and high.verdict == "not reproduced"


def test_fig3_inconclusive_when_the_draws_or_seeds_straddle_the_bar() -> None:
    d = distances(MIXED_LOW, GLOBAL_HIGH)
    local_top = distances(MIXED_LOW, [[4.0, 10.0, 10.0], [9.0, 10.0, 10.0]])
    draws = np.stack([d] * 10 + [local_top] * 10)          # half the draws: a local top head
    _, high = ch05.attention_claims(d, U, draws=draws, varies="20 draws")
    assert high.low == pytest.approx(0.4) and high.high == pytest.approx(0.6)
    assert high.verdict == "inconclusive" and high.varies == "20 draws"
    _, high = ch05.attention_claims(d, U, seeds=[local_top])
    assert (high.seed_low, high.seed_high) == pytest.approx((0.4, 0.6))
    assert high.seeds == "0.4" and high.verdict == "inconclusive"


# --- Fig 4 ---------------------------------------------------------------------------------------


def test_fig4_statistics() -> None:
    full = distances(MIXED_LOW, GLOBAL_HIGH)               # 2 local heads low, mean 7
    assert ch05.local_head_ratio(full, distances(GLOBAL_LOW, GLOBAL_HIGH), U) == 0.0
    one = distances([[2.0, 9.0, 10.0], [6.0, 8.0, 10.0]], GLOBAL_HIGH)
    assert ch05.local_head_ratio(full, one, U) == pytest.approx(0.5)
    assert math.isnan(ch05.local_head_ratio(distances(GLOBAL_LOW, GLOBAL_HIGH), full, U))


@pytest.mark.parametrize(("less_low", "expected"), [
    (GLOBAL_LOW, "reproduced"),                            # every local head lost
    ([[2.0, 9.0, 10.0], [6.0, 8.0, 10.0]], "partly"),      # half of them: fewer, not most
    ([[2.0, 9.5, 10.0], [3.0, 9.5, 10.0]], "not reproduced"),  # both kept
])
def test_fig4_less_data(less_low: list[list[float]], expected: str) -> None:
    full = distances(MIXED_LOW, GLOBAL_HIGH)
    c = ch05.less_data_claim(full, distances(less_low, GLOBAL_HIGH), U, other_seed=full)
    assert c.figure == "Fig 4" and c.control_value == 1.0  # a seed keeps every local head
    assert c.verdict == expected


def test_fig4_untestable_only_where_the_ratio_cannot_be_computed() -> None:
    full = distances(GLOBAL_LOW, GLOBAL_HIGH)
    less = distances([[9.0] * 3] * 2, GLOBAL_HIGH)
    c = ch05.less_data_claim(full, less, U, draws=(np.stack([full] * 3), np.stack([less] * 3)))
    assert c.verdict == "untestable here" and math.isnan(c.value) and "0 / 0" in c.reading
    c = ch05.less_data_claim(full, None, U)
    assert c.verdict == "untestable here" and c.key == "fig4_less_data"


def test_fig4_inconclusive_when_draws_straddle() -> None:
    full = distances(MIXED_LOW, GLOBAL_HIGH)
    gone, kept = distances(GLOBAL_LOW, GLOBAL_HIGH), full
    c = ch05.less_data_claim(full, gone, U,
                             draws=(np.stack([full] * 4), np.stack([gone, gone, kept, kept])))
    assert c.value == 0.0 and c.verdict == "inconclusive"


def test_fig4_accuracy_is_a_paired_difference_over_test_images() -> None:
    rng = np.random.default_rng(0)
    full = rng.random(1000) < 0.8
    least = full & (rng.random(1000) < 0.7)                # about 24 points worse
    seed = full ^ (rng.random(1000) < 0.01)                # about the same
    weights = resample.multinomial_weights(1000, 50)
    c = ch05.accuracy_claim(full, least, seed, weights)
    assert c.value == pytest.approx(100 * (full.mean() - least.mean()))
    assert c.low < c.value < c.high and c.verdict == "reproduced"
    assert abs(c.control_value) < 2
    assert ch05.accuracy_claim(None, least, None, None).verdict == "untestable here"


# --- Fig 5 ---------------------------------------------------------------------------------------


def test_spearman_known_values() -> None:
    assert ch05._spearman(np.arange(5), np.arange(5)[::-1]) == pytest.approx(-1.0)
    # ranks 1 2 3 5 4 against 1 2 3 4 5: 1 - 6 * 2 / (5 * 24) = 0.9
    assert ch05._spearman(np.arange(5), np.array([1.0, 2, 3, 5, 4])) == pytest.approx(0.9)
    # ties share their average rank: [1.5, 1.5, 3] against [1, 2, 3]
    assert ch05._spearman(np.arange(3), np.array([1.0, 1.0, 2.0])) == pytest.approx(
        np.sqrt(3) / 2)
    assert np.isnan(ch05._spearman(np.arange(4), np.ones(4)))


D5 = np.array([1.0, 2.0, 3.0, 4.0, 5.0])                  # subset distances; U/2 = 5
FALLING = np.column_stack([5 - D5, 0.1 * (5 - D5) ** 2])   # both strictly decreasing


def test_fig5_similarity_falls_statistic() -> None:
    assert ch05.similarity_falls(D5, FALLING) == pytest.approx(-1.0)
    assert ch05.similarity_falls(D5, np.column_stack([5 - D5, [1.0, 2, 3, 5, 4]])) == (
        pytest.approx((-1.0 + 0.9) / 2))
    with pytest.raises(ValueError, match="subsets"):
        ch05.similarity_falls(D5, FALLING[:4])


def test_fig5_local_most_similar_statistic() -> None:
    assert ch05.local_most_similar(D5, FALLING) == pytest.approx(((4 - 3) + (1.6 - 0.9)) / 2)
    assert ch05.local_most_similar(D5, np.column_stack([D5, D5])) < 0
    with pytest.raises(ValueError, match="subsets"):
        ch05.local_most_similar(D5[:1], FALLING[:1])


@pytest.mark.parametrize(("cka", "expected"), [
    (FALLING, "reproduced"),
    (np.column_stack([D5, D5]), "not reproduced"),
])
def test_fig5_verdicts_with_the_shuffled_control(cka: np.ndarray, expected: str) -> None:
    found = ch05.subsets_claims(D5, cka, permutations=60)
    assert [c.key for c in found] == ["fig5_local_most_similar", "fig5_similarity_falls"]
    assert found[1].verdict == expected
    # the control shuffles the subsets' order: its Spearman centres on 0
    assert abs(found[1].control_value) < 0.3


def test_fig5_is_measured_among_global_heads_too() -> None:
    c = ch05.subsets_claims(D5 + 4, FALLING, permutations=60)[1]  # every subset global
    assert c.value == pytest.approx(-1.0) and c.verdict == "reproduced"


def test_fig5_seed_values_and_draws() -> None:
    draws = np.stack([FALLING] * 10 + [np.column_stack([D5, D5])] * 10)
    c = ch05.subsets_claims(D5, FALLING, draws=draws, seeds=[(D5, FALLING)])[1]
    assert (c.low, c.high) == pytest.approx((-1.0, 1.0)) and c.verdict == "inconclusive"
    assert c.seeds == "-1"


# --- Fig 6, C.1, C.4 -----------------------------------------------------------------------------


def summary(**changes: object) -> ch05.ErfSummary:
    """A hand-built ERF summary: 6 ViT blocks, a stem and 6 ResNet units, 64 patches, on a
    32-px image (a uniform map's spread about 13 px): every Fig 6 and C.4 clause holds."""
    values = dict(vit_spread=np.array([3.0, 11, 10, 10, 10, 10]),
                  vit_pre_spread=np.array([6.0, 10, 11, 12, 12, 12]),
                  resnet_spread=np.array([1.0, 1.5, 1.8, 2.0, 2.5, 3.0, 3.5]),
                  resnet_pre_spread=np.array([1.4, 1.7, 2.0, 2.4, 2.9, 3.4]),
                  attn_post=np.array([0.7, 0.5, 0.4, 0.3, 0.25, 0.2]),
                  attn_pre=np.array([0.1, 0.1, 0.05, 0.05, 0.05, 0.05]),
                  mlp_post=np.array([0.7, 0.5, 0.4, 0.3, 0.25, 0.2]),
                  mlp_pre=np.array([0.63, 0.5, 0.4, 0.3, 0.25, 0.22]), patches=64,
                  uniform_spread=13.0)
    return ch05.ErfSummary(**(values | changes))


def test_fig6_statistics_on_a_hand_built_summary() -> None:
    s = summary()
    stat = {k: f(s) for k, (f, _) in ch05.ERF_STATISTICS.items()}
    control = {k: c(s) for k, (_, c) in ch05.ERF_STATISTICS.items()}
    assert (stat["fig6_vit_wider_early"], control["fig6_vit_wider_early"]) == (3.0, 1.5)
    assert ch05.resnet_grows(s) == 1.0 and ch05.vit_grows(s) == pytest.approx(0.2)
    # middle third of 6 layers: depth fractions 5/12 and 7/12, blocks 2 and 3
    assert ch05.middle_third(s.vit_spread).tolist() == [10.0, 10.0]
    assert stat["fig6_centre_patch"] == pytest.approx(0.2 * 64)
    assert control["fig6_centre_patch"] == pytest.approx(0.05 * 64)
    assert stat["appc_mlp_pre_residual"] == pytest.approx((0.1 + 0.1) / 6)
    assert stat["fig6_vit_local_to_global"] == pytest.approx(min(1 / 3 - 3 / 13, 10 / 13 - 0.5))
    assert ch05.resnet_smallest_step(s) == pytest.approx(0.2 / np.mean(s.resnet_spread))
    with pytest.raises(ValueError, match="two spreads"):
        ch05.resnet_grows(summary(resnet_spread=np.array([1.0])))
    with pytest.raises(ValueError, match="middle third"):
        ch05.middle_third(np.array([1.0, 2.0]))           # depth fractions 1/4 and 3/4


def test_fig6_claims_reproduced_on_the_hand_built_summary() -> None:
    found = ch05.receptive_field_claims(summary())
    assert [c.key for c in found] == list(ch05.ERF_STATISTICS)
    assert {c.key: c.verdict for c in found if c.verdict != "reproduced"} == {}


@pytest.mark.parametrize(("changes", "key", "expected"), [
    (dict(vit_spread=np.array([1.0, 11, 10, 10, 10, 10])), "fig6_vit_wider_early",
     "not reproduced"),
    (dict(resnet_spread=np.array([1.0, 2, 1.5, 2.2, 2.5, 3.0, 3.5])), "fig6_resnet_grows",
     "partly"),
    (dict(vit_spread=np.array([5.0, 11, 10, 10, 10, 10])), "fig6_vit_local_to_global",
     "not reproduced"),                                   # the first map is not local
    (dict(attn_post=np.array([0.7, 0.5, 0.4, 0.3, 0.25, 0.1])), "fig6_centre_patch", "partly"),
    (dict(mlp_pre=np.array([0.35, 0.25, 0.2, 0.15, 0.1, 0.1])), "appc_mlp_pre_residual",
     "not reproduced"),                                    # half the share: does not resemble
])
def test_fig6_claims_fail_where_their_statistic_does(changes: dict, key: str,
                                                      expected: str) -> None:
    found = {c.key: c for c in ch05.receptive_field_claims(summary(**changes))}
    assert found[key].verdict == expected


def test_fig6_centre_patch_inconclusive_over_draws_and_seeds() -> None:
    weak = summary(attn_post=np.array([0.7, 0.5, 0.4, 0.3, 0.25, 0.15]))   # 9.6: partly
    found = ch05.receptive_field_claims(summary(), draws=[summary(), weak],
                                        seeds=[summary()], varies="2 draws")
    centre = {c.key: c for c in found}["fig6_centre_patch"]
    assert centre.verdict == "inconclusive" and centre.varies == "2 draws"
    found = ch05.receptive_field_claims(summary(), seeds=[weak])
    assert {c.key: c for c in found}["fig6_centre_patch"].verdict == "inconclusive"


def test_erf_summary_from_moments_and_its_draws() -> None:
    rng = np.random.default_rng(0)
    maps = {k: rng.random((n, 4, 32, 32)) for k, n in
            (("attn_post", 6), ("attn_pre", 6), ("mlp_post", 6), ("mlp_pre", 6), ("res", 7),
             ("res_pre", 6))}
    per_image = {k: rf.erf_moments(m, 4) for k, m in maps.items()}   # (layers, images, 5)
    point = ch05.ErfSummary.of(*(m.sum(axis=1) for m in per_image.values()), 64, 13.0)
    mean_maps = {k: m.mean(axis=1) for k, m in maps.items()}
    np.testing.assert_allclose(point.vit_spread,
                               [rf.erf_spread(m) for m in mean_maps["attn_post"]])
    np.testing.assert_allclose(point.mlp_pre,
                               [rf.centre_patch_fraction(m, 4) for m in mean_maps["mlp_pre"]])
    # a draw taking every image once is the point estimate; one taking image 0 four times
    # is image 0's own map
    weights = np.array([[1.0, 1, 1, 1], [4.0, 0, 0, 0]])
    every, first = ch05.ErfSummary.draws(*per_image.values(), 64, 13.0, weights)
    np.testing.assert_allclose(every.resnet_spread, point.resnet_spread)
    np.testing.assert_allclose(first.attn_post,
                               [rf.centre_patch_fraction(m, 4) for m in maps["attn_post"][:, 0]])


# --- the measurements the intervals resample ---------------------------------------------------


def test_erf_moments_give_spread_and_centre_share() -> None:
    erf = np.zeros((32, 32))
    erf[16:20, 16:20] = 1.0                                  # grid position (4, 4) of 8 x 8
    m = rf.erf_moments(erf, 4)
    assert rf.centre_share(m) == pytest.approx(1.0)
    assert rf.spread(m) == pytest.approx(rf.erf_spread(erf)) == pytest.approx(
        math.sqrt(2 * (16 - 1) / 12))
    assert math.isnan(rf.erf_moments(erf)[4])                # no patch: no centre mass
    assert math.isnan(rf.spread(np.zeros(5))) and math.isnan(rf.centre_share(np.zeros(5)))
    # linear in the map: the moments of a mean are the mean of the moments
    rng = np.random.default_rng(1)
    maps = rng.random((3, 32, 32))
    np.testing.assert_allclose(rf.erf_moments(maps.mean(0), 4),
                               rf.erf_moments(maps, 4).mean(0))


def test_centre_patch_fraction_known_maps() -> None:
    assert rf.centre_patch_fraction(np.ones((32, 32)), 4) == pytest.approx(1 / 64)
    shifted = np.zeros((32, 32))
    shifted[12:16, 12:16] = 1.0                              # the patch up and to the left
    assert rf.centre_patch_fraction(shifted, 4) == 0.0
    assert rf.centre_patch_fraction(np.ones((28, 28)), 4) == pytest.approx(1 / 49)
    with pytest.raises(ValueError, match="patches"):
        rf.centre_patch_fraction(np.ones((30, 30)), 4)


@pytest.fixture(scope="module")
def vit() -> network.ImageClassifier:
    torch.manual_seed(0)
    return models.build("vit_cifar")


def test_receptive_field_pass_keeps_per_image_moments_of_its_maps(vit) -> None:
    """After block 0's attention the skip carries the centre token's own patch: its ERF peak."""
    torch.manual_seed(0)
    requests = [("net.blocks.0.attn", "post"), ("net.blocks.2.mlp", "pre")]
    out = rf.receptive_field_pass(vit, requests, torch.rand(5, 3, 32, 32), batch_size=2)
    erf, moments = out[requests[0]]["erf"], out[requests[0]]["moments"]
    assert moments.shape == (5, len(rf.MOMENTS))
    peak = np.unravel_index(np.argmax(erf), erf.shape)
    assert 16 <= peak[0] < 20 and 16 <= peak[1] < 20
    assert rf.centre_patch_fraction(erf, 4) > 5 / 64
    for r in requests:  # the moments' sum gives the averaged map's summaries
        total = out[r]["moments"].sum(axis=0)
        assert rf.spread(total) == pytest.approx(rf.erf_spread(out[r]["erf"]))
        assert rf.centre_share(total) == pytest.approx(rf.centre_patch_fraction(out[r]["erf"], 4))


def test_attention_distances_keep_every_example(vit) -> None:
    torch.manual_seed(1)
    probe = TensorProbe(torch.rand(5, 3, 32, 32))
    (out,) = passes.run([AttentionDistances("m")], {"m": vit}, probe, batch_size=2,
                        device="cpu")
    assert out["drop_per_example"].shape == (5, 12, 3)
    assert out["drop_per_example"].dtype == np.float32
    np.testing.assert_allclose(out["drop_per_example"].mean(axis=0), out["drop"], rtol=1e-6)
    np.testing.assert_allclose(out["drop"], attention_distances(vit, probe, batch_size=5),
                               rtol=1e-9)
    np.testing.assert_allclose(out["renormalise_per_example"].mean(axis=0),
                               out["renormalise"], rtol=1e-6)


def test_head_subset_cka_keeps_bootstrap_draws(vit) -> None:
    torch.manual_seed(2)
    probe = TensorProbe(torch.rand(48, 3, 32, 32))
    analysis = HeadSubsetCKA("vit", (0,), ((0, 1), (1, 2)), "cnn", ("net.blocks.0.norm1",),
                             bootstrap=30)
    (out,) = passes.run([analysis], {"vit": vit, "cnn": vit}, probe, batch_size=24,
                        device="cpu")
    assert out["cka"].shape == (2, 1) and out["boot"].shape == (30, 2, 1)
    # the draws scatter around the matrix
    assert np.isfinite(out["boot"]).all() and out["boot"].std(axis=0).min() > 0
    assert (np.abs(np.median(out["boot"], axis=0) - out["cka"]) < 0.2).all()
    assert analysis.params()["bootstrap"] == 30
    (plain,) = passes.run([HeadSubsetCKA("vit", (0,), ((0, 1), (1, 2)), "cnn",
                                         ("net.blocks.0.norm1",))],
                          {"vit": vit, "cnn": vit}, probe, batch_size=24, device="cpu")
    assert "boot" not in plain
    np.testing.assert_allclose(plain["cka"], out["cka"], rtol=1e-9)


# --- the chapter's table -------------------------------------------------------------------------


def test_chapter5_claims_write_and_read_back(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    found = [*ch05.attention_claims(distances(GLOBAL_LOW, GLOBAL_HIGH), U),
             *ch05.receptive_field_claims(summary())]
    path = claims.write(found, "smoke", ch05.CHAPTER)
    assert path == tmp_path / "smoke" / f"{ch05.CHAPTER}.csv"
    back = claims.read_all("smoke")
    assert back.verdict.tolist() == [c.verdict for c in found]
    assert back.key.tolist() == [c.key for c in found]
