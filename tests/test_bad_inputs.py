"""Bad inputs to the engine's public API: each raises, naming the argument; none returns a value.

One table of cases, each a call that must raise a given exception whose message names the
offending argument (and, where there is one, the fix). Then the numerics that used to go wrong
quietly (float32 Grams that underflow or overflow), checked against a float64 reference across
magnitudes, and the file-level traps of atomic writes (modes, orphaned temporary files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from seelike import (
    analyses,
    cache,
    compare,
    data,
    hooks,
    layers,
    models,
    network,
    passes,
    probe_sets,
    ridge,
    selectors,
    train,
    weights,
    zoo,
)
from seelike import io as sio
from seelike.attention import attention_distances
from seelike.book.presets import get_preset
from seelike.cka import MinibatchCKA, gram_linear, hsic, linear_cka, transformed_grams
from seelike.config import repo_root
from seelike.data import DataError
from seelike.hooks import capture
from seelike.network import ImageClassifier
from seelike.probe_sets import TensorProbe
from seelike.receptive_field import receptive_field_pass
from seelike.ridge import kernel_cross_validate, kernel_ridge
from seelike.selectors import LayerNotFoundError, resolve_layers
from seelike.taps import Tap, run_taps

# ---- the table ---------------------------------------------------------------------------------


def _classifier() -> ImageClassifier:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2),
                        nn.Flatten(), nn.Linear(6 * 3 * 3, 5))
    return ImageClassifier(net, zoo.CIFAR_MEAN, zoo.CIFAR_STD).eval()


def _images(n: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(0))


class _Uint8Probe:
    """A home-made probe that hands out images as stored, on the 0-255 scale."""

    def __len__(self) -> int:
        return 8

    def tensor(self, i: int, j: int) -> torch.Tensor:
        return (_images(8)[i:j] * 255).to(torch.uint8)


def _feats(n: int = 8, d: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, d))


def _cifar_npz(root: Path, **arrays: np.ndarray) -> Path:
    path = root / "datasets" / "cifar10" / "test.npz"
    path.parent.mkdir(parents=True)
    np.savez(path, **arrays)
    return path


def _truncated_npz(root: Path) -> None:
    path = _cifar_npz(root, x=np.zeros((4, 32, 32, 3), np.uint8), y=np.zeros(4, np.int64),
                      filenames=np.array(["a", "b", "c", "d"]))
    path.write_bytes(path.read_bytes()[:300])


def _manifest(root: Path, text: str) -> Path:
    (root / "vit_cifar.json").write_text(text)
    return root


def _xy() -> tuple[torch.Tensor, torch.Tensor]:
    """Two probes' features of 8 examples and their one-hot targets, float64."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 5, generator=g, dtype=torch.float64)
    return x, torch.eye(4, dtype=torch.float64)[torch.arange(8) % 4]


def _stats() -> ridge.Stats:
    x, y = _xy()
    return ridge.statistics(x.numpy().transpose(1, 0, 2), y.numpy())


def _other_model_files(root: Path) -> Path:
    """vit_cifar_gap's manifest and weights copied under vit_cifar's names."""
    source = repo_root() / "data" / "weights"
    shutil.copy(source / "vit_cifar_gap.json", root / "vit_cifar.json")
    shutil.copy(source / "vit_cifar_gap.safetensors", root / "vit_cifar.safetensors")
    return root


@dataclass(frozen=True)
class Case:
    """``call(ctx)`` must raise ``error`` with every string of ``names`` in its message.

    ``names[0]`` is the offending argument (or file, or entry), which must appear as a word of
    its own; the others are what was found, what was expected, or the fix.
    """

    id: str
    call: Callable[[SimpleNamespace], object]
    error: type[BaseException]
    names: tuple[str, ...]


CASES = [
    # cka: what is not an array of real (n, ...) features
    Case("cka-list", lambda c: linear_cka([[1.0, 2.0]] * 8, _feats()), TypeError, ("x", "list")),
    Case("cka-list-y", lambda c: linear_cka(_feats(), [[1.0]] * 8), TypeError, ("y", "list")),
    Case("cka-zero-rows", lambda c: linear_cka(np.zeros((0,)), np.zeros((0,))), ValueError,
         ("x", "no examples", "(0,)")),
    Case("cka-zero-features", lambda c: linear_cka(_feats(), np.zeros((8, 0))), ValueError,
         ("y", "no features", "(8, 0)")),
    Case("cka-complex-torch", lambda c: linear_cka(torch.ones(8, 2, dtype=torch.complex64),
                                                   _feats()), TypeError, ("x", "complex", ".real")),
    Case("cka-complex-numpy", lambda c: linear_cka(_feats(), _feats() * 1j), TypeError,
         ("y", "complex")),
    Case("cka-object", lambda c: linear_cka(np.array([None] * 8).reshape(8, 1), _feats()),
         TypeError, ("x", "object")),
    Case("cka-flag", lambda c: linear_cka(_feats(), _feats(), unbiased="no"), TypeError,
         ("unbiased", "'no'")),
    Case("cka-nan", lambda c: linear_cka(np.full((8, 2), np.nan), _feats()), ValueError,
         ("x", "NaN")),
    Case("gram-list", lambda c: gram_linear([[1.0, 2.0]] * 4), TypeError, ("x", "list")),
    Case("hsic-list", lambda c: hsic([[1.0] * 4] * 4, np.eye(4)), TypeError, ("k_x", "list")),
    Case("grams-empty", lambda c: transformed_grams({}, unbiased=True), ValueError, ("named",)),
    Case("minibatch-num", lambda c: MinibatchCKA(["a", "b"]), TypeError, ("num_a",)),
    Case("minibatch-tensor", lambda c: MinibatchCKA(1).update(torch.ones(8, 3)), TypeError,
         ("feats_a", "[features]")),
    Case("minibatch-layer-list", lambda c: MinibatchCKA(1).update([[[1.0]] * 8]), TypeError,
         ("feats_a[0]", "list")),
    Case("minibatch-complex", lambda c: MinibatchCKA(1, 1).update([_feats()], [_feats() * 1j]),
         TypeError, ("feats_b[0]", "complex")),
    # hooks: taps and selectors
    Case("tap-where-typo", lambda c: Tap("net.0", where="ouptut"), ValueError,
         ("where", "'ouptut'", "'output'")),
    Case("tap-module-int", lambda c: Tap(0), TypeError, ("module", "0")),
    Case("tap-transform", lambda c: Tap("net.0", transform="relu"), TypeError, ("transform",)),
    Case("run-taps-typo", lambda c: run_taps(c.model, _images(), [Tap("net.O")]),
         LayerNotFoundError, ("tap module", "'net.O'", "closest: net.0")),
    Case("run-taps-str", lambda c: run_taps(c.model, _images(), ["net.0"]), TypeError,
         ("taps", "Tap('net.0')")),
    Case("run-taps-one-tap", lambda c: run_taps(c.model, _images(), Tap("net.0")), TypeError,
         ("taps", "[tap]")),
    Case("selector-int", lambda c: resolve_layers(c.model, [3]), TypeError, ("selector", "3")),
    Case("selectors-int", lambda c: resolve_layers(c.model, 3), TypeError, ("layers", "3")),
    Case("selector-bad-regex", lambda c: resolve_layers(c.model, "re:net.(0"), ValueError,
         ("selector", "'re:net.(0'", "regular expression")),
    Case("capture-bad-regex", lambda c: capture(c.model, "re:[0-"), ValueError, ("'re:[0-'",)),
    Case("selector-model-name", lambda c: resolve_layers("vit_cifar", "net.0"), TypeError,
         ("model", "str")),
    # compare: layers, probe and run parameters, checked before any forward pass
    Case("cka-matrix-typo", lambda c: compare.cka_matrix(c.model, ["net.O"], c.probe,
                                                          batch_size=4),
         LayerNotFoundError, ("layers_a", "'net.O'", "closest: net.0")),
    Case("cka-matrix-typo-b", lambda c: compare.cka_matrix(
        c.model, ["net.0"], c.probe, model_b=c.model, layers_b=["net.9"], batch_size=4),
         LayerNotFoundError, ("layers_b", "'net.9'")),
    Case("cka-matrix-str-layers", lambda c: compare.cka_matrix(c.model, "net.0", c.probe,
                                                                batch_size=4),
         TypeError, ("layers_a", "['net.0']")),
    Case("cka-matrix-no-layers", lambda c: compare.cka_matrix(c.model, [], c.probe,
                                                               batch_size=4),
         ValueError, ("layers_a", "empty")),
    Case("cka-matrix-tensor-probe", lambda c: compare.cka_matrix(c.model, ["net.0"], _images(),
                                                                  batch_size=4),
         TypeError, ("probe", "TensorProbe")),
    Case("cka-matrix-small-batch", lambda c: compare.cka_matrix(c.model, ["net.0"], c.probe,
                                                                 batch_size=3),
         ValueError, ("batch_size", "at least 4")),
    Case("cka-matrix-float-batch", lambda c: compare.cka_matrix(c.model, ["net.0"], c.probe,
                                                                 batch_size=4.0),
         TypeError, ("batch_size", "4.0")),
    Case("cka-matrix-tokens", lambda c: compare.cka_matrix(c.model, ["net.0"], c.probe,
                                                            batch_size=4, tokens="CLS"),
         ValueError, ("tokens", "'CLS'")),
    Case("cka-matrix-uint8", lambda c: compare.cka_matrix(c.model, ["net.0"], _Uint8Probe(),
                                                           batch_size=4),
         TypeError, ("x", "torch.uint8", "x.float() / 255")),
    Case("cka-matrices-pairs", lambda c: compare.cka_matrices(
        {"a": c.model}, {"a": ["net.0"]}, ["aa"], c.probe, batch_size=4),
         TypeError, ("pairs",)),
    Case("layer-names-which", lambda c: layers.layer_names("vit_cifar", "all"), ValueError,
         ("which", "'all'")),
    Case("layer-names-list", lambda c: layers.layer_names(["vit_cifar"]), TypeError,
         ("model_name",)),
    Case("layers-model-name", lambda c: layers.block_layers("vit_cifar"), TypeError,
         ("model", "layer_names")),
    # models: images on the wrong scale, names and folders of the wrong type, bad manifests
    Case("images-uint8", lambda c: c.model((_images() * 255).to(torch.uint8)), TypeError,
         ("x", "torch.uint8", "x.float() / 255")),
    Case("images-int64", lambda c: c.model((_images() * 255).long()), TypeError,
         ("x", "torch.int64", "x.float()")),
    Case("images-0-255-floats", lambda c: c.model(_images() * 255), ValueError,
         ("x", "[0, 1]", "x / 255")),
    Case("images-normalised", lambda c: c.model((_images() - 0.5) / 0.25), ValueError,
         ("x", "[-2", "[0, 1]", "before normalisation")),
    Case("load-name-int", lambda c: models.load(3), TypeError, ("model name", "3")),
    Case("load-directory-int", lambda c: models.load("vit_cifar", directory=3), TypeError,
         ("directory", "3")),
    Case("manifest-truncated", lambda c: models.load(
        "vit_cifar", directory=str(_manifest(c.tmp, '{"sha256": "ab'))), DataError,
         ("vit_cifar.json", "not valid JSON", "git checkout")),
    Case("manifest-no-hash", lambda c: weights.read_manifest(
        "vit_cifar", _manifest(c.tmp, "[1, 2]")), DataError,
         ("vit_cifar.json", "sha256", "git checkout")),
    # data: unreadable datasets, probes of the wrong kind
    Case("npz-truncated", lambda c: (_truncated_npz(c.tmp),
                                     data.cifar10("test", root=c.tmp, download=False)),
         DataError, ("test.npz", "truncated", "Delete it", "SEELIKE_DATA")),
    Case("npz-not-zip", lambda c: (_cifar_npz(c.tmp).write_bytes(b"not a zip file"),
                                   data.cifar10("test", root=c.tmp, download=False)),
         DataError, ("test.npz", "Delete it")),
    Case("npz-missing-x", lambda c: (_cifar_npz(c.tmp, y=np.zeros(3, np.int64)),
                                     data.cifar10("test", root=c.tmp, download=False)),
         DataError, ("test.npz", "'x'", "Delete it")),
    Case("probe-uint8", lambda c: TensorProbe((_images() * 255).to(torch.uint8)), TypeError,
         ("images", "torch.uint8", "images.float() / 255")),
    Case("probe-0-255", lambda c: TensorProbe(_images() * 255), ValueError,
         ("images", "images / 255")),
    Case("images-one-path", lambda c: data.load_images("cat.jpg"), TypeError,
         ("paths", "['cat.jpg']")),
    Case("layers-list-model-name", lambda c: hooks.list_layers("vit_cifar", _images()),
         TypeError, ("model",)),
    Case("probe-3d", lambda c: TensorProbe(_images()[0]), ValueError, ("images", "(3, 8, 8)")),
    # data: counts and image sizes the dataset cannot serve (checked before any file is read)
    Case("draw-negative", lambda c: probe_sets.probe_draw("cifar10", "cka", examples=-5,
                                                          image_size=32),
         ValueError, ("examples", "-5", "positive")),
    Case("draw-seed", lambda c: probe_sets.probe_draw("cifar10", "cka", examples=4, seed=-1,
                                                      image_size=32),
         ValueError, ("seed", "-1", "non-negative")),
    Case("draw-image-size", lambda c: probe_sets.probe_draw("cifar10", "cka", examples=4,
                                                            image_size=64),
         ValueError, ("image_size", "64", "image_size=32")),
    Case("preset-image-size", lambda c: get_preset("cifar", image_size=64), ValueError,
         ("image_size", "64", "image_size=32")),
    # probes: features, penalties and folds of a ridge fit
    Case("ridge-nan-penalty", lambda c: kernel_ridge(*_xy(), float("nan")), ValueError,
         ("lam", "nan", "positive")),
    Case("ridge-negative-penalty", lambda c: kernel_ridge(*_xy(), -1.0), ValueError,
         ("lam", "-1.0", "positive")),
    Case("ridge-infinite-penalty", lambda c: ridge.ridge(_stats(), float("inf")), ValueError,
         ("lam", "inf", "finite")),
    Case("ridge-nan-features", lambda c: kernel_ridge(_xy()[0] * np.nan, _xy()[1], 1.0),
         ValueError, ("features", "NaN")),
    Case("ridge-2d-features", lambda c: kernel_ridge(_xy()[0][0], _xy()[1], 1.0), ValueError,
         ("x", "(probes, examples, features)")),
    Case("ridge-one-example", lambda c: kernel_ridge(_xy()[0][:, :1], _xy()[1][:1], 1.0),
         ValueError, ("examples", "at least 2")),
    Case("ridge-fold-shape", lambda c: kernel_cross_validate(*_xy(), torch.zeros(3)),
         ValueError, ("fold", "(3,)")),
    Case("ridge-zero-lambda", lambda c: kernel_cross_validate(*_xy(), torch.arange(8) % 2,
                                                              (0.0, 1.0)),
         ValueError, ("lam", "positive")),
    # model names and manifests: one spelling, one model's files
    Case("name-seed0", lambda c: zoo.split_seed("vit_cifar@seed0"), KeyError,
         ("vit_cifar@seed0", "'vit_cifar'")),
    Case("name-leading-zero", lambda c: zoo.split_seed("vit_cifar@seed01"), KeyError,
         ("vit_cifar@seed01", "'vit_cifar@seed1'")),
    Case("name-non-ascii-digit", lambda c: zoo.split_seed("vit_cifar@seed\u0661"), KeyError,
         ("seed", "ASCII digits")),
    Case("manifest-other-model", lambda c: models.load("vit_cifar",
                                                       directory=_other_model_files(c.tmp)),
         ValueError, ("vit_cifar.json", "'vit_cifar_gap'", "another model")),
    Case("train-zero-steps", lambda c: train.train("vit_cifar", out_dir=c.tmp, device="cpu",
                                                   steps=0),
         ValueError, ("steps", "0", "positive")),
    Case("train-zero-epochs", lambda c: train.train("vit_cifar", out_dir=c.tmp, device="cpu",
                                                    epochs=0.0),
         ValueError, ("epochs", "0.0", "positive")),
    # receptive fields and attention: images in the wrong layout, the wrong family of model
    Case("receptive-field-one-image", lambda c: receptive_field_pass(
        c.vit, [("net.blocks.0", "post")], torch.rand(3, 32, 32)),
         ValueError, ("images", "(3, 32, 32)", "images[None]")),
    Case("receptive-field-uint8", lambda c: receptive_field_pass(
        c.vit, [("net.blocks.0", "post")], torch.zeros(1, 3, 32, 32, dtype=torch.uint8)),
         TypeError, ("images", "torch.uint8", "images.float() / 255")),
    Case("receptive-field-typo", lambda c: receptive_field_pass(
        c.vit, [("net.blocks.0.atn", "post")], torch.rand(1, 3, 32, 32)),
         LayerNotFoundError, ("net.blocks.0.atn", "closest")),
    Case("attention-resnet", lambda c: attention_distances(c.resnet, c.cifar_probe,
                                                           batch_size=4),
         TypeError, ("model", "ResNet", "VisionTransformer")),
    # passes, streams and bootstraps: malformed arguments, unbounded draws
    Case("passes-one-analysis", lambda c: passes.run(c.analysis, {"vit_cifar": c.vit},
                                                     c.cifar_probe, batch_size=4),
         TypeError, ("analyses", "[analysis]")),
    Case("passes-float-batch", lambda c: passes.run([c.analysis], {"vit_cifar": c.vit},
                                                    c.cifar_probe, batch_size=4.0),
         TypeError, ("batch_size", "4.0")),
    Case("passes-list-nets", lambda c: passes.run([c.analysis], [c.vit], c.cifar_probe,
                                                  batch_size=4),
         TypeError, ("nets", "list")),
    Case("passes-meta", lambda c: passes.run([c.analysis], {"vit_cifar": c.vit}, c.cifar_probe,
                                             batch_size=4, device="meta"),
         ValueError, ("device", "meta", "'cpu'")),
    Case("passes-bad-device", lambda c: passes.run([c.analysis], {"vit_cifar": c.vit},
                                                   c.cifar_probe, batch_size=4, device="gpu7"),
         ValueError, ("device", "'gpu7'")),
    Case("consume-not-callable", lambda c: run_taps(c.model, _images(), [Tap("net.0")],
                                                    consume=3),
         TypeError, ("consume", "int")),
    Case("bootstrap-huge", lambda c: MinibatchCKA(2, bootstrap=10**7), ValueError,
         ("bootstrap", "MAX_BOOTSTRAP", "10000000")),
    Case("bootstrap-huge-analysis", lambda c: analyses.analysis_of(
        analyses.CKARequest("vit_cifar"), bootstrap=10**7), ValueError,
         ("bootstrap", "MAX_BOOTSTRAP")),
    # cache: results that could only be stored pickled
    Case("cache-object", lambda c: cache.cached("t", {"k": 1}, lambda: {
        "ok": np.ones(2), "bad": np.array([{"a": 1}])}, code="seelike.cka"),
         TypeError, ("'bad'", "object")),
    Case("cache-not-mapping", lambda c: cache.cached("t", {"k": 2}, lambda: [np.ones(2)],
                                                     code="seelike.cka"),
         TypeError, ("compute()", "list")),
]


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    vit = models.build("vit_cifar")
    return SimpleNamespace(model=_classifier(), probe=TensorProbe(_images()), tmp=tmp_path,
                           vit=vit, resnet=models.build("resnet_cifar"),
                           cifar_probe=TensorProbe(torch.rand(4, 3, 32, 32)),
                           analysis=analyses.analysis_of(analyses.CKARequest(
                               "vit_cifar", layers_a=["net.blocks.0"])))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_naming_the_argument(case: Case, ctx: SimpleNamespace) -> None:
    with pytest.raises(case.error) as err:
        case.call(ctx)
    message = str(err.value)
    argument, *details = case.names
    assert re.search(rf"(?<![\w.]){re.escape(argument)}(?!\w)", message), message
    missing = [name for name in details if name not in message]
    assert not missing, f"{missing} not in: {message}"


def test_the_table_covers_every_engine_module() -> None:
    modules = {"cka", "gram", "hsic", "grams", "minibatch", "tap", "run", "selector", "capture",
               "layer", "layers", "images", "load", "manifest", "npz", "probe", "cache", "draw",
               "preset", "ridge", "name", "train", "receptive", "attention", "passes",
               "consume", "bootstrap"}
    assert modules <= {c.id.split("-")[0] for c in CASES}
    assert len({c.id for c in CASES}) == len(CASES)


def test_a_bad_cache_result_is_not_written_and_good_ones_are(ctx: SimpleNamespace) -> None:
    calls = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"bad": np.array([object()])}

    for _ in range(2):
        with pytest.raises(TypeError):
            cache.cached("t", {"k": 3}, compute, code="seelike.cka")
    assert len(calls) == 2 and not (ctx.tmp / "cache").exists()
    assert cache.cached("t", {"k": 3}, lambda: {"s": np.array(["a"])},
                        code="seelike.cka")["s"].tolist() == ["a"]


# ---- valid inputs still pass ------------------------------------------------------------------


def test_valid_inputs_pass_the_checks(ctx: SimpleNamespace) -> None:
    edge = torch.zeros(2, 3, 8, 8)
    edge[1] = 1 + 0.5 * network.IMAGE_RANGE_SLACK  # resampling overshoot is tolerated
    ctx.model(edge)
    ctx.model(_images().half().float())
    network.check_images(torch.empty(2, 3, 8, 8, device="meta"))  # shapes only: nothing to read
    assert {t.where for t in (Tap("net.0", "input"), Tap("net.0"), Tap("x", "attention"))} == {
        "input", "output", "attention"}
    got = run_taps(ctx.model, _images(), [Tap("net.0"), Tap("")])
    assert got[Tap("")].shape == (8, 5)  # "" is the model itself: its logits
    assert weights.manifest_path("m", str(ctx.tmp)) == ctx.tmp / "m.json"
    assert selectors.submodule(ctx.model, "net.2") is ctx.model.net[2]
    square = compare.cka_matrix(ctx.model, ["net.0", "net.2"], ctx.probe, batch_size=4,
                                device=torch.device("cpu"))
    rect = compare.cka_matrix(ctx.model, ["net.0", "net.2"], ctx.probe, layers_b=["net.2"],
                              batch_size=4, device=torch.device("cpu"))
    assert rect.shape == (2, 1)  # layers_b without model_b is not ignored
    np.testing.assert_allclose(rect[:, 0], square[:, 1], rtol=0, atol=1e-12)


# ---- numerics: float32 features of any magnitude --------------------------------------------


def _ref_hsic(k: np.ndarray, m: np.ndarray, unbiased: bool) -> float:
    """HSIC_0 (Kornblith et al.) or HSIC_1 (Song et al., eq. 5), literally, in float64."""
    n = len(k)
    if not unbiased:
        h = np.eye(n) - 1 / n
        return float(np.trace(k @ h @ m @ h) / (n - 1) ** 2)
    kt, lt = k - np.diag(np.diag(k)), m - np.diag(np.diag(m))
    one = np.ones(n)
    return float((np.trace(kt @ lt) + one @ kt @ one * (one @ lt @ one) / ((n - 1) * (n - 2))
                  - 2 / (n - 2) * (one @ kt @ lt @ one)) / (n * (n - 3)))


def _ref_minibatch_cka(xs: list[np.ndarray], ys: list[np.ndarray], unbiased: bool) -> float:
    """Per-minibatch HSICs summed, then normalised; every Gram in float64 (exact enough)."""
    sums = np.zeros(3)
    for x, y in zip(xs, ys, strict=True):
        k = x.astype(np.float64) @ x.astype(np.float64).T
        m = y.astype(np.float64) @ y.astype(np.float64).T
        sums += [_ref_hsic(k, m, unbiased), _ref_hsic(k, k, unbiased), _ref_hsic(m, m, unbiased)]
    return sums[0] / np.sqrt(sums[1] * sums[2])


def _batches(scale: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Three minibatches of float32 x at ``scale`` times 1, 40 and 1/40, and y at scale 1.

    y follows x closely in the first minibatch and not at all in the last, so the CKA depends
    on how the minibatches are weighted, which is what a per-minibatch rescaling would spoil.
    """
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for weight, factor in zip((1.0, 0.5, 0.0), (1.0, 40.0, 1 / 40), strict=True):
        base = rng.normal(size=(16, 12))
        y = weight * base[:, :6] + rng.normal(size=(16, 6))
        xs.append((base * scale * factor).astype(np.float32))
        ys.append(y.astype(np.float32))
    return xs, ys


MAGNITUDES = [float(m) for m in np.logspace(-30, 15, 10)] + [1e-21, 1e-19, 1e18, 1e25, 1e30]


@pytest.mark.parametrize("unbiased", [False, True], ids=["biased", "unbiased"])
@pytest.mark.parametrize("scale", MAGNITUDES, ids=[f"{m:.0e}" for m in MAGNITUDES])
def test_float32_cka_matches_float64_at_every_magnitude(scale: float, unbiased: bool) -> None:
    xs, ys = _batches(scale)
    acc = MinibatchCKA(1, 1, unbiased=unbiased)
    for x, y in zip(xs, ys, strict=True):
        acc.update([torch.from_numpy(x)], [torch.from_numpy(y)])
    ref = _ref_minibatch_cka(xs, ys, unbiased)
    assert abs(acc.compute()[0, 0] - ref) <= 1e-6
    full = linear_cka(np.concatenate(xs), np.concatenate(ys), unbiased=unbiased)
    assert abs(full - _ref_minibatch_cka([np.concatenate(xs)], [np.concatenate(ys)],
                                         unbiased)) <= 1e-6


def test_the_magnitude_test_would_see_wrong_minibatch_weights() -> None:
    # Each minibatch normalised on its own (what a per-minibatch feature scale amounts to)
    # must differ from the true weighting by far more than the tolerance above.
    xs, ys = _batches(1.0)
    unit = [x / np.linalg.norm(x) for x in (b.astype(np.float64) for b in xs)]
    assert abs(_ref_minibatch_cka(unit, ys, True) - _ref_minibatch_cka(xs, ys, True)) > 1e-2


def test_float32_tiny_features_no_longer_read_as_constant() -> None:
    x, y = _feats(32, 10), _feats(32, 10)[::-1] + _feats(32, 10)
    ref = linear_cka(x, y)
    got = linear_cka(torch.tensor(x * 1e-23, dtype=torch.float32),
                     torch.tensor(y, dtype=torch.float32))
    assert abs(got - ref) <= 1e-6


def test_float64_features_beyond_float64_hsic_raise_unless_scale_free() -> None:
    x, y = _feats(16, 5), _feats(16, 5) ** 2
    tiny = x * 1e-200
    assert abs(linear_cka(tiny, y) - linear_cka(x, y)) <= 1e-12  # CKA rescales by itself
    acc = MinibatchCKA(1, 1)
    with pytest.raises(ValueError, match=r"feats_a\[0\].*2\*\*-66[0-9].*CKA does not change"):
        acc.update([tiny], [y])
    assert acc.num_batches == 0


# ---- files: modes and orphaned temporary files --------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_mode_the_umask_allows(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        sio.atomic_write_text(tmp_path / "f.json", "{}")
    finally:
        os.umask(previous)
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == 0o666 & ~umask


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_orphaned_temporaries_are_removed_only_when_their_writer_is_gone(tmp_path: Path) -> None:
    host, suffix = socket.gethostname(), ".seelike-tmp"
    names = {
        "dead": f".a.npz.{host}.{_dead_pid()}.x1{suffix}",          # killed writer, this host
        "live": f".a.npz.{host}.{os.getpid()}.x2{suffix}",          # a write in progress
        "elsewhere": f".a.npz.other-host.{_dead_pid()}.x3{suffix}",  # pid means nothing here
        "old": f".a.npz.other-host.1.x4{suffix}",                   # but an hour is enough
        "unrelated": ".a.npz.tmp",                                  # not ours to delete
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"partial")
    hour_ago = time.time() - 3601
    os.utime(tmp_path / names["old"], (hour_ago, hour_ago))
    sio.atomic_write_bytes(tmp_path / "b.npz", b"data")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"b.npz", names["live"], names["elsewhere"], names["unrelated"]}


def test_concurrent_writers_into_one_folder_all_succeed(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for j in range(30):
                sio.atomic_write_text(tmp_path / f"{i % 3}.json", json.dumps([i, j]))
        except BaseException as err:  # surfaced below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.json", "1.json", "2.json"]
    assert all(json.loads((tmp_path / f"{i}.json").read_text())[1] == 29 for i in range(3))


def test_a_refused_pass_leaves_the_callers_models_as_they_were(ctx: SimpleNamespace) -> None:
    before = {k: v.clone() for k, v in ctx.vit.state_dict().items()}
    with pytest.raises(ValueError, match="meta"):
        passes.run([ctx.analysis], {"vit_cifar": ctx.vit}, ctx.cifar_probe, batch_size=4,
                   device="meta")
    after = ctx.vit.state_dict()
    assert all(t.device.type == "cpu" and torch.equal(t, after[k]) for k, t in before.items())


@pytest.mark.parametrize("text", ["[]", '{"files": 3}', "{not json"])
def test_a_provenance_that_is_no_record_reads_as_not_run(tmp_path: Path, text: str) -> None:
    from seelike.book import tally

    folder = tmp_path / "cifar"
    shutil.copytree(repo_root() / "data" / "results" / "cifar", folder)
    assert tally.read_committed("cifar", tmp_path).source == "committed"
    (folder / tally.PROVENANCE).write_text(text)
    assert not tally.read_committed("cifar", tmp_path).run
