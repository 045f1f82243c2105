"""The network every analysis is handed: images in [0, 1] in, the wrapped network's output out.

:class:`ImageClassifier` normalises images itself, so hooks, gradients and users all see
the image a person sees; images on another scale are refused (:func:`check_images`), never
quietly misread. Also here: the block variant without skip connections
(:class:`NoSkipBlock`) and where models run (:func:`default_device`). Which network
classes the analyses understand is declared in :mod:`seelike.architectures`; which models
exist by name, in the zoo (:mod:`seelike.models`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["IMAGE_RANGE_SLACK", "ImageClassifier", "NoSkipBlock", "Normalize", "check_images",
           "default_device"]

# How far outside [0, 1] an image may stray: room for the overshoot of a bicubic resize of a
# [0, 1] image, far below what 0-255 images (up to 255) or normalised ones (down to about -2)
# reach.
IMAGE_RANGE_SLACK = 0.05


def check_images(x: object, argument: str = "x") -> None:
    """Raise unless ``x`` is a float image tensor with values in [0, 1] (give or take 0.05).

    What every :class:`ImageClassifier` takes. Integer images (uint8, as
    :func:`seelike.data.cifar10` returns them) and images already normalised would
    otherwise run without a word and give meaningless activations. Costs one ``aminmax``
    (and, on a GPU, one synchronisation) per batch. The range is not checked inside
    ``torch.compile`` or on the meta device (shapes only), where there are no values to read.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{argument} must be a torch.Tensor of images, got {type(x).__name__}")
    if not x.is_floating_point():
        fix = f"{argument}.float() / 255" if x.dtype == torch.uint8 else f"{argument}.float()"
        raise TypeError(f"{argument} has dtype {x.dtype}; images are float tensors in [0, 1] "
                        f"(scaled inside the model), e.g. {fix}")
    if x.numel() == 0 or x.is_meta or torch.compiler.is_compiling():
        return
    with torch.no_grad():
        low, high = (float(v) for v in torch.aminmax(x))
    if not (low >= -IMAGE_RANGE_SLACK and high <= 1 + IMAGE_RANGE_SLACK):
        fix = (f"{argument} / 255" if high > 2 else
               f"the images before normalisation, or {argument}.clamp(0, 1) if the excess is "
               f"resampling overshoot")
        raise ValueError(f"{argument} has values in [{low:.4g}, {high:.4g}], but images must be "
                         f"in [0, 1] (the model normalises them itself); pass {fix}")


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std``: the first module of every loaded model."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        # Non-persistent: the statistics belong to the spec, not to the weight file.
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ImageClassifier(nn.Module):
    """``net(normalize(x))`` for x in [0, 1]; ``net`` is the timm (or seelike) network.

    ``x`` is a float ``(b, 3, H, W)`` batch of RGB images in [0, 1]; anything else raises
    (see :func:`check_images`).
    """

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before the spatial ones (CLS); 0 for CNNs and Mixers."""
        return int(getattr(self.net, "num_prefix_tokens", 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x)
        return self.net(self.normalize(x))


class NoSkipBlock(nn.Module):
    """A timm ViT ``Block`` run without its two skip connections.

    Wraps the original block's submodules in place, so ``blocks.k.attn`` and
    ``blocks.k.mlp`` keep their names and the weight file has the same keys.
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        for name, child in block.named_children():
            self.add_module(name, child)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        x = self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        return self.drop_path2(self.ls2(self.mlp(self.norm2(x))))



def default_device() -> torch.device:
    """The GPU if there is one, else the CPU: where models run unless told otherwise."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
