"""The paper's claims, tested on our measurements: one concern per module, then one module
per chapter.

:mod:`~seelike.book.claims.verdict` reads a measured statistic against bars
(:class:`Measured`, :func:`decide`, :func:`weakest`); :mod:`~seelike.book.claims.declare`
holds a claim's :class:`Declaration` (the sentence, its clause, statistic, control and
bars); :mod:`~seelike.book.claims.table` the judged rows and their results tables;
:mod:`~seelike.book.claims.display` their tables and prose on a page;
:mod:`~seelike.book.claims.revisions` every change to a declaration after its first
result. ``ch04`` to ``ch10`` each declare and compute one chapter's claims, so that a
chapter's page depends on its own claims only.
"""

from seelike.book.claims.declare import NET, Declaration, declared
from seelike.book.claims.display import (
    declarations_frame,
    display_frame,
    glue,
    in_short,
    phrases,
    styled,
)
from seelike.book.claims.table import (
    COLUMNS,
    RESULTS_ENV,
    Claim,
    StaleTableError,
    TableError,
    read_all,
    read_folder,
    results_dir,
    sentences,
    table,
    write,
)
from seelike.book.claims.verdict import (
    INTERVALS,
    LEVELS,
    VERDICTS,
    Measured,
    decide,
    interval,
    measure,
    percentile_band,
    verdict,
    weakest,
)

__all__ = [
    "COLUMNS",
    "INTERVALS",
    "LEVELS",
    "NET",
    "RESULTS_ENV",
    "VERDICTS",
    "Claim",
    "Declaration",
    "Measured",
    "StaleTableError",
    "TableError",
    "decide",
    "declarations_frame",
    "declared",
    "display_frame",
    "glue",
    "in_short",
    "interval",
    "measure",
    "percentile_band",
    "phrases",
    "read_all",
    "read_folder",
    "results_dir",
    "sentences",
    "styled",
    "table",
    "verdict",
    "weakest",
    "write",
]
