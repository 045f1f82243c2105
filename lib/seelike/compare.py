"""Streaming CKA between the layers of one or two models over a probe set.

The CKA heatmaps of every layer pair (paper Figs 1, 2, 8, 12, H.1), computed with one
forward pass per model and minibatch: the captured activations fed straight into
:class:`seelike.cka.MinibatchCKA` and dropped, so memory stays O(layers × batch²) whatever
the number of examples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import get_args

import numpy as np
import torch
from torch import nn

from seelike import passes
from seelike.analyses import CKAAnalysis, CKACurve
from seelike.cka import MinibatchCKA
from seelike.passes import Analysis, Batch, GramSpec, Needs
from seelike.selectors import submodule
from seelike.taps import Tap
from seelike.tokens import TokenMode

__all__ = ["CKAAnalysisAccumulator", "CKACurveAccumulator", "Pair", "cka_matrices",
           "cka_matrix"]


def cka_matrix(model_a: nn.Module, layers_a: Sequence[str], probe, *,
               model_b: nn.Module | None = None, layers_b: Sequence[str] | None = None,
               batch_size: int, unbiased: bool = True, tokens: TokenMode = "all",
               device: torch.device | None = None, progress: bool = False) -> np.ndarray:
    """Minibatch CKA between ``layers_a`` of ``model_a`` and ``layers_b`` of ``model_b``.

    ``probe`` is a :class:`seelike.probe_sets.ProbeSet`; the same examples, in the same
    order, pass through both models. Without ``model_b`` the model is compared
    with itself (one forward pass per minibatch; with ``layers_b`` other than
    ``layers_a``, two). A last minibatch smaller than
    ``batch_size`` is dropped, so every minibatch has the same size (the
    unbiased estimator needs at least 4 examples; equal sizes keep every
    minibatch's weight equal, as in the paper).

    Layer names must name modules exactly (:func:`seelike.selectors.resolve_layers` turns
    selectors into names); an unknown one raises :class:`seelike.selectors.LayerNotFoundError`
    with the closest names before any forward pass.
    """
    _check_layers(model_a, layers_a, "layers_a")
    if model_b is not None or layers_b is not None:
        _check_layers(model_a if model_b is None else model_b,
                      layers_a if layers_b is None else layers_b, "layers_b")
    if model_b is None and (layers_b is None or list(layers_b) == list(layers_a)):
        models, layers, pair = {"a": model_a}, {"a": list(layers_a)}, ("a", "a")
    else:
        model_b = model_a if model_b is None else model_b
        layers_b = list(layers_a if layers_b is None else layers_b)
        models, layers, pair = ({"a": model_a, "b": model_b},
                                {"a": list(layers_a), "b": layers_b}, ("a", "b"))
    return cka_matrices(models, layers, [pair], probe, batch_size=batch_size, unbiased=unbiased,
                        tokens=tokens, device=device, progress=progress)[pair]


def _check_layers(model: nn.Module, layers: Sequence[str], argument: str) -> None:
    """Raise unless ``layers`` is a non-empty list of names of modules of ``model``."""
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(f"{argument} must be a list of layer names, got {layers!r}; for one "
                        f"layer pass [{layers!r}]")
    if not layers:
        raise ValueError(f"{argument} is empty; name at least one layer")
    for layer in layers:
        submodule(model, layer, argument=f"{argument} entry")


def _check_run(probe: object, batch_size: int, unbiased: bool, tokens: str) -> None:
    """Raise unless the arguments every CKA pass shares make sense, before any forward pass."""
    if not (hasattr(probe, "tensor") and hasattr(probe, "__len__")):
        raise TypeError(f"probe must be a seelike.probe_sets.ProbeSet or TensorProbe, got "
                        f"{type(probe).__name__}; wrap an image tensor as "
                        f"TensorProbe(images) (float, in [0, 1])")
    if not isinstance(unbiased, bool):
        raise TypeError(f"unbiased must be True or False, got {unbiased!r}")
    if not isinstance(batch_size, int | np.integer) or isinstance(batch_size, bool):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}")
    least = 4 if unbiased else 2
    if batch_size < least:
        raise ValueError(f"batch_size must be at least {least} (the "
                         f"{'unbiased' if unbiased else 'biased'} estimator's minimum), got "
                         f"{batch_size}")
    if tokens not in get_args(TokenMode):
        raise ValueError(f"tokens must be one of {get_args(TokenMode)}, not {tokens!r}")


# ---- several CKA matrices from one pass ------------------------------

Pair = tuple[str, str]


class CKAAnalysisAccumulator(CKAAnalysis, Analysis):
    """Computes a :class:`seelike.analyses.CKAAnalysis` in a pass.

    Each layer's transformed Gram matrix comes from the pass, formed once per minibatch
    however many matrices use it; this adds one ``(layers_a, b^2) @ (b^2, layers_b)``
    product per full minibatch (one set of Grams for a within-model matrix).
    """

    def _accumulator(self) -> MinibatchCKA:
        return MinibatchCKA(len(self.layers_a), len(self.layers_b), unbiased=self.unbiased,
                            bootstrap=self.bootstrap)

    def state_bytes(self, batch: int, image_size: int) -> int:
        return self._accumulator().state_bytes(batch)

    @property
    def _self(self) -> bool:
        return self.model_a == self.model_b and self.layers_a == self.layers_b

    def _specs(self, layers: Sequence[str]) -> list[GramSpec]:
        return [GramSpec(Tap(layer), self.tokens, self.unbiased) for layer in layers]

    def needs(self, model: str, net: nn.Module) -> Needs:
        layers = [*(self.layers_a if model == self.model_a else ()),
                  *(self.layers_b if model == self.model_b else ())]
        return Needs(grams=self._specs(dict.fromkeys(layers)))

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._acc = self._accumulator()

    def update(self, batch: Batch) -> None:
        if not batch.full:
            return
        a = batch.grams(self.model_a, self._specs(self.layers_a))
        b = None if self._self else batch.grams(self.model_b, self._specs(self.layers_b))
        self._acc.update_transformed(a, b, len(batch))

    def result(self) -> dict[str, np.ndarray]:
        out = {"cka": self._acc.compute()}
        if self.bootstrap:
            out["boot"] = self._acc.compute_bootstrap().astype(np.float32)
        return out


class CKACurveAccumulator(CKACurve, Analysis):
    """Computes a :class:`seelike.analyses.CKACurve` in a pass: the pairs' sums per
    minibatch, and their features, kept in host memory for the full-batch value."""

    def _side(self, model: str) -> list[str]:
        return [*(self.layers_a if model == self.model_a else ()),
                *(self.layers_b if model == self.model_b else ())]

    def needs(self, model: str, net: nn.Module) -> Needs:
        layers = list(dict.fromkeys(self._side(model)))
        return Needs(taps=[Tap(layer) for layer in layers],
                     grams=[GramSpec(Tap(layer)) for layer in layers])

    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        self._sums: list[np.ndarray] = []
        self._feats: dict[tuple[str, str], list[torch.Tensor]] = {}

    def update(self, batch: Batch) -> None:
        if not batch.full:
            return
        a = batch.grams(self.model_a, [GramSpec(Tap(layer)) for layer in self.layers_a])
        b = batch.grams(self.model_b, [GramSpec(Tap(layer)) for layer in self.layers_b])
        # The per-minibatch normaliser is the same for all three sums, so it cancels.
        self._sums.append(torch.stack([(a * b).sum(1), (a * a).sum(1), (b * b).sum(1)])
                          .cpu().numpy())
        self._device = batch.x.device
        for model, layers in ((self.model_a, self.layers_a), (self.model_b, self.layers_b)):
            for layer in layers:
                # Held in host memory: at the paper's scale one early ResNet unit over
                # 10,240 images is 33 GB.
                self._feats.setdefault((model, layer), []).append(
                    batch.tap(model, Tap(layer)).flatten(1).float().cpu())

    def result(self) -> dict[str, np.ndarray]:
        if not self._sums:
            raise ValueError("no full minibatch: the probe set is smaller than one minibatch")
        cross, self_a, self_b = np.cumsum(np.stack(self._sums), axis=0).transpose(1, 0, 2)
        full = [self._full_batch(self._feats[(self.model_a, la)],
                                 self._feats[(self.model_b, lb)])
                for la, lb in zip(self.layers_a, self.layers_b, strict=True)]
        return {"curve": cross / np.sqrt(self_a * self_b), "full": np.array(full)}

    def _full_batch(self, parts_a: list[torch.Tensor], parts_b: list[torch.Tensor]) -> float:
        """Unbiased CKA of one batch of all the examples, from the kept minibatches.

        On an accelerator the Grams are formed there a slab of features at a time
        (:func:`seelike.grams.gram_of_blocks`): the whole layer would not fit at the paper's
        scale. On the CPU, :func:`seelike.cka.linear_cka` of the whole layer, as ever.
        """
        from seelike.cka import cka_of_grams, linear_cka
        from seelike.grams import gram_of_blocks, reads_back_freely

        if reads_back_freely(self._device):
            return linear_cka(torch.cat(parts_a), torch.cat(parts_b), unbiased=True)
        return cka_of_grams(gram_of_blocks(parts_a, self._device),
                            gram_of_blocks(parts_b, self._device), unbiased=True)


def cka_matrices(models: Mapping[str, nn.Module], layers: Mapping[str, Sequence[str]],
                 pairs: Sequence[Pair], probe, *, batch_size: int, unbiased: bool = True,
                 tokens: TokenMode = "all", device: torch.device | None = None,
                 progress: bool = False) -> dict[Pair, np.ndarray]:
    """Minibatch CKA for several model pairs with one forward pass per model and minibatch.

    ``models`` and ``layers`` are keyed by a name; ``pairs`` lists ``(a, b)`` names, ``(a, a)``
    for a within-model matrix. Each model runs once per minibatch and each of its layers' Gram
    matrices is formed and transformed once, however many pairs it takes part in; the pairs
    then cost one small matrix product each (:func:`seelike.passes.run`). The result for
    ``(a, b)`` is what ``cka_matrix(models[a], layers[a], probe, model_b=models[b],
    layers_b=layers[b], ...)`` gives (``model_b=None`` for ``a == b``). A last minibatch smaller
    than ``batch_size`` is dropped.
    """
    _check_run(probe, batch_size, unbiased, tokens)
    if isinstance(pairs, str) or any(isinstance(p, str) or len(p) != 2 for p in pairs):
        raise TypeError(f"pairs must be a list of (a, b) model names, got {pairs!r}")
    pairs = [tuple(p) for p in pairs]
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    missing = [name for name in names if name not in models or name not in layers]
    if missing:
        raise KeyError(f"pairs name models {missing} that are missing from models or layers")
    for name in names:
        _check_layers(models[name], layers[name], f"layers[{name!r}]")
    if len(probe) < batch_size:
        raise ValueError(f"the probe set has {len(probe)} examples, fewer than one minibatch "
                         f"of {batch_size}")
    analyses = [CKAAnalysis(a, tuple(layers[a]), b, tuple(layers[b]), tokens, unbiased)
                for a, b in pairs]
    out = passes.run(analyses, models, probe, batch_size=batch_size, device=device,
                     progress=progress)
    return {pair: r["cka"] for pair, r in zip(pairs, out, strict=True)}
