"""The book's one visual language: figure size and style, one colour per model, captions.

Serves every figure of the book (Chapter 2's first heatmap; paper Figs 1, 2, 8, 12, H.1 in
the experiment chapters). Figures are drawn for the page: at most :data:`PAGE_WIDTH`
inches wide at 100 px per inch (the book's content column at a 1280-px window), rendered
at twice that resolution, and shown through :func:`show`, which glues them for a
``glue:figure`` directive with a number and a caption (myst-nb).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seelike.layers import short_label

CKA_CMAP = "magma"
#: inches: the content column of a page at a 1280-px window, at 100 px per inch
PAGE_WIDTH = 7.5
#: One colour per kind of model, the same in every chapter.
MODEL_COLOURS = {"vit": "#1f77b4", "vit_gap": "#9467bd", "vit_less": "#6baed6",
                 "vit_least": "#b2d3ea", "resnet": "#d62728", "resnet_alt": "#ff9896",
                 "mixer": "#2ca02c", "vit_noskip": "#8c564b"}


def model_colour(name: str) -> str:
    """The colour of zoo or paper model ``name`` by its kind (:data:`MODEL_COLOURS`).

    The kind is read from the name: the GAP ViT, the less-data ViTs (``_data30`` lighter
    than the full-data ViT, ``_data10`` lighter still), skip-removed ViTs, the external
    ResNet-56 and the paper preset's timm names (``resnetv2``/``bit`` are ResNets).
    """
    n = name.lower()
    if "mixer" in n:
        return MODEL_COLOURS["mixer"]
    if "akamaster" in n or "resnet56" in n:
        return MODEL_COLOURS["resnet_alt"]
    if "resnet" in n or "bit" in n:
        return MODEL_COLOURS["resnet"]
    if "noskip" in n:
        return MODEL_COLOURS["vit_noskip"]
    if "gap" in n or "rpn" in n:
        return MODEL_COLOURS["vit_gap"]
    match = re.search(r"_data(\d+)", n)
    if match or ".augreg_in1k" in n:
        return MODEL_COLOURS["vit_least" if match and int(match.group(1)) <= 10
                             else "vit_less"]
    return MODEL_COLOURS["vit"]


def setup() -> None:
    """The book's theme: seaborn's ticks style, fonts readable at page width, 2x images."""
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    sns.set_theme(context="notebook", style="ticks", font_scale=1.0)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "savefig.bbox": "tight",
                         "axes.titlesize": "medium", "figure.figsize": (PAGE_WIDTH, 3.6),
                         "legend.fontsize": "small", "legend.frameon": False})
    # Twice the pixels, shown at the drawn size: sharp on high-density screens and when zoomed.
    set_matplotlib_formats("retina")


def show(key: str, fig: Figure) -> None:
    """Glue ``fig`` as ``key`` for a ``glue:figure`` directive (number, caption) and close it.

    The figure then appears where the chapter's text places it, not under the code cell.
    """
    from myst_nb import glue

    if fig.get_figwidth() > PAGE_WIDTH + 0.01:
        raise ValueError(f"figure {key!r} is {fig.get_figwidth():.1f} in wide; the page is "
                         f"{PAGE_WIDTH} in: draw it narrower or split it")
    glue(key, fig, display=False)
    plt.close(fig)


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
