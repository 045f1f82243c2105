"""The scorecard (Chapter 11): counts, not-run presets, README rendering, the update round trip.

``test_readme_is_current`` is the staleness check: it fails when README.md's scorecard
block is not what the committed ``data/results`` render.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from seelike.book import claims, scorecard
from seelike.book.claims import record
from seelike.config import repo_root

README = f"# Title\n\n## Scorecard\n\n{scorecard.START}\nSTALE BLOCK\n{scorecard.END}\n\n## After\n"


def _claim(chapter: str, verdict: str, figure: str = "Fig 1",
           statement: str = "ViTs are uniform.", paper: bool = True) -> claims.Claim:
    return claims.Claim(chapter=chapter, key="k", figure=figure, statement=statement,
                        where="Section 4", statistic="a statistic", value=0.5, low=0.4,
                        high=0.6, seed_low=float("nan"), seed_high=float("nan"),
                        threshold="> 0 | < 1", verdict=verdict, paper=paper,
                        varies="probe examples")


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``_build/results``: chapter 4 with three verdicts, chapter 6 with one."""
    monkeypatch.setenv(record.RESULTS_ENV, str(tmp_path / "build"))
    claims.write([_claim("04_a", "reproduced"), _claim("04_a", "partly", "Fig 2"),
                  _claim("04_a", "reproduced", "Fig 2"),
                  _claim("04_a", "inconclusive", "Fig 2"),
                  _claim("04_a", "reproduced", "beyond", "Our own claim.", paper=False)],
                 "cifar", "04_a")
    claims.write([_claim("06_b", "not reproduced", "Fig 8",
                         "Removing a middle block's skip connections costs about four "
                         "per cent accuracy at ImageNet scale, a long sentence.")],
                 "cifar", "06_b")
    return tmp_path / "build"


def test_counts_per_verdict_and_not_run(build: Path, tmp_path: Path) -> None:
    results = [scorecard.load("cifar", tmp_path / "data"),
               scorecard.load("paper", tmp_path / "data")]
    assert [r.source for r in results] == ["this build", scorecard.NOT_RUN]
    table = scorecard.counts(results).set_index("preset")
    # The claim beyond the paper is not in the tally; each paper claim counts once.
    assert table.loc["cifar", [*claims.VERDICTS, "total"]].tolist() == [2, 1, 1, 1, 0, 5]
    assert table.loc["paper", list(claims.VERDICTS)].isna().all()
    assert table.loc["paper", "source"] == scorecard.NOT_RUN


def test_scorecard_frame_has_preset_and_link(build: Path, tmp_path: Path) -> None:
    card = scorecard.scorecard([scorecard.load("cifar", tmp_path / "data"),
                                scorecard.load("paper", tmp_path / "data")])
    assert len(card) == 6 and set(card.preset) == {"cifar"}
    assert len(scorecard.paper_claims(card)) == 5 and len(scorecard.beyond_paper(card)) == 1
    assert card.link.iloc[0] == "04_a.html"  # no chapter source: a link to the page
    html = scorecard.styled(card).to_html()
    assert '<a href="04_a.html">Fig 1</a>' in html and "&gt; 0 | &lt; 1" in html
    assert "0.400 to 0.600" in html and "“ViTs are uniform.” (Section 4)" in html


def test_chapter_tables_and_chart(build: Path, tmp_path: Path) -> None:
    """Chapter 11's display: one coloured table per chapter, verdict second, no preset column;
    the chart counts claims per verdict of each chapter and fits the page."""
    import matplotlib.pyplot as plt

    from seelike.book import plots, tables

    card = scorecard.scorecard([scorecard.load("cifar", tmp_path / "data")])
    per = scorecard.per_chapter(card)
    assert per.index.tolist() == ["04_a", "06_b"] and list(per.columns) == list(claims.VERDICTS)
    assert per.loc["04_a"].tolist() == [3, 1, 0, 1, 0]
    assert per.loc["06_b"].tolist() == [0, 0, 1, 0, 0]
    found = scorecard.chapter_tables(card)
    assert len(found) == 2
    assert [s.data.columns.tolist() for s in found] == \
        [["figure", "verdict", "value", "90 % interval", "over seeds", "pass",
          "the paper says", "statistic", "varies"]] * 2
    html = found[1].to_html()
    assert '<a href="06_b.html">Chapter 6: 06_b</a>' in html  # caption links to the chapter
    assert tables.VERDICT_COLOURS["not reproduced"] in html and "preset" not in html
    assert '<a href="06_b.html">Fig 8</a>' in html and "0.500" in html
    assert scorecard.styled(card).data.columns[:3].tolist() == ["figure", "verdict", "chapter"]
    fig = scorecard.verdict_chart(card)
    assert fig.get_figwidth() <= plots.PAGE_WIDTH
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["4  04_a", "6  06_b"]
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == set(claims.VERDICTS)
    empty = scorecard.verdict_chart(card.iloc[:0], empty="not run")
    assert "not run" in [t.get_text() for t in empty.axes[0].texts]
    plt.close(fig)
    plt.close(empty)


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


def test_figure_link_on_chapter_4() -> None:
    """A real chapter: its Fig 2 section (whatever its title) is found."""
    page, anchor = scorecard.figure_link("04_representation_structure", "Fig 2").split("#")
    assert page == "04_representation_structure.html" and anchor.endswith("fig-2")


def test_update_round_trip(build: Path, tmp_path: Path) -> None:
    data, readme = tmp_path / "data", tmp_path / "README.md"
    readme.write_text(README)
    (data / "cifar").mkdir(parents=True)
    (data / "cifar" / "05_gone.csv").write_text("left from an older build\n")
    target = scorecard.update("cifar", data, readme, machine_text="test box")
    assert sorted(p.name for p in target.iterdir()) == ["04_a.csv", "06_b.csv",
                                                        scorecard.PROVENANCE]
    provenance = json.loads((target / scorecard.PROVENANCE).read_text())
    assert provenance["preset"] == "cifar" and provenance["machine"] == "test box"
    assert set(provenance["files"]) == {"04_a.csv", "06_b.csv"}
    committed = scorecard.read_committed("cifar", data)
    pd.testing.assert_frame_equal(committed.frame, claims.read_all("cifar"))

    text = readme.read_text()
    assert text.startswith("# Title\n") and text.endswith("## After\n") and "STALE" not in text
    assert "| `cifar` | 2 | 1 | 1 | 1 | 0 | 5 | committed: " in text and "test box" in text
    assert f"| `paper` | | | | | | | {scorecard.NOT_RUN} |" in text
    assert "| [6](chapters/06_b.md) | Fig 8 | “Removing a middle block's" in text
    assert "| a statistic | 0.500 (0.400 to 0.600) | not reproduced |" in text
    assert "0.500 (0.400 to 0.600)" in text
    assert "beyond the paper (not in the tally)" in text and "Our own claim." in text
    assert " …" in text  # the long statement is shortened
    assert scorecard.problems(readme, data) == []

    (target / "04_a.csv").write_text((target / "04_a.csv").read_text().replace(
        "partly", "reproduced"))
    assert any("differ from" in p for p in scorecard.problems(readme, data))
    scorecard.update("cifar", data, readme)
    readme.write_text(readme.read_text().replace("| 2 | 1 | 1 | 1 | 0 | 5 |",
                                                 "| 3 | 0 | 1 | 1 | 0 | 5 |"))
    assert any("stale" in p for p in scorecard.problems(readme, data))
    assert scorecard.write_readme(readme, data) and scorecard.problems(readme, data) == []


def test_update_refuses_smoke_and_missing_results(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(record.RESULTS_ENV, str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="code path"):
        scorecard.update("smoke", tmp_path, tmp_path / "README.md")
    with pytest.raises(FileNotFoundError, match=r"seelike\.book\.run --preset cifar"):
        scorecard.update("cifar", tmp_path, tmp_path / "README.md")


def test_readme_without_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no block\n")
    with pytest.raises(ValueError, match="scorecard:start"):
        scorecard.readme_block(readme)


def test_readme_is_current() -> None:
    """README.md's block is what data/results render, and data/results match their provenance."""
    found = scorecard.problems(repo_root() / "README.md")
    assert not found, "\n".join(found)
