"""Streaming CKA between the layers of one or two models over a probe set.

Serves Chapter 2's first heatmap and every CKA figure after it (paper Figs 1, 2,
8, 12, H.1): one forward pass per model and minibatch, the captured activations
fed straight into :class:`seelike.cka.MinibatchCKA` and dropped, so memory stays
O(layers × batch²) whatever the number of examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from seelike.cka import MinibatchCKA
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
    device = device or default_device()
    same = model_b is None
    layers_b = list(layers_a if layers_b is None else layers_b)
    acc = MinibatchCKA(len(layers_a), len(layers_b), unbiased=unbiased)
    n = len(probe) - len(probe) % batch_size
    if n == 0:
        raise ValueError(f"the probe set has {len(probe)} examples, fewer than one minibatch "
                         f"of {batch_size}")
    model_a = model_a.to(device)
    if not same:
        model_b = model_b.to(device)
    with capture(model_a, list(layers_a), tokens=tokens) as cap_a:
        with nullcontext() if same else capture(model_b, layers_b, tokens=tokens) as cap_b:
            for start in tqdm(range(0, n, batch_size), disable=not progress, desc="CKA"):
                x = probe.tensor(start, start + batch_size).to(device)
                model_a(x)
                feats_a = [cap_a.outputs[name] for name in layers_a]
                if same:
                    acc.update(feats_a)
                else:
                    model_b(x)
                    acc.update(feats_a, [cap_b.outputs[name] for name in layers_b])
                    cap_b.clear()
                cap_a.clear()
    return acc.compute()

