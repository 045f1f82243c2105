"""What a ViT and a ResNet look like from the inside: an image cut into the ViT's patches
beside the first tokens of its sequence, and each model's resolution and width by block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from seelike.book import plots

__all__ = ["depth_profile", "patches"]


def patches(image: np.ndarray, patch: int, grid: tuple[int, int], *, per_row: int = 8,
            rows: int = 2) -> Figure:
    """``image`` ``(H, W, 3)`` with the patch grid drawn over it (the first patch outlined),
    beside its first ``per_row × rows`` patches as the tokens after the CLS token."""
    fig, (ax_img, ax_tok) = plt.subplots(1, 2, figsize=(plots.PAGE_WIDTH, 3.4),
                                         gridspec_kw=dict(width_ratios=(1, 1.6)))
    ax_img.imshow(image, interpolation="nearest")
    for k in range(1, grid[0]):
        ax_img.axhline(k * patch - 0.5, color="white", lw=0.8)
        ax_img.axvline(k * patch - 0.5, color="white", lw=0.8)
    ax_img.add_patch(Rectangle((-0.5, -0.5), patch, patch, fill=False, ec="yellow", lw=2))
    ax_img.set(title=f"{grid[0]}×{grid[1]} patches of {patch}×{patch} px", xticks=[],
               yticks=[])
    tiles = []
    for r in range(rows):
        row = [np.pad(image[(i // grid[1]) * patch:(i // grid[1] + 1) * patch,
                            (i % grid[1]) * patch:(i % grid[1] + 1) * patch],
                      ((1, 1), (1, 1), (0, 0)), constant_values=1.0)
               for i in range(r * per_row, (r + 1) * per_row)]
        tiles.append(np.concatenate(row, axis=1))
    ax_tok.imshow(np.concatenate(tiles, axis=0), interpolation="nearest")
    for r in range(rows):
        for c in range(per_row):
            ax_tok.text((c + 0.5) * (patch + 2) - 0.5, r * (patch + 2) + 0.5,
                        str(r * per_row + c + 1), color="white", fontsize="x-small",
                        ha="center", va="top")
    ax_tok.set(title=f"tokens 1–{per_row * rows} of {grid[0] * grid[1]}\n"
                     "(token 0 is the CLS token)", xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def depth_profile(shapes: Mapping[str, tuple[Sequence[int], Sequence[int]]]) -> Figure:
    """Positions (tokens or h·w) and width (channels or token width) of each block of each
    model (``shapes[name] = (positions, widths)``), the first model drawn on top with
    smaller markers so that both stay visible where they coincide."""
    fig, axes = plt.subplots(1, 2, figsize=(plots.PAGE_WIDTH, 3.2))
    n = len(shapes)
    for j, (name, (positions, widths)) in enumerate(shapes.items()):
        depth = np.arange(1, len(positions) + 1)
        style = dict(marker="o" if j == 0 else "s", ms=5 if j == 0 else 8,
                     zorder=n + 1 - j, color=plots.model_colour(name), label=name)
        axes[0].plot(depth, positions, **style)
        axes[1].plot(depth, widths, **style)
    for ax in axes:
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    axes[0].set(xlabel="block", ylabel="positions (tokens or h·w)", title="resolution")
    axes[1].set(xlabel="block", ylabel="channels or token width", title="width")
    axes[1].legend(handlelength=3)
    fig.tight_layout()
    return fig
