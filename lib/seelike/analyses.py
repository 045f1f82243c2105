"""What a pass can compute, as data: one declaration per kind of analysis.

A declaration names the models an analysis looks at and the parameters that, with the
weights and the probe set, determine its result (the cache key). It holds no tensors and
runs nothing: :func:`seelike.passes.run` turns each into its accumulator, the class named
by its ``accumulator`` (``"module:Class"``, a subclass of the declaration that also
implements :class:`seelike.passes.Analysis`), and feeds it the pass. So whatever declares
work (a plan, a test, a reader's notebook) imports this module and none of the code that
does the work.

An analysis of your own can skip the split: subclass :class:`seelike.passes.Analysis`
directly, and :func:`~seelike.passes.run` takes it as it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from seelike.bounds import LAMBDAS, MAX_BOOTSTRAP, check_bootstrap, check_flag
from seelike.layers import has_class_token, layer_names
from seelike.tokens import TokenMode

__all__ = [
    "FOLDS",
    "KINDS",
    "LAMBDAS",
    "MAX_BOOTSTRAP",
    "MAX_POSITIONS",
    "RESIDUAL_STATISTICS",
    "SELECTION_POSITIONS",
    "Accuracy",
    "AttentionDistances",
    "CKAAnalysis",
    "CKACurve",
    "CKARequest",
    "ClsMode",
    "Declaration",
    "EstimatorCKA",
    "HeadSubsetCKA",
    "ProbeEval",
    "ProbeFit",
    "SkipStatistics",
    "TokenPatchCKA",
    "analysis_of",
    "check_bootstrap",
    "head_subsets",
    "probe_kinds",
]

#: How a ViT's attention distance treats the CLS token (:mod:`seelike.attention`).
ClsMode = Literal["drop", "renormalise"]

#: Cross-validation folds of the ridge probes.
FOLDS = 3
#: Positions (evenly spaced) whose held-out error chooses a layer's ridge penalty.
SELECTION_POSITIONS = 4
#: The most token positions a layer's per-position probes cover (a strided sub-grid beyond).
MAX_POSITIONS = 64
#: Probe families: every position separately, the CLS token, the mean of the spatial
#: tokens (a ResNet's global average pool), the mean of all tokens with CLS.
KINDS = ("token", "cls", "gap", "gap_all")
#: What :class:`SkipStatistics` averages per position of a residual addition z + f(z):
#: ‖z‖/‖f(z)‖, cos(z, f(z)), cos(z, z + f(z)).
RESIDUAL_STATISTICS = ("ratio", "cosine", "output_cosine")


class Declaration(ABC):
    """One analysis of a pass, as data: its models and the parameters that key its result.

    Subclasses set ``name`` (the cache folder) and ``accumulator``, the ``"module:Class"``
    that computes them (:func:`seelike.passes.accumulator_of`).
    """

    name: ClassVar[str]
    accumulator: ClassVar[str]

    @abstractmethod
    def models(self) -> tuple[str, ...]:
        """The names of the models (zoo or paper) this analysis looks at."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """JSON-like parameters that, with weights and probe set, determine the result."""


# ---- CKA ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CKARequest:
    """One CKA matrix to compute: ``model_a``'s ``layers_a`` against ``model_b``'s ``layers_b``.

    ``model_b=None`` compares ``model_a`` with itself (``layers_b`` defaults to ``layers_a``);
    layers ``None`` means :func:`seelike.layers.layer_names` (``paper_layers``).
    """

    model_a: str
    layers_a: Sequence[str] | None = None
    model_b: str | None = None
    layers_b: Sequence[str] | None = None

    @property
    def pair(self) -> tuple[str, str]:
        """``(model_a, model_b)``, ``model_a`` twice for a model with itself: what the matrix
        compares, a name to key results by."""
        return self.model_a, self.model_b or self.model_a

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


@dataclass(eq=False)
class CKAAnalysis(Declaration):
    """Minibatch CKA between ``layers_a`` of model ``model_a`` and ``layers_b`` of ``model_b``.

    ``model_b == model_a`` with the same layers is a within-model matrix. ``bootstrap``
    resamplings of the examples are kept beside the matrix (``boot``). Result: ``cka``
    ``(layers_a, layers_b)``.
    """

    name: ClassVar[str] = "cka"
    accumulator: ClassVar[str] = "seelike.compare:CKAAnalysisAccumulator"
    model_a: str
    layers_a: tuple[str, ...]
    model_b: str
    layers_b: tuple[str, ...]
    tokens: TokenMode = "all"
    unbiased: bool = True
    bootstrap: int = 0

    def __post_init__(self) -> None:
        self.layers_a, self.layers_b = tuple(self.layers_a), tuple(self.layers_b)
        if not self.layers_a or not self.layers_b:
            raise ValueError(f"CKA of {self.model_a} vs {self.model_b} needs layers on both "
                             "sides")
        check_flag(self.unbiased, "unbiased")
        check_bootstrap(self.bootstrap)

    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.model_a, self.model_b)))

    def params(self) -> dict[str, Any]:
        return {"model_a": self.model_a, "layers_a": list(self.layers_a),
                "model_b": self.model_b, "layers_b": list(self.layers_b),
                "tokens": self.tokens, "unbiased": self.unbiased,
                "estimator": "linear minibatch CKA", "bootstrap": self.bootstrap}


def analysis_of(request: CKARequest, *, tokens: TokenMode = "all",
                unbiased: bool = True, bootstrap: int = 0) -> CKAAnalysis:
    """The :class:`CKAAnalysis` that computes ``request`` (``bootstrap`` draws beside it)."""
    a, la, b, lb = request.resolved()
    return CKAAnalysis(a, la, b, lb, tokens, unbiased, bootstrap)


@dataclass(eq=False)
class CKACurve(Declaration):
    """Minibatch CKA of layer pairs as minibatches accumulate, and the full-batch value.

    Pair ``i`` is ``layers_a[i]`` of ``model_a`` against ``layers_b[i]`` of ``model_b``.
    ``curve[k, i]`` is the pair's minibatch CKA after ``k + 1`` minibatches; ``full[i]`` is
    the unbiased CKA of one batch holding all the examples, for which the pass keeps the
    pairs' features (so meant for a few layers, not for many).
    """

    name: ClassVar[str] = "cka_curve"
    accumulator: ClassVar[str] = "seelike.compare:CKACurveAccumulator"
    model_a: str
    layers_a: tuple[str, ...]
    model_b: str
    layers_b: tuple[str, ...]

    def __post_init__(self) -> None:
        self.layers_a, self.layers_b = tuple(self.layers_a), tuple(self.layers_b)
        if len(self.layers_a) != len(self.layers_b):
            raise ValueError(f"pairs need as many layers on each side, got "
                             f"{len(self.layers_a)} and {len(self.layers_b)}")

    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.model_a, self.model_b)))

    def params(self) -> dict[str, Any]:
        return {"model_a": self.model_a, "layers_a": list(self.layers_a),
                "model_b": self.model_b, "layers_b": list(self.layers_b),
                "estimator": "unbiased minibatch CKA, cumulative; full-batch unbiased CKA"}


@dataclass(eq=False)
class EstimatorCKA(Declaration):
    """Minibatch CKA between all layers of some models, per minibatch size and HSIC estimator.

    ``layers`` maps each model to its layers; every result matrix is over all of them, the
    models' layers concatenated in that order, so one matrix holds every within- and
    cross-model pair (:meth:`block` cuts it up). ``batches`` are the minibatch sizes, each at
    least 4 (HSIC_1 needs 4 examples) and each a divisor of the pass's minibatch size, which
    should be the largest of them. A short last pass minibatch is skipped, as for
    :class:`CKAAnalysis`.
    """

    name: ClassVar[str] = "estimator_cka"
    accumulator: ClassVar[str] = "seelike.estimators:EstimatorCKAAccumulator"
    layers: Mapping[str, Sequence[str]]
    batches: Sequence[int]
    tokens: TokenMode = "all"

    def __post_init__(self) -> None:
        self.layers = {m: tuple(names) for m, names in self.layers.items()}
        self.batches = tuple(int(b) for b in self.batches)
        if not self.layers or not all(self.layers.values()):
            raise ValueError("EstimatorCKA needs at least one model, each with layers")
        if not self.batches or min(self.batches) < 4:
            raise ValueError(f"minibatch sizes must be at least 4 (HSIC_1), got {self.batches}")
        if list(self.batches) != sorted(set(self.batches)):
            raise ValueError(f"minibatch sizes must be distinct and ascending, got "
                             f"{self.batches}")

    @property
    def num_layers(self) -> int:
        """Rows (and columns) of each result matrix: every model's layers."""
        return sum(len(names) for names in self.layers.values())

    def index(self, model: str) -> slice:
        """Where ``model``'s layers sit in the rows and columns of a result matrix."""
        start = 0
        for m, names in self.layers.items():
            if m == model:
                return slice(start, start + len(names))
            start += len(names)
        raise KeyError(f"{model!r} is not one of this analysis's models {list(self.layers)}")

    def block(self, matrix: np.ndarray, model_a: str, model_b: str) -> np.ndarray:
        """``model_a``'s layers (rows) by ``model_b``'s (columns) of ``(..., L, L)`` matrices."""
        return np.asarray(matrix)[..., self.index(model_a), self.index(model_b)]

    def models(self) -> tuple[str, ...]:
        return tuple(self.layers)

    def params(self) -> dict[str, Any]:
        # A list of pairs, not a mapping: the order of the models is the layout of the result,
        # and a canonical JSON key may sort mapping keys.
        return {"layers": [[m, list(names)] for m, names in self.layers.items()],
                "batches": list(self.batches), "tokens": self.tokens,
                "estimator": "linear minibatch CKA, HSIC_0 and HSIC_1, chunks of one pass"}


@dataclass(eq=False)
class TokenPatchCKA(Declaration):
    """(layers, positions, positions) CKA between each token of a layer and each input patch.

    Row p, column q of a layer's matrix is the minibatch CKA between token p of that layer
    and input patch q (:mod:`seelike.localization`). Layers with different grids (a
    ResNet's stages) are padded with NaN to the largest grid; ``grid`` gives each layer's.
    ``bootstrap``: resamplings of the probe examples kept beside the matrices, ``boot``
    (draws, layers, positions, positions); draw i resamples the same examples in every
    layer and in every other model run over the same probe set.
    """

    name: ClassVar[str] = "token_patch_cka"
    accumulator: ClassVar[str] = "seelike.localization:TokenPatchCKAAccumulator"
    model: str
    layers: tuple[str, ...]
    unbiased: bool = True
    bootstrap: int = 0

    def __post_init__(self) -> None:
        self.layers = tuple(self.layers)
        if not self.layers:
            raise ValueError(f"token-to-patch CKA of {self.model} needs at least one layer")
        check_flag(self.unbiased, "unbiased")
        check_bootstrap(self.bootstrap)

    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def params(self) -> dict[str, Any]:
        return {"model": self.model, "layers": list(self.layers), "unbiased": self.unbiased,
                "patches": "normalised input, non-overlapping, grid of the layer",
                "estimator": "linear minibatch CKA", "bootstrap": self.bootstrap}


# ---- attention ------------------------------------------------------------------------------


@dataclass(eq=False)
class AttentionDistances(Declaration):
    """(blocks, heads) mean attention distances of ViT ``model``, one array per CLS mode.

    Every image weighs the same. Beside each mode's ``(blocks, heads)`` mean,
    ``<cls>_per_example`` keeps every image's ``(examples, blocks, heads)`` distances
    (float32), so that a bootstrap interval can resample the images without a second pass.
    """

    name: ClassVar[str] = "attention_distance"
    accumulator: ClassVar[str] = "seelike.attention:AttentionDistancesAccumulator"
    model: str
    cls: tuple[ClsMode, ...] = ("drop", "renormalise")

    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def params(self) -> dict[str, Any]:
        return {"model": self.model, "cls": list(self.cls),
                "statistic": "mean attention distance in pixels, per block and head, "
                             "and per example"}


def head_subsets(distances_of_block: np.ndarray, size: int) -> list[np.ndarray]:
    """Sliding windows of ``size`` heads over the heads sorted local → global.

    ``distances_of_block`` is one row of attention distances. Window i holds the heads of
    ranks i … i + size - 1, so consecutive subsets share all but one head and their mean
    distance grows monotonically.
    """
    d = np.asarray(distances_of_block)
    if not 1 <= size <= len(d):
        raise ValueError(f"subset size must be in 1..{len(d)}, got {size}")
    order = np.argsort(d, kind="stable")
    return [order[i:i + size] for i in range(len(d) - size + 1)]


@dataclass(eq=False)
class HeadSubsetCKA(Declaration):
    """(subsets, cnn_layers) minibatch CKA between subsets of a ViT's heads and CNN layers.

    The heads of ``blocks`` are concatenated in block order (block-major), so subset indices
    count heads of the first listed block first; subsets usually come from
    :func:`head_subsets`. ``cnn_layers`` are the CNN's lower units. A last minibatch smaller
    than the pass's batch size is dropped. ``bootstrap`` > 0 keeps that many CKA matrices
    over resamplings of the examples beside the matrix (``boot``).
    """

    name: ClassVar[str] = "head_subset_cka"
    accumulator: ClassVar[str] = "seelike.attention:HeadSubsetCKAAccumulator"
    vit: str
    blocks: tuple[int, ...]
    subsets: tuple[tuple[int, ...], ...]
    cnn: str
    cnn_layers: tuple[str, ...]
    tokens: TokenMode = "all"
    unbiased: bool = True
    bootstrap: int = 0

    def __post_init__(self) -> None:
        self.blocks = tuple(int(b) for b in self.blocks)
        self.subsets = tuple(tuple(int(h) for h in s) for s in self.subsets)
        self.cnn_layers = tuple(self.cnn_layers)
        if not self.subsets or not all(self.subsets) or not self.cnn_layers:
            raise ValueError(f"head-subset CKA of {self.vit} vs {self.cnn} needs subsets of "
                             f"heads and CNN layers, got subsets={self.subsets}, "
                             f"cnn_layers={self.cnn_layers}")
        check_flag(self.unbiased, "unbiased")
        check_bootstrap(self.bootstrap)

    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.vit, self.cnn)))

    def params(self) -> dict[str, Any]:
        return {"vit": self.vit, "blocks": list(self.blocks),
                "subsets": [list(s) for s in self.subsets], "cnn": self.cnn,
                "cnn_layers": list(self.cnn_layers), "tokens": self.tokens,
                "unbiased": self.unbiased, "estimator": "linear minibatch CKA",
                "bootstrap": self.bootstrap}


# ---- accuracy, skips, probes ------------------------------------------------------------------


@dataclass(eq=False)
class Accuracy(Declaration):
    """Top-1 accuracy (%) of ``model`` on a probe set, against the probe set's labels.

    It reads the logits, so it joins any other analysis's pass over the same images instead
    of making its own.
    """

    name: ClassVar[str] = "accuracy"
    accumulator: ClassVar[str] = "seelike.accuracy:AccuracyAccumulator"
    model: str

    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def params(self) -> dict[str, Any]:
        # The labels follow from the probe set's IDs, which the cache key holds.
        return {"model": self.model, "statistic": "top-1 accuracy (%)"}


@dataclass(eq=False)
class SkipStatistics(Declaration):
    """Norm ratios and skip/branch cosines of ``model`` over a probe set.

    Every image weighs the same. The result's arrays are named ``"<statistic>__<branch>"``
    (``ratio__attn``, ``cosine__unit``, ...); :func:`seelike.skips.unflatten` nests them.
    ``bootstrap`` > 0 adds ``boot_ratio__attn`` etc.: that many resampled means, for
    bootstrap intervals, from the same pass.
    """

    name: ClassVar[str] = "skip_statistics"
    accumulator: ClassVar[str] = "seelike.skips:SkipStatisticsAccumulator"
    model: str
    bootstrap: int = 0

    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def params(self) -> dict[str, Any]:
        return {"model": self.model, "statistics": list(RESIDUAL_STATISTICS),
                "average": "per image, then over images", "bootstrap": self.bootstrap}


def probe_kinds(model_name: str) -> tuple[str, ...]:
    """The probe families that apply to model ``model_name`` (a name of :mod:`seelike.catalogue`).

    Every model: ``token`` and ``gap``; a ViT with a class token adds ``cls`` and
    ``gap_all`` (:func:`seelike.layers.has_class_token`: no weights).
    """
    return ("token", "cls", "gap", "gap_all") if has_class_token(model_name) else ("token", "gap")


@dataclass(eq=False)
class _Probes(Declaration):
    """What fitting and evaluating share: the model, its layers and the probe families."""

    model: str
    layers: tuple[str, ...]
    kinds: tuple[str, ...]
    classes: int = 10
    max_positions: int | None = MAX_POSITIONS
    #: the label of each class, in the order of the probes' outputs; empty: the labels are
    #: already 0 to ``classes - 1`` (Imagenette's are ImageNet-1k indices)
    class_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.layers, self.kinds = tuple(self.layers), tuple(self.kinds)
        self.class_ids = tuple(int(c) for c in self.class_ids)
        if self.class_ids and len(set(self.class_ids)) != self.classes:
            raise ValueError(f"class_ids must name {self.classes} different labels, got "
                             f"{self.class_ids}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds or not self.layers:
            raise ValueError(f"need layers and kinds among {KINDS}, got {self.kinds}")

    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def _params(self) -> dict[str, Any]:
        return {"model": self.model, "layers": list(self.layers), "kinds": list(self.kinds),
                "classes": self.classes, "max_positions": self.max_positions,
                "class_ids": list(self.class_ids)}


@dataclass(eq=False)
class ProbeFit(_Probes):
    """Ridge probes of every layer and probe family of ``model``, fitted on one probe set.

    For the ``probe_train`` set, whose labels the pass supplies. The result holds, per kind
    and layer index i, ``{kind}_w{i}`` (probes, d, classes) and ``{kind}_b{i}`` (probes,
    classes) for raw features, ``{kind}_lambda`` (layers,) the chosen multiple of trace/d,
    ``{kind}_cv`` (layers, lambdas) the held-out mean squared error per target entry, and
    ``token_grid`` (layers, 2) the probed sub-grid (:mod:`seelike.probes`).
    """

    name: ClassVar[str] = "probe_fit"
    accumulator: ClassVar[str] = "seelike.probes:ProbeFitAccumulator"
    folds: int = FOLDS
    lambdas: tuple[float, ...] = LAMBDAS

    def params(self) -> dict[str, Any]:
        return {**self._params(), "folds": self.folds, "lambdas": list(self.lambdas),
                "selection_positions": SELECTION_POSITIONS,
                "probe": "ridge onto {-1,1} one-hot, intercept, lambda by k-fold CV"}


@dataclass(eq=False)
class ProbeEval(_Probes):
    """Test accuracy of fitted probes (a :class:`ProbeFit`'s result ``fit``) on a probe set.

    For ``probe_test``; ``fit_id`` names the fit (the digest of its cache key) so that the
    cache key changes with the weights. Result: ``token`` (layers, positions) per-position
    accuracy, NaN beyond a layer's probed grid ``token_grid``; ``token_mean`` (layers,); and
    one (layers,) array per pooled kind (``cls``, ``gap``, ``gap_all``).
    """

    name: ClassVar[str] = "probe_eval"
    accumulator: ClassVar[str] = "seelike.probes:ProbeEvalAccumulator"
    fit: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    fit_id: str = ""

    def params(self) -> dict[str, Any]:
        return {**self._params(), "fit": self.fit_id, "statistic": "top-1 accuracy"}
