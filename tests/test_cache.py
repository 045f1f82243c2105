"""Tests for seelike.cache and the cached CKA requests of seelike.compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import seelike
from seelike import cache, compare, data, io, models, passes, plan


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


class Counter:
    def __init__(self, value: float = 1.0) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"m": np.full((2, 3), self.value), "names": np.array(["a", "b"])}


KEY = {"weights": "abc", "probe": "def", "params": {"batch": 32, "layers": ["x", "y"]}}


def test_version_is_exposed() -> None:
    assert seelike.__version__ == "0.1.0"


def test_miss_then_hit(tmp_cache: Path) -> None:
    compute = Counter()
    first = cache.cached("thing", KEY, compute)
    second = cache.cached("thing", json.loads(json.dumps(KEY)), compute)  # equal, not same
    assert compute.calls == 1
    np.testing.assert_array_equal(first["m"], second["m"])
    assert list(second["names"]) == ["a", "b"]
    assert cache.is_cached("thing", KEY)
    assert cache.load("thing", KEY)["m"].shape == (2, 3)
    assert cache.load("thing", {**KEY, "probe": "other"}) is None
    files = list(tmp_cache.rglob("*"))
    assert [f.name for f in files if f.is_file()] == [cache.cache_path("thing", KEY).name]
    assert cache.cache_path("thing", KEY).parent == tmp_cache / "thing"


def test_tuples_and_numpy_scalars_key_like_lists_and_numbers() -> None:
    a = {"layers": ("x", "y"), "n": np.int64(3), "f": np.float64(0.5)}
    b = {"n": 3, "layers": ["x", "y"], "f": 0.5}  # another order too
    assert cache.cache_path("t", a) == cache.cache_path("t", b)
    with pytest.raises(TypeError, match="JSON"):
        cache.cache_path("t", {"bad": object()})


@pytest.mark.parametrize("change", [
    {"weights": "abd"},                                  # model weights
    {"probe": "deg"},                                    # probe-set sample IDs
    {"params": {"batch": 64, "layers": ["x", "y"]}},     # a parameter
    {"params": {"batch": 32, "layers": ["y", "x"]}},     # the layers, order included
])
def test_every_key_part_matters(change: dict) -> None:
    compute = Counter()
    cache.cached("thing", KEY, compute)
    cache.cached("thing", {**KEY, **change}, compute)
    assert compute.calls == 2
    assert cache.cached("thing", KEY, compute) and compute.calls == 2  # the old entry survives


def test_name_and_library_version_are_in_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    compute = Counter()
    cache.cached("thing", KEY, compute)
    cache.cached("other", KEY, compute)
    assert compute.calls == 2
    monkeypatch.setattr(cache, "__version__", "9.9.9")
    cache.cached("thing", KEY, compute)
    assert compute.calls == 3
    with pytest.raises(ValueError, match="folder"):
        cache.cache_path("../x", KEY)


def test_failed_write_leaves_no_file(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.cached("thing", KEY, Counter())
    assert not [f for f in tmp_cache.rglob("*") if f.is_file()]  # no result, no temp file
    monkeypatch.undo()
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_cache))
    compute = Counter()
    cache.cached("thing", KEY, compute)
    assert compute.calls == 1  # nothing half-written was taken for a hit


def test_failed_compute_writes_nothing(tmp_cache: Path) -> None:
    def fails() -> dict[str, np.ndarray]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.cached("thing", KEY, fails)
    assert not cache.is_cached("thing", KEY)
    assert not [f for f in tmp_cache.rglob("*") if f.is_file()]


def test_corrupt_or_foreign_file_is_recomputed() -> None:
    compute = Counter(1.0)
    cache.cached("thing", KEY, compute)
    path = cache.cache_path("thing", KEY)
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.warns(RuntimeWarning, match="unreadable"):
        again = cache.cached("thing", KEY, Counter(2.0))
    assert again["m"][0, 0] == 2.0
    other = {**KEY, "weights": "zzz"}
    cache.cached("thing", other, Counter(3.0))
    shutil.copy(cache.cache_path("thing", other), path)  # a file under the wrong name
    with pytest.warns(RuntimeWarning, match="another key"):
        assert cache.cached("thing", KEY, Counter(4.0))["m"][0, 0] == 4.0


# --- fingerprints --------------------------------------------------------------------------------


def test_zoo_fingerprint_follows_the_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(models.manifest_path("vit_cifar"), folder)
    before = cache.model_fingerprint("vit_cifar", directory=folder)
    assert before == cache.model_fingerprint("vit_cifar", directory=folder)
    assert before != cache.model_fingerprint("vit_cifar_data10")
    manifest = json.loads((folder / "vit_cifar.json").read_text())
    manifest["sha256"] = "0" * 64  # retrained weights
    (folder / "vit_cifar.json").write_text(json.dumps(manifest))
    assert cache.model_fingerprint("vit_cifar", directory=folder) != before
    aka = cache.model_fingerprint("resnet56_akamaster")
    assert len(aka) == 64 and aka != before


def test_state_fingerprint_changes_with_any_weight() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    fp = cache.state_fingerprint(net)
    twin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    twin.load_state_dict(net.state_dict())
    assert cache.state_fingerprint(twin) == fp
    with torch.no_grad():
        twin[0].weight[1, 2] += 1e-6
    assert cache.state_fingerprint(twin) != fp
    twin.load_state_dict(net.state_dict())
    twin[1].running_mean += 1  # buffers count too
    assert cache.state_fingerprint(twin) != fp


def test_probe_fingerprint_is_the_ids(mirror: Path) -> None:
    a = data.probe_set("smoke", "cka", seed=0)
    assert cache.probe_fingerprint(a) == cache.probe_fingerprint(data.probe_set("smoke", "cka"))
    assert cache.probe_fingerprint(a) != cache.probe_fingerprint(
        data.probe_set("smoke", "cka", seed=1))
    assert cache.probe_fingerprint(a) != cache.probe_fingerprint(data.probe_set("cifar", "cka"))


# --- cached CKA ----------------------------------------------------------------------------------

VIT_LAYERS = ["net.blocks.0", "net.blocks.11"]
RESNET_LAYERS = ["net.layer1.0", "net.layer4.1"]


def test_cached_cka_matches_cka_matrix_and_hits(mirror: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    real_load = models.load
    monkeypatch.setattr(models, "load", lambda name: loads.append(name) or real_load(name))
    # The book's plan would join the pass (tests/test_passes.py covers that); here: the cache.
    monkeypatch.setattr(plan, "analyses", lambda *args, **kwargs: [])
    within, crossed = compare.cached_cka_many("smoke", [
        compare.CKARequest("vit_cifar", VIT_LAYERS),
        compare.CKARequest("vit_cifar", VIT_LAYERS, "resnet_cifar", RESNET_LAYERS)])
    assert sorted(loads) == ["resnet_cifar", "vit_cifar"]  # each model loaded (and run) once
    probe = data.probe_set("smoke", "cka")
    vit, resnet = real_load("vit_cifar"), real_load("resnet_cifar")
    np.testing.assert_allclose(within, compare.cka_matrix(vit, VIT_LAYERS, probe, batch_size=32),
                               atol=1e-12)
    np.testing.assert_allclose(crossed, compare.cka_matrix(
        vit, VIT_LAYERS, probe, model_b=resnet, layers_b=RESNET_LAYERS, batch_size=32),
        atol=1e-12)

    def no_compute(*args: object, **kwargs: object) -> None:
        raise AssertionError("should have been served from the cache")

    monkeypatch.setattr(passes, "run", no_compute)
    np.testing.assert_array_equal(
        compare.cached_cka("smoke", "vit_cifar", VIT_LAYERS, "resnet_cifar", RESNET_LAYERS),
        crossed)
    # A different probe seed, minibatch size or estimator is a different request.
    for kwargs in ({"repeat": 1}, {"batch_size": 16}, {"unbiased": False}):
        with pytest.raises(AssertionError, match="cache"):
            compare.cached_cka("smoke", "vit_cifar", VIT_LAYERS, **kwargs)


def test_cka_cache_key_parts(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = compare.CKARequest("vit_cifar", VIT_LAYERS)
    key = compare.cka_cache_key("smoke", request)
    assert key["params"]["model_b"] == "vit_cifar" and key["params"]["layers_b"] == VIT_LAYERS
    assert key["weights"] == {"vit_cifar": cache.model_fingerprint("vit_cifar")}
    assert key["batch_size"] == 32 and key["examples"] == 64
    monkeypatch.setattr(cache, "model_fingerprint", lambda name: "retrained")
    assert compare.cka_cache_key("smoke", request)["weights"] == {"vit_cifar": "retrained"}
    assert compare.CKARequest("vit_cifar").resolved()[1] == tuple(
        compare.layer_names("vit_cifar"))
