"""Smoke tests of the benchmark scripts: each runs in its quick mode on a tiny slice, and what it
prints and writes is checked (the real runs take an idle machine and up to an hour)."""
import importlib.util
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load_script(name):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.usefixtures("mnist")  # the data must be there
def test_cnn_benchmark_quick_prints_and_writes_medians_and_sustained_times(tmp_path, capsys):
    out = tmp_path / "cnn.json"
    load_script("cnn_benchmark").main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    for model in ("Keras example convnet", "original model", "final CNN", "speed run"):
        assert f"{model}, seed 1: test accuracy" in printed and f"\n{model:22}     2      1 " in printed
    assert "med s/ep" in printed and "kept 99%" in printed
    data = json.loads(out.read_text())
    rows = {row["model"]: row for row in data["rows"]}
    assert rows["Keras example convnet"]["time_vs_keras_example"] == 1.0
    final, speed = rows["final CNN"], rows["speed run"]
    assert final["evaluations_per_epoch"] == 2 and speed["evaluations_per_epoch"] == 4
    run = speed["runs"][0]
    assert run["curve_epochs"] == [0.25, 0.5, 0.75, 1.0] and len(run["epoch_seconds"]) == 1
    assert run["median_epoch_seconds"] == pytest.approx(run["epoch_seconds"][0])
    assert final["median_train_seconds"] == pytest.approx(final["median_epoch_seconds"] * final["epochs"], abs=0.1)
    # One epoch on 3,000 images: the Keras example has learnt (a floor far above chance, 10%), the
    # final CNN not yet (after 12 steps its batch norm's moving averages are still near their
    # start, so it predicts one class whatever the seed).
    assert rows["Keras example convnet"]["test_accuracy"] > 0.3
    assert 0 <= final["test_accuracy"] <= 1 and final["seeds"] == [0, 1]
    assert data["machine"]["processor"] and "sustained_seconds_to_99" in run


@pytest.mark.usefixtures("mnist")
def test_baselines_benchmark_on_a_slice(tmp_path, capsys):
    out = tmp_path / "baselines.json"
    assert load_script("baselines").main(["--train-size", "600", "--test-size", "200", "--methods",
                                          "logistic regression", "PCA + kNN", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "logistic regression" in printed and f"wrote {out}" in printed
    rows = json.loads(out.read_text())["rows"]
    assert [row["model"] for row in rows] == ["logistic regression", "PCA + kNN"]
    assert all(row["train_images"] == 600 and 0.5 < row["test_accuracy"] <= 1 for row in rows)


def test_baselines_benchmark_refuses_a_partial_run_over_the_full_results(capsys):
    with pytest.raises(SystemExit):
        load_script("baselines").main(["--train-size", "600"])
    assert "pass --out for a smaller run" in capsys.readouterr().err


@pytest.mark.usefixtures("mnist")
def test_augmentation_benchmark_quick(tmp_path, capsys):
    out = tmp_path / "augmentation.json"
    load_script("augmentation_benchmark").main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    lines = [line.split() for line in printed.splitlines()]
    assert ["three", "Keras", "layers", "2,560"] in [line[:4] for line in lines]
    assert ["one", "affine", "warp", "2,560"] in [line[:4] for line in lines]
    rows = json.loads(out.read_text())["rows"]
    assert [row["model"] for row in rows] == ["three Keras layers", "one affine warp"]
    assert rows[0]["time_vs_three_layers"] == 1.0 and all(len(row["pass_seconds"]) == 2 for row in rows)
    assert rows[1]["time_vs_three_layers"] == pytest.approx(rows[1]["median_seconds"] / rows[0]["median_seconds"], abs=0.01)


@pytest.mark.usefixtures("mnist")
def test_kaggle_csv_benchmark_quick(tmp_path, capsys):
    out = tmp_path / "kaggle_csv.json"
    load_script("kaggle_csv_benchmark").main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "median of 1;" in printed and f"wrote {out}" in printed
    rows = json.loads(out.read_text())["rows"]
    assert [(row["loader"], row["file"], row["rows"]) for row in rows] == [
        ("pd.read_csv", "train.csv", 500), ("load_kaggle_csv", "train.csv", 500),
        ("pd.read_csv", "test.csv", 300), ("load_kaggle_csv", "test.csv", 300)]
    for row in rows:  # each figure also printed, as the table's line for that load
        line = next(line.split() for line in printed.splitlines() if line.startswith(f"{row['loader']} {row['file']}"))
        assert float(line[2]) == pytest.approx(row["wall_seconds"], abs=0.006)
        assert row["cpu_seconds"] >= 0 and row["megabytes"] > 0


@pytest.mark.usefixtures("mnist")
def test_epoch_profile_quick(tmp_path, capsys):
    out = tmp_path / "epoch_profile.json"
    load_script("epoch_profile").main(["--quick", "--out", str(out), "--only", "tiny model (step overhead)",
                                       "final, steps_per_execution 16"])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    variants = [row["variant"] for row in data["variants"]]
    assert variants == ["Keras example (anchor)", "tiny model (step overhead)", "final, steps_per_execution 16"]
    assert data["variants"][0]["time_vs_keras_example"] == 1.0
    assert all(len(row["epoch_seconds"]) == 2 and row["images"] == 1280 for row in data["variants"])
    layers = [row["layer"] for row in data["layers"]]
    assert layers[0] == "add_channel" and layers[-1] == "probabilities" and "conv2b_bn" in layers
    assert data["final_epoch_seconds"] is None  # "final CNN (today)" was not among the variants
    assert "forward pass in training mode, per layer" in printed and f"wrote {out}" in printed
