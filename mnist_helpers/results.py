"""The results format: test results of trained models, one JSON file per chapter or benchmark.

This module is the format's only writer and only reader. A chapter that trains models ends with
``mh.record_results(...)``; the benchmark scripts call :func:`write_results`; the website's
results page (``book/_ext/mnist_book.py``) and the chapters read with :func:`read_results` and
:func:`read_results_folder`.

The book's results files are package data, in one place: :func:`results_folder`, the package's
``book_results/`` (``make execute`` and the benchmark scripts write there; ``read_results("baselines")``
reads ``book_results/baselines.json``). Chapter 9b's recipe search is in ``book_results/search/``
(:func:`read_search`), kept out of the results folder's ``*.json`` because it is another format.

A results file is a JSON object::

    {"title": "The neuron and the Dense layer",      # required: the section title
     "chapter": "04_dense_layer",                    # optional: the notebook that wrote it
     "description": "One sentence.",                 # optional
     "date": "2026-11-25",                           # required: when it was written
     "rows": [                                       # required: one object per model
       {"model": "dense (128, 128)", "test_accuracy": 0.9724, "train_seconds": 12.9,
        "predict_seconds": 0.4, "notes": "...", "chapter": "04_dense_layer", "epochs": 10}],
     "machine": {"cpus": 2, ...}}                    # any other field is kept as it is

A row needs ``model`` (text), ``test_accuracy`` (a fraction in [0, 1]) and ``train_seconds``
(>= 0); ``predict_seconds`` (>= 0), ``notes`` (text) and ``chapter`` (a notebook name) are
optional; any other key (``epochs``, ``params``, ...) is kept as it is.

Only light modules are imported here: the website's build imports this one.
"""
from __future__ import annotations

import datetime
import importlib.resources
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .checks import check_real, check_text
from .config import fast_mode
from .timing import machine_info

RESULTS_ENV = "MNIST_RESULTS_DIR"
"""Environment variable naming the folder ``record_results`` writes to (``make execute`` sets it)."""

RESULTS_SUBFOLDER = "book_results"
"""The package's folder of results files (see :func:`results_folder`)."""

SEARCH_FILE = "search/cnn_search.json"
"""The recipe search's first round (2026-11-26), inside :func:`results_folder` (see :func:`read_search`);
chapter 9b reads the round that chose the recipe, ``search/choice.json``."""

ROW_FIELDS = ("model", "test_accuracy", "train_seconds", "predict_seconds", "notes", "chapter")
FILE_FIELDS = ("title", "chapter", "description", "date", "rows")

# File and notebook names: what a chapter is called ("04_dense_layer") and what it writes.
_NAME = re.compile(r"^[0-9a-z][0-9a-z_]*$")


class ResultsFormatError(ValueError):
    """Results that do not follow the format; the message names the file, the row and the bad value."""


@dataclass(frozen=True)
class Row:
    """One trained model, tested once on the 10,000 test images."""

    model: str
    test_accuracy: float
    train_seconds: float
    predict_seconds: float | None = None
    notes: str | None = None
    chapter: str | None = None
    extra: dict = field(default_factory=dict)
    """Every other key of the row (``epochs``, ``params``, ...), as written."""

    def to_dict(self) -> dict:
        """The row as in the file: the set fields, then the extra keys."""
        known = {key: getattr(self, key) for key in ROW_FIELDS if getattr(self, key) is not None}
        return {**known, **self.extra}


@dataclass(frozen=True)
class Results:
    """One results file."""

    title: str
    date: str
    rows: list[Row]
    chapter: str | None = None
    description: str | None = None
    extra: dict = field(default_factory=dict)
    """Every other field of the file (``machine``, ...), as written."""
    path: Path | None = None
    """Where it was read from (None for results not read from a file)."""

    @property
    def name(self) -> str | None:
        """The file name without ``.json``, e.g. ``"04_dense_layer"``."""
        return None if self.path is None else self.path.stem


# ------------------------------------------------------------------ checking

def _check(check, value, name: str, where: str, **bounds):
    """``check(value, name, **bounds)`` from ``checks``, its error re-raised naming ``where``."""
    try:
        return check(value, name, **bounds)
    except (TypeError, ValueError) as exc:
        raise ResultsFormatError(f"{where}: {exc}") from None


def _check_name(value, name: str, where: str) -> str:
    """A file or notebook name: lower-case letters, digits and underscores."""
    value = _check(check_text, value, name, where)
    if not _NAME.match(value):
        raise ResultsFormatError(f"{where}: {name}={value!r} must be a notebook name without folder or "
                                 "'.ipynb' (lower-case letters, digits, underscores), e.g. '04_dense_layer'")
    return value


def _parse_row(raw, where: str) -> Row:
    if not isinstance(raw, dict):
        raise ResultsFormatError(f"{where}: expected an object with model, test_accuracy and train_seconds, "
                                 f"got {type(raw).__name__} {raw!r:.50}")
    missing = [key for key in ROW_FIELDS[:3] if key not in raw]
    if missing:
        raise ResultsFormatError(f"{where}: missing {', '.join(missing)} (a row needs model, test_accuracy "
                                 "and train_seconds)")
    optional = {key: raw[key] for key in ROW_FIELDS[3:] if key in raw}
    return Row(
        model=_check(check_text, raw["model"], "model", where),
        test_accuracy=_check(check_real, raw["test_accuracy"], "test_accuracy", where, low=0.0, high=1.0,
                             hint=" (a fraction, not a percentage)"),
        train_seconds=_check(check_real, raw["train_seconds"], "train_seconds", where, low=0.0),
        predict_seconds=(_check(check_real, optional["predict_seconds"], "predict_seconds", where, low=0.0)
                         if "predict_seconds" in optional else None),
        notes=_check(check_text, optional["notes"], "notes", where) if "notes" in optional else None,
        chapter=_check_name(optional["chapter"], "chapter", where) if "chapter" in optional else None,
        extra={key: value for key, value in raw.items() if key not in ROW_FIELDS},
    )


def _parse_rows(raw_rows, source: str) -> list[Row]:
    if not isinstance(raw_rows, (list, tuple)) or not raw_rows:
        raise ResultsFormatError(f"{source}: rows must be a non-empty list of objects (one per model), "
                                 f"got {raw_rows!r:.50}")
    return [_parse_row(raw, f"{source}, row {i}") for i, raw in enumerate(raw_rows)]


def _parse(data, source: str, path: Path | None = None) -> Results:
    """Check a decoded results file; ``source`` names it in the messages."""
    if not isinstance(data, dict):
        raise ResultsFormatError(f"{source}: expected an object with title, date and rows, got {type(data).__name__}")
    missing = [key for key in ("title", "date", "rows") if key not in data]
    if missing:
        raise ResultsFormatError(f"{source}: missing {', '.join(missing)} (a results file needs title, date and rows)")
    date = _check(check_text, data["date"], "date", source)
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        raise ResultsFormatError(f"{source}: date={date!r} must be an ISO date like '2026-11-25'") from None
    return Results(
        title=_check(check_text, data["title"], "title", source),
        date=date,
        rows=_parse_rows(data["rows"], source),
        chapter=_check_name(data["chapter"], "chapter", source) if "chapter" in data else None,
        description=_check(check_text, data["description"], "description", source) if "description" in data else None,
        extra={key: value for key, value in data.items() if key not in FILE_FIELDS},
        path=path,
    )


# ------------------------------------------------------------------ the package's results

def results_folder() -> Path:
    """The folder of the book's results files: ``book_results/`` inside the installed package.

    Every chapter's results (``<chapter>.json``), the benchmarks' (``baselines.json``,
    ``cnn.json``) and, in ``search/``, chapter 9b's recipe search. ``make execute`` points
    ``MNIST_RESULTS_DIR`` here; the benchmark scripts write here by default; the website's
    results page and the chapters read from here.

    Returns
    -------
    Path
        The folder (in a clone of the repository with an editable install:
        ``mnist_helpers/book_results``).

    Raises
    ------
    FileNotFoundError
        The package was installed without its data (not from a file system, or the folder is missing).
    """
    folder = importlib.resources.files("mnist_helpers") / RESULTS_SUBFOLDER
    if not isinstance(folder, Path) or not folder.is_dir():
        raise FileNotFoundError(f"the results folder {folder} is not there: install mnist_helpers from its "
                                "repository (pip install .), which ships book_results/ as package data")
    return folder


def result_names() -> list[str]:
    """The names :func:`read_results` accepts: the package's results files without ``.json``, sorted.

    Returns
    -------
    list of str
        E.g. ``["03_standardization", ..., "baselines", "cnn"]``.
    """
    return sorted(path.stem for path in results_folder().glob("*.json"))


def _named_results_path(name: str) -> Path:
    """The package's ``book_results/<name>.json``; ValueError listing the available names if none."""
    path = results_folder() / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no results named {name!r} in the package: choose one of {', '.join(result_names())} "
                         "(or pass the path of a .json file)")
    return path


def read_search(path: str | os.PathLike | None = None) -> dict:
    """Chapter 9b's recipe search (``benchmarks/cnn_search.py``), decoded.

    Parameters
    ----------
    path : path, optional
        Another search file; by default the package's ``book_results/search/cnn_search.json``.

    Returns
    -------
    dict
        The file's object: ``description``, ``machine``, ``ablations`` and ``runs`` (one dict per
        run: recipe, seed, validation accuracy per epoch, training seconds, other CPU use).

    Raises
    ------
    ResultsFormatError
        Not JSON, or not an object with a list of ``runs``.
    FileNotFoundError
        No such file.
    """
    path = results_folder() / SEARCH_FILE if path is None else Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{path}: not valid JSON ({exc}): run benchmarks/cnn_search.py again") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ResultsFormatError(f"{path}: expected an object with a list of runs (written by "
                                 f"benchmarks/cnn_search.py), got {type(data).__name__} {data!r:.50}")
    return data


# ------------------------------------------------------------------ reading

def read_results(source: str | os.PathLike) -> Results:
    """Read and check one results file: a name of the package's results, or a path.

    Parameters
    ----------
    source : str or path
        A name like ``"baselines"`` or ``"09_final_cnn"`` (a ``str`` of lower-case letters, digits
        and underscores): the package's ``book_results/<name>.json`` (see :func:`result_names`).
        Anything else (a ``Path``, or text with a ``/`` or ``.json``) is the path of a ``.json``
        file in the results format (see the module's docstring).

    Returns
    -------
    Results
        Its title, date, rows (:class:`Row`), chapter, description and other fields (``extra``).

    Raises
    ------
    ValueError
        A name that is not one of the package's results (the message lists them).
    ResultsFormatError
        Not JSON, or not the format; the message names the file, the row and the bad value.
    FileNotFoundError
        No such file.
    TypeError
        ``source`` is neither text nor a path.
    """
    if isinstance(source, str) and _NAME.match(source):
        path = _named_results_path(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
    else:
        raise TypeError(f"source must be a results name like 'baselines' or a path, got {type(source).__name__}")
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError as exc:
        raise ResultsFormatError(f"{path}: not valid JSON ({exc}): fix the file or write it again") from None
    return _parse(data, str(path), path)


def read_results_folder(folder: str | os.PathLike | None = None) -> tuple[list[Results], list[str]]:
    """Read every ``*.json`` of ``folder``, sorted by name.

    Parameters
    ----------
    folder : path, optional
        By default the package's :func:`results_folder` (its ``search/`` is not read: another format).

    Returns
    -------
    results : list of Results
        The files that follow the format.
    problems : list of str
        One message per file that does not (or one for a missing folder): a caller that shows
        results must show these too, so that a model never silently drops out.
    """
    folder = results_folder() if folder is None else Path(folder)
    if not folder.is_dir():
        return [], [f"{folder}: no such folder of results files"]
    results, problems = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            results.append(read_results(path))
        except ResultsFormatError as exc:
            problems.append(str(exc))
    return results, problems


# ------------------------------------------------------------------ writing

def _plain(value):
    """NumPy scalars and arrays as JSON values (``json.dumps`` calls this for what it cannot write)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r:.50} cannot be written to JSON")


def _rounded(row: Row, raw: dict) -> dict:
    """``row`` as written: accuracy to 4 decimals, seconds to 0.1 s, keys in the caller's order."""
    values = {**row.to_dict(), "test_accuracy": round(row.test_accuracy, 4),
              "train_seconds": round(row.train_seconds, 1)}
    if row.predict_seconds is not None:
        values["predict_seconds"] = round(row.predict_seconds, 1)
    return {key: values[key] for key in raw}


def write_results(path: str | os.PathLike, rows: list[dict], *, title: str, chapter: str | None = None,
                  description: str | None = None, extra: dict | None = None) -> Path:
    """Check ``rows`` and write them, with today's date, to the results file ``path``.

    Parameters
    ----------
    path : path
        The ``.json`` file to write; its folder must exist.
    rows : list of dict
        One per model: ``model``, ``test_accuracy`` (a fraction, rounded to 4 decimals) and
        ``train_seconds`` (rounded to 0.1 s); optionally ``predict_seconds`` (rounded to 0.1 s),
        ``notes`` and ``chapter``; other keys are written as they are (NumPy values as numbers).
    title : str
        The section title on the results page.
    chapter : str, optional
        The notebook that made the results, without ``.ipynb``, e.g. ``"04_dense_layer"``.
    description : str, optional
        One sentence shown under the title.
    extra : dict, optional
        Other file-level fields (``machine``, published figures, the data used, ...).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ResultsFormatError
        Rows or fields that do not follow the format; nothing is written.
    FileNotFoundError
        The folder of ``path`` does not exist.
    """
    path = Path(path)
    extra = dict(extra or {})
    clashes = [key for key in FILE_FIELDS if key in extra]
    if clashes:
        raise ResultsFormatError(f"{path}: extra={{{', '.join(map(repr, clashes))}: ...}} are fields of the "
                                 "format: pass them as arguments (the date is set when writing)")
    data = {"title": title, **({"chapter": chapter} if chapter is not None else {}),
            **({"description": description} if description is not None else {}),
            "date": datetime.date.today().isoformat(), "rows": rows, **extra}
    results = _parse(data, str(path))
    rounded = [_rounded(row, raw) for row, raw in zip(results.rows, rows)]
    if not path.parent.is_dir():
        raise FileNotFoundError(f"results folder {path.parent} does not exist: create it or write elsewhere")
    try:
        text = json.dumps({**data, "rows": rounded}, indent=2, default=_plain, allow_nan=False)
    except (TypeError, ValueError) as exc:  # an extra value that JSON cannot hold (an object, NaN)
        raise ResultsFormatError(f"{path}: {exc}: give plain numbers, text, lists or dicts") from None
    path.write_text(text + "\n", encoding="utf8")
    return path


def record_results(name: str, rows: list[dict], *, title: str, chapter: str, description: str | None = None,
                   folder: str | os.PathLike | None = None) -> Path | None:
    """Write a chapter's test results to ``<folder>/<name>.json``, in the full mode only.

    The fast mode (CI) writes nothing, so that the committed files always hold full-data figures.

    Parameters
    ----------
    name : str
        File name without ``.json``: lower-case letters, digits and underscores.
    rows : list of dict
        One per model, as in :func:`write_results`.
    title, chapter : str
        Section title on the results page; the notebook's name, e.g. ``"04_dense_layer"``.
    description : str, optional
        One sentence shown under the title.
    folder : path, optional
        Where to write; by default the folder named by the environment variable
        ``MNIST_RESULTS_DIR`` (``make execute`` sets it to the package's :func:`results_folder`).
        With neither, nothing is written (a line says so).

    Returns
    -------
    Path or None
        The written file; None when nothing was written.

    Raises
    ------
    ResultsFormatError
        Bad rows or fields, in both modes.
    FileNotFoundError
        The folder does not exist.
    """
    source = f"{name}.json" if isinstance(name, str) else "results"
    _check_name(name, "name", source)
    _parse_rows(rows, source)  # bad rows fail in the fast mode too, where nothing is written
    if fast_mode():
        print(f"fast mode: {name}.json not written (the committed file holds the full run's figures)")
        return None
    if folder is None and not os.environ.get(RESULTS_ENV, "").strip():
        print(f"results not recorded: set {RESULTS_ENV} (make execute does) or pass folder=")
        return None
    folder = Path(folder if folder is not None else os.environ[RESULTS_ENV].strip())
    path = write_results(folder / f"{name}.json", rows, title=title, chapter=chapter, description=description,
                         extra={"machine": machine_info()})
    # The committed notebooks show this short form; any other folder is shown in full.
    shown = (f"mnist_helpers/{RESULTS_SUBFOLDER}/{path.name}"
             if folder.parts[-2:] == ("mnist_helpers", RESULTS_SUBFOLDER) else path)
    print(f"wrote {len(rows)} result(s) to {shown}")
    return path


def seed_summary(accuracies) -> dict:
    """Mean, sample standard deviation (n - 1), min and max of one recipe's results over seeds.

    ``mnist_helpers.stats.summarize_accuracies`` as a plain dict for a results file, rounded.

    Parameters
    ----------
    accuracies : sequence of float, length >= 2
        One test (or validation) accuracy per seed.

    Returns
    -------
    dict with ``mean``, ``sd``, ``min``, ``max`` (rounded to 4 decimals) and ``n``.
    """
    from .stats import summarize_accuracies  # here: SciPy loads only when a summary is made

    summary = summarize_accuracies(list(accuracies))
    return {"mean": round(summary.mean, 4), "sd": round(summary.sd, 4), "min": round(summary.min, 4),
            "max": round(summary.max, 4), "n": summary.k}
