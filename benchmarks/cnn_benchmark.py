"""Train three CNNs on this machine in one run and record their speed and accuracy.

(a) the Keras code example "Simple MNIST convnet" (batch 128, 15 epochs, as published),
(b) the original model this book grew from (Adam, 5 epochs),
(c) the book's final CNN (chapter 9's recipe).

Each trains on the 60,000 training images and is evaluated once on the 10,000 test images.
Prints a table and writes benchmarks/results/cnn.json (the results format of ``mnist_helpers.results``).
Run from the repository root:

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_benchmark.py

Takes about 20 minutes on an idle 2-core CPU (any other load slows it a lot). ``--quick`` trains each for one epoch on 3,000
images (to check the script, not to measure anything).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import mnist_helpers as mh
from mnist_helpers import cnn
from mnist_helpers.results import machine_info, write_results

RESULTS = Path(__file__).parent / "results" / "cnn.json"


def plain_adam(build, epochs: int, batch_size: int, validation_split: float = 0.0):
    """A trainer for a model compiled as its source publishes it: Adam, constant learning rate."""
    def train(x, y):
        import keras

        keras.utils.set_random_seed(0)
        model = build()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history, seconds = mh.fit(model, x, y, epochs=epochs, batch_size=batch_size,
                                  validation_split=validation_split)
        return model, history, seconds
    return train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch on 3,000 images; writes nothing")
    args = parser.parse_args()
    mh.setup_book()
    (x_train, y_train), (x_test, y_test) = mh.load_mnist()
    if args.quick:
        x_train, y_train = x_train[:3000], y_train[:3000]

    def epochs(n):
        return 1 if args.quick else n

    runs = [
        # name, trainer returning (model, history, seconds), batch size, validation split
        ("Keras example convnet", plain_adam(cnn.build_keras_example_convnet, epochs(15), 128, 0.1), 128, 0.1),
        ("original model", plain_adam(cnn.build_original_model, epochs(5), 128), 128, 0.0),
        # Chapter 9's own recipe (Adam with the one-cycle schedule), seed 0.
        ("final CNN (chapter 9)",
         lambda x, y: cnn.train_final_cnn(x, y, epochs=epochs(cnn.FINAL_EPOCHS), seed=0),
         cnn.FINAL_BATCH_SIZE, 0.0),
    ]
    rows = []
    for name, trainer, batch, val_split in runs:
        print(f"\n{name}", flush=True)
        model, history, seconds = trainer(x_train, y_train)
        done = len(history)
        predictions = model.predict(x_test, verbose=0).argmax(axis=1)
        accuracy = float(np.mean(predictions == y_test))
        rows.append({"model": name, "params": int(model.count_params()), "epochs": done, "batch_size": batch,
                     "train_images": len(x_train) - int(len(x_train) * val_split),
                     "train_seconds": round(seconds, 1), "seconds_per_epoch": round(seconds / done, 1),
                     "test_accuracy": round(accuracy, 4), "test_errors": int(np.sum(predictions != y_test))})
        print(f"{name}: test accuracy {accuracy:.4f} in {seconds:.0f} s", flush=True)

    reference = rows[0]
    for row in rows:
        row["time_vs_keras_example"] = round(row["train_seconds"] / reference["train_seconds"], 2)
        row["seconds_per_epoch_vs_keras_example"] = round(row["seconds_per_epoch"] / reference["seconds_per_epoch"], 2)
        row["accuracy_minus_keras_example_points"] = round(100 * (row["test_accuracy"] - reference["test_accuracy"]), 2)

    header = f"{'model':24} {'params':>8} {'epochs':>6} {'s/epoch':>8} {'total s':>8} {'test acc':>9} {'x time':>7}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['model']:24} {r['params']:8,} {r['epochs']:6} {r['seconds_per_epoch']:8.1f} "
              f"{r['train_seconds']:8.0f} {r['test_accuracy']:9.4f} {r['time_vs_keras_example']:7.2f}")
    if args.quick:
        return
    import keras
    import tensorflow as tf

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS, rows, title="CNN benchmark",
                  description="Three CNNs trained in one run on the MNIST training images (the Keras example "
                              "holds out 10% for validation, as published), tested once on the 10,000 test images.",
                  extra={"machine": machine_info(tensorflow=tf.__version__, keras=keras.__version__)})
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
