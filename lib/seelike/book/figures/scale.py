"""Less data: the CKA of each block of a ViT trained on less data with the same block of the
full-data ViT, their block-by-block heatmaps, and each model's probe accuracy over depth.

Bands are the 90 % band of the draws along axis 0 (resampled probe images for CKA, draws of
the probe training set for accuracy); a preset without less-data ViTs gets empty panels
that say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from seelike.book import plots
from seelike.layers import layer_names
from seelike.structure import depth_fraction

__all__ = ["MARKERS", "cross_heatmaps", "diagonal", "probe_curves"]

MARKERS = ["o", "s", "^", "D", "v"]


def diagonal(cross: Mapping[str, Mapping[str, np.ndarray]], floor: np.ndarray | None,
             labels: Mapping[str, str], *, blocks: int, vit: str, missing: str) -> Figure:
    """Each less-data ViT's CKA with the same block of ``vit`` (``cross[name]``: ``cka``,
    ``boot``), and a second seed of ``vit`` as the floor, over its ``blocks``."""
    depth = np.arange(blocks)
    markers = dict(zip(cross, MARKERS, strict=False))
    fig, ax = plt.subplots(figsize=(6.0, 3.4), layout="constrained")
    for name, d in cross.items():
        colour = plots.model_colour(name)
        plots.band(ax, depth, np.diagonal(d["boot"], axis1=1, axis2=2), colour, alpha=0.25)
        ax.plot(depth, np.diag(d["cka"]), marker=markers[name], ms=5, color=colour,
                label=labels[name])
    if floor is not None:
        ax.plot(depth, np.diag(floor), color="0.35", ls="--", lw=1.2,
                label=labels["floor"])
    ax.set(xlabel=f"block of {vit}", ylabel="CKA with the same block\nof the full-data ViT",
           ylim=(0, 1.02))
    ax.set_xticks(depth, [str(d) for d in depth])
    if cross:
        ax.legend(handlelength=3, loc="lower left")
    else:
        ax.text(0.5, 0.5, missing, ha="center", transform=ax.transAxes)
    return fig


def cross_heatmaps(cross: Mapping[str, np.ndarray], vit: str, *, missing: str) -> Figure:
    """Each less-data ViT's blocks against ``vit``'s, side by side, one colour bar."""
    names = list(cross)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(7.3, 3.8),
                             layout="constrained", squeeze=False)
    for ax, name in zip(axes[0], names, strict=False):
        plots.cka_heatmap(ax, cross[name], layer_names(name, "blocks"),
                          layer_names(vit, "blocks"), title=f"{name} × {vit}",
                          xlabel=f"{vit} block", ylabel=f"{name} block",
                          colorbar=name == names[-1])
    if not names:
        axes[0, 0].set_axis_off()
        axes[0, 0].text(0.5, 0.5, missing, ha="center", transform=axes[0, 0].transAxes)
    return fig


def probe_curves(acc: Mapping[str, Sequence[Mapping[str, np.ndarray]]], names: Sequence[str],
                 labels: Mapping[str, str], shots: int) -> Figure:
    """Each model's pooled-representation probe accuracy over depth: the mean over draws
    of the probe training set, with its band."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    for name, marker in zip(names, MARKERS, strict=False):
        stack = np.array([a["gap"] for a in acc[name]])
        x, colour = depth_fraction(stack.shape[1]), plots.model_colour(name)
        plots.band(ax, x, stack, colour)
        ax.plot(x, stack.mean(axis=0), marker=marker, ms=4, color=colour,
                label=labels.get(name, name))
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="block (fraction of depth)",
           ylabel=f"{shots}-shot probe accuracy\n(pooled representation)")
    ax.legend(handlelength=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig
