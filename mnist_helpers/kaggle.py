"""Kaggle's Digit Recognizer: an honest submission from ``train.csv`` alone, and the MNIST leak measured.

Kaggle's ``train.csv`` (42,000 labelled images) and ``test.csv`` (28,000 unlabelled) come from
MNIST's 70,000 images. A model trained on MNIST's 60,000 training images has seen, with their
labels, every test image that is one of them: its leaderboard score is inflated by as many.
:func:`overlap_with_mnist` counts them, by exact pixel match, rather than assuming a number.

Command line (``--help`` for every option)::

    python -m mnist_helpers.kaggle train.csv test.csv --out submission.csv

trains the book's final CNN on ``train.csv`` only, checks it on a held-out validation split and
writes a checked submission. ``--model``/``--shipped-model`` predict with a saved model instead,
with a warning that says how many test images it may have seen. Bad input (a missing file, wrong
columns, the two files swapped, a bad pixel, an output folder that cannot be written) ends with
one line ``error: ...`` on stderr and exit code 1, checked before any training; usage errors exit
with 2 (argparse). TensorFlow is imported only to train or load a model, so ``--help`` is quick.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .checks import check_integer, check_labels
from .recipes import FINAL_EPOCHS

PathLike = Union[str, os.PathLike]

COMPETITION = "digit-recognizer"
"""The competition's name in Kaggle's URLs and in its command-line tool."""
TRAIN_ROWS = 42_000
"""Images in Kaggle's train.csv (with labels)."""
TEST_ROWS = 28_000
"""Images in Kaggle's test.csv (without labels): the rows a submission must have."""
VAL_FRACTION = 0.1
"""Default share of train.csv held out for validation: 4,200 of Kaggle's 42,000 images."""
SPLIT_SEED = 0
"""Seed of the validation split: the same split whatever ``--seeds`` says."""
FAST_IMAGES, FAST_EPOCHS = 6_000, 3
"""What ``--fast`` trains on: a stratified 6,000 of train.csv, for 3 epochs (fewer steps leave batch
normalization's moving averages too far from the data for a useful model)."""
PREDICT_BATCH = 1024
"""Images per prediction batch: fewer calls than Keras' default of 32, so less per-batch overhead."""

DOWNLOAD_COMMAND = f"kaggle competitions download -c {COMPETITION}"
SUBMIT_COMMAND = (f"kaggle competitions submit -c {COMPETITION} -f submission.csv "
                  '-m "final CNN trained on train.csv only"')


# --------------------------------------------------------------------------- the MNIST leak

def image_hashes(images: np.ndarray) -> np.ndarray:
    """A 64-bit BLAKE2b hash of each image's 784 bytes.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 28, 28)

    Returns
    -------
    ndarray of uint64, shape (n,)
        Equal images have equal hashes; two different images share one with probability
        2**-64 (and :func:`overlap_with_mnist` compares the pixels of every match anyway).
    """
    from .preprocessing import check_images

    rows = np.ascontiguousarray(check_images(images, "images")).reshape(len(images), -1)
    digests = b"".join(hashlib.blake2b(row, digest_size=8).digest() for row in rows)  # ~0.1 s for 70,000
    return np.frombuffer(digests, dtype=np.uint64)


def find_identical(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each image, the index of an identical image in ``reference``, or -1.

    Hashes turn 28,000 x 70,000 comparisons of 784 bytes into one sort and one binary search;
    the pixels of every hash match are then compared, so a match is an exact pixel match.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 28, 28)
    reference : ndarray of uint8, shape (m, 28, 28)

    Returns
    -------
    ndarray of int64, shape (n,)
        ``reference[index[i]]`` equals ``images[i]`` pixel for pixel where ``index[i] >= 0``.
        When ``reference`` holds the same image twice, either index may be returned.
    """
    hashes, reference_hashes = image_hashes(images), image_hashes(reference)
    index = np.full(len(images), -1, dtype=np.int64)
    if len(reference) == 0 or len(images) == 0:
        return index
    order = np.argsort(reference_hashes, kind="stable")
    position = np.minimum(np.searchsorted(reference_hashes[order], hashes), len(order) - 1)
    candidate = order[position]
    hit = np.flatnonzero(reference_hashes[candidate] == hashes)
    same = (images[hit] == reference[candidate[hit]]).all(axis=(1, 2))
    index[hit[same]] = candidate[hit[same]]
    return index


@dataclass(frozen=True)
class Overlap:
    """Which images are exact copies of MNIST images: the result of :func:`overlap_with_mnist`.

    Attributes
    ----------
    mnist_train_index, mnist_test_index : ndarray of int64, shape (n,)
        For each image, the index of an identical image in MNIST's training (test) set, or -1.
    """

    mnist_train_index: np.ndarray
    mnist_test_index: np.ndarray

    @property
    def n_images(self) -> int:
        return len(self.mnist_train_index)

    @property
    def in_train(self) -> np.ndarray:
        """Indices (shape (k,)) of the images found in MNIST's training set."""
        return np.flatnonzero(self.mnist_train_index >= 0)

    @property
    def in_test(self) -> np.ndarray:
        """Indices of the images found in MNIST's test set."""
        return np.flatnonzero(self.mnist_test_index >= 0)

    @property
    def in_neither(self) -> np.ndarray:
        """Indices of the images found in neither."""
        return np.flatnonzero((self.mnist_train_index < 0) & (self.mnist_test_index < 0))

    def counts(self) -> dict[str, int]:
        """``{"images", "in_mnist_train", "in_mnist_test", "in_neither"}``; an image found in both
        MNIST sets (none is: MNIST's 70,000 images are all different) would count in both."""
        return {"images": self.n_images, "in_mnist_train": len(self.in_train),
                "in_mnist_test": len(self.in_test), "in_neither": len(self.in_neither)}

    def summary(self) -> str:
        """One line, e.g. ``"of 28,000 images, 24,000 (85.7%) are in MNIST's training set, ..."``."""
        def share(count: int) -> str:
            return f"{count:,} ({count / max(self.n_images, 1):.1%})"

        counts = self.counts()
        return (f"of {self.n_images:,} images, {share(counts['in_mnist_train'])} are in MNIST's training set, "
                f"{share(counts['in_mnist_test'])} in its test set, {share(counts['in_neither'])} in neither")


def overlap_with_mnist(images: np.ndarray, mnist=None) -> Overlap:
    """Count the exact pixel copies of MNIST training and test images among ``images``.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 28, 28)
        E.g. Kaggle's test images as ``mh.load_kaggle_csv("test.csv")`` returns them.
    mnist : ``((x_train, y_train), (x_test, y_test))``, optional
        As ``mh.load_mnist()`` returns it (the default, loaded when None).

    Returns
    -------
    Overlap
        Per image, the index of its copy in each MNIST set; ``.counts()`` and ``.summary()``.

    Raises
    ------
    MnistNotFoundError, DataFormatError
        ``mnist`` is None and MNIST cannot be loaded (see ``mh.load_mnist``).
    """
    from .preprocessing import check_images

    check_images(images, "images")
    if mnist is None:
        from .data import load_mnist

        mnist = load_mnist()
    (x_train, _), (x_test, _) = mnist
    return Overlap(mnist_train_index=find_identical(images, check_images(x_train, "MNIST's x_train")),
                   mnist_test_index=find_identical(images, check_images(x_test, "MNIST's x_test")))


# --------------------------------------------------------------------------- CSVs in Kaggle's format

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
    from .data import KAGGLE_PIXELS
    from .preprocessing import check_images

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
        from .data import load_mnist

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


# --------------------------------------------------------------------------- the submission

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

    from .data import DataFormatError

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


# --------------------------------------------------------------------------- training and prediction

@dataclass(frozen=True)
class TrainingPlan:
    """What the command trains on: ``n_images`` of train.csv, ``val_size`` of them held out.

    ``epochs`` is None for the book's ``FINAL_EPOCHS`` (``mnist_helpers.recipes``).
    """

    n_images: int
    val_size: int
    epochs: Optional[int]


def training_plan(n_available: int, *, fast: bool = False, epochs: Optional[int] = None,
                  val_size: Optional[int] = None) -> TrainingPlan:
    """Resolve the command's defaults: ``--fast`` and 10% validation, unless given.

    Parameters
    ----------
    n_available : int
        Rows of train.csv.
    fast : bool
        Train on ``FAST_IMAGES`` images for ``FAST_EPOCHS`` epochs (each unless given).
    epochs, val_size : int, optional
        As given on the command line; ``val_size=0`` trains on everything, without validation.

    Raises
    ------
    ValueError
        A validation split that cannot be stratified (fewer than 10 images on either side).
    """
    n_images = min(FAST_IMAGES, n_available) if fast else n_available
    if epochs is None and fast:
        epochs = FAST_EPOCHS
    val_size = val_size if val_size is not None else round(VAL_FRACTION * n_images)
    if val_size and not 10 <= val_size <= n_images - 10:
        raise ValueError(f"--val-size {val_size:,} does not fit {n_images:,} training images: a stratified split "
                         f"needs 10..{max(n_images - 10, 10):,} (one image per digit on each side), or 0 for none")
    if epochs is not None:
        check_integer(epochs, "epochs", low=1)
    return TrainingPlan(n_images=n_images, val_size=val_size, epochs=epochs)


def predict_probabilities(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities of shape (n, 10) for uint8 images of shape (n, 28, 28)."""
    return np.asarray(model.predict(images, batch_size=PREDICT_BATCH, verbose=0))


def train_ensemble(x_train: np.ndarray, y_train: np.ndarray, x_predict: np.ndarray, *, seeds: int = 1,
                   epochs: Optional[int] = None, validation_data=None) -> np.ndarray:
    """Train ``seeds`` final CNNs (seeds 0, 1, ...) and average their probabilities on ``x_predict``.

    Each model is the book's final recipe (``mh.cnn.train_final_cnn`` with its batch size and
    learning rate), printing one line per epoch and its validation accuracy.

    Parameters
    ----------
    x_train : ndarray of uint8, shape (n, 28, 28)
    y_train : ndarray of int, shape (n,)
    x_predict : ndarray of uint8, shape (m, 28, 28)
    seeds : int
        Models in the ensemble.
    epochs : int, optional
        Default ``FINAL_EPOCHS`` (``mnist_helpers.recipes``).
    validation_data : (x_val, y_val), optional

    Returns
    -------
    ndarray of float32, shape (m, 10)
        Mean probabilities of the models.
    """
    from . import cnn

    seeds = check_integer(seeds, "seeds", low=1)
    epochs = FINAL_EPOCHS if epochs is None else epochs
    print(f"{seeds} model(s) of {epochs} epoch(s) each: batch {cnn.FINAL_BATCH_SIZE}, "
          f"max learning rate {cnn.FINAL_MAX_LR:g}, warm-up + cosine schedule")
    total, val_total = np.zeros((len(x_predict), 10), np.float32), None
    for seed in range(seeds):
        print(f"model {seed + 1} of {seeds} (seed {seed}):")
        model, _, seconds = cnn.train_final_cnn(x_train, y_train, validation_data, epochs=epochs, seed=seed,
                                                log_every=1)
        total += predict_probabilities(model, x_predict)
        if validation_data is not None:
            x_val, y_val = validation_data
            probabilities = predict_probabilities(model, x_val)
            val_total = probabilities if val_total is None else val_total + probabilities
            print(f"model {seed + 1}: validation accuracy {_accuracy(probabilities, y_val):.4f}, "
                  f"trained in {seconds:.0f} s")
    if validation_data is not None and seeds > 1:
        print(f"ensemble of {seeds}: validation accuracy {_accuracy(val_total, validation_data[1]):.4f}")
    return total / seeds


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


# --------------------------------------------------------------------------- command line

class InputError(ValueError):
    """Input the command cannot use (e.g. train.csv and test.csv swapped); the message says why."""


def _parser() -> argparse.ArgumentParser:
    description = f"""\
Train the book's final CNN on Kaggle's train.csv only and write a checked submission for
test.csv (Kaggle's Digit Recognizer): {TEST_ROWS:,} rows 'ImageId,Label', ImageId from 1.

A validation split of train.csv (default 10%: 4,200 of 42,000 images, stratified, seed
{SPLIT_SEED}) is held out and its accuracy printed. One line per epoch, then the total time. The
book's full recipe trains for {FINAL_EPOCHS} epochs: try --fast first.

example:
  python -m mnist_helpers.kaggle train.csv test.csv --out submission.csv
  python -m mnist_helpers.kaggle train.csv test.csv --fast         # a quick try
  python -m mnist_helpers.kaggle test.csv --shipped-model          # no training, leaked score

the MNIST leak: Kaggle's 70,000 images come from MNIST. A model trained on MNIST (like the
one shipped with this package) has seen, with their labels, every test.csv image that is an
MNIST training image, so its leaderboard score is inflated. This command never mixes MNIST
into training; with --model or --shipped-model it measures that overlap and warns.

get the data and submit (Kaggle's own command-line tool, pip install kaggle; shown, not run):
  {DOWNLOAD_COMMAND}
  unzip {COMPETITION}.zip
  {SUBMIT_COMMAND}
"""
    parser = argparse.ArgumentParser(
        prog="python -m mnist_helpers.kaggle", formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s train.csv test.csv [--out FILE] [--val-size N] [--seeds N] [--epochs N] [--fast]\n"
              "       %(prog)s test.csv (--model FILE | --shipped-model) [--out FILE]",
        description=description,
        epilog="Exit code: 0 submission written and checked, 1 unusable input or output, 2 usage error.")
    parser.add_argument("files", nargs="+", metavar="CSV",
                        help="train.csv then test.csv; test.csv alone with --model or --shipped-model")
    parser.add_argument("--out", default="submission.csv", metavar="FILE",
                        help="the submission to write (default: submission.csv)")
    parser.add_argument("--val-size", type=_count(0), default=None, metavar="N",
                        help="images of train.csv held out for validation (default: 10%%); 0 trains on all")
    parser.add_argument("--seeds", type=_count(1), default=None, metavar="N",
                        help="train N models (seeds 0..N-1) and average their probabilities (default: 1)")
    parser.add_argument("--epochs", type=_count(1), default=None, metavar="N",
                        help=f"epochs per model (default: the book's {FINAL_EPOCHS}; {FAST_EPOCHS} with --fast)")
    parser.add_argument("--fast", action="store_true",
                        help=f"try it quickly: {FAST_IMAGES:,} images of train.csv, {FAST_EPOCHS} epochs")
    pretrained = parser.add_mutually_exclusive_group()
    pretrained.add_argument("--model", metavar="FILE",
                            help="predict with this .keras model instead of training (warns about the leak)")
    pretrained.add_argument("--shipped-model", action="store_true",
                            help="predict with the package's model, trained on MNIST (warns about the leak)")
    return parser


def _count(low: int):
    """An argparse type: a whole number >= low (argparse names the option in its message)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {low}")
        return value
    return parse


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse combinations argparse cannot express (exit 2 with the usage)."""
    pretrained = args.model is not None or args.shipped_model
    if len(args.files) > 2:
        parser.error(f"expected train.csv and test.csv, got {len(args.files)} files")
    if not pretrained and len(args.files) != 2:
        parser.error("expected train.csv and test.csv (or test.csv with --model FILE or --shipped-model)")
    training_options = [name for name, value in (("--val-size", args.val_size), ("--seeds", args.seeds),
                                                 ("--epochs", args.epochs), ("--fast", args.fast or None))
                        if value is not None]
    if pretrained and training_options:
        parser.error(f"{', '.join(training_options)}: options for training, but --model/--shipped-model "
                     "predicts without training")


def _first_column(path: Path) -> str:
    """The first name in the header: enough to tell train.csv (``label``) from test.csv."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
    with open(path, encoding="utf-8-sig", errors="replace") as file:
        return file.readline(100).split(",")[0].strip().strip('"')


def _check_roles(train: Optional[Path], test: Path) -> None:
    """Refuse train.csv and test.csv in each other's place, from their headers, before reading them."""
    train_has_label = train is None or _first_column(train) == "label"
    test_has_label = _first_column(test) == "label"
    if not train_has_label and test_has_label:
        raise InputError(f"{train} has no label column and {test} has one: the two files look swapped; "
                         "pass train.csv first, then test.csv")
    if not train_has_label:
        raise InputError(f"{train}: no label column, so it is not a train.csv (looks swapped with test.csv?); "
                         "the first file must be Kaggle's train.csv (label, pixel0..pixel783)")
    if test_has_label:
        where = "the second file" if train is not None else "the file"
        raise InputError(f"{test}: has a label column, so it is a train.csv (looks swapped?); "
                         f"{where} must be Kaggle's test.csv (pixel0..pixel783, no label)")


def _load(path: Path, role: str):
    """``mh.load_kaggle_csv`` with a check that the file holds any image."""
    from .data import load_kaggle_csv

    x, y = load_kaggle_csv(path)
    if len(x) == 0:
        raise InputError(f"{path}: no images, only the header; pass Kaggle's {role}")
    return x, y


def _split(x: np.ndarray, y: np.ndarray, plan: TrainingPlan):
    """``((x_train, y_train), validation_data or None)`` as the plan says, printing the sizes."""
    from .preprocessing import subsample, train_val_split

    if plan.n_images < len(x):
        x, y = subsample(x, y, plan.n_images, seed=SPLIT_SEED)
    if plan.val_size == 0:
        print(f"training on all {len(x):,} images, no validation split (--val-size 0)")
        return (x, y), None
    try:
        train, validation = train_val_split(x, y, val_size=plan.val_size, seed=SPLIT_SEED)
    except ValueError as exc:  # scikit-learn: a digit with a single image cannot be stratified
        raise InputError(f"cannot hold out a stratified validation split of {plan.val_size:,} images "
                         f"({str(exc).splitlines()[0]}); pass --val-size 0") from None
    print(f"training on {len(train[0]):,} images, validation split {len(validation[0]):,} images "
          f"(stratified, seed {SPLIT_SEED})")
    return train, validation


def leak_warning(test_images: np.ndarray, model_name: str, shipped: bool) -> str:
    """The one-line warning for a model that was (``shipped``) or may have been trained on MNIST.

    It gives the overlap measured by :func:`overlap_with_mnist`; when MNIST cannot be loaded,
    it warns all the same, without the number, and says why.
    """
    from .data import DataFormatError, MnistNotFoundError

    premise = f"{model_name} was trained on MNIST:" if shipped else f"if {model_name} was trained on MNIST,"
    consequence = ("so its leaderboard score is inflated, not a fair measure; "
                   "train on train.csv alone for an honest one")
    try:
        overlap = overlap_with_mnist(test_images)
    except (MnistNotFoundError, DataFormatError, OSError) as exc:
        reason = ("MNIST was not found; set MNIST_DATA to a folder with its four files"
                  if isinstance(exc, MnistNotFoundError) else str(exc).strip().splitlines()[0])
        return (f"warning: {premise} it has seen, with their labels, the test images that are MNIST training "
                f"images, {consequence} (how many could not be measured: {reason})")
    counts = overlap.counts()
    return (f"warning: {premise} it has seen {counts['in_mnist_train']:,} of the {overlap.n_images:,} test images "
            f"({counts['in_mnist_train'] / max(overlap.n_images, 1):.1%}) with their labels, as exact copies of "
            f"MNIST training images ({counts['in_mnist_test']:,} more are MNIST test images, "
            f"{counts['in_neither']:,} are in neither), {consequence}")


def _load_pretrained(args: argparse.Namespace):
    """``(model, name)`` for ``--model FILE`` or ``--shipped-model``; ModelFileError if unusable."""
    from .predict import DEFAULT_MODEL, load_model

    model = load_model(None if args.shipped_model else args.model)
    return model, (f"the shipped model ({DEFAULT_MODEL.name})" if args.shipped_model else f"the model {args.model}")


def _write(out: Path, labels: np.ndarray, description: str) -> None:
    """Write the submission, read it back to check it, and show how to submit it."""
    from .data import write_submission

    write_submission(out, labels, expected_rows=len(labels))
    validate_submission(out, len(labels))
    print(f"wrote {out}: {len(labels):,} rows (ImageId 1..{len(labels):,}, labels 0-9), checked")
    print(f'submit it with: kaggle competitions submit -c {COMPETITION} -f {out} -m "{description}"')


def _fail(exc: BaseException) -> int:
    """Print ``error: <first line of the message>`` on stderr; return exit code 1."""
    lines = str(exc).strip().splitlines()
    print(f"error: {lines[0] if lines else type(exc).__name__}", file=sys.stderr)
    return 1


@dataclass
class _Job:
    """What the command has read and checked before any training or prediction."""

    out: Path
    test: Path
    x_test: np.ndarray
    model: object = None  # --model / --shipped-model
    model_name: str = ""
    train_data: Optional[tuple] = None  # (x_train, y_train) otherwise
    validation: Optional[tuple] = None
    epochs: Optional[int] = None


def _prepare(args: argparse.Namespace) -> _Job:
    """Check the output, the files' roles and contents, the split and the model; raise on any problem.

    Everything that can go wrong with the input happens here, before hours of training.
    """
    pretrained = args.model is not None or args.shipped_model
    paths = [Path(file) for file in args.files]
    train, test = (paths[0] if len(paths) == 2 else None), paths[-1]
    out = check_output_path(args.out)
    if pretrained and train is not None:
        print(f"note: {train} is not used: --model/--shipped-model predicts test.csv without training")
        train = None
    _check_roles(train, test)
    if pretrained:
        x_test, _ = _load(test, "test.csv")
        print(f"{test}: {len(x_test):,} images")
        model, name = _load_pretrained(args)
        return _Job(out=out, test=test, x_test=x_test, model=model, model_name=name)
    x, y = _load(train, "train.csv")
    print(f"{train}: {len(x):,} labelled images")
    x_test, _ = _load(test, "test.csv")
    print(f"{test}: {len(x_test):,} images")
    plan = training_plan(len(x), fast=args.fast, epochs=args.epochs, val_size=args.val_size)
    train_data, validation = _split(x, y, plan)
    return _Job(out=out, test=test, x_test=x_test, train_data=train_data, validation=validation, epochs=plan.epochs)


def _predict(job: _Job, args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """Probabilities (n_test, 10) from the given model or the trained ensemble, and a submission message."""
    if job.model is not None:
        print(leak_warning(job.x_test, job.model_name, shipped=args.shipped_model), file=sys.stderr)
        print(f"predicting the {len(job.x_test):,} images of {job.test} with {job.model_name}, no training")
        return (predict_probabilities(job.model, job.x_test),
                f"{job.model_name}, no training on train.csv: score inflated by the MNIST leak")

    (x_train, y_train), seeds, epochs = job.train_data, args.seeds or 1, job.epochs or FINAL_EPOCHS
    probabilities = train_ensemble(x_train, y_train, job.x_test, seeds=seeds, epochs=epochs,
                                   validation_data=job.validation)
    return probabilities, f"final CNN, {len(x_train):,} images of train.csv only, {seeds} seed(s), {epochs} epochs"


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        job = _prepare(args)
    except (OSError, ValueError) as exc:  # DataFormatError, ModelFileError, InputError are ValueErrors
        return _fail(exc)
    probabilities, description = _predict(job, args)
    try:
        _write(job.out, probabilities.argmax(axis=1), description)
    except (OSError, ValueError) as exc:  # the folder changed since the check, or the disk is full
        return _fail(exc)
    print(f"total time {time.perf_counter() - started:.0f} s")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line; returns the exit code (0 written and checked, 1 bad input or output, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_usage(parser, args)
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C during hours of training: a line, not a traceback
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
