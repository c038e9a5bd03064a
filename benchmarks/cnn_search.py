"""Search for a faster final-CNN recipe on the validation split only (never the test set).

Each candidate recipe trains ``cnn.train_final_cnn`` on chapter 9's 55,000 training images and
is scored after every epoch on the 5,000 held-out validation images; the test images are not
loaded. Prints one line per run and writes ``benchmarks/search/cnn_search.json`` (validation
accuracy per epoch, seconds per epoch, the recipe), which chapter 9 shows as the evidence for
its choice. Run from the repository root, on an idle machine (timings are compared):

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_search.py --seeds 0 1
    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_search.py --only batch256_15ep

``--quick`` trains each recipe for one epoch on 3,000 images (checks the script, writes nothing).
Runs already in the JSON (same recipe name and seed) are skipped, so a search can be resumed.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import mnist_helpers as mh
from mnist_helpers import cnn

OUT = Path(__file__).parent / "search" / "cnn_search.json"

# name: keyword arguments of cnn.train_final_cnn ("final") or of cnn.train_with_schedule with
# cnn.build_speed_cnn(filters) ("speed"). The reference is chapter 9's committed recipe.
RECIPES = {
    "reference_30ep": dict(epochs=30),
    "15ep": dict(epochs=15),
    "batch256_15ep": dict(epochs=15, batch_size=256, max_lr=4e-3),
    "narrow_20ep": dict(epochs=20, filters=(16, 32, 64)),
    "narrow_30ep": dict(epochs=30, filters=(16, 32, 64)),
    "speed_1ep_b128": dict(model="speed", epochs=1, batch_size=128, max_lr=1e-2),
    "speed_2ep_b128": dict(model="speed", epochs=2, batch_size=128, max_lr=1e-2),
    "speed_2ep_b256": dict(model="speed", epochs=2, batch_size=256, max_lr=1e-2),
    "speed16_2ep_b128": dict(model="speed", epochs=2, batch_size=128, max_lr=1e-2, filters=(16, 32)),
    "speed16_1ep_b64": dict(model="speed", epochs=1, batch_size=64, max_lr=5e-3, filters=(16, 32)),
    "speed_3ep_b128": dict(model="speed", epochs=3, batch_size=128, max_lr=1e-2),
    "speed_2ep_b128_lr5e-3": dict(model="speed", epochs=2, batch_size=128, max_lr=5e-3),
    "speed32_2ep_b128": dict(model="speed", epochs=2, batch_size=128, max_lr=1e-2, filters=(32, 64)),
}


def train(recipe: dict, seed: int, x_train, y_train, validation_data):
    """Train one recipe with one seed; returns (model, history, seconds)."""
    recipe = dict(recipe)
    if recipe.pop("model", "final") == "final":
        return cnn.train_final_cnn(x_train, y_train, validation_data, seed=seed, quiet=True, **recipe)
    import keras

    keras.utils.set_random_seed(seed)
    model = cnn.build_speed_cnn(**({"filters": recipe.pop("filters")} if "filters" in recipe else {}))
    return cnn.train_with_schedule(model, x_train, y_train, validation_data, quiet=True, **recipe)


def load_runs() -> list[dict]:
    return json.loads(OUT.read_text())["runs"] if OUT.exists() else []


def save_runs(runs: list[dict]) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "description": "Final-CNN recipes trained on 55,000 images, scored on the 5,000 validation images "
                       "(chapter 9's split, seed 0) after every epoch. The test set is not used.",
        "machine": {"cpus": os.cpu_count()},
        "recipes": {name: RECIPES[name] for name in sorted({run["recipe"] for run in runs}) if name in RECIPES},
        "runs": runs,
    }, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", choices=sorted(RECIPES), help="these recipes only")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 3,000 images; writes nothing")
    args = parser.parse_args()
    mh.setup_book()
    (x_all, y_all), _ = mh.load_mnist()
    (x_train, y_train), (x_val, y_val) = mh.train_val_split(x_all, y_all, val_size=5000, seed=0)
    if args.quick:
        x_train, y_train = x_train[:3000], y_train[:3000]
    runs = [] if args.quick else load_runs()
    done = {(run["recipe"], run["seed"]) for run in runs}
    for name in args.only or RECIPES:
        for seed in args.seeds:
            if (name, seed) in done:
                continue
            recipe = dict(RECIPES[name], **({"epochs": 1} if args.quick else {}))
            load = os.getloadavg()[0]
            _, history, seconds = train(recipe, seed, x_train, y_train, (x_val, y_val))
            val = history["val_accuracy"].round(4).tolist()
            load_end = os.getloadavg()[0]
            print(f"{name:24} seed {seed}: val {val[-1]:.4f} (best {max(val):.4f}) "
                  f"in {seconds:.0f} s ({seconds / len(val):.1f} s/epoch, load {load:.1f}-{load_end:.1f})",
                  flush=True)
            if args.quick:
                continue
            runs.append({"recipe": name, "seed": seed, "val_accuracy": val,
                         "train_seconds": round(seconds, 1), "load_at_start": round(load, 2),
                         "load_at_end": round(load_end, 2),
                         "date": time.strftime("%Y-%m-%d")})
            save_runs(runs)


if __name__ == "__main__":
    main()
