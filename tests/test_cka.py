"""Tests for seelike.cka against an independent float64 reference written from the formulas."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seelike import cka, grams
from seelike.cka import MinibatchCKA, gram_linear, hsic, linear_cka

# --- reference: the formulas, literally, in float64 numpy --------------------------------------


def ref_hsic0(k: np.ndarray, m: np.ndarray) -> float:
    """tr(KHLH) / (n - 1)^2, with L written m (ruff reserves l)."""
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ h @ m @ h) / (n - 1) ** 2)


def ref_hsic1(k: np.ndarray, m: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, with L written m."""
    n = k.shape[0]
    kt, lt = k.copy(), m.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(n)
    return float(
        (np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
         - 2 / (n - 2) * (one @ kt @ lt @ one)) / (n * (n - 3))
    )


def ref_gram(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return x @ x.T


def ref_cka(x: np.ndarray, y: np.ndarray, unbiased: bool) -> float:
    h = ref_hsic1 if unbiased else ref_hsic0
    k, m = ref_gram(x), ref_gram(y)
    return h(k, m) / np.sqrt(h(k, k) * h(m, m))


def ref_minibatch_cka(batches_a: list[list[np.ndarray]], batches_b: list[list[np.ndarray]],
                      unbiased: bool) -> np.ndarray:
    """Sum the per-batch reference HSICs, then normalise."""
    h = ref_hsic1 if unbiased else ref_hsic0
    na, nb = len(batches_a[0]), len(batches_b[0])
    cross, sa, sb = np.zeros((na, nb)), np.zeros(na), np.zeros(nb)
    for fa, fb in zip(batches_a, batches_b, strict=True):
        ka, kb = [ref_gram(f) for f in fa], [ref_gram(f) for f in fb]
        cross += [[h(k, m) for m in kb] for k in ka]
        sa += [h(k, k) for k in ka]
        sb += [h(m, m) for m in kb]
    return cross / np.sqrt(np.outer(sa, sb))


def correlated(rng: np.random.Generator, n: int, shape_x: tuple[int, ...] = (6, 5),
               dy: int = 20) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, *shape_x))
    y = x.reshape(n, -1) @ rng.normal(size=(x[0].size, dy)) + rng.normal(size=(n, dy))
    return x, np.tanh(y)


ESTIMATORS = pytest.mark.parametrize("unbiased", [False, True], ids=["biased", "unbiased"])


# --- agreement with the reference --------------------------------------------------------------


@ESTIMATORS
def test_hsic_matches_reference_for_any_kernel(unbiased: bool) -> None:
    # RBF Grams: the U-centring identity must hold for any kernel, not only the linear one.
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 4)
    m = np.exp(-((y[:, None] - y[None]) ** 2).sum(-1) / 3)
    ref = ref_hsic1 if unbiased else ref_hsic0
    assert hsic(k, m, unbiased=unbiased) == pytest.approx(ref(k, m), rel=1e-12, abs=1e-15)


def test_gram_linear_is_centred_gram() -> None:
    x = np.random.default_rng(1).normal(size=(12, 3, 2)) + 4.0
    h = np.eye(12) - 1 / 12
    np.testing.assert_allclose(gram_linear(x).numpy(), h @ ref_gram(x) @ h, atol=1e-12)


@ESTIMATORS
@pytest.mark.parametrize("n", [5, 40])
def test_linear_cka_matches_reference(unbiased: bool, n: int) -> None:
    x, y = correlated(np.random.default_rng(n), n)
    assert linear_cka(x, y, unbiased=unbiased) == pytest.approx(ref_cka(x, y, unbiased),
                                                                abs=1e-12)


@pytest.mark.parametrize("slab", [1, 50, 300])
def test_slabbed_gram_matches_reference(monkeypatch: pytest.MonkeyPatch, slab: int) -> None:
    # Real layers are wide enough to be split into slabs; make small ones split too.
    monkeypatch.setattr(grams, "_SLAB_ELEMENTS", slab)
    x, y = correlated(np.random.default_rng(21), 20, shape_x=(37,))
    assert linear_cka(x, y, unbiased=True) == pytest.approx(ref_cka(x, y, True), abs=1e-12)


@pytest.mark.parametrize("layout", ["channels_last", "transposed"])
def test_permuted_features_are_not_copied(monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    # Channels-last feature maps (a convnet fed HWC-decoded images) used to be copied whole by
    # reshape, every layer at once, before any Gram was formed.
    monkeypatch.setattr(grams, "_SLAB_ELEMENTS", 50)
    rng = np.random.default_rng(22)
    x, y = correlated(rng, 24, shape_x=(3, 4, 5))
    t = torch.from_numpy(x)
    t = (t.contiguous(memory_format=torch.channels_last) if layout == "channels_last"
         else t.transpose(1, 3).contiguous().transpose(1, 3))
    assert not t.is_contiguous()
    assert grams.as_matrix(t, "t").data_ptr() == t.data_ptr()  # a view, not a copy
    for unbiased in (False, True):
        assert linear_cka(t, y, unbiased=unbiased) == pytest.approx(ref_cka(x, y, unbiased),
                                                                    abs=1e-12)


@ESTIMATORS
def test_minibatch_matches_reference(unbiased: bool) -> None:
    rng = np.random.default_rng(2)
    batches_a, batches_b = [], []
    for b in (16, 16, 9):  # a short last batch must be weighted by its own HSIC normaliser
        x, y = correlated(rng, b)
        batches_a.append([x, x ** 2, np.sin(3 * x)])
        batches_b.append([y, y[:, :7] + 0.5 * x.reshape(b, -1)[:, :7]])
    acc = MinibatchCKA(3, 2, unbiased=unbiased)
    for fa, fb in zip(batches_a, batches_b, strict=True):
        acc.update(fa, fb)
    assert acc.num_batches == 3
    np.testing.assert_allclose(acc.compute(), ref_minibatch_cka(batches_a, batches_b, unbiased),
                               rtol=0, atol=1e-12)


@ESTIMATORS
def test_one_minibatch_equals_full_batch(unbiased: bool) -> None:
    x, y = correlated(np.random.default_rng(3), 50)
    acc = MinibatchCKA(1, 1, unbiased=unbiased)
    acc.update([x], [y])
    assert acc.compute()[0, 0] == pytest.approx(linear_cka(x, y, unbiased=unbiased), abs=1e-14)


@ESTIMATORS
def test_reset_forgets_batches(unbiased: bool) -> None:
    rng = np.random.default_rng(4)
    x1, y1 = correlated(rng, 20)
    x2, y2 = correlated(rng, 20)
    acc = MinibatchCKA(1, 1, unbiased=unbiased)
    acc.update([x1], [y1])
    acc.reset()
    acc.update([x2], [y2])
    assert acc.num_batches == 1
    assert acc.compute()[0, 0] == pytest.approx(ref_cka(x2, y2, unbiased), abs=1e-12)


# --- invariances and estimator behaviour -------------------------------------------------------


@ESTIMATORS
def test_orthogonal_and_isotropic_scaling_invariance(unbiased: bool) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 10))
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert linear_cka(x, 3.7 * x @ q, unbiased=unbiased) == pytest.approx(1.0, abs=1e-12)
    # A general invertible map reweights directions, which CKA is designed to notice.
    a = rng.normal(size=(10, 10)) @ np.diag(np.logspace(0, 2, 10))
    assert abs(np.linalg.det(a)) > 1e-3
    assert linear_cka(x, x @ a, unbiased=unbiased) < 0.9


def test_unbiased_hsic_is_translation_invariant() -> None:
    # Justifies subtracting an offset before the Gram for HSIC_1; checked on the reference alone.
    rng = np.random.default_rng(6)
    x, y = correlated(rng, 25)
    shifted = x + rng.normal(size=x.shape[1:]) * 10
    assert ref_hsic1(ref_gram(shifted), ref_gram(y)) == pytest.approx(
        ref_hsic1(ref_gram(x), ref_gram(y)), rel=1e-9)


@ESTIMATORS
def test_permuting_examples_changes_nothing(unbiased: bool) -> None:
    rng = np.random.default_rng(7)
    x, y = correlated(rng, 40)
    perm = rng.permutation(40)
    assert linear_cka(x[perm], y[perm], unbiased=unbiased) == pytest.approx(
        linear_cka(x, y, unbiased=unbiased), abs=1e-13)
    # Permuting one side only breaks the pairing, so this check has teeth.
    assert linear_cka(x[perm], y, unbiased=unbiased) != pytest.approx(
        linear_cka(x, y, unbiased=unbiased), abs=1e-3)


def test_unbiased_removes_dimensionality_bias() -> None:
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(500, 1000)), rng.normal(size=(500, 1000))
    assert abs(linear_cka(x, y, unbiased=True)) < 0.05
    xs, ys = x[:50], y[:50]
    assert linear_cka(xs, ys, unbiased=False) > 0.3


# --- precision ---------------------------------------------------------------------------------


@ESTIMATORS
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_low_precision_inputs_match_float64(unbiased: bool, dtype: torch.dtype) -> None:
    x, y = correlated(np.random.default_rng(9), 64, shape_x=(8, 16), dy=96)
    xt, yt = torch.from_numpy(x).to(dtype), torch.from_numpy(y).to(dtype)
    # The reference sees the same rounded values, so only our arithmetic is being judged.
    ref = ref_cka(xt.double().numpy(), yt.double().numpy(), unbiased)
    assert linear_cka(xt, yt, unbiased=unbiased) == pytest.approx(ref, abs=1e-4)


def centred64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x - x.mean(axis=0)


def naive_float32_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook biased CKA entirely in float32: Gram of raw features, then HKH."""
    n = x.shape[0]
    h = (np.eye(n) - np.ones((n, n)) / n).astype(np.float32)
    k = h @ (x @ x.T) @ h
    m = h @ (y @ y.T) @ h
    return float((k * m).sum() / np.sqrt((k * k).sum() * (m * m).sum()))


@ESTIMATORS
def test_float32_accurate_with_large_common_offset(unbiased: bool) -> None:
    rng = np.random.default_rng(10)
    layers = [(1e3 + rng.normal(size=(128, 256))).astype(np.float32) for _ in range(3)]
    layers[1] = (layers[0] + 0.7 * layers[1] - 700).astype(np.float32)
    batches = [[f[:64] for f in layers], [f[64:] for f in layers]]
    acc = MinibatchCKA(3, unbiased=unbiased)
    for batch in batches:
        acc.update([torch.from_numpy(f) for f in batch])
    # The offset squared would swamp even the float64 reference (HSIC_1 has no H to cancel it
    # early), so the reference sees float64-centred copies; translation invariance is tested
    # on its own above.
    ref = ref_minibatch_cka([[centred64(f) for f in b] for b in batches],
                            [[centred64(f) for f in b] for b in batches], unbiased)
    assert np.abs(acc.compute() - ref).max() <= 1e-6
    x, y = layers[0], layers[1]
    ref_xy = ref_cka(centred64(x), centred64(y), unbiased)
    assert abs(linear_cka(x, y, unbiased=unbiased) - ref_xy) <= 1e-6
    assert abs(naive_float32_cka(x, y) - ref_cka(centred64(x), centred64(y), False)) > 1e-3


# --- properties --------------------------------------------------------------------------------

feature_pairs = st.integers(4, 12).flatmap(lambda n: st.tuples(
    arrays(np.float64, (n, 3), elements=st.floats(-10, 10)),
    arrays(np.float64, (n, 2), elements=st.floats(-10, 10)),
))


def cka_or_skip(x: np.ndarray, y: np.ndarray, unbiased: bool) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = linear_cka(x, y, unbiased=unbiased)
    assume(not np.isnan(value))  # degenerate draws (a constant side) have no CKA
    return value


@ESTIMATORS
@settings(deadline=None, max_examples=60)
@given(pair=feature_pairs)
def test_symmetry(unbiased: bool, pair: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = pair
    assert cka_or_skip(x, y, unbiased) == pytest.approx(cka_or_skip(y, x, unbiased), abs=1e-9)


@ESTIMATORS
@settings(deadline=None, max_examples=60)
@given(pair=feature_pairs)
def test_range(unbiased: bool, pair: tuple[np.ndarray, np.ndarray]) -> None:
    value = cka_or_skip(*pair, unbiased)
    low = -1.0 if unbiased else 0.0  # HSIC_1 can be negative; Cauchy-Schwarz still bounds it
    assert low - 1e-6 <= value <= 1 + 1e-6


# --- inputs and bad inputs ---------------------------------------------------------------------


@ESTIMATORS
def test_self_comparison_equals_same_list_twice(unbiased: bool) -> None:
    rng = np.random.default_rng(11)
    feats = [rng.normal(size=(16, 4, 3)), rng.normal(size=(16, 7)), rng.normal(size=(16, 2))]
    feats[2][:, 0] += feats[1][:, 0]
    implicit, explicit = MinibatchCKA(3, unbiased=unbiased), MinibatchCKA(3, unbiased=unbiased)
    implicit.update(feats)
    explicit.update(feats, feats)
    np.testing.assert_allclose(implicit.compute(), explicit.compute(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.diag(implicit.compute()), 1.0, atol=1e-12)


def test_numpy_and_torch_agree() -> None:
    x, y = correlated(np.random.default_rng(12), 30)
    from_numpy = MinibatchCKA(1, 1)
    from_numpy.update([x], [y])
    from_torch = MinibatchCKA(1, 1)
    from_torch.update([torch.from_numpy(x)], [torch.from_numpy(y)])
    np.testing.assert_allclose(from_numpy.compute(), from_torch.compute(), rtol=0, atol=1e-15)
    assert linear_cka(x, y) == pytest.approx(linear_cka(torch.from_numpy(x), torch.from_numpy(y)),
                                             abs=1e-15)


def test_mapping_of_layers_is_taken_in_order() -> None:
    # seelike.hooks.Capture.outputs is a {name: features} dict.
    rng = np.random.default_rng(19)
    feats = [rng.normal(size=(12, 5)), rng.normal(size=(12, 3))]
    from_list, from_dict = MinibatchCKA(2, 1), MinibatchCKA(2, 1)
    from_list.update(feats, feats[1:])
    from_dict.update({"blocks.1": feats[0], "blocks.0": feats[1]}, {"fc": feats[1]})
    np.testing.assert_array_equal(from_dict.compute(), from_list.compute())
    assert from_list.compute()[1, 0] == pytest.approx(1.0)


def test_global_matmul_precision_is_left_alone() -> None:
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        linear_cka(torch.randn(8, 3), torch.randn(8, 2))
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(previous)


def test_no_autograd_graph_is_kept() -> None:
    w = torch.randn(20, 5, requires_grad=True)
    x, y = w * 2, torch.tanh(w @ torch.randn(5, 3))
    value = linear_cka(x, y)
    assert type(value) is float
    acc = MinibatchCKA(2)
    acc.update([x, y])
    result = acc.compute()
    assert type(result) is np.ndarray and result.dtype == np.float64
    assert all(not isinstance(v, torch.Tensor) for v in vars(acc).values())


def test_different_numbers_of_examples() -> None:
    rng = np.random.default_rng(13)
    with pytest.raises(ValueError, match=re.escape("(10, 3)") + ".*" + re.escape("(12, 4)")):
        linear_cka(rng.normal(size=(10, 3)), rng.normal(size=(12, 4)))
    acc = MinibatchCKA(1, 1)
    with pytest.raises(ValueError, match=re.escape("(10, 3)") + ".*" + re.escape("(12, 4)")):
        acc.update([rng.normal(size=(10, 3))], [rng.normal(size=(12, 4))])
    with pytest.raises(ValueError, match=re.escape("(10, 3)") + ".*" + re.escape("(9, 3)")):
        MinibatchCKA(2).update([rng.normal(size=(10, 3)), rng.normal(size=(9, 3))])


def test_unbiased_needs_four_examples() -> None:
    x = np.random.default_rng(14).normal(size=(3, 5))
    with pytest.raises(ValueError, match="at least 4"):
        linear_cka(x, x, unbiased=True)
    with pytest.raises(ValueError, match="at least 4"):
        MinibatchCKA(1).update([x])
    assert linear_cka(x, x, unbiased=False) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_name_the_layer(bad: float) -> None:
    rng = np.random.default_rng(15)
    feats_a = [rng.normal(size=(8, 3)) for _ in range(2)]
    feats_b = [rng.normal(size=(8, 3)) for _ in range(3)]
    feats_b[2][5, 1] = bad
    acc = MinibatchCKA(2, 3)
    with pytest.raises(ValueError, match=re.escape("feats_b[2]")):
        acc.update(feats_a, feats_b)
    feats_a[1][:, 0] = bad  # a whole column: no spread, but still not finite
    with pytest.raises(ValueError, match=re.escape("feats_a[1]")):
        acc.update(feats_a, feats_b)
    assert acc.num_batches == 0
    with pytest.raises(ValueError, match="x has NaN or inf"):
        linear_cka(feats_a[1], feats_a[0])


@ESTIMATORS
def test_float32_gram_overflow_is_avoided(unbiased: bool) -> None:
    # (1e30)^2 overflows float32; the Gram is formed again, scaled, in float64.
    x = torch.full((6, 4), 0.0)
    x[0] = 1e30
    x[1, 1] = 3e29
    y = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = linear_cka(x, y, unbiased=unbiased)
    assert value == pytest.approx(ref_cka(x.double().numpy(), y.double().numpy(), unbiased),
                                  rel=1e-9)


def test_wrong_number_of_layers() -> None:
    rng = np.random.default_rng(16)
    acc = MinibatchCKA(2, 3)
    two, three = [rng.normal(size=(8, 3)) for _ in range(2)], [rng.normal(size=(8, 3))] * 3
    with pytest.raises(ValueError, match=r"feats_a has 3 layers.*built for 2"):
        acc.update(three, three)
    with pytest.raises(ValueError, match=r"feats_b has 2 layers.*built for 3"):
        acc.update(two, two)
    with pytest.raises(ValueError, match="feats_b=None"):
        acc.update(two)


def test_compute_before_update() -> None:
    with pytest.raises(RuntimeError, match="before any update"):
        MinibatchCKA(2).compute()


@ESTIMATORS
def test_constant_layer_gives_nan_and_one_warning(unbiased: bool) -> None:
    rng = np.random.default_rng(17)
    acc = MinibatchCKA(3, 2, unbiased=unbiased)
    batches = []
    for _ in range(4):
        # A float32 mean of 33 copies of 0.1 is not 0.1: centring by it would leave rounding
        # noise that the unbiased estimator normalises into a finite, meaningless CKA.
        feats_a = [rng.normal(size=(33, 4)), np.full((33, 50), 0.1, np.float32),
                   rng.normal(size=(33, 2))]
        feats_b = [rng.normal(size=(33, 3)), feats_a[0] @ rng.normal(size=(4, 3))]
        batches.append((feats_a, feats_b))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            acc.update(feats_a, feats_b)
    with pytest.warns(RuntimeWarning, match=re.escape(": feats_a[1]") + "$") as record:
        result = acc.compute()
    assert len(record) == 1
    assert np.isnan(result[1]).all()
    assert not np.isnan(np.delete(result, 1, axis=0)).any()
    ref = ref_minibatch_cka([[fa[0], fa[2]] for fa, _ in batches], [fb for _, fb in batches],
                            unbiased)
    np.testing.assert_allclose(np.delete(result, 1, axis=0), ref, rtol=0, atol=1e-12)
    with pytest.warns(RuntimeWarning, match="zero self-HSIC.*: x$"):
        assert np.isnan(linear_cka(np.ones((6, 2)), rng.normal(size=(6, 2))))


@ESTIMATORS
def test_tiny_spread_around_large_mean_is_measured(unbiased: bool) -> None:
    # Relative variance ~4e-12, with only ~60 distinct float32 values per feature.
    rng = np.random.default_rng(20)
    x = (1e3 + 2e-3 * rng.normal(size=(33, 50))).astype(np.float32)
    y = centred64(x)[:, :3] + 1e-3 * rng.normal(size=(33, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = linear_cka(x, y, unbiased=unbiased)
    assert value == pytest.approx(ref_cka(centred64(x), y, unbiased), abs=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@ESTIMATORS
def test_cuda_matches_cpu(unbiased: bool) -> None:
    rng = np.random.default_rng(18)
    feats = [torch.from_numpy(1e3 + rng.normal(size=(64, 8, 8))).float() for _ in range(3)]
    on_cpu, on_gpu = MinibatchCKA(3, unbiased=unbiased), MinibatchCKA(3, unbiased=unbiased)
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")  # TF32 for everyone else; not for our Grams
    try:
        for batch in (slice(0, 32), slice(32, 64)):
            on_cpu.update([f[batch] for f in feats])
            on_gpu.update([f[batch].cuda() for f in feats])
    finally:
        torch.set_float32_matmul_precision(previous)
    np.testing.assert_allclose(on_gpu.compute(), on_cpu.compute(), rtol=0, atol=1e-6)
    mixed = MinibatchCKA(3, unbiased=unbiased)  # a model split across devices
    for batch in (slice(0, 32), slice(32, 64)):
        mixed.update([feats[0][batch].cuda(), feats[1][batch], feats[2][batch].cuda()])
    np.testing.assert_allclose(mixed.compute(), on_cpu.compute(), rtol=0, atol=1e-6)
    assert linear_cka(feats[0].cuda(), feats[1], unbiased=unbiased) == pytest.approx(
        linear_cka(feats[0], feats[1], unbiased=unbiased), abs=1e-6)


# ---- the accelerator path, run on the CPU -----------------------------------------------------


@pytest.fixture
def device_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The path an accelerator takes (scale on the device, check at the end), on the CPU."""
    monkeypatch.setattr(grams, "reads_back_freely", lambda device: False)


@ESTIMATORS
def test_device_path_gives_the_same_bits_as_the_checked_path(unbiased: bool) -> None:
    rng = np.random.default_rng(31)
    feats = [torch.from_numpy(3.0 + rng.normal(size=(64, 6, 5))).float() for _ in range(3)]
    checked = MinibatchCKA(3, 2, unbiased=unbiased, bootstrap=7)
    for batch in (slice(0, 32), slice(32, 64)):
        checked.update([f[batch] for f in feats], [feats[0][batch], feats[2][batch]])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(grams, "reads_back_freely", lambda device: False)
        deferred = MinibatchCKA(3, 2, unbiased=unbiased, bootstrap=7)
        for batch in (slice(0, 32), slice(32, 64)):
            deferred.update([f[batch] for f in feats], [feats[0][batch], feats[2][batch]])
        assert np.array_equal(deferred.compute(), checked.compute())
        assert np.array_equal(deferred.compute_bootstrap(), checked.compute_bootstrap(),
                              equal_nan=True)


@ESTIMATORS
@pytest.mark.parametrize("magnitude", [1e-30, 1e30])
def test_device_path_scales_extreme_layers(device_path: None, unbiased: bool,
                                           magnitude: float) -> None:
    # Unscaled, (1e-30)^2 underflows and (1e30)^2 overflows float32.
    rng = np.random.default_rng(32)
    x = rng.normal(size=(40, 6))
    y = x[:, :3] + 0.5 * rng.normal(size=(40, 3))
    acc = MinibatchCKA(1, 1, unbiased=unbiased)
    for batch in (slice(0, 20), slice(20, 40)):
        acc.update([torch.from_numpy(x[batch] * magnitude).float()],
                   [torch.from_numpy(y[batch]).float()])
    reference = MinibatchCKA(1, 1, unbiased=unbiased)
    for batch in (slice(0, 20), slice(20, 40)):
        reference.update([x[batch]], [y[batch]])
    np.testing.assert_allclose(acc.compute(), reference.compute(), rtol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_device_path_reports_non_finite_layers_at_the_end(device_path: None, bad: float) -> None:
    rng = np.random.default_rng(33)
    feats = [torch.from_numpy(rng.normal(size=(8, 3))).float() for _ in range(2)]
    acc = MinibatchCKA(2, bootstrap=3)
    acc.update(feats)
    feats[1][5, 1] = bad
    acc.update(feats)  # no read-back, so nothing is known yet
    for read in (acc.compute, acc.compute_bootstrap):
        with pytest.raises(ValueError, match=re.escape("feats_a[1]") + ".*at the end"):
            read()


def test_device_path_reads_nothing_back_per_minibatch() -> None:
    # Tensors on the meta device have no values: any .item(), .tolist() or .cpu() of one
    # raises, so updates that succeed there read nothing back, as on a GPU.
    feats_a = [torch.empty(32, 197, 64, device="meta") for _ in range(3)]
    feats_b = [torch.empty(32, 16, 7, 7, device="meta").to(memory_format=torch.channels_last)
               for _ in range(2)]
    acc = MinibatchCKA(3, 2, bootstrap=5)
    for _ in range(3):
        acc.update(feats_a, feats_b)
    assert acc.num_batches == 3
    with pytest.raises(NotImplementedError):
        acc.compute()


@ESTIMATORS
@pytest.mark.parametrize("magnitude", [1.0, 1e-30, 1e30])
def test_cka_of_row_blocks_streamed_in_slabs_is_linear_cka(monkeypatch: pytest.MonkeyPatch,
                                                           unbiased: bool, magnitude: float
                                                           ) -> None:
    # Chapter 2's full-batch CKA on an accelerator: minibatches kept on the host, slabs of
    # features to the device (here the CPU, with slabs of a few features).
    monkeypatch.setattr(grams, "_SLAB_ELEMENTS", 64)
    rng = np.random.default_rng(34)
    x = 3.0 + rng.normal(size=(21, 40))
    y = x[:, :5] @ rng.normal(size=(5, 6)) + rng.normal(size=(21, 6))
    blocks_x = [torch.from_numpy(x[i:i + 8] * magnitude).float() for i in range(0, 21, 8)]
    blocks_y = [torch.from_numpy(y[i:i + 8]).float() for i in range(0, 21, 8)]
    value = cka.cka_of_grams(grams.gram_of_blocks(blocks_x, "cpu"),
                             grams.gram_of_blocks(blocks_y, "cpu"), unbiased=unbiased)
    assert value == pytest.approx(linear_cka(x, y, unbiased=unbiased), rel=1e-5)
    blocks_x[1][2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        grams.gram_of_blocks(blocks_x, "cpu")
