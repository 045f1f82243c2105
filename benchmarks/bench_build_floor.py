"""The floor under the book's build: the least computation its scheduled passes need.

Measures, on this machine in this run, what the default book (``--preset cifar``) cannot
avoid computing over its probe sets, and sets it beside the chapter times of the last
recorded cold build, so that "how far is the build from what it must do" has a number per
chapter. Every pass of :func:`seelike.book.schedule.schedule` (the attention pass, the CKA
passes, each probe-training draw, the probe evaluation, Chapter 10's probe sets) is
replayed as bare work on the same images, at the same minibatch size, with the same models:

* **forward**: each model the pass runs, with its trained weights, over the pass's own
  probe images (the book's loader, ``probe_set``) in the plan's minibatches
  (``schedule.batch_size``), under ``torch.inference_mode()``, stopped after the last
  layer the pass reads, as the engine stops it (:func:`seelike.taps.run_taps`, keeping no
  copy of any layer; an attention tap counts as its module's output, so attention stays
  fused). A model that only feeds Gram matrices skips a short last minibatch, as
  :func:`seelike.passes.run` does. Images are decoded outside the clock.
* **grams**: per full minibatch, one float32 Gram ``X Xᵀ`` of the flattened features of
  every distinct (layer, tokens, estimator) any analysis of the pass asks for, then in
  float64 its centring (U-centring for HSIC₁, double centring for HSIC₀), as the engine
  does; the token-to-patch CKA's Grams of every token and input patch; the head subsets'
  Grams; and Chapter 2's full-batch Grams of its walk-through pairs.
* **hsic**: per full minibatch and CKA matrix (within- and cross-model, token-to-patch,
  head subsets, Chapter 2's curve), the cross product ``(A, b²) @ (b², B)`` of the
  transformed Grams and the self terms; Chapter 10's chunked Grams at every minibatch
  size and both estimators, one product per chunk.
* **bootstrap**: the linearised bootstrap's extra work for every analysis that keeps
  draws (``plan.BOOTSTRAP`` of them): the Poisson weights, the per-example row terms
  (one batched product) and their weighting; the resampled means of the skip statistics.
* **probes**: per minibatch, the sufficient statistics of every ridge probe (``ΣxxT``,
  ``ΣxyT`` per fold) where the fit is primal, and the evaluation's scores (a model's
  pooled features once per minibatch, shared by all its probes, as the engine shares
  them); at the end of
  a fit, the cross-validated ridge solves over every penalty and fold and the final
  solve, in primal (d × d) or dual (n × n) form as :mod:`seelike.probes` chooses.
* **reductions**: the skip connections' norms and cosines, the attention-distance
  reduction of each block's probabilities, and top-1 accuracy.

The floor leaves out, on purpose: hooks' work (its only hooks stop the forward pass),
copies of layers, the offset subtracted before
each Gram, the float32 range checks, moving features to the host, feature copies the
probes and the walk-through keep, Python bookkeeping, result caching, and materialising
the attention probabilities (the plain forward keeps timm's fused attention; only the
reduction of probabilities is counted). It leaves out everything outside the scheduled
passes: kernel start-up, imports, loading weights, reading the cache, plotting and
tables, Chapter 5's receptive fields (backward passes; not a scheduled pass), and the
chapters' own small computations. Bare operations run on random inputs of the analyses'
exact shapes, carved from one buffer, so their cost is arithmetic, not allocation of inputs.

Each pass's floor is charged to the chapter that pays for the pass in a cold build: the
first chapter, in book order, that asks for any of its analyses
(:func:`seelike.book.schedule.chapter_of`), or that plans a pass which reads it (the CKA
pass picks Fig 5's heads from the attention pass, so Chapter 2 pays for both).

The build's seconds come from ``benchmarks/build_<preset>_cold.json`` when it exists,
else from the runner's ``_build/executed/<preset>/timings.json`` under ``--build-dir``
(default: this checkout). Threads are torch's default, and torch's CPU tensors sit on
transparent huge pages (importing seelike sets ``THP_MEM_ALLOC_ENABLE``), as in the book's
kernels.

    PYTHONPATH=lib SEELIKE_DATA=... python benchmarks/bench_build_floor.py --note "solo"
    python benchmarks/bench_build_floor.py --preset smoke --out build_floor_smoke.json

``--interleave CLONE`` makes the build as well: the runner executes the book in ``CLONE`` (a
fresh clone, empty results cache) page by page in book order, each chapter's passes' floor
is measured right after that chapter, and ``--build`` then makes the HTML. The build record
goes to ``benchmarks/build_<preset>_cold.json`` (or ``--build-out``). The machine's speed
drifts between runs (floors of 567, 677 and 623 s after three builds); a build and a floor
run half an hour apart each saw a different machine, while interleaved each chapter and
its floor are minutes apart. The clone must be at this checkout's commit.

    PYTHONPATH=lib python benchmarks/bench_build_floor.py --interleave ../fresh-clone --note "solo"

``--engine cka:0`` also runs the named passes (purpose:repeat) through the engine
(:func:`seelike.passes.run`, no results cache) with a :class:`seelike.profile.Profile`, and
sets its seconds beside the floor's: forward passes with their taps and Grams, and each
kind of analysis. Where a chapter's build comes out below its floor, this says which part
of the floor is not a lower bound. Fig 5's heads and the probes' fitted weights are
stand-ins of the right shapes there too, so a probe evaluation's pass cannot be run so.

Writes ``benchmarks/build_floor_<preset>.json`` (or ``--out``); the test suite runs it on
the smoke preset (``tests/test_bench_floor.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from seelike import models
from seelike.analyses import (
    SELECTION_POSITIONS,
    Accuracy,
    AttentionDistances,
    CKAAnalysis,
    CKACurve,
    Declaration,
    EstimatorCKA,
    HeadSubsetCKA,
    ProbeEval,
    ProbeFit,
    SkipStatistics,
    TokenPatchCKA,
)
from seelike.book import results, schedule, store
from seelike.book.claims.table import RESULTS_ENV
from seelike.book.images import probe_set
from seelike.book.knobs import KNOBS
from seelike.book.presets import Preset, get_preset, parse_overrides
from seelike.cache import CACHE_ENV
from seelike.cka import transform_gram
from seelike.estimators import chunk_grams
from seelike.localization import spatial_tokens
from seelike.memory import release_freed
from seelike.network import default_device
from seelike.passes import Analysis, GramSpec, accumulator_of
from seelike.passes import run as run_pass
from seelike.probes import token_positions
from seelike.profile import Profile
from seelike.skips import branch_taps
from seelike.taps import Tap, run_taps
from seelike.tokens import select_tokens, token_layout

ROOT = Path(__file__).resolve().parents[1]
#: Where the floor's seconds go, in the order the table of parts lists them.
PARTS = ("forward", "grams", "hsic", "bootstrap", "probes", "reductions")

Op = Callable[[], object]
BatchOp = Callable[[int, int], object]  # (start, size) of the minibatch


# ---- which chapter pays for each pass -------------------------------------------------------


@dataclass
class Pass:
    """One scheduled pass: its preset (the probe draw's shots), purpose and repeat, its
    analyses, the passes its planning reads, and the chapter that pays for it."""

    preset: Preset
    purpose: str
    repeat: int
    analyses: list[Declaration]
    reads: set[tuple[str, int, int]] = field(default_factory=set)
    chapter: str = ""

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.purpose, self.repeat, self.preset.probe_train_per_class)


@contextlib.contextmanager
def planning_only() -> Iterator[set[tuple[str, int, int]]]:
    """``schedule.analyses`` resolved without running any pass: what resolving reads from the
    cache (Fig 5's heads need the attention distances; the probe evaluations need their
    fits) is recorded in the yielded set and answered with stand-ins of the right shapes,
    so the floor neither needs nor touches the results cache."""
    reads: set[tuple[str, int, int]] = set()

    def results(preset: Preset, analyses: Sequence[Declaration], *, purpose: str,
                repeat: int = 0, **_: object) -> list[dict[str, np.ndarray]]:
        reads.add((purpose, repeat, preset.probe_train_per_class))
        out: list[dict[str, np.ndarray]] = []
        for a in analyses:
            if isinstance(a, AttentionDistances):
                # Head subsets depend on how many heads there are, not on their distances.
                blocks = models.meta_build(a.model).net.blocks
                heads = blocks[0].attn.num_heads
                out.append({"drop": np.arange(len(blocks) * heads, dtype=float)
                            .reshape(len(blocks), heads)})
            else:
                out.append({})
        return out

    with mock.patch.object(store, "results", results):
        yield reads


def scheduled_passes(p: Preset, shots: int, order: Sequence[str]) -> list[Pass]:
    """Every pass of ``schedule.schedule(p)`` with its analyses and paying chapter."""
    out = []
    for q, purpose, repeat in schedule.schedule(p, shots=shots):
        with planning_only() as reads:
            analyses = [results.resolve(a)
                        for a in schedule.analyses(q, purpose, repeat, shots=shots)]
        out.append(Pass(q, purpose, repeat, analyses, set(reads)))
    rank = {name: i for i, name in enumerate(order)}

    def earliest(names: Sequence[str]) -> str:
        return min(names, key=lambda name: (rank.get(name, len(rank)), name))

    for x in out:
        x.chapter = earliest([schedule.chapter_of(p, a) for a in x.analyses])
    # A pass that another pass's planning reads is run by whichever chapter plans that one
    # first; one round suffices, as the plan's reads are one level deep.
    for x in out:
        readers = [y.chapter for y in out if x.key in y.reads and y is not x]
        x.chapter = earliest([x.chapter, *readers])
    return out


# ---- bare work of the right shapes -----------------------------------------------------------


class Pool:
    """Random inputs of any shape, carved from one buffer per dtype (grown as needed), so
    that the timed operations allocate their results but never their inputs."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._buffers: dict[torch.dtype, torch.Tensor] = {}

    def take(self, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        n = math.prod(shape)
        buffer = self._buffers.get(dtype)
        if buffer is None or buffer.numel() < n:
            # Doubling keeps the buffers that earlier views still hold to a few.
            grown = n if buffer is None else max(n, 2 * buffer.numel())
            buffer = torch.randn(grown, dtype=dtype, device=self.device)
            self._buffers[dtype] = buffer
        return buffer[:n].view(*shape)


@dataclass
class Work:
    """The bare operations of one pass: per full minibatch, per minibatch, and once."""

    per_full: list[tuple[str, Op]] = field(default_factory=list)
    per_batch: list[tuple[str, BatchOp]] = field(default_factory=list)
    at_end: list[tuple[str, Op]] = field(default_factory=list)
    # What the analyses of one model share per minibatch (seelike.passes.Batch.shared): the
    # keys whose work is already counted.
    shared: set[tuple[object, ...]] = field(default_factory=set)

    def once(self, key: tuple[object, ...]) -> bool:
        """Whether ``key``'s shared work is still to be counted (and count it now)."""
        new = key not in self.shared
        self.shared.add(key)
        return new


def gram(x: torch.Tensor, unbiased: bool) -> torch.Tensor:
    """Transformed Gram(s) of ``(..., b, d)`` float32 features: the product in float32,
    the centring in float64, as :func:`seelike.cka.transformed_grams` has them."""
    return transform_gram((x @ x.transpose(-1, -2)).double(), unbiased)


def hsic(a: torch.Tensor, b: torch.Tensor | None, sums: torch.Tensor) -> None:
    """One minibatch's HSIC terms of every layer pair, added to ``sums``."""
    other = a if b is None else b
    sums.add_(a @ other.T)
    (a * a).sum(dim=1)
    if b is not None:
        (b * b).sum(dim=1)


def bootstrap(a: torch.Tensor, b: torch.Tensor | None, n: int, draws: int,
              rng: np.random.Generator) -> None:
    """The linearised bootstrap's extra work for one minibatch (as
    :meth:`seelike.cka.MinibatchCKA._bootstrap_update` has it): Poisson weights, per-example
    row terms of every layer pair, and their weighted sums."""
    weights = torch.as_tensor(2.0 * rng.poisson(1.0, (draws, n)) - 1.0, dtype=a.dtype,
                              device=a.device)
    rows_a = a.reshape(-1, n, n).transpose(0, 1)
    rows_b = rows_a if b is None else b.reshape(-1, n, n).transpose(0, 1)
    cross = torch.bmm(rows_a, rows_b.transpose(1, 2)).reshape(n, -1)
    self_a = (rows_a * rows_a).sum(dim=2)
    self_b = self_a if b is None else (rows_b * rows_b).sum(dim=2)
    weights @ cross
    weights @ self_a
    weights @ self_b


def matrix_work(work: Work, pool: Pool, rows: int, cols: int | None, n: int,
                draws: int, seed: int = 0) -> None:
    """A ``rows`` x ``cols`` minibatch CKA matrix (``cols`` None: a layer set with itself)
    fed transformed Grams of ``n`` examples: its products, and its bootstrap's."""
    a = pool.take((rows, n * n), torch.float64)
    b = None if cols is None else pool.take((cols, n * n), torch.float64)
    sums = torch.zeros(rows, rows if cols is None else cols, dtype=torch.float64,
                       device=pool.device)
    work.per_full.append(("hsic", functools.partial(hsic, a, b, sums)))
    if draws:
        rng = np.random.default_rng(seed)
        work.per_full.append(("bootstrap", functools.partial(bootstrap, a, b, n, draws, rng)))


@dataclass
class Shapes:
    """A model's layout and one minibatch-of-two's tensor at every tap the pass reads."""

    net: nn.Module
    tensors: dict[Tap, torch.Tensor]
    has_tokens: bool
    prefix: int
    has_class: bool

    def per_example(self, tap: Tap) -> torch.Size:
        return self.tensors[tap].shape[1:]


def shapes_of(net: nn.Module, x: torch.Tensor, taps: Sequence[Tap]) -> Shapes:
    """The tensors of ``taps`` (attention probabilities aside, whose shape is the ViT's
    geometry) on two real images: exact shapes whatever the architecture."""
    plain = [t for t in dict.fromkeys(taps) if t.where != "attention"]
    got = run_taps(net, x, plain) if plain else {}
    return Shapes(net, dict(got), *token_layout(net))


def gram_work(work: Work, pool: Pool, shapes: Shapes, specs: Sequence[GramSpec], b: int) -> None:
    for spec in dict.fromkeys(specs):
        feats = select_tokens(shapes.tensors[spec.tap], spec.tokens,
                              has_tokens=shapes.has_tokens, prefix=shapes.prefix,
                              has_class=shapes.has_class, name=spec.tap.module)
        x = pool.take((b, feats[0].numel()))
        work.per_full.append(("grams", functools.partial(gram, x, spec.unbiased)))


def full_batch_cka(x: torch.Tensor, y: torch.Tensor) -> None:
    """Unbiased CKA of one batch of every kept example: two Grams and three products."""
    kx, ky = gram(x, True), gram(y, True)
    (kx * ky).sum(), (kx * kx).sum(), (ky * ky).sum()


def curve_work(work: Work, pool: Pool, a: CKACurve, shapes: Mapping[str, Shapes], b: int,
               examples: int) -> None:
    """Chapter 2's walk-through: three sums per pair and minibatch, then the full-batch
    unbiased CKA of each pair from every full minibatch's examples."""
    pairs = len(a.layers_a)
    ta, tb = pool.take((pairs, b * b), torch.float64), pool.take((pairs, b * b), torch.float64)
    work.per_full.append(("hsic", functools.partial(
        lambda x, y: ((x * y).sum(1), (x * x).sum(1), (y * y).sum(1)), ta, tb)))
    kept = examples - examples % b
    for la, lb in zip(a.layers_a, a.layers_b, strict=True):
        # Both sides come from one buffer: the cost is the arithmetic, not the values.
        x = pool.take((kept, shapes[a.model_a].per_example(Tap(la)).numel()))
        y = pool.take((kept, shapes[a.model_b].per_example(Tap(lb)).numel()))
        work.at_end.append(("grams", functools.partial(full_batch_cka, x, y)))


def token_patch_work(work: Work, pool: Pool, a: TokenPatchCKA, shapes: Shapes, b: int,
                     image_size: int) -> None:
    """Every token's and every input patch's Gram, then positions x positions CKA."""
    grids: set[tuple[int, int]] = set()
    for layer in a.layers:
        tokens, grid = spatial_tokens(shapes.tensors[Tap(layer)], shapes.prefix)
        positions, dim = tokens.shape[1], tokens.shape[2]
        work.per_full.append(("grams", functools.partial(
            gram, pool.take((positions, b, dim)), a.unbiased)))
        if grid not in grids:  # layers of one stage share their patches' Grams
            grids.add(grid)
            patch = 3 * (image_size // grid[0]) * (image_size // grid[1])
            work.per_full.append(("grams", functools.partial(
                gram, pool.take((positions, b, patch)), a.unbiased)))
        matrix_work(work, pool, positions, positions, b, a.bootstrap)


def head_subset_work(work: Work, pool: Pool, a: HeadSubsetCKA, shapes: Shapes, b: int) -> None:
    """One Gram per subset of heads (its tokens x heads x head width), then the subsets
    against the CNN's layers, whose Grams the CNN's Gram specs already count."""
    blocks = shapes.net.net.blocks
    tokens = shapes.per_example(Tap(f"net.blocks.{a.blocks[0]}.attn.proj", "input"))[0]
    head_dim = blocks[a.blocks[0]].attn.head_dim
    for subset in a.subsets:
        x = pool.take((b, tokens * len(subset) * head_dim))
        work.per_full.append(("grams", functools.partial(gram, x, a.unbiased)))
    matrix_work(work, pool, len(a.subsets), len(a.cnn_layers), b, a.bootstrap)


def skip_values(skip: torch.Tensor, branch: torch.Tensor) -> list[torch.Tensor]:
    """Norm ratio and the two cosines per image and position (per image, for a CNN)."""
    if skip.ndim == 4:
        skip, branch = skip.flatten(2).transpose(1, 2), branch.flatten(2).transpose(1, 2)
    s, r = skip.double(), branch.double()
    values = [s.norm(dim=-1) / r.norm(dim=-1),
              F.cosine_similarity(s, r, dim=-1, eps=1e-30),
              F.cosine_similarity(s, s + r, dim=-1, eps=1e-30)]
    return [v.mean(dim=1) for v in values] if skip.ndim == 4 else values


def skip_work(work: Work, pool: Pool, a: SkipStatistics, shapes: Shapes, b: int) -> None:
    """Each residual addition's statistics, and their resampled means."""
    anatomy = branch_taps(shapes.net)
    per_part: dict[str, int] = {}
    for branches in anatomy.values():
        for key, bt in branches.items():
            shape = shapes.per_example(bt.branch)
            per_part[key] = per_part.get(key, 0) + (shape[0] if len(shape) == 2 else 1)
            if bt.skip is None:  # a skip-free block: its values are NaN, nothing computed
                continue
            skip, branch = pool.take((b, *shape)), pool.take((b, *shape))
            work.per_batch.append(("reductions", functools.partial(
                lambda s, r, _start, n: skip_values(s[:n], r[:n]), skip, branch)))
    if a.bootstrap:
        rng = np.random.default_rng(0)
        for width in per_part.values():
            values = pool.take((b, width), torch.float64).cpu().numpy()
            for _ in range(3):  # ratio, cosine, output cosine
                work.per_batch.append(("bootstrap", functools.partial(
                    lambda v, _start, n: rng.poisson(1.0, (a.bootstrap, n)).astype(float)
                    @ v[:n],
                    values)))


def attention_work(work: Work, pool: Pool, a: AttentionDistances, shapes: Shapes,
                   b: int) -> None:
    """Each block's probabilities reduced to per-image distances, in every CLS mode."""
    vit = shapes.net.net
    grid, patch = tuple(vit.patch_embed.grid_size), int(vit.patch_embed.patch_size[0])
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    where = torch.stack([rows.flatten(), cols.flatten()], dim=1).double()
    dist = (torch.cdist(where, where) * patch).to(pool.device)
    tokens = shapes.prefix + grid[0] * grid[1]

    def reduce(attn: torch.Tensor, _start: int, n: int) -> None:
        spatial = attn[:n, :, shapes.prefix:, shapes.prefix:].double()
        for mode in a.cls:
            s = spatial / spatial.sum(dim=-1, keepdim=True) if mode == "renormalise" else spatial
            (s * dist).sum(dim=-1).mean(dim=-1)

    for block in vit.blocks:
        # Positive, as probabilities are; in place, so every block shares one buffer.
        attn = pool.take((b, block.attn.num_heads, tokens, tokens)).abs_()
        work.per_batch.append(("reductions", functools.partial(reduce, attn)))


def probe_features(shapes: Shapes, layer: str, kind: str, max_positions: int | None
                   ) -> tuple[int, int, int]:
    """(tokens pooled over or 0, probes, width) of one probe family at ``layer``."""
    out = shapes.tensors[Tap(layer)]
    if kind == "cls":
        return 0, 1, out.shape[-1]
    if kind == "gap_all":
        return out.shape[1], 1, out.shape[-1]
    tokens, grid = spatial_tokens(out, shapes.prefix)
    if kind == "gap":
        return tokens.shape[1], 1, tokens.shape[-1]
    return 0, len(token_positions(grid, max_positions)[0]), tokens.shape[-1]


def pooling_work(work: Work, pool: Pool, pooled: int, width: int, b: int) -> None:
    """The mean over ``pooled`` tokens that a pooled probe family reads (none: no work)."""
    if pooled:
        tokens = pool.take((b, pooled, width))
        work.per_batch.append(("probes", functools.partial(
            lambda t, _start, n: t[:n].mean(dim=1), tokens)))


def fold_sizes(start: int, n: int, classes: int, folds: int) -> list[int]:
    """Examples of each fold among rows ``start`` to ``start + n - 1`` (consecutive rounds of
    the class-balanced draw, as :class:`seelike.analyses.ProbeFit` folds them)."""
    fold = (np.arange(start, start + n) // classes) % folds
    return [int((fold == f).sum()) for f in range(folds)]


def primal_statistics(x: torch.Tensor, y: torch.Tensor, sizes: list[int]) -> None:
    """One minibatch's per-fold ΣxxT, ΣxyT and Σx of ``(G, b, d)`` features."""
    at = 0
    for size in sizes:
        if size:
            xf, yf = x[:, at:at + size], y[at:at + size]
            xf.transpose(1, 2) @ xf
            xf.transpose(1, 2) @ yf
            xf.sum(dim=1)
            at += size


def primal_fit(cov: torch.Tensor, full: torch.Tensor, lambdas: torch.Tensor, folds: int,
               classes: int) -> None:
    """Cross-validated ridge over the selection positions (every penalty of a fold in one
    batched solve, and the held-out error's quadratic term), then every probe's solve."""
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    for _ in range(folds):
        system = cov + lambdas[:, None, None, None] * eye
        rhs = cov[..., :classes].expand(len(lambdas), *cov.shape[:-1], classes)
        w = torch.linalg.solve(system, rhs)
        cov @ w
    torch.linalg.solve(full + eye, full[..., :classes])


def dual_fit(x: torch.Tensor, y: torch.Tensor, picked: int, held: list[int],
             lambdas: torch.Tensor) -> None:
    """Kernel ridge: per fold, the selection positions' n x n systems at every penalty and
    the held-out predictions; then every probe's n x n solve and its weights."""
    n = x.shape[1]
    for h in held:
        if not h or h == n:
            continue
        train, test = x[:picked, h:], x[:picked, :h]
        k = train @ train.transpose(1, 2)
        eye = torch.eye(k.shape[-1], dtype=k.dtype, device=k.device)
        system = k + lambdas[:, None, None, None] * eye
        a = torch.linalg.solve(system, y[h:].expand(*system.shape[:-1], y.shape[1]))
        (test @ train.transpose(1, 2)) @ a
    k = x @ x.transpose(1, 2)
    eye = torch.eye(n, dtype=k.dtype, device=k.device)
    a = torch.linalg.solve(k + eye, y.expand(len(x), n, y.shape[1]))
    x.transpose(1, 2) @ a


def probe_fit_work(work: Work, pool: Pool, a: ProbeFit, shapes: Shapes, b: int,
                   examples: int) -> None:
    """Statistics per minibatch (primal) or the kept examples' kernel fits (dual), and the
    cross-validated solves, for every block and probe family."""
    lambdas = torch.tensor(a.lambdas, dtype=torch.float64, device=pool.device)
    classes = a.classes
    held = fold_sizes(0, examples, classes, a.folds)
    for layer in a.layers:
        for kind in a.kinds:
            pooled, probes, width = probe_features(shapes, layer, kind, a.max_positions)
            if work.once(("features", a.model, layer, kind, a.max_positions)):
                pooling_work(work, pool, pooled, width, b)
            picked = min(probes, SELECTION_POSITIONS)
            if examples < width:  # the dual form (seelike.probes._keeps_examples)
                x = pool.take((probes, examples, width), torch.float64)
                y = pool.take((examples, classes), torch.float64)
                work.at_end.append(("probes", functools.partial(
                    dual_fit, x, y, picked, held, lambdas)))
                continue
            x = pool.take((probes, b, width))
            y = pool.take((b, classes))
            work.per_batch.append(("probes", functools.partial(
                lambda xs, ys, start, n: primal_statistics(
                    xs, ys, fold_sizes(start, n, classes, a.folds)), x, y)))
            cov = pool.take((picked, width, width), torch.float64)
            full = pool.take((probes, width, width), torch.float64)
            work.at_end.append(("probes", functools.partial(
                primal_fit, cov, full, lambdas, a.folds, classes)))


def probe_eval_work(work: Work, pool: Pool, a: ProbeEval, shapes: Shapes, b: int) -> None:
    """Every probe's scores on each minibatch, in float64, and the hits; the features made
    once for every probe of the model (Batch.shared)."""
    for layer in a.layers:
        for kind in a.kinds:
            pooled, probes, width = probe_features(shapes, layer, kind, a.max_positions)
            if work.once(("features", a.model, layer, kind, a.max_positions)):
                pooling_work(work, pool, pooled, width, b)
            feats = pool.take((b, probes, width))
            w = pool.take((probes, width, a.classes), torch.float64)
            work.per_batch.append(("probes", functools.partial(
                lambda f, weights, _start, n: torch.einsum(
                    "ngd,gdc->ngc", f[:n].double(), weights).argmax(dim=-1), feats, w)))


def estimator_work(work: Work, pool: Pool, a: EstimatorCKA, b: int) -> None:
    """Chapter 10: each minibatch size's chunks of the pass's Grams, both estimators."""
    grams = pool.take((a.num_layers, b, b), torch.float64)

    def chunks(size: int, unbiased: bool) -> None:
        for chunk in transform_gram(chunk_grams(grams, size), unbiased).unbind(dim=1):
            flat = chunk.flatten(1)
            flat @ flat.T
            (flat * flat).sum(dim=1)

    for size in a.batches:
        if b % size == 0:
            for unbiased in (False, True):
                work.per_full.append(("hsic", functools.partial(chunks, size, unbiased)))


def accuracy_work(work: Work, pool: Pool, shapes: Shapes, b: int) -> None:
    logits = pool.take((b, shapes.per_example(Tap(""))[0]))
    truth = torch.zeros(b, dtype=torch.long, device=pool.device)
    work.per_batch.append(("reductions", functools.partial(
        lambda z, t, _start, n: (z[:n].argmax(1) == t[:n]).sum(), logits, truth)))


def pass_work(analyses: Sequence[Analysis], shapes: Mapping[str, Shapes], pool: Pool,
              b: int, examples: int, image_size: int) -> Work:
    """The bare operations of every analysis of one pass (the module docstring's parts)."""
    work = Work()
    specs: dict[str, list[GramSpec]] = {m: [] for m in shapes}
    for a in analyses:
        for m in a.models():
            specs[m] += a.needs(m, shapes[m].net).grams
    for m, wanted in specs.items():
        gram_work(work, pool, shapes[m], wanted, b)
    for a in analyses:
        if isinstance(a, CKAAnalysis):
            same = a.model_a == a.model_b and a.layers_a == a.layers_b
            matrix_work(work, pool, len(a.layers_a), None if same else len(a.layers_b), b,
                        a.bootstrap)
        elif isinstance(a, CKACurve):
            curve_work(work, pool, a, shapes, b, examples)
        elif isinstance(a, TokenPatchCKA):
            token_patch_work(work, pool, a, shapes[a.model], b, image_size)
        elif isinstance(a, HeadSubsetCKA):
            head_subset_work(work, pool, a, shapes[a.vit], b)
        elif isinstance(a, SkipStatistics):
            skip_work(work, pool, a, shapes[a.model], b)
        elif isinstance(a, AttentionDistances):
            attention_work(work, pool, a, shapes[a.model], b)
        elif isinstance(a, ProbeFit):
            probe_fit_work(work, pool, a, shapes[a.model], b, examples)
        elif isinstance(a, ProbeEval):
            probe_eval_work(work, pool, a, shapes[a.model], b)
        elif isinstance(a, EstimatorCKA):
            estimator_work(work, pool, a, b)
        elif isinstance(a, Accuracy):
            accuracy_work(work, pool, shapes[a.model], b)
        else:
            raise TypeError(f"no floor for {type(a).__name__}; add it to pass_work")
    return work


# ---- timing ---------------------------------------------------------------------------------


class Clock:
    """Seconds per part of the floor (:data:`PARTS`), synchronised on an accelerator."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = dict.fromkeys(PARTS, 0.0)

    def run(self, part: str, op: Callable[..., object], *args: object) -> None:
        self._sync()
        start = time.perf_counter()
        op(*args)
        self._sync()
        self.seconds[part] += time.perf_counter() - start

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def floor_of_pass(x: Pass, nets: Mapping[str, nn.Module], device: torch.device) -> dict[str, Any]:
    """One scheduled pass's floor, by part, and what it ran."""
    q = x.preset
    probe = probe_set(q, x.purpose, seed=x.repeat)
    b = schedule.batch_size(q, x.purpose)
    analyses = [accumulator_of(a) for a in x.analyses]
    names = list(dict.fromkeys(m for a in analyses for m in a.models()))
    sample = probe.tensor(0, min(2, len(probe))).to(device)
    clock = Clock(device)
    with torch.inference_mode():
        shapes, partial, stops = {}, {}, {}
        for m in names:
            needs = [a.needs(m, nets[m]) for a in analyses if m in a.models()]
            taps = [t for n in needs for t in [*n.taps, *n.streamed, *(s.tap for s in n.grams)]]
            shapes[m] = shapes_of(nets[m], sample, taps)
            stops[m] = list(dict.fromkeys(
                Tap(t.module, "output" if t.where == "attention" else t.where) for t in taps))
            # A model that only feeds Grams is not run on a short last minibatch.
            partial[m] = any(n.taps or n.streamed for n in needs)
            nets[m](sample)  # warm-up, outside the clock
        pool = Pool(device)
        work = pass_work(analyses, shapes, pool, b, len(probe), q.image_size)
        for start in range(0, len(probe), b):
            images = probe.tensor(start, min(start + b, len(probe))).to(device)
            full = len(images) == b
            for m in names:
                if full or partial[m]:
                    clock.run("forward", bare_forward, nets[m], images, stops[m])
            if full:
                for part, op in work.per_full:
                    clock.run(part, op)
            for part, batch_op in work.per_batch:
                clock.run(part, batch_op, start, len(images))
        for part, op in work.at_end:
            clock.run(part, op)
    seconds = {part: round(s, 3) for part, s in clock.seconds.items()}
    return {"purpose": x.purpose, "repeat": x.repeat, "shots": q.probe_train_per_class,
            "chapter": x.chapter, "examples": len(probe), "batch_size": b,
            "models": len(names), "analyses": len(x.analyses),
            "seconds": seconds, "floor_seconds": round(sum(clock.seconds.values()), 3)}


def bare_forward(net: nn.Module, x: torch.Tensor, stops: Sequence[Tap]) -> None:
    """``net`` on ``x`` up to the last of ``stops`` it reaches, recording nothing."""
    run_taps(net, x, stops, consume=lambda _tap, _tensor: True)


def engine_of_pass(x: Pass, nets: Mapping[str, nn.Module], device: torch.device
                   ) -> dict[str, Any]:
    """The same pass run by the engine, profiled: wall seconds, forward passes (taps and
    Grams included) and each kind of analysis."""
    q = x.preset
    probe = probe_set(q, x.purpose, seed=x.repeat)
    profile = Profile(device)
    started = time.perf_counter()
    run_pass(x.analyses, {m: nets[m] for a in x.analyses for m in a.models()}, probe,
             batch_size=schedule.batch_size(q, x.purpose), device=device, profile=profile)
    wall = time.perf_counter() - started
    kinds: dict[str, float] = {}
    forward = 0.0
    for key, sec in profile.seconds().items():
        if key[0] == "forward":
            forward += sec
        else:
            kinds[type(key[1]).__name__] = kinds.get(type(key[1]).__name__, 0.0) + sec
    return {"wall_seconds": round(wall, 3), "forward_taps_grams": round(forward, 3),
            "analyses": {k: round(v, 3) for k, v in sorted(kinds.items())}}


# ---- the build's seconds, and the table -----------------------------------------------------


def build_record(preset: str, build_dir: Path, record: Path | None
                 ) -> tuple[Path, dict[str, Any]]:
    """The recorded cold build's chapter seconds (module docstring says where from)."""
    candidates = [record] if record else [
        ROOT / "benchmarks" / f"build_{preset}_cold.json",
        build_dir / "_build" / "executed" / preset / "timings.json"]
    for path in candidates:
        if path is not None and path.is_file():
            found = json.loads(path.read_text())
            if found.get("chapters"):
                return path, found
    raise SystemExit(f"no build record with per-chapter seconds among "
                     f"{', '.join(map(str, candidates))}; build the book "
                     f"(python -m seelike.book.run --preset {preset}) or pass --build-record")


class InterleavedBuild:
    """The book's cold build, page by page, by the runner in ``checkout`` (a fresh clone:
    empty results cache), for ``--interleave``: each call executes one page and returns its
    seconds as the runner records them; :meth:`html` then builds the HTML from the executed
    pages. Interleaving the floor with the build takes the machine's drift over the half
    hour of a build and a floor run one after the other out of their ratio.

    The clone must be at this checkout's commit, with no change to ``lib`` or
    ``benchmarks`` here: the floor replays this checkout's plan, the pages run the clone's.
    """

    def __init__(self, checkout: Path, preset: str) -> None:
        if not (checkout / "lib" / "seelike").is_dir():
            raise SystemExit(f"--interleave {checkout}: not a seelike checkout (no lib/seelike)")
        self.checkout, self.preset = checkout.resolve(), preset
        self.timings = self.checkout / "_build" / "executed" / preset / "timings.json"
        used = [p for p in (self.timings, self.checkout / "_build" / "cache")
                if p.is_file() or (p.is_dir() and any(p.iterdir()))]
        if used:
            raise SystemExit(f"--interleave {checkout}: it has a build already ({used[0]}); "
                             "give a fresh clone, so the build is cold")
        self.commit, here = _commit(self.checkout), _commit(ROOT)
        if here != self.commit:
            raise SystemExit(f"--interleave {checkout}: the clone is at {self.commit}, this "
                             f"checkout at {here}; clone this commit")
        changed = _uncommitted(ROOT)
        if changed:
            raise SystemExit("--interleave: lib or benchmarks has uncommitted changes here, "
                             f"which the clone lacks ({changed.splitlines()[0]}); commit them "
                             "and clone again")
        # The clone's own results cache and claims tables, not folders this shell names.
        self.env = {k: v for k, v in os.environ.items() if k not in (CACHE_ENV, RESULTS_ENV)}
        self.env["PYTHONPATH"] = str(self.checkout / "lib")
        self.html_seconds: float | None = None
        self.runner_seconds = 0.0

    def _runner(self, *args: str) -> None:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "seelike.book.run", "--preset",
                               self.preset, *args], cwd=self.checkout, env=self.env)
        self.runner_seconds += time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"the runner failed on {' '.join(args)} in {self.checkout} "
                             f"(exit {done.returncode}); its output above says where")

    def __call__(self, page: str) -> float:
        self._runner(page)
        run = json.loads(self.timings.read_text())["runs"][page]
        if run["cached"]:
            raise SystemExit(f"{page} came from the runner's cache: the build is not cold")
        return float(run["seconds"])

    def html(self) -> None:
        before = json.loads(self.timings.read_text())["chapters"]
        started = time.perf_counter()
        self._runner("--build")  # every page is executed already: this stages and builds
        self.html_seconds = round(time.perf_counter() - started, 1)
        runs = json.loads(self.timings.read_text())["runs"]
        again = [page for page in before if not runs[page]["cached"]]
        if again:
            raise SystemExit(f"--build executed {again} again: their seconds would count "
                             "twice; the interleaved build is not one cold build")

    def record(self, chapters: Mapping[str, float], note: str) -> dict[str, Any]:
        """The build record (``build_<preset>_cold.json``) of this build."""
        total = round(sum(chapters.values()), 1)
        # The largest of the runners, their kernels and the HTML build: each is a child or
        # grandchild of this process, waited for.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {"preset": self.preset, "chapters": dict(chapters), "total_seconds": total,
                "html_seconds": self.html_seconds,
                # Every runner call, start-ups included; the floor between pages is not.
                "wall_seconds_with_html": round(self.runner_seconds),
                "peak_process_mib": round(peak), "commit": self.commit, "interleaved": True,
                "command": f"fresh clone, empty results cache: python -m seelike.book.run "
                           f"PAGE --preset {self.preset} page by page in book order, each "
                           f"chapter's floor measured right after it by bench_build_floor.py "
                           f"--interleave, then --build for the HTML" + (f"; {note}" if note
                                                                         else ""),
                "machine": machine_words()}


def _uncommitted(checkout: Path) -> str:
    """``git status --porcelain`` of the checkout's ``lib`` and ``benchmarks``."""
    return subprocess.run(["git", "status", "--porcelain", "--", "lib", "benchmarks"],
                          cwd=checkout, capture_output=True, text=True).stdout.strip()


def _commit(checkout: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{checkout} is not a git checkout: {done.stderr.strip()}")
    return done.stdout.strip()


def machine_words() -> str:
    """The machine in words: CPUs, architecture, CPU model, memory."""
    model, memory = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = ", " + line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    gpu = "a GPU" if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPUs ({platform.machine()}{model}){memory}, {gpu}"


def chapter_order() -> list[str]:
    """The book's pages in the order the runner executes them."""
    from seelike.book import toc

    return [page.stem for page in toc.notebooks()]


def table(rows: Sequence[dict[str, Any]], total: dict[str, Any]) -> str:
    """chapter | build s | floor s | ratio, and the total."""

    def fmt(r: dict[str, Any], name: str) -> str:
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.1f}×"
        return (f"| {name} | {r['build_seconds']:.1f} | {r['floor_seconds']:.1f} "
                f"| {ratio} |")

    lines = ["| chapter | build s | floor s | ratio |", "| --- | ---: | ---: | ---: |"]
    lines += [fmt(r, r["chapter"]) for r in rows]
    lines.append(fmt(total, "**total**"))
    return "\n".join(lines)


def ratio(build: float | None, floor: float) -> float | None:
    return round(build / floor, 2) if build is not None and floor > 0 else None


def run(p: Preset, *, shots: int, device: torch.device, build: Mapping[str, float],
        progress: bool = True, engine: Sequence[str] = (),
        build_chapter: Callable[[str], float] | None = None) -> dict[str, Any]:
    """Every scheduled pass's floor, per pass and per chapter, beside the build's seconds
    (and the engine's, for the passes named ``purpose:repeat`` in ``engine``).

    ``build_chapter(page)``: build that page and return its seconds, called for every
    page in book order, each chapter's passes measured right after it (``--interleave``);
    ``build`` is then ignored.
    """
    order = chapter_order()
    passes = scheduled_passes(p, shots, order)
    # (page to build first, its passes): interleaved, every page in book order with the
    # passes it pays for; otherwise one step, no page built, every pass.
    steps: list[tuple[str | None, list[Pass]]] = [(None, passes)]
    built: dict[str, float] = {}
    if build_chapter is not None:
        strays = sorted({x.chapter for x in passes} - set(order))
        if strays:
            raise SystemExit(f"passes charged to pages the runner does not execute: {strays}")
        steps = [(page, [x for x in passes if x.chapter == page]) for page in order]
        build = built
    named = {f"{x.purpose}:{x.repeat}": x for x in passes}
    for name in engine:
        if name not in named:
            raise SystemExit(f"--engine {name}: not a scheduled pass; choose among "
                             f"{', '.join(named)}")
        if any(isinstance(a, ProbeEval) for a in named[name].analyses):
            raise SystemExit(f"--engine {name}: a probe evaluation needs fitted weights, "
                             "which the floor does not make; choose another pass")
    nets: dict[str, nn.Module] = {}
    rows = []
    for page, todo in steps:
        if page is not None and build_chapter is not None:
            # The page's kernel gets the machine as a plain build would: this process drops the
            # floor's models and hands its freed memory back first, since a chapter built beside
            # them ran measurably slower (benchmarks/README.md has the runs).
            nets.clear()
            gc.collect()
            release_freed()
            built[page] = build_chapter(page)
            if progress:
                print(f"built {page}: {built[page]:.1f} s", flush=True)
        for x in todo:
            for m in dict.fromkeys(m for a in x.analyses for m in a.models()):
                if m not in nets:
                    nets[m] = models.load(m).to(device).eval()
            row = floor_of_pass(x, nets, device)
            if f"{x.purpose}:{x.repeat}" in engine:
                row["engine"] = engine_of_pass(x, nets, device)
            # Sampled per pass: a neighbour's job that comes and goes between the start and
            # the end would not show in those two readings alone.
            row["load_1min"] = round(os.getloadavg()[0], 2)
            rows.append(row)
            if progress:
                print(f"  {x.purpose} {x.repeat} (shots {row['shots']}, {row['examples']} images, "
                      f"{row['models']} models) -> {x.chapter}: {row['floor_seconds']:.1f} s",
                      flush=True)
                if "engine" in row:
                    print(f"    floor by part {row['seconds']}; engine {row['engine']}", flush=True)
    floor = {c: 0.0 for c in dict.fromkeys(r["chapter"] for r in rows)}
    for r in rows:
        floor[r["chapter"]] += r["floor_seconds"]
    chapters = sorted(dict.fromkeys([*build, *floor]),
                      key=lambda c: order.index(c) if c in order else len(order))
    per_chapter = [{"chapter": c, "build_seconds": build.get(c), "floor_seconds":
                    round(floor.get(c, 0.0), 2), "passes": sum(r["chapter"] == c for r in rows),
                    "ratio": ratio(build.get(c), floor.get(c, 0.0))} for c in chapters]
    for r in per_chapter:
        r["build_seconds"] = r["build_seconds"] if r["build_seconds"] is not None else 0.0
    build_total, floor_total = sum(build.values()), sum(floor.values())
    with_passes = [c for c in floor if c in build]
    return {
        "chapters": per_chapter,
        "total": {"build_seconds": round(build_total, 1), "floor_seconds": round(floor_total, 2),
                  "ratio": ratio(build_total, floor_total)},
        "chapters_with_passes": {
            "chapters": with_passes,
            "build_seconds": round(sum(build[c] for c in with_passes), 1),
            "floor_seconds": round(sum(floor[c] for c in with_passes), 2),
            "ratio": ratio(sum(build[c] for c in with_passes),
                           sum(floor[c] for c in with_passes))},
        "floor_parts": {part: round(sum(r["seconds"][part] for r in rows), 2) for part in PARTS},
        "passes": rows,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cifar")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="preset overrides, e.g. cka_examples=64")
    parser.add_argument("--shots", type=int, default=KNOBS["07_localization"]["shots"],
                        help="the probes' shots per class (the book's 10)")
    parser.add_argument("--device", default=None,
                        help="default: the book's (seelike.network.default_device)")
    parser.add_argument("--build-dir", type=Path, default=ROOT,
                        help="checkout whose _build/executed/<preset>/timings.json to read "
                             "when benchmarks/build_<preset>_cold.json is absent")
    parser.add_argument("--build-record", type=Path, default=None,
                        help="a JSON file with the build's per-chapter seconds ('chapters')")
    parser.add_argument("--note", default="",
                        help="how the run was made, e.g. 'solo' or 'beside a book build'")
    parser.add_argument("--engine", nargs="*", default=[], metavar="PURPOSE:REPEAT",
                        help="also run these passes through the engine, profiled, e.g. cka:0")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: benchmarks/build_floor_<preset>.json")
    parser.add_argument("--interleave", type=Path, default=None, metavar="CLONE",
                        help="build the book in CLONE (a fresh clone) page by page, each "
                             "chapter's floor measured right after it")
    parser.add_argument("--build-out", type=Path, default=None,
                        help="with --interleave, where the build record goes (default: "
                             "benchmarks/build_<preset>_cold.json)")
    args = parser.parse_args(argv)
    p = get_preset(args.preset, **parse_overrides(args.set))
    device = torch.device(args.device) if args.device else default_device()
    load_before, started = os.getloadavg(), time.perf_counter()
    if args.build_out is not None and args.interleave is None:
        parser.error("--build-out names where --interleave writes its build record; "
                     "give --interleave too")
    if args.interleave is not None:
        default_shots = parser.get_default("shots")
        if (args.set or args.build_record or args.engine or args.device
                or args.build_dir != ROOT or args.shots != default_shots):
            parser.error("--interleave builds the preset as the book does: no --set, "
                         "--build-record, --engine, --device, --build-dir or --shots other "
                         f"than the book's {default_shots} with it")
        builder = InterleavedBuild(args.interleave, p.name)
        result = run(p, shots=args.shots, device=device, build={}, build_chapter=builder)
        builder.html()
        record = builder.record({r["chapter"]: r["build_seconds"] for r in result["chapters"]},
                                args.note)
        record_path = args.build_out or ROOT / "benchmarks" / f"build_{p.name}_cold.json"
        record_path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    else:
        record_path, record = build_record(p.name, args.build_dir, args.build_record)
        result = run(p, shots=args.shots, device=device, build=record["chapters"],
                     engine=args.engine)
    wall = time.perf_counter() - started
    busiest = max([round(load_before[0], 2), *(r["load_1min"] for r in result["passes"])])
    try:
        shown = str(record_path.resolve().relative_to(ROOT))
    except ValueError:
        shown = str(record_path)
    try:
        commit: str | None = _commit(ROOT)  # the floor's code (and, interleaved, the build's)
    except SystemExit:  # a copy without git history
        commit = None
    out = {
        "preset": p.name, "overrides": p.overrides(), "shots": args.shots,
        "note": args.note, "commit": commit,
        "machine": {"cpus": os.cpu_count(), "platform": platform.machine(),
                    "device": str(device), "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "interop_threads": torch.get_num_interop_threads()},
        "load_average_1min": {"before": round(load_before[0], 2),
                              "after": round(os.getloadavg()[0], 2),
                              "most_after_a_pass": busiest},
        # This run alone keeps about its thread count busy; more means something else ran,
        # and on two cores that inflates small operations many times over.
        "likely_shared": busiest > torch.get_num_threads() + 1,
        "build_record": shown, "build_command": record.get("command"),
        "benchmark_wall_seconds": round(wall, 1),
        **result,
    }
    path = args.out or ROOT / "benchmarks" / f"build_floor_{p.name}.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(table(result["chapters"], result["total"]))
    w = result["chapters_with_passes"]
    print(f"\nchapters with passes: build {w['build_seconds']:.1f} s, floor "
          f"{w['floor_seconds']:.1f} s ({w['ratio']}×); floor by part: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in result["floor_parts"].items()))
    print(f"benchmark ran {wall:.0f} s; wrote {path}")
    if out["likely_shared"]:
        print(f"warning: the 1-minute load reached {busiest:.1f} on {os.cpu_count()} CPUs: "
              "other jobs shared the machine, so the floor is inflated; rerun it alone")
    return out


if __name__ == "__main__":
    main()
