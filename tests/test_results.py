"""mnist_helpers.results (the results format: its writers, its reader, the bad input it refuses) and
mnist_helpers.model_card (the shipped model's metrics and the card made from them)."""
import ast
import datetime
import json
from pathlib import Path

import numpy as np
import pytest
from book_extension import load_extension

import mnist_helpers as mh
from mnist_helpers import model_card
from mnist_helpers import results as results_module
from mnist_helpers.results import (
    RESULTS_ENV,
    ResultsFormatError,
    Row,
    read_results,
    read_results_folder,
    read_search,
    result_names,
    results_folder,
    write_results,
)

ROOT = Path(__file__).resolve().parents[1]
ROW = {"model": " dense (128,) ", "test_accuracy": np.float64(0.97236), "train_seconds": np.float32(21.64),
       "epochs": np.int64(10)}
TODAY = datetime.date.today().isoformat()
NOT_RECORDED = "results not recorded: set MNIST_RESULTS_DIR (make execute does) or pass folder=\n"


@pytest.fixture
def full_mode(monkeypatch):
    monkeypatch.setenv(mh.FAST_ENV, "0")
    monkeypatch.delenv(RESULTS_ENV, raising=False)


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def good_file(**changes) -> dict:
    data = {"title": "Runs", "date": "2026-11-25",
            "rows": [{"model": "m", "test_accuracy": 0.9, "train_seconds": 1.0}]}
    return {**data, **changes}


# ------------------------------------------------------------------ writing and reading back

def test_write_then_read_gives_the_same_results(tmp_path):
    rows = [ROW, {"model": "kNN", "test_accuracy": 0.9691, "train_seconds": 0.14, "predict_seconds": 10.26,
                  "notes": "slow to predict", "chapter": "02_classic_baselines", "params": {"k": 1},
                  "wrong": np.array([3, 8])}]
    path = write_results(tmp_path / "runs.json", rows, title="Runs", chapter="04_dense_layer",
                         description="One sentence.", extra={"machine": {"cpus": np.int64(2)}})
    assert path == tmp_path / "runs.json"
    results = read_results(path)
    assert (results.title, results.chapter, results.description, results.date) == (
        "Runs", "04_dense_layer", "One sentence.", TODAY)
    assert results.extra == {"machine": {"cpus": 2}} and results.path == path and results.name == "runs"
    # Accuracy to 4 decimals, seconds to 0.1 s, text stripped, NumPy values as plain JSON numbers.
    assert results.rows == [
        Row("dense (128,)", 0.9724, 21.6, extra={"epochs": 10}),
        Row("kNN", 0.9691, 0.1, predict_seconds=10.3, notes="slow to predict", chapter="02_classic_baselines",
            extra={"params": {"k": 1}, "wrong": [3, 8]})]
    assert json.loads(path.read_text())["rows"][1] == results.rows[1].to_dict()


def test_record_results_writes_to_the_folder_it_is_given(tmp_path, full_mode, capsys):
    path = mh.record_results("04_dense_layer", [ROW], title="Dense layer", chapter="04_dense_layer",
                             description="One sentence.", folder=tmp_path)
    assert path == tmp_path / "04_dense_layer.json"
    assert capsys.readouterr().out == f"wrote 1 result(s) to {path}\n"
    results = read_results(path)
    assert results.chapter == "04_dense_layer" and results.rows[0].test_accuracy == 0.9724
    assert set(results.extra) == {"machine"} and results.extra["machine"]["cpus"] >= 1


def test_record_results_uses_the_environment_setting(tmp_path, full_mode, monkeypatch, capsys):
    folder = tmp_path / "mnist_helpers" / "book_results"
    folder.mkdir(parents=True)
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    path = mh.record_results("07_x", [ROW, ROW], title="t", chapter="07_x")
    assert path == folder / "07_x.json" and path.is_file()
    # The committed notebooks show this short form for the repository's folder.
    assert capsys.readouterr().out == "wrote 2 result(s) to mnist_helpers/book_results/07_x.json\n"


def test_record_results_without_a_folder_says_so_and_writes_nothing(tmp_path, full_mode, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(RESULTS_ENV, " ")
    assert mh.record_results("x", [ROW], title="t", chapter="c") is None
    assert capsys.readouterr().out == NOT_RECORDED
    assert list(tmp_path.iterdir()) == []


def test_fast_mode_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(mh.FAST_ENV, "1")
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    assert mh.record_results("x", [ROW], title="t", chapter="c", folder=tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    assert "fast mode: x.json not written" in capsys.readouterr().out


def test_missing_folder_names_the_fix(tmp_path, full_mode, monkeypatch):
    with pytest.raises(FileNotFoundError, match="nope does not exist: create it"):
        mh.record_results("x", [ROW], title="t", chapter="c", folder=tmp_path / "nope")
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="nope does not exist"):
        mh.record_results("x", [ROW], title="t", chapter="c")


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("name, rows, message", [
    ("04 dense", [ROW], "name='04 dense' must be a notebook name"),
    ("Dense", [ROW], "name='Dense' must be a notebook name"),
    (None, [ROW], "name must be a non-empty string"),
    ("ok", [], "rows must be a non-empty list"),
    ("ok", ROW, "rows must be a non-empty list"),
    ("ok", [("dense", 0.9, 1.0)], "ok.json, row 0: expected an object with model, test_accuracy and train_seconds"),
    ("ok", [{"model": "m", "test_accuracy": 0.9}], "ok.json, row 0: missing train_seconds"),
    ("ok", [{**ROW, "model": " "}], "row 0: model must be a non-empty string"),
    ("ok", [{**ROW, "test_accuracy": 97.2}], r"row 0: test_accuracy=97.2 must be in \[0, 1\] \(a fraction, not a"),
    ("ok", [{**ROW, "test_accuracy": "0.97"}], "row 0: test_accuracy must be a real number, got str"),
    ("ok", [{**ROW, "test_accuracy": True}], "row 0: test_accuracy must be a real number, got bool"),
    ("ok", [{**ROW, "test_accuracy": float("nan")}], "row 0: test_accuracy=nan must be a finite number"),
    ("ok", [ROW, {**ROW, "train_seconds": -1}], r"ok.json, row 1: train_seconds=-1.0 must be in \[0, inf\)"),
    ("ok", [{**ROW, "predict_seconds": None}], "row 0: predict_seconds must be a real number, got NoneType"),
    ("ok", [{**ROW, "notes": ""}], "row 0: notes must be a non-empty string"),
    ("ok", [{**ROW, "chapter": "notebooks/04_x.ipynb"}], "row 0: chapter='notebooks/04_x.ipynb' must be a notebook"),
])
def test_bad_rows_are_refused_in_both_modes(tmp_path, monkeypatch, name, rows, message):
    for mode in ("0", "1"):
        monkeypatch.setenv(mh.FAST_ENV, mode)
        with pytest.raises(ResultsFormatError, match=message):
            mh.record_results(name, rows, title="t", chapter="c", folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"title": ""}, "title must be a non-empty string"),
    ({"title": "t", "chapter": "Ch 4"}, "chapter='Ch 4' must be a notebook name"),
    ({"title": "t", "description": 3}, "description must be a non-empty string"),
    ({"title": "t", "extra": {"date": "2020-01-01", "rows": []}}, r"extra=\{'date', 'rows': ...\} are fields"),
    ({"title": "t", "extra": {"model": object()}}, "object <object object at .*> cannot be written to JSON"),
    ({"title": "t", "extra": {"loss": float("nan")}}, "Out of range float"),
])
def test_write_results_refuses_bad_fields_and_writes_nothing(tmp_path, kwargs, message):
    with pytest.raises(ResultsFormatError, match=message):
        write_results(tmp_path / "runs.json", [ROW], **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("data, message", [
    ("{not json", r"not valid JSON \(Expecting property name"),
    ([{"model": "m", "test_accuracy": 0.9, "train_seconds": 1}], "expected an object with title, date and rows"),
    ({"rows": []}, "missing title, date"),
    (good_file(results=[], rows=None), "rows must be a non-empty list"),
    (good_file(date="25/11/2026"), "date='25/11/2026' must be an ISO date"),
    (good_file(rows=[{"method": "m", "test_accuracy": 0.9, "fit_seconds": 1}]), "row 0: missing model, train_seconds"),
    (good_file(rows=[{"model": "m", "test_accuracy": 99.2, "train_seconds": 1}]), "row 0: test_accuracy=99.2 must be"),
])
def test_read_results_names_the_file_the_row_and_the_bad_value(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(ResultsFormatError, match=f"{path}.*{message}"):
        read_results(path)


def test_read_results_folder_returns_the_good_files_and_the_problems(tmp_path):
    write_json(tmp_path / "b_good.json", good_file())
    write_json(tmp_path / "a_bad.json", good_file(title=""))
    (tmp_path / "notes.txt").write_text("not a results file")
    results, problems = read_results_folder(tmp_path)
    assert [r.name for r in results] == ["b_good"]
    assert problems == [f"{tmp_path / 'a_bad.json'}: title must be a non-empty string, got ''"]
    assert read_results_folder(tmp_path / "nope") == ([], [f"{tmp_path / 'nope'}: no such folder of results files"])


# ------------------------------------------------------------------ the package's results

def test_results_folder_is_the_packages_book_results():
    folder = results_folder()
    assert folder == ROOT / "mnist_helpers" / "book_results" and folder.is_dir()
    assert (folder / "search" / "cnn_search.json").is_file()


def test_results_folder_without_the_package_data_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(results_module.importlib.resources, "files", lambda package: tmp_path)
    with pytest.raises(FileNotFoundError, match=r"book_results is not there: install mnist_helpers"):
        results_folder()


def test_read_results_takes_a_name_of_the_packages_results():
    names = result_names()
    assert {"baselines", "cnn", "09_final_cnn"} <= set(names) and names == sorted(names)
    baselines = read_results("baselines")
    assert baselines.path == results_folder() / "baselines.json" and baselines.name == "baselines"
    assert baselines == read_results(results_folder() / "baselines.json")  # a path still works
    assert read_results("09_final_cnn").chapter == "09_final_cnn"
    folder_results, problems = read_results_folder()  # by default, the package's folder
    assert problems == [] and [r.name for r in folder_results] == names


def test_read_results_names_the_available_results_for_an_unknown_name():
    with pytest.raises(ValueError, match=r"^no results named 'baseline' in the package: choose one of "
                                         r"03_standardization, .*baselines, cnn \(or pass the path") as info:
        read_results("baseline")
    assert "\n" not in str(info.value) and not isinstance(info.value, ResultsFormatError)
    with pytest.raises(FileNotFoundError):
        read_results("baselines.txt")  # not a name (it has a dot): a path, and there is no such file
    with pytest.raises(TypeError, match="a results name like 'baselines' or a path, got int"):
        read_results(3)


def test_read_search_gives_chapter_9s_recipe_search(tmp_path):
    search = read_search()
    assert search == json.loads((results_folder() / "search" / "cnn_search.json").read_text())
    assert {"description", "machine", "ablations", "runs"} <= set(search) and search["runs"]
    assert all({"recipe", "seed", "val_accuracy"} <= set(run) for run in search["runs"])
    assert read_search(write_json(tmp_path / "s.json", {"runs": []})) == {"runs": []}
    with pytest.raises(ResultsFormatError, match=r"s2.json: expected an object with a list of runs"):
        read_search(write_json(tmp_path / "s2.json", [1, 2]))
    (tmp_path / "s3.json").write_text("{runs")
    with pytest.raises(ResultsFormatError, match=r"s3.json: not valid JSON"):
        read_search(tmp_path / "s3.json")
    with pytest.raises(FileNotFoundError):
        read_search(tmp_path / "nope.json")


# ------------------------------------------------------------------ the committed files

def test_the_website_reads_every_committed_file_with_no_problem():
    folder = ROOT / "mnist_helpers" / "book_results"
    results, problems = read_results_folder(folder)
    assert problems == [] and len(results) == len(list(folder.glob("*.json"))) > 0
    ext = load_extension()
    page = (ROOT / "book" / "results.md").read_text()
    text, problems = ext.expand_results(page, folder, known_docs=set())
    assert problems == [] and "{benchmark-results}" not in text
    for row in (row for file in results for row in file.rows):
        assert f"| {row.model} |" in text


def test_results_module_imports_nothing_heavy():
    """The website's build imports it: no TensorFlow, Keras, pandas or matplotlib at module level."""
    tree = ast.parse((ROOT / "mnist_helpers" / "results.py").read_text())
    imported = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in tree.body
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert not imported & {"tensorflow", "keras", "pandas", "matplotlib", "sklearn", "scipy"}, imported


# ------------------------------------------------------------------ the shipped model's metrics and card

def test_the_committed_card_is_generated_from_the_committed_metrics():
    metrics = model_card.read_metrics()
    assert model_card.CARD_FILE.read_text() == model_card.model_card(metrics), \
        "run `python -m mnist_helpers.model_card` to regenerate MODEL_CARD.md"


def test_the_metrics_agree_with_chapter_9s_results():
    metrics = model_card.read_metrics()
    chapter = read_results("09b_choosing_the_cnn")
    shipped = next(row for row in chapter.rows if row.model.startswith("final CNN, seed 0"))
    assert (shipped.test_accuracy, shipped.train_seconds, shipped.extra["params"]) == (
        metrics.test_accuracy, metrics.train_seconds, metrics.params)
    seeds = next(row for row in chapter.rows if row.model.startswith("final CNN, mean of"))
    assert (seeds.test_accuracy, seeds.extra["test_accuracy_sd"], len(seeds.extra["seeds"])) == (
        metrics.seed_mean_test_accuracy, metrics.seed_sd_test_accuracy, metrics.seeds)


def single_model_metrics() -> dict:
    """The committed metrics without the seed statistics: a card of one model, which the tests vary."""
    metrics = json.loads(model_card.METRICS_FILE.read_text())
    return {name: value for name, value in metrics.items() if name != "seeds" and not name.startswith("seed_")}


def test_write_metrics_writes_both_files_and_main_regenerates_the_card(tmp_path, monkeypatch, capsys):
    metrics = single_model_metrics()
    path = model_card.write_metrics({**metrics, "params": np.int64(1000), "test_accuracy": np.float32(0.99),
                                     "test_errors": 100, "train_seconds": 612.345}, tmp_path / "mnist_cnn.json")
    written = model_card.read_metrics(path)
    assert (written.params, written.test_errors) == (1000, 100)
    assert (written.test_accuracy, written.train_seconds) == (0.99, 612.3)  # rounded as in the results files
    card = tmp_path / "MODEL_CARD.md"
    assert "1,000 parameters" in card.read_text() and "0.9900 (100 errors in 10,000)" in card.read_text()
    card.write_text("edited by hand")
    monkeypatch.setattr(model_card, "METRICS_FILE", path)
    monkeypatch.setattr(model_card, "CARD_FILE", card)
    assert model_card.main([]) == 0 and card.read_text() == model_card.model_card(written)
    assert capsys.readouterr().out == f"wrote {card} from mnist_cnn.json\n"


@pytest.mark.parametrize("changes, message", [
    ({"test_accuracy": 0.5}, r"test_accuracy=0.5 but \d+ errors in 10,000 images make 0\.9\d{3}"),
    ({"test_accuracy": 99.61}, r"test_accuracy=99.61 must be in \[0, 1\] \(a fraction"),
    ({"epochs": 30.0}, "epochs must be an integer, got float"),
    ({"date": "yesterday"}, "date='yesterday' must be an ISO date"),
    ({"accuracy": 0.99}, r"missing \[\], unknown \['accuracy'\]"),
    ({"keras": None}, "keras must be a non-empty string"),
])
def test_bad_metrics_are_refused(tmp_path, changes, message):
    metrics = {**single_model_metrics(), **changes}
    with pytest.raises(ResultsFormatError, match=message):
        model_card.check_metrics(metrics)
    with pytest.raises(ResultsFormatError, match=message):
        model_card.write_metrics(metrics, tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []
    path = write_json(tmp_path / "m.json", metrics)
    with pytest.raises(ResultsFormatError, match=f"{path}: .*{message}"):
        model_card.read_metrics(path)


def test_main_names_a_broken_metrics_file(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "mnist_cnn.json"
    broken.write_text("[1, 2")
    monkeypatch.setattr(model_card, "METRICS_FILE", broken)
    monkeypatch.setattr(model_card, "CARD_FILE", tmp_path / "MODEL_CARD.md")
    assert model_card.main([]) == 1
    assert capsys.readouterr().err.startswith(f"error: {broken}: not valid JSON")
    broken.write_text("[]")
    assert model_card.main([]) == 1
    assert "expected an object with notebook, date, " in capsys.readouterr().err
    assert not (tmp_path / "MODEL_CARD.md").exists()


def test_seed_summary_uses_the_sample_sd():
    stats = mh.results.seed_summary([0.9961, np.float32(0.9967), 0.9955])
    assert stats == {"mean": 0.9961, "sd": 0.0006, "min": 0.9955, "max": 0.9967, "n": 3}


@pytest.mark.parametrize("values, error, words", [
    ([0.99], ValueError, "at least 2 seeds"),
    ([0.99, 99.1], ValueError, "not a percentage"),
    ([0.99, "0.98"], TypeError, "real number"),
])
def test_seed_summary_refuses(values, error, words):
    with pytest.raises(error, match=words):
        mh.results.seed_summary(values)


# With a model of its own (test accuracy and errors) inside their range, whatever the shipped model scores.
SEED_STATS = {"test_accuracy": 0.9958, "test_errors": 42, "seeds": 5, "seed_mean_test_accuracy": 0.9958,
              "seed_sd_test_accuracy": 0.0004, "seed_min_test_accuracy": 0.9952, "seed_max_test_accuracy": 0.9963}


def test_seed_statistics_go_into_the_card(tmp_path):
    metrics = {**single_model_metrics(), **SEED_STATS}
    written = model_card.read_metrics(model_card.write_metrics(metrics, tmp_path / "mnist_cnn.json"))
    assert written.seeds == 5
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "over 5 seeds: 0.9958 ± 0.0004 (min 0.9952, max 0.9963); this model is seed 0" in card


@pytest.mark.parametrize("changes, message", [
    ({"seeds": 5}, r"missing \['seed_mean_test_accuracy', .*the seed statistics all or none"),
    ({**SEED_STATS, "seeds": 1}, r"seeds=1 must be in \[2, inf\)"),
    ({**SEED_STATS, "seed_max_test_accuracy": 0.9955}, "must lie between"),
])
def test_bad_seed_statistics_are_refused(changes, message):
    with pytest.raises(ResultsFormatError, match=message):
        model_card.check_metrics({**single_model_metrics(), **changes})
