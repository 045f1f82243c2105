"""Every results table agrees with its chapter's declarations, and the rules of honest
verdicts hold on the committed results (issue: honest verdicts).

A claim is declared once, in ``seelike.book.claims.chNN.DECLARATIONS``; the tables the
chapters write, and the ones committed under ``data/results``, must carry each declared
clause unchanged, and every declared clause must be judged. On the committed tables: no
measured value under "untestable here", no zero-width interval without a declared reason
and margin, no missing seed values where the zoo has seeds, every declaration recorded in
the revisions log, no inferred claim in the tally. Each rule is shown failing on a
doctored table.
"""

from __future__ import annotations

import importlib
import re

import pytest

from seelike.book import claims, tally
from seelike.book.claims import check, revisions
from seelike.book.presets import get_preset

COMMITTED = sorted(p for preset in tally.REPORTED
                   for p in tally.committed_dir(preset).glob("*.csv"))
MODULES = [importlib.import_module(f"seelike.book.claims.ch{n:02d}") for n in range(4, 11)]
ALL = {k: d for m in MODULES for k, d in m.DECLARATIONS.items()}


def _committed(preset: str = "cifar"):
    return claims.read_folder(tally.committed_dir(preset))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_table_matches_declarations(path) -> None:
    assert check.departures(claims.read_folder(path.parent).query("chapter == @path.stem")) \
        == []


def test_every_chapter_module_declares_with_controls() -> None:
    for module in MODULES:
        assert module.DECLARATIONS and all(isinstance(d, claims.Declaration) and d.control
                                           for d in module.DECLARATIONS.values())
        assert check.declarations_of(module.CHAPTER) is module.DECLARATIONS


def test_a_changed_bar_or_a_missing_clause_is_caught() -> None:
    frame = _committed().query("chapter == '04_representation_structure'")
    edited = frame.copy()
    edited.loc[edited.index[0], "threshold"] = "> 999"
    assert check.departures(edited)
    assert check.departures(frame.iloc[1:])  # a declared clause left unjudged
    assert check.departures(frame.assign(chapter="99_nowhere"))


def test_no_measured_value_sits_under_untestable_here() -> None:
    frame = _committed()
    assert check.measured_untestable(frame) == []
    doctored = frame.copy()
    i = doctored.index[doctored.verdict != "untestable here"][0]
    doctored.loc[i, "verdict"] = "untestable here"
    assert check.measured_untestable(doctored)


def test_a_zero_width_interval_needs_a_declared_reason_and_a_margin() -> None:
    frame = _committed()
    assert check.zero_widths(frame) == []
    doctored = frame.copy()
    i = doctored.index[(doctored.key == "fig1_uniformity")][0]
    doctored.loc[i, "low"] = doctored.loc[i, "high"] = doctored.loc[i, "value"]
    assert any("fig1_uniformity" in p for p in check.zero_widths(doctored))
    j = doctored.index[(doctored.key == "fig2_last_third")][0]
    doctored.loc[j, ["low", "high", "margin"]] = (0.5, 0.5, float("nan"))
    assert any("fig2_last_third" in p and "margin" in p for p in check.zero_widths(doctored))


def test_seed_values_are_shown_wherever_the_models_have_seeds() -> None:
    cifar = get_preset("cifar")
    frame = _committed()
    assert check.missing_seeds(frame, cifar) == []
    doctored = frame.copy()
    doctored.loc[doctored.key == "fig7_ratios", "seeds"] = ""
    assert any("fig7_ratios" in p for p in check.missing_seeds(doctored, cifar))


def test_every_declaration_is_recorded_in_the_revisions_log() -> None:
    assert revisions.unrecorded(ALL) == []
    changed = dict(ALL)
    key = "fig1_uniformity"
    d = changed[key]
    changed[key] = claims.Declaration(d.key, d.figure, d.quote, d.where, d.statistic,
                                      d.direction, d.pass_bar + 0.1, d.partly_bar, d.reason,
                                      d.control, net=d.net, clause=d.clause, roles=d.roles)
    problems = revisions.unrecorded(changed)
    assert len(problems) == 1 and key in problems[0] and changed[key].fingerprint in problems[0]
    assert all(re.fullmatch(r"[0-9a-f]{7,40}", r.commit) for r in revisions.REVISIONS)
    assert all(r.reason for r in revisions.REVISIONS)


def test_no_inferred_claim_is_tallied_as_the_paper_s() -> None:
    assert check.inferred_in_tally(ALL) == []
    d = ALL["fig1_vit_no_stages"]
    tallied = claims.Declaration(d.key, d.figure, d.quote, d.where, d.statistic, d.direction,
                                 d.pass_bar, d.partly_bar, d.reason, d.control, paper=True)
    assert check.inferred_in_tally({d.key: tallied})


def test_the_tally_counts_sentences() -> None:
    frame = _committed()
    told = claims.sentences(tally.paper_claims(frame))
    sentences = {(d.quote) for d in ALL.values() if d.paper}
    assert len(told) == len(sentences)
    assert told.clauses.sum() == len(tally.paper_claims(frame))
