"""The zoo's weights on disk, each verified by its sha256 before it is used.

The trained ``cifar`` zoo ships as ``data/weights/<name>.safetensors``, each beside its
manifest ``<name>.json`` (the weights' hash, the recipe, the accuracy and the per-image
test results); the published CIFAR-10 ResNet-56 is fetched once into the data folder.
This module reads and verifies those files; :func:`seelike.models.load` builds a model
from its spec and loads the state dict returned here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seelike.config import repo_root
from seelike.io import DataError

__all__ = ["AKAMASTER_FILES", "AKAMASTER_URL", "akamaster_state", "manifest_path", "pack_correct",
           "read_manifest", "sha256_file", "shipped_state", "test_correct", "weights_dir",
           "weights_path"]

AKAMASTER_FILES = {56: ("resnet56-4bfd9763.th",
                        "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367")}
AKAMASTER_URL = ("https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/"
                 "pretrained_models/{file}")


def weights_dir() -> Path:
    """``data/weights`` of the checkout: the trained ``cifar`` zoo, one file pair per model."""
    return repo_root() / "data" / "weights"


def _folder(directory: str | os.PathLike[str] | None) -> Path:
    """``directory`` as a Path (a str is fine), or :func:`weights_dir` for None."""
    if directory is None:
        return weights_dir()
    if not isinstance(directory, str | os.PathLike):
        raise TypeError(f"directory must be a folder path (str or Path), got {directory!r}")
    return Path(directory)


def manifest_path(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    return _folder(directory) / f"{name}.json"


def weights_path(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    return _folder(directory) / f"{name}.safetensors"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(name: str, directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The manifest entry of a trained zoo model (hash, recipe, accuracy, device, time).

    A manifest that is not a JSON object with a ``sha256`` (truncated, say) raises
    :class:`seelike.data.DataError` naming the file and how to restore it.
    """
    path = manifest_path(name, directory)
    if not path.exists():
        raise FileNotFoundError(
            f"no trained weights for {name!r}: {path} is missing. Train them with "
            f"`python -m seelike.train {name}` (a GPU takes minutes; see chapter 3).")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        problem = f"is not valid JSON ({err})"
    else:
        if isinstance(manifest, dict) and isinstance(manifest.get("sha256"), str):
            return manifest
        problem = "holds no sha256 entry"
    raise DataError(f"the weights manifest {path} {problem}: it is truncated or was edited. "
                    f"Restore it with `git checkout -- {path.name}` in data/weights (or copy it "
                    f"back beside its .safetensors), or retrain with "
                    f"`python -m seelike.train {name}`.")


def pack_correct(correct: np.ndarray) -> str:
    """Per-image correctness (bool, one per test image) as the manifest stores it: bits,
    packed and base64-encoded (1,668 characters for CIFAR-10's 10,000 test images)."""
    bits = np.asarray(correct, dtype=bool)
    return f"{len(bits)}:" + base64.b64encode(np.packbits(bits).tobytes()).decode("ascii")


def test_correct(name: str, directory: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Which CIFAR-10 test images zoo model ``name`` classifies correctly (bool, in the
    split's order), as ``scripts/gpu_zoo.py remeasure`` recorded it in the manifest.

    Raises :class:`seelike.data.DataError` when the manifest has no such record, or one
    that disagrees with its recorded test accuracy.
    """
    manifest = read_manifest(name, directory)
    path = manifest_path(name, directory)
    text = manifest.get("test_correct")
    if not isinstance(text, str) or ":" not in text:
        raise DataError(f"{path} records no per-image test results; run `python "
                        f"scripts/gpu_zoo.py remeasure data/weights {name}` with SEELIKE_DATA "
                        "set")
    count, packed = text.split(":", 1)
    bits = np.unpackbits(np.frombuffer(base64.b64decode(packed), dtype=np.uint8))
    correct = bits[:int(count)].astype(bool)
    if abs(100.0 * correct.mean() - float(manifest.get("test_accuracy", -1.0))) > 1e-6:
        raise DataError(f"{path}: the per-image test results give {100 * correct.mean():.2f} % "
                        f"but the manifest records {manifest.get('test_accuracy')} %; "
                        "re-run `scripts/gpu_zoo.py remeasure`")
    return correct


def shipped_state(name: str, directory: str | os.PathLike[str] | None = None
                  ) -> dict[str, torch.Tensor]:
    """The trained state dict of ``cifar`` zoo model ``name``, verified against its manifest.

    Reads ``data/weights/<name>.safetensors`` (or ``directory``'s, a str or Path); a file
    missing, corrupt (sha256) or copied from another model raises with how to restore it.
    """
    manifest = read_manifest(name, directory)
    path = weights_path(name, directory)
    retrain = f"`python -m seelike.train {name}` retrains it (chapter 3 says how long it takes)"
    if manifest.get("name", name) != name:
        raise ValueError(f"{manifest_path(name, directory)} is the manifest of "
                         f"{manifest.get('name')!r}, not {name!r}: the files of another model "
                         f"were copied under this name. {retrain}.")
    if not path.exists():
        raise FileNotFoundError(f"weights of {name!r} missing: {path}. {retrain}.")
    actual = sha256_file(path)
    if actual != manifest["sha256"]:
        raise ValueError(f"{path} is corrupt: sha256 {actual}, manifest says "
                         f"{manifest['sha256']}. Restore it with `git checkout -- {path.name}` "
                         f"in data/weights, or {retrain}.")
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(path).items()}


def akamaster_state(depth: int) -> dict[str, torch.Tensor]:
    """The published CIFAR-10 ResNet of ``depth`` (akamaster), fetched into the data folder
    (``SEELIKE_DATA``) once and verified by its published sha256."""
    import pooch

    from seelike.config import data_root

    file, sha = AKAMASTER_FILES[depth]
    folder = data_root() / "weights" / "akamaster-resnet-cifar10"
    path = folder / file
    if not path.exists():
        try:
            path = Path(pooch.retrieve(AKAMASTER_URL.format(file=file), known_hash=sha,
                                       fname=file, path=folder))
        except Exception as err:
            raise FileNotFoundError(
                f"{file} is not in {folder} and could not be downloaded "
                f"({AKAMASTER_URL.format(file=file)}): {err}. Set SEELIKE_DATA to a folder "
                f"holding weights/akamaster-resnet-cifar10/{file}.") from err
    actual = sha256_file(path)
    if actual != sha:
        raise ValueError(f"{path}: sha256 {actual}, expected {sha}; delete it to re-download.")
    # weights_only refuses anything but tensors and plain containers: no code runs on load.
    raw = torch.load(path, map_location="cpu", weights_only=True)
    return {k.removeprefix("module."): v for k, v in raw["state_dict"].items()}
