"""Tests for seelike.receptive_field: effective receptive fields (Figs 6, C.1–C.4) of tiny
convolutional models with known support, of ViTs whose branches are silenced, and of the
paper preset's architectures at random init."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from seelike import models, network
from seelike.receptive_field import (
    effective_receptive_field,
    effective_receptive_fields,
    erf_spread,
    residual_tap,
)
from seelike.selectors import LayerNotFoundError
from seelike.taps import Tap


class _Wrapped(nn.Module):
    """``net`` under the name ImageClassifier gives it, so layer names read ``net.0``."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _support(erf: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.nonzero(erf)
    return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


@pytest.mark.parametrize("size", [9, 8])
def test_one_3x3_conv_sees_exactly_its_kernel(size: int) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, padding=1)
    model = _Wrapped(conv)
    erf = effective_receptive_field(model, "net.0", torch.rand(4, 3, size, size))
    c = size // 2  # the lower right of the central four for even sizes
    assert _support(erf) == (slice(c - 1, c + 2), slice(c - 1, c + 2))
    assert np.count_nonzero(erf) == 9 and erf.max() == pytest.approx(1.0)
    # A linear map's ERF is its weights: |mean over output channels|, summed over colours.
    expected = conv.weight.detach().mean(0).abs().sum(0).double().numpy()
    np.testing.assert_allclose(erf[c - 1:c + 2, c - 1:c + 2], expected / expected.max(),
                               rtol=1e-5)


def test_two_stacked_3x3_convs_see_5x5() -> None:
    torch.manual_seed(1)
    model = _Wrapped(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    erf = effective_receptive_field(model, "net.2", torch.rand(6, 3, 11, 11))
    assert _support(erf) == (slice(3, 8), slice(3, 8))
    assert np.count_nonzero(erf) == 25
    # The first conv alone still sees 3x3 in the same model.
    first = effective_receptive_field(model, "net.0", torch.rand(2, 3, 11, 11))
    assert np.count_nonzero(first) == 9


def test_minibatches_give_the_same_field_as_one_batch() -> None:
    torch.manual_seed(2)
    model = _Wrapped(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                     nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))
    x = torch.rand(5, 3, 12, 12)
    whole = effective_receptive_field(model, "net.4", x)
    chunked = effective_receptive_field(model, "net.4", x, batch_size=2)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    # ReLUs make the field depend on the image, so averaging really mixes images.
    assert not np.allclose(effective_receptive_field(model, "net.4", x[:1]), whole)


def test_erf_spread_of_known_masses() -> None:
    delta = np.zeros((7, 7))
    delta[3, 3] = 1
    assert erf_spread(delta) == 0
    square = np.zeros((7, 7))
    square[1:4, 2:5] = 1
    assert erf_spread(square) == pytest.approx(math.sqrt(4 / 3))
    assert erf_spread(np.ones((224, 224))) == pytest.approx(math.sqrt(2 * (224**2 - 1) / 12))
    assert math.isnan(erf_spread(np.zeros((3, 3))))


@pytest.fixture(scope="module")
def vit() -> network.ImageClassifier:
    torch.manual_seed(0)
    return models.build("vit_cifar")


def _silenced(vit: network.ImageClassifier, attn: bool, mlp: bool) -> network.ImageClassifier:
    model = models.build("vit_cifar")
    model.load_state_dict(vit.state_dict())
    with torch.no_grad():
        for block in model.net.blocks:
            for on, linear in ((attn, block.attn.proj), (mlp, block.mlp.fc2)):
                if on:
                    linear.weight.zero_()
                    linear.bias.zero_()
    return model


def test_vit_with_silenced_branches_sees_only_its_centre_patch(vit) -> None:
    # With both branches zero, every block passes its input through the skip: the centre
    # token is the embedding of the centre 4x4 patch, pixels 16..19 of the 32-px image.
    model = _silenced(vit, attn=True, mlp=True)
    x = torch.rand(3, 3, 32, 32)
    erfs = effective_receptive_fields(model, ["net.blocks.0", "net.blocks.6.attn",
                                              "net.blocks.11"], x)
    for layer, erf in erfs.items():
        assert _support(erf) == (slice(16, 20), slice(16, 20)), layer
    # Before the residual addition the silenced branch has no gradient at all.
    assert not effective_receptive_field(model, "net.blocks.6.attn", x, residual="pre").any()
    # Attention alone spreads the field beyond the centre patch, but the skip keeps it there.
    attn_only = effective_receptive_field(_silenced(vit, attn=False, mlp=True), "net.blocks.11",
                                          x)
    outside = attn_only.copy()
    outside[16:20, 16:20] = 0
    assert outside.sum() > 0
    assert attn_only[16:20, 16:20].mean() > 10 * outside[outside > 0].mean()


def test_residual_taps_resolve_to_the_right_tensors(vit) -> None:
    assert residual_tap(vit, "net.blocks.3") == Tap("net.blocks.3")
    assert residual_tap(vit, "net.blocks.3", "pre") == Tap("net.blocks.3.drop_path2")
    assert residual_tap(vit, "net.blocks.3.attn") == Tap("net.blocks.3.norm2", "input")
    assert residual_tap(vit, "net.blocks.3.attn", "pre") == Tap("net.blocks.3.drop_path1")
    assert residual_tap(vit, "net.blocks.3.mlp") == Tap("net.blocks.3")
    assert residual_tap(vit, "net.patch_embed") == Tap("net.patch_embed")
    resnet = models.build("resnet_cifar")
    assert residual_tap(resnet, "net.layer2.0", "pre") == Tap("net.layer2.0.bn2")
    with pytest.raises(ValueError, match="no 'pre'"):
        residual_tap(resnet, "net.conv1", "pre")
    with pytest.raises(ValueError, match="residual"):
        residual_tap(resnet, "net.conv1", "middle")  # type: ignore[arg-type]
    with pytest.raises(LayerNotFoundError, match=r"closest: net\.layer1"):
        residual_tap(resnet, "net.layer9")


def test_cifar_resnet_fields_grow_by_two_pixels_a_conv() -> None:
    torch.manual_seed(3)
    resnet = models.build("resnet_cifar")
    with torch.no_grad():
        # timm zero-initialises each unit's last BN, which would silence every branch.
        for unit in (resnet.net.layer1[0], resnet.net.layer1[1], resnet.net.layer2[0]):
            unit.bn2.weight.fill_(1.0)
    units = ["net.conv1", "net.layer1.0", "net.layer1.1", "net.layer2.0"]
    erfs = effective_receptive_fields(resnet, units, torch.rand(2, 3, 32, 32))
    # Stem conv, then two 3x3 convs per unit: 3, 7, 11 pixels wide, centred on pixel 16.
    for unit, width in zip(units[:3], (3, 7, 11), strict=True):
        half = width // 2
        assert _support(erfs[unit]) == (slice(16 - half, 17 + half),) * 2, unit
        assert np.count_nonzero(erfs[unit]) == width**2, unit
    assert np.count_nonzero(erfs["net.layer2.0"]) > 11**2
    spreads = [erf_spread(erfs[u]) for u in units]
    assert spreads == sorted(spreads), spreads


@pytest.fixture(scope="module")
def paper_models() -> tuple[network.ImageClassifier, network.ImageClassifier]:
    torch.manual_seed(0)
    return (models.build_paper("vit_base_patch32_224.augreg_in21k"),
            models.build_paper("resnetv2_50x1_bit.goog_in21k"))


@pytest.mark.parametrize("residual", ["post", "pre"])
def test_paper_architectures_give_finite_fields(paper_models, residual: str) -> None:
    vit, bit = paper_models
    x = torch.rand(2, 3, 224, 224)
    erfs = effective_receptive_fields(vit, ["net.blocks.0.attn", "net.blocks.1.mlp"], x,
                                      residual=residual)
    for erf in erfs.values():
        assert erf.shape == (224, 224) and np.isfinite(erf).all() and erf.max() == 1.0
    small = torch.rand(2, 3, 96, 96)
    layers = ["net.stages.0.blocks.0", "net.stages.1.blocks.0"]
    if residual == "post":
        layers.insert(0, "net.stem.conv")
    for erf in effective_receptive_fields(bit, layers, small, residual=residual).values():
        assert erf.shape == (96, 96) and np.isfinite(erf).all() and erf.max() == 1.0
