"""Book-wide setup: seeds, quiet logging, figure style and the fast mode.

Every notebook starts with ``mh.setup_book()`` (fastbook's ``setup_book`` idea), so
that results are repeatable and outputs stay tidy enough for nbval to compare.
"""
from __future__ import annotations

import os
import re
import sys
import threading

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


# TensorFlow's C++ side writes these straight to file descriptor 2 (bypassing Python's
# warnings and TF_CPP_MIN_LOG_LEVEL) on CPU-only machines. None is something a reader can act
# on: no GPU here, the CPU-features notice, and a tf.data graph-rewrite notice that TF 2.21
# prints on every fit/predict. Only lines matching these are dropped; everything else passes.
_NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ (cudart_stub|cuda_platform|cuda_executor|cpu_feature_guard|port|node_def_util)\.cc:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)")

_filter_installed = False


def _install_native_stderr_filter() -> None:
    """Route file descriptor 2 through a thread that drops TensorFlow's known native noise."""
    global _filter_installed
    if _filter_installed:
        return
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not _NATIVE_NOISE.match(line.decode("utf-8", "replace")):
                        os.write(original, line + b"\n")
            if pending:
                os.write(original, pending)

    threading.Thread(target=pump, name="native-stderr-filter", daemon=True).start()
    _filter_installed = True


def quiet_tensorflow_import() -> None:
    """Import TensorFlow and Keras without the start-up noise a reader cannot act on.

    Call it (or just ``import mnist_helpers``) before importing TensorFlow or Keras yourself.
    """
    # Must be set before TensorFlow is imported to silence its C++ start-up messages.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _install_native_stderr_filter()
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
