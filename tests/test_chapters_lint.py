"""Chapters' code is linted for the names it defines and uses.

A chapter is one long program split into cells: a function defined in a later cell with
the name of an earlier array silently replaces it, and the cell that reads the array fails
only when papermill reaches it. ruff's pyflakes rules (undefined names, a name redefined
before its first use) read every chapter's code as one script, so such a slip fails here
in a second instead of in the build's chapter pass.
"""

from __future__ import annotations

import subprocess
import sys

import jupytext
import pytest

from seelike.config import repo_root

CHAPTERS = sorted((repo_root() / "chapters").glob("*.md"))
#: F811: a name redefined before it was used; F821: a name used but never defined;
#: F823: a local read before its assignment.
RULES = "F811,F821,F823"
#: IPython gives every notebook ``display``.
BUILTINS = "builtins=['display']"


def lint(source: str) -> list[str]:
    """ruff's complaints about ``source`` (a chapter's code as one script), one a line."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select", RULES,
         "--config", BUILTINS, "--output-format", "concise", "-"],
        input=source, capture_output=True, text=True, check=False)
    # 0: clean, 1: complaints; anything else is ruff failing, which must not read as clean.
    assert done.returncode in (0, 1), f"ruff failed ({done.returncode}): {done.stderr}"
    found = [line for line in done.stdout.splitlines() if line.startswith("-:")]
    assert bool(found) == (done.returncode == 1), done.stdout
    return found


def test_lint_finds_a_function_that_replaces_an_unused_array() -> None:
    source = ("import numpy as np\n"
              "draws = np.zeros(3)\n"
              "def draws(x):\n"
              "    return x\n"
              "print(draws, display, undefined_name)\n")
    found = lint(source)
    assert any("F811" in f and "draws" in f for f in found), found
    assert any("F821" in f and "undefined_name" in f for f in found), found
    assert not any("display" in f for f in found), found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_code_defines_what_it_uses_once(chapter) -> None:
    notebook = jupytext.read(chapter)
    script = jupytext.writes(notebook, fmt="py:percent")
    found = lint(script)
    assert not found, f"{chapter.name}, lines of its py:percent script:\n" + "\n".join(found)
