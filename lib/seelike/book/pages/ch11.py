"""Chapter 11's page: what the scorecard's text quotes, and the verdicts and values this
build changed against the committed results of its preset."""

from __future__ import annotations

import pandas as pd

from seelike.book import scorecard, tally
from seelike.book.claims.display import in_short
from seelike.book.claims.table import sentences
from seelike.book.claims.verdict import VERDICTS

__all__ = ["changed", "numbers"]


def numbers(current: tally.Results, counts: pd.DataFrame, card: pd.DataFrame) -> dict[str, object]:
    """The tally of ``current`` (its first row of ``counts``), the chapters it covers, and
    the verdicts that would read otherwise at the 99 % level."""
    paper_card, beyond_card = tally.paper_claims(card), tally.beyond_paper(card)
    told = sentences(paper_card)
    first = counts.iloc[0]
    moved = tally.level_dependent(card) if len(card) else told
    return {
        **{v.replace(" ", "_"): int(first[v]) if current.run else 0 for v in VERDICTS},
        "total": len(told), "clauses": len(paper_card), "beyond": len(beyond_card),
        "n_chapters": card.chapter.nunique(),
        "chapters": ", ".join(str(scorecard.chapter_number(c)) for c in card.chapter.unique())
        or "no chapter",
        "in_short": in_short(paper_card, where="in the book"),
        "level_sentence": "No verdict would read otherwise" if not len(moved) else
        f"{len(moved)} verdict{'s' if len(moved) != 1 else ''} would read otherwise",
        "level_list": "; ".join(f"{f} (chapter {scorecard.chapter_number(c)}): {v} at 90 %, "
                                f"{w} at 99 %" for c, f, v, w in zip(
                                    moved.chapter, moved.figure, moved.verdict,
                                    moved.verdict99, strict=True)) or "none"}


def changed(preset: str, current: tally.Results) -> tuple[pd.DataFrame, str]:
    """Each claim whose verdict or value this build changed against the committed results
    of ``preset``, and a sentence saying how many (or why none is compared)."""
    base = tally.read_committed(preset)
    if current.source == "this build" and base.run:
        found = tally.changed(current.frame, base.frame)
        said = f"{len(found)} of {len(current.frame)} ({base.describe()})"
    else:
        why = (f"this build wrote no results of {preset}" if current.source != "this build"
               else f"{preset} has no committed results")
        said = f"none to compare ({why})"
        found = pd.DataFrame(columns=["chapter", "key", "figure", "verdict", "value",
                                      "verdict_committed", "value_committed"])
    return pd.DataFrame({
        "figure": found.figure, "claim": found.key, "verdict": found.verdict,
        "committed verdict": found.verdict_committed, "value": found.value.astype(float),
        "committed value": found.value_committed.astype(float),
        "chapter": [scorecard.chapter_number(c) for c in found.chapter]}), said
