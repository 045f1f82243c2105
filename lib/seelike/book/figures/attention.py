"""Mean attention distances: each head of each block, their less-data and seed twins, and
the CKA of head subsets ordered from local to global.

Distances are in pixels, ``(blocks, heads)``; ``uniform`` is the mean distance of uniform
attention over the patch grid (:func:`seelike.attention.uniform_attention_distance`), drawn
with its half, the local / global cut. Bands are the 90 % band of the draws along axis 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seelike.book import plots
from seelike.book.claims.verdict import percentile_band
from seelike.layers import short_label

__all__ = ["distance_panels", "less_data_panels", "reference_lines", "subsets_panel"]

_LEGEND = dict(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, handlelength=3)


def reference_lines(ax: Axes, uniform: float, *, with_labels: bool = True) -> None:
    """Uniform attention's distance (dashed) and the local / global cut at half of it."""
    ax.axhline(uniform, color="grey", ls="--", lw=1,
               label="uniform attention U" if with_labels else None)
    ax.axhline(uniform / 2, color="grey", ls=":", lw=1.2,
               label="local / global cut U/2" if with_labels else None)


def _top(uniform: float, *distances: np.ndarray) -> float:
    return max(uniform, *(float(np.max(d)) for d in distances)) * 1.12


def distance_panels(drop: np.ndarray, renormalise: np.ndarray, draws: np.ndarray,
                    uniform: float, *, model: str, colour: str) -> Figure:
    """Top: the heads of the lowest and highest blocks, sorted, with their bands; bottom:
    every head of every block under both treatments of the CLS token's attention."""
    n_blocks, n_heads = drop.shape
    shown = sorted({0, min(1, n_blocks - 1), max(n_blocks - 2, 0), n_blocks - 1})
    top = _top(uniform, renormalise, drop)
    band = percentile_band(draws)                                    # (2, blocks, heads)
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(7.5, 6.8), layout="constrained")
    markers = dict(zip(shown, "osv^", strict=False))
    colours = dict(zip(shown, plt.cm.viridis(np.linspace(0.05, 0.8, len(shown))), strict=True))
    for j, b in enumerate(shown):  # small offsets keep overlapping blocks visible
        order = np.argsort(drop[b])
        ax0.errorbar(np.arange(n_heads) + 0.06 * (j - (len(shown) - 1) / 2), drop[b][order],
                     yerr=np.abs(band[:, b][:, order] - drop[b][order]), capsize=2,
                     marker=markers[b], ms=6, lw=1, color=colours[b], label=f"block {b}")
    reference_lines(ax0, uniform)
    ax0.set(xlabel="head (sorted by distance)", ylabel="mean attention\ndistance (px)",
            ylim=(0, top), xticks=range(n_heads), title="lowest and highest blocks")
    ax0.legend(**_LEGEND)
    blocks = np.arange(n_blocks)
    for h in range(n_heads):
        ax1.plot(blocks - 0.12, drop[:, h], "o", ms=5, color=colour,
                 label="cls = drop" if h == 0 else None)
        ax1.plot(blocks + 0.12, renormalise[:, h], "o", ms=5, mfc="none", color=colour,
                 alpha=0.7, label="cls = renormalise" if h == 0 else None)
    reference_lines(ax1, uniform)
    ax1.set(xlabel="block", ylabel="mean attention\ndistance (px)", ylim=(0, top),
            xticks=blocks, title=f"{model}: every head of every block")
    ax1.legend(**_LEGEND)
    return fig


def less_data_panels(distances: Mapping[str, np.ndarray], draws: Mapping[str, np.ndarray],
                     labels: Mapping[str, str], uniform: float, *,
                     top_of: Sequence[np.ndarray]) -> Figure:
    """Top: the heads of the lowest two blocks of each model, sorted; bottom: each block's
    mean over its heads with its band. ``top_of``: the arrays whose maximum sets the
    y range, so that this figure shares the scale of :func:`distance_panels`."""
    first = next(iter(distances.values()))
    blocks = np.arange(len(first))
    top = _top(uniform, *top_of)
    marks = dict(zip(distances, "os^", strict=False))
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(7.5, 6.8), layout="constrained")
    for name, d in distances.items():
        colour = plots.model_colour(name)
        ax0.plot(np.arange(d[:2].size), np.sort(d[:2].ravel()), marker=marks[name], ms=6,
                 lw=1, color=colour, mec="k", mew=0.4, label=labels[name])
        plots.band(ax1, blocks, draws[name].mean(axis=2), colour, alpha=0.25)
        ax1.plot(blocks, d.mean(1), marker=marks[name], ms=6, lw=1.2, color=colour, mec="k",
                 mew=0.4)  # legend: from ax0
    for ax in (ax0, ax1):
        reference_lines(ax, uniform, with_labels=ax is ax0)
        ax.set(ylim=(0, top), ylabel="mean attention\ndistance (px)")
    ax0.set(xlabel="head of blocks 0-1 (sorted)", title="lowest two blocks",
            xticks=range(first[:2].size))
    ax1.set(xlabel="block", xticks=blocks,
            title="mean over the heads of each block (band: 90 % over resampled images)")
    fig.legend(loc="outside lower center", ncol=2, handlelength=3)
    return fig


def subsets_panel(subset_distance: np.ndarray, cka: np.ndarray, draws: np.ndarray,
                  layers: Sequence[str], uniform: float, *, title: str,
                  legend_title: str) -> Figure:
    """CKA of each head subset (by its mean distance) with each of ``layers``, bands from
    ``draws`` ``(draws, subsets, layers)``."""
    band = percentile_band(draws)                                   # (2, subsets, layers)
    fig, ax = plt.subplots(figsize=(7.5, 4.0), layout="constrained")
    reds = plt.cm.Reds(np.linspace(0.45, 0.95, len(layers)))
    for j, name in enumerate(layers):
        ax.errorbar(subset_distance, cka[:, j], yerr=np.abs(band[:, :, j] - cka[:, j]),
                    capsize=2, marker="osD^vP*X"[j % 8], ms=5, color=reds[j], mec="k",
                    mew=0.3, label=short_label(name))
    ax.axvline(uniform / 2, color="grey", ls=":", lw=1.2, label="local / global cut U/2")
    ax.set(xlabel="mean attention distance of the head subset (px)",
           ylabel="CKA with ResNet layer", title=title)
    ax.set_xlim(min(uniform / 2, subset_distance.min()) - 1,
                max(uniform, subset_distance.max()) + 1)
    ax.legend(title=legend_title, **_LEGEND)
    return fig
