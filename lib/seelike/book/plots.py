"""The book's one visual language: theme, CKA heatmaps on a fixed [0, 1] scale, layer axes.

Serves every figure of the book (Chapter 2's first heatmap; paper Figs 1, 2, 8,
12, H.1 in the experiment chapters).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes

from seelike.layers import short_label

CKA_CMAP = "magma"
MODEL_COLOURS = {"vit": "#1f77b4", "resnet": "#d62728", "mixer": "#2ca02c"}


def setup() -> None:
    """Seaborn's paper context, sized for the book's column width."""
    sns.set_theme(context="notebook", style="ticks", font_scale=0.9)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight",
                         "axes.titlesize": "medium"})


def _ticks(labels: Sequence[str], max_ticks: int = 16) -> tuple[np.ndarray, list[str]]:
    """At most ``max_ticks`` evenly spaced tick positions, labelled with short layer names."""
    step = max(1, int(np.ceil(len(labels) / max_ticks)))
    pos = np.arange(0, len(labels), step)
    return pos, [short_label(labels[i]) for i in pos]


def cka_heatmap(ax: Axes, matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], *,
                title: str = "", xlabel: str = "", ylabel: str = "",
                colorbar: bool = True) -> None:
    """A CKA matrix, layer 0 at the bottom-left as in the paper, colour scale fixed to [0, 1]."""
    image = ax.imshow(matrix, origin="lower", cmap=CKA_CMAP, vmin=0.0, vmax=1.0,
                      interpolation="nearest", aspect="auto")
    for axis, labels, setter in ((ax.xaxis, cols, ax.set_xticks), (ax.yaxis, rows, ax.set_yticks)):
        pos, text = _ticks(labels)
        setter(pos, text)
        axis.set_tick_params(labelsize="x-small")
    ax.tick_params(axis="x", labelrotation=90)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03, label="CKA")


def block_ticks(ax: Axes, layer_names: Sequence[str], blocks: set[str] | Sequence[str],
                axis: str, max_labels: int = 14) -> None:
    """Ticks at block outputs only (every k-th if there are many), labelled ``b3`` / ``s2.1``.

    For heatmaps over the paper's layers (Figs 1, 2, H.1), where a tick per layer would
    be unreadable.
    """
    blocks = set(blocks)
    pos = [i for i, name in enumerate(layer_names) if name in blocks]
    pos = pos[:: max(1, int(np.ceil(len(pos) / max_labels)))]
    text = [short_label(layer_names[i]) for i in pos]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(pos, text)
