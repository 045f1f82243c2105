"""Deviations and revisions: every change to a claim's declaration after its first result.

A claim's statistic, bars, control or quoted words can change once a result has been
seen, for a good reason (a statistic that passed where the sentence cannot hold, a clause
that was quoted but not tested). Such a change is never silent: it is an entry here, with
the old and the new statistic and bar, the verdict under each, the commit and the reason,
and the book's appendix page "Deviations and revisions" is generated from these entries.

:data:`HISTORY` holds the changes made before declarations carried fingerprints,
reconstructed from the repository's history (the committed results tables and the
declaration modules at each commit). From this round on, every entry records the
:attr:`~seelike.book.claims.declare.Declaration.fingerprint` of the declaration it leaves
behind, and :func:`unrecorded` (run by the tests) names every declaration whose
fingerprint no entry records: a declaration changed without an entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from seelike.book.claims.declare import Declaration
from seelike.book.claims.verdict import VERDICTS

__all__ = ["HISTORY", "REVISIONS", "THIS_ROUND", "Revision", "frame", "latest", "unrecorded"]


@dataclass(frozen=True)
class Revision:
    """One change to a claim's declaration (or its first declaration)."""

    key: str
    commit: str           # the commit that made the change
    date: str             # YYYY-MM-DD
    change: str           # what changed
    reason: str           # why
    old_statistic: str = ""
    new_statistic: str = ""
    old_bar: str = ""
    new_bar: str = ""
    old_result: str = ""  # value, verdict (results commit) under the old declaration
    new_result: str = ""  # the same under the new one, from the first build that judged it
    fingerprint: str = ""  # the declaration's fingerprint after this change
    kind: str = "revised"  # "revised" after a result; "declared" before any result

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-f]{7,40}", self.commit):
            raise ValueError(f"{self.key}: commit {self.commit!r} is not a commit hash")
        if not self.reason.strip():
            raise ValueError(f"{self.key}: a revision states its reason")
        if self.kind not in ("revised", "declared"):
            raise ValueError(f"{self.key}: kind must be 'revised' or 'declared'")

    @property
    def direction(self) -> str:
        """Whether the change moved the verdict towards the paper, away from it, or neither."""
        strength = {"not reproduced": 0, "inconclusive": 1, "untestable here": 1, "partly": 2,
                    "reproduced": 3}
        old, new = (_verdicts(r) for r in (self.old_result, self.new_result))
        if not old or not new:
            return "–"
        before, after = min(strength[v] for v in old), min(strength[v] for v in new)
        return "towards the paper" if after > before else (
            "away from the paper" if after < before else "no change")


def _verdicts(result: str) -> list[str]:
    return [v for v in VERDICTS if re.search(rf"\b{v}\b", result)]


#: Where the entries are kept: a JSON file beside this module, one object per entry.
SOURCE = Path(__file__).with_name("revisions.json")


def _load(group: str) -> tuple[Revision, ...]:
    return tuple(Revision(**entry) for entry in json.loads(SOURCE.read_text())[group])


#: The changes made before declarations carried fingerprints, from the repository's history.
HISTORY = _load("history")
#: The round that declared a control, clauses and seed values for every claim.
THIS_ROUND = _load("this_round")
REVISIONS = HISTORY + THIS_ROUND


def latest(revisions: Iterable[Revision] = REVISIONS) -> dict[str, Revision]:
    """The last entry of each claim that records a fingerprint."""
    out: dict[str, Revision] = {}
    for r in revisions:
        if r.fingerprint:
            out[r.key] = r
    return out


def unrecorded(declarations: Mapping[str, Declaration],
               revisions: Iterable[Revision] = REVISIONS) -> list[str]:
    """One line per declaration whose current fingerprint no entry records: each names the
    fingerprint to record and where."""
    last = latest(revisions)
    problems = []
    for key, d in declarations.items():
        entry = last.get(key)
        if entry is None or entry.fingerprint != d.fingerprint:
            problems.append(
                f"{key}: its declaration (fingerprint {d.fingerprint}) has no entry in "
                f"seelike.book.claims.revisions" + (f" (the last recorded is "
                                                    f"{entry.fingerprint})" if entry else "")
                + ": add a Revision with the old and new statistic and bar, the reason and "
                f"fingerprint={d.fingerprint!r}")
    return problems


def frame(revisions: Iterable[Revision] = REVISIONS, *, kind: str | None = None
          ) -> pd.DataFrame:
    """The entries as a table (one row each, oldest first), with their direction."""
    rows = [asdict(r) | {"direction": r.direction} for r in revisions
            if kind is None or r.kind == kind]
    return pd.DataFrame(rows)
