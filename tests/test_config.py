"""seelike.config: the data folder from SEELIKE_DATA and the checkout (presets: test_presets)."""

from __future__ import annotations

from pathlib import Path

from seelike import config


def test_config_holds_only_the_data_folder_and_the_checkout():
    public = {n for n in vars(config) if not n.startswith("_") and n not in
              {"annotations", "os", "Path", "platformdirs"}}
    assert public == {"DATA_ENV", "data_root", "repo_root"}  # presets live in seelike.book


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
