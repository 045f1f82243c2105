"""Chapter 6's claims: skip connections (paper Figs 7, 8, E.1 and E.2).

:data:`DECLARATIONS` holds each sentence of the paper that Chapter 6 tests, clause by
clause, with its statistic, control and bars; the functions below compute the statistics
from norm ratios, output cosines, CKA matrices and per-image test correctness. The CLS
token's claims take as their control a spatial token in the CLS token's place (the first
patch token against the other patch tokens): the same statistic where no phase
transition should appear.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from seelike.book.claims.declare import Declaration, declared
from seelike.book.claims.table import Claim
from seelike.book.claims.verdict import Measured, measure
from seelike.layers import block_index
from seelike.structure import finite_mean, square_matrix

__all__ = ["CHAPTER", "DECLARATIONS", "Skips", "across_block", "attention_over_mlp_late",
           "chapter6_claims", "cosine_contrast", "log_ratio_halves", "ratio_median",
           "token_contrast"]

CHAPTER = "06_skip_connections"

_FIG7 = ("skip connection is much more influential in ViT compared to ResNet: we observe much "
         "higher norm ratios for ViT throughout, along with the phase transition from CLS to "
         "spatial token propagation")
_FIG7_WHERE = ("Section 6 (the sentence begins 'The right pane, which has line plots of these "
               "norm ratios across ResNet50, the ViT CLS token and the ViT spatial tokens "
               "additionally demonstrates that')")
_PHASE = ("We observe a striking phase transition: in the first half of the network, the CLS "
          "token (token 0) representation is primarily propagated by the skip connection "
          "branch (high norm ratio), while the spatial token representations have a large "
          "contribution coming from the long branch (lower norm ratio). Strikingly, in the "
          "second half of the network, this is reversed.")
_E1 = ("In both cases, we observe that the CLS token representation is mostly unchanged in "
       "the first few layers, while later layers change it rapidly, mostly via MLP blocks.")
_E1_SPATIAL = ("The reverse is true for the spatial tokens representing image patches, whose "
               "representation is mostly changed in earlier layers and does not change much "
               "during later layers.")
_E2 = ("… while spatial token representations change more in early layers, the output of "
       "later blocks is very similar to the representation present on the skip connections, "
       "while the inverse is true for the CLS token.")
_E2_WHERE = ("Appendix E (the sentence begins 'Looking at the cosine similarity of "
             "representations between output in Figure E.2 confirms these findings:')")
_PSEUDO = ("the first spatial token in the CLS token's place, against the other spatial "
           "tokens, where no transition should appear")
_SPATIAL = "the same statistic for the spatial tokens (their mean), which the paper finds " \
           "doing the reverse"
_CLS = "the same statistic for the CLS token, which the paper finds doing the reverse"
_SIGN = "a statement of direction without a size: the sign, the whole interval beyond 0"

DECLARATIONS = declared([
    Declaration(
        "fig7_ratios", "Fig 7", _FIG7, _FIG7_WHERE,
        "median ViT norm ratio (every block, both branches, every token)", ">", 2.0, 1.0,
        "'much higher' must mean at least twice (the paper's Fig 7 shows about an order of "
        "magnitude); higher at all is partly", "the median norm ratio of the ResNet's units",
        net="ratio", roles=("vit", "resnet"),
        clause="skip connection is much more influential in ViT compared to ResNet: we "
               "observe much higher norm ratios for ViT throughout"),
    Declaration(
        "fig7_ratios_transition", "Fig 7", _FIG7, _FIG7_WHERE,
        "smaller of (first-half mean, minus second-half mean) of log10(CLS / spatial ratio)",
        ">", 0.0, None,
        "a phase transition is a crossing: the CLS token above the spatial tokens in the "
        "first half (log > 0) and below in the second (log < 0); positive only when both "
        "hold", _PSEUDO, roles=("vit",),
        clause="along with the phase transition from CLS to spatial token propagation"),
    Declaration(
        "fig7_cls_transition", "Fig 7", _PHASE, "Section 6",
        "first-half mean of log10(CLS ratio / mean spatial ratio), both branches", ">", 0.0,
        None, "'primarily propagated by the skip' against the spatial tokens' 'lower norm "
        "ratio': " + _SIGN, _PSEUDO, roles=("vit",),
        clause="in the first half of the network, the CLS token (token 0) representation is "
               "primarily propagated by the skip connection branch (high norm ratio), while "
               "the spatial token representations have a large contribution coming from the "
               "long branch (lower norm ratio)"),
    Declaration(
        "fig7_cls_reversed", "Fig 7", _PHASE, "Section 6",
        "minus the second-half mean of log10(CLS ratio / mean spatial ratio), both branches",
        ">", 0.0, None, "'this is reversed': the CLS token below the spatial tokens; " + _SIGN,
        _PSEUDO, roles=("vit",),
        clause="Strikingly, in the second half of the network, this is reversed."),
    Declaration(
        "e1_cls_unchanged", "Fig E.1", _E1, "Appendix E",
        "first-half mean of log10(CLS token's norm ratio), both branches", ">", 0.0, None,
        "'mostly unchanged': the skip outweighs the branches (ratio above 1); " + _SIGN,
        _SPATIAL, roles=("vit",),
        clause="the CLS token representation is mostly unchanged in the first few layers"),
    Declaration(
        "e1_cls_late_change", "Fig E.1", _E1, "Appendix E",
        "second-half mean of log10(CLS token's norm ratio), both branches", "<", 0.0, None,
        "'change it rapidly': the branches outweigh the skip (ratio below 1); " + _SIGN,
        _SPATIAL, roles=("vit",), clause="while later layers change it rapidly"),
    Declaration(
        "e1_cls_mlp", "Fig E.1", _E1, "Appendix E",
        "second-half mean of log10(CLS token's attention ratio / its MLP ratio)", ">", 0.0,
        None, "'mostly via MLP blocks': the MLP branch the larger relative to the skip (a "
        "higher attention ratio than MLP ratio); " + _SIGN, _SPATIAL, roles=("vit",),
        clause="mostly via MLP blocks"),
    Declaration(
        "e1_spatial_early", "Fig E.1", _E1_SPATIAL, "Appendix E",
        "first-half mean of log10(mean spatial norm ratio), both branches", "<", 0.0, None,
        "'mostly changed': the branches outweigh the skip (ratio below 1); " + _SIGN, _CLS,
        roles=("vit",), clause="whose representation is mostly changed in earlier layers"),
    Declaration(
        "e1_spatial_late", "Fig E.1", _E1_SPATIAL, "Appendix E",
        "second-half mean of log10(mean spatial norm ratio), both branches", ">", 0.0, None,
        "'does not change much': the skip outweighs the branches (ratio above 1); " + _SIGN,
        _CLS, roles=("vit",), clause="and does not change much during later layers"),
    Declaration(
        "e2_output_cosine", "Fig E.2", _E2, _E2_WHERE,
        "first-half mean of the CLS token's minus the spatial tokens' cos(z, z + f(z)), both "
        "branches", ">", 0.0, None,
        "'spatial tokens change more' early: their output less like their input than the "
        "CLS token's; " + _SIGN, _PSEUDO, roles=("vit",),
        clause="while spatial token representations change more in early layers"),
    Declaration(
        "e2_output_late", "Fig E.2", _E2, _E2_WHERE,
        "second-half mean of the spatial tokens' minus the CLS token's cos(z, z + f(z)), both "
        "branches", ">", 0.0, None,
        "late, the spatial tokens' output like their skip and 'the inverse' for the CLS "
        "token: " + _SIGN, _PSEUDO, roles=("vit",),
        clause="the output of later blocks is very similar to the representation present on "
               "the skip connections, while the inverse is true for the CLS token"),
    Declaration(
        "fig8_split", "Fig 8",
        "ViT models trained without any skip connections in block i show very little "
        "representation similarity between layers before/after block i.",
        "Figure 8 caption",
        "largest over the retrained ViTs of the mean CKA between layers before and after the "
        "block without skips", "<", 0.2, 0.4,
        "'very little similarity' is the darkest fifth of the paper's [0, 1] colour scale; "
        "below 0.4, clearly under the middle of the scale, is partly; every block must split",
        "the intact ViT: the same largest mean CKA across the same blocks",
        roles=("noskip",)),
    Declaration(
        "fig8_accuracy", "Fig 8",
        "(We note a performance drop of 4% when removing skip connections from middle "
        "blocks.)",
        "Section 6",
        "test accuracy on the 10,000 CIFAR-10 test images, intact ViT minus the ViT without "
        "block 7's skips (points)",
        ">", 2.0, 0.5,
        "half the paper's drop, allowing for a different scale; partly: a cost beyond a few "
        "tenths of a point", "the same difference between two training seeds of the intact "
        "ViT", roles=("vit", "noskip")),
])

Ratios = Mapping[str, np.ndarray]


def ratio_median(ratio: Ratios) -> float:
    """The median norm ratio over every block, branch and token (or unit and position).

    Medians, because a branch that outputs almost nothing gives a huge ratio.
    """
    return float(np.nanmedian(np.concatenate([np.ravel(v) for v in ratio.values()])))


def _series(values: np.ndarray, token: str, prefix: int) -> np.ndarray:
    """Per block: the CLS token's value, the spatial tokens' mean, or ``pseudo`` (the first
    spatial token) and ``rest`` (the mean of the spatial tokens after it)."""
    if token == "cls":
        return values[:, 0]
    if token == "spatial":
        return values[:, prefix:].mean(1)
    if token == "pseudo":
        return values[:, prefix]
    return values[:, prefix + 1:].mean(1)


def _halves(per_block: np.ndarray) -> tuple[float, float]:
    half = len(per_block) // 2
    return float(np.mean(per_block[:half])), float(np.mean(per_block[half:]))


def token_contrast(ratio: Ratios, prefix: int, token: str = "cls", rest: str = "spatial"
                   ) -> tuple[float, float]:
    """First- and second-half means of log10(``token`` ratio / ``rest`` ratio), per block
    averaged over the two branches."""
    if prefix < 1 and token == "cls":
        raise ValueError("the CLS phase transition needs a model with a CLS token")
    logs = np.mean([np.log10(_series(r, token, prefix) / _series(r, rest, prefix))
                    for r in ratio.values()], axis=0)
    return _halves(logs)


def log_ratio_halves(ratio: Ratios, prefix: int, token: str) -> tuple[float, float]:
    """First- and second-half means of log10 of ``token``'s norm ratio, both branches."""
    logs = np.mean([np.log10(_series(r, token, prefix)) for r in ratio.values()], axis=0)
    return _halves(logs)


def attention_over_mlp_late(ratio: Ratios, prefix: int, token: str) -> float:
    """Second-half mean of log10(``token``'s attention ratio / its MLP ratio)."""
    logs = np.log10(_series(ratio["attn"], token, prefix) / _series(ratio["mlp"], token, prefix))
    return _halves(logs)[1]


def cosine_contrast(cosine: Ratios, prefix: int, token: str = "cls", rest: str = "spatial"
                    ) -> tuple[float, float]:
    """First- and second-half means of ``token``'s minus ``rest``'s cos(z, z + f(z))."""
    diff = np.mean([_series(c, token, prefix) - _series(c, rest, prefix)
                    for c in cosine.values()], axis=0)
    return _halves(diff)


def across_block(cka: np.ndarray, layer_names: Sequence[str], block: int) -> float:
    """Mean CKA between the layers of blocks before ``block`` and those of blocks after it."""
    blocks = np.array([block_index(n) if block_index(n) is not None else -1 for n in layer_names])
    before, after = blocks < block, blocks > block
    if not before.any() or not after.any():
        raise ValueError(f"block {block} leaves no layers on one side of {len(layer_names)}")
    return finite_mean(square_matrix(cka, "CKA")[np.ix_(before, after)])


class Skips:
    """What Chapter 6's Fig 7 and appendix E claims read for one probe set, draw or seed:
    the ViT's and the ResNet's norm ratios and the ViT's output cosines."""

    def __init__(self, vit_ratio: Ratios, resnet_ratio: Ratios, vit_cosine: Ratios) -> None:
        self.vit_ratio, self.resnet_ratio, self.vit_cosine = vit_ratio, resnet_ratio, vit_cosine


#: Fig 7 and appendix E: (statistic, control) of each key, on a :class:`Skips` and the
#: number of prefix tokens.
SKIP_STATISTICS: dict[str, tuple[Callable[[Skips, int], float], Callable[[Skips, int], float]]] = {
    "fig7_ratios": (lambda s, p: ratio_median(s.vit_ratio),
                    lambda s, p: ratio_median(s.resnet_ratio)),
    "fig7_ratios_transition": (
        lambda s, p: min(token_contrast(s.vit_ratio, p)[0], -token_contrast(s.vit_ratio, p)[1]),
        lambda s, p: min(token_contrast(s.vit_ratio, p, "pseudo", "rest")[0],
                         -token_contrast(s.vit_ratio, p, "pseudo", "rest")[1])),
    "fig7_cls_transition": (lambda s, p: token_contrast(s.vit_ratio, p)[0],
                            lambda s, p: token_contrast(s.vit_ratio, p, "pseudo", "rest")[0]),
    "fig7_cls_reversed": (lambda s, p: -token_contrast(s.vit_ratio, p)[1],
                          lambda s, p: -token_contrast(s.vit_ratio, p, "pseudo", "rest")[1]),
    "e1_cls_unchanged": (lambda s, p: log_ratio_halves(s.vit_ratio, p, "cls")[0],
                         lambda s, p: log_ratio_halves(s.vit_ratio, p, "spatial")[0]),
    "e1_cls_late_change": (lambda s, p: log_ratio_halves(s.vit_ratio, p, "cls")[1],
                           lambda s, p: log_ratio_halves(s.vit_ratio, p, "spatial")[1]),
    "e1_cls_mlp": (lambda s, p: attention_over_mlp_late(s.vit_ratio, p, "cls"),
                   lambda s, p: attention_over_mlp_late(s.vit_ratio, p, "spatial")),
    "e1_spatial_early": (lambda s, p: log_ratio_halves(s.vit_ratio, p, "spatial")[0],
                         lambda s, p: log_ratio_halves(s.vit_ratio, p, "cls")[0]),
    "e1_spatial_late": (lambda s, p: log_ratio_halves(s.vit_ratio, p, "spatial")[1],
                        lambda s, p: log_ratio_halves(s.vit_ratio, p, "cls")[1]),
    "e2_output_cosine": (lambda s, p: cosine_contrast(s.vit_cosine, p)[0],
                         lambda s, p: cosine_contrast(s.vit_cosine, p, "pseudo", "rest")[0]),
    "e2_output_late": (lambda s, p: -cosine_contrast(s.vit_cosine, p)[1],
                       lambda s, p: -cosine_contrast(s.vit_cosine, p, "pseudo", "rest")[1]),
}
#: The keys that need a CLS token (all of appendix E and the transition clauses).
CLS_KEYS = tuple(k for k in SKIP_STATISTICS if k != "fig7_ratios")


def chapter6_claims(point: Skips, prefix: int, *, draws: Sequence[Skips] | None = None,
                    seeds: Sequence[Skips] = (), split: Measured | None = None,
                    intact_split: Measured | None = None, cost: Measured | None = None,
                    seed_cost: Measured | None = None, varies: str = "",
                    accuracy_varies: str = "") -> list[Claim]:
    """Chapter 6's claims from its measurements, in :data:`DECLARATIONS` order.

    ``point``, ``draws``, ``seeds``: the norm ratios and cosines on the probe images, on
    each bootstrap resampling of them and with each other training seed of the ViT and the
    ResNet. ``split``: the largest across-block CKA of the retrained ViTs (with its draws and
    seeds), ``intact_split`` the same blocks in the intact ViT; ``cost``: the accuracy cost of
    removing block 7's skips (paired bootstrap over the test images, other seed pairs),
    ``seed_cost`` the same between two seeds of the intact ViT. Without a CLS token the CLS
    claims are untestable; without retrained ViTs, Fig 8's.
    """
    found = []
    for key, (statistic, control) in SKIP_STATISTICS.items():
        decl = DECLARATIONS[key]
        if key in CLS_KEYS and prefix < 1:
            found.append(decl.judge(CHAPTER, Measured(float("nan")),
                                    untestable="the ViT has no CLS token"))
            continue

        def of(f: Callable[[Skips, int], float]) -> Measured:
            return measure(f, (point, prefix),
                           None if draws is None else [(d, prefix) for d in draws],
                           [(s, prefix) for s in seeds])

        found.append(decl.judge(CHAPTER, of(statistic), control=of(control), varies=varies))
    why = "this preset has no ViT retrained without skip connections"
    for key, m, control, how in (("fig8_split", split, intact_split, varies),
                                 ("fig8_accuracy", cost, seed_cost, accuracy_varies)):
        found.append(DECLARATIONS[key].judge(CHAPTER, m, control=control, varies=how)
                     if m is not None else
                     DECLARATIONS[key].judge(CHAPTER, Measured(float("nan")), untestable=why))
    return found
