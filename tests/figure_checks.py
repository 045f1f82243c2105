"""What every figure of seelike.book.figures must satisfy: it fits the page and its text is large
enough to read there (the checks :func:`seelike.book.plots.show` makes before gluing)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from seelike.book import plots


def fits_page(fig: Figure) -> None:
    """Assert ``fig`` is at most the page's width with no text under the smallest size."""
    assert fig.get_figwidth() <= plots.PAGE_WIDTH + 0.01
    small = plots.smallest_text(fig)
    assert small is None or small[0] >= plots.MIN_TEXT_PT - 1e-6, small
    plt.close(fig)
