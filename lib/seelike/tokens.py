"""Token layouts: whether a model's activations are token sequences, and which tokens to keep.

Read from timm's attributes (a patch embedding, ``num_prefix_tokens``,
``has_class_token``), never from module names; a CNN's feature maps pass through unchanged.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

TokenMode = Literal["all", "cls", "spatial", "mean"]
#: The token modes :func:`select_tokens` accepts.
TOKEN_MODES = ("all", "cls", "spatial", "mean")

__all__ = ["TOKEN_MODES", "TokenMode", "select_tokens", "token_layout"]


def token_layout(model: nn.Module) -> tuple[bool, int, bool]:
    """(has tokens, number of prefix tokens, has a class token) read from timm's attributes.

    A model has tokens iff it contains a timm patch embedding (ViT, hybrid ViT, MLP-Mixer), not
    merely a ``num_prefix_tokens`` attribute: seelike's ``ImageClassifier`` wrapper defines that
    for CNNs too (as 0). The first module that defines an attribute (the root first) wins.
    """
    # Imported here, not with the module: the pages that only read results never load timm
    # (and the torchvision it imports, seconds per kernel).
    from timm.layers import HybridEmbed, PatchEmbed

    modules = list(model.modules())
    has_tokens = any(isinstance(module, PatchEmbed | HybridEmbed) for module in modules)
    prefix = next((m.num_prefix_tokens for m in modules if hasattr(m, "num_prefix_tokens")), 0)
    has_class = next((m.has_class_token for m in modules if hasattr(m, "has_class_token")), False)
    return has_tokens, int(prefix), bool(has_class)


def select_tokens(tensor: torch.Tensor, tokens: TokenMode, *, has_tokens: bool, prefix: int,
                  has_class: bool = True, name: str = "layer") -> torch.Tensor:
    """(b, tokens, dim) ``tensor`` reduced to all, the CLS, the spatial or the mean token.

    Outputs that are not token sequences (a CNN's feature maps, ``has_tokens=False``, or any
    tensor that is not 3-D) are returned unchanged, so one token mode serves a ViT and a
    ResNet compared with each other (the paper's Fig 2 with ``tokens="spatial"``).
    """
    if tokens not in TOKEN_MODES:
        raise ValueError(f"tokens must be one of {TOKEN_MODES}, not {tokens!r}")
    if tokens == "all" or not has_tokens or tensor.ndim != 3:
        return tensor
    if tokens == "cls":
        if not has_class:
            raise ValueError(f"tokens='cls' for {name!r}, but the model has no class token; "
                             "use tokens='mean' or 'spatial'")
        return tensor[:, 0]
    spatial = tensor[:, prefix:]
    return spatial if tokens == "spatial" else spatial.mean(dim=1)
