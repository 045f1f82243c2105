"""Skip connections: how much of each residual block's output is its input.

The norm ratio ‖zᵢ‖ / ‖f(zᵢ)‖ of paper Figs 7 and E.1, per block and token of a ViT or
per unit of a ResNet, and the cosine similarity between the skip and the long branch of
Fig E.2. Here z is what the skip connection carries (the residual stream entering a
branch, or a ResNet unit's shortcut) and f(z) is what the branch adds to it.

It also holds the residual-block anatomy that :mod:`seelike.receptive_field` needs
("after" and "before" the residual connection): :class:`BranchTaps` names the
skip, branch and sum of each residual addition as :class:`seelike.taps.Tap` s.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from timm.models.vision_transformer import ResPostBlock
from torch import nn

from seelike import passes
from seelike.analyses import RESIDUAL_STATISTICS, SkipStatistics
from seelike.layers import block_layers, family
from seelike.network import NoSkipBlock
from seelike.passes import Analysis, Batch, Needs
from seelike.resample import PoissonMeans
from seelike.taps import Tap, run_taps

__all__ = [
    "BranchTaps",
    "SkipStatisticsAccumulator",
    "branch_taps",
    "cosine_similarity",
    "norm_ratios",
    "skip_statistics",
    "streamed_norm_ratios",
    "streamed_skip_statistics",
    "unflatten",
]

@dataclass(frozen=True)
class BranchTaps:
    """One residual addition ``post = skip + branch`` of a block, as three taps.

    ``skip`` is None where the model has no skip connection there (a ``NoSkipBlock``).
    """

    skip: Tap | None
    branch: Tap
    post: Tap



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


# ---- norm ratios and cosines -----------------------------------------------------------------

def _per_position(skip: torch.Tensor, branch: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Norm ratio, skip/branch cosine and skip/output cosine per image and position.

    Each (b, tokens) or (b, h * w). The output is skip + branch, what the addition passes
    on: paper Fig E.2 compares it with what the skip carried.
    """
    if skip.shape != branch.shape:
        raise ValueError(f"skip {tuple(skip.shape)} and branch {tuple(branch.shape)} differ")
    if skip.ndim == 4:  # (b, c, h, w): a position is a pixel, its vector the channels
        skip, branch = skip.flatten(2).transpose(1, 2), branch.flatten(2).transpose(1, 2)
    skip, branch = skip.double(), branch.double()
    # A zero branch gives inf, honestly: the skip carries everything.
    ratio = skip.norm(dim=-1) / branch.norm(dim=-1)
    cosine = torch.nn.functional.cosine_similarity(skip, branch, dim=-1, eps=1e-30)
    output = torch.nn.functional.cosine_similarity(skip, skip + branch, dim=-1, eps=1e-30)
    return ratio, cosine, output


#: Images per chunk of :func:`_reduced` above which a minibatch is split: the float64
#: copies of a BiT-R50's first-stage maps are 6.6 GB each at 1,024 images, 1.6 GB at 256.
REDUCE_CHUNK = 256


def _reduced(skip: torch.Tensor, branch: torch.Tensor) -> list[np.ndarray]:
    """:data:`RESIDUAL_STATISTICS` per image of one residual addition: ViT (images, tokens); ResNet
    (images,), averaged over positions so that units of every resolution weigh the same."""
    parts = []
    for i in range(0, len(skip), REDUCE_CHUNK):
        values = _per_position(skip[i:i + REDUCE_CHUNK], branch[i:i + REDUCE_CHUNK])
        if skip.ndim == 4:
            values = [v.mean(dim=1) for v in values]
        parts.append([v.double().cpu().numpy() for v in values])
    return [np.concatenate(chunk) for chunk in zip(*parts, strict=True)]


def _taps_of(anatomy: dict[str, dict[str, BranchTaps]]) -> list[Tap]:
    return list(dict.fromkeys(t for branches in anatomy.values() for bt in branches.values()
                              for t in (bt.skip, bt.branch) if t is not None))


def _per_image(anatomy: dict[str, dict[str, BranchTaps]],
               got: Mapping[Tap, torch.Tensor]) -> dict[str, dict[str, np.ndarray]]:
    """Per-image statistics of one batch, per branch.

    ViT: arrays (images, blocks, tokens). ResNet: (images, units), already averaged over
    positions, so that units of every resolution weigh the same.
    """
    out: dict[str, dict[str, list[np.ndarray]]] = {stat: {} for stat in RESIDUAL_STATISTICS}
    for branches in anatomy.values():
        for key, bt in branches.items():
            shape = got[bt.branch].shape
            if bt.skip is None:  # only ViT blocks lack skips: NaN for every token
                values = [np.full(shape[:2], np.nan)] * len(RESIDUAL_STATISTICS)
            else:
                values = _reduced(got[bt.skip], got[bt.branch])
            for stat, v in zip(RESIDUAL_STATISTICS, values, strict=True):
                out[stat].setdefault(key, []).append(v)
    return {stat: {key: np.stack(rows, axis=1) for key, rows in by_key.items()}
            for stat, by_key in out.items()}


def _batch_sums(model: nn.Module, x: torch.Tensor) -> dict[str, dict[str, np.ndarray]]:
    anatomy = branch_taps(model)
    per_image = _per_image(anatomy, run_taps(model, x, _taps_of(anatomy)))
    return {stat: {k: v.sum(0) for k, v in d.items()} for stat, d in per_image.items()}


class SkipStatisticsAccumulator(SkipStatistics, Analysis):
    """Computes :class:`seelike.analyses.SkipStatistics` in a pass, each skip/branch pair
    reduced per image the moment its second tensor is recorded (streamed taps), with
    :class:`seelike.resample.PoissonMeans` for the bootstrap means."""

    def needs(self, model: str, net: nn.Module) -> Needs:
        # Streamed: at the paper's scale a BiT-R50's skips and branches at a minibatch of
        # 1,024 are 45 GB; each pair is reduced the moment its second tensor is recorded.
        return Needs(streamed=_taps_of(branch_taps(net)))

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._anatomy = branch_taps(nets[self.model])
        # Each tap's one residual addition (block, branch key, its taps).
        self._pair_of = {t: (block, key, bt) for block, branches in self._anatomy.items()
                         for key, bt in branches.items() for t in (bt.skip, bt.branch)
                         if t is not None}
        self._waiting: dict[Tap, torch.Tensor] = {}
        self._values: dict[tuple[str, str], list[np.ndarray]] = {}
        self._total: dict[str, dict[str, np.ndarray]] | None = None
        self._n = 0
        self._boot: dict[str, PoissonMeans] = {}

    def consume(self, model: str, tap: Tap, tensor: torch.Tensor) -> None:
        block, key, bt = self._pair_of[tap]
        partner = bt.branch if tap == bt.skip else bt.skip
        if partner is not None and partner not in self._waiting:
            # The first of the pair waits, copied: the model may change it in place later
            # (timm's ResNets add the shortcut into the branch's output).
            self._waiting[tap] = tensor.clone()
            return
        if partner is None:  # only ViT blocks lack skips: NaN for every token
            values = [np.full(tensor.shape[:2], np.nan)] * len(RESIDUAL_STATISTICS)
        else:
            other = self._waiting.pop(partner)
            skip, branch = (tensor, other) if tap == bt.skip else (other, tensor)
            values = _reduced(skip, branch)
        self._values[(block, key)] = values

    def update(self, batch: Batch) -> None:
        out: dict[str, dict[str, list[np.ndarray]]] = {stat: {} for stat in RESIDUAL_STATISTICS}
        for block, branches in self._anatomy.items():
            for key in branches:
                values = self._values.pop((block, key))
                for stat, v in zip(RESIDUAL_STATISTICS, values, strict=True):
                    out[stat].setdefault(key, []).append(v)
        per_image = {stat: {key: np.stack(rows, axis=1) for key, rows in by_key.items()}
                     for stat, by_key in out.items()}
        sums = {stat: {k: v.sum(0) for k, v in d.items()} for stat, d in per_image.items()}
        self._total = sums if self._total is None else {
            stat: {k: self._total[stat][k] + v for k, v in d.items()} for stat, d in sums.items()}
        self._n += len(batch)
        if self.bootstrap:
            for stat, d in per_image.items():
                for part, values in d.items():
                    # One seed per array: the same images weigh the same in every array's
                    # draw k, so a statistic combining arrays is resampled consistently.
                    self._boot.setdefault(f"boot_{stat}__{part}", PoissonMeans(
                        self.bootstrap, seed=0)).update(values)

    def result(self) -> dict[str, np.ndarray]:
        assert self._total is not None
        out = {f"{stat}__{part}": v / self._n for stat, d in self._total.items()
               for part, v in d.items()}
        return out | {k: acc.result().astype(np.float32) for k, acc in self._boot.items()}


def unflatten(result: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """:class:`seelike.analyses.SkipStatistics`' flat result as ``{"ratio": {...},
    "cosine": {...}, ...}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for flat, value in result.items():
        stat, part = flat.split("__")
        out.setdefault(stat, {})[part] = value
    return out


def skip_statistics(model: nn.Module, x: torch.Tensor) -> dict[str, dict[str, np.ndarray]]:
    """Norm ratios and skip/branch and skip/output cosines of one batch, averaged over images.

    Returns ``{"ratio": d, "cosine": d, "output_cosine": d}`` where ``d`` is what
    :func:`norm_ratios` returns.
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
    """:func:`skip_statistics` averaged over every image of a :class:`seelike.probe_sets.ProbeSet`.

    Every image counts once (the last minibatch may be smaller), whatever ``batch_size``.
    """
    device = device if device is not None else next(model.parameters()).device
    (out,) = passes.run([SkipStatistics("model")], {"model": model}, probe,
                        batch_size=batch_size, device=device)
    return unflatten(out)


def streamed_norm_ratios(
    model: nn.Module, probe: Any, *, batch_size: int, device: torch.device | str | None = None,
) -> dict[str, np.ndarray]:
    """:func:`norm_ratios` averaged over a probe set (the paper's Fig 7 uses ImageNet val)."""
    return streamed_skip_statistics(model, probe, batch_size=batch_size, device=device)["ratio"]
