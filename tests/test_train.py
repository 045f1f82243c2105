"""CPU smoke tests of seelike.train: outputs of a tiny run, augmentation, schedule, resuming."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from seelike import data, models, train, weights, zoo

TINY = dict(device="cpu", steps=3, batch_size=8, limit=64, progress=False)
HISTORY_KEYS = {"step", "epoch", "seconds", "train_loss", "train_acc", "test_acc"}


@pytest.mark.parametrize("name", ["vit_cifar", "resnet_cifar", "mixer_cifar"])
def test_tiny_run_writes_verified_weights_and_manifest(name: str, tmp_path: Path,
                                                       mirror: Path) -> None:
    manifest = train.train(name, out_dir=tmp_path, **TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.json", f"{name}.safetensors"]
    on_disk = json.loads((tmp_path / f"{name}.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    # The same record as the shipped zoo's manifests, so chapters can read either.
    assert set(on_disk) == set(weights.read_manifest(name))
    assert on_disk["name"] == name and on_disk["steps"] == 3 and on_disk["train_examples"] == 64
    assert on_disk["spec"] == zoo.spec_dict(zoo.spec_of(name))
    assert len(on_disk["history"]) == 3 and all(set(h) == HISTORY_KEYS
                                                for h in on_disk["history"])
    wpath = tmp_path / f"{name}.safetensors"
    assert on_disk["sha256"] == weights.sha256_file(wpath)
    tensors = load_file(wpath)
    assert {str(t.dtype).removeprefix("torch.") for t in tensors.values()} == {on_disk["dtype"]}
    model = models.load(name, directory=tmp_path)
    assert on_disk["parameters"] == sum(p.numel() for p in model.net.parameters())
    state = model.net.state_dict()
    assert all(torch.equal(state[k], v.float()) for k, v in tensors.items())
    # The recorded accuracy is that of the saved weights on the run's test images (with
    # ``limit``, train() spreads them evenly over the label-sorted split).
    x, y, _ = data.cifar10("test")
    keep = np.linspace(0, len(y) - 1, 64).astype(int)
    with torch.no_grad():
        pred = model(torch.from_numpy(x[keep]).permute(0, 3, 1, 2).float() / 255).argmax(1)
    assert on_disk["test_accuracy"] == pytest.approx(100 * (pred.numpy() == y[keep]).mean())


def _candidates(img: np.ndarray) -> dict[tuple[int, int, bool], np.ndarray]:
    """Every 32-px crop of the 4-px reflect-padded image, flipped or not, as (3, 32, 32)."""
    padded = np.pad(img.astype(np.float32) / 255, ((4, 4), (4, 4), (0, 0)), mode="reflect")
    out = {}
    for dy in range(9):
        for dx in range(9):
            crop = padded[dy:dy + 32, dx:dx + 32].transpose(2, 0, 1)
            out[dy, dx, False] = crop
            out[dy, dx, True] = crop[:, :, ::-1]
    return out


def test_augment_is_a_seeded_reflect_pad_crop_and_flip() -> None:
    imgs = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    batch = torch.from_numpy(imgs)
    out = train.augment(batch, torch.Generator().manual_seed(5))
    assert out.shape == (64, 3, 32, 32) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out, train.augment(batch, torch.Generator().manual_seed(5)),
                               atol=0, rtol=0)
    assert not torch.equal(out, train.augment(batch, torch.Generator().manual_seed(6)))
    seen = []
    for img, aug in zip(imgs, out.numpy(), strict=True):
        matches = [k for k, c in _candidates(img).items() if np.array_equal(c, aug)]
        assert len(matches) == 1
        seen.append(matches[0])
    assert {flip for _, _, flip in seen} == {False, True}
    assert len({(dy, dx) for dy, dx, _ in seen}) > 20


def test_lr_factor_warms_up_then_anneals_to_zero() -> None:
    w = 0.1
    assert train.lr_factor(0.0, w) == 0
    assert train.lr_factor(w / 2, w) == pytest.approx(0.5)
    assert train.lr_factor(w, w) == pytest.approx(1)
    assert train.lr_factor((1 + w) / 2, w) == pytest.approx(0.5)  # the cosine's midpoint
    assert train.lr_factor(1.0, w) == pytest.approx(0, abs=1e-12)
    assert train.lr_factor(1.3, w) == pytest.approx(0, abs=1e-12)  # a clock run overshoots
    grid = np.linspace(0, 1, 201)
    values = np.array([train.lr_factor(p, w) for p in grid])
    assert np.all(np.diff(values[grid <= w]) > 0) and np.all(np.diff(values[grid >= w]) < 0)


class Killed(Exception):
    """Stands in for the process being killed mid-run."""


def test_resume_continues_an_interrupted_run_exactly(tmp_path: Path, mirror: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    name, run = "vit_cifar", dict(TINY, steps=4)
    reference = train.train(name, out_dir=tmp_path / "whole", **run)

    real_augment, calls = train.augment, []

    def dies_at_step_3(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 3:
            raise Killed
        return real_augment(batch, generator)

    monkeypatch.setattr(train, "augment", dies_at_step_3)
    out = tmp_path / "resumed"
    with pytest.raises(Killed):
        train.train(name, out_dir=out, checkpoint_every=0, **run)
    ckpt = out / f"{name}.ckpt"
    assert torch.load(ckpt, weights_only=False)["step"] == 2
    assert not (out / f"{name}.safetensors").exists()

    monkeypatch.setattr(train, "augment", real_augment)
    resumed = train.train(name, out_dir=out, **run)
    assert not ckpt.exists()
    assert resumed["steps"] == 4
    assert [(h["step"], h["train_loss"], h["test_acc"]) for h in resumed["history"]] == \
        [(h["step"], h["train_loss"], h["test_acc"]) for h in reference["history"]]
    a = load_file(tmp_path / "whole" / f"{name}.safetensors")
    b = load_file(out / f"{name}.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", sorted(zoo.PENDING))
def test_the_scale_ladder_trains_end_to_end_before_its_weights_exist(name: str, tmp_path: Path,
                                                                     mirror: Path) -> None:
    """The models the next device call trains: declared, buildable and trainable here (a few
    steps on the CPU), but not in the zoo the book iterates until their weights land."""
    assert name not in zoo.ZOO
    manifest = train.train(name, out_dir=tmp_path, **TINY)
    assert set(manifest) == set(weights.read_manifest("vit_cifar"))
    assert manifest["spec"]["arch"] == zoo.spec_of(name).arch
    loaded = models.load(name, directory=tmp_path)
    assert loaded(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    like, factor = zoo.spec_of(name).extra["steps_of"]
    assert train.replay_steps(name) == factor * weights.read_manifest(like)["steps"]


def test_every_registered_model_ships_its_weights() -> None:
    """A zoo model without weights would break every chapter that iterates the zoo: a model
    is registered in the commit that ships its weights (the external ResNet-56 is fetched)."""
    for name, spec in zoo.ZOO.items():
        if spec.family == "akamaster":
            continue
        for variant in zoo.seed_variants(name):
            assert weights.weights_path(variant).is_file(), variant
            assert weights.read_manifest(variant)["sha256"] == weights.sha256_file(
                weights.weights_path(variant)), variant
