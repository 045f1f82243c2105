"""What a pass will hold in memory, known before it starts: a clear error instead of a crash.

Every pass of :func:`seelike.passes.run` is checked here before it starts, and the same
functions tell what fits on a given device. In one minibatch of a pass, each model's
forward pass keeps the layers its analyses read after the forward pass
(:class:`~seelike.taps.Tap` s) until it ends, while layers that are only reduced (into
Gram matrices, or statistics streamed by :meth:`seelike.passes.Analysis.consume`) pass
through one or two at a time; each layer's transformed Gram matrix (``b × b`` float64)
lives until every model has run. That is the bulk of a pass's memory, and what grows with
the minibatch size. :func:`pass_bytes` reads it from the models' shapes on the meta device
(:func:`one_image`: no weights, no arithmetic), and :func:`check_fits` refuses a pass whose
minibatch would not fit in the free memory of its device, naming the model and a minibatch
size that would.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from seelike import catalogue
from seelike.taps import Tap, run_taps

__all__ = ["PassTooLarge", "available_bytes", "check_fits", "one_image", "pass_bytes",
           "release_freed"]

#: Share of the free memory a pass may plan to fill: the forward passes' own transient
#: activations, the analyses' work and the allocator's fragmentation need the rest.
HEADROOM = 0.6


class PassTooLarge(MemoryError):
    """A pass whose minibatch would not fit in its device's free memory."""


def _tap_sizes(model_name: str, taps: Sequence[Tap], batch: int, image_size: int
               ) -> dict[Tap, int]:
    if not taps:
        return {}
    # A layer holds one row per image, so one image's sizes serve every minibatch size.
    return {tap: t.numel() * t.element_size() * batch
            for tap, t in one_image(model_name, taps, image_size).items()}


def one_image(model_name: str, taps: Sequence[Tap], image_size: int) -> dict[Tap, torch.Tensor]:
    """Each tap's tensor for one image of ``image_size`` px through catalogue model
    ``model_name``, on the meta device: shapes and dtypes, no data. Raises KeyError for a
    name no catalogue holds."""
    # A new catalogue may change what the name builds: it is part of the key.
    return dict(_one_image(model_name, tuple(dict.fromkeys(taps)), image_size,
                           catalogue.generation()))


@functools.lru_cache(maxsize=256)
def _one_image(model_name: str, taps: tuple[Tap, ...], image_size: int,
               _generation: int) -> tuple[tuple[Tap, torch.Tensor], ...]:
    # Cached: a build plans many passes over the same models (a probe fit per shot draw),
    # and the meta build and forward pass cost more than the pass's own bookkeeping.
    net = catalogue.meta_build(model_name)
    x = torch.empty(1, 3, image_size, image_size, device="meta")
    return tuple(run_taps(net, x, list(taps)).items())


#: What a pass needs of one model: the taps it keeps for the minibatch, the taps it only
#: streams (reduced as they are recorded) and the number of Gram matrices it forms; and,
#: optionally, the kept taps of which its analyses hold a shared copy as well
#: (:meth:`seelike.passes.Batch.shared`).
ModelNeeds = (tuple[Sequence[Tap], Sequence[Tap], int]
              | tuple[Sequence[Tap], Sequence[Tap], int, Sequence[Tap]])


def pass_bytes(needs: Mapping[str, ModelNeeds], batch: int, image_size: int) -> dict[str, int]:
    """Bytes held at each model's forward pass in one minibatch of ``batch`` images.

    ``needs`` maps each model (by name) to its :data:`ModelNeeds`. Models run in
    order; at model m's pass the device holds m's kept taps (twice for those its analyses
    also share a copy of), the two largest of its streamed ones (a streamed statistic may
    pair two layers), and the Grams of m and of every model before it. A model whose name no
    catalogue holds is counted as its Grams alone.
    """
    out: dict[str, int] = {}
    grams = 0
    for name, (kept, streamed, count, *more) in needs.items():
        copied = set(more[0]) if more else set()
        grams += count * batch * batch * 8
        try:
            sizes = _tap_sizes(name, [*kept, *streamed], batch, image_size)
        except KeyError:  # a reader's own module that no catalogue holds: sizes unknown
            sizes = {}
        held = sum(sizes.get(t, 0) for t in set(kept)) + sum(sizes.get(t, 0) for t in copied)
        passing = sorted((sizes.get(t, 0) for t in set(streamed) - set(kept)), reverse=True)
        out[name] = held + sum(passing[:2]) + grams
    return out


def available_bytes(device: torch.device) -> int | None:
    """Free memory of ``device``: the GPU's free memory, or the host's available memory
    (Linux's MemAvailable) for the CPU; None where it cannot be read."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0]) + int(torch.cuda.memory_reserved(device)
                                                            - torch.cuda.memory_allocated(device))
    if device.type == "cpu":
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


def check_fits(needs: Mapping[str, ModelNeeds], batch: int, image_size: int,
               device: torch.device, *, state: int = 0) -> None:
    """Raise :class:`PassTooLarge` if a minibatch of ``batch`` would not fit on ``device``.

    ``state``: bytes the analyses hold throughout (their sums and bootstrap draws), added
    at every model. The plan may fill :data:`HEADROOM` of the free memory; the message
    names the model at the peak and the largest power-of-two minibatch that would fit.
    """
    free = available_bytes(device)
    if free is None:
        return
    held = {m: b + state for m, b in pass_bytes(needs, batch, image_size).items()}
    if not held or max(held.values()) <= HEADROOM * free:
        return
    model = max(held, key=held.get)  # type: ignore[arg-type]
    smaller = batch // 2
    while smaller >= 4 and max(pass_bytes(needs, smaller, image_size).values()) + state > (
            HEADROOM * free):
        smaller //= 2
    if state > HEADROOM * free / 2:  # the analyses' own sums are most of it
        fix = "keep fewer bootstrap draws (a few hundred settle a 90 % interval)"
    elif smaller >= 4:
        fix = f"lower the minibatch size to {smaller} or less (batch_size={smaller})"
    else:
        fix = "use a device with more memory or ask for fewer layers"
    raise PassTooLarge(
        f"this pass would hold about {held[model] / 2**30:.1f} GiB while {model} runs a "
        f"minibatch of {batch} images of {image_size} px (its recorded layers, the Gram "
        f"matrices of the pass and {state / 2**30:.1f} GiB of the analyses' sums and bootstrap "
        f"draws), more than {HEADROOM:.0%} of the {free / 2**30:.1f} GiB free "
        f"on {device}; {fix}")


@functools.cache
def _trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to release
        return None


def release_freed() -> None:
    """Hand the memory freed so far back to the operating system (glibc's ``malloc_trim``).

    A pass frees many same-sized buffers of tens of MB per minibatch (features converted for
    each probe, Grams); glibc keeps them in its heap rather than unmapping them, so a long
    pass's resident memory grows with each analysis (a probe evaluation of 60 fits held 14 GB
    for 1.5 GB of live data). Trimming after each update costs milliseconds, and the pages
    handed back are faulted in again at their next use; fewer trims measured no faster here
    and held more memory.
    """
    trim = _trim()
    if trim is not None:
        trim(0)
