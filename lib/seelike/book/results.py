"""The book's cached results: the one place a chapter gets a number that costs a pass.

Every entry point takes a :class:`~seelike.book.presets.Preset` and reads from the
results cache, computing what is missing:

* :func:`keyed` and :func:`one`: what chapters call (Chapters 2-10): results by names
  the chapter chooses, of CKA requests, analyses or the plan's
  :class:`~seelike.book.plan.After` declarations;
* :func:`results`: the list under them, any analyses over a preset's probe set joined by
  everything the book's plan (:mod:`seelike.book.plan`) asks of that probe set, so each
  model runs once over it per build;
* :func:`cka` / :func:`cka_many` / :func:`cka_draws`: CKA matrices by model and layer
  names, for a reader's own requests;
* :func:`probe_accuracies`: linear-probe accuracy per block (Figs 11, 13, D.4);
* :func:`receptive_fields`: effective receptive fields (Fig 6, C.1-C.4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, TypeVar, cast

import numpy as np

from seelike import cache, models
from seelike.analyses import AttentionDistances, CKARequest, Declaration, ProbeEval, analysis_of
from seelike.book import plan, schedule, store
from seelike.book.images import probe_set
from seelike.book.presets import Preset
from seelike.profile import Profile
from seelike.receptive_field import Residual, receptive_field_pass
from seelike.tokens import TokenMode

__all__ = ["Ask", "ReceptiveFields", "cka", "cka_draws", "cka_many", "keyed", "one",
           "probe_accuracies", "receptive_fields", "resolve", "results", "vit_distances"]

_K = TypeVar("_K")
#: What a chapter asks for: a CKA matrix, an analysis, or the plan's :class:`~seelike.book.
#: plan.After` (an analysis built from another result).
Ask = CKARequest | Declaration | plan.After


def resolve(item: Declaration | plan.After) -> Declaration:
    """The analysis ``item`` names: itself, or a :class:`seelike.book.plan.After` built from
    the result it waits for (read from the cache, or computed in the plan's pass for it)."""
    if isinstance(item, Declaration):
        return item
    batch = schedule.batch_size(item.preset, item.purpose)
    (first,) = store.results(item.preset, [item.first], purpose=item.purpose,
                             repeat=item.repeat, batch_size=batch, planned=item.joins)
    return item.then(first, lambda: store.result_id(
        item.preset, item.first, purpose=item.purpose, batch_size=batch, repeat=item.repeat))


def results(preset: Preset, analyses: Sequence[Declaration | plan.After], *, purpose: str,
            repeat: int = 0, batch_size: int | None = None, progress: bool = False,
            profile: Profile | None = None) -> list[dict[str, np.ndarray]]:
    """The results of ``analyses`` on ``probe_set(preset, purpose, seed=repeat)``, cached.

    A miss computes, in the same pass, every analysis :func:`seelike.book.schedule.analyses`
    lists for this probe set that is not cached yet. ``batch_size`` defaults to the plan's
    for this purpose (:func:`seelike.book.schedule.batch_size`); the plan joins only at it.
    An :class:`~seelike.book.plan.After` is resolved first (:func:`resolve`).
    ``profile`` records the costs of that pass (``benchmarks/bench_paper.py``).
    """
    batch = batch_size or schedule.batch_size(preset, purpose)
    joins = batch == schedule.batch_size(preset, purpose)
    return store.results(preset, [resolve(a) for a in analyses], purpose=purpose,
                         repeat=repeat, batch_size=batch, progress=progress, profile=profile,
                         planned=(lambda: [resolve(a) for a in schedule.analyses(
                             preset, purpose, repeat)]) if joins else None)


def keyed(preset: Preset, asks: Mapping[_K, Ask] | Sequence[Ask], *,
          key: Callable[[Ask], _K] | None = None, purpose: str = "cka", repeat: int = 0,
          batch_size: int | None = None, progress: bool = False,
          ) -> dict[_K, dict[str, np.ndarray]]:
    """``{name: result}``: results by the names a chapter chooses, so no chapter pairs a
    list of results with its requests by position.

    ``asks`` maps names to asks, or is a list of asks that ``key`` names
    (``key=lambda r: r.pair``); two asks of a list with one name raise, where a dict built
    by hand would keep the last silently. An ask is a :class:`~seelike.analyses.CKARequest`
    (the book's CKA analysis of it: ``cka``, the matrix, and ``boot``, its
    :data:`~seelike.book.plan.BOOTSTRAP` draws), an analysis, or an
    :class:`~seelike.book.plan.After`; all of them over ``probe_set(preset, purpose,
    seed=repeat)``, as :func:`results`.
    """
    if isinstance(asks, Mapping):
        if key is not None:
            raise TypeError("key names the asks of a list; a mapping names its own")
        named = dict(asks)
    elif key is None or isinstance(asks, str) or not isinstance(asks, Sequence):
        raise TypeError(f"asks must map names to requests or analyses, or be a list of them "
                        f"with key=, got {type(asks).__name__}; e.g. "
                        f"keyed(P, requests, key=lambda r: r.pair)")
    else:
        named = {}
        for ask in asks:
            name = key(ask)
            if name in named:
                raise ValueError(f"two asks are named {name!r} by key: one would hide the "
                                 f"other's result; choose a key that tells them apart")
            named[name] = ask
    analyses = [plan.cka_analysis(a) if isinstance(a, CKARequest) else a
                for a in named.values()]
    got = results(preset, analyses, purpose=purpose, repeat=repeat, batch_size=batch_size,
                  progress=progress)
    return dict(zip(named, got, strict=True))


def one(preset: Preset, ask: Ask, *, purpose: str = "cka",
        repeat: int = 0, batch_size: int | None = None) -> dict[str, np.ndarray]:
    """The result of a single ask, as :func:`keyed` reads it."""
    return keyed(preset, {"ask": ask}, purpose=purpose, repeat=repeat,
                 batch_size=batch_size)["ask"]


def vit_distances(preset: Preset, name: str | None = None) -> np.ndarray:
    """The (blocks, heads) mean attention distances (CLS dropped) of the preset's ViT or of
    ``name``, one of :func:`seelike.book.plan.attention_distances`, from the cache."""
    (out,) = results(preset, [AttentionDistances(name or preset.vit)], purpose="attention")
    return out["drop"]


def cka_many(preset: Preset, requests: Sequence[CKARequest], *, purpose: str = "cka",
             repeat: int = 0, unbiased: bool = True, batch_size: int | None = None,
             tokens: TokenMode = "all", progress: bool = False) -> list[np.ndarray]:
    """CKA matrices for several requests on one probe set, from the cache where possible.

    The probe set is ``probe_set(preset, purpose, seed=repeat)``, in minibatches of
    ``batch_size`` (default: the plan's).
    """
    return [d["cka"] for d in cka_draws(preset, requests, purpose=purpose, repeat=repeat,
                                        unbiased=unbiased, batch_size=batch_size,
                                        tokens=tokens, progress=progress)]


def cka_draws(preset: Preset, requests: Sequence[CKARequest], *, purpose: str = "cka",
              repeat: int = 0, unbiased: bool = True, batch_size: int | None = None,
              tokens: TokenMode = "all", progress: bool = False,
              ) -> list[dict[str, np.ndarray]]:
    """As :func:`cka_many`, each matrix as ``{"cka": matrix, "boot": (draws, ...) matrices}``.

    ``boot`` resamples the probe examples (:meth:`seelike.cka.MinibatchCKA.
    compute_bootstrap`) in the same pass: what every CKA claim's interval is read from.
    """
    analyses = [analysis_of(r, tokens=tokens, unbiased=unbiased, bootstrap=plan.BOOTSTRAP)
                for r in requests]
    return results(preset, analyses, purpose=purpose, repeat=repeat, batch_size=batch_size,
                   progress=progress)


def cka(preset: Preset, model_a: str, layers_a: Sequence[str] | None = None,
        model_b: str | None = None, layers_b: Sequence[str] | None = None, *,
        purpose: str = "cka", repeat: int = 0, unbiased: bool = True,
        batch_size: int | None = None, tokens: TokenMode = "all") -> np.ndarray:
    """One CKA matrix: ``model_a``'s ``layers_a`` against ``model_b``'s (None: itself).

    Layers ``None`` are the paper's layers (:func:`seelike.layers.layer_names`); see
    :func:`cka_many`.
    """
    return cka_many(preset, [CKARequest(model_a, layers_a, model_b, layers_b)],
                    purpose=purpose, repeat=repeat, unbiased=unbiased,
                    batch_size=batch_size, tokens=tokens)[0]


def probe_accuracies(preset: Preset, model_name: str, *, shots: int | None = None,
                     draw: int = 0, progress: bool = False) -> dict[str, np.ndarray]:
    """Test accuracy of ``model_name``'s linear probes at every block output, cached.

    Probes are fitted on ``shots`` examples per class of ``preset``'s ``probe_train`` set
    (default: the preset's ``probe_train_per_class``; the paper's protocol is 10), drawn
    with probe seed ``draw`` (:func:`seelike.book.plan.shot_draws` lists the book's), and
    evaluated on its ``probe_test`` set, every draw in the same pass. Returns:

    * ``layers``: the block names; ``token``: (layers, positions) per-position accuracy
      (NaN beyond a layer's probed grid, ``token_grid`` (layers, 2)); ``token_mean``;
    * ``gap`` (layers,): the mean of the spatial tokens (ResNet: global average pool);
    * for CLS ViTs, ``cls`` (layers,) and ``gap_all`` (mean of all tokens with CLS);
    * ``{kind}_lambda`` (layers,): the chosen ridge penalty (multiple of trace/d).
    """
    evaluation = cast(ProbeEval, resolve(plan.probe_evaluation(preset, model_name, shots, draw)))
    (out,) = results(preset, [evaluation], purpose="probe_test", progress=progress)
    lambdas = {f"{k}_lambda": evaluation.fit[f"{k}_lambda"] for k in evaluation.kinds}
    return {"layers": np.array(evaluation.layers), **out, **lambdas}


class ReceptiveFields(NamedTuple):
    """What :func:`receptive_fields` returns, per request: the ``(H, W)`` map and the
    ``(images, 5)`` per-image moments."""

    maps: dict[tuple[str, Residual], np.ndarray]
    moments: dict[tuple[str, Residual], np.ndarray]


def receptive_fields(preset: Preset, model_name: str,
                     requests: Sequence[tuple[str, Residual]]) -> ReceptiveFields:
    """ERF maps of zoo/paper model ``model_name`` on the preset's receptive-field images.

    Chapter 5's entry point (Fig 6, C.1-C.4): :func:`seelike.receptive_field.
    receptive_field_pass` over ``probe_set(preset, "receptive_field")``, every request
    from one forward pass per minibatch, cached by weights, images, requests and code.
    Returns (:class:`ReceptiveFields`) each request's ``(H, W)`` map and its ``(images, 5)``
    per-image :func:`~seelike.receptive_field.erf_moments`, from which the claims resample
    the images.
    """
    probe = probe_set(preset, "receptive_field")
    requests = list(dict.fromkeys((layer, residual) for layer, residual in requests))
    key = {"model": model_name, "weights": cache.model_fingerprint(model_name),
           "requests": [list(r) for r in requests], "probe": cache.probe_fingerprint(probe),
           "examples": len(probe), "definition": "mean over channels, |grad| summed over "
           "colours, mean over images, max = 1; moments of each image's map"}

    def compute() -> dict[str, np.ndarray]:
        net = models.load(model_name)
        images = probe.tensor(0, len(probe)).to(next(net.parameters()).device)
        out = receptive_field_pass(net, requests, images,
                                   batch_size=schedule.batch_size(preset, "receptive_field"))
        return {"erf": np.stack([out[r]["erf"] for r in requests]),
                "moments": np.stack([out[r]["moments"] for r in requests])}

    got = cache.cached("erf", key, compute, code="seelike.receptive_field")
    return ReceptiveFields(dict(zip(requests, got["erf"], strict=True)),
                           dict(zip(requests, got["moments"], strict=True)))
