"""seelike.book.claims: verdicts, controls, sentences, tables and display, and Chapter 4's
claims on hand-built CKA matrices."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seelike import compare, data, layers, models, probe_sets, structure
from seelike.book import claims
from seelike.book.claims import Claim, ch04, ch09

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
        claims.Declaration("k", "Fig 1", "q", "w", "s", "<", 0.5, 0.4, "r", "c")


DECL = claims.Declaration("k", "Fig 1", "A sentence.", "Section 4", "a statistic", ">", 0.1,
                          0.05, "why", "the control")


def test_judge_reads_interval_and_seeds_together() -> None:
    m = claims.Measured(0.3, (0.25, 0.3, 0.35), seeds=(0.28,))
    c = DECL.judge("04_x", m)
    assert c.verdict == "reproduced" and c.low == pytest.approx(0.255) and c.seeds == "0.28"
    assert c.seed_low == pytest.approx(0.28) and c.seed_high == pytest.approx(0.3)
    # A seed below the pass bar: the seed spread must clear the bar too.
    assert DECL.judge("04_x", claims.Measured(0.3, (0.25, 0.35), (0.07,))).verdict == \
        "inconclusive"
    # No draws: a point; NaN value: untestable.
    assert DECL.judge("04_x", claims.Measured(0.3)).low != DECL.judge(
        "04_x", claims.Measured(0.3)).low  # NaN, no interval
    assert DECL.judge("04_x", claims.Measured(float("nan"))).verdict == "untestable here"
    why = DECL.judge("04_x", claims.Measured(0.3), untestable="no second ViT size")
    assert why.verdict == "untestable here" and "no second ViT size" in why.reading


def test_ninety_nine_percent_verdict_can_differ() -> None:
    draws = tuple(np.linspace(0.11, 0.3, 197)) + (0.0,) * 3  # three draws below every bar
    c = DECL.judge("04_x", claims.Measured(0.2, draws))
    assert c.verdict == "reproduced" and c.verdict99 == "inconclusive" and c.low99 < c.low


def test_a_declared_difference_judges_statistic_minus_control() -> None:
    d = claims.Declaration("k", "Fig 12", "A sentence.", "S8", "fall", ">", 0.1, 0.0, "why",
                           "a seed pair", net="difference")
    c = d.judge("08_x", claims.Measured(0.258, (0.25, 0.26)),
                control=claims.Measured(0.162, (0.16, 0.17)))
    assert c.value == pytest.approx(0.096) and c.verdict == "partly"
    assert c.control_value == pytest.approx(0.162) and "difference" in c.reading
    with pytest.raises(ValueError, match="control"):
        d.judge("08_x", claims.Measured(0.3))
    r = claims.Declaration("k", "Fig 7", "A.", "S6", "ratio", ">", 2.0, 1.0, "why", "ResNet",
                           net="ratio").judge("06_x", claims.Measured(4.0),
                                              control=claims.Measured(1.0))
    assert r.value == pytest.approx(4.0) and r.verdict == "reproduced"


def test_a_control_that_clears_the_bar_is_subtracted_and_the_weaker_verdict_kept() -> None:
    passing = claims.Measured(0.3, (0.28, 0.32))
    fails = DECL.judge("04_x", passing, control=claims.Measured(0.0, (-0.01, 0.01)))
    assert fails.verdict == "reproduced" and fails.reading == "the control fails the bar"
    assert math.isnan(fails.net_value)
    beaten = DECL.judge("04_x", passing, control=claims.Measured(0.25, (0.24, 0.26)))
    # the control clears the bar but the statistic beats it throughout: still reproduced
    assert beaten.verdict == "reproduced" and beaten.net_value == pytest.approx(0.05)
    assert "clears" in beaten.reading
    straddles = DECL.judge("04_x", passing, control=claims.Measured(0.3, (0.31, 0.29)))
    # a statistic whose difference from its control straddles 0 tells nothing
    assert straddles.verdict == "inconclusive"
    below = DECL.judge("04_x", passing, control=claims.Measured(0.5, (0.49, 0.51)))
    assert below.verdict == "inconclusive"  # the control does better: the test cannot decide
    # A statistic below its own bar stays as weak as it is, whatever the control.
    weak = DECL.judge("04_x", claims.Measured(0.0), control=claims.Measured(0.5))
    assert weak.verdict == "not reproduced"


def test_measured_combines_draw_by_draw_and_seed_by_seed() -> None:
    a = claims.Measured(1.0, (1.0, 2.0), (3.0,))
    b = claims.Measured(0.5, (0.5, 1.5), (1.0,))
    d = a.combine(b, lambda x, y: x - y)
    assert d.value == 0.5 and d.draws == (0.5, 0.5) and d.seeds == (2.0,)
    assert a.combine(claims.Measured(0.5), lambda x, y: x - y).draws == (0.5, 1.5)
    assert claims.Measured(1.0).combine(b, lambda x, y: x - y).draws == (0.5, -0.5)
    with pytest.raises(ValueError, match="pair"):
        a.combine(claims.Measured(0.0, (1.0, 2.0, 3.0)), lambda x, y: x - y)
    m = claims.measure(lambda x, y: x + y, (1, 2), draws=[(1, 1), (2, 2)], seeds=[(0, 0)])
    assert (m.value, m.draws, m.seeds) == (3.0, (2.0, 4.0), (0.0,))


def test_weakest_verdict_decides_a_sentence() -> None:
    assert claims.weakest(["reproduced", "partly"]) == "partly"
    assert claims.weakest(["reproduced", "untestable here"]) == "untestable here"
    assert claims.weakest(["untestable here", "not reproduced"]) == "not reproduced"
    assert claims.weakest(["partly", "inconclusive"]) == "inconclusive"
    with pytest.raises(ValueError, match="unknown"):
        claims.weakest(["Reproduced"])
    with pytest.raises(ValueError, match="no verdicts"):
        claims.weakest([])


def test_sentences_count_each_sentence_once_by_its_weakest_clause() -> None:
    d = claims.declared([
        claims.Declaration("a", "Fig 1", "One. Two.", "S4", "s", ">", 0.0, None, "r", "c",
                           clause="One."),
        claims.Declaration("b", "Fig 1", "One. Two.", "S4", "s", ">", 0.0, None, "r", "c",
                           clause="Two."),
        claims.Declaration("c", "Fig 2", "Three.", "S4", "s", ">", 0.0, None, "r", "c")])
    assert [x.sentence for x in d.values()] == ["a", "a", "c"]
    rows = [d["a"].judge("04_x", claims.Measured(1.0)), d["b"].judge("04_x",
                                                                     claims.Measured(-1.0)),
            d["c"].judge("04_x", claims.Measured(1.0))]
    told = claims.sentences(claims.table(rows))
    assert told.key.tolist() == ["a", "c"] and told.verdict.tolist() == ["not reproduced",
                                                                          "reproduced"]
    assert told.clauses.tolist() == [2, 1]


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="control"):
        claims.Declaration("k", "F", "Q.", "W", "s", ">", 0.0, None, "r", " ")
    with pytest.raises(ValueError, match="not words of the quote"):
        claims.Declaration("k", "F", "Q.", "W", "s", ">", 0.0, None, "r", "c", clause="Z")
    with pytest.raises(ValueError, match="margin"):
        claims.Declaration("k", "F", "Q.", "W", "s", ">", 0.0, None, "r", "c", zero_width="x")
    with pytest.raises(ValueError, match="net"):
        claims.Declaration("k", "F", "Q.", "W", "s", ">", 0.0, None, "r", "c", net="sum")
    with pytest.raises(ValueError, match="share"):
        claims.declared([claims.Declaration("a", "F", "Q.", "W", "s", ">", 0.0, None, "r", "c"),
                         claims.Declaration("b", "G", "Q.", "W", "s", ">", 0.0, None, "r",
                                            "c")])
    assert DECL.fingerprint != claims.Declaration(
        "k", "Fig 1", "A sentence.", "Section 4", "a statistic", ">", 0.2, 0.05, "why",
        "the control").fingerprint


def test_claim_rejects_unknown_verdict() -> None:
    row = claims.table([DECL.judge("04_x", claims.Measured(0.3))]).iloc[0].to_dict()
    row["verdict"] = "Reproduced"
    with pytest.raises(ValueError, match="verdict"):
        Claim(**row)


def test_declarations_need_unique_keys() -> None:
    with pytest.raises(ValueError, match="two declarations"):
        claims.declared([DECL, DECL])
    frame = claims.declarations_frame([DECL])
    assert frame.loc[0, "pass"] == "> 0.1 (partly > 0.05)"
    assert frame.loc[0, "clause"] == "“A sentence.”" and frame.loc[0, "control"] == "the control"


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


VIT_LAYERS = [f"net.blocks.{b}{part}" for b in range(4) for part in (".norm1", ".attn", "")]
VIT_BLOCKS = [f"net.blocks.{b}" for b in range(4)]
RESNET_BLOCKS = [n for n in RESNET_LAYERS if not n.endswith(".bn1")]


def _verdict(key: str, value: float, control: float | None = None) -> str:
    c = None if control is None else claims.Measured(control)
    return ch04.DECLARATIONS[key].judge(ch04.CHAPTER, claims.Measured(value),
                                        control=c).verdict


def test_block_diagonal_resnet_passes_stages_uniform_fails() -> None:
    staged = ch04.resnet_stages(block_diagonal(RESNET_STAGES), RESNET_LAYERS)
    assert staged == pytest.approx(0.7)
    # read against the ViT's contrast at the same cuts (its control): 0.7 - 0 clears 0.1
    assert _verdict("fig1_resnet_stages", staged, 0.0) == "reproduced"
    # a ViT with the same stages leaves nothing: the statistic alone would have passed
    assert _verdict("fig1_resnet_stages", staged, staged) == "not reproduced"
    flat = ch04.resnet_stages(uniform(16), RESNET_LAYERS)
    assert flat == pytest.approx(0.0) and _verdict("fig1_resnet_stages", flat, 0.0) == \
        "not reproduced"
    weak = ch04.resnet_stages(block_diagonal(RESNET_STAGES, 0.5, 0.43), RESNET_LAYERS)
    assert _verdict("fig1_resnet_stages", weak, 0.0) == "partly"  # 0.07: between the bars


def test_vit_no_stages_is_beyond_the_paper() -> None:
    assert not ch04.DECLARATIONS["fig1_vit_no_stages"].paper
    assert ch04.vit_stages(uniform(60), RESNET_LAYERS) == pytest.approx(0.0)
    assert _verdict("fig1_vit_no_stages", 0.0) == "reproduced"
    staged_vit = block_diagonal(list(structure.mapped_stages(60, RESNET_STAGES)), 0.95, 0.1)
    value = ch04.vit_stages(staged_vit, RESNET_LAYERS)
    assert value > 0.5 and _verdict("fig1_vit_no_stages", value) == "not reproduced"


def test_grid_is_kinds_alike_across_blocks() -> None:
    kinds, groups = layers.kinds_and_blocks(VIT_LAYERS, VIT_BLOCKS)
    assert kinds[:3] == ["norm1", "attn", "output"] and groups[:4] == [0, 0, 0, 1]
    # the same kind alike (0.9) across blocks, different kinds apart (0.3): a grid
    k = np.asarray(kinds)
    grid = np.where(k[:, None] == k[None, :], 0.9, 0.3)
    assert structure.kind_contrast(grid, kinds, groups) == pytest.approx(0.6)
    assert structure.kind_contrast(uniform(12), kinds, groups) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="none of the"):
        layers.kinds_and_blocks(["net.head"], VIT_BLOCKS)


# --- Fig 2 -------------------------------------------------------------------------------------


def test_fig2_paper_like_cross_matrix_passes_everything() -> None:
    # 20 ViT layers (positions 0.025 ... 0.975), 8 ResNet layers: the lower four match ViT rows
    # 1-3 (positions 0.075-0.175), the upper four rows 6-9 (0.325-0.475); rows >= 14 stay dark.
    c = cross_with_matches(20, [1, 2, 2, 3, 6, 7, 8, 9])
    assert ch04.lower_half(c) == pytest.approx(np.mean([0.075, 0.125, 0.125, 0.175]))
    assert ch04.upper_half_in_band(c) == 1.0
    assert ch04.last_third_less_similar(c) == 1.0
    assert ch04.last_third_margin(c) == pytest.approx(0.7)


def test_fig2_upper_half_is_a_fraction_not_a_mean() -> None:
    # Bimodal: two upper-half layers match the ViT's bottom (0.075), two its top (0.925):
    # their mean would sit in the band; the fraction in the band is 0.
    c = cross_with_matches(20, [1, 2, 2, 3, 1, 1, 18, 18])
    assert ch04.upper_half_in_band(c) == 0.0
    assert _verdict("fig2_upper_half", 0.0) == "not reproduced"


def test_fig2_last_third_is_relative() -> None:
    # Every pair is bright (no absolute dissimilarity), yet the last third is the less
    # similar part for every ResNet layer: the paper's "less similar" holds.
    c = cross_with_matches(20, [1, 2, 2, 3, 6, 7, 8, 9], background=0.6, peak=0.9)
    assert ch04.last_third_less_similar(c) == 1.0
    c[17, 7] = 0.95  # one ResNet layer best matched in the final third
    assert ch04.last_third_less_similar(c) == pytest.approx(7 / 8)
    assert _verdict("fig2_last_third", 7 / 8) == "partly"


def test_fig2_shuffled_control_is_what_size_alone_gives() -> None:
    """A cross matrix without depth structure: the first two thirds win two times in three
    by their size, so the control of the last-third claim clears its partly bar."""
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 1, (30, 16))
    control = ch04._shuffled(ch04.last_third_less_similar, noise, 400)
    assert control.value == pytest.approx(2 / 3, abs=0.06)
    assert len(control.draws) == 400


def test_fig2_skips_nan_columns() -> None:
    c = cross_with_matches(20, [1, 2, 2, 3, 6, 7, 8, 9])
    c[:, 0] = np.nan
    assert ch04.lower_half(c) == pytest.approx(np.mean([0.125, 0.125, 0.175]))
    assert ch04.last_third_less_similar(c) == 1.0
    c[:, :] = np.nan
    assert math.isnan(ch04.last_third_less_similar(c))


def test_chapter4_claims_reads_controls_draws_and_seeds() -> None:
    vit, resnet = uniform(12), block_diagonal(RESNET_STAGES)
    cross = cross_with_matches(12, [0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
    point = ch04.Structure(vit, resnet, cross)
    out = ch04.chapter4_claims(point, VIT_LAYERS, VIT_BLOCKS, RESNET_LAYERS, RESNET_BLOCKS,
                               permutations=50)
    assert [c.key for c in out] == list(ch04.DECLARATIONS)
    by = {c.key: c for c in out}
    assert by["fig1_uniformity"].value == pytest.approx(0.8 - 0.2)  # ViT minus ResNet
    assert by["fig1_uniformity"].control_value == pytest.approx(0.2)
    assert by["b1_uniform"].verdict == "untestable here"  # no second CNN given
    assert by["fig2_lower_half"].verdict == "reproduced"
    assert math.isfinite(by["fig2_lower_half"].control_value)
    # Draws that blur the ResNet's stages into the ViT's uniformity: stages inconclusive.
    blurred = [block_diagonal(RESNET_STAGES, 0.9, o) for o in np.linspace(0.2, 0.9, 20)]
    draws = [ch04.Structure(vit, b, cross) for b in blurred]
    judged = {c.key: c for c in ch04.chapter4_claims(
        point, VIT_LAYERS, VIT_BLOCKS, RESNET_LAYERS, RESNET_BLOCKS, draws=draws,
        varies="probe examples")}
    assert judged["fig1_resnet_stages"].verdict == "inconclusive"
    seeded = {c.key: c for c in ch04.chapter4_claims(
        point, VIT_LAYERS, VIT_BLOCKS, RESNET_LAYERS, RESNET_BLOCKS,
        seeds=[ch04.Structure(vit, uniform(16), cross)], permutations=50)}
    assert seeded["fig1_resnet_stages"].seeds and seeded["fig1_resnet_stages"].verdict != \
        "reproduced"
    with pytest.raises(ValueError, match="cross"):
        ch04.chapter4_claims(ch04.Structure(uniform(12), uniform(16), np.zeros((16, 12))),
                             VIT_LAYERS, VIT_BLOCKS, RESNET_LAYERS, RESNET_BLOCKS)


def test_point_verdicts_follow_the_point_keys() -> None:
    point = ch04.Structure(uniform(12), block_diagonal(RESNET_STAGES),
                           cross_with_matches(12, [0] * 8 + [4] * 8))
    verdicts = ch04.point_verdicts(point, RESNET_LAYERS)
    assert len(verdicts) == len(ch04.POINT_KEYS) and set(verdicts) <= set(claims.VERDICTS)
    assert ch04.point_statistics(point, RESNET_LAYERS)["fig1_uniformity"] == pytest.approx(0.6)


# --- table, write, read_all ----------------------------------------------------------------------


def _claim(chapter: str = ch04.CHAPTER, value: float = 0.25, key: str = "k") -> Claim:
    decl = claims.Declaration(key, "Fig 1", "a statement, with a comma", "Figure 1 caption",
                              "a statistic", ">", 0.0, None, "why", "a control")
    return decl.judge(chapter, claims.Measured(value, (value - 0.1, value, value + 0.1)))


def test_table_is_tidy() -> None:
    frame = claims.table([_claim(), _claim(value=-1.0, key="k2")])
    assert list(frame.columns) == list(claims.COLUMNS) and len(frame) == 2
    assert frame.value.dtype == float and frame.low.dtype == float
    assert frame.paper.dtype == bool
    assert list(claims.table([]).columns) == list(claims.COLUMNS)


def test_write_read_all_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
    assert claims.results_dir("cifar") == tmp_path / "cifar"
    empty = claims.read_all("cifar")
    assert empty.empty and list(empty.columns) == list(claims.COLUMNS)
    first = [_claim(value=0.123456789012345), _claim(value=-2.0, key="k2")]
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
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path))
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
    assert glued["ch4_uniform_value"] == ("0.099", False)
    assert glued["ch4_uniform_interval"] == ("0.009 to 0.189", False)
    assert glued["ch4_uniform_verdict"] == ("reproduced", False)
    assert glued["ch4_uniform_result"] == ("0.099 (90 % interval 0.009 to 0.189)", False)
    assert glued["ch4_stages_value"] == ("not measured on this preset", False)
    assert glued["ch4_stages_verdict"] == ("not tested on this preset", False)
    glued.clear()
    claims.glue([_claim(value=-1.0)], "x")
    assert glued["x_k_value"] == ("-1.000", False)
    assert glued["x_k_verdict"] == ("not reproduced", False)
    with pytest.raises(ValueError, match="2 claims but 1 keys"):
        claims.glue([_claim(), _claim(key="k2")], "x", ["only"])


@pytest.mark.parametrize("claim", [None, "nan", "no-interval", "no-control"])
def test_generated_phrases_read_as_sentences_with_missing_values(claim: str | None) -> None:
    """Every phrase a chapter glues reads as words when a value, an interval, a seed or a
    control is missing: never 'n/a', 'nan' or an empty string."""
    made = {None: None, "nan": _claim(value=float("nan")),
            "no-interval": DECL.judge("04_x", claims.Measured(0.3)),
            "no-control": DECL.judge("04_x", claims.Measured(0.3, (0.2, 0.4)))}[claim]
    for word in claims.phrases(made).values():
        assert word and word.strip() == word
        assert not any(bad in word.lower() for bad in ("n/a", "nan", "none", "–"))


def test_read_folder_refuses_what_is_not_a_claims_table(tmp_path: Path) -> None:
    good = claims.table([_claim()])
    folder = tmp_path / "t"
    folder.mkdir()
    path = folder / f"{ch04.CHAPTER}.csv"
    for broken, message in [
        (good.rename(columns={"verdict": "verdcit"}), "lacks the columns"),
        (good.assign(extra=1), "unknown column"),
        (good.assign(verdict="Reproduced"), "not one of"),
        (good.assign(value="high"), "not a number"),
        (pd.concat([good, good]), "twice"),
        (good.assign(chapter="05_other"), "rows of chapter"),
        (good.drop(columns=["margin"]), "older seelike"),
    ]:
        broken.to_csv(path, index=False)
        with pytest.raises(claims.TableError, match=message):
            claims.read_folder(folder)
    good.to_csv(path, index=False)
    pd.testing.assert_frame_equal(claims.read_folder(folder), good)


def test_results_dir_defaults_to_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(claims.RESULTS_ENV, raising=False)
    assert claims.results_dir("smoke").parts[-3:] == ("_build", "results", "smoke")


# --- the CKA analyses of Chapters 4 and 9 on the paper preset's architectures (random weights) ---

PAPER_VIT = "vit_base_patch32_224.augreg_in21k"
PAPER_RESNET = "resnetv2_50x1_bit.goog_in21k"
PAPER_MIXER = "mixer_b16_224.goog_in21k"


def test_chapter4_and_9_analyses_on_paper_architectures(mirror: Path) -> None:
    paths, labels = data.image_folder(mirror / "datasets" / "imagenette-mini" / "labels.csv")
    pick = np.arange(0, len(paths), len(paths) // 4)[:4]  # four images, four classes
    probe = probe_sets.ProbeSet(images=np.array(paths)[pick], labels=labels[pick],
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
        point = ch04.Structure(out[(token_model, token_model)],
                               out[(PAPER_RESNET, PAPER_RESNET)],
                               out[(token_model, PAPER_RESNET)])
        found = ch04.chapter4_claims(point, lay[token_model],
                                     layers.block_layers(nets[token_model]), lay[PAPER_RESNET],
                                     layers.block_layers(nets[PAPER_RESNET]), permutations=20)
        assert [c.key for c in found] == list(ch04.DECLARATIONS)
        for claim in found:
            assert isinstance(claim, Claim)
            assert math.isfinite(claim.value) or claim.key.startswith("b1_")
            assert claim.verdict in claims.VERDICTS
    # Chapter 9's claims (H.1, H.2) on the paper's Mixer, the ViT its H.1 control.
    found = ch09.chapter9_claims(out[(PAPER_MIXER, PAPER_MIXER)], out[(PAPER_VIT, PAPER_VIT)],
                                 out[(PAPER_MIXER, PAPER_VIT)], out[(PAPER_MIXER, PAPER_RESNET)])
    assert [c.key for c in found] == list(ch09.DECLARATIONS)
    for claim in found:
        assert math.isfinite(claim.value) and claim.verdict in claims.VERDICTS
    # The one-pass engine agrees with the single-pair one.
    ref = compare.cka_matrix(nets[PAPER_VIT], lay[PAPER_VIT][:10], probe,
                             model_b=nets[PAPER_RESNET], layers_b=lay[PAPER_RESNET][:6],
                             batch_size=4, device=torch.device("cpu"))
    np.testing.assert_allclose(out[(PAPER_VIT, PAPER_RESNET)][:10, :6], ref, atol=1e-10)


def _said(quote: str, value: float, key: str, sentence: str = "") -> Claim:
    decl = claims.Declaration(key, "Fig 1", quote, "Figure 1 caption", "a statistic", ">",
                              0.0, None, "why", "a control", sentence=sentence or key)
    return decl.judge(ch04.CHAPTER, claims.Measured(value, (value - 0.1, value, value + 0.1)))


def test_in_short_counts_sentences_by_their_weakest_clause_in_whole_words() -> None:
    assert claims.in_short([]) == "On this preset the chapter tests none of the paper's sentences."
    assert claims.in_short([None]) == claims.in_short([])
    assert claims.in_short([_said("A.", 1.0, "a")]) == \
        "The one sentence of the paper tested here is reproduced."
    # Two clauses of one sentence: the failing one decides it.
    assert claims.in_short([_said("A.", 1.0, "a"), _said("A.", -1.0, "b", "a")]) == \
        "The one sentence of the paper tested here is not reproduced."
    assert claims.in_short([_said("A.", 1.0, "a"), _said("B.", 2.0, "b")]) == \
        "All 2 sentences of the paper tested here are reproduced."
    between = claims.Declaration("p", "Fig 1", "P.", "Figure 1 caption", "a statistic", ">",
                                 1.0, 0.0, "why", "a control", sentence="p")
    partly = between.judge(ch04.CHAPTER, claims.Measured(0.5, (0.4, 0.5, 0.6)))
    assert partly.verdict == "partly"
    assert claims.in_short([partly]) == \
        "The one sentence of the paper tested here is partly reproduced."
    mixed = [_said("A.", 1.0, "a"), _said("B.", 2.0, "b"), _said("C.", -1.0, "c"),
             _said("D.", 0.05, "d")]
    assert claims.in_short(mixed) == (
        "Of the 4 sentences of the paper tested here, 2 reproduced, 1 not reproduced and 1 "
        "inconclusive (a sentence takes the verdict of its weakest clause).")
    # A results table's rows read the same; claims beyond the paper are not counted.
    beyond = claims.Declaration("e", "Fig 1", "E.", "ours", "a statistic", ">", 0.0, None,
                                "why", "a control", paper=False, sentence="e")
    rows = claims.table([*mixed, beyond.judge(ch04.CHAPTER, claims.Measured(-1.0, None))])
    assert claims.in_short(rows) == claims.in_short(mixed)
    for text in (claims.in_short(mixed), claims.in_short([])):
        assert "nan" not in text and "n/a" not in text and "  " not in text
