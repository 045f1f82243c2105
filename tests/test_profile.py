"""Tests for seelike.profile: the parts of a pass, their seconds and nesting."""

from __future__ import annotations

import time

import pytest
import torch

from seelike import models, passes
from seelike.data import TensorProbe
from seelike.profile import Profile
from seelike.skips import SkipStatistics


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
