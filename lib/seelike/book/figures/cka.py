"""CKA itself: how its two HSIC estimators behave on independent features as the number of
examples grows, how a minibatch estimate converges to the full-batch value, and a first
layer-by-layer heatmap."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from seelike.book import plots
from seelike.layers import short_label

__all__ = ["estimator_bias", "first_heatmap", "minibatch_convergence"]


def estimator_bias(summary: pd.DataFrame, ns: Sequence[int], *, width: int,
                   draws: int) -> Figure:
    """Mean ± sd of CKA by number of examples for each estimator (``summary``: one row
    per ``estimator`` and ``n``, with ``mean`` and ``std``)."""
    fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 3.4))
    # The two estimators' points are set slightly apart in n, so that neither hides the other.
    styles = {"biased HSIC₀": dict(color="C1", marker="o", ls="-", shift=0.96),
              "unbiased HSIC₁": dict(color="C0", marker="s", ls="--", shift=1.04)}
    for est, grp in summary.groupby("estimator"):
        st = styles[est]
        ax.errorbar(grp.n * st["shift"], grp["mean"], yerr=grp["std"], marker=st["marker"],
                    ls=st["ls"], color=st["color"], capsize=3, label=est)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [f"{n:g}" for n in ns])
    ax.set(xlabel="examples n", ylabel="CKA of independent features",
           title=f"independent Gaussian features, {width} each (mean ± sd of {draws} draws)")
    ax.legend(handlelength=3)
    fig.tight_layout()
    return fig


def minibatch_convergence(curve: np.ndarray, full: np.ndarray,
                          pairs: Sequence[tuple[str, str]], batch: int) -> Figure:
    """The running minibatch estimate of each layer pair (``curve``: ``(minibatches,
    pairs)``), translucent, beside its full-batch value (dashed), so both stay visible."""
    fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 3.4))
    for j, ((la, lb), marker) in enumerate(zip(pairs, "os^D", strict=False)):
        label = f"{short_label(la)} vs {short_label(lb)}"
        ax.plot(np.arange(1, len(curve) + 1), curve[:, j], marker=marker, color=f"C{j}",
                alpha=0.55, label=f"{label}: minibatch")
        ax.axhline(full[j], color=f"C{j}", ls="--", lw=1.5, zorder=3,
                   label=f"{label}: full batch")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set(xlabel=f"minibatches of {batch} accumulated", ylabel="CKA (unbiased)", ylim=(0, 1))
    ax.legend(handlelength=3, loc="lower right")
    fig.tight_layout()
    return fig


def first_heatmap(matrix: np.ndarray, layers: Sequence[str], title: str) -> Figure:
    """One model's CKA with itself over ``layers``."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    plots.cka_heatmap(ax, matrix, layers, layers, title=title, xlabel="layer", ylabel="layer")
    fig.tight_layout()
    return fig
