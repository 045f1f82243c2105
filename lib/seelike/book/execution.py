"""Execution statistics: how long each page of the book took, when it last ran, and whether
this build took it from the cache.

The runner records each page as it finishes in ``_build/executed/<run>/timings.json``;
:func:`render` turns that record into the table of the book's execution-statistics page
(``chapters/execution.md``), which the runner fills in when it stages the book.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["MARKER", "record", "render", "render_page"]

#: The line of the execution-statistics page that :func:`render_page` replaces by the table.
MARKER = "<!-- seelike: execution statistics -->"


def record(path: Path, run: str, timings: Mapping[str, float], cached: tuple[str, ...] = (),
           when: datetime | None = None) -> dict[str, object]:
    """Merge this run's pages into ``path`` and return the record.

    ``timings``: the seconds of each page executed now; ``cached``: the pages this run took
    from the cache (their last real time and date stand). A page run alone replaces its own
    entry, never the others'. ``chapters`` maps each page to its seconds and
    ``total_seconds`` sums them (what the build-time benchmarks read); ``runs`` adds, per
    page, when it was last executed and whether the latest run took it from the cache.
    """
    try:
        old = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        old = {}
    stamp = (when or datetime.now(UTC)).isoformat(timespec="seconds")
    chapters = {**old.get("chapters", {}), **timings}
    runs = dict(old.get("runs", {}))
    for page, seconds in timings.items():
        runs[page] = {"seconds": seconds, "executed": stamp, "cached": False}
    for page in cached:
        runs[page] = {**runs.get(page, {"seconds": chapters.get(page), "executed": None}),
                      "cached": True}
    result = dict(preset=run, chapters=chapters, runs=runs,
                  total_seconds=round(sum(chapters.values()), 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: a build interrupted mid-write keeps the previous record whole.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(result, f, indent=1)
    os.replace(f.name, path)
    return result


def _seconds(value: object) -> str:
    return f"{value:,.1f}" if isinstance(value, int | float) and math.isfinite(value) else "–"


def render(timings: Mapping[str, object], order: list[str]) -> str:
    """The record as a MyST table, one row per page of ``order`` (stems, ``chapters/``
    pages as ``chapters/<stem>``): the page (a link), when it was last executed, its
    seconds and whether the latest run took it from the cache; a page never run says so."""
    runs, seconds = timings.get("runs", {}), timings.get("chapters", {})
    lines = ["| page | last executed (UTC) | seconds | this build |",
             "| --- | --- | ---: | --- |"]
    for doc in order:
        stem = doc.rsplit("/", 1)[-1]
        entry = runs.get(stem, {})
        if stem in runs or stem in seconds:
            when = str(entry.get("executed") or "before timings were kept").replace("T", " ")
            fresh = "from the cache" if entry.get("cached") else "executed"
        else:
            when, fresh = "not run", "not run"
        lines.append(f"| {{doc}}`/{doc}` | {when.removesuffix('+00:00')} | "
                     f"{_seconds(entry.get('seconds', seconds.get(stem)))} | {fresh} |")
    total = _seconds(timings.get("total_seconds"))
    lines.append(f"| **all pages** | | **{total}** | |")
    return "\n".join(lines)


def render_page(source: str, timings_path: Path, order: list[str]) -> str:
    """``source`` (the execution-statistics page) with its :data:`MARKER` line replaced by
    the table of ``timings_path`` (an empty table where no run has been recorded)."""
    if MARKER not in source:
        raise ValueError(f"the execution-statistics page has no line {MARKER!r} to fill")
    try:
        timings = json.loads(timings_path.read_text())
    except (FileNotFoundError, ValueError):
        timings = {}
    return source.replace(MARKER, render(timings, order))
