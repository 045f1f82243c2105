"""scripts/check_browser.py on a hand-made site: it passes a good page and names the bad ones."""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
import tempfile
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


def _png(width: int = 2, height: int = 2, dpi: float | None = None) -> bytes:
    """A valid grey PNG, written by hand so the test needs no imaging library; with ``dpi``
    it records that density in a pHYs chunk, as matplotlib does."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    density = b"" if dpi is None else chunk(
        b"pHYs", struct.pack(">IIB", round(dpi / 0.0254), round(dpi / 0.0254), 1))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + density + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _svg(width: str) -> str:
    """An SVG as matplotlib writes it: the size in pt on the root element."""
    return ('<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="216pt" '
            'viewBox="0 0 432 216" version="1.1"><rect width="432" height="216" '
            'fill="#888"/></svg>')


def _page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>"


# The layout of sphinx-book-theme 1.x (pydata-sphinx-theme 0.17) that the rules depend on:
# a navbar with the logo, a primary sidebar hidden on phones, the article in a container that
# does not clip, tables in a scroll container, images at most as wide as the text.
BOOK_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 sans-serif; }
.bd-container { display: flex; }
.bd-sidebar-primary { flex: 0 0 250px; }
@media (max-width: 960px) { .bd-sidebar-primary { display: none; } }
.bd-main { flex: 1 1 auto; min-width: 0; }
.bd-article-container { max-width: 60em; padding: 1rem; }
img { max-width: 100%; height: auto; }
figure { margin: 1em 0; }
pre { overflow: auto; }
.pst-scrollable-table-container { overflow-x: auto; }
td { white-space: nowrap; }
"""


# The book's own stylesheet, as _config.yml adds it to every page.
SEELIKE_CSS = (SCRIPT.parents[1] / "_static" / "seelike.css").read_text()


def _book(article: str, footer: str = "", *, seelike_css: bool = True) -> str:
    """A page of the book as sphinx-book-theme lays it out, with ``article`` as its content
    (and the book's stylesheet after the theme's, unless ``seelike_css`` is False)."""
    css = BOOK_CSS + (SEELIKE_CSS if seelike_css else "")
    return ('<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>t</title><style>{css}</style></head><body>"
            '<header class="bd-header navbar"><a href="../index.html">'
            '<img class="logo__image" src="../_static/logo.png" alt="logo"></a></header>'
            '<div class="bd-container"><div class="bd-sidebar-primary">'
            '<a href="clean.html">Clean</a></div>'
            '<main id="main-content" class="bd-main"><div class="bd-content">'
            '<div class="bd-article-container"><article class="bd-article">'
            f"{article}</article></div></div></main></div>"
            f'<footer class="bd-footer">{footer}</footer></body></html>')


def _figure(image: str, caption: str = "A captioned figure.", name: str = "fig-x") -> str:
    """A figure as myst-nb's glue:figure and the figure directive render it."""
    number = '<span class="caption-number">Fig. 1 </span>'
    text = f'<span class="caption-text">{caption}</span>' if caption else ""
    return (f'<figure class="align-default" id="{name}">'
            f'<a class="reference internal image-reference" href="#">{image}</a>'
            f"<figcaption><p>{number}{text}"
            f'<a class="headerlink" href="#{name}" title="Link to this image">#</a></p>'
            "</figcaption></figure>")


def _retina(src: str, width: int = 600, height: int = 300) -> str:
    """An image as myst-nb renders a retina output: its 1x size in the style."""
    return (f'<img alt="{src}" src="{src}" '
            f'style="width: {width}px; height: {height}px;" />')


def _cell(code: str, outputs: str) -> str:
    """A notebook cell as myst-nb renders it."""
    return ('<div class="cell docutils container"><div class="cell_input docutils container">'
            '<div class="highlight-ipython3 notranslate"><div class="highlight"><pre>'
            f'{code}</pre></div></div></div>'
            f'<div class="cell_output docutils container">{outputs}</div></div>')


def _stream(text: str, name: str = "stream") -> str:
    """A stream output (stdout is "stream", stderr "stderr") as myst-nb renders it."""
    return (f'<div class="output {name} highlight-myst-ansi notranslate">'
            f'<div class="highlight"><pre><span></span>{text}</pre></div></div>')


WIDE_ROW = "".join(f"<td>column number {i} of a wide table</td>" for i in range(20))
WIDE_TABLE = ('<div class="pst-scrollable-table-container"><table class="table"><tr>'
              + WIDE_ROW + "</tr></table></div>")
# A table a notebook prints (pandas' Styler), as myst-nb renders it.
WIDE_OUTPUT = ('<div class="output text_html"><table class="seelike-table"><caption>An '
               f"output table</caption><tr>{WIDE_ROW}</tr></table></div>")


def _claims(*rows: tuple[str, str]) -> str:
    """A claims table as seelike.book.claims.display.styled renders it: (figure, clause)."""
    return ('<div class="output text_html"><table class="seelike-table seelike-claims">'
            "<thead><tr><th>figure</th><th>claim</th><th>value [90 %]</th><th>bar</th>"
            "<th>verdict</th></tr></thead><tbody>"
            + "".join(f'<tr><td>{figure}</td><td style="white-space: normal">'
                      '<details class="seelike-claim"><summary>'
                      f"{clause}</summary><dl><dt>we measure</dt><dd>a mean</dd></dl>"
                      "</details></td><td>0.41 [0.38, 0.44]</td><td>&gt; 0.3</td>"
                      "<td>supported</td></tr>" for figure, clause in rows)
            + "</tbody></table></div>")

CLEAN = (
    '<section id="clean"><h1>Clean</h1>'
    "<p>A | in prose — and dashes – are fine.</p>"
    + _cell('print("| a | b |")\nprint("| --- | --- |")  # Warning: in code, not output'
            + " + 1" * 60,
            _stream("accuracy 0.93\n| --- | --- |"))
    + _figure(_retina("../_images/retina.png"), name="fig-retina")
    + _figure('<img alt="svg" src="../_images/figure.svg">', "An SVG figure.", "fig-svg")
    + WIDE_TABLE
    + _cell("frame.style", WIDE_OUTPUT)
    + _claims(("Fig. 1", "A short claim."))
    + "<p>None of the models has a NaN-free rival; see https://example.org/fig6_vit_x "
      "or <code>P.vit_gap</code>.</p>"
    + '<p>An icon <img src="../_static/icon.png" alt="icon"> in the text.</p>'
    + "<p><code>|---|</code> in code is fine.</p></section>")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html and chapters/ with good pages and one page for each kind of problem."""
    root = tmp_path_factory.mktemp("html")
    chapters, images, static = root / "chapters", root / "_images", root / "_static"
    for folder in (chapters, images, static):
        folder.mkdir()
    (chapters / "figure.png").write_bytes(_png())
    (static / "logo.png").write_bytes(_png(200, 50))
    (static / "icon.png").write_bytes(_png(32, 32))
    (images / "retina.png").write_bytes(_png(1200, 600, dpi=200))
    (images / "wide.png").write_bytes(_png(1600, 400, dpi=200))
    (images / "plain.png").write_bytes(_png(300, 150))
    (images / "figure.svg").write_text(_svg("432pt"))
    for name in ("a", "b", "c"):
        (images / f"output_{name}.png").write_bytes(_png(1200, 600, dpi=200))
    (root / "index.html").write_text(_page('<a href="chapters/good.html">good</a>'))
    (static / "skipped.html").write_text(_page("an asset, not a page"))
    (chapters / "good.html").write_text(_page('<p>fine</p><img src="figure.png">'))
    (chapters / "broken_image.html").write_text(_page('<img src="missing.png">'))
    (chapters / "broken_link.html").write_text(
        _page('<a href="good.html#top">ok</a> <a href="../_sources/gone.ipynb">download</a>'))
    (chapters / "console_error.html").write_text(
        _page('<script>console.error("boom from the page")</script>'))
    (chapters / "math.html").write_text(
        _page(r'<p>An equation <span class="math notranslate nohighlight">\(x^2\)</span>.</p>'))

    (chapters / "clean.html").write_text(_book(CLEAN))
    narrow = '<div style="width: 200px">{}</div>'
    (chapters / "figure_small.html").write_text(_book(
        narrow.format(_figure(_retina("../_images/retina.png"), name="fig-a"))
        + narrow.format(_figure('<img src="../_images/wide.png">', name="fig-b"))
        + narrow.format(_figure('<img src="../_images/figure.svg">', name="fig-c"))
        # drawn for 150 px (300 px, density unknown, assumed 2x), shown 200 px: fine
        + narrow.format(_figure('<img src="../_images/plain.png">', name="fig-d"))))
    # The theme alone: myst-nb's inline height beats its height: auto, so a figure narrowed
    # to the column (at 1280 px by a narrow box, at 390 px by the phone) is squashed.
    (chapters / "distorted.html").write_text(_book(
        '<div style="max-width: 400px">{}</div>'.format(
            _figure(_retina("../_images/retina.png"), name="fig-a"))
        + _figure(_retina("../_images/plain.png", 600, 300), name="fig-b"),
        seelike_css=False))
    (chapters / "overflow.html").write_text(_book(
        '<p>Text.</p><div class="wide-plot" style="width: 1000px">A block too wide</div>'
        '<div style="overflow-x: auto"><div style="width: 2000px">scrolls: fine</div></div>'
        f"<p>A word too long for a phone: {'w' * 40}</p>",
        footer='<div style="width: 500px">a footer wider than a phone</div>'))
    (chapters / "raw_table.html").write_text(_book(
        "<p>| model | accuracy |\n| — | — |\n| ViT | 0.9 |</p>"
        "<p>Also a bare |---| row.</p>"
        "<pre>| in | code |\n| --- | --- |</pre><p><code>|---|</code></p>"))
    (chapters / "stderr.html").write_text(_book(
        _cell("train()", _stream("100%|##########| 10/10", "stderr")
              + _stream("DeprecationWarning: x is deprecated"))
        + _cell("fit()", _stream("Traceback (most recent call last):\n  File x"))))
    (chapters / "build_path.html").write_text(_book(
        f"<p>Results are in {Path.home()}/cache/results.</p>"
        f'<p><a href="#" title="see {tempfile.gettempdir()}/run">cache</a></p>'))
    (chapters / "no_caption.html").write_text(_book(
        _cell("plot()", _retina("../_images/output_a.png"))
        + _figure(_retina("../_images/output_b.png"), caption="", name="fig-empty")
        + '<figure class="align-default" id="fig-bare">'
        + _retina("../_images/output_c.png") + "</figure>"
        + '<p><img src="../_static/icon.png" alt="an icon needs no caption"></p>'))
    (chapters / "tables.html").write_text(_book(
        # without the book's stylesheet the theme's container scrolls with no cue
        WIDE_TABLE
        + _cell("frame.style", WIDE_OUTPUT.replace(
            'class="output text_html"', 'class="output text_html" style="overflow-x: auto"'))
        + f'<div style="overflow-x: hidden"><table class="clipped"><tr>{WIDE_ROW}</tr>'
          "</table></div>"
        + f'<table class="bare"><caption>A bare table</caption><tr>{WIDE_ROW}</tr></table>'
        + '<div class="pst-scrollable-table-container"><table class="narrow"><tr>'
          "<td>a narrow table</td></tr></table></div>", seelike_css=False))
    (chapters / "claims.html").write_text(_book(_claims(
        ("Short row", "A claim a phone shows whole."),
        ("Tall row", "A claim too long for any phone: " + "word " * 800))))
    (chapters / "prose.html").write_text(_book(
        "<p>The value is nan here, n/a there (NaN elsewhere) and None at the end.</p>"
        "<p>None of the models passes; <strong>None</strong></p>"
        "<p>The gap P.vit_gap decides fig6_vit_global_midway, below LOWER_HALF_BAR.</p>"
        "<ul><li>A glue key that did not render: intro-verdicts.</li></ul>"
        "<table><tr><td>None</td><td>vit_cifar_noskip1</td></tr></table>"
        # All fine: code, a URL, words that hold "nan", file names, the architecture, a
        # model's snake_case name without digits, the code cell and its output.
        "<p>Models <code>vit_cifar_noskip1</code> and <code>fig6_x.png</code>, <kbd>nan</kbd>,"
        ' <a href="https://example.org/fig6_vit_x">https://example.org/fig6_vit_x</a>,'
        " a banana, nanoseconds, chapters/04_cka.md, results_fig6.csv, x86_64, vit_cifar.</p>"
        + _cell("gap = P.vit_gap  # nan", _stream("nan None fig6_vit_x"))))
    (root / "_sources" / "chapters").mkdir(parents=True)
    (root / "_sources" / "chapters" / "prose.ipynb").write_text(json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["The claims: {glue:text}`ch5_U_rel`.\n"]},
        {"cell_type": "code", "source": "glue('intro-verdicts', table)", "outputs": [
            {"output_type": "display_data", "data": {"text/plain": "table"},
             "metadata": {"scrapbook": {"name": "intro-verdicts",
                                        "mime_prefix": "application/papermill.record/"}}}]}]}))
    return root


@pytest.fixture(scope="module")
def results(site: Path) -> dict[str, list[str]]:
    """One browser session over the whole site: page -> problems."""
    return {r.page: r.problems for r in check_browser.check_site(site, timeout=20)}


def test_finds_pages_not_assets(site: Path) -> None:
    assert check_browser.find_pages(site) == [
        "chapters/broken_image.html", "chapters/broken_link.html", "chapters/build_path.html",
        "chapters/claims.html", "chapters/clean.html", "chapters/console_error.html",
        "chapters/distorted.html", "chapters/figure_small.html",
        "chapters/good.html", "chapters/math.html", "chapters/no_caption.html",
        "chapters/overflow.html", "chapters/prose.html", "chapters/raw_table.html",
        "chapters/stderr.html", "chapters/tables.html", "index.html"]


def test_good_pages_pass(results: dict[str, list[str]]) -> None:
    assert results["chapters/good.html"] == []
    assert results["index.html"] == []


def test_clean_book_page_passes_every_rule_at_both_widths(results: dict[str, list[str]]) -> None:
    """A captioned retina figure, an SVG, wide tables in scroll containers with the book's
    scroll shadows, a short claims row, a long code line, a table and "Warning:" in code,
    English "None", a URL, an icon and a logo: nothing to report."""
    assert results["chapters/clean.html"] == []


def test_figure_shown_below_half_its_drawn_width_fails(results: dict[str, list[str]]) -> None:
    problems = results["chapters/figure_small.html"]
    assert all(p.startswith("figure too small: ") for p in problems), problems
    expected = {"retina.png": "drawn for 600 px (its style width)",
                "wide.png": "drawn for 800 px (1600 px PNG at 200 dpi)",
                "figure.svg": "drawn for 600 px (SVG 6.00 in wide)"}
    assert len(problems) == len(expected), problems
    for name, drawn in expected.items():
        assert any(f"../_images/{name} is shown 200 px wide at 1280 px, {drawn}" in p
                   for p in problems), (name, problems)


def test_figure_shown_at_another_aspect_ratio_fails_at_both_widths(
        results: dict[str, list[str]]) -> None:
    """Without the book's stylesheet the inline height wins: the figure in a 400-px box is
    squashed at both widths, the full-width one only where the phone narrows it. The same
    figures with the stylesheet (figure_small.html, clean.html) keep their shape."""
    problems = results["chapters/distorted.html"]
    assert all(p.startswith("figure distorted at ") for p in problems), problems
    assert any(p.startswith("figure distorted at 1280 px: ../_images/retina.png is shown "
                            "400 x 300 px (aspect 1.33), drawn at aspect 2.00") for p in problems)
    assert any(p.startswith("figure distorted at 390 px: ../_images/retina.png")
               for p in problems)
    assert any(p.startswith("figure distorted at 390 px: ../_images/plain.png") for p in problems)
    assert not any(p.startswith("figure distorted at 1280 px: ../_images/plain.png")
                   for p in problems)
    assert len(problems) == 3, problems
    assert not any("distorted" in p for p in results["chapters/figure_small.html"])


def test_horizontal_overflow_fails_at_both_widths(results: dict[str, list[str]]) -> None:
    """At 1280 px a block passes the article's edge (the window is wide enough to hide it); at
    390 px the page scrolls sideways, and the block, a long word and the footer are named."""
    problems = results["chapters/overflow.html"]
    assert len(problems) == 2, problems
    desktop, phone = problems
    assert desktop.startswith('horizontal overflow at 1280 px: <div class="wide-plot"> '
                              '"A block too wide" reaches '), desktop
    assert "past the article's right edge at" in desktop
    assert phone.startswith("horizontal overflow at 390 px: the page is "), phone
    for named in ('<div class="wide-plot"> "A block too wide" reaches 1016 px',
                  '<p> "A word too long for a phone: www', '<div> "a footer wider than a phone" '
                  "reaches 500 px"):
        assert named in phone, (named, phone)
    assert "scrolls: fine" not in phone


def test_raw_markdown_table_fails(results: dict[str, list[str]]) -> None:
    problems = results["chapters/raw_table.html"]
    assert len(problems) == 2, problems  # not the ones in <pre> and <code>
    assert problems[0].startswith('raw Markdown table: "| model | accuracy | | — | — |')
    assert problems[1] == 'raw Markdown table: "Also a bare |---| row."'


def test_stderr_and_warnings_in_cell_outputs_fail(results: dict[str, list[str]]) -> None:
    assert results["chapters/stderr.html"] == [
        'stderr in cell output (stderr): "100%|##########| 10/10"',
        'warning in cell output: "DeprecationWarning: x is deprecated"',
        'warning in cell output: "Traceback (most recent call last): File x"']


def test_build_machine_path_fails(results: dict[str, list[str]]) -> None:
    found = results["chapters/build_path.html"]
    home, temp = f"{Path.home()}/", f"{tempfile.gettempdir()}/"
    assert f"build-machine path {home!r} in text: \"Results are in {home}cache/results.\"" \
        in found
    assert f"build-machine path {temp!r} in <a title>: \"see {temp}run\"" in found
    assert all(line.startswith("build-machine path ") for line in found)


def test_build_paths_are_this_machines_folders(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("SEELIKE_DATA", str(tmp_path / "mirror"))
    paths = check_browser.build_paths()
    for folder in (SCRIPT.parents[1], Path(sys.prefix), Path.home(),
                   Path(tempfile.gettempdir()), tmp_path / "mirror"):
        assert f"{folder.resolve()}/" in paths
    assert "/" not in paths  # the root would match every path in a page
    assert paths[-2:] == list(check_browser.PATH_MARKERS)


def test_figure_without_caption_fails(results: dict[str, list[str]]) -> None:
    assert results["chapters/no_caption.html"] == [
        "figure without caption: ../_images/output_a.png is not in a <figure>",
        "figure without caption: ../_images/output_b.png has an empty <figcaption>",
        "figure without caption: ../_images/output_c.png has no <figcaption>"]


def test_drawn_width_sources() -> None:
    """The drawn width from the page, a PNG's pHYs, an SVG's size, or the assumed 2x."""
    image = {"naturalWidth": 1200, "widthAttr": None, "styleWidth": ""}
    assert check_browser.drawn_width({**image, "widthAttr": "500"}, None)[0] == 500
    assert check_browser.drawn_width({**image, "styleWidth": "517px"}, None)[0] == 517
    assert check_browser.drawn_width({**image, "styleWidth": "50%"}, None)[0] == 600
    assert round(check_browser.drawn_width(image, _png(1200, 2, dpi=200))[0]) == 600
    assert round(check_browser.drawn_width(image, _png(1200, 2, dpi=100))[0]) == 1200
    assert check_browser.drawn_width(image, _png(1200, 2)) == (
        600, "1200 px, density unknown, assumed 2x")
    assert round(check_browser.drawn_width(image, _svg("432pt").encode())[0]) == 600
    assert round(check_browser.drawn_width(image, _svg("576px").encode())[0]) == 600


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
    for width in (1280, 390):
        shot = (tmp_path / f"chapters__good-{width}.png").read_bytes()
        assert shot.startswith(b"\x89PNG")
        assert struct.unpack(">I", shot[16:20])[0] == width  # the PNG's width, from IHDR
    bad = subprocess.run([sys.executable, str(SCRIPT), str(site), "--page",
                          "chapters/console_error.html"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "FAIL chapters/console_error.html: console error:" in bad.stderr


def test_wide_table_without_a_scroll_cue_fails(results: dict[str, list[str]]) -> None:
    """Without the book's stylesheet: the theme's container and a notebook's output scroll
    with no cue, a hidden overflow cuts columns off, a bare table passes the article's edge
    (the overflow rule names it too); a narrow table is fine. clean.html has the same
    tables with the cue."""
    problems = [p for p in results["chapters/tables.html"] if p.startswith("table wider")]
    for width in (1280, 390):
        rule = f"table wider than its column at {width} px: "
        mine = [p[len(rule):] for p in problems if p.startswith(rule)]
        assert len(mine) == 4, mine
        theme, output, clipped, bare = mine
        assert theme.startswith('<table class="table"> "column number 0 of a wide table '), theme
        assert ' and scrolls in <div class="pst-scrollable-table-container">, ' in theme
        assert theme.endswith("px shown, with no cue that it scrolls (no gradient painted by "
                              "the box: the scroll shadows of seelike.css)"), theme
        assert output.startswith('<table class="seelike-table"> "An output table" is ')
        assert 'scrolls in <div class="output text_html">' in output, output
        assert clipped.startswith('<table class="clipped"> "column number 0')
        assert "px by <div> (overflow-x: hidden): its last columns cannot be reached" in clipped
        assert bare.startswith('<table class="bare"> "A bare table" is '), bare
        assert "past the article's right edge at " in bare and bare.endswith("in no scroll box")
    assert not any("narrow" in p for p in problems)


def test_claims_row_taller_than_a_phone_fails(results: dict[str, list[str]]) -> None:
    """Only at 390 px, only the tall row, named by its first cell."""
    problems = results["chapters/claims.html"]
    assert len(problems) == 1, problems
    assert problems[0].startswith('claims row taller than the screen at 390 px: "Tall row" is ')
    assert problems[0].endswith(" px tall, the screen 844 px"), problems[0]
    tall = int(problems[0].split(" is ")[1].split(" px")[0])
    assert tall > 844


def test_internal_words_in_prose_fail(results: dict[str, list[str]]) -> None:
    """Missing values, identifiers and a glue key in p, li and td are named, each with its
    block's text; the same words in code, a URL, a file name or a code cell are not."""
    problems = results["chapters/prose.html"]
    first = "The value is nan here, n/a there (NaN elsewhere) and None at the end."
    assert problems == [
        f'missing value in prose: "nan" in <p>: "{first}"',
        f'missing value in prose: "n/a" in <p>: "{first}"',
        f'missing value in prose: "NaN" in <p>: "{first}"',
        f'missing value in prose: "None" in <p>: "{first}"',
        'missing value in prose: "None" in <p>: "None of the models passes; None"',
        'missing value in prose: "None" in <td>: "None"',
        'internal identifier in prose: "P.vit_gap" in <p>: "The gap P.vit_gap decides '
        'fig6_vit_global_midway, below LOWER_HALF_BAR."',
        'internal identifier in prose: "fig6_vit_global_midway" in <p>: "The gap P.vit_gap '
        'decides fig6_vit_global_midway, below LOWER_HALF_BAR."',
        'internal identifier in prose: "LOWER_HALF_BAR" in <p>: "The gap P.vit_gap decides '
        'fig6_vit_global_midway, below LOWER_HALF_BAR."',
        'internal identifier in prose: "vit_cifar_noskip1" in <td>: "vit_cifar_noskip1"',
        'glue key in prose: "intro-verdicts" in <li>: "A glue key that did not render: '
        'intro-verdicts."'], problems


def test_prose_words() -> None:
    """The word rules without a browser: English "None", the cap, the allow-list."""
    def kinds(text: str, glue: frozenset[str] = frozenset()) -> list[str]:
        return [p.split(" in prose: ")[0] + " " + p.split('"')[1]
                for p in check_browser.prose_problems([{"tag": "p", "text": text}], glue)]

    assert kinds("None of them. Then None.") == ["missing value None"]
    assert kinds("A list. (None is fine.) Said: None of it.") == []
    assert kinds("the control: None (90 % interval)") == ["missing value None"]
    assert kinds("None None") == ["missing value None"]  # once per block and word
    assert kinds("nan, NAN; n/a. N/A nanometre Nan's") == [
        "missing value nan", "missing value NAN", "missing value n/a", "missing value N/A"]
    assert kinds("P.vit_gap() and (P.u) but P. Smith, ch5_U and fig-2") == [
        "internal identifier P.vit_gap", "internal identifier P.u", "internal identifier ch5_U"]
    assert kinds("vit_cifar, resnet_cifar, x86_64, a/b_c1, f_1.png, www.x.org/a_1") == []
    assert kinds("key ch1-patches", frozenset({"ch1-patches"})) == ["glue key ch1-patches"]
    many = check_browser.prose_problems(
        [{"tag": "td", "text": f"fig{i}_a"} for i in range(15)])
    assert len(many) == check_browser.MAX_REPORTS + 1
    assert many[-1] == "internal identifier in prose: 5 more on this page"


def test_glue_keys_from_the_shipped_notebooks(site: Path, tmp_path: Path) -> None:
    assert check_browser.glue_keys(site) == {"intro-verdicts", "ch5_U_rel"}
    sources = tmp_path / "_sources"
    sources.mkdir()
    (sources / "page.md.txt").write_text(
        "{glue:text}`other.ipynb::ch2_gap:.2f` and\n```{glue:figure} ch1-depth\n```\n"
        "{glue}`accuracy`")
    assert check_browser.glue_keys(tmp_path) == {"ch2_gap", "ch1-depth"}
