"""Train four CNNs on this machine in one run, several seeds each, and record speed and accuracy.

(a) the Keras code example "Simple MNIST convnet" (batch 128, 15 epochs, as published),
(b) the original model this book grew from (Adam, 5 epochs),
(c) the book's final CNN (chapter 9's recipe),
(d) the speed run: the fastest recipe chapter 9 found to reach 99% (``cnn.build_speed_cnn``).

Each trains on the 60,000 training images (the Keras example holds out 10%, as published) and
its final model is tested once on the 10,000 test images. After every epoch the test accuracy is
also measured off the training clock, for the time-to-accuracy plot only: nothing is chosen from
it. Prints a table and writes mnist_helpers/book_results/cnn.json (``mnist_helpers.results`` format):
per model the seeds, mean/sd/min/max test accuracy, mean training time and the time to reach
99.0%, 99.26% and 99.5%. Run from the repository root, on an idle machine (it first waits until
the 1-minute load average is under 1, and records every run's other CPU use):

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_benchmark.py --seeds 5 --other-seeds 3

``--quick`` trains each for one epoch on 3,000 images (checks the script, writes nothing).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import mnist_helpers as mh
from mnist_helpers import cnn
from mnist_helpers.results import results_folder, seed_summary, write_results
from mnist_helpers.timing import OtherCpuUse, load_average, machine_info, wait_until_idle
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


def run_model(name, trainer, seeds, x_train, y_train, x_test, y_test, train_images: int) -> dict:
    """Train ``trainer`` once per seed; the row of the results file, with per-seed details."""
    runs = []
    for seed in seeds:
        curve = AccuracyCurve(x_test, y_test)
        with OtherCpuUse() as other:  # 0 on an idle machine: the timings compare only then
            model, seconds = trainer(x_train, y_train, seed, [curve])
        seconds -= curve.evaluation_seconds  # fit's clock also ran while the curve tested each epoch
        predictions = model.predict(x_test, verbose=0).argmax(axis=1)
        accuracy = float(np.mean(predictions == y_test))
        runs.append({"seed": seed, "test_accuracy": accuracy, "train_seconds": round(seconds, 1),
                     "other_cpu_share": other.share, "steal_share": other.steal_share,
                     "curve_seconds": [round(s, 1) for s in curve.seconds],
                     "curve_test_accuracy": [round(a, 4) for a in curve.accuracy],
                     **{f"seconds_to_{100 * t:g}": _rounded(curve.seconds_to_reach(t)) for t in THRESHOLDS}})
        stolen = "unknown" if other.steal_share is None else f"{other.steal_share:.1%}"  # part of `other`
        print(f"{name}, seed {seed}: test accuracy {accuracy:.4f} in {seconds:.0f} s "
              f"(other use of the CPUs {other}, of which the hypervisor {stolen})", flush=True)
    accuracies = [r["test_accuracy"] for r in runs]
    stats = seed_summary(accuracies)
    row = {"model": name, "test_accuracy": stats["mean"], "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
           "test_accuracy_sd": stats["sd"], "test_accuracy_min": stats["min"], "test_accuracy_max": stats["max"],
           "seeds": list(seeds), "params": int(model.count_params()), "epochs": len(runs[0]["curve_seconds"]),
           "train_images": train_images, "runs": runs}
    for t in THRESHOLDS:
        reached = [r[f"seconds_to_{100 * t:g}"] for r in runs if r[f"seconds_to_{100 * t:g}"] is not None]
        row[f"mean_seconds_to_{100 * t:g}"] = round(float(np.mean(reached)), 1) if reached else None
        row[f"seeds_reaching_{100 * t:g}"] = len(reached)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the final CNN and the speed run (>= 5 for the record)")
    parser.add_argument("--other-seeds", type=int, default=3, help="seeds of the Keras example and the original model")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 3,000 images, 2 seeds; writes nothing")
    args = parser.parse_args()
    mh.setup_book()
    (x_train, y_train), (x_test, y_test) = mh.load_mnist()
    if args.quick:
        x_train, y_train = x_train[:3000], y_train[:3000]
        args.seeds = args.other_seeds = 2  # a spread needs two

    def epochs(n):
        return 1 if args.quick else n

    n = len(x_train)
    models = [
        # name, trainer, seeds, training images
        ("Keras example convnet", plain_adam(cnn.build_keras_example_convnet, epochs(15), validation_split=0.1),
         range(args.other_seeds), n - n // 10),
        ("original model", plain_adam(cnn.build_original_model, epochs(5)), range(args.other_seeds), n),
        ("final CNN", scheduled(lambda seed: cnn.build_final_cnn(seed=seed), epochs(cnn.FINAL_EPOCHS),
                                cnn.FINAL_BATCH_SIZE, cnn.FINAL_MAX_LR), range(args.seeds), n),
        ("speed run", scheduled(lambda seed: cnn.build_speed_cnn(), epochs(cnn.SPEED_EPOCHS),
                                cnn.SPEED_BATCH_SIZE, cnn.SPEED_MAX_LR), range(args.seeds), n),
    ]
    load_at_start = load_average() if args.quick else wait_until_idle()
    start = time.perf_counter()
    rows = [run_model(name, trainer, list(seeds), x_train, y_train, x_test, y_test, images)
            for name, trainer, seeds, images in models]
    reference = rows[0]
    for row in rows:
        row["time_vs_keras_example"] = round(row["train_seconds"] / reference["train_seconds"], 2)
        row["accuracy_minus_keras_example_points"] = round(100 * (row["test_accuracy"] - reference["test_accuracy"]), 2)

    header = (f"{'model':22} {'seeds':>5} {'epochs':>6} {'mean s':>7} {'x keras':>7} "
              f"{'mean acc':>8} {'sd':>6} {'min':>6} {'max':>6} {'s to 99%':>8}")
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        to99 = r["mean_seconds_to_99"]
        print(f"{r['model']:22} {len(r['seeds']):5} {r['epochs']:6} {r['train_seconds']:7.0f} "
              f"{r['time_vs_keras_example']:7.2f} {r['test_accuracy']:8.4f} {r['test_accuracy_sd']:6.4f} "
              f"{r['test_accuracy_min']:6.4f} {r['test_accuracy_max']:6.4f} {'-' if to99 is None else f'{to99:.0f}':>8}")
    if args.quick:
        return
    import keras
    import tensorflow as tf

    write_results(RESULTS, rows, title="CNN benchmark",
                  description="Four CNNs trained in one run on the MNIST training images, several seeds each, "
                              "each final model tested once on the 10,000 test images; test accuracy is the "
                              "mean over seeds (sd, min and max beside it).",
                  extra={"machine": machine_info(tensorflow=tf.__version__, keras=keras.__version__),
                         "load_average_at_start": load_at_start,
                         # the idle check that holds for every run, not only the start
                         "max_other_cpu_share": max((run["other_cpu_share"] for row in rows for run in row["runs"]
                                                     if run["other_cpu_share"] is not None), default=None),
                         "total_minutes": round((time.perf_counter() - start) / 60, 1)})
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    try:
        main()
    except (mh.MnistNotFoundError, TimeoutError) as exc:  # each message says what is wrong and the fix
        raise SystemExit(f"error: {exc}") from None
