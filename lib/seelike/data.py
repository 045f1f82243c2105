"""Datasets: CIFAR-10 verified by content hash, Imagenette, and folders of image files.

The training images, and the splits from which :mod:`seelike.probe_sets` draws the probe
images that every analysis runs on. The cache layout is
``<data_root>/datasets/cifar10/{train,test}.npz`` with keys ``x`` (uint8 N x 32 x 32 x 3),
``y`` (int64) and ``filenames``, rows sorted by (label, file name), and
``<data_root>/datasets/imagenette2-320/`` (the full Imagenette download) or
``imagenette-mini/`` (a 200-image slice with a ``labels.csv``); a pre-downloaded mirror
with that layout is used as is.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import shutil
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seelike.config import DATA_ENV, data_root
from seelike.datasets import IMAGENETTE_CLASSES
from seelike.io import DataError, atomic_write_bytes

__all__ = ["CIFAR10_MD5", "CIFAR10_SHA256", "CIFAR10_URL", "DEFAULT_CROP_PCT",
           "DEFAULT_INTERPOLATION", "IMAGENETTE_DIR", "IMAGENETTE_MINI_DIR",
           "IMAGENETTE_URL", "IMAGE_EXTENSIONS", "cifar10", "class_balanced_subset",
           "convert_cifar10_archive", "image_folder", "imagenette", "load_images",
           "preprocess_config"]

if TYPE_CHECKING:
    import torch
    from torch import nn

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
# sha256 of the C-contiguous bytes of x and of y (little-endian int64), per split.
CIFAR10_SHA256 = {
    "train": ("61bea91e73ac2b02dfb856e685981dce64abe13d4e780aa98a1ac1e7c056d03b",
              "a2084e87c76d1d22ef5ac30a81addb49027565cdc65f0e1b451ae5969d56117e"),
    "test": ("52a9dc125982c0440d5eed87474b2f521e96c45a98df08e4329aa42c692b9d9d",
             "c5575395e636cadcdfe5764ffc8d56f56d234a4dc687096f8fc2d975dd6a5597"),
}

IMAGENETTE_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz"
IMAGENETTE_DIR = "imagenette2-320"
IMAGENETTE_MINI_DIR = "imagenette-mini"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
# timm's defaults for a model whose pretrained_cfg says nothing else.
DEFAULT_CROP_PCT = 0.875
DEFAULT_INTERPOLATION = "bicubic"


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# ---- CIFAR-10 ---------------------------------------------------------------------------------

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
    x, y, names = _read_cifar10_npz(path)
    for what, arr, expected in zip(("x", "y"), (x, y), CIFAR10_SHA256[split], strict=True):
        actual = _sha256(arr)
        if actual != expected:
            raise DataError(
                f"{path}: content hash of {what!r} is {actual}, expected {expected}. The file "
                f"is corrupt or not the official CIFAR-10; delete it and run again to "
                f"re-download (or point {DATA_ENV} at a good copy).")
    _CACHE[key] = (x, y, names)
    return x, y, names


# What np.load and reading its members raise for a truncated, corrupt or foreign file.
_UNREADABLE = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
_CIFAR10_KEYS = ("x", "y", "filenames")


def _read_cifar10_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y as int64, file names) of one cached split, or a DataError that says how to fix it."""
    remedy = (f"Delete it and run again to re-download (or point {DATA_ENV} at a good copy "
              f"of datasets/cifar10).")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _CIFAR10_KEYS if k not in f.files]
            if missing:
                raise DataError(f"{path} has the arrays {sorted(f.files)}, lacking "
                                f"{missing}: it is not the cached CIFAR-10 split. {remedy}")
            return f["x"], f["y"].astype("<i8"), f["filenames"]
    except _UNREADABLE as err:
        raise DataError(f"{path} cannot be read as a .npz file ({type(err).__name__}: {err}); "
                        f"it is truncated or corrupt. {remedy}") from err


def _download_cifar10(root: Path) -> None:
    import pooch

    target = root / "datasets" / "cifar10"
    try:
        # pooch writes to a temporary file and moves it into place only once the md5
        # matches, so an interrupted or corrupt download never reaches the cache.
        archive = Path(pooch.retrieve(CIFAR10_URL, known_hash=f"md5:{CIFAR10_MD5}",
                                      path=root / "downloads", progressbar=True))
    except Exception as err:  # pooch raises requests/ValueError variants
        raise DataError(
            f"CIFAR-10 is not in {target} and could not be downloaded from {CIFAR10_URL} "
            f"({err}). Set {DATA_ENV} to a folder that holds datasets/cifar10/"
            f"{{train,test}}.npz, or connect to the internet and run again.") from err
    try:
        splits = convert_cifar10_archive(archive)
    except Exception as err:
        # Both splits are converted in memory before either is written, so a failure here
        # leaves no npz behind; the unreadable archive goes too, to be fetched afresh.
        archive.unlink(missing_ok=True)
        raise DataError(f"{archive} could not be read as the CIFAR-10 archive ({err!r}); it "
                        f"was deleted, run again to re-download it.") from err
    for split, arrays in splits.items():
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


# ---- ImageNet-style image files ---------------------------------------------------------------


def image_folder(root_or_csv: str | Path) -> tuple[list[str], np.ndarray]:
    """Image paths and int64 labels of a class-per-folder tree or of a labels CSV.

    A folder: one sub-folder per class, class index = position in the sorted
    sub-folder names, files sorted within each. A ``.csv`` file: columns
    ``filename`` (relative to the CSV's folder) and ``class_index``, rows kept in
    file order.
    """
    source = Path(root_or_csv)
    if source.suffix.lower() == ".csv":
        import pandas as pd

        table = pd.read_csv(source)
        missing = {"filename", "class_index"} - set(table.columns)
        if missing:
            raise ValueError(f"{source} lacks the column(s) {sorted(missing)}")
        paths = [str(source.parent / f) for f in table["filename"]]
        return paths, table["class_index"].to_numpy(np.int64)
    if not source.is_dir():
        raise DataError(f"{source} is neither a folder of class folders nor a labels CSV")
    classes = sorted(d.name for d in source.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths, labels = [], []
    for index, name in enumerate(classes):
        files = sorted(f for f in (source / name).iterdir()
                       if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith("."))
        paths += [str(f) for f in files]
        labels += [index] * len(files)
    return paths, np.array(labels, np.int64)


def preprocess_config(model_name_or_net: str | nn.Module) -> dict[str, Any]:
    """How timm evaluates a pretrained model: input_size, crop_pct, interpolation, mean, std.

    Takes a timm model name (with its pretrained tag) or a model built by timm,
    bare or wrapped in :class:`seelike.network.ImageClassifier`. ``mean``/``std``
    are for information: seelike's models normalise their [0, 1] inputs themselves.
    """
    from timm.data import resolve_data_config

    if isinstance(model_name_or_net, str):
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(model_name_or_net)
        if cfg is None:
            raise ValueError(f"timm has no pretrained config for {model_name_or_net!r}")
        data_cfg = resolve_data_config(pretrained_cfg=cfg.to_dict())
    else:
        from seelike.network import ImageClassifier

        net = (model_name_or_net.net if isinstance(model_name_or_net, ImageClassifier)
               else model_name_or_net)
        if not getattr(net, "pretrained_cfg", None):
            raise ValueError(f"{type(net).__name__} carries no timm pretrained_cfg (the cifar "
                             f"zoo takes 32-px images as they are)")
        data_cfg = resolve_data_config(model=net)
    return {k: data_cfg[k] for k in ("input_size", "crop_pct", "interpolation", "mean", "std")}


def load_images(paths: Sequence[str | Path], size: int = 224, *,
                crop_pct: float = DEFAULT_CROP_PCT, interpolation: str = DEFAULT_INTERPOLATION,
                model: str | nn.Module | None = None) -> torch.Tensor:
    """Images as float (n, 3, size, size) in [0, 1], not normalised: timm's evaluation crop.

    The shorter side is resized to ``floor(size / crop_pct)``, then the centre
    ``size`` x ``size`` is cut out. With ``model`` (see :func:`preprocess_config`)
    size, crop and interpolation are that model's instead.
    """
    import torch
    from PIL import Image

    if isinstance(paths, str | Path):
        raise TypeError(f"paths must be a list of image paths, got the single path {paths!r}; "
                        f"pass [{str(paths)!r}]")
    if model is not None:
        cfg = preprocess_config(model)
        size, crop_pct, interpolation = cfg["input_size"][-1], cfg["crop_pct"], cfg["interpolation"]
    resample = Image.Resampling[interpolation.upper()]
    scale_size = math.floor(size / crop_pct)
    out = torch.empty(len(paths), 3, size, size)
    for i, path in enumerate(paths):
        with Image.open(path) as img:
            img = img.convert("RGB")  # a few ImageNet images are greyscale or CMYK
        w, h = img.size
        # The rounding of torchvision's Resize, which timm's eval transform uses.
        new = (scale_size, int(scale_size * h / w)) if w <= h else (int(scale_size * w / h),
                                                                     scale_size)
        img = img.resize(new, resample)
        left, top = round((new[0] - size) / 2), round((new[1] - size) / 2)
        img = img.crop((left, top, left + size, top + size))
        out[i] = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
    return out.div_(255)


# ---- Imagenette -------------------------------------------------------------------------------


def imagenette(root: Path | None = None, *, split: str = "val",
               download: bool = True) -> tuple[list[str], np.ndarray, list[str]]:
    """Imagenette ``split`` as (paths, ImageNet-1k labels, ids), sorted by id.

    The paper preset's stand-in for ImageNet (Figs 3-13). ``ids`` are paths
    relative to the dataset folder (``val/n01440764/….JPEG``), the same in the
    full download and the mirror's 200-image ``imagenette-mini`` (validation
    images only). Looks in ``root`` (default :func:`seelike.config.data_root`)
    under ``datasets/imagenette2-320`` and then ``datasets/imagenette-mini``;
    otherwise downloads and unpacks the full 320-px archive (about 330 MB).
    fast.ai publishes no checksum for it, so the archive is downloaded without a
    known hash (pooch ``known_hash=None``): only a download that unpacks completely
    is kept.
    """
    if split not in ("train", "val"):
        raise ValueError(f"unknown Imagenette split {split!r}; use 'train' or 'val'")
    root = Path(root) if root is not None else data_root()
    datasets = root / "datasets"
    full, mini = datasets / IMAGENETTE_DIR, datasets / IMAGENETTE_MINI_DIR
    if not (full / split).is_dir() and (mini / "labels.csv").exists():
        import pandas as pd

        table = pd.read_csv(mini / "labels.csv")
        table = table[table["filename"].str.startswith(f"{split}/")].sort_values("filename")
        if len(table):
            ids = list(table["filename"])
            return ([str(mini / i) for i in ids], table["imagenet_index"].to_numpy(np.int64),
                    ids)
    if not (full / split).is_dir():
        if not download:
            raise DataError(f"Imagenette {split!r} is in neither {full} nor {mini}, and "
                            f"download=False")
        _download_imagenette(root)
    paths, _ = image_folder(full / split)
    wnids = [Path(p).parent.name for p in paths]
    unknown = sorted(set(wnids) - set(IMAGENETTE_CLASSES))
    if unknown:
        raise DataError(f"{full / split} has folders {unknown} that are not Imagenette classes")
    ids = [Path(p).relative_to(full).as_posix() for p in paths]
    order = np.argsort(ids, kind="stable")
    return ([paths[i] for i in order], np.array([IMAGENETTE_CLASSES[wnids[i]] for i in order]),
            [ids[i] for i in order])


def _download_imagenette(root: Path) -> None:
    import pooch

    datasets = root / "datasets"
    # Unpacked into a scratch folder and renamed into place only when complete, so a killed
    # or failed extraction is never mistaken for the dataset.
    partial = datasets / f".{IMAGENETTE_DIR}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    archive = root / "downloads" / f"{IMAGENETTE_DIR}.tgz"
    try:
        pooch.retrieve(IMAGENETTE_URL, known_hash=None, fname=archive.name, path=archive.parent,
                       processor=pooch.Untar(extract_dir=str(partial)), progressbar=True)
        if not (partial / IMAGENETTE_DIR / "val").is_dir():
            raise DataError(f"the archive holds no {IMAGENETTE_DIR}/val folder")
    except Exception as err:
        shutil.rmtree(partial, ignore_errors=True)
        # Without a known hash the archive's only check is that it unpacks: one that does
        # not is deleted so the next run fetches it again.
        archive.unlink(missing_ok=True)
        raise DataError(
            f"Imagenette is not in {datasets} and could not be downloaded and unpacked from "
            f"{IMAGENETTE_URL} ({err}). Set {DATA_ENV} to a folder that holds "
            f"datasets/{IMAGENETTE_DIR}/ or datasets/{IMAGENETTE_MINI_DIR}/, or connect to "
            f"the internet and run again.") from err
    os.replace(partial / IMAGENETTE_DIR, datasets / IMAGENETTE_DIR)
    shutil.rmtree(partial)
