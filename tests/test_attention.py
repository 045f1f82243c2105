"""Tests for seelike.attention: mean attention distances (Figs 3, 4, C.5, C.6) and head subsets
(Fig 5), on hand-built attention maps with known answers and on random-init ViTs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seelike import attention, models, network
from seelike.analyses import head_subsets
from seelike.attention import (
    attention_distances,
    head_outputs,
    head_subset_cka,
    head_subset_features,
    mean_attention_distance,
    uniform_attention_distance,
)
from seelike.hooks import capture
from seelike.layers import block_layers
from seelike.probe_sets import TensorProbe


def _map(rows: list[torch.Tensor]) -> torch.Tensor:
    """(1, heads, T, T) from per-head (T, T) maps."""
    return torch.stack(rows)[None]


def _neighbour_map(grid: tuple[int, int], prefix: int) -> torch.Tensor:
    """Every spatial query attends to the patch one row below (one above on the last row)."""
    gh, gw = grid
    t = prefix + gh * gw
    a = torch.zeros(t, t)
    a[:prefix, :prefix] = torch.eye(prefix)
    for r in range(gh):
        for c in range(gw):
            target = r + 1 if r + 1 < gh else r - 1
            a[prefix + r * gw + c, prefix + target * gw + c] = 1.0
    return a


@pytest.mark.parametrize("cls", ["drop", "renormalise"])
def test_identity_neighbour_and_uniform_attention_have_known_distances(cls: str) -> None:
    # A non-square grid: a row-major/column-major mix-up would put vertical neighbours
    # 1 row *and* columns away, so the neighbour head would not come out at exactly 1 patch.
    grid, patch, prefix = (3, 5), 7, 1
    t = prefix + 15
    uniform = torch.zeros(t, t)
    uniform[:, prefix:] = 1 / 15
    attn = _map([torch.eye(t), _neighbour_map(grid, prefix), uniform])
    got = mean_attention_distance(attn, grid, patch, prefix, cls=cls)
    expected = torch.tensor([0.0, patch, uniform_attention_distance(grid, patch)])
    torch.testing.assert_close(got, expected.double())


def test_the_two_cls_conventions_differ_exactly_by_the_mass_on_cls() -> None:
    grid, patch, prefix = (4, 4), 16, 1
    t = prefix + 16
    on_cls = torch.linspace(0.1, 0.7, 16)  # each spatial query's attention to CLS
    a = torch.zeros(t, t)
    a[0, 0] = 1.0
    a[prefix:, 0] = on_cls
    a[prefix:, prefix:] = (1 - on_cls)[:, None] / 16
    attn = _map([a])
    uniform = uniform_attention_distance(grid, patch)
    drop = mean_attention_distance(attn, grid, patch, prefix, cls="drop")
    renorm = mean_attention_distance(attn, grid, patch, prefix, cls="renormalise")
    # Dropping without renormalising counts CLS mass as distance 0; renormalising removes it.
    torch.testing.assert_close(renorm, torch.tensor([uniform], dtype=torch.float64))
    expected_drop = (1 - on_cls.double()).mean() * uniform
    torch.testing.assert_close(drop, expected_drop.reshape(1))
    assert not torch.allclose(drop, renorm)


def test_distances_average_over_images_and_reject_wrong_token_counts() -> None:
    grid, patch = (2, 2), 1
    near = torch.eye(4)
    far = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]]).float()
    attn = torch.stack([near[None], far[None]])  # 2 images, 1 head, no prefix
    got = mean_attention_distance(attn, grid, patch, 0)
    torch.testing.assert_close(got, torch.tensor([math.sqrt(2) / 2], dtype=torch.float64))
    with pytest.raises(ValueError, match="tokens"):
        mean_attention_distance(attn, grid, patch, 1)
    with pytest.raises(ValueError, match="cls"):
        mean_attention_distance(attn, grid, patch, 0, cls="keep")  # type: ignore[arg-type]


def test_uniform_distance_matches_a_brute_force_count_and_the_papers_117_px() -> None:
    assert uniform_attention_distance((2, 2), 1) == pytest.approx((2 + math.sqrt(2)) / 4)
    assert uniform_attention_distance((2, 2), 10) == pytest.approx(10 * (2 + math.sqrt(2)) / 4)
    # Protocol: uniform attention over ViT-L/16's 224-px grid gives about 117 px.
    assert uniform_attention_distance((14, 14), 16) == pytest.approx(117, abs=1)


@pytest.fixture(scope="module")
def vit() -> network.ImageClassifier:
    torch.manual_seed(0)
    return models.build("vit_cifar")


def test_uniform_attention_in_a_real_vit_gives_the_reference_line(vit) -> None:
    # Zero query and key weights: every score is 0, so every head attends uniformly to
    # all 65 tokens, CLS included: 64/65 of the reference with "drop", all of it otherwise.
    model = models.build("vit_cifar")
    model.load_state_dict(vit.state_dict())
    dim = model.net.embed_dim
    with torch.no_grad():
        for block in model.net.blocks:
            block.attn.qkv.weight[: 2 * dim] = 0
            block.attn.qkv.bias[: 2 * dim] = 0
    probe = TensorProbe(torch.rand(3, 3, 32, 32))
    ref = uniform_attention_distance((8, 8), 4)
    drop = attention_distances(model, probe, batch_size=2)
    renorm = attention_distances(model, probe, batch_size=2, cls="renormalise")
    assert drop.shape == (12, 3)
    np.testing.assert_allclose(drop, ref * 64 / 65, rtol=1e-5)
    np.testing.assert_allclose(renorm, ref, rtol=1e-5)


def test_streaming_weighs_every_image_once(vit) -> None:
    torch.manual_seed(1)
    x = torch.rand(5, 3, 32, 32)
    streamed = attention_distances(vit, TensorProbe(x), batch_size=2)  # minibatches 2, 2, 1
    with capture(vit, block_layers(vit), attention=True) as cap:
        vit(x)
        direct = np.stack([mean_attention_distance(cap.attention[n], (8, 8), 4, 1).numpy()
                           for n in block_layers(vit)])
    np.testing.assert_allclose(streamed, direct, rtol=1e-6)
    assert (streamed > 0).all() and (streamed < 4 * 7 * math.sqrt(2)).all()


def test_head_subsets_slide_from_local_to_global() -> None:
    d = np.array([30.0, 10.0, 20.0, 5.0])
    subsets = head_subsets(d, 2)
    assert [s.tolist() for s in subsets] == [[3, 1], [1, 2], [2, 0]]
    means = [d[s].mean() for s in subsets]
    assert means == sorted(means)
    assert [s.tolist() for s in head_subsets(d, 4)] == [[3, 1, 2, 0]]
    with pytest.raises(ValueError):
        head_subsets(d, 5)


def test_head_outputs_are_the_heads_the_projection_mixes(vit) -> None:
    torch.manual_seed(2)
    x = torch.rand(2, 3, 32, 32)
    heads = head_outputs(vit, 3, x)
    assert heads.shape == (2, 65, 3, 64)
    with capture(vit, ["net.blocks.3.attn"]) as cap:
        vit(x)
        attn_out = cap.outputs["net.blocks.3.attn"]
    proj = vit.net.blocks[3].attn.proj
    torch.testing.assert_close(proj(heads.flatten(2)), attn_out, rtol=1e-5, atol=1e-5)
    # Silencing head 1's values silences exactly head 1's slice.
    model = models.build("vit_cifar")
    model.load_state_dict(vit.state_dict())
    dim = model.net.embed_dim
    with torch.no_grad():
        model.net.blocks[3].attn.qkv.weight[2 * dim + 64: 2 * dim + 128] = 0
        model.net.blocks[3].attn.qkv.bias[2 * dim + 64: 2 * dim + 128] = 0
    silenced = head_outputs(model, 3, x)
    assert silenced[:, :, 1].abs().max() == 0
    assert silenced[:, :, 0].abs().max() > 0
    torch.testing.assert_close(silenced[:, :, [0, 2]], heads[:, :, [0, 2]])


def test_head_subset_features_select_heads_and_tokens() -> None:
    heads = torch.arange(2 * 5 * 3 * 4, dtype=torch.float32).reshape(2, 5, 3, 4)
    f = head_subset_features(heads, [2, 0])
    assert f.shape == (2, 5 * 2 * 4)
    torch.testing.assert_close(f[:, :4], heads[:, 0, 2])
    spatial = head_subset_features(heads, [1], num_prefix_tokens=1, tokens="spatial")
    torch.testing.assert_close(spatial, heads[:, 1:, 1].reshape(2, -1))
    mean = head_subset_features(heads, [1], num_prefix_tokens=1, tokens="mean")
    torch.testing.assert_close(mean, heads[:, 1:, 1].mean(1))


def test_head_subset_cka_is_one_for_all_heads_against_their_concatenation(vit) -> None:
    # attn.norm is the identity on the concatenated heads just before attn.proj, so "all
    # heads" is that layer exactly (CKA 1) and one head is only part of it (CKA < 1).
    torch.manual_seed(3)
    probe = TensorProbe(torch.rand(12, 3, 32, 32))
    twin = models.build("vit_cifar")
    twin.load_state_dict(vit.state_dict())
    cka = head_subset_cka(vit, 0, [[0, 1, 2], [1]], twin, ["net.blocks.0.attn.norm"], probe,
                          batch_size=6)
    assert cka.shape == (2, 1)
    assert cka[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert cka[1, 0] < 0.99
    # One module may play both parts: each runs in its own pass per minibatch.
    same = head_subset_cka(vit, 0, [[0, 1, 2], [1]], vit, ["net.blocks.0.attn.norm"], probe,
                           batch_size=6)
    np.testing.assert_allclose(same, cka, atol=1e-9)


@pytest.fixture(scope="module")
def paper_vit() -> network.ImageClassifier:
    torch.manual_seed(0)
    return models.build_paper("vit_base_patch32_224.augreg_in21k")


def test_paper_vit_runs_every_attention_analysis(paper_vit) -> None:
    x = torch.rand(2, 3, 224, 224)
    d = attention_distances(paper_vit, TensorProbe(x), batch_size=2)
    assert d.shape == (12, 12)
    assert np.isfinite(d).all() and (d > 0).all()
    assert (d < attention.distance_matrix((7, 7), 32).max().item()).all()
    heads = head_outputs(paper_vit, 0, x)
    assert heads.shape == (2, 50, 12, 64)
    assert head_subset_features(heads, head_subsets(d[0], 4)[0]).shape == (2, 50 * 4 * 64)
