"""An MLP-Mixer beside a ViT and a ResNet: its layer-by-layer CKA with its two-block split,
its CKA with each of the other models, and each Mixer layer's best match in each.

Layers are each model's own (``layers[model]``), ticked at block outputs (``blocks``);
bootstrap draws over the probe images add a leading axis and are drawn as 90 % bands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from seelike.book import plots
from seelike.structure import depth_fraction

__all__ = ["best_match", "cross_heatmaps", "within_heatmap"]


def within_heatmap(matrix: np.ndarray, layers: Sequence[str], blocks: set[str], cut: int,
                   name: str) -> Figure:
    """The Mixer's CKA with itself, a dashed white line where its two blocks meet."""
    fig, ax = plt.subplots(figsize=(5.4, 4.6), layout="constrained")
    plots.cka_heatmap(ax, matrix, layers, layers, title=f"{name} ({len(layers)} layers)",
                      xlabel=f"{name} layer", ylabel=f"{name} layer")
    plots.block_ticks(ax, layers, blocks, "x", max_labels=12)
    plots.block_ticks(ax, layers, blocks, "y", max_labels=12)
    for line in (ax.axvline, ax.axhline):
        line(cut - 0.5, color="white", lw=1, ls="--")
    return fig


def cross_heatmaps(matrices: Mapping[str, np.ndarray], mixer: str,
                   layers: Mapping[str, Sequence[str]], blocks: Mapping[str, set[str]]
                   ) -> Figure:
    """The Mixer (rows) against each other model (``matrices[model]``), side by side, one
    colour bar on the last."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(7.3, 4.0), layout="constrained")
    for j, (ax, (other, matrix)) in enumerate(zip(axes, matrices.items(), strict=True)):
        last = j == len(matrices) - 1
        plots.cka_heatmap(ax, matrix, layers[mixer], layers[other],
                          title=f"{mixer} × {other}", xlabel=f"{other} layer",
                          ylabel=f"{mixer} layer" if j == 0 else "", colorbar=last)
        plots.block_ticks(ax, layers[other], blocks[other], "x", max_labels=10)
        plots.block_ticks(ax, layers[mixer], blocks[mixer], "y", max_labels=12)
    return fig


def best_match(best: Mapping[str, np.ndarray], draws: Mapping[str, np.ndarray]) -> Figure:
    """Each Mixer layer's highest CKA with any layer of each other model (``best[model]``),
    over depth, with its band over the draws."""
    fig, ax = plt.subplots(figsize=(6.2, 3.4), layout="constrained")
    for (other, values), style, marker in zip(best.items(), ("-", "--", ":"), "os^",
                                              strict=False):
        depth = depth_fraction(len(values))
        colour = plots.model_colour(other)
        plots.band(ax, depth, draws[other], colour)
        ax.plot(depth, values, ls=style, marker=marker, ms=4, color=colour,
                label=f"best match in {other}")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="Mixer layer (fraction of depth)",
           ylabel="highest CKA with\nany layer of the other model")
    ax.legend(handlelength=3, loc="lower left")
    return fig
