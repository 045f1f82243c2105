"""Chapter 8's claims: data and model scale (paper Figs 12 and 13).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 8 tests, clause by
clause, with its statistic, control and bars. Fig 12's statistics come from the CKA of a
less-data ViT's blocks with the full-data ViT's, read against the same CKA between two
training seeds of the full-data ViT (the floor that data alone must clear), over bootstrap
resamplings of the probe images; Fig 13's from pooled-probe accuracies, over independent
10-shot draws of the probe training set. The zoo has one ViT size, so the clauses about
larger models are untestable here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seelike.book.claims.ch04 import CLEAR_STAGE_MARGIN
from seelike.book.claims.declare import Declaration, declared
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured
from seelike.structure import depth_fraction, diagonal_by_third

__all__ = ["CHAPTER", "DECLARATIONS", "PROBE_MARGIN", "chapter8_claims", "lower_minus_higher",
           "lowest_third", "middle_third", "more_data_gain", "smallest_step"]

CHAPTER = "08_scale"

#: Fig 13: the least gap in probe accuracy that a test set of a few thousand images
#: resolves (its standard error is about one point)
PROBE_MARGIN = 0.02
_ONE_SIZE = "the zoo has one ViT size"

_FIG12 = ("Even with 3% of the entire dataset, lower layer representations are very similar "
          "to the model trained on the whole dataset, but higher layers require larger "
          "amounts of pretraining data to learn the same representations as at large data "
          "scale …")
_FIG12_WHERE = ("Section 8, para 2 (cut: ', especially with the large model size.', which "
                "the Figure 12 caption's 'larger models' clause tests)")
_FIG12_CAPTION = ("We observe that while lower layer representations have high similarity "
                  "even with 10% of the data, higher layers and larger models require "
                  "significantly more data to learn similar representations.")
_FIG13B = ("We again see the larger ViT models learn much stronger intermediate "
           "representations than the ResNets.")
_SEED_FLOOR = ("the same statistic between two training seeds of the full-data ViT, which "
               "share all their data")
_LOWER = ("'very similar' / 'high similarity' to the full-data model: within the clear "
          "margin (a tenth of the CKA scale) of how alike two seeds of that model are; "
          "partly: within twice that")
_FALL = ("the paper's curves fall from near 1 to well below as depth grows; net of the fall "
         "two seeds already show, the data must add at least Fig 1's 'clear' margin (a tenth "
         "of the CKA scale); partly: any fall beyond the seeds'")

DECLARATIONS = declared([
    Declaration(
        "fig12_lower_very_similar", "Fig 12", _FIG12, _FIG12_WHERE,
        "least-data ViT against the full-data ViT: mean CKA of corresponding blocks over "
        "the lowest third of depth", ">", -CLEAR_STAGE_MARGIN, -2 * CLEAR_STAGE_MARGIN,
        _LOWER, _SEED_FLOOR, net="difference", roles=("less_data", "vit"),
        clause="lower layer representations are very similar to the model trained on the "
               "whole dataset"),
    Declaration(
        "fig12_lower_similar", "Fig 12", _FIG12, _FIG12_WHERE,
        "least-data ViT against the full-data ViT: mean CKA of corresponding blocks, lowest "
        "third minus highest third", ">", CLEAR_STAGE_MARGIN, 0.0, _FALL, _SEED_FLOOR,
        net="difference", roles=("less_data", "vit"),
        clause="higher layers require larger amounts of pretraining data to learn the same "
               "representations as at large data scale"),
    Declaration(
        "fig12_caption_lower", "Fig 12", _FIG12_CAPTION, "Figure 12 caption",
        "least-data ViT against the full-data ViT: mean CKA of corresponding blocks over "
        "the lowest third of depth", ">", -CLEAR_STAGE_MARGIN, -2 * CLEAR_STAGE_MARGIN,
        _LOWER, _SEED_FLOOR, net="difference", roles=("less_data", "vit"),
        clause="lower layer representations have high similarity even with 10% of the data"),
    Declaration(
        "fig12_caption_higher", "Fig 12", _FIG12_CAPTION, "Figure 12 caption",
        "least-data ViT against the full-data ViT: mean CKA of corresponding blocks, lowest "
        "third minus highest third", ">", CLEAR_STAGE_MARGIN, 0.0, _FALL, _SEED_FLOOR,
        net="difference", roles=("less_data", "vit"),
        clause="higher layers and larger models require significantly more data"),
    Declaration(
        "fig12_larger_models", "Fig 12", _FIG12_CAPTION, "Figure 12 caption",
        "Fig 12's lowest-minus-highest-third fall, a larger ViT's minus a smaller ViT's at "
        "the same data fraction", ">", 0.0, None,
        "'larger models require significantly more data': the larger ViT must fall further",
        "the same difference between two training seeds of one ViT size",
        clause="larger models require significantly more data to learn similar "
               "representations"),
    Declaration(
        "fig13_more_data", "Fig 13",
        "We observe the JFT-300M pretained models achieve much higher accuracies even with "
        "middle layer representations, …",
        "Section 8, para 3 (Fig 13, left; cut: ', with a 30% gap in absolute accuracy to the "
        "models pretrained only on ImageNet', a size our 10x range of data cannot be held to)",
        "10-shot pooled probe accuracy over the middle third of blocks: full-data ViT minus "
        "least-data ViT", ">", PROBE_MARGIN, 0.0,
        "our fractions span 10x the data where the paper's span about 300x, so only the "
        "direction is asked, with 2 points as the least gap a probe test set of a few "
        "thousand images resolves; partly: any gain", _SEED_FLOOR,
        roles=("vit", "less_data")),
    Declaration(
        "fig13_every_cut", "Fig 13",
        "Middle-block probe accuracy falls with every cut in the training data (100 %, "
        "30 %, 10 %), not only from the most to the least.",
        "beyond the paper, which compares two data sizes",
        "smallest drop in 10-shot pooled probe accuracy over the middle third of blocks "
        "between consecutive data fractions", ">", 0.0, None,
        "each step must at least go the right way", _SEED_FLOOR, paper=False,
        roles=("vit", "less_data")),
    Declaration(
        "fig13b_vit_vs_resnet", "Fig 13", _FIG13B, "Section 8, para 3 (Fig 13, right)",
        "10-shot pooled probe accuracy of the ViT over the middle third of its blocks",
        ">", PROBE_MARGIN, 0.0,
        "'much stronger' than the ResNets: beyond the 2 points a probe test set resolves "
        "(Fig 13's bar); partly: stronger at all",
        "the same accuracy for the ResNet over the middle third of its units",
        net="difference", roles=("vit", "resnet"),
        clause="ViT models learn much stronger intermediate representations than the "
               "ResNets"),
    Declaration(
        "fig13b_larger", "Fig 13", _FIG13B, "Section 8, para 3 (Fig 13, right)",
        "the same gain over the ResNet, a larger ViT's minus a smaller ViT's", ">", 0.0, None,
        "'the larger ViT models' learn the stronger representations: the gain must grow "
        "with ViT size", "the same difference between two training seeds of one ViT size",
        clause="the larger ViT models"),
])


def lowest_third(cross: np.ndarray) -> float:
    """Fig 12: mean CKA of corresponding blocks over the lowest third of depth."""
    return diagonal_by_third(cross)[0]


def lower_minus_higher(cross: np.ndarray) -> float:
    """Fig 12: mean CKA of corresponding blocks, lowest third minus highest third."""
    low, high = diagonal_by_third(cross)
    return low - high


def middle_third(accuracy: np.ndarray) -> float:
    """Mean probe accuracy over the blocks in the middle third of depth (Fig 13)."""
    acc = np.asarray(accuracy, dtype=float)
    depth = depth_fraction(len(acc))
    middle = acc[(depth > 1 / 3) & (depth < 2 / 3)]
    if not middle.size:
        raise ValueError(f"{len(acc)} blocks have no middle third")
    return float(middle.mean())


def _check_order(middles: Sequence[float]) -> np.ndarray:
    acc = np.asarray(middles, dtype=float)
    if acc.ndim != 1 or len(acc) < 2:
        raise ValueError(f"need the accuracies of at least two data fractions, most data "
                         f"first; got {len(np.atleast_1d(acc))}")
    return acc


def more_data_gain(middles: Sequence[float]) -> float:
    """Fig 13: middle-third accuracy of the most data (first) minus the least (last)."""
    acc = _check_order(middles)
    return float(acc[0] - acc[-1])


def smallest_step(middles: Sequence[float]) -> float:
    """The smallest drop in middle-third accuracy from one data fraction to the next less."""
    acc = _check_order(middles)
    return float(np.min(acc[:-1] - acc[1:]))


def _over_draws(values: Sequence[float]) -> Measured:
    v = [float(x) for x in values]
    return Measured(float(np.mean(v)), tuple(v) if len(v) > 1 else None)


def chapter8_claims(cross: np.ndarray | None, cross_boot: np.ndarray | None,
                    floor: np.ndarray | None, floor_boot: np.ndarray | None,
                    middles: Mapping[str, Sequence[float]], order: Sequence[str], resnet: str,
                    *, other_seed: str | None = None,
                    seed_pairs: Sequence[tuple[str, str]] = (),
                    cka_varies: str = "", shot_varies: str = "") -> list[Claim]:
    """All of Chapter 8's claims, in :data:`DECLARATIONS` order.

    ``cross``: the least-data ViT's blocks (rows) against the full-data ViT's, ``floor``
    the full-data ViT's other seed against it, each with its (draws, ...) bootstrap stack
    (the same resamplings). ``middles``: for each model, the middle-third probe accuracy of
    each 10-shot draw (draw i on the same training images for every model); ``order``: the
    ViTs, most data first; ``other_seed``: the full-data ViT's second seed in ``middles``
    (Fig 13's control); ``seed_pairs``: (ViT, ResNet) of each other training seed in
    ``middles`` (Fig 13b's seed values). Without a less-data ViT the data claims are
    untestable, and the larger-model clauses always are (one ViT size).
    """
    names = [*order, resnet, *([other_seed] if other_seed else []),
             *(n for pair in seed_pairs for n in pair)]
    draws = {len(middles[name]) for name in names}
    if len(draws) != 1 or not draws.pop():
        raise ValueError("every model needs the same, non-zero number of shot draws")
    d = DECLARATIONS
    nan = Measured(float("nan"))
    out: list[Claim] = []
    for key, statistic in (("fig12_lower_very_similar", lowest_third),
                           ("fig12_lower_similar", lower_minus_higher),
                           ("fig12_caption_lower", lowest_third),
                           ("fig12_caption_higher", lower_minus_higher)):
        if cross is None or floor is None:
            out.append(d[key].judge(CHAPTER, nan, untestable=(
                "this preset has no ViT trained on less data, or no second seed of the "
                "full-data ViT")))
            continue

        def of(m: np.ndarray, boot: np.ndarray | None, f=statistic) -> Measured:
            return Measured(f(m), None if boot is None else tuple(f(b) for b in boot))

        out.append(d[key].judge(CHAPTER, of(cross, cross_boot), control=of(floor, floor_boot),
                                varies=cka_varies))
    out.append(d["fig12_larger_models"].judge(CHAPTER, nan, untestable=_ONE_SIZE))
    control = None if other_seed is None else _over_draws(
        [a - b for a, b in zip(middles[order[0]], middles[other_seed], strict=True)])
    if len(order) < 2:
        why = "this preset has one ViT per data size"
        out += [d[k].judge(CHAPTER, nan, untestable=why)
                for k in ("fig13_more_data", "fig13_every_cut")]
    else:
        per_draw = list(zip(*(middles[name] for name in order), strict=True))
        out += [d[key].judge(CHAPTER, _over_draws([f(row) for row in per_draw]),
                             control=control, varies=shot_varies)
                for key, f in (("fig13_more_data", more_data_gain),
                               ("fig13_every_cut", smallest_step))]
    vit = _over_draws(middles[order[0]])
    res = _over_draws(middles[resnet])
    vit = Measured(vit.value, vit.draws, tuple(float(np.mean(middles[v])) for v, _ in seed_pairs))
    res = Measured(res.value, res.draws, tuple(float(np.mean(middles[r])) for _, r in seed_pairs))
    out.append(d["fig13b_vit_vs_resnet"].judge(CHAPTER, vit, control=res, varies=shot_varies))
    out.append(d["fig13b_larger"].judge(CHAPTER, nan, untestable=_ONE_SIZE))
    return out
