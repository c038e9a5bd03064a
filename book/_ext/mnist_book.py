"""Sphinx extension of the book: the results page, notebook figures and the "run this chapter" box.

Loaded by ``book/_config.yml`` (``sphinx: local_extensions``). Three things:

* ``results``: a page containing the block ``{benchmark-results}`` gets that block replaced, at
  build time, by Markdown generated from ``benchmarks/results/*.json`` (one table of every model,
  a chart, and one section per benchmark file), so the table cannot drift from the data. The
  format of those files is described in ``book/results.md`` and checked by :func:`read_benchmark`.
* ``{notebook-figure} notebooks/NN_name.ipynb``: shows an image output of a committed notebook
  (the cell chosen by ``:match:`` text in its source or by ``:cell:`` id), without re-executing it.
* every notebook page gets a box saying how to run that chapter in JupyterLab (``make lab``).

The pure functions (reading, checking, rendering) take plain values so tests can call them without
Sphinx; the Sphinx glue at the bottom only wires them in.
"""
from __future__ import annotations

import base64
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# Where the benchmark files live, relative to the source folder (the repository root).
BENCHMARK_DIR = "benchmarks/results"
# The marker a page uses to ask for the generated results.
MARKER_RE = re.compile(r"^```\{benchmark-results\}[ \t]*\n```[ \t]*$", re.MULTILINE)
REQUIRED = ("model", "test_accuracy", "train_seconds")
# Other names the benchmark scripts use for the same things, accepted so that a file does not
# have to be rewritten for this page: {canonical: aliases}. The canonical name wins if both appear.
ALIASES = {"rows": ("results",), "model": ("method", "name"), "train_seconds": ("fit_seconds",)}
# JupyterLab as started by `make lab` (its default port); the "Run this chapter" box links there.
LAB_URL = "http://localhost:8888/lab/tree/"


class BenchmarkError(ValueError):
    """A benchmark file that cannot be shown as it is; the message names the file and the row."""


@dataclass
class Row:
    """One trained model: what the results table shows."""

    model: str
    test_accuracy: float
    train_seconds: float
    chapter: str | None = None
    predict_seconds: float | None = None
    notes: str | None = None


@dataclass
class Benchmark:
    """One ``benchmarks/results/<name>.json`` file."""

    name: str
    title: str
    rows: list[Row]
    description: str | None = None
    chapter: str | None = None
    mode: str | None = None
    figures: list[dict] = field(default_factory=list)


# ------------------------------------------------------------------ reading the JSON files

def _number(value, what: str, where: str, low: float, high: float = math.inf) -> float:
    """``value`` as a float in [low, high]; booleans and strings are refused, not coerced."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BenchmarkError(f"{where}: {what}={value!r} is not a number")
    if not (low <= value <= high) or math.isnan(value):
        raise BenchmarkError(f"{where}: {what}={value!r} is outside [{low}, {high}]")
    return float(value)


def _text(value, what: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BenchmarkError(f"{where}: {what}={value!r} is not a non-empty string")
    return value.strip()


def chapter_docname(chapter: str) -> str:
    """``"02_baselines"``, ``"notebooks/02_baselines.ipynb"`` -> ``"notebooks/02_baselines"``."""
    path = PurePosixPath(chapter.strip())
    if path.suffix == ".ipynb":
        path = path.with_suffix("")
    return str(path if len(path.parts) > 1 else PurePosixPath("notebooks") / path)


def _canonical(mapping: dict) -> dict:
    """``mapping`` with the ALIASES renamed to their canonical names (the canonical one wins)."""
    out = dict(mapping)
    for key, aliases in ALIASES.items():
        for alias in aliases:
            if key not in out and alias in out:
                out[key] = out[alias]
    return out


def read_benchmark(name: str, data) -> Benchmark:
    """Check one decoded benchmark file and return it; ``name`` is the file name, for messages.

    Accepted: ``{"rows": [row, ...], ...}`` or a bare list of rows. Each row needs ``model``
    (text), ``test_accuracy`` (a fraction in [0, 1], not a percentage) and ``train_seconds``
    (>= 0); ``chapter``, ``predict_seconds`` and ``notes`` are optional; other keys are ignored.
    The names in ALIASES are accepted too ("results", "method", "fit_seconds").
    Raises :class:`BenchmarkError` naming the file, the row and the bad value.
    """
    if isinstance(data, list):
        data = {"rows": data}
    if not isinstance(data, dict):
        raise BenchmarkError(f"{name}: expected an object with a 'rows' list, got {type(data).__name__}")
    data = _canonical(data)
    raw_rows = data.get("rows")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise BenchmarkError(f"{name}: 'rows' must be a non-empty list of objects, got {raw_rows!r:.100}")
    chapter = data.get("chapter")
    if chapter is not None:
        chapter = chapter_docname(_text(chapter, "chapter", name))
    rows = []
    for i, raw in enumerate(raw_rows):
        where = f"{name}, row {i}"
        if not isinstance(raw, dict):
            raise BenchmarkError(f"{where}: expected an object, got {raw!r:.100}")
        raw = _canonical(raw)
        missing = [key for key in REQUIRED if key not in raw]
        if missing:
            raise BenchmarkError(f"{where}: missing {', '.join(missing)} (a row needs {', '.join(REQUIRED)})")
        predict = raw.get("predict_seconds")
        row_chapter = raw.get("chapter")
        rows.append(Row(
            model=_text(raw["model"], "model", where),
            test_accuracy=_number(raw["test_accuracy"], "test_accuracy", where, 0.0, 1.0),
            train_seconds=_number(raw["train_seconds"], "train_seconds", where, 0.0),
            chapter=chapter_docname(_text(row_chapter, "chapter", where)) if row_chapter else chapter,
            predict_seconds=None if predict is None else _number(predict, "predict_seconds", where, 0.0),
            notes=None if raw.get("notes") is None else _text(raw["notes"], "notes", where),
        ))
    figures = data.get("figures", [])
    if not isinstance(figures, list) or not all(isinstance(f, dict) and "notebook" in f for f in figures):
        raise BenchmarkError(f"{name}: 'figures' must be a list of objects with a 'notebook' key")
    # Without a title, the file name: "classic_baselines" -> "Classic baselines", "cnn" -> "CNN".
    stem = Path(name).stem.replace("_", " ")
    default_title = stem.upper() if len(stem) <= 3 else stem.capitalize()
    return Benchmark(
        name=name,
        title=_text(data.get("title", default_title), "title", name),
        rows=rows,
        description=data.get("description"),
        chapter=chapter,
        mode=data.get("mode"),
        figures=figures,
    )


def load_benchmarks(folder: Path) -> tuple[list[Benchmark], list[str]]:
    """Read every ``*.json`` in ``folder`` (sorted by name): the good files and the problems."""
    benchmarks, problems = [], []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf8"))
            benchmarks.append(read_benchmark(path.name, data))
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}: not valid JSON ({exc})")
        except BenchmarkError as exc:
            problems.append(str(exc))
    return benchmarks, problems


# ------------------------------------------------------------------ rendering

def format_seconds(seconds: float) -> str:
    """Human time: ``0.4 s``, ``42 s``, ``3.5 min``, ``1.2 h``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _cell(text: str) -> str:
    """Text that is safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _chapter_link(docname: str | None, known_docs: set[str]) -> str:
    if not docname:
        return ""
    # Only chapters that are part of the book become links (a link to a missing page would
    # fail the warning-free build); others are shown by name until they land.
    if docname in known_docs:
        return f"{{doc}}`/{docname}`"
    return f"`{PurePosixPath(docname).name}`"


def results_table(benchmarks: list[Benchmark], known_docs: set[str]) -> str:
    """One Markdown table of every model, best test accuracy first."""
    rows = [(b, r) for b in benchmarks for r in b.rows]
    rows.sort(key=lambda br: (-br[1].test_accuracy, br[1].train_seconds))
    # The prediction time is optional: its column appears when a file gives it.
    predict = any(r.predict_seconds is not None for _, r in rows)
    header = "| model | chapter | test accuracy | test error | training time |"
    header += " prediction time |" if predict else ""
    lines = [header, "|:---|:---|---:|---:|---:|" + ("---:|" if predict else "")]
    for bench, row in rows:
        mode = " (fast mode)" if bench.mode == "fast" else ""
        line = (f"| {_cell(row.model)}{mode} | {_chapter_link(row.chapter, known_docs)} "
                f"| {100 * row.test_accuracy:.2f}% | {100 * (1 - row.test_accuracy):.2f}% "
                f"| {format_seconds(row.train_seconds)} |")
        if predict:
            line += f" {'' if row.predict_seconds is None else format_seconds(row.predict_seconds)} |"
        lines.append(line)
    return "\n".join(lines)


def chart_png(benchmarks: list[Benchmark]) -> bytes:
    """Test error against training time, one labelled point per model, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # the build has no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    rows = [r for b in benchmarks for r in b.rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for row in rows:
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
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure_block(spec: dict) -> str:
    """A ``{notebook-figure}`` block from a ``figures`` entry of a benchmark file."""
    options = [f":{key}: {spec[key]}" for key in ("match", "cell", "image", "width") if key in spec]
    caption = spec.get("caption", "")
    return "\n".join([f"```{{notebook-figure}} {spec['notebook']}", *options, "", caption, "```"])


def results_markdown(benchmarks: list[Benchmark], known_docs: set[str]) -> str:
    """The Markdown that replaces the ``{benchmark-results}`` block."""
    if not benchmarks:
        return ("```{note}\nNo benchmark has been recorded yet: the table appears here as soon as "
                f"a chapter writes its results to `{BENCHMARK_DIR}/`.\n```")
    parts = [
        results_table(benchmarks, known_docs),
        "",
        f"```{{figure}} {data_uri(chart_png(benchmarks))}",
        ":alt: test error against training time for every model",
        ":width: 90%",
        "",
        "Test error (log scale) against training time (log scale), from the same files as the table.",
        "```",
    ]
    for bench in benchmarks:
        parts += ["", f"## {bench.title}", ""]
        source = f"From `{BENCHMARK_DIR}/{bench.name}`"
        if bench.chapter:
            source += f", written by {_chapter_link(bench.chapter, known_docs)}"
        parts.append(source + (" (fast mode)." if bench.mode == "fast" else "."))
        if bench.description:
            parts += ["", str(bench.description)]
        notes = [f"* **{_cell(r.model)}**: {r.notes}" for r in bench.rows if r.notes]
        if notes:
            parts += ["", *notes]
        for spec in bench.figures:
            parts += ["", _figure_block(spec)]
    return "\n".join(parts)


def expand_results(text: str, benchmark_dir: Path, known_docs: set[str]) -> tuple[str, list[str]]:
    """Replace the marker block in ``text``; return the new text and the problems found."""
    if not MARKER_RE.search(text):
        return text, []
    benchmarks, problems = load_benchmarks(benchmark_dir)
    generated = results_markdown(benchmarks, known_docs)
    return MARKER_RE.sub(lambda _: generated, text, count=1), problems


# ------------------------------------------------------------------ notebook figures

def notebook_image(notebook: dict, *, match: str | None = None, cell: str | None = None,
                   image: int = 0) -> bytes:
    """The PNG bytes of image output number ``image`` of one code cell of a decoded notebook.

    The cell is the only code cell with a PNG output whose source contains ``match``, or the
    cell whose id is ``cell``. Raises ValueError naming what was looked for and what was found.
    """
    if (match is None) == (cell is None):
        raise ValueError("give exactly one of match= (text in the cell's source) or cell= (cell id)")

    def pngs(c):
        return [o["data"]["image/png"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]

    cells = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code" and pngs(c)]
    if match is not None:
        found = [c for c in cells if match in "".join(c.get("source", ""))]
        what = f"match={match!r}"
    else:
        found = [c for c in cells if c.get("id") == cell]
        what = f"cell={cell!r}"
    if len(found) != 1:
        raise ValueError(f"{what} selects {len(found)} code cells with a PNG output, expected exactly 1")
    images = pngs(found[0])
    if not 0 <= image < len(images):
        raise ValueError(f"image={image} but the cell selected by {what} has {len(images)} PNG outputs")
    data = images[image]
    return base64.b64decode("".join(data) if isinstance(data, list) else data)


# ------------------------------------------------------------------ Sphinx glue

def _setup_sphinx(app):  # noqa: C901 - one place for all the wiring
    from docutils import nodes
    from docutils.parsers.rst import directives
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective

    logger = logging.getLogger(__name__)

    class NotebookFigure(SphinxDirective):
        """``{notebook-figure} notebooks/NN.ipynb`` with ``:match:``/``:cell:``, ``:image:``, caption."""

        required_arguments = 1
        has_content = True
        option_spec = {"match": directives.unchanged_required, "cell": directives.unchanged_required,
                       "image": directives.nonnegative_int, "width": directives.unchanged_required}

        def run(self):
            path = Path(self.env.srcdir) / self.arguments[0]
            self.env.note_dependency(str(path))
            try:
                notebook = json.loads(path.read_text(encoding="utf8"))
                png = notebook_image(notebook, match=self.options.get("match"),
                                     cell=self.options.get("cell"), image=self.options.get("image", 0))
            except (OSError, ValueError) as exc:
                logger.warning(f"notebook-figure {self.arguments[0]}: {exc}", location=self.get_location())
                return []
            figure = nodes.figure(classes=["notebook-figure"])
            figure += nodes.image(uri=data_uri(png), alt=" ".join(self.content) or self.arguments[0],
                                  width=self.options.get("width", "100%"))
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
        folder = Path(app.srcdir) / BENCHMARK_DIR
        for path in folder.glob("*.json"):
            app.env.note_dependency(str(path))
        app.env.mnist_book_results_docs = getattr(app.env, "mnist_book_results_docs", set()) | {docname}
        source[0], problems = expand_results(text, folder, set(app.env.found_docs))
        for problem in problems:
            # A warning fails the -W build: a model never silently drops out of the table.
            logger.warning(f"benchmark results: {problem}", location=docname)

    def on_outdated(app, env, added, changed, removed):
        # A new benchmark file is not a dependency Sphinx knows of yet: re-read the page always.
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
        para += nodes.reference(text=f"open {name} in it", refuri=LAB_URL + name)
        para += nodes.Text(". Or download the notebook with the download button at the top of this page.")
        box += para
        subsections = [i for i, child in enumerate(page.children) if isinstance(child, nodes.section)]
        page.insert(subsections[0] if subsections else len(page.children), box)

    def on_merge(app, env, docnames, other):
        # Parallel reads: keep the results pages found by the other processes.
        env.mnist_book_results_docs = (getattr(env, "mnist_book_results_docs", set())
                                       | getattr(other, "mnist_book_results_docs", set()))

    app.add_directive("notebook-figure", NotebookFigure)
    app.connect("env-merge-info", on_merge)
    app.connect("source-read", on_source_read)
    app.connect("env-get-outdated", on_outdated)
    app.connect("doctree-read", on_doctree_read)


def setup(app):
    _setup_sphinx(app)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
