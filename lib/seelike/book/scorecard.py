"""Chapter 11's display of the tally: tables per chapter, the chart, links to each section.

The numbers come from :mod:`seelike.book.tally`; this module shows them on a page: one
claims table per chapter (each sentence's clauses, the figure linked to the chapter's
section that draws it) and a chart of sentences per verdict in each chapter.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from seelike.book import claims, tally
from seelike.book.readme import chapter_number
from seelike.config import repo_root

__all__ = ["VERDICT_EDGES", "chapter_number", "chapter_tables", "chapter_title", "figure_link",
           "figures_with", "scorecard", "short_title", "styled", "verdict_chart"]


def _headings(chapter: str) -> list[str]:
    """The chapter's section titles (code cells skipped: their ``#`` lines are comments)."""
    source = repo_root() / "chapters" / f"{chapter}.md"
    if not source.is_file():
        return []
    titles, fenced = [], False
    for line in source.read_text().splitlines():
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6}\s+(.+?)\s*$", line)):
            titles.append(match.group(1))
    return titles


def chapter_title(chapter: str) -> str:
    """The chapter's first heading, or its file stem if the source is gone."""
    titles = _headings(chapter)
    return titles[0] if titles else chapter


def short_title(chapter: str) -> str:
    """The chapter's title up to its colon: "Representation structure" for Chapter 4."""
    return chapter_title(chapter).split(":")[0].strip()


def figure_link(chapter: str, figure: str) -> str:
    """Relative link from a chapter page to ``chapter``'s section on ``figure``.

    The section is the first heading that names the figure in parentheses, as the
    chapters' headings do ("… (paper Fig 1)", "… (paper H.1)", "… (Fig 7, left)"); its
    anchor is the id Sphinx gives it (docutils' ``make_id``). A chapter with no such
    heading gets a link to its page.
    """
    from docutils.nodes import make_id  # part of the book extra; only chapter pages need it

    page = f"{chapter}.html"
    number = re.sub(r"^Figs?\.?\s*", "", figure)
    # "1" must not match "10", "C.1" or "1.5"
    pattern = re.compile(rf"(?<![\w.]){re.escape(number)}(?![\w]|\.\w)")
    for title in _headings(chapter)[1:]:
        if any(pattern.search(inside) for inside in re.findall(r"\(([^)]*)\)", title)):
            return f"{page}#{make_id(title)}"
    return page


def figures_with(told: pd.DataFrame, verdict: str, pages: str = "") -> str:
    """The paper's figures with a sentence of ``verdict``, as HTML links to their sections
    (``pages``: the chapters' folder as seen from the citing page, ``"chapters/"`` from the
    landing page): "paper Fig 2 (Chapter 4, 1 of its 3 sentences), …", or "none".

    ``told`` holds one row per sentence (:func:`seelike.book.claims.sentences`). A figure
    whose sentences have different verdicts is listed under each, with the count that says
    why, so that two lists naming one figure do not read as two verdicts for one claim.
    """
    parts = []
    for (chapter, figure), rows in told.groupby(["chapter", "figure"], sort=False):
        hits = int((rows.verdict == verdict).sum())
        if not hits:
            continue
        share = "" if hits == len(rows) else (
            f", {hits} of its {len(rows)} sentences")
        link = html.escape(pages + figure_link(str(chapter), str(figure)))
        parts.append(f'<a href="{link}">paper {html.escape(str(figure))}</a> '
                     f"(Chapter {chapter_number(str(chapter))}{share})")
    return ", ".join(parts) or "none"


def scorecard(results: list[tally.Results]) -> pd.DataFrame:
    """Every claim of every preset that was run: the claim's columns, ``preset`` and ``link``."""
    frames = [r.frame.assign(preset=r.preset) for r in results if r.run and len(r.frame)]
    if not frames:
        return pd.DataFrame(columns=[*claims.COLUMNS, "preset", "link"])
    card = pd.concat(frames, ignore_index=True)
    card["link"] = [figure_link(c, f) for c, f in zip(card.chapter, card.figure, strict=True)]
    return card


def styled(card: pd.DataFrame, caption: str | None = None):  # -> pandas Styler
    """Claims of the scorecard for a page, as :func:`seelike.book.claims.styled` shows them,
    each figure linked to its chapter's section."""
    rows = card.reset_index(drop=True)
    links = [f'<a href="{html.escape(link)}">{html.escape(fig)}</a>'
             for fig, link in zip(rows.figure, rows.link, strict=True)]
    return claims.styled(rows[list(claims.COLUMNS)], caption=caption, figure_cells=links)


def chapter_tables(card: pd.DataFrame) -> list:  # -> list of pandas Styler
    """One :func:`styled` table per chapter, in chapter order, captioned with a link to it
    and a one-line summary of its sentences' verdicts."""
    found = []
    for chapter in dict.fromkeys(card.chapter):
        rows = card[card.chapter == chapter]
        told = claims.sentences(rows)
        summary = ", ".join(f"{n} {v}" for v, n in told.verdict.value_counts()
                            .reindex(claims.VERDICTS).dropna().astype(int).items())
        caption = (f'<a href="{html.escape(chapter)}.html">Chapter {chapter_number(chapter)}: '
                   f"{html.escape(chapter_title(chapter))}</a>: {len(told)} sentence(s), "
                   f"{html.escape(summary)}")
        found.append(styled(rows, caption=caption))
    return found


#: Bar edges and count labels of each verdict: darker shades of ``tables.VERDICT_COLOURS``.
VERDICT_EDGES = {"reproduced": "#2e7d32", "partly": "#a07a00", "not reproduced": "#b71c1c",
                 "inconclusive": "#6c757d", "untestable here": "#3d6a99"}


def verdict_chart(card: pd.DataFrame, width: float = 6.8, empty: str = ""):  # -> Figure
    """Sentences per verdict of each chapter as stacked horizontal bars, in the book's colours.

    One bar per chapter (labelled with its number and short title), segments in the
    verdict colours of the tables, each labelled with its count. With no claims the
    figure says ``empty`` instead.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from seelike.book import tables

    counts = (tally.per_chapter(card) if len(card)
              else pd.DataFrame(columns=list(claims.VERDICTS)))
    labels = [f"{chapter_number(c)}  {short_title(c)}" for c in counts.index]
    fig, ax = plt.subplots(figsize=(width, 1.3 + 0.42 * max(len(labels), 1)))
    rows = np.arange(len(labels))
    left = np.zeros(len(labels))
    for verdict in claims.VERDICTS:
        n = counts[verdict].to_numpy(dtype=float)
        drawn = n > 0  # an empty segment would still draw its edge
        ax.barh(rows[drawn], n[drawn], left=left[drawn], height=0.62,
                color=tables.VERDICT_COLOURS[verdict], edgecolor=VERDICT_EDGES[verdict],
                linewidth=1.2, label=verdict)
        for y in rows[drawn]:
            ax.text(left[y] + n[y] / 2, y, f"{n[y]:.0f}", ha="center", va="center",
                    color="#1b1b1b", fontsize="small", fontweight="bold")
        left += n
    ax.set_yticks(rows, labels)
    ax.invert_yaxis()
    most = float(left.max()) if len(left) else 0.0
    ax.set(xlabel="sentences of the paper", ylabel="chapter",
           xlim=(0, max(most, 1.0) * 1.02))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    if labels:
        ax.legend(ncol=3, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False,
                  handlelength=1.5, borderaxespad=0.2)
    else:
        ax.text(0.5, 0.5, empty or "no claims", transform=ax.transAxes, ha="center",
                va="center", color="grey")
    sns.despine(ax=ax)
    fig.tight_layout()
    return fig
