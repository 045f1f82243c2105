"""Tests for seelike.localization: token-to-patch CKA (Figs 9, 10, D.1-D.3) and the
localization summary, on hand-built matrices, a model whose tokens are its input patches,
and random-init paper architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seelike import models, passes
from seelike.analyses import TokenPatchCKA
from seelike.layers import block_layers
from seelike.localization import (
    example_tokens,
    image_patches,
    interior,
    layer_matrix,
    localization_summary,
    own_patch_rank,
    spatial_tokens,
)
from seelike.probe_sets import TensorProbe


def test_identity_is_perfectly_localized() -> None:
    s = localization_summary(np.eye(9))
    assert s["top1"] == 1 and s["mean_rank"] == 1 and s["normalised_rank"] == 0
    assert s["chance_top1"] == pytest.approx(1 / 9) and s["chance_rank"] == 5


def test_a_permutation_ranks_the_own_patch_second_behind_a_tie_of_zeros() -> None:
    # Tokens 0 and 1 keep their patch; tokens 2..5 match the next one cyclically.
    n = 6
    perm = np.array([0, 1, 3, 4, 5, 2])
    m = np.zeros((n, n))
    m[np.arange(n), perm] = 1.0
    rank = own_patch_rank(m)
    # A moved token: one patch above its own (0), tied with the n - 2 other zeros.
    moved = 2 + (n - 2) / 2
    np.testing.assert_allclose(rank, [1, 1, moved, moved, moved, moved])
    s = localization_summary(m)
    assert s["top1"] == pytest.approx(2 / 6)
    assert s["mean_rank"] == pytest.approx((2 + 4 * moved) / 6)


def test_a_constant_matrix_is_at_chance_and_positions_restrict_the_average() -> None:
    s = localization_summary(np.full((4, 4), 0.3))
    assert s["top1"] == 0 and s["mean_rank"] == s["chance_rank"] == 2.5
    m = np.eye(4)
    m[3] = [1, 0, 0, 0.5]
    assert localization_summary(m, [0, 1, 2])["top1"] == 1
    assert localization_summary(m)["top1"] == 0.75


def test_nan_own_entries_are_skipped_and_non_square_rejected() -> None:
    m = np.eye(3)
    m[2, 2] = np.nan
    assert np.isnan(own_patch_rank(m)[2])
    assert localization_summary(m)["top1"] == 1
    with pytest.raises(ValueError, match="square"):
        own_patch_rank(np.ones((2, 3)))


def test_patches_and_tokens_are_row_major() -> None:
    x = torch.zeros(1, 3, 6, 9)
    for r in range(2):
        for c in range(3):
            x[:, :, 3 * r:3 * r + 3, 3 * c:3 * c + 3] = 3 * r + c
    patches = image_patches(x, (2, 3))
    assert patches.shape == (1, 6, 27)
    torch.testing.assert_close(patches[0, :, 0], torch.arange(6.0))
    feature_map = torch.arange(6.0).reshape(1, 1, 2, 3)
    tokens, grid = spatial_tokens(feature_map, 0)
    assert grid == (2, 3)
    torch.testing.assert_close(tokens[0, :, 0], torch.arange(6.0))
    vit_out = torch.randn(2, 1 + 16, 5)
    tokens, grid = spatial_tokens(vit_out, 1)
    assert grid == (4, 4) and torch.equal(tokens, vit_out[:, 1:])
    with pytest.raises(ValueError, match="grid"):
        image_patches(x, (4, 4))


def test_example_tokens_and_interior_mask() -> None:
    assert example_tokens((8, 8)) == {"corner": (0, 0), "edge": (4, 0), "interior": (3, 3)}
    assert example_tokens((4, 4))["interior"] == (1, 1)
    assert interior((4, 4)).reshape(4, 4)[1:3, 1:3].all() and interior((4, 4)).sum() == 4


class _PatchModel(nn.Module):
    """A 'CNN' whose 4 x 4 output map holds, at each position, exactly its 8-px input patch."""

    def __init__(self) -> None:
        super().__init__()
        self.normalize = nn.Identity()
        self.net = nn.Sequential()
        self.net.add_module("unshuffle", nn.PixelUnshuffle(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def test_tokens_that_are_their_patches_have_cka_one_on_the_diagonal() -> None:
    torch.manual_seed(0)
    probe = TensorProbe(torch.rand(24, 3, 32, 32))
    (out,) = passes.run([TokenPatchCKA("m", ("net.unshuffle",))], {"m": _PatchModel()}, probe,
                        batch_size=8)
    m = layer_matrix(out, 0)
    assert out["grid"].tolist() == [[4, 4]]
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-9)
    assert np.nanmax(m - np.diag(np.diag(m))) < 0.5  # independent random patches differ
    assert localization_summary(m)["top1"] == 1


@pytest.mark.parametrize("name,layers", [
    ("vit_base_patch32_224.augreg_in21k", ["net.blocks.10", "net.blocks.11"]),
    ("resnetv2_50x1_bit.goog_in21k", ["net.stages.2.blocks.5", "net.stages.3.blocks.2"]),
    ("vit_base_patch16_rpn_224.sw_in1k", ["net.blocks.11"]),  # the GAP ViT of Fig 10
])
def test_paper_architectures_run_at_random_init(name: str, layers: list[str]) -> None:
    torch.manual_seed(0)
    net = models.build_paper(name)
    assert set(layers) <= set(block_layers(net))
    probe = TensorProbe(torch.rand(4, 3, 224, 224))
    (out,) = passes.run([TokenPatchCKA(name, tuple(layers))], {name: net}, probe, batch_size=4)
    grids = out["grid"].tolist()
    assert grids[-1] == ([14, 14] if "patch16" in name else [7, 7])
    for i, (gh, gw) in enumerate(grids):
        m = layer_matrix(out, i)
        assert m.shape == (gh * gw, gh * gw) and np.isfinite(m).all()


def test_the_plan_covers_every_vit_block_and_the_resnets_last_two_stages() -> None:
    from seelike.book import plan
    from seelike.book.presets import get_preset

    p = get_preset("cifar")
    found = {a.model: a.layers for a in plan.localization(p)}
    assert len(found[p.vit]) == len(found[p.vit_gap]) == 12
    assert found[p.resnet] == ("net.layer3.0", "net.layer3.1", "net.layer4.0", "net.layer4.1")
    last = {a.model: a.layers for a in plan.localization(p, resnet_stages=1)}
    assert last[p.resnet] == ("net.layer4.0", "net.layer4.1") and last[p.vit] == found[p.vit]
