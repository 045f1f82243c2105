"""The book's one visual language: figure size and style, each model's declared colour, captions.

Serves every figure of the book (Chapter 2's first heatmap; paper Figs 1, 2, 8, 12, H.1 in
the experiment chapters). Figures are drawn for the page: at most :data:`PAGE_WIDTH`
inches wide at 100 px per inch (the book's content column at a 1280-px window), rendered
at twice that resolution, and shown through :func:`show`, which glues them for a
``glue:figure`` directive with a number and a caption (myst-nb).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seelike import models
from seelike.book.claims.verdict import percentile_band
from seelike.layers import short_label

__all__ = ["CKA_CMAP", "MIN_TEXT_PT", "PAGE_WIDTH", "band", "block_ticks", "check", "cka_heatmap",
           "model_colour", "setup", "show", "smallest_text"]

CKA_CMAP = "magma"
#: inches: the content column of a page at a 1280-px window, at 100 px per inch
PAGE_WIDTH = 7.5
#: points: the smallest text a figure may hold, 9 px on the page at 100 px per inch
MIN_TEXT_PT = 9 * 72 / 100


def model_colour(name: str) -> str:
    """The colour of zoo or paper model ``name``, as the model declares it
    (:func:`seelike.models.colour_of`): the same in every chapter."""
    return models.colour_of(name)


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

    The figure then appears where the chapter's text places it, not under the code cell. It
    must pass :func:`check` first; the image glued is the one the notebook's retina format
    would make of the figure (:func:`setup`).
    """
    from IPython.core.pylabtools import retina_figure
    from IPython.display import Image
    from myst_nb import glue

    _check_width(key, fig)
    # One drawing serves both: rendering lays out the tick labels that the text check reads,
    # and glueing the figure itself would draw it all again (a third of a page's plotting).
    rendered = retina_figure(fig, bbox_inches="tight")
    if rendered is None:  # IPython renders nothing for a figure without axes
        raise ValueError(f"figure {key!r} has no axes, so there is nothing to show: draw "
                         "into it (fig.add_subplot) or drop the plots.show call")
    png, size = rendered
    _check_text(key, _smallest_drawn_text(fig))
    glue(key, Image(data=png, format="png", **size), display=False)
    plt.close(fig)


def check(key: str, fig: Figure) -> None:
    """Raise unless ``fig`` fits the page: at most :data:`PAGE_WIDTH` wide, no visible text
    under :data:`MIN_TEXT_PT`; ``key`` names the figure in the message."""
    _check_width(key, fig)
    _check_text(key, smallest_text(fig))


def _check_width(key: str, fig: Figure) -> None:
    if fig.get_figwidth() > PAGE_WIDTH + 0.01:
        raise ValueError(f"figure {key!r} is {fig.get_figwidth():.1f} in wide; the page is "
                         f"{PAGE_WIDTH} in: draw it narrower or split it")


def _check_text(key: str, small: tuple[float, str] | None) -> None:
    if small is not None and small[0] < MIN_TEXT_PT - 1e-6:
        raise ValueError(f"figure {key!r} has text of {small[0]:.1f} pt ({small[1]!r}), under "
                         f"{MIN_TEXT_PT:.2f} pt (9 px on the page): use a larger font size, or "
                         "fewer panels per row")


def smallest_text(fig: Figure) -> tuple[float, str] | None:
    """The smallest font size (points) of any visible, non-empty text of ``fig`` (tick
    labels, titles, legends, annotations), with that text; None when it has no text."""
    fig.canvas.draw()  # tick labels exist only once the figure is laid out
    return _smallest_drawn_text(fig)


def _smallest_drawn_text(fig: Figure) -> tuple[float, str] | None:
    from matplotlib.text import Text

    found = [(t.get_fontsize(), t.get_text()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return min(found) if found else None


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


def band(ax: Axes, x: Sequence[float] | np.ndarray, draws: np.ndarray, colour: str, *,
         alpha: float = 0.2) -> np.ndarray | None:
    """Shade the 90 % band of ``draws`` (draws along axis 0) behind a curve over ``x``.

    The band the claims' verdicts read (:func:`seelike.book.claims.verdict.percentile_band`);
    nothing is drawn for fewer than two draws. Returns the ``(2, len(x))`` band, or None.
    """
    draws = np.asarray(draws, dtype=float)
    if len(draws) < 2:
        return None
    low, high = percentile_band(draws)
    ax.fill_between(x, low, high, color=colour, alpha=alpha, lw=0)
    return np.stack([low, high])
