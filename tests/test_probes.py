"""Tests for seelike.probes: closed-form ridge probes from streamed statistics (Figs 11,
D.4, 13), against numpy on tiny problems, on separable data, and on random-init models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seelike import analyses, models, passes, probes
from seelike.analyses import ProbeEval, ProbeFit
from seelike.localization import spatial_tokens
from seelike.probe_sets import TensorProbe
from seelike.probes import token_positions
from seelike.ridge import (
    Stats,
    cross_validate,
    kernel_cross_validate,
    kernel_ridge,
    ridge,
    squared_error,
    statistics,
    targets,
)


def test_targets_are_plus_minus_one() -> None:
    np.testing.assert_array_equal(targets(np.array([2, 0]), 3), [[-1, -1, 1], [1, -1, -1]])
    with pytest.raises(ValueError):
        targets(np.array([3]), 3)


def test_ridge_matches_numpy_closed_form() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2, 3)) + 5.0, targets(rng.integers(0, 2, 20), 2)
    w, b = ridge(statistics(x, y), 0.1)
    for g in range(2):
        xc, yc = x[:, g] - x[:, g].mean(0), y - y.mean(0)
        lam = 0.1 * np.trace(xc.T @ xc) / 3
        w_ref = np.linalg.solve(xc.T @ xc + lam * np.eye(3), xc.T @ yc)
        np.testing.assert_allclose(w[g], w_ref, rtol=1e-9)
        np.testing.assert_allclose(b[g], y.mean(0) - x[:, g].mean(0) @ w_ref, rtol=1e-9)


def test_squared_error_from_statistics_matches_the_direct_sum() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(15, 2, 4)), targets(rng.integers(0, 3, 15), 3)
    w, b = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 3))
    direct = [((y - x[:, g] @ w[g] - b[g]) ** 2).sum() for g in range(2)]
    np.testing.assert_allclose(squared_error(w, b, statistics(x, y)), direct, rtol=1e-10)


def _folds(x: np.ndarray, y: np.ndarray, k: int) -> Stats:
    parts = [statistics(x[f::k], y[f::k]) for f in range(k)]
    return Stats(*(np.stack(a) for a in zip(*parts, strict=True)))


def test_cross_validation_picks_small_penalties_for_clean_data_and_large_for_noise() -> None:
    rng = np.random.default_rng(2)
    lambdas = (1e-3, 1e-1, 10.0, 1000.0)
    x = rng.normal(size=(200, 1, 8))
    clean = x[:, 0] @ rng.normal(size=(8, 2))
    noise = rng.normal(size=(200, 2))
    picked = []
    for y in (clean, noise):
        errors = cross_validate(_folds(x, y, 5), lambdas)
        assert errors.shape == (len(lambdas), 1)
        picked.append(int(np.argmin(errors[:, 0])))
    # Noise: any penalty that shrinks the fit to the intercept is as good as the largest.
    assert picked[0] == 0 and picked[1] >= 2


def test_separable_classes_are_classified_perfectly() -> None:
    rng = np.random.default_rng(3)
    labels = np.arange(100) % 10
    means = rng.normal(size=(10, 12)) * 5
    x = (means[labels] + 0.1 * rng.normal(size=(100, 12)))[:, None]
    folds = _folds(x, targets(labels, 10), 5)
    lam = (1e-3, 1.0)[int(np.argmin(cross_validate(folds, (1e-3, 1.0))[:, 0]))]
    w, b = ridge(folds.total(), lam)
    test = np.arange(50) % 10
    x_test = means[test] + 0.1 * rng.normal(size=(50, 12))
    assert ((x_test @ w[0] + b[0]).argmax(1) == test).all()


@pytest.mark.parametrize("n, d", [(9, 30), (40, 6)])
def test_the_dual_form_is_the_primal_ridge(n: int, d: int) -> None:
    # Fewer examples than features (the paper's 10-shot probes) and more: one estimator.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, 3, d)) + 4.0
    x[:, 2] = 7.0  # a constant probe input: W = 0 on both forms
    y = targets(rng.integers(0, 3, n), 3)
    for lam in (1e-3, 1.0, 100.0):
        w, b = ridge(statistics(x, y), lam)
        wk, bk = kernel_ridge(torch.from_numpy(x.transpose(1, 0, 2)), torch.from_numpy(y), lam)
        np.testing.assert_allclose(wk.numpy(), w, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(bk.numpy(), b, rtol=1e-7, atol=1e-10)
        assert not wk[2].any()


@pytest.mark.parametrize("n, d", [(12, 30), (45, 6)])
def test_dual_cross_validation_is_the_primal_one(n: int, d: int) -> None:
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(n, 2, d)), targets(rng.integers(0, 3, n), 3)
    fold = np.arange(n) % 3
    lambdas = (1e-2, 1.0, 10.0)
    parts = [statistics(x[fold == f], y[fold == f]) for f in range(3)]
    primal = cross_validate(Stats(*(np.stack(a) for a in zip(*parts, strict=True))), lambdas)
    dual = kernel_cross_validate(torch.from_numpy(x.transpose(1, 0, 2)), torch.from_numpy(y),
                                 torch.from_numpy(fold), lambdas)
    np.testing.assert_allclose(dual.numpy(), primal, rtol=1e-7)
    # One populated fold (a 1-shot draw): nothing could be held out, and both forms refuse
    # rather than pick a penalty from errors that are all 0.
    one = [statistics(x, y), statistics(x[:0], y[:0]), statistics(x[:0], y[:0])]
    with pytest.raises(ValueError, match="at least 2 folds holding examples, got 1"):
        cross_validate(Stats(*(np.stack(a) for a in zip(*one, strict=True))), lambdas)
    with pytest.raises(ValueError, match="at least 2 folds holding examples, got 1"):
        kernel_cross_validate(torch.from_numpy(x.transpose(1, 0, 2)), torch.from_numpy(y),
                              torch.zeros(n, dtype=torch.long), lambdas)


def test_a_few_shot_fit_is_dual_and_gives_the_primal_fit(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    # 24 examples of width-192 tokens: the examples are kept, not 192 x 192 statistics.
    torch.manual_seed(1)
    labels = np.arange(24) % 4
    images = torch.rand(24, 3, 32, 32)
    net = models.build("vit_cifar")

    def fit() -> tuple[probes.ProbeFitAccumulator, dict[str, np.ndarray]]:
        analysis = passes.accumulator_of(ProbeFit(
            "vit_cifar", ("net.blocks.5",), ("token", "cls"), classes=4, max_positions=4,
            folds=3, lambdas=(1e-2, 1.0, 100.0)))
        (out,) = passes.run([analysis], {"vit_cifar": net}, TensorProbe(images, labels),
                            batch_size=12)
        return analysis, out

    dual_fit, dual = fit()
    assert {type(a).__name__ for a in dual_fit._acc.values()} == {"_ExampleStore"}
    monkeypatch.setattr(probes, "_keeps_examples", lambda n, d: False)
    primal_fit, primal = fit()
    assert {type(a).__name__ for a in primal_fit._acc.values()} == {"_FoldAccumulator"}
    assert dual.keys() == primal.keys()
    for key in dual:
        np.testing.assert_allclose(dual[key], primal[key], rtol=1e-3, atol=1e-5, err_msg=key)


def test_token_positions_subsample_a_centred_regular_grid() -> None:
    index, sub = token_positions((8, 8), 64)
    assert sub == (8, 8) and (index == np.arange(64)).all()
    index, sub = token_positions((32, 32), 64)
    assert sub == (8, 8) and index[0] == 2 * 32 + 2 and index[1] == 2 * 32 + 6


@pytest.mark.parametrize("shape, prefix", [((4, 65, 8), 1), ((4, 8, 8, 8), 0),
                                           ((4, 8, 32, 32), 0)])
def test_token_features_are_the_probed_positions_whether_all_or_a_sub_grid(
        shape: tuple[int, ...], prefix: int) -> None:
    output = torch.randn(*shape)
    tokens, grid = spatial_tokens(output, prefix)
    index, sub = token_positions(grid)
    feats, got = probes._features(output, "token", prefix, analyses.MAX_POSITIONS)
    gathered = tokens[:, torch.as_tensor(index)]
    # The same values in the same layout as the gather, whichever path made them: the
    # probes' float sums see identical inputs.
    assert got == sub and torch.equal(feats, gathered) and feats.stride() == gathered.stride()


def _fit_and_evaluate(name: str, net: torch.nn.Module, layers: tuple[str, ...],
                      kinds: tuple[str, ...], images: torch.Tensor, labels: np.ndarray, *,
                      classes: int, folds: int, lambdas: tuple[float, ...],
                      max_positions: int, class_ids: tuple[int, ...] = ()
                      ) -> dict[str, np.ndarray]:
    probe = TensorProbe(images, labels)
    fit = ProbeFit(name, layers, kinds, classes=classes, max_positions=max_positions,
                   folds=folds, lambdas=lambdas, class_ids=class_ids)
    (fitted,) = passes.run([fit], {name: net}, probe, batch_size=len(images) // 2)
    evaluation = ProbeEval(name, layers, kinds, classes=classes,
                           max_positions=max_positions, class_ids=class_ids, fit=fitted,
                           fit_id="test")
    (out,) = passes.run([evaluation], {name: net}, probe, batch_size=len(images))
    return out


def test_fit_and_evaluation_on_a_random_init_zoo_vit_learn_their_training_set() -> None:
    torch.manual_seed(0)
    labels = np.arange(40) % 4
    # Brightness encodes the class, so pooled features separate the training set.
    images = torch.rand(40, 3, 32, 32) * 0.2 + torch.from_numpy(labels).float()[:, None, None,
                                                                                 None] * 0.2
    out = _fit_and_evaluate("vit_cifar", models.build("vit_cifar"),
                            ("net.blocks.0", "net.blocks.11"), ("token", "cls", "gap", "gap_all"),
                            images, labels, classes=4, folds=2, lambdas=(1e-3, 1.0),
                            max_positions=4)
    assert out["token"].shape == (2, 4) and out["token_grid"].tolist() == [[2, 2], [2, 2]]
    for kind in ("cls", "gap", "gap_all", "token_mean"):
        assert out[kind].shape == (2,) and ((out[kind] >= 0) & (out[kind] <= 1)).all()
    assert out["gap"][0] == 1.0


def test_labels_that_are_not_0_to_n_are_probed_through_their_class_ids() -> None:
    # Imagenette's labels are ImageNet-1k indices: the probes map them to 0..classes-1.
    torch.manual_seed(0)
    dense = np.arange(24) % 4
    ids = (0, 217, 482, 701)
    images = torch.rand(24, 3, 32, 32) * 0.2 + torch.from_numpy(dense).float()[:, None, None,
                                                                                None] * 0.2
    net = models.build("vit_cifar")
    common = dict(classes=4, folds=2, lambdas=(1e-3, 1.0), max_positions=4)
    plain = _fit_and_evaluate("vit_cifar", net, ("net.blocks.0",), ("token", "gap"), images,
                              dense, **common)
    mapped = _fit_and_evaluate("vit_cifar", net, ("net.blocks.0",), ("token", "gap"), images,
                               np.array(ids)[dense], class_ids=ids, **common)
    assert plain.keys() == mapped.keys()
    for key in plain:
        np.testing.assert_array_equal(plain[key], mapped[key], err_msg=key)
    with pytest.raises(ValueError, match=r"labels \[701\] are none of the probes' class_ids"):
        _fit_and_evaluate("vit_cifar", net, ("net.blocks.0",), ("token", "gap"), images,
                          np.array(ids)[dense], class_ids=(0, 217, 482, 700), **common)
    with pytest.raises(ValueError, match="class_ids must name 4 different labels"):
        ProbeFit("vit_cifar", ("net.blocks.0",), ("gap",), classes=4, class_ids=(0, 1, 1, 2))


def test_paper_vit_probes_run_at_random_init() -> None:
    torch.manual_seed(0)
    name = "vit_base_patch32_224.augreg_in21k"
    out = _fit_and_evaluate(name, models.build_paper(name), ("net.blocks.11",),
                            ("token", "cls", "gap"), torch.rand(4, 3, 224, 224),
                            np.array([0, 1, 0, 1]), classes=2, folds=2, lambdas=(1.0,),
                            max_positions=4)
    assert out["token_grid"].tolist() == [[2, 2]] and out["token"].shape == (1, 4)
    assert np.isfinite(out["cls"]).all() and np.isfinite(out["gap"]).all()


def test_paper_gap_vit_probes_run_at_random_init() -> None:
    torch.manual_seed(0)
    name = "vit_base_patch16_rpn_224.sw_in1k"  # no class token: the GAP model of Fig 11
    out = _fit_and_evaluate(name, models.build_paper(name), ("net.blocks.11",),
                            ("token", "gap"), torch.rand(4, 3, 224, 224),
                            np.array([0, 1, 0, 1]), classes=2, folds=2, lambdas=(1.0,),
                            max_positions=4)
    assert out["token_grid"].tolist() == [[2, 2]]
    assert np.isfinite(out["token"]).all() and np.isfinite(out["gap"]).all()


def test_paper_resnet_probes_run_at_random_init() -> None:
    torch.manual_seed(0)
    name = "resnetv2_50x1_bit.goog_in21k"
    out = _fit_and_evaluate(name, models.build_paper(name), ("net.stages.0.blocks.0",),
                            ("token", "gap"), torch.rand(4, 3, 224, 224),
                            np.array([0, 1, 0, 1]), classes=2, folds=2, lambdas=(1.0,),
                            max_positions=4)
    assert out["token_grid"].tolist() == [[2, 2]]
    assert np.isfinite(out["token"]).all() and np.isfinite(out["gap"]).all()


def test_probes_of_one_model_in_one_pass_share_their_features(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Two draws' fits evaluated in one pass, beside another model's: each layer's features
    # are made once per minibatch for the model's probes, and each evaluation comes out as
    # it does alone in its own pass, bit for bit.
    torch.manual_seed(0)
    labels = np.arange(24) % 4
    images = torch.rand(24, 3, 32, 32)
    nets = {"vit_cifar": models.build("vit_cifar"), "resnet_cifar": models.build("resnet_cifar")}
    probe = TensorProbe(images, labels)
    common = dict(classes=4, max_positions=4)
    layers = {"vit_cifar": ("net.blocks.0", "net.blocks.5"), "resnet_cifar": ("net.layer1.0",)}
    kinds = {"vit_cifar": ("token", "cls"), "resnet_cifar": ("token", "gap")}
    evaluations = []
    for name, lambdas in (("vit_cifar", (1e-2,)), ("resnet_cifar", (1e-2,)),
                          ("vit_cifar", (1.0,))):
        fit = ProbeFit(name, layers[name], kinds[name], folds=2, lambdas=lambdas, **common)
        (fitted,) = passes.run([fit], {name: nets[name]}, probe, batch_size=12)
        evaluations.append(ProbeEval(name, layers[name], kinds[name], fit=fitted,
                                     fit_id=str(lambdas), **common))
    alone = [passes.run([e], {e.model: nets[e.model]}, probe, batch_size=12)[0]
             for e in evaluations]
    made = []
    features = probes._features
    monkeypatch.setattr(probes, "_features", lambda *a: made.append(a[1]) or features(*a))
    together = passes.run(evaluations, nets, probe, batch_size=12)
    # Two minibatches; per minibatch each (model, layer, kind) once: vit 2 x 2, resnet 1 x 2.
    assert len(made) == 2 * (4 + 2)
    for one, shared in zip(alone, together, strict=True):
        assert one.keys() == shared.keys()
        for key in one:
            np.testing.assert_array_equal(one[key], shared[key], err_msg=key)
