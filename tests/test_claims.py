"""seelike.book.claims: the record, and Chapter 4's claims on hand-built CKA matrices."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seelike import compare, data, layers, models, structure
from seelike.book import claims
from seelike.book.claims import Claim, ch04, ch09, record

# --- hand-built matrices -----------------------------------------------------------------------

RESNET_LAYERS = [f"net.layer{s}.{u}{part}" for s in (1, 2, 3, 4) for u in (0, 1)
                 for part in (".bn1", "")]  # 16 layers, 4 stages of 4


def block_diagonal(stages: list[int], inside: float = 0.9, outside: float = 0.2) -> np.ndarray:
    s = np.asarray(stages)
    m = np.where(s[:, None] == s[None, :], inside, outside)
    np.fill_diagonal(m, 1.0)
    return m


def uniform(n: int, level: float = 0.8) -> np.ndarray:
    m = np.full((n, n), level)
    np.fill_diagonal(m, 1.0)
    return m


def cross_with_matches(n_vit: int, rows: list[int], background: float = 0.1,
                       peak: float = 0.8) -> np.ndarray:
    """A (n_vit, len(rows)) matrix whose column j peaks at ViT row rows[j]."""
    c = np.full((n_vit, len(rows)), background)
    for j, i in enumerate(rows):
        c[i, j] = peak
    return c


RESNET_STAGES = [layers.stage_of(n) for n in RESNET_LAYERS]


# --- verdicts, records, helpers -----------------------------------------------------------------


@pytest.mark.parametrize(("low", "high", "direction", "bars", "expected"), [
    (0.2, 0.3, ">", (0.1, 0.05), "reproduced"),       # the whole interval clears the bar
    (0.06, 0.09, ">", (0.1, 0.05), "partly"),         # wholly between the bars
    (0.0, 0.04, ">", (0.1, 0.05), "not reproduced"),
    (0.08, 0.12, ">", (0.1, 0.05), "inconclusive"),   # straddles the pass bar
    (0.04, 0.06, ">", (0.1, 0.05), "inconclusive"),   # straddles the partly bar
    (0.0, 0.2, ">", (0.1, 0.05), "inconclusive"),
    (-0.2, -0.1, ">", (0.0, None), "not reproduced"),
    (-0.1, 0.1, ">", (0.0, None), "inconclusive"),
    (0.1, 0.2, "<", (0.35, 0.5), "reproduced"),
    (0.4, 0.45, "<", (0.35, 0.5), "partly"),
    (0.6, 0.7, "<", (0.35, 0.5), "not reproduced"),
    (0.3, 0.4, "<", (0.35, 0.5), "inconclusive"),
    (0.5, 0.5, ">", (0.5, None), "not reproduced"),   # on the bar does not clear it
])
def test_decide_reads_the_interval(low: float, high: float, direction: str,
                                   bars: tuple[float, float | None], expected: str) -> None:
    assert claims.decide(low, high, direction, *bars) == expected


def test_decide_refuses_bad_bars_and_intervals() -> None:
    with pytest.raises(ValueError, match="weaker side"):
        claims.decide(0.1, 0.2, ">", 0.1, 0.2)
    with pytest.raises(ValueError, match="direction"):
        claims.decide(0.1, 0.2, ">=", 0.1)
    with pytest.raises(ValueError, match="finite"):
        claims.decide(float("nan"), 0.2, ">", 0.1)
    with pytest.raises(ValueError, match="weaker side"):
        claims.Declaration("k", "Fig 1", "q", "w", "s", "<", 0.5, 0.4, "r")


DECL = claims.Declaration("k", "Fig 1", "A sentence.", "Section 4", "a statistic", ">", 0.1,
                          0.05, "a reason")


def test_judge_uses_draws_and_seeds() -> None:
    assert DECL.threshold == "> 0.1 (partly > 0.05)"
    point = DECL.judge("ch", 0.3)
    assert point.verdict == "reproduced" and math.isnan(point.low) and math.isnan(point.seed_low)
    draws = np.linspace(0.0, 0.4, 101)  # 90 % interval 0.02 .. 0.38: straddles both bars
    wide = DECL.judge("ch", 0.3, draws, varies="probe examples")
    assert wide.verdict == "inconclusive"
    assert (wide.low, wide.high) == pytest.approx((0.02, 0.38))
    tight = DECL.judge("ch", 0.3, np.linspace(0.25, 0.35, 101))
    assert tight.verdict == "reproduced"
    # A seed below the bar widens the evidence: no longer reproduced.
    seeded = DECL.judge("ch", 0.3, np.linspace(0.25, 0.35, 101), seeds=[0.08, 0.3])
    assert (seeded.seed_low, seeded.seed_high) == (0.08, 0.3)
    assert seeded.verdict == "inconclusive"
    assert DECL.judge("ch", 0.3, testable=False).verdict == "untestable here"
    assert DECL.judge("ch", float("nan")).verdict == "untestable here"


def test_claim_rejects_unknown_verdict() -> None:
    with pytest.raises(ValueError, match="verdict"):
        Claim("x", "k", "Fig 1", "s", "w", "t", 1.0, *[float("nan")] * 4, "> 0", "yes", True,
              "")


def test_declarations_need_unique_keys() -> None:
    with pytest.raises(ValueError, match="two declarations"):
        claims.declared([DECL, DECL])
    frame = claims.declarations_frame([DECL])
    assert frame.loc[0, "pass"] == "> 0.1 (partly > 0.05)"
    assert frame.loc[0, "the paper says"] == "“A sentence.” (Section 4)"


def test_depth_fraction_and_stage_names() -> None:
    np.testing.assert_allclose(structure.depth_fraction(4), [0.125, 0.375, 0.625, 0.875])
    assert layers.stage_of("net.layer2.1.bn1") == 2
    assert layers.stage_of("net.layer3.0") == 3
    assert layers.stage_of("net.stages.0.blocks.3.norm2") == 0
    with pytest.raises(ValueError, match="stage"):
        layers.stage_of("net.blocks.3")
    # 8 ViT layers cut where a 16-layer, 4-stage ResNet changes stage: two per stage.
    assert list(structure.mapped_stages(8, RESNET_STAGES)) == [1, 1, 2, 2, 3, 3, 4, 4]


def test_stage_contrast_ignores_the_diagonal() -> None:
    assert structure.stage_contrast(uniform(16), RESNET_STAGES) == pytest.approx(0.0)
    assert structure.stage_contrast(block_diagonal(RESNET_STAGES), RESNET_STAGES) == \
        pytest.approx(0.7)


def test_low_high_similarity_reads_the_corner_blocks() -> None:
    m = np.zeros((6, 6))
    m[:2, 4:] = m[4:, :2] = 0.6
    m[2:4, :] = 0.9  # the middle third must not count
    assert structure.low_high_similarity(m) == pytest.approx(0.6)


# --- Fig 1 -------------------------------------------------------------------------------------


def _decl(key: str) -> claims.Declaration:
    return ch04.DECLARATIONS[key]


def _verdict(key: str, value: float) -> str:
    return _decl(key).judge(ch04.CHAPTER, value).verdict


def test_block_diagonal_resnet_passes_stages_uniform_fails() -> None:
    staged = ch04.resnet_stages(block_diagonal(RESNET_STAGES), RESNET_LAYERS)
    assert staged == pytest.approx(0.7) and _verdict("fig1_resnet_stages", staged) == "reproduced"
    flat = ch04.resnet_stages(uniform(16), RESNET_LAYERS)
    assert flat == pytest.approx(0.0)
    assert _verdict("fig1_resnet_stages", flat) == "not reproduced"
    weak = ch04.resnet_stages(block_diagonal(RESNET_STAGES, 0.5, 0.43), RESNET_LAYERS)
    assert _verdict("fig1_resnet_stages", weak) == "partly"  # 0.07: between the bars


def test_vit_no_stages() -> None:
    assert ch04.vit_stages(uniform(60), RESNET_LAYERS) == pytest.approx(0.0)
    assert _verdict("fig1_vit_no_stages", 0.0) == "reproduced"
    staged_vit = block_diagonal(list(structure.mapped_stages(60, RESNET_STAGES)), 0.95, 0.1)
    value = ch04.vit_stages(staged_vit, RESNET_LAYERS)
    assert value > 0.5 and _verdict("fig1_vit_no_stages", value) == "not reproduced"


def test_uniformity_is_a_comparison() -> None:
    vit, resnet = uniform(60, 0.8), block_diagonal(RESNET_STAGES, 0.9, 0.2)
    assert ch04.uniformity(vit, resnet) == pytest.approx(0.6)
    assert ch04.uniformity(uniform(60, 0.1), resnet) == pytest.approx(-0.1)
    assert _verdict("fig1_uniformity", -0.1) == "not reproduced"


# --- Fig 2 -------------------------------------------------------------------------------------


def test_fig2_paper_like_cross_matrix_passes_everything() -> None:
    # 20 ViT layers (positions 0.025 ... 0.975), 8 ResNet layers: the lower four match ViT rows
    # 1-3 (positions 0.075-0.175), the upper four rows 6-9 (0.325-0.475); rows >= 14 stay dark.
    c = cross_with_matches(20, [1, 2, 2, 3, 6, 7, 8, 9])
    assert ch04.lower_half(c) == pytest.approx(np.mean([0.075, 0.125, 0.125, 0.175]))
    assert ch04.upper_half_in_band(c) == 1.0
    assert ch04.upper_half_mean(c) == pytest.approx(np.mean([0.325, 0.375, 0.425, 0.475]))
    assert ch04.last_third_less_similar(c) == 1.0
    assert ch04.last_third_max(c) == pytest.approx(0.1)


def test_fig2_upper_half_is_a_fraction_not_a_mean() -> None:
    # Bimodal: two upper-half layers match the ViT's bottom (0.075), two its top (0.925).
    # The old mean (0.5) sits in the band; the fraction in the band is 0.
    c = cross_with_matches(20, [1, 2, 2, 3, 1, 1, 18, 18])
    assert ch04.upper_half_mean(c) == pytest.approx(0.5)
    assert ch04.upper_half_in_band(c) == 0.0
    assert _verdict("fig2_upper_half", 0.0) == "not reproduced"


def test_fig2_last_third_is_relative() -> None:
    # Every pair is bright (no absolute dissimilarity), yet the last third is the less
    # similar part for every ResNet layer: the paper's "less similar" holds.
    c = cross_with_matches(20, [1, 2, 2, 3, 6, 7, 8, 9], background=0.6, peak=0.9)
    assert ch04.last_third_max(c) == pytest.approx(0.6)
    assert ch04.last_third_less_similar(c) == 1.0
    c[17, 7] = 0.95  # one ResNet layer best matched in the final third
    assert ch04.last_third_less_similar(c) == pytest.approx(7 / 8)
    assert _verdict("fig2_last_third", 7 / 8) == "partly"


def test_fig2_skips_nan_columns() -> None:
    c = cross_with_matches(20, [1, 2, 2, 3, 6, 7, 8, 9])
    c[:, 0] = np.nan
    assert ch04.lower_half(c) == pytest.approx(np.mean([0.125, 0.125, 0.175]))
    assert ch04.last_third_less_similar(c) == 1.0
    c[:, :] = np.nan
    assert math.isnan(ch04.last_third_less_similar(c))


def test_chapter4_claims_checks_shapes_and_reads_draws() -> None:
    vit, resnet = uniform(20), block_diagonal(RESNET_STAGES)
    cross = cross_with_matches(20, [1, 1, 2, 2, 3, 3, 4, 4, 6, 6, 7, 7, 8, 8, 9, 9])
    out = ch04.chapter4_claims(vit, resnet, cross, RESNET_LAYERS)
    assert [c.figure for c in out] == ["Fig 1"] * 3 + ["Fig 2"] * 3
    assert [c.key for c in out] == list(ch04.DECLARATIONS)
    assert all(c.verdict == "reproduced" for c in out)
    # Draws that blur the ResNet's stages into the ViT's uniformity: stages inconclusive.
    blurred = np.stack([block_diagonal(RESNET_STAGES, 0.9, o) for o in np.linspace(0.2, 0.9, 20)])
    draws = (np.stack([vit] * 20), blurred, np.stack([cross] * 20))
    judged = ch04.chapter4_claims(vit, resnet, cross, RESNET_LAYERS, draws=draws,
                                  varies="probe examples")
    assert judged[1].verdict == "inconclusive" and judged[1].low < 0.05 < judged[1].high
    assert judged[3].verdict == "reproduced" and judged[3].low == judged[3].high
    seeded = ch04.chapter4_claims(vit, resnet, cross, RESNET_LAYERS,
                                  seeds=[(vit, uniform(16), cross)])
    assert seeded[1].seed_low == pytest.approx(0.0) and seeded[1].verdict == "inconclusive"
    with pytest.raises(ValueError, match="cross"):
        ch04.chapter4_claims(uniform(20), uniform(16), np.zeros((16, 20)), RESNET_LAYERS)


# --- table, write, read_all ----------------------------------------------------------------------


def _claim(chapter: str = ch04.CHAPTER, value: float = 0.25) -> Claim:
    decl = claims.Declaration("k", "Fig 1", "a statement, with a comma", "Figure 1 caption",
                              "a statistic", ">", 0.0, None, "why")
    return decl.judge(chapter, value, np.array([value - 0.1, value, value + 0.1]))


def test_table_is_tidy() -> None:
    frame = claims.table([_claim(), _claim(value=-1.0)])
    assert list(frame.columns) == list(claims.COLUMNS) and len(frame) == 2
    assert frame.value.dtype == float and frame.low.dtype == float
    assert frame.paper.dtype == bool
    assert list(claims.table([]).columns) == list(claims.COLUMNS)


def test_write_read_all_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(record.RESULTS_ENV, str(tmp_path))
    assert claims.results_dir("cifar") == tmp_path / "cifar"
    empty = claims.read_all("cifar")
    assert empty.empty and list(empty.columns) == list(claims.COLUMNS)
    first = [_claim(value=0.123456789012345), _claim(value=-2.0)]
    path = claims.write(first, "cifar", ch04.CHAPTER)
    assert path == tmp_path / "cifar" / f"{ch04.CHAPTER}.csv"
    claims.write([_claim("05_other")], "cifar", "05_other")
    pd.testing.assert_frame_equal(claims.read_all("cifar").iloc[:2],
                                  claims.table(first))
    # Re-running a chapter replaces its rows only; other presets are separate.
    claims.write([_claim(value=0.5)], "cifar", ch04.CHAPTER)
    again = claims.read_all("cifar")
    assert list(again.chapter) == [ch04.CHAPTER, "05_other"] and again.value.iloc[0] == 0.5
    assert claims.read_all("smoke").empty
    assert not list((tmp_path / "cifar").glob(".*"))  # no temporary files left


def test_write_refuses_foreign_claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(record.RESULTS_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="05_other"):
        claims.write([_claim("05_other")], "cifar", ch04.CHAPTER)
    with pytest.raises(ValueError, match="file stem"):
        claims.write([], "cifar", "../escape")


def test_glue_names_each_value_and_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    myst_nb = pytest.importorskip("myst_nb")
    glued: dict[str, object] = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.update(
        {name: (value, display)}))
    claims.glue([_claim(value=0.0988), None], "ch4", ["uniform", "stages"])
    # three decimals: a value just under a 0.1 bar must not read as 0.10
    assert glued == {"ch4_uniform_value": ("0.099", False),
                     "ch4_uniform_interval": ("0.009 to 0.189", False),
                     "ch4_uniform_verdict": ("reproduced", False),
                     "ch4_stages_value": ("n/a", False),
                     "ch4_stages_interval": ("no interval", False),
                     "ch4_stages_verdict": ("not testable on this preset", False)}
    glued.clear()
    claims.glue([_claim(value=-1.0)], "x")
    assert glued["x_claim0_value"] == ("-1.000", False)
    assert glued["x_claim0_verdict"] == ("not reproduced", False)
    with pytest.raises(ValueError, match="2 claims but 1 keys"):
        claims.glue([_claim(), _claim()], "x", ["only"])


def test_results_dir_defaults_to_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(record.RESULTS_ENV, raising=False)
    assert claims.results_dir("smoke").parts[-3:] == ("_build", "results", "smoke")


# --- the CKA analyses of Chapters 4 and 9 on the paper preset's architectures (random weights) ---

PAPER_VIT = "vit_base_patch32_224.augreg_in21k"
PAPER_RESNET = "resnetv2_50x1_bit.goog_in21k"
PAPER_MIXER = "mixer_b16_224.goog_in21k"


def test_chapter4_and_9_analyses_on_paper_architectures(mirror: Path) -> None:
    paths, labels = data.image_folder(mirror / "datasets" / "imagenette-mini" / "labels.csv")
    pick = np.arange(0, len(paths), len(paths) // 4)[:4]  # four images, four classes
    probe = data.ProbeSet(images=np.array(paths)[pick], labels=labels[pick],
                          ids=np.array(paths)[pick], purpose="cka", seed=0, image_size=224)
    nets = {name: models.build_paper(name) for name in (PAPER_VIT, PAPER_RESNET, PAPER_MIXER)}
    lay = {name: layers.paper_layers(net) for name, net in nets.items()}
    assert all(layers.layer_names(name) == lay[name] for name in nets)
    pairs = [(n, n) for n in nets] + [(PAPER_VIT, PAPER_RESNET), (PAPER_MIXER, PAPER_RESNET),
                                      (PAPER_MIXER, PAPER_VIT)]
    out = compare.cka_matrices(nets, lay, pairs, probe, batch_size=4,
                               device=torch.device("cpu"))
    for (a, b), m in out.items():
        assert m.shape == (len(lay[a]), len(lay[b]))
        assert np.isfinite(m).all() and np.abs(m).max() <= 1 + 1e-6
    for token_model in (PAPER_VIT, PAPER_MIXER):  # the Mixer in the ViT's role (Appendix H)
        found = ch04.chapter4_claims(out[(token_model, token_model)],
                                       out[(PAPER_RESNET, PAPER_RESNET)],
                                       out[(token_model, PAPER_RESNET)], lay[PAPER_RESNET])
        assert [c.key for c in found] == list(ch04.DECLARATIONS)
        for claim in found:
            assert isinstance(claim, Claim) and math.isfinite(claim.value)
            assert claim.verdict in claims.VERDICTS
    # Chapter 9's claims (H.1, H.2) on the paper's Mixer.
    found = ch09.chapter9_claims(out[(PAPER_MIXER, PAPER_MIXER)], out[(PAPER_MIXER, PAPER_VIT)],
                                 out[(PAPER_MIXER, PAPER_RESNET)])
    assert [c.key for c in found] == list(ch09.DECLARATIONS)
    for claim in found:
        assert math.isfinite(claim.value) and claim.verdict in claims.VERDICTS
    # The one-pass engine agrees with the single-pair one.
    ref = compare.cka_matrix(nets[PAPER_VIT], lay[PAPER_VIT][:10], probe,
                             model_b=nets[PAPER_RESNET], layers_b=lay[PAPER_RESNET][:6],
                             batch_size=4, device=torch.device("cpu"))
    np.testing.assert_allclose(out[(PAPER_VIT, PAPER_RESNET)][:10, :6], ref, atol=1e-10)
