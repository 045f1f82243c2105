"""A build's claims tables against the committed ones: the same bytes, the same verdicts
with numbers apart by floating-point rounding, or different results.

A rebuild on another processor runs other floating-point kernels (another BLAS, another
vector width), so its statistics can differ from the committed ones in the last digits
while every verdict and every sentence stays the same. :func:`compare` says which of the
three a build is, table by table, and by how much the numbers moved::

    python -m seelike.book.publish compare --preset cifar            # exact: same bytes
    python -m seelike.book.publish compare --preset cifar --rtol 1e-4

Every cell that reads as a number, or as comma-separated numbers (the per-seed values,
written to six significant digits: allow ``--rtol 1e-5`` for them), is compared as numbers;
every other cell is text and must match exactly. NaN matches NaN only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seelike.book.readme import sha256

__all__ = ["TableAgreement", "compare", "report"]

_KEY = ("chapter", "key")


@dataclass(frozen=True)
class TableAgreement:
    """One chapter's table in a build against its committed copy."""

    name: str
    identical: bool                  # byte for byte
    problems: tuple[str, ...]        # rows or text cells that differ, a file on one side only
    numbers: int                     # numbers compared
    differing: int                   # of which not equal within the tolerance
    largest_abs: float               # largest |built - committed|
    largest_rel: float               # largest |built - committed| / max(|built|, |committed|)
    where_rel: str                   # "key: column" of the largest relative difference

    def agrees(self) -> bool:
        """Every text cell equal and every number within the comparison's tolerance."""
        return self.identical or (not self.problems and self.differing == 0)

    def describe(self) -> str:
        """One line: identical, rounding apart (and by how much), or what differs."""
        if self.identical:
            return f"{self.name}: identical"
        if self.problems:
            return f"{self.name}: differs: " + "; ".join(self.problems)
        moved = (f"{self.differing} of {self.numbers} numbers differ beyond the tolerance"
                 if self.differing else f"every one of {self.numbers} numbers within the "
                 "tolerance")
        return (f"{self.name}: every verdict and text cell equal; {moved}; largest "
                f"difference {self.largest_abs:.3g} absolute, {self.largest_rel:.3g} "
                f"relative ({self.where_rel})")


def _numbers(cell: str) -> list[float] | None:
    """The cell's numbers if it is one number or a comma-separated list of them."""
    if cell == "":
        return None
    try:
        return [float(part) for part in cell.split(",")]
    except ValueError:
        return None


def _table(built: Path, committed: Path, rtol: float, atol: float) -> TableAgreement:
    name = built.stem
    if sha256(built) == sha256(committed):
        return TableAgreement(name, True, (), 0, 0, 0.0, 0.0, "")
    read = {"dtype": str, "keep_default_na": False}
    new, old = pd.read_csv(built, **read), pd.read_csv(committed, **read)
    if list(new.columns) != list(old.columns):
        return TableAgreement(name, False, ("the columns differ",), 0, 0, 0.0, 0.0, "")
    keys_new = list(zip(*(new[k] for k in _KEY), strict=True))
    keys_old = list(zip(*(old[k] for k in _KEY), strict=True))
    if keys_new != keys_old:
        return TableAgreement(name, False, (f"the rows differ: {len(keys_new)} built, "
                                            f"{len(keys_old)} committed, or another order",),
                              0, 0, 0.0, 0.0, "")
    problems: list[str] = []
    count = differing = 0
    largest_abs = largest_rel = 0.0
    where = ""
    for column in new.columns:
        for key, a, b in zip(keys_new, new[column], old[column], strict=True):
            xs, ys = _numbers(a), _numbers(b)
            numeric = xs is not None and ys is not None and len(xs) == len(ys)
            if not numeric:
                if a != b:
                    problems.append(f"{key[1]}: {column} is {a!r}, committed {b!r}")
                continue
            for x, y in zip(xs, ys, strict=True):
                count += 1
                if x == y or (math.isnan(x) and math.isnan(y)):
                    continue
                gap = abs(x - y)  # NaN against a number, or infinities apart: NaN or inf
                if math.isnan(gap) or math.isinf(gap):
                    differing += 1
                    largest_abs = largest_rel = math.inf
                    where = f"{key[1]}: {column}"
                    continue
                scale = max(abs(x), abs(y))
                rel = gap / scale if scale else 0.0
                if not gap <= atol + rtol * scale:
                    differing += 1
                largest_abs = max(largest_abs, gap)
                if rel > largest_rel:
                    largest_rel, where = rel, f"{key[1]}: {column}"
    return TableAgreement(name, False, tuple(problems), count, differing, largest_abs,
                          largest_rel, where)


def compare(built: Path, committed: Path, rtol: float = 0.0,
            atol: float = 0.0) -> list[TableAgreement]:
    """Each claims table (``*.csv``) of ``built`` against the same file in ``committed``.

    Numbers agree when ``|a - b| <= atol + rtol * max(|a|, |b|)`` (the defaults ask for
    equality); a table found in one folder only is a problem of that table.
    """
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol={rtol}, atol={atol}: tolerances are at least 0")
    names = sorted({p.name for p in built.glob("*.csv")} | {p.name for p in
                                                            committed.glob("*.csv")})
    if not names:
        raise ValueError(f"no claims tables in {built} or {committed}: build the chapters "
                         "first (python -m seelike.book.run --preset cifar)")
    found = []
    for file in names:
        a, b = built / file, committed / file
        if not (a.is_file() and b.is_file()):
            side = "this build" if a.is_file() else "the committed results"
            found.append(TableAgreement(Path(file).stem, False, (f"only in {side}",), 0, 0,
                                        0.0, 0.0, ""))
        else:
            found.append(_table(a, b, rtol, atol))
    return found


def report(found: list[TableAgreement]) -> str:
    """The comparison in lines, ending with the overall reading."""
    lines = [t.describe() for t in found]
    if all(t.identical for t in found):
        lines.append("every table identical to the committed one")
    elif all(t.agrees() for t in found):
        lines.append("every verdict and text cell equal; numbers within the tolerance")
    elif any(t.problems for t in found):
        lines.append("the results differ from the committed ones (see above)")
    else:
        lines.append("every verdict and text cell equal; some numbers beyond the tolerance")
    return "\n".join(lines)

