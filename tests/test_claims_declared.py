"""Every results table agrees with its chapter's declarations (issue: evidence).

A claim is declared once, in ``seelike.book.claims.chNN.DECLARATIONS``; the tables the
chapters write, and the ones committed under ``data/results``, must carry each declared
sentence, bar and paper flag unchanged, and every declared claim must be judged. A bar
edited in a table by hand, or a declaration changed without rebuilding, fails here.
"""

from __future__ import annotations

import importlib
import re

import pandas as pd
import pytest

from seelike.book import claims, scorecard
from seelike.book.claims import record

COMMITTED = sorted(p for preset in scorecard.REPORTED
                   for p in scorecard.committed_dir(preset).glob("*.csv"))
CHAPTER_MODULES = {f"ch{int(m.group(1)):02d}" for m in (
    re.match(r"(\d+)_", p.stem) for p in COMMITTED) if m}


def _declarations(chapter: str) -> dict[str, claims.Declaration]:
    number = int(re.match(r"(\d+)_", chapter).group(1))
    module = importlib.import_module(f"seelike.book.claims.ch{number:02d}")
    assert chapter == module.CHAPTER, (module.CHAPTER, chapter)
    return module.DECLARATIONS


def check_table(frame: pd.DataFrame) -> None:
    """Raise AssertionError where ``frame`` (one chapter's claims) departs from its declarations."""
    for chapter, rows in frame.groupby("chapter"):
        declared = _declarations(chapter)
        assert list(rows.key) == list(dict.fromkeys(rows.key)), f"{chapter}: a key twice"
        assert set(rows.key) == set(declared), (
            f"{chapter}: judged {sorted(rows.key)} but declared {sorted(declared)}")
        for row in rows.itertuples(index=False):
            d = declared[row.key]
            assert (row.figure, row.statement, row.where, row.threshold, bool(row.paper)) == (
                d.figure, d.quote, d.where, d.threshold, d.paper), f"{chapter}: {row.key}"
            assert row.verdict in claims.VERDICTS


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_table_matches_declarations(path) -> None:
    check_table(claims.read_folder(path.parent).query("chapter == @path.stem"))


def test_every_chapter_module_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in sorted(CHAPTER_MODULES):
        module = importlib.import_module(f"seelike.book.claims.{name}")
        assert module.DECLARATIONS and all(isinstance(d, record.Declaration)
                                           for d in module.DECLARATIONS.values())


def test_a_changed_bar_is_caught() -> None:
    frame = claims.read_folder(COMMITTED[0].parent).query("chapter == @COMMITTED[0].stem")
    edited = frame.copy()
    edited.loc[edited.index[0], "threshold"] = "> 999"
    with pytest.raises(AssertionError):
        check_table(edited)
    with pytest.raises(AssertionError):
        check_table(frame.iloc[1:])  # a declared claim left unjudged
