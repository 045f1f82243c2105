"""The book's presets: which models and how many examples each run uses.

Every chapter has one ``parameters`` cell holding ``preset = "cifar"`` (and the knobs a
reader may turn); :func:`seelike.book.chapter.setup` resolves it here once, and the rest
of the book reads models, example counts and batch sizes from the returned
:class:`Preset`, so the three presets share one code path.
:func:`seelike.book.images.probe_set` turns a preset's sizes into the probe images of each
purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

# Imported for its side effect too: it registers the zoo and the paper models with
# seelike.catalogue, where seelike.layers reads a preset's models by name (meta device).
from seelike import models, zoo  # noqa: F401
from seelike.datasets import check_image_size, largest_draw

__all__ = ["COUNTS", "PRESETS", "SIZE_OF", "Preset", "check_draw_sizes", "get_preset",
           "parse_overrides", "zoo_models"]

#: the integer fields: example counts, minibatch sizes, repeats, image size
COUNTS = ("cka_examples", "cka_batch", "cka_repeats", "image_size", "attention_examples",
          "receptive_field_examples", "probe_train_per_class", "probe_test_examples",
          "estimator_examples", "estimator_repeats")


#: The preset field that sizes each purpose's probe set (``probe_train``: per class).
SIZE_OF = {"cka_examples": "cka", "attention_examples": "attention",
           "receptive_field_examples": "receptive_field", "probe_train_per_class": "probe_train",
           "probe_test_examples": "probe_test", "estimator_examples": "estimators"}


def check_draw_sizes(preset: Preset, fields: Sequence[str]) -> None:
    """Refuse a size among ``fields`` larger than its dataset split holds.

    For the sizes a reader sets: the paper preset's own sizes are the paper's, and a smaller
    local copy of the data gives what it has, with a warning.
    """
    for name in fields:
        if name not in SIZE_OF:
            continue
        most, per_class = largest_draw(preset.dataset, SIZE_OF[name])
        limit = per_class if name == "probe_train_per_class" else most
        if getattr(preset, name) > limit:
            raise ValueError(f"{name}={getattr(preset, name)}: {preset.dataset} holds at most "
                             f"{limit} {'a class' if limit == per_class else 'examples'} for "
                             f"this draw; use {name}<={limit}")


def _check_count(name: str, value: object) -> None:
    # bool is an int to Python, and "64" or 64.5 would fail far from here or silently
    # draw the wrong number of examples.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}={value!r}: expected a positive whole number (int), got "
                        f"{type(value).__name__}; write e.g. {name}=64")
    if value < 1:
        raise ValueError(f"{name}={value!r}: expected a positive whole number; write e.g. "
                         f"{name}=64")


@dataclass(frozen=True)
class Preset:
    """What one preset runs: models, probe-set sizes and minibatch sizes.

    ``cka_examples`` / ``cka_batch`` follow the paper's protocol where the
    budget allows (paper: 10,240 examples in minibatches of 1,024). The other
    example counts size :func:`seelike.book.images.probe_set`'s draws: mean attention
    distances (Figs 3-4; paper: 5,000 images), effective receptive fields (Fig 6;
    paper: 32 images) and the linear probes (Figs 11, 13; paper: 10-shot
    training sets, evaluated on the validation split).

    ``estimator_*`` size Chapter 10's study of minibatch CKA estimators
    (:mod:`seelike.estimators`): each of ``estimator_repeats`` probe sets of
    ``estimator_examples`` runs through each model in minibatches of the largest
    of ``estimator_batches``, and the smaller sizes are chunks of those; when the
    examples are exactly one such minibatch, the largest size is full-batch CKA.
    """

    name: str
    description: str
    vit: str
    vit_gap: str
    resnet: str
    mixer: str
    dataset: str
    cka_examples: int
    cka_batch: int
    cka_repeats: int
    image_size: int
    extra_models: tuple[str, ...] = field(default_factory=tuple)
    attention_examples: int = 1000
    receptive_field_examples: int = 32
    probe_train_per_class: int = 500
    probe_test_examples: int = 2000
    estimator_batches: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    estimator_examples: int = 1024
    estimator_repeats: int = 4

    def __post_init__(self) -> None:
        for name in COUNTS:
            _check_count(name, getattr(self, name))
        if (not isinstance(self.estimator_batches, tuple) or not self.estimator_batches
                or list(self.estimator_batches) != sorted(set(self.estimator_batches))):
            raise ValueError(f"estimator_batches={self.estimator_batches!r}: expected a "
                             "non-empty tuple of increasing minibatch sizes, e.g. (32, 64, 128)")
        for size in self.estimator_batches:
            _check_count("estimator_batches", size)
        if self.cka_batch < 4 or min(self.estimator_batches) < 4:
            raise ValueError(f"cka_batch={self.cka_batch}, estimator_batches="
                             f"{self.estimator_batches}: the unbiased CKA estimator needs "
                             "minibatches of at least 4 examples")
        check_image_size(self.dataset, self.image_size)
        if self.probe_train_per_class < 2:
            raise ValueError(f"probe_train_per_class={self.probe_train_per_class}: the probes "
                             "choose their penalty by cross-validation over rounds of the "
                             "draw, which needs at least 2 examples a class")
        if self.cka_examples < self.cka_batch:
            raise ValueError(f"cka_examples={self.cka_examples} is less than one minibatch "
                             f"(cka_batch={self.cka_batch}); raise cka_examples or lower "
                             "cka_batch")

    def with_overrides(self, **overrides: object) -> Preset:
        """A copy with some fields changed (a chapter's allowed overrides), validated."""
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown preset fields {sorted(unknown)}; valid: "
                            f"{sorted(self.__dataclass_fields__)}")
        if isinstance(overrides.get("estimator_batches"), list):
            overrides["estimator_batches"] = tuple(overrides["estimator_batches"])
        return replace(self, **overrides)  # type: ignore[arg-type]

    def overrides(self) -> dict[str, object]:
        """The fields where this preset differs from the named one's defaults."""
        base = PRESETS.get(self.name)
        if base is None:
            return {"name": self.name}
        return {f: getattr(self, f) for f in self.__dataclass_fields__
                if getattr(self, f) != getattr(base, f)}


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        description="CI: the cifar zoo's trained models on a handful of images, seconds a chapter",
        vit="vit_cifar", vit_gap="vit_cifar_gap", resnet="resnet_cifar", mixer="mixer_cifar",
        dataset="cifar10", cka_examples=64, cka_batch=32, cka_repeats=1, image_size=32,
        attention_examples=32, probe_train_per_class=10, probe_test_examples=200,
        estimator_batches=(8, 16, 32), estimator_examples=32, estimator_repeats=2,
    ),
    "cifar": Preset(
        name="cifar",
        description="default: models trained by this project on CIFAR-10, weights in data/",
        vit="vit_cifar", vit_gap="vit_cifar_gap", resnet="resnet_cifar", mixer="mixer_cifar",
        dataset="cifar10", cka_examples=2048, cka_batch=256, cka_repeats=3, image_size=32,
    ),
    "paper": Preset(
        name="paper",
        description="timm's pretrained ImageNet-scale ViTs, BiT ResNets and Mixers; "
                    "needs internet and ideally a GPU",
        vit="vit_base_patch32_224.augreg_in21k", vit_gap="vit_base_patch16_rpn_224.sw_in1k",
        resnet="resnetv2_50x1_bit.goog_in21k", mixer="mixer_b16_224.goog_in21k",
        dataset="imagenette",
        cka_examples=10240, cka_batch=1024, cka_repeats=1, image_size=224,
        attention_examples=5000, probe_train_per_class=10, probe_test_examples=10000,
        estimator_examples=10240, estimator_repeats=20,
    ),
}


def get_preset(name: str | Preset, **overrides: object) -> Preset:
    """The preset called ``name`` (``smoke``, ``cifar`` or ``paper``), with overrides.

    A :class:`Preset` passes through (with ``overrides`` applied): the one place a
    preset's name is resolved, so the rest of the book takes a :class:`Preset`.
    """
    if isinstance(name, Preset):
        preset = name
    elif isinstance(name, str) and name in PRESETS:
        preset = PRESETS[name]
    else:
        raise ValueError(f"preset={name!r}: unknown preset; valid presets: "
                         f"{', '.join(map(repr, PRESETS))}") from None
    return preset.with_overrides(**overrides) if overrides else preset


def zoo_models(preset: Preset) -> list[str]:
    """The model names ``preset`` can load: the trained zoo (smoke, cifar) or timm's (paper)."""
    return list(zoo.PAPER_MODELS if preset.name == "paper" else zoo.ZOO)


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["cka_examples=64", "estimator_batches=(8, 16)"]`` as preset overrides (each value a
    Python literal), for the benchmarks' ``--set FIELD=VALUE``."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair!r}: write FIELD=VALUE, e.g. cka_examples=64")
        out[key] = ast.literal_eval(value)
    return out
