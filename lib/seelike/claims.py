"""The paper's claims as pass/fail tests on our measurements, and the book's results table.

Every experiment chapter turns the sentences of Raghu et al. (2021) that it tests
into :class:`Claim` records: what we measure, our value, the pass condition, and a
verdict. The pass conditions come from the paper's wording and figures and were
fixed before any of our numbers were looked at; each function's docstring gives
the reason for its threshold. A chapter shows its claims with :func:`table` and
saves them with :func:`write`; :func:`read_all` collects every chapter's rows of a
preset for the summary.

Chapter 4 ("Representation structure", paper Figs 1 and 2) is served by the
``fig1_*`` and ``fig2_*`` functions below. They take CKA matrices whose layer 0 is
the lowest layer and speak of positions as *fractions of depth*, so that they apply
unchanged to 16 or 60 layers: layer ``i`` of ``n`` sits at ``(i + 0.5) / n``, and the
"lowest third" is every layer whose position is below 1/3.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from seelike.config import repo_root
from seelike.io import atomic_write_text

VERDICTS = ("reproduced", "partly", "not reproduced")
RESULTS_ENV = "SEELIKE_RESULTS"
CHAPTER4 = "04_representation_structure"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, tested on our models."""

    chapter: str        # e.g. "04_representation_structure"
    figure: str         # e.g. "Fig 1"
    statement: str      # the paper's claim in one sentence
    statistic: str      # what we measure, in words
    value: float        # our statistic
    threshold: str      # the pass condition in words, e.g. "> 0.1"
    verdict: str        # one of VERDICTS

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")


COLUMNS = tuple(f.name for f in fields(Claim))


def verdict(passed: bool, partly: bool = False) -> str:
    """"reproduced" if ``passed``, else "partly" if ``partly``, else "not reproduced"."""
    if passed:
        return VERDICTS[0]
    return VERDICTS[1] if partly else VERDICTS[2]


def table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a tidy frame: one row per claim, the columns of :class:`Claim`."""
    frame = pd.DataFrame([asdict(c) for c in claims], columns=list(COLUMNS))
    return frame.astype({"value": float})


def results_dir(preset: str) -> Path:
    """``_build/results/<preset>`` of the checkout (``SEELIKE_RESULTS`` replaces the parent)."""
    env = os.environ.get(RESULTS_ENV)
    parent = Path(env).expanduser() if env else repo_root() / "_build" / "results"
    return parent / preset


def write(claims: Sequence[Claim], preset: str, chapter: str) -> Path:
    """Save ``chapter``'s claims under ``preset``, replacing its earlier rows; returns the file.

    One CSV per chapter, ``results_dir(preset) / f"{chapter}.csv"``, written atomically,
    so a chapter that is re-run replaces exactly its own rows.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", chapter) or chapter.startswith("."):
        raise ValueError(f"chapter must be a file stem like {CHAPTER4!r}, got {chapter!r}")
    foreign = sorted({c.chapter for c in claims} - {chapter})
    if foreign:
        raise ValueError(f"claims of chapter(s) {foreign} cannot be written as {chapter!r}")
    path = results_dir(preset) / f"{chapter}.csv"
    atomic_write_text(path, table(claims).to_csv(index=False))
    return path


def read_folder(folder: Path) -> pd.DataFrame:
    """The claims tables (``*.csv``) in ``folder``, in chapter order (empty frame if none)."""
    frames = [pd.read_csv(p, dtype={c: str for c in COLUMNS if c != "value"})
              for p in sorted(folder.glob("*.csv"))] if folder.is_dir() else []
    frames = [f for f in frames if len(f)]
    if not frames:
        return table([])
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)].astype({"value": float})


def read_all(preset: str) -> pd.DataFrame:
    """Every chapter's claims under ``preset``, in chapter order (empty frame if none)."""
    return read_folder(results_dir(preset))


# ---- statistics on CKA matrices ---------------------------------------------------------------


def depth_fraction(n: int) -> np.ndarray:
    """Position of each of ``n`` layers as a fraction of depth, ``(i + 0.5) / n``."""
    if n < 1:
        raise ValueError(f"need at least one layer, got {n}")
    return (np.arange(n) + 0.5) / n


def stage_of(layer: str) -> int:
    """The ResNet stage of a layer: ``net.layer2.1.bn1`` -> 2, ``net.stages.0.blocks.3`` -> 0."""
    match = re.search(r"(?:^|\.)(?:layer(\d+)|stages\.(\d+))(?:\.|$)", layer)
    if match is None:
        raise ValueError(f"{layer!r} names no ResNet stage (layerK or stages.K)")
    return int(match.group(1) or match.group(2))


def mapped_stages(n: int, reference: Sequence[int]) -> np.ndarray:
    """Stages for ``n`` layers, the ``reference`` model's stage boundaries mapped by depth fraction.

    Layer ``i`` gets the stage of the reference layer at the same fraction of depth,
    ``reference[floor((i + 0.5) / n * len(reference))]``.
    """
    reference = np.asarray(reference)
    index = np.floor(depth_fraction(n) * len(reference)).astype(int)
    return reference[np.minimum(index, len(reference) - 1)]


def _square(matrix: np.ndarray, what: str) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{what} must be a square within-model CKA matrix, got {m.shape}")
    return m


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def low_high_similarity(matrix: np.ndarray) -> float:
    """Mean CKA between the lowest third and the highest third of a model's layers (Fig 1).

    Both off-diagonal blocks are averaged, so a slightly asymmetric estimate counts
    both ways; NaN entries (constant layers) are skipped.
    """
    m = _square(matrix, "matrix")
    pos = depth_fraction(len(m))
    low, high = pos < 1 / 3, pos > 2 / 3
    return _nanmean(np.concatenate([m[np.ix_(low, high)].ravel(), m[np.ix_(high, low)].ravel()]))


def stage_contrast(matrix: np.ndarray, stages: Sequence[int]) -> float:
    """Mean CKA within stages minus mean CKA across stages, over pairs of distinct layers (Fig 1).

    The diagonal (every layer with itself, CKA 1) is left out, so a matrix that is
    equally similar everywhere scores 0 whatever its level.
    """
    m = _square(matrix, "matrix")
    stages = np.asarray(stages)
    if stages.shape != (len(m),):
        raise ValueError(f"need one stage per layer: {len(m)} layers, {stages.shape} stages")
    same = stages[:, None] == stages[None, :]
    off = ~np.eye(len(m), dtype=bool)
    return _nanmean(m[same & off]) - _nanmean(m[~same & off])


def best_match_fraction(cross: np.ndarray) -> np.ndarray:
    """For each column (ResNet layer), the depth fraction of the most similar row (ViT layer).

    ``cross`` is ``(vit_layers, resnet_layers)``, the layout of Fig 2 (ResNet on x).
    Columns that are all NaN give NaN.
    """
    c = np.asarray(cross, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cross must be a (vit_layers, resnet_layers) matrix, got {c.shape}")
    pos = depth_fraction(c.shape[0])
    out = np.full(c.shape[1], np.nan)
    for j in range(c.shape[1]):
        column = np.where(np.isfinite(c[:, j]), c[:, j], -np.inf)
        if np.isfinite(column).any():
            out[j] = pos[int(np.argmax(column))]
    return out


def _halves(cross: np.ndarray) -> tuple[float, float]:
    """Mean best-match ViT depth fraction over the ResNet's lower and upper halves."""
    best = best_match_fraction(cross)
    pos = depth_fraction(len(best))
    return _nanmean(best[pos < 0.5]), _nanmean(best[pos >= 0.5])


# ---- the claims of Chapter 4 (paper Figs 1 and 2) ---------------------------------------------

CLEAR_STAGE_MARGIN = 0.1
DISSIMILAR_CKA = 0.5


def fig1_uniformity(vit_cka: np.ndarray, resnet_cka: np.ndarray) -> Claim:
    """Fig 1: the ViT's lower and higher layers are more alike than the ResNet's.

    Statistic: mean CKA between the lowest and the highest third of layers
    (:func:`low_high_similarity`), ViT minus ResNet. Threshold ``> 0``: the paper's
    claim is a comparison ("ViTs have ... much higher similarity between lower and
    higher layers", ResNets "lower similarity"), so the sign is what it asserts; any
    size of gap would be a number we invented. No "partly".
    """
    value = low_high_similarity(vit_cka) - low_high_similarity(resnet_cka)
    return Claim(
        chapter=CHAPTER4, figure="Fig 1",
        statement="ViT representations are more uniform across depth than ResNet ones: the "
                  "ViT's lower and higher layers are much more similar to each other.",
        statistic="mean CKA between lowest and highest third of layers, ViT minus ResNet",
        value=value, threshold="> 0", verdict=verdict(bool(value > 0)))


def fig1_resnet_stages(resnet_cka: np.ndarray, resnet_layers: Sequence[str]) -> Claim:
    """Fig 1: the ResNet's representations form clear stages.

    Statistic: :func:`stage_contrast` with the stages read from the layer names
    (``layerK`` / ``stages.K``). Threshold ``> 0.1`` (reproduced), ``> 0.05``
    (partly): the paper calls the stages "clear", and in its R50/R152 heatmaps the
    within-stage squares stand out from their surroundings by several steps of the
    colour scale. A tenth of the [0, 1] CKA scale is about the smallest difference that
    reads as a distinct block on that scale, and an order of magnitude above the
    repeat-to-repeat spread of our CKA estimates; half of it is visible only as
    shading, hence "partly". A smooth decay along the diagonal alone already gives a
    small positive contrast, which is why 0 is not the bar.
    """
    value = stage_contrast(resnet_cka, [stage_of(name) for name in resnet_layers])
    return Claim(
        chapter=CHAPTER4, figure="Fig 1",
        statement="ResNet representations show clear stages: layers are similar within a "
                  "stage and dissimilar across stages.",
        statistic="ResNet: mean CKA within stages minus across stages (distinct layer pairs)",
        value=value, threshold=f"> {CLEAR_STAGE_MARGIN} (partly: > {CLEAR_STAGE_MARGIN / 2})",
        verdict=verdict(bool(value > CLEAR_STAGE_MARGIN),
                        bool(value > CLEAR_STAGE_MARGIN / 2)))


def fig1_vit_no_stages(vit_cka: np.ndarray, resnet_cka: np.ndarray,
                       resnet_layers: Sequence[str]) -> Claim:
    """Fig 1: the ViT shows no comparable stage structure.

    Statistic: :func:`stage_contrast` of the ViT with the ResNet's stage boundaries
    mapped onto the ViT's depth (:func:`mapped_stages`), i.e. the ViT is cut where
    the ResNet changes stage. Reproduced if it is below both the "clear stages"
    margin 0.1 of :func:`fig1_resnet_stages` (the ViT has no clear stages by the same
    bar) and the ResNet's own contrast (less stage structure than the ResNet);
    partly if only one of the two holds.
    """
    stages = [stage_of(name) for name in resnet_layers]
    value = stage_contrast(vit_cka, mapped_stages(len(vit_cka), stages))
    resnet = stage_contrast(resnet_cka, stages)
    below_margin, below_resnet = bool(value < CLEAR_STAGE_MARGIN), bool(value < resnet)
    return Claim(
        chapter=CHAPTER4, figure="Fig 1",
        statement="ViT representations show no ResNet-like stages.",
        statistic="ViT: mean CKA within minus across the ResNet's stages mapped by depth "
                  "fraction",
        value=value,
        threshold=f"< {CLEAR_STAGE_MARGIN} and < the ResNet's contrast (partly: one of them)",
        verdict=verdict(below_margin and below_resnet, below_margin or below_resnet))


def fig2_lower_half(cross: np.ndarray) -> Claim:
    """Fig 2: the ResNet's lower half is most similar to roughly the lowest quarter of the ViT.

    ``cross`` is ``(vit_layers, resnet_layers)``. Statistic: for each ResNet layer in
    the lower half of its depth, the depth fraction of its most similar ViT layer
    (:func:`best_match_fraction`), averaged. The paper's "lowest quarter" puts those
    matches in [0, 0.25] (mean about 0.125); reproduced if ``<= 0.35``, allowing a
    tenth of depth for reading "roughly" off a figure and for the coarse layer grid;
    partly if ``<= 0.5`` (the lower ResNet half still maps to the lower ViT half).
    """
    value, _ = _halves(cross)
    return Claim(
        chapter=CHAPTER4, figure="Fig 2",
        statement="The lower half of ResNet layers is most similar to roughly the lowest "
                  "quarter of ViT layers.",
        statistic="ResNet lower half: mean depth fraction of the most similar ViT layer",
        value=value, threshold="<= 0.35 (partly: <= 0.5)",
        verdict=verdict(bool(value <= 0.35), bool(value <= 0.5)))


def fig2_upper_half(cross: np.ndarray) -> Claim:
    """Fig 2: the ResNet's upper half is most similar to the next third of ViT layers.

    Statistic: as :func:`fig2_lower_half`, over the ResNet's upper half. "The next
    third" after the lowest quarter is [0.25, 0.58] of ViT depth; reproduced if the
    mean lies in ``[0.25, 0.65]`` (a little slack at the top for "roughly");
    partly if it lies outside but above the lower half's mean (the ordering of the
    correspondence holds, its place does not).
    """
    lower, value = _halves(cross)
    inside = bool(0.25 <= value <= 0.65)
    return Claim(
        chapter=CHAPTER4, figure="Fig 2",
        statement="The upper half of ResNet layers is most similar to roughly the next third "
                  "of ViT layers (after the lowest quarter).",
        statistic="ResNet upper half: mean depth fraction of the most similar ViT layer",
        value=value, threshold="in [0.25, 0.65] (partly: above the lower half's mean)",
        verdict=verdict(inside, bool(value > lower)))


def fig2_last_third(cross: np.ndarray) -> Claim:
    """Fig 2: the ViT's final third is dissimilar to every ResNet layer.

    Statistic: the largest CKA between any ViT layer in the last third of its depth and
    any ResNet layer. Threshold ``< 0.5``: "dissimilar" read off the paper's [0, 1]
    colour scale, on which those rows are dark while the matched regions are bright;
    0.5 is the midpoint between the two. Partly if only the typical last-third layer is
    dissimilar: the mean over those ViT layers of their best ResNet match is below 0.5
    while some pair exceeds it.
    """
    c = np.asarray(cross, dtype=float)
    last = depth_fraction(c.shape[0]) > 2 / 3
    block = np.where(np.isfinite(c[last]), c[last], np.nan)
    finite = np.isfinite(block)
    value = float(np.nanmax(block)) if finite.any() else float("nan")
    rows = [np.nanmax(r) for r, ok in zip(block, finite, strict=True) if ok.any()]
    typical = float(np.mean(rows)) if rows else float("nan")
    return Claim(
        chapter=CHAPTER4, figure="Fig 2",
        statement="The final third of ViT layers is dissimilar to all ResNet layers.",
        statistic="max CKA between ViT's last third of layers and any ResNet layer",
        value=value,
        threshold=f"< {DISSIMILAR_CKA} (partly: mean best match of those ViT layers < "
                  f"{DISSIMILAR_CKA})",
        verdict=verdict(bool(value < DISSIMILAR_CKA), bool(typical < DISSIMILAR_CKA)))


def chapter4_claims(vit_cka: np.ndarray, resnet_cka: np.ndarray, cross: np.ndarray,
                    resnet_layers: Sequence[str]) -> list[Claim]:
    """All claims of Chapter 4: Fig 1 from the within-model matrices, Fig 2 from ``cross``.

    ``cross`` is ViT layers x ResNet layers (Fig 2's layout, ResNet on x).
    """
    vit_cka, resnet_cka = np.asarray(vit_cka), np.asarray(resnet_cka)
    if np.shape(cross) != (len(vit_cka), len(resnet_cka)):
        raise ValueError(f"cross is {np.shape(cross)}, expected (vit, resnet) = "
                         f"({len(vit_cka)}, {len(resnet_cka)})")
    return [
        fig1_uniformity(vit_cka, resnet_cka),
        fig1_resnet_stages(resnet_cka, resnet_layers),
        fig1_vit_no_stages(vit_cka, resnet_cka, resnet_layers),
        fig2_lower_half(cross),
        fig2_upper_half(cross),
        fig2_last_third(cross),
    ]


# ---- Chapter 6: skip connections (Figs 7, 8) ------------------------------------------------

CHAPTER6 = "06_skip_connections"


def _block_of(layer: str) -> int | None:
    match = re.search(r"blocks\.(\d+)", layer)
    return int(match.group(1)) if match else None


def fig7_vit_ratios_higher(vit_ratio: Mapping[str, np.ndarray],
                           resnet_ratio: Mapping[str, np.ndarray]) -> Claim:
    """Fig 7: norm ratios ‖z‖/‖f(z)‖ are much higher in ViT than in ResNet.

    Statistic: the median ViT ratio (every block, both branches, every token) over the
    median ResNet unit ratio; medians, because a branch that outputs almost nothing gives
    a huge ratio. Threshold: > 2 reproduced, since "much higher" must mean at least
    twice (the paper's Fig 7 shows roughly an order of magnitude); > 1 partly.
    """
    vit = np.median(np.concatenate([np.ravel(v) for v in vit_ratio.values()]))
    res = np.median(np.ravel(resnet_ratio["unit"]))
    value = float(vit / res)
    return Claim(CHAPTER6, "Fig 7", "Skip-connection norm ratios are much higher in ViT than "
                 "in ResNet.", "median ViT ratio / median ResNet ratio", value, "> 2 (partly > 1)",
                 verdict(value > 2, value > 1))


def fig7_cls_phase_transition(vit_ratio: Mapping[str, np.ndarray],
                              num_prefix_tokens: int) -> Claim:
    """Fig 7: early on, the CLS token is carried by the skip while spatial tokens change; late,
    the reverse.

    Statistic: per block, log10(CLS ratio / mean spatial ratio) averaged over the two
    branches; value = its mean over the first half of the blocks minus its mean over
    the second half. Reproduced when the first-half mean is > 0 *and* the second-half
    mean is < 0 (the paper's crossing); partly when only the difference is positive
    (CLS relatively more skip-carried early than late, without a crossing).
    """
    if num_prefix_tokens < 1:
        raise ValueError("the CLS phase transition needs a model with a CLS token")
    logs = np.mean([np.log10(r[:, 0] / r[:, num_prefix_tokens:].mean(1))
                    for r in vit_ratio.values()], axis=0)
    half = len(logs) // 2
    early, late = float(logs[:half].mean()), float(logs[half:].mean())
    return Claim(CHAPTER6, "Fig 7", "Early blocks carry the CLS token by the skip and change the "
                 "spatial tokens; late blocks do the reverse.",
                 "mean log10(CLS/spatial ratio), first half of blocks minus second half",
                 early - late, "first half > 0 and second half < 0 (partly: difference > 0)",
                 verdict(early > 0 > late, early - late > 0))


def fig8_split(intact_cka: np.ndarray, noskip_cka: np.ndarray, layer_names: Sequence[str],
               block: int, model: str) -> Claim:
    """Fig 8: without block k's skip connections, layers before k and after k become unrelated.

    Statistic: mean CKA between layers of blocks < k and layers of blocks > k, in the
    intact model minus in the retrained one (same layers, same images). Threshold:
    > 0.1 reproduced, a change of a tenth of the colour scale being the least one can
    call a split into "unrelated groups" on the paper's heatmaps; > 0 partly.
    """
    blocks = np.array([_block_of(n) if _block_of(n) is not None else -1 for n in layer_names])
    before, after = blocks < block, blocks > block
    if not before.any() or not after.any():
        raise ValueError(f"block {block} leaves no layers on one side of {len(layer_names)}")

    def across(m: np.ndarray) -> float:
        return _nanmean(_square(m, "CKA")[np.ix_(before, after)])

    value = across(intact_cka) - across(noskip_cka)
    return Claim(CHAPTER6, "Fig 8", f"Removing block {block}'s skip connections splits the "
                 "representations into unrelated groups before and after it.",
                 f"{model}: drop in mean CKA between layers before and after block {block}",
                 value, "> 0.1 (partly > 0)", verdict(value > 0.1, value > 0))


def fig8_accuracy_cost(acc_intact: float, acc_noskip: float, model: str) -> Claim:
    """Fig 8 text: removing a middle block's skip connections costs about 4 % accuracy.

    Statistic: test accuracy of the intact ViT minus the retrained one, in points.
    Threshold: ≥ 2 reproduced (half the paper's drop, allowing for a different scale);
    > 0.5 partly (a cost beyond run-to-run noise of a few tenths).
    """
    value = acc_intact - acc_noskip
    return Claim(CHAPTER6, "Fig 8", "Removing a middle block's skip connections costs about 4 % "
                 "accuracy.", f"test accuracy, intact minus {model} (points)", value,
                 ">= 2 (partly > 0.5)", verdict(value >= 2, value > 0.5))


# ---- Chapter 5: local and global information (Figs 3-6) ---------------------------------------
#
# A head is *local* when its mean attention distance is below half the uniform-attention
# distance U (the distance of a head that attends equally to every spatial key), *global*
# otherwise. U/2 is the midpoint between attending to one's own patch (0) and attending
# everywhere (U); in the paper's Fig 3 (U about 117 px) local heads sit near 10-40 px and
# global ones near 80-120 px, so the cut falls in the gap between the two groups. Every
# threshold below was fixed from the paper's wording before any of our numbers were seen.

CHAPTER5 = "05_local_global"
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
        chapter=CHAPTER5, figure="Fig 3",
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
        chapter=CHAPTER5, figure="Fig 3",
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
        chapter=CHAPTER5, figure="Fig 4",
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
    value = _nanmean(np.array([_spearman(d, c[:, j]) for j in range(c.shape[1])]))
    return Claim(
        chapter=CHAPTER5, figure="Fig 5",
        statement="The more local a subset of lowest-block heads, the more similar it is to "
                  "the ResNet's lower layers.",
        statistic="Spearman(subset mean distance, CKA), averaged over lower ResNet layers",
        value=value, threshold="< -0.5 (partly: < 0)",
        verdict=verdict(bool(value < -0.5), bool(value < 0)))


def centre_patch_fraction(erf: np.ndarray, patch_size: int) -> float:
    """The share of an ERF's mass on the centre patch (grid position ``(gh // 2, gw // 2)``).

    The patch whose token :mod:`seelike.receptive_field` differentiates for a ViT.
    """
    w = np.asarray(erf, dtype=float)
    if w.ndim != 2 or patch_size < 1 or w.shape[0] % patch_size or w.shape[1] % patch_size:
        raise ValueError(f"an (H, W) map divisible into {patch_size}-px patches is needed, "
                         f"got {w.shape}")
    total = w.sum()
    if total <= 0:
        return float("nan")
    r0 = (w.shape[0] // patch_size // 2) * patch_size
    c0 = (w.shape[1] // patch_size // 2) * patch_size
    return float(w[r0:r0 + patch_size, c0:c0 + patch_size].sum() / total)


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
        chapter=CHAPTER5, figure="Fig 6",
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
        chapter=CHAPTER5, figure="Fig 6",
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
        chapter=CHAPTER5, figure="Fig 6",
        statement="After the residual connection, ViT receptive fields depend strongly on the "
                  "centre patch.",
        statistic="centre-patch share of ViT attention ERFs, post minus pre residual "
                  "(mean over blocks)",
        value=value, threshold="> 0 in every block (partly: mean > 0)",
        verdict=verdict(bool((diff > 0).all()), value > 0))


# ---- Chapter 8: data and model scale (Figs 12, 13) -------------------------------------------

CHAPTER8 = "08_scale"


def diagonal_by_third(cross: np.ndarray) -> tuple[float, float]:
    """Mean CKA of corresponding blocks in the lowest and in the highest third of depth.

    ``cross`` is a square (blocks, blocks) CKA matrix between two models of the same
    architecture; its diagonal pairs block i with block i (Fig 12).
    """
    diag = np.diag(_square(cross, "cross"))
    pos = depth_fraction(len(diag))
    return _nanmean(diag[pos < 1 / 3]), _nanmean(diag[pos > 2 / 3])


def fig12_lower_similar(cross: np.ndarray, model: str) -> Claim:
    """Fig 12: with less data, lower blocks stay similar to the full-data ViT, higher ones diverge.

    Statistic: :func:`diagonal_by_third`, lowest third minus highest third, for the
    ViT trained on the least data against the full-data one. Reproduced above 0.1, the
    "clear" margin of Fig 1 (:data:`CLEAR_STAGE_MARGIN`: the paper's curves fall from
    near 1 to well below as depth grows); partly above 0.
    """
    low, high = diagonal_by_third(cross)
    value = low - high
    return Claim(
        chapter=CHAPTER8, figure="Fig 12",
        statement="ViTs trained on less data have lower blocks similar to the full-data "
                  "ViT's, and diverge in higher blocks.",
        statistic=f"{model} vs full-data ViT: mean CKA of corresponding blocks, lowest third "
                  "minus highest third",
        value=value, threshold=f"> {CLEAR_STAGE_MARGIN} (partly: > 0)",
        verdict=verdict(bool(value > CLEAR_STAGE_MARGIN), bool(value > 0)))


PROBE_MARGIN = 0.02


def fig13_more_data_better(middle_accuracy: Sequence[float], models: Sequence[str]) -> Claim:
    """Fig 13: more training data gives better intermediate representations.

    ``middle_accuracy`` is the linear-probe accuracy (fraction correct) of the middle third
    of the blocks for ViTs trained on decreasing amounts of data, most data first.
    Statistic: most data minus least data. Reproduced if above 0.02 *and* the accuracy
    falls at every step to less data: the paper reports about 30 points between JFT-300M
    and ImageNet; our fractions span far less data, so only the direction is asked of
    them, with 2 points as the smallest gap that a probe test set of a few thousand
    images resolves (its standard error is about one point). Partly if above 0.
    """
    acc = np.asarray(middle_accuracy, dtype=float)
    if len(acc) < 2 or len(acc) != len(models):
        raise ValueError(f"need one accuracy per model and at least two, got {len(acc)} "
                         f"accuracies for {len(models)} models")
    value = float(acc[0] - acc[-1])
    monotone = bool(np.all(np.diff(acc) < 0))
    return Claim(
        chapter=CHAPTER8, figure="Fig 13",
        statement="ViTs trained on more data have better intermediate representations "
                  "(higher linear-probe accuracy in the middle blocks).",
        statistic=f"middle-third probe accuracy, {models[0]} minus {models[-1]}",
        value=value, threshold=f"> {PROBE_MARGIN} and falling with every cut in data "
                               "(partly: > 0)",
        verdict=verdict(value > PROBE_MARGIN and monotone, value > 0))


# ---- Chapter 9: MLP-Mixer (Figs H.1, H.2) ----------------------------------------------------

CHAPTER9 = "09_mixer"


def two_block_split(matrix: np.ndarray) -> tuple[int, float]:
    """The cut ``k`` into layers ``[0, k)`` and ``[k, n)`` with the largest :func:`stage_contrast`.

    Returns ``(k, contrast)``: the two-block structure that best describes a within-model
    CKA matrix (paper H.1 describes the Mixer's as "a small then a large block").
    """
    m = _square(matrix, "matrix")
    if len(m) < 4:
        raise ValueError(f"need at least 4 layers to split into two blocks, got {len(m)}")
    contrasts = [stage_contrast(m, [0] * k + [1] * (len(m) - k)) for k in range(2, len(m) - 1)]
    best = int(np.nanargmax(contrasts))
    return best + 2, float(contrasts[best])


def h1_mixer_blocks(mixer_cka: np.ndarray) -> Claim:
    """H.1: the Mixer's representations form a small block of layers, then a large one.

    Statistic: the contrast of the best two-block split (:func:`two_block_split`).
    Reproduced if it clears the bar of "clear stages" of Fig 1 (> 0.1,
    :data:`CLEAR_STAGE_MARGIN`, for the same reason: a tenth of the colour scale is the
    smallest difference that reads as a block) *and* the cut lies in the lower half, so
    the first block is the smaller one; partly if only the contrast clears the bar.
    """
    k, value = two_block_split(mixer_cka)
    small_first = k / len(mixer_cka) < 0.5
    return Claim(
        chapter=CHAPTER9, figure="Fig H.1",
        statement="The Mixer's layers form a small block of similar representations, then a "
                  "large one.",
        statistic=f"Mixer: best two-block CKA contrast (cut after layer {k} of "
                  f"{len(mixer_cka)})",
        value=value, threshold=f"> {CLEAR_STAGE_MARGIN} with the cut in the lower half "
                               "(partly: contrast only)",
        verdict=verdict(bool(value > CLEAR_STAGE_MARGIN) and small_first,
                        bool(value > CLEAR_STAGE_MARGIN)))


def mean_best_match(cross: np.ndarray) -> float:
    """Mean over the rows of a cross-model CKA matrix of each row's highest CKA."""
    c = np.asarray(cross, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cross must be a 2-D CKA matrix, got {c.shape}")
    return _nanmean(np.nanmax(np.where(np.isfinite(c), c, -np.inf), axis=1))


def h2_mixer_vit_like(mixer_vs_vit: np.ndarray, mixer_vs_resnet: np.ndarray) -> Claim:
    """H.2: the Mixer is more similar to the ViT than to the ResNet.

    Statistic: :func:`mean_best_match` of Mixer × ViT minus that of Mixer × ResNet:
    how well the average Mixer layer is matched by some ViT layer, compared with some
    ResNet layer. Reproduced if above 0.05, half the "clear" margin of Fig 1 (the
    paper's H.2 shows the difference as plainly visible, not as a new block
    structure); partly if above 0.
    """
    value = mean_best_match(mixer_vs_vit) - mean_best_match(mixer_vs_resnet)
    margin = CLEAR_STAGE_MARGIN / 2
    return Claim(
        chapter=CHAPTER9, figure="Fig H.2",
        statement="MLP-Mixer representations are more similar to ViT's than to ResNet's.",
        statistic="mean best-match CKA of Mixer layers: with ViT minus with ResNet",
        value=value, threshold=f"> {margin} (partly: > 0)",
        verdict=verdict(bool(value > margin), bool(value > 0)))


def styled(claims: Sequence[Claim]):  # -> pandas Styler
    """:func:`table` ready for a chapter page: without the chapter column (the page says it),
    values to 3 decimals, text HTML-escaped (thresholds hold ``<`` and ``>``)."""
    return (table(claims).drop(columns="chapter").style
            .format({"value": "{:.3f}"}, escape="html").hide(axis="index"))


# ---- Chapter 10: minibatch CKA estimators ----
#
# Beyond the paper: do Chapter 4's verdicts survive smaller minibatches, and what would the
# biased HSIC_0 have done? Both conditions were fixed before any of Chapter 10's numbers were
# computed; the docstrings give the reasons.

CHAPTER10 = "10_estimators"
PAPER_SMALLEST_BATCH = 128  # the paper: minibatches down to 128 had "no noticeable effect"


def estimators_verdicts_hold(by_batch: Mapping[int, Sequence[Claim]],
                             reference: Sequence[Claim], *,
                             down_to: int = PAPER_SMALLEST_BATCH) -> Claim:
    """Chapter 10: the unbiased estimator keeps Chapter 4's verdicts down to minibatches of 128.

    ``by_batch`` maps a minibatch size to :func:`chapter4_claims` on CKA matrices (HSIC_1)
    computed in minibatches of that size; ``reference`` is the same on the largest size (the
    full batch where the probe set is one minibatch). Statistic: the fraction of (claim,
    size >= ``down_to``) pairs whose verdict equals the reference's. Reproduced if 1: the
    paper says smaller minibatches had "no noticeable effect", and a changed verdict is a
    noticeable effect. Partly if every change is a single step (to or from "partly"): a
    statistic near one of its bars crossed it, but no claim turned from reproduced to not
    reproduced or back.
    """
    ref = {c.statistic: c.verdict for c in reference}
    pairs = [(c.verdict, ref[c.statistic]) for b, cs in by_batch.items() if b >= down_to
             for c in cs]
    if not pairs:
        raise ValueError(f"no minibatch size >= {down_to} among {sorted(by_batch)}")
    value = float(np.mean([got == want for got, want in pairs]))
    one_step = all(abs(VERDICTS.index(got) - VERDICTS.index(want)) <= 1 for got, want in pairs)
    return Claim(
        chapter=CHAPTER10, figure="Figs 1, 2",
        statement=f"With the unbiased HSIC estimator, minibatches down to {down_to} examples "
                  "leave the representation-structure claims' verdicts unchanged.",
        statistic=f"fraction of Chapter 4 verdicts at minibatch sizes >= {down_to} equal to "
                  "the largest size's",
        value=value, threshold="== 1 (partly: every change is one step, to or from partly)",
        verdict=verdict(value == 1, one_step))


def _off_diagonal_mean(matrix: np.ndarray) -> float:
    m = _square(matrix, "CKA")
    return _nanmean(m[~np.eye(len(m), dtype=bool)])


def estimators_biased_inflation(biased_small: np.ndarray, biased_ref: np.ndarray,
                                unbiased_small: np.ndarray, unbiased_ref: np.ndarray,
                                batch: int) -> Claim:
    """Chapter 10: the biased HSIC_0 inflates minibatch CKA at small minibatches; HSIC_1 less so.

    The four matrices are CKA over the same layers and examples (square; the diagonal is
    left out), in minibatches of ``batch`` (``*_small``) and of the largest size
    (``*_ref``). Statistic: the mean CKA over distinct layer pairs with HSIC_0 at ``batch``
    minus at the largest size. Reproduced if ``>= 0.1`` and larger than the absolute shift
    of HSIC_1 between the same sizes: a tenth of the [0, 1] colour scale is the smallest
    change that reads on a heatmap (Chapter 4's "clear stages" bar,
    ``CLEAR_STAGE_MARGIN``), and the comparison with HSIC_1 puts the inflation on the
    estimator rather than on the minibatching. Partly if positive and larger than HSIC_1's
    shift but below 0.1 (present, not visible).
    """
    value = _off_diagonal_mean(biased_small) - _off_diagonal_mean(biased_ref)
    unbiased_shift = abs(_off_diagonal_mean(unbiased_small) - _off_diagonal_mean(unbiased_ref))
    beats = bool(value > unbiased_shift)
    return Claim(
        chapter=CHAPTER10, figure="beyond the paper",
        statement="The biased HSIC estimator inflates minibatch CKA at small minibatches, "
                  "which the unbiased one avoids.",
        statistic=f"mean CKA of distinct layer pairs, biased HSIC, minibatch {batch} minus "
                  "the largest",
        value=value,
        threshold=f">= {CLEAR_STAGE_MARGIN} and > the unbiased shift (partly: > the unbiased "
                  "shift)",
        verdict=verdict(bool(value >= CLEAR_STAGE_MARGIN) and beats, beats))


# ---- Chapter 7: spatial information (Figs 9-11) ----

CHAPTER7 = "07_localization"
#: Fig 9: interior tokens "most similar to the corresponding input patch"
LOCALIZED_TOP1 = 0.75
#: Fig 9, partly: the own patch among the most similar tenth of patches on average
LOCALIZED_RANK = 0.1
#: Fig 10: "noticeably less localized", in normalised own-patch rank
NOTICEABLY_LESS = 0.05
#: Fig 11: "poor" versus "good" per-token probes, in accuracy
PROBE_GAP = 0.1
#: Fig 11: "about as good", in accuracy
ABOUT_EQUAL = 0.05


def _localization(cka: np.ndarray, positions: np.ndarray | None = None) -> dict[str, float]:
    from seelike.localization import localization_summary

    return localization_summary(cka, positions)


def fig9_vit_localized(cka: np.ndarray, grid: tuple[int, int], model: str) -> Claim:
    """Fig 9: interior tokens of the CLS ViT's final block are most similar to their own patch.

    ``cka`` is the final block's (tokens, patches) token-to-patch CKA. Statistic: the
    fraction of interior tokens (off the grid's border) whose own input patch is strictly
    the most similar (:func:`seelike.localization.localization_summary`). The paper says
    interior tokens are "most similar to the corresponding input patch" and every interior
    example it draws shows it; reproduced if ``>= 0.75``, three in four, allowing a few
    tokens whose neighbour wins on a noisy estimate. Partly if the own patch is at least
    among the most similar tenth of patches on average (normalised rank ``<= 0.1``):
    localized, but not sharply enough to be first.
    """
    from seelike.localization import interior

    s = _localization(cka, interior(grid))
    return Claim(
        chapter=CHAPTER7, figure="Fig 9",
        statement="Interior tokens of a CLS ViT's final block are most similar to their own "
                  "input patch: ViT tokens stay localized.",
        statistic=f"{model}, final block: fraction of interior tokens whose own patch is the "
                  "most similar",
        value=s["top1"],
        threshold=f">= {LOCALIZED_TOP1} (partly: normalised own-patch rank <= "
                  f"{LOCALIZED_RANK})",
        verdict=verdict(s["top1"] >= LOCALIZED_TOP1, s["normalised_rank"] <= LOCALIZED_RANK))


def fig10_gap_less_localized(cls_cka: np.ndarray, gap_cka: np.ndarray) -> Claim:
    """Fig 10: the GAP ViT's final-block tokens are less localized than the CLS ViT's.

    Statistic: normalised mean own-patch rank (0: every token finds its own patch first,
    about 0.5: chance) of the GAP model minus that of the CLS model, over all tokens of the
    final block; both ViTs have the same grid. Reproduced if ``> 0.05``: "noticeably less
    localized" asks for a visible shift, and a twentieth of the grid is the smallest we
    call visible; partly if ``> 0`` (the direction holds).
    """
    value = (_localization(gap_cka)["normalised_rank"]
             - _localization(cls_cka)["normalised_rank"])
    return Claim(
        chapter=CHAPTER7, figure="Fig 10",
        statement="A GAP ViT's tokens are noticeably less localized than a CLS ViT's.",
        statistic="normalised own-patch rank, final block: GAP ViT minus CLS ViT",
        value=value, threshold=f"> {NOTICEABLY_LESS} (partly: > 0)",
        verdict=verdict(value > NOTICEABLY_LESS, value > 0))


def fig9_resnet_least_localized(resnet_cka: np.ndarray, cls_cka: np.ndarray,
                                gap_cka: np.ndarray) -> Claim:
    """Fig 9: ResNet's final-layer positions are the least spatially discriminative.

    Statistic: the ResNet final unit's normalised own-patch rank minus the larger of the
    two ViTs' (their final blocks); normalising by the grid lets a 4 x 4 map compare with
    an 8 x 8 one. Reproduced if ``> 0``: the ResNet is less localized than both ViTs, the
    ordering the paper's Figs 9 and 10 show together; any margin would be ours. Partly if
    it is less localized than the CLS ViT only (the comparison Fig 9 itself draws).
    """
    res = _localization(resnet_cka)["normalised_rank"]
    cls = _localization(cls_cka)["normalised_rank"]
    gap = _localization(gap_cka)["normalised_rank"]
    value = res - max(cls, gap)
    return Claim(
        chapter=CHAPTER7, figure="Fig 9",
        statement="ResNet's final-layer positions are much less spatially discriminative than "
                  "ViT tokens.",
        statistic="normalised own-patch rank: ResNet final unit minus the less localized ViT",
        value=value, threshold="> 0 (partly: ResNet above the CLS ViT only)",
        verdict=verdict(value > 0, res > cls))


def fig11_token_probes(cls_token: float, other_token: float, other: str) -> Claim:
    """Fig 11a: per-token probes are poor in the CLS ViT's last block, good in ``other``'s.

    ``cls_token`` and ``other_token`` are the mean per-token probe accuracies (10-shot, as
    in the paper) at the last block of the CLS ViT and of ``other`` (the GAP ViT or the
    ResNet). Statistic: ``other`` minus CLS. Reproduced if ``> 0.1``: "poor" against
    "good" is a gap of tens of points in the paper's figure, and ten points is the least
    that reads as such on our accuracy scale; partly if ``> 0``.
    """
    value = float(other_token - cls_token)
    return Claim(
        chapter=CHAPTER7, figure="Fig 11",
        statement=f"Per-token linear probes at the last block are poor for the CLS ViT and "
                  f"good for the {other}.",
        statistic=f"mean per-token probe accuracy, last block: {other} minus CLS ViT",
        value=value, threshold=f"> {PROBE_GAP} (partly: > 0)",
        verdict=verdict(value > PROBE_GAP, value > 0))


def fig11_cls_matches_gap(cls_probe: float, gap_probe: float) -> Claim:
    """Fig 11b: the CLS model's CLS-token probe is about as good as the GAP model's GAP probe.

    Both are last-block probe accuracies. Statistic: their absolute difference. Reproduced
    if ``<= 0.05``: "about as good" allows the few points by which two 10-shot probes on
    different models differ by chance (the test set's own sampling error is about a
    point); partly if ``<= 0.1``.
    """
    value = float(abs(cls_probe - gap_probe))
    return Claim(
        chapter=CHAPTER7, figure="Fig 11",
        statement="The CLS ViT's CLS-token probe is about as accurate as the GAP ViT's pooled "
                  "probe.",
        statistic="|CLS-token probe (CLS ViT) - GAP probe (GAP ViT)|, last block",
        value=value, threshold=f"<= {ABOUT_EQUAL} (partly: <= {2 * ABOUT_EQUAL})",
        verdict=verdict(value <= ABOUT_EQUAL, value <= 2 * ABOUT_EQUAL))
