"""scripts/check_browser.py on a hand-made site: it passes a good page and names the bad ones."""

from __future__ import annotations

import importlib.util
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_browser.py"


def _load() -> ModuleType:
    """scripts/ is not a package: import the checker from its file."""
    spec = importlib.util.spec_from_file_location("check_browser", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


check_browser = _load()
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")
_chromium, _driver = check_browser.find_browser()
pytestmark = pytest.mark.skipif(
    _chromium is None or _driver is None,
    reason="Chromium and chromedriver are not installed (apt-get install chromium "
           "chromium-driver; .ci/run does this)")


def _png(width: int = 2, height: int = 2) -> bytes:
    """A valid grey PNG, written by hand so the test needs no imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html and chapters/ with one good page and one page for each kind of problem."""
    root = tmp_path_factory.mktemp("html")
    (root / "chapters").mkdir()
    (root / "_static").mkdir()
    (root / "chapters" / "figure.png").write_bytes(_png())
    (root / "index.html").write_text(_page('<a href="chapters/good.html">good</a>'))
    (root / "_static" / "skipped.html").write_text(_page("an asset, not a page"))
    (root / "chapters" / "good.html").write_text(_page('<p>fine</p><img src="figure.png">'))
    (root / "chapters" / "broken_image.html").write_text(_page('<img src="missing.png">'))
    (root / "chapters" / "broken_link.html").write_text(
        _page('<a href="good.html#top">ok</a> <a href="../_sources/gone.ipynb">download</a>'))
    (root / "chapters" / "console_error.html").write_text(
        _page('<script>console.error("boom from the page")</script>'))
    (root / "chapters" / "math.html").write_text(
        _page(r'<p>An equation <span class="math notranslate nohighlight">\(x^2\)</span>.</p>'))
    return root


@pytest.fixture(scope="module")
def results(site: Path) -> dict[str, list[str]]:
    """One browser session over the whole site: page -> problems."""
    return {r.page: r.problems for r in check_browser.check_site(site, timeout=20)}


def test_finds_pages_not_assets(site: Path) -> None:
    assert check_browser.find_pages(site) == [
        "chapters/broken_image.html", "chapters/broken_link.html", "chapters/console_error.html",
        "chapters/good.html",
        "chapters/math.html", "index.html"]


def test_good_pages_pass(results: dict[str, list[str]]) -> None:
    assert results["chapters/good.html"] == []
    assert results["index.html"] == []


def test_broken_image_is_named(results: dict[str, list[str]]) -> None:
    problems = results["chapters/broken_image.html"]
    assert any(p.startswith("broken image: missing.png") for p in problems), problems


def test_broken_link_is_named(results: dict[str, list[str]]) -> None:
    assert results["chapters/broken_link.html"] == ["broken link: _sources/gone.ipynb"]


def test_console_error_is_named(results: dict[str, list[str]]) -> None:
    problems = results["chapters/console_error.html"]
    assert len(problems) == 1 and problems[0].startswith("console error:"), problems
    assert "boom from the page" in problems[0]


def test_math_without_mathjax_fails(results: dict[str, list[str]]) -> None:
    assert results["chapters/math.html"] == ["math not rendered: MathJax did not load"]


def test_command_line_exit_status_and_message(site: Path, tmp_path: Path) -> None:
    good = subprocess.run([sys.executable, str(SCRIPT), str(site), "--page", "chapters/good.html",
                           "--screenshots", str(tmp_path)], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "1 pages checked, 0 problems" in good.stdout
    assert (tmp_path / "chapters__good.png").read_bytes().startswith(b"\x89PNG")
    bad = subprocess.run([sys.executable, str(SCRIPT), str(site), "--page",
                          "chapters/console_error.html"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "FAIL chapters/console_error.html: console error:" in bad.stderr
