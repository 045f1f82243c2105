"""Probe sets: the examples every analysis runs on, the same ones in the same order for
every model.

A probe set is a seeded, class-balanced draw from a dataset split that
:mod:`seelike.data` serves (CIFAR-10 or Imagenette), one independent draw per purpose;
:class:`TensorProbe` puts a reader's own image batch where a probe set goes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seelike.data import cifar10, imagenette, load_images
from seelike.datasets import PURPOSES, check_image_size

__all__ = ["ProbeSet", "TensorProbe", "check_same_examples", "probe_draw"]

if TYPE_CHECKING:
    import torch

@dataclass(frozen=True, eq=False)
class ProbeSet:
    """The examples one analysis runs on: the same ones, in the same order, for every model.

    ``images`` is uint8 (n, 32, 32, 3) for CIFAR or an array of image paths for
    Imagenette; ``ids`` are CIFAR file names or paths relative to the dataset
    folder. Image files are read with the preset's size and timm's default
    evaluation crop, the same pixels for every model; for a model's own
    preprocessing use :func:`load_images` with ``model=``.
    """

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    purpose: str
    seed: int
    image_size: int

    def __len__(self) -> int:
        return len(self.labels)

    def tensor(self, i: int, j: int) -> torch.Tensor:
        """Examples ``i`` to ``j - 1`` as a float (b, 3, H, W) batch in [0, 1]."""
        import torch

        if self.images.dtype == np.uint8:
            return torch.from_numpy(self.images[i:j]).permute(0, 3, 1, 2).float().div_(255)
        return load_images(list(self.images[i:j]), self.image_size)


class TensorProbe:
    """Your own images, already a float (n, 3, H, W) tensor in [0, 1], where a ProbeSet goes.

    The analyses only ask a probe set for ``len`` and ``tensor(i, j)`` (and ``labels``,
    those that score predictions); this gives them, so that any image batch (a test's, a
    reader's own) runs through them.
    """

    def __init__(self, images: torch.Tensor, labels: Sequence[int] | np.ndarray | None = None
                 ) -> None:
        from seelike.network import check_images

        # Checked once here, so a mistake is named where it was made rather than in a pass.
        check_images(images, "images")
        if images.ndim != 4:
            raise ValueError(f"images must be a (n, channels, H, W) batch, got shape "
                             f"{tuple(images.shape)}")
        self.images = images
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(f"labels must be one whole-number class per image "
                                 f"({len(images)}), got {labels.dtype} of shape "
                                 f"{labels.shape}")
        #: each image's class, for the analyses that score predictions (or None)
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def tensor(self, i: int, j: int) -> torch.Tensor:
        return self.images[i:j]


def _round_robin(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every index of ``y``, one example per class per round, classes in a random order each round.

    Each class's examples are shuffled; any prefix of the result is as
    class-balanced as the class sizes allow, and the random draws do not depend
    on how many examples are then taken, so a smaller draw is a prefix of a
    larger one with the same seed.
    """
    classes, class_of = np.unique(y, return_inverse=True)
    rank = np.empty(len(y), np.int64)
    for c in range(len(classes)):
        members = np.flatnonzero(class_of == c)
        rank[rng.permutation(members)] = np.arange(len(members))
    rounds = int(rank.max()) + 1
    place = rng.permuted(np.tile(np.arange(len(classes)), (rounds, 1)), axis=1)
    return np.argsort(rank * len(classes) + place[rank, class_of], kind="stable")


def probe_draw(dataset: str, purpose: str, *, examples: int | None = None,
               per_class: int | None = None, seed: int = 0, image_size: int) -> ProbeSet:
    """A seeded, class-balanced draw of ``examples`` (or ``per_class`` a class) for ``purpose``.

    ``dataset`` is ``cifar10`` or ``imagenette``; ``purpose`` is one of :data:`PURPOSES`
    (``probe_train`` draws from the training split, everything else from the test split;
    the mirror's ``imagenette-mini`` has only val). Files are read at ``image_size``.

    The draw is :func:`_round_robin` with the generator seeded by ``(seed, position of
    purpose in PURPOSES)``: the label-sorted splits come out class-mixed, every minibatch is
    balanced, purposes get independent draws and a smaller set is a prefix of a larger one's.
    A dataset with fewer examples than asked for gives all of them, with a warning.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown probe purpose {purpose!r}; valid: {', '.join(PURPOSES)}")
    if (examples is None) == (per_class is None):
        raise ValueError("give exactly one of examples and per_class")
    for name, count in (("examples", examples), ("per_class", per_class), ("seed", seed),
                        ("image_size", image_size)):
        if count is None:
            continue
        if isinstance(count, bool) or not isinstance(count, int | np.integer):
            raise TypeError(f"{name}={count!r}: expected a whole number (an int)")
        if count < (0 if name == "seed" else 1):
            raise ValueError(f"{name}={count!r}: expected a "
                             f"{'non-negative' if name == 'seed' else 'positive'} whole number")
    check_image_size(dataset, image_size)
    train = purpose == "probe_train"
    if dataset == "cifar10":
        images, labels, ids = cifar10("train" if train else "test")
    elif dataset == "imagenette":
        paths, labels, names = imagenette(split="train" if train else "val")
        images, ids = np.array(paths), np.array(names)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; valid: cifar10, imagenette")
    n = examples if per_class is None else per_class * len(np.unique(labels))
    if n > len(labels):
        warnings.warn(f"{n} {purpose} examples asked for; {dataset} has {len(labels)}, all "
                      "of which are used", stacklevel=2)
    pick = _round_robin(labels, np.random.default_rng([seed, PURPOSES.index(purpose)]))[:n]
    return ProbeSet(images=images[pick], labels=labels[pick], ids=ids[pick], purpose=purpose,
                    seed=seed, image_size=image_size)


def check_same_examples(ids_a: Sequence[str], ids_b: Sequence[str]) -> None:
    """Raise ValueError unless two models' activations came from the same examples in order."""
    if len(ids_a) != len(ids_b):
        raise ValueError(f"different numbers of examples: {len(ids_a)} vs {len(ids_b)}")
    for i, (a, b) in enumerate(zip(ids_a, ids_b, strict=True)):
        if a != b:
            raise ValueError(f"the examples differ first at position {i}: {a!r} vs {b!r}")
