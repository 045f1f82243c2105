"""Launch buttons: the exported notebooks, and _config.yml agreeing with the book workflow.

The Binder and Colab buttons open ``chapters/<name>.ipynb`` on the branch named by
``repository.branch`` in ``_config.yml``; ``.github/workflows/book.yml`` publishes that branch
from ``python -m seelike.book.run --export-ipynb``. These tests check both ends offline: what
the export writes, and that the config and the workflow name the same branch and layout.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from jupyter_book.config import get_final_config

from seelike.book import run, toc
from seelike.config import repo_root

ROOT = repo_root()
SETUP_ID = "seelike-setup"


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())


def _step(job: dict, uses: str) -> dict:
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith(uses)]
    return step


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("launch")
    written = run.export_ipynb(folder)
    # the book's layout: the landing page at the root, the chapters under chapters/
    assert [p.relative_to(folder) for p in written] == [
        c.relative_to(ROOT).with_suffix(".ipynb") for c in toc.notebooks()]
    return {path.stem: path for path in written}


@pytest.fixture(scope="module")
def setup_source(exported) -> str:
    return nbformat.read(next(iter(exported.values())), as_version=4).cells[0].source


def test_every_page_that_runs_is_exported_as_a_valid_notebook_without_outputs(exported):
    assert list(exported) == [c.stem for c in toc.notebooks()] == ["intro", *(
        c.stem for c in toc.chapters())]
    for path in exported.values():
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_the_setup_cell_comes_first_then_the_chapters_cells(exported):
    setups = set()
    for chapter in toc.notebooks():
        nb = nbformat.read(exported[chapter.stem], as_version=4)
        first, *rest = nb.cells
        assert (first.cell_type, first.get("id")) == ("code", SETUP_ID), chapter.name
        setups.add(first.source)
        source = jupytext.read(chapter).cells
        assert [(c.cell_type, c.source, c.metadata) for c in rest] == \
               [(c.cell_type, c.source, c.metadata) for c in source], chapter.name
        # papermill still finds the one parameters cell after the setup cell
        assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert len(setups) == 1  # the same setup cell everywhere


def test_the_setup_cell_does_nothing_where_seelike_is_installed(setup_source, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the setup cell ran {args} in a checkout")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = list(sys.path)
    exec(compile(setup_source, "setup-cell", "exec"), {})
    assert sys.path == before


def test_the_setup_cell_clones_the_launch_branch_and_installs_it_elsewhere(
        setup_source, monkeypatch, tmp_path):
    """As on Colab: seelike missing, so clone the buttons' branch and pip install -e it."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "seelike" else find_spec(name, *a))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    exec(compile(setup_source, "setup-cell", "exec"), {})

    repository = _config()["repository"]
    checkout = tmp_path / "seelike-repo"
    assert [cmd for cmd, _ in calls] == [
        ["git", "clone", "--depth", "1", "--branch", repository["branch"], repository["url"],
         str(checkout)],
        [sys.executable, "-m", "pip", "install", "-q", "-e", f"{checkout}[book]"],
    ]
    assert all(kw.get("check") for _, kw in calls)
    assert sys.path[0] == str(checkout / "lib")  # importable in this kernel, without a restart
    # Imported from <checkout>/lib, the library's repo_root is the clone, which holds the
    # weights (a non-editable install would look for them next to site-packages).
    assert Path(run.__file__).resolve().parents[3] == ROOT == repo_root()
    assert list((ROOT / "data" / "weights").glob("*.safetensors"))

    calls.clear()
    checkout.mkdir()  # run again (a second chapter in the same session): no second clone
    exec(compile(setup_source, "setup-cell", "exec"), {})
    assert [cmd[0] for cmd, _ in calls] == [sys.executable]


def test_book_extra_exists_for_the_setup_cell():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "\nbook = [" in pyproject and 'name = "seelike"' in pyproject


def test_launch_buttons_point_at_the_branch_the_workflow_publishes():
    config = _config()
    buttons, repository = config["launch_buttons"], config["repository"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert buttons["notebook_interface"] in ("classic", "jupyterlab")
    assert repository["url"].startswith("https://github.com/")

    job = _workflow()["jobs"]["notebooks"]
    assert job["env"]["BRANCH"] == repository["branch"] != "main"
    script = job["steps"][-1]["run"]
    assert 'git push --force origin "$BRANCH"' in script
    assert 'git checkout --orphan "$BRANCH"' in script
    # The repository's own branch: the workflow pushes to origin, the buttons name the url.
    assert "external_repository" not in str(job)

    # jupyter-book hands the branch to sphinx-book-theme, which builds the launch links from it
    # and would also use it for the edit and source buttons: those stay off.
    sphinx, _ = get_final_config(user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
                                 cli_config={"latex_individualpages": False},
                                 raise_on_invalid=True)
    theme = sphinx["html_theme_options"]
    assert theme["repository_branch"] == repository["branch"]
    assert theme["launch_buttons"]["binderhub_url"] == buttons["binderhub_url"]
    assert not config.get("html", {}).get("use_edit_page_button")
    assert not config.get("html", {}).get("use_source_button")
    assert theme.get("path_to_docs", "") == ""  # the book sits at the branch's root


def test_the_published_layout_matches_the_launch_links():
    """The links open intro.ipynb and chapters/<name>.ipynb; the workflow puts the export
    exactly there."""
    jobs = _workflow()["jobs"]
    build, job = jobs["build"], jobs["notebooks"]
    assert job["needs"] == "build" and job["permissions"] == {"contents": "write"}
    (export,) = [s["run"] for s in build["steps"] if "--export-ipynb" in s.get("run", "")]
    upload, download = _step(build, "actions/upload-artifact"), _step(job,
                                                                      "actions/download-artifact")
    assert export.split("--export-ipynb")[1].split()[0] == upload["with"]["path"]
    assert upload["with"]["name"] == download["with"]["name"]
    # The branch is the book's sources with the exported notebooks beside the chapters, at the
    # path the theme puts in the links (pagename + .ipynb, below path_to_docs = "").
    assert download["with"]["path"] == "."
    assert all(c.parent == ROOT / "chapters" for c in toc.chapters())
    assert toc.root_page() == ROOT / "intro.md"
    script = job["steps"][-1]["run"]
    assert "git add intro.ipynb chapters/*.ipynb binder" in script
    # Binder: requirements in binder/ that install the checkout itself (data/weights included).
    assert "-e .[book]" in script and "binder/requirements.txt" in script
    assert "git rm -r --cached --quiet .github" in script  # no workflows on the generated branch
