"""What one image costs cold: `python -m mnist_helpers.predict IMAGE` in a fresh Python, NumPy against Keras.

Each run is a new process, as a reader's command is: its wall time from start to exit (Python's
start-up, the imports, loading the model, preparing and predicting the image), its CPU time (user
+ system: what the wall time would be on an idle core, and less sensitive to other load) and its
peak resident memory (the child's own ``VmHWM`` from ``/proc/self/status``, read as it exits; on
Linux a child's ``ru_maxrss`` starts from the high-water mark of the process that forked it, so a
large parent, such as a test process holding MNIST, would hide the command's own peak; elsewhere
``ru_maxrss`` of that one child, from ``os.wait4``). Printed per path: the median time and the largest peak over the
runs, against the targets for the NumPy path (``TARGET_SECONDS``, ``TARGET_MB``); written to
``mnist_helpers/book_results/timings/predict.json`` with each run and the machine.

Run on an idle machine, from the repository root::

    .venv/bin/python benchmarks/predict_benchmark.py [--repeats N] [--out FILE]
    .venv/bin/python benchmarks/predict_benchmark.py --quick   # one NumPy run, nothing written
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_helpers.checks import check_integer
from mnist_helpers.predict import sample_digit_files
from mnist_helpers.results import results_folder
from mnist_helpers.timing import load_average, machine_info, run_script, write_timing_file

RESULTS = results_folder() / "timings" / "predict.json"  # beside the other timing benchmarks' files
TARGET_SECONDS = 1.0
"""One image cold, NumPy path: at most this wall time (issue 25)."""
TARGET_MB = 150
"""One image cold, NumPy path: at most this peak resident memory, in MB (10^6 bytes)."""
# One of the package's sample digits (mnist_helpers/sample_digits/), and the digit it shows.
IMAGE = next(path for path in sample_digit_files() if path.name == "typed_3_dark_on_light.png")
DIGIT = 3
PATHS = {"numpy": [], "keras": ["--keras"]}
"""The command's options for each path."""


# The child: `python -m mnist_helpers.predict ARGS`, which also writes its own peak RSS (VmHWM, in kB)
# to the file named by its first argument when it exits.
CHILD = """\
import atexit, runpy, sys
def write_peak(path=sys.argv[1]):
    try:
        with open('/proc/self/status') as status:
            peak = next((line.split()[1] for line in status if line.startswith('VmHWM:')), '')
    except OSError:  # not Linux
        peak = ''
    with open(path, 'w') as out:
        out.write(peak)
atexit.register(write_peak)
sys.argv = ['mnist_helpers.predict', *sys.argv[2:]]
runpy.run_module('mnist_helpers.predict', run_name='__main__', alter_sys=True)
"""


def _peak_mb(rusage, vm_hwm_kb: str) -> float:
    if vm_hwm_kb.strip():
        return int(vm_hwm_kb) / 1e3
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    return rusage.ru_maxrss / (1e6 if sys.platform == "darwin" else 1e3)


def run_once(options: list[str]) -> dict:
    """One cold run of the command on ``IMAGE``: ``{"seconds", "cpu_seconds", "peak_mb"}``; raises if it fails
    or misreads the digit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as folder:
        peak_file = Path(folder) / "peak"
        command = [sys.executable, "-c", CHILD, str(peak_file), str(IMAGE), *options]
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, rusage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        vm_hwm_kb = peak_file.read_text() if peak_file.exists() else ""
    if process.returncode != 0 or not stdout.startswith(f"{IMAGE}: {DIGIT} (probability "):
        shown = " ".join(["python -m mnist_helpers.predict", str(IMAGE), *options])
        raise RuntimeError(f"{shown} exited with {process.returncode}: {(stdout + stderr).strip()[-500:]}")
    return {"seconds": round(seconds, 3), "cpu_seconds": round(rusage.ru_utime + rusage.ru_stime, 3),
            "peak_mb": round(_peak_mb(rusage, vm_hwm_kb), 1)}


def measure(path: str, repeats: int) -> dict:
    """``repeats`` cold runs of one path: each run, the median time and the largest peak memory."""
    runs = [run_once(PATHS[path]) for _ in range(repeats)]
    return {"path": path, "options": PATHS[path], "runs": runs,
            "median_seconds": round(statistics.median(run["seconds"] for run in runs), 3),
            "median_cpu_seconds": round(statistics.median(run["cpu_seconds"] for run in runs), 3),
            "max_peak_mb": max(run["peak_mb"] for run in runs)}


def report(rows: list[dict]) -> list[str]:
    """The printed table: one line per path, the NumPy path against its targets."""
    lines = [f"one image cold ({IMAGE.name}), fresh Python each run:"]
    for row in rows:
        line = (f"  {row['path']:<6} median {row['median_seconds']:6.2f} s (CPU {row['median_cpu_seconds']:5.2f} s), "
                f"peak {row['max_peak_mb']:6.1f} MB ({len(row['runs'])} run(s))")
        if row["path"] == "numpy":
            met = row["median_seconds"] <= TARGET_SECONDS and row["max_peak_mb"] <= TARGET_MB
            line += f"  targets <= {TARGET_SECONDS:g} s and <= {TARGET_MB} MB: {'met' if met else 'NOT met'}"
        lines.append(line)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold runs per path (default: 5)")
    parser.add_argument("--quick", action="store_true",
                        help="one run of the NumPy path only, nothing written unless --out is given (the smoke test)")
    parser.add_argument("--out", type=Path, default=None, help=f"the JSON file to write (default: {RESULTS})")
    args = parser.parse_args(argv)
    try:
        repeats = 1 if args.quick else check_integer(args.repeats, "--repeats", low=1)
    except ValueError as exc:
        parser.error(str(exc))
    load_before = load_average()
    rows = [measure(path, repeats) for path in (["numpy"] if args.quick else ["numpy", "keras"])]
    for line in report(rows):
        print(line)
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        data = {"title": "predict: one image cold", "date": datetime.date.today().isoformat(),
                "image": IMAGE.name, "targets": {"numpy_seconds": TARGET_SECONDS, "numpy_peak_mb": TARGET_MB},
                "rows": rows, "load_average_before": load_before, "load_average_after": load_average(),
                "machine": machine_info(numpy=np.__version__)}
        write_timing_file(out, data)
    return 0


if __name__ == "__main__":
    run_script(main)
