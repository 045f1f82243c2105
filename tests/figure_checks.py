"""What every figure of seelike.book.figures must satisfy: the checks
:func:`seelike.book.plots.show` makes before gluing (page width, smallest text)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from seelike.book import plots


def fits_page(fig: Figure) -> None:
    """Raise (as ``plots.show`` would) unless ``fig`` fits the page; then close it."""
    plots.check("under test", fig)
    plt.close(fig)
