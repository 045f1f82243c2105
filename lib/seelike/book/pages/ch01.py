"""Chapter 1's page: the layers a ViT and a ResNet are made of, the shape of each block's
output, and each model's size, read off the models with hooks on one image."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from seelike import hooks, layers

__all__ = ["block_shapes", "counts", "shape_table"]

#: The modules around the blocks that the shape table shows too (stem, norm, head).
_AROUND = r"net\.(patch_embed|conv1|stem|norm|head|fc|global_pool|pre_logits)"


def shape_table(model: nn.Module, name: str, x: torch.Tensor) -> pd.DataFrame:
    """Each block's and each stem, norm or head module's type and output shape on ``x``."""
    table = hooks.list_layers(model, x)
    blocks = set(layers.block_layers(model))
    keep = table[table["name"].isin(blocks) | table["name"].str.fullmatch(_AROUND)]
    return keep.assign(model=name)[["model", "name", "type", "output_shape"]]


def block_shapes(model: nn.Module, x: torch.Tensor) -> tuple[list[int], list[int]]:
    """Each block output's positions (tokens, or h·w of a feature map) and width (token
    width, or channels) on ``x``."""
    names = layers.block_layers(model)
    with hooks.capture(model, names) as cap:
        model(x)
        shapes = [tuple(cap.outputs[n].shape[1:]) for n in names]
    if len(shapes[0]) == 3:  # (channels, h, w) feature maps
        return [s[1] * s[2] for s in shapes], [s[0] for s in shapes]
    return [s[0] for s in shapes], [s[1] for s in shapes]  # (tokens, width)


def counts(named: Sequence[tuple[str, nn.Module]]) -> pd.DataFrame:
    """Each model's declared family, parameters and blocks."""
    return pd.DataFrame([dict(model=name, family=layers.family(model),
                              parameters=sum(p.numel() for p in model.parameters()),
                              blocks=len(layers.block_layers(model)))
                         for name, model in named])
