"""Record a chapter's test results for the book's results page.

A chapter that trains models ends with ``mh.record_results(...)``: in the full mode it writes
``benchmarks/results/<name>.json``, which the website turns into its results table (see
``book/results.md`` for the format). The fast mode (CI) writes nothing, so the committed files
always hold full-data figures.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
from pathlib import Path

from .config import fast_mode

RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
"""Where the repository keeps the results files (``benchmarks/results`` beside the package)."""

_NAME = re.compile(r"^[0-9a-z][0-9a-z_]*$")


def _check_row(row, i: int) -> dict:
    where = f"rows[{i}]"
    if not isinstance(row, dict):
        raise TypeError(f"{where} must be a dict with model, test_accuracy and train_seconds, got {type(row).__name__}")
    missing = [key for key in ("model", "test_accuracy", "train_seconds") if key not in row]
    if missing:
        raise ValueError(f"{where} is missing {', '.join(missing)}")
    if not isinstance(row["model"], str) or not row["model"].strip():
        raise ValueError(f"{where}: model must be a non-empty string, got {row['model']!r}")
    out = {"model": row["model"].strip()}
    for key, low, high, digits in (("test_accuracy", 0.0, 1.0, 4), ("train_seconds", 0.0, math.inf, 1)):
        value = row[key]
        # NumPy scalars are numbers too; bools and strings are refused rather than coerced.
        if isinstance(value, bool) or not hasattr(value, "__float__") or isinstance(value, str):
            raise TypeError(f"{where}: {key}={value!r} is not a number")
        value = float(value)
        if math.isnan(value) or not low <= value <= high:
            hint = " (a fraction, not a percentage)" if key == "test_accuracy" else ""
            raise ValueError(f"{where}: {key}={value!r} is outside [{low}, {high}]{hint}")
        out[key] = round(value, digits)
    for key, value in row.items():
        if key not in out:
            out[key] = value.item() if hasattr(value, "item") else value  # NumPy scalars -> JSON numbers
    return out


def record_results(name: str, rows: list[dict], *, title: str, chapter: str, description: str | None = None,
                   folder: str | Path | None = None) -> Path | None:
    """Write a chapter's test results to ``<folder>/<name>.json`` (full mode only).

    Parameters
    ----------
    name : str
        File name without ``.json``: lower-case letters, digits and underscores.
    rows : list of dict
        One per model: ``model`` (text), ``test_accuracy`` (fraction in [0, 1], rounded to 4
        decimals) and ``train_seconds`` (>= 0, rounded to 0.1 s); other keys (``notes``,
        ``epochs``, ...) are kept as they are.
    title, chapter : str
        Section title on the results page; the notebook's name, e.g. ``"04_dense_layer"``.
    description : str, optional
        One sentence shown under the title.
    folder : path, optional
        Defaults to the repository's ``benchmarks/results``.

    Returns
    -------
    Path of the written file, or None in the fast mode (nothing is written).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name={name!r}: use lower-case letters, digits and underscores, e.g. '04_dense_layer'")
    if not isinstance(rows, (list, tuple)) or not rows:
        raise ValueError("rows must be a non-empty list of dicts (one per model)")
    checked = [_check_row(row, i) for i, row in enumerate(rows)]
    if fast_mode():
        print(f"fast mode: {name}.json not written (the committed file holds the full run's figures)")
        return None
    folder = RESULTS_DIR if folder is None else Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {folder} does not exist: run from a clone of the book's "
                                "repository or pass folder=")
    data = {"title": title, "chapter": chapter}
    if description:
        data["description"] = description
    data.update({
        "mode": "full",
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "processor": platform.machine(), "python": platform.python_version()},
        "rows": checked,
    })
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf8")
    print(f"wrote {len(checked)} result(s) to benchmarks/results/{path.name}" if folder == RESULTS_DIR
          else f"wrote {len(checked)} result(s) to {path}")
    return path
