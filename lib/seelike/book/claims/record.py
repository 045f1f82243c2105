"""The claim record, its storage as the book's results tables, and its display.

Every experiment chapter turns the sentences of Raghu et al. (2021) that it tests into
:class:`Claim` records (its module ``seelike.book.claims.chNN``): what we measure, our
value, the pass condition, and a verdict. A chapter shows its claims with :func:`styled`,
glues their values into its prose with :func:`glue`, and saves them with :func:`write`;
:func:`read_all` collects every chapter's rows of a results folder for the scorecard.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from seelike.config import repo_root
from seelike.io import atomic_write_text

VERDICTS = ("reproduced", "partly", "not reproduced")
RESULTS_ENV = "SEELIKE_RESULTS"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, tested on our models."""

    chapter: str        # e.g. "04_representation_structure"
    figure: str         # e.g. "Fig 1"
    statement: str      # the paper's claim in one sentence
    statistic: str      # what we measure, in words
    value: float        # our statistic
    threshold: str      # the pass condition in words, e.g. "> 0.1"
    verdict: str        # one of VERDICTS

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")


COLUMNS = tuple(f.name for f in fields(Claim))


def verdict(passed: bool, partly: bool = False) -> str:
    """"reproduced" if ``passed``, else "partly" if ``partly``, else "not reproduced"."""
    if passed:
        return VERDICTS[0]
    return VERDICTS[1] if partly else VERDICTS[2]


def table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a tidy frame: one row per claim, the columns of :class:`Claim`."""
    frame = pd.DataFrame([asdict(c) for c in claims], columns=list(COLUMNS))
    return frame.astype({"value": float})


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


def read_folder(folder: Path) -> pd.DataFrame:
    """The claims tables (``*.csv``) in ``folder``, in chapter order (empty frame if none)."""
    frames = [pd.read_csv(p, dtype={c: str for c in COLUMNS if c != "value"})
              for p in sorted(folder.glob("*.csv"))] if folder.is_dir() else []
    frames = [f for f in frames if len(f)]
    if not frames:
        return table([])
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)].astype({"value": float})


def read_all(preset: str) -> pd.DataFrame:
    """Every chapter's claims under ``preset``, in chapter order (empty frame if none)."""
    return read_folder(results_dir(preset))


def styled(claims: Sequence[Claim]):  # -> pandas Styler
    """The claims for a chapter page: figure and verdict first (visible on a phone), then
    value, pass condition, the paper's claim and our statistic; verdicts coloured."""
    from seelike.book import tables

    frame = table(claims).drop(columns="chapter")
    frame = frame[["figure", "verdict", "value", "threshold", "statement", "statistic"]]
    return tables.styled(frame.rename(columns={"threshold": "pass"}),
                         formats={"value": "{:.3f}"})


def glue(claims: Sequence[Claim | None], prefix: str, keys: Sequence[str] | None = None) -> None:
    """Glue each claim's value and verdict for the prose of its chapter.

    Values get 3 decimals, as in the claims tables, so that none reads as sitting on its
    bar (0.099 against "< 0.1" would round to 0.10).

    ``keys[i]`` names ``claims[i]`` (default ``claim0``, ``claim1``, …): the text cites
    ``{glue:text}`<prefix>_<key>_value``` and ``…_verdict```. A ``None`` claim (not
    testable with this preset's models) glues ``n/a`` and says so.
    """
    from myst_nb import glue as myst_glue  # the book extra; the rest of the module needs none

    keys = [f"claim{i}" for i in range(len(claims))] if keys is None else list(keys)
    if len(keys) != len(claims):
        raise ValueError(f"{len(claims)} claims but {len(keys)} keys")
    for key, claim in zip(keys, claims, strict=True):
        myst_glue(f"{prefix}_{key}_value", "n/a" if claim is None else f"{claim.value:.3f}",
                  display=False)
        myst_glue(f"{prefix}_{key}_verdict", "not testable on this preset" if claim is None
                  else claim.verdict, display=False)
