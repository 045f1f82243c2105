"""The zoo: each model's training curves from its manifest, and a few probe images with
the predictions of two models."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from seelike import weights, zoo
from seelike.book import plots

__all__ = ["predictions", "training_curves"]


def training_curves(names: Sequence[str]) -> Figure:
    """Test accuracy and training loss by step of each trained model, as its manifest
    records them. One colour per kind of model; the skip-removed ViTs share theirs and
    differ by line style, the others carry markers, so that close curves stay apart."""
    fig, axes = plt.subplots(1, 2, figsize=(plots.PAGE_WIDTH, 3.4))
    dashes = {1: "--", 7: ":", 10: "-."}  # by the block whose skips were removed
    markers = iter("os^vDP")
    for name in names:
        hist = pd.DataFrame(weights.read_manifest(name)["history"])
        ls = dashes.get(zoo.spec_of(name).noskip_block, "-")
        style = dict(color=plots.model_colour(name), ls=ls, lw=1.4, label=name, alpha=0.9,
                     marker=None if ls != "-" else next(markers), ms=4, markevery=2)
        axes[0].plot(hist.step, hist.test_acc, **style)
        axes[1].plot(hist.step, hist.train_loss, **style)
    axes[0].set(xlabel="optimisation step", ylabel="test accuracy (%)", title="test accuracy")
    axes[1].set(xlabel="optimisation step", ylabel="training loss (label-smoothed)",
                title="training loss")
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               handlelength=3)
    return fig


def predictions(images: np.ndarray, titles: Sequence[str]) -> Figure:
    """Eight images ``(8, H, W, 3)`` in two rows, each titled (truth and predictions)."""
    fig, axes = plt.subplots(2, 4, figsize=(plots.PAGE_WIDTH, 5.0))
    for ax, img, title in zip(axes.flat, images, titles, strict=True):
        ax.imshow(img)
        ax.set_title(title, fontsize="small")
        ax.axis("off")
    fig.tight_layout()
    return fig
