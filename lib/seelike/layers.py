"""Which layers each analysis looks at, read from the network's declared architecture.

Names are module names under :class:`seelike.network.ImageClassifier` (``net.…``). What a
network's blocks and inner layers are is declared per network class in
:mod:`seelike.architectures`; nothing here guesses from names what kind of network it is.
"""

from __future__ import annotations

import functools
import re

from torch import nn

from seelike import architectures, catalogue
from seelike.architectures import architecture_of, declared, network_of
from seelike.tokens import token_layout

__all__ = ["attention_heads", "block_index", "block_layers", "family", "family_of",
           "has_class_token", "kinds_and_blocks", "layer_names", "paper_layers", "short_label",
           "stage_of", "stem_layers"]


def _check(model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a loaded torch.nn.Module, got {model!r}; for a model "
                        f"name use seelike.layers.layer_names(name)")


def _prefix(model: nn.Module) -> str:
    """``"net."`` for a wrapper whose network is ``model.net``, else nothing."""
    return "" if network_of(model) is model else "net."


def family(model: nn.Module) -> str:
    """The declared family of a loaded model's network (:data:`seelike.architectures.FAMILIES`)."""
    _check(model)
    return architecture_of(model).family


def block_layers(model: nn.Module) -> list[str]:
    """The output of every residual block (transformer/mixer block or ResNet unit), in order."""
    _check(model)
    pattern = re.compile(architecture_of(model).blocks)
    prefix = _prefix(model)
    return [prefix + name for name, _ in network_of(model).named_modules()
            if pattern.fullmatch(name)]


def stem_layers(model: nn.Module) -> list[str]:
    """The network's first convolution (its stem, or a patch embedding's projection), read off
    the module types; empty for a network without one."""
    _check(model)
    prefix = _prefix(model)
    return next(([prefix + name] for name, module in network_of(model).named_modules()
                 if isinstance(module, nn.Conv2d)), [])


def paper_layers(model: nn.Module) -> list[str]:
    """Block outputs plus the intermediate layers the paper's Fig 1 includes, in forward order.

    Per block, the inner layers its architecture declares for the block's class (for a ViT:
    the first norm, the attention output, the second norm, the MLP hidden activation), in the
    order the block defines them, then the block output. A block whose class the
    architecture does not list raises, naming the declaration to extend.
    """
    _check(model)
    architecture = architecture_of(model)
    net, prefix = network_of(model), _prefix(model)
    pattern = re.compile(architecture.blocks)
    chosen: list[str] = []
    for name, block in net.named_modules():
        if not pattern.fullmatch(name):
            continue
        kind = type(block).__name__
        if kind not in architecture.inner:
            raise LookupError(f"block {name!r} of {type(net).__name__} is a {kind}, which its "
                              f"declared architecture does not list (it knows "
                              f"{sorted(architecture.inner)}): add {kind!r} to its inner "
                              f"layers with seelike.architectures.declare")
        wanted = architecture.inner[kind]
        inner = [n for n, _ in block.named_modules() if n in wanted]
        missing = sorted(set(wanted) - set(inner))
        if missing:
            raise LookupError(f"block {name!r} ({kind}) has no {missing}: its declared inner "
                              f"layers do not match the network")
        chosen += [f"{prefix}{name}.{n}" for n in inner] + [prefix + name]
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
    """The stage of a layer of a staged network: ``net.layer2.1.bn1`` -> 2,
    ``net.stages.0.blocks.3`` -> 0.

    Read with the block patterns that staged architectures declare
    (:attr:`seelike.architectures.Architecture.blocks`, whose first group is the stage);
    a layer no staged architecture's blocks contain raises.
    """
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (a str), got {layer!r}")
    patterns = {a.blocks for a in declared().values() if a.staged}
    for pattern in sorted(patterns):
        match = re.match(rf"(?:net\.)?(?:{pattern})(?:\.|$)", layer)
        if match is not None:
            return int(match.group(1))
    raise ValueError(f"{layer!r} lies in no block of a staged architecture (declared block "
                     f"patterns with a stage: {sorted(patterns)})")


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
    match = re.match(r"(?:net\.)?blocks\.(\d+)(?:\.|$)", layer)
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=64)
def _meta(model_name: str, _generations: tuple[int, int]) -> nn.Module:
    """The model's architecture on the meta device, built once per name and generation."""
    return catalogue.meta_build(model_name)


@functools.lru_cache(maxsize=64)
def _layer_names(model_name: str, which: str, generations: tuple[int, int]
                 ) -> tuple[str, ...]:
    select = {"paper": paper_layers, "blocks": block_layers, "stem": stem_layers}
    return tuple(select[which](_meta(model_name, generations)))


def layer_names(model_name: str, which: str = "paper") -> list[str]:
    """The layers of the model called ``model_name``, without loading its weights.

    ``which="paper"``: :func:`paper_layers` (block outputs and the inner layers of the
    comparisons); ``"blocks"``: :func:`block_layers`; ``"stem"``: :func:`stem_layers`. The
    architecture is built once per process on the meta device, by the catalogue that holds
    the name (:func:`seelike.catalogue.meta_build`: names only, no weights).
    """
    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a model's name (a str), got {model_name!r}")
    if which not in ("paper", "blocks", "stem"):
        raise ValueError(f"which must be one of ('paper', 'blocks', 'stem'), not {which!r}")
    return list(_layer_names(model_name, which, _generations()))


def _meta_of(model_name: str) -> nn.Module:
    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a model's name (a str), got {model_name!r}")
    return _meta(model_name, _generations())


def family_of(model_name: str) -> str:
    """The declared family of the model called ``model_name`` (:func:`family`), without
    loading its weights."""
    return family(_meta_of(model_name))


def has_class_token(model_name: str) -> bool:
    """Whether the model called ``model_name`` has a class token
    (:func:`seelike.tokens.token_layout`), without loading its weights."""
    return token_layout(_meta_of(model_name))[2]


def attention_heads(model_name: str) -> int:
    """How many attention heads the blocks of the model called ``model_name`` hold in all
    (0 for a network whose blocks have none), without loading its weights."""
    net = _meta_of(model_name)
    blocks = [net.get_submodule(name) for name in block_layers(net)]
    return sum(int(getattr(getattr(b, "attn", None), "num_heads", 0)) for b in blocks)


def _generations() -> tuple[int, int]:
    """A new declaration or catalogue may change what a name's network is: part of the key."""
    return architectures.generation(), catalogue.generation()
