"""How long `python -m mnist_helpers.predict` takes: start-up, one image end to end, one image in-process.

Prints three medians (nothing is written to disk):

- ``--help`` in a subprocess (what the command costs before TensorFlow: should stay well
  under a second);
- one image end to end in a subprocess with the shipped model (TensorFlow start-up included);
- ``load_image`` + ``predict_images`` for one image in this process, the model already loaded
  and one warm-up prediction done (Keras traces its predict function on the first call).

Run from the repository root::

    .venv/bin/python benchmarks/predict_benchmark.py [--repeats N]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from mnist_helpers.checks import check_integer
from mnist_helpers.predict import sample_digit_files

# One of the package's sample digits (mnist_helpers/sample_digits/).
IMAGE = next(path for path in sample_digit_files() if path.name == "typed_3_dark_on_light.png")


def median_seconds(run, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``run()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command(*args: str):
    """A callable running ``python -m mnist_helpers.predict *args``, failing on a non-zero exit."""
    return lambda: subprocess.run([sys.executable, "-m", "mnist_helpers.predict", *args],
                                  check=True, capture_output=True)


def in_process(repeats: int) -> float:
    from mnist_helpers import predict

    model = predict.load_model()
    predict.predict_images(model, predict.load_image(IMAGE)[None])  # warm-up: tracing, not speed
    return median_seconds(lambda: predict.predict_images(model, predict.load_image(IMAGE)[None]), repeats)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per measurement (default: 5, and 3 for the end-to-end run)")
    repeats = parser.parse_args(argv).repeats
    if repeats is not None:
        try:
            check_integer(repeats, "--repeats", low=1)
        except ValueError as exc:
            parser.error(str(exc))
    rows = [
        ("--help (subprocess)", median_seconds(command("--help"), repeats or 5), repeats or 5),
        (f"{IMAGE.name} end to end (subprocess)", median_seconds(command(str(IMAGE)), repeats or 3), repeats or 3),
        ("load_image + predict_images (in-process)", in_process(repeats or 5), repeats or 5),
    ]
    for label, seconds, runs in rows:
        print(f"{label:<50} {seconds * 1000:9.1f} ms  (median of {runs})")


if __name__ == "__main__":
    main()
