"""Representation structure: layer-by-layer CKA heatmaps of one model, of two models, of two
training seeds of one model, and the best-matching layer of one model for each of another's.

Heatmaps use the book's fixed [0, 1] colour scale, layer 0 at the bottom left, and ticks at
block outputs only (``blocks``), so that a model with hundreds of layers stays readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seelike import structure
from seelike.book import plots

__all__ = ["best_match", "heatmap", "heatmaps", "note", "seed_heatmaps"]


def heatmap(ax: Axes, matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str],
            row_blocks: set[str], col_blocks: set[str], *, title: str, xlabel: str,
            ylabel: str, colorbar: bool = True, max_labels: int = 14) -> None:
    """One CKA matrix with ticks at the block outputs of its rows' and columns' model."""
    plots.cka_heatmap(ax, matrix, rows, cols, title=title, xlabel=xlabel, ylabel=ylabel,
                      colorbar=colorbar)
    plots.block_ticks(ax, cols, col_blocks, "x", max_labels=max_labels)
    plots.block_ticks(ax, rows, row_blocks, "y", max_labels=max_labels)


def heatmaps(panels: Sequence[tuple[np.ndarray, str, str, str]],
             layers: Mapping[str, Sequence[str]], blocks: Mapping[str, set[str]]) -> Figure:
    """One heatmap a row: ``(matrix, row model, column model, title)`` each, axes labelled
    with the models' names."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.5, 5.5 * len(panels)),
                             layout="constrained", squeeze=False)
    for ax, (matrix, a, b, title) in zip(axes[:, 0], panels, strict=True):
        heatmap(ax, matrix, layers[a], layers[b], blocks[a], blocks[b], title=title,
                xlabel=f"{b} layer", ylabel=f"{a} layer")
    return fig


def best_match(cross: Mapping[str, np.ndarray]) -> Figure:
    """For each CNN (``cross[cnn]``: the ViT × CNN matrix), the depth of the ViT layer most
    similar to each of its layers, beside the paper's bands; the first CNN drawn on top."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    ax.axhspan(0, 0.25, xmin=0, xmax=0.5, color="0.5", alpha=0.25, lw=0,
               label="paper: lowest quarter of the ViT")
    ax.axhspan(0.25, 7 / 12, xmin=0.5, xmax=1, color="#e6ab02", alpha=0.25, lw=0,
               label="paper: the next third")
    for j, (cnn, m) in enumerate(cross.items()):
        best = structure.best_match_fraction(m)
        ax.plot(structure.depth_fraction(len(best)), best, "-", marker="os^D"[j % 4],
                ms=6 if j == 0 else 4, lw=1.5 if j == 0 else 1, color=plots.model_colour(cnn),
                mec="k", mew=0.3, zorder=3 + len(cross) - j, label=cnn)
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="ResNet layer (fraction of depth)",
           ylabel="best-matching ViT layer\n(fraction of depth)")
    fig.legend(loc="outside lower center", ncol=2, handlelength=3)
    return fig


def seed_heatmaps(floors: Mapping[str, np.ndarray], layers: Mapping[str, Sequence[str]],
                  blocks: Mapping[str, set[str]]) -> Figure:
    """Each model's seed 0 against its seed 1, side by side, one colour bar."""
    fig, axes = plt.subplots(1, len(floors), figsize=(plots.PAGE_WIDTH, 3.9),
                             layout="constrained", squeeze=False)
    for ax, (name, m) in zip(axes[0], floors.items(), strict=True):
        heatmap(ax, m, layers[name], layers[name], blocks[name], blocks[name],
                title=f"{name} × seed 1", xlabel="seed 1 layer", ylabel="seed 0 layer",
                colorbar=False, max_labels=6)
    fig.colorbar(axes[0, 0].images[0], ax=axes, shrink=0.7, label="CKA")
    return fig


def note(text: str) -> Figure:
    """A page-wide strip saying why a figure is empty on this preset."""
    fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 1.2), layout="constrained")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.axis("off")
    return fig
