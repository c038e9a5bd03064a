"""Training loops that print what a reader needs: a rounded line per epoch, no progress bars."""
from __future__ import annotations

import functools
import time

import numpy as np
import pandas as pd

from ._keras import keras  # TensorFlow's start-up notices filtered (config.quiet_tensorflow_import)
from .checks import check_integer, check_real
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

    NumPy arrays (and a ``validation_split`` of them) are batched and shuffled by Keras' own array
    adapter, as ``model.fit`` does, but with tf.data's autotuning off: the same weights, without
    the randomly slow epochs that autotuning caused on a 2-core CPU (see ``_array_adapter``).

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
    x, y, validation_data, fit_batch_size, kwargs = _steady_arrays(x, y, batch_size, validation_data, kwargs)
    start = time.perf_counter()
    # With op determinism on, tf.data logs a C++ "NodeDef mentions attribute ..." line that no
    # reader can act on; after setup_book() its process-wide filter drops it, otherwise it is
    # filtered here, around the fit only (lines are written back when it ends).
    with native_stderr_filtered():
        history = model.fit(x, y, epochs=epochs, batch_size=fit_batch_size, validation_data=validation_data,
                            verbose=0, callbacks=callbacks, **kwargs)
    seconds = time.perf_counter() - start
    frame = pd.DataFrame(history.history)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame, seconds


@functools.cache  # one class, defined at the first fit (the import is Keras' private module)
def _array_adapter():
    """Keras' own adapter for in-memory arrays, with tf.data's autotuning switched off.

    Why: ``model.fit`` on NumPy arrays builds a tf.data pipeline whose batch-gathering map runs
    with ``num_parallel_calls=AUTOTUNE``. On a 2-core machine the autotuner's threads made about
    half the epochs take 1.4 to 1.7 times as long as the others, at random from one epoch to the
    next, with both cores idle about half of a slow epoch (measured on 2026-12-04: the Keras example
    at 5.6-6.2 s or 9.5-10.6 s per epoch, the same total CPU time in both). With autotuning off,
    every epoch runs at the fast speed. Keras' adapter is kept (a private module, pinned by the lock)
    because it shuffles and batches exactly as ``fit`` does: the same seed trains the same
    weights, bit for bit, as before (tests/test_training.py checks it).
    """
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    class SteadyArrayDataAdapter(ArrayDataAdapter):
        def get_tf_dataset(self):
            options = tf.data.Options()
            options.autotune.enabled = False
            return super().get_tf_dataset().with_options(options)

    return SteadyArrayDataAdapter


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) or type(value).__name__ in ("EagerTensor", "Tensor")


def _steady_arrays(x, y, batch_size, validation_data, kwargs):
    """``model.fit``'s ``(x, y, validation_data, batch_size, kwargs)``, in-memory arrays on the steady adapter.

    Anything but arrays (a tf.data dataset, a generator, sample weights) keeps Keras' own route.
    """
    if not (_is_array(x) and _is_array(y)) or batch_size is None or set(kwargs) & _ADAPTER_UNSUPPORTED:
        return x, y, validation_data, batch_size, kwargs
    kwargs = dict(kwargs)
    split = kwargs.pop("validation_split", 0.0)
    if split:  # as Keras splits: the last fraction of the arrays, before any shuffling
        if validation_data is not None:
            raise ValueError("give validation_split or validation_data, not both")
        split = check_real(split, "validation_split", low=0, high=1, low_open=True, high_open=True)
        split_at = int(np.floor(len(x) * (1.0 - split)))
        if not 0 < split_at < len(x):
            raise ValueError(f"validation_split={split} leaves no training or no validation image of {len(x)} "
                             "images: give a fraction that keeps both")
        validation_data = (x[split_at:], y[split_at:])
        x, y = x[:split_at], y[:split_at]
    import tensorflow as tf

    adapter = _array_adapter()
    train = adapter(x, y, batch_size=batch_size, shuffle=kwargs.pop("shuffle", True))
    if (isinstance(validation_data, tuple) and len(validation_data) == 2 and all(map(_is_array, validation_data))
            and kwargs.get("validation_batch_size") is None):
        # Unshuffled batches of batch_size, as fit makes them for validation arrays; the count is
        # stated so that Keras knows where the data ends (else it warns that it "ran out of data").
        batches = adapter(*validation_data, batch_size=batch_size, shuffle=False)
        validation_data = batches.get_tf_dataset().apply(tf.data.experimental.assert_cardinality(batches.num_batches))
    return train, None, validation_data, None, kwargs


# Arguments that the adapter route does not pass on: fit keeps Keras' own pipeline for them.
_ADAPTER_UNSUPPORTED = {"sample_weight", "class_weight", "steps_per_epoch"}


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
