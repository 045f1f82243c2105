"""Where things live: the data folder (datasets, downloaded weights) and the checkout.

The book's presets (which models and how many examples a run uses) are the book
layer's: :mod:`seelike.book.presets`.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["DATA_ENV", "data_root", "repo_root"]

DATA_ENV = "SEELIKE_DATA"


def data_root() -> Path:
    """The cache/mirror folder, laid out as ``datasets/<name>/…`` and ``weights/<name>/…``.

    ``SEELIKE_DATA`` names it; otherwise a per-user cache directory. A folder of
    pre-downloaded files with this layout (CI's mirror, a lab share) is used as is.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_cache_dir("seelike"))


def repo_root() -> Path:
    """The checkout that holds ``data/weights`` (the shipped zoo) and ``chapters/``."""
    return Path(__file__).resolve().parents[2]
