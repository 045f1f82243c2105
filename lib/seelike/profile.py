"""What a pass costs: seconds and peak accelerator memory of each of its parts.

Serves the GPU page of the book (``chapters/gpu_reproduce.md``) through
``benchmarks/bench_paper.py``, which times every analysis the book's plan asks of the
``paper`` preset. :func:`seelike.passes.run` takes a :class:`Profile` and wraps each
model's forward pass (with its taps and Grams) and each analysis's work in :meth:`part`.

On CUDA a part is timed with a pair of CUDA events, read only by :meth:`seconds`, so that
profiling adds no host synchronisation to the pass it measures; its peak memory is the
allocator's high-water mark over the part (reset at its start), a host-side count that needs
no synchronisation either. On the CPU a part is timed with the wall clock and has no peak.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Hashable, Iterator

import torch

__all__ = ["Profile"]


class Profile:
    """Seconds and peak memory per named part, summed over the minibatches of passes.

    ``part(key)`` may be entered any number of times with the same key; parts must not
    nest (each resets the allocator's high-water mark).
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._cuda = self.device.type == "cuda"
        self._events: list[tuple[Hashable, torch.cuda.Event, torch.cuda.Event]] = []
        self._seconds: dict[Hashable, float] = defaultdict(float)
        self._peak: dict[Hashable, int] = {}
        self._inside = False

    @contextlib.contextmanager
    def part(self, key: Hashable) -> Iterator[None]:
        """Time (and on CUDA, measure the peak memory of) the work inside the block."""
        if self._inside:
            raise RuntimeError("Profile parts do not nest: each resets the memory peak")
        self._inside = True
        if self._cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
            start = torch.cuda.Event(enable_timing=True)
            start.record()
        else:
            began = time.perf_counter()
        try:
            yield
        finally:
            self._inside = False
            if self._cuda:
                end = torch.cuda.Event(enable_timing=True)
                end.record()
                self._events.append((key, start, end))
                peak = torch.cuda.max_memory_allocated(self.device)
                self._peak[key] = max(self._peak.get(key, 0), peak)
            else:
                self._seconds[key] += time.perf_counter() - began

    def seconds(self) -> dict[Hashable, float]:
        """Seconds per key, summed over its parts (on CUDA: one synchronisation, here)."""
        if self._cuda:
            torch.cuda.synchronize(self.device)
            for key, start, end in self._events:
                self._seconds[key] += start.elapsed_time(end) / 1000
            self._events.clear()
        return dict(self._seconds)

    def peak_bytes(self) -> dict[Hashable, int | None]:
        """The largest memory allocated on the device during each key's parts (None on CPU)."""
        return {key: self._peak.get(key) for key in self.seconds()}
