"""The book's plan: every analysis each chapter runs over each probe set, in one table.

Chapters ask for their analyses through these functions and read the results with
:func:`seelike.book.results.keyed`, which runs everything the book asks of a probe set in
the same pass (:func:`seelike.book.schedule.analyses`): whichever chapter comes first
computes (and caches) what the later ones need, so each model runs once over each probe
set per build. A chapter that computes something over a shared probe set must add a row
to :data:`PLAN`, or it would cost a second pass; the schedule of passes and the chapter
that pays for each analysis are derived from that one table (:mod:`seelike.book.schedule`).
The plan declares and never computes: it hands each analysis plain data (names, layers,
counts; the probe set's labels reach an analysis through its pass), reads a model's
layers, family and stem from its declared architecture (:mod:`seelike.layers`), and an
analysis that can only be built from another result is an :class:`After`, which the
results layer resolves.

The functions take the chapters' knobs (:data:`seelike.book.knobs.KNOBS`) as keyword
arguments, so a reader's other value builds other analyses (cached under their own
parameters) and leaves the book's alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seelike import analyses
from seelike.analyses import (
    Accuracy,
    AttentionDistances,
    CKACurve,
    CKARequest,
    EstimatorCKA,
    HeadSubsetCKA,
    SkipStatistics,
    TokenPatchCKA,
    head_subsets,
    probe_kinds,
)
from seelike.book import roles
from seelike.book.knobs import KNOBS
from seelike.book.presets import PRESETS, Preset, zoo_models
from seelike.datasets import class_ids
from seelike.layers import family_of, layer_names, stage_of
from seelike.structure import depth_fraction

if TYPE_CHECKING:  # a type only: the plan declares analyses, it never runs a pass
    from seelike.analyses import Declaration

__all__ = ["BOOTSTRAP", "PLAN", "SHOT_DRAWS", "After", "Row", "attention_distances",
           "cka_analysis", "cka_walkthrough", "data_scale", "estimator_study",
           "first_heatmap", "head_subsets_after_attention", "head_subsets_by_seed",
           "head_subsets_vs_resnet", "is_full_probe_set", "localization",
           "localization_by_seed", "mixer_comparison", "noise_floor", "probe_evaluation",
           "probe_evaluations", "probe_fit", "probe_fits", "probe_shots",
           "receptive_field_requests", "representation_structure", "seed_structure",
           "shot_draws", "skip_removed", "skip_statistics", "stem", "with_shots",
           "zoo_accuracy"]


@dataclass(frozen=True)
class After:
    """An analysis whose parameters are read off another result: what the plan declares
    where it cannot know an analysis before a pass has run.

    The plan never runs a pass. :func:`seelike.book.results.resolve` reads ``first`` over
    ``probe_set(preset, purpose, seed=repeat)`` from the cache, computing it if it is
    missing in one pass with ``joins()`` (the plan's other analyses of that probe set), and
    builds the analysis as ``then(result, result_id)`` (``result_id()`` names that result in
    the cache): Fig 5's head subsets from the attention distances, a probe evaluation from
    its fit. ``makes`` and ``models`` name the analysis it builds (its ``name`` and
    ``models()``), so that :func:`~seelike.book.schedule.chapter_of` finds the built
    analysis in :data:`PLAN`.
    """

    first: Declaration
    preset: Preset
    purpose: str
    repeat: int
    joins: Callable[[], Sequence[Declaration]]
    then: Callable[[Mapping[str, np.ndarray], Callable[[], str]], Declaration]
    makes: str
    models: tuple[str, ...]


#: Resamplings of the probe examples kept beside every CKA matrix of the book: the 90 %
#: intervals of Chapters 4 to 9's claims (5th and 95th percentiles of 200 draws).
BOOTSTRAP = 200


def cka_analysis(request: CKARequest, *, unbiased: bool = True) -> analyses.CKAAnalysis:
    """The book's analysis of one CKA request: the matrix and its :data:`BOOTSTRAP` draws."""
    return analyses.analysis_of(request, unbiased=unbiased, bootstrap=BOOTSTRAP)


# ---- Chapters 2 and 3: the CKA walk-through and the zoo ------------------------------------


def cka_walkthrough(p: Preset) -> CKACurve:
    """Chapter 2's illustration: two ViT/ResNet block pairs, one per end of the networks."""
    vit, res = layer_names(p.vit, "blocks"), layer_names(p.resnet, "blocks")
    return CKACurve(p.vit, (vit[1], vit[-1]), p.resnet, (res[1], res[-1]))


def first_heatmap(p: Preset) -> CKARequest:
    """Chapter 2's first heatmap: the ViT's block outputs with each other."""
    blocks = layer_names(p.vit, "blocks")
    return CKARequest(p.vit, blocks, p.vit, blocks)


def zoo_accuracy(p: Preset) -> list[Accuracy]:
    """Chapter 3's re-measured accuracy of every zoo model (CIFAR presets only)."""
    if p.dataset != "cifar10":
        return []
    return [Accuracy(name) for name in zoo_models(p)]


# ---- Chapter 4: representation structure (Figs 1, 2) ----------------------------------------


def representation_structure(p: Preset) -> list[CKARequest]:
    """Within-model CKA of the ViT and each ResNet (Fig 1), then ViT versus each (Fig 2)."""
    return ([CKARequest(name) for name in [p.vit, *roles.resnets(p)]]
            + [CKARequest(p.vit, None, cnn) for cnn in roles.resnets(p)])


def seed_structure(p: Preset) -> list[CKARequest]:
    """Figs 1 and 2 for each pair of :func:`~seelike.book.roles.seed_pairs`: ViT, ResNet, then
    ViT versus ResNet."""
    return [r for vit, res in roles.seed_pairs(p)
            for r in (CKARequest(vit), CKARequest(res), CKARequest(vit, None, res))]


def noise_floor(p: Preset) -> list[CKARequest]:
    """Seed 0 against seed 1 of the ViT and of the ResNet, layer by layer (Chapter 4).

    How alike the same layer of two training runs is: the floor under every cross-model
    comparison of the book.
    """
    return [CKARequest(name, None, roles.other_seeds(name)[0])
            for name in (p.vit, p.resnet) if roles.other_seeds(name)]


# ---- Chapter 5: local and global information (Figs 3-5) -------------------------------------


def attention_distances(p: Preset) -> list[AttentionDistances]:
    """Mean attention distances of the ViT, its less-data twins (Figs 3, 4) and its other
    training seeds (the seed range of Fig 3's claims)."""
    return [AttentionDistances(name)
            for name in [p.vit, *roles.less_data(p), *roles.other_seeds(p.vit)]]


def head_subsets_vs_resnet(p: Preset, distances: np.ndarray, *,
                           head_window: float = KNOBS["05_local_global"]["head_window"],
                           min_pooled_heads: int = KNOBS["05_local_global"]["min_pooled_heads"],
                           vit: str | None = None, resnet: str | None = None,
                           ) -> HeadSubsetCKA:
    """Fig 5: sliding subsets of the lowest heads, local to global, against ResNet's lower third.

    ``distances`` is the ViT's (blocks, heads) array from :func:`attention_distances`. The
    lowest blocks are pooled until they hold at least ``min_pooled_heads`` heads (one CIFAR
    block has three; the paper's ViT-B first block has twelve); subsets are windows of
    ``head_window`` of the pooled heads, sorted by distance. The ResNet's lower layers are its
    units in the lowest third of its depth. ``vit``/``resnet``: another training seed of
    each in place of the preset's (the seed values of Fig 5's claims).
    """
    vit, resnet = vit or p.vit, resnet or p.resnet
    heads_per_block = distances.shape[1]
    pool = list(range(min(len(distances), -(-min_pooled_heads // heads_per_block))))
    pooled = distances[pool].ravel()
    # Floor, with a tolerance for windows like 1/3 that binary floats cannot hold exactly.
    subsets = head_subsets(pooled, max(1, int(len(pooled) * head_window + 1e-9)))
    blocks = layer_names(resnet, "blocks")
    lower = [n for n, f in zip(blocks, depth_fraction(len(blocks)), strict=True) if f < 1 / 3]
    return HeadSubsetCKA(vit, tuple(pool), tuple(tuple(s.tolist()) for s in subsets),
                         resnet, tuple(lower), bootstrap=BOOTSTRAP if vit == p.vit else 0)


def head_subsets_after_attention(p: Preset, *, vit: str | None = None,
                                 resnet: str | None = None, **knobs: object) -> After:
    """Fig 5 as the plan declares it: :func:`head_subsets_vs_resnet` on the distances of
    ``vit`` (default: the preset's), which the attention pass measures first."""
    vit, resnet = vit or p.vit, resnet or p.resnet
    return After(AttentionDistances(vit), p, "attention", 0,
                 joins=functools.partial(attention_distances, p),
                 then=functools.partial(_head_subsets_from, p, vit, resnet, knobs),
                 makes=HeadSubsetCKA.name, models=tuple(dict.fromkeys((vit, resnet))))


def _head_subsets_from(p: Preset, vit: str, resnet: str, knobs: Mapping[str, object],
                       distances: Mapping[str, np.ndarray], _id: Callable[[], str]
                       ) -> HeadSubsetCKA:
    return head_subsets_vs_resnet(p, distances["drop"], vit=vit, resnet=resnet,
                                  **knobs)  # type: ignore[arg-type]


def head_subsets_by_seed(p: Preset, **knobs: object) -> list[After]:
    """Fig 5 on each other training seed of the ViT and the ResNet, paired by seed, each
    with its own ViT's subsets (:func:`head_subsets_after_attention`)."""
    return [head_subsets_after_attention(p, vit=vit, resnet=res, **knobs)
            for vit, res in roles.seed_pairs(p)]


def stem(name: str) -> str:
    """The first convolution of CNN ``name``: its stem, the first ERF of Fig 6's ResNet row."""
    found = layer_names(name, "stem")
    if not found:
        raise ValueError(f"{name} has no convolution, so no stem to read a receptive field of")
    return found[0]


def receptive_field_requests(p: Preset, name: str) -> list[tuple[str, str]]:
    """The ``(layer, residual)`` ERFs Chapter 5 reads of model ``name`` (Fig 6, C.1-C.4).

    A ViT (its declared family): every attention and MLP sublayer, after and before its
    residual. A CNN: its stem and every unit after the residual, then every unit before it
    (the stem has none).
    """
    blocks = layer_names(name, "blocks")
    if family_of(name) == "vit":
        sub = [f"{b}.attn" for b in blocks] + [f"{b}.mlp" for b in blocks]
        return [(n, w) for w in ("post", "pre") for n in sub]
    return [*((n, "post") for n in [stem(name), *blocks]), *((n, "pre") for n in blocks)]


# ---- Chapter 6: skip connections (Figs 7, 8) ------------------------------------------------


def skip_statistics(p: Preset) -> list[SkipStatistics]:
    """Norm ratios and cosines of the ViT and the ResNet, then of their other seeds (Fig 7).

    With :data:`BOOTSTRAP` resampled means for the intervals of Chapter 6's claims.
    """
    return [SkipStatistics(name, BOOTSTRAP)
            for name in (p.vit, p.resnet, *roles.other_seeds(p.vit), *roles.other_seeds(p.resnet))]


def skip_removed(p: Preset) -> list[CKARequest]:
    """Within-model CKA of the intact ViT, each skip-removed one, then their other seeds
    (Fig 8; the intact ViT's seeds are the seed values of the claim's control)."""
    return [CKARequest(name) for name in [p.vit, *roles.no_skip(p)]
            + [s for name in [*roles.no_skip(p), p.vit] for s in roles.other_seeds(name)]]


# ---- Chapter 7: spatial information (Figs 9-11, D.1-D.4) -----------------------------------


def localization(p: Preset, *,
                 resnet_stages: int = KNOBS["07_localization"]["resnet_stages"],
                 ) -> list[TokenPatchCKA]:
    """Token-to-patch CKA (Figs 9, 10, D.1-D.3): every ViT block; the ResNet's last stages.

    The ResNet's earlier stages have too many positions for all-pairs CKA (a 32 x 32 map
    has a million pairs) and their tokens see little of the image anyway; the last
    ``resnet_stages`` (two: the final map of Fig 9 and the middle units of D.3) suffice.
    Each keeps :data:`BOOTSTRAP` resamplings of the probe examples: the intervals of
    Chapter 7's localization claims.
    """
    out = [TokenPatchCKA(name, tuple(layer_names(name, "blocks")), bootstrap=BOOTSTRAP)
           for name in (p.vit, p.vit_gap)]
    units = layer_names(p.resnet, "blocks")
    last = sorted({stage_of(u) for u in units})[-resnet_stages:]
    out.append(TokenPatchCKA(p.resnet, tuple(u for u in units if stage_of(u) in last),
                             bootstrap=BOOTSTRAP))
    return out


def localization_by_seed(p: Preset) -> list[TokenPatchCKA]:
    """Token-to-patch CKA of each other training seed of Chapter 7's models, without
    bootstrap draws: the ViTs' last two blocks and the ResNet's units of :func:`localization`
    (what the localization claims read), for the claims' seed values."""
    units = next(a.layers for a in localization(p) if a.model == p.resnet)
    out = []
    for base in roles.spatial_models(p):
        layers = units if base == p.resnet else tuple(layer_names(base, "blocks")[-2:])
        out += [TokenPatchCKA(name, tuple(layers)) for name in roles.other_seeds(base)]
    return out


#: Independent draws of the few-shot probe training set (probe seeds 0 to SHOT_DRAWS - 1):
#: the intervals of Chapters 7 and 8's probe claims (Figs 11, 13). Each draw's probes are
#: fitted in a pass over its own images; all are evaluated in the one pass over probe_test.
SHOT_DRAWS = 5


def probe_shots(p: Preset, *, shots: int = KNOBS["07_localization"]["shots"]) -> list[int]:
    """Shots per class of the probes: ``shots`` (the paper's 10), then the full probe set.

    The full set (``probe_train_per_class``: 500 per class on cifar) stands in for the
    full-data probes of the paper's appendix F; on smoke and paper both are 10.
    """
    return list(dict.fromkeys([shots, p.probe_train_per_class]))


def shot_draws(shots: int, *, claims_shots: int = KNOBS["07_localization"]["shots"]
               ) -> list[int]:
    """The probe seeds of the ``shots``-shot probe training sets that the book fits.

    :data:`SHOT_DRAWS` independent draws for the claims' few-shot probes (``claims_shots``,
    the chapters' ``shots`` knob); seed 0 alone for the full probe set beside them, which
    no claim reads (500 per class on cifar: its draws would differ little).
    """
    return list(range(SHOT_DRAWS if shots == claims_shots else 1))


def with_shots(p: Preset, shots: int | None) -> Preset:
    """``p`` whose ``probe_train`` set is ``shots`` per class (None: unchanged)."""
    if shots is None or shots == p.probe_train_per_class:
        return p
    return p.with_overrides(probe_train_per_class=shots)


def probe_fit(p: Preset, model_name: str, draw: int = 0) -> analyses.ProbeFit:
    """The probes of ``model_name`` on draw ``draw`` of ``p``'s ``probe_train`` set (its
    probe seed): every block, every kind."""
    ids = class_ids(p.dataset)
    return analyses.ProbeFit(model_name, tuple(layer_names(model_name, "blocks")),
                           probe_kinds(model_name), classes=len(ids), class_ids=ids)


def is_full_probe_set(p: Preset) -> bool:
    """Whether ``p``'s ``probe_train`` set is its preset's whole probe training set (500 per
    class on cifar), beside the claims' few-shot sets, rather than a few-shot set."""
    shots = p.probe_train_per_class
    return (shots == PRESETS[p.name].probe_train_per_class if p.name in PRESETS else False) \
        and shots != KNOBS["07_localization"]["shots"]


def probe_fits(p: Preset, draw: int = 0) -> list[analyses.ProbeFit]:
    """Probes of every probed model on draw ``draw`` of ``p``'s ``probe_train`` set (Figs 11,
    13, D.4); the other seeds' only on a few-shot set."""
    return [probe_fit(p, name, draw) for name in roles.probe_models(p, full=is_full_probe_set(p))]


def probe_evaluation(p: Preset, model_name: str, shots: int | None = None,
                     draw: int = 0) -> After:
    """``model_name``'s ``shots``-shot probes of draw ``draw`` evaluated on ``p``'s
    ``probe_test`` set, once they are fitted: in one pass with every other probed model's
    over that draw (probe seed) of the ``shots``-shot ``probe_train`` set."""
    train = with_shots(p, shots)
    fit = probe_fit(train, model_name, draw)
    return After(fit, train, "probe_train", draw,
                 joins=functools.partial(probe_fits, train, draw),
                 then=functools.partial(_evaluation_of, p, fit),
                 makes=analyses.ProbeEval.name, models=(model_name,))


def _evaluation_of(p: Preset, fit: analyses.ProbeFit, fitted: Mapping[str, np.ndarray],
                   fit_id: Callable[[], str]) -> analyses.ProbeEval:
    return analyses.ProbeEval(fit.model, fit.layers, fit.kinds, fit.classes,
                            fit.max_positions, fit.class_ids, fit=fitted, fit_id=fit_id())


def probe_evaluations(p: Preset, *, shots: int = KNOBS["07_localization"]["shots"]
                      ) -> list[After]:
    """Every shots setting's probes (:func:`probe_shots`), each of its draws, evaluated on
    ``p``'s ``probe_test`` set in one pass (each draw's fits first)."""
    return [probe_evaluation(p, name, n, draw)
            for n in probe_shots(p, shots=shots) for draw in shot_draws(n, claims_shots=shots)
            for name in roles.probe_models(p, full=is_full_probe_set(with_shots(p, n)))]


# ---- Chapter 8: data and model scale (Figs 12, 13) ------------------------------------------


def data_scale(p: Preset) -> list[CKARequest]:
    """Each less-data ViT's blocks against the full-data ViT's blocks (Fig 12), then the
    full-data ViT's second training seed against it: the seed floor that data must clear."""
    blocks = layer_names(p.vit, "blocks")
    return [CKARequest(name, layer_names(name, "blocks"), p.vit, blocks)
            for name in [*roles.less_data(p), *roles.other_seeds(p.vit)[:1]]]


# ---- Chapter 9: MLP-Mixer (Figs H.1, H.2) ---------------------------------------------------


def mixer_comparison(p: Preset) -> list[CKARequest]:
    """The Mixer with itself (H.1), then against the ViT and the ResNet (H.2).

    Then H.2's checks: the Mixer against Chapter 4's other CNNs (on CIFAR the ResNet-56)
    and against each other training seed of the ViT and the ResNet
    (:func:`~seelike.book.roles.seed_pairs`), whose passes Chapter 4 already makes.
    ``model_b`` tells the requests apart.
    """
    others = [*roles.resnets(p)[1:], *(name for pair in roles.seed_pairs(p) for name in pair)]
    return [CKARequest(p.mixer), *(CKARequest(p.mixer, None, name)
                                   for name in [p.vit, p.resnet, *others])]


# ---- Chapter 10: minibatch CKA estimators (beyond the paper) ---------------------------------


def estimator_study(p: Preset) -> EstimatorCKA:
    """Biased and unbiased CKA of the ViT's and the ResNet's block outputs at every size.

    Block outputs only: the full-batch Grams are ``estimator_examples`` squared per layer,
    and Chapter 4's claims need only one layer per block. Run in minibatches of
    ``max(p.estimator_batches)``, the smaller sizes being chunks of those.
    """
    return EstimatorCKA({name: tuple(layer_names(name, "blocks"))
                         for name in (p.vit, p.resnet)}, p.estimator_batches)


# ---- the plan: every chapter's asks of every probe set, in one table -------------------------


@dataclass(frozen=True)
class Row:
    """One line of :data:`PLAN`: what ``chapter`` asks of ``purpose``'s probe set.

    ``asks(p, repeat, shots)`` lists the analyses (and :class:`After` declarations) over
    ``probe_set(p, purpose, seed=repeat)``; ``shots`` is the chapters' knob. ``every``: at
    every repeat the book makes of that probe set
    (:func:`~seelike.book.schedule.repeats`), else at repeat 0 only.
    """

    chapter: str
    purpose: str
    asks: Callable[[Preset, int, int], Sequence[Declaration | After]]
    every: bool = False


def _probe_fits_of(chapter: str) -> Callable[[Preset, int, int], list[analyses.ProbeFit]]:
    """Chapter 8 probes the less-data ViTs (Fig 13), Chapter 7 every other probed model."""
    return lambda p, draw, _: [f for f in probe_fits(p, draw)
                               if (f.model in roles.less_data(p)) == (chapter == "08_scale")]


def _probe_evaluations_of(chapter: str) -> Callable[[Preset, int, int], list[After]]:
    return lambda p, _, shots: [e for e in probe_evaluations(p, shots=shots)
                                if (e.first.model in roles.less_data(p)) == (chapter == "08_scale")]


#: Every analysis of the book, by the chapter that asks for it and the probe set it is
#: computed over, in book order: the one place a chapter's new analysis is declared.
#: :mod:`seelike.book.schedule`'s ``analyses`` (what one pass computes), ``schedule`` (the
#: passes, in order) and ``chapter_of`` (which page pays for an analysis in a cold build)
#: all read it.
PLAN: tuple[Row, ...] = (
    Row("02_cka", "cka", lambda p, r, s: [cka_walkthrough(p), cka_analysis(first_heatmap(p))]),
    Row("03_models", "cka", lambda p, r, s: zoo_accuracy(p)),
    Row("04_representation_structure", "cka", every=True, asks=lambda p, r, s: [
        cka_analysis(q) for q in representation_structure(p)]),
    Row("04_representation_structure", "cka", lambda p, r, s: [
        cka_analysis(q) for q in seed_structure(p) + noise_floor(p)]),
    Row("05_local_global", "attention", lambda p, r, s: attention_distances(p)),
    Row("05_local_global", "cka", lambda p, r, s: [head_subsets_after_attention(p),
                                                     *head_subsets_by_seed(p)]),
    Row("06_skip_connections", "cka", lambda p, r, s: [
        *skip_statistics(p), *(cka_analysis(q) for q in skip_removed(p))]),
    Row("07_localization", "cka", lambda p, r, s: localization(p) + localization_by_seed(p)),
    Row("07_localization", "probe_train", _probe_fits_of("07_localization"), every=True),
    Row("07_localization", "probe_test", _probe_evaluations_of("07_localization")),
    Row("08_scale", "cka", lambda p, r, s: [cka_analysis(q) for q in data_scale(p)]),
    Row("08_scale", "probe_train", _probe_fits_of("08_scale"), every=True),
    Row("08_scale", "probe_test", _probe_evaluations_of("08_scale")),
    Row("09_mixer", "cka", lambda p, r, s: [cka_analysis(q) for q in mixer_comparison(p)]),
    Row("10_estimators", "estimators", lambda p, r, s: [estimator_study(p)], every=True),
)
