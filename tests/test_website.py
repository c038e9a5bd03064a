"""The website as a reader sees it: built by `make book`, checked in a real headless Chromium.

The build runs once per session (`make book` into a temp folder, warnings are errors) and is
served on 127.0.0.1 with every other host blocked. Then: every page loads cleanly, the maths is
rendered by the MathJax copy inside the site (also from a file:// URL), the "next" links walk
through the chapters in the order of book/_toc.yml, search finds "softmax", each chapter offers
its notebook for download, and the results page comes from mnist_helpers/book_results/. Every page
passes axe-core (the pinned copy in tests/vendor/, default rules): a critical, serious or
moderate violation fails, minor ones are counted. With a repository URL (BOOK_REPOSITORY_URL) the
chapters get Colab and Binder buttons, and without one no link to either. The checker is itself
tested on broken copies of the site (a deleted figure, MathJax pointed at a CDN, an unlabelled
input). Screenshots of every page: book/_build/screenshots/.
"""
import html
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import site_checks as sc
import yaml
from book_extension import load_extension

ROOT = Path(__file__).resolve().parents[1]
TOC = ROOT / "book" / "_toc.yml"
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
CDN_MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"
# The port the chapter pages link to: `make book` passes the Makefile's LAB_PORT to the build.
LAB_PORT = os.environ.get("LAB_PORT", "").strip() or "8888"
# A repository URL for the build with launch buttons (nothing is fetched from it).
EXAMPLE_REPOSITORY = "https://github.com/example/mnist-book"
LAUNCH_HOSTS = ("colab.research.google.com", "mybinder.org")


ext = load_extension()


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def build(book_build):
    """`make book` into a fresh folder, once per test session (tests/conftest.py)."""
    return book_build


@pytest.fixture(scope="session")
def site(build):
    return build["html"]


@pytest.fixture(scope="session")
def pages():
    return sc.toc_docnames(TOC)


@pytest.fixture(scope="session")
def served(site):
    with sc.serve(site) as base:
        yield base


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def chapter_facts(page) -> dict:
    """What a chapter's page offers, clicked through as a reader does; what the three chapter tests check.

    ``{"download": (visible, href, bytes), "run box": (visible, text, href), "exercises": count,
    "solutions": [(collapsed at first, open after a click), ...]}``
    """
    page.locator(".dropdown-download-buttons > button").click()
    link = page.locator("a.btn-download-source-button")
    visible, href = link.is_visible(), link.get_attribute("href")
    with page.expect_download() as download_info:
        link.click(modifiers=["Alt"])  # Alt+click: save the link target instead of opening it
    fact = {"download": (visible, href, Path(download_info.value.path()).read_bytes())}
    box = page.locator(".run-this-chapter")
    fact["run box"] = (box.is_visible(), box.inner_text(), box.locator("a").get_attribute("href"))
    fact["exercises"] = page.locator("div.exercise").count()
    solutions, opened = page.locator("div.solution"), []
    for i in range(solutions.count()):
        body = solutions.nth(i).locator("> :not(.admonition-title)").first
        collapsed = not body.is_visible()
        solutions.nth(i).locator(".admonition-title").click()
        opened.append((collapsed, body.is_visible()))
    fact["solutions"] = opened
    return fact


@pytest.fixture(scope="session")
def page_reports(site, served, browser, pages):
    """Every page loaded once, as a reader sees it (sc.check_page), with axe-core run on it:
    the book's pages in toc order, then Sphinx's own (search, index); not _static's templates.
    On each chapter's page, then, what a reader clicks (chapter_facts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("[0-9][0-9]_*.png"):  # pages of an earlier build (not jupyterlab.png)
        old.unlink()
    others = sorted(p.stem for p in site.glob("*.html") if p.stem != "index")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    reports, start = {}, time.perf_counter()
    try:
        for i, docname in enumerate(pages + others):
            shot = f"{i:02d}_{docname.replace('/', '_')}"
            reports[docname] = sc.check_page(
                context, served + docname + ".html", (served,), accessibility=True,
                screenshot=SCREENSHOTS / f"{shot}.png", maths_screenshot=SCREENSHOTS / f"{shot}_maths.png",
                inspect=chapter_facts if docname.startswith("notebooks/") else None)
    finally:
        context.close()
    print(f"\n{len(reports)} pages loaded and checked with axe-core in {time.perf_counter() - start:.1f} s")
    return reports


# ------------------------------------------------------------------ the build

def test_build_is_warning_free_and_uses_committed_outputs(build, site, pages):
    assert "WARNING" not in build["log"] and "build succeeded" in build["log"]
    # execute_notebooks is "off": myst-nb would log "Executing" for every notebook it ran.
    assert "Executing" not in build["log"]
    for docname in pages:
        assert (site / f"{docname}.html").is_file(), f"{docname} is in _toc.yml but was not built"
    assert (site / "index.html").is_file() and (site / "search.html").is_file()


def test_the_book_has_an_introduction_and_a_results_page(pages):
    assert pages[0] == "book/intro"
    assert "book/results" in pages, "book/results.md must be listed in book/_toc.yml"
    chapters = [p for p in pages if p.startswith("notebooks/")]
    assert chapters == sorted(chapters), f"chapters out of order in _toc.yml: {chapters}"


def test_no_page_references_another_host(site):
    problems = {}
    for page in sorted(site.rglob("*.html")):
        found = sc.external_resources(page.read_text(encoding="utf8"))
        if found:
            problems[str(page.relative_to(site))] = found
    assert not problems, f"pages that would fetch from the internet: {problems}"


def test_mathjax_is_served_from_the_site_itself(site):
    intro = (site / "book" / "intro.html").read_text(encoding="utf8")
    assert 'src="../_static/mathjax/tex-chtml.js"' in intro
    assert (site / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 100_000
    fonts = list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert len(fonts) > 10, "MathJax's fonts must be in the site too"


# ------------------------------------------------------------------ every page in the browser

def test_every_page_loads_cleanly_with_rendered_maths(page_reports, pages):
    reports = page_reports
    problems = {name: r.problems for name, r in reports.items() if r.problems}
    assert not problems, f"problems a reader would see: {json.dumps(problems, indent=1)}"
    # The checks above must have had something to check.
    assert reports["book/intro"].maths >= 3, "the introduction must show some maths"
    assert sum(r.images for name, r in reports.items() if name.startswith("notebooks/")) >= 1
    assert reports["book/results"].images >= 1
    assert len(list(SCREENSHOTS.glob("*.png"))) > len(pages)


def test_axe_core_is_the_pinned_copy():
    assert sc.axe_file_problems() == []


def test_every_page_passes_axe_core(page_reports, pages):
    """axe-core's default rules on every page: critical, serious or moderate fails; minor is counted."""
    assert set(pages) <= set(page_reports)  # the introduction, each chapter, the draw and results pages
    violations = [v for report in page_reports.values() for v in report.violations]
    print(f"\naxe-core {sc.AXE_VERSION} on {len(page_reports)} pages:")
    for name, report in page_reports.items():
        counts = Counter(v.impact for v in report.violations)
        print(f"  {name}: " + (", ".join(f"{n} {impact}" for impact, n in sorted(counts.items())) or "no violation"))
    minor = [v for v in violations if v.impact not in sc.AXE_FAILING_IMPACTS]
    for rule, n in sorted(Counter(v.rule for v in minor).items()):
        print(f"  allowed, minor: {n} x {rule}")
    failing = [v for v in violations if v.impact in sc.AXE_FAILING_IMPACTS]
    assert not failing, f"{len(failing)} accessibility violations (axe-core {sc.AXE_VERSION}):\n" + \
        "\n".join(map(str, failing))


def test_maths_renders_from_disk_without_a_server(site, context, pages):
    """A reader opening the built index.html with a double click: file:// URLs, no server."""
    page = context.new_page()
    page.goto((site / "index.html").as_uri())
    page.wait_for_url(f"**/{pages[0]}.html")  # index.html redirects to the first page
    page.close()
    report = sc.check_page(context, (site / f"{pages[0]}.html").as_uri(), ("file://",),
                           screenshot=SCREENSHOTS / "from_disk_intro.png")
    assert report.problems == [] and report.maths >= 3


def test_next_links_walk_through_the_chapters_in_toc_order(served, context, pages):
    page = context.new_page()
    page.goto(served + "index.html")
    page.wait_for_url(f"**/{pages[0]}.html")  # index.html redirects to the root page
    visited, previous = [sc.local_url(page.url)], []
    while True:
        # Each page's "previous" link, read on the way (walking back would load every page again).
        back = page.locator("a.left-prev")
        previous.append(sc.local_url(back.first.evaluate("a => a.href")) if back.count() else None)
        if not page.locator("a.right-next").count():
            break
        page.locator("a.right-next").first.click()
        page.wait_for_load_state("load")
        visited.append(sc.local_url(page.url))
    assert visited == [f"{name}.html" for name in pages]
    assert previous == [None] + visited[:-1]  # ...and the "previous" links lead back, page by page
    # The sidebar lists the same pages in the same order (the home page first).
    sidebar = page.eval_on_selector_all(
        "nav.bd-docs-nav a.reference.internal", "links => links.map(a => a.href)")
    assert [sc.local_url(url) for url in sidebar] == [f"{name}.html" for name in pages]
    page.close()


def _search(context, served, query):
    """Type ``query`` into the search box like a reader (Ctrl+K); the result page's links."""
    page = context.new_page()
    page.goto(served + "book/intro.html")
    page.keyboard.press("Control+k")
    box = page.locator("#pst-search-dialog input[name=q]")
    box.fill(query)
    box.press("Enter")
    page.wait_for_url("**/search.html?q=*")
    page.wait_for_selector("#search-results .search-summary")  # Sphinx writes it when done
    hits = page.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")
    page.close()
    return [sc.local_url(url) for url in hits]


def test_search_finds_softmax(served, context):
    hits = _search(context, served, "softmax")
    assert "book/intro.html" in hits
    assert _search(context, served, "qzxwvj") == []  # the check can fail


@pytest.fixture(scope="session")
def chapter_pages(page_reports, pages):
    """What each chapter's page showed when page_reports loaded it (``chapter_facts``)."""
    return {docname: page_reports[docname].inspected for docname in pages if docname.startswith("notebooks/")}


def test_each_chapter_offers_its_notebook_for_download(chapter_pages):
    assert chapter_pages, "no chapter page was opened"
    for docname, fact in chapter_pages.items():
        visible, href, downloaded = fact["download"]
        assert visible and href.endswith(f"{docname}.ipynb"), (docname, href)
        assert downloaded == (ROOT / f"{docname}.ipynb").read_bytes(), docname


def test_each_chapter_says_how_to_run_it_in_jupyterlab(chapter_pages):
    for docname, fact in chapter_pages.items():
        visible, text, href = fact["run box"]
        assert visible and "make lab" in text, docname
        assert href == f"http://localhost:{LAB_PORT}/lab/tree/{Path(docname).name}.ipynb"


def test_each_chapter_has_exercises_whose_solutions_open_on_click(chapter_pages):
    for docname, fact in chapter_pages.items():
        assert fact["exercises"] >= 3, f"{docname}: fewer than 3 exercises"
        assert len(fact["solutions"]) >= 3, f"{docname}: fewer than 3 solutions"
        for i, (collapsed, opened) in enumerate(fact["solutions"]):
            assert collapsed, f"{docname}: solution {i + 1} is not collapsed"
            assert opened, f"{docname}: solution {i + 1} did not open on click"


# ------------------------------------------------------------------ launch buttons (Colab, Binder)

@pytest.fixture(scope="session")
def launch_site(tmp_path_factory):
    """Chapter 1 alone, built like `make book` (book/_config.yml, -W) but with BOOK_REPOSITORY_URL
    set: one page is enough to see the launch links, in a few seconds instead of a second book."""
    out = tmp_path_factory.mktemp("launchbook")
    toc = out / "_toc.yml"
    toc.write_text("format: jb-book\nroot: notebooks/01_meet_mnist\n", encoding="utf8")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    start = time.perf_counter()
    result = subprocess.run([str(jupyter_book), "build", ".", "--config", "book/_config.yml", "--toc", str(toc),
                             "--path-output", str(out), "-W", "--keep-going"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "BOOK_REPOSITORY_URL": EXAMPLE_REPOSITORY})
    log = result.stdout + result.stderr
    if result.returncode != 0 or "WARNING" in log:
        pytest.fail(f"building chapter 1 with BOOK_REPOSITORY_URL failed (exit {result.returncode}):\n{log[-5000:]}")
    print(f"\nchapter 1 built with BOOK_REPOSITORY_URL in {time.perf_counter() - start:.1f} s")
    return out / "_build" / "html"


def _launch_links(page_html: str) -> list[str]:
    return sorted(html.unescape(url) for url in re.findall(r'<a href="([^"]+)"', page_html)
                  if any(host in url for host in LAUNCH_HOSTS))


def test_with_a_repository_url_each_chapter_launches_on_colab_and_binder(launch_site, context):
    page = launch_site / "notebooks" / "01_meet_mnist.html"
    text = page.read_text(encoding="utf8")
    assert _launch_links(text) == [
        "https://colab.research.google.com/github/example/mnist-book/blob/main/notebooks/01_meet_mnist.ipynb",
        "https://mybinder.org/v2/gh/example/mnist-book/main?urlpath=lab/tree/notebooks/01_meet_mnist.ipynb",
    ]
    assert "run-this-chapter" in text  # the local JupyterLab box stays
    assert sc.external_resources(text) == []  # links only: the page still loads nothing from elsewhere
    with sc.serve(launch_site) as base:
        report = sc.check_page(context, base + "notebooks/01_meet_mnist.html", (base,), accessibility=True)
    assert report.problems == []
    assert [str(v) for v in report.violations if v.impact in sc.AXE_FAILING_IMPACTS] == []


def test_without_a_repository_url_nothing_links_to_colab_binder_or_a_repository(site):
    """The committed setting is no URL (no public repository yet): no launch or repository button."""
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf8"))
    assert ext.repository_url({}, config["repository"]["url"]) == ""
    found = {}
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf8")
        hits = [host for host in LAUNCH_HOSTS if host in text]
        hits += [label for label in ("dropdown-launch-buttons", "source-repository-button", "source-edit-button",
                                     "source-issues-button") if label in text]
        if hits:
            found[str(page.relative_to(site))] = hits
    assert not found, f"links to launch services or to a repository that is not set: {found}"


# ------------------------------------------------------------------ the checker catches breakage

def test_checker_reports_a_deleted_figure_and_a_stray_hash(site, context, tmp_path, pages):
    chapter = next(p for p in pages if p.startswith("notebooks/"))
    broken = sc.linked_copy(site, tmp_path / "site")
    page = broken / f"{chapter}.html"
    text = page.read_text(encoding="utf8")
    image = next(p for p in (broken / "_images").iterdir() if p.name in text)
    image.unlink()
    sc.replace_file(page, text.replace("<h1>", "<h1># ", 1))  # as from a "# # Title" cell
    with sc.serve(broken) as base:
        report = sc.check_page(context, base + chapter + ".html", (base,))
    assert any("image did not load" in p and image.name in p for p in report.problems), report.problems
    assert any("HTTP 404" in p for p in report.problems)
    assert any("page title starts with '#'" in p for p in report.problems)


def test_checker_reports_mathjax_from_a_cdn(site, context, tmp_path):
    broken = sc.linked_copy(site, tmp_path / "site")
    intro = broken / "book" / "intro.html"
    html = intro.read_text(encoding="utf8")
    sc.replace_file(intro, html.replace("../_static/mathjax/tex-chtml.js", CDN_MATHJAX))
    assert "../_static/mathjax/tex-chtml.js" in (site / "book" / "intro.html").read_text(encoding="utf8")
    assert sc.external_resources(intro.read_text(encoding="utf8")) == [f"<script> {CDN_MATHJAX}"]
    with sc.serve(broken) as base:
        report = sc.check_page(context, base + "book/intro.html", (base,))
    assert any("request to another host" in p and "cdn.jsdelivr.net" in p for p in report.problems)
    assert any("maths not rendered" in p for p in report.problems)
    assert any("raw TeX" in p for p in report.problems)


def test_checker_reports_an_accessibility_violation(site, context, tmp_path):
    broken = sc.linked_copy(site, tmp_path / "site")
    intro = broken / "book" / "intro.html"
    # An unlabelled text field in the page's title (the first heading link; the print-only copy is hidden).
    html_text = intro.read_text(encoding="utf8")
    assert '<a class="headerlink"' in html_text
    sc.replace_file(intro, html_text.replace('<a class="headerlink"', '<input type="text"><a class="headerlink"', 1))
    with sc.serve(broken) as base:
        report = sc.check_page(context, base + "book/intro.html", (base,), accessibility=True)
    assert report.problems == []
    assert [(v.rule, v.impact, v.page) for v in report.violations] == [("label", "critical", "book/intro.html")]


def test_external_resources_ignores_plain_links():
    html = ('<a href="https://example.org">x</a><link rel="canonical" href="https://example.org/">'
            '<img src="../_images/a.png"><link rel="stylesheet" href="//fonts.example.org/a.css">'
            '<script>const URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"</script>')
    assert sc.external_resources(html) == [
        "<link> //fonts.example.org/a.css", "<script> code: https://unpkg.com/thebe@0.8.2/lib/index.js"]


def test_toc_order_includes_nested_sections(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n"
                   "      - file: notebooks/01_a\n        sections:\n          - file: notebooks/01b\n"
                   "      - file: book/results.md\n")
    assert sc.toc_docnames(toc) == ["book/intro", "notebooks/01_a", "notebooks/01b", "book/results"]


def test_find_chromium_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="CHROMIUM="):
        sc.find_chromium()
    monkeypatch.delenv("CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make browser"):
        sc.find_chromium()
    fake = tmp_path / "chromium-1200" / "chrome-linux64" / "chrome"
    fake.parent.mkdir(parents=True)
    fake.touch()
    assert sc.find_chromium() == str(fake)


# ------------------------------------------------------------------ the results page's data

# The extension's pure functions are unit-tested in tests/test_book_extension.py (no browser).


def _mini_book(folder: Path, benchmark: str) -> subprocess.CompletedProcess:
    """A one-page book with the results block and one benchmark file, built with -W."""
    (folder / "benchmarks" / "results").mkdir(parents=True)
    (folder / "benchmarks" / "results" / "runs.json").write_text(benchmark)
    (folder / "results.md").write_text("# Results\n\n```{benchmark-results}\n```\n")
    (folder / "_toc.yml").write_text("format: jb-book\nroot: results\n")
    (folder / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: 'off'\n"
        f"sphinx:\n  local_extensions:\n    mnist_book: {ROOT / 'book' / '_ext'}\n"
        "  config:\n    mnist_book_results_folder: benchmarks/results\n")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run([str(jupyter_book), "build", str(folder), "-W", "--keep-going"],
                          capture_output=True, text=True, timeout=300)


def test_the_results_page_shows_every_recorded_model(site):
    """The page is generated from mnist_helpers/book_results/ at build time: it cannot drift from them."""
    page = (site / "book" / "results.html").read_text(encoding="utf8")
    benchmarks, problems = ext.read_results_folder(ROOT / ext.RESULTS_DIR)
    assert problems == []
    rows = [row for bench in benchmarks for row in bench.rows]
    for row in rows:
        assert html.escape(row.model, quote=False) in page, row.model
        assert f"{100 * row.test_accuracy:.2f}%" in page, row.model
    assert rows, "mnist_helpers/book_results/ holds no result: the page would be empty"
    assert "The class balance of the training and test sets" in page  # a chapter's figure


def test_a_broken_benchmark_file_stops_the_build(tmp_path):
    result = _mini_book(tmp_path, json.dumps({"title": "Runs", "date": "2026-11-25", "rows": [
        {"model": "cnn", "test_accuracy": 99.2, "train_seconds": 300}]}))
    assert result.returncode != 0
    assert "runs.json, row 0: test_accuracy=99.2 must be in [0, 1]" in result.stdout + result.stderr
