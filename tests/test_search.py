"""The recipe search (benchmarks/cnn_search.py) on Optuna: parallel workers, resuming, chapter 9's file.

The search's promises: every queued run is trained by exactly one worker and recorded once; a
search run again trains nothing it holds; a run whose worker died is queued again; and the
export is the file chapter 9 reads, in its format (the committed file goes through the store
unchanged). One test trains: three tiny recipes, one epoch on 300 images, with two workers.
"""
import importlib.util
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from mnist_helpers.results import SEARCH_FILE, read_search, results_folder

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cnn_search.py"
spec = importlib.util.spec_from_file_location("cnn_search", SCRIPT)
cnn_search = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cnn_search)

# The smallest networks the speed recipe builds: each run is mostly Keras' start-up and tracing.
TINY_RECIPES = {
    "tiny_4_8": {"model": "speed", "filters": [4, 8], "epochs": 1, "batch_size": 64, "max_lr": 1e-2},
    "tiny_4_4": {"model": "speed", "filters": [4, 4], "epochs": 1, "batch_size": 128, "max_lr": 1e-2},
    "tiny_2_4": {"model": "speed", "filters": [2, 4], "epochs": 1, "batch_size": 64, "max_lr": 5e-3},
}


def search(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def trials_by_plan(storage: Path) -> dict[str, list]:
    study, _ = cnn_search.open_study(str(storage), cnn_search.DEFAULT_STUDY, create=False)
    found: dict[str, list] = {}
    for trial in study.get_trials():
        found.setdefault(trial.user_attrs["plan"]["recipe"], []).append(trial)
    return found


def test_two_workers_train_every_run_once_and_a_second_search_trains_nothing(tmp_path, mnist):
    recipes, storage, export = tmp_path / "recipes.json", tmp_path / "store.journal", tmp_path / "search.json"
    recipes.write_text(json.dumps(TINY_RECIPES))
    command = ["--recipes", str(recipes), "--workers", "2", "--train-images", "300", "--val-images", "200",
               "--storage", str(storage), "--export", str(export)]

    first = search(*command)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert "3 runs asked for: 0 already finished (kept), 3 queued now" in first.stdout
    trained = re.findall(r"^(\S+) +seed 0: val ", first.stdout, flags=re.M)
    assert sorted(trained) == sorted(TINY_RECIPES), f"each run trained exactly once, got {trained}"
    assert first.stdout.count("not a valid timing") == 3  # two workers: no run's time counts

    trials = trials_by_plan(storage)
    assert sorted(trials) == sorted(TINY_RECIPES)
    for name, runs in trials.items():
        assert len(runs) == 1, f"{name}: {len(runs)} trials, one expected"
        assert runs[0].state == optuna.trial.TrialState.COMPLETE, runs[0].user_attrs
        assert runs[0].value == runs[0].user_attrs["run"]["val_accuracy"][-1]
        assert runs[0].user_attrs["plan"]["args"] == TINY_RECIPES[name]

    written = read_search(export)
    assert sorted(run["recipe"] for run in written["runs"]) == sorted(TINY_RECIPES)
    for run in written["runs"]:
        assert run["args"] == TINY_RECIPES[run["recipe"]] and run["seed"] == 0
        assert len(run["val_accuracy"]) == 1 and 0 <= run["val_accuracy"][0] <= 1
        assert (run["workers"], run["timing_valid"]) == (2, False)
        assert (run["train_images"], run["val_images"]) == (300, 200)
        assert run["train_seconds"] > 0 and 0 <= run["other_cpu_share"] <= 1
        # train_seconds is rounded to 0.1 s and epoch_seconds to 0.01 s: equal up to that rounding.
        assert len(run["epoch_seconds"]) == 1 and 0 < run["epoch_seconds"][0] <= run["train_seconds"] + 0.055
        # The images the run gets wrong, for paired comparisons: as many as its accuracy says, each once.
        wrong = run["val_wrong"]
        assert len(wrong) == round(200 * (1 - run["val_accuracy"][-1])) and len(set(wrong)) == len(wrong)
        assert all(0 <= i < 200 for i in wrong)
        # Speed-run recipes are scored on validation every quarter epoch, off the training clock.
        curve = run["val_curve"]
        # Several evaluations in the one epoch (300 images are 3 or 5 steps here), the last at its end.
        steps = -(-300 // run["args"]["batch_size"])
        assert len(curve["epochs"]) == min(cnn_search.SPEED_EVALUATIONS, steps) > 1 and curve["epochs"][-1] == 1.0
        assert curve["epochs"] == sorted(set(curve["epochs"])) and curve["accuracy"][-1] == run["val_accuracy"][-1]
        assert curve["seconds"] == sorted(curve["seconds"]) and curve["seconds"][-1] <= run["train_seconds"] + 0.1
    exported = export.read_text()

    again = search(*command)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert "3 runs asked for: 3 already finished (kept), 0 queued now" in again.stdout
    assert " val " not in again.stdout, f"a resumed search trained again:\n{again.stdout}"
    assert {name: len(runs) for name, runs in trials_by_plan(storage).items()} == dict.fromkeys(TINY_RECIPES, 1)
    assert export.read_text() == exported


def test_the_committed_search_goes_through_the_store_unchanged(tmp_path):
    """A new study starts from the chapter's file, and its export is that file, byte for byte."""
    committed = results_folder() / SEARCH_FILE
    copy = tmp_path / "cnn_search.json"
    copy.write_bytes(committed.read_bytes())
    result = search("--export-only", "--storage", str(tmp_path / "store.journal"), "--export", str(copy), timeout=120)
    assert result.returncode == 0, result.stderr
    runs = len(read_search(committed)["runs"])
    assert f"{runs} finished runs of {copy} imported" in result.stdout
    assert copy.read_bytes() == committed.read_bytes()


def test_the_committed_runs_are_not_trained_again(tmp_path):
    """Each committed run is the script's named recipe (or ablation) in full: asking for it queues nothing."""
    study, _ = cnn_search.open_study(str(tmp_path / "store.journal"), "committed")
    committed = results_folder() / SEARCH_FILE
    runs = read_search(committed)["runs"]
    assert cnn_search.import_runs(study, committed) == len(runs)
    assert cnn_search.import_runs(study, committed) == 0  # imported once
    plans = []
    for run in runs:
        ablation, name = "ablation" in run, run["candidate"]
        asked = cnn_search.planned(cnn_search.RECIPES, None if ablation else [name], name if ablation else None,
                                   [run["seed"]], quick=False)
        plans += [plan for plan in asked if plan["recipe"] == run["recipe"]]
    assert len(plans) == len(runs)
    assert cnn_search.enqueue(study, plans, rerun=False) == (0, len(runs))


def test_a_run_left_running_by_a_dead_worker_is_queued_again(tmp_path):
    storage = str(tmp_path / "store.journal")
    study, store = cnn_search.open_study(storage, "stale")
    plans = cnn_search.planned(TINY_RECIPES, ["tiny_4_8", "tiny_4_4"], None, [0], quick=False)
    assert cnn_search.enqueue(study, plans, rerun=False) == (2, 0)
    assert cnn_search.enqueue(study, plans, rerun=False) == (0, 0)  # queued once, however often asked

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial, trial_id = cnn_search.claim(study, store)  # taken by a worker that then died
    assert cnn_search.claim(study, store) is not None  # taken by a live worker on another machine
    assert cnn_search.claim(study, store) is None  # both taken: an empty queue gives nothing, not a new trial
    store.set_trial_user_attr(trial_id, "worker", {"host": socket.gethostname(), "pid": dead.pid})

    assert cnn_search.requeue_stale(study, store, everywhere=False) == 1  # the live claim (no worker) is left
    assert cnn_search.enqueue(study, plans, rerun=False) == (1, 0)
    queued = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.user_attrs["plan"]["recipe"] for t in queued] == [trial.user_attrs["plan"]["recipe"]]


@pytest.mark.parametrize("args, message", [
    (["--only", "no_such_recipe"], "no recipe named 'no_such_recipe': choose from batch256_15ep"),
    (["--workers", "0"], "--workers must be 1 or more, got 0"),
    (["--train-images", "300"], "runs on fewer images are checks, not chapter 9's evidence"),
    (["--ablations", "speed_1ep_b128", "--quick"], "--ablations needs a final-CNN candidate"),
])
def test_bad_arguments_are_named_before_anything_runs(args, message, tmp_path):
    result = search(*args, "--storage", str(tmp_path / "store.journal"), timeout=60)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
