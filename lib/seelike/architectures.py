"""What the analyses know about a network class, declared once per class, never read off names.

Like timm's ``feature_info``, the facts an analysis needs about a network are declared
with its class: its family (what kind of network it is), where its residual blocks are,
which layers inside a block belong to the layer-by-layer comparisons, which stage each
block belongs to, and the colour that draws it. :func:`architecture_of` looks a network up
by its class (and the classes it derives from); a class nobody declared raises with the
fix, :func:`declare`, rather than being guessed from module names.

Declared here: timm's ``VisionTransformer``, ``MlpMixer``, ``ResNet`` and ``ResNetV2`` and
seelike's CIFAR ResNet (:mod:`seelike.akamaster`). Classes are named, not imported, so
declaring one costs no import of its library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

__all__ = ["FAMILIES", "Architecture", "architecture_of", "declare", "declared", "generation",
           "network_of"]

#: The families the analyses tell apart: transformers over tokens, MLP-Mixers, ResNets and
#: other convolutional networks (``"cnn"``; ConvNeXt, say).
FAMILIES = ("vit", "mixer", "resnet", "cnn")


@dataclass(frozen=True)
class Architecture:
    """What the analyses need to know about one network class.

    ``blocks`` matches (in full) the module names of the residual blocks, relative to the
    network, in forward order; its first group, if it has one, is the block's stage.
    ``inner`` maps a block's class name to the layers inside such a block that a
    layer-by-layer comparison includes besides the block output, relative to the block
    (layers that the block's output already is, like an activation after the addition, are
    left out). ``colour`` draws the family's models unless a model declares its own.
    """

    family: str
    blocks: str
    inner: Mapping[str, tuple[str, ...]]
    colour: str

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, not {self.family!r}")
        try:
            re.compile(self.blocks)
        except re.error as err:
            raise ValueError(f"blocks must be a regular expression of block names, not "
                             f"{self.blocks!r} ({err})") from None
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.colour):
            raise ValueError(f"colour must be a hex colour like '#1f77b4', not {self.colour!r}")

    @property
    def staged(self) -> bool:
        """Whether block names carry a stage (the first group of :attr:`blocks`)."""
        return re.compile(self.blocks).groups > 0


_VIT_INNER = ("norm1", "attn", "norm2", "mlp.act")
_DECLARED: dict[str, Architecture] = {
    "timm.models.vision_transformer.VisionTransformer": Architecture(
        "vit", r"blocks\.\d+",
        {"Block": _VIT_INNER, "ResPostBlock": _VIT_INNER, "NoSkipBlock": _VIT_INNER},
        "#1f77b4"),
    "timm.models.mlp_mixer.MlpMixer": Architecture(
        "mixer", r"blocks\.\d+",
        {"MixerBlock": ("norm1", "mlp_tokens", "norm2", "mlp_channels.act")}, "#2ca02c"),
    # timm's last activation of a unit (act2 of a basic unit, act3 of a bottleneck) acts after
    # the addition: it is the unit output itself, so it is not an inner layer.
    "timm.models.resnet.ResNet": Architecture(
        "resnet", r"layer(\d+)\.\d+",
        {"BasicBlock": ("act1",), "Bottleneck": ("act1", "act2")}, "#d62728"),
    # BiT's pre-activation units: their norms are the inner activations.
    "timm.models.resnetv2.ResNetV2": Architecture(
        "resnet", r"stages\.(\d+)\.blocks\.\d+", {"PreActBottleneck": ("norm2", "norm3")},
        "#d62728"),
    # Its ReLUs are functional: bn1 is the one inner layer a hook can see.
    "seelike.akamaster.CifarResNet": Architecture(
        "resnet", r"layer(\d+)\.\d+", {"BasicBlock": ("bn1",)}, "#d62728"),
}


_GENERATION = [0]


def generation() -> int:
    """How many declarations have been made: part of the key of anything cached from them."""
    return _GENERATION[0]


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def declare(network_class: type | str, architecture: Architecture) -> None:
    """Declare what the analyses need to know about ``network_class`` (a class, or its
    qualified name ``"package.module.Class"``); a later declaration replaces an earlier one."""
    if not isinstance(architecture, Architecture):
        raise TypeError(f"architecture must be a seelike.architectures.Architecture, got "
                        f"{type(architecture).__name__}")
    if isinstance(network_class, type):
        network_class = _qualified(network_class)
    if not isinstance(network_class, str) or "." not in network_class:
        raise TypeError(f"network_class must be a class or its qualified name "
                        f"('package.module.Class'), got {network_class!r}")
    _DECLARED[network_class] = architecture
    _GENERATION[0] += 1


def declared() -> dict[str, Architecture]:
    """Every declared network class (qualified name) and its architecture."""
    return dict(_DECLARED)


def network_of(model: nn.Module) -> nn.Module:
    """The network inside a wrapper with a ``net`` attribute (the one analyses name layers
    under), or ``model`` itself."""
    net = getattr(model, "net", None)
    return net if isinstance(net, nn.Module) else model


def architecture_of(model: nn.Module) -> Architecture:
    """The declared :class:`Architecture` of ``model``'s network, by its class or a base class.

    Raises ``TypeError`` for something that is not a torch module and ``LookupError``, naming
    :func:`declare`, for a network class nobody declared.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    net = network_of(model)
    for cls in type(net).__mro__:
        found = _DECLARED.get(_qualified(cls))
        if found is not None:
            return found
    raise LookupError(
        f"no architecture is declared for {_qualified(type(net))}: the analyses do not guess "
        f"a network's blocks from its module names. Declare it once with seelike.architectures"
        f".declare({type(net).__name__}, Architecture(family=..., blocks=<regex of block "
        f"names>, inner={{<block class>: (<inner layers>,)}}, colour='#rrggbb'))")
