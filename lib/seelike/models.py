"""The zoo's networks: every model of :mod:`seelike.zoo` built, and loaded with verified
weights.

The ``cifar`` zoo is built from timm classes so that layer names (``net.blocks.3.attn``,
``net.layer2.1``) match the ``paper`` preset's timm models; every loaded model is a
:class:`seelike.network.ImageClassifier` (images in [0, 1], normalised inside). Importing
this module registers the zoo and the paper models with :mod:`seelike.catalogue`, where the
engine finds models by name.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from seelike import catalogue, weights
from seelike.architectures import architecture_of, generation
from seelike.cache import code_fingerprint, state_fingerprint
from seelike.network import ImageClassifier, NoSkipBlock
from seelike.zoo import PAPER_MODELS, ModelSpec, spec_dict, spec_of, split_seed

__all__ = ["build", "build_net", "build_paper", "colour_of", "fingerprint", "load",
           "meta_build"]


def build_net(spec: ModelSpec, *, initialise: bool = True) -> nn.Module:
    """The bare network of ``spec`` with random weights (no normalisation).

    ``initialise=False`` skips the weight initialisation where the class offers that (timm's
    ``VisionTransformer(weight_init="skip")``): only on the meta device, whose tensors hold
    no values to initialise (elsewhere it would leave memory as it found it).
    """
    if not initialise and torch.get_default_device().type != "meta":
        raise ValueError("initialise=False is for module trees on the meta device; build "
                         "under `with torch.device('meta'):` (seelike.models.meta_build)")
    builders: dict[str, Callable[[dict[str, Any]], nn.Module]] = {
        "vit": _build_vit, "resnet": _build_resnet, "mixer": _build_mixer,
    }
    if spec.family == "akamaster":
        from seelike.akamaster import cifar_resnet

        return cifar_resnet(spec.arch["depth"])
    arch = spec.arch if initialise or spec.family != "vit" else {**spec.arch,
                                                                   "weight_init": "skip"}
    net = builders[spec.family](arch)
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
    return _classifier(spec_of(name))


def _classifier(spec: ModelSpec, *, initialise: bool = True) -> ImageClassifier:
    return ImageClassifier(build_net(spec, initialise=initialise), spec.mean, spec.std).eval()


def meta_build(name: str) -> ImageClassifier:
    """Zoo or paper model ``name`` on the meta device: its module tree, no weights allocated.

    What layer names (:func:`seelike.layers.layer_names`), token layouts and probe kinds are
    read from without loading or initialising anything.
    """
    if name in PAPER_MODELS:
        with torch.device("meta"):
            return build_paper(name)
    spec = spec_of(name)
    # Initialising meta tensors runs every initialiser's meta kernel for nothing (a ViT's
    # took five sixths of its build).
    with torch.device("meta"):
        return _classifier(spec, initialise=False)


# ---- loading with verified weights ---------------------------------------------------------


def load(name: str, *, directory: str | os.PathLike[str] | None = None) -> ImageClassifier:
    """Model ``name`` with its trained weights, verified by sha256, in eval mode.

    ``cifar`` zoo models read ``data/weights/<name>.safetensors`` (or ``directory``, a str or
    Path);
    ``resnet56_akamaster`` is fetched into the data folder (``SEELIKE_DATA``);
    ``paper`` models come from timm's hub.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {name!r}")
    if name in PAPER_MODELS:
        return _load_paper(name)
    spec = spec_of(name)
    if spec.family == "akamaster":
        state = weights.akamaster_state(spec.arch["depth"])
    else:
        state = weights.shipped_state(name, directory)
    # Every weight comes from the file: built on the meta device, the tree skips the random
    # initialisation that the file's tensors would replace (half of a small model's load).
    with torch.device("meta"):
        net = build_net(spec, initialise=False)
    # shipped_state casts every tensor to float32, and assigning would keep that: each is cast
    # to the module's dtype, as copying in does (a BatchNorm's step count stays int64).
    dtypes = {k: t.dtype for k, t in net.state_dict().items()}
    net.load_state_dict({k: v.to(dtypes.get(k, v.dtype)) for k, v in state.items()},
                        assign=True)
    empty = [n for n, t in (*net.named_parameters(), *net.named_buffers()) if t.is_meta]
    if empty:
        raise RuntimeError(f"{name}: {empty[:3]} hold no values after loading its weights; a "
                           "tensor outside the state dict needs building off the meta device")
    return ImageClassifier(net, spec.mean, spec.std).eval()


def _load_paper(name: str) -> ImageClassifier:
    import timm

    try:
        net = timm.create_model(name, pretrained=True)
    except Exception as err:
        raise RuntimeError(f"could not fetch {name!r} from timm's hub ({err}); the paper "
                           f"preset needs internet once (then the hub cache).") from err
    cfg = net.pretrained_cfg
    return ImageClassifier(net, tuple(cfg["mean"]), tuple(cfg["std"])).eval()


def build_paper(name: str) -> ImageClassifier:
    """A ``paper`` model with random weights (offline tests of architecture and layers)."""
    import timm

    net = timm.create_model(name, pretrained=False)
    cfg = net.pretrained_cfg
    return ImageClassifier(net, tuple(cfg["mean"]), tuple(cfg["std"])).eval()


# ---- what the engine asks of a model by name ---------------------------------------------


def fingerprint(name: str, directory: str | os.PathLike[str] | None = None) -> str:
    """What identifies zoo or paper model ``name`` as analyses see it, as a hex digest.

    The weights: for ``cifar`` zoo models the manifest's weight sha256 together with the
    model's spec (``directory`` as in :func:`load`), so no weights are read; for
    ``resnet56_akamaster`` the published sha256 that loading verifies; for ``paper`` models
    (timm's hub) a hash of the loaded state dict, computed once per process. And the code
    that builds the model (this module and what it imports, :func:`seelike.cache.code_fingerprint`):
    the engine never imports the zoo, so without it a changed builder would be served
    results of the old one.
    """
    code = code_fingerprint(__name__)
    if name in PAPER_MODELS:
        text = json.dumps({"name": name, "state": _paper_fingerprint(name), "code": code})
        return hashlib.sha256(text.encode()).hexdigest()
    spec = spec_of(name)
    record: dict[str, Any] = {"name": name, "spec": spec_dict(spec), "code": code}
    if spec.family == "akamaster":
        record["weights"] = weights.AKAMASTER_FILES[spec.arch["depth"]][1]
    else:
        record["weights"] = weights.read_manifest(name, directory)["sha256"]
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


@functools.cache
def _paper_fingerprint(name: str) -> str:
    return state_fingerprint(load(name))


def colour_of(name: str) -> str:
    """The colour that draws zoo or paper model ``name``: its own if it declares one, else
    its family's (:class:`seelike.architectures.Architecture`)."""
    base, _ = split_seed(name)
    own = PAPER_MODELS[base].colour if base in PAPER_MODELS else spec_of(base).colour
    return own or _family_colour(base, generation())


@functools.lru_cache(maxsize=64)
def _family_colour(name: str, _generation: int) -> str:
    return architecture_of(meta_build(name)).colour


class _Zoo:
    """The zoo and the paper models as a :class:`seelike.catalogue.Catalogue`."""

    def meta_build(self, name: str) -> nn.Module:
        return meta_build(name)

    def fingerprint(self, name: str) -> str:
        return fingerprint(name)


catalogue.register(_Zoo())
