"""``python -m mnist_helpers.kaggle``: a checked submission from train.csv alone, or from a saved model.

Bad input (a missing file, wrong columns, the two files swapped, a bad pixel, an output folder that
cannot be written) ends with one line ``error: ...`` on stderr and exit code 1, checked before any
training; usage errors exit with 2 (argparse). TensorFlow is imported only to train or to load a
``.keras`` model: ``--shipped-model`` runs the shipped model folded, in NumPy
(``mnist_helpers.inference``), and ``--help`` is quick.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .._cli import run_interruptible
from ..recipes import FINAL_EPOCHS
from .csv_format import TEST_ROWS
from .leak import leak_warning
from .submission import check_output_path, validate_submission
from .training import (
    FAST_EPOCHS,
    FAST_IMAGES,
    SPLIT_SEED,
    TrainingPlan,
    predict_probabilities,
    train_ensemble,
    training_plan,
)

COMPETITION = "digit-recognizer"
"""The competition's name in Kaggle's URLs and in its command-line tool."""
DOWNLOAD_COMMAND = f"kaggle competitions download -c {COMPETITION}"
SUBMIT_COMMAND = (f"kaggle competitions submit -c {COMPETITION} -f submission.csv "
                  '-m "final CNN trained on train.csv only"')

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
                            help="predict with this model instead of training: a .keras file (run by Keras) or a "
                                 "folded .npz (python -m mnist_helpers.inference, run in NumPy); warns about the leak")
    pretrained.add_argument("--shipped-model", action="store_true",
                            help="predict with the package's model, trained on MNIST, folded and run in NumPy "
                                 "(warns about the leak)")
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
    from .csv_format import load_kaggle_csv

    x, y = load_kaggle_csv(path)
    if len(x) == 0:
        raise InputError(f"{path}: no images, only the header; pass Kaggle's {role}")
    return x, y


def _split(x: np.ndarray, y: np.ndarray, plan: TrainingPlan):
    """``((x_train, y_train), validation_data or None)`` as the plan says, printing the sizes."""
    from ..preprocessing import subsample, train_val_split

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


def _load_pretrained(args: argparse.Namespace):
    """``(model, name)`` for ``--model FILE`` or ``--shipped-model``; ModelFileError if unusable.

    The shipped model runs folded, in NumPy: no TensorFlow start-up for a prediction.
    """
    from ..inference import DEFAULT_MODEL, load_any, load_shipped

    if args.shipped_model:
        return load_shipped(), f"the shipped model ({DEFAULT_MODEL.name})"
    return load_any(args.model), f"the model {args.model}"


def _write(out: Path, labels: np.ndarray, description: str) -> None:
    """Write the submission, read it back to check it, and show how to submit it."""
    from .csv_format import write_submission

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
    return run_interruptible(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
