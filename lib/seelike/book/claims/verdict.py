"""Verdicts: a statistic, its uncertainty and its control, read against declared bars.

A claim's statistic is a :class:`Measured`: a value, its resamplings (probe images, shot
draws, permutations) and its value on each other training seed. :func:`decide` reads a
range against the bars; :func:`verdict` gives the range it reads: the value, the interval
at the chosen level *and* every seed's value, so a verdict clears a bar only when the
resampling interval and the seed spread both do. :func:`weakest` combines verdicts: a
sentence of several clauses is no stronger than its weakest clause.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "INTERVALS",
    "LEVELS",
    "VERDICTS",
    "Measured",
    "decide",
    "interval",
    "measure",
    "percentile_band",
    "verdict",
    "weakest",
]

VERDICTS = ("reproduced", "partly", "not reproduced", "inconclusive", "untestable here")
#: Weakest first. A sentence with an untestable clause is no better than untestable, and
#: a measured failure of any clause outranks what could not be measured.
_STRENGTH = {"not reproduced": 0, "inconclusive": 1, "partly": 2, "untestable here": 3,
             "reproduced": 4}
#: The percentiles of each interval level: verdicts are read at 90 %, and again at 99 %
#: to show which of them hang on the level.
INTERVALS = {90: (5.0, 95.0), 99: (0.5, 99.5)}
LEVELS = tuple(INTERVALS)


def decide(low: float, high: float, direction: str, pass_bar: float,
           partly_bar: float | None = None) -> str:
    """The verdict of a statistic whose uncertainty spans ``[low, high]``.

    ``direction`` ``">"``: the claim holds when the statistic exceeds ``pass_bar`` (``"<"``:
    falls below it). ``reproduced`` only when the whole range clears the pass bar;
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


def weakest(verdicts: Iterable[str]) -> str:
    """The weakest of ``verdicts`` (a sentence's verdict from its clauses')."""
    found = list(verdicts)
    if not found:
        raise ValueError("no verdicts to combine")
    unknown = sorted(set(found) - set(VERDICTS))
    if unknown:
        raise ValueError(f"unknown verdict(s) {unknown}; verdicts are {VERDICTS}")
    return min(found, key=_STRENGTH.__getitem__)


def interval(draws: Sequence[float] | np.ndarray | None, level: int = 90
             ) -> tuple[float, float]:
    """The ``level`` % interval of a statistic from its draws (NaN, NaN without two finite
    ones)."""
    if level not in INTERVALS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    values = np.asarray([] if draws is None else draws, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    low, high = np.percentile(values, INTERVALS[level])
    return float(low), float(high)


def percentile_band(draws: Any, level: int = 90) -> np.ndarray:
    """``(2, ...)``: the ``level`` % band of each entry over the draws (axis 0), NaN skipped.

    What the chapters shade behind a curve, at the same percentiles the verdicts read.
    """
    if level not in INTERVALS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return np.nanpercentile(np.asarray(draws, dtype=float), INTERVALS[level], axis=0)


@dataclass(frozen=True)
class Measured:
    """A statistic as measured: its value, its draws and its value on other training seeds.

    ``draws``: the statistic on each resampling (probe images, shot draws, permutations);
    None when nothing was resampled. ``seeds``: its value with each other training seed of
    the models in place of seed 0, in seed order; empty with one seed.
    """

    value: float
    draws: tuple[float, ...] | None = None
    seeds: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        if self.draws is not None:
            object.__setattr__(self, "draws", tuple(float(d) for d in self.draws))
        object.__setattr__(self, "seeds", tuple(float(s) for s in self.seeds))

    def interval(self, level: int = 90) -> tuple[float, float]:
        return interval(self.draws, level)

    def ends(self, level: int = 90) -> list[float]:
        """The finite values a verdict must see on one side of a bar: the value, the
        interval's ends and every seed's value."""
        return [x for x in (self.value, *self.interval(level), *self.seeds) if math.isfinite(x)]

    def combine(self, other: Measured, op: Callable[[float, float], float]) -> Measured:
        """``op(self, other)`` draw by draw and seed by seed (the two paired where both have
        them; against the other's value where only one does)."""
        mine, theirs = self.draws, other.draws
        if mine is not None and theirs is not None and len(mine) != len(theirs):
            raise ValueError(f"cannot pair {len(mine)} draws with {len(theirs)}")
        if mine is None and theirs is None:
            draws = None
        else:
            n = len(mine if mine is not None else theirs)  # type: ignore[arg-type]
            a = mine if mine is not None else (self.value,) * n
            b = theirs if theirs is not None else (other.value,) * n
            draws = tuple(op(x, y) for x, y in zip(a, b, strict=True))
        if other.seeds and len(other.seeds) == len(self.seeds):
            seeds = tuple(op(x, y) for x, y in zip(self.seeds, other.seeds, strict=True))
        else:
            seeds = tuple(op(x, other.value) for x in self.seeds)
        return Measured(op(self.value, other.value), draws, seeds)


def measure(statistic: Callable[..., float], point: Sequence[Any],
            draws: Iterable[Sequence[Any]] | None = None,
            seeds: Iterable[Sequence[Any]] = ()) -> Measured:
    """``statistic(*point)``, on each draw's arguments and on each other seed's.

    ``draws`` and ``seeds`` are iterables of argument tuples shaped like ``point`` (e.g.
    ``zip`` of the arguments' bootstrap stacks).
    """
    return Measured(float(statistic(*point)),
                    None if draws is None else tuple(float(statistic(*d)) for d in draws),
                    tuple(float(statistic(*s)) for s in seeds))


def verdict(m: Measured, direction: str, pass_bar: float, partly_bar: float | None,
            level: int = 90) -> str:
    """The verdict of ``m`` at ``level``: its value, interval and seed values against the
    bars (``untestable here`` when the value is not finite)."""
    if not math.isfinite(m.value):
        return "untestable here"
    ends = m.ends(level)
    return decide(min(ends), max(ends), direction, pass_bar, partly_bar)
