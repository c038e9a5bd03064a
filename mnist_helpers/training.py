"""Training loops that print what a reader needs: a rounded line per epoch, no progress bars."""
from __future__ import annotations

import time

import keras
import pandas as pd


class EpochLogger(keras.callbacks.Callback):
    """Print one short line every ``every`` epochs: rounded metrics, no timings.

    Keras' progress bars print timings and never compare between runs; this keeps the
    notebook's output short and deterministic (nbval can compare it where the mode allows).
    """

    def __init__(self, every: int = 1, digits: int = 4):
        super().__init__()
        self.every, self.digits = every, digits

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
    callbacks = list(kwargs.pop("callbacks", []))
    if not quiet:
        callbacks.append(EpochLogger(every=log_every))
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                        verbose=0, callbacks=callbacks, **kwargs)
    seconds = time.perf_counter() - start
    frame = pd.DataFrame(history.history)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame, seconds
