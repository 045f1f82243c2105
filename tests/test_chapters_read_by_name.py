"""Chapters read results by name, never by position.

A chapter that pairs a list of results with its list of requests, or takes ``[0]`` of one,
mislabels a figure the day someone reorders a request list. So chapters call
``seelike.book.results.keyed`` (results by names the chapter chooses) or an entry point
that returns one result, and never subscript or unpack an entry point's return by
position. Read from every code cell of every chapter with ``ast``.
"""

from __future__ import annotations

import ast

import jupytext
import pytest

from seelike.config import repo_root

CHAPTERS = sorted((repo_root() / "chapters").glob("*.md"))
#: The entry points that return a list of results in the order of their requests.
LISTS = {"results", "cka_many", "cka_draws"}


def _is_entry_point(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "results")


def positional_reads(source: str) -> list[str]:
    """Each place ``source`` reads a result by its position, as ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if _is_entry_point(node) and node.func.attr in LISTS:  # type: ignore[attr-defined]
            found.append(f"{node.lineno}: results.{node.func.attr} returns a list; "  # type: ignore[attr-defined]
                         f"use results.keyed")
        elif (isinstance(node, ast.Subscript) and _is_entry_point(node.value)
              and not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str))):
            found.append(f"{node.lineno}: a result taken by position")
        elif (isinstance(node, ast.Assign) and _is_entry_point(node.value)
              and any(isinstance(t, ast.Tuple | ast.List) for t in node.targets)):
            found.append(f"{node.lineno}: a result unpacked by position")
    return sorted(found, key=lambda f: int(f.split(":")[0]))


def test_positional_reads_finds_each_kind_and_passes_reads_by_name() -> None:
    bad = ("a = results.results(P, [x], purpose='cka')\n"
           "b = results.cka_many(P, rs)\n"
           "c = results.one(P, x)[0]\n"
           "d, e = results.receptive_fields(P, m, r)\n")
    assert [f.split(":")[0] for f in positional_reads(bad)] == ["1", "2", "3", "4"]
    good = ("a = results.keyed(P, {r.pair: r for r in rs})\n"
            "b = results.one(P, x)['cka']\n"
            "c = results.receptive_fields(P, m, r).moments\n")
    assert positional_reads(good) == []


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_read_results_by_name(chapter) -> None:
    notebook = jupytext.read(chapter)
    found = [f"cell {i}, line {f}" for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" for f in positional_reads(cell.source)]
    assert not found, f"{chapter.name} reads results by position:\n" + "\n".join(found)
