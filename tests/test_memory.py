"""Tests for seelike.memory: a pass's memory from shapes, and the refusal before it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seelike import memory, models, passes
from seelike.analyses import CKARequest, analysis_of
from seelike.probe_sets import TensorProbe
from seelike.taps import Tap


def test_pass_bytes_counts_kept_layers_streamed_ones_and_grams_from_shapes() -> None:
    blocks = [Tap(f"net.blocks.{i}") for i in range(12)]
    block = 8 * 65 * 192 * 4  # one block output: 65 tokens x 192 floats per image
    held = memory.pass_bytes({"vit_cifar": (blocks, [], 12), "resnet_cifar": ([], [], 3)}, 8, 32)
    # 12 kept block outputs, then 12 and 15 float64 Grams of 8 x 8.
    assert held["vit_cifar"] == 12 * block + 12 * 8 * 8 * 8
    assert held["resnet_cifar"] == 15 * 8 * 8 * 8
    # Streamed layers pass two at a time, however many there are.
    streamed = memory.pass_bytes({"vit_cifar": (blocks[:1], blocks[1:], 12)}, 8, 32)
    assert streamed["vit_cifar"] == 3 * block + 12 * 8 * 8 * 8
    # Kept layers whose analyses share a copy of them (Batch.shared) count twice.
    shared = memory.pass_bytes({"vit_cifar": (blocks, [], 12, blocks[:2])}, 8, 32)
    assert shared["vit_cifar"] == 14 * block + 12 * 8 * 8 * 8
    assert memory.pass_bytes({"my own module": (blocks, [], 1)}, 8, 32) == {
        "my own module": 64 * 8}


def test_pass_bytes_builds_each_model_once_until_a_catalogue_is_registered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from seelike import catalogue

    builds = []
    real = catalogue.meta_build
    monkeypatch.setattr(catalogue, "meta_build", lambda name: builds.append(name) or real(name))
    memory._one_image.cache_clear()
    needs = {"vit_cifar": ([Tap("net.blocks.0")], [], 0)}
    first = memory.pass_bytes(needs, 8, 32)
    assert memory.pass_bytes(needs, 8, 32) == first and builds == ["vit_cifar"]
    # One image's sizes serve every minibatch size: no second build for another.
    assert memory.pass_bytes(needs, 16, 32)["vit_cifar"] == 2 * first["vit_cifar"]
    assert builds == ["vit_cifar"]
    # A new catalogue may build the name differently: the sizes are read again.
    monkeypatch.setattr(catalogue, "generation", lambda: -1)
    assert memory.pass_bytes(needs, 8, 32) == first and builds.count("vit_cifar") == 2


def test_a_pass_that_does_not_fit_is_refused_before_any_forward_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    net = models.build("vit_cifar")
    calls = []
    net.register_forward_pre_hook(lambda *_: calls.append(1))
    analysis = passes.accumulator_of(analysis_of(CKARequest("vit_cifar")))
    probe = TensorProbe(torch.rand(16, 3, 32, 32))
    # Free memory enough for a minibatch of 8 but not of 16: the layers stream into Grams.
    specs = analysis.needs("vit_cifar", net).grams
    needs = {"vit_cifar": ([], [s.tap for s in specs], len(specs))}
    free = (memory.pass_bytes(needs, 8, 32)["vit_cifar"] + analysis.state_bytes(8, 32)
            ) / memory.HEADROOM * 1.01
    assert memory.pass_bytes(needs, 16, 32)["vit_cifar"] > memory.HEADROOM * free
    monkeypatch.setattr(memory, "available_bytes", lambda device: free)
    with pytest.raises(memory.PassTooLarge,
                       match=r"while vit_cifar runs a minibatch of 16 images of 32 px.*"
                             r"lower the minibatch size to 8 or less"):
        passes.run([analysis], {"vit_cifar": net}, probe, batch_size=16, device="cpu")
    assert not calls
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**40)
    (out,) = passes.run([analysis], {"vit_cifar": net}, probe, batch_size=8, device="cpu")
    assert np.isfinite(out["cka"]).all() and calls


def test_available_bytes_reads_the_host_or_says_it_cannot() -> None:
    free = memory.available_bytes(torch.device("cpu"))
    assert free is None or free > 0
    assert memory.available_bytes(torch.device("meta")) is None


def test_bootstrap_draws_count_in_the_memory_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # Memory enough for the pass and its CKA sums, not for 10,000 bootstrap draws of them.
    net = models.build("vit_cifar")
    plain = passes.accumulator_of(analysis_of(CKARequest("vit_cifar")))
    drawn = passes.accumulator_of(analysis_of(CKARequest("vit_cifar"), bootstrap=10_000))
    probe = TensorProbe(torch.rand(8, 3, 32, 32))
    specs = plain.needs("vit_cifar", net).grams
    needs = {"vit_cifar": ([], [s.tap for s in specs], len(specs))}
    free = (memory.pass_bytes(needs, 8, 32)["vit_cifar"] + plain.state_bytes(8, 32)
            ) / memory.HEADROOM * 1.5
    assert drawn.state_bytes(8, 32) > 100 * plain.state_bytes(8, 32)
    monkeypatch.setattr(memory, "available_bytes", lambda device: free)
    with pytest.raises(memory.PassTooLarge, match="keep fewer bootstrap draws"):
        passes.run([drawn], {"vit_cifar": net}, probe, batch_size=8, device="cpu")
    (out,) = passes.run([plain], {"vit_cifar": net}, probe, batch_size=8, device="cpu")
    assert np.isfinite(out["cka"]).all()


def test_torch_tensors_are_on_huge_pages_where_the_kernel_offers_them() -> None:
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not setting.exists() or "[never]" in setting.read_text():
        pytest.skip("this kernel offers no transparent huge pages")
    code = ("import seelike, torch\n"
            "x = torch.ones(64, 1024, 1024)\n"
            "print(next(int(l.split()[1]) for l in open('/proc/self/smaps_rollup')"
            " if l.startswith('AnonHugePages')))")
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    huge = int(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                              capture_output=True, text=True).stdout)
    assert huge >= 128 * 1024  # kB: most of the 256 MiB tensor
    off = int(subprocess.run([sys.executable, "-c", code], env={**env, "THP_MEM_ALLOC_ENABLE": "0"},
                             check=True, capture_output=True, text=True).stdout)
    assert off < huge
