"""Which layers each analysis looks at, by architecture (one place, every chapter).

Serves Chapter 1 (the layer tables) and the CKA figures (paper Figs 1, 2, 8, B.1,
H.1). Names are those of :class:`seelike.models.ImageClassifier` (``net.…``), the
same for the ``cifar`` zoo and the ``paper`` preset's timm models.
"""

from __future__ import annotations

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
