"""Training loops that print what a reader needs: a rounded line per epoch, no progress bars."""
from __future__ import annotations

import time

import pandas as pd

from ._keras import keras  # TensorFlow's start-up notices filtered (config.quiet_tensorflow_import)
from .checks import check_integer
from .config import native_stderr_filtered


class EpochLogger(keras.callbacks.Callback):
    """Print one short line every ``every`` epochs: rounded metrics, no timings.

    Keras' progress bars print timings and never compare between runs; this keeps the
    notebook's output short and deterministic (nbval can compare it where the mode allows).
    """

    def __init__(self, every: int = 1, digits: int = 4):
        super().__init__()
        self.every = check_integer(every, "every", low=1, hint=" (print every this many epochs)")
        self.digits = check_integer(digits, "digits", low=0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.params.get("epochs"):
            shown = "  ".join(f"{k} {v:.{self.digits}f}" for k, v in (logs or {}).items()
                              if k != "learning_rate")
            print(f"epoch {epoch + 1:3d}  {shown}")


def fit(model: keras.Model, x, y, *, epochs: int, batch_size: int = 128, validation_data=None,
        log_every: int = 1, quiet: bool = False, **kwargs) -> tuple[pd.DataFrame, float]:
    """``model.fit`` without progress bars; returns the history as a DataFrame and the seconds taken.

    Returns
    -------
    history : DataFrame with one row per epoch (index from 1) and one column per metric
    seconds : float
        Wall-clock training time.
    """
    # Python ints for Keras, which loops with range(epochs); None lets a tf.data input batch itself.
    epochs = check_integer(epochs, "epochs", low=1)
    if batch_size is not None:
        batch_size = check_integer(batch_size, "batch_size", low=1)
    callbacks = list(kwargs.pop("callbacks", []))
    if not quiet:
        callbacks.append(EpochLogger(every=log_every))
    start = time.perf_counter()
    # With op determinism on, tf.data logs a C++ "NodeDef mentions attribute ..." line that no
    # reader can act on; after setup_book() its process-wide filter drops it, otherwise it is
    # filtered here, around the fit only (lines are written back when it ends).
    with native_stderr_filtered():
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                            verbose=0, callbacks=callbacks, **kwargs)
    seconds = time.perf_counter() - start
    frame = pd.DataFrame(history.history)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame, seconds


class AccuracyCurve(keras.callbacks.Callback):
    """Accuracy on held-out images during training, against training time so far.

    Its own evaluation is kept off the clock, so ``seconds`` is pure training time and
    ``seconds[-1]`` is close to what ``fit`` would take without this callback. Used by the
    benchmark's time-to-accuracy figures; on the test set it is a plot, never a basis for choices.

    Parameters
    ----------
    x : ndarray of uint8, shape (n, 28, 28)
    y : ndarray of int, shape (n,)
    per_epoch : int, default 1
        Evaluations per epoch, evenly spaced in its steps (the last at the epoch's end). A short
        run needs more than one to say when it reached an accuracy.

    Attributes
    ----------
    epochs, seconds, accuracy : list of float, one per evaluation
        Where it was made (2.5 = half-way through the third epoch), training seconds so far, accuracy.
    epoch_seconds : list of float, one per epoch
        Training time of each epoch alone (the benchmark's median epoch time comes from these).
    evaluation_seconds : float
        Time spent in this callback's own evaluation, which the ``fit`` that runs it also counts:
        subtract it from ``fit``'s time to get the training time.
    """

    def __init__(self, x, y, batch_size: int = 1024, per_epoch: int = 1):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = check_integer(batch_size, "batch_size", low=1)
        self.per_epoch = check_integer(per_epoch, "per_epoch", low=1, hint=" (evaluations per epoch)")
        self.epochs: list[float] = []
        self.seconds: list[float] = []
        self.accuracy: list[float] = []
        self.epoch_seconds: list[float] = []
        self.evaluation_seconds = 0.0

    def on_train_begin(self, logs=None):
        self._clock, self.evaluation_seconds, self._epoch_end = time.perf_counter(), 0.0, 0.0
        steps = self.params.get("steps")
        if self.per_epoch > 1 and not steps:
            raise ValueError("AccuracyCurve(per_epoch > 1) needs the number of steps per epoch: "
                             "train on arrays, or on a dataset of known length")
        # The steps after which to evaluate inside an epoch (the epoch's end is on_epoch_end's).
        self._inside = {round(k * steps / self.per_epoch) - 1 for k in range(1, self.per_epoch)} if steps else set()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if batch in self._inside:
            self._record(self._epoch + (batch + 1) / self.params["steps"])

    def on_epoch_end(self, epoch, logs=None):
        trained = self._record(epoch + 1.0)
        self.epoch_seconds.append(trained - self._epoch_end)
        self._epoch_end = trained

    def _record(self, epochs: float) -> float:
        now = time.perf_counter()
        trained = now - self._clock - self.evaluation_seconds
        self.epochs.append(epochs)
        self.seconds.append(trained)
        self.accuracy.append(self.score())
        self.evaluation_seconds += time.perf_counter() - now
        return trained

    def score(self) -> float:
        """The model's accuracy on the held-out images, now."""
        probabilities = self.model.predict(self.x, batch_size=self.batch_size, verbose=0)
        return float((probabilities.argmax(axis=1) == self.y).mean())

    def seconds_to_reach(self, accuracy: float) -> float | None:
        """Training seconds at the first evaluation whose accuracy is >= ``accuracy``; None if never.

        A first crossing: the accuracy may fall below again later (see :meth:`seconds_to_sustain`).
        """
        return next((s for s, a in zip(self.seconds, self.accuracy) if a >= accuracy), None)

    def seconds_to_sustain(self, accuracy: float) -> float | None:
        """Training seconds from the evaluation on which accuracy stays >= ``accuracy`` to the end of
        training; None if the last evaluation is below it."""
        since = None
        for s, a in zip(self.seconds, self.accuracy):
            since = (s if since is None else since) if a >= accuracy else None
        return since
