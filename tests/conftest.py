"""Shared fixtures: the pre-downloaded data folder that CI and development machines provide."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seelike.config import DATA_ENV


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The folder ``SEELIKE_DATA`` names (CIFAR-10, imagenette-mini, akamaster weights).

    Tests that need real data take this fixture and are skipped, saying why, where
    the variable is unset; the library itself reads the variable, not this path.
    """
    value = os.environ.get(DATA_ENV)
    if not value:
        pytest.skip(f"{DATA_ENV} is unset: point it at a folder holding datasets/cifar10, "
                    f"datasets/imagenette-mini and weights/akamaster-resnet-cifar10")
    return Path(value).expanduser().resolve()  # as seelike.config.data_root resolves it
