"""Which layers each analysis looks at, by architecture (one place, every chapter).

Serves Chapter 1 (the layer tables) and the CKA figures (paper Figs 1, 2, 8, B.1,
H.1). Names are those of :class:`seelike.models.ImageClassifier` (``net.…``), the
same for the ``cifar`` zoo and the ``paper`` preset's timm models.
"""

from __future__ import annotations

import functools
import re

from torch import nn


def _names(model: nn.Module) -> list[str]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a loaded torch.nn.Module, got {model!r}; for a model "
                        f"name use seelike.compare.layer_names(name)")
    return [name for name, _ in model.named_modules()]


def family(model: nn.Module) -> str:
    """"vit", "mixer", "resnet" (timm ResNet/ResNetV2 or the CIFAR ResNet) of a loaded model."""
    names = set(_names(model))
    if "net.blocks.0.attn" in names:
        return "vit"
    if "net.blocks.0.mlp_tokens" in names:
        return "mixer"
    if any(re.fullmatch(r"net\.(layer1\.0|stages\.0\.blocks\.0)", n) for n in names):
        return "resnet"
    raise ValueError(f"cannot tell the architecture of {type(model).__name__}: expected a "
                     f"timm ViT, Mixer or ResNet wrapped in seelike.models.ImageClassifier")


def block_layers(model: nn.Module) -> list[str]:
    """The output of every residual block (transformer/mixer block or ResNet unit), in order."""
    pattern = {
        "vit": r"net\.blocks\.\d+",
        "mixer": r"net\.blocks\.\d+",
        "resnet": r"net\.(layer\d+\.\d+|stages\.\d+\.blocks\.\d+)",
    }[family(model)]
    return [n for n in _names(model) if re.fullmatch(pattern, n)]


def paper_layers(model: nn.Module) -> list[str]:
    """Block outputs plus the intermediate layers the paper's Fig 1 includes, in forward order.

    ViT/Mixer: per block the first norm, the attention (token-mixing) output, the
    second norm, the MLP hidden activation, then the block output (the residual
    stream after both branches). ResNet: per unit its inner activations (``act1``, and
    ``act2`` of a bottleneck, in timm's ResNet; ``norm2``/``norm3`` of BiT's pre-activation units;
    ``bn1`` of the CIFAR ResNet, whose ReLUs are functional), then the unit output.
    """
    inner = {
        "vit": r"(norm1|attn|norm2|mlp\.act)",
        "mixer": r"(norm1|mlp_tokens|norm2|mlp_channels\.act)",
        "resnet": r"(act1|act2|norm2|norm3|bn1)",
    }[family(model)]
    names = _names(model)
    present = set(names)
    chosen: list[str] = []
    for block in block_layers(model):
        parts = [n for n in names if re.fullmatch(rf"{re.escape(block)}\.{inner}", n)]
        if f"{block}.act1" in present:
            # timm's last activation (act2 of a basic unit, act3 of a bottleneck) acts after
            # the addition: it is the unit output itself, and bn1 is act1 before its ReLU.
            last = "act3" if f"{block}.act3" in present else "act2"
            parts = [n for n in parts if not n.endswith((f".{last}", ".bn1"))]
        chosen += [*parts, block]
    return chosen


def short_label(name: str) -> str:
    """``net.blocks.3.attn`` -> ``b3.attn``; ``net.layer2.1`` -> ``s2.1``: axis tick labels."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a layer name (a str), got {name!r}")
    name = name.removeprefix("net.")
    name = re.sub(r"^blocks\.(\d+)", r"b\1", name)
    name = re.sub(r"^layer(\d+)\.(\d+)", r"s\1.\2", name)
    return re.sub(r"^stages\.(\d+)\.blocks\.(\d+)", r"s\1.\2", name)


def stage_of(layer: str) -> int:
    """The ResNet stage of a layer: ``net.layer2.1.bn1`` -> 2, ``net.stages.0.blocks.3`` -> 0."""
    match = re.search(r"(?:^|\.)(?:layer(\d+)|stages\.(\d+))(?:\.|$)", layer)
    if match is None:
        raise ValueError(f"{layer!r} names no ResNet stage (layerK or stages.K)")
    return int(match.group(1) or match.group(2))


def kinds_and_blocks(names: list[str], blocks: list[str]) -> tuple[list[str], list[int]]:
    """Each layer's kind within its block (``norm1``, ``attn``, ``act1``; ``output`` for the
    block itself) and the index of that block among ``blocks``: the grid of Fig 1."""
    kinds, groups = [], []
    for name in names:
        owner = [i for i, b in enumerate(blocks) if name == b or name.startswith(b + ".")]
        if not owner:
            raise ValueError(f"layer {name!r} lies in none of the {len(blocks)} blocks given")
        i = owner[-1]
        kinds.append("output" if name == blocks[i] else name[len(blocks[i]) + 1:])
        groups.append(i)
    return kinds, groups


def block_index(layer: str) -> int | None:
    """The ViT/Mixer block of a layer: ``net.blocks.3.attn`` -> 3; None outside the blocks."""
    match = re.search(r"blocks\.(\d+)", layer)
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=64)
def _layer_names(model_name: str, which: str) -> tuple[str, ...]:
    from seelike import models

    select = {"paper": paper_layers, "blocks": block_layers}
    return tuple(select[which](models.meta_build(model_name)))


def layer_names(model_name: str, which: str = "paper") -> list[str]:
    """The layers of zoo or paper model ``model_name``, without loading its weights.

    ``which="paper"``: :func:`paper_layers` (block outputs and the intermediate layers of
    Fig 1); ``"blocks"``: :func:`block_layers`. The architecture is built once per process on
    the meta device (:func:`seelike.models.meta_build`: names only, no weights).
    """
    from seelike import models

    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a zoo or paper model name (a str), got "
                        f"{model_name!r}")
    if model_name not in models.PAPER_MODELS:
        models.spec_of(model_name)  # a KeyError listing the zoo, before anything is built
    if which not in ("paper", "blocks"):
        raise ValueError(f"which must be one of ('paper', 'blocks'), not {which!r}")
    return list(_layer_names(model_name, which))
