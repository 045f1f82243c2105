"""Judged claims as tables: one row per clause, written per chapter, read back checked.

Every chapter writes its claims with :func:`write` to
``_build/results/<preset>/<chapter>.csv``; :func:`read_folder` reads such a folder back
and refuses a table that is not one (a missing or extra column, a verdict outside
:data:`~seelike.book.claims.verdict.VERDICTS`, a text where a number belongs, a key twice).
:func:`sentences` folds the clauses of each sentence into one row: the unit the tally
counts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from seelike.book.claims.verdict import VERDICTS, weakest
from seelike.config import repo_root
from seelike.io import atomic_write_text

__all__ = [
    "COLUMNS",
    "RESULTS_ENV",
    "Claim",
    "StaleTableError",
    "TableError",
    "read_all",
    "read_folder",
    "results_dir",
    "sentences",
    "table",
    "write",
]

RESULTS_ENV = "SEELIKE_RESULTS"


class TableError(ValueError):
    """A claims table that is not one: columns, types, verdicts or keys are wrong."""


class StaleTableError(TableError):
    """A results table written by an older seelike, without today's columns."""


@dataclass(frozen=True)
class Claim:
    """One clause of a sentence, tested on our models: one row of a chapter's table."""

    chapter: str        # e.g. "04_representation_structure"
    key: str            # the declaration's key, e.g. "fig1_uniformity"
    sentence: str       # the key of the sentence's first clause: rows of one sentence share it
    figure: str         # e.g. "Fig 1"
    statement: str      # the paper's sentence, word for word (or our claim, beyond the paper)
    clause: str         # the words of it this row tests
    where: str          # where the sentence stands, e.g. "Figure 1 caption"
    statistic: str      # what we measure, in words
    control: str        # the same statistic where the sentence should not hold
    reading: str        # how the verdict read the control (or why it is untestable)
    value: float        # the judged statistic (net of its control where declared so)
    low: float          # its 90 % interval over resamplings (NaN: none)
    high: float
    low99: float        # its 99 % interval
    high99: float
    seeds: str          # its value with each other training seed ("" with one seed)
    seed_low: float     # the range over seed 0 and the other seeds (NaN: one seed)
    seed_high: float
    control_value: float  # the control statistic alone, and its 90 % interval
    control_low: float
    control_high: float
    net_value: float    # the statistic minus its control where a control cleared a bar
    net_low: float
    net_high: float
    margin: float       # the continuous margin behind a fraction or argmax (NaN: none)
    margin_low: float
    margin_high: float
    threshold: str      # the pass condition in words, from the declaration's bars
    verdict: str        # at 90 %: one of VERDICTS
    verdict99: str      # the same, reading 99 % intervals
    paper: bool         # a claim of the paper (counted in the tally) or beyond it
    varies: str         # what the interval varies, e.g. "200 resamplings of the probe images"

    def __post_init__(self) -> None:
        for name in ("verdict", "verdict99"):
            if getattr(self, name) not in VERDICTS:
                raise ValueError(f"{name} must be one of {VERDICTS}, not "
                                 f"{getattr(self, name)!r}")


COLUMNS = tuple(f.name for f in fields(Claim))
FLOATS = tuple(f.name for f in fields(Claim) if f.type == "float")


def table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a tidy frame: one row per clause, the columns of :class:`Claim`."""
    frame = pd.DataFrame([asdict(c) for c in claims], columns=list(COLUMNS))
    return frame.astype({c: float for c in FLOATS} | {"paper": bool})


def results_dir(preset: str) -> Path:
    """``_build/results/<preset>`` of the checkout (``SEELIKE_RESULTS`` replaces the parent)."""
    env = os.environ.get(RESULTS_ENV)
    parent = Path(env).expanduser() if env else repo_root() / "_build" / "results"
    return parent / preset


def write(claims: Sequence[Claim], preset: str, chapter: str) -> Path:
    """Save ``chapter``'s claims under ``preset``, replacing its earlier rows; returns the file.

    One CSV per chapter, ``results_dir(preset) / f"{chapter}.csv"``, written atomically,
    so a chapter that is re-run replaces exactly its own rows.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", chapter) or chapter.startswith("."):
        raise ValueError(f"chapter must be a file stem like '04_representation_structure', "
                         f"got {chapter!r}")
    foreign = sorted({c.chapter for c in claims} - {chapter})
    if foreign:
        raise ValueError(f"claims of chapter(s) {foreign} cannot be written as {chapter!r}")
    path = results_dir(preset) / f"{chapter}.csv"
    atomic_write_text(path, table(claims).to_csv(index=False))
    return path


def _read_one(path: Path) -> pd.DataFrame:
    """One chapter's table, every column checked; TableError names the file and the fix."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise TableError(f"{path}: not a claims table ({err})") from None
    missing = [c for c in COLUMNS if c not in frame]
    if missing and set(missing) & {"chapter", "key", "verdict"}:
        raise TableError(f"{path}: not a claims table: it lacks the columns {missing}")
    if missing:
        raise StaleTableError(f"{path} lacks columns {missing}: it was written by an older "
                              "seelike; rebuild the book to rewrite it")
    extra = [c for c in frame if c not in COLUMNS]
    if extra:
        raise TableError(f"{path}: unknown column(s) {extra}; a claims table has exactly "
                         f"{list(COLUMNS)}")
    for column in FLOATS:
        values = pd.to_numeric(frame[column].replace({"": "nan"}), errors="coerce")
        bad = frame[column][values.isna() & ~frame[column].isin(["", "nan", "NaN"])]
        if len(bad):
            raise TableError(f"{path}: column {column!r} holds {bad.iloc[0]!r}, not a number")
        frame[column] = values.astype(float)
    for column in ("verdict", "verdict99"):
        bad = sorted(set(frame[column]) - set(VERDICTS))
        if bad:
            raise TableError(f"{path}: {column} {bad} is not one of {list(VERDICTS)} "
                             "(verdicts are lower case, written by the chapters)")
    bad = sorted(set(frame["paper"]) - {"True", "False"})
    if bad:
        raise TableError(f"{path}: column 'paper' holds {bad}; expected True or False")
    frame["paper"] = frame["paper"] == "True"
    twice = frame.key[frame.key.duplicated()].tolist()
    if twice:
        raise TableError(f"{path}: key(s) {twice} appear twice")
    if set(frame.chapter) - {path.stem}:
        raise TableError(f"{path}: rows of chapter(s) {sorted(set(frame.chapter) - {path.stem})}"
                         f" in the table of {path.stem}")
    return frame[list(COLUMNS)]


def read_folder(folder: Path) -> pd.DataFrame:
    """The claims tables (``*.csv``) in ``folder``, in chapter order (empty frame if none).

    Raises :class:`TableError` (or :class:`StaleTableError`) naming the first bad table.
    """
    frames = [_read_one(p) for p in sorted(folder.glob("*.csv"))] if folder.is_dir() else []
    frames = [f for f in frames if len(f)]
    if not frames:
        return table([])
    frame = pd.concat(frames, ignore_index=True)
    return frame.astype({c: float for c in FLOATS} | {"paper": bool})


def read_all(preset: str) -> pd.DataFrame:
    """Every chapter's claims under ``preset``, in chapter order (empty frame if none)."""
    return read_folder(results_dir(preset))


def sentences(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per sentence: its first clause's row, with the weakest verdict of its clauses
    (at 90 % and 99 %) and ``clauses``, how many it has. The tally counts these rows."""
    if frame.empty:
        return frame.assign(clauses=pd.Series(dtype=int))
    grouped = frame.groupby(["chapter", "sentence"], sort=False)
    first = grouped.head(1).set_index(["chapter", "sentence"])
    first["verdict"] = grouped.verdict.agg(weakest)
    first["verdict99"] = grouped.verdict99.agg(weakest)
    first["clauses"] = grouped.size()
    return first.reset_index()[[*COLUMNS, "clauses"]]
