"""The book's figures: what plots.show refuses before a figure reaches a page."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from seelike.book import plots


def test_show_refuses_text_a_reader_cannot_read(monkeypatch):
    glued = {}
    monkeypatch.setattr("myst_nb.glue", lambda key, fig, display: glued.setdefault(key, fig))
    fig, ax = plt.subplots(figsize=(plots.PAGE_WIDTH, 3))
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=6)
    with pytest.raises(ValueError, match=r"6\.0 pt .* under 6\.48 pt"):
        plots.show("tiny", fig)
    ax.tick_params(labelsize=7)
    plots.show("fine", fig)
    assert list(glued) == ["fine"]
    # What is glued is the image the page shows: twice the pixels, shown at half, page-wide
    # at most.
    image = glued["fine"]
    assert image.format == "png" and image.data.startswith(b"\x89PNG")
    pixels = int.from_bytes(image.data[16:20], "big"), int.from_bytes(image.data[20:24], "big")
    assert (image.width, image.height) == (pixels[0] // 2, pixels[1] // 2)
    assert 0 < image.width <= plots.PAGE_WIDTH * 100


def test_show_refuses_a_figure_with_nothing_drawn(monkeypatch):
    monkeypatch.setattr("myst_nb.glue", lambda key, fig, display: None)
    with pytest.raises(ValueError, match="'empty' has no axes"):
        plots.show("empty", plt.figure(figsize=(plots.PAGE_WIDTH, 3)))


def test_band_shades_the_verdicts_interval_and_nothing_for_one_draw():
    import numpy as np

    from seelike.book.claims.verdict import percentile_band

    fig, ax = plt.subplots()
    draws = np.random.default_rng(0).normal(size=(200, 5))
    got = plots.band(ax, np.arange(5), draws, "C0")
    np.testing.assert_array_equal(got, percentile_band(draws))
    assert len(ax.collections) == 1
    assert plots.band(ax, np.arange(5), draws[:1], "C0") is None
    assert len(ax.collections) == 1
    plt.close(fig)
