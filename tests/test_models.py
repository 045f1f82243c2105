"""Tests for seelike.models: the shipped cifar zoo, weight verification, the paper preset's names.

Accuracy is measured here, independently of the training code: an always-on
check that each manifest's recorded accuracy holds on a 500-image slice of the
verified test split, and (marked ``slow``) the issue's floors on all 10,000 images.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pooch
import pytest
import requests
import timm
import torch
from timm.models.vision_transformer import Block

from seelike import data, models, network, weights, zoo
from seelike.book.presets import PRESETS, zoo_models

CIFAR_ZOO = [n for n, s in zoo.ZOO.items() if s.family != "akamaster"]
# The accuracy floors (%) that the zoo must reach on the full CIFAR-10 test split.
FLOORS = {"resnet_cifar": 93, "vit_cifar": 80, "vit_cifar_gap": 80, "mixer_cifar": 75,
          "resnet56_akamaster": 93}
CHEAP_PAPER = ["vit_base_patch32_224.augreg_in21k", "resnetv2_50x1_bit.goog_in21k",
               "mixer_b16_224.goog_in21k"]
SLICE_FRACTION = 0.05  # 500 of the 10,000 test images, 50 per class
Z = 4.0  # a 4-sigma binomial band: a false alarm about once in 16,000 comparisons


_LOADED: dict[str, network.ImageClassifier] = {}


def _load(name: str) -> network.ImageClassifier:
    """Loaded once per test session: several tests read the same trained models."""
    if name not in _LOADED:
        _LOADED[name] = models.load(name)
    return _LOADED[name]


@torch.inference_mode()
def _accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 250) -> float:
    """Top-1 accuracy (%) on uint8 NHWC images, written here rather than taken from train."""
    correct = 0
    for i in range(0, len(x), batch):
        imgs = torch.from_numpy(x[i:i + batch]).permute(0, 3, 1, 2).float() / 255
        correct += int((model(imgs).argmax(1).numpy() == y[i:i + batch]).sum())
    return 100 * correct / len(x)


@pytest.fixture(scope="module")
def test_split(mirror: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y, _ = data.cifar10("test")
    return x, y


# --- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_model_loads_offline_in_eval_mode(name: str, mirror: Path) -> None:
    model = _load(name)
    assert isinstance(model, network.ImageClassifier)
    assert not any(m.training for m in model.modules())
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 10) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_a_loaded_model_is_its_file_s_weights_in_a_built_tree(name: str, mirror: Path) -> None:
    # load builds on the meta device and assigns the file's tensors: the same model, to the
    # bit, as initialising one and copying the weights in, with nothing left on the meta device.
    loaded = models.load(name)
    spec = zoo.spec_of(name)
    state = (weights.akamaster_state(spec.arch["depth"]) if spec.family == "akamaster"
             else weights.shipped_state(name))
    copied = models.build(name)
    copied.net.load_state_dict(state)
    assert not any(t.is_meta for t in (*loaded.parameters(), *loaded.buffers()))
    assert all(p.requires_grad for p in loaded.parameters())
    for (k, a), (j, b) in zip(loaded.state_dict().items(), copied.state_dict().items(),
                              strict=True):
        assert k == j and a.dtype == b.dtype and a.stride() == b.stride() and torch.equal(a, b)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded(x), copied(x))


@pytest.mark.parametrize("name", CIFAR_ZOO + [v for n in zoo.SEEDS
                                              for v in zoo.seed_variants(n)[1:]])
def test_manifest_describes_the_current_spec(name: str) -> None:
    manifest = weights.read_manifest(name)
    assert manifest["name"] == name
    assert manifest["sha256"] == weights.sha256_file(weights.weights_path(name))
    assert manifest["spec"] == zoo.spec_dict(zoo.spec_of(name))


def _copy_zoo_entry(name: str, directory: Path, *, with_weights: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(weights.manifest_path(name), directory)
    if with_weights:
        shutil.copy(weights.weights_path(name), directory)


def test_corrupt_weights_are_refused_with_remedy(tmp_path: Path) -> None:
    name = "mixer_cifar"
    _copy_zoo_entry(name, tmp_path)
    models.load(name, directory=tmp_path)  # the intact copy loads: the set-up is right
    path = weights.weights_path(name, tmp_path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupt") as err:
        models.load(name, directory=tmp_path)
    assert weights.sha256_file(path) in str(err.value)
    assert f"python -m seelike.train {name}" in str(err.value)


def test_missing_weights_or_manifest_say_how_to_retrain(tmp_path: Path) -> None:
    name = "vit_cifar"
    with pytest.raises(FileNotFoundError, match=f"python -m seelike.train {name}"):
        models.load(name, directory=tmp_path)
    _copy_zoo_entry(name, tmp_path, with_weights=False)
    with pytest.raises(FileNotFoundError, match="missing") as err:
        models.load(name, directory=tmp_path)
    assert str(weights.weights_path(name, tmp_path)) in str(err.value)
    assert f"python -m seelike.train {name}" in str(err.value)


def test_unknown_model_lists_the_zoo() -> None:
    with pytest.raises(KeyError) as err:
        models.load("vit_cifar_huge")
    assert all(name in str(err.value) for name in zoo.ZOO)


def test_akamaster_offline_and_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       mirror: Path) -> None:
    monkeypatch.setenv("SEELIKE_DATA", str(tmp_path))

    def offline(url: str, *args: object, **kwargs: object) -> str:
        raise requests.exceptions.ConnectionError(f"Failed to resolve host of {url}")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(FileNotFoundError, match="SEELIKE_DATA") as err:
        models.load("resnet56_akamaster")
    file, sha = weights.AKAMASTER_FILES[56]
    assert weights.AKAMASTER_URL.format(file=file) in str(err.value)
    folder = tmp_path / "weights" / "akamaster-resnet-cifar10"
    folder.mkdir(parents=True)
    raw = bytearray((mirror / "weights" / "akamaster-resnet-cifar10" / file).read_bytes())
    raw[-100] ^= 0x01
    (folder / file).write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=sha):
        models.load("resnet56_akamaster")


# --- presets -----------------------------------------------------------------------------------


def test_zoo_models_per_preset() -> None:
    assert zoo_models(PRESETS["cifar"]) == zoo_models(PRESETS["smoke"]) == list(zoo.ZOO)
    assert zoo_models(PRESETS["paper"]) == list(zoo.PAPER_MODELS)
    for preset in PRESETS.values():
        names = zoo_models(preset)
        assert {preset.vit, preset.vit_gap, preset.resnet, preset.mixer} <= set(names)


@pytest.mark.parametrize("name", [*zoo.ZOO, "vit_base_patch32_224.augreg_in21k"])
def test_meta_build_is_the_module_tree_without_weights(name: str) -> None:
    # Zoo ViTs are meta-built without initialisation (weight_init="skip"): the module tree,
    # shapes and dtypes may not differ from a real build.
    meta = models.meta_build(name)
    real = models.build_paper(name) if name in zoo.PAPER_MODELS else models.build(name)
    assert ([(n, type(m), m.training) for n, m in meta.named_modules()]
            == [(n, type(m), m.training) for n, m in real.named_modules()])

    def tensors(model: torch.nn.Module) -> dict[str, tuple[torch.Size, torch.dtype, bool]]:
        return {n: (t.shape, t.dtype, t.requires_grad)
                for n, t in (*model.named_parameters(), *model.named_buffers())}

    assert tensors(meta) == tensors(real)
    assert all(t.is_meta for t in (*meta.parameters(), *meta.buffers()))


def test_zoo_vits_are_meta_built_without_initialising(monkeypatch: pytest.MonkeyPatch) -> None:
    from timm.models.vision_transformer import VisionTransformer

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a meta build initialised its weights")

    monkeypatch.setattr(VisionTransformer, "init_weights", refuse)
    models.meta_build("vit_cifar")
    with pytest.raises(AssertionError, match="initialised"):
        models.build("vit_cifar")  # a real build still initialises
    with pytest.raises(ValueError, match="meta device"):
        models.build_net(zoo.spec_of("vit_cifar"), initialise=False)


def test_default_device_is_the_gpu_if_any() -> None:
    assert network.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_paper_model_names_exist_in_timm() -> None:
    pretrained = set(timm.list_pretrained())
    assert set(zoo.PAPER_MODELS) <= pretrained


@pytest.mark.parametrize("name", CHEAP_PAPER)
def test_build_paper_offline(name: str) -> None:
    torch.manual_seed(0)
    model = models.build_paper(name)
    cfg = timm.models.get_pretrained_cfg(name)
    assert not model.training
    assert model.normalize.mean.flatten().tolist() == pytest.approx(list(cfg.mean))
    assert model.normalize.std.flatten().tolist() == pytest.approx(list(cfg.std))
    with torch.no_grad():
        out = model(torch.rand(1, 3, 224, 224))
    assert out.shape == (1, cfg.num_classes)


# --- accuracy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_recorded_accuracy_holds_on_a_slice(name: str,
                                            test_split: tuple[np.ndarray, np.ndarray]) -> None:
    """The slice's accuracy is within Z binomial standard errors of the full-split figure.

    Zoo models are compared with their manifest's ``test_accuracy``; the external
    ResNet-56, which has no manifest, with its floor (one-sided).
    """
    x, y = test_split
    idx = data.class_balanced_subset(y, SLICE_FRACTION, seed=0)
    measured = _accuracy(_load(name), x[idx], y[idx])
    recorded = (weights.read_manifest(name)["test_accuracy"] if name in CIFAR_ZOO
                else FLOORS[name])
    p, n, big_n = recorded / 100, len(idx), len(y)
    # Finite-population correction: the slice is drawn without replacement from the split.
    se = 100 * math.sqrt(p * (1 - p) / n * (big_n - n) / (big_n - 1))
    if name in CIFAR_ZOO:
        assert abs(measured - recorded) <= Z * se, (name, measured, recorded)
    else:
        assert measured >= recorded - Z * se, (name, measured, recorded)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FLOORS))
def test_full_test_split_accuracy_floor(name: str,
                                        test_split: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = test_split
    assert _accuracy(_load(name), x, y) >= FLOORS[name]


# --- training seeds (Chapter 3's seed table) ------------------------------------------------------

SEED_VARIANTS = [v for name in zoo.SEEDS for v in zoo.seed_variants(name)[1:]]


@pytest.mark.parametrize("variant", SEED_VARIANTS)
def test_seed_variant_loads_and_records_its_seed(variant: str) -> None:
    base, seed = zoo.split_seed(variant)
    manifest = weights.read_manifest(variant)
    assert seed > 0 and manifest["seed"] == seed == zoo.spec_of(variant).seed
    # Replayed step for step from the seed-0 run: the seeds differ in the seed alone.
    assert manifest["steps"] == weights.read_manifest(base)["steps"]
    assert manifest["recipe"] == weights.read_manifest(base)["recipe"]
    model = _load(variant)
    assert list(model.net.state_dict()) == list(_load(base).net.state_dict())
    # Trained from another initialisation: every learned tensor differs (BatchNorm's step
    # counter, an integer, is the same by construction).
    pairs = zip(model.net.state_dict().values(), _load(base).net.state_dict().values(),
                strict=True)
    differs = [not torch.equal(a, b) for a, b in pairs if a.is_floating_point()]
    assert differs and all(differs)


@pytest.mark.slow
@pytest.mark.parametrize("variant", SEED_VARIANTS)
def test_seed_variant_scores_like_seed_zero(variant: str,
                                           test_split: tuple[np.ndarray, np.ndarray]) -> None:
    """Each seed is within 1.5 points of its seed-0 model on the full lossless test split."""
    x, y = test_split
    base = zoo.split_seed(variant)[0]
    assert abs(_accuracy(_load(variant), x, y) - _accuracy(_load(base), x, y)) <= 1.5


def test_seed_names_are_checked() -> None:
    assert zoo.seed_variants("vit_cifar") == ["vit_cifar", "vit_cifar@seed1",
                                                 "vit_cifar@seed2"]
    assert zoo.seed_variants("mixer_cifar") == ["mixer_cifar"]
    with pytest.raises(KeyError, match="no seed 5"):
        zoo.spec_of("vit_cifar@seed5")
    with pytest.raises(KeyError, match="bad seed"):
        zoo.spec_of("vit_cifar@seedx")
    with pytest.raises(KeyError, match="unknown model"):
        zoo.spec_of("nope@seed1")


# --- the no-skip ViTs (paper Fig 8) --------------------------------------------------------------


@pytest.mark.parametrize("k", zoo.NOSKIP_BLOCKS)
def test_noskip_block_has_no_residual(k: int) -> None:
    name = f"vit_cifar_noskip{k}"
    model = _load(name)
    net = model.net
    assert list(net.state_dict()) == list(_load("vit_cifar").net.state_dict())
    x = torch.randn(2, 65, 192, generator=torch.Generator().manual_seed(k))
    with torch.no_grad():
        for j, blk in enumerate(net.blocks):
            assert isinstance(blk.ls1, torch.nn.Identity) and isinstance(blk.ls2, torch.nn.Identity)
            branch = blk.attn(blk.norm1(x))
            if j == k:
                assert isinstance(blk, network.NoSkipBlock)
                expected = blk.mlp(blk.norm2(branch))
                with_skip = x + branch
                with_skip = with_skip + blk.mlp(blk.norm2(with_skip))
                assert not torch.allclose(blk(x), with_skip, atol=1e-3)
            else:
                assert type(blk) is Block
                expected = x + branch
                expected = expected + blk.mlp(blk.norm2(expected))
            torch.testing.assert_close(blk(x), expected)
