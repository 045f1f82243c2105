"""Streaming CKA between the layers of one or two models over a probe set.

Serves Chapter 2's first heatmap and every CKA figure after it (paper Figs 1, 2,
8, 12, H.1): one forward pass per model and minibatch, the captured activations
fed straight into :class:`seelike.cka.MinibatchCKA` and dropped, so memory stays
O(layers × batch²) whatever the number of examples.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from seelike.cka import MinibatchCKA, transformed_grams
from seelike.hooks import TokenMode, capture


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cka_matrix(model_a: nn.Module, layers_a: Sequence[str], probe, *,
               model_b: nn.Module | None = None, layers_b: Sequence[str] | None = None,
               batch_size: int, unbiased: bool = True, tokens: TokenMode = "all",
               device: torch.device | None = None, progress: bool = False) -> np.ndarray:
    """Minibatch CKA between ``layers_a`` of ``model_a`` and ``layers_b`` of ``model_b``.

    ``probe`` is a :class:`seelike.data.ProbeSet`; the same examples, in the same
    order, pass through both models. Without ``model_b`` the model is compared
    with itself (one forward pass per minibatch). A last minibatch smaller than
    ``batch_size`` is dropped, so every minibatch has the same size (the
    unbiased estimator needs at least 4 examples; equal sizes keep every
    minibatch's weight equal, as in the paper).
    """
    if model_b is None:
        models, layers, pair = {"a": model_a}, {"a": list(layers_a)}, ("a", "a")
    else:
        layers_b = list(layers_a if layers_b is None else layers_b)
        models, layers, pair = ({"a": model_a, "b": model_b},
                                {"a": list(layers_a), "b": layers_b}, ("a", "b"))
    return cka_matrices(models, layers, [pair], probe, batch_size=batch_size, unbiased=unbiased,
                        tokens=tokens, device=device, progress=progress)[pair]


# ---- several CKA matrices from one pass, and the on-disk cache ------------------------------

Pair = tuple[str, str]


def cka_matrices(models: Mapping[str, nn.Module], layers: Mapping[str, Sequence[str]],
                 pairs: Sequence[Pair], probe, *, batch_size: int, unbiased: bool = True,
                 tokens: TokenMode = "all", device: torch.device | None = None,
                 progress: bool = False) -> dict[Pair, np.ndarray]:
    """Minibatch CKA for several model pairs with one forward pass per model and minibatch.

    ``models`` and ``layers`` are keyed by a name; ``pairs`` lists ``(a, b)`` names, ``(a, a)``
    for a within-model matrix. Each model runs once per minibatch and each of its layers' Gram
    matrices is formed and transformed once, however many pairs it takes part in; the pairs
    then cost one small matrix product each. The result for ``(a, b)`` is what
    ``cka_matrix(models[a], layers[a], probe, model_b=models[b], layers_b=layers[b], ...)``
    gives (``model_b=None`` for ``a == b``), the same estimator and minibatching (paper Figs 1
    and 2 come from one pass). A last minibatch smaller than ``batch_size`` is dropped.
    """
    device = device or default_device()
    pairs = [tuple(p) for p in pairs]
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    missing = [name for name in names if name not in models or name not in layers]
    if missing:
        raise KeyError(f"pairs name models {missing} that are missing from models or layers")
    n = len(probe) - len(probe) % batch_size
    if n == 0:
        raise ValueError(f"the probe set has {len(probe)} examples, fewer than one minibatch "
                         f"of {batch_size}")
    accs = {(a, b): MinibatchCKA(len(layers[a]), len(layers[b]), unbiased=unbiased)
            for a, b in pairs}
    for name in names:
        models[name].to(device)
    with ExitStack() as stack:
        caps = {name: stack.enter_context(capture(models[name], list(layers[name]),
                                                  tokens=tokens)) for name in names}
        for start in tqdm(range(0, n, batch_size), disable=not progress, desc="CKA"):
            x = probe.tensor(start, start + batch_size).to(device)
            stacked = {}
            for name in names:
                # Each model's Grams are formed once per minibatch, whatever its pairs.
                models[name](x)
                outputs = caps[name].outputs
                stacked[name] = transformed_grams(
                    {f"{name}:{layer}": outputs[layer] for layer in layers[name]},
                    unbiased=unbiased)
                caps[name].clear()
            for (a, b), acc in accs.items():
                acc.update_transformed(stacked[a], None if a == b else stacked[b], len(x))
            del stacked
    return {pair: acc.compute() for pair, acc in accs.items()}


@functools.lru_cache(maxsize=64)
def _layer_names(model_name: str, which: str) -> tuple[str, ...]:
    from seelike import layers, models

    # On the meta device: the module tree without allocating or initialising any weights.
    with torch.device("meta"):
        net = (models.build_paper(model_name) if model_name in models.PAPER_MODELS
               else models.build(model_name))
    select = {"paper": layers.paper_layers, "blocks": layers.block_layers}
    if which not in select:
        raise ValueError(f"which must be one of {sorted(select)}, not {which!r}")
    return tuple(select[which](net))


def layer_names(model_name: str, which: str = "paper") -> list[str]:
    """The layers of zoo or paper model ``model_name``, without loading its weights.

    ``which="paper"``: :func:`seelike.layers.paper_layers` (block outputs and the
    intermediate layers of Fig 1); ``"blocks"``: :func:`seelike.layers.block_layers`.
    The architecture is built once per process on the meta device (names only, no weights).
    """
    return list(_layer_names(model_name, which))


@dataclass(frozen=True)
class CKARequest:
    """One CKA matrix to compute: ``model_a``'s ``layers_a`` against ``model_b``'s ``layers_b``.

    ``model_b=None`` compares ``model_a`` with itself (``layers_b`` defaults to ``layers_a``);
    layers ``None`` means :func:`layer_names` (``paper_layers``).
    """

    model_a: str
    layers_a: Sequence[str] | None = None
    model_b: str | None = None
    layers_b: Sequence[str] | None = None

    def resolved(self) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
        la = tuple(self.layers_a) if self.layers_a is not None else tuple(layer_names(
            self.model_a))
        b = self.model_a if self.model_b is None else self.model_b
        if self.layers_b is not None:
            lb = tuple(self.layers_b)
        elif self.model_b is None:
            lb = la
        else:
            lb = tuple(layer_names(b))
        return self.model_a, la, b, lb


def cka_cache_key(preset, request: CKARequest, *, purpose: str = "cka", repeat: int = 0,
                  unbiased: bool = True, batch_size: int | None = None,
                  tokens: TokenMode = "all", probe=None) -> dict:
    """The :func:`seelike.cache.cached` key of a CKA request (see :func:`cached_cka`)."""
    from seelike import cache, config, data

    p = config.get_preset(preset) if isinstance(preset, str) else preset
    probe = probe if probe is not None else data.probe_set(p, purpose, seed=repeat)
    a, la, b, lb = request.resolved()
    return {
        "model_a": a, "weights_a": cache.model_fingerprint(a), "layers_a": list(la),
        "model_b": b, "weights_b": cache.model_fingerprint(b), "layers_b": list(lb),
        "probe": cache.probe_fingerprint(probe), "examples": len(probe),
        "batch_size": batch_size or p.cka_batch, "unbiased": unbiased, "tokens": tokens,
        "estimator": "linear minibatch CKA",
    }


def cached_cka_many(preset, requests: Sequence[CKARequest], *, purpose: str = "cka",
                    repeat: int = 0, unbiased: bool = True, batch_size: int | None = None,
                    tokens: TokenMode = "all", progress: bool = False) -> list[np.ndarray]:
    """CKA matrices for several requests on one probe set, from the cache where possible.

    The probe set is ``probe_set(preset, purpose, seed=repeat)``; the minibatch size is
    ``batch_size`` or the preset's ``cka_batch``. Every request found in the cache
    (:mod:`seelike.cache`; keyed by weights, probe IDs, layers, estimator and library
    version) is read from disk; the others are computed together by :func:`cka_matrices`,
    so that each model involved runs one forward pass per minibatch, with the union of the
    layers its requests ask for, and are then cached one by one. Serves paper Figs 1 and 2
    (Chapter 4) and every later CKA figure.
    """
    from seelike import cache, config, data, models

    p = config.get_preset(preset) if isinstance(preset, str) else preset
    probe = data.probe_set(p, purpose, seed=repeat)
    batch = batch_size or p.cka_batch
    keys = [cka_cache_key(p, r, purpose=purpose, repeat=repeat, unbiased=unbiased,
                          batch_size=batch, tokens=tokens, probe=probe) for r in requests]
    results: list[np.ndarray | None] = [None] * len(requests)
    todo = []
    for i, key in enumerate(keys):
        hit = cache.load("cka", key)
        if hit is not None:
            results[i] = hit["cka"]
        else:
            todo.append(i)
    if todo:
        union: dict[str, dict[str, None]] = {}
        for i in todo:
            a, la, b, lb = requests[i].resolved()
            union.setdefault(a, {}).update(dict.fromkeys(la))
            union.setdefault(b, {}).update(dict.fromkeys(lb))
        nets = {name: models.load(name) for name in union}
        order = {name: list(chosen) for name, chosen in union.items()}
        pairs = list(dict.fromkeys((requests[i].resolved()[0], requests[i].resolved()[2])
                                   for i in todo))
        full = cka_matrices(nets, order, pairs, probe, batch_size=batch, unbiased=unbiased,
                            tokens=tokens, progress=progress)
        for i in todo:
            a, la, b, lb = requests[i].resolved()
            rows = [order[a].index(layer) for layer in la]
            cols = [order[b].index(layer) for layer in lb]
            matrix = np.ascontiguousarray(full[(a, b)][np.ix_(rows, cols)])
            results[i] = cache.cached("cka", keys[i], lambda m=matrix: {"cka": m})["cka"]
    return results  # type: ignore[return-value]


def cached_cka(preset, model_a_name: str, layers_a: Sequence[str] | None = None,
               model_b_name: str | None = None, layers_b: Sequence[str] | None = None, *,
               purpose: str = "cka", repeat: int = 0, unbiased: bool = True,
               batch_size: int | None = None, tokens: TokenMode = "all",
               progress: bool = False) -> np.ndarray:
    """Minibatch CKA between two zoo/paper models by name, served from the on-disk cache.

    The matrix :func:`cka_matrix` computes for ``models.load(model_a_name)``'s
    ``layers_a`` (``None``: :func:`layer_names`, the paper's layers) against
    ``model_b_name``'s ``layers_b`` (``model_b_name=None``: the model with itself) on
    ``probe_set(preset, purpose, seed=repeat)`` in minibatches of ``batch_size`` (default
    the preset's ``cka_batch``). Identical requests, from any chapter, are computed once
    (see :func:`cached_cka_many`, which also shares forward passes between requests).
    """
    request = CKARequest(model_a_name, layers_a, model_b_name, layers_b)
    return cached_cka_many(preset, [request], purpose=purpose, repeat=repeat,
                           unbiased=unbiased, batch_size=batch_size, tokens=tokens,
                           progress=progress)[0]
