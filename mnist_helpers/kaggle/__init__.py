"""Kaggle's Digit Recognizer: an honest submission from ``train.csv`` alone, and the MNIST leak measured.

Kaggle's ``train.csv`` (42,000 labelled images) and ``test.csv`` (28,000 unlabelled) come from
MNIST's 70,000 images. A model trained on MNIST's 60,000 training images has seen, with their
labels, every test image that is one of them, so its leaderboard score is no fair measure (chapter
10 measures how much it gains); a lookup of MNIST's labels (:func:`lookup_labels`) needs no model
and scores 100%. :func:`overlap_with_mnist` counts the copies, by exact pixel match, rather than
assuming a number.

Command line (``--help`` for every option)::

    python -m mnist_helpers.kaggle train.csv test.csv --out submission.csv

trains the book's final CNN on ``train.csv`` only, checks it on a held-out validation split and
writes a checked submission. ``--model``/``--shipped-model`` predict with a saved model instead,
with a warning that says how many test images it may have seen. Bad input (a missing file, wrong
columns, the two files swapped, a bad pixel, an output folder that cannot be written) ends with
one line ``error: ...`` on stderr and exit code 1, checked before any training; usage errors exit
with 2 (argparse). TensorFlow is imported only to train or load a model, so ``--help`` is quick.

==============  ===============================================================
``csv_format``  Kaggle's CSVs read and written, the submission file, the stand-in
``leak``        which Kaggle images are MNIST images (exact pixel match); the lookup
``submission``  the output can be written; the written submission is right
``training``    the final CNN on train.csv alone; prediction in batches
``cli``         ``python -m mnist_helpers.kaggle``
==============  ===============================================================
"""
from __future__ import annotations

from .cli import COMPETITION, DOWNLOAD_COMMAND, SUBMIT_COMMAND, InputError, main
from .csv_format import (
    KAGGLE_PIXELS,
    TEST_ROWS,
    TRAIN_ROWS,
    Standin,
    load_kaggle_csv,
    make_standin,
    write_kaggle_csv,
    write_submission,
)
from .leak import Overlap, find_identical, image_hashes, leak_warning, lookup_labels, overlap_with_mnist
from .submission import check_output_path, validate_submission
from .training import (
    FAST_EPOCHS,
    FAST_IMAGES,
    PREDICT_BATCH,
    SPLIT_SEED,
    VAL_FRACTION,
    TrainingPlan,
    predict_probabilities,
    train_ensemble,
    training_plan,
)

__all__ = ["COMPETITION", "DOWNLOAD_COMMAND", "FAST_EPOCHS", "FAST_IMAGES", "KAGGLE_PIXELS", "PREDICT_BATCH",
           "SPLIT_SEED", "SUBMIT_COMMAND", "TEST_ROWS", "TRAIN_ROWS", "VAL_FRACTION", "InputError", "Overlap",
           "Standin", "TrainingPlan", "check_output_path", "find_identical", "image_hashes", "leak_warning",
           "load_kaggle_csv", "lookup_labels", "main", "make_standin", "overlap_with_mnist", "predict_probabilities",
           "train_ensemble", "training_plan", "validate_submission", "write_kaggle_csv", "write_submission"]
