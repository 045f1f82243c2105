"""Shared forward passes: every model runs once per minibatch of a probe set, for all analyses.

The one place that runs models over probe sets for analyses. An
:class:`Analysis` says what it needs from each model it looks at (raw tensors as
:class:`~seelike.taps.Tap` s, or the transformed Gram matrices of layers for CKA) and
accumulates its result minibatch by minibatch. :func:`run` feeds any number of analyses
from one pass: each model runs once per minibatch with the union of what its analyses
ask for, each layer's Gram matrix is formed and transformed once however many CKA
matrices it enters, and only what some analysis asked for is held. Each analysis's
result is a dict of named arrays (:meth:`Analysis.result`), which its parameters, models
and probe set determine.
"""

from __future__ import annotations

import contextlib
import importlib
from abc import abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from seelike.analyses import Declaration
from seelike.cka import transformed_grams
from seelike.memory import check_fits, release_freed
from seelike.network import default_device
from seelike.profile import Profile
from seelike.taps import Tap, run_taps
from seelike.tokens import TokenMode, select_tokens, token_layout

_T = TypeVar("_T")

__all__ = ["Analysis", "Batch", "GramSpec", "Needs", "accumulator_of", "cache_key", "code_of",
           "examples_used", "run"]


@dataclass(frozen=True)
class GramSpec:
    """One layer's transformed Gram matrix: the output of ``tap``, tokens selected, T(K)."""

    tap: Tap
    tokens: TokenMode = "all"
    unbiased: bool = True


@dataclass
class Needs:
    """What an analysis needs from one model in every minibatch.

    ``taps`` are held until the minibatch's :meth:`Analysis.update`; ``streamed`` taps go to
    :meth:`Analysis.consume` as the forward pass records them and are never held (what a
    pass over a large model at a large minibatch must do with every layer it only reduces).
    ``shared`` are the kept taps from which the analysis makes :meth:`Batch.shared` values
    up to their size, held until the model's analyses are done: the memory check counts
    them twice.
    """

    taps: list[Tap] = field(default_factory=list)
    grams: list[GramSpec] = field(default_factory=list)
    streamed: list[Tap] = field(default_factory=list)
    shared: list[Tap] = field(default_factory=list)


class Batch:
    """One minibatch of a pass: its input, its labels and what every model recorded on it."""

    def __init__(self, x: torch.Tensor, start: int, full: bool, *, total: int,
                 labels: np.ndarray | None = None) -> None:
        self.x = x
        self.start = start
        #: whether the minibatch has the pass's full batch size (CKA skips a short last one)
        self.full = full
        #: how many examples the whole pass has
        self.total = total
        self._labels = labels
        self._taps: dict[str, dict[Tap, torch.Tensor]] = {}
        self._grams: dict[str, dict[GramSpec, torch.Tensor]] = {}
        self._shared: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self.x)

    @property
    def labels(self) -> np.ndarray:
        """The minibatch's class labels (int64), from the probe set's ``labels``."""
        if self._labels is None:
            raise ValueError("this analysis needs class labels, and the probe set has none: "
                             "use a seelike.probe_sets.ProbeSet, or TensorProbe(images, "
                             "labels=...)")
        labels = np.asarray(self._labels)
        if labels.shape != (len(self.x),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"the probe set's labels must be one whole-number class per "
                             f"example; examples {self.start} to {self.start + len(self.x) - 1} "
                             f"have {labels.dtype} labels of shape {labels.shape}")
        return labels.astype(np.int64, copy=False)

    def tap(self, model: str, tap: Tap) -> torch.Tensor:
        """The tensor ``tap`` recorded in ``model`` on this minibatch."""
        return self._taps[model][tap]

    def shared(self, key: Hashable, make: Callable[[], _T]) -> _T:
        """``make()``, made once for every analysis of the minibatch that asks with ``key``.

        For what several analyses derive alike from one model's taps (a layer's probe
        features, which every probe fitted on that model reads). :func:`run` updates the
        analyses grouped by their first model and forgets what was shared when it moves on
        to the next, so a minibatch holds one model's shared tensors at a time; an analysis
        names the taps it shares from in :attr:`Needs.shared`, and a shared value is no
        larger than its tap, so that the memory check can count it. A shared value is read,
        never changed in place.
        """
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def grams(self, model: str, specs: Sequence[GramSpec]) -> torch.Tensor:
        """``(len(specs), b^2)`` transformed Grams of ``model`` (full minibatches only)."""
        if not self.full:
            raise RuntimeError("Gram matrices are formed for full minibatches only")
        return torch.stack([self._grams[model][s] for s in specs])


class Analysis(Declaration):
    """A result accumulated over the minibatches of one probe set (see the module docstring).

    Subclasses set ``name`` (the cache folder) and define the models they look at, the
    parameters that key their result (a :class:`~seelike.analyses.Declaration`), what they
    need from each model, and the accumulation. :meth:`begin` is called before the first
    minibatch of a pass. The library's own analyses are declarations in
    :mod:`seelike.analyses`, each computed by a subclass of it and of this
    (:func:`accumulator_of`).
    """

    @abstractmethod
    def needs(self, model: str, net: nn.Module) -> Needs:
        """What this analysis needs from ``model`` (built as ``net``) per minibatch."""

    @abstractmethod
    def begin(self, nets: Mapping[str, nn.Module]) -> None:
        """Start from nothing (``nets``: the loaded models by name)."""

    def consume(self, model: str, tap: Tap, tensor: torch.Tensor) -> None:
        """Take one of this analysis's ``streamed`` taps of ``model`` as it is recorded.

        Called during the minibatch's forward pass, before :meth:`update`; ``tensor`` is the
        layer as it is at that moment, not a copy (copy what must outlive the call).
        """
        raise NotImplementedError(f"{type(self).__name__} streams no taps")

    def state_bytes(self, batch: int, image_size: int) -> int:
        """Bytes this analysis holds across minibatches of ``batch`` images (its sums,
        bootstrap draws included), for the memory check before a pass; small by default."""
        return 0

    @abstractmethod
    def update(self, batch: Batch) -> None:
        """Add one minibatch."""

    @abstractmethod
    def result(self) -> dict[str, np.ndarray]:
        """The accumulated result, as named arrays (what the cache stores)."""


def accumulator_of(analysis: Declaration) -> Analysis:
    """What computes ``analysis`` in a pass: ``analysis`` itself if it is an
    :class:`Analysis`, else a new instance of its declared ``accumulator`` class with the
    same fields."""
    if isinstance(analysis, Analysis):
        return analysis
    declared = type(analysis).accumulator
    module, _, name = declared.partition(":")
    kind = getattr(importlib.import_module(module), name)
    if not issubclass(kind, type(analysis)):
        # A subclass of a declaration inherits its accumulator, which knows nothing of it.
        raise TypeError(f"{type(analysis).__name__}'s accumulator {declared} is not a "
                        f"subclass of it: give {type(analysis).__name__} an accumulator of "
                        "its own (accumulator = 'module:Class'), or subclass "
                        "seelike.passes.Analysis and compute it yourself")
    return kind(**{f.name: getattr(analysis, f.name) for f in fields(analysis) if f.init})


def run(analyses: Sequence[Declaration], nets: Mapping[str, nn.Module], probe: Any, *,
        batch_size: int, device: torch.device | str | None = None,
        progress: bool = False, profile: Profile | None = None,
        ) -> list[dict[str, np.ndarray]]:
    """Every analysis's result from one pass over ``probe`` in minibatches of ``batch_size``.

    ``analyses`` are declarations (:mod:`seelike.analyses`), each computed by its
    accumulator (:func:`accumulator_of`), or :class:`Analysis` objects of your own.

    ``nets`` maps each model name the analyses use to its module; ``probe`` is a
    :class:`seelike.probe_sets.ProbeSet` (or anything with ``len`` and ``tensor(i, j)``, and
    ``labels`` for the analyses that read them: :attr:`Batch.labels`). Every
    example is seen once; the last minibatch may be smaller, and Gram matrices are formed
    only for full ones (minibatch CKA weighs equal minibatches equally, as in the paper).
    ``profile`` records the cost of each model's forward pass (key ``("forward", name)``,
    taps and Grams included) and of each analysis (``("analysis", analysis)``).
    """
    if isinstance(analyses, Declaration) or not isinstance(analyses, Sequence):
        raise TypeError(f"analyses must be a list of analyses, got {type(analyses).__name__}; "
                        "wrap one as [analysis]")
    wrong = [i for i, a in enumerate(analyses) if not isinstance(a, Declaration)]
    if wrong:
        raise TypeError(f"analyses[{wrong[0]}] is a {type(analyses[wrong[0]]).__name__}, not an "
                        "analysis (e.g. seelike.analyses.analysis_of(request))")
    if not analyses:
        return []
    declared = analyses
    analyses = [accumulator_of(a) for a in analyses]
    # Each accumulator is profiled under the analysis the caller gave.
    label = {id(a): d for a, d in zip(analyses, declared, strict=True)}
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"batch_size={batch_size!r}: expected a whole number (an int), e.g. "
                        "batch_size=64")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected a positive number of images")
    if not isinstance(nets, Mapping):
        raise TypeError(f"nets must map model names to modules, got {type(nets).__name__}; "
                        "e.g. {name: seelike.models.load(name)}")
    if len(probe) == 0:
        raise ValueError("the probe set is empty")
    names = list(dict.fromkeys(m for a in analyses for m in a.models()))
    missing = [m for m in names if m not in nets]
    if missing:
        raise KeyError(f"analyses look at models {missing} that are not in nets")
    not_modules = [m for m in names if not isinstance(nets[m], nn.Module)]
    if not_modules:
        raise TypeError(f"nets[{not_modules[0]!r}] is a {type(nets[not_modules[0]]).__name__}, "
                        "not a torch module; load it with seelike.models.load")
    try:
        device = torch.device(device) if device is not None else default_device()
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a torch device ({err}); use 'cpu' or "
                         "'cuda'") from None
    if device.type == "meta":
        # Moving the caller's models there would drop their weights for good.
        raise ValueError("device='meta' holds no data: a pass needs real weights; use 'cpu' or "
                         "'cuda' (seelike.models.meta_build gives shapes without a pass)")
    taps: dict[str, list[Tap]] = {m: [] for m in names}
    shared: dict[str, list[Tap]] = {m: [] for m in names}
    grams: dict[str, list[GramSpec]] = {m: [] for m in names}
    streams: dict[str, dict[Tap, list[Analysis]]] = {m: {} for m in names}
    for a in analyses:
        for m in a.models():
            need = a.needs(m, nets[m])
            taps[m] += need.taps
            shared[m] += need.shared
            grams[m] += need.grams
            for t in need.streamed:
                streams[m].setdefault(t, []).append(a)
    layout = {m: token_layout(nets[m]) for m in names}
    # Refused before any work if a minibatch would not fit (seelike.memory).
    batch, size = min(batch_size, len(probe)), probe.tensor(0, 1).shape[-1]
    check_fits({m: (list(dict.fromkeys(taps[m])),
                    [t for t in dict.fromkeys([*(s.tap for s in grams[m]), *streams[m]])
                     if t not in taps[m]], len(set(grams[m])), list(dict.fromkeys(shared[m])))
                for m in names},
               batch, size, device, state=sum(a.state_bytes(batch, size) for a in analyses))
    for m in names:
        nets[m].to(device)
    if profile is None:
        part: Callable[[object], contextlib.AbstractContextManager[None]] = _no_part
    else:
        def part(key: object) -> contextlib.AbstractContextManager[None]:
            if isinstance(key, tuple) and key[0] == "analysis":
                key = ("analysis", label[id(key[1])])
            return profile.part(key)
    # Updated model by model, so that what a model's analyses share (Batch.shared) is made
    # once and then dropped; each analysis's own state does not depend on the order.
    by_model = sorted(analyses, key=lambda a: names.index(a.models()[0]))
    # Only the analyses that score predictions read them, and check them then (Batch.labels).
    labels = getattr(probe, "labels", None)
    for a in analyses:
        with part(("analysis", a)):
            a.begin(nets)
    for start in tqdm(range(0, len(probe), batch_size), disable=not progress, desc="pass"):
        x = probe.tensor(start, min(start + batch_size, len(probe))).to(device)
        batch = Batch(x, start, full=len(x) == batch_size, total=len(probe),
                      labels=None if labels is None else labels[start:start + len(x)])
        for m in names:
            specs = list(dict.fromkeys(grams[m])) if batch.full else []
            wanted = list(dict.fromkeys([*taps[m], *(s.tap for s in specs), *streams[m]]))
            if not wanted:
                continue
            with part(("forward", m)):
                _forward(batch, m, nets[m], x, taps[m], specs, streams[m], wanted, layout[m],
                         part)
        for i, a in enumerate(by_model):
            if i and a.models()[0] != by_model[i - 1].models()[0]:
                batch._shared.clear()
            with part(("analysis", a)):
                a.update(batch)
            release_freed()
        del batch
    out = []
    for a in analyses:
        with part(("analysis", a)):
            out.append(a.result())
    return out


@contextlib.contextmanager
def _no_part(_key: object) -> Iterator[None]:
    yield


def _forward(batch: Batch, m: str, net: nn.Module, x: torch.Tensor, taps: list[Tap],
             specs: list[GramSpec], streams: Mapping[Tap, list[Analysis]], wanted: list[Tap],
             layout: tuple[bool, int, bool],
             part: Callable[[object], contextlib.AbstractContextManager[None]]) -> None:
    """Run model ``m`` on the minibatch; keep the taps and Grams its analyses asked for.

    Each layer's Grams are formed, and its streamed taps handed on, the moment the forward
    pass records it; only taps some analysis reads in :meth:`Analysis.update` are kept.
    """
    has_tokens, prefix, has_class = layout
    by_tap: dict[Tap, list[GramSpec]] = {}
    for spec in specs:
        by_tap.setdefault(spec.tap, []).append(spec)
    batch._grams[m] = {}
    kept = set(taps)

    def consume(tap: Tap, tensor: torch.Tensor) -> bool:
        for spec in by_tap.get(tap, ()):
            feats = select_tokens(tensor, spec.tokens, has_tokens=has_tokens, prefix=prefix,
                                  has_class=has_class, name=spec.tap.module)
            batch._grams[m][spec] = transformed_grams({spec.tap.module: feats},
                                                      unbiased=spec.unbiased)[0]
        for a in streams.get(tap, ()):
            with part(("analysis", a)):
                a.consume(m, tap, tensor)
        return tap not in kept

    got = run_taps(net, x, wanted, consume=consume)
    batch._taps[m] = {t: got[t] for t in taps}


def cache_key(analysis: Declaration, probe: Any, batch_size: int) -> dict[str, Any]:
    """The :func:`seelike.cache.cached` key of ``analysis`` over ``probe``.

    Its code is the analysis's module (:func:`code_of`), which the cache adds to the key.
    """
    from seelike import cache

    return {"params": analysis.params(),
            "weights": {m: cache.model_fingerprint(m) for m in analysis.models()},
            "probe": cache.probe_fingerprint(probe), "examples": len(probe),
            "batch_size": batch_size}


def code_of(analysis: Declaration) -> str:
    """The module whose code (with all it imports) computes ``analysis``: the cache's ``code``
    (its declared ``accumulator``'s module, or its own for an :class:`Analysis` of yours)."""
    if isinstance(analysis, Analysis):  # an accumulator, the library's or a reader's
        return type(analysis).__module__
    return type(analysis).accumulator.partition(":")[0]


def examples_used(examples: int, batch_size: int) -> int:
    """How many of ``examples`` enter minibatch CKA: the full minibatches of ``batch_size``.

    :func:`run` forms Gram matrices for full minibatches only, so a short last one is left out.
    """
    return examples - examples % batch_size
