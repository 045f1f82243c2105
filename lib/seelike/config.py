"""Presets and the data folder: the one place that says what a run uses.

Every chapter has one ``parameters`` cell holding ``preset = "cifar"``; it calls
:func:`get_preset` and reads models, example counts and batch sizes from the
returned :class:`Preset`, so the three presets share one code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

DATA_ENV = "SEELIKE_DATA"


def data_root() -> Path:
    """The cache/mirror folder, laid out as ``datasets/<name>/…`` and ``weights/<name>/…``.

    ``SEELIKE_DATA`` names it; otherwise a per-user cache directory. A folder of
    pre-downloaded files with this layout (CI's mirror, a lab share) is used as is.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_cache_dir("seelike"))


def repo_root() -> Path:
    """The checkout that holds ``data/weights`` (the shipped zoo) and ``chapters/``."""
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Preset:
    """What one preset runs: models, probe-set sizes and minibatch sizes.

    ``cka_examples`` / ``cka_batch`` follow the paper's protocol where the
    budget allows (paper: 10,240 examples in minibatches of 1,024). The other
    example counts size :func:`seelike.data.probe_set`'s draws: mean attention
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

    def with_overrides(self, **overrides: object) -> Preset:
        """A copy with some fields changed (a chapter's allowed overrides)."""
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown preset fields {sorted(unknown)}; valid: "
                            f"{sorted(self.__dataclass_fields__)}")
        return replace(self, **overrides)  # type: ignore[arg-type]


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


def get_preset(name: str, **overrides: object) -> Preset:
    """The preset called ``name`` (``smoke``, ``cifar`` or ``paper``), with overrides."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}") from None
    return preset.with_overrides(**overrides) if overrides else preset
