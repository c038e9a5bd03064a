"""Full-data figures for chapter 2's classic baselines: every method on all 60,000 training images.

Fits each method of ``mnist_helpers.baselines`` on the official 60,000 training images, scores it on
the official 10,000 test images, times fit and predict, prints a table and writes
``mnist_helpers/book_results/baselines.json`` (the results format of ``mnist_helpers.results``), with the
machine and the indices of each method's misclassified test images, for the book's results table
and later chapters. kNN's k is chosen on a validation split
of the training set, as in the chapter. Chapter 2 checks that its own run gets the same accuracies.
The RBF SVM on raw pixels is the slow one: about 4 minutes on an idle 2-core CPU, more when shared.

Run it from the repository root, under the lock that serialises full-data runs on the shared CPU::

    flock /tmp/mnist_full.lock .venv/bin/python benchmarks/baselines.py

Options (``--help``) make smaller smoke runs, written elsewhere with ``--out``.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn

import mnist_helpers as mh
from mnist_helpers import baselines as bl
from mnist_helpers.results import results_folder, write_results
from mnist_helpers.timing import load_average, machine_info, run_script

# The same settings as chapter 2 (the chapter checks that they agree).
LOGREG_C = 0.1
SVM_C = 10.0
N_COMPONENTS = 50
K_CANDIDATES = (1, 3, 5, 7, 9)
VAL_FRACTION = 0.1  # 6,000 of the 60,000 training images
SEED = 0
OUT = (results_folder() / "baselines.json").resolve()  # the package's results, which chapters 2 and 10 read


def choose_k(x_train, y_train, n_components):
    """k with the best accuracy on a stratified validation split of the training images."""
    (x_fit, y_fit), (x_val, y_val) = mh.train_val_split(x_train, y_train, val_size=VAL_FRACTION, seed=SEED)
    scores = bl.knn_accuracy_by_k(x_fit, y_fit, x_val, y_val, K_CANDIDATES, n_components)
    return int(scores.idxmax()), {int(k): round(v, 4) for k, v in scores.items()}


def run(n_train: int, n_test: int, methods) -> list[dict]:
    """Fit and score each method; one row of the results format per method."""
    (x_train, y_train), (x_test, y_test) = mh.load_mnist()
    x_train, y_train = mh.subsample(x_train, y_train, n_train, seed=SEED)
    x_test, y_test = mh.subsample(x_test, y_test, n_test, seed=SEED)
    results = []
    for method in methods:
        pca = N_COMPONENTS if method.startswith("PCA") else None
        params, extra = {"n_components": pca}, {}
        if method.endswith("kNN"):
            k, extra["validation_accuracy_by_k"] = choose_k(x_train, y_train, pca)
            params["k"] = k
            model = bl.knn(k, pca)
        elif method.endswith("SVM (RBF)"):
            params.update(C=SVM_C, gamma="scale")
            model = bl.rbf_svm(SVM_C, "scale", pca)
        else:
            params.update(C=LOGREG_C)
            model = bl.logistic_regression(LOGREG_C, n_components=pca)
        # kNN already predicts on both cores (n_jobs=2); libsvm predicts on one, so split its work in two.
        jobs = 2 if method.endswith("SVM (RBF)") else 1
        result = bl.fit_and_score(method, model, x_train, y_train, x_test, y_test, predict_jobs=jobs)
        wrong = np.flatnonzero(result.y_pred != y_test)
        if method.endswith("SVM (RBF)"):
            extra["support_vectors"] = int(model[-1].n_support_.sum())
        print(f"{method:18s} test accuracy {result.accuracy:.4f}  fit {result.fit_seconds:7.1f} s  "
              f"predict {result.predict_seconds:6.1f} s  {params}", flush=True)
        results.append({"model": method, "params": params, "train_images": len(x_train),
                        "test_images": len(x_test), "test_accuracy": result.accuracy,
                        "train_seconds": result.fit_seconds, "predict_seconds": result.predict_seconds,
                        **extra, "misclassified_test_indices": wrong.tolist() if n_test == 10000 else None})
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-size", type=int, default=60000, help="training images (default: all 60,000)")
    parser.add_argument("--test-size", type=int, default=10000, help="test images (default: all 10,000)")
    parser.add_argument("--methods", nargs="+", default=list(bl.METHODS), choices=bl.METHODS)
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON to write (default {OUT})")
    args = parser.parse_args(argv)
    if args.out.resolve() == OUT and ((args.train_size, args.test_size) != (60000, 10000)
                                      or list(args.methods) != list(bl.METHODS)):
        parser.error(f"{OUT} holds full-data figures of every method only: pass --out for a smaller run")

    start = time.perf_counter()
    # The load average says whether the CPU was free, i.e. whether the seconds are clean.
    machine = machine_info(platform=platform.platform(), numpy=np.__version__, scikit_learn=sklearn.__version__,
                           load_average_at_start=load_average())
    rows = run(args.train_size, args.test_size, args.methods)
    machine["load_average_at_end"] = load_average()
    table = bl.comparison_table([{"method": r["model"], "train images": r["train_images"],
                                  "test accuracy": r["test_accuracy"], "fit s": r["train_seconds"],
                                  "predict s": r["predict_seconds"]} for r in rows])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.drop(columns="published as").round(2).to_string(index=False))
    minutes = round((time.perf_counter() - start) / 60, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(
        args.out, rows, title="Classic baselines", chapter="02_classic_baselines",
        description="Chapter 2's classic baselines (scikit-learn) fitted on the MNIST training images "
                    "and scored on the official test images; seconds are wall-clock on the machine below.",
        extra={"command": " ".join([Path(sys.executable).name, *sys.argv]), "total_minutes": minutes,
               "machine": machine,
               "data": {"train_images": args.train_size, "test_images": args.test_size,
                        "validation_fraction_for_k": VAL_FRACTION, "seed": SEED,
                        "preprocessing": "pixels scaled to [0, 1]; PCA where the method says so"},
               "published_source": bl.PUBLISHED_SOURCE,
               "published": bl.published_results().to_dict(orient="records")})
    print(f"wrote {args.out} ({minutes} min)")
    return 0


if __name__ == "__main__":
    run_script(main)
