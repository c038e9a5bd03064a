"""Kaggle's CSV format, read and written: ``train.csv``/``test.csv`` and the ``ImageId,Label`` submission.

``train.csv`` has a ``label`` column then ``pixel0`` ... ``pixel783`` (0-255, row by row);
``test.csv`` the pixels alone. :func:`load_kaggle_csv` reads either, checked cell by cell where it
must be; :func:`write_submission` writes a checked submission; :func:`write_kaggle_csv` and
:func:`make_standin` write files in the same format (the stand-in built from MNIST when Kaggle's
own files are not at hand).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

from ..checks import check_integer, check_labels
from ..data import DataFormatError

if TYPE_CHECKING:
    import pandas as pd

PathLike = Union[str, os.PathLike]

TRAIN_ROWS = 42_000
"""Images in Kaggle's train.csv (with labels)."""
TEST_ROWS = 28_000
"""Images in Kaggle's test.csv (without labels): the rows a submission must have."""
KAGGLE_PIXELS = [f"pixel{i}" for i in range(28 * 28)]
"""The pixel columns' names, in order."""

def load_kaggle_csv(path: PathLike) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Read Kaggle's Digit Recognizer ``train.csv`` or ``test.csv``.

    The columns are checked from the header line first. Then one fast pass parses every cell
    straight to uint8 (pandas' C parser: the time of ``pd.read_csv(path, dtype=np.uint8)``, in
    less memory); it fails on anything that is not a whole number in 0..255. Only then does a
    slower pass, in chunks of ``_SLOW_PASS_ROWS`` rows, find the first bad cell to name it.

    Parameters
    ----------
    path : str or path-like
        ``train.csv`` has columns ``label, pixel0 .. pixel783``; ``test.csv`` only the pixels.

    Returns
    -------
    x : ndarray of uint8, shape (n, 28, 28)
    y : ndarray of uint8, shape (n,), or None for a file without a ``label`` column

    Raises
    ------
    FileNotFoundError
        No such file (or a folder).
    DataFormatError
        Not a text file, other columns, a row with too many values, a cell that is not a
        whole number, a pixel outside 0..255 or a label outside 0..9: the message names the
        file, the row (its line number in the file, the header being line 1) and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
    columns = _kaggle_header(path)
    has_label = columns[0] == "label"
    try:
        values = _read_uint8_cells(path, columns)
    except (ValueError, OverflowError):  # a cell that is not 0..255, or a malformed row
        values = _read_cells_checked(path, columns)
    _check_kaggle_values(path, values, first_row=2, has_label=has_label)
    x = (values[:, 1:] if has_label else values).reshape(-1, 28, 28)
    return x, (values[:, 0].copy() if has_label else None)


_FAST_PASS_ROWS = 5000
"""Rows per chunk of the fast pass (~4 MB of pixels each)."""
_SLOW_PASS_ROWS = 2000
"""Rows per chunk of the checking pass: its text cells cost ~50 bytes each (~80 MB a chunk)."""


def _kaggle_header(path: Path) -> list[str]:
    """The column names from the first line, checked against Kaggle's format before any parsing."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:  # -sig: a BOM is not part of "label"
            header = file.readline(100_000)  # Kaggle's header is ~7,000 characters
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: not a text CSV file (not UTF-8); pass Kaggle's train.csv or test.csv") from None
    columns = [name.strip().strip('"') for name in header.rstrip("\r\n").split(",")]
    has_label = bool(columns) and columns[0] == "label"
    expected = (["label"] if has_label else []) + KAGGLE_PIXELS
    if columns != expected:
        missing = [c for c in expected if c not in columns]
        extra = [c for c in columns if c not in expected]
        raise DataFormatError(
            f"{path}: columns do not match Kaggle's format (label, pixel0..pixel783 for train.csv; "
            f"pixel0..pixel783 for test.csv): missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {extra[:5]}{'...' if len(extra) > 5 else ''}"
            + ("" if missing or extra else ", or out of order"))
    return columns


def _read_uint8_cells(path: Path, columns: list[str]) -> np.ndarray:
    """Every cell parsed straight to uint8: shape (n, n_columns).

    pandas refuses (ValueError) a value outside 0..255, a fraction, text or an empty cell
    rather than wrapping it, so a file that parses is a file of valid pixels. ``na_filter=False``
    skips the search for "NA"-like strings, which Kaggle's files never contain. In chunks of
    ``_FAST_PASS_ROWS`` rows: the tokenizer's buffers then stay small (train.csv's peak falls
    from ~270 MB above the imports to ~75 MB) at no cost in time.
    """
    import pandas as pd  # here: `python -m mnist_helpers.kaggle --help` needs none of it
    reader = pd.read_csv(path, dtype=np.uint8, engine="c", na_filter=False, chunksize=_FAST_PASS_ROWS)
    chunks = [frame.to_numpy() for frame in reader]
    return np.concatenate(chunks) if chunks else np.empty((0, len(columns)), np.uint8)


def _read_cells_checked(path: Path, columns: list[str]) -> np.ndarray:
    """The slow pass: cells as text, chunk by chunk; raise on the first bad cell, else return uint8.

    Reached only when the fast pass failed. Values it accepts and the fast pass does not
    (none are known) are returned all the same, so the loader never rejects a valid file.
    """
    import pandas as pd  # here: `python -m mnist_helpers.kaggle --help` needs none of it
    chunks, first_row = [], 2  # row numbers are line numbers: the header is line 1
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, engine="c", chunksize=_SLOW_PASS_ROWS)
        for text in reader:
            numbers = _whole_numbers(path, text, columns, first_row)
            _check_kaggle_values(path, numbers, first_row, has_label=columns[0] == "label", text=text)
            chunks.append(numbers.astype(np.uint8))
            first_row += len(text)
    except pd.errors.ParserError as exc:  # a row with more values than the header has columns
        raise DataFormatError(f"{path}: {_parser_problem(exc)}") from None
    return np.concatenate(chunks) if chunks else np.empty((0, len(columns)), np.uint8)


def _whole_numbers(path: Path, text: pd.DataFrame, columns: list[str], first_row: int) -> np.ndarray:
    """Text cells -> float64 of shape (rows, n_columns); raise on the first that is not a whole number."""
    import pandas as pd  # here: `python -m mnist_helpers.kaggle --help` needs none of it
    numbers = text.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers) | (numbers != np.round(numbers))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataFormatError(f"{path}: row {first_row + row}, column {columns[col]}: "
                              f"{text.iat[row, col]!r} is not a whole number")
    return numbers


def _parser_problem(exc: Exception) -> str:
    """pandas' "Expected 785 fields in line 9, saw 786" as this module words it."""
    import re  # here: only a malformed file gets this far

    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found:
        expected, line, saw = found.groups()
        return f"row {line}: {saw} values, but the header has {expected} columns"
    return f"not a valid CSV file ({str(exc).strip().splitlines()[0]})"


def _check_kaggle_values(path: Path, values: np.ndarray, first_row: int, has_label: bool,
                         text: Optional[pd.DataFrame] = None) -> None:
    """Raise on the first pixel outside 0..255 or label outside 0..9.

    ``values`` has shape (rows, n_columns); ``text``, the same cells as written, is what a
    message shows when given (float64 would print 26 nines as 10000000000000000905969664).
    """
    def shown(row: int, col: int) -> str:
        return str(text.iat[row, col]).strip() if text is not None else str(values[row, col])

    offset = 1 if has_label else 0
    if values.dtype != np.uint8:  # uint8 cells are 0..255 by construction: skip two full passes
        pixels = values[:, offset:]
        out = (pixels < 0) | (pixels > 255)
        if out.any():
            row, col = np.argwhere(out)[0]
            raise DataFormatError(f"{path}: row {first_row + row}, column pixel{col}: "
                                  f"value {shown(row, col + offset)} is outside 0..255")
    if has_label:
        wrong = (values[:, 0] < 0) | (values[:, 0] > 9)
        if wrong.any():
            row = int(np.argmax(wrong))
            raise DataFormatError(f"{path}: row {first_row + row}: label {shown(row, 0)} is outside 0..9")


def write_submission(path: PathLike, labels: np.ndarray, expected_rows: int) -> pd.DataFrame:
    """Write a Kaggle submission CSV with columns ``ImageId,Label`` (ImageId from 1).

    Parameters
    ----------
    path : str or path-like
        The CSV to write.
    labels : array-like of int, shape (n,)
        Predicted digits, in the order of the test images.
    expected_rows : int
        How many test images there are (28000 for Kaggle's test.csv, 10000 for MNIST's);
        a different number of labels raises ``ValueError`` before anything is written.

    Returns
    -------
    DataFrame of shape (n, 2)
        What was written.

    Raises
    ------
    ValueError, TypeError
        Labels that are not one digit per test image (nothing is written).
    OSError
        The file cannot be written (missing folder, a folder of that name, no permission):
        one line naming the path and the fix.
    """
    import pandas as pd  # here: `python -m mnist_helpers.kaggle --help` needs none of it
    labels = check_labels(np.asarray(labels), "labels")  # digits 0..9, one per test image
    if len(labels) != expected_rows:
        raise ValueError(f"{path}: submission needs {expected_rows} rows (one per test image), "
                         f"got {len(labels)} labels")
    frame = pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "Label": labels.astype(int)})
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:  # pandas' own wording differs by cause and has no fix in it
        raise type(exc)(f"{path}: cannot write the submission ({_os_problem(exc)}); "
                        "write it to an existing folder you can write to") from None
    return frame


def _os_problem(exc: OSError) -> str:
    """``[Errno 13] Permission denied: 'x'`` -> ``permission denied``; pandas' own messages as they are."""
    text = (exc.strerror or str(exc)).rstrip(".")
    return text[:1].lower() + text[1:]


_PIXEL_TEXT = [str(value) for value in range(256)]  # lookup beats str() on 33 million cells


def write_kaggle_csv(path: PathLike, images: np.ndarray, labels: Optional[np.ndarray] = None) -> Path:
    """Write images (and labels) as Kaggle does: ``label,pixel0..pixel783`` or ``pixel0..pixel783``.

    Parameters
    ----------
    path : str or path-like
    images : ndarray of uint8, shape (n, 28, 28)
    labels : ndarray of int, shape (n,), optional
        Digits 0..9: a ``train.csv`` with them, a ``test.csv`` without.

    Returns
    -------
    Path
        ``path``.
    """
    from ..preprocessing import check_images

    rows = check_images(images, "images").reshape(len(images), -1)
    header = KAGGLE_PIXELS
    if labels is not None:
        labels = check_labels(labels, "labels", n=len(images))
        rows, header = np.column_stack([labels.astype(np.uint8), rows]), ["label", *KAGGLE_PIXELS]
    path = Path(path)
    with open(path, "w", newline="\n") as file:
        file.write(",".join(header) + "\n")
        for start in range(0, len(rows), 5_000):  # in blocks: all 42,000 lines at once are ~80 MB of text
            block = rows[start:start + 5_000].tolist()
            file.write("".join(",".join(map(_PIXEL_TEXT.__getitem__, row)) + "\n" for row in block))
    return path


@dataclass(frozen=True)
class Standin:
    """A stand-in for Kaggle's files made from MNIST, and the truth about it.

    Attributes
    ----------
    train_csv, test_csv : Path
    test_labels : ndarray of uint8, shape (n_test,)
        The labels Kaggle keeps secret: score a submission with them.
    train_source, test_source : ndarray of int64, shapes (n_train,), (n_test,)
        Where each row came from, as an index into MNIST's 70,000 images in the order
        training set then test set (0..59,999 training, 60,000..69,999 test).
    """

    train_csv: Path
    test_csv: Path
    test_labels: np.ndarray
    train_source: np.ndarray
    test_source: np.ndarray


def make_standin(folder: PathLike, seed: int = 0, *, n_train: int = TRAIN_ROWS, n_test: int = TEST_ROWS,
                 mnist=None) -> Standin:
    """Write ``train.csv`` and ``test.csv`` in Kaggle's format, drawn from MNIST's 70,000 images.

    Shaped like Kaggle's files: MNIST's 70,000 images shuffled, 42,000 with their labels in train.csv,
    the next 28,000 without in test.csv; no image in both.

    Parameters
    ----------
    folder : str or path-like
        Created if missing; ``train.csv`` and ``test.csv`` in it are overwritten.
    seed : int
        Seed of the shuffle: the same seed gives the same files.
    n_train, n_test : int
        Rows of each file; fewer make quick tests. ``n_train + n_test <= 70,000``.
    mnist : ``((x_train, y_train), (x_test, y_test))``, optional
        As ``mh.load_mnist()`` returns it (loaded when None).

    Returns
    -------
    Standin
        The two paths, test.csv's labels and where every row came from.
    """
    seed = check_integer(seed, "seed", low=0)
    n_train = check_integer(n_train, "n_train", low=1)
    n_test = check_integer(n_test, "n_test", low=1)
    if mnist is None:
        from ..data import load_mnist

        mnist = load_mnist()
    (x_train, y_train), (x_test, y_test) = mnist
    x_all, y_all = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    if n_train + n_test > len(x_all):
        raise ValueError(f"n_train + n_test = {n_train + n_test:,} is more than MNIST's {len(x_all):,} images")
    order = np.random.default_rng(seed).permutation(len(x_all))
    train_source, test_source = order[:n_train], order[n_train:n_train + n_test]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return Standin(train_csv=write_kaggle_csv(folder / "train.csv", x_all[train_source], y_all[train_source]),
                   test_csv=write_kaggle_csv(folder / "test.csv", x_all[test_source]),
                   test_labels=y_all[test_source], train_source=train_source, test_source=test_source)
