"""Chapter 5's claims: local and global information (paper Figs 3-6).

Each function turns one sentence of the paper into a :class:`~seelike.book.claims.record.Claim`:
the statistic, its pass condition (fixed from the paper's wording before any of our
numbers were seen; the docstring gives the reason) and the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from seelike.book.claims.record import Claim, verdict
from seelike.structure import finite_mean

CHAPTER = "05_local_global"


#
# A head is *local* when its mean attention distance is below half the uniform-attention
# distance U (the distance of a head that attends equally to every spatial key), *global*
# otherwise. U/2 is the midpoint between attending to one's own patch (0) and attending
# everywhere (U); in the paper's Fig 3 (U about 117 px) local heads sit near 10-40 px and
# global ones near 80-120 px, so the cut falls in the gap between the two groups. Every
# threshold below was fixed from the paper's wording before any of our numbers were seen.

LOCAL_FRACTION = 0.5  # a head is local if its distance is < LOCAL_FRACTION * U
EDGE_BLOCKS = 2       # "lowest" and "highest" blocks: the paper's Fig 3 shows two of each


def _distances(distances: np.ndarray) -> np.ndarray:
    d = np.asarray(distances, dtype=float)
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
        raise ValueError(f"distances must be a (blocks, heads) array, got {d.shape}")
    return d


def _edge_blocks(distances: np.ndarray, which: str, n: int = EDGE_BLOCKS) -> np.ndarray:
    """The heads of the lowest (``which="low"``) or highest ``n`` blocks, flattened."""
    d = _distances(distances)
    n = min(n, len(d))
    return (d[:n] if which == "low" else d[-n:]).ravel()


def local_heads(distances: np.ndarray, uniform: float) -> np.ndarray:
    """Boolean array, True where a head's mean distance is below ``LOCAL_FRACTION * uniform``."""
    if not uniform > 0:
        raise ValueError(f"the uniform-attention distance must be positive, got {uniform}")
    return np.asarray(distances, dtype=float) < LOCAL_FRACTION * uniform


def fig3_low_mix(distances: np.ndarray, uniform: float) -> Claim:
    """Fig 3: the lowest blocks mix local and global heads.

    ``distances`` is ``(blocks, heads)`` (:func:`seelike.attention.attention_distances`),
    ``uniform`` the uniform-attention distance U in the same pixels. Statistic: the fraction
    of the lowest two blocks' heads that are local (< U/2). A *mix* needs at least one head
    of each kind, so reproduced if the fraction is strictly between 0 and 1. Partly if it
    is not, but the lowest blocks' distances still span a wider range (max − min) than the
    highest two blocks' (diverse heads low down, without a clean local/global split).
    """
    low, high = _edge_blocks(distances, "low"), _edge_blocks(distances, "high")
    value = float(local_heads(low, uniform).mean())
    wider = bool(np.ptp(low) > np.ptp(high))
    return Claim(
        chapter=CHAPTER, figure="Fig 3",
        statement="The lowest layers have both local and global attention heads.",
        statistic="fraction of the lowest two blocks' heads that are local (< U/2)",
        value=value,
        threshold="strictly between 0 and 1 (partly: lowest blocks' distance range wider "
                  "than the top two blocks')",
        verdict=verdict(0 < value < 1, wider))


def fig3_high_global(distances: np.ndarray, uniform: float) -> Claim:
    """Fig 3: the highest blocks' heads are all global.

    Statistic: the smallest mean distance among the highest two blocks' heads, as a
    fraction of U. "All global" means no local head, i.e. reproduced if ``>= 0.5`` (the
    same U/2 cut as :func:`fig3_low_mix`). Partly if some top head is local but the top
    two blocks' mean distance still exceeds the lowest two blocks' (attention widens
    with depth).
    """
    low, high = _edge_blocks(distances, "low"), _edge_blocks(distances, "high")
    if not uniform > 0:
        raise ValueError(f"the uniform-attention distance must be positive, got {uniform}")
    value = float(high.min() / uniform)
    return Claim(
        chapter=CHAPTER, figure="Fig 3",
        statement="The highest layers have only global attention heads.",
        statistic="smallest head distance in the top two blocks / U",
        value=value,
        threshold=f">= {LOCAL_FRACTION} (partly: top blocks' mean distance > lowest blocks')",
        verdict=verdict(value >= LOCAL_FRACTION, bool(high.mean() > low.mean())))


def fig4_less_data(full: np.ndarray, less: np.ndarray, uniform: float, model: str) -> Claim:
    """Fig 4 / C.5: a ViT trained on less data learns fewer local heads in its lowest blocks.

    ``full`` and ``less`` are ``(blocks, heads)`` distances of the ViT trained on all the
    data and of ``model``, trained on a fraction of it, on the same images. Statistic: the
    lowest two blocks' mean head distance of ``model`` minus that of the full model, in
    pixels. Reproduced if it is ``> 0`` *and* ``model`` has fewer local heads (< U/2) there:
    the paper's claim is that with too little data lower layers "do not learn" local heads,
    which is a count, and its figure shows the distances move up; a sign and a count are
    all it asserts, any margin would be ours. Partly if only one of the two holds.
    """
    lo_full, lo_less = _edge_blocks(full, "low"), _edge_blocks(less, "low")
    value = float(lo_less.mean() - lo_full.mean())
    fewer = bool(local_heads(lo_less, uniform).sum() < local_heads(lo_full, uniform).sum())
    return Claim(
        chapter=CHAPTER, figure="Fig 4",
        statement="With less training data, the lowest layers learn fewer local heads.",
        statistic=f"lowest two blocks' mean head distance, {model} minus full data (px)",
        value=value,
        threshold="> 0 and fewer local heads (partly: one of the two)",
        verdict=verdict(value > 0 and fewer, value > 0 or fewer))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN if either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def fig5_similarity_falls(subset_distance: np.ndarray, subset_cka: np.ndarray) -> Claim:
    """Fig 5: CKA with the ResNet's lower layers falls as the heads' mean distance grows.

    ``subset_distance`` is ``(subsets,)``, the mean distance of each head subset;
    ``subset_cka`` is ``(subsets, resnet_layers)``. Statistic: the Spearman correlation
    between subset distance and CKA for each lower ResNet layer, averaged over those
    layers. Reproduced if ``< -0.5``: the paper says similarity falls monotonically
    (Spearman -1); -0.5 asks for a clear majority of the ordering to agree, since our
    few subsets and noisy CKA make an exact -1 too fragile. Partly if ``< 0`` (the
    direction holds).
    """
    d = np.asarray(subset_distance, dtype=float)
    c = np.asarray(subset_cka, dtype=float)
    if c.ndim != 2 or c.shape[0] != len(d):
        raise ValueError(f"subset_cka must be (subsets, layers) with {len(d)} subsets, "
                         f"got {c.shape}")
    value = finite_mean(np.array([_spearman(d, c[:, j]) for j in range(c.shape[1])]))
    return Claim(
        chapter=CHAPTER, figure="Fig 5",
        statement="The more local a subset of lowest-block heads, the more similar it is to "
                  "the ResNet's lower layers.",
        statistic="Spearman(subset mean distance, CKA), averaged over lower ResNet layers",
        value=value, threshold="< -0.5 (partly: < 0)",
        verdict=verdict(bool(value < -0.5), bool(value < 0)))


def fig6_vit_wider_early(vit_first_spread: float, resnet_first_spread: float) -> Claim:
    """Fig 6: the ViT's first attention sublayer already sees more of the image than the
    ResNet's first unit.

    Statistic: the ERF spread (:func:`seelike.receptive_field.erf_spread`, after the
    residual connection) of the ViT's first attention sublayer over that of the ResNet's
    first residual unit, both on the same images. Reproduced if ``> 1``: the paper's claim
    ("larger receptive fields early") is a comparison, so the side of 1 is what it
    asserts. No "partly".
    """
    if not resnet_first_spread > 0:
        raise ValueError(f"the ResNet spread must be positive, got {resnet_first_spread}")
    value = float(vit_first_spread / resnet_first_spread)
    return Claim(
        chapter=CHAPTER, figure="Fig 6",
        statement="ViT receptive fields are larger than ResNet ones in the lowest layers.",
        statistic="ERF spread, ViT first attention sublayer / ResNet first unit",
        value=value, threshold="> 1", verdict=verdict(value > 1))


def fig6_resnet_grows(resnet_spreads: Sequence[float]) -> Claim:
    """Fig 6: ResNet receptive fields grow gradually with depth.

    ``resnet_spreads`` are the ERF spreads of the stem and every unit in forward order.
    Statistic: the fraction of consecutive steps in which the spread grows. Reproduced if
    every step grows (``== 1``: the paper's "grow gradually" is monotone growth); partly
    if most do (``> 0.5``).
    """
    s = np.asarray(resnet_spreads, dtype=float)
    if s.ndim != 1 or len(s) < 2:
        raise ValueError(f"need at least two spreads in depth order, got shape {s.shape}")
    value = float(np.mean(np.diff(s) > 0))
    return Claim(
        chapter=CHAPTER, figure="Fig 6",
        statement="ResNet receptive fields are local and grow gradually with depth.",
        statistic="fraction of consecutive ResNet layers whose ERF spread grows",
        value=value, threshold="== 1 (partly: > 0.5)",
        verdict=verdict(value == 1, value > 0.5))


def fig6_centre_patch(post: Sequence[float], pre: Sequence[float]) -> Claim:
    """Fig 6 / C.4: after the residual connection, ViT ERFs are dominated by the centre patch.

    ``post`` and ``pre`` are :func:`centre_patch_fraction` of each ViT attention sublayer's
    ERF after and before the residual connection, in block order. Statistic: the mean over
    blocks of post minus pre. Reproduced if post > pre in *every* block (the skip
    connection carries the centre patch through the whole network, the paper's reading of
    Figs 6 and C.4); partly if only the mean difference is positive.
    """
    post, pre = np.asarray(post, dtype=float), np.asarray(pre, dtype=float)
    if post.shape != pre.shape or post.ndim != 1 or not len(post):
        raise ValueError(f"post and pre must be equal-length 1-D, got {post.shape}, {pre.shape}")
    diff = post - pre
    value = float(diff.mean())
    return Claim(
        chapter=CHAPTER, figure="Fig 6",
        statement="After the residual connection, ViT receptive fields depend strongly on the "
                  "centre patch.",
        statistic="centre-patch share of ViT attention ERFs, post minus pre residual "
                  "(mean over blocks)",
        value=value, threshold="> 0 in every block (partly: mean > 0)",
        verdict=verdict(bool((diff > 0).all()), value > 0))
