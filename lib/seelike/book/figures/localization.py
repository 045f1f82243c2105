"""Localization: token-to-patch CKA maps, their summaries over depth, and linear probes'
accuracy per block, per position and for the CLS and pooled representations.

Every function takes the models to draw (``names``) with a label, a colour and a line style
each (``looks[name] = (label, colour, style)``), so that curves drawn on top of each other
stay visible; accuracies come per draw of the probe training set, ``(draws, blocks)``, drawn
as their mean with the 90 % band over draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from seelike import localization as loc
from seelike.book import plots
from seelike.layers import short_label
from seelike.structure import depth_fraction

__all__ = [
    "Look",
    "contrast_panel",
    "draw_curve",
    "draws_of",
    "position_probes",
    "probe_panels",
    "summary_panels",
    "token_grids",
]

#: A model's label, colour and line style (``plt.plot`` keywords).
Look = tuple[str, str, dict[str, object]]
Accuracies = Mapping[str, np.ndarray]


def token_grids(token_cka: Mapping[str, Mapping[str, np.ndarray]],
                rows: Sequence[tuple[str, int]], layers_of: Mapping[str, Sequence[str]],
                looks: Mapping[str, Look]) -> Figure:
    """One row per ``(model, layer index)``: the CKA maps of its corner, edge and interior
    token with every patch, the token's own patch outlined."""
    # The book's fixed [0, 1] CKA scale, with a square-root colour ramp: token-to-patch CKA
    # stays below about 0.5, where a linear ramp leaves every map nearly black.
    scale = PowerNorm(0.5, vmin=0, vmax=1)
    fig, axes = plt.subplots(len(rows), 3, figsize=(6.2, 2.2 * len(rows)), squeeze=False,
                             layout="constrained")
    for ax_row, (name, index) in zip(axes, rows, strict=True):
        result = token_cka[name]
        gh, gw = (int(v) for v in result["grid"][index])
        m = loc.layer_matrix(result, index)
        for ax, (where, (r, c)) in zip(ax_row, loc.example_tokens((gh, gw)).items(),
                                       strict=True):
            image = ax.imshow(m[r * gw + c].reshape(gh, gw), cmap=plots.CKA_CMAP,
                              norm=scale, interpolation="nearest")
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="white", lw=2))
            ax.set(xticks=[], yticks=[])
            ax.set_title(f"{looks[name][0]} {short_label(layers_of[name][index])}\n"
                         f"{where} token ({r}, {c})", fontsize="small")
    fig.colorbar(image, ax=axes, fraction=0.05, shrink=0.8, label="CKA(token, patch)")
    return fig


def summary_panels(summary: pd.DataFrame, names: Sequence[str],
                   looks: Mapping[str, Look]) -> Figure:
    """Top-1 and normalised own-patch rank over depth (``summary``: one row per model's
    layer, with ``model`` its label, ``depth``, ``top1`` and ``normalised_rank``)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.3, 3.4), layout="constrained")
    for name in names:
        label, colour, style = looks[name]
        part = summary[summary.model == label]
        for ax, column in zip(axes, ("top1", "normalised_rank"), strict=True):
            ax.plot(part.depth, part[column], color=colour, label=label, **style)
    axes[0].set(xlabel="depth (fraction of blocks)",
                ylabel="own patch most similar\n(fraction of tokens)", ylim=(-0.03, 1.03),
                xlim=(0, 1))
    axes[1].set(xlabel="depth (fraction of blocks)", ylabel="normalised own-patch rank",
                ylim=(-0.02, 0.6), xlim=(0, 1))
    axes[1].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[1].text(0.02, 0.51, "chance", color="grey", fontsize="x-small")
    axes[0].legend(handlelength=3, loc="center left")
    return fig


def contrast_panel(summary: pd.DataFrame, names: Sequence[str],
                   looks: Mapping[str, Look]) -> Figure:
    """The interior tokens' own-patch contrast over depth with its band (``contrast``,
    ``contrast_low``, ``contrast_high`` in ``summary``)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for name in names:
        label, colour, style = looks[name]
        part = summary[summary.model == label]
        ax.fill_between(part.depth, part.contrast_low, part.contrast_high, color=colour,
                        alpha=0.25, lw=0)
        ax.plot(part.depth, part.contrast, color=colour, label=label, **style)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="depth (fraction of blocks)", xlim=(0, 1),
           ylabel="CKA with own patch minus\nmean CKA with the others")
    ax.legend(handlelength=3)
    return fig


def draws_of(per_draw: Sequence[Accuracies],
             pick: Callable[[Accuracies], np.ndarray]) -> np.ndarray:
    """``pick(accuracies)`` of each draw, stacked: ``(draws, blocks)``."""
    return np.array([pick(a) for a in per_draw], dtype=float)


def draw_curve(ax: Axes, per_draw: Sequence[Accuracies],
               pick: Callable[[Accuracies], np.ndarray], colour: str, **style: object) -> None:
    """The mean over draws of ``pick(accuracies)`` over depth, with its band."""
    stack = draws_of(per_draw, pick)
    x = depth_fraction(stack.shape[1])
    plots.band(ax, x, stack, colour)
    ax.plot(x, stack.mean(axis=0), color=colour, **style)


def probe_panels(acc: Mapping[str, Sequence[Accuracies]], names: Sequence[str],
                 looks: Mapping[str, Look], *, vit: str, vit_gap: str, shots: int,
                 n_test: int) -> Figure:
    """(a) per-token probes, mean over positions, of every model; (b) the CLS and pooled
    probes of the CLS ViT (``vit``) and the GAP ViT (``vit_gap``)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.3, 4.6), sharey=True, layout="constrained")
    for name in names:
        label, colour, style = looks[name]
        draw_curve(axes[0], acc[name], lambda a: a["token_mean"], colour, label=label, **style)
    axes[0].set(title="(a) per-token probes,\nmean over positions",
                xlabel="depth (fraction of blocks)", ylabel="test accuracy", ylim=(0, 1))
    cls_colour, gap_colour = looks[vit][1], looks[vit_gap][1]
    # Line style, marker and marker fill differ, so curves that coincide stay visible.
    lines = [(vit, lambda a: a["cls"], "CLS model: CLS token", cls_colour, "-", "o", True),
             (vit, lambda a: a["gap"], "CLS model: GAP without CLS", cls_colour, "--", "s",
              True),
             (vit, lambda a: a["gap_all"], "CLS model: GAP with CLS", cls_colour, ":", "D",
              False),
             (vit_gap, lambda a: a["token"][:, 0], "GAP model: first token", gap_colour,
              "--", "^", True),
             (vit_gap, lambda a: a["gap"], "GAP model: GAP", gap_colour, "-.", "v", False)]
    for name, pick, text, colour, style, marker, filled in lines:
        draw_curve(axes[1], acc[name], pick, colour, ls=style, marker=marker, ms=5,
                   mfc=colour if filled else "white", label=text)
    axes[1].set(title="(b) CLS and pooled probes", xlabel="depth (fraction of blocks)")
    for ax in axes:
        ax.axhline(0.1, color="grey", lw=0.8)
        ax.text(0.99, 0.07, "chance", color="grey", fontsize="x-small", ha="right",
                va="top", transform=ax.get_yaxis_transform())
        ax.legend(handlelength=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)
    fig.suptitle(f"{shots}-shot linear probes on {n_test:,} test images", fontsize="medium")
    return fig


def position_probes(acc: Mapping[str, Sequence[Accuracies]], names: Sequence[str],
                    looks: Mapping[str, Look], shots: int) -> Figure:
    """Each model's per-position probe accuracy (mean over draws) at its first, middle and
    last probed layer, as a map over the token grid."""
    fig, axes = plt.subplots(len(names), 3, figsize=(6.4, 2.3 * len(names)),
                             layout="constrained", squeeze=False)
    for ax_row, name in zip(axes, names, strict=True):
        token = np.mean([a["token"] for a in acc[name]], axis=0)
        grid_of, layers = acc[name][0]["token_grid"], acc[name][0]["layers"]
        for ax, i in zip(ax_row, (0, len(layers) // 2, len(layers) - 1), strict=True):
            gh, gw = (int(v) for v in grid_of[i])
            image = ax.imshow(token[i, :gh * gw].reshape(gh, gw), cmap="viridis", vmin=0,
                              vmax=1, interpolation="nearest")
            ax.set(xticks=[], yticks=[])
            ax.set_title(f"{looks[name][0]}, {short_label(str(layers[i]))}", fontsize="small")
    fig.colorbar(image, ax=axes, fraction=0.05, shrink=0.6, label=f"{shots}-shot test accuracy")
    return fig
