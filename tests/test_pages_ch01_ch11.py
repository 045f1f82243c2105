"""Chapters 1 and 11's page modules and figures: block shapes read off a ViT and a ResNet
with hooks, the models' sizes, the scorecard's numbers on the committed results and on a
preset that was not run, and every figure at page width."""

from __future__ import annotations

import numpy as np
import torch
from figure_checks import fits_page

from seelike import layers, models
from seelike.book import scorecard, tally
from seelike.book.claims.verdict import VERDICTS
from seelike.book.figures import architecture
from seelike.book.pages import ch01, ch11
from seelike.book.presets import PRESETS

P = PRESETS["smoke"]


def test_block_shapes_are_tokens_for_a_vit_and_feature_maps_for_a_resnet() -> None:
    vit, resnet = models.load(P.vit), models.load(P.resnet)
    x = torch.zeros(1, 3, P.image_size, P.image_size)
    positions, widths = ch01.block_shapes(vit, x)
    grid = vit.net.patch_embed.grid_size
    assert set(positions) == {grid[0] * grid[1] + vit.num_prefix_tokens}
    assert set(widths) == {vit.net.embed_dim}
    positions, widths = ch01.block_shapes(resnet, x)
    assert positions[0] > positions[-1] and widths[0] < widths[-1]  # down-sampled, widened
    table = ch01.shape_table(resnet, P.resnet, x)
    assert set(layers.block_layers(resnet)) <= set(table.name)
    counts = ch01.counts([(P.vit, vit), (P.resnet, resnet)])
    assert list(counts.family) == ["vit", "resnet"]
    assert counts.parameters[0] == sum(p.numel() for p in vit.parameters())


def test_the_scorecard_numbers_count_the_committed_sentences() -> None:
    current = tally.read_committed("cifar")
    card = scorecard.scorecard([current])
    n = ch11.numbers(current, tally.counts([current]), card)
    assert sum(n[v.replace(" ", "_")] for v in VERDICTS) == n["total"] > 0
    assert n["clauses"] >= n["total"] and n["chapters"].startswith("4")
    _, said = ch11.changed("cifar", current)
    assert said.startswith("none to compare")  # committed results are not this build's


def test_a_preset_not_run_counts_nothing() -> None:
    current = tally.read_committed("no-such-preset")
    n = ch11.numbers(current, tally.counts([current]), scorecard.scorecard([current]))
    assert n["total"] == 0 and n["chapters"] == "no chapter"
    assert all(n[v.replace(" ", "_")] == 0 for v in VERDICTS)



def test_the_figures_fit_the_page() -> None:
    fits_page(architecture.patches(np.zeros((32, 32, 3)), 4, (8, 8)))
    fits_page(architecture.depth_profile({P.vit: ([65] * 6, [192] * 6),
                                          P.resnet: ([1024, 256, 64], [16, 32, 64])}))
