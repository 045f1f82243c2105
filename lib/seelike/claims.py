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
from collections.abc import Sequence
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


def read_all(preset: str) -> pd.DataFrame:
    """Every chapter's claims under ``preset``, in chapter order (empty frame if none)."""
    folder = results_dir(preset)
    frames = [pd.read_csv(p, dtype={c: str for c in COLUMNS if c != "value"})
              for p in sorted(folder.glob("*.csv"))] if folder.is_dir() else []
    frames = [f for f in frames if len(f)]
    if not frames:
        return table([])
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)].astype({"value": float})


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
