"""Streamed CKA between models against MinibatchCKA fed by hand, minibatch by minibatch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seelike import compare, grams, models, passes
from seelike.analyses import CKACurve
from seelike.cka import MinibatchCKA
from seelike.probe_sets import TensorProbe


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2),
                         nn.Flatten(), nn.Linear(6 * 3 * 3, 5)).eval()


def _by_hand(model: nn.Module, layers: list[int], x: torch.Tensor) -> list[torch.Tensor]:
    feats, out = [], x
    with torch.no_grad():
        for i, module in enumerate(model):
            out = module(out)
            if i in layers:
                feats.append(out.clone())
    return feats


@pytest.mark.parametrize("unbiased", [True, False])
def test_cka_matrix_equals_minibatch_cka_fed_by_hand(unbiased: bool) -> None:
    x = torch.rand(22, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    a, b = _net(0), _net(1)
    names, idx = ["0", "2", "4"], [0, 2, 4]
    ref_cross = MinibatchCKA(3, 3, unbiased=unbiased)
    ref_self = MinibatchCKA(3, unbiased=unbiased)
    for start in range(0, 20, 5):  # the last 2 examples make no full minibatch: dropped
        fa, fb = _by_hand(a, idx, x[start:start + 5]), _by_hand(b, idx, x[start:start + 5])
        ref_cross.update(fa, fb)
        ref_self.update(fa)
    probe = TensorProbe(x)
    cross = compare.cka_matrix(a, names, probe, model_b=b, batch_size=5, unbiased=unbiased,
                               device=torch.device("cpu"))
    within = compare.cka_matrix(a, names, probe, batch_size=5, unbiased=unbiased,
                                device=torch.device("cpu"))
    np.testing.assert_allclose(cross, ref_cross.compute(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(within, ref_self.compute(), rtol=0, atol=1e-12)
    assert not np.allclose(cross, within)


def test_too_few_examples_for_one_minibatch_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer than one minibatch"):
        compare.cka_matrix(_net(0), ["0"], TensorProbe(torch.rand(3, 3, 8, 8)), batch_size=4,
                           device=torch.device("cpu"))


def test_curve_full_batch_cka_streamed_in_slabs_equals_the_whole_layer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # On an accelerator the full-batch Grams are formed a slab of features at a time; here
    # that path runs on the CPU and must give what the whole-layer linear_cka gives.
    torch.manual_seed(3)
    nets = {"vit_cifar": models.build("vit_cifar"), "resnet_cifar": models.build("resnet_cifar")}
    probe = TensorProbe(torch.rand(24, 3, 32, 32))

    def full() -> np.ndarray:
        curve = CKACurve("vit_cifar", ("net.blocks.1", "net.blocks.11"), "resnet_cifar",
                         ("net.layer1.1", "net.layer4.1"))
        (out,) = passes.run([curve], nets, probe, batch_size=8, device="cpu")
        return out["full"]

    whole = full()
    monkeypatch.setattr(grams, "reads_back_freely", lambda device: False)
    np.testing.assert_allclose(full(), whole, rtol=1e-5)
