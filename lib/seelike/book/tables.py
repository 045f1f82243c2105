"""The book's tables: numbers formatted, verdicts coloured, wide tables in a scroll box.

Serves every table of the book (the zoo of Chapter 3, the claims tables of Chapters 4-10,
the scorecard of Chapter 11). Padding, the scroll container and the colours' contrast
live in ``_static/seelike.css``; this module gives each table the ``seelike-table`` class
and formats its cells, so no chapter styles a table by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from seelike.book.codenames import as_html

__all__ = ["VERDICT_COLOURS", "styled", "verdict_css"]

#: Background of each verdict, the same in every table of the book (light enough for text).
VERDICT_COLOURS = {"reproduced": "#d4edda", "partly": "#fff3cd", "not reproduced": "#f8d7da",
                   "inconclusive": "#e2e3e5", "untestable here": "#dbe7f3"}


def verdict_css(value: object) -> str:
    """The cell style of a verdict (empty for anything else)."""
    colour = VERDICT_COLOURS.get(str(value))
    return f"background-color: {colour}; font-weight: 600" if colour else ""


def styled(frame: pd.DataFrame, *, formats: Mapping[str, str] | None = None,
           precision: int = 3, index: bool = False, caption: str | None = None) -> Styler:
    """``frame`` ready for a page: integers as integers, floats to ``precision``, text escaped.

    ``formats`` overrides the format of some columns (``{"accuracy": "{:.1f}"}``). A
    ``verdict`` column is coloured (:data:`VERDICT_COLOURS`). The table gets the class
    ``seelike-table`` (padding, and a horizontal scroll box when it is wider than the page).
    Names of the code in text cells and headers (model names, claim keys) are set as code.
    """
    formats = dict(formats or {})
    for column in frame.columns:
        if column in formats:
            continue
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            continue
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            formats[column] = as_html  # given the escaped text
            continue
        if pd.api.types.is_integer_dtype(values):
            formats[column] = "{:,}"
        elif pd.api.types.is_float_dtype(values):
            whole = values.dropna()
            integral = len(whole) and np.all(np.isclose(whole, np.round(whole))) \
                and whole.abs().max() >= 10
            formats[column] = "{:,.0f}" if integral else f"{{:.{precision}f}}"
    style = (frame.style.format(formats, na_rep="–", escape="html")
             .format_index(as_html, axis=1, escape="html")
             .set_table_attributes('class="seelike-table"'))
    if "verdict" in frame.columns:
        style = style.map(verdict_css, subset=["verdict"])
    if not index:
        style = style.hide(axis="index")
    if caption:
        style = style.set_caption(as_html(caption))
    return style
