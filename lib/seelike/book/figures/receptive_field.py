"""Effective receptive fields: maps after and before the residual, their spread over depth
and the share of their mass on the centre patch.

Maps are normalised to a maximum of 1; per-image moments are ``(layers, images, 5)`` as
:func:`seelike.receptive_field.erf_moments` returns them, summed over images for the
curve and resampled by image for its band.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from seelike import receptive_field as rf
from seelike import resample
from seelike.book import plots
from seelike.layers import short_label

__all__ = ["STYLE", "centre_panels", "curve_draws", "map_grid", "spread_panel"]

#: After the residual: solid line, filled markers; before it: dashed line, hollow markers.
STYLE: dict[str, dict[str, object]] = {"post": dict(ls="-", mfc=None),
                                       "pre": dict(ls="--", mfc="white")}


def curve_draws(moments: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
                weights: np.ndarray) -> np.ndarray:
    """``statistic`` of per-image ``moments`` ``(layers, images, 5)`` on each resampling
    of the images (rows of ``weights``)."""
    return statistic(resample.weighted_means(np.moveaxis(moments, 1, 0), weights))


def map_grid(maps: Mapping[str, Mapping[str, np.ndarray]], cols: Sequence[str],
             family: str) -> Figure:
    """Two rows of maps (``maps["post"]``, ``maps["pre"]``: layer → map), one column per
    layer of ``cols``; a layer without a map in a row is marked "no residual"."""
    ncol = max(len(cols), 4)
    fig, axes = plt.subplots(2, ncol, figsize=(min(plots.PAGE_WIDTH, 1.3 * ncol + 1.3), 3.2),
                             layout="constrained", squeeze=False)
    for r, where in enumerate(("post", "pre")):
        for c, ax in enumerate(axes[r]):
            ax.set(xticks=[], yticks=[])
            name = cols[c] if c < len(cols) else None
            if name is None or name not in maps[where]:
                ax.axis("off")
                if name is not None:
                    ax.text(0.5, 0.5, f"{short_label(name)}\nno residual", ha="center",
                            va="center", fontsize="small", transform=ax.transAxes)
                if c == 0:  # axis("off") hides the y label: write the row's name beside it
                    ax.text(-0.08, 0.5, f"{family}\n{where}-residual", rotation=90,
                            ha="right", va="center", transform=ax.transAxes)
                continue
            image = ax.imshow(maps[where][name], cmap="magma", vmin=0, vmax=1)
            ax.set_title(short_label(name), fontsize="small")
            if c == 0:
                ax.set_ylabel(f"{family}\n{where}-residual")
    fig.colorbar(image, ax=axes, shrink=0.8, label="|∂ centre / ∂ input|\n(max = 1)")
    return fig


def spread_panel(series: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]],
                 colours: Mapping[str, str], labels: Mapping[str, str], weights: np.ndarray,
                 uniform_spread: float, middle: tuple[float, float]) -> Figure:
    """The ERF spread over depth: ``series[(model, where)] = (depth, moments)``, one curve
    each with its band, beside the middle third of depth and a uniform map's spread."""
    fig, ax = plt.subplots(figsize=(7.5, 4.0), layout="constrained")
    ax.axvspan(*middle, color="0.92", lw=0, label="middle third of depth")
    for (model, where), (depth, x) in series.items():
        plots.band(ax, depth, curve_draws(x, rf.spread, weights), colours[model])
        ax.plot(depth, rf.spread(x.sum(axis=1)), marker="o" if model == "vit" else "s", ms=5,
                mew=1.2, color=colours[model], **STYLE[where],
                label=f"{labels[model]}, {where}-residual")
    ax.axhline(uniform_spread, color="grey", lw=1, ls=":", label="uniform over the image")
    ax.set(xlabel="depth (fraction of blocks; ResNet stem at 0)", ylabel="ERF spread (px)",
           ylim=(0, uniform_spread * 1.1), title="width of the receptive field")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, handlelength=3)
    return fig


def centre_panels(sublayers: Mapping[str, Mapping[str, np.ndarray]], colour: str,
                  weights: np.ndarray, patches: int, bar: float) -> Figure:
    """The share of ERF mass on the centre patch over ViT blocks, one panel per sublayer
    (``sublayers[name][where]``: per-image moments), with a uniform map's share and the
    claims' "strong dependence" ``bar`` (a multiple of it) on the first panel."""
    fig, axes = plt.subplots(1, len(sublayers), figsize=(7.5, 3.6), layout="constrained",
                             sharey=True)
    for ax, (sub, by_where) in zip(axes, sublayers.items(), strict=True):
        n_blocks = next(iter(by_where.values())).shape[0]
        for where, x in by_where.items():
            plots.band(ax, np.arange(n_blocks), curve_draws(x, rf.centre_share, weights),
                       colour)
            ax.plot(np.arange(n_blocks), rf.centre_share(x.sum(axis=1)), marker="o", ms=5,
                    mew=1.2, color=colour, **STYLE[where], label=f"{where}-residual")
        ax.axhline(1 / patches, color="grey", lw=1, ls=":", label="uniform map (1 / patches)")
        ax.set(xlabel=f"ViT block ({sub} sublayer)", ylim=(0, 1), title=f"{sub} sublayers",
               xticks=range(0, n_blocks, max(1, n_blocks // 6)))
    axes[0].axhline(bar / patches, color="k", lw=1, ls="-.", label="'strong dependence' bar")
    axes[0].set_ylabel("share of ERF mass\non centre patch")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
               handlelength=3)
    return fig
