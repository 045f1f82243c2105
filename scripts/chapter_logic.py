"""Lines of logic per chapter: how far each chapter is from reading like d2l.

A line of logic is a non-blank, non-comment line of a code cell, cell options left out.
The parameters cell (the reader's knobs) is not logic; the folded worked solutions
(``hide-cell``) are counted apart, as tutorial code a reader opens to fork. The target is
about 60 lines of logic per chapter: narration, parameters and one-line library calls.

    python scripts/chapter_logic.py            # print the table
    python scripts/chapter_logic.py --write    # refresh it in CONTRIBUTING.md

``tests/test_chapter_logic.py`` fails when CONTRIBUTING.md's table is out of date.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- chapter logic: start -->", "<!-- chapter logic: end -->"
TARGET = 60


def count(path: Path) -> dict[str, int]:
    """``logic``, ``solutions`` and ``parameters`` lines of one chapter's code cells."""
    out = {"logic": 0, "solutions": 0, "parameters": 0}
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        part = ("parameters" if "parameters" in tags
                else "solutions" if "hide-cell" in tags else "logic")
        out[part] += sum(1 for line in cell.source.splitlines()
                         if line.strip() and not line.strip().startswith("#"))
    return out


def table(root: Path = ROOT) -> str:
    """The Markdown table of every numbered chapter, with the total."""
    rows = ["| chapter | logic | solutions (folded) | parameters |", "| --- | ---: | ---: | ---: |"]
    totals = {"logic": 0, "solutions": 0, "parameters": 0}
    for path in sorted((root / "chapters").glob("[0-9][0-9]_*.md")):
        c = count(path)
        totals = {k: totals[k] + c[k] for k in totals}
        rows.append(f"| `{path.stem}` | {c['logic']} | {c['solutions']} | {c['parameters']} |")
    rows.append(f"| **all** | **{totals['logic']}** | **{totals['solutions']}** | "
                f"**{totals['parameters']}** |")
    return "\n".join(rows)


def with_table(text: str, root: Path = ROOT) -> str:
    """``text`` (CONTRIBUTING.md) with the table between its markers refreshed."""
    if START not in text or END not in text:
        raise ValueError(f"CONTRIBUTING.md has no {START} ... {END} block to fill")
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{table(root)}\n{END}{rest.split(END, 1)[1]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="refresh CONTRIBUTING.md")
    args = parser.parse_args(argv)
    if args.write:
        path = ROOT / "CONTRIBUTING.md"
        path.write_text(with_table(path.read_text()))
    print(table())


if __name__ == "__main__":
    main()
