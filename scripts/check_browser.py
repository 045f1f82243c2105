"""Open every page of a built book in headless Chromium and fail on what a reader would see.

``python scripts/check_browser.py _build/smoke/_build/html [--screenshots DIR]`` serves the
folder on a free localhost port (``http.server`` in a thread), loads every HTML page of the
book in headless Chromium, driven by Selenium 4 through Debian's ``chromedriver``, once in a
1280x900 window (``DESKTOP``) and again, reloaded, in a 390x844 one (``PHONE``), and exits
non-zero, naming page and problem, when

* a page does not load (HTTP error, timeout, browser error),
* an ``<img>`` is broken (``naturalWidth == 0`` once every image has settled),
* the browser logs a console error (level SEVERE: JavaScript exceptions, ``console.error``,
  resources that fail to load), at either width,
* the page requests anything that is not on the local server (the book must be
  self-contained: it is read offline and checked in CI without internet), at either width,
* a link to a file of the book points nowhere (the download button's ``.ipynb``, the
  navigation, cross-references),
* the page has math (Sphinx's ``.math`` elements) and MathJax did not turn every one of
  them into an ``mjx-container``, or MathJax reports an error (``mjx-merror``),
* "figure too small" (at 1280 px): a content image (see below) is shown narrower than
  ``MIN_SHOWN_FRACTION`` (0.5) of the width it was drawn for. The drawn width, in CSS px, is
  the first that applies of: the ``<img>``'s ``width`` attribute or inline ``style`` width
  in px (myst-nb writes ``style="width: Wpx"`` from the output's metadata, which
  IPython's retina format sets to half the PNG's pixels); for a PNG, its pixel width times
  ``PX_PER_INCH`` over the DPI in its ``pHYs`` chunk (matplotlib records the DPI it saved
  at: 200 for retina figures drawn at dpi 100); for an SVG, its ``width`` (pt, px, in, ...)
  in inches times ``PX_PER_INCH``; otherwise the pixel width over
  ``ASSUMED_PIXEL_DENSITY`` (2: the book's figures are retina, and guessing 2x where the
  density is unknown can only under-estimate the drawn width, never fail a figure that is
  fine). Images not rendered at load (inside a closed toggle) are not measured,
* "horizontal overflow" (at 1280 px and at 390 px): the page scrolls sideways
  (``document.documentElement.scrollWidth > innerWidth + 1``; the outermost elements past
  the window's edge are named), or an element of the article (``.bd-article``) reaches,
  with its box or with its own text (a long word, a URL, raw TeX), more than
  ``OVERFLOW_TOLERANCE_PX`` past the article's right edge without an ancestor inside the
  article whose ``overflow-x`` is ``auto``, ``scroll``, ``hidden`` or ``clip`` (tables in
  the theme's ``.pst-scrollable-table-container``, code in ``pre``, are fine); the
  outermost offending element is named (tag, class, text), once per width,
* "figure distorted" (at 1280 px and at 390 px): a content image is shown at an aspect ratio
  (width over height of its box) more than ``ASPECT_TOLERANCE`` (3 %) away from its pixels'
  (myst-nb writes an inline ``height`` beside the width, which beats a stylesheet's
  ``height: auto`` unless that is ``!important``; ``_static/seelike.css`` makes it so),
* "raw Markdown table": a text node outside ``pre``/``code``/math holds a pipe-table
  delimiter cell such as ``| --- |`` or ``|---|`` (``MARKDOWN_TABLE_RE``; Sphinx's smart
  quotes turn ``---`` into an em dash, so dashes of every kind count): a table that did not
  render,
* "stderr in cell output" / "warning in cell output": a cell output of kind stderr,
  traceback or error (``.output.stderr``, ``.output.traceback``, ``.output.error``), or
  any other cell output (``.cell_output``) whose text holds ``Warning:``, ``WARNING`` or
  ``Traceback (most recent call last)`` (``WARNING_RE``),
* "build-machine path": a text node (outside ``script``/``style``) or an attribute value
  (``data:`` URIs excepted) of the page holds a folder of the machine that checks it
  (:func:`build_paths`: the checkout, the book, the Python environment, the home and temp
  folders, the data, cache and results folders the environment names) or one of
  ``PATH_MARKERS`` (``site-packages``, ``/.venv/``),
* "figure without caption": a content image is not inside a ``<figure>`` whose
  ``<figcaption>`` has text besides the "Fig. N" number and the ``#`` link (myst-nb's
  ``glue:figure`` and the ``figure`` directive render so),
* "table wider than its column" (at 1280 px and at 390 px): a ``<table>`` of the article
  reaches more than ``OVERFLOW_TOLERANCE_PX`` past the visible right edge of a box whose
  ``overflow-x`` is ``auto`` or ``scroll`` that paints no cue that it scrolls (a gradient,
  ``SCROLL_CUE_RE``, in its own ``background-image`` or its ``::before``/``::after``'s: the
  scroll shadows ``_static/seelike.css`` gives the theme's ``.pst-scrollable-table-container``
  and notebooks' ``.output.text_html``; a scrollbar is none, phones and macOS hide it), or
  past the edge of a box that clips it (``hidden``, ``clip``: columns a reader cannot reach,
  which the overflow rule lets pass), or past the article's right edge in no such box. The
  check trusts the gradient to be seen: a table whose rows paint opaque backgrounds over it
  (the theme's zebra stripes) needs the stylesheet's blend to let it through,
* "claims row taller than the screen" (at 390 px): a row of a claims table (``CLAIM_ROW``:
  a ``<tr>`` holding ``details.seelike-claim``, as ``seelike.book.claims.display.styled``
  renders it) is taller than the phone's screen (``CLAIM_ROW_MAX_PX``, 844 px), named by its
  first cell,
* "missing value in prose", "internal identifier in prose", "glue key in prose": a word of
  the article's prose (the text of ``PROSE`` blocks: paragraphs, list items, definitions,
  captions, table cells, summaries, headings; without ``NOT_PROSE``: code, ``pre``, ``kbd``,
  ``samp``, math, notebooks' code cells) is "n/a" or "nan" (any case), or "None" other than
  as English ("None of them": at a sentence's start before a lower-case word); or the
  parameters object's ``P.name`` (``PARAMS_RE``), a snake_case name that mixes letters and
  digits or is upper case (``SNAKE_RE``: ``fig6_vit_global_midway``, ``LOWER_HALF_BAR``; not
  ``vit_cifar``), unless the word is a URL, a path or a file name (``FILE_NAME_RE``); or a
  key of myst-nb's glue (:func:`glue_keys`: from the notebooks and sources the build ships
  in ``_sources``). Words are split at spaces and dashes, less surrounding punctuation.

Content images, for the two figure rules, are the ``<img>`` of the article (``.bd-article``,
else ``article``, ``main``, the body) outside the navbar, sidebars, headers and footers
(``CHROME``), except icons: images whose natural width and height are both below
``ICON_PX`` (64). Nothing else is exempt.

Nothing is ignored silently: the only exceptions are the allow-lists below, each entry
with its reason. The one for external requests is empty because the book references
nothing outside itself: MathJax is served from the book by ``sphinx-mathjax-offline`` (see
``_config.yml``), and the Thebe script on unpkg is loaded only when a reader clicks
"Live code", which this check never does. The console one holds the browser's own
``/favicon.ico`` request and a duplicated sphinx-thebe script of jupyter-book 1.x. The one
for build-machine paths (``ALLOWED_PATHS``) is empty. The one for prose (``ALLOWED_PROSE``)
holds ``x86_64``, the name of the processor architecture in the line that says where the
book was built.
With ``--screenshots DIR`` a full-page PNG of each page at each width is written there,
``<page>-1280.png`` and ``<page>-390.png`` (``/`` in the page's path becomes ``__``).
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

# Folders of a Sphinx build that hold assets, not pages.
ASSET_DIRS = frozenset({"_static", "_sources", "_images", "_downloads", ".doctrees"})

# (regex on the console message, why it is harmless). Add an entry only for a message that
# cannot be fixed in the book, with the reason.
ALLOWED_CONSOLE: tuple[tuple[str, str], ...] = (
    (r"^http://127\.0\.0\.1:\d+/favicon\.ico - Failed to load resource: .* 404",
     "Chromium asks for /favicon.ico by itself when a page declares no icon (the book sets "
     "none); no page references it, and a reader sees nothing"),
    (r"Uncaught SyntaxError: Identifier 'THEBE_JS_URL' has already been declared",
     "jupyter-book 1.x always loads sphinx-thebe 0.3.1 (the latest), whose inline config "
     "script Sphinx 7.4 emits twice (registered after the builder starts, it is re-added "
     "with filename '' instead of None and escapes de-duplication); the second copy only "
     "re-declares the same constants and fails, the first one defines them; jupyter-book "
     "1.x pins Sphinx 7 and offers no switch to drop the extension"),
)

# (regex on the URL, why the page may fetch it). Empty on purpose, see the module docstring.
ALLOWED_EXTERNAL: tuple[tuple[str, str], ...] = ()

# Window sizes (CSS px; headless Chromium has a device pixel ratio of 1): a laptop, where every
# rule is checked, and a phone (an iPhone 12 to 15 is 390 wide), where those of the layout are.
DESKTOP = (1280, 900)
PHONE = (390, 844)

# "figure too small". The book draws its figures at dpi 100, so one inch of a figure is meant
# to be 100 CSS px on screen (retina PNGs hold twice as many pixels, for 2x screens).
PX_PER_INCH = 100
# A figure shown at less than half the width it was drawn for has text too small to read.
MIN_SHOWN_FRACTION = 0.5
# The density assumed where neither the page nor the file says it (a PNG without pHYs, a
# JPEG): the book's figures are retina, and assuming 2x can only make the drawn width
# smaller than the truth (a 1x image is judged leniently), never fail a good figure.
ASSUMED_PIXEL_DENSITY = 2
# Images whose natural width and height are both below this are icons, not figures.
ICON_PX = 64
# Inches per unit of an SVG's width attribute (CSS absolute units; no unit means px).
SVG_UNIT_INCHES = {"": 1 / 96, "px": 1 / 96, "pt": 1 / 72, "pc": 1 / 6, "in": 1.0,
                   "cm": 1 / 2.54, "mm": 1 / 25.4}

# "figure distorted": how far a content image's shown aspect ratio (width over height) may
# stray from its pixels' before the figure reads as squashed or stretched.
ASPECT_TOLERANCE = 0.03

# "horizontal overflow": how far (CSS px) an element may reach past the article's right edge,
# for sub-pixel rounding of layout.
OVERFLOW_TOLERANCE_PX = 1

# Page parts that are not the article: the navbar, the sidebars, headers and footers.
CHROME = ("nav, header, footer, .navbar, .bd-header, .bd-header-article, .bd-sidebar-primary, "
          ".bd-sidebar-secondary, .bd-footer, .bd-footer-article, .bd-footer-content")

# "raw Markdown table": a pipe-table delimiter cell, | --- | or |:--:|, with any dash (Sphinx's
# smart quotes render -- and --- as en and em dashes). JavaScript regex syntax.
MARKDOWN_TABLE_RE = r"\|[ \t]*:?[-\u2013\u2014]+:?[ \t]*\|"

# "warning in cell output": text of a Python warning, a logging warning or a traceback.
WARNING_RE = r"Warning:|WARNING|Traceback \(most recent call last\)"

# "build-machine path": text that names a folder of the machine that built the book; a reader
# must never see where the build ran (cache folders, the virtual environment, tracebacks).
# The folders are this machine's own (build_paths); these markers name any Python install.
# A virtual environment is named as a folder inside a path ("/.venv/"): the README's own
# instructions say "creates .venv", which is no path of the build machine.
PATH_MARKERS = ("site-packages", "/.venv/")
# The environment variables that name the book's data, cache and results folders.
FOLDER_ENVS = ("SEELIKE_DATA", "SEELIKE_CACHE", "SEELIKE_RESULTS")
# (regex on the text or attribute that holds the path, why it may stay). Empty on purpose.
ALLOWED_PATHS: tuple[tuple[str, str], ...] = ()

# "table wider than its column": what a scroll box must paint to show that it scrolls. A
# scrollbar is no cue: phones and macOS draw none until the reader scrolls (and this check
# hides them, --hide-scrollbars, as those do). A gradient the box paints itself (its
# background, or a ::before/::after) is: the "scroll shadows" of _static/seelike.css.
SCROLL_CUE_RE = r"gradient\("

# "claims row taller than the screen": the rows of a claims table
# (seelike.book.claims.display.styled), known by the dropdown in their claim cell.
CLAIM_ROW = "tr:has(details.seelike-claim)"
# A row taller than the phone's screen cannot be read without its first cell (the figure it
# belongs to) leaving the screen. The screen's height, not the headless window's innerHeight:
# the window's size includes a frame Chromium draws around the page (701 px are left of 844).
CLAIM_ROW_MAX_PX = PHONE[1]

# "... in prose": the blocks of the article whose text a reader reads as sentences, and what
# inside them is not prose (code, math, a notebook's code cell, what sits outside the article).
PROSE = ("p, li, dd, dt, figcaption, caption, td, th, summary, blockquote, "
         "h1, h2, h3, h4, h5, h6, .admonition-title")
NOT_PROSE = ("pre, code, kbd, samp, tt, var, script, style, noscript, template, textarea, "
             ".math, mjx-container, .MathJax, .cell_input, .headerlink")
# A word is a run of characters between spaces and dashes, less the punctuation around it.
PROSE_WORD_RE = re.compile(r"[^\s\u2013\u2014]+")
WORD_PUNCTUATION = "()[]{}<>\"'\u201c\u201d\u2018\u2019\u00ab\u00bb,;:!?.\u2026%*"
# "missing value in prose": a value a table or f-string printed without meaning to.
MISSING_VALUE_RE = re.compile(r"n/a|nan", re.IGNORECASE)
# "None" is English at the start of a sentence before a lower-case word ("None of them");
# anywhere else, capitalised, it is Python's.
SENTENCE_END_RE = re.compile(r"(?:^|[.!?:;(\u201c\u2018\"'\u2013\u2014])\s*$")
# "internal identifier in prose": the book's parameters object (P.vit_gap), snake_case names
# of the code that mix letters and digits (fig6_vit_global_midway, resnet56_akamaster) and
# upper-case constants (LOWER_HALF_BAR). A snake_case name without digits (vit_cifar) is let
# through: the book names its models so in text.
PARAMS_RE = re.compile(r"P\.[a-z_]\w*")
# A path (chapters/04_cka.md, a repository owner/name) or a file name names a file a reader
# can open, not a name inside the code: no identifier, digits and underscores or not.
FILE_NAME_RE = re.compile(r"/|\.(?:md|ipynb|py|png|svg|pdf|csv|json|ya?ml|toml|txt|html|"
                          r"npz|npy|pt|pth|zip|gz)$")
SNAKE_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+(?![A-Za-z0-9])")
# "glue key in prose": a key of myst-nb's glue, as the book's sources name it (glue_keys).
GLUE_REFERENCE_RE = re.compile(r"\{glue(?::\w+)?\}(?:`([^`]+)`|[ \t]+([^\s`]+))")
# (regex on the word, why it may stay in prose).
ALLOWED_PROSE: tuple[tuple[str, str], ...] = (
    (r"^x86_64$", "the processor architecture as Python's platform.machine() and every "
     "package index name it, in the line that records where the book was built"),
)

# At most this many findings of one rule are named per page and width; the rest are counted.
MAX_REPORTS = 10

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes tabs otherwise
    # No traffic of the browser's own: the check must see only what the pages request,
    # and CI has no internet to spend timeouts on.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--hide-scrollbars",
    "--mute-audio",
    f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
)

# Waits for every image to finish (lazy ones are made eager first, or those below the fold
# would never load in a headless window), then reports the broken ones.
JS_IMAGES = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
const settled = images.map(img => img.complete ? Promise.resolve() : new Promise(resolve => {
  img.addEventListener('load', resolve, {once: true});
  img.addEventListener('error', resolve, {once: true});
}));
Promise.race([Promise.all(settled), new Promise(r => setTimeout(r, arguments[0]))]).then(() =>
  done({count: images.length,
        broken: images.filter(img => !img.complete || img.naturalWidth === 0)
                      .map(img => img.getAttribute('src') || img.currentSrc || '(no src)')}));
"""

# Waits for MathJax's first typeset, then counts Sphinx's math elements, those MathJax
# rendered, and MathJax's error nodes.
JS_MATH = """
const done = arguments[arguments.length - 1];
const report = loaded => {
  const math = Array.from(document.querySelectorAll('.math'));
  done({loaded: loaded,
        math: math.length,
        rendered: math.filter(el => el.querySelector('mjx-container')).length,
        containers: document.querySelectorAll('mjx-container').length,
        errors: Array.from(document.querySelectorAll('mjx-merror'))
                     .map(el => el.getAttribute('data-mjx-error') || el.textContent)});
};
const mj = window.MathJax;
if (!mj || !mj.startup || !mj.startup.promise) { report(false); return; }
Promise.race([mj.startup.promise.then(() => true),
              new Promise(r => setTimeout(() => r(true), arguments[0]))])
  .then(report, () => report(true));
"""


def build_paths() -> list[str]:
    """The folders of this machine a page must not name, as prefixes ending in ``/``, then
    :data:`PATH_MARKERS`: the checkout, the Python environment (``sys.prefix``), the home
    and temp folders, and the folders :data:`FOLDER_ENVS` name. Read from the machine, so
    the rule holds wherever the book is built, and names no machine of its own.
    """
    folders = {Path(__file__).resolve().parents[1], Path(sys.prefix), Path.home(),
               Path(tempfile.gettempdir())}
    folders |= {Path(os.environ[v]).expanduser() for v in FOLDER_ENVS if os.environ.get(v)}
    prefixes = {str(p.resolve()).rstrip("/") + "/" for p in folders}
    return [*sorted(prefixes - {"/"}), *PATH_MARKERS]


JS_LINKS = "return Array.from(document.querySelectorAll('a[href]'), a => a.href);"

# What a reader sees in the article, in one pass: the overflow and wide tables at this width,
# when arguments[0] is false (the phone load) the claims rows, and when it is true (the
# desktop load) the images, raw tables, cell outputs, paths and prose.
# Arguments: full, CHROME, ICON_PX, OVERFLOW_TOLERANCE_PX, MARKDOWN_TABLE_RE, WARNING_RE,
# build_paths(), MAX_REPORTS, SCROLL_CUE_RE, CLAIM_ROW, PROSE, NOT_PROSE.
JS_LAYOUT = r"""
const [full, chrome, iconPx, tolerance, tableSource, warningSource, paths, maxReports,
       cueSource, claimRow, prose, notProse] = arguments;
const root = document.querySelector('.bd-article') || document.querySelector('article')
  || document.querySelector('main') || document.body;
const squash = text => (text || '').replace(/\s+/g, ' ').trim();
const around = (text, index, length) =>
  squash(text.slice(Math.max(0, index - 60), index + length + 60)).slice(0, 160);
const describe = el => ({tag: el.tagName.toLowerCase(),
                         cls: (el.getAttribute('class') || '').trim(),
                         text: squash(el.textContent).slice(0, 80)});
const capped = () => { const list = []; list.more = 0; return list; };
const push = (list, item) => { if (list.length < maxReports) list.push(item); else list.more++; };
const finish = list => ({items: Array.from(list), more: list.more});

// Horizontal overflow: the outermost elements of `scope` that reach past `limit` (a right
// edge) and are inside no ancestor, below `scope`, that clips or scrolls them sideways.
const clipsX = new Map();
const clips = el => {
  if (!clipsX.has(el)) clipsX.set(el, ['auto', 'scroll', 'hidden', 'clip']
    .includes(getComputedStyle(el).overflowX));
  return clipsX.get(el);
};
const range = document.createRange();
const offenders = (scope, limit) => {
  const list = capped(), outermost = [];
  for (const el of scope.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    let right = box.right;
    if (right <= limit + tolerance) {
      // The box fits, but its own text may not (a long word, a URL, raw TeX): its scroll
      // extent says whether anything inside sticks out, its text nodes whether they do.
      if (box.left + el.scrollWidth <= limit + tolerance || clips(el)) continue;
      right = 0;
      for (const child of el.childNodes) {
        if (child.nodeType !== Node.TEXT_NODE || !child.data.trim()) continue;
        range.selectNodeContents(child);
        right = Math.max(right, range.getBoundingClientRect().right);
      }
      if (right <= limit + tolerance) continue;
    }
    if (outermost.some(parent => parent.contains(el))) continue;
    let inside = false;
    for (let a = el.parentElement; a && a !== scope; a = a.parentElement) {
      if (clips(a)) { inside = true; break; }
    }
    if (inside) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.position === 'fixed') continue;
    outermost.push(el);
    push(list, Object.assign(describe(el), {right: Math.round(right)}));
  }
  return finish(list);
};
const rootRight = root.getBoundingClientRect().right;
const scrollWidth = document.documentElement.scrollWidth;
const result = {viewport: window.innerWidth, scrollWidth, rootRight: Math.round(rootRight),
                overflow: offenders(root, rootRight),
                pageOverflow: scrollWidth > window.innerWidth + tolerance
                  ? offenders(document.body, window.innerWidth) : {items: [], more: 0}};

// Every shown content image's aspect ratio as drawn (its pixels) and as shown (its box).
result.aspects = Array.from(root.querySelectorAll('img'))
  .filter(img => !img.closest(chrome) && img.naturalWidth > 0 && img.naturalHeight > 0
          && (img.naturalWidth >= iconPx || img.naturalHeight >= iconPx)
          && img.getClientRects().length > 0 && img.checkVisibility())
  .map(img => {
    const box = img.getBoundingClientRect();
    return {src: img.getAttribute('src') || '(no src)', naturalWidth: img.naturalWidth,
            naturalHeight: img.naturalHeight, width: box.width, height: box.height};
  });

// Tables wider than their column. The overflow rule above lets a clipping box hide what
// sticks out; a table's columns must stay reachable: in a box that scrolls and shows so.
const cueRe = new RegExp(cueSource);
const paintsCue = el => [null, '::before', '::after'].some(pseudo => {
  const style = getComputedStyle(el, pseudo);
  return (pseudo === null || style.content !== 'none') && cueRe.test(style.backgroundImage);
});
// Cells' text joined with spaces (a row's textContent runs its cells together).
const rowText = row => squash(Array.from(row.cells, cell => cell.textContent).join(' '));
const label = table => (table.caption ? squash(table.caption.textContent)
  : table.rows.length ? rowText(table.rows[0]) : squash(table.textContent)).slice(0, 80);
const wideTables = capped();
for (const table of root.querySelectorAll('table')) {
  if (table.closest(chrome)) continue;
  const box = table.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) continue;
  const found = {tag: 'table', cls: (table.getAttribute('class') || '').trim(),
                 text: label(table), width: Math.round(box.width)};
  // The innermost box that cuts the table off at its right edge (every page loads scrolled
  // to the left), if any: it scrolls, or it clips the columns past its edge away.
  let cut = null;
  for (let a = table; a; a = a.parentElement) {
    if (a !== root && getComputedStyle(a).overflowX !== 'visible') {
      const edge = a.getBoundingClientRect().left + a.clientLeft + a.clientWidth;
      if (box.right > edge + tolerance) { cut = {el: a, edge}; break; }
    }
    if (a === root) break;
  }
  if (cut) {
    const overflow = getComputedStyle(cut.el).overflowX;
    const scrolls = overflow === 'auto' || overflow === 'scroll';
    if (scrolls && paintsCue(cut.el)) continue;
    push(wideTables, Object.assign(found, {kind: scrolls ? 'no cue' : 'clipped', overflow,
      shown: Math.round(cut.edge - box.left), box: describe(cut.el)}));
  } else if (box.right > rootRight + tolerance) {
    push(wideTables, Object.assign(found, {kind: 'no box', right: Math.round(box.right)}));
  }
}
result.wideTables = finish(wideTables);

if (!full) {
  // Claims rows, on the phone, by their first cell (the figure they belong to).
  result.claimRows = Array.from(root.querySelectorAll(claimRow), tr => ({
    text: squash((tr.cells[0] || tr).textContent).slice(0, 80),
    height: Math.round(tr.getBoundingClientRect().height)}));
  return result;
}

// Prose: the text of each prose block of the article, less its code and math, for the words
// a reader should never meet there (prose_problems).
const blocks = new Map();
const proseWalker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
for (let node = proseWalker.nextNode(); node; node = proseWalker.nextNode()) {
  const parent = node.parentElement;
  if (!parent || parent.closest(notProse) || parent.closest(chrome)) continue;
  const block = parent.closest(prose);
  if (block && root.contains(block)) blocks.set(block, (blocks.get(block) || '') + node.data);
}
result.prose = Array.from(blocks, ([el, text]) => ({tag: el.tagName.toLowerCase(),
                                                    text: squash(text)}))
  .filter(block => block.text);

// Content images: size as shown, what the page says of their size, their caption.
result.images = Array.from(root.querySelectorAll('img'))
  .filter(img => !img.closest(chrome)
          && (img.naturalWidth >= iconPx || img.naturalHeight >= iconPx))
  .map(img => {
    const figure = img.closest('figure');
    const caption = figure && figure.querySelector(':scope > figcaption');
    let captionText = null;
    if (caption) {
      const copy = caption.cloneNode(true);
      copy.querySelectorAll('.caption-number, .headerlink').forEach(n => n.remove());
      captionText = squash(copy.textContent);
    }
    return {src: img.getAttribute('src') || '(no src)', url: img.currentSrc || img.src,
            naturalWidth: img.naturalWidth, shown: img.getBoundingClientRect().width,
            rendered: img.getClientRects().length > 0 && img.checkVisibility(),
            widthAttr: img.getAttribute('width'), styleWidth: img.style.width,
            figure: !!figure, caption: captionText};
  });

// Text nodes: raw Markdown tables (outside code and math) and build-machine paths.
const tableRe = new RegExp(tableSource);
const tables = capped(), pathHits = capped(), seen = new Set();
const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!parent || parent.closest('script, style, noscript, template')) continue;
  const text = node.data;
  const table = tableRe.exec(text);
  if (table && !parent.closest('pre, code, kbd, samp, textarea, .math, mjx-container'))
    push(tables, around(text, table.index, table[0].length));
  for (const path of paths) {
    const at = text.indexOf(path);
    if (at < 0) continue;
    const snippet = around(text, at, path.length);
    if (!seen.has(snippet)) { seen.add(snippet); push(pathHits, {path, where: 'text', snippet}); }
  }
}
for (const el of document.querySelectorAll('*')) {
  for (const attr of el.attributes) {
    if (attr.value.startsWith('data:')) continue;
    for (const path of paths) {
      const at = attr.value.indexOf(path);
      if (at < 0) continue;
      const where = `<${el.tagName.toLowerCase()} ${attr.name}>`;
      const snippet = around(attr.value, at, path.length);
      if (!seen.has(where + snippet)) {
        seen.add(where + snippet);
        push(pathHits, {path, where, snippet});
      }
    }
  }
}
result.tables = finish(tables);
result.paths = finish(pathHits);

// Cell outputs: stderr, tracebacks and errors, then warning text in any other output.
const errorKinds = '.output.stderr, .output.traceback, .output.error';
const stderr = capped(), warnings = capped();
document.querySelectorAll(errorKinds).forEach(el => push(stderr, {
  kind: ['stderr', 'traceback', 'error'].find(k => el.classList.contains(k)),
  snippet: squash((el.querySelector('pre') || el).textContent).slice(0, 160)}));
const warningRe = new RegExp(warningSource);
for (const output of document.querySelectorAll('.cell_output')) {
  for (const child of output.children) {
    if (child.matches(errorKinds) || child.querySelector(errorKinds)) continue;
    const found = warningRe.exec(child.textContent);
    if (found) push(warnings, around(child.textContent, found.index, found[0].length));
  }
}
result.stderr = finish(stderr);
result.warnings = finish(warnings);
return result;
"""


@dataclass
class PageResult:
    """What the browser saw on one page."""

    page: str
    images: int = 0
    math: int = 0
    rendered: int = 0
    console: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class _QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that records failed requests instead of printing every one."""

    failures: list[tuple[str, int]]

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log; errors are collected by log_request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Record requests the server could not answer, to name them in the report."""
        status = int(code) if str(code).isdigit() else 0
        if status >= 400:
            self.failures.append((unquote(urlsplit(self.path).path), status))


@contextmanager
def serve(root: Path) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """Serve ``root`` on a free localhost port; yields (base URL, failed requests)."""
    failures: list[tuple[str, int]] = []
    handler = type("Handler", (_QuietHandler,), {"failures": failures})
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", failures
    finally:
        server.shutdown()
        server.server_close()


def find_pages(root: Path) -> list[str]:
    """Every HTML page of the build (relative POSIX paths), assets excluded, sorted."""
    pages = [p.relative_to(root).as_posix() for p in root.rglob("*.html")
             if not ASSET_DIRS.intersection(p.relative_to(root).parts[:-1])]
    return sorted(pages)


def has_math_source(html: str) -> bool:
    """Whether the page as built holds math for MathJax (Sphinx marks it with class ``math``)."""
    return re.search(r'class="[^"]*\bmath\b[^"]*"', html) is not None


def _executable(env: str, names: Sequence[str]) -> str | None:
    """The program named by ``env``, or the first of ``names`` on PATH."""
    if os.environ.get(env):
        return os.environ[env]
    return next((found for name in names if (found := shutil.which(name))), None)


def find_browser() -> tuple[str | None, str | None]:
    """(Chromium binary, chromedriver) from $CHROME_BIN/$CHROMEDRIVER or PATH; None if absent."""
    return (_executable("CHROME_BIN", ("chromium", "chromium-browser", "google-chrome")),
            _executable("CHROMEDRIVER", ("chromedriver",)))


@contextmanager
def browser(timeout: float) -> Iterator[Any]:
    """A headless Chromium driven by Selenium, with a throw-away profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = find_browser()
    if binary is None or driver_path is None:
        # Never fall back to Selenium Manager: it downloads a browser, and CI is offline.
        raise SystemExit("check_browser: needs Chromium and chromedriver "
                         "(apt-get install chromium chromium-driver); found "
                         f"chromium={binary}, chromedriver={driver_path}")
    with tempfile.TemporaryDirectory(prefix="check-browser-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        try:
            driver.set_page_load_timeout(timeout)
            driver.set_script_timeout(timeout)
            yield driver
        finally:
            driver.quit()


def _requests(performance_log: list[dict[str, Any]]) -> list[str]:
    """URLs the page asked for, from Chromium's performance (DevTools) log."""
    urls = []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _allowed(text: str, allow_list: tuple[tuple[str, str], ...]) -> bool:
    return any(re.search(pattern, text) for pattern, _reason in allow_list)


def _broken_links(hrefs: Sequence[str], base: str, root: Path) -> list[str]:
    """The links into the served book whose target file does not exist, each named once."""
    broken = []
    for href in dict.fromkeys(hrefs):
        if not href.startswith(base):
            continue  # outside links (GitHub, papers) are for the reader, not for CI
        target = root / unquote(urlsplit(href).path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(href.removeprefix(base))
    return broken



PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_dpi(data: bytes) -> float | None:
    """The pixels per inch a PNG's ``pHYs`` chunk records (matplotlib writes the DPI it saved
    at), or None when it records none."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"pHYs" and length == 9 and pos + 17 <= len(data):
            per_unit, _y, unit = struct.unpack(">IIB", data[pos + 8:pos + 17])
            return per_unit * 0.0254 if unit == 1 and per_unit else None  # unit 1: metre
        if kind in (b"IDAT", b"IEND"):  # pHYs, if any, comes before the image data
            return None
        pos += 12 + length
    return None


def svg_inches(data: bytes) -> float | None:
    """The width of an SVG in inches, from its root element's ``width``; None without one."""
    head = data[:8192].decode("utf-8", errors="replace")
    svg = re.search(r"<svg\b[^>]*>", head)
    found = svg and re.search(r"\swidth\s*=\s*[\"']\s*([0-9.]+)\s*(px|pt|pc|in|cm|mm)?\s*[\"']",
                              svg.group(0))
    if not found:
        return None
    try:
        return float(found.group(1)) * SVG_UNIT_INCHES[found.group(2) or ""]
    except ValueError:
        return None


def _image_bytes(url: str, base: str, root: Path) -> bytes | None:
    """The file behind an image URL of the served book, or a data URI's payload."""
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        try:
            return (base64.b64decode(payload) if header.endswith(";base64")
                    else unquote(payload).encode())
        except ValueError:
            return None
    if not url.startswith(base):
        return None
    path = root / unquote(urlsplit(url).path).lstrip("/")
    return path.read_bytes() if path.is_file() else None


def drawn_width(image: dict[str, Any], data: bytes | None) -> tuple[float, str]:
    """The width, in CSS px, an image was drawn for, and where that width comes from (see
    "figure too small" in the module docstring)."""
    for value, source in ((image.get("widthAttr"), "its width attribute"),
                          (image.get("styleWidth"), "its style width")):
        found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(px)?\s*", value or "")
        if found and float(found.group(1)) > 0:
            return float(found.group(1)), source
    if data:
        dpi = png_dpi(data)
        if dpi:
            return (image["naturalWidth"] * PX_PER_INCH / dpi,
                    f"{image['naturalWidth']} px PNG at {dpi:.0f} dpi")
        inches = svg_inches(data)
        if inches:
            return inches * PX_PER_INCH, f"SVG {inches:.2f} in wide"
    return (image["naturalWidth"] / ASSUMED_PIXEL_DENSITY,
            f"{image['naturalWidth']} px, density unknown, assumed {ASSUMED_PIXEL_DENSITY}x")


def _reported(findings: dict[str, Any], name: str) -> tuple[list[Any], int]:
    """(items, how many more were left out) of one capped list of JS_LAYOUT."""
    part = findings.get(name) or {"items": [], "more": 0}
    return part["items"], part["more"]


def _more(problems: list[str], rule: str, more: int) -> None:
    if more:
        problems.append(f"{rule}: {more} more on this page")


def _element(el: dict[str, Any]) -> str:
    """An element of a JS_LAYOUT finding as a reader can look it up: tag, class, text."""
    cls = f' class="{el["cls"]}"' if el["cls"] else ""
    return f"<{el['tag']}{cls}> \"{el['text']}\" reaches {el['right']} px"


def overflow_problems(findings: dict[str, Any]) -> list[str]:
    """The "horizontal overflow" findings of one load of a page, as messages."""
    width, problems = findings["viewport"], []
    rule = f"horizontal overflow at {width} px"
    if findings["scrollWidth"] > width + OVERFLOW_TOLERANCE_PX:
        items, more = _reported(findings, "pageOverflow")
        culprits = "; ".join(_element(el) for el in items) + (f"; {more} more" if more else "")
        problems.append(f"{rule}: the page is {findings['scrollWidth']} px wide and scrolls "
                        "sideways" + (f" ({culprits})" if culprits else ""))
    named = {_element(el) for el in _reported(findings, "pageOverflow")[0]}
    items, more = _reported(findings, "overflow")
    problems += [f"{rule}: {_element(el)}, past the article's right edge at "
                 f"{findings['rootRight']} px, outside any scroll container"
                 for el in items if _element(el) not in named]  # each element named once
    _more(problems, rule, more)
    return problems


def _capped(problems: list[str], rule: str, messages: Sequence[str]) -> None:
    """Add at most MAX_REPORTS of one rule's messages, and count the rest."""
    problems += messages[:MAX_REPORTS]
    _more(problems, rule, max(0, len(messages) - MAX_REPORTS))


def _box(el: dict[str, Any]) -> str:
    cls = f' class="{el["cls"]}"' if el["cls"] else ""
    return f"<{el['tag']}{cls}>"


def table_problems(findings: dict[str, Any]) -> list[str]:
    """The "table wider than its column" findings of one load of a page, as messages."""
    rule, problems = f"table wider than its column at {findings['viewport']} px", []
    items, more = _reported(findings, "wideTables")
    for table in items:
        name = f"{_box(table)} \"{table['text']}\" is {table['width']} px wide"
        if table["kind"] == "no cue":
            problems.append(f"{rule}: {name} and scrolls in {_box(table['box'])}, "
                            f"{table['shown']} px shown, with no cue that it scrolls (no "
                            "gradient painted by the box: the scroll shadows of seelike.css)")
        elif table["kind"] == "clipped":
            problems.append(f"{rule}: {name}, cut off after {table['shown']} px by "
                            f"{_box(table['box'])} (overflow-x: {table['overflow']}): its "
                            "last columns cannot be reached")
        else:
            problems.append(f"{rule}: {name} and reaches {table['right']} px, past the "
                            f"article's right edge at {findings['rootRight']} px, in no "
                            "scroll box")
    _more(problems, rule, more)
    return problems


def claim_row_problems(findings: dict[str, Any]) -> list[str]:
    """The "claims row taller than the screen" findings of the phone load, as messages."""
    problems: list[str] = []
    rule = f"claims row taller than the screen at {findings['viewport']} px"
    _capped(problems, rule, [
        f"{rule}: \"{row['text']}\" is {row['height']} px tall, the screen "
        f"{CLAIM_ROW_MAX_PX} px" for row in findings.get("claimRows", [])
        if row["height"] > CLAIM_ROW_MAX_PX])
    return problems


def _code_name(name: str) -> bool:
    """Whether a snake_case name is the code's: it mixes letters and digits, or is upper case."""
    letters = re.sub(r"[^A-Za-z]", "", name)
    return bool(letters) and (re.search(r"\d", name) is not None
                              or (len(letters) > 1 and letters.isupper()))


def _word_kind(word: str, before: str, after: str, glue: frozenset[str]) -> str | None:
    """What a word of prose leaks ("glue key", "internal identifier", "missing value"), or
    None for a word a reader may meet; ``before`` and ``after`` are the text around it."""
    if "://" in word or word.startswith("www."):
        return None  # a URL names what it names, underscores and all
    if word in glue:
        return "glue key"
    if PARAMS_RE.match(word) or (not FILE_NAME_RE.search(word)
                                 and any(map(_code_name, SNAKE_RE.findall(word)))):
        return "internal identifier"
    if MISSING_VALUE_RE.fullmatch(word):
        return "missing value"
    if word == "None" and not (SENTENCE_END_RE.search(before)
                               and re.match(r"\s+[a-z]", after)):
        return "missing value"
    return None


def prose_problems(blocks: Sequence[dict[str, str]],
                   glue: frozenset[str] = frozenset()) -> list[str]:
    """The words of the article's prose a reader should never meet: a missing value ("n/a",
    "nan", "NaN", "None"), an internal identifier (PARAMS_RE, SNAKE_RE) or a glue key, each
    with the block (tag) it is in and the text around it; ``blocks`` as JS_LAYOUT collects
    them, {tag, text}. A word ALLOWED_PROSE allows is no problem."""
    found: dict[str, list[str]] = {}
    for block in blocks:
        text = block["text"]
        for match in PROSE_WORD_RE.finditer(text):
            raw = match.group()
            word = raw.strip(WORD_PUNCTUATION)
            if not word:
                continue
            start = match.start() + raw.index(word)
            end = start + len(word)
            kind = _word_kind(word, text[:start], text[end:], glue)
            if kind is None or _allowed(word, ALLOWED_PROSE):
                continue
            snippet = " ".join(text[max(0, start - 60):end + 60].split())[:160]
            found.setdefault(kind, []).append(
                f"{kind} in prose: \"{word}\" in <{block['tag']}>: \"{snippet}\"")
    problems: list[str] = []
    for kind, messages in found.items():
        _capped(problems, f"{kind} in prose", list(dict.fromkeys(messages)))
    return problems


def glue_keys(root: Path) -> frozenset[str]:
    """The keys of myst-nb's glue in a built book: the names the executed notebooks it ships
    (``_sources/**/*.ipynb``) gave their glued outputs, and those its sources cite
    (``{glue:text}`key` ``, ``{glue:figure} key``). Only keys with a digit, ``_`` or ``-``:
    one that is a plain word ("accuracy") says nothing when a reader meets it."""
    keys: set[str] = set()
    for path in (root / "_sources").rglob("*"):
        if path.suffix not in (".ipynb", ".md", ".txt") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            try:
                cells = json.loads(text).get("cells", [])
            except ValueError:
                cells = []
            sources = []
            for cell in cells:
                source = cell.get("source", "")
                sources.append(source if isinstance(source, str) else "".join(source))
                keys.update(output.get("metadata", {}).get("scrapbook", {}).get("name", "")
                            for output in cell.get("outputs", []))
            text = "\n".join(sources)
        for role, directive in GLUE_REFERENCE_RE.findall(text):
            # a role may name another page's key (page::key) and a format (key:.2f)
            keys.add((role or directive).split("::")[-1].split(":")[0])
    return frozenset(k for k in keys if re.search(r"[\d_-]", k))


def aspect_problems(findings: dict[str, Any]) -> list[str]:
    """The "figure distorted" findings of one load of a page, as messages."""
    problems = []
    for image in findings["aspects"]:
        drawn = image["naturalWidth"] / image["naturalHeight"]
        shown = image["width"] / image["height"] if image["height"] else float("inf")
        if abs(shown / drawn - 1) > ASPECT_TOLERANCE:
            problems.append(
                f"figure distorted at {findings['viewport']} px: {image['src']} is shown "
                f"{image['width']:.0f} x {image['height']:.0f} px (aspect {shown:.2f}), drawn "
                f"at aspect {drawn:.2f} ({image['naturalWidth']} x {image['naturalHeight']} "
                f"px): an inline height that the stylesheet's height: auto cannot override")
    return problems


def content_problems(findings: dict[str, Any], base: str, root: Path,
                     glue: frozenset[str] = frozenset()) -> list[str]:
    """The desktop-only rules: figure size and caption, raw tables, cell outputs, paths and
    prose (``glue``: the book's glue keys, :func:`glue_keys`)."""
    problems = []
    for image in findings["images"]:
        if image["rendered"]:
            drawn, source = drawn_width(image, _image_bytes(image["url"], base, root))
            if image["shown"] < MIN_SHOWN_FRACTION * drawn:
                problems.append(
                    f"figure too small: {image['src']} is shown {image['shown']:.0f} px wide at "
                    f"{findings['viewport']} px, drawn for {drawn:.0f} px ({source}); "
                    f"needs at least {MIN_SHOWN_FRACTION * drawn:.0f} px")
        if not image["figure"]:
            problems.append(f"figure without caption: {image['src']} is not in a <figure>")
        elif image["caption"] is None:
            problems.append(f"figure without caption: {image['src']} has no <figcaption>")
        elif not image["caption"]:
            problems.append(f"figure without caption: {image['src']} has an empty <figcaption>")

    items, more = _reported(findings, "tables")
    problems += [f"raw Markdown table: \"{text}\"" for text in items]
    _more(problems, "raw Markdown table", more)

    items, more = _reported(findings, "stderr")
    problems += [f"stderr in cell output ({hit['kind']}): \"{hit['snippet']}\"" for hit in items]
    _more(problems, "stderr in cell output", more)
    items, more = _reported(findings, "warnings")
    problems += [f"warning in cell output: \"{text}\"" for text in items]
    _more(problems, "warning in cell output", more)

    items, more = _reported(findings, "paths")
    problems += [f"build-machine path {hit['path']!r} in {hit['where']}: \"{hit['snippet']}\""
                 for hit in items if not _allowed(hit["snippet"], ALLOWED_PATHS)]
    _more(problems, "build-machine path", more)
    return problems + prose_problems(findings.get("prose", []), glue)


def screenshot(driver: Any, path: Path) -> None:
    """A PNG of the whole page, not only the window (DevTools' captureBeyondViewport)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def _layout(driver: Any, desktop: bool, tries: int = 4) -> dict[str, Any]:
    """JS_LAYOUT's findings; retried while a page is still being replaced (the landing page
    redirects to intro.html, and a script run mid-navigation finds no document body)."""
    from selenium.common.exceptions import JavascriptException

    for attempt in range(tries):
        try:
            return driver.execute_script(JS_LAYOUT, desktop, CHROME, ICON_PX,
                                         OVERFLOW_TOLERANCE_PX, MARKDOWN_TABLE_RE, WARNING_RE,
                                         build_paths(), MAX_REPORTS, SCROLL_CUE_RE, CLAIM_ROW,
                                         PROSE, NOT_PROSE)
        except JavascriptException:
            if attempt == tries - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def check_page(driver: Any, base: str, root: Path, page: str,
               failures: list[tuple[str, int]], timeout: float,
               screenshots: Path | None = None,
               glue: frozenset[str] = frozenset()) -> PageResult:
    """Load one page at DESKTOP and again at PHONE size and collect its problems (``glue``:
    the book's glue keys, for the prose rules)."""
    from selenium.common.exceptions import WebDriverException

    result = PageResult(page)
    start = time.perf_counter()
    wait_ms = int(timeout * 1000) // 2
    problems: list[str] = []
    for width, height in (DESKTOP, PHONE):
        desktop = (width, height) == DESKTOP
        at = "" if desktop else f" at {width} px"
        for log in ("browser", "performance"):  # drop what the previous load left
            driver.get_log(log)
        failures.clear()
        driver.set_window_size(width, height)
        try:
            driver.get(base + page)
        except WebDriverException as err:
            problems.append(f"did not load{at}: {err.msg or type(err).__name__}")
            break
        images = driver.execute_async_script(JS_IMAGES, wait_ms)
        math = driver.execute_async_script(JS_MATH, wait_ms)
        findings = _layout(driver, desktop)
        if screenshots is not None:
            name = page.removesuffix(".html").replace("/", "__")
            screenshot(driver, screenshots / f"{name}-{width}.png")

        if any(path == "/" + page for path, _ in failures):
            status = next(code for path, code in failures if path == "/" + page)
            problems.append(f"did not load{at}: HTTP {status}")
        for entry in driver.get_log("browser"):
            if entry["level"] == "SEVERE":
                result.console += desktop
                if not _allowed(entry["message"], ALLOWED_CONSOLE):
                    problems.append(f"console error: {entry['message']}")
        problems += [f"external request (the book must be self-contained): {url}"
                     for url in _requests(driver.get_log("performance"))
                     if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                     and not url.startswith(base) and not _allowed(url, ALLOWED_EXTERNAL)]
        if desktop:
            result.images = images["count"]
            problems += [f"broken image: {src} (naturalWidth 0)" for src in images["broken"]]
            problems += [f"broken link: {href}" for href in
                         _broken_links(driver.execute_script(JS_LINKS), base, root)]
            problems += _math_problems(math, root / page, result)
            problems += content_problems(findings, base, root, glue)
        else:
            problems += claim_row_problems(findings)
        problems += (overflow_problems(findings) + table_problems(findings)
                     + aspect_problems(findings))
    result.problems = list(dict.fromkeys(problems))  # a problem seen at both widths, once
    result.seconds = time.perf_counter() - start
    return result


def _math_problems(math: dict[str, Any], html: Path, result: PageResult) -> list[str]:
    """Math that MathJax did not render, or rendered as an error; counts go to ``result``."""
    problems = []
    result.math, result.rendered = math["math"], math["rendered"]
    if has_math_source(html.read_text(encoding="utf-8", errors="replace")):
        if not math["loaded"]:
            problems.append("math not rendered: MathJax did not load")
        elif math["rendered"] < math["math"]:
            problems.append(f"math not rendered: {math['math'] - math['rendered']} of "
                            f"{math['math']} math elements have no mjx-container")
    problems += [f"MathJax error: {text}" for text in math["errors"]]
    return problems


def check_site(root: Path, pages: Sequence[str] | None = None,
               screenshots: Path | None = None, timeout: float = 60.0) -> list[PageResult]:
    """Check ``pages`` (default: every page) of the built book in ``root``."""
    root = root.resolve()
    pages = list(pages) if pages is not None else find_pages(root)
    glue = glue_keys(root)
    with serve(root) as (base, failures), browser(timeout) as driver:
        return [check_page(driver, base, root, page, failures, timeout, screenshots, glue)
                for page in pages]


def table(results: Sequence[PageResult]) -> str:
    """The short table printed after a run."""
    width = max([len("page"), *(len(r.page) for r in results)])
    lines = [f"{'page':<{width}}  images  math (rendered)  console  seconds  result",
             f"{'-' * width}  ------  ---------------  -------  -------  ------"]
    for r in results:
        math = f"{r.math} ({r.rendered})" if r.math else "-"
        verdict = "ok" if not r.problems else f"{len(r.problems)} problem(s)"
        lines.append(f"{r.page:<{width}}  {r.images:>6}  {math:>15}  {r.console:>7}  "
                     f"{r.seconds:>7.1f}  {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html", type=Path, help="a built book, e.g. _build/smoke/_build/html")
    parser.add_argument("--screenshots", type=Path, metavar="DIR",
                        help="write full-page PNGs of every page checked here, "
                             "<page>-1280.png and <page>-390.png")
    parser.add_argument("--page", action="append", dest="pages", metavar="PAGE",
                        help="check only this page (relative path; repeatable)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds per page load and per wait (default 60)")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file() and not args.pages:
        parser.error(f"{args.html} is not a built book (no index.html)")
    results = check_site(args.html, args.pages, args.screenshots, args.timeout)
    print(table(results))
    problems = [(r.page, p) for r in results for p in r.problems]
    for page, problem in problems:
        print(f"FAIL {page}: {problem}", file=sys.stderr)
    if not results:
        print(f"FAIL: no pages found under {args.html}", file=sys.stderr)
        return 1
    print(f"{len(results)} pages checked, {len(problems)} problems"
          + (f"; screenshots in {args.screenshots}" if args.screenshots else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
