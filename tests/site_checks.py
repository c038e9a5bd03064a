"""What a reader's browser sees of the built website: the checks behind tests/test_website.py.

A real headless Chromium (Debian's ``chromium``, the one named by ``CHROMIUM``, or Playwright's) driven by
Playwright loads each page from a local HTTP server on 127.0.0.1. Every request that leaves
127.0.0.1 is blocked and reported, so a page that needs the internet (a CDN, a web font) fails.
:func:`check_page` returns a list of problems, empty when the page is fine; the tests assert on
those lists, and also feed deliberately broken copies of the site to the same function to show
that it notices a missing figure or MathJax fetched from a CDN. With ``accessibility=True`` it also
runs axe-core (a pinned copy in tests/vendor/, injected into the page: nothing is fetched) and
reports its violations.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import os
import re
import shutil
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import yaml

if TYPE_CHECKING:
    from playwright.sync_api import Page

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = ("run `make browser` (it installs Debian's chromium, or Playwright's), or set CHROMIUM to "
                "the path of a Chrome/Chromium executable")
# Tags whose src/href the browser fetches by itself (a plain <a href> link is not fetched).
FETCHING_TAGS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src",
                 "audio": "src", "embed": "src", "link": "href"}
# Raw TeX that MathJax should have turned into maths: $$, \( \) \[ \] or a command like \frac.
RAW_TEX_RE = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\[a-zA-Z]{2,}")

# axe-core, the accessibility checker, from the npm package axe-core (its axe.min.js, licence
# header included; the MPL-2.0 text is beside it). To update: `npm pack axe-core@VERSION`, copy
# package/axe.min.js to tests/vendor/, and change the version and the SHA-256 here.
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
# Impacts that fail the website test; "minor" violations are counted and printed only.
AXE_FAILING_IMPACTS = ("critical", "serious", "moderate")
# axe's default rule set (WCAG 2.x A and AA and its best practices), every node of each violation.
AXE_RUN_JS = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.flatMap(v => v.nodes.map(n => ({
    rule: v.id, impact: n.impact || v.impact, target: n.target.flat().join(' >>> '), help: v.help})));
}"""

# Every text node outside code, scripts and rendered maths: where raw TeX must not be left over.
PROSE_TEXT_JS = """() => {
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .cell_input';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement.closest(skip) && n.textContent.trim()) texts.push(n.textContent);
  }
  return texts;
}"""
IMAGES_JS = """() => Array.from(document.images).map(img => ({
  src: img.getAttribute('src').slice(0, 200), complete: img.complete, width: img.naturalWidth}))"""
MATHS_JS = """() => ({
  maths: document.querySelectorAll('.math').length,
  rendered: Array.from(document.querySelectorAll('.math')).filter(
      el => el.querySelector('mjx-container')).length,
  containers: document.querySelectorAll('mjx-container').length,
  errors: document.querySelectorAll('mjx-merror').length})"""
# MathJax 3 typesets after its deferred script runs; its startup promise resolves when done.
WAIT_MATHJAX_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
}"""


# ------------------------------------------------------------------ the browser

# Where `playwright install chromium` puts the executable, under chromium-<build>/, on Linux and macOS.
PLAYWRIGHT_EXECUTABLES = ("chrome-linux*/chrome", "chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
                          "chrome-mac*/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing")


def playwright_chromium() -> str | None:
    """The newest Chromium that ``playwright install chromium`` downloaded, or None."""
    default = Path.home() / ("Library/Caches" if sys.platform == "darwin" else ".cache") / "ms-playwright"
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or default)
    found = [(build, path) for build in root.glob("chromium-*") for pattern in PLAYWRIGHT_EXECUTABLES
             for path in build.glob(pattern)]
    # By build number: as text, chromium-999 would sort after chromium-1100.
    found.sort(key=lambda pair: int(re.sub(r"\D", "", pair[0].name.split("-", 1)[1]) or 0))
    return str(found[-1][1]) if found else None


def find_chromium() -> str:
    """Path of a Chrome/Chromium executable: $CHROMIUM, else the first of BROWSER_NAMES on PATH,
    else Playwright's own download. ``make browser`` gets one when this finds none."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise FileNotFoundError(f"CHROMIUM={explicit!r} is not an executable file")
        return explicit
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    path = playwright_chromium()
    if path:
        return path
    raise FileNotFoundError(f"no browser found among {', '.join(BROWSER_NAMES)} or Playwright's: {INSTALL_HINT}")


def launch(playwright):
    """A headless Chromium; --no-sandbox because CI runs as root, where the sandbox refuses."""
    return playwright.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])


# ------------------------------------------------------------------ serving the site

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test output is about problems, not requests
        pass


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread; yields the base URL ending in /."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def linked_copy(site: Path, target: Path) -> Path:
    """A copy of ``site`` made of hard links (fast for 30 MB of MathJax). Change a file only
    through :func:`replace_file`, which unlinks first, so the original is never touched."""
    shutil.copytree(site, target, copy_function=os.link)
    return target


def replace_file(path: Path, text: str) -> None:
    path.unlink()
    path.write_text(text, encoding="utf8")


# ------------------------------------------------------------------ the book's structure

def toc_docnames(toc_path: Path) -> list[str]:
    """The pages of a Jupyter Book ``_toc.yml`` in reading order: the root, then every file."""
    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf8"))
    order = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                order.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return [str(Path(name).with_suffix("")) if name.endswith((".md", ".ipynb")) else name
            for name in order]


# ------------------------------------------------------------------ static checks

class _FetchedURLs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = FETCHING_TAGS.get(tag)
        if name and attrs.get(name):
            # <link rel="canonical"> and friends are not fetched; stylesheets, icons, preloads are.
            if tag == "link" and not {"stylesheet", "icon", "preload", "modulepreload"} & set(
                    (attrs.get("rel") or "").split()):
                return
            self.urls.append((tag, attrs[name]))
        # Inline configuration such as `const THEBE_JS_URL = "https://..."` is caught as text below.


def external_resources(html: str) -> list[str]:
    """The URLs a page would fetch from another host: resources with http(s):// or // URLs in
    fetching tags, and absolute URLs inside inline <script> code (loaded later by that code)."""
    parser = _FetchedURLs()
    parser.feed(html)
    found = [f"<{tag}> {url}" for tag, url in parser.urls if re.match(r"(https?:)?//", url)]
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S | re.I):
        found += [f"<script> code: {url}" for url in re.findall(r"https?://[^\s\"'<>]+", script)]
    return found


# ------------------------------------------------------------------ the page in the browser

@dataclass
class PageReport:
    """What :func:`check_page` saw on one page: its problems and what it counted."""

    url: str
    problems: list[str] = field(default_factory=list)
    maths: int = 0
    images: int = 0
    # axe-core's findings when check_page ran it (accessibility=True), None when it did not.
    violations: list[Violation] | None = None
    # What check_page's ``inspect`` returned for the page, None without one.
    inspected: object = None


@dataclass(frozen=True)
class Violation:
    """One element that fails one axe-core rule on one page."""

    rule: str
    impact: str
    target: str  # a CSS selector of the element
    page: str
    help: str = ""

    def __str__(self):
        return f"{self.rule} ({self.impact}) at {self.target} on {self.page}: {self.help}"


def axe_file_problems() -> list[str]:
    """Why tests/vendor/axe.min.js is not the pinned axe-core; empty when it is."""
    if not AXE_JS.is_file():
        return [f"{AXE_JS} is missing"]
    data = AXE_JS.read_bytes()
    problems = []
    if not data.startswith(f"/*! axe v{AXE_VERSION}\n".encode()):
        problems.append(f"{AXE_JS.name} does not start with the licence header of axe v{AXE_VERSION}: "
                        f"{data[:40]!r}")
    if hashlib.sha256(data).hexdigest() != AXE_SHA256:
        problems.append(f"{AXE_JS.name}'s SHA-256 is not the one of axe-core {AXE_VERSION}'s axe.min.js")
    return problems


def axe_violations(page, name: str) -> list[Violation]:
    """Run axe-core's default rules on the page as it is now; ``name`` names the page in reports.

    The script is injected from tests/vendor/ (Playwright inlines the file): nothing is fetched."""
    page.add_script_tag(path=str(AXE_JS))
    return [Violation(page=name, **found) for found in page.evaluate(AXE_RUN_JS)]


def check_page(context, url: str, local_prefixes: tuple[str, ...], screenshot: Path | None = None,
               maths_screenshot: Path | None = None, accessibility: bool = False,
               inspect: Callable[[Page], object] | None = None) -> PageReport:
    """Load ``url`` in a new page of ``context`` and report everything a reader would notice.

    Problems: console errors and uncaught exceptions, requests that fail or answer >= 400,
    requests to anything not starting with one of ``local_prefixes`` (blocked, so the page is
    seen as it is offline), images that did not load (natural width 0), ``.math`` elements
    MathJax did not render, MathJax errors, raw TeX left in the text and a title starting with
    a stray "#". With ``accessibility``, ``report.violations`` lists axe-core's findings on the
    page once loaded, its maths typeset and its images in (see :func:`axe_violations`).
    Last, ``inspect(page)`` (when given) may click through the page; ``report.inspected`` keeps
    what it returns, so that further checks of a page need not load it again.
    """
    report = PageReport(url)
    problems = report.problems
    page = context.new_page()

    def on_route(route):
        request_url = route.request.url
        if request_url.startswith(local_prefixes + ("data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"request to another host (blocked): {request_url[:120]}")
            route.abort()

    page.route("**/*", on_route)
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console error: {msg.text[:300]}"))
    page.on("pageerror", lambda exc: problems.append(f"uncaught exception: {str(exc)[:300]}"))
    page.on("requestfailed", lambda req: problems.append(
        f"request failed: {req.url[:120]} ({req.failure})"))
    page.on("response", lambda resp: resp.status >= 400 and problems.append(
        f"HTTP {resp.status}: {resp.url[:120]}"))
    try:
        page.goto(url, wait_until="load")
        page.evaluate(WAIT_MATHJAX_JS)
        # Scroll through the page so that lazily loaded images are requested, then wait for them.
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_load_state("networkidle")
        images = page.evaluate(IMAGES_JS)
        report.images = len(images)
        problems += [f"image did not load: {img['src'][:120]}" for img in images
                     if not (img["complete"] and img["width"] > 0)]
        maths = page.evaluate(MATHS_JS)
        report.maths = maths["maths"]
        if maths["rendered"] < maths["maths"]:
            problems.append(f"maths not rendered: {maths['maths'] - maths['rendered']} of "
                            f"{maths['maths']} .math elements have no MathJax output")
        if maths["errors"]:
            problems.append(f"MathJax reported {maths['errors']} errors (mjx-merror)")
        # A Markdown heading written as "# # Title" shows a stray "#" in the page title.
        titles = page.eval_on_selector_all("h1", "hs => hs.map(h => h.textContent.trim())")
        problems += [f"page title starts with '#': {t[:60]!r}" for t in titles[:1] if t.startswith("#")]
        leftovers = [t for t in page.evaluate(PROSE_TEXT_JS) if RAW_TEX_RE.search(t)]
        problems += [f"raw TeX in the text: {t.strip()[:100]!r}" for t in leftovers[:5]]
        page.evaluate("window.scrollTo(0, 0)")
        if accessibility:
            report.violations = axe_violations(page, local_url(url) or url)
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
        # The first maths a reader can see: a page's first formula may sit in a folded solution.
        visible_maths = page.locator("div.math:visible, .math:visible")
        if maths_screenshot is not None and report.maths and visible_maths.count():
            visible_maths.first.scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -200)")
            page.screenshot(path=str(maths_screenshot))
        if inspect is not None:
            report.inspected = inspect(page)
    finally:
        page.close()
    return report


def local_url(url: str) -> str:
    """``http://127.0.0.1:8000/book/intro.html?x#y`` -> ``book/intro.html``."""
    return urlsplit(url).path.lstrip("/")


if __name__ == "__main__":
    # `make browser` asks here whether a browser is already there: prints its path, or exits 1.
    try:
        print(find_chromium())
    except FileNotFoundError:
        raise SystemExit(1) from None
