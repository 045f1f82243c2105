"""The bootstrap beside every CKA matrix (issue: evidence): consistent, calibrated, free.

The draws resample probe examples from the Grams a pass already formed
(:meth:`seelike.cka.MinibatchCKA.compute_bootstrap`); these tests check that they leave the
point estimate untouched, that their spread matches the spread over fresh probe sets of
the same size, and that asking for them costs no forward pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seelike import passes, resample
from seelike.analyses import CKAAnalysis
from seelike.cka import MinibatchCKA

PROJECTION = np.random.default_rng(7).normal(size=(25, 30))


def _features(rng: np.random.Generator, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two 'models' of two layers each that share a 5-dimensional signal."""
    z = rng.normal(size=(n, 5))
    x = np.concatenate([z, rng.normal(size=(n, 20))], 1) @ PROJECTION
    y = np.concatenate([z[:, :3] ** 2, rng.normal(size=(n, 10))], 1)
    return [x, np.tanh(x[:, :8])], [y, x[:, :4] + rng.normal(size=(n, 4))]


def _accumulate(a: list[np.ndarray], b: list[np.ndarray], *, bootstrap: int = 0,
                batch: int = 128, unbiased: bool = True) -> MinibatchCKA:
    acc = MinibatchCKA(len(a), len(b), bootstrap=bootstrap, unbiased=unbiased)
    for i in range(0, len(a[0]), batch):
        acc.update([t[i:i + batch] for t in a], [t[i:i + batch] for t in b])
    return acc


def test_bootstrap_leaves_the_matrix_unchanged_and_centres_on_it() -> None:
    a, b = _features(np.random.default_rng(0), 512)
    plain = _accumulate(a, b).compute()
    with_draws = _accumulate(a, b, bootstrap=300)
    np.testing.assert_array_equal(with_draws.compute(), plain)
    draws = with_draws.compute_bootstrap()
    assert draws.shape == (300, 2, 2)
    np.testing.assert_allclose(np.nanmean(draws, 0), plain, atol=0.01)


@pytest.mark.parametrize("unbiased", [True, False])
def test_bootstrap_spread_matches_fresh_probe_sets(unbiased: bool) -> None:
    """The draws' SD against the SD over 150 independent probe sets of the same size."""
    rng = np.random.default_rng(1)
    draws = _accumulate(*_features(rng, 512), bootstrap=400, unbiased=unbiased)
    boot_sd = np.nanstd(draws.compute_bootstrap(), 0)
    fresh = np.array([_accumulate(*_features(rng, 512), unbiased=unbiased).compute()
                      for _ in range(150)])
    ratio = boot_sd / fresh.std(0)
    # Pairs that share signal (column 1... and row 0/1 of the second model) are the ones
    # a claim reads; a plain bootstrap of per-example row terms would be about 0.5 here.
    related = ratio[:, 1]
    assert np.all((related > 0.75) & (related < 1.5)), ratio


def test_bootstrap_is_reproducible_and_checked() -> None:
    a, b = _features(np.random.default_rng(2), 256)
    one = _accumulate(a, b, bootstrap=20).compute_bootstrap()
    np.testing.assert_array_equal(one, _accumulate(a, b, bootstrap=20).compute_bootstrap())
    with pytest.raises(RuntimeError, match="bootstrap=N"):
        _accumulate(a, b).compute_bootstrap()
    with pytest.raises(ValueError, match="bootstrap"):
        MinibatchCKA(2, bootstrap=-1)


class _Counting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(12, 16)
        self.second = nn.Linear(16, 8)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.second(torch.relu(self.first(x.flatten(1))))


class _Probe:
    def __init__(self, n: int) -> None:
        self.x = torch.randn(n, 3, 2, 2, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.x)

    def tensor(self, i: int, j: int) -> torch.Tensor:
        return self.x[i:j]


def test_bootstrap_costs_no_forward_pass() -> None:
    calls = {}
    for draws in (0, 50):
        net = _Counting()
        analysis = CKAAnalysis("m", ("first", "second"), "m", ("first", "second"),
                               bootstrap=draws)
        (out,) = passes.run([analysis], {"m": net}, _Probe(64), batch_size=16, device="cpu")
        calls[draws] = net.calls
        assert ("boot" in out) == (draws > 0)
    assert calls[0] == calls[50] == 4


def test_poisson_means_resample_a_stream_like_the_plain_bootstrap() -> None:
    """Fed in minibatches, the draws centre on the mean with the standard error's spread."""
    values = np.random.default_rng(3).normal(2.0, 1.0, size=(4000, 2))
    acc = resample.PoissonMeans(400, seed=1)
    for i in range(0, len(values), 256):
        acc.update(values[i:i + 256])
    draws = acc.result()
    assert draws.shape == (400, 2)
    np.testing.assert_allclose(draws.mean(0), values.mean(0), atol=0.01)
    np.testing.assert_allclose(draws.std(0), values.std(0) / np.sqrt(len(values)), rtol=0.2)
    with pytest.raises(ValueError, match="draws"):
        resample.PoissonMeans(0)
    with pytest.raises(RuntimeError, match="before any update"):
        resample.PoissonMeans(3).result()
