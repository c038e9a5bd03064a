"""Where the final CNN's training epoch goes, and what makes it cheaper: short timings on this machine.

Two parts, both on the first ``--images`` training images (default 12,800: 100 steps of 128):

* **variants**: each is built and trained with ``model.fit`` for one warm-up epoch (tracing); then
  ``--repeats`` rounds each train every variant for one timed epoch, in turn (so a slow spell of
  the machine hits all of them, not one). Before ``mh.fit`` turned tf.data's autotuning off, whole
  epochs came in a fast and a slow mode (seen here: 2.7 s and 5.1 s for the same epoch); each
  variant's figure is still its fastest epoch, with the median beside it, as microseconds per image and as a ratio to the Keras
  example's (the anchor, timed in the same rounds). The variants change one thing at a time
  from the final CNN: the augmentation (Keras' three layers, none), batch normalization,
  ``steps_per_execution``, the batch size, narrower convolutions. A "tiny model" row (a softmax
  layer alone) measures what every step costs besides the network: feeding the batch, launching
  the step, the metrics.
* **layers**: the forward pass in training mode through each prefix of the final CNN (compiled,
  batches of 128); the differences between consecutive prefixes are each layer's forward time.
  The backward pass and Adam's update are the full step minus the forward pass.

Only the timing of a change is measured here; whether it costs accuracy is a question for the
validation split (``benchmarks/cnn_search.py``, at least 3 seeds per arm). Prints two tables and writes
mnist_helpers/book_results/timings/epoch_profile.json. Run from the repository root on an idle
machine (it waits until the load average is under 1)::

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/epoch_profile.py

``--quick`` uses 1,280 images and 2 repeats, no idle wait, and writes only to ``--out``.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import time
from pathlib import Path

import numpy as np

import mnist_helpers as mh
from mnist_helpers import recipes
from mnist_helpers.results import results_folder
from mnist_helpers.timing import (
    OtherCpuUse,
    load_average,
    machine_info,
    pass_seconds,
    run_script,
    wait_until_idle,
    write_timing_file,
)

RESULTS = results_folder() / "timings" / "epoch_profile.json"

# name: (builder keyword arguments for cnn.build_final_cnn, or a special model; fit settings). The
# final CNN's variants are changes to the package's recipe (one affine warp, batches of
# recipes.FINAL_BATCH_SIZE); "batch_size" defaults to 128, the Keras example's.
_RECIPE = dict(batch_size=recipes.FINAL_BATCH_SIZE)
VARIANTS = {
    "Keras example (anchor)": dict(model="keras_example"),
    "tiny model (step overhead)": dict(model="tiny"),
    "final CNN (the recipe)": _RECIPE,
    "final, Keras' three augmentation layers": dict(_RECIPE, build=dict(affine_augmentation=False)),
    "final, no augmentation": dict(_RECIPE, build=dict(augment=False)),
    "final, no batch norm": dict(_RECIPE, build=dict(batch_norm=False)),
    "final, steps_per_execution 16": dict(_RECIPE, steps_per_execution=16),
    "final, batch 128": dict(batch_size=128),
    "final, filters 16-24-48": dict(_RECIPE, build=dict(filters=(16, 24, 48))),
    "final, filters 12-24-48": dict(_RECIPE, build=dict(filters=(12, 24, 48))),
}


def epoch_clock():
    """A Keras callback whose ``seconds`` lists each epoch's wall-clock time (Keras imported on first use)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochClock()


def build(spec: dict):
    """The variant's model, built with seed 0."""
    import keras

    from mnist_helpers import cnn

    keras.utils.set_random_seed(0)
    if spec.get("model") == "keras_example":
        return cnn.build_keras_example_convnet()
    if spec.get("model") == "tiny":
        inputs = keras.Input(shape=(28, 28))
        x = keras.layers.Rescaling(1 / 255)(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name="tiny")
    return cnn.build_final_cnn(seed=0, **spec.get("build", {}))


def batch_size(spec: dict) -> int:
    """The variant's batch size: its own, or 128, the Keras example's."""
    return spec.get("batch_size", 128)


def compiled(spec: dict, x, repeats: int):
    """The variant's model, compiled as the book trains it."""
    import keras

    from mnist_helpers import cnn

    model = build(spec)
    if spec.get("model") in ("keras_example", "tiny"):
        optimizer = keras.optimizers.Adam()  # the Keras example as published: constant rate
    else:
        optimizer = keras.optimizers.Adam(cnn.warmup_cosine_schedule(
            1 + repeats, cnn.steps_per_epoch(len(x), batch_size(spec)), max_lr=cnn.FINAL_MAX_LR))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=spec.get("steps_per_execution", 1))
    return model


def one_epoch(model, spec: dict, x, y) -> float:
    """Seconds of one epoch of ``model.fit`` (the model keeps training where it stopped)."""
    clock = epoch_clock()
    mh.fit(model, x, y, epochs=1, batch_size=batch_size(spec), quiet=True, callbacks=[clock])
    return clock.seconds[0]


def interleaved_epoch_seconds(names: list[str], x, y, repeats: int) -> dict[str, list[float]]:
    """Per variant, the seconds of its ``repeats`` timed epochs, the variants taking turns each round."""
    models = {name: compiled(VARIANTS[name], x, repeats) for name in names}
    for name in names:  # the warm-up epoch: tracing and first-call costs, not timed
        one_epoch(models[name], VARIANTS[name], x, y)
    times = {name: [] for name in names}
    for round_ in range(repeats):
        order = names[round_ % len(names):] + names[:round_ % len(names)]  # a different first each round
        for name in order:
            times[name].append(one_epoch(models[name], VARIANTS[name], x, y))
    return times


def layer_forward_seconds(x, repeats: int) -> list[dict]:
    """Forward time in training mode of each layer of the final CNN (differences of prefix models)."""
    import keras
    import tensorflow as tf

    model = build({})
    batches = [tf.constant(x[i:i + 128]) for i in range(0, len(x) - 127, 128)]  # full batches only
    rows, previous = [], 0.0
    for layer in model.layers[1:]:  # the Input layer holds no computation
        prefix = keras.Model(model.inputs, layer.output)
        step = tf.function(lambda batch, prefix=prefix: prefix(batch, training=True), autograph=False)
        step(batches[0])  # trace before the clock starts
        total = min(pass_seconds(step, batches, repeats))  # the fastest pass, as for the variants
        rows.append({"layer": layer.name, "forward_seconds_to_here": round(total, 4),
                     "forward_seconds": round(max(total - previous, 0.0), 4)})
        previous = total
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12_800, help="training images per epoch (default 12,800)")
    parser.add_argument("--repeats", type=int, default=9, help="timed epochs per variant (default 9)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(VARIANTS), help="these variants only")
    parser.add_argument("--quick", action="store_true", help="1,280 images, 2 repeats; writes only to --out")
    parser.add_argument("--out", type=Path, default=None, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeats = 1280, 2
    if args.images < 256 or args.repeats < 1:
        parser.error(f"--images must be at least 256 and --repeats at least 1, got {args.images} and {args.repeats}")
    out = args.out if args.quick else (args.out or RESULTS)
    mh.setup_book()
    (x_train, y_train), _ = mh.load_mnist()
    x, y = x_train[:args.images], y_train[:args.images]
    load_at_start = load_average() if args.quick else wait_until_idle()
    names = args.only or list(VARIANTS)
    if "Keras example (anchor)" not in names:
        names.insert(0, "Keras example (anchor)")  # every ratio needs the anchor of the same run
    with OtherCpuUse() as variants_other:
        all_times = interleaved_epoch_seconds(names, x, y, args.repeats)
    rows = []
    for name, times in all_times.items():
        fastest, median = min(times), statistics.median(times)
        rows.append({"variant": name, **{k: v for k, v in VARIANTS[name].items() if k != "model"},
                     "images": len(x), "epoch_seconds": [round(t, 3) for t in times],
                     "min_epoch_seconds": round(fastest, 3), "median_epoch_seconds": round(median, 3),
                     "microseconds_per_image": round(1e6 * fastest / len(x), 1)})
    anchor = rows[0]
    for row in rows:
        row["time_vs_keras_example"] = round(row["min_epoch_seconds"] / anchor["min_epoch_seconds"], 2)
        row["median_time_vs_keras_example"] = round(row["median_epoch_seconds"] / anchor["median_epoch_seconds"], 2)
    print(f"{'variant':36} {'us/image':>9} {'vs Keras example':>17} {'(by medians)':>13}   "
          f"(fastest of {args.repeats} interleaved epochs; other CPU use {variants_other})")
    for row in rows:
        print(f"{row['variant']:36} {row['microseconds_per_image']:9.1f} {row['time_vs_keras_example']:17.2f} "
              f"{row['median_time_vs_keras_example']:13.2f}")

    with OtherCpuUse() as other:
        layers = layer_forward_seconds(x, args.repeats)
    full_step = next((r["min_epoch_seconds"] for r in rows if r["variant"] == "final CNN (today)"), None)
    forward = layers[-1]["forward_seconds_to_here"]
    print(f"\nforward pass in training mode, per layer ({len(x):,} images; other CPU use {other}):")
    for row in layers:
        row["share_of_forward"] = round(row["forward_seconds"] / forward, 3) if forward else None
        print(f"  {row['layer']:16} {row['forward_seconds']:7.3f} s  {row['share_of_forward'] or 0:6.1%}")
    if full_step is not None:
        print(f"forward {forward:.2f} s of a training epoch's {full_step:.2f} s; the backward pass, Adam's update "
              f"and the step overhead take the other {full_step - forward:.2f} s")
    if out is None:
        return
    import keras
    import tensorflow as tf

    data = {"title": "Epoch profile", "date": datetime.date.today().isoformat(),
            "description": "Fastest and median epoch time (interleaved rounds) of the final CNN and of variants that "
                           "change one thing (timing only; "
                           "accuracy is chosen on validation elsewhere), against the Keras example in the same run; "
                           "and the forward pass in training mode per layer.",
            "machine": machine_info(tensorflow=tf.__version__, keras=keras.__version__, numpy=np.__version__),
            "load_average_at_start": load_at_start, "images": len(x), "repeats": args.repeats,
            "variants": rows, "variants_other_cpu_share": variants_other.share,
            "layers": layers, "layers_other_cpu_share": other.share,
            "final_epoch_seconds": full_step, "final_forward_seconds": forward}
    write_timing_file(out, data)


if __name__ == "__main__":
    run_script(main)
