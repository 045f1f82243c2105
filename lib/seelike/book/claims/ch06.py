"""Chapter 6's claims: skip connections (paper Figs 7 and 8).

Each function turns one sentence of the paper into a :class:`~seelike.book.claims.record.Claim`:
the statistic, its pass condition (fixed from the paper's wording before any of our
numbers were seen; the docstring gives the reason) and the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seelike.book.claims.record import Claim, verdict
from seelike.layers import block_index
from seelike.structure import finite_mean, square_matrix

CHAPTER = "06_skip_connections"


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
    return Claim(CHAPTER, "Fig 7", "Skip-connection norm ratios are much higher in ViT than "
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
    return Claim(CHAPTER, "Fig 7", "Early blocks carry the CLS token by the skip and change the "
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
    blocks = np.array([block_index(n) if block_index(n) is not None else -1 for n in layer_names])
    before, after = blocks < block, blocks > block
    if not before.any() or not after.any():
        raise ValueError(f"block {block} leaves no layers on one side of {len(layer_names)}")

    def across(m: np.ndarray) -> float:
        return finite_mean(square_matrix(m, "CKA")[np.ix_(before, after)])

    value = across(intact_cka) - across(noskip_cka)
    return Claim(CHAPTER, "Fig 8", f"Removing block {block}'s skip connections splits the "
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
    return Claim(CHAPTER, "Fig 8", "Removing a middle block's skip connections costs about 4 % "
                 "accuracy.", f"test accuracy, intact minus {model} (points)", value,
                 ">= 2 (partly > 0.5)", verdict(value >= 2, value > 0.5))
