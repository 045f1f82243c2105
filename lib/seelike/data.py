"""Datasets: CIFAR-10 verified by content hash, read from ``SEELIKE_DATA`` or downloaded.

Serves every chapter (probe images) and Chapter 3 (training). The cache layout
is ``<data_root>/datasets/cifar10/{train,test}.npz`` with keys ``x`` (uint8
N x 32 x 32 x 3), ``y`` (int64) and ``filenames``, rows sorted by (label, file
name); a pre-downloaded mirror with that layout is used as is.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from seelike.config import DATA_ENV, data_root
from seelike.io import atomic_write_bytes

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
# sha256 of the C-contiguous bytes of x and of y (little-endian int64), per split.
CIFAR10_SHA256 = {
    "train": ("61bea91e73ac2b02dfb856e685981dce64abe13d4e780aa98a1ac1e7c056d03b",
              "a2084e87c76d1d22ef5ac30a81addb49027565cdc65f0e1b451ae5969d56117e"),
    "test": ("52a9dc125982c0440d5eed87474b2f521e96c45a98df08e4329aa42c692b9d9d",
             "c5575395e636cadcdfe5764ffc8d56f56d234a4dc687096f8fc2d975dd6a5597"),
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


class DataError(RuntimeError):
    """A dataset is missing, corrupt or unreachable; the message says how to fix it."""


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


_CACHE: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def cifar10(split: str, *, root: Path | None = None,
            download: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 ``split`` ("train" or "test") as (x uint8 NHWC, y int64, file names).

    Looks in ``root`` (default :func:`seelike.config.data_root`) first; otherwise
    downloads the official archive with pooch and converts it. The content hash
    of ``x`` and ``y`` is checked on every first load in a process.
    """
    if split not in CIFAR10_SHA256:
        raise ValueError(f"unknown CIFAR-10 split {split!r}; use 'train' or 'test'")
    root = Path(root) if root is not None else data_root()
    path = root / "datasets" / "cifar10" / f"{split}.npz"
    key = (str(path), split)
    if key in _CACHE:
        return _CACHE[key]
    if not path.exists():
        if not download:
            raise DataError(f"{path} is missing and download=False")
        _download_cifar10(root)
    with np.load(path, allow_pickle=False) as f:
        x, y, names = f["x"], f["y"].astype("<i8"), f["filenames"]
    for what, arr, expected in zip(("x", "y"), (x, y), CIFAR10_SHA256[split], strict=True):
        actual = _sha256(arr)
        if actual != expected:
            raise DataError(
                f"{path}: content hash of {what!r} is {actual}, expected {expected}. The file "
                f"is corrupt or not the official CIFAR-10; delete it and run again to "
                f"re-download (or point {DATA_ENV} at a good copy).")
    _CACHE[key] = (x, y, names)
    return x, y, names


def _download_cifar10(root: Path) -> None:
    import pooch

    target = root / "datasets" / "cifar10"
    try:
        archive = pooch.retrieve(CIFAR10_URL, known_hash=f"md5:{CIFAR10_MD5}",
                                 path=root / "downloads", progressbar=True)
    except Exception as err:  # pooch raises requests/ValueError variants
        raise DataError(
            f"CIFAR-10 is not in {target} and could not be downloaded from {CIFAR10_URL} "
            f"({err}). Set {DATA_ENV} to a folder that holds datasets/cifar10/"
            f"{{train,test}}.npz, or connect to the internet.") from err
    for split, arrays in convert_cifar10_archive(Path(archive)).items():
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(target / f"{split}.npz", buf.getvalue())


def convert_cifar10_archive(archive: Path) -> dict[str, dict[str, np.ndarray]]:
    """The official ``cifar-10-python.tar.gz`` as the cache layout, rows sorted by (label, name)."""
    batches = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    out = {}
    with tarfile.open(archive, "r:gz") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for split, names in batches.items():
            xs, ys, fns = [], [], []
            for name in names:
                raw = pickle.load(tar.extractfile(members[name]), encoding="bytes")
                xs.append(np.asarray(raw[b"data"], np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(raw[b"labels"], np.int64))
                fns += [f.decode() for f in raw[b"filenames"]]
            x = np.concatenate(xs).transpose(0, 2, 3, 1)
            y = np.concatenate(ys)
            fn = np.array(fns)
            order = sorted(range(len(y)), key=lambda i: (y[i], fn[i]))
            out[split] = dict(x=np.ascontiguousarray(x[order]), y=y[order], filenames=fn[order])
    return out


def class_balanced_subset(y: np.ndarray, fraction: float, *, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced ``fraction`` of the examples, sorted (Figs 4, 12)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picks.append(rng.choice(members, size=round(fraction * len(members)), replace=False))
    return np.sort(np.concatenate(picks))
