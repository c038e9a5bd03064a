"""mh.record_results: what a chapter writes for the results page, and the bad input it refuses."""
import json
from pathlib import Path

import numpy as np
import pytest

import mnist_helpers as mh
from book_extension import load_extension

ROOT = Path(__file__).resolve().parents[1]
ROW = {"model": "dense (128,)", "test_accuracy": np.float64(0.97236), "train_seconds": np.float32(21.64),
       "epochs": np.int64(10)}


def read_as_the_website_does(path: Path):
    return load_extension().read_benchmark(path.name, json.loads(path.read_text()))


def test_full_mode_writes_a_file_the_website_reads(tmp_path, monkeypatch):
    monkeypatch.setenv(mh.FAST_ENV, "0")
    path = mh.record_results("04_dense_layer", [ROW], title="Dense layer", chapter="04_dense_layer",
                             description="One sentence.", folder=tmp_path)
    assert path == tmp_path / "04_dense_layer.json"
    data = json.loads(path.read_text())
    assert data["mode"] == "full" and data["chapter"] == "04_dense_layer"
    assert data["rows"] == [{"model": "dense (128,)", "test_accuracy": 0.9724, "train_seconds": 21.6, "epochs": 10}]
    bench = read_as_the_website_does(path)
    assert bench.title == "Dense layer" and bench.rows[0].chapter == "notebooks/04_dense_layer"


def test_fast_mode_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(mh.FAST_ENV, "1")
    assert mh.record_results("x", [ROW], title="t", chapter="c", folder=tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    assert "not written" in capsys.readouterr().out


def test_default_folder_is_the_repositorys():
    assert mh.results.RESULTS_DIR == ROOT / "benchmarks" / "results"


@pytest.mark.parametrize("name, rows, error, words", [
    ("04 dense", [ROW], ValueError, "lower-case"),
    ("Dense", [ROW], ValueError, "lower-case"),
    ("ok", [], ValueError, "non-empty"),
    ("ok", ROW, ValueError, "non-empty list"),
    ("ok", [("dense", 0.9, 1.0)], TypeError, "rows[0] must be a dict"),
    ("ok", [{"model": "m", "test_accuracy": 0.9}], ValueError, "missing train_seconds"),
    ("ok", [{**ROW, "model": " "}], ValueError, "model must be a non-empty string"),
    ("ok", [{**ROW, "test_accuracy": 97.2}], ValueError, "not a percentage"),
    ("ok", [{**ROW, "test_accuracy": "0.97"}], TypeError, "not a number"),
    ("ok", [{**ROW, "test_accuracy": True}], TypeError, "not a number"),
    ("ok", [{**ROW, "test_accuracy": float("nan")}], ValueError, "outside"),
    ("ok", [ROW, {**ROW, "train_seconds": -1}], ValueError, "rows[1]: train_seconds=-1.0 is outside"),
])
def test_bad_input_is_refused_in_both_modes(tmp_path, monkeypatch, name, rows, error, words):
    for mode in ("0", "1"):
        monkeypatch.setenv(mh.FAST_ENV, mode)
        with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
            mh.record_results(name, rows, title="t", chapter="c", folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(mh.FAST_ENV, "0")
    with pytest.raises(FileNotFoundError, match="pass folder="):
        mh.record_results("x", [ROW], title="t", chapter="c", folder=tmp_path / "nope")
