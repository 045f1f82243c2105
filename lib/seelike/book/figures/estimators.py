"""CKA by minibatch size and HSIC estimator: the joint heatmaps, the mean similarity of each
block of layer pairs, and any statistic of the matrices, each against the minibatch size.

Values come per probe set (axis 0); a curve is their mean and its error bar the 90 % band
the claims' verdicts read (none with a single probe set). Estimators are not models, so
they get colours outside the model palette and a line style each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seelike.book import plots
from seelike.book.claims.declare import Declaration
from seelike.book.claims.verdict import percentile_band

__all__ = ["STYLE", "error_bars", "heatmaps", "similarity_panels", "statistic_panels"]

#: Where the two estimators coincide, the biased line (dashed, small squares) lies on the
#: unbiased one (solid, large circles), so both stay visible.
STYLE: dict[str, dict[str, object]] = {
    "biased": dict(color="#ff7f0e", ls="--", marker="s", ms=3.5, zorder=3),
    "unbiased": dict(color="#333333", ls="-", marker="o", ms=6.5, zorder=2)}


def error_bars(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The mean over probe sets (axis 0) and errorbar's ``yerr``: the 90 % band (none with a
    single probe set)."""
    draws = np.asarray(draws, dtype=float)
    centre = draws.mean(axis=0)
    if len(draws) < 2:
        return centre, None
    low, high = percentile_band(draws)
    return centre, np.stack([centre - low, high - centre])


def _size_axis(ax: Axes, batches: Sequence[int], **ticks: object) -> None:
    ax.set(xscale="log")
    ax.set_xticks(batches, [f"{b:,}" for b in batches], fontsize="x-small", **ticks)
    ax.minorticks_off()


def heatmaps(mean: Mapping[str, np.ndarray], batches: Sequence[int], ticks: Sequence[str], *,
             split: int, axis_label: str, full_batch: bool) -> Figure:
    """The probe-set mean of each estimator's joint matrix at the smallest and the largest
    minibatch size, a white line after the first model's ``split`` layers."""
    fig, axes = plt.subplots(2, 2, figsize=(7.3, 7.4), layout="constrained")
    for row, est in enumerate(("unbiased", "biased")):
        for col, i in enumerate((0, len(batches) - 1)):
            ax = axes[row, col]
            size = f"minibatch {batches[i]:,}" + (" = full batch" if full_batch and i else "")
            plots.cka_heatmap(ax, mean[est][i], ticks, ticks, title=f"{est} HSIC,\n{size}",
                              colorbar=col == 1)
            ax.axhline(split - 0.5, color="white", lw=1.2)
            ax.axvline(split - 0.5, color="white", lw=1.2)
    for ax in axes[:, 0]:
        ax.set_ylabel(axis_label, fontsize="small")
    for ax in axes[1]:
        ax.set_xlabel(axis_label, fontsize="small")
    return fig


def similarity_panels(values: Mapping[tuple[str, str], np.ndarray], batches: Sequence[int],
                      titles: Mapping[str, str], reference: Mapping[str, float]) -> Figure:
    """One panel per block of layer pairs: ``values[(estimator, part)]`` ``(repeats,
    sizes)`` against the minibatch size, with the unbiased mean at the largest size dotted."""
    parts = list(dict.fromkeys(part for _, part in values))
    fig, axes = plt.subplots(1, len(parts), figsize=(7.3, 3.3), sharey=True,
                             layout="constrained")
    for ax, part in zip(axes, parts, strict=True):
        for est in ("biased", "unbiased"):
            centre, yerr = error_bars(values[(est, part)])
            ax.errorbar(batches, centre, yerr=yerr, capsize=3, label=f"{est} HSIC",
                        **STYLE[est])
        ax.axhline(reference[part], color="#333333", ls=":", lw=0.9)
        ax.set(xlabel="minibatch size", ylim=(0, 1))
        ax.set_title(titles.get(part, part).replace(" × ", " ×\n"), fontsize="small")
        _size_axis(ax, batches, rotation=90)
    axes[0].set_ylabel("mean CKA,\ndistinct layer pairs")
    axes[0].legend(handlelength=3, loc="lower left")
    return fig


def statistic_panels(values: Mapping[str, np.ndarray], batches: Sequence[int],
                     names: Sequence[str], declarations: Sequence[Declaration],
                     ylabels: Sequence[str]) -> Figure:
    """One panel per statistic ``j``: ``values[est][:, :, j]`` ``(repeats, sizes)`` against
    the minibatch size, with the declaration's pass (and partly) bar."""
    fig, axes = plt.subplots(4, 2, figsize=(7.3, 10.0), layout="constrained")
    for j, (ax, name, decl) in enumerate(zip(axes.flat, names, declarations, strict=True)):
        for est in ("biased", "unbiased"):
            centre, yerr = error_bars(values[est][:, :, j])
            ax.errorbar(batches, centre, yerr=yerr, capsize=3, label=f"{est} HSIC",
                        **STYLE[est])
        ax.axhline(decl.pass_bar, color="grey", lw=0.9)
        if decl.partly_bar is not None:
            ax.axhline(decl.partly_bar, color="grey", lw=0.9, ls=":")
        ax.set(ylabel=ylabels[j])
        ax.set_title(f"{name} (pass {decl.threshold})", fontsize="small")
        ax.yaxis.label.set_size("x-small")
        _size_axis(ax, batches)
        ax.tick_params(axis="y", labelsize="x-small")
    for ax in axes[-1]:
        ax.set_xlabel("minibatch size")
    axes[0, 0].legend(handlelength=3, fontsize="x-small")
    return fig
