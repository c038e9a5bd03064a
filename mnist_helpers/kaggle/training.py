"""Training for a submission: the book's final CNN on train.csv alone (prediction: ``mnist_helpers.inference``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..checks import check_integer
from ..inference import PREDICT_BATCH, predict_probabilities  # noqa: F401  (PREDICT_BATCH: kaggle's public name)
from ..recipes import FINAL_EPOCHS

VAL_FRACTION = 0.1
"""Default share of train.csv held out for validation: 4,200 of Kaggle's 42,000 images."""
SPLIT_SEED = 0
"""Seed of the validation split: the same split whatever ``--seeds`` says."""
FAST_IMAGES, FAST_EPOCHS = 6_000, 3
"""What ``--fast`` trains on: a stratified 6,000 of train.csv, for 3 epochs (fewer steps leave batch
normalization's moving averages too far from the data for a useful model)."""

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
    from .. import cnn

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
