"""Open every page of a built book in headless Chromium and fail on what a reader would see.

``python scripts/check_browser.py _build/smoke/_build/html [--screenshots DIR]`` serves the
folder on a free localhost port (``http.server`` in a thread), loads every HTML page of the
book in headless Chromium, driven by Selenium 4 through Debian's ``chromedriver``, and
exits non-zero, naming page and problem, when

* a page does not load (HTTP error, timeout, browser error),
* an ``<img>`` is broken (``naturalWidth == 0`` once every image has settled),
* the browser logs a console error (level SEVERE: JavaScript exceptions, ``console.error``,
  resources that fail to load),
* the page requests anything that is not on the local server (the book must be
  self-contained: it is read offline and checked in CI without internet),
* a link to a file of the book points nowhere (the download button's ``.ipynb``, the
  navigation, cross-references),
* the page has math (Sphinx's ``.math`` elements) and MathJax did not turn every one of
  them into an ``mjx-container``, or MathJax reports an error (``mjx-merror``).

Nothing is ignored silently: the only exceptions are the two allow-lists below, each entry
with its reason. The one for external requests is empty because the book references
nothing outside itself: MathJax is served from the book by ``sphinx-mathjax-offline`` (see
``_config.yml``), and the Thebe script on unpkg is loaded only when a reader clicks
"Live code", which this check never does. The console one holds the browser's own
``/favicon.ico`` request and a duplicated sphinx-thebe script of jupyter-book 1.x.
With ``--screenshots DIR`` a full-page PNG of each page is written there.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
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
    "--window-size=1280,1024",
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


JS_LINKS = "return Array.from(document.querySelectorAll('a[href]'), a => a.href);"


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


def screenshot(driver: Any, path: Path) -> None:
    """A PNG of the whole page, not only the window (DevTools' captureBeyondViewport)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def check_page(driver: Any, base: str, root: Path, page: str,
               failures: list[tuple[str, int]], timeout: float,
               screenshots: Path | None = None) -> PageResult:
    """Load one page and collect its problems."""
    from selenium.common.exceptions import WebDriverException

    result = PageResult(page)
    start = time.perf_counter()
    for log in ("browser", "performance"):  # drop what the previous page left
        driver.get_log(log)
    failures.clear()
    try:
        driver.get(base + page)
    except WebDriverException as err:
        result.problems.append(f"did not load: {err.msg or type(err).__name__}")
        return result
    wait_ms = int(timeout * 1000) // 2
    images = driver.execute_async_script(JS_IMAGES, wait_ms)
    math = driver.execute_async_script(JS_MATH, wait_ms)
    if screenshots is not None:
        screenshot(driver, screenshots / (page.removesuffix(".html").replace("/", "__") + ".png"))

    if any(path == "/" + page for path, _ in failures):
        status = next(code for path, code in failures if path == "/" + page)
        result.problems.append(f"did not load: HTTP {status}")
    result.images = images["count"]
    result.problems += [f"broken image: {src} (naturalWidth 0)" for src in images["broken"]]

    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            result.console += 1
            if not _allowed(entry["message"], ALLOWED_CONSOLE):
                result.problems.append(f"console error: {entry['message']}")
    result.problems += [f"external request (the book must be self-contained): {url}"
                        for url in _requests(driver.get_log("performance"))
                        if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                        and not url.startswith(base) and not _allowed(url, ALLOWED_EXTERNAL)]

    result.problems += [f"broken link: {href}" for href in
                        _broken_links(driver.execute_script(JS_LINKS), base, root)]

    result.math, result.rendered = math["math"], math["rendered"]
    if has_math_source((root / page).read_text(encoding="utf-8", errors="replace")):
        if not math["loaded"]:
            result.problems.append("math not rendered: MathJax did not load")
        elif math["rendered"] < math["math"]:
            result.problems.append(f"math not rendered: {math['math'] - math['rendered']} of "
                                   f"{math['math']} math elements have no mjx-container")
    result.problems += [f"MathJax error: {text}" for text in math["errors"]]
    result.seconds = time.perf_counter() - start
    return result


def check_site(root: Path, pages: Sequence[str] | None = None,
               screenshots: Path | None = None, timeout: float = 60.0) -> list[PageResult]:
    """Check ``pages`` (default: every page) of the built book in ``root``."""
    root = root.resolve()
    pages = list(pages) if pages is not None else find_pages(root)
    with serve(root) as (base, failures), browser(timeout) as driver:
        return [check_page(driver, base, root, page, failures, timeout, screenshots)
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
                        help="write a full-page PNG of every page checked here")
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
