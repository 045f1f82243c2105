"""Presets as data, the data folder from SEELIKE_DATA."""

from __future__ import annotations

from pathlib import Path

import pytest

from seelike import config


def test_three_presets_with_cifar_the_default_in_every_chapter():
    assert set(config.PRESETS) == {"smoke", "cifar", "paper"}
    assert config.get_preset("cifar").dataset == "cifar10"
    assert config.get_preset("paper").image_size == 224


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="smoke, cifar, paper"):
        config.get_preset("imagenet")


def test_overrides_change_fields_and_reject_unknown_ones():
    base = config.get_preset("cifar")
    changed = config.get_preset("cifar", cka_batch=base.cka_batch // 2)
    assert changed.cka_batch == base.cka_batch // 2
    assert changed.cka_examples == base.cka_examples
    assert config.get_preset("cifar").cka_batch == base.cka_batch  # the registry is untouched
    with pytest.raises(TypeError, match="unknown preset fields"):
        config.get_preset("cifar", batch=3)


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path))
    assert config.data_root() == tmp_path.resolve()
    monkeypatch.delenv(config.DATA_ENV)
    assert "seelike" in str(config.data_root())
    assert config.data_root() != tmp_path.resolve()


def test_library_never_names_the_mirror():
    lib = Path(config.__file__).parent
    for path in lib.rglob("*.py"):
        assert "../shared" not in path.read_text(), path
