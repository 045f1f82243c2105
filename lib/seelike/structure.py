"""Statistics of CKA matrices across depth: where layers sit, stages, best matches.

Summary numbers of CKA heatmaps (paper Figs 1, 2, 12, H.1 and H.2). They take CKA matrices
whose layer 0 is the lowest layer and speak of positions as *fractions of depth*, so that
they apply unchanged to 16 or 60 layers: layer ``i`` of ``n`` sits at ``(i + 0.5) / n``, and
the "lowest third" is every layer whose position is below 1/3. NaN entries (constant layers)
are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["best_match_fraction", "best_match_halves", "depth_fraction", "diagonal_by_third",
           "finite_mean", "kind_contrast", "low_high_similarity", "mapped_stages",
           "mean_best_match", "off_diagonal_mean", "row_permutations", "square_matrix",
           "stage_contrast", "two_block_split"]


def depth_fraction(n: int) -> np.ndarray:
    """Position of each of ``n`` layers as a fraction of depth, ``(i + 0.5) / n``."""
    if n < 1:
        raise ValueError(f"need at least one layer, got {n}")
    return (np.arange(n) + 0.5) / n


def mapped_stages(n: int, reference: Sequence[int]) -> np.ndarray:
    """Stages for ``n`` layers, the ``reference`` model's stage boundaries mapped by depth fraction.

    Layer ``i`` gets the stage of the reference layer at the same fraction of depth,
    ``reference[floor((i + 0.5) / n * len(reference))]``.
    """
    reference = np.asarray(reference)
    index = np.floor(depth_fraction(n) * len(reference)).astype(int)
    return reference[np.minimum(index, len(reference) - 1)]


def square_matrix(matrix: np.ndarray, what: str) -> np.ndarray:
    """``matrix`` as a float array, or ValueError naming ``what`` unless it is square."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{what} must be a square within-model CKA matrix, got {m.shape}")
    return m


def finite_mean(values: np.ndarray) -> float:
    """The mean of the finite entries of ``values`` (NaN if there are none)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def low_high_similarity(matrix: np.ndarray) -> float:
    """Mean CKA between the lowest third and the highest third of a model's layers (Fig 1).

    Both off-diagonal blocks are averaged, so a slightly asymmetric estimate counts
    both ways; NaN entries (constant layers) are skipped.
    """
    m = square_matrix(matrix, "matrix")
    pos = depth_fraction(len(m))
    low, high = pos < 1 / 3, pos > 2 / 3
    return finite_mean(np.concatenate([m[np.ix_(low, high)].ravel(), m[np.ix_(high, low)].ravel()]))


def stage_contrast(matrix: np.ndarray, stages: Sequence[int]) -> float:
    """Mean CKA within stages minus mean CKA across stages, over pairs of distinct layers (Fig 1).

    The diagonal (every layer with itself, CKA 1) is left out, so a matrix that is
    equally similar everywhere scores 0 whatever its level.
    """
    m = square_matrix(matrix, "matrix")
    stages = np.asarray(stages)
    if stages.shape != (len(m),):
        raise ValueError(f"need one stage per layer: {len(m)} layers, {stages.shape} stages")
    same = stages[:, None] == stages[None, :]
    off = ~np.eye(len(m), dtype=bool)
    return finite_mean(m[same & off]) - finite_mean(m[~same & off])


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


def best_match_halves(cross: np.ndarray) -> tuple[float, float]:
    """Mean best-match ViT depth fraction over the ResNet's lower and upper halves."""
    best = best_match_fraction(cross)
    pos = depth_fraction(len(best))
    return finite_mean(best[pos < 0.5]), finite_mean(best[pos >= 0.5])


def diagonal_by_third(cross: np.ndarray) -> tuple[float, float]:
    """Mean CKA of corresponding blocks in the lowest and in the highest third of depth.

    ``cross`` is a square (blocks, blocks) CKA matrix between two models of the same
    architecture; its diagonal pairs block i with block i (Fig 12).
    """
    diag = np.diag(square_matrix(cross, "cross"))
    pos = depth_fraction(len(diag))
    return finite_mean(diag[pos < 1 / 3]), finite_mean(diag[pos > 2 / 3])


def two_block_split(matrix: np.ndarray) -> tuple[int, float]:
    """The cut ``k`` into layers ``[0, k)`` and ``[k, n)`` with the largest :func:`stage_contrast`.

    Returns ``(k, contrast)``: the two-block structure that best describes a within-model
    CKA matrix (paper H.1 describes the Mixer's as "a small then a large block").
    """
    m = square_matrix(matrix, "matrix")
    if len(m) < 4:
        raise ValueError(f"need at least 4 layers to split into two blocks, got {len(m)}")
    contrasts = [stage_contrast(m, [0] * k + [1] * (len(m) - k)) for k in range(2, len(m) - 1)]
    best = int(np.nanargmax(contrasts))
    return best + 2, float(contrasts[best])


def mean_best_match(cross: np.ndarray) -> float:
    """Mean over the rows of a cross-model CKA matrix of each row's highest CKA."""
    c = np.asarray(cross, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cross must be a 2-D CKA matrix, got {c.shape}")
    return finite_mean(np.nanmax(np.where(np.isfinite(c), c, -np.inf), axis=1))


def off_diagonal_mean(matrix: np.ndarray) -> float:
    """The mean CKA over distinct layer pairs of a square matrix."""
    m = square_matrix(matrix, "CKA")
    return finite_mean(m[~np.eye(len(m), dtype=bool)])


def kind_contrast(matrix: np.ndarray, kinds: Sequence[str], groups: Sequence[int]) -> float:
    """Mean CKA between layers of the same kind in different groups minus between layers of
    different kinds in different groups.

    With ``groups`` the block of each layer and ``kinds`` its place in the block (a norm,
    the attention output, the block output), a positive value is a grid: rows and columns
    of one kind of layer stay alike across depth. Pairs within one group are left out,
    so that nearness in depth does not count.
    """
    m = square_matrix(matrix, "matrix")
    kinds, groups = np.asarray(kinds), np.asarray(groups)
    if kinds.shape != (len(m),) or groups.shape != (len(m),):
        raise ValueError(f"need one kind and one group per layer: {len(m)} layers, "
                         f"{kinds.shape} kinds, {groups.shape} groups")
    apart = groups[:, None] != groups[None, :]
    same = kinds[:, None] == kinds[None, :]
    return finite_mean(m[apart & same]) - finite_mean(m[apart & ~same])


def row_permutations(rows: int, count: int, seed: int = 0) -> np.ndarray:
    """``(count, rows)``: random orders of ``rows`` layers, from a fixed seed.

    A statistic of a cross-model matrix with its rows in a random order is what the
    statistic gives when depth carries no information: the control of a claim about
    where in depth the matches lie.
    """
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(rows) for _ in range(count)])
