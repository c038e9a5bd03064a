"""Book-wide setup: seeds, quiet logging, figure style and the fast mode.

Every notebook starts with ``mh.setup_book()`` (fastbook's ``setup_book`` idea), so
that results are repeatable and outputs stay tidy enough for nbval to compare.
"""
from __future__ import annotations

import contextlib
import os
import sys

FAST_ENV = "MNIST_FAST"
"""Environment variable that switches the book into its fast mode (CI)."""


def fast_mode() -> bool:
    """Return True when the book runs in its fast mode.

    Fast mode (``MNIST_FAST=1``) runs the same code on fewer images and epochs, so CI
    can execute every notebook in minutes. Any value other than ``""``, ``"0"`` or
    ``"1"`` is rejected rather than guessed.
    """
    value = os.environ.get(FAST_ENV, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise ValueError(f"{FAST_ENV}={value!r} is not understood: set it to 1 (fast mode) or 0/unset (full mode)")


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise (e.g. epochs, sample sizes)."""
    return fast if fast_mode() else full


@contextlib.contextmanager
def _stderr_silenced():
    """Send everything written to file descriptor 2 (C++ logging too) to /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow_import() -> None:
    """Import TensorFlow and Keras without the start-up noise a reader cannot act on."""
    # Must be set before TensorFlow is imported to silence its C++ start-up messages.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_silenced():
        # TensorFlow's C++ side logs "could not find cuda drivers" straight to file
        # descriptor 2 on CPU-only machines; nothing a reader can act on.
        import keras  # noqa: F401
        import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def setup_book(seed: int = 0, deterministic: bool = True) -> None:
    """Seed every generator, silence TensorFlow's logging and set the figure style.

    Parameters
    ----------
    seed : int, default 0
        Seed for Python's ``random``, NumPy and TensorFlow (``keras.utils.set_random_seed``).
    deterministic : bool, default True
        Ask TensorFlow for deterministic ops, so a rerun on the same machine gives the same numbers.
    """
    import warnings

    import matplotlib as mpl
    import numpy as np

    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    quiet_tensorflow_import()
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    mpl.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 100, "savefig.dpi": 100,
                         "axes.spines.top": False, "axes.spines.right": False})
