"""A submission's checks: the output can be written (before any training), and the written file is right."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

import numpy as np

from ..checks import check_integer

PathLike = Union[str, os.PathLike]

def check_output_path(path: PathLike) -> Path:
    """Make sure a file can be written at ``path`` now, before hours of training; return it.

    Raises
    ------
    FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError
        One line naming the path and the fix: a missing folder, a parent that is a file,
        a folder where the file should be, no permission to write there.
    """
    path = Path(path)
    folder = path.parent  # Path("submission.csv").parent is Path(".")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; name the file, e.g. --out {path / 'submission.csv'}")
    if not folder.exists():
        raise FileNotFoundError(f"{path}: folder {folder} does not exist; create it (mkdir -p {folder}) "
                                "or choose another --out")
    if not folder.is_dir():
        raise NotADirectoryError(f"{path}: {folder} is a file, not a folder; choose another --out")
    try:  # the honest test: permissions, read-only disks and ACLs all show up here
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise PermissionError(f"{path}: cannot write in folder {folder} ({exc.strerror or exc}); "
                              "choose another --out") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{path}: the file exists and is read-only; remove it or choose another --out")
    return path


def validate_submission(path: PathLike, n_rows: int):
    """Read a submission back and check it as Kaggle will: ``ImageId,Label``, ids 1..n_rows, digits.

    Parameters
    ----------
    path : str or path-like
    n_rows : int
        Test images predicted: 28,000 for Kaggle's test.csv.

    Returns
    -------
    DataFrame of shape (n_rows, 2)
        Integer columns ``ImageId`` and ``Label``.

    Raises
    ------
    FileNotFoundError
        No such file.
    DataFormatError
        Not a CSV, other columns, another number of rows, an ImageId out of sequence or a
        label that is not a digit 0..9; the message names the row (line of the file).
    """
    import pandas as pd

    from ..data import DataFormatError

    n_rows = check_integer(n_rows, "n_rows", low=1)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:  # as text, so a message shows a bad cell as it was written
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a submission CSV ({str(exc).strip().splitlines()[0]}); "
                              "write it with mh.write_submission") from None
    if list(frame.columns) != ["ImageId", "Label"]:
        raise DataFormatError(f"{path}: columns are {','.join(map(str, frame.columns))}; Kaggle expects ImageId,Label")
    if len(frame) != n_rows:
        raise DataFormatError(f"{path}: {len(frame):,} rows, Kaggle expects {n_rows:,} (one per test image)")
    expected_ids = np.arange(1, n_rows + 1)
    wrong_id = frame["ImageId"].to_numpy(dtype=str) != expected_ids.astype(str)
    if wrong_id.any():
        row = int(np.argmax(wrong_id))
        raise DataFormatError(f"{path}: row {row + 2}: ImageId {frame['ImageId'].iat[row]!r}, expected {row + 1} "
                              "(ImageId counts from 1 in test.csv's order)")
    not_digit = ~frame["Label"].isin([str(digit) for digit in range(10)]).to_numpy()
    if not_digit.any():
        row = int(np.argmax(not_digit))
        raise DataFormatError(f"{path}: row {row + 2}: Label {frame['Label'].iat[row]!r} is not a digit 0..9")
    return pd.DataFrame({"ImageId": expected_ids, "Label": frame["Label"].astype(int).to_numpy()})
