"""The chapter runner: execute the book's chapters headlessly, then build the HTML.

``python -m seelike.book.run [chapters…] --preset P [--build]`` reads each chapter
(a MyST Markdown notebook) with jupytext, executes it with papermill, which
injects ``preset = P`` after the chapter's ``parameters`` cell, and writes the
executed notebook to ``_build/executed/P/`` (``chapters/<name>.ipynb``). The book's
landing page (``root`` of ``_toc.yml``, ``intro.md``) is executed the same way when it is
a notebook too, to ``_build/executed/P/intro.ipynb``, and staged as ``intro.ipynb``.
``--build`` then stages those executed notebooks beside the book's config and runs
``jupyter-book build -W`` on them, so the HTML shows exactly what was executed (CI
builds the smoke preset this way; ``make book`` the default one). A chapter whose source, the
library code it imports (:func:`seelike.cache.code_closure`), weights, preset and
parameters are unchanged is not executed again: editing one chapter's claims or
plots re-executes that chapter alone, and its analyses come from the results cache.

``-p NAME=VALUE`` sets one of a chapter's parameters (its knobs, see
:data:`seelike.book.knobs.KNOBS`); such a run goes to ``_build/executed/<P>~NAME=VALUE``
and writes its claims under that name, never over the preset's tables.

``--export-ipynb DIR`` writes every chapter as a plain ``.ipynb`` (no outputs),
for Colab and other notebook front ends.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import hashlib
import json
import keyword
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from seelike.book import execution
from seelike.book.presets import PRESETS
from seelike.book.toc import executed_path, is_notebook, notebooks, pages, root_page
from seelike.cache import code_closure
from seelike.config import repo_root

if TYPE_CHECKING:
    from traitlets.config import Config

__all__ = ["BOOK_FILES", "EXECUTION_PAGE", "READS_COMMITTED", "READS_RESULTS", "build",
           "check_params", "drop_machine_paths", "execute", "export_ipynb",
           "fold_injected_parameters", "imported_modules", "main", "stage"]

# Chapters that read the other chapters' results tables (the scorecard; chapter 10 shows
# chapter 4's verdicts beside its own): re-run whenever those change.
READS_RESULTS = {"10_estimators", "11_scorecard"}
# Pages that read the committed results (data/results): re-run whenever those change.
READS_COMMITTED = {"11_scorecard", "intro", "revisions"}
# Staged as they are; the root page (intro) too, unless it is a notebook (then executed).
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib", "references.md")
# The plain page whose table of page timings the runner fills in when it stages the book.
EXECUTION_PAGE = "execution.md"


_IMPORT = re.compile(r"^\s*(?:from\s+(seelike(?:\.\w+)*)\s+import\s+([\w, ()]+)|"
                     r"import\s+(seelike(?:\.\w+)*))", re.M)


def imported_modules(chapter: Path) -> list[str]:
    """The ``seelike`` modules a chapter's code imports (``from seelike.book import plan``)."""
    found: set[str] = set()
    for package, names, plain in _IMPORT.findall(chapter.read_text()):
        if plain:
            found.add(plain)
            continue
        found.add(package)
        for name in re.split(r"[,\s()]+", names):
            candidate = f"{package}.{name.split(' as ')[0]}"
            if name and _is_module(candidate):
                found.add(candidate)
    return sorted(found)


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _stamp(chapter: Path, preset: str, root: Path, params: dict[str, object]) -> str:
    """What a chapter's output depends on: its source, the library code it imports (with all
    that imports), the weights, the preset and its parameters.

    A chapter in :data:`READS_RESULTS` also depends on the other chapters' results tables.
    """
    from seelike.book.claims import results_dir

    digest = hashlib.sha256(json.dumps([preset, params], sort_keys=True, default=str).encode())
    code = [root / "lib" / Path(*m.split(".")) for m in code_closure(imported_modules(chapter))]
    # A module's data beside it (claims/revisions.json) counts as its code.
    sources = [chapter, *(p / "__init__.py" if p.is_dir() else p.with_suffix(".py")
                          for p in code),
               *(p.with_suffix(".json") for p in code if p.with_suffix(".json").is_file()),
               *sorted((root / "data" / "weights").glob("*.json"))]
    if chapter.stem in READS_RESULTS:
        sources += [p for p in sorted(results_dir(preset).glob("*.csv")) if p.stem not in
                    READS_RESULTS]
    if chapter.stem in READS_COMMITTED:
        sources += sorted((root / "data" / "results").rglob("*.*"))
    for path in sources:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def check_params(chapters: list[Path], preset: str, params: dict[str, object]) -> None:
    """Refuse ``-p`` parameters that some chapter cannot honour, before any kernel starts.

    A name must be a knob of every chapter run (:data:`seelike.book.knobs.KNOBS`), neither
    ``preset`` nor a Python keyword or built-in; every value must pass the chapter's own
    :func:`~seelike.book.chapter.setup`, limits of the data and models included. Raises a
    ValueError saying what was wrong and how to fix it.
    """
    from seelike.book.chapter import setup
    from seelike.book.knobs import KNOBS

    for name in params:
        if name == "preset":
            raise ValueError("-p preset: the preset is not a parameter; use --preset "
                             f"({', '.join(PRESETS)})")
        if not name.isidentifier() or keyword.iskeyword(name) or hasattr(builtins, name):
            raise ValueError(f"-p {name}: not a parameter name (a parameter is an identifier "
                             "that is neither a Python keyword nor a built-in)")
        having = [c for c, knobs in KNOBS.items() if name in knobs]
        if not having:
            raise ValueError(f"-p {name}: no chapter has this parameter; they are " + "; ".join(
                f"{c}: {', '.join(knobs)}" for c, knobs in KNOBS.items()))
        lacking = [c.stem for c in chapters if c.stem not in having]
        if lacking:
            raise ValueError(f"-p {name}: not a parameter of {', '.join(lacking)}; run only "
                             f"chapters with it ({', '.join(having)}), e.g. python -m "
                             f"seelike.book.run {having[0]} -p {name}=...")
    if params:
        for chapter in chapters:
            try:
                setup(chapter.stem, preset, **params)
            except (TypeError, ValueError) as err:
                raise ValueError(str(err)) from None


def execute(chapter: Path, preset: str, out_dir: Path, *, force: bool = False,
            timeout: int = 1800, params: dict[str, object] | None = None,
            ) -> tuple[Path, float, bool]:
    """Execute one chapter with papermill; returns (notebook, seconds, was_cached)."""
    import jupytext
    import papermill

    root = repo_root()
    out = executed_path(chapter, out_dir, root)
    stamp_file = out.with_suffix(".stamp")
    params = params or {}
    stamp = _stamp(chapter, preset, root, params)
    if not force and out.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return out, 0.0, True
    out.parent.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(chapter)
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise SystemExit(f"{chapter.name}: needs exactly one cell tagged 'parameters', "
                         f"found {len(tagged)}")
    source = out.with_suffix(".source.ipynb")
    jupytext.write(notebook, source)
    start = time.perf_counter()
    try:
        # Under /tmp: a socket path must stay short (about 100 bytes), whatever TMPDIR is.
        with tempfile.TemporaryDirectory(prefix="seelike-kernel-",
                                         dir="/tmp" if os.name == "posix" else None) as sockets:
            papermill.execute_notebook(
                str(source), str(out), parameters={"preset": preset, **params},
                cwd=str(chapter.parent), config=_local_kernel(sockets),
                kernel_name="python3", progress_bar=False, execution_timeout=timeout,
                report_mode=False,
                # Every output has arrived and every file is written when the last cell ends;
                # a graceful exit would then spend a second or more tearing down torch.
                shutdown_kernel="immediate")
    finally:
        source.unlink(missing_ok=True)
        if out.exists():  # a failed run's notebook too: it is kept for reading
            drop_machine_paths(out, executed_path(chapter, Path(), root).with_suffix(".md"))
    fold_injected_parameters(out)
    stamp_file.write_text(stamp)
    return out, time.perf_counter() - start, False


def _local_kernel(sockets: str) -> Config:
    """Kernel-manager settings for a kernel that talks over Unix sockets in ``sockets``.

    The runner and its kernel share one machine, so nothing needs TCP; over TCP without
    CurveZMQ keys ipykernel (7.3 and later) warns on every start, once per chapter in the
    build's log. The socket path is absolute, since kernel and client resolve a relative
    one against different working directories. Passed as configuration, not as a manager
    of our own, so that the notebook client still owns the kernel and shuts it down.
    Windows has no Unix sockets for ZeroMQ: there the kernel keeps TCP.
    """
    # Imported here, as papermill is: the runner's other commands work without the book extras.
    from traitlets.config import Config

    if os.name != "posix":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})


def drop_machine_paths(notebook_path: Path, chapter: Path) -> None:
    """Name the chapter, not this machine's folders, in papermill's metadata.

    papermill records the absolute paths it read and wrote (``input_path``,
    ``output_path``); the executed notebook is what a reader downloads from the page, so
    they become ``chapter`` (relative to the book's root) and the notebook's own file name.
    """
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    record = nb.metadata.get("papermill")
    if not record:
        return
    record["input_path"] = chapter.as_posix()
    record["output_path"] = notebook_path.name
    nbformat.write(nb, notebook_path)


def fold_injected_parameters(notebook_path: Path) -> None:
    """Write papermill's injected values into the chapter's own ``parameters`` cell.

    papermill adds a cell tagged ``injected-parameters`` below the chapter's; a reader
    would see both, the first one stale. The page shows one cell instead: the chapter's,
    each injected name's line set to the value this run used (its comment kept).
    """
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    tags = [c.get("metadata", {}).get("tags", []) for c in nb.cells]
    injected = [i for i, t in enumerate(tags) if "injected-parameters" in t]
    own = [i for i, t in enumerate(tags) if "parameters" in t]
    if not injected or not own:
        return
    values = {}
    for line in nb.cells[injected[0]].source.splitlines():
        name, sep, value = line.partition(" = ")
        if sep and name.isidentifier():
            values[name] = value.strip()
    lines = nb.cells[own[0]].source.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\w+)(\s*=\s*)([^#]*?)(\s*#.*)?$", line)
        if match and match.group(1) in values:
            value = values.pop(match.group(1))
            lines[i] = f"{match.group(1)}{match.group(2)}{value}{match.group(4) or ''}"
    lines += [f"{name} = {value}" for name, value in values.items()]
    nb.cells[own[0]].source = "\n".join(lines)
    del nb.cells[injected[0]]
    nbformat.write(nb, notebook_path)


def _failure(err: Exception) -> str:
    """'cell N: Error: message' from a papermill failure."""
    cell = getattr(err, "exec_count", None)
    name, value = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    return f"cell {cell}: {name}: {value}" if cell is not None else f"{name}: {value}"


def stage(preset: str, executed: Path, root: Path) -> Path:
    """The book's sources for jupyter-book: its config and plain pages as they are, the
    executed notebooks in their place (the landing page as ``intro.ipynb`` if it is one).

    The staging folder is synchronised, not rebuilt: a file whose content is unchanged
    keeps its modification time, so Sphinx re-reads only the pages that changed and an
    edit to one chapter rebuilds one page.
    """
    stage = root / "_build" / f"book-{preset}"
    wanted: dict[Path, Path] = {stage / name: root / name for name in BOOK_FILES}
    front = root_page(root)
    if front is not None and front.is_file():
        wanted[stage / (f"{front.stem}.ipynb" if is_notebook(front) else front.name)] = (
            executed_path(front, executed, root) if is_notebook(front) else front)
    if (root / "_static").exists():
        wanted |= {stage / p.relative_to(root): p
                   for p in (root / "_static").rglob("*") if p.is_file()}
    for nb in sorted((executed / "chapters").glob("*.ipynb")):
        wanted[stage / "chapters" / nb.name] = nb
    for page in pages(root):
        wanted[stage / "chapters" / page.name] = page
    rendered = {stage / "chapters" / EXECUTION_PAGE: _execution_page(root, executed)} \
        if (root / "chapters" / EXECUTION_PAGE).is_file() else {}
    for target, source in wanted.items():
        content = rendered[target] if target in rendered else source.read_bytes()
        if not target.exists() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    for old in [p for p in stage.rglob("*") if p.is_file() and p not in wanted]:
        old.unlink()
    return stage


def _execution_page(root: Path, executed: Path) -> bytes:
    """The execution-statistics page with the table of this run's timings filled in."""
    order = [p.relative_to(root).with_suffix("").as_posix() for p in notebooks(root)]
    source = (root / "chapters" / EXECUTION_PAGE).read_text()
    return execution.render_page(source, executed / "timings.json", order).encode()


def build(preset: str, executed: Path, root: Path) -> Path:
    """Stage the executed notebooks with the book's config and build the HTML (warnings fail)."""
    stage_dir = stage(preset, executed, root)
    html_root = root / "_build" / preset
    # Sphinx copies a static file only where none exists yet: drop the old copies of the
    # book's own (_static/) so that an edited stylesheet reaches the pages.
    for own in (p for p in (root / "_static").rglob("*") if p.is_file()):
        (html_root / "_build" / "html" / own.relative_to(root)).unlink(missing_ok=True)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jupyter_book), "build", str(stage_dir), "--path-output",
                             str(html_root), "-W", "-n", "--keep-going"])
    if result.returncode:
        raise SystemExit(f"jupyter-book build failed (exit {result.returncode}); see above")
    return html_root / "_build" / "html" / "index.html"


def export_ipynb(directory: Path) -> list[Path]:
    """Every page that runs as a plain .ipynb without outputs, launchable on Colab and Binder.

    Written in the book's layout below ``directory``: ``intro.ipynb`` (the landing page)
    and ``chapters/<name>.ipynb``, where the launch buttons of each page look for them.

    Each notebook starts with a setup cell (id ``seelike-setup``) that does nothing where
    ``seelike`` is importable (a checkout, Binder, papermill). Anywhere else (Colab) it
    clones the repository and branch of ``_config.yml``'s ``repository`` (the branch the
    launch buttons open, which the book workflow publishes with these notebooks) and
    installs it editable with the ``book`` extra: the library finds the trained weights in
    ``data/weights`` of its checkout (``config.repo_root``), so a non-editable install from
    git would not find them. The clone goes to ``seelike-repo/``, a name that cannot shadow
    the package; ``lib/`` joins ``sys.path`` at once, as the editable install's ``.pth``
    counts only from the next kernel start.
    """
    import jupytext
    import nbformat

    root = repo_root()
    repository = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    setup = "\n".join([
        "# Setup for Colab and other hosted notebooks; does nothing where seelike is installed",
        "# (a checkout of the book, Binder). The library reads its trained weights from",
        "# data/weights of its checkout, so the repository is cloned and installed editable.",
        "import importlib.util",
        "",
        'if importlib.util.find_spec("seelike") is None:',
        "    import subprocess",
        "    import sys",
        "    from pathlib import Path",
        "",
        '    checkout = Path("seelike-repo").resolve()',
        "    if not checkout.exists():",
        f'        subprocess.run(["git", "clone", "--depth", "1", "--branch", '
        f'{json.dumps(repository["branch"])},',
        f'                        {json.dumps(repository["url"])}, str(checkout)], check=True)',
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e",',
        '                    f"{checkout}[book]"], check=True)',
        '    sys.path.insert(0, str(checkout / "lib"))',
        "    importlib.invalidate_caches()",
    ])
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    # The book's layout, which the launch links follow: the landing page at the root
    # (intro.ipynb), the chapters under chapters/.
    for chapter in notebooks(root):
        target = directory / chapter.relative_to(root).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = jupytext.read(chapter)
        notebook.cells.insert(0, nbformat.v4.new_code_cell(setup, id="seelike-setup"))
        jupytext.write(notebook, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seelike.book.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="chapter file names or stems, or intro "
                                                    "(default: all)")
    parser.add_argument("--preset", default="cifar", help=f"one of {', '.join(PRESETS)}")
    parser.add_argument("--build", action="store_true", help="then build the HTML book")
    parser.add_argument("--force", action="store_true", help="re-execute unchanged chapters")
    parser.add_argument("--export-ipynb", type=Path, metavar="DIR")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set a chapter parameter (a Python literal), e.g. -p shots=5")
    args = parser.parse_args(argv)
    if args.build and args.chapters:
        parser.error("--build builds the whole book: give no chapter names (run the chapters "
                     "first, then --build alone)")
    if args.build and args.param:
        parser.error("--build builds the book of the preset's own run: give no -p parameters")
    params = {}
    for item in args.param:
        name, sep, text = item.partition("=")
        try:
            params[name.strip()] = ast.literal_eval(text.strip()) if sep else None
        except (ValueError, SyntaxError):
            params[name.strip()] = text.strip()
        if not sep or not name.strip().isidentifier():
            parser.error(f"-p {item!r}: expected NAME=VALUE, e.g. -p shots=5")
    if args.export_ipynb:
        for path in export_ipynb(args.export_ipynb):
            print(path)
        return 0
    if args.preset not in PRESETS:
        parser.error(f"unknown preset {args.preset!r}; valid presets: {', '.join(PRESETS)}")
    root = repo_root()
    selected = notebooks(root)
    if args.chapters:
        wanted = {Path(c).stem for c in args.chapters}
        unknown = wanted - {c.stem for c in selected}
        if unknown:
            parser.error(f"unknown chapters {sorted(unknown)}; chapters: "
                         f"{', '.join(c.stem for c in selected)}")
        selected = [c for c in selected if c.stem in wanted]
    try:
        check_params(selected, args.preset, params)
    except ValueError as err:  # one line, before any kernel starts
        print(f"python -m seelike.book.run: {err}", file=sys.stderr)
        return 2
    from seelike.book.chapter import results_name
    from seelike.book.presets import get_preset

    run_name = results_name(get_preset(args.preset), params)
    out_dir = root / "_build" / "executed" / run_name
    total = time.perf_counter()
    for i, chapter in enumerate(selected, 1):
        label = f"[{i}/{len(selected)}] {chapter.stem} ({args.preset})"
        print(f"{label} ...", flush=True)
        try:
            _, seconds, cached = execute(chapter, args.preset, out_dir, force=args.force,
                                         params=params)
        except Exception as err:  # papermill's errors carry the failing cell
            print(f"FAILED {chapter.name} at {_failure(err)}", file=sys.stderr, flush=True)
            print(f"  executed notebook with the traceback: "
                  f"{executed_path(chapter, out_dir, root)}", file=sys.stderr)
            return 1
        # Recorded page by page, so that a failed run keeps what it measured; a cached page
        # took no time, and its last real timing stands.
        execution.record(out_dir / "timings.json", run_name,
                         {} if cached else {chapter.stem: round(seconds, 1)},
                         cached=(chapter.stem,) if cached else ())
        # The largest kernel so far (each chapter runs in a kernel of its own): a rise after a
        # chapter is that chapter's peak resident memory.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{label} {'cached' if cached else f'{seconds:.1f} s'}, largest kernel so far "
              f"{peak:,.0f} MiB", flush=True)
    elapsed = time.perf_counter() - total
    print(f"executed {len(selected)} chapters in {elapsed:.1f} s")
    if args.build:
        index = build(args.preset, out_dir, root)
        print(f"book built: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
