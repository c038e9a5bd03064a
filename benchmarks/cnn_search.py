"""Choose chapter 9's recipes on the validation split only (never the test set): candidates and ablations.

Each run trains one named recipe with one seed on chapter 9's 55,000 training images and scores it
on the 5,000 held-out validation images after every epoch; the test images are not loaded. Two kinds
of run:

* candidates (``RECIPES``): recipes for the final CNN and for the speed run;
* ablations (``--ablations NAME``): candidate NAME with one part removed or swapped at a time
  (``ABLATIONS``), for chapter 9's table of what each part buys.

The runs live in an Optuna study (one trial per run; the recipe in full, the validation accuracy
per epoch (measured off the training clock; for speed-run recipes also every quarter epoch, in
``val_curve`` with the training seconds so far), the validation images the final model gets
wrong (``val_wrong``, their indices: what a paired comparison of two runs needs), the training
seconds, each epoch's seconds and the machine's other CPU use are the trial's attributes). The
script puts every asked-for run that the study does not hold yet in the study's queue; its workers,
``--workers N`` processes here, each take the next queued run, train it and record it. Optuna's
storage hands each queued run to exactly one worker, so workers on several machines can share one
study. A stopped search resumes where it stopped: finished runs are kept, never trained again
(``--rerun`` trains them again; the export keeps the newer). After every finished run, and when
the workers are done, the study is exported to ``mnist_helpers/book_results/search/cnn_search.json``, the file chapter 9 reads
(``mnist_helpers.results.read_search()``); a new study starts from that file's runs.

The rule that chooses (fixed before the runs it judges, and applied by chapter 9 to every final-CNN
candidate with at least 3 seeds): ``mnist_helpers.stats.select_fastest``: the best candidate has
the highest mean validation accuracy; another is *worse* only if its paired difference from the
best (seed k with seed k) is more than 2 SE below zero and McNemar's p on the pooled discordant
images is under 0.05; of the best and the candidates not worse, the fastest (median epoch time x
epochs) is chosen. The speed run's rule: of the speed-run candidates with at least 3 seeds whose
every seed keeps 99.0% validation accuracy from some evaluation to the end, the one with the
smallest mean sustained time to 99.0% (``val_curve``, training seconds). Ablations of the chosen
recipe use other seeds than the runs that chose it (3, 4, 5), its own reference arm included. A new
round of candidates goes to its own ``--study`` and ``--export`` file until chapter 9 reads it
(2026-12-03: ``--study choice --export mnist_helpers/book_results/search/choice.json``).

The store (``--storage``): by default the journal file ``benchmarks/cnn_search.journal`` (not
committed: the JSON is the record), safe for many processes on one machine, and on a shared NFS
folder for many machines; or a database URL (``sqlite:///search.db``; for many machines a server,
``postgresql://user:password@host/db``, with its driver installed).

Timings are compared in chapter 9, so a timed search runs one run at a time (the default,
``--workers 1``) on an idle machine; each run records the share of the CPUs other processes used
meanwhile. Runs trained beside other workers are marked ``"timing_valid": false`` with their worker
count: parallel workers are for accuracy-only searches or machines with more cores.
Run from the repository root:

    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_search.py --only narrow_20ep --seeds 0 1
    MNIST_DATA=../shared/data/mnist .venv/bin/python benchmarks/cnn_search.py --ablations narrow_20ep --seeds 0
    .venv/bin/python benchmarks/cnn_search.py --export-only     # the store to the chapter's JSON, no training

Many machines, one database: run the same command on each (each queues nothing new, and its workers
take runs from the shared queue), then ``--export-only`` on one of them:

    MNIST_DATA=... python benchmarks/cnn_search.py --storage postgresql://user:password@host/db --seeds 0 1 2 --workers 4

``--quick`` trains each run for one epoch on 3,000 images in a temporary store (checks the script,
writes nothing).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_helpers.results import SEARCH_FILE, read_search, results_folder

HERE = Path(__file__).resolve().parent
DEFAULT_STORAGE = HERE / "cnn_search.journal"
DEFAULT_STUDY = "cnn_search"
TRAIN_IMAGES, VAL_IMAGES = 55_000, 5_000  # chapter 9's split of the 60,000 training images (seed 0)
QUICK_IMAGES = 3_000
SPEED_EVALUATIONS = 4  # validation evaluations per epoch of a speed-run recipe (one per epoch for the others)

# Every argument spelled out, so that a recipe's meaning does not change with the package's defaults.
# "final": cnn.train_final_cnn (the final CNN, with augmentation and dropout); "speed":
# cnn.build_speed_cnn trained by cnn.train_with_schedule (no augmentation, no dropout).
_WIDE, _NARROW = [24, 48, 96], [16, 32, 64]
RECIPES = {
    # Run on 2026-11-26 (one or two seeds, on another processor): the earlier round's record.
    "batch256_15ep": dict(model="final", filters=_WIDE, epochs=15, batch_size=256, max_lr=4e-3),
    "narrow_20ep": dict(model="final", filters=_NARROW, epochs=20, batch_size=128, max_lr=3e-3),
    # The round of 2026-12-03 (study "choice", 3 seeds each): today's recipe (narrow_20ep) against half
    # the epochs, with Keras' three augmentation layers or one affine warp per image
    # (DigitAffineAugmentation, same ranges), and the warp with batches of 256 (peak rate x 4/3).
    "narrow_10ep": dict(model="final", filters=_NARROW, epochs=10, batch_size=128, max_lr=3e-3),
    "narrow_10ep_affine": dict(model="final", filters=_NARROW, epochs=10, batch_size=128, max_lr=3e-3,
                               affine_augmentation=True),
    "narrow_10ep_affine_b256": dict(model="final", filters=_NARROW, epochs=10, batch_size=256, max_lr=4e-3,
                                    affine_augmentation=True),
    # The round of 2026-12-04 (study "choice", seeds 0-2), after mh.fit stopped tf.data's autotuning (its
    # slow epochs): the chosen recipe with 8 epochs.
    "narrow_8ep_affine_b256": dict(model="final", filters=_NARROW, epochs=8, batch_size=256, max_lr=4e-3,
                                   affine_augmentation=True),
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

DESCRIPTION = ("Chapter 9's candidate recipes and ablations, trained on 55,000 images and scored on the 5,000 "
               "validation images (chapter 9's split, seed 0) after every epoch. The test set is not used. "
               "Each run holds its recipe in full.")


# ------------------------------------------------------------------ what to run

def ablation_recipe(recipes: dict, base: str, label: str) -> dict:
    """Candidate ``base`` with the change ``ABLATIONS[label]``."""
    recipe = recipes[base]
    if recipe["model"] != "final":
        raise SystemExit(f"error: --ablations needs a final-CNN candidate; {base!r} is a speed-run recipe")
    change = ABLATIONS[label]
    return {**recipe, **({"epochs": max(1, recipe["epochs"] // 2)} if change == "half" else change)}


def planned(recipes: dict, names, ablations, seeds, quick: bool, train_images: int = TRAIN_IMAGES,
            val_images: int = VAL_IMAGES) -> list[dict]:
    """Every run the arguments ask for, each in full: what a trial of the study is (its ``plan``)."""
    if ablations:
        kinds = [(ablations, recipes[ablations], {"candidate": ablations})] + [
            (f"{ablations}: {label}", ablation_recipe(recipes, ablations, label),
             {"candidate": ablations, "ablation": label}) for label in ABLATIONS]
    else:
        kinds = [(name, recipes[name], {"candidate": name}) for name in names or recipes]
    images = dict(train_images=min(train_images, QUICK_IMAGES) if quick else train_images, val_images=val_images)
    return [{"recipe": name, **kind, "seed": seed, "args": dict(recipe, **({"epochs": 1} if quick else {})), **images}
            for name, recipe, kind in kinds for seed in seeds]


def plan_key(plan: dict) -> str:
    """What makes two runs the same run: the name, the seed, the recipe in full and the data."""
    return json.dumps([plan[key] for key in ("recipe", "seed", "args", "train_images", "val_images")], sort_keys=True)


def read_recipes(path: str | None) -> dict:
    """The named recipes: ``RECIPES``, or a JSON object ``{name: recipe}`` read from ``path``."""
    if path is None:
        return RECIPES
    try:
        recipes = json.loads(Path(path).read_text(encoding="utf8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"error: --recipes {path}: {exc}: give a JSON file of {{name: recipe}}") from None
    if not isinstance(recipes, dict) or not recipes:
        raise SystemExit(f"error: --recipes {path}: expected a non-empty JSON object {{name: recipe}}")
    bad = [name for name, recipe in recipes.items() if not isinstance(recipe, dict) or recipe.get("model") not in
           ("final", "speed") or not {"filters", "epochs", "batch_size"} <= recipe.keys()]
    if bad:
        raise SystemExit(f"error: --recipes {path}: each recipe needs model ('final' or 'speed'), filters, epochs "
                         f"and batch_size, spelled out; these do not: {', '.join(bad)}")
    return recipes


# ------------------------------------------------------------------ the store

def open_study(storage: str, study_name: str, create: bool = True):
    """The Optuna study ``study_name`` in ``storage`` (a database URL, or the path of a journal file).

    Returns ``(study, storage object)``.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the script prints its own line per run
    if "://" in storage:
        store = optuna.storages.RDBStorage(storage)
    else:
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        store = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(storage)))
    exists = study_name in optuna.get_all_study_names(store)
    if not exists and not create:
        raise SystemExit(f"error: no study {study_name!r} in {storage}: run a search first, or name the study "
                         "with --study")
    # Maximize the last epoch's validation accuracy: the value an Optuna sampler would search on.
    study = optuna.create_study(storage=store, study_name=study_name, direction="maximize", load_if_exists=True)
    return study, store


def import_runs(study, path: Path) -> int:
    """Put the runs of an exported search file that the study lacks into it, as finished trials.

    So a new study starts from the committed file's runs (not trained again), and an export never
    drops a run that the file holds. A run is the study's when it has one with the same name and
    seed. Returns how many runs were imported.
    """
    import optuna

    data = read_search(path)
    held = {(run["recipe"], run["seed"]) for run in (trial.user_attrs.get("run") for trial in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) if run}
    missing = [run for run in data["runs"] if (run["recipe"], run["seed"]) not in held]
    for run in missing:
        plan = {key: run[key] for key in ("recipe", "candidate", "ablation", "seed", "args") if key in run}
        plan.update(train_images=run.get("train_images", TRAIN_IMAGES), val_images=run.get("val_images", VAL_IMAGES))
        study.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE, value=run["val_accuracy"][-1],
            user_attrs={"plan": plan, "run": run, "machine": run.get("machine", data.get("machine"))}))
    return len(missing)


def requeue_stale(study, store, everywhere: bool) -> int:
    """Fail the runs left RUNNING by a stopped worker, so that they are queued again; returns how many.

    A worker of this machine whose process is gone is stopped; ``everywhere``: every RUNNING run
    (for when no worker of the study runs on any machine).
    """
    import optuna

    host, stale = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker", {})
        if everywhere or (worker.get("host") == host and not _alive(worker.get("pid"))):
            trial_id = store.get_trial_id_from_study_id_trial_number(_study_id(study, store), trial.number)
            store.set_trial_user_attr(trial_id, "error", "its worker stopped; queued again")
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            stale += 1
    return stale


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _study_id(study, store) -> int:
    return store.get_study_id_from_name(study.study_name)


def enqueue(study, plans: list[dict], rerun: bool) -> tuple[int, int]:
    """Queue the planned runs that the study does not hold; returns (queued now, already finished)."""
    import optuna

    state = optuna.trial.TrialState
    held = {}  # plan key -> the states of its trials
    for trial in study.get_trials(deepcopy=False):
        if "plan" in trial.user_attrs:
            held.setdefault(plan_key(trial.user_attrs["plan"]), set()).add(trial.state)
    queued = finished = 0
    for plan in plans:
        states = held.get(plan_key(plan), set())
        if states & {state.WAITING, state.RUNNING}:
            continue  # queued by an earlier call, or running on some worker
        if state.COMPLETE in states and not rerun:
            finished += 1
            continue
        study.enqueue_trial({}, user_attrs={"plan": plan})
        queued += 1
    return queued, finished


def export(study, path: Path) -> int:
    """Write the study's finished runs in chapter 9's format (``read_search``); returns how many runs.

    One run per recipe name and seed: the newest, when ``--rerun`` trained one again. Writes nothing
    when the study holds no finished run.
    """
    import optuna

    newest = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if "run" in trial.user_attrs:
            run = trial.user_attrs["run"]
            newest.pop((run["recipe"], run["seed"]), None)  # re-inserted: a rerun goes last, as before
            newest[(run["recipe"], run["seed"])] = (run, trial.user_attrs.get("machine"))
    machines = []
    for _, machine in newest.values():
        if machine not in machines:
            machines.append(machine)
    # One machine (the usual case) is said once, as before; runs from several machines each say theirs.
    runs = [run if len(machines) == 1 else {**run, "machine": machine} for run, machine in newest.values()]
    data = {"description": DESCRIPTION, "machine": machines[0] if len(machines) == 1 else machines,
            "ablations": {label: (change if change != "half" else "half the candidate's epochs")
                          for label, change in ABLATIONS.items()},
            "runs": runs}
    if not runs:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # workers may export at the same time
    partial.write_text(json.dumps(data, indent=1) + "\n")
    partial.replace(path)  # a reader never sees half a file
    return len(runs)


# ------------------------------------------------------------------ the workers

def train(recipe: dict, seed: int, x_train, y_train, validation_data, callbacks=()):
    """Train one recipe with one seed; returns (model, history, seconds)."""
    from mnist_helpers import cnn

    recipe = dict(recipe)
    if recipe.pop("model") == "final":
        # A recipe without the key predates the warp and means Keras' three augmentation layers, whatever
        # the package's default is today.
        recipe.setdefault("affine_augmentation", False)
        return cnn.train_final_cnn(x_train, y_train, validation_data, seed=seed, quiet=True, callbacks=callbacks,
                                   **recipe)
    import keras

    keras.utils.set_random_seed(seed)
    model = cnn.build_speed_cnn(filters=recipe.pop("filters"))
    return cnn.train_with_schedule(model, x_train, y_train, validation_data, quiet=True, callbacks=callbacks,
                                   **recipe)


def claim(study, store):
    """The oldest queued run, now RUNNING and this worker's; None when the queue is empty.

    Optuna's storage makes the change from WAITING to RUNNING atomic, so of two workers that try the
    same run one gets it: the claim ``Study.ask`` makes, without its fallback (a new, sampled trial
    when the queue is empty), which a queue of named recipes must not have.
    """
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        trial_id = store.get_trial_id_from_study_id_trial_number(_study_id(study, store), trial.number)
        try:
            if store.set_trial_state_values(trial_id, state=optuna.trial.TrialState.RUNNING):
                return trial, trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def work(storage: str, study_name: str, workers: int, export_path: Path | None = None) -> int:
    """One worker: train queued runs until the queue is empty; returns how many failed.

    After each finished run the study is exported to ``export_path`` (when given), so the file
    holds every run finished so far, even if the search is stopped.
    """
    import optuna

    import mnist_helpers as mh
    from mnist_helpers.timing import OtherCpuUse, machine_info
    from mnist_helpers.training import AccuracyCurve

    study, store = open_study(storage, study_name, create=False)
    mh.setup_book()
    import keras
    import tensorflow as tf

    machine = machine_info(tensorflow=tf.__version__, keras=keras.__version__)
    (x_all, y_all), _ = mh.load_mnist()  # the test images are never looked at
    (x_train, y_train), (x_val, y_val) = mh.train_val_split(x_all, y_all, val_size=VAL_IMAGES, seed=0)
    failed = 0
    while (claimed := claim(study, store)) is not None:
        trial, trial_id = claimed
        plan = trial.user_attrs["plan"]
        store.set_trial_user_attr(trial_id, "worker", {"host": socket.gethostname(), "pid": os.getpid()})
        n_train, n_val = plan["train_images"], plan["val_images"]
        try:
            # Validation accuracy, off the training clock: after every epoch, and for the speed run's
            # short recipes every quarter epoch (its time to 99% is read from this curve).
            curve = AccuracyCurve(x_val[:n_val], y_val[:n_val], per_epoch=SPEED_EVALUATIONS
                                  if plan["args"]["model"] == "speed" else 1)
            with OtherCpuUse() as other:
                model, _, seconds = train(plan["args"], plan["seed"], x_train[:n_train], y_train[:n_train], None,
                                          callbacks=[curve])
            seconds -= curve.evaluation_seconds
            # Which validation images the final model gets wrong: two runs scored on the same images
            # are compared by the images only one of them gets wrong (mnist_helpers.stats, McNemar).
            wrong = np.flatnonzero(model.predict(x_val[:n_val], batch_size=1024, verbose=0).argmax(axis=1)
                                   != y_val[:n_val])
        except BaseException as exc:  # recorded, so that the run is queued again; Ctrl-C still stops
            store.set_trial_user_attr(trial_id, "error", f"{type(exc).__name__}: {exc}"[:1000])
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            if not isinstance(exc, Exception):
                raise
            print(f"{plan['recipe']:40} seed {plan['seed']}: failed: {type(exc).__name__}: {exc}", flush=True)
            failed += 1
            continue
        val = [round(a, 4) for e, a in zip(curve.epochs, curve.accuracy) if e == int(e)]
        timing = "" if workers == 1 else f"; beside {workers - 1} other worker(s): not a valid timing"
        print(f"{plan['recipe']:40} seed {plan['seed']}: val {val[-1]:.4f} (best {max(val):.4f}) in {seconds:.0f} s "
              f"({seconds / len(val):.1f} s/epoch; other processes used {other} of the CPUs{timing})", flush=True)
        run = {key: plan[key] for key in ("recipe", "candidate", "ablation", "seed", "args") if key in plan}
        run.update(val_accuracy=val, val_wrong=wrong.tolist(), train_seconds=round(seconds, 1),
                   epoch_seconds=[round(t, 2) for t in curve.epoch_seconds], validation_off_clock=True,
                   val_curve={"epochs": [round(e, 3) for e in curve.epochs],
                              "seconds": [round(t, 1) for t in curve.seconds],
                              "accuracy": [round(a, 4) for a in curve.accuracy]}, other_cpu_share=other.share,
                   steal_share=other.steal_share, workers=workers, timing_valid=workers == 1,
                   train_images=n_train, val_images=n_val, date=time.strftime("%Y-%m-%d"))
        store.set_trial_user_attr(trial_id, "run", run)
        store.set_trial_user_attr(trial_id, "machine", machine)
        study.tell(trial.number, values=val[-1])
        if export_path is not None:
            export(study, export_path)
    return failed


def start_workers(args, storage: str, workers: int) -> int:
    """``workers`` processes of this script in worker mode, waited for; returns how many exited with an error."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--storage", storage,
               "--study", args.study, "--workers", str(workers)] + ([] if args.quick else ["--worker-export", args.export])
    env = dict(os.environ)
    if workers > 1:  # share the cores instead of each worker's thread pools fighting for all of them
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
            env.setdefault(name, threads)
    processes = [subprocess.Popen(command, env=env) for _ in range(workers)]
    try:
        return sum(process.wait() != 0 for process in processes)
    except KeyboardInterrupt:  # the workers got the same Ctrl-C: they mark their runs failed and stop
        for process in processes:
            process.wait()
        raise


# ------------------------------------------------------------------ the command

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the module's docstring "
                                     "for the store, resuming and many machines.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"these candidates only, of: {', '.join(RECIPES)}")
    parser.add_argument("--ablations", metavar="NAME",
                        help="the ablations of this final-CNN candidate (and the candidate itself)")
    parser.add_argument("--recipes", metavar="FILE.json",
                        help="named recipes from this JSON file ({name: recipe}) instead of the script's RECIPES")
    parser.add_argument("--rerun", action="store_true", help="train runs the study already holds again")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes on this machine (default 1: the only setting whose timings count)")
    parser.add_argument("--storage", default=str(DEFAULT_STORAGE),
                        help="a journal file, or a database URL (sqlite:///search.db, postgresql://...); "
                             "default: %(default)s")
    parser.add_argument("--study", default=DEFAULT_STUDY, help="the study's name in the store (default %(default)s)")
    parser.add_argument("--export", metavar="FILE.json", default=str(results_folder() / SEARCH_FILE),
                        help="where the finished runs are written (default: the file chapter 9 reads)")
    parser.add_argument("--export-only", action="store_true", help="write the store's runs to --export; train nothing")
    parser.add_argument("--requeue-running", action="store_true",
                        help="queue again every run left running (when no worker of the study runs anywhere)")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 3,000 images, in a temporary store; "
                        "writes nothing")
    parser.add_argument("--train-images", type=int, default=TRAIN_IMAGES,
                        help="train on the first N of the split's 55,000 training images (a check; default all)")
    parser.add_argument("--val-images", type=int, default=VAL_IMAGES,
                        help="score on the first N of the 5,000 validation images (a check; default all)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one worker process
    # where a worker exports after each run: given by the search that starts it, never with --quick
    parser.add_argument("--worker-export", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    recipes = read_recipes(args.recipes)
    unknown = [name for name in (args.only or []) + ([args.ablations] if args.ablations else []) if name not in recipes]
    if unknown:
        parser.error(f"no recipe named {', '.join(map(repr, unknown))}: choose from {', '.join(recipes)}")
    if args.only and args.ablations:
        parser.error("--only and --ablations do not combine: give one of them")
    if args.workers < 1:
        parser.error(f"--workers must be 1 or more, got {args.workers}")
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"--seeds must be 0 or more, got {args.seeds}")
    for option, value, most in (("--train-images", args.train_images, TRAIN_IMAGES),
                                ("--val-images", args.val_images, VAL_IMAGES)):
        if not 1 <= value <= most:
            parser.error(f"{option} must be from 1 to {most:,}, got {value}")
    smaller = (args.train_images, args.val_images) != (TRAIN_IMAGES, VAL_IMAGES)
    if smaller and not args.quick and Path(args.export).resolve() == (results_folder() / SEARCH_FILE).resolve():
        parser.error("runs on fewer images are checks, not chapter 9's evidence: give them another --export file")
    return args, recipes


def main(argv=None) -> int:
    args, recipes = parse_args(argv)
    if args.worker:
        export_path = Path(args.worker_export) if args.worker_export else None
        return 1 if work(args.storage, args.study, args.workers, export_path) else 0
    export_path = Path(args.export)
    # Checked before the store is opened: a bad --ablations stops here.
    plans = planned(recipes, args.only, args.ablations, args.seeds, args.quick, args.train_images, args.val_images)
    with tempfile.TemporaryDirectory() as scratch:
        storage = str(Path(scratch) / "quick.journal") if args.quick else args.storage
        study, store = open_study(storage, args.study)
        if not args.quick and export_path.exists() and (imported := import_runs(study, export_path)):
            print(f"{imported} finished runs of {export_path} imported into the study {args.study!r} in {storage}")
        if not args.export_only:
            stale = requeue_stale(study, store, everywhere=args.requeue_running)
            queued, finished = enqueue(study, plans, args.rerun)
            print(f"{len(plans)} runs asked for: {finished} already finished (kept), {queued} queued now"
                  + (f", {stale} left running by a stopped worker queued again" if stale else ""), flush=True)
            import optuna

            waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
            failed = start_workers(args, storage, min(args.workers, waiting)) if waiting else 0
            if failed:
                print(f"{failed} worker(s) exited with an error (see above); the same command again retries "
                      "the runs not finished")
        else:
            failed = 0
        if not args.quick:
            written = export(study, export_path)
            print(f"{written} runs written to {export_path}" if written else
                  f"the study {args.study!r} holds no finished run: nothing written to {export_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        import mnist_helpers as mh

        if isinstance(exc, mh.MnistNotFoundError):  # the message lists the sources tried and how to fix it
            raise SystemExit(f"error: {exc}") from None
        raise
