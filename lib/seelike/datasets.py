"""What each dataset the data layer serves is: its classes, its splits and the image sizes it
can serve, as data (no file is read).

:mod:`seelike.data` reads the datasets and :mod:`seelike.probe_sets` draws from them; what
only declares work (a plan, a preset) reads these facts here.
"""

from __future__ import annotations

__all__ = ["CIFAR10_CLASSES", "IMAGENETTE_CLASSES", "NATIVE_SIZE", "PURPOSES", "SPLIT_SIZES",
           "check_image_size", "class_count", "class_ids", "largest_draw"]

#: CIFAR-10's class names, in label order.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

#: Imagenette's 10 WordNet ids and their standard ImageNet-1k class indices (its images'
#: labels), so that a pretrained ImageNet classifier's predictions can be scored directly.
IMAGENETTE_CLASSES = {
    "n01440764": 0, "n02102040": 217, "n02979186": 482, "n03000684": 491, "n03028079": 497,
    "n03394916": 566, "n03417042": 569, "n03425413": 571, "n03445777": 574, "n03888257": 701,
}

#: Examples in each split of the canonical releases the data layer serves: the most one
#: draw can hold (imagenette: the full Imagenette2; a smaller local copy gives what it has).
SPLIT_SIZES = {"cifar10": {"train": 50_000, "test": 10_000},
               "imagenette": {"train": 9_469, "val": 3_925}}
#: Image sizes a dataset can serve: CIFAR-10 is read as stored, Imagenette resized to any.
NATIVE_SIZE = {"cifar10": 32}

# The analyses a probe set serves, in a fixed order: a purpose's position seeds its draw, so
# new purposes go at the end.
PURPOSES = ("cka", "attention", "receptive_field", "probe_train", "probe_test", "estimators")


def check_image_size(dataset: str, image_size: int) -> None:
    """Refuse an image size ``dataset`` cannot serve (CIFAR-10 is not resized)."""
    native = NATIVE_SIZE.get(dataset)
    if native is not None and image_size != native:
        raise ValueError(f"image_size={image_size}: {dataset} images are {native} px and are "
                         f"not resized; use image_size={native} (or the imagenette dataset, "
                         "read at any size)")


def class_ids(dataset: str) -> tuple[int, ...]:
    """The labels of ``dataset``'s classes, in order (every probe draw holds them all):
    0 to 9 for CIFAR-10, Imagenette's ImageNet-1k indices."""
    if dataset not in SPLIT_SIZES:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(SPLIT_SIZES)}")
    if dataset == "cifar10":
        return tuple(range(len(CIFAR10_CLASSES)))
    return tuple(sorted(IMAGENETTE_CLASSES.values()))


def class_count(dataset: str) -> int:
    """How many classes ``dataset`` has."""
    return len(class_ids(dataset))


def largest_draw(dataset: str, purpose: str) -> tuple[int, int]:
    """The most examples, and per class, that a ``purpose`` draw of ``dataset`` can hold."""
    classes = class_count(dataset)
    splits = SPLIT_SIZES[dataset]
    n = splits["train"] if purpose == "probe_train" else splits.get("test", splits.get("val"))
    return n, n // classes
