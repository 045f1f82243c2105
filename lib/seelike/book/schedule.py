"""The book's passes, derived from the plan: which analyses each pass over a probe set
computes, in which order the passes run, which chapter pays for each analysis in a cold
build, and the minibatch size of each pass.

Everything here reads :data:`seelike.book.plan.PLAN`; a new analysis is declared there,
never here. The results layer (:mod:`seelike.book.store`) runs :func:`analyses` of a probe
set in one pass; the benchmarks attribute each pass's cost with :func:`chapter_of`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from seelike.book import plan
from seelike.book.knobs import KNOBS
from seelike.book.plan import After, probe_shots, shot_draws, with_shots
from seelike.book.presets import Preset

if TYPE_CHECKING:  # a type only: the schedule orders passes, it never runs one
    from seelike.analyses import Declaration

__all__ = ["PASS_ORDER", "RECEPTIVE_FIELD_BATCH", "analyses", "analysis_key", "batch_size",
           "chapter_of", "repeats", "schedule"]

#: The order of the passes: the attention pass before the CKA pass (Fig 5 picks its heads
#: by distance), each few-shot fit before the evaluation pass that reads it.
PASS_ORDER = ("attention", "cka", "probe_train", "probe_test", "estimators")


def repeats(p: Preset, purpose: str, *, shots: int = KNOBS["07_localization"]["shots"]
            ) -> list[int]:
    """The repeats (probe seeds) of ``purpose``'s probe set that the book passes over.

    Chapter 4's spread over CKA probe sets, Chapter 10's over estimator sets, and the
    few-shot probes' draws (:func:`shot_draws`; ``p`` holds their shots); one otherwise.
    """
    if purpose == "cka":
        return list(range(p.cka_repeats))
    if purpose == "estimators":
        return list(range(p.estimator_repeats))
    if purpose == "probe_train":
        return shot_draws(p.probe_train_per_class, claims_shots=shots)
    return [0]


def schedule(p: Preset, *, shots: int = KNOBS["07_localization"]["shots"]
             ) -> list[tuple[Preset, str, int]]:
    """Every pass the book makes over a probe set: ``(preset, purpose, repeat)``, in an order
    in which each pass finds what it reads already cached (:data:`PASS_ORDER`).

    The probe training sets come once per shots setting
    (:func:`~seelike.book.plan.probe_shots`). Chapter 5's receptive fields are a separate,
    backward, computation (:func:`~seelike.book.plan.receptive_field_requests`).
    ``shots``: the chapters' knob, as in :func:`analyses`.
    """
    planned = {row.purpose for row in plan.PLAN}
    out = []
    for purpose in (q for q in PASS_ORDER if q in planned):
        presets = ([with_shots(p, n) for n in probe_shots(p, shots=shots)]
                   if purpose == "probe_train" else [p])
        out += [(q, purpose, r) for q in presets for r in repeats(q, purpose, shots=shots)]
    return out


def analyses(p: Preset, purpose: str, repeat: int = 0, *,
             shots: int = KNOBS["07_localization"]["shots"]) -> list[Declaration | After]:
    """Everything the book computes over ``probe_set(p, purpose, seed=repeat)``: the
    :data:`~seelike.book.plan.PLAN` rows of that probe set, identical asks of two chapters
    once."""
    return list(_by_key(_asked(p, purpose, repeat, shots)).values())


def _asked(p: Preset, purpose: str, repeat: int, shots: int
           ) -> list[tuple[str, Declaration | After]]:
    """``(chapter, ask)`` of every :data:`~seelike.book.plan.PLAN` row over this probe set,
    in book order."""
    if repeat not in repeats(p, purpose, shots=shots):
        return []
    return [(row.chapter, a) for row in plan.PLAN if row.purpose == purpose
            and (row.every or repeat == 0) for a in row.asks(p, repeat, shots)]


def _by_key(asked: Sequence[tuple[str, Declaration | After]]) -> dict[object, Declaration | After]:
    # Identical requests of two chapters are one analysis. Afters stay as declared (none
    # repeats today; the store would run two that resolve alike as one).
    unique: dict[object, Declaration | After] = {}
    for _, a in asked:
        unique.setdefault(id(a) if isinstance(a, After) else analysis_key(a), a)
    return unique


def chapter_of(p: Preset, a: Declaration | After, *,
               shots: int = KNOBS["07_localization"]["shots"]) -> str:
    """The chapter that first asks for analysis ``a`` of :func:`analyses`, in
    :data:`~seelike.book.plan.PLAN`: the one that pays for it in a cold build
    (``benchmarks/bench_paper.py``'s table).

    An analysis built from another result (Fig 5's head subsets, a probe evaluation) is
    found by the :class:`After` that declares it: same kind, same models.
    """
    name, names = (a.makes, a.models) if isinstance(a, After) else (a.name, a.models())
    keys = [] if isinstance(a, After) else [analysis_key(a)]
    # Passes in schedule order, stopping at the first that holds ``a``: finding a CKA
    # matrix's chapter never draws the probe training sets.
    for q, purpose, repeat in schedule(p, shots=shots):
        chapters = _chapters_of_pass(q, purpose, repeat, shots)
        for key in [*keys, (name, names)]:
            if key in chapters:
                return chapters[key]
    raise KeyError(f"{name} of {', '.join(names)} is in no chapter's row of "
                   f"seelike.book.plan.PLAN; add it there")


@functools.lru_cache(maxsize=64)
def _chapters_of_pass(p: Preset, purpose: str, repeat: int, shots: int) -> dict[object, str]:
    """The first chapter (rows are in book order) asking for each analysis of one pass, by
    :func:`analysis_key`, and by kind and models for what an :class:`After` builds."""
    out: dict[object, str] = {}
    for chapter, a in _asked(p, purpose, repeat, shots):
        out.setdefault((a.makes, a.models) if isinstance(a, After) else analysis_key(a),
                       chapter)
    return out


def analysis_key(a: Declaration) -> str:
    """What makes two analyses the same one: their kind and parameters."""
    return repr((a.name, a.params()))


#: Images per backward minibatch of Chapter 5's receptive fields: each keeps its model's
#: whole forward graph for one backward pass per request (about 0.1 GB an image for a
#: BiT-R50 at 224 px), so the paper's 32 images go in one minibatch and a reader's
#: thousands do not exhaust the GPU.
RECEPTIVE_FIELD_BATCH = 32


def batch_size(p: Preset, purpose: str) -> int:
    """The minibatch size of the book's pass over ``purpose``'s probe set.

    Chapter 10's study runs at its largest size (the smaller ones are chunks of it), the
    receptive fields at most :data:`RECEPTIVE_FIELD_BATCH`; every other pass at the
    preset's ``cka_batch``.
    """
    if purpose == "estimators":
        return max(p.estimator_batches)
    if purpose == "receptive_field":
        return min(p.cka_batch, RECEPTIVE_FIELD_BATCH)
    return p.cka_batch
