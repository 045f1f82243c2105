"""Claims as pre-registered data, their verdicts from intervals, and their results tables.

Every experiment chapter declares the sentences of Raghu et al. (2021) that it tests as
:class:`Declaration` records in its module ``seelike.book.claims.chNN``: the paper's
sentence word for word and where it stands, the statistic, the numeric pass and partly
bars with their direction, and the reason for the bars taken from the paper's wording.
The bars were fixed before our numbers were seen; a change to one is a visible diff in
one reviewed place, and ``tests/test_claims_declared.py`` fails if a chapter's table
disagrees with its declarations.

A measurement becomes a :class:`Claim` through :meth:`Declaration.judge`, which reads the
verdict off the statistic's 90 % interval (:func:`decide`): over resamplings of the
probe examples, over 10-shot draws, and over training seeds where the zoo has them. A
chapter shows its claims with :func:`styled`, glues them into its prose with :func:`glue`
and saves them with :func:`write`; :func:`read_all` collects them for the scorecard.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seelike.config import repo_root
from seelike.io import atomic_write_text

VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive", "untestable here")
RESULTS_ENV = "SEELIKE_RESULTS"
#: The interval every verdict reads: the 5th to the 95th percentile.
INTERVAL = (5.0, 95.0)


def decide(low: float, high: float, direction: str, pass_bar: float,
           partly_bar: float | None = None) -> str:
    """The verdict of a statistic whose 90 % interval is ``[low, high]``.

    ``direction`` ``">"``: the claim holds when the statistic exceeds ``pass_bar`` (``"<"``:
    falls below it). ``reproduced`` only when the whole interval clears the pass bar;
    ``partly`` when it lies wholly between the partly bar and the pass bar;
    ``not reproduced`` when it lies wholly on the wrong side of the last bar; otherwise
    (it straddles a bar) ``inconclusive``. A point estimate is ``low == high``.
    """
    if direction not in (">", "<"):
        raise ValueError(f"direction must be '>' or '<', got {direction!r}")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"interval [{low}, {high}] is not a finite interval")
    sign = 1.0 if direction == ">" else -1.0
    bars = [pass_bar] + ([] if partly_bar is None else [partly_bar])
    if partly_bar is not None and sign * partly_bar >= sign * pass_bar:
        raise ValueError(f"partly bar {partly_bar} must be on the weaker side of the pass bar "
                         f"{pass_bar} for direction {direction!r}")

    def region(x: float) -> int:  # 0: clears the pass bar, 1: the partly bar, 2: neither
        return next((i for i, bar in enumerate(bars) if sign * x > sign * bar), len(bars))

    ends = {region(low), region(high)}
    if len(ends) > 1:
        return "inconclusive"
    return ("reproduced", "partly" if partly_bar is not None else "not reproduced",
            "not reproduced")[ends.pop()]


def interval(draws: Sequence[float] | np.ndarray | None) -> tuple[float, float]:
    """The 90 % interval of a statistic from its draws (NaN, NaN without two finite ones)."""
    values = np.asarray([] if draws is None else draws, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    low, high = np.percentile(values, INTERVAL)
    return float(low), float(high)


class StaleTableError(ValueError):
    """A results table written by an older seelike, without today's columns."""


@dataclass(frozen=True)
class Claim:
    """One claim of the paper (or beyond it), tested on our models: one row of a table."""

    chapter: str        # e.g. "04_representation_structure"
    key: str            # the declaration's key, e.g. "fig1_uniformity"
    figure: str         # e.g. "Fig 1"
    statement: str      # the paper's sentence, word for word (or our claim, beyond the paper)
    where: str          # where the sentence stands, e.g. "Figure 1 caption"
    statistic: str      # what we measure, in words
    value: float        # our statistic
    low: float          # its 90 % interval over probe examples / shot draws (NaN: none)
    high: float
    seed_low: float     # the range of the statistic over training seeds (NaN: one seed)
    seed_high: float
    threshold: str      # the pass condition in words, from the declaration's bars
    verdict: str        # one of VERDICTS
    paper: bool         # a claim of the paper (counted in the tally) or beyond it
    varies: str         # what the interval varies, e.g. "probe examples; 3 seeds"

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")


COLUMNS = tuple(f.name for f in fields(Claim))
_FLOATS = ("value", "low", "high", "seed_low", "seed_high")


@dataclass(frozen=True)
class Declaration:
    """One claim declared before measuring: the sentence, the statistic and the bars."""

    key: str
    figure: str
    quote: str          # the paper's sentence, word for word
    where: str          # where it stands in the paper
    statistic: str
    direction: str      # ">" or "<"
    pass_bar: float
    partly_bar: float | None
    reason: str         # why these bars, from the paper's wording
    paper: bool = True

    def __post_init__(self) -> None:
        decide(self.pass_bar, self.pass_bar, self.direction, self.pass_bar, self.partly_bar)

    @property
    def threshold(self) -> str:
        text = f"{self.direction} {self.pass_bar:g}"
        return text if self.partly_bar is None else (
            f"{text} (partly {self.direction} {self.partly_bar:g})")

    def judge(self, chapter: str, value: float, draws: Sequence[float] | None = None, *,
              seeds: Sequence[float] | None = None, varies: str = "",
              testable: bool = True, statistic: str | None = None) -> Claim:
        """The claim, its verdict read off the union of its intervals.

        ``draws``: the statistic over resamplings (probe examples, shot draws); ``seeds``:
        its value for each other training seed of the models. ``testable=False``: the
        models lack what the claim is about (no local head, say), so the claim is
        ``untestable here`` whatever the value, which may then be NaN.
        """
        value = float(value)
        low, high = interval(draws)
        seed_values = [value, *(float(s) for s in seeds or ())]
        finite_seeds = [s for s in seed_values if math.isfinite(s)]
        seed_low = min(finite_seeds) if seeds else float("nan")
        seed_high = max(finite_seeds) if seeds else float("nan")
        if not testable or not math.isfinite(value):
            verdict = "untestable here"
        else:
            ends = [x for x in (value, low, high, seed_low, seed_high) if math.isfinite(x)]
            verdict = decide(min(ends), max(ends), self.direction, self.pass_bar,
                             self.partly_bar)
        return Claim(chapter, self.key, self.figure, self.quote, self.where,
                     statistic or self.statistic, value, low, high, seed_low, seed_high,
                     self.threshold, verdict, self.paper, varies)


def declared(declarations: Sequence[Declaration]) -> dict[str, Declaration]:
    """``{key: declaration}``, refusing two declarations with one key."""
    out: dict[str, Declaration] = {}
    for d in declarations:
        if d.key in out:
            raise ValueError(f"two declarations with key {d.key!r}")
        out[d.key] = d
    return out


def declarations_frame(declarations: dict[str, Declaration] | Sequence[Declaration]
                       ) -> pd.DataFrame:
    """A chapter's declarations as a reader sees them before any result: the paper's
    sentence, our statistic, the bars and why."""
    decls = list(declarations.values()) if isinstance(declarations, dict) else list(declarations)
    return pd.DataFrame({
        "figure": [d.figure for d in decls],
        "the paper says": [f"“{d.quote}” ({d.where})" if d.paper else
                           f"{d.quote} (beyond the paper)" for d in decls],
        "statistic": [d.statistic for d in decls],
        "pass": [d.threshold for d in decls],
        "why this bar": [d.reason for d in decls],
    })


def over_draws(statistic: Callable[..., float], point: Sequence[Any],
               draws: Sequence[Any] | None) -> tuple[float, list[float] | None]:
    """``statistic(*point)`` and the statistic of each draw (``draws[i]`` like ``point``).

    ``draws`` is a sequence of argument tuples, one per resampling (``zip`` of the
    arguments' bootstrap stacks), or None.
    """
    value = float(statistic(*point))
    if draws is None:
        return value, None
    return value, [float(statistic(*d)) for d in draws]


def table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a tidy frame: one row per claim, the columns of :class:`Claim`."""
    frame = pd.DataFrame([asdict(c) for c in claims], columns=list(COLUMNS))
    return frame.astype({c: float for c in _FLOATS} | {"paper": bool})


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
    text = {c: str for c in COLUMNS if c not in (*_FLOATS, "paper")}
    frames = [pd.read_csv(p, dtype=text, keep_default_na=False, na_values={c: ["", "nan"]
                                                                            for c in _FLOATS})
              for p in sorted(folder.glob("*.csv"))] if folder.is_dir() else []
    frames = [f for f in frames if len(f)]
    if not frames:
        return table([])
    frame = pd.concat(frames, ignore_index=True)
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise StaleTableError(f"claims tables in {folder} lack columns {missing}: they were "
                              "written by an older seelike; rebuild the book to rewrite them")
    return frame[list(COLUMNS)].astype({c: float for c in _FLOATS} | {"paper": bool})


def read_all(preset: str) -> pd.DataFrame:
    """Every chapter's claims under ``preset``, in chapter order (empty frame if none)."""
    return read_folder(results_dir(preset))


def _range(low: float, high: float) -> str:
    return "–" if not (math.isfinite(low) and math.isfinite(high)) else (
        f"{low:.3f} to {high:.3f}")


def display_frame(claims: Sequence[Claim] | pd.DataFrame) -> pd.DataFrame:
    """Figure, verdict, value, its 90 % interval, the seed range, the bar, the sentence."""
    frame = claims if isinstance(claims, pd.DataFrame) else table(claims)
    return pd.DataFrame({
        "figure": frame["figure"], "verdict": frame["verdict"], "value": frame["value"],
        "90 % interval": [_range(lo, hi) for lo, hi in zip(frame["low"], frame["high"],
                                                            strict=True)],
        "over seeds": [_range(lo, hi) for lo, hi in zip(frame["seed_low"], frame["seed_high"],
                                                         strict=True)],
        "pass": frame["threshold"],
        "the paper says": [f"“{s}” ({w})" if p else f"{s} (beyond the paper)"
                           for s, w, p in zip(frame["statement"], frame["where"],
                                              frame["paper"], strict=True)],
        "statistic": frame["statistic"], "varies": frame["varies"],
    })


def styled(claims: Sequence[Claim] | pd.DataFrame):  # -> pandas Styler
    """The claims for a chapter page: figure and verdict first (visible on a phone), then
    value, interval, seed range, pass condition, the paper's sentence and our statistic."""
    from seelike.book import tables

    return tables.styled(display_frame(claims), formats={"value": "{:.3f}"})


def glue(claims: Sequence[Claim | None], prefix: str, keys: Sequence[str] | None = None) -> None:
    """Glue each claim's value, interval and verdict for the prose of its chapter.

    Values get 3 decimals, as in the claims tables, so that none reads as sitting on its
    bar (0.099 against "< 0.1" would round to 0.10).

    ``keys[i]`` names ``claims[i]`` (default ``claim0``, ``claim1``, …): the text cites
    ``{glue:text}`<prefix>_<key>_value```, ``…_interval``` and ``…_verdict```. A ``None``
    claim (not testable with this preset's models) glues ``n/a`` and says so.
    """
    from myst_nb import glue as myst_glue  # the book extra; the rest of the module needs none

    keys = [f"claim{i}" for i in range(len(claims))] if keys is None else list(keys)
    if len(keys) != len(claims):
        raise ValueError(f"{len(claims)} claims but {len(keys)} keys")
    for key, claim in zip(keys, claims, strict=True):
        value = "n/a" if claim is None or not math.isfinite(claim.value) else (
            f"{claim.value:.3f}")
        span = "no interval" if claim is None else _range(claim.low, claim.high)
        myst_glue(f"{prefix}_{key}_value", value, display=False)
        myst_glue(f"{prefix}_{key}_interval", span if span != "–" else "no interval",
                  display=False)
        myst_glue(f"{prefix}_{key}_verdict", "not testable on this preset" if claim is None
                  else claim.verdict, display=False)
