"""The paper's claims, tested on our measurements: the record, then one module per chapter.

:mod:`~seelike.book.claims.record` holds the :class:`Claim` record, its results tables and
its display; ``ch04`` to ``ch10`` each hold one chapter's claims, so that a chapter's
page depends on its own claims only (and an edited bar re-runs that chapter alone).
"""

from seelike.book.claims.record import (
    COLUMNS,
    VERDICTS,
    Claim,
    glue,
    read_all,
    read_folder,
    results_dir,
    styled,
    table,
    verdict,
    write,
)

__all__ = ["COLUMNS", "VERDICTS", "Claim", "glue", "read_all", "read_folder", "results_dir",
           "styled", "table", "verdict", "write"]
