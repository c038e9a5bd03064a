"""Train four CNNs on this machine in one run, several seeds each, and record speed and accuracy.

(a) the Keras code example "Simple MNIST convnet" (batch 128, 15 epochs, as published),
(b) the original model this book grew from (Adam, 5 epochs),
(c) the book's final CNN (the recipe chapter 9b chooses),
(d) the speed run: the fastest recipe chapter 9b found to keep 99% (``cnn.build_speed_cnn``).

Each trains on the 60,000 training images (the Keras example holds out 10%, as published) and
its final model is tested once on the 10,000 test images. During training the test accuracy is
also measured off the training clock (once per epoch; twice for the final CNN, four times for the
speed run), for the time-to-accuracy figures only: nothing is chosen from it. Prints a table and
writes mnist_helpers/book_results/cnn.json (``mnist_helpers.results`` format): per model the seeds,
mean/sd/min/max test accuracy, every epoch's time, the median epoch time (ratios to the Keras
example come from median epoch time x epochs, in this one run), the epochs slower than 1.5x their
run's median, and per seed the time to reach 99.0%, 99.26% and 99.5% (the first crossing) and the
time from which it stays there (sustained). Run from the repository root, on an idle machine (it
first waits until the 1-minute load average is under 1, and records every run's other CPU use):

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_benchmark.py --seeds 5 --other-seeds 3

``--quick`` trains each for one epoch on 3,000 images and tests on 2,000 (checks the script; writes
only to ``--out``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import mnist_helpers as mh
from mnist_helpers import cnn
from mnist_helpers.results import results_folder, seed_summary, write_results
from mnist_helpers.timing import OtherCpuUse, load_average, machine_info, run_script, wait_until_idle
from mnist_helpers.training import AccuracyCurve

RESULTS = results_folder() / "cnn.json"
THRESHOLDS = (0.99, 0.9926, 0.995)


def plain_adam(build, epochs: int, batch_size: int = 128, validation_split: float = 0.0):
    """A trainer for a model compiled as its source publishes it: Adam, constant learning rate."""
    def train(x, y, seed, callbacks):
        import keras

        keras.utils.set_random_seed(seed)
        model = build()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        _, seconds = mh.fit(model, x, y, epochs=epochs, batch_size=batch_size, quiet=True,
                            validation_split=validation_split, callbacks=callbacks)
        return model, seconds
    return train


def scheduled(build, epochs: int, batch_size: int, max_lr: float):
    """A trainer for the book's recipes: Adam with warm-up + cosine decay."""
    def train(x, y, seed, callbacks):
        import keras

        keras.utils.set_random_seed(seed)
        model, _, seconds = cnn.train_with_schedule(build(seed), x, y, epochs=epochs, batch_size=batch_size,
                                                    max_lr=max_lr, quiet=True, callbacks=callbacks)
        return model, seconds
    return train


def _rounded(seconds: float | None) -> float | None:
    """``seconds`` to 0.1 s, as the curves are written; None (never reached) stays None."""
    return None if seconds is None else round(seconds, 1)


SLOW_EPOCH = 1.5
"""An epoch over this many times the run's median epoch time is flagged: on a shared or virtual
machine some epochs take twice the median, which a mean hides and a median shrugs off."""


def run_model(name, trainer, seeds, x_train, y_train, x_test, y_test, train_images: int, per_epoch: int) -> dict:
    """Train ``trainer`` once per seed; the row of the results file, with per-seed details.

    Times: each epoch's training time is recorded; the model's time is its median epoch time x
    epochs (``median_train_seconds``), beside the mean total. Time to an accuracy is given two ways
    per seed: the first evaluation at or above it, and the moment from which it stays there to the
    end of training (sustained), with test accuracy evaluated ``per_epoch`` times per epoch.
    """
    runs = []
    for seed in seeds:
        curve = AccuracyCurve(x_test, y_test, per_epoch=per_epoch)
        with OtherCpuUse() as other:  # 0 on an idle machine: the timings compare only then
            model, seconds = trainer(x_train, y_train, seed, [curve])
        seconds -= curve.evaluation_seconds  # fit's clock also ran while the curve tested each epoch
        predictions = model.predict(x_test, verbose=0).argmax(axis=1)
        accuracy = float(np.mean(predictions == y_test))
        median = float(np.median(curve.epoch_seconds))
        runs.append({"seed": seed, "test_accuracy": accuracy, "train_seconds": round(seconds, 1),
                     "epoch_seconds": [round(s, 2) for s in curve.epoch_seconds],
                     "median_epoch_seconds": round(median, 2),
                     "slow_epochs": [i + 1 for i, s in enumerate(curve.epoch_seconds) if s > SLOW_EPOCH * median],
                     "other_cpu_share": other.share, "steal_share": other.steal_share,
                     "curve_epochs": [round(e, 3) for e in curve.epochs],
                     "curve_seconds": [round(s, 1) for s in curve.seconds],
                     "curve_test_accuracy": [round(a, 4) for a in curve.accuracy],
                     **{f"seconds_to_{100 * t:g}": _rounded(curve.seconds_to_reach(t)) for t in THRESHOLDS},
                     **{f"sustained_seconds_to_{100 * t:g}": _rounded(curve.seconds_to_sustain(t)) for t in THRESHOLDS}})
        stolen = "unknown" if other.steal_share is None else f"{other.steal_share:.1%}"  # part of `other`
        print(f"{name}, seed {seed}: test accuracy {accuracy:.4f} in {seconds:.0f} s, median epoch {median:.1f} s, "
              f"{len(runs[-1]['slow_epochs'])} epoch(s) over {SLOW_EPOCH}x it "
              f"(other use of the CPUs {other}, of which the hypervisor {stolen})", flush=True)
    accuracies = [r["test_accuracy"] for r in runs]
    stats = seed_summary(accuracies)
    epochs = len(runs[0]["epoch_seconds"])
    median_epoch = float(np.median([s for r in runs for s in r["epoch_seconds"]]))
    row = {"model": name, "test_accuracy": stats["mean"], "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
           "median_epoch_seconds": round(median_epoch, 2), "median_train_seconds": round(median_epoch * epochs, 1),
           "slow_epochs": sum(len(r["slow_epochs"]) for r in runs), "all_epochs": epochs * len(runs),
           "test_accuracy_sd": stats["sd"], "test_accuracy_min": stats["min"], "test_accuracy_max": stats["max"],
           "seeds": list(seeds), "params": int(model.count_params()), "epochs": epochs,
           "evaluations_per_epoch": per_epoch, "train_images": train_images, "runs": runs}
    for t in THRESHOLDS:
        for kind in ("", "sustained_"):
            key = f"{kind}seconds_to_{100 * t:g}"
            reached = [r[key] for r in runs if r[key] is not None]
            row[f"mean_{key}"] = round(float(np.mean(reached)), 1) if reached else None
            row[f"seeds_{'sustaining' if kind else 'reaching'}_{100 * t:g}"] = len(reached)
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the final CNN and the speed run (>= 5 for the record)")
    parser.add_argument("--other-seeds", type=int, default=3, help="seeds of the Keras example and the original model")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch on 3,000 images, tested on 2,000, 2 seeds, no idle wait; writes only to --out")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"the results file (default {RESULTS}; with --quick, none unless given)")
    args = parser.parse_args(argv)
    out = args.out if args.quick else (args.out or RESULTS)
    mh.setup_book()
    (x_train, y_train), (x_test, y_test) = mh.load_mnist()
    if args.quick:
        x_train, y_train = x_train[:3000], y_train[:3000]
        x_test, y_test = x_test[:2000], y_test[:2000]  # evaluated up to four times per epoch
        args.seeds = args.other_seeds = 2  # a spread needs two

    def epochs(n):
        return 1 if args.quick else n

    n = len(x_train)
    models = [
        # name, trainer, seeds, training images, test evaluations per epoch (off the clock)
        ("Keras example convnet", plain_adam(cnn.build_keras_example_convnet, epochs(15), validation_split=0.1),
         range(args.other_seeds), n - n // 10, 1),
        ("original model", plain_adam(cnn.build_original_model, epochs(5)), range(args.other_seeds), n, 1),
        ("final CNN", scheduled(lambda seed: cnn.build_final_cnn(seed=seed), epochs(cnn.FINAL_EPOCHS),
                                cnn.FINAL_BATCH_SIZE, cnn.FINAL_MAX_LR), range(args.seeds), n, 2),
        # A few epochs only: four evaluations per epoch say when 99% was reached and kept.
        ("speed run", scheduled(lambda seed: cnn.build_speed_cnn(), epochs(cnn.SPEED_EPOCHS),
                                cnn.SPEED_BATCH_SIZE, cnn.SPEED_MAX_LR), range(args.seeds), n, 4),
    ]
    load_at_start = load_average() if args.quick else wait_until_idle()
    start = time.perf_counter()
    rows = [run_model(name, trainer, list(seeds), x_train, y_train, x_test, y_test, images, per_epoch)
            for name, trainer, seeds, images, per_epoch in models]
    reference = rows[0]
    for row in rows:
        # Ratios from median epoch times x epochs, measured in this one run (absolute times drift).
        row["time_vs_keras_example"] = round(row["median_train_seconds"] / reference["median_train_seconds"], 2)
        row["mean_time_vs_keras_example"] = round(row["train_seconds"] / reference["train_seconds"], 2)
        row["accuracy_minus_keras_example_points"] = round(100 * (row["test_accuracy"] - reference["test_accuracy"]), 2)

    header = (f"{'model':22} {'seeds':>5} {'epochs':>6} {'med s/ep':>8} {'x keras':>7} {'slow ep':>7} "
              f"{'mean acc':>8} {'sd':>6} {'min':>6} {'max':>6} {'s to 99%':>8} {'kept 99%':>8}")
    print("\n" + header + "\n" + "-" * len(header))

    def seconds(value):
        return "-" if value is None else f"{value:.0f}"
    for r in rows:
        print(f"{r['model']:22} {len(r['seeds']):5} {r['epochs']:6} {r['median_epoch_seconds']:8.1f} "
              f"{r['time_vs_keras_example']:7.2f} {r['slow_epochs']:>3}/{r['all_epochs']:<3} "
              f"{r['test_accuracy']:8.4f} {r['test_accuracy_sd']:6.4f} {r['test_accuracy_min']:6.4f} "
              f"{r['test_accuracy_max']:6.4f} {seconds(r['mean_seconds_to_99']):>8} "
              f"{seconds(r['mean_sustained_seconds_to_99']):>8}")
    print(f"x keras: median epoch time x epochs over the Keras example's; slow ep: epochs over {SLOW_EPOCH}x "
          "their run's median; s to 99%: first test evaluation >= 99% (mean over the seeds that reach it); "
          "kept 99%: from when it stays >= 99% to the end")
    if out is None:
        return
    import keras
    import tensorflow as tf

    write_results(out, rows, title="CNN benchmark",
                  description="Four CNNs trained in one run on the MNIST training images, several seeds each, "
                              "each final model tested once on the 10,000 test images; test accuracy is the "
                              "mean over seeds (sd, min and max beside it).",
                  extra={"machine": machine_info(tensorflow=tf.__version__, keras=keras.__version__),
                         "load_average_at_start": load_at_start,
                         # the idle check that holds for every run, not only the start
                         "max_other_cpu_share": max((run["other_cpu_share"] for row in rows for run in row["runs"]
                                                     if run["other_cpu_share"] is not None), default=None),
                         "total_minutes": round((time.perf_counter() - start) / 60, 1)})
    print(f"\nwrote {out}")


if __name__ == "__main__":
    run_script(main)
