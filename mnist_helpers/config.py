"""Book-wide setup: seeds, quiet start-up of TensorFlow, figure style and the fast mode.

Every notebook starts with ``mh.setup_book()`` (fastbook's ``setup_book`` idea), so
that results are repeatable and outputs stay tidy enough for nbval to compare.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from typing import Iterator

FAST_ENV = "MNIST_FAST"
"""Environment variable that switches the book into its fast mode (CI)."""
FAST_SECONDS_ENV = "MNIST_FAST_SECONDS"
"""Seconds the chapter took in the fast mode, measured by ``make execute`` just before the full run."""

# When setup_book() last ran: the start of a chapter's run, for its "time to run" line.
_run_started: float | None = None


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


# TensorFlow's C++ side writes these straight to file descriptor 2 while it starts up on a
# CPU-only machine, before its log level applies (they bypass Python's warnings and
# TF_CPP_MIN_LOG_LEVEL): no CUDA driver, the CPU-features notice, absl's start-up line; and
# tf.data's first pipeline (at the first fit) logs a version mismatch of one attribute. None
# is something a reader can act on. Only lines matching these are dropped, and only around
# the import and mh.fit (see native_stderr_filtered); everything else is written back.
NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ (cudart_stub|cuda_platform|cuda_executor|cpu_feature_guard|port)\.cc:\d+\]"
    r"|[IWE]\d{4} [\d:. ]+\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)")


@contextlib.contextmanager
def native_stderr_filtered(noise: re.Pattern = NATIVE_NOISE) -> Iterator[None]:
    """Within the block, drop the lines written to file descriptor 2 that match ``noise``.

    Everything written to fd 2 in the block (by C++ or by Python) goes to a temporary file;
    when the block ends, normally or by an exception, fd 2 is restored and every line that
    does not match is written back to ``sys.stderr``. A file cannot fill up like a pipe, and
    nothing runs in another thread, so nothing can be lost or deadlock, and nothing stays
    changed after the block.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                capture.seek(0)
                kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                        if not noise.match(line)]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()
    finally:
        os.close(saved)


def tensorflow_environment_defaults() -> None:
    """Set TensorFlow's environment variables the book relies on, unless the reader set them.

    They must be set before TensorFlow is imported to apply to its C++ side.
    """
    # 1 hides the C++ INFO lines only; 3 would hide real errors too.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    # oneDNN's CPU kernels make convolutions 2-3x faster; TensorFlow turns them on by itself
    # only on some CPUs (not on, e.g., an AMD EPYC with AVX2), so ask for them.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def quiet_tensorflow_import():
    """Import TensorFlow and Keras without the start-up noise a reader cannot act on; return ``keras``.

    Sets ``TF_CPP_MIN_LOG_LEVEL=1`` (hide C++ INFO lines; warnings and errors still show) and
    ``TF_ENABLE_ONEDNN_OPTS=1`` (oneDNN's faster CPU kernels) unless you set them yourself, and
    filters the native start-up lines (see :data:`NATIVE_NOISE`) around the import only.
    TensorFlow's Python warnings are left alone. Cheap after the first call.
    """
    if "keras" not in sys.modules:
        tensorflow_environment_defaults()
        with native_stderr_filtered():
            import tensorflow as tf

            # The CUDA probe (and its "failed call to cuInit" line) happens here, not at the first fit.
            tf.config.list_physical_devices("GPU")
            import keras  # noqa: F401
    import keras

    return keras


def setup_book(seed: int = 0, deterministic: bool = True) -> None:
    """Seed every generator, start TensorFlow quietly and set the figure style.

    Warnings are left alone: a learner must see a warning that matters.

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

    global _run_started
    _run_started = time.perf_counter()
    quiet_tensorflow_import()
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    mpl.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 100, "savefig.dpi": 100,
                         "axes.spines.top": False, "axes.spines.right": False})


def format_duration(seconds) -> str:
    """Seconds as a reader says them: ``"42 s"``, ``"3 min 5 s"``, ``"1 h 8 min"``."""
    from .checks import check_real

    seconds = round(check_real(seconds, "seconds", low=0))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if minutes < 10 and seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def run_times() -> dict[str, str]:
    """The chapter's "time to run" in both modes, formatted, for ``glue``.

    The current mode's time is measured here, since :func:`setup_book`; the other mode's comes
    from ``MNIST_FAST_SECONDS`` when ``make execute`` measured the fast run just before the full
    one, and is otherwise ``"not measured in this run"``.

    Returns
    -------
    dict
        ``{"time_full": str, "time_fast": str}``.

    Raises
    ------
    RuntimeError
        ``setup_book()`` has not run in this process.
    ValueError
        ``MNIST_FAST_SECONDS`` is not a number of seconds.
    """
    if _run_started is None:
        raise RuntimeError("no chapter clock: call mh.setup_book() at the start of the chapter")
    elapsed = format_duration(time.perf_counter() - _run_started)
    other = "not measured in this run"
    if fast_mode():
        return {"time_full": other, "time_fast": elapsed}
    raw = os.environ.get(FAST_SECONDS_ENV, "").strip()
    if raw:
        try:
            other = format_duration(float(raw))
        except ValueError:
            raise ValueError(f"{FAST_SECONDS_ENV}={raw!r} is not understood: set it to a number of "
                             "seconds (make execute does) or unset it") from None
    return {"time_full": elapsed, "time_fast": other}
