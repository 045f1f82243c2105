"""Whether a results table is what its chapter's declarations say it should be.

A claim is declared once, in ``seelike.book.claims.chNN.DECLARATIONS``; the tables the
chapters write, and the ones committed under ``data/results``, must carry each declared
clause's sentence, bar and paper flag unchanged, and every declared clause must be judged.
:func:`departures` lists every way a table departs from them; the tests and
:mod:`seelike.book.publish` refuse a table with any.
"""

from __future__ import annotations

import importlib
import math

import pandas as pd

from seelike.book.claims.declare import Declaration

__all__ = ["declarations_of", "departures", "inferred_in_tally", "measured_untestable",
           "missing_seeds", "zero_widths"]


def declarations_of(chapter: str) -> dict[str, Declaration]:
    """The declarations of ``chapter`` (``"04_representation_structure"`` reads
    ``seelike.book.claims.ch04``); KeyError when no module declares that chapter."""
    head = chapter.split("_", 1)[0]
    if not head.isdigit():
        raise KeyError(f"{chapter!r} does not start with a chapter number")
    try:
        module = importlib.import_module(f"seelike.book.claims.ch{int(head):02d}")
    except ModuleNotFoundError:
        raise KeyError(f"no module seelike.book.claims.ch{int(head):02d} declares the claims "
                       f"of {chapter!r}") from None
    if chapter != module.CHAPTER:
        raise KeyError(f"seelike.book.claims.ch{int(head):02d} declares {module.CHAPTER!r}, "
                       f"not {chapter!r}")
    return module.DECLARATIONS


def departures(frame: pd.DataFrame) -> list[str]:
    """Every way ``frame`` (claims of one or more chapters) departs from the declarations:
    an undeclared chapter or key, a declared clause not judged, or a sentence, clause, bar,
    figure or paper flag that is not the declared one."""
    found = []
    for chapter, rows in frame.groupby("chapter", sort=False):
        try:
            declared = declarations_of(str(chapter))
        except KeyError as err:
            found.append(str(err.args[0]))
            continue
        missing = [k for k in declared if k not in set(rows.key)]
        extra = [k for k in rows.key if k not in declared]
        if missing:
            found.append(f"{chapter}: declared but not judged: {missing}")
        if extra:
            found.append(f"{chapter}: judged but not declared: {extra}")
        if list(rows.key) != list(dict.fromkeys(rows.key)):
            found.append(f"{chapter}: a key appears twice")
        for row in rows.itertuples(index=False):
            d = declared.get(row.key)
            if d is None:
                continue
            want = (d.figure, d.quote, d.clause or d.quote, d.where, d.threshold, d.paper,
                    d.sentence)
            got = (row.figure, row.statement, row.clause, row.where, row.threshold,
                   bool(row.paper), row.sentence)
            if want != got:
                fields = ("figure", "statement", "clause", "where", "threshold", "paper",
                          "sentence")
                diff = [f for f, w, g in zip(fields, want, got, strict=True) if w != g]
                found.append(f"{chapter}: {row.key}: {', '.join(diff)} differ from the "
                             "declaration; rebuild the chapter")
    return found


def zero_widths(frame: pd.DataFrame) -> list[str]:
    """Testable clauses whose interval has no width, unless their declaration says why and
    the table shows the margin behind them."""
    found = []
    for row in frame.itertuples(index=False):
        if row.verdict == "untestable here" or not (math.isfinite(row.low)
                                                    and row.low == row.high):
            continue
        d = declarations_of(row.chapter).get(row.key)
        if d is None or not d.zero_width:
            found.append(f"{row.chapter}: {row.key}: its interval has no width "
                         f"({row.low:g}); declare zero_width= with the reason and a margin=")
        elif not math.isfinite(row.margin):
            found.append(f"{row.chapter}: {row.key}: a zero-width interval shows its margin, "
                         "but the table has none")
    return found


def missing_seeds(frame: pd.DataFrame, preset: object) -> list[str]:
    """Testable clauses without seed values although every model their declaration reads
    (its roles, on ``preset``) has other training seeds."""
    from seelike.book import roles

    found = []
    for row in frame.itertuples(index=False):
        d = declarations_of(row.chapter).get(row.key)
        if d is None or not d.roles or row.verdict == "untestable here":
            continue
        names = [n for role in d.roles for n in roles.role_models(preset, role)]
        if names and all(roles.other_seeds(n) for n in names) and not row.seeds:
            found.append(f"{row.chapter}: {row.key}: every model it reads ({', '.join(names)}) "
                         "has other training seeds, but the table shows no seed values")
    return found


def measured_untestable(frame: pd.DataFrame) -> list[str]:
    """Clauses marked untestable here that hold a measured value: a result that contradicts
    a sentence is not reproduced, never untestable."""
    return [f"{row.chapter}: {row.key}: 'untestable here' with a measured value {row.value:g}"
            for row in frame.itertuples(index=False)
            if row.verdict == "untestable here" and math.isfinite(row.value)]


def inferred_in_tally(declarations: dict[str, Declaration]) -> list[str]:
    """Declarations tallied as the paper's whose ``where`` says the paper does not state
    them: an inferred claim is a claim beyond the paper."""
    words = ("never states", "beyond the paper", "implies")
    return [f"{key}: tallied as the paper's, but its source says '{d.where}'"
            for key, d in declarations.items()
            if d.paper and any(w in d.where.lower() for w in words)]
