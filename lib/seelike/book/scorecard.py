"""The scorecard: every chapter's claims and verdicts in one table (Chapter 11, and the README).

Each experiment chapter (4 onwards) writes its claims with :func:`seelike.book.claims.write`
to ``_build/results/<preset>/<chapter>.csv``. Those files vanish with ``_build``, so a
preset's results can also be *committed* as data: ``data/results/<preset>/*.csv`` plus a
``provenance.json`` saying which commit, on which machine and when they were produced.
:func:`load` prefers this build's results and falls back to the committed ones; a preset
with neither is "not run".

The README's scorecard block is rendered from the committed results only, so that it is
the same on every checkout::

    python -m seelike.book.scorecard update --preset cifar   # commit this build's cifar results
    python -m seelike.book.scorecard readme                  # re-render the README block
    python -m seelike.book.scorecard check                   # non-zero if the block is stale

``check`` is what ``tests/test_scorecard.py`` runs.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from seelike import __version__
from seelike.book import claims
from seelike.config import repo_root
from seelike.io import atomic_write_text

# The presets whose results are evidence. smoke runs a few dozen images so that CI is
# fast; its verdicts test the code path, not the paper, and are never committed.
REPORTED = ("cifar", "paper")
PROVENANCE = "provenance.json"
START, END = "<!-- scorecard:start -->", "<!-- scorecard:end -->"
NOT_RUN = "not run"
STATEMENT_CHARS = 90  # README cells stay on one line of a GitHub page


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
    run: a page shows no stale verdicts, and :func:`problems` says how to rewrite them.
    """
    folder = committed_dir(preset, root)
    if not (folder / PROVENANCE).is_file():
        return Results(preset, claims.table([]), NOT_RUN, {})
    try:
        frame = claims.read_folder(folder)
    except claims.StaleTableError:
        return Results(preset, claims.table([]), NOT_RUN, {})
    return Results(preset, frame, "committed", json.loads((folder / PROVENANCE).read_text()))


def load(preset: str, root: Path | None = None) -> Results:
    """This build's results of ``preset`` if it wrote any, else the committed ones."""
    built = claims.read_all(preset)
    if len(built):
        return Results(preset, built, "this build", {})
    return read_committed(preset, root)


def paper_claims(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that test a sentence of the paper: the tally counts these, each once."""
    return frame[frame.paper.astype(bool)]


def beyond_paper(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that test claims of this book beyond the paper: shown apart, never tallied."""
    return frame[~frame.paper.astype(bool)]


def counts(results: list[Results]) -> pd.DataFrame:
    """One row per preset: the paper's claims per verdict, total and source.

    Claims beyond the paper are not counted (:func:`beyond_paper`). A not-run preset has no
    counts: they are nullable integers, so "not run" shows as missing, never as zero.
    """
    rows = []
    for r in results:
        tally = paper_claims(r.frame).verdict.value_counts()
        row: dict[str, object] = {v: int(tally.get(v, 0)) if r.run else None
                                  for v in claims.VERDICTS}
        row.update(preset=r.preset, total=len(paper_claims(r.frame)) if r.run else None,
                   source=r.describe())
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["preset", *claims.VERDICTS, "total", "source"])
    return frame.astype({c: "Int64" for c in (*claims.VERDICTS, "total")})


def chapter_number(chapter: str) -> int:
    """``"04_representation_structure"`` -> 4."""
    match = re.match(r"(\d+)_", chapter)
    if match is None:
        raise ValueError(f"chapter {chapter!r} does not start with its number, e.g. 04_…")
    return int(match.group(1))


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


def scorecard(results: list[Results]) -> pd.DataFrame:
    """Every claim of every preset that was run: the claim's columns, ``preset`` and ``link``."""
    frames = [r.frame.assign(preset=r.preset) for r in results if r.run and len(r.frame)]
    if not frames:
        return pd.DataFrame(columns=[*claims.COLUMNS, "preset", "link"])
    card = pd.concat(frames, ignore_index=True)
    card["link"] = [figure_link(c, f) for c, f in zip(card.chapter, card.figure, strict=True)]
    return card


def _figure_cells(card: pd.DataFrame) -> list[str]:
    """Each claim's figure as a link to its chapter's section (HTML, text escaped)."""
    return [f'<a href="{html.escape(link)}">{html.escape(fig)}</a>'
            for fig, link in zip(card.figure, card.link, strict=True)]


def styled(card: pd.DataFrame, caption: str | None = None):  # -> pandas Styler
    """Claims of the scorecard for a chapter page, as :func:`seelike.book.tables.styled` shows
    them: figure (linked to its section) and verdict first, so that both fit on a phone, then
    value, its 90 % interval and seed range, pass condition, the paper's sentence and our
    statistic; verdicts coloured, text
    HTML-escaped (thresholds hold ``<``), values to 3 decimals.

    A ``chapter`` number column follows the verdict only when the rows span several
    chapters; the ``preset`` and ``link`` columns are never shown. ``caption`` is HTML.
    """
    from seelike.book import tables

    shown = claims.display_frame(card.reset_index(drop=True))
    columns = {"figure": _figure_cells(card), "verdict": card.verdict.to_numpy()}
    if card.chapter.nunique() > 1:
        columns["chapter"] = [chapter_number(c) for c in card.chapter]
    columns.update({c: shown[c].to_numpy() for c in shown.columns
                    if c not in ("figure", "verdict")})
    columns["value"] = card.value.to_numpy(dtype=float)
    style = tables.styled(pd.DataFrame(columns), formats={"value": "{:.3f}"}, caption=caption)
    # The links are HTML already (their text escaped above): shown as they are.
    return style.format(lambda cell: cell, subset=["figure"], escape=None)


def short_title(chapter: str) -> str:
    """The chapter's title up to its colon: "Representation structure" for Chapter 4."""
    return chapter_title(chapter).split(":")[0].strip()


def chapter_tables(card: pd.DataFrame) -> list:  # -> list of pandas Styler
    """One :func:`styled` table per chapter, in chapter order, captioned with a link to it."""
    found = []
    for chapter in dict.fromkeys(card.chapter):
        rows = card[card.chapter == chapter]
        caption = (f'<a href="{html.escape(chapter)}.html">Chapter {chapter_number(chapter)}: '
                   f"{html.escape(chapter_title(chapter))}</a>")
        found.append(styled(rows, caption=caption))
    return found


def per_chapter(card: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict (columns, :data:`claims.VERDICTS`) of each chapter (rows, in order)."""
    order = list(dict.fromkeys(card.chapter))
    return (card.groupby(["chapter", "verdict"]).size().unstack(fill_value=0)
            .reindex(index=order, columns=list(claims.VERDICTS), fill_value=0)
            .rename_axis(index=None, columns=None).astype(int))


#: Bar edges and count labels of each verdict: darker shades of ``tables.VERDICT_COLOURS``.
VERDICT_EDGES = {"reproduced": "#2e7d32", "partly": "#a07a00", "not reproduced": "#b71c1c",
                 "inconclusive": "#6c757d", "untestable here": "#3d6a99"}


def verdict_chart(card: pd.DataFrame, width: float = 6.8, empty: str = ""):  # -> Figure
    """Claims per verdict of each chapter as stacked horizontal bars, in the book's colours.

    One bar per chapter (labelled with its number and short title), segments in the
    verdict colours of the tables, each labelled with its count. With no claims the
    figure says ``empty`` instead.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from seelike.book import tables

    counts = per_chapter(card) if len(card) else pd.DataFrame(columns=list(claims.VERDICTS))
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
    ax.set(xlabel="claims", ylabel="chapter", xlim=(0, max(most, 1.0) * 1.02))
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


def _shorten(text: str, limit: int = STATEMENT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _cell(text: object) -> str:
    """A Markdown table cell: pipes escaped, no line breaks."""
    return str(text).replace("|", r"\|").replace("\n", " ")


def _interval_cell(value: float, low: float, high: float) -> str:
    if not np.isfinite(value):
        return "–"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.3f}"
    return f"{value:.3f} ({low:.3f} to {high:.3f})"


def _claim_rows(frame: pd.DataFrame, *, quote: bool) -> list[str]:
    """README table rows of claims: chapter link, figure, the sentence, value, verdict."""
    head = "the paper says" if quote else "the claim"
    lines = [f"| chapter | figure | {head} | what we measure | value (90 % interval) | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in frame.itertuples(index=False):
        link = f"[{chapter_number(row.chapter)}](chapters/{row.chapter}.md)"
        text = f"“{_shorten(row.statement)}”" if quote else _shorten(row.statement)
        value = _interval_cell(row.value, row.low, row.high)
        # Two claims of one sentence differ in their statistic: shown, shortened.
        lines.append(f"| {link} | {_cell(row.figure)} | {_cell(text)} "
                     f"| {_cell(_shorten(row.statistic, 70))} | {value} | {row.verdict} |")
    return lines


def render_readme(root: Path | None = None) -> str:
    """The README's scorecard block (markers included), from the committed results only."""
    results = [read_committed(p, root) for p in REPORTED]
    table = counts(results)
    lines = [START,
             "<!-- Generated by `python -m seelike.book.scorecard readme` from data/results/; "
             "edit there, not here. -->", "",
             f"| preset | {' | '.join(claims.VERDICTS)} | paper claims | results |",
             "| --- |" + " ---: |" * (len(claims.VERDICTS) + 1) + " --- |"]
    for r, row in zip(results, table.to_dict("records"), strict=True):
        if r.run:
            n = [str(row[c]) for c in (*claims.VERDICTS, "total")]
            lines.append(f"| `{r.preset}` | {' | '.join(n)} | {_cell(r.describe())} |")
        else:
            lines.append(f"| `{r.preset}` |" + " |" * (len(claims.VERDICTS) + 1)
                         + f" {NOT_RUN} |")
    default = results[0]
    if default.run and len(default.frame):
        numbers = sorted({chapter_number(c) for c in default.frame.chapter})
        lines += ["", f"The paper's claims on `{default.preset}` (chapters "
                  f"{', '.join(map(str, numbers))}; a verdict reads the 90 % interval, which "
                  f"the chapter explains with its statistic and bar):", ""]
        lines += _claim_rows(paper_claims(default.frame), quote=True)
        beyond = beyond_paper(default.frame)
        if len(beyond):
            lines += ["", "Claims of this book beyond the paper (not in the tally):", ""]
            lines += _claim_rows(beyond, quote=False)
    lines.append(END)
    return "\n".join(lines)


def readme_block(readme: Path) -> str:
    """The block between the markers of ``readme``, markers included."""
    text = readme.read_text()
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{readme} has no scorecard block: add the lines {START} and {END}")
    return text[start:end + len(END)]


def write_readme(readme: Path, root: Path | None = None) -> bool:
    """Replace the README's scorecard block with :func:`render_readme`; True if it changed."""
    old = readme_block(readme)
    new = render_readme(root)
    if old != new:
        atomic_write_text(readme, readme.read_text().replace(old, new, 1))
    return old != new


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def problems(readme: Path, root: Path | None = None) -> list[str]:
    """What is stale: committed CSVs that differ from their provenance, or the README block."""
    found = []
    for preset in REPORTED:
        folder = committed_dir(preset, root)
        if not (folder / PROVENANCE).is_file():
            continue
        recorded = {name: f["sha256"] for name, f
                    in json.loads((folder / PROVENANCE).read_text())["files"].items()}
        present = {p.name: _sha256(p) for p in sorted(folder.glob("*.csv"))}
        if present != recorded:
            found.append(f"{folder}: the CSVs differ from those {PROVENANCE} records "
                         f"(edited by hand, or an interrupted update); run "
                         f"`python -m seelike.book.scorecard update --preset {preset}`")
    for preset in REPORTED:
        try:
            claims.read_folder(committed_dir(preset, root))
        except claims.StaleTableError as err:
            found.append(f"{err}; run `python -m seelike.book.run --preset {preset}` and "
                         f"`python -m seelike.book.scorecard update --preset {preset}`")
    if readme_block(readme) != render_readme(root):
        found.append(f"{readme}: the scorecard block is stale; run "
                     f"`python -m seelike.book.scorecard readme` (or `update --preset cifar` "
                     f"after a new build)")
    return found


def _mtime(path: Path) -> str:
    """When the chapter wrote ``path`` (UTC): chapters of one preset may come from several runs."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    return stamp.isoformat(timespec="seconds")


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def machine() -> str:
    """This machine in words: architecture, CPUs, OS, Python, torch (and its CUDA build)."""
    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, "
            f"Python {platform.python_version()}, torch {torch}")


def update(preset: str, root: Path | None = None, readme: Path | None = None,
           machine_text: str | None = None) -> Path:
    """Commit this build's results of ``preset`` as data, with provenance; re-render the README.

    Each CSV is written atomically and ``provenance.json`` last, with every CSV's sha256,
    so an interrupted update is caught by :func:`problems` rather than passing silently.
    CSVs of chapters that this build did not write are removed: the committed set is
    exactly one build's.
    """
    if preset not in REPORTED:
        raise ValueError(f"only {', '.join(REPORTED)} results are committed; {preset!r} "
                         f"verdicts test the code path, not the paper")
    source = claims.results_dir(preset)
    files = sorted(source.glob("*.csv")) if source.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no results in {source}: run "
                                f"`python -m seelike.book.run --preset {preset}` first")
    # Before anything is written: what the results depend on, changed but not committed
    # (git's "unknown" counts as changed).
    dirty = _git("status", "--porcelain", "--", "lib", "chapters", "data/weights") != ""
    target = committed_dir(preset, root)
    for path in files:
        atomic_write_text(target / path.name, path.read_text())
    for stale in set(target.glob("*.csv")) - {target / p.name for p in files}:
        stale.unlink()
    provenance = {
        "preset": preset,
        "commit": _git("rev-parse", "HEAD"),
        "dirty": dirty,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": f"python -m seelike.book.run --preset {preset}",
        "machine": machine_text or machine(),
        "seelike_version": __version__,
        "files": {p.name: {"sha256": _sha256(target / p.name),
                           "written": _mtime(p)} for p in files},
    }
    atomic_write_text(target / PROVENANCE, json.dumps(provenance, indent=1) + "\n")
    write_readme(readme or repo_root() / "README.md", root)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seelike.book.scorecard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("update", help="commit this build's results of a preset as data")
    up.add_argument("--preset", default="cifar", choices=REPORTED)
    up.add_argument("--machine", help="describe the machine that ran the chapters "
                                      "(default: this one)")
    commands.add_parser("readme", help="re-render README's block from data/results")
    commands.add_parser("check", help="exit 1 if README's block or data/results is stale")
    args = parser.parse_args(argv)
    readme = repo_root() / "README.md"
    if args.command == "update":
        target = update(args.preset, readme=readme, machine_text=args.machine)
        print(f"{target}: {len(list(target.glob('*.csv')))} chapters; README block rendered")
    elif args.command == "readme":
        print("README block " + ("rewritten" if write_readme(readme) else "already current"))
    else:
        found = problems(readme)
        for line in found:
            print(line, file=sys.stderr)
        if found:
            return 1
        print("scorecard: README block and data/results agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
