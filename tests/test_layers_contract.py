"""The library's layers have one direction: the engine below, the zoo above it, the book on top.

Read from the source with ``ast`` (every import, at any depth of a module's code, counts),
so a function-level import cannot hide a cycle. ``lib/seelike/*.py`` other than the zoo is
the engine and the analyses: they take modules, probe sets and plain numbers, never a
preset or the plan, and import nothing from the zoo (:data:`ZOO`: the registry, its weights
and training) or from ``seelike.book``; models they are given by name come through
``seelike.catalogue``, which the zoo fills. Nothing in ``lib/`` takes part in an import cycle.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
PACKAGE = LIB / "seelike"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
#: The zoo: which models exist, their weights and how they are trained.
ZOO = {"seelike.zoo", "seelike.models", "seelike.weights", "seelike.train", "seelike.akamaster"}
ENGINE = sorted(m for m in MODULES if not m.startswith("seelike.book") and m not in ZOO)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The ``seelike`` modules (of ``modules``) the file imports, nested imports included."""
    return imports_in(ast.parse(path.read_text()), modules)


def imports_in(tree: ast.AST, modules: set[str]) -> set[str]:
    """:func:`imports_of` a parsed module."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    names = set(modules)
    return {m: imports_of(p, names) - {m} for m, p in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle_and_a_clean_graph() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_checker_reads_nested_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from seelike.book import plan\n    import seelike.cka\n")
    assert imports_of(source, {"seelike.book.plan", "seelike.cka", "seelike.book"}) == {
        "seelike.book", "seelike.book.plan", "seelike.cka"}


def test_lib_has_no_import_cycle() -> None:
    assert cycles(graph(MODULES)) == []


@pytest.mark.parametrize("module", ENGINE)
def test_engine_modules_import_neither_the_zoo_nor_the_book_layer(module: str) -> None:
    found = imports_of(MODULES[module], set(MODULES))
    book = {m for m in found if m.startswith("seelike.book")}
    assert not book, f"{module} imports the book layer: {sorted(book)}"
    assert not found & ZOO, (f"{module} imports the zoo {sorted(found & ZOO)}: ask "
                             f"seelike.catalogue for a model by name instead")


def test_the_zoo_imports_nothing_from_the_book_layer() -> None:
    assert set(MODULES) >= ZOO and "seelike.catalogue" in ENGINE
    for module in sorted(ZOO):
        found = imports_of(MODULES[module], set(MODULES))
        book = {m for m in found if m.startswith("seelike.book")}
        assert not book, f"{module} imports the book layer: {sorted(book)}"


def test_the_book_layer_exists_and_uses_the_engine() -> None:
    book = [m for m in MODULES if m.startswith("seelike.book.")]
    assert {"seelike.book.presets", "seelike.book.plan", "seelike.book.results",
            "seelike.book.scorecard", "seelike.book.run"} <= set(book)
    assert imports_of(MODULES["seelike.book.results"], set(MODULES)) & {
        "seelike.passes", "seelike.compare", "seelike.cache"}


@pytest.mark.parametrize("module", ENGINE)
def test_engine_modules_describe_the_engine_not_the_book(module: str) -> None:
    # A chapter number in an engine module goes stale when the book changes; the book
    # cites the engine, not the other way round.
    text = MODULES[module].read_text()
    cited = sorted(set(re.findall(r"\b[Cc]hapters? \d+", text)))
    assert not cited, f"{module} cites the book's {cited}: describe what the code computes"


def public_names(tree: ast.Module) -> tuple[list[str] | None, set[str]]:
    """A module's ``__all__`` (None when it declares none) and the public functions and
    classes it defines at top level."""
    declared = None
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            declared = list(ast.literal_eval(node.value))
    return declared, {n for n in defined if not n.startswith("_")}


def test_public_names_reads_all_and_definitions() -> None:
    tree = ast.parse("__all__ = ['f']\ndef f(): pass\ndef g(): pass\ndef _h(): pass\n")
    assert public_names(tree) == (["f"], {"f", "g"})
    assert public_names(ast.parse("def f(): pass\n"))[0] is None


@pytest.mark.parametrize("module", [m for m, p in MODULES.items() if p.name != "__init__.py"])
def test_public_modules_declare_all(module: str) -> None:
    """Every module says what it exports: ``__all__`` names only what the module has, and
    lists every public function and class it defines (a new one is exported or private)."""
    tree = ast.parse(MODULES[module].read_text())
    declared, defined = public_names(tree)
    assert declared is not None, f"{module} has no __all__; list its public names"
    assert len(declared) == len(set(declared)), f"{module}.__all__ repeats a name"
    top = {t.id for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)
           for target in (n.targets if isinstance(n, ast.Assign) else [n.target])
           for t in ast.walk(target) if isinstance(t, ast.Name)}
    imported = {a.asname or a.name.split(".")[0] for n in tree.body
                if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    unknown = set(declared) - defined - top - imported
    assert not unknown, f"{module}.__all__ names what it does not have: {sorted(unknown)}"
    missing = defined - set(declared)
    assert not missing, (f"{module} defines public {sorted(missing)} outside __all__: add them "
                         f"to __all__ or give them a leading underscore")


def calls_of(tree: ast.AST) -> set[str]:
    """The names of the functions a module calls (``f(...)`` and ``module.f(...)``)."""
    return {n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id
            for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute | ast.Name)}


def test_calls_of_reads_plain_and_dotted_calls() -> None:
    assert calls_of(ast.parse("store.results(p)\nrun()\nx.y\n")) == {"results", "run"}


#: What computes: runs or caches a pass, loads weights or images, builds a network.
COMPUTING = {"seelike.book.store", "seelike.book.results", "seelike.cache", "seelike.passes",
             "seelike.models", "seelike.weights", "seelike.train", "seelike.network",
             "seelike.hooks", "seelike.taps", "seelike.memory", "seelike.data"}
COMPUTING_CALLS = {"results", "run", "load", "cached", "result_id", "meta_build", "build",
                   "probe_set", "probe_draw", "load_images", "tensor"}


def runtime_imports_of(path: Path, modules: set[str]) -> set[str]:
    """:func:`imports_of`, less what an ``if TYPE_CHECKING:`` block imports for annotations."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING",
                                                                   "typing.TYPE_CHECKING"):
            node.body = [ast.Pass()]
    return imports_in(tree, modules)


def test_runtime_imports_leave_out_annotation_only_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nimport seelike.data\n"
                      "if TYPE_CHECKING:\n    from seelike.passes import Analysis\n")
    assert runtime_imports_of(source, {"seelike.data", "seelike.passes"}) == {"seelike.data"}


@pytest.mark.parametrize("module", ["seelike.book.plan", "seelike.book.schedule"])
def test_the_plan_imports_nothing_that_computes(module: str) -> None:
    """The plan is data, and so is the schedule derived from it: they import directly no
    module that runs or caches a pass, loads weights or images or builds a network, and
    call none of those functions (a model's facts come through ``seelike.layers``). The
    probe sets' labels reach an analysis through its pass; what an analysis needs from
    another result (Fig 5's heads, a probe's fit) the plan declares as a ``plan.After``,
    which ``seelike.book.results.resolve`` computes. The analyses the plan builds are
    declarations (``seelike.analyses``), data that names models and parameters."""
    path = MODULES[module]
    reach = runtime_imports_of(path, set(MODULES))
    assert not reach & COMPUTING, f"{module} imports {sorted(reach & COMPUTING)}"
    calls = calls_of(ast.parse(path.read_text()))
    methods = {"needs", "begin", "consume", "update", "result", "compute"}
    assert not calls & (COMPUTING_CALLS | methods), sorted(calls & (COMPUTING_CALLS | methods))


#: What a pass is made of, and what reads or writes its results or its images: the plan
#: must not load any of it, even through the modules it imports.
PASS_MACHINERY = {
    # the pass and what it runs
    "seelike.passes", "seelike.hooks", "seelike.taps", "seelike.memory", "seelike.profile",
    "seelike.cka", "seelike.grams", "seelike.resample", "seelike.ridge",
    # the analyses' accumulators
    "seelike.compare", "seelike.accuracy", "seelike.attention", "seelike.estimators",
    "seelike.localization", "seelike.skips", "seelike.probes", "seelike.receptive_field",
    # results and images
    "seelike.book.store", "seelike.book.results", "seelike.book.images", "seelike.data",
    "seelike.probe_sets", "seelike.train",
}


@pytest.mark.parametrize("module", ["seelike.book.plan", "seelike.book.schedule"])
def test_importing_the_plan_loads_no_pass_machinery(module: str) -> None:
    """Everything the plan imports, transitively, in a fresh interpreter: no pass, no
    accumulator, no results store, no image loader. What it does load to read a model's
    facts is the zoo (``seelike.zoo``'s specs, and ``seelike.models``, whose import
    registers the zoo with ``seelike.catalogue`` for ``seelike.layers``' meta builds; the
    direct test above checks that the plan calls none of its loaders)."""
    code = (f"import sys, json, {module}\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('seelike'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "seelike.analyses" in loaded and module in loaded
    assert not loaded & PASS_MACHINERY, f"{module} loads {sorted(loaded & PASS_MACHINERY)}"


def test_the_knobs_reach_no_cache_nor_pass() -> None:
    """A knob's limits read the model's architecture (on the meta device), never a result."""
    path = MODULES["seelike.book.knobs"]
    reach = runtime_imports_of(path, set(MODULES))
    computing = {"seelike.book.store", "seelike.book.results", "seelike.cache",
                 "seelike.passes"}
    assert not reach & computing, f"knobs imports {sorted(reach & computing)}"
    calls = calls_of(ast.parse(path.read_text()))
    assert not calls & {"results", "run", "load", "cached", "result_id"}, sorted(
        calls & {"results", "run", "load", "cached", "result_id"})
