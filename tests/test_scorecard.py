"""The tally (sentences per verdict), Chapter 11's display, the README block and the safe
commit of a build's results (``seelike.book.publish``).

``test_readme_is_current`` is the staleness check: it fails when README.md's scorecard
block is not what the committed ``data/results`` render.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from seelike.book import claims, publish, readme, scorecard, tally
from seelike.book.claims import ch09, ch10
from seelike.config import repo_root

README = f"# Title\n\n## Scorecard\n\n{readme.START}\nSTALE BLOCK\n{readme.END}\n\n## After\n"


def chapter_claims(module, values: dict[str, float] | None = None) -> list[claims.Claim]:
    """Every declared clause of ``module`` judged on a value (default 1.0), each with a
    control of 0 and two draws around the value."""
    values = values or {}
    return [d.judge(module.CHAPTER, claims.Measured(values.get(k, 1.0),
                                                    (values.get(k, 1.0) - 0.1,
                                                     values.get(k, 1.0) + 0.1)),
                    control=claims.Measured(0.0), varies="two draws")
            for k, d in module.DECLARATIONS.items()]


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``_build/results/cifar``: chapter 9 (two sentences, H.1 of two clauses, one
    failing) and chapter 10 (one sentence of two clauses, one claim beyond the paper)."""
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path / "build"))
    claims.write(chapter_claims(ch09, {"h1_small_first": 0.9}), "cifar", ch09.CHAPTER)
    claims.write(chapter_claims(ch10, {"verdicts_hold": 2.0, "verdicts_hold_examples": 2.0}),
                 "cifar", ch10.CHAPTER)
    return tmp_path / "build"


def test_counts_sentences_by_their_weakest_clause(build: Path, tmp_path: Path) -> None:
    results = [tally.load("cifar", tmp_path / "data"), tally.load("paper", tmp_path / "data")]
    assert [r.source for r in results] == ["this build", tally.NOT_RUN]
    table = tally.counts(results).set_index("preset")
    # H.1's order clause fails (0.9 is not < 0.5): the whole sentence is not reproduced.
    assert table.loc["cifar", [*claims.VERDICTS, "total", "clauses"]].tolist() == \
        [2, 0, 1, 0, 0, 3, 5]
    assert table.loc["paper", list(claims.VERDICTS)].isna().all()
    assert table.loc["paper", "source"] == tally.NOT_RUN
    per = tally.per_chapter(scorecard.scorecard(results))
    assert per.loc[ch09.CHAPTER].tolist() == [1, 0, 1, 0, 0]


def test_level_dependent_verdicts_and_changes_by_key(build: Path) -> None:
    frame = claims.read_all("cifar")
    assert tally.level_dependent(frame).empty
    moved = frame.copy()
    moved.loc[moved.key == "h2_vit_like", "verdict99"] = "inconclusive"
    assert tally.level_dependent(moved).key.tolist() == ["h2_vit_like"]
    # Two clauses of one sentence swapped in order are the same claims: nothing changed.
    swapped = pd.concat([frame.iloc[[1, 0]], frame.iloc[2:]])
    assert tally.changed(frame, swapped).empty
    edited = frame.copy()
    edited.loc[edited.key == "h2_vit_like", "verdict"] = "partly"
    assert tally.changed(frame, edited).key.tolist() == ["h2_vit_like"]


def test_chapter_tables_and_chart(build: Path, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from seelike.book import plots, tables

    card = scorecard.scorecard([tally.load("cifar", tmp_path / "data")])
    found = scorecard.chapter_tables(tally.paper_claims(card))
    assert len(found) == 2
    assert found[0].data.columns.tolist() == ["figure", "claim", "value [90 %]", "bar",
                                              "verdict"]
    assert 'class="seelike-table seelike-claims"' in found[0].to_html()
    html = found[0].to_html()
    assert "Chapter 9" in html and "3 sentence" not in html and "2 sentence(s)" in html
    assert tables.VERDICT_COLOURS["not reproduced"] in html and "<details" in html
    fig = scorecard.verdict_chart(card)
    assert fig.get_figwidth() <= plots.PAGE_WIDTH
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == set(claims.VERDICTS)
    empty = scorecard.verdict_chart(card.iloc[:0], empty="not run")
    assert "not run" in [t.get_text() for t in empty.axes[0].texts]
    plt.close(fig)
    plt.close(empty)


def test_figures_with_a_verdict_say_how_many_of_their_sentences() -> None:
    told = pd.DataFrame({"chapter": ["04_representation_structure"] * 3 + ["09_mixer"],
                         "figure": ["Fig 2", "Fig 2", "Fig 2", "Fig H.1"],
                         "verdict": ["not reproduced", "partly", "not reproduced",
                                     "not reproduced"]})
    failed = scorecard.figures_with(told, "not reproduced", "chapters/")
    assert failed.count("<a href=") == 2 and 'href="chapters/04_representation_structure.html' \
        in failed
    assert "paper Fig 2</a> (Chapter 4, 2 of its 3 sentences)" in failed
    assert "paper Fig H.1</a> (Chapter 9)" in failed  # all its sentences: no count
    assert "(Chapter 4, 1 of its 3 sentences)" in scorecard.figures_with(told, "partly")
    assert scorecard.figures_with(told, "inconclusive") == "none"


def test_figure_link_finds_the_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chapter = tmp_path / "chapters" / "07_x.md"
    chapter.parent.mkdir()
    chapter.write_text("# Seven\n\n```{code-cell} ipython3\n# (Fig 1) in a comment\n```\n\n"
                       "### Block 1 alone (Fig C.1)\n\n### Heads (paper Fig 10)\n\n"
                       "### Maps (paper Fig 1, C.1–C.4)\n\n### Mixer (paper H.1)\n")
    monkeypatch.setattr(scorecard, "repo_root", lambda: tmp_path)
    assert scorecard.chapter_title("07_x") == "Seven"
    assert scorecard.figure_link("07_x", "Fig 1") == "07_x.html#maps-paper-fig-1-c-1c-4"
    assert scorecard.figure_link("07_x", "Fig 10") == "07_x.html#heads-paper-fig-10"
    assert scorecard.figure_link("07_x", "Fig C.1") == "07_x.html#block-1-alone-fig-c-1"
    assert scorecard.figure_link("07_x", "Fig H.1") == "07_x.html#mixer-paper-h-1"
    assert scorecard.figure_link("07_x", "Fig 9") == "07_x.html"


def _snapshot(*paths: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in paths for p in
            ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file()}


def test_update_round_trip(build: Path, tmp_path: Path) -> None:
    data, readme_path = tmp_path / "data", tmp_path / "README.md"
    readme_path.write_text(README)
    target = publish.update("cifar", data, readme_path, machine_text="test box")
    assert sorted(p.name for p in target.iterdir()) == [f"{ch09.CHAPTER}.csv",
                                                        f"{ch10.CHAPTER}.csv", tally.PROVENANCE]
    provenance = json.loads((target / tally.PROVENANCE).read_text())
    assert provenance["preset"] == "cifar" and provenance["machine"] == "test box"
    committed = tally.read_committed("cifar", data)
    pd.testing.assert_frame_equal(committed.frame, claims.read_all("cifar"))
    text = readme_path.read_text()
    assert text.startswith("# Title\n") and text.endswith("## After\n") and "STALE" not in text
    assert "| `cifar` | 2 | 0 | 1 | 0 | 0 | 3 (5) | committed: " in text and "test box" in text
    assert "| ↳ " in text and "beyond the paper (not in the tally)" in text
    assert readme.problems(readme_path, data) == []
    (target / f"{ch09.CHAPTER}.csv").write_text(
        (target / f"{ch09.CHAPTER}.csv").read_text().replace("not reproduced", "partly"))
    assert any("differ from" in p for p in readme.problems(readme_path, data))


def test_a_partial_build_keeps_the_other_committed_chapters(build: Path, tmp_path: Path) -> None:
    data, readme_path = tmp_path / "data", tmp_path / "README.md"
    readme_path.write_text(README)
    publish.update("cifar", data, readme_path, machine_text="first")
    (build / "cifar" / f"{ch10.CHAPTER}.csv").unlink()  # a build of chapter 9 alone
    target = publish.update("cifar", data, readme_path, machine_text="second")
    assert (target / f"{ch10.CHAPTER}.csv").is_file()
    files = json.loads((target / tally.PROVENANCE).read_text())["files"]
    assert set(files) == {f"{ch09.CHAPTER}.csv", f"{ch10.CHAPTER}.csv"}
    assert readme.problems(readme_path, data) == []


@pytest.mark.parametrize("damage", ["truncated", "misspelt column", "capital verdict",
                                    "edited bar", "undeclared chapter"])
def test_a_bad_build_table_commits_nothing(build: Path, tmp_path: Path, damage: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data, readme_path = tmp_path / "data", tmp_path / "README.md"
    readme_path.write_text(README)
    publish.update("cifar", data, readme_path, machine_text="good")
    before = _snapshot(data, readme_path)
    path = build / "cifar" / f"{ch10.CHAPTER}.csv"
    text = path.read_text()
    path.write_text({"truncated": text[:len(text) // 2],
                     "misspelt column": text.replace("verdict99", "verdict_99", 1),
                     "capital verdict": text.replace(",reproduced,", ",Reproduced,", 1),
                     "edited bar": text.replace("> 0.99", "> 0.5", 1),
                     "undeclared chapter": text}[damage])
    if damage == "undeclared chapter":
        path.rename(build / "cifar" / "12_new.csv")
    with pytest.raises(publish.PublishError, match="nothing was committed"):
        publish.update("cifar", data, readme_path)
    assert _snapshot(data, readme_path) == before
    # The CLI, on the checkout's own committed results: one line, a non-zero exit, no change.
    root = repo_root()
    committed = _snapshot(root / "data" / "results", root / "README.md")
    assert publish.main(["update", "--preset", "cifar"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("publish: ") and "nothing was committed" in err, err
    assert "\n" not in err, err
    assert _snapshot(root / "data" / "results", root / "README.md") == committed


def test_update_refuses_smoke_and_missing_results(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(claims.RESULTS_ENV, str(tmp_path / "empty"))
    with pytest.raises(publish.PublishError, match="code path"):
        publish.update("smoke", tmp_path, tmp_path / "README.md")
    with pytest.raises(publish.PublishError, match=r"seelike\.book\.run --preset cifar"):
        publish.update("cifar", tmp_path, tmp_path / "README.md")


def test_readme_without_markers(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text("# no block\n")
    with pytest.raises(ValueError, match="scorecard:start"):
        readme.readme_block(path)


def test_readme_is_current() -> None:
    """README.md's block is what data/results render, and data/results match their provenance."""
    found = readme.problems(repo_root() / "README.md")
    assert not found, "\n".join(found)
