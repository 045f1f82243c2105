"""The results cache of the book's passes: analyses over a preset's probe set, run once.

:func:`results` reads each analysis's result from the on-disk cache
(:mod:`seelike.cache`, keyed by :func:`seelike.passes.cache_key`: parameters, weights,
probe images, minibatch size, and the code of the analysis's module). When any is
missing, one :func:`seelike.passes.run` computes it together with the ``planned``
analyses that are not cached yet, so that each model runs once over a probe set per
build whichever chapter asks first. The book's plan (:mod:`seelike.book.plan`) supplies
``planned``; :mod:`seelike.book.results` wires the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from seelike import cache, models, passes
from seelike.analyses import Declaration
from seelike.book.images import probe_set
from seelike.book.presets import Preset
from seelike.profile import Profile

__all__ = ["result_id", "results"]


def _path(analysis: Declaration, key: dict) -> str:
    return str(cache.cache_path(analysis.name, key, passes.code_of(analysis)))


def results(preset: Preset, analyses: Sequence[Declaration], *, purpose: str, repeat: int = 0,
            batch_size: int, progress: bool = False,
            planned: Callable[[], Sequence[Declaration]] | None = None,
            profile: Profile | None = None) -> list[dict[str, np.ndarray]]:
    """The results of ``analyses`` on ``probe_set(preset, purpose, seed=repeat)``, cached.

    Cached results are read from disk. If any is missing, one pass in minibatches of
    ``batch_size`` computes it, with every analysis of ``planned()`` that is not cached
    yet, and caches each. ``profile`` (:mod:`seelike.profile`) records that pass's costs.
    """
    probe = probe_set(preset, purpose, seed=repeat)
    keys = [passes.cache_key(a, probe, batch_size) for a in analyses]
    out = [cache.load(a.name, k, passes.code_of(a)) for a, k in zip(analyses, keys, strict=True)]
    todo = {_path(a, k): (a, k) for a, k, r in zip(analyses, keys, out, strict=True) if r is None}
    if not todo:
        return out  # type: ignore[return-value]
    for a in planned() if planned else ():
        k = passes.cache_key(a, probe, batch_size)
        if _path(a, k) not in todo and not cache.is_cached(a.name, k, passes.code_of(a)):
            todo[_path(a, k)] = (a, k)
    pending = list(todo.values())
    nets = {m: models.load(m) for m in dict.fromkeys(m for a, _ in pending for m in a.models())}
    computed = passes.run([a for a, _ in pending], nets, probe, batch_size=batch_size,
                          progress=progress, profile=profile)
    # What cached() returns, not a re-read: an unwritable cache still hands the results on.
    stored = {_path(a, k): cache.cached(a.name, k, lambda r=result: r, code=passes.code_of(a))
              for (a, k), result in zip(pending, computed, strict=True)}
    return [r if r is not None else stored[_path(a, k)]
            for a, k, r in zip(analyses, keys, out, strict=True)]


def result_id(preset: Preset, analysis: Declaration, *, purpose: str, batch_size: int,
              repeat: int = 0) -> str:
    """The cache file stem of ``analysis`` on ``probe_set(preset, purpose, seed=repeat)``: a
    result's identity (a probe evaluation carries its fit's, Chapters 7 and 8)."""
    key = passes.cache_key(analysis, probe_set(preset, purpose, seed=repeat), batch_size)
    return cache.cache_path(analysis.name, key, passes.code_of(analysis)).stem
