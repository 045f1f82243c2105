"""The zoo as data: every model's spec, its training seeds and the paper preset's models.

Which models exist and how each is built and trained (:class:`ModelSpec`), declared once;
nothing here builds a network or reads a weight (:mod:`seelike.models` does). Each model
declares its display colour here where it differs from its family's
(:mod:`seelike.architectures`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = ["CIFAR_MEAN", "CIFAR_STD", "GAP_VIT_COLOUR", "IMAGENET_MEAN", "IMAGENET_STD",
           "LESS_DATA_COLOURS", "MIXER_CIFAR", "NOSKIP_BLOCKS", "PAPER_MODELS", "PENDING",
           "RESNET_CIFAR", "SEEDS", "SEED_SEP", "VIT_CIFAR", "VIT_CIFAR_GAP", "ZOO", "ModelSpec",
           "PaperModel", "seed_name", "seed_variants", "spec_dict", "spec_of", "split_seed"]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: how to build it, how it was (or is to be) trained."""

    name: str
    family: str  # "vit", "resnet", "mixer" or "akamaster"
    arch: dict[str, Any]
    summary: str
    recipe: str = ""
    data_fraction: float = 1.0
    noskip_block: int | None = None
    mean: tuple[float, ...] = CIFAR_MEAN
    std: tuple[float, ...] = CIFAR_STD
    presets: tuple[str, ...] = ("cifar",)
    extra: dict[str, Any] = field(default_factory=dict)
    seed: int = 0  # the training seed: initialisation, data order and augmentation draws
    # How figures draw it (hex), where it differs from its family's colour; not part of what
    # was trained, so manifests and fingerprints leave it out (spec_dict).
    colour: str | None = None


# The main CIFAR ViT: 12 blocks like ViT-B, 64 patch tokens (8 x 8 grid of 4-px patches).
VIT_CIFAR = dict(img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3, mlp_ratio=2.0,
                 num_classes=10)
VIT_CIFAR_GAP = dict(VIT_CIFAR, class_token=False, global_pool="avg")
# ResNet-18 layout at half width: four stages like BiT's R50, small enough to ship.
RESNET_CIFAR = dict(layers=(2, 2, 2, 2), channels=(32, 64, 128, 256), num_classes=10)
MIXER_CIFAR = dict(img_size=32, patch_size=4, num_blocks=12, embed_dim=128,
                   mlp_ratio=(1.0, 4.0), num_classes=10)
NOSKIP_BLOCKS = (1, 7, 10)  # the paper's Fig 8 blocks, read as 0-based block indices

# Shades of the ViT's blue and beside it: the GAP ViT purple, less training data lighter.
GAP_VIT_COLOUR = "#9467bd"
LESS_DATA_COLOURS = {30: "#6baed6", 10: "#b2d3ea"}

ZOO: dict[str, ModelSpec] = {}


def _register(spec: ModelSpec) -> None:
    ZOO[spec.name] = spec


_register(ModelSpec("vit_cifar", "vit", VIT_CIFAR, "ViT, patch 4, 12 blocks, CLS token",
                    recipe="vit"))
_register(ModelSpec("vit_cifar_gap", "vit", VIT_CIFAR_GAP,
                    "the same ViT with global average pooling, no CLS token", recipe="vit",
                    colour=GAP_VIT_COLOUR))
_register(ModelSpec("resnet_cifar", "resnet", RESNET_CIFAR,
                    "ResNet-18 layout at half width, CIFAR stem (3x3 stride 1, no max-pool)",
                    recipe="resnet"))
for _k in NOSKIP_BLOCKS:
    _register(ModelSpec(f"vit_cifar_noskip{_k}", "vit", VIT_CIFAR,
                        f"vit_cifar with both skip connections of block {_k} removed",
                        recipe="vit", noskip_block=_k, colour="#8c564b"))
for _pct in (10, 30):
    _register(ModelSpec(f"vit_cifar_data{_pct}", "vit", VIT_CIFAR,
                        f"vit_cifar trained on a class-balanced {_pct} % of the training set",
                        recipe="vit", data_fraction=_pct / 100,
                        colour=LESS_DATA_COLOURS[_pct]))
_register(ModelSpec("mixer_cifar", "mixer", MIXER_CIFAR, "MLP-Mixer, patch 4, 12 blocks",
                    recipe="mixer"))
_register(ModelSpec("resnet56_akamaster", "akamaster", dict(depth=56),
                    "external: pretrained CIFAR ResNet-56 of akamaster/pytorch_resnet_cifar10",
                    mean=IMAGENET_MEAN, std=IMAGENET_STD, colour="#ff9896"))

#: Specs declared and trainable but not in the zoo the book iterates, because their weights
#: have not been trained yet: a model moves into :data:`ZOO` (``_register``) in the commit
#: that ships its weights, and ``tests/test_models.py`` fails on a registered model without
#: them. The scale ladder: ``vit_cifar`` at half and double width (same depth and patch),
#: and ``vit_cifar`` trained four times as long.
PENDING: dict[str, ModelSpec] = {spec.name: spec for spec in (
    # Half width keeps vit_cifar's three heads per block (of 32 dimensions, not 64), so that
    # the attention chapters compare the same number of heads per block across sizes; two
    # heads of 48 would keep the head dimension nearer but halve Fig 3's heads.
    ModelSpec("vit_cifar_small", "vit", dict(VIT_CIFAR, embed_dim=96, num_heads=3),
              "vit_cifar at half width (96): 3 heads of 32 per block", recipe="vit",
              extra={"steps_of": ["vit_cifar", 1]}),
    ModelSpec("vit_cifar_large", "vit", dict(VIT_CIFAR, embed_dim=384, num_heads=6),
              "vit_cifar at double width (384): 6 heads of 64 per block", recipe="vit",
              extra={"steps_of": ["vit_cifar", 1]}),
    # The same crop-and-flip augmentation: stronger augmentation only if this length stops
    # improving, which its training curve (in the manifest) will show.
    ModelSpec("vit_cifar_long", "vit", VIT_CIFAR,
              "vit_cifar trained for four times its steps, the same augmentation",
              recipe="vit", extra={"steps_of": ["vit_cifar", 4]}),
)}


# Extra training seeds of the models the verdicts lean on (Chapter 3's seed table, the
# noise floor of Chapter 4, Fig 8's accuracy cost in Chapter 6). A seed variant is named
# ``<model>@seed<k>``; the plain name is seed 0.
SEED_SEP = "@seed"
SEEDS: dict[str, tuple[int, ...]] = {
    name: (0, 1, 2) for name in ("vit_cifar", "resnet_cifar", "vit_cifar_gap", "vit_cifar_noskip7")
}


def seed_name(name: str, seed: int) -> str:
    """The zoo name of ``name``'s training seed ``seed`` (seed 0 is the plain name)."""
    return name if seed == 0 else f"{name}{SEED_SEP}{seed}"


def split_seed(name: str) -> tuple[str, int]:
    """``("vit_cifar", 1)`` for ``"vit_cifar@seed1"``; ``(name, 0)`` for a plain name.

    One spelling per model and seed: seed 0 is the plain name, other seeds are written in
    ASCII digits without leading zeros; anything else is refused with the canonical form.
    """
    base, sep, seed = name.partition(SEED_SEP)
    if not sep:
        return name, 0
    if not (seed.isascii() and seed.isdigit()):
        raise KeyError(f"bad seed in model name {name!r}: write {base}{SEED_SEP}<k> with k in "
                       f"ASCII digits, e.g. {base}{SEED_SEP}1")
    canonical = seed_name(base, int(seed))
    if canonical != name:
        raise KeyError(f"model name {name!r} is spelt {canonical!r}: seed 0 is the plain name "
                       "and a seed has no leading zeros")
    return base, int(seed)


def seed_variants(name: str) -> list[str]:
    """Every trained seed of model ``name``, seed 0 first (just ``[name]`` without seeds)."""
    base, _ = split_seed(name)
    spec_of(base)
    return [seed_name(base, k) for k in SEEDS.get(base, (0,))]


def spec_of(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``; a clear error listing the zoo otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {name!r}")
    base, seed = split_seed(name)
    try:
        spec = ZOO[base] if base in ZOO else PENDING[base]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; the zoo has: {', '.join(ZOO)} (and, without "
                       f"weights yet: {', '.join(PENDING)})") from None
    if seed == 0:
        return spec
    if seed not in SEEDS.get(base, ()):
        trained = ", ".join(seed_variants(base))
        raise KeyError(f"no seed {seed} of {base!r} in the zoo; its trained seeds: {trained}")
    return replace(spec, name=name, seed=seed)


def spec_dict(spec: ModelSpec) -> dict[str, Any]:
    """A JSON-able record of what was trained, for manifests (the display colour left out)."""
    record = asdict(spec)
    del record["colour"]
    return json.loads(json.dumps(record))


# ---- the paper preset: timm's closest public substitutes ------------------------------------


@dataclass(frozen=True)
class PaperModel:
    """One ``paper`` preset model: what it is, and its colour where it differs from its
    family's."""

    summary: str
    colour: str | None = None
    less_data_of: str | None = None  # the paper model it is, trained on less data


PAPER_MODELS: dict[str, PaperModel] = {
    "vit_base_patch32_224.augreg_in21k": PaperModel("ViT-B/32, ImageNet-21k (paper: JFT-300M)"),
    "vit_base_patch16_224.augreg_in21k": PaperModel("ViT-B/16, ImageNet-21k (paper: JFT-300M)"),
    "vit_large_patch16_224.augreg_in21k": PaperModel("ViT-L/16, ImageNet-21k (paper: JFT-300M)"),
    "vit_huge_patch14_224.orig_in21k": PaperModel(
        "ViT-H/14, ImageNet-21k, no head (paper: JFT-300M)"),
    "vit_base_patch32_224.augreg_in1k": PaperModel(
        "ViT-B/32, ImageNet-1k only: the less-data comparison", LESS_DATA_COLOURS[30],
        less_data_of="vit_base_patch32_224.augreg_in21k"),
    "vit_base_patch16_224.augreg_in1k": PaperModel(
        "ViT-B/16, ImageNet-1k only: the less-data comparison", LESS_DATA_COLOURS[30],
        less_data_of="vit_base_patch16_224.augreg_in21k"),
    "vit_base_patch16_rpn_224.sw_in1k": PaperModel(
        "a GAP ViT-B/16 (no CLS token; residual post-norm), ImageNet-1k; the paper's GAP B/32 "
        "was JFT-trained", GAP_VIT_COLOUR),
    "resnetv2_50x1_bit.goog_in21k": PaperModel("BiT R50x1, ImageNet-21k (paper: JFT-300M)"),
    "resnetv2_152x2_bit.goog_in21k": PaperModel("BiT R152x2, ImageNet-21k (paper: JFT-300M)"),
    "resnet50.a1_in1k": PaperModel(
        "torchvision-style ResNet-50, ImageNet-1k (paper's R50: JFT, BiT changes)"),
    "mixer_b16_224.goog_in21k": PaperModel("Mixer-B/16, ImageNet-21k (paper: JFT-300M)"),
    "mixer_l16_224.goog_in21k": PaperModel("Mixer-L/16, ImageNet-21k (paper: JFT-300M)"),
}
