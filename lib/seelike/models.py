"""The model zoo: architectures of every preset, and loading with verified weights.

Serves Chapter 3 (the models) and every experiment chapter. The ``cifar`` zoo is
built from timm classes so that layer names (``net.blocks.3.attn``,
``net.layer2.1``) match the ``paper`` preset's timm models; every loaded model
is an :class:`ImageClassifier` that takes RGB images in [0, 1] and normalises
them itself, so hooks, gradients and users all see the image a person sees.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seelike.config import repo_root

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
    """``net(normalize(x))`` for x in [0, 1]; ``net`` is the timm (or seelike) network."""

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before the spatial ones (CLS); 0 for CNNs and Mixers."""
        return int(getattr(self.net, "num_prefix_tokens", 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


class NoSkipBlock(nn.Module):
    """A timm ViT ``Block`` run without its two skip connections (paper Fig 8).

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


# The main CIFAR ViT: 12 blocks like ViT-B, 64 patch tokens (8 x 8 grid of 4-px patches).
VIT_CIFAR = dict(img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3, mlp_ratio=2.0,
                 num_classes=10)
VIT_CIFAR_GAP = dict(VIT_CIFAR, class_token=False, global_pool="avg")
# ResNet-18 layout at half width: four stages like BiT's R50, small enough to ship.
RESNET_CIFAR = dict(layers=(2, 2, 2, 2), channels=(32, 64, 128, 256), num_classes=10)
MIXER_CIFAR = dict(img_size=32, patch_size=4, num_blocks=12, embed_dim=128,
                   mlp_ratio=(1.0, 4.0), num_classes=10)
NOSKIP_BLOCKS = (1, 7, 10)  # the paper's Fig 8 blocks, read as 0-based block indices

ZOO: dict[str, ModelSpec] = {}


def _register(spec: ModelSpec) -> None:
    ZOO[spec.name] = spec


_register(ModelSpec("vit_cifar", "vit", VIT_CIFAR, "ViT, patch 4, 12 blocks, CLS token",
                    recipe="vit"))
_register(ModelSpec("vit_cifar_gap", "vit", VIT_CIFAR_GAP,
                    "the same ViT with global average pooling, no CLS token", recipe="vit"))
_register(ModelSpec("resnet_cifar", "resnet", RESNET_CIFAR,
                    "ResNet-18 layout at half width, CIFAR stem (3x3 stride 1, no max-pool)",
                    recipe="resnet"))
for _k in NOSKIP_BLOCKS:
    _register(ModelSpec(f"vit_cifar_noskip{_k}", "vit", VIT_CIFAR,
                        f"vit_cifar with both skip connections of block {_k} removed",
                        recipe="vit", noskip_block=_k))
for _pct in (10, 30):
    _register(ModelSpec(f"vit_cifar_data{_pct}", "vit", VIT_CIFAR,
                        f"vit_cifar trained on a class-balanced {_pct} % of the training set",
                        recipe="vit", data_fraction=_pct / 100))
_register(ModelSpec("mixer_cifar", "mixer", MIXER_CIFAR, "MLP-Mixer, patch 4, 12 blocks",
                    recipe="mixer"))
_register(ModelSpec("resnet56_akamaster", "akamaster", dict(depth=56),
                    "external: pretrained CIFAR ResNet-56 of akamaster/pytorch_resnet_cifar10",
                    mean=IMAGENET_MEAN, std=IMAGENET_STD))


def build_net(spec: ModelSpec) -> nn.Module:
    """The bare network of ``spec`` with random weights (no normalisation)."""
    builders: dict[str, Callable[[dict[str, Any]], nn.Module]] = {
        "vit": _build_vit, "resnet": _build_resnet, "mixer": _build_mixer,
    }
    if spec.family == "akamaster":
        from seelike.akamaster import cifar_resnet

        return cifar_resnet(spec.arch["depth"])
    net = builders[spec.family](spec.arch)
    if spec.noskip_block is not None:
        k = spec.noskip_block
        net.blocks[k] = NoSkipBlock(net.blocks[k])
    return net


def _build_vit(arch: dict[str, Any]) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(**arch)


def _build_resnet(arch: dict[str, Any]) -> nn.Module:
    from timm.models.resnet import BasicBlock, ResNet

    net = ResNet(block=BasicBlock, **arch)
    # CIFAR stem: 32-px inputs cannot afford the 7x7 stride-2 conv and max-pool. timm keeps
    # its 64-channel stem whatever the stage widths.
    net.conv1 = nn.Conv2d(3, net.conv1.out_channels, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net


def _build_mixer(arch: dict[str, Any]) -> nn.Module:
    from timm.models.mlp_mixer import MlpMixer

    return MlpMixer(**arch)


def build(name: str) -> ImageClassifier:
    """Model ``name`` with random weights, in eval mode (tests, training)."""
    spec = spec_of(name)
    return ImageClassifier(build_net(spec), spec.mean, spec.std).eval()


def spec_of(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``; a clear error listing the zoo otherwise."""
    try:
        return ZOO[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; the zoo has: {', '.join(ZOO)}") from None


# ---- shipped weights -------------------------------------------------------------------------


def weights_dir() -> Path:
    """``data/weights`` of the checkout: the trained ``cifar`` zoo, one file pair per model."""
    return repo_root() / "data" / "weights"


def manifest_path(name: str, directory: Path | None = None) -> Path:
    return (directory or weights_dir()) / f"{name}.json"


def weights_path(name: str, directory: Path | None = None) -> Path:
    return (directory or weights_dir()) / f"{name}.safetensors"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The manifest entry of a trained zoo model (hash, recipe, accuracy, device, time)."""
    path = manifest_path(name, directory)
    if not path.exists():
        raise FileNotFoundError(
            f"no trained weights for {name!r}: {path} is missing. Train them with "
            f"`python -m seelike.train {name}` (a GPU takes minutes; see chapter 3).")
    return json.loads(path.read_text())


def spec_dict(spec: ModelSpec) -> dict[str, Any]:
    """A JSON-able record of the spec, for manifests."""
    return json.loads(json.dumps(asdict(spec)))
