"""Skip connections: the norm ratio of skip to branch per token and over depth, the cosine
of skip and branch and of skip and output, and CKA heatmaps of ViTs with a block's skips
removed.

Per-token statistics are ``{branch: (blocks, tokens)}`` for the ViT (``attn``, ``mlp``;
token 0 the CLS token when the ViT has ``prefix`` tokens) and ``(units,)`` for the ResNet;
bootstrap draws add a leading axis and are drawn as 90 % bands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from seelike.book import plots
from seelike.layers import layer_names
from seelike.structure import depth_fraction

__all__ = ["BRANCH_LS", "CLS_COLOUR", "cosine_panels", "lines", "noskip_heatmaps",
           "ratio_depth", "ratio_tokens"]

#: A dark ViT blue for the CLS token: the ViT's two kinds of token share its colour family,
#: told apart by shade and marker; the branch by line style.
CLS_COLOUR = "#08306b"
BRANCH_LS = {"attn": "-", "mlp": "--"}
PerToken = Mapping[str, np.ndarray]


def ratio_tokens(ratio: PerToken, prefix: int, shown: int = 9) -> Figure:
    """log10 of the ViT's norm ratio for its first ``shown`` tokens in every block, one panel
    per branch on a shared colour scale (below 0: the branch outweighs the skip)."""
    shown = min(shown, ratio["attn"].shape[1])
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), sharey=True, layout="constrained")
    logs = {b: np.log10(ratio[b][:, :shown]) for b in ("attn", "mlp")}
    vmin = min(0.0, *(v.min() for v in logs.values()))
    vmax = max(v.max() for v in logs.values())
    for ax, branch in zip(axes, ("attn", "mlp"), strict=True):
        image = ax.imshow(logs[branch], origin="lower", aspect="auto", cmap="viridis",
                          vmin=vmin, vmax=vmax)
        ax.set(title=f"{branch} branch", xlabel="token (0 = CLS)" if prefix else "token",
               xticks=range(shown), yticks=range(len(ratio[branch])))
    axes[0].set_ylabel("block")
    fig.colorbar(image, ax=axes, label="log₁₀ ‖z‖ / ‖f(z)‖", fraction=0.05)
    return fig


def lines(ax: Axes, per_token: PerToken, resnet: np.ndarray, *, prefix: int,
          colours: tuple[str, str], boot_vit: PerToken | None = None,
          boot_res: PerToken | None = None, legend: bool = True) -> None:
    """The ViT's spatial-token mean and CLS token per branch, and the ResNet's units, over
    depth; ``colours``: the ViT's and the ResNet's. ``boot_vit``/``boot_res``: the same
    statistic's bootstrap draws, drawn as 90 % bands."""
    vit_colour, res_colour = colours
    spatial = slice(prefix, None)
    for branch, ls in BRANCH_LS.items():
        v = per_token[branch]
        x = depth_fraction(len(v))
        ax.plot(x, v[:, spatial].mean(1), ls=ls, marker="o", ms=5,
                color=vit_colour, label=f"ViT spatial tokens, {branch}")
        if boot_vit is not None:
            plots.band(ax, x, boot_vit[branch][:, :, spatial].mean(2), vit_colour, alpha=0.25)
        if prefix:
            ax.plot(x, v[:, 0], ls=ls, marker="D", ms=5, mfc="white",
                    mew=1.2, color=CLS_COLOUR, label=f"ViT CLS token, {branch}")
            if boot_vit is not None:
                plots.band(ax, x, boot_vit[branch][:, :, 0], CLS_COLOUR, alpha=0.25)
    x = depth_fraction(len(resnet))
    ax.plot(x, resnet, ls=":", marker="s", ms=5, color=res_colour, label="ResNet units")
    if boot_res is not None:
        plots.band(ax, x, boot_res["unit"], res_colour, alpha=0.25)
    ax.set(xlabel="depth (fraction of blocks)")
    if legend:
        ax.figure.legend(loc="outside lower center", ncol=3, handlelength=3)


def ratio_depth(vit: Mapping[str, PerToken], resnet: Mapping[str, PerToken], *, prefix: int,
                colours: tuple[str, str]) -> Figure:
    """The norm ratio over depth on a log scale (``vit``, ``resnet``: a model's statistics,
    ``ratio`` and ``boot_ratio``)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
    lines(ax, vit["ratio"], resnet["ratio"]["unit"], prefix=prefix, colours=colours,
          boot_vit=vit["boot_ratio"], boot_res=resnet["boot_ratio"])
    ax.axhline(1, color="grey", lw=0.8)
    ax.set(yscale="log", ylabel="‖z‖ / ‖f(z)‖ (log scale)", title="norm ratio of skip to branch")
    # Labels at 1, 2 and 5 times each power of ten: several labelled ticks on any range.
    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(ticker.LogLocator(base=10, subs=np.arange(1, 10)))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    return fig


def cosine_panels(vit: Mapping[str, PerToken], resnet: Mapping[str, PerToken], *,
                  prefix: int, colours: tuple[str, str]) -> Figure:
    """Top: the cosine of skip and branch; bottom: of the block's input and its output (what
    the paper's appendix E reads off Fig E.2), with its band."""
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 7.6), sharex=True, layout="constrained")
    lines(axes[0], vit["cosine"], resnet["cosine"]["unit"], prefix=prefix, colours=colours)
    axes[0].axhline(0, color="grey", lw=0.8)
    axes[0].set(ylabel="cos(z, f(z))", ylim=(-1, 1), xlabel="", title="skip against branch")
    out_vit, out_res = vit["output_cosine"], resnet["output_cosine"]
    lines(axes[1], out_vit, out_res["unit"], prefix=prefix, colours=colours,
          boot_vit=vit["boot_output_cosine"], boot_res=resnet["boot_output_cosine"],
          legend=False)
    # Outputs stay close to their inputs: the panel starts at 0 unless a cosine goes below.
    lowest = min(0.0, *(np.nanmin(v) for v in (*out_vit.values(), *out_res.values())))
    axes[1].set(ylabel="cos(z, z + f(z))", ylim=(lowest - 0.02, 1.02),
                title="skip against output")
    return fig


def noskip_heatmaps(maps: Mapping[str, np.ndarray], names: Sequence[str]) -> Figure:
    """Each model's CKA heatmap over its layers, block outputs ticked, two per row."""
    ncols = min(2, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(plots.PAGE_WIDTH, 3.5 * nrows),
                             squeeze=False, layout="constrained")
    for ax, name in zip(axes.flat, names, strict=False):
        layer_list = layer_names(name)
        plots.cka_heatmap(ax, maps[name], layer_list, layer_list, title=name, xlabel="layer",
                          ylabel="layer", colorbar=False)
        blocks = set(layer_names(name, "blocks"))
        plots.block_ticks(ax, layer_list, blocks, "x", max_labels=7)
        plots.block_ticks(ax, layer_list, blocks, "y", max_labels=7)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.colorbar(axes.flat[0].images[0], ax=axes, shrink=0.6, label="CKA")
    return fig
