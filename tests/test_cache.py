"""Tests for seelike.cache and the book's cached CKA requests (seelike.book.results)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch

import seelike
from seelike import analyses, cache, compare, io, layers, models, passes, weights, zoo
from seelike.book import results, schedule, store
from seelike.book.images import probe_set
from seelike.book.presets import get_preset


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


CODE = "seelike.compare"  # any real module: the code a result is keyed to
KEY = {"weights": "abc", "probe": "def", "params": {"batch": 32, "layers": ["x", "y"]}}


def test_version_in_the_key_is_the_installed_package_s() -> None:
    assert seelike.__version__ == metadata.version("seelike")


def test_miss_then_hit(tmp_cache: Path) -> None:
    compute = Counter()
    first = cache.cached("thing", KEY, compute, code=CODE)
    # An equal key, not the same object:
    second = cache.cached("thing", json.loads(json.dumps(KEY)), compute, code=CODE)
    assert compute.calls == 1
    np.testing.assert_array_equal(first["m"], second["m"])
    assert list(second["names"]) == ["a", "b"]
    assert cache.is_cached("thing", KEY, CODE)
    assert cache.load("thing", KEY, CODE)["m"].shape == (2, 3)
    assert cache.load("thing", {**KEY, "probe": "other"}, CODE) is None
    files = list(tmp_cache.rglob("*"))
    assert [f.name for f in files if f.is_file()] == [cache.cache_path("thing", KEY, CODE).name]
    assert cache.cache_path("thing", KEY, CODE).parent == tmp_cache / "thing"


def test_tuples_and_numpy_scalars_key_like_lists_and_numbers() -> None:
    a = {"layers": ("x", "y"), "n": np.int64(3), "f": np.float64(0.5)}
    b = {"n": 3, "layers": ["x", "y"], "f": 0.5}  # another order too
    assert cache.cache_path("t", a, CODE) == cache.cache_path("t", b, CODE)
    with pytest.raises(TypeError, match="JSON"):
        cache.cache_path("t", {"bad": object()}, CODE)


@pytest.mark.parametrize("change", [
    {"weights": "abd"},                                  # model weights
    {"probe": "deg"},                                    # probe-set sample IDs
    {"params": {"batch": 64, "layers": ["x", "y"]}},     # a parameter
    {"params": {"batch": 32, "layers": ["y", "x"]}},     # the layers, order included
])
def test_every_key_part_matters(change: dict) -> None:
    compute = Counter()
    cache.cached("thing", KEY, compute, code=CODE)
    cache.cached("thing", {**KEY, **change}, compute, code=CODE)
    assert compute.calls == 2
    cache.cached("thing", KEY, compute, code=CODE)
    assert compute.calls == 2  # the old entry survives


def test_name_and_library_version_are_in_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    compute = Counter()
    cache.cached("thing", KEY, compute, code=CODE)
    cache.cached("other", KEY, compute, code=CODE)
    assert compute.calls == 2
    monkeypatch.setattr(cache, "__version__", "9.9.9")
    cache.cached("thing", KEY, compute, code=CODE)
    assert compute.calls == 3
    with pytest.raises(ValueError, match="folder"):
        cache.cache_path("../x", KEY, CODE)


def test_failed_write_leaves_no_file(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", broken_replace)
    # The result is still returned, with a warning saying it was not kept and how to fix it.
    with pytest.warns(UserWarning, match="not cached.*disk full.*SEELIKE_CACHE"):
        got = cache.cached("thing", KEY, Counter(), code=CODE)
    np.testing.assert_array_equal(got["m"], np.full((2, 3), 1.0))
    assert not [f for f in tmp_cache.rglob("*") if f.is_file()]  # no result, no temp file
    monkeypatch.undo()
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_cache))
    compute = Counter()
    cache.cached("thing", KEY, compute, code=CODE)
    assert compute.calls == 1  # nothing half-written was taken for a hit


def test_failed_compute_writes_nothing(tmp_cache: Path) -> None:
    def fails() -> dict[str, np.ndarray]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.cached("thing", KEY, fails, code=CODE)
    assert not cache.is_cached("thing", KEY, CODE)
    assert not [f for f in tmp_cache.rglob("*") if f.is_file()]


def test_corrupt_or_foreign_file_is_recomputed() -> None:
    compute = Counter(1.0)
    cache.cached("thing", KEY, compute, code=CODE)
    path = cache.cache_path("thing", KEY, CODE)
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.warns(RuntimeWarning, match="unreadable"):
        again = cache.cached("thing", KEY, Counter(2.0), code=CODE)
    assert again["m"][0, 0] == 2.0
    other = {**KEY, "weights": "zzz"}
    cache.cached("thing", other, Counter(3.0), code=CODE)
    shutil.copy(cache.cache_path("thing", other, CODE), path)  # a file under the wrong name
    with pytest.warns(RuntimeWarning, match="another key"):
        assert cache.cached("thing", KEY, Counter(4.0), code=CODE)["m"][0, 0] == 4.0


# --- fingerprints --------------------------------------------------------------------------------


def test_zoo_fingerprint_follows_the_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(weights.manifest_path("vit_cifar"), folder)
    before = models.fingerprint("vit_cifar", directory=folder)
    assert before == models.fingerprint("vit_cifar", directory=folder)
    assert before != models.fingerprint("vit_cifar_data10")
    manifest = json.loads((folder / "vit_cifar.json").read_text())
    manifest["sha256"] = "0" * 64  # retrained weights
    (folder / "vit_cifar.json").write_text(json.dumps(manifest))
    assert models.fingerprint("vit_cifar", directory=folder) != before
    aka = models.fingerprint("resnet56_akamaster")
    assert len(aka) == 64 and aka != before
    # The engine asks the zoo through the catalogue and gets the same digest.
    assert cache.model_fingerprint("vit_cifar") == models.fingerprint("vit_cifar")


def test_the_zoo_fingerprint_follows_the_code_that_builds_the_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine never imports the zoo, so an analysis's code closure misses the builders:
    # the model's fingerprint carries them, or a changed builder would be served old results.
    before = models.fingerprint("vit_cifar_gap")
    monkeypatch.setattr(models, "code_fingerprint", lambda module: f"edited {module}")
    assert models.fingerprint("vit_cifar_gap") != before
    # The display colour is not part of what was trained.
    assert "colour" not in zoo.spec_dict(zoo.spec_of("vit_cifar_gap"))


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
    smoke = get_preset("smoke")
    a = probe_set(smoke, "cka", seed=0)
    assert cache.probe_fingerprint(a) == cache.probe_fingerprint(probe_set(smoke, "cka"))
    assert cache.probe_fingerprint(a) != cache.probe_fingerprint(probe_set(smoke, "cka", seed=1))
    assert cache.probe_fingerprint(a) != cache.probe_fingerprint(
        probe_set(get_preset("cifar"), "cka"))


# --- the code a result is keyed to ---------------------------------------------------------------


def test_code_is_a_required_part_of_the_key() -> None:
    with pytest.raises(TypeError, match="code"):
        cache.cached("thing", KEY, Counter())  # type: ignore[call-arg]
    assert cache.cache_path("thing", KEY, "seelike.compare") != cache.cache_path(
        "thing", KEY, "seelike.attention")
    with pytest.raises(ValueError, match="module"):
        cache.code_fingerprint("seelike.no_such_module")


def test_compare_closure_is_the_engine_not_the_book() -> None:
    closure = cache.code_closure(["seelike.compare"])
    assert {"seelike", "seelike.compare", "seelike.cka", "seelike.hooks", "seelike.passes",
            "seelike.layers"} <= set(closure)
    assert not [m for m in closure if m.startswith("seelike.book")]
    # Nor any module a claim, a plot or the runner lives in.
    assert not {"seelike.structure", "seelike.train"} & set(closure)


def test_editing_the_book_leaves_engine_fingerprints(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit to a book-layer file keeps ``seelike.compare``'s cached results warm."""
    real = cache._module_file
    before = cache.code_fingerprint("seelike.compare")
    edited = tmp_path / "plan.py"
    edited.write_text(real("seelike.book.plan").read_text() + "\n# an edit\n")
    monkeypatch.setattr(cache, "_module_file",
                        lambda m: edited if m == "seelike.book.plan" else real(m))
    cache.code_fingerprint.cache_clear()
    try:
        assert cache.code_fingerprint("seelike.book.plan") != before  # the edit is seen ...
        assert cache.code_fingerprint("seelike.compare") == before    # ... but not by compare
    finally:
        cache.code_fingerprint.cache_clear()


FAKE = {  # modules of a small fake part of the tree: top imports mid, mid imports leaf
    "seelike.fake_top": "from seelike import fake_mid\n",
    "seelike.fake_mid": "from seelike.fake_leaf import VALUE\n",
    "seelike.fake_leaf": "VALUE = 1\n",
    "seelike.fake_other": "VALUE = 2\n",
}


@pytest.fixture
def fake_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """``FAKE`` as files in tmp_path, found by cache's module lookup beside the real tree."""
    files = {}
    for name, text in FAKE.items():
        files[name] = tmp_path / f"{name}.py"
        files[name].write_text(text)
    real = cache._module_file
    monkeypatch.setattr(cache, "_module_file", lambda m: files.get(m) or real(m))
    cache.code_fingerprint.cache_clear()
    yield files
    cache.code_fingerprint.cache_clear()


def test_code_closure_follows_imports_transitively(fake_modules: dict[str, Path]) -> None:
    assert cache.code_closure(["seelike.fake_top"]) == [
        "seelike", "seelike.fake_leaf", "seelike.fake_mid", "seelike.fake_top"]
    assert cache.code_closure(["seelike.fake_other"]) == ["seelike", "seelike.fake_other"]


@pytest.mark.parametrize("edited, changes", [
    ("seelike.fake_leaf", True), ("seelike.fake_mid", True), ("seelike.fake_top", True),
    ("seelike.fake_other", False)])
def test_fingerprint_changes_with_the_closure_only(fake_modules: dict[str, Path], edited: str,
                                                   changes: bool) -> None:
    before = cache.code_fingerprint("seelike.fake_top")
    assert cache.code_fingerprint("seelike.fake_top") == before  # deterministic
    path = fake_modules[edited]
    path.write_text(path.read_text() + "# edited\n")
    cache.code_fingerprint.cache_clear()
    assert (cache.code_fingerprint("seelike.fake_top") != before) is changes


# --- cached CKA ----------------------------------------------------------------------------------

VIT_LAYERS = ["net.blocks.0", "net.blocks.11"]
RESNET_LAYERS = ["net.layer1.0", "net.layer4.1"]


def test_cached_cka_matches_cka_matrix_and_hits(mirror: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    smoke = get_preset("smoke")
    loads: list[str] = []
    real_load = models.load
    monkeypatch.setattr(models, "load", lambda name: loads.append(name) or real_load(name))
    # The book's plan would join the pass (tests/test_passes.py covers that); here: the cache.
    monkeypatch.setattr(schedule, "analyses", lambda *args, **kwargs: [])
    within, crossed = results.cka_many(smoke, [
        analyses.CKARequest("vit_cifar", VIT_LAYERS),
        analyses.CKARequest("vit_cifar", VIT_LAYERS, "resnet_cifar", RESNET_LAYERS)])
    assert sorted(loads) == ["resnet_cifar", "vit_cifar"]  # each model loaded (and run) once
    probe = probe_set(smoke, "cka")
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
        results.cka(smoke, "vit_cifar", VIT_LAYERS, "resnet_cifar", RESNET_LAYERS), crossed)
    # A different probe seed, minibatch size or estimator is a different request.
    for kwargs in ({"repeat": 1}, {"batch_size": 16}, {"unbiased": False}):
        with pytest.raises(AssertionError, match="cache"):
            results.cka(smoke, "vit_cifar", VIT_LAYERS, **kwargs)


def test_cka_cache_key_parts(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    smoke = get_preset("smoke")
    analysis = analyses.analysis_of(analyses.CKARequest("vit_cifar", VIT_LAYERS))
    assert passes.code_of(analysis) == "seelike.compare"
    key = passes.cache_key(analysis, probe_set(smoke, "cka"), schedule.batch_size(smoke, "cka"))
    assert key["params"]["model_b"] == "vit_cifar" and key["params"]["layers_b"] == VIT_LAYERS
    assert key["weights"] == {"vit_cifar": cache.model_fingerprint("vit_cifar")}
    assert key["batch_size"] == 32 and key["examples"] == 64
    ident = store.result_id(smoke, analysis, purpose="cka", batch_size=32)
    assert ident == cache.cache_path(analysis.name, key, "seelike.compare").stem
    assert not cache.is_cached(analysis.name, key, "seelike.compare")
    monkeypatch.setattr(cache, "model_fingerprint", lambda name: "retrained")
    retrained = passes.cache_key(analysis, probe_set(smoke, "cka"), 32)
    assert retrained["weights"] == {"vit_cifar": "retrained"}
    assert store.result_id(smoke, analysis, purpose="cka", batch_size=32) != ident
    assert analyses.CKARequest("vit_cifar").resolved()[1] == tuple(
        layers.layer_names("vit_cifar"))
