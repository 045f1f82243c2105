"""Claims for a reader: compact tables with the details folded, and values glued into prose.

A claims table shows one row per clause in five columns: the figure, the clause, the value
with its 90 % interval (and the other seeds' values under it), the bar and the verdict (with
the 99 % verdict where it differs). The full sentence, the statistic, the control and its
value, how the control was read and what the interval varies sit in a dropdown in the
claim's cell. On a narrow screen ``_static/seelike.css`` stacks each row's cells (the
``seelike-claims`` class), so no column is cut.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from seelike.book.claims.declare import Declaration
from seelike.book.claims.table import Claim, sentences, table
from seelike.book.claims.verdict import VERDICTS
from seelike.book.codenames import as_html

__all__ = ["DISPLAY_COLUMNS", "declarations_frame", "display_frame", "glue", "in_short", "number",
           "phrases", "span", "styled"]


#: The columns of a claims table on a page, in order.
DISPLAY_COLUMNS = ("figure", "claim", "value [90 %]", "bar", "verdict")


def number(x: float) -> str:
    """A statistic as the tables print it (3 decimals), or a dash when not measured."""
    return f"{x:.3f}" if math.isfinite(x) else "–"


def span(low: float, high: float) -> str:
    """``"0.363 to 0.380"``, or ``""`` without an interval."""
    return f"{low:.3f} to {high:.3f}" if math.isfinite(low) and math.isfinite(high) else ""


def _with_interval(value: float, low: float, high: float) -> str:
    if not math.isfinite(value):
        return "–"
    inside = span(low, high)
    return f"{value:.3f} [{inside.replace(' to ', ', ')}]" if inside else f"{value:.3f}"


def _seeds(row: pd.Series) -> str:
    text = str(row["seeds"] or "")
    if not text:
        return "one seed"
    return "other seeds " + ", ".join(number(float(v)) for v in text.split(","))


def _value(row: pd.Series) -> str:
    """The value cell: the value with its interval, and the other seeds' values after it."""
    value = _with_interval(row["value"], row["low"], row["high"])
    return value if value == "–" else f"{value}; {_seeds(row)}"


def _verdict(row: pd.Series) -> str:
    if row["verdict99"] != row["verdict"]:
        return f"{row['verdict']} (at 99 %: {row['verdict99']})"
    return str(row["verdict"])


def _quoted(row: pd.Series) -> str:
    return f"“{row['statement']}”" if row["paper"] else f"{row['statement']} (beyond the paper)"


def display_frame(claims: Sequence[Claim] | pd.DataFrame) -> pd.DataFrame:
    """The claims as plain text, one row per clause: the columns of a chapter's table."""
    frame = claims if isinstance(claims, pd.DataFrame) else table(claims)
    rows = [{
        "figure": row["figure"],
        "claim": row["clause"] if row["paper"] else row["statement"],
        "value [90 %]": _value(row),
        "bar": row["threshold"],
        "verdict": _verdict(row),
    } for _, row in frame.iterrows()]
    return pd.DataFrame(rows, columns=list(DISPLAY_COLUMNS))


def _details(row: pd.Series) -> str:
    """The claim's cell: its clause, and the rest of its declaration folded under it."""
    parts = [("the paper says" if row["paper"] else "the claim",
              f"{_quoted(row)} ({row['where']})"),
             ("we measure", row["statistic"]), ("control", row["control"])]
    if math.isfinite(row["control_value"]):
        parts.append(("the control measures", _with_interval(
            row["control_value"], row["control_low"], row["control_high"])))
    parts += [("how the control is read", row["reading"]),
              ("the interval varies", row["varies"] or "nothing: one measurement")]
    if math.isfinite(row["net_value"]):
        parts.append(("net of the control", _with_interval(row["net_value"], row["net_low"],
                                                           row["net_high"])))
    if math.isfinite(row["margin"]):
        parts.append(("margin behind it", _with_interval(row["margin"], row["margin_low"],
                                                         row["margin_high"])))
    if math.isfinite(row["low99"]):
        parts.append(("99 % interval", span(row["low99"], row["high99"])))
    body = "".join(f"<dt>{html.escape(k)}</dt><dd>{as_html(html.escape(str(v)))}</dd>"
                   for k, v in parts)
    head = html.escape(str(row["clause"] if row["paper"] else row["statement"]))
    return (f'<details class="seelike-claim"><summary>{head}</summary><dl>{body}</dl>'
            "</details>")


def styled(claims: Sequence[Claim] | pd.DataFrame, caption: str | None = None,
           figure_cells: Sequence[str] | None = None):  # -> pandas Styler
    """The claims for a page: :func:`display_frame` with each claim's details in a dropdown
    and verdicts coloured. ``figure_cells``: HTML for the figure column (links)."""
    from seelike.book import tables

    frame = claims if isinstance(claims, pd.DataFrame) else table(claims)
    frame = frame.reset_index(drop=True)
    shown = display_frame(frame)
    shown["claim"] = [_details(row) for _, row in frame.iterrows()]
    if figure_cells is not None:
        shown["figure"] = list(figure_cells)
    html_columns = ["claim"] + (["figure"] if figure_cells is not None else [])
    # The class lets the stylesheet stack a row's cells on a phone.
    style = tables.styled(shown, caption=caption).set_table_attributes(
        'class="seelike-table seelike-claims"')
    style = style.map(lambda v: tables.verdict_css(str(v).split(" (at 99")[0]),
                      subset=["verdict"])
    return style.format(lambda cell: cell, subset=html_columns, escape=None)


def declarations_frame(declarations: Mapping[str, Declaration] | Sequence[Declaration]
                       ) -> pd.DataFrame:
    """A chapter's declarations as a reader sees them: each clause, our statistic, its
    control, the bars and why."""
    decls = list(declarations.values()) if isinstance(declarations, Mapping) else list(
        declarations)
    return pd.DataFrame({
        "figure": [d.figure for d in decls],
        "clause": [f"“{d.clause or d.quote}”" if d.paper else f"{d.quote} (beyond the paper)"
                   for d in decls],
        "statistic": [d.statistic for d in decls],
        "control": [d.control + ("" if d.net == "beside" else f" (read as the {d.net})")
                    for d in decls],
        "pass": [d.threshold for d in decls],
        "why this bar": [d.reason for d in decls],
    })


def glue(claims: Sequence[Claim | None], prefix: str, keys: Sequence[str] | None = None) -> None:
    """Glue each claim's numbers and verdict for the prose of its chapter.

    ``keys[i]`` names ``claims[i]`` (default: each claim's key): the text cites
    ``{glue:text}`<prefix>_<key>_value```, ``…_interval``, ``…_verdict``, ``…_control`` and
    ``…_result``, a whole phrase ("0.371 (90 % interval 0.363 to 0.380; other seeds 0.340,
    0.388)") that reads well when there is no interval, no seed or no value. Values get 3
    decimals, as in the tables, so that none reads as sitting on its bar.
    """
    from myst_nb import glue as myst_glue  # the book extra; the rest of the module needs none

    keys = [c.key if c else f"claim{i}" for i, c in enumerate(claims)] if keys is None \
        else list(keys)
    if len(keys) != len(claims):
        raise ValueError(f"{len(claims)} claims but {len(keys)} keys")
    for key, claim in zip(keys, claims, strict=True):
        texts = phrases(claim)
        for what, text in texts.items():
            myst_glue(f"{prefix}_{key}_{what}", text, display=False)


def phrases(claim: Claim | None) -> dict[str, str]:
    """The words :func:`glue` glues for one claim (None: a claim this preset cannot test)."""
    if claim is None or not math.isfinite(claim.value):
        why = "not measured on this preset" if claim is None else "not measured"
        return {"value": why, "interval": "no interval", "verdict": (
            "untestable here" if claim is not None else "not tested on this preset"),
                "control": "not measured", "result": why, "margin": "not measured"}
    inside = span(claim.low, claim.high)
    detail = [f"90 % interval {inside}"] if inside else ["one measurement, no interval"]
    if claim.seeds:
        detail.append("other seeds " + ", ".join(number(float(v))
                                                 for v in claim.seeds.split(",")))
    return {"value": f"{claim.value:.3f}", "interval": inside or "no interval",
            "verdict": claim.verdict,
            "control": _phrase(claim.control_value, claim.control_low, claim.control_high),
            "margin": _phrase(claim.margin, claim.margin_low, claim.margin_high),
            "result": f"{claim.value:.3f} ({'; '.join(detail)})"}


def _phrase(value: float, low: float, high: float) -> str:
    if not math.isfinite(value):
        return "not measured"
    inside = span(low, high)
    return f"{value:.3f} (90 % interval {inside})" if inside else f"{value:.3f}"


def _predicate(verdict: str) -> str:
    """A verdict after "is": "partly" alone reads as a fragment there."""
    return "partly reproduced" if verdict == "partly" else verdict


def _listed(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def in_short(claims: Sequence[Claim | None] | pd.DataFrame, where: str = "here") -> str:
    """What a chapter found, in one sentence for its "In short" box: the paper's sentences it
    tests (``claims``, or a results table's rows), counted by verdict (each sentence by its
    weakest clause, as the tally counts). ``where`` says where they are tested ("in this
    chapter" on another page)."""
    frame = claims if isinstance(claims, pd.DataFrame) else table(
        [c for c in claims if c is not None])
    told = sentences(frame[frame.paper.astype(bool)])
    if told.empty:
        return "On this preset the chapter tests none of the paper's sentences."
    if len(told) == 1:
        return (f"The one sentence of the paper tested {where} is "
                f"{_predicate(told.verdict.iloc[0])}.")
    counts = told.verdict.value_counts()
    found = [v for v in VERDICTS if counts.get(v, 0)]
    if len(found) == 1:
        return f"All {len(told)} sentences of the paper tested {where} are {_predicate(found[0])}."
    parts = [f"{counts[v]} {v}" for v in found]
    return (f"Of the {len(told)} sentences of the paper tested {where}, {_listed(parts)} (a "
            f"sentence takes the verdict of its weakest clause).")
