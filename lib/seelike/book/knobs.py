"""Each chapter's knobs: the choices its parameters cell shows a reader, with the book's
values, and the range of each that a preset can honour.

:func:`seelike.book.chapter.setup` checks a chapter's parameters against them; the plan's
functions take them as keyword arguments, so a reader's other value builds other analyses
(cached under their own parameters) and leaves the book's alone.
"""

from __future__ import annotations

from seelike.book.presets import Preset
from seelike.datasets import largest_draw
from seelike.layers import attention_heads, layer_names, stage_of

__all__ = ["KNOBS", "knob_limits"]

#: Each chapter's knobs and the book's value of each. ``None``: the preset's value of the
#: :class:`~seelike.book.presets.Preset` field of that name. A run with any other value
#: writes its results under a name of its own (:func:`seelike.book.chapter.setup`).
KNOBS: dict[str, dict[str, object]] = {
    "04_representation_structure": {"cka_examples": None, "cka_batch": None,
                                    "cka_repeats": None},
    "05_local_global": {"attention_examples": None, "receptive_field_examples": None,
                        "head_window": 1 / 3, "min_pooled_heads": 6},
    "06_skip_connections": {"cka_examples": None},
    "07_localization": {"shots": 10, "resnet_stages": 2},
    "08_scale": {"shots": 10},
    "09_mixer": {"cka_examples": None},
    "10_estimators": {"estimator_examples": None, "estimator_repeats": None,
                      "estimator_batches": None},
}

def knob_limits(chapter: str, p: Preset) -> dict[str, tuple[int, int]]:
    """The smallest and largest value of each of ``chapter``'s own count knobs that ``p``
    can honour.

    Beyond them a knob would be clipped or a choice made without a word: more shots than
    the training split holds a class, or fewer than two (the probes' penalty is chosen by
    cross-validation over rounds of the draw, which needs two rounds), more ResNet stages
    than the ResNet has, more pooled heads than the ViT.
    """
    knobs = KNOBS.get(chapter, {})
    limits = {}
    if "shots" in knobs:
        limits["shots"] = (2, largest_draw(p.dataset, "probe_train")[1])
    if "resnet_stages" in knobs:
        limits["resnet_stages"] = (1, len({stage_of(u) for u in layer_names(p.resnet, "blocks")}))
    if "min_pooled_heads" in knobs:
        limits["min_pooled_heads"] = (1, attention_heads(p.vit))
    return limits
