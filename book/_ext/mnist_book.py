"""Sphinx extension of the book: the results page, notebook figures and the "run this chapter" box.

Loaded by ``book/_config.yml`` (``sphinx: local_extensions``). Four things:

* ``results``: a page containing the block ``{benchmark-results}`` gets that block replaced, at
  build time, by Markdown generated from ``mnist_helpers/book_results/*.json`` (one table of every model,
  a chart, and one section per file), so the table cannot drift from the data. The files are read
  by ``mnist_helpers.results``, the format's owner; a file it refuses is a build warning.
* ``{notebook-figure} notebooks/NN_name.ipynb``: shows an image output of a committed notebook
  (the code cell whose source contains the ``:match:`` text), without re-executing it.
* every notebook page gets a box saying how to run that chapter in JupyterLab (``make lab``),
  linking to the port of ``LAB_PORT`` (read from the environment at build time, default 8888).
* launch buttons: the repository's URL, ``repository: url:`` in ``book/_config.yml`` or the
  environment's ``BOOK_REPOSITORY_URL`` (which wins), gives each chapter page the theme's Colab and
  Binder buttons; with no URL they are switched off (no button, no link pointing nowhere).

The pure functions (rendering, picking figures) take plain values so tests can call them without
Sphinx; the Sphinx glue at the bottom only wires them in.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path, PurePosixPath

from mnist_helpers.config import format_duration
from mnist_helpers.results import Results, read_results_folder, results_folder

# Where the results files live: the package's results folder (mnist_helpers.results.results_folder()),
# named on the page by its place in the repository. A book may read another folder by setting the
# Sphinx config value ``mnist_book_results_folder`` (relative to the source folder), as test books do.
RESULTS_DIR = "mnist_helpers/book_results"
# The marker a page uses to ask for the generated results.
MARKER_RE = re.compile(r"^```\{benchmark-results\}[ \t]*\n```[ \t]*$", re.MULTILINE)
# `make lab`'s default port (the Makefile's LAB_PORT).
DEFAULT_LAB_PORT = "8888"


def lab_url(environ) -> str:
    """The JupyterLab address of ``make lab``: ``LAB_PORT`` from ``environ``, 8888 without it."""
    port = environ.get("LAB_PORT", "").strip() or DEFAULT_LAB_PORT
    if not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"LAB_PORT={port!r} is not a TCP port: set it to the port `make lab` serves on, e.g. 8888")
    return f"http://localhost:{int(port)}/lab/tree/"


# The launch services of book/_config.yml's `launch_buttons`: they need a repository to point at.
LAUNCH_KEYS = ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url", "jupyterlite_url")
REPOSITORY_URL_RE = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def repository_url(environ, configured: str) -> str:
    """The repository's URL: ``BOOK_REPOSITORY_URL`` from ``environ``, else ``configured`` (the
    ``repository: url:`` of book/_config.yml); ``""`` for none. Colab opens GitHub repositories
    only, so anything but ``https://github.com/ORG/REPO`` is refused with the fix."""
    url = (environ.get("BOOK_REPOSITORY_URL", "").strip() or (configured or "").strip()).rstrip("/")
    url = url.removesuffix(".git")
    if url and not REPOSITORY_URL_RE.fullmatch(url):
        raise ValueError(f"repository URL {url!r} is not https://github.com/ORG/REPO: set BOOK_REPOSITORY_URL "
                         "(or repository: url: in book/_config.yml) to the GitHub page of the repository")
    return url


def launch_theme_options(options: dict, environ) -> dict:
    """The theme options with the launch buttons on for a repository URL, off without one.

    ``options`` is ``html_theme_options`` as Jupyter Book made it from book/_config.yml
    (``repository_url``, ``launch_buttons``); a new dict is returned."""
    options = dict(options)
    url = repository_url(environ, options.get("repository_url", ""))
    options["repository_url"] = url
    if not url:
        # The theme would otherwise build launch links from no repository (or from Jupyter Book's
        # default one); the buttons that link to the repository itself stay off in _config.yml.
        options["launch_buttons"] = {key: value for key, value in options.get("launch_buttons", {}).items()
                                     if key not in LAUNCH_KEYS}
    return options


# ------------------------------------------------------------------ rendering the results

def _cell(text: str) -> str:
    """Text that is safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def chapter_link(chapter: str | None, known_docs: set[str]) -> str:
    """A link to the chapter's page if the book has it, else its name; ``""`` for no chapter."""
    if not chapter:
        return ""
    docname = f"notebooks/{chapter}"
    # A link to a page outside the book would fail the warning-free build: such a chapter is
    # shown by name until it lands.
    return f"{{doc}}`/{docname}`" if docname in known_docs else f"`{chapter}`"


def results_table(files: list[Results], known_docs: set[str]) -> str:
    """One Markdown table of every model, best test accuracy first."""
    rows = [(row, row.chapter or file.chapter) for file in files for row in file.rows]
    rows.sort(key=lambda pair: (-pair[0].test_accuracy, pair[0].train_seconds))
    # The prediction time is optional: its column appears when a file gives it.
    predict = any(row.predict_seconds is not None for row, _ in rows)
    header = "| model | chapter | test accuracy | test error | training time |"
    header += " prediction time |" if predict else ""
    lines = [header, "|:---|:---|---:|---:|---:|" + ("---:|" if predict else "")]
    for row, chapter in rows:
        line = (f"| {_cell(row.model)} | {chapter_link(chapter, known_docs)} "
                f"| {100 * row.test_accuracy:.2f}% | {100 * (1 - row.test_accuracy):.2f}% "
                f"| {format_duration(row.train_seconds)} |")
        if predict:
            line += f" {'' if row.predict_seconds is None else format_duration(row.predict_seconds)} |"
        lines.append(line)
    return "\n".join(lines)


def chart_png(files: list[Results]) -> bytes:
    """Test error against training time, one labelled point per model, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # the build has no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for row in (row for file in files for row in file.rows):
        # Log axes need positive values: a 100% model or a 0 s fit sits on the floor.
        x, y = max(row.train_seconds, 0.1), max(100 * (1 - row.test_accuracy), 0.01)
        ax.scatter(x, y, s=25)
        ax.annotate(row.model, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set(xscale="log", yscale="log", xlabel="training time (s, 2-core CPU)",
           ylabel="test error (%)", title="Every model in the book: lower left is better")
    # Plain labels (0.5, 1, 2 rather than 5x10^-1, 10^0, 2x10^0): times at every power of
    # ten, errors (a narrower range) also at 2 and 5 x 10^k.
    for axis, subs in ((ax.xaxis, (1,)), (ax.yaxis, (1, 2, 5))):
        axis.set_major_locator(LogLocator(subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.25, y=0.15)  # room for the labels of the points at the edges
    ax.grid(True, which="both", alpha=0.3)
    return _png(fig)


def has_curves(file: Results) -> bool:
    """True when the file's rows carry per-seed test-accuracy curves (the CNN benchmark's ``runs``)."""
    return any(run.get("curve_seconds") for row in file.rows for run in row.extra.get("runs", []))


def _threshold_keys(row) -> list[tuple[str, str, str]]:
    """``(column header, key, seeds key)`` of the row's mean times to a test accuracy.

    The sustained times (from when accuracy stays at or above it to the end of training) where the
    benchmark recorded them, else the first crossing, which a later dip does not undo:
    ``("kept 99% from", "mean_sustained_seconds_to_99", "seeds_sustaining_99")``.
    """
    sustained = [key for key in row.extra if key.startswith("mean_sustained_seconds_to_")]
    if sustained:
        return [(f"kept {key.removeprefix('mean_sustained_seconds_to_')}% from", key,
                 key.replace("mean_sustained_seconds_to_", "seeds_sustaining_")) for key in sustained]
    return [(f"time to {key.removeprefix('mean_seconds_to_')}% (first reached)", key,
             key.replace("mean_seconds_to_", "seeds_reaching_"))
            for key in row.extra if key.startswith("mean_seconds_to_")]


def time_to_accuracy_table(file: Results) -> str:
    """Per model: time against the file's first model, mean time to each accuracy, other CPU use.

    Empty when no row has times to an accuracy (the CNN benchmark's ``mean_seconds_to_*``).
    """
    rows = [row for row in file.rows if _threshold_keys(row)]
    if not rows:
        return ""
    thresholds = _threshold_keys(rows[0])
    header = ["model", "seeds", f"training time vs {_cell(file.rows[0].model)}",
              *(label for label, _, _ in thresholds), "other CPU use (max of the runs)"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for row in rows:
        seeds = len(row.extra.get("seeds", [])) or 1
        ratio = row.extra.get("time_vs_keras_example")
        times = []
        for _label, key, seeds_key in thresholds:
            seconds, reached = row.extra.get(key), row.extra.get(seeds_key)
            times.append("not reached" if seconds is None else
                         format_duration(seconds) + (f" ({reached} of {seeds} seeds)" if reached not in (None, seeds) else ""))
        shares = [run["other_cpu_share"] for run in row.extra.get("runs", []) if run.get("other_cpu_share") is not None]
        lines.append("| " + " | ".join([_cell(row.model), str(seeds), "" if ratio is None else f"{ratio:.2f}x", *times,
                                        f"{max(shares):.1%}" if shares else "unknown"]) + " |")
    return "\n".join(lines)


def time_to_accuracy_png(file: Results) -> bytes:
    """Test accuracy after each epoch against training seconds (log x), one line per seed."""
    import matplotlib

    matplotlib.use("Agg")  # the build has no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for color, row in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], file.rows):
        for i, run in enumerate(row.extra.get("runs", [])):
            ax.plot(run["curve_seconds"], [100 * a for a in run["curve_test_accuracy"]], color=color,
                    marker=".", alpha=0.6, label=row.model if i == 0 else None)
    for level in (99.0, 99.5):
        ax.axhline(level, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xscale="log", ylim=(97.5, 100), xlabel="training time (s, 2-core CPU, log scale)",
           ylabel="test accuracy after the epoch (%)", title="Time to accuracy: one line per seed")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def _png(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def results_markdown(files: list[Results], known_docs: set[str]) -> str:
    """The Markdown that replaces the ``{benchmark-results}`` block: table, chart, one section per file."""
    parts = [
        results_table(files, known_docs),
        "",
        f"```{{figure}} {data_uri(chart_png(files))}",
        ":alt: test error against training time for every model",
        ":width: 90%",
        "",
        "Test error (log scale) against training time (log scale), from the same files as the table.",
        "```",
    ]
    for file in files:
        parts += ["", f"## {file.title}", ""]
        source = f"From `{RESULTS_DIR}/{file.path.name}`"
        if file.chapter:
            source += f", written by {chapter_link(file.chapter, known_docs)}"
        parts.append(f"{source}, on {file.date}.")  # the date says which files a change of recipe left behind
        if file.description:
            parts += ["", file.description]
        spread = [f"* **{_cell(row.model)}**: {100 * row.test_accuracy:.2f}% ± {100 * row.extra['test_accuracy_sd']:.2f} "
                  f"over {len(row.extra['seeds'])} seeds (min {100 * row.extra['test_accuracy_min']:.2f}%, "
                  f"max {100 * row.extra['test_accuracy_max']:.2f}%)"
                  for row in file.rows if "test_accuracy_sd" in row.extra and "seeds" in row.extra]
        if spread:
            parts += ["", "Test accuracy is the mean over seeds:", "", *spread]
        notes = [f"* **{_cell(row.model)}**: {row.notes}" for row in file.rows if row.notes]
        if notes:
            parts += ["", *notes]
        table = time_to_accuracy_table(file)
        if table:
            parts += ["", "Mean training time to reach each test accuracy (over the seeds that reached it), "
                          "and the largest share of the CPUs used by other processes or taken by the "
                          "hypervisor during a run (a few percent at most when nothing else ran):", "", table]
        if has_curves(file):
            parts += ["", f"```{{figure}} {data_uri(time_to_accuracy_png(file))}",
                      ":alt: test accuracy against training time, one line per seed", ":width: 90%", "",
                      "Test accuracy measured after every epoch (off the training clock) against training "
                      "time, for the plot only: no choice was made from it.", "```"]
    return "\n".join(parts)


def expand_results(text: str, folder: Path, known_docs: set[str]) -> tuple[str, list[str]]:
    """Replace the marker block in ``text`` by the results of ``folder``; return the text and the problems."""
    if not MARKER_RE.search(text):
        return text, []
    files, problems = read_results_folder(folder)
    if not files:
        # A results page without results is a broken build, not an empty table.
        return text, problems or [f"{folder}: no results file (*.json) to show"]
    generated = results_markdown(files, known_docs)
    return MARKER_RE.sub(lambda _: generated, text, count=1), problems


# ------------------------------------------------------------------ notebook figures

def notebook_image(notebook: dict, match: str) -> bytes:
    """The PNG bytes of the image output of one code cell of a decoded notebook.

    The cell is the only code cell with a PNG output whose source contains ``match``, and it has
    one such output. Raises ValueError naming what was looked for and what was found.
    """
    def pngs(cell):
        return [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]

    found = [c for c in notebook.get("cells", [])
             if c.get("cell_type") == "code" and pngs(c) and match in "".join(c.get("source", ""))]
    if len(found) != 1:
        raise ValueError(f"match={match!r} selects {len(found)} code cells with a PNG output, expected exactly 1: "
                         "make the text more specific")
    images = pngs(found[0])
    if len(images) != 1:
        raise ValueError(f"the cell selected by match={match!r} has {len(images)} PNG outputs, expected exactly 1")
    data = images[0]
    return base64.b64decode("".join(data) if isinstance(data, list) else data)


# ------------------------------------------------------------------ Sphinx glue

def _setup_sphinx(app):
    from docutils import nodes
    from docutils.parsers.rst import directives
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective

    logger = logging.getLogger(__name__)

    class NotebookFigure(SphinxDirective):
        """``{notebook-figure} notebooks/NN.ipynb`` with ``:match:`` and a caption."""

        required_arguments = 1
        has_content = True
        option_spec = {"match": directives.unchanged_required}

        def run(self):
            path = Path(self.env.srcdir) / self.arguments[0]
            self.env.note_dependency(str(path))
            try:
                if "match" not in self.options:
                    raise ValueError("give :match: (text in the source of the cell that draws the figure)")
                notebook = json.loads(path.read_text(encoding="utf8"))
                png = notebook_image(notebook, self.options["match"])
            except (OSError, ValueError) as exc:
                logger.warning(f"notebook-figure {self.arguments[0]}: {exc}", location=self.get_location())
                return []
            figure = nodes.figure(classes=["notebook-figure"])
            figure += nodes.image(uri=data_uri(png), alt=" ".join(self.content) or self.arguments[0], width="100%")
            if self.content:
                caption = nodes.caption()
                text_nodes, _ = self.state.inline_text(" ".join(self.content), self.lineno)
                caption += text_nodes
                figure += caption
            return [figure]

    def on_source_read(app, docname, source):
        text = source[0]
        if not MARKER_RE.search(text):
            return
        other = app.config.mnist_book_results_folder
        folder = Path(app.srcdir) / other if other else results_folder()
        for path in folder.glob("*.json"):
            app.env.note_dependency(str(path))
        app.env.mnist_book_results_docs = getattr(app.env, "mnist_book_results_docs", set()) | {docname}
        source[0], problems = expand_results(text, folder, set(app.env.found_docs))
        for problem in problems:
            # A warning fails the -W build: a model never silently drops out of the table.
            logger.warning(f"benchmark results: {problem}", location=docname)

    def on_outdated(app, env, added, changed, removed):
        # A new results file is not a dependency Sphinx knows of yet: re-read the page always.
        return sorted(getattr(env, "mnist_book_results_docs", set()) - set(removed))

    def on_doctree_read(app, doctree):
        """The box "Run this chapter" on every page made from a notebook, before its first section."""
        docname = app.env.docname
        if not str(app.env.doc2path(docname)).endswith(".ipynb"):
            return
        page = next(iter(doctree.findall(nodes.section)), None)
        if page is None:
            return
        name = PurePosixPath(docname).name + ".ipynb"
        box = nodes.admonition(classes=["tip", "run-this-chapter"])
        box += nodes.title(text="Run this chapter")
        para = nodes.paragraph()
        para += nodes.Text("From a clone of the repository, ")
        para += nodes.literal(text="make lab")
        para += nodes.Text(" starts JupyterLab on ")
        para += nodes.literal(text="notebooks/")
        para += nodes.Text(" with the helpers installed; then ")
        para += nodes.reference(text=f"open {name} in it", refuri=app.config.mnist_book_lab_url + name)
        para += nodes.Text(". Or download the notebook with the download button at the top of this page.")
        box += para
        subsections = [i for i, child in enumerate(page.children) if isinstance(child, nodes.section)]
        page.insert(subsections[0] if subsections else len(page.children), box)

    def on_merge(app, env, docnames, other):
        # Parallel reads: keep the results pages found by the other processes.
        env.mnist_book_results_docs = (getattr(env, "mnist_book_results_docs", set())
                                       | getattr(other, "mnist_book_results_docs", set()))

    # A config value (rather than a constant) so that a build with another LAB_PORT re-reads
    # every page: Sphinx rebuilds when an "env" config value changes.
    app.add_config_value("mnist_book_lab_url", lab_url(os.environ), "env")

    def on_config_inited(app, config):
        # Before the builder reads the theme options (sphinx-book-theme makes the launch links
        # from repository_url and launch_buttons when each page is written).
        config.html_theme_options = launch_theme_options(config.html_theme_options, os.environ)

    app.connect("config-inited", on_config_inited)
    app.add_config_value("mnist_book_results_folder", "", "env")  # "": the package's results folder
    app.add_directive("notebook-figure", NotebookFigure)
    app.connect("env-merge-info", on_merge)
    app.connect("source-read", on_source_read)
    app.connect("env-get-outdated", on_outdated)
    app.connect("doctree-read", on_doctree_read)


def setup(app):
    _setup_sphinx(app)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
