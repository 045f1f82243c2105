"""The chapter runner: chapter list from _toc.yml, papermill execution, failures, export."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import jupytext
import pytest
from chapter_text import HEADER

from seelike.book import execution, run, toc
from seelike.config import repo_root


def _chapter(tmp_path: Path, body: str, name: str = "99_test.md") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_chapters_follow_the_toc_and_each_has_one_parameters_cell():
    chapters = toc.chapters()
    assert chapters, "no chapters found in _toc.yml"
    assert [c.stem for c in chapters] == sorted(c.stem for c in chapters)
    for chapter in chapters:
        assert chapter.exists(), chapter
        cells = jupytext.read(chapter).cells
        tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, chapter.name
        assert 'preset = "cifar"' in tagged[0].source, chapter.name


def test_plain_pages_are_staged_as_they_are_and_notebooks_executed(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                       "  - file: chapters/01_nb\n  - file: chapters/02_page\n")
    _chapter(tmp_path / "chapters", "", "01_nb.md")
    (tmp_path / "chapters" / "02_page.md").write_text("# A page\n\nNo code here.\n")
    assert [p.name for p in toc.chapters(tmp_path)] == ["01_nb.md"]
    assert [p.name for p in toc.pages(tmp_path)] == ["02_page.md"]


def test_the_landing_page_is_a_notebook_executed_first_on_the_preset():
    """intro.md reads the committed results, so it is executed like a chapter: first."""
    front = toc.root_page()
    assert front == repo_root() / "intro.md" and toc.is_notebook(front)
    assert toc.notebooks() == [front, *toc.chapters()]
    tagged = [c for c in jupytext.read(front).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].source.strip() == 'preset = "cifar"'
    assert toc.executed_path(front, Path("out")) == Path("out") / "intro.ipynb"
    chapter = toc.chapters()[0]
    assert toc.executed_path(chapter, Path("out")) == Path("out/chapters") / f"{chapter.stem}.ipynb"


def _book(root: Path, *chapters: str) -> None:
    """A book skeleton under ``root``: a toc with landing page ``intro`` and ``chapters``."""
    (root / "chapters").mkdir()
    toc = "".join(f"  - file: chapters/{c}\n" for c in chapters)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nchapters:\n{toc}")
    for name in run.BOOK_FILES:
        if not (root / name).exists():
            (root / name).write_text(f"# {name}\n")


def test_a_notebook_landing_page_is_executed_and_staged_as_ipynb(tmp_path, monkeypatch):
    _book(tmp_path, "01_nb", "02_page")
    _chapter(tmp_path, '\n```{code-cell} ipython3\nprint("FRONT=" + preset)\n```\n', "intro.md")
    _chapter(tmp_path / "chapters", "", "01_nb.md")
    (tmp_path / "chapters" / "02_page.md").write_text("# A page\n\nNo code here.\n")
    monkeypatch.setattr(run, "repo_root", lambda: tmp_path)
    assert [p.name for p in toc.notebooks(tmp_path)] == ["intro.md", "01_nb.md"]
    assert run.main(["intro", "--preset", "smoke"]) == 0
    out = tmp_path / "_build" / "executed" / "smoke"
    assert "FRONT=smoke" in (out / "intro.ipynb").read_text()
    assert not (out / "chapters" / "intro.ipynb").exists()
    stage = run.stage("smoke", out, tmp_path)
    assert (stage / "intro.ipynb").is_file() and not (stage / "intro.md").exists()
    assert (stage / "chapters" / "02_page.md").is_file()
    assert all((stage / name).is_file() for name in run.BOOK_FILES)


def test_a_plain_landing_page_is_staged_as_it_is(tmp_path):
    _book(tmp_path, "02_page")
    (tmp_path / "intro.md").write_text("# Welcome\n\nNo code here.\n")
    (tmp_path / "chapters" / "02_page.md").write_text("# A page\n")
    assert toc.notebooks(tmp_path) == []
    stage = run.stage("smoke", tmp_path / "_build" / "executed" / "smoke", tmp_path)
    assert (stage / "intro.md").read_text() == "# Welcome\n\nNo code here.\n"
    assert not (stage / "intro.ipynb").exists()


def test_no_ipynb_is_committed_next_to_the_chapters():
    assert not list((repo_root() / "chapters").glob("*.ipynb"))


def test_papermill_injects_the_preset(tmp_path):
    chapter = _chapter(tmp_path, '\n```{code-cell} ipython3\nprint("PRESET=" + preset)\n```\n')
    out, seconds, cached = run.execute(chapter, "smoke", tmp_path / "out")
    assert not cached and seconds > 0
    text = json.dumps(json.loads(out.read_text())["cells"])
    assert "PRESET=smoke" in text
    # Unchanged source, library and preset: served from the runner's cache.
    assert run.execute(chapter, "smoke", tmp_path / "out")[2] is True


@pytest.mark.skipif(os.name != "posix", reason="no Unix sockets for ZeroMQ: the kernel keeps TCP")
def test_the_kernel_talks_over_unix_sockets_and_logs_no_warning(tmp_path, capfd):
    # Over TCP without CurveZMQ keys ipykernel warns on every start: once per chapter in CI.
    chapter = _chapter(tmp_path, "\n```{code-cell} ipython3\nfrom ipykernel.kernelapp import "
                                 "IPKernelApp\nprint('TRANSPORT=' + IPKernelApp.instance()"
                                 ".transport)\n```\n")
    out, _, _ = run.execute(chapter, "smoke", tmp_path / "out")
    assert "TRANSPORT=ipc" in json.dumps(json.loads(out.read_text())["cells"])
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out


def test_a_failing_chapter_names_itself_and_the_cell(tmp_path, monkeypatch, capsys):
    chapter = _chapter(tmp_path, "\n```{code-cell} ipython3\nx = 1\n```\n\n```{code-cell} "
                                 "ipython3\nraise ValueError('broken on purpose')\n```\n")
    monkeypatch.setattr(run, "notebooks", lambda root=None: [chapter])
    monkeypatch.setattr(run, "repo_root", lambda: tmp_path)
    (tmp_path / "lib" / "seelike").mkdir(parents=True)
    assert run.main(["--preset", "smoke"]) == 1
    err = capsys.readouterr().err
    assert "99_test.md" in err and "ValueError" in err and "broken on purpose" in err
    assert "cell" in err


def test_a_chapter_without_parameters_cell_is_refused(tmp_path):
    chapter = tmp_path / "98_bad.md"
    chapter.write_text(HEADER.replace(":tags: [parameters]\n", ""))
    with pytest.raises(SystemExit, match="exactly one cell tagged 'parameters'"):
        run.execute(chapter, "smoke", tmp_path / "out")


def test_unknown_preset_and_chapter_are_refused(capsys):
    with pytest.raises(SystemExit):
        run.main(["--preset", "nope"])
    assert "valid presets" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["no_such_chapter", "--preset", "smoke"])
    assert "unknown chapters" in capsys.readouterr().err


def test_export_ipynb_writes_every_page_that_runs_without_outputs(tmp_path):
    written = run.export_ipynb(tmp_path)
    assert [p.stem for p in written] == [c.stem for c in toc.notebooks()]
    for path in written:
        nb = json.loads(path.read_text())
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_the_injected_parameters_are_folded_into_the_chapters_own_cell(tmp_path):
    chapter = _chapter(tmp_path, '\n```{code-cell} ipython3\nprint(preset)\n```\n')
    out, _, _ = run.execute(chapter, "smoke", tmp_path / "out", params={"shots": 5})
    cells = json.loads(out.read_text())["cells"]
    tagged = [c for c in cells if c["metadata"].get("tags")]
    assert [c["metadata"]["tags"] for c in tagged] == [["parameters"]]
    assert "".join(tagged[0]["source"]) == 'preset = "smoke"\nshots = 5'


def test_timings_of_a_single_chapter_run_are_merged_not_replaced(tmp_path):
    path = tmp_path / "timings.json"
    first = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    execution.record(path, "cifar", {"01_a": 3.0, "02_b": 4.0}, when=first)
    record = execution.record(path, "cifar", {"02_b": 5.0}, cached=("01_a",),
                              when=datetime(2026, 2, 1, tzinfo=UTC))
    assert record["chapters"] == {"01_a": 3.0, "02_b": 5.0}
    assert json.loads(path.read_text())["total_seconds"] == 8.0
    # The cached page keeps its last real run; the re-executed one gets the new date.
    assert record["runs"]["01_a"] == {"seconds": 3.0, "executed": "2026-01-02T03:04:05+00:00",
                                      "cached": True}
    assert record["runs"]["02_b"]["executed"].startswith("2026-02-01")
    assert not list(tmp_path.glob("*.tmp"))


def test_execution_page_lists_every_page_with_its_last_run(tmp_path):
    path = tmp_path / "timings.json"
    execution.record(path, "smoke", {"intro": 1.25}, when=datetime(2026, 3, 4, 5, 6, tzinfo=UTC))
    execution.record(path, "smoke", {}, cached=("intro",))
    page = execution.render_page(f"# Stats\n\n{execution.MARKER}\n", path,
                                 ["intro", "chapters/01_a"])
    assert execution.MARKER not in page
    assert "| {doc}`/intro` | 2026-03-04 05:06:00 | 1.2 | from the cache |" in page
    assert "| {doc}`/chapters/01_a` | not run | – | not run |" in page
    assert "**1.2**" in page
    with pytest.raises(ValueError, match="execution statistics"):
        execution.render_page("# no marker", path, [])


def test_staging_fills_in_the_execution_page(tmp_path):
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: chapters/execution\n")
    (root / "intro.md").write_text("# Intro\n")
    for name in ("_config.yml", "references.bib", "references.md"):
        (root / name).write_text("")
    (root / "chapters" / "execution.md").write_text(f"# Stats\n\n{execution.MARKER}\n")
    executed = tmp_path / "executed"
    execution.record(executed / "timings.json", "smoke", {"intro": 2.0})
    staged = run.stage("smoke", executed, root) / "chapters" / "execution.md"
    assert "| {doc}`/intro` |" not in staged.read_text()  # intro is no notebook here
    assert "**2.0**" in staged.read_text() and execution.MARKER not in staged.read_text()


def test_build_with_chapter_names_is_refused_before_anything_runs(monkeypatch, capsys):
    monkeypatch.setattr(run, "execute", lambda *a, **k: pytest.fail("a chapter ran"))
    with pytest.raises(SystemExit):
        run.main(["chapters/02_cka.md", "--preset", "smoke", "--build"])
    assert "--build builds the whole book" in capsys.readouterr().err


def _tree_digest(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def test_a_reader_parameter_never_touches_the_preset_tables(tmp_path, monkeypatch, mirror):
    """Chapter 8 run with shots=5 (a knob of its parameters cell) writes its claims under
    a name of its own; the book's smoke tables and the committed results stay as they were."""
    results = tmp_path / "results"
    monkeypatch.setenv("SEELIKE_RESULTS", str(results))
    monkeypatch.setenv("SEELIKE_CACHE", str(tmp_path / "cache"))
    own = results / "smoke" / "08_scale.csv"
    own.parent.mkdir(parents=True)
    own.write_text("the book's own smoke table\n")
    committed = _tree_digest(repo_root() / "data" / "results")
    assert run.main(["chapters/08_scale.md", "--preset", "smoke", "-p", "shots=5",
                     "--force"]) == 0
    assert own.read_text() == "the book's own smoke table\n"
    assert sorted(p.name for p in (results / "smoke").iterdir()) == ["08_scale.csv"]
    reader = results / "smoke~shots=5" / "08_scale.csv"
    assert reader.exists() and "08_scale" in reader.read_text()
    assert _tree_digest(repo_root() / "data" / "results") == committed


@pytest.mark.parametrize("argv, says", [
    (["07_localization", "-p", "bogus=3"], "-p bogus: no chapter has this parameter"),
    (["04_representation_structure", "-p", "shots=5"],
     "-p shots: not a parameter of 04_representation_structure"),
    (["-p", "shots=5"], "run only chapters with it (07_localization, 08_scale)"),
    (["07_localization", "-p", "shots=1000000000"], "shots=1000000000: cifar can honour 2 "
                                                     "to 5000; use 2<=shots<=5000"),
    (["07_localization", "-p", "shots=1"], "shots=1: cifar can honour 2 to 5000"),
    (["07_localization", "-p", "resnet_stages=10"], "resnet_stages=10: cifar can honour 1 "
                                                     "to 4"),
    (["07_localization", "-p", "shots=0"], "shots=0: expected a positive whole number"),
    (["07_localization", "-p", "shots='ten'"], "shots='ten'"),
    (["05_local_global", "-p", "head_window=2"], "head_window=2: expected a fraction"),
    (["05_local_global", "-p", "min_pooled_heads=99"], "min_pooled_heads=99: cifar can honour "
                                                        "1 to 36"),
    (["04_representation_structure", "-p", "cka_examples=20000"],
     "cka_examples=20000: cifar10 holds at most 10000"),
    (["04_representation_structure", "-p", "cka_batch=3"], "cka_batch=3"),
    (["07_localization", "-p", "preset=3"], "-p preset: the preset is not a parameter"),
    (["07_localization", "-p", "list=3"], "-p list: not a parameter name"),
    (["07_localization", "-p", "lambda=3"], "-p lambda: not a parameter name"),
])
def test_a_parameter_a_chapter_cannot_honour_starts_no_kernel(argv, says, monkeypatch, capsys):
    monkeypatch.setattr(run, "execute", lambda *a, **k: pytest.fail("a kernel started"))
    committed = _tree_digest(repo_root() / "data" / "results")
    assert run.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err, err
    assert _tree_digest(repo_root() / "data" / "results") == committed


def test_a_parameter_every_named_chapter_has_is_passed_on(monkeypatch):
    ran = []
    monkeypatch.setattr(run, "execute", lambda chapter, *a, **k: (
        ran.append((chapter.stem, k["params"])), (chapter, 0.0, True))[1])
    monkeypatch.setattr(run.execution, "record", lambda *a, **k: {})
    assert run.main(["07_localization", "08_scale", "-p", "shots=5"]) == 0
    assert ran == [("07_localization", {"shots": 5}), ("08_scale", {"shots": 5})]


def test_executed_notebooks_name_the_chapter_not_this_machine(tmp_path: Path) -> None:
    import nbformat

    out = tmp_path / "executed" / "04_representation_structure.ipynb"
    out.parent.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": str(tmp_path / "x.source.ipynb"),
                                "output_path": str(out), "duration": 1.0}
    nbformat.write(nb, out)
    run.drop_machine_paths(out, Path("chapters/04_representation_structure.md"))
    text = out.read_text()
    assert str(tmp_path) not in text
    record = nbformat.read(out, as_version=4).metadata["papermill"]
    assert record == {"input_path": "chapters/04_representation_structure.md",
                      "output_path": "04_representation_structure.ipynb", "duration": 1.0}

