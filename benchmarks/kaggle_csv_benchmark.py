"""How fast and lean ``mh.load_kaggle_csv`` is on Kaggle-sized files, against ``pd.read_csv`` itself.

Builds a stand-in ``train.csv`` (42,000 rows) and ``test.csv`` (28,000 rows) from MNIST with
``mh.kaggle.make_standin(folder, seed=0)`` in a temporary folder, then prints (nothing is written
to disk but the temporary files):

- time: the median of ``--repeats`` loads in this process, wall-clock and CPU time, of
  ``mh.load_kaggle_csv`` and, as the anchor in the same run, of
  ``pd.read_csv(path, dtype=np.uint8)`` (what any loader of this file has to do at least);
- peak memory: each load runs once in a fresh subprocess that reports its own peak resident
  set size, minus that of a baseline subprocess which only imports ``mnist_helpers.data``
  (Python, NumPy and pandas).

Why the peak RSS and not ``tracemalloc``: tracemalloc sees only memory allocated through
Python's allocator hooks. NumPy reports its array buffers to it, but pandas' C tokenizer
allocates its buffers with plain ``malloc``, invisible to tracemalloc, and those are most of a
CSV parse's peak; the OS's peak RSS counts everything. Its price is that it includes the
interpreter and the imports, hence the baseline subtracted, and that each figure needs a fresh
process (a peak never goes down).

Why the child reads ``VmHWM`` in ``/proc/self/status`` rather than the parent reading
``getrusage(RUSAGE_CHILDREN).ru_maxrss``: on Linux a child's ``ru_maxrss`` keeps the high-water
mark of the process it was forked from (this one, holding MNIST and the stand-in: ~380 MiB),
so it would hide any load smaller than that; ``VmHWM`` is the peak of the child's own memory
since its ``exec``. Elsewhere it falls back to ``ru_maxrss``.

Writes the figures and the machine to ``mnist_helpers/book_results/timings/kaggle_csv.json``. Run from the
repository root, with ``MNIST_DATA`` set::

    .venv/bin/python benchmarks/kaggle_csv_benchmark.py [--repeats N]

``--quick`` builds 500- and 300-row files and loads each once (checks the script; writes only to
``--out``).

On a machine busy with other work the wall times grow with the load; the CPU times and the
anchor, measured in the same run, are the figures to compare.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import mnist_helpers as mh
from mnist_helpers.checks import check_integer
from mnist_helpers.results import results_folder
from mnist_helpers.timing import machine_info, run_script, write_timing_file

RESULTS = results_folder() / "timings" / "kaggle_csv.json"  # beside the other timing benchmarks' files
QUICK_ROWS = (500, 300)

# What a subprocess runs: the load (or nothing, for the baseline), then its own peak RSS in KiB.
_CHILD = """
import resource, sys
import numpy as np, pandas as pd
import mnist_helpers.kaggle.csv_format as csv_format
how, path = sys.argv[1], sys.argv[2]
if how == "load_kaggle_csv":
    csv_format.load_kaggle_csv(path)
elif how == "pd.read_csv":
    pd.read_csv(path, dtype=np.uint8)
try:
    with open("/proc/self/status") as status:
        print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
except OSError:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS; an estimate either way)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def median_seconds(run, repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``repeats`` calls of ``run()``."""
    wall, cpu = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    return statistics.median(wall), statistics.median(cpu)


def peak_rss_mib(how: str, path: Path) -> float:
    """Peak resident memory (MiB) of a fresh Python that imports the package and runs ``how`` on ``path``."""
    done = subprocess.run([sys.executable, "-c", _CHILD, how, str(path)], check=True, capture_output=True,
                          text=True)
    return int(done.stdout.split()[-1]) / 1024  # VmHWM is in KiB


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="loads per time measurement (default: 3)")
    parser.add_argument("--quick", action="store_true", help="500- and 300-row files, one load each; writes only "
                        "to --out")
    parser.add_argument("--out", type=Path, default=None, help=f"the JSON file to write (default: {RESULTS})")
    args = parser.parse_args(argv)
    try:
        repeats = check_integer(1 if args.quick else args.repeats, "--repeats", low=1)
    except ValueError as exc:
        parser.error(str(exc))
    out = args.out or (None if args.quick else RESULTS)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        sizes = dict(zip(("n_train", "n_test"), QUICK_ROWS)) if args.quick else {}
        standin = mh.kaggle.make_standin(folder, seed=0, **sizes)
        sizes = [path.stat().st_size / 1e6 for path in (standin.train_csv, standin.test_csv)]
        print(f"stand-in written in {time.perf_counter() - start:.1f} s: train.csv {sizes[0]:.1f} MB, "
              f"test.csv {sizes[1]:.1f} MB")
        baseline = peak_rss_mib("import only", standin.train_csv)
        print(f"baseline process (Python + NumPy + pandas imported): peak RSS {baseline:.0f} MiB")
        print(f"{'':<36} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9}  (median of {repeats}; memory above baseline)")
        for name, path in (("train.csv", standin.train_csv), ("test.csv", standin.test_csv)):
            with open(path) as lines:
                n_rows = sum(1 for _ in lines) - 1  # the header is not a row
            for how, load in (("pd.read_csv", lambda path=path: pd.read_csv(path, dtype=np.uint8)),
                              ("load_kaggle_csv", lambda path=path: mh.load_kaggle_csv(path))):
                wall, cpu = median_seconds(load, repeats)
                memory = peak_rss_mib(how, path) - baseline
                print(f"{how + ' ' + name:<36} {wall:8.2f} {cpu:8.2f} {memory:9.0f}")
                rows.append({"loader": how, "file": name, "rows": n_rows,
                             "megabytes": round(path.stat().st_size / 1e6, 2), "wall_seconds": round(wall, 3),
                             "cpu_seconds": round(cpu, 3), "peak_mib_above_baseline": round(memory, 1)})
    if out is None:
        return
    data = {"title": "Kaggle CSV loading", "date": datetime.date.today().isoformat(),
            "description": "Median wall and CPU seconds of loading Kaggle-shaped CSV files with mh.load_kaggle_csv "
                           "and with pd.read_csv alone (the anchor), and each load's peak memory in a fresh process "
                           "above a baseline process's.",
            "machine": machine_info(numpy=np.__version__, pandas=pd.__version__), "repeats": repeats,
            "baseline_peak_mib": round(baseline, 1), "rows": rows}
    write_timing_file(out, data)


if __name__ == "__main__":
    run_script(main)
