"""How the shipped ``cifar`` zoo was trained on a lent GPU machine (a record, and reusable).

The GPU machine has no copy of CIFAR-10 and takes at most 64 MiB of files per
call, while the lossless training split is 150 MB. So ``pack`` writes each
split as one JPEG mosaic (quality 95, no chroma subsampling, 32-px tiles that
align with JPEG's 8-px blocks, so no image bleeds into its neighbour); ``unpack``
turns the mosaics back into ``train.npz``/``test.npz`` there. The models are
therefore trained on a JPEG-q95 copy of the training images; every accuracy in
``data/weights/*.json`` is re-measured afterwards by ``remeasure`` on the
verified lossless test split.

    python scripts/gpu_zoo.py pack .device/cifar           # here
    python scripts/gpu_zoo.py unpack .device/cifar DIR     # there, then seelike.train
    python scripts/gpu_zoo.py remeasure data/weights NAME… # here, with SEELIKE_DATA set
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

COLS = 250


def pack(out: Path) -> None:
    from seelike.data import cifar10

    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        x, y, _ = cifar10(split)
        rows = len(x) // COLS
        mosaic = x.reshape(rows, COLS, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(
            rows * 32, COLS * 32, 3)
        Image.fromarray(mosaic).save(out / f"{split}.jpg", quality=95, subsampling=0)
        np.save(out / f"{split}_y.npy", y)
        back = _read(out / f"{split}.jpg", len(x))
        err = np.abs(back.astype(int) - x.astype(int))
        print(f"{split}: {(out / f'{split}.jpg').stat().st_size / 1e6:.1f} MB, "
              f"mean |err| {err.mean():.3f}, max {err.max()} (0-255)")


def _read(path: Path, n: int) -> np.ndarray:
    mosaic = np.asarray(Image.open(path).convert("RGB"))
    rows = n // COLS
    return np.ascontiguousarray(mosaic.reshape(rows, 32, COLS, 32, 3).transpose(0, 2, 1, 3, 4)
                                .reshape(n, 32, 32, 3))


def unpack(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        y = np.load(src / f"{split}_y.npy")
        np.savez(out / f"{split}.npz", x=_read(src / f"{split}.jpg", len(y)), y=y)


def remeasure(directory: Path, names: list[str]) -> None:
    """Re-measure each model's test accuracy on the verified split, and record which test
    images it gets right (the paired intervals of chapters 5 and 6); update its manifest."""
    import torch

    from seelike import models, weights
    from seelike.data import cifar10
    from seelike.io import atomic_write_text
    from seelike.train import predictions

    x, y, _ = cifar10("test")
    for name in names:
        model = models.load(name, directory=directory)
        correct = predictions(model, x, torch.device("cpu"), batch_size=500) == y
        path = weights.manifest_path(name, directory)
        manifest = json.loads(path.read_text())
        manifest.update(test_accuracy=100.0 * int(correct.sum()) / len(correct),
                        test_source="cifar10 test (verified), on CPU",
                        test_correct=weights.pack_correct(correct))
        atomic_write_text(path, json.dumps(manifest, indent=1))
        print(f"{name}: {manifest['test_accuracy']:.2f} %")


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    if cmd == "pack":
        pack(Path(rest[0]))
    elif cmd == "unpack":
        unpack(Path(rest[0]), Path(rest[1]))
    elif cmd == "remeasure":
        remeasure(Path(rest[0]), rest[1:])
    else:
        sys.exit(f"unknown command {cmd!r}; use pack, unpack or remeasure")
