"""The tally: every chapter's claims of a preset, where they come from, counted by sentence.

Each experiment chapter (4 onwards) writes its claims with :func:`seelike.book.claims.write`
to ``_build/results/<preset>/<chapter>.csv``. Those files vanish with ``_build``, so a
preset's results can also be *committed* as data: ``data/results/<preset>/*.csv`` plus a
``provenance.json`` (:mod:`seelike.book.publish` writes them). :func:`load` prefers this
build's results and falls back to the committed ones; a preset with neither is "not run".

The tally counts **sentences** of the paper, each by the weakest verdict of its clauses
(:func:`seelike.book.claims.sentences`); claims beyond the paper are listed apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seelike.book import claims
from seelike.config import repo_root

__all__ = ["NOT_RUN", "PROVENANCE", "REPORTED", "Results", "beyond_paper", "changed",
           "committed_dir", "counts", "level_dependent", "load", "paper_claims", "per_chapter",
           "read_committed"]

# The presets whose results are evidence. smoke runs a few dozen images so that CI is
# fast; its verdicts test the code path, not the paper, and are never committed.
REPORTED = ("cifar", "paper")
PROVENANCE = "provenance.json"
NOT_RUN = "not run"


def committed_dir(preset: str, root: Path | None = None) -> Path:
    """``data/results/<preset>`` of the checkout (or of ``root``)."""
    return (root or repo_root() / "data" / "results") / preset


@dataclass(frozen=True)
class Results:
    """One preset's claims and where they come from."""

    preset: str
    frame: pd.DataFrame          # the columns of claims.Claim; empty if not run
    source: str                  # "this build", "committed" or NOT_RUN
    provenance: Mapping[str, object]

    @property
    def run(self) -> bool:
        return self.source != NOT_RUN

    def describe(self) -> str:
        """Where the rows come from, in words: 'committed: 1a2b3c4, 2026-01-02, <machine>'."""
        if self.source != "committed":
            return self.source
        p = self.provenance
        commit = str(p["commit"])[:7] + (" with uncommitted changes" if p["dirty"] else "")
        return f"committed: {commit}, {str(p['date'])[:10]}, {p['machine']}"


def read_committed(preset: str, root: Path | None = None) -> Results:
    """The committed results of ``preset`` (``source`` is NOT_RUN if there are none).

    Tables written by an older seelike, without the columns of today's claims, count as not
    run: a page shows no stale verdicts, and :func:`seelike.book.readme.problems` says how
    to rewrite them.
    """
    folder = committed_dir(preset, root)
    if not (folder / PROVENANCE).is_file():
        return Results(preset, claims.table([]), NOT_RUN, {})
    try:
        frame = claims.read_folder(folder)
        provenance = json.loads((folder / PROVENANCE).read_text())
    except (claims.TableError, json.JSONDecodeError, UnicodeDecodeError):
        return Results(preset, claims.table([]), NOT_RUN, {})
    if not isinstance(provenance, dict) or not isinstance(provenance.get("files"), dict):
        return Results(preset, claims.table([]), NOT_RUN, {})
    return Results(preset, frame, "committed", provenance)


def load(preset: str, root: Path | None = None) -> Results:
    """This build's results of ``preset`` if it wrote any, else the committed ones."""
    built = claims.read_all(preset)
    if len(built):
        return Results(preset, built, "this build", {})
    return read_committed(preset, root)


def paper_claims(frame: pd.DataFrame) -> pd.DataFrame:
    """The clauses that test a sentence of the paper."""
    return frame[frame.paper.astype(bool)]


def beyond_paper(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that test claims of this book beyond the paper: shown apart, never tallied."""
    return frame[~frame.paper.astype(bool)]


def counts(results: list[Results], level: int = 90) -> pd.DataFrame:
    """One row per preset: the paper's sentences per verdict at ``level`` %, their total,
    how many clauses they hold and where the results come from.

    A not-run preset has no counts: they are nullable integers, so "not run" shows as
    missing, never as zero.
    """
    column = "verdict" if level == 90 else "verdict99"
    rows = []
    for r in results:
        told = claims.sentences(paper_claims(r.frame))
        tally = told[column].value_counts()
        row: dict[str, object] = {v: int(tally.get(v, 0)) if r.run else None
                                  for v in claims.VERDICTS}
        row.update(preset=r.preset, total=len(told) if r.run else None,
                   clauses=len(paper_claims(r.frame)) if r.run else None, source=r.describe())
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["preset", *claims.VERDICTS, "total", "clauses",
                                        "source"])
    return frame.astype({c: "Int64" for c in (*claims.VERDICTS, "total", "clauses")})


def per_chapter(card: pd.DataFrame) -> pd.DataFrame:
    """Sentences per verdict (columns, :data:`claims.VERDICTS`) of each chapter (rows, in
    order), the weakest clause deciding each sentence."""
    told = claims.sentences(card)
    order = list(dict.fromkeys(card.chapter))
    if told.empty:
        return pd.DataFrame(0, index=order, columns=list(claims.VERDICTS))
    return (told.groupby(["chapter", "verdict"]).size().unstack(fill_value=0)
            .reindex(index=order, columns=list(claims.VERDICTS), fill_value=0)
            .rename_axis(index=None, columns=None).astype(int))


def level_dependent(frame: pd.DataFrame) -> pd.DataFrame:
    """The paper's sentences whose verdict at 99 % differs from the one at 90 %."""
    told = claims.sentences(paper_claims(frame))
    return told[told.verdict != told.verdict99]


def changed(current: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Clauses whose verdict differs between two tables, or that only one has, matched by
    chapter and key: columns ``chapter``, ``key``, ``figure``, ``verdict``, ``value`` and the
    same with ``_committed``."""
    keep = ["chapter", "key", "figure", "verdict", "value"]
    both = current[keep].merge(base[keep], on=["chapter", "key"], how="outer",
                               suffixes=("", "_committed"), indicator=True)
    both["figure"] = both.figure.fillna(both.figure_committed)
    return both[(both.verdict != both.verdict_committed) | (both._merge != "both")].drop(
        columns=["_merge", "figure_committed"])
