"""Choose chapter 9's recipes on the validation split only (never the test set): candidates and ablations.

Each run trains one recipe with one seed on chapter 9's 55,000 training images and scores it on
the 5,000 held-out validation images after every epoch; the test images are not loaded. Two kinds
of run:

* candidates (``RECIPES``): recipes for the final CNN and for the speed run;
* ablations (``--ablations NAME``): candidate NAME with one part removed or swapped at a time
  (``ABLATIONS``), for chapter 9's table of what each part buys.

Prints one line per run and writes ``mnist_helpers/book_results/search/cnn_search.json`` (per run:
the recipe in full, validation accuracy per epoch, training seconds, and the share of the CPUs other
processes used meanwhile, 0 on an idle machine), which chapter 9 reads
(``mnist_helpers.results.read_search()``) as the evidence for its choices. Runs already in the file
(same name and seed) are skipped, so a search that takes hours can be stopped and resumed;
``--rerun`` replaces them.
Run from the repository root, on an idle machine (timings are compared; the other CPU use is recorded):

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_search.py --only narrow_20ep --seeds 0 1
    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_search.py --ablations narrow_20ep --seeds 0

``--quick`` trains each run for one epoch on 3,000 images (checks the script, writes nothing).
"""
from __future__ import annotations

import argparse
import json
import time

import mnist_helpers as mh
from mnist_helpers import cnn
from mnist_helpers.results import SEARCH_FILE, read_search, results_folder
from mnist_helpers.timing import OtherCpuUse

OUT = results_folder() / SEARCH_FILE

# Every argument spelled out, so that a recipe's meaning does not change with the package's defaults.
# "final": cnn.train_final_cnn (the final CNN, with augmentation and dropout); "speed":
# cnn.build_speed_cnn trained by cnn.train_with_schedule (no augmentation, no dropout).
_WIDE, _NARROW = [24, 48, 96], [16, 32, 64]
RECIPES = {
    "reference_30ep": dict(model="final", filters=_WIDE, epochs=30, batch_size=128, max_lr=3e-3),
    "15ep": dict(model="final", filters=_WIDE, epochs=15, batch_size=128, max_lr=3e-3),
    "batch256_15ep": dict(model="final", filters=_WIDE, epochs=15, batch_size=256, max_lr=4e-3),
    "narrow_20ep": dict(model="final", filters=_NARROW, epochs=20, batch_size=128, max_lr=3e-3),
    "narrow_30ep": dict(model="final", filters=_NARROW, epochs=30, batch_size=128, max_lr=3e-3),
    "speed_1ep_b128": dict(model="speed", filters=[24, 48], epochs=1, batch_size=128, max_lr=1e-2),
    "speed_2ep_b128": dict(model="speed", filters=[24, 48], epochs=2, batch_size=128, max_lr=1e-2),
    "speed_2ep_b256": dict(model="speed", filters=[24, 48], epochs=2, batch_size=256, max_lr=1e-2),
    "speed16_2ep_b128": dict(model="speed", filters=[16, 32], epochs=2, batch_size=128, max_lr=1e-2),
    "speed16_1ep_b64": dict(model="speed", filters=[16, 32], epochs=1, batch_size=64, max_lr=5e-3),
    "speed_3ep_b128": dict(model="speed", filters=[24, 48], epochs=3, batch_size=128, max_lr=1e-2),
    "speed_2ep_b128_lr5e-3": dict(model="speed", filters=[24, 48], epochs=2, batch_size=128, max_lr=5e-3),
    "speed32_2ep_b128": dict(model="speed", filters=[32, 64], epochs=2, batch_size=128, max_lr=1e-2),
    "speed_3ep_b256": dict(model="speed", filters=[24, 48], epochs=3, batch_size=256, max_lr=1e-2),
    "speed16_3ep_b128": dict(model="speed", filters=[16, 32], epochs=3, batch_size=128, max_lr=1e-2),
}

# Chapter 9's ablation table: one change to a final-CNN candidate at a time (label: change).
ABLATIONS = {
    "no batch normalization": dict(batch_norm=False),
    "no augmentation": dict(augment=False),
    "no dropout": dict(dropout=0.0),
    "constant learning rate 1e-3": dict(constant_lr=1e-3),
    "3x3 first convolution": dict(first_kernel=3),
    "half the epochs": "half",  # resolved against the candidate's epochs
}


def ablation_recipe(base: str, label: str) -> dict:
    """Candidate ``base`` with the change ``ABLATIONS[label]``."""
    recipe = RECIPES[base]
    if recipe["model"] != "final":
        raise SystemExit(f"--ablations needs a final-CNN candidate; {base!r} is a speed-run recipe")
    change = ABLATIONS[label]
    return {**recipe, **({"epochs": max(1, recipe["epochs"] // 2)} if change == "half" else change)}


def train(recipe: dict, seed: int, x_train, y_train, validation_data):
    """Train one recipe with one seed; returns (model, history, seconds)."""
    recipe = dict(recipe)
    if recipe.pop("model") == "final":
        return cnn.train_final_cnn(x_train, y_train, validation_data, seed=seed, quiet=True, **recipe)
    import keras

    keras.utils.set_random_seed(seed)
    model = cnn.build_speed_cnn(filters=recipe.pop("filters"))
    return cnn.train_with_schedule(model, x_train, y_train, validation_data, quiet=True, **recipe)


def load_runs() -> list[dict]:
    runs = read_search(OUT)["runs"] if OUT.exists() else []
    for run in runs:  # runs written before recipes were stored in full (all candidates, unchanged since)
        if "args" not in run:
            run["candidate"], run["args"] = run["recipe"], RECIPES[run["recipe"]]
    return runs


def save_runs(runs: list[dict]) -> None:
    import keras
    import tensorflow as tf

    from mnist_helpers.timing import machine_info

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "description": "Chapter 9's candidate recipes and ablations, trained on 55,000 images and scored on the "
                       "5,000 validation images (chapter 9's split, seed 0) after every epoch. The test set is "
                       "not used. Each run holds its recipe in full.",
        "machine": machine_info(tensorflow=tf.__version__, keras=keras.__version__),
        "ablations": {label: (change if change != "half" else "half the candidate's epochs")
                      for label, change in ABLATIONS.items()},
        "runs": runs,
    }, indent=1) + "\n")


def planned(args) -> list[tuple[str, dict, dict]]:
    """(run name, recipe, fields that say what the run is) for every run the arguments ask for."""
    if args.ablations:
        base = args.ablations
        return [(base, RECIPES[base], {"candidate": base})] + [
            (f"{base}: {label}", ablation_recipe(base, label), {"candidate": base, "ablation": label})
            for label in ABLATIONS]
    return [(name, RECIPES[name], {"candidate": name}) for name in args.only or RECIPES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", choices=sorted(RECIPES), metavar="NAME",
                        help=f"these candidates only, of: {', '.join(RECIPES)}")
    parser.add_argument("--ablations", choices=sorted(RECIPES), metavar="NAME",
                        help="the ablations of this final-CNN candidate (and the candidate itself)")
    parser.add_argument("--rerun", action="store_true", help="train runs already in the file again and replace them")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 3,000 images; writes nothing")
    args = parser.parse_args()
    if args.only and args.ablations:
        parser.error("--only and --ablations do not combine: give one of them")
    plan = planned(args)  # checks the arguments before the slow start of TensorFlow
    mh.setup_book()
    (x_all, y_all), _ = mh.load_mnist()
    (x_train, y_train), (x_val, y_val) = mh.train_val_split(x_all, y_all, val_size=5000, seed=0)
    if args.quick:
        x_train, y_train = x_train[:3000], y_train[:3000]
    runs = [] if args.quick else load_runs()
    for name, recipe, kind in plan:
        for seed in args.seeds:
            done = [i for i, run in enumerate(runs) if (run["recipe"], run["seed"]) == (name, seed)]
            if done and not args.rerun:
                continue
            recipe = dict(recipe, **({"epochs": 1} if args.quick else {}))
            with OtherCpuUse() as other:
                _, history, seconds = train(recipe, seed, x_train, y_train, (x_val, y_val))
            val = history["val_accuracy"].round(4).tolist()
            print(f"{name:40} seed {seed}: val {val[-1]:.4f} (best {max(val):.4f}) in {seconds:.0f} s "
                  f"({seconds / len(val):.1f} s/epoch; other processes used {other} of the CPUs)",
                  flush=True)
            if args.quick:
                continue
            run = {"recipe": name, **kind, "seed": seed, "args": recipe, "val_accuracy": val,
                   "train_seconds": round(seconds, 1), "other_cpu_share": other.share, "steal_share": other.steal_share,
                   "date": time.strftime("%Y-%m-%d")}
            runs = [r for i, r in enumerate(runs) if i not in done] + [run]
            save_runs(runs)


if __name__ == "__main__":
    try:
        main()
    except mh.MnistNotFoundError as exc:  # the message lists the sources tried and how to fix it
        raise SystemExit(f"error: {exc}") from None
