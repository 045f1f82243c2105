"""Shared forward passes (seelike.passes): one forward per model and minibatch, the plan joins."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from seelike import cache, models, passes
from seelike.analyses import Accuracy, CKAAnalysis, HeadSubsetCKA
from seelike.book import results, schedule, store
from seelike.book.presets import get_preset
from seelike.cka import MinibatchCKA
from seelike.compare import CKAAnalysisAccumulator
from seelike.probe_sets import ProbeSet, TensorProbe
from seelike.taps import Tap


def tiny_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 7 * 7, 5))


def count_forwards(nets: dict[str, nn.Module]) -> Counter:
    calls: Counter = Counter()
    for name, net in nets.items():
        net.register_forward_pre_hook(lambda _m, _a, name=name: calls.update([name]))
    return calls


def test_every_analysis_is_fed_from_one_forward_per_model_and_minibatch() -> None:
    nets = {"a": tiny_net(0), "b": tiny_net(1)}
    calls = count_forwards(nets)
    probe = TensorProbe(torch.rand(22, 3, 16, 16))
    analyses = [CKAAnalysis("a", ("1", "3"), "a", ("1", "3")),
                CKAAnalysis("a", ("1", "3"), "b", ("3", "5")),
                CKAAnalysis("b", ("5",), "b", ("5",), unbiased=False)]
    out = passes.run(analyses, nets, probe, batch_size=8, device="cpu")
    # Minibatches of 8, 8 and 6: CKA skips the short one, so nothing runs the models on it.
    assert calls == {"a": 2, "b": 2}
    # Each matrix equals a MinibatchCKA fed the same full minibatches by hand.
    for analysis, result in zip(analyses, out, strict=True):
        acc = MinibatchCKA(len(analysis.layers_a), len(analysis.layers_b),
                           unbiased=analysis.unbiased)
        for start in (0, 8):  # the short last minibatch is dropped
            x = probe.tensor(start, start + 8)
            feats = {}
            for name, net in nets.items():
                feats[name] = {}
                h = x
                for i, module in enumerate(net):
                    h = module(h)
                    feats[name][str(i)] = h.detach()
            acc.update([feats[analysis.model_a][layer] for layer in analysis.layers_a],
                       [feats[analysis.model_b][layer] for layer in analysis.layers_b])
        np.testing.assert_allclose(result["cka"], acc.compute(), atol=1e-9)


def test_a_layer_gram_is_formed_once_per_minibatch_however_many_matrices_use_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    formed: Counter = Counter()
    real = passes.transformed_grams

    def counting(named, *, unbiased):
        formed.update(list(named))
        return real(named, unbiased=unbiased)

    monkeypatch.setattr(passes, "transformed_grams", counting)
    nets = {"a": tiny_net(0), "b": tiny_net(1)}
    analyses = [CKAAnalysis("a", ("1",), "a", ("1",)), CKAAnalysis("a", ("1",), "b", ("3",)),
                CKAAnalysis("b", ("3",), "a", ("1",))]
    passes.run(analyses, nets, TensorProbe(torch.rand(16, 3, 16, 16)), batch_size=8,
               device="cpu")
    # Two minibatches: a's "1" and b's "3" formed twice each, not once per matrix.
    assert formed == {"1": 2, "3": 2}


@pytest.fixture
def fake_zoo(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """Two tiny models behind models.load, a fixed probe set, a fresh cache, forward counts."""
    nets = {"m1": tiny_net(0), "m2": tiny_net(1)}
    calls = count_forwards(nets)
    rng = np.random.default_rng(0)
    probe = ProbeSet(images=rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8),
                     labels=np.arange(16) % 4, ids=np.array([f"x{i}" for i in range(16)]),
                     purpose="cka", seed=0, image_size=16)
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(models, "load", lambda name: nets[name])
    monkeypatch.setattr(cache, "model_fingerprint", lambda name: f"weights of {name}")
    monkeypatch.setattr(store, "probe_set", lambda preset, purpose, seed=0: probe)
    return calls


def test_results_runs_what_the_book_plans_for_the_probe_set_in_the_same_pass(
        fake_zoo: Counter, monkeypatch: pytest.MonkeyPatch) -> None:
    p = get_preset("smoke", cka_batch=8)
    first = CKAAnalysis("m1", ("1",), "m1", ("1",))
    later = [CKAAnalysis("m1", ("3",), "m2", ("3",)), CKAAnalysis("m2", ("1",), "m2", ("1",))]
    monkeypatch.setattr(schedule, "analyses", lambda preset, purpose, repeat=0: [first, *later])
    (got,) = results.results(p, [first], purpose="cka")
    assert got["cka"].shape == (1, 1)
    assert fake_zoo == {"m1": 2, "m2": 2}  # the planned analyses joined the first pass
    # Another chapter asks for the planned ones: served from the cache, no forward pass.
    again = results.results(p, later, purpose="cka")
    assert fake_zoo == {"m1": 2, "m2": 2}
    assert [r["cka"].shape for r in again] == [(1, 1), (1, 1)]
    # What is outside the plan costs its own pass, of the models it needs only.
    results.results(p, [CKAAnalysis("m2", ("5",), "m2", ("5",))], purpose="cka")
    assert fake_zoo == {"m1": 2, "m2": 4}


def test_a_batch_size_other_than_the_presets_does_not_pull_in_the_plan(
        fake_zoo: Counter, monkeypatch: pytest.MonkeyPatch) -> None:
    p = get_preset("smoke", cka_batch=8)
    planned = CKAAnalysis("m2", ("1",), "m2", ("1",))
    monkeypatch.setattr(schedule, "analyses", lambda preset, purpose, repeat=0: [planned])
    results.results(p, [CKAAnalysis("m1", ("1",), "m1", ("1",))], purpose="cka", batch_size=4)
    assert fake_zoo == {"m1": 4}


def test_bad_input_is_named() -> None:
    nets = {"a": tiny_net(0)}
    probe = TensorProbe(torch.rand(4, 3, 16, 16))
    with pytest.raises(KeyError, match="not in nets"):
        passes.run([CKAAnalysis("z", ("1",), "z", ("1",))], nets, probe, batch_size=4)
    with pytest.raises(ValueError, match="empty"):
        passes.run([CKAAnalysis("a", ("1",), "a", ("1",))], nets,
                   TensorProbe(torch.rand(0, 3, 16, 16)), batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        passes.run([CKAAnalysis("a", ("1",), "a", ("1",))], nets, probe, batch_size=0)


def test_the_chapter_2_curve_ends_at_minibatch_cka_and_keeps_the_full_batch_value() -> None:
    from seelike.analyses import CKACurve
    from seelike.cka import linear_cka

    nets = {"a": tiny_net(0), "b": tiny_net(1)}
    probe = TensorProbe(torch.rand(24, 3, 16, 16))
    curve = CKACurve("a", ("1", "3"), "b", ("3", "5"))
    matrix = CKAAnalysis("a", ("1", "3"), "b", ("3", "5"))
    got, cka = passes.run([curve, matrix], nets, probe, batch_size=8, device="cpu")
    assert got["curve"].shape == (3, 2)
    np.testing.assert_allclose(got["curve"][-1], np.diag(cka["cka"]), atol=1e-12)
    with torch.no_grad():
        x = probe.tensor(0, 24)
        a1, b3 = nets["a"][:2](x), nets["b"][:4](x)
    np.testing.assert_allclose(got["full"][0], linear_cka(a1, b3, unbiased=True), atol=1e-6)


class MyCKA(CKAAnalysisAccumulator):
    """A reader's own accumulator, subclassing the library's."""


@dataclass(eq=False)
class WiderCKA(CKAAnalysis):
    """A reader's declaration that adds a field but keeps the library's accumulator."""

    note: str = ""


def test_code_of_is_the_module_that_computes_the_analysis() -> None:
    assert passes.code_of(CKAAnalysis("a", ("1",), "a", ("1",))) == "seelike.compare"
    assert passes.code_of(Accuracy("a")) == "seelike.accuracy"
    # A reader's accumulator is keyed by its own code, not the library's it inherits from.
    mine = MyCKA("a", ("1",), "a", ("1",))
    assert passes.code_of(mine) == __name__ and passes.accumulator_of(mine) is mine
    with pytest.raises(TypeError, match=r"WiderCKA's accumulator seelike\.compare:"
                                        r"CKAAnalysisAccumulator is not a subclass of it"):
        passes.accumulator_of(WiderCKA("a", ("1",), "a", ("1",), note="x"))


@pytest.mark.parametrize("make", [
    lambda: CKAAnalysis("a", ("1",), "a", ("1",), unbiased="no"),
    lambda: HeadSubsetCKA("v", (1,), (), "c", ("x",)),
    lambda: HeadSubsetCKA("v", (1,), ((0,),), "c", ()),
    lambda: HeadSubsetCKA("v", (1,), ((0,),), "c", ("x",), unbiased=1),
])
def test_a_bad_declaration_is_refused_when_declared(make) -> None:
    with pytest.raises((TypeError, ValueError), match=r"unbiased must be True or False|needs "
                                                      r"subsets of heads and CNN layers"):
        make()


def test_what_a_models_analyses_share_is_dropped_before_the_next_models() -> None:
    seen: list[tuple[str, list[object]]] = []

    class Sharing(passes.Analysis):
        name = "sharing"

        def __init__(self, model: str) -> None:
            self.model = model

        def models(self) -> tuple[str, ...]:
            return (self.model,)

        def params(self) -> dict[str, object]:
            return {"model": self.model}

        def needs(self, model: str, net: nn.Module) -> passes.Needs:
            return passes.Needs(taps=[Tap("1")], shared=[Tap("1")])

        def begin(self, nets: object) -> None:
            pass

        def update(self, batch: passes.Batch) -> None:
            seen.append((self.model, list(batch._shared)))
            batch.shared(("relu", self.model), lambda: batch.tap(self.model, Tap("1")).relu())

        def result(self) -> dict[str, np.ndarray]:
            return {}

    nets = {"a": tiny_net(0), "b": tiny_net(1)}
    # Given a, b, a: updated a, a, b, each model's shared values gone before the next's.
    passes.run([Sharing("a"), Sharing("b"), Sharing("a")], nets,
               TensorProbe(torch.rand(8, 3, 16, 16)), batch_size=8, device="cpu")
    assert seen == [("a", []), ("a", [("relu", "a")]), ("b", [])]


def test_zoo_accuracy_counts_argmax_hits() -> None:
    net = tiny_net(0)
    x = torch.rand(10, 3, 16, 16)
    with torch.no_grad():
        predicted = net(x).argmax(1).numpy()
    labels = predicted.copy()
    labels[:3] = (labels[:3] + 1) % 5  # three wrong
    (out,) = passes.run([Accuracy("m")], {"m": net}, TensorProbe(x, labels), batch_size=4,
                        device="cpu")
    assert float(out["accuracy"]) == pytest.approx(70.0)


def test_an_analysis_that_scores_predictions_needs_a_probe_with_labels() -> None:
    with pytest.raises(ValueError, match=r"TensorProbe\(images, labels=\.\.\.\)"):
        passes.run([Accuracy("m")], {"m": tiny_net(0)}, TensorProbe(torch.rand(4, 3, 16, 16)),
                   batch_size=4, device="cpu")


def test_labels_are_read_and_checked_only_by_an_analysis_that_scores_predictions() -> None:
    class Named(TensorProbe):
        """A reader's probe whose labels are class names: fine for CKA, not for accuracy."""

    probe = Named(torch.rand(8, 3, 16, 16))
    probe.labels = np.array(["cat", "dog"] * 4)
    net = tiny_net(0)
    layer = "1"  # the first ReLU
    (out,) = passes.run([CKAAnalysis("m", (layer,), "m", (layer,))], {"m": net}, probe,
                        batch_size=4, device="cpu")
    assert np.isfinite(out["cka"]).all()
    with pytest.raises(ValueError, match="one whole-number class per example"):
        passes.run([Accuracy("m")], {"m": net}, probe, batch_size=4, device="cpu")


@pytest.mark.parametrize("labels", [np.zeros(3, dtype=int), np.zeros(4), np.zeros((4, 1), int)])
def test_a_tensor_probe_refuses_labels_that_are_not_one_class_per_image(labels: np.ndarray
                                                                        ) -> None:
    with pytest.raises(ValueError, match="one whole-number class per image"):
        TensorProbe(torch.rand(4, 3, 16, 16), labels)
