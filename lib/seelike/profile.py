"""What a pass costs: seconds and peak accelerator memory of each of its parts.

:func:`seelike.passes.run` takes a :class:`Profile` and wraps each model's forward pass
(with its taps and Grams) and each analysis's work in :meth:`part`.

On CUDA a part is timed with a pair of CUDA events, read only by :meth:`seconds`, so that
profiling adds no host synchronisation to the pass it measures; its peak memory is the
allocator's high-water mark over the part (reset at its start), a host-side count that needs
no synchronisation either. On the CPU a part is timed with the wall clock and has no peak.
A part inside another (an analysis's streamed work during a model's forward pass) counts
for itself alone: the outer part's seconds exclude it.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Hashable, Iterator
from typing import Any

import torch

__all__ = ["Profile"]


class Profile:
    """Seconds and peak memory per named part, summed over the minibatches of passes.

    ``part(key)`` may be entered any number of times with the same key. Parts nest (an
    analysis's streamed work inside a model's forward pass): a part's seconds exclude those
    of the parts inside it, and its peak covers them.
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._cuda = self.device.type == "cuda"
        # (key, start, end, parent index or None) per CUDA part; read by seconds()
        self._events: list[tuple[Hashable, Any, Any, int | None]] = []
        self._seconds: dict[Hashable, float] = defaultdict(float)
        self._peak: dict[Hashable, int] = {}
        self._open: list[list[Any]] = []  # [key, index or start time, inner seconds, peak]

    @contextlib.contextmanager
    def part(self, key: Hashable) -> Iterator[None]:
        """Time (and on CUDA, measure the peak memory of) the work inside the block."""
        parent = self._open[-1] if self._open else None
        if self._cuda:
            if parent is not None:  # the allocator's one high-water mark is about to reset
                parent[3] = max(parent[3], torch.cuda.max_memory_allocated(self.device))
            torch.cuda.reset_peak_memory_stats(self.device)
            start = torch.cuda.Event(enable_timing=True)
            start.record()
            self._events.append((key, start, None, None if parent is None else parent[1]))
            me = [key, len(self._events) - 1, 0.0, 0]
        else:
            me = [key, time.perf_counter(), 0.0, 0]
        self._open.append(me)
        try:
            yield
        finally:
            self._open.pop()
            if self._cuda:
                end = torch.cuda.Event(enable_timing=True)
                end.record()
                k, start, _, up = self._events[me[1]]
                self._events[me[1]] = (k, start, end, up)
                peak = max(me[3], torch.cuda.max_memory_allocated(self.device))
                self._peak[key] = max(self._peak.get(key, 0), peak)
                if parent is not None:
                    parent[3] = max(parent[3], peak)
            else:
                took = time.perf_counter() - me[1]
                self._seconds[key] += took - me[2]
                if parent is not None:
                    parent[2] += took

    def seconds(self) -> dict[Hashable, float]:
        """Seconds per key, summed over its parts (on CUDA: one synchronisation, here)."""
        if self._cuda and self._events:
            torch.cuda.synchronize(self.device)
            took = [start.elapsed_time(end) / 1000 for _, start, end, _ in self._events]
            own = list(took)
            for i, (_, _, _, up) in enumerate(self._events):
                if up is not None:
                    own[up] -= took[i]
            for (key, *_), sec in zip(self._events, own, strict=True):
                self._seconds[key] += sec
            self._events.clear()
        return dict(self._seconds)

    def peak_bytes(self) -> dict[Hashable, int | None]:
        """The largest memory allocated on the device during each key's parts (None on CPU)."""
        return {key: self._peak.get(key) for key in self.seconds()}
