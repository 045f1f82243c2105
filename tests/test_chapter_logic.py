"""scripts/chapter_logic.py: lines of logic per chapter, and CONTRIBUTING.md's table of them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from chapter_text import HEADER

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def logic() -> ModuleType:
    """scripts/ is not a package: import the counter from its file."""
    spec = importlib.util.spec_from_file_location("chapter_logic",
                                                  ROOT / "scripts" / "chapter_logic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHAPTER = HEADER + """
```{code-cell} ipython3
:tags: [hide-input]

# a comment is not logic
x = 1

y = x + 1
```

```{code-cell} ipython3
:tags: [hide-cell]

z = 3
```
"""


def test_count_splits_logic_solutions_and_parameters(logic: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "chapters").mkdir()
    path = tmp_path / "chapters" / "01_a.md"
    path.write_text(CHAPTER)
    assert logic.count(path) == {"logic": 2, "solutions": 1, "parameters": 1}
    assert "| `01_a` | 2 | 1 | 1 |" in logic.table(tmp_path)
    text = f"before\n{logic.START}\nold\n{logic.END}\nafter"
    assert logic.with_table(text, tmp_path) == (f"before\n{logic.START}\n{logic.table(tmp_path)}"
                                                f"\n{logic.END}\nafter")
    with pytest.raises(ValueError, match="no <!-- chapter logic"):
        logic.with_table("no markers", tmp_path)


def test_contributing_reports_the_current_counts(logic: ModuleType) -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    assert logic.with_table(text) == text, (
        "CONTRIBUTING.md's chapter-logic table is stale: run "
        "python scripts/chapter_logic.py --write")


def test_every_chapter_holds_at_most_the_target_lines_of_logic(logic: ModuleType) -> None:
    """A chapter reads like d2l: narration, parameters and one-line library calls."""
    over = {path.stem: n for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
            if (n := logic.count(path)["logic"]) > logic.TARGET}
    assert not over, (f"chapters over {logic.TARGET} lines of logic: {over}; move what the page "
                      "gathers and quotes into seelike/book/pages/, drawings into "
                      "seelike/book/figures/")
