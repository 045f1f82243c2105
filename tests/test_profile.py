"""Tests for seelike.profile: the parts of a pass, their seconds and nesting."""

from __future__ import annotations

import time

import pytest
import torch

from seelike import models, passes
from seelike.analyses import SkipStatistics
from seelike.probe_sets import TensorProbe
from seelike.profile import Profile


def test_nested_parts_count_for_themselves_alone() -> None:
    profile = Profile("cpu")
    with profile.part("outer"):
        time.sleep(0.05)
        with profile.part("inner"):
            time.sleep(0.1)
    with profile.part("inner"):
        time.sleep(0.02)
    seconds = profile.seconds()
    assert seconds["inner"] == pytest.approx(0.12, abs=0.03)
    assert seconds["outer"] == pytest.approx(0.05, abs=0.03)
    assert profile.peak_bytes() == {"outer": None, "inner": None}


def test_a_pass_profiles_each_model_and_each_analysis_streamed_work_included() -> None:
    net = models.build("resnet_cifar")
    analysis = SkipStatistics("resnet_cifar")
    profile = Profile("cpu")
    passes.run([analysis], {"resnet_cifar": net}, TensorProbe(torch.rand(8, 3, 32, 32)),
               batch_size=4, device="cpu", profile=profile)
    seconds = profile.seconds()
    assert set(seconds) == {("forward", "resnet_cifar"), ("analysis", analysis)}
    assert all(s > 0 for s in seconds.values())


class _FakeEvent:
    """A CUDA event stand-in: records the wall clock; elapsed_time in milliseconds."""

    def __init__(self, enable_timing: bool = False) -> None:
        self.at = None

    def record(self) -> None:
        self.at = time.perf_counter()

    def elapsed_time(self, end: _FakeEvent) -> float:
        return (end.at - self.at) * 1000


def test_the_cuda_path_nests_times_and_peaks_without_a_gpu(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    # The allocator's one high-water mark: reset by each part, raised by "allocations" here.
    mark = {"peak": 0}
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats",
                        lambda device=None: mark.update(peak=0))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: mark["peak"])
    profile = Profile("cpu")
    profile._cuda = True  # the device path, with the stand-ins above
    with profile.part("outer"):
        mark["peak"] = 5
        time.sleep(0.05)
        with profile.part("inner"):
            mark["peak"] = 7
            time.sleep(0.1)
        mark["peak"] = max(mark["peak"], 3)
    with profile.part("inner"):
        mark["peak"] = 2
    seconds = profile.seconds()
    assert seconds["inner"] == pytest.approx(0.1, abs=0.03)
    assert seconds["outer"] == pytest.approx(0.05, abs=0.03)
    # The outer part's peak covers the inner one's (7), and the part before it (5).
    assert profile.peak_bytes() == {"outer": 7, "inner": 7}
