"""The images a preset's analyses run on: one seeded, class-balanced probe set per purpose."""

from __future__ import annotations

import functools
from pathlib import Path

from seelike import probe_sets
from seelike.book.presets import SIZE_OF, Preset
from seelike.config import data_root
from seelike.datasets import PURPOSES

__all__ = ["probe_set"]


def probe_set(preset: Preset, purpose: str, *, seed: int = 0) -> probe_sets.ProbeSet:
    """The probe images of ``purpose`` under ``preset``: a seeded, class-balanced draw.

    ``purpose`` is one of ``cka`` (``cka_examples``; Figs 1, 2, 5, 8-10, 12),
    ``attention`` (``attention_examples``; Figs 3-4), ``receptive_field``
    (``receptive_field_examples``; Fig 6), ``probe_train`` (``probe_train_per_class`` per
    class), ``probe_test`` (``probe_test_examples``; Figs 11, 13) and ``estimators``
    (``estimator_examples``; Chapter 10); see :func:`seelike.probe_sets.probe_draw`.
    """
    sizes = {purpose: getattr(preset, name) for name, purpose in SIZE_OF.items()}
    train = purpose == "probe_train"
    if not train and purpose not in sizes:
        raise ValueError(f"purpose={purpose!r}: unknown probe purpose; valid: "
                         f"{', '.join(PURPOSES)}")
    # Every result's cache key names its images, so a page asks for the same draw dozens of
    # times (chapter 7: hundreds); it is drawn once per process and data folder, keyed by
    # what the draw reads (presets that differ elsewhere share it). Callers read a probe
    # set, never change it.
    return _draw(preset.dataset, purpose, None if train else sizes[purpose],
                 preset.probe_train_per_class if train else None, seed, preset.image_size,
                 data_root())


# typed: seed=True is refused by probe_draw, not served as seed=1's draw.
@functools.lru_cache(maxsize=32, typed=True)
def _draw(dataset: str, purpose: str, examples: int | None, per_class: int | None, seed: int,
          image_size: int, _root: Path) -> probe_sets.ProbeSet:
    return probe_sets.probe_draw(dataset, purpose, examples=examples, per_class=per_class,
                                 seed=seed, image_size=image_size)
