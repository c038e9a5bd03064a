"""The augmentation's cost alone: Keras' three random-transform layers against one affine warp.

Both draw rotation (±10°), shift (±10%) and zoom (1 ± 10%, per axis) from the same ranges
(``mnist_helpers.augmentation``); the three layers interpolate every image three times, the
``DigitAffineAugmentation`` layer once. Each augments the 60,000 training images in batches of
128, in training mode, inside one compiled ``tf.function`` per batch as ``model.fit`` runs it;
the time is the median of ``--repeats`` passes (after one warm-up pass), and the ratio of the two
medians, from the same run, is the figure to compare. Prints a table and writes
mnist_helpers/book_results/timings/augmentation.json (a timing only, not a results table: kept out
of the results folder's own ``*.json``, which the results page shows as models and accuracies).
Run from the repository root on an idle machine (it waits until the load average is under 1)::

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/augmentation_benchmark.py

``--quick`` uses 2,560 images and 2 repeats, no idle wait, and writes only to ``--out``.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
from pathlib import Path

import numpy as np

import mnist_helpers as mh
from mnist_helpers import timing
from mnist_helpers.results import results_folder

RESULTS = results_folder() / "timings" / "augmentation.json"
BATCH_SIZE = 128


def seconds_per_pass(augment, images, repeats: int) -> list[float]:
    """Wall-clock seconds of each of ``repeats`` passes over ``images`` (float32, (n, 28, 28, 1))."""
    import tensorflow as tf

    @tf.function(autograph=False)  # a plain call: nothing for AutoGraph to convert
    def step(batch):
        return augment(batch, training=True)

    batches = [tf.constant(images[i:i + BATCH_SIZE]) for i in range(0, len(images), BATCH_SIZE)]
    for batch in batches[:2]:  # trace both batch shapes before the clock starts
        step(batch)
    step(batches[-1])
    return timing.pass_seconds(step, batches, repeats)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed passes over the images (default 7)")
    parser.add_argument("--quick", action="store_true", help="2,560 images, 2 repeats; writes only to --out")
    parser.add_argument("--out", type=Path, default=None, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    out = args.out if args.quick else (args.out or RESULTS)
    mh.setup_book()
    from mnist_helpers import augmentation

    (x_train, _), _ = mh.load_mnist()
    if args.quick:
        x_train, args.repeats = x_train[:2560], 2
    images = (x_train[..., None] / 255.0).astype("float32")
    load_at_start = timing.load_average() if args.quick else timing.wait_until_idle()
    rows = []
    for name, augment in (("three Keras layers", augmentation.build_augmentation(seed=0)),
                          ("one affine warp", augmentation.DigitAffineAugmentation(seed=0))):
        with timing.OtherCpuUse() as other:
            times = seconds_per_pass(augment, images, args.repeats)
        rows.append({"model": name, "images": len(images), "repeats": args.repeats,
                     "median_seconds": round(statistics.median(times), 3),
                     "pass_seconds": [round(t, 3) for t in times], "other_cpu_share": other.share})
    for row in rows:
        row["time_vs_three_layers"] = round(row["median_seconds"] / rows[0]["median_seconds"], 2)
    print(f"{'augmentation':20} {'images':>7} {'median s':>9} {'ratio':>6}  (median of {args.repeats} passes)")
    for row in rows:
        print(f"{row['model']:20} {row['images']:7,} {row['median_seconds']:9.2f} {row['time_vs_three_layers']:6.2f}")
    if out is None:
        return
    import keras
    import tensorflow as tf

    data = {"title": "Augmentation cost", "date": datetime.date.today().isoformat(),
            "description": "Seconds to augment the training images once (batches of 128, training mode, compiled), "
                           "median of several passes: Keras' three random-transform layers against one composed "
                           "affine warp drawn from the same ranges.",
            "machine": timing.machine_info(tensorflow=tf.__version__, keras=keras.__version__, numpy=np.__version__),
            "load_average_at_start": load_at_start, "rows": rows}
    timing.write_timing_file(out, data)


if __name__ == "__main__":
    timing.run_script(main)
