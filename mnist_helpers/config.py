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
RUN_SECONDS_FILE_ENV = "MNIST_RUN_SECONDS_FILE"
"""A file ``run_times`` writes the measured seconds to: ``make execute`` reads the fast run's there and
passes them to the full run as ``MNIST_FAST_SECONDS``, so both modes are timed by the same clock."""

# When setup_book() last ran: the start of a chapter's run, for its "time to run" line.
_run_started: float | None = None


def fast_mode() -> bool:
    """Return True when the book runs in its fast mode.

    Fast mode (``MNIST_FAST=1``) runs the same code on fewer images and epochs, so CI
    can execute every notebook in minutes. Any value other than ``""``, ``"0"`` or
    ``"1"`` is rejected rather than guessed.
    """
    return bool(_switch(FAST_ENV, "set it to 1 (fast mode) or 0/unset (full mode)"))


def _switch(name: str, fix: str) -> bool | None:
    """An on/off environment variable: True for ``"1"``, False for ``"0"``, None when unset or empty;
    anything else is a one-line error ending with ``fix``."""
    value = os.environ.get(name, "").strip()
    if value == "":
        return None
    if value in ("0", "1"):
        return value == "1"
    raise ValueError(f"{name}={value!r} is not understood: {fix}")


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise (e.g. epochs, sample sizes)."""
    return fast if fast_mode() else full


# TensorFlow's C++ side writes these straight to file descriptor 2 while it starts up on a
# CPU-only machine, before its log level applies (they bypass Python's warnings and
# TF_CPP_MIN_LOG_LEVEL): no CUDA driver, the CPU-features notice, absl's start-up line. And
# with op determinism on (setup_book's default on a CPU), tf.data's "make deterministic"
# rewrite turns Keras' parallel map into a MapDataset node that keeps the parallel op's
# use_unbounded_threadpool attribute, which MapDataset's op definition lacks: node_def_util
# logs one "NodeDef mentions attribute use_unbounded_threadpool" error at an ERROR level
# (hiding it by TF_CPP_MIN_LOG_LEVEL=2 would hide real errors too) in fit, evaluate, predict
# or any tf.data pipeline. The rewrite is harmless (the attribute is ignored); nothing a
# notebook can set prevents it short of turning determinism off (Keras builds those pipelines
# itself, no environment variable skips the rewrite), so it is filtered instead. None of these
# is something a reader can act on. Only lines matching these are dropped: for the whole process
# once setup_book() has run (filter_native_stderr), otherwise around the import and mh.fit
# (native_stderr_filtered).
NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ (cudart_stub|cuda_platform|cuda_executor|cpu_feature_guard|port)\.cc:\d+\]"
    r"|[IWE]\d{4} [\d:. ]+\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool"
    # A float64 graph (chapter 5b's float64 check): an optimization TensorFlow skips for that type.
    r"|[IWE]\d{4} [\d:. ]+\d+ util\.cc:\d+\] Not handling type DT_DOUBLE$"
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
    if _persistent_filter is not None and _persistent_filter.active() and noise is NATIVE_NOISE:
        yield  # setup_book's filter already drops these lines, as they are written
        return
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


class _NativeStderrFilter:
    """File descriptor 2 re-routed through a pipe; a daemon thread drops the noise lines.

    Why a pipe and a thread: TensorFlow's C++ code writes to fd 2 itself, at any moment of a
    fit, evaluate or predict, so the only place to drop a line is between fd 2 and where it
    used to go. ``install`` keeps a copy of the original fd 2 (a terminal, a file, or, inside
    a Jupyter kernel, the pipe that ipykernel reads to show a cell's stderr) and puts the write
    end of a new pipe in its place; the thread reads the pipe, drops the lines that match
    ``noise`` and writes every other byte to the copy, so ipykernel forwards it to the
    running cell as before. Complete lines go at once; a partial line (``print(..., end="")``)
    goes as soon as no more bytes follow for ``_PARTIAL_WAIT`` seconds.

    ``sync`` waits until everything written to fd 2 so far has been passed on; it runs after
    each cell (IPython's ``post_execute`` event, so a cell's text is not shown in the next
    cell) and at exit (``atexit``: a crash's traceback, written to fd 2 just before, is passed
    on whole). A native crash (``abort``) can still lose the last lines the thread had not yet
    read, as ipykernel's own reader thread would.
    """

    _PARTIAL_WAIT = 0.05
    _SYNC_TIMEOUT = 2.0
    _MARKER = b"\x00mnist_helpers:stderr-sync\x00"

    def __init__(self, noise: re.Pattern):
        import threading

        self.noise = noise
        self.pid = os.getpid()
        sys.stderr.flush()
        self.original = os.dup(2)  # where the kept bytes go
        read_end, self.write_end = os.pipe()
        self._read_end = read_end
        self._lock = threading.Condition()
        self._requested = 0  # sync markers written ...
        self._seen = 0  # ... and passed by the thread
        self._thread = threading.Thread(target=self._run, name="mnist_helpers-stderr-filter", daemon=True)
        self._closed = False
        self._thread.start()
        os.dup2(self.write_end, 2)

    def active(self) -> bool:
        return os.getpid() == self.pid and not self._closed and self._thread.is_alive()

    # ---------------------------------------------------------------- the reader thread
    def _emit(self, data: bytes) -> None:
        while data:
            try:
                data = data[os.write(self.original, data):]
            except InterruptedError:
                continue
            except OSError:
                return  # the original stderr is gone (closed terminal): nothing to write to

    def _pass_lines(self, data: bytes) -> None:
        kept = [line for line in data.splitlines(keepends=True)
                if not self.noise.match(line.decode("utf-8", "replace"))]
        if kept:
            self._emit(b"".join(kept))

    def _run(self) -> None:
        import select

        pending = b""
        while True:
            if pending:
                ready, _, _ = select.select([self._read_end], [], [], self._PARTIAL_WAIT)
                if not ready:  # a partial line and nothing more coming for now: pass it on
                    self._pass_lines(pending)
                    pending = b""
                    continue
            try:
                chunk = os.read(self._read_end, 65536)
            except InterruptedError:
                continue
            except OSError:
                chunk = b""
            if not chunk:  # every write end closed
                self._pass_lines(pending)
                return
            pending += chunk
            while self._MARKER in pending:  # everything before a marker goes now, partial or not
                before, pending = pending.split(self._MARKER, 1)
                self._pass_lines(before)
                with self._lock:
                    self._seen += 1
                    self._lock.notify_all()
            complete = pending.rfind(b"\n") + 1
            if complete:
                self._pass_lines(pending[:complete])
                pending = pending[complete:]

    # ---------------------------------------------------------------- the calling side
    def sync(self) -> None:
        """Return once everything written to fd 2 before the call has been passed on (or after 2 s)."""
        if not self.active():  # a forked child shares the pipe but not the thread
            return
        try:
            sys.stderr.flush()
        except Exception:  # a closed or replaced sys.stderr must not break a sync
            pass
        with self._lock:
            self._requested += 1
            target = self._requested
        # Written outside the lock: with the pipe full, the write waits for the thread, which
        # takes the lock when it meets an earlier marker. Short writes to a pipe are atomic.
        os.write(self.write_end, self._MARKER)
        with self._lock:
            self._lock.wait_for(lambda: self._seen >= target, timeout=self._SYNC_TIMEOUT)
        _wait_until_read(self.original, self._SYNC_TIMEOUT)

    def close_at_exit(self) -> None:
        """At exit: pass everything on, then give fd 2 back (the interpreter's last words go direct)."""
        if not self.active():
            return
        self.sync()
        os.dup2(self.original, 2)
        self._closed = True


def _wait_until_read(fd: int, timeout: float) -> None:
    """When ``fd`` is a pipe (ipykernel's, in a notebook), wait until its reader has taken its bytes."""
    import fcntl
    import stat
    import struct
    import termios

    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
            if not waiting:
                time.sleep(0.005)  # the reader took them: let it hand them on
                return
            time.sleep(0.005)
    except OSError:
        return


_persistent_filter: _NativeStderrFilter | None = None


def filter_native_stderr(noise: re.Pattern = NATIVE_NOISE) -> None:
    """From now on, drop the lines of :data:`NATIVE_NOISE` that anything writes to file descriptor 2.

    For the whole process, unlike :func:`native_stderr_filtered`: TensorFlow writes its NodeDef
    line in evaluate, predict and custom training loops as well as in fit, and a notebook should
    not wrap every call. Every other byte reaches where fd 2 went before (in a notebook, the
    running cell's stderr). Idempotent: a second call does nothing. ``setup_book()`` calls it.
    """
    global _persistent_filter
    if _persistent_filter is not None and _persistent_filter.active():
        return
    import atexit

    _persistent_filter = _NativeStderrFilter(noise)
    atexit.register(_persistent_filter.close_at_exit)
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is not None:  # in a notebook: a cell's native output is shown in that cell
        shell.events.register("post_execute", _persistent_filter.sync)


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
            import keras  # here, inside the filter: Keras' own start-up lines are dropped too
    import keras

    return keras


DETERMINISTIC_ENV = "MNIST_DETERMINISTIC"
"""Environment variable: 1 turns TensorFlow's op determinism on (also on a GPU), 0 off."""


def deterministic_from_env() -> bool | None:
    """``MNIST_DETERMINISTIC``: True for ``"1"``, False for ``"0"``, None when unset or empty."""
    return _switch(DETERMINISTIC_ENV, "set it to 1 (op determinism on), 0 (off) or leave it unset "
                                      "(on for a CPU, off for a GPU)")


def _device_line(gpus: list, deterministic: bool) -> str:
    """The one line setup_book prints on a GPU (or when determinism is off): device and determinism."""
    if gpus:
        import tensorflow as tf

        label = gpus[0].name.replace("/physical_device:", "")
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name")
        except Exception:  # the name is a courtesy; the line must not fail
            name = None
        device = f"{label} ({name})" if name else label
        if len(gpus) > 1:
            device += f", the first of {len(gpus)} GPUs"
    else:
        device = "CPU"
    if deterministic:
        return (f"Running on {device}; op determinism on (repeatable results; some GPU ops are slower "
                f"or refuse to run; mh.setup_book(deterministic=False) or {DETERMINISTIC_ENV}=0 turns it off)")
    return (f"Running on {device}; op determinism off (results may differ slightly between runs; "
            f"mh.setup_book(deterministic=True) or {DETERMINISTIC_ENV}=1 turns it on)")


def setup_book(seed: int = 0, deterministic: bool | None = None) -> None:
    """Seed every generator, start TensorFlow quietly and set the figure style.

    Warnings are left alone: a learner must see a warning that matters. TensorFlow's native
    lines no reader can act on (:data:`NATIVE_NOISE`) are dropped from file descriptor 2 for
    the rest of the process (:func:`filter_native_stderr`).

    Parameters
    ----------
    seed : int, default 0
        Seed for Python's ``random``, NumPy and TensorFlow (``keras.utils.set_random_seed``).
    deterministic : bool, optional
        Ask TensorFlow for deterministic ops, so a rerun on the same machine gives the same
        numbers. By default (None) it follows ``MNIST_DETERMINISTIC`` (``1`` on, ``0`` off) and,
        when that is unset, is on for a CPU-only machine and off when TensorFlow sees a GPU
        (some GPU kernels are much slower, or refuse to run, when determinism is required).
        On a GPU, or with determinism off, one line says the device and the setting.
    """
    import matplotlib as mpl
    import numpy as np

    global _run_started
    _run_started = time.perf_counter()
    requested = deterministic_from_env() if deterministic is None else bool(deterministic)
    filter_native_stderr()
    quiet_tensorflow_import()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    gpus = tf.config.list_physical_devices("GPU")
    deterministic = requested if requested is not None else not gpus
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    if gpus or not deterministic:  # on a CPU with the default, nothing is printed
        print(_device_line(gpus, deterministic))
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    mpl.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 100, "savefig.dpi": 100,
                         "axes.spines.top": False, "axes.spines.right": False})


def format_duration(seconds) -> str:
    """Seconds as a reader says them, rounded (never cut) to the last unit shown.

    ``"0.4 s"`` (under 10 s, to a tenth), ``"42 s"``, ``"3 min 5 s"`` (under 10 min), ``"11 min"``
    (658 s), ``"1 h 8 min"``. The book's one duration format: chapters, results page and CLIs.
    """
    from .checks import check_real

    seconds = check_real(seconds, "seconds", low=0)
    if round(seconds, 1) < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def run_times() -> dict[str, str]:
    """The chapter's "time to run" in both modes, formatted, for ``glue``.

    The current mode's time is measured here, since :func:`setup_book`; the other mode's comes
    from ``MNIST_FAST_SECONDS`` when ``make execute`` measured the fast run just before the full
    one, and is otherwise ``"not measured in this run"``. When ``MNIST_RUN_SECONDS_FILE`` names a
    file, the measured seconds are also written there (how ``make execute`` gets the fast run's).

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
    seconds = time.perf_counter() - _run_started
    seconds_file = os.environ.get(RUN_SECONDS_FILE_ENV, "").strip()
    if seconds_file:
        with open(seconds_file, "w", encoding="utf-8") as out:
            out.write(f"{seconds:.3f}\n")
    elapsed = format_duration(seconds)
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
