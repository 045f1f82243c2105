"""The book's pages, as ``_toc.yml`` lists them: which are notebooks the runner executes
(a ``kernelspec`` in their front matter), which are plain pages staged as they are, and
where each executed notebook goes.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from seelike.config import repo_root

__all__ = ["chapters", "executed_path", "is_notebook", "notebooks", "pages", "root_page"]


def _toc_files(root: Path) -> list[Path]:
    """Every page under ``chapters/`` in the order of ``_toc.yml``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: list[Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node and str(node["file"]).startswith("chapters/"):
                found.append(root / f"{node['file']}.md")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def is_notebook(page: Path) -> bool:
    """Whether a page is a MyST notebook (a ``kernelspec`` in its front matter) to execute."""
    text = page.read_text()
    if not text.startswith("---"):
        return False
    front = text.split("---", 2)[1]
    return "kernelspec" in (yaml.safe_load(front) or {})


def chapters(root: Path | None = None) -> list[Path]:
    """The chapter notebooks in the order of ``_toc.yml`` (the one list of chapters)."""
    return [p for p in _toc_files(root or repo_root()) if is_notebook(p)]


def root_page(root: Path | None = None) -> Path | None:
    """The book's landing page, ``root`` of ``_toc.yml`` (``intro.md``); None without a toc."""
    root = root or repo_root()
    toc = root / "_toc.yml"
    if not toc.is_file():
        return None
    return root / f"{yaml.safe_load(toc.read_text())['root']}.md"


def notebooks(root: Path | None = None) -> list[Path]:
    """What the runner executes: the landing page if it is a notebook, then the chapters."""
    front = root_page(root)
    first = [front] if front is not None and front.is_file() and is_notebook(front) else []
    return first + chapters(root)


def executed_path(page: Path, out_dir: Path, root: Path | None = None) -> Path:
    """Where the executed notebook of ``page`` goes: the book's layout below ``out_dir``
    (``chapters/<name>.ipynb``, the landing page at the top); a page outside the book
    (a test's) goes under ``chapters/``."""
    try:
        relative = page.resolve().relative_to((root or repo_root()).resolve())
    except ValueError:
        relative = Path("chapters") / page.name
    return out_dir / relative.with_suffix(".ipynb")


def pages(root: Path | None = None) -> list[Path]:
    """The plain pages under ``chapters/`` (no code to execute), staged into the book as is."""
    return [p for p in _toc_files(root or repo_root()) if not is_notebook(p)]
