"""Which of a preset's models play which part in the book.

The preset names its ViT, GAP ViT, ResNet and Mixer; the rest of the cast is read from
what the models declare (a zoo spec's data fraction, removed skip connection and training
seed; a paper model's ``less_data_of``): the less-data twins, the skip-removed ViTs, the
other training seeds and each chapter's set of models. :mod:`seelike.book.plan` builds the
chapters' requests from these lists, and a claim's declaration names them by role.
"""

from __future__ import annotations

from seelike import zoo
from seelike.book.presets import Preset, zoo_models

__all__ = ["ROLES", "data_label", "data_share", "less_data", "middle_no_skip", "no_skip",
           "other_seeds", "probe_models", "receptive_field_models", "resnets", "role_models",
           "seed_models", "seed_pairs", "spatial_models"]


def resnets(p: Preset) -> list[str]:
    """Chapter 4's CNNs: the preset's ResNet, then a second, independently trained one.

    On CIFAR the external ResNet-56 (much deeper); on the paper preset its extra models.
    """
    return [p.resnet, *(["resnet56_akamaster"] if p.dataset == "cifar10" else p.extra_models)]


def data_share(name: str) -> float | None:
    """The share of its training data a zoo model saw, as its spec declares; None for a
    paper model (timm's less-data twins name their dataset in their note, not a share)."""
    return zoo.spec_of(name).data_fraction if name in zoo.ZOO else None


def data_label(name: str) -> str:
    """``name`` with the share of the data it saw, where the model declares one."""
    share = data_share(name)
    return name if share is None else f"{name} ({share * 100:.0f} % of the data)"


def less_data(p: Preset) -> list[str]:
    """ViTs like ``p.vit`` trained on less data, most data first (Figs 4, 12, 13).

    As the models declare it: zoo specs with a smaller ``data_fraction`` (``<vit>_data30``
    and ``_data10``); paper models whose ``less_data_of`` is the preset's ViT (its
    ImageNet-1k-only twin: the paper's JFT-300M versus ImageNet comparison).
    """
    if p.vit in zoo.PAPER_MODELS:
        return [n for n, m in zoo.PAPER_MODELS.items() if m.less_data_of == p.vit]
    names = [n for n in zoo_models(p) if _variant_of(p.vit, n, data_fraction=True)]
    return sorted(names, key=lambda n: -zoo.spec_of(n).data_fraction)


def _variant_of(base: str, name: str, *, data_fraction: bool = False,
                noskip: bool = False) -> bool:
    """Whether zoo model ``name`` is ``base``'s architecture, recipe and seed trained on a
    fraction of the data (``data_fraction``) or with one block's skips removed (``noskip``),
    as their specs declare it."""
    spec, of = zoo.spec_of(name), zoo.spec_of(base)
    if (spec.arch, spec.recipe, spec.seed) != (of.arch, of.recipe, of.seed) or name == base:
        return False
    if data_fraction:
        return spec.data_fraction < of.data_fraction and spec.noskip_block is None
    return noskip and spec.noskip_block is not None and spec.data_fraction == of.data_fraction


def no_skip(p: Preset) -> list[str]:
    """The ViTs retrained without one skip connection (Fig 8; the zoo only)."""
    if p.vit in zoo.PAPER_MODELS:
        return []
    return [n for n in zoo_models(p) if _variant_of(p.vit, n, noskip=True)]


def middle_no_skip(p: Preset) -> list[str]:
    """The retrained ViT without a middle block's skips (Fig 8's accuracy, "middle blocks"):
    the one with other training seeds, else the middle of :func:`no_skip`."""
    names = no_skip(p)
    seeded = [n for n in names if other_seeds(n)]
    return seeded[:1] or names[len(names) // 2:][:1]


#: The roles a claim's declaration names (``Declaration.roles``) and the preset's models in
#: each: where every model of a claim's roles has other training seeds, the claim shows
#: their values.
ROLES = ("vit", "vit_gap", "resnet", "mixer", "less_data", "noskip", "resnet_alt")


def role_models(p: Preset, role: str) -> list[str]:
    """The model(s) of ``p`` that play ``role`` (:data:`ROLES`)."""
    if role in ("vit", "vit_gap", "resnet", "mixer"):
        return [getattr(p, role)]
    if role == "less_data":
        return less_data(p)[-1:]
    if role == "noskip":
        return middle_no_skip(p)
    if role == "resnet_alt":
        return resnets(p)[1:2]
    raise ValueError(f"unknown role {role!r}; roles are {ROLES}")


def other_seeds(name: str) -> list[str]:
    """The zoo's other training seeds of ``name`` (``name@seed1``, ...); none for paper models."""
    return [] if name in zoo.PAPER_MODELS else zoo.seed_variants(name)[1:]


def seed_pairs(p: Preset) -> list[tuple[str, str]]:
    """(ViT, ResNet) of each other training seed, paired by seed: Chapter 4's seed range."""
    return list(zip(other_seeds(p.vit), other_seeds(p.resnet), strict=False))


def receptive_field_models(p: Preset) -> list[str]:
    """The models whose ERFs Chapter 5 maps: the ViT, the ResNet, then their other seeds."""
    return [p.vit, p.resnet, *(name for pair in seed_pairs(p) for name in pair)]


def spatial_models(p: Preset) -> list[str]:
    """Chapter 7's models: the CLS ViT, the GAP ViT and the ResNet (Figs 9-11)."""
    return [p.vit, p.vit_gap, p.resnet]


def seed_models(p: Preset) -> list[str]:
    """The other training seeds of Chapter 7's models (CLS ViT, GAP ViT, ResNet): their
    seed 1s, then their seed 2s, so that seed k of the three lie together."""
    per = [other_seeds(name) for name in spatial_models(p)]
    return [names[k] for k in range(min(map(len, per), default=0)) for names in per]


def probe_models(p: Preset, *, full: bool = False) -> list[str]:
    """The models with linear probes: Chapter 7's, Chapter 8's less-data ViTs (Fig 13) and,
    for the claims' few-shot probes (``full`` False), the other training seeds of Chapter
    7's models, whose seed values the claims show. The full probe set, which no claim
    reads, probes the seed-0 models only."""
    seeds = [] if full else seed_models(p)
    return list(dict.fromkeys([*spatial_models(p), *less_data(p), *seeds]))
