"""Tests for seelike.skips: norm ratios and skip/branch cosines (Figs 7, E.1, E.2) on blocks
whose branches output known tensors, the residual anatomy of every block type the book uses,
and the paper preset's architectures at random init."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from timm.models.vision_transformer import ResPostBlock, VisionTransformer
from torch import nn

from seelike import architectures, models, network
from seelike.architectures import Architecture
from seelike.probe_sets import TensorProbe
from seelike.skips import (
    branch_taps,
    cosine_similarity,
    norm_ratios,
    skip_statistics,
    streamed_norm_ratios,
    streamed_skip_statistics,
)
from seelike.taps import Tap, run_taps


def _tiny_vit(**kwargs: object) -> network.ImageClassifier:
    net = VisionTransformer(img_size=8, patch_size=4, embed_dim=8, depth=2, num_heads=2,
                            mlp_ratio=2.0, num_classes=3, **kwargs)
    return network.ImageClassifier(net, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)).eval()


def test_vit_ratios_and_cosines_of_constant_branches() -> None:
    # Zero weights and bias b make a branch output b at every token, so with z the residual
    # stream entering it, every ratio ‖z_i‖ / ‖b‖ and cosine is known in closed form.
    torch.manual_seed(0)
    model = _tiny_vit()
    biases = {}
    with torch.no_grad():
        for k, block in enumerate(model.net.blocks):
            for branch, linear in (("attn", block.attn.proj), ("mlp", block.mlp.fc2)):
                linear.weight.zero_()
                biases[k, branch] = torch.randn(8) if (k, branch) != (1, "mlp") else torch.zeros(8)
                linear.bias.copy_(biases[k, branch])
    x = torch.rand(3, 3, 8, 8)
    net = model.net
    with torch.no_grad():
        z0 = net.norm_pre(net.patch_drop(net._pos_embed(net.patch_embed(x))))
    streams = {(0, "attn"): z0, (0, "mlp"): z0 + biases[0, "attn"]}
    streams[1, "attn"] = streams[0, "mlp"] + biases[0, "mlp"]
    streams[1, "mlp"] = streams[1, "attn"] + biases[1, "attn"]

    ratios, cosines = norm_ratios(model, x), cosine_similarity(model, x)
    assert set(ratios) == {"attn", "mlp"} and ratios["attn"].shape == (2, 5)
    for (k, branch), z in streams.items():
        b = biases[k, branch].expand_as(z)
        if (k, branch) == (1, "mlp"):
            # A silent branch: the skip carries everything.
            assert np.isinf(ratios[branch][k]).all()
            np.testing.assert_array_equal(cosines[branch][k], 0.0)
            continue
        ratio = (z.norm(dim=-1) / b.norm(dim=-1)).mean(0)
        cosine = torch.nn.functional.cosine_similarity(z, b, dim=-1).mean(0)
        np.testing.assert_allclose(ratios[branch][k], ratio.numpy(), rtol=1e-5)
        np.testing.assert_allclose(cosines[branch][k], cosine.numpy(), rtol=1e-5, atol=1e-6)


class _Scale(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * x


class _Unit(nn.Module):
    """A ResNet unit whose branch and shortcut are multiples of its input."""

    def __init__(self, branch: float, shortcut: float | None = None) -> None:
        super().__init__()
        self.bn2 = _Scale(branch)
        self.downsample = None if shortcut is None else _Scale(shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        return skip + self.bn2(x)


class _ToyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(_Unit(2.0), _Unit(-1.0, shortcut=3.0))


class _ToyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = _ToyNet()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.layer1(x)


def test_resnet_units_with_known_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(architectures, "_DECLARED", architectures.declared())
    # A network is a ResNet because it is declared one, not because of its module names.
    architectures.declare(_ToyNet, Architecture("resnet", r"layer(\d+)\.\d+", {"_Unit": ()},
                                                "#d62728"))
    model = _ToyResNet()
    x = torch.rand(2, 4, 5, 6) + 0.1
    stats = skip_statistics(model, x)
    # Unit 0: skip z, branch 2z. Unit 1 (projection shortcut 3z, branch -z).
    np.testing.assert_allclose(stats["ratio"]["unit"], [0.5, 3.0], rtol=1e-6)
    np.testing.assert_allclose(stats["cosine"]["unit"], [1.0, -1.0], rtol=1e-6)


def test_streaming_weighs_every_image_once() -> None:
    torch.manual_seed(1)
    model = models.build("vit_cifar")
    x = torch.rand(5, 3, 32, 32)
    whole = skip_statistics(model, x)
    streamed = streamed_skip_statistics(model, TensorProbe(x), batch_size=2)  # 2, 2, 1
    for stat in ("ratio", "cosine"):
        for branch in ("attn", "mlp"):
            np.testing.assert_allclose(streamed[stat][branch], whole[stat][branch], rtol=1e-6)
    ratios = streamed_norm_ratios(model, TensorProbe(x), batch_size=4)
    np.testing.assert_allclose(ratios["mlp"], whole["ratio"]["mlp"], rtol=1e-6)
    # One image's ratios differ from the mean over five: averaging really happens.
    assert not np.allclose(norm_ratios(model, x[:1])["attn"], whole["ratio"]["attn"])


def _check_anatomy(model: nn.Module, x: torch.Tensor, relu_after_add: bool = False) -> None:
    """Every residual addition's post tensor equals skip + branch (through the final ReLU of
    a v1 ResNet unit), and equals the branch alone where the block has no skip."""
    anatomy = branch_taps(model)
    taps = [t for branches in anatomy.values() for bt in branches.values()
            for t in (bt.skip, bt.branch, bt.post) if t is not None]
    got = run_taps(model, x, taps)
    for branches in anatomy.values():
        for bt in branches.values():
            total = got[bt.branch] if bt.skip is None else got[bt.skip] + got[bt.branch]
            if relu_after_add:
                total = total.relu()
            torch.testing.assert_close(got[bt.post], total, rtol=1e-5, atol=1e-5)


def test_anatomy_of_every_block_type() -> None:
    torch.manual_seed(2)
    x8, x32 = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    _check_anatomy(_tiny_vit(), x8)
    respost = _tiny_vit(block_fn=ResPostBlock)
    assert isinstance(respost.net.blocks[0], ResPostBlock)
    assert branch_taps(respost)["net.blocks.0"]["mlp"].skip == Tap("net.blocks.0.mlp", "input")
    _check_anatomy(respost, x8)
    _check_anatomy(models.build("vit_cifar_noskip1"), x32)
    resnet = models.build("resnet_cifar")
    with torch.no_grad():
        for module in resnet.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(1.0)  # undo zero-init of the last BN: non-trivial branches
    _check_anatomy(resnet, x32, relu_after_add=True)
    # The CIFAR ResNet-56's shortcut is a method that subsamples and zero-pads channels.
    _check_anatomy(models.build("resnet56_akamaster"), x32, relu_after_add=True)


def test_blocks_without_skips_give_nan() -> None:
    model = models.build("vit_cifar_noskip1")
    ratios = norm_ratios(model, torch.rand(2, 3, 32, 32))
    for branch in ("attn", "mlp"):
        assert np.isnan(ratios[branch][1]).all()
        rest = np.delete(ratios[branch], 1, axis=0)
        assert np.isfinite(rest).all() and (rest > 0).all()


def test_run_taps_stops_after_the_last_tap_and_leaves_no_hooks() -> None:
    model = models.build("vit_cifar")
    model.train()
    ran = []
    handle = model.net.blocks[5].register_forward_hook(lambda *_: ran.append(5))
    try:
        got = run_taps(model, torch.rand(1, 3, 32, 32), [Tap("net.blocks.1", "input")])
    finally:
        handle.remove()
    assert ran == [] and got[Tap("net.blocks.1", "input")].shape == (1, 65, 192)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(m.training for m in model.modules())  # modes restored after the eval pass
    with pytest.raises(RuntimeError, match="never reached"):
        _never_reached(model)
    with pytest.raises(ValueError):
        run_taps(model, torch.rand(1, 3, 32, 32), [])


def _never_reached(model: nn.Module) -> None:
    # A module the forward never calls: a fresh one attached to the model.
    model.net.unused = nn.Identity()
    try:
        run_taps(model, torch.rand(1, 3, 32, 32), [Tap("net.unused")])
    finally:
        del model.net.unused


def test_paper_architectures_give_finite_statistics() -> None:
    torch.manual_seed(0)
    vit = models.build_paper("vit_base_patch32_224.augreg_in21k")
    x = torch.rand(2, 3, 224, 224)
    stats = skip_statistics(vit, x)
    for branch in ("attn", "mlp"):
        assert stats["ratio"][branch].shape == (12, 50)
        assert np.isfinite(stats["ratio"][branch]).all() and (stats["ratio"][branch] > 0).all()
        assert (np.abs(stats["cosine"][branch]) <= 1 + 1e-9).all()
    bit = models.build_paper("resnetv2_50x1_bit.goog_in21k")
    small = torch.rand(2, 3, 64, 64)
    _check_anatomy(bit, small)
    ratios = norm_ratios(bit, small)["unit"]
    assert ratios.shape == (16,) and np.isfinite(ratios).all()
