"""Skip connections: how much of each residual block's output is its input.

Serves Chapter 6 — Skip connections: the norm ratio ‖zᵢ‖ / ‖f(zᵢ)‖ of paper Fig 7
(ViT heatmap over tokens × blocks and curves against a ResNet) and Fig E.1 (per-token
ratios of ViT-B/32), and the cosine similarity between the skip and the long branch of
Fig E.2. Here z is what the skip connection carries (the residual stream entering a
branch, or a ResNet unit's shortcut) and f(z) is what the branch adds to it.

It also holds the residual-block anatomy that Chapter 5's receptive fields need (paper
Figs 6, C.1–C.4: "after" and "before" the residual connection): :class:`Tap` names one
tensor inside a forward pass — a module's input or output — and :func:`run_taps` records
any set of them in one pass, stopping as soon as the last one is seen.

timm's pre-norm ViT ``Block`` computes::

    x = x + drop_path1(ls1(attn(norm1(x))))     # attention branch, skip input = block input
    x = x + drop_path2(ls2(mlp(norm2(x))))      # MLP branch, skip input = stream after attn

so the attention branch is the output of ``drop_path1`` (layer scale included), its skip
input is the block input, and the MLP branch's skip input is the *input* of ``norm2``.
``ResPostBlock`` (post-norm, ``vit_base_patch16_rpn_224``) applies the norm after the
branch, so there the MLP branch starts at ``mlp``. ResNet units (timm ``ResNet``, BiT's
``ResNetV2`` and the CIFAR ResNet-56) add the last op of the residual branch to the
shortcut (identity, a ``downsample`` projection or the parameter-free "option A" pad).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from timm.models.vision_transformer import ResPostBlock
from torch import nn

from seelike.hooks import eval_mode
from seelike.layers import block_layers, family
from seelike.models import NoSkipBlock

__all__ = [
    "BranchTaps",
    "Tap",
    "branch_taps",
    "cosine_similarity",
    "norm_ratios",
    "run_taps",
    "skip_statistics",
    "streamed_norm_ratios",
    "streamed_skip_statistics",
]

Where = Literal["input", "output"]


@dataclass(frozen=True)
class Tap:
    """One tensor of a forward pass: the first input or the output of module ``module``.

    ``transform`` is applied to the recorded tensor (the CIFAR ResNet-56's shortcut is a
    method, not a module, so its output is the unit input passed through that method).
    """

    module: str
    where: Where = "output"
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None


@dataclass(frozen=True)
class BranchTaps:
    """One residual addition ``post = skip + branch`` of a block, as three taps.

    ``skip`` is None where the model has no skip connection there (a ``NoSkipBlock``).
    """

    skip: Tap | None
    branch: Tap
    post: Tap


class _Stop(Exception):
    """Raised from a hook once every tap is recorded: the rest of the forward is wasted work."""


def run_taps(
    model: nn.Module, x: torch.Tensor, taps: Sequence[Tap], *, grad: bool = False,
    stop_early: bool = True,
) -> dict[Tap, torch.Tensor]:
    """Run ``model(x)`` in eval mode and return the tensor of every tap.

    With ``grad=True`` the tensors stay in the autograd graph (``x`` must require grad for
    d tap / d x); otherwise the pass runs under ``no_grad``. With ``stop_early`` the pass is
    abandoned once every tap is recorded, so taps in the first blocks cost only those blocks.
    Recorded tensors are clones: timm ResNets add the shortcut in place (``x += shortcut``)
    into the very tensor the branch's last module returned.
    """
    taps = list(dict.fromkeys(taps))
    if not taps:
        raise ValueError("no taps given")
    found: dict[Tap, torch.Tensor] = {}

    def record(tap: Tap, value: Any) -> None:
        tensor = value[0] if isinstance(value, tuple | list) else value
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{tap.module!r} {tap.where} is {type(tensor).__name__}, not a tensor")
        if tap in found:
            raise RuntimeError(f"module {tap.module!r} ran twice in one forward pass")
        tensor = tensor.clone() if grad else tensor.detach().clone()
        found[tap] = tap.transform(tensor) if tap.transform is not None else tensor
        if stop_early and len(found) == len(taps):
            raise _Stop

    with contextlib.ExitStack() as stack:
        stack.enter_context(eval_mode(model))
        stack.enter_context(torch.enable_grad() if grad else torch.no_grad())
        for tap in taps:
            module = model.get_submodule(tap.module)
            if tap.where == "input":
                handle = module.register_forward_pre_hook(
                    lambda _m, args, tap=tap: record(tap, args))
            else:
                handle = module.register_forward_hook(
                    lambda _m, _args, out, tap=tap: record(tap, out))
            stack.callback(handle.remove)
        with contextlib.suppress(_Stop):
            model(x)
    missing = [t for t in taps if t not in found]
    if missing:
        raise RuntimeError(f"taps never reached in the forward pass: {missing}")
    return found


# ---- residual anatomy ------------------------------------------------------------------------


def _vit_branches(model: nn.Module, name: str) -> dict[str, BranchTaps]:
    block = model.get_submodule(name)
    # Skip-free blocks keep the submodules (and names) but not the additions.
    has_skip = not isinstance(block, NoSkipBlock)
    mlp_start = f"{name}.mlp" if isinstance(block, ResPostBlock) else f"{name}.norm2"
    mid = Tap(mlp_start, "input")
    return {
        "attn": BranchTaps(Tap(name, "input") if has_skip else None,
                           Tap(f"{name}.drop_path1"), mid),
        "mlp": BranchTaps(mid if has_skip else None, Tap(f"{name}.drop_path2"), Tap(name)),
    }


def _resnet_branch(model: nn.Module, name: str) -> BranchTaps:
    unit = model.get_submodule(name)
    downsample = getattr(unit, "downsample", None)
    if isinstance(downsample, nn.Module):
        skip = Tap(f"{name}.downsample")
    elif callable(getattr(unit, "shortcut", None)):
        skip = Tap(name, "input", transform=unit.shortcut)
    else:
        skip = Tap(name, "input")
    # The branch is whatever is added last: timm keeps drop_path (Identity in ResNetV2) and
    # squeeze-excitation after the last norm; without them it is the last BatchNorm.
    for child in ("drop_path", "se", "bn3", "bn2"):
        if isinstance(getattr(unit, child, None), nn.Module):
            return BranchTaps(skip, Tap(f"{name}.{child}"), Tap(name))
    raise ValueError(f"cannot find the residual branch of {name!r} ({type(unit).__name__})")


def branch_taps(model: nn.Module) -> dict[str, dict[str, BranchTaps]]:
    """Every residual addition of a ViT or ResNet, by block name and branch.

    ViT blocks have branches ``"attn"`` and ``"mlp"``; ResNet units one, ``"unit"``.
    Names are those of :func:`seelike.layers.block_layers`.
    """
    kind = family(model)
    if kind == "vit":
        return {name: _vit_branches(model, name) for name in block_layers(model)}
    if kind == "resnet":
        return {name: {"unit": _resnet_branch(model, name)} for name in block_layers(model)}
    raise ValueError(f"skip statistics are defined here for ViTs and ResNets, not {kind!r}")


# ---- Fig 7, E.1, E.2 -------------------------------------------------------------------------


def _per_position(skip: torch.Tensor, branch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Norm ratio and cosine per image and position: (b, tokens) or (b, h * w)."""
    if skip.shape != branch.shape:
        raise ValueError(f"skip {tuple(skip.shape)} and branch {tuple(branch.shape)} differ")
    if skip.ndim == 4:  # (b, c, h, w): a position is a pixel, its vector the channels
        skip, branch = skip.flatten(2).transpose(1, 2), branch.flatten(2).transpose(1, 2)
    skip, branch = skip.double(), branch.double()
    # A zero branch gives inf, honestly: the skip carries everything.
    ratio = skip.norm(dim=-1) / branch.norm(dim=-1)
    cosine = torch.nn.functional.cosine_similarity(skip, branch, dim=-1, eps=1e-30)
    return ratio, cosine


def _batch_sums(model: nn.Module, x: torch.Tensor) -> dict[str, dict[str, np.ndarray]]:
    """Per-branch sums over the images of ``x`` of the per-position statistics.

    ViT: arrays (blocks, tokens). ResNet: (units,), already averaged over positions, so that
    units of every resolution weigh the same.
    """
    anatomy = branch_taps(model)
    taps = [t for branches in anatomy.values() for bt in branches.values()
            for t in (bt.skip, bt.branch) if t is not None]
    got = run_taps(model, x, taps)
    out: dict[str, dict[str, list[np.ndarray]]] = {"ratio": {}, "cosine": {}}
    for branches in anatomy.values():
        for key, bt in branches.items():
            if bt.skip is None:  # only ViT blocks lack skips: NaN for every token
                ratio_sum = cosine_sum = np.full(got[bt.branch].shape[1], np.nan)
            else:
                ratio, cosine = _per_position(got[bt.skip], got[bt.branch])
                if got[bt.branch].ndim == 4:
                    ratio, cosine = ratio.mean(dim=1), cosine.mean(dim=1)
                ratio_sum, cosine_sum = ratio.sum(0).cpu().numpy(), cosine.sum(0).cpu().numpy()
            out["ratio"].setdefault(key, []).append(ratio_sum)
            out["cosine"].setdefault(key, []).append(cosine_sum)
    return {stat: {key: np.stack(rows) for key, rows in by_key.items()}
            for stat, by_key in out.items()}


def skip_statistics(model: nn.Module, x: torch.Tensor) -> dict[str, dict[str, np.ndarray]]:
    """Norm ratios and skip/branch cosines of one batch, averaged over its images.

    Returns ``{"ratio": d, "cosine": d}`` where ``d`` is what :func:`norm_ratios` returns.
    """
    sums = _batch_sums(model, x)
    return {stat: {k: v / len(x) for k, v in d.items()} for stat, d in sums.items()}


def norm_ratios(model: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """‖zᵢ‖ / ‖f(zᵢ)‖ per residual addition, averaged over the images of ``x`` (paper Fig 7, E.1).

    ViT: ``{"attn": (blocks, tokens), "mlp": (blocks, tokens)}``, token 0 the CLS token
    where there is one; z is the residual stream entering the branch. ResNet:
    ``{"unit": (units,)}``, the ratio ‖shortcut(z)‖ / ‖f(z)‖ over channels at each spatial
    position, averaged over positions and images. The mean is of per-image ratios, not a
    ratio of mean norms. A branch that outputs exactly zero gives ``inf``; blocks without a
    skip connection (``NoSkipBlock``) give NaN. Order of rows: :func:`seelike.layers.block_layers`.
    """
    return skip_statistics(model, x)["ratio"]


def cosine_similarity(model: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """cos(zᵢ, f(zᵢ)) between skip and branch, shaped and averaged like :func:`norm_ratios`.

    Paper Fig E.2: near 0 when a branch writes in directions the stream does not use,
    negative when it erases what the skip carries.
    """
    return skip_statistics(model, x)["cosine"]


def streamed_skip_statistics(
    model: nn.Module, probe: Any, *, batch_size: int, device: torch.device | str | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """:func:`skip_statistics` averaged over every image of a :class:`seelike.data.ProbeSet`.

    Every image counts once (the last minibatch may be smaller), whatever ``batch_size``.
    """
    if len(probe) == 0:
        raise ValueError("the probe set is empty")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device)
    total: dict[str, dict[str, np.ndarray]] | None = None
    for start in range(0, len(probe), batch_size):
        sums = _batch_sums(model, probe.tensor(start, min(start + batch_size, len(probe)))
                           .to(device))
        total = sums if total is None else {
            stat: {k: total[stat][k] + v for k, v in d.items()} for stat, d in sums.items()}
    assert total is not None
    return {stat: {k: v / len(probe) for k, v in d.items()} for stat, d in total.items()}


def streamed_norm_ratios(
    model: nn.Module, probe: Any, *, batch_size: int, device: torch.device | str | None = None,
) -> dict[str, np.ndarray]:
    """:func:`norm_ratios` averaged over a probe set (the paper's Fig 7 uses ImageNet val)."""
    return streamed_skip_statistics(model, probe, batch_size=batch_size, device=device)["ratio"]
