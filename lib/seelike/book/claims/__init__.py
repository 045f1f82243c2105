"""The paper's claims, tested on our measurements: the record, then one module per chapter.

:mod:`~seelike.book.claims.record` holds the :class:`Declaration` of a claim (the paper's
sentence, the statistic, the bars), the judged :class:`Claim`, its results tables and its
display; ``ch04`` to ``ch10`` each declare and compute one chapter's claims, so that a
chapter's page depends on its own claims only (and an edited bar re-runs that chapter alone).
"""

from seelike.book.claims.record import (
    COLUMNS,
    VERDICTS,
    Claim,
    Declaration,
    StaleTableError,
    decide,
    declarations_frame,
    declared,
    display_frame,
    glue,
    interval,
    over_draws,
    read_all,
    read_folder,
    results_dir,
    styled,
    table,
    write,
)

__all__ = [
    "COLUMNS",
    "VERDICTS",
    "Claim",
    "Declaration", "StaleTableError",
    "decide",
    "declarations_frame",
    "declared",
    "display_frame",
    "glue",
    "interval",
    "over_draws",
    "read_all",
    "read_folder",
    "results_dir",
    "styled",
    "table",
    "write",
]
