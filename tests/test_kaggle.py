"""Kaggle's Digit Recognizer: the MNIST leak measured on files whose overlap is known, the
stand-in files, the submission checks, and the command's every bad input (one line, no traceback).

Training here is tiny (a few hundred images, one epoch): the point is the plumbing, not accuracy.
"""
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mnist_helpers as mh
from mnist_helpers import data, kaggle, recipes


@pytest.fixture
def no_training(monkeypatch):
    """Make any training fail loudly: bad input must be refused before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started although the input was bad")
    monkeypatch.setattr(kaggle.cli, "train_ensemble", refuse)


def _modified(image: np.ndarray) -> np.ndarray:
    """The same digit with one pixel changed by one grey level: no longer an exact copy."""
    changed = image.copy()
    changed[14, 14] = (int(changed[14, 14]) + 1) % 256
    return changed


def _known_mix(mnist):
    """Images with a known overlap: 5 MNIST training images (one of them three times), 3 MNIST
    test images, 2 modified training images and 1 of random noise; with the true indices."""
    (x_train, _), (x_test, _) = mnist
    rng = np.random.default_rng(0)
    images = [x_train[0], x_train[1], x_train[2], x_train[2], x_train[3], x_train[4], x_train[2],
              x_test[0], x_test[1], x_test[9999],
              _modified(x_train[5]), _modified(x_test[5]),
              rng.integers(0, 256, size=(28, 28), dtype=np.uint8)]
    train_index = [0, 1, 2, 2, 3, 4, 2, -1, -1, -1, -1, -1, -1]
    test_index = [-1] * 7 + [0, 1, 9999] + [-1] * 3
    return np.stack(images), np.array(train_index), np.array(test_index)


def _csv(path, images, labels=None):
    return str(kaggle.write_kaggle_csv(path, images, labels))


@pytest.fixture
def small_csvs(tmp_path, mnist):
    """A train.csv of 200 MNIST training images (20 per digit) and a test.csv of 45 images:
    30 MNIST training images (not in train.csv), 10 MNIST test images, 5 modified ones."""
    (x_train, y_train), (x_test, _) = mnist
    per_digit = np.concatenate([np.flatnonzero(y_train == digit)[:20] for digit in range(10)])
    others = np.setdiff1d(np.arange(1000), per_digit)[:35]
    test_images = np.concatenate([x_train[others[:30]], x_test[:10],
                                  np.stack([_modified(image) for image in x_train[others[30:]]])])
    return (_csv(tmp_path / "train.csv", x_train[per_digit], y_train[per_digit]),
            _csv(tmp_path / "test.csv", test_images))


# ------------------------------------------------------------------ the leak, measured

def test_overlap_on_a_csv_with_known_copies(tmp_path, mnist):
    images, train_index, test_index = _known_mix(mnist)
    x, y = mh.load_kaggle_csv(_csv(tmp_path / "test.csv", images))
    assert y is None and np.array_equal(x, images)
    overlap = kaggle.overlap_with_mnist(x, mnist)
    assert overlap.mnist_train_index.tolist() == train_index.tolist()
    assert overlap.mnist_test_index.tolist() == test_index.tolist()
    assert overlap.counts() == {"images": 13, "in_mnist_train": 7, "in_mnist_test": 3, "in_neither": 3}
    assert overlap.in_train.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert overlap.in_test.tolist() == [7, 8, 9] and overlap.in_neither.tolist() == [10, 11, 12]
    assert overlap.summary() == ("of 13 images, 7 (53.8%) are in MNIST's training set, "
                                 "3 (23.1%) in its test set, 3 (23.1%) in neither")


def test_overlap_loads_mnist_when_not_given(monkeypatch, mnist):
    calls = []
    monkeypatch.setattr(data, "load_mnist", lambda *args, **kwargs: calls.append(1) or mnist)
    images, _, _ = _known_mix(mnist)
    assert kaggle.overlap_with_mnist(images).counts()["in_mnist_train"] == 7 and calls == [1]


def test_a_hash_match_is_confirmed_pixel_by_pixel(monkeypatch):
    # Every hash equal: only images whose pixels are identical may still match.
    monkeypatch.setattr(kaggle.leak, "image_hashes", lambda images: np.zeros(len(images), np.uint64))
    reference = np.stack([np.full((28, 28), value, np.uint8) for value in (7, 8)])
    images = np.stack([np.full((28, 28), value, np.uint8) for value in (7, 9)])
    assert kaggle.find_identical(images, reference).tolist() == [0, -1]


def test_hashes_tell_images_apart(mnist):
    (x_train, _), (x_test, _) = mnist
    assert len(np.unique(kaggle.image_hashes(x_test))) == 10_000
    assert kaggle.image_hashes(x_train[:3]).tolist() == kaggle.image_hashes(x_train[:3].copy()).tolist()


@pytest.mark.parametrize("images, error, message", [
    (np.zeros((2, 28, 28), np.float32), TypeError, r"images must have dtype uint8 .*before mh.scale"),
    (np.zeros((2, 784), np.uint8), ValueError, r"images must have shape \(n, 28, 28\)"),
])
def test_overlap_refuses_images_that_are_not_as_loaded(mnist, images, error, message):
    with pytest.raises(error, match=message):
        kaggle.overlap_with_mnist(images, mnist)


def test_lookup_copies_the_label_of_each_exact_copy(mnist):
    (_, y_train), (_, y_test) = mnist
    images, train_index, test_index = _known_mix(mnist)
    labels = kaggle.lookup_labels(images, mnist)
    expected = [int(y_train[i]) for i in train_index[:7]] + [int(y_test[i]) for i in test_index[7:10]] + [-1] * 3
    assert labels.dtype == np.int64 and labels.tolist() == expected


def test_lookup_scores_100_percent_on_a_standin(tmp_path, mnist):
    standin = kaggle.make_standin(tmp_path, seed=3, n_train=10, n_test=300, mnist=mnist)
    x_test, _ = mh.load_kaggle_csv(standin.test_csv)
    labels = kaggle.lookup_labels(x_test, mnist)
    assert np.array_equal(labels, standin.test_labels)
    # Drawn from all 70,000, so some copies come from MNIST's test set, which a model trained
    # on MNIST's training set alone has never seen: the lookup must search both sets.
    assert (standin.test_source >= 60_000).any()


def test_lookup_loads_mnist_when_not_given(monkeypatch, mnist):
    monkeypatch.setattr(data, "load_mnist", lambda *args, **kwargs: mnist)
    (x_train, y_train), _ = mnist
    assert kaggle.lookup_labels(x_train[:5]).tolist() == y_train[:5].tolist()


def test_lookup_refuses_mnist_labels_that_do_not_fit(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    with pytest.raises(ValueError, match=r"MNIST's y_test must have shape \(10000,\), one label per example"):
        kaggle.lookup_labels(x_train[:2], ((x_train, y_train), (x_test, y_test[:-1])))


# ------------------------------------------------------------------ the stand-in files

def test_standin_is_kaggle_shaped_and_drawn_from_mnist(tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    x_all, y_all = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    standin = kaggle.make_standin(tmp_path / "new", seed=3, n_train=300, n_test=200, mnist=mnist)
    x, y = mh.load_kaggle_csv(standin.train_csv)
    assert np.array_equal(x, x_all[standin.train_source]) and np.array_equal(y, y_all[standin.train_source])
    x_kaggle_test, no_labels = mh.load_kaggle_csv(standin.test_csv)
    assert no_labels is None and np.array_equal(x_kaggle_test, x_all[standin.test_source])
    assert np.array_equal(standin.test_labels, y_all[standin.test_source])
    assert not set(standin.train_source) & set(standin.test_source)
    with open(standin.train_csv) as file:
        assert file.readline().startswith("label,pixel0,pixel1,") and file.readline().count(",") == 784
    # The truth matches what the overlap measures.
    overlap = kaggle.overlap_with_mnist(x_kaggle_test, mnist)
    assert overlap.in_train.tolist() == np.flatnonzero(standin.test_source < 60_000).tolist()
    assert overlap.counts()["in_neither"] == 0


def test_standin_is_repeatable(tmp_path, mnist):
    first = kaggle.make_standin(tmp_path / "a", seed=1, n_train=50, n_test=20, mnist=mnist)
    again = kaggle.make_standin(tmp_path / "b", seed=1, n_train=50, n_test=20, mnist=mnist)
    other = kaggle.make_standin(tmp_path / "c", seed=2, n_train=50, n_test=20, mnist=mnist)
    assert first.train_csv.read_bytes() == again.train_csv.read_bytes()
    assert first.test_csv.read_bytes() == again.test_csv.read_bytes()
    assert first.train_csv.read_bytes() != other.train_csv.read_bytes()


def test_standin_cannot_draw_more_than_mnist_has(tmp_path, mnist):
    with pytest.raises(ValueError, match="n_train \\+ n_test = 70,001 is more than MNIST's 70,000 images"):
        kaggle.make_standin(tmp_path, n_train=42_001, n_test=28_000, mnist=mnist)


def test_written_csv_reads_back_exactly(tmp_path):
    images = np.arange(2 * 784).reshape(2, 28, 28).astype(np.uint8)  # every value 0..255, 1..3 digits
    x, y = mh.load_kaggle_csv(_csv(tmp_path / "train.csv", images, np.array([0, 9])))
    assert np.array_equal(x, images) and y.tolist() == [0, 9]


# ------------------------------------------------------------------ the submission

def test_validate_submission_accepts_what_write_submission_writes(tmp_path):
    path = tmp_path / "submission.csv"
    mh.write_submission(path, np.array([3, 0, 9]), expected_rows=3)
    checked = kaggle.validate_submission(path, 3)
    assert checked["ImageId"].tolist() == [1, 2, 3] and checked["Label"].tolist() == [3, 0, 9]


@pytest.mark.parametrize("text, message", [
    ("", r"not a submission CSV"),
    ("ImageId,Digit\n1,3\n2,0\n3,9\n", r"columns are ImageId,Digit; Kaggle expects ImageId,Label"),
    ("ImageId,Label\n1,3\n2,0\n", r"2 rows, Kaggle expects 3 \(one per test image\)"),
    ("ImageId,Label\n0,3\n1,0\n2,9\n", r"row 2: ImageId '0', expected 1 \(ImageId counts from 1"),
    ("ImageId,Label\n1,3\n3,0\n2,9\n", r"row 3: ImageId '3', expected 2"),
    ("ImageId,Label\n1,3\n2,10\n3,9\n", r"row 3: Label '10' is not a digit 0..9"),
    ("ImageId,Label\n1,3\n2,0\n3,9.0\n", r"row 4: Label '9.0' is not a digit 0..9"),
    ("ImageId,Label\n1,3\n2,\n3,9\n", r"row 3: Label '' is not a digit 0..9"),
])
def test_validate_submission_names_the_problem(tmp_path, text, message):
    path = tmp_path / "submission.csv"
    path.write_text(text)
    with pytest.raises(mh.DataFormatError, match=rf"submission.csv: {message}"):
        kaggle.validate_submission(path, 3)


def test_validate_missing_submission(tmp_path):
    with pytest.raises(FileNotFoundError, match="submission.csv: no such file"):
        kaggle.validate_submission(tmp_path / "submission.csv", 3)


def test_output_path_checks(tmp_path, monkeypatch):
    assert kaggle.check_output_path(tmp_path / "s.csv") == tmp_path / "s.csv"
    with pytest.raises(FileNotFoundError, match=r"folder .*missing does not exist; create it \(mkdir -p"):
        kaggle.check_output_path(tmp_path / "missing" / "s.csv")
    with pytest.raises(IsADirectoryError, match=r"is a folder; name the file, e.g. --out .*submission.csv"):
        kaggle.check_output_path(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"file is a file, not a folder"):
        kaggle.check_output_path(tmp_path / "file" / "s.csv")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(kaggle.submission.tempfile, "TemporaryFile", read_only)
    with pytest.raises(PermissionError, match=r"cannot write in folder .* \(Permission denied\); choose another --out"):
        kaggle.check_output_path(tmp_path / "s.csv")


# ------------------------------------------------------------------ the command: plan

@pytest.mark.parametrize("n, options, expected", [
    (42_000, {}, (42_000, 4_200, None)),
    (42_000, {"fast": True}, (6_000, 600, 3)),
    (42_000, {"fast": True, "epochs": 1, "val_size": 0}, (6_000, 0, 1)),
    (500, {"fast": True}, (500, 50, 3)),
    (42_000, {"epochs": 5, "val_size": 1_000}, (42_000, 1_000, 5)),
])
def test_training_plan(n, options, expected):
    plan = kaggle.training_plan(n, **options)
    assert (plan.n_images, plan.val_size, plan.epochs) == expected


@pytest.mark.parametrize("n, val_size", [(42_000, 41_995), (42_000, 5), (100, 95)])
def test_training_plan_refuses_splits_that_cannot_be_stratified(n, val_size):
    with pytest.raises(ValueError, match=rf"--val-size {val_size:,} does not fit {n:,} training images"):
        kaggle.training_plan(n, val_size=val_size)


# ------------------------------------------------------------------ the command: bad input

def _run_failing(capsys, argv):
    """main(argv) must exit 1 with exactly one line on stderr; return that line."""
    assert kaggle.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ")
    return err.strip()


def _pixels_frame(n=12, label=True):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 256, size=(n, 784)), columns=kaggle.KAGGLE_PIXELS)
    if label:
        frame.insert(0, "label", np.arange(n) % 10)
    return frame


@pytest.mark.parametrize("edit_train, edit_test, message", [
    ("missing", None, r"train.csv: no such file"),
    (None, "missing", r"test.csv: no such file"),
    ("folder", None, r"train.csv: no such file \(it is a folder\)"),
    (lambda f: f.drop(columns="pixel300"), None, r"train.csv: columns do not match .*missing \['pixel300'\]"),
    (None, lambda f: f.assign(extra=1), r"test.csv: columns do not match .*unexpected \['extra'\]"),
    (lambda f: f.drop(columns="label"), lambda f: f.assign(label=1)[["label", *kaggle.KAGGLE_PIXELS]],
     r"train.csv has no label column and .*test.csv has one: the two files look swapped; pass train.csv first"),
    (lambda f: f.drop(columns="label"), None, r"train.csv: no label column, .*looks swapped"),
    (None, lambda f: f.assign(label=1)[["label", *kaggle.KAGGLE_PIXELS]],
     r"test.csv: has a label column, so it is a train.csv \(looks swapped\?\); the second file must be"),
    (lambda f: f.assign(pixel7=f["pixel7"].astype(object).where(f.index != 4, "abc")), None,
     r"train.csv: row 6, column pixel7: 'abc' is not a whole number"),
    (None, lambda f: f.assign(pixel700=f["pixel700"].where(f.index != 9, 300)),
     r"test.csv: row 11, column pixel700: value 300 is outside 0..255"),
    (None, lambda f: f.iloc[:0], r"test.csv: no images, only the header; pass Kaggle's test.csv"),
])
def test_bad_input_is_one_line_and_no_training(tmp_path, capsys, no_training, edit_train, edit_test, message):
    paths = []
    for name, edit, label in (("train.csv", edit_train, True), ("test.csv", edit_test, False)):
        path = tmp_path / name
        if edit == "folder":
            path.mkdir()
        elif edit != "missing":
            (edit or (lambda f: f))(_pixels_frame(label=label)).to_csv(path, index=False)
        paths.append(str(path))
    line = _run_failing(capsys, [*paths, "--out", str(tmp_path / "submission.csv")])
    assert re.search(message, line), line


@pytest.mark.parametrize("out, message", [
    ("missing/submission.csv", r"folder .*missing does not exist"),
    (".", r"is a folder; name the file"),
])
def test_unwritable_output_is_refused_before_reading_or_training(tmp_path, capsys, no_training, out, message):
    # The inputs do not even exist: the output is checked first of all.
    line = _run_failing(capsys, [str(tmp_path / "train.csv"), str(tmp_path / "test.csv"),
                                 "--out", str(tmp_path / out)])
    assert re.search(message, line), line


def test_read_only_output_folder_is_refused(tmp_path, capsys, no_training, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(kaggle.submission.tempfile, "TemporaryFile", read_only)
    line = _run_failing(capsys, [str(tmp_path / "train.csv"), str(tmp_path / "test.csv"),
                                 "--out", str(tmp_path / "s.csv")])
    assert "cannot write in folder" in line and "Permission denied" in line


def test_validation_split_too_large_is_refused(tmp_path, capsys, no_training):
    _pixels_frame(n=30).to_csv(tmp_path / "train.csv", index=False)
    _pixels_frame(n=3, label=False).to_csv(tmp_path / "test.csv", index=False)
    line = _run_failing(capsys, [str(tmp_path / "train.csv"), str(tmp_path / "test.csv"), "--val-size", "25",
                                 "--out", str(tmp_path / "s.csv")])
    assert "--val-size 25 does not fit 30 training images" in line


def test_unusable_model_is_one_line(tmp_path, capsys):
    _pixels_frame(n=3, label=False).to_csv(tmp_path / "test.csv", index=False)
    line = _run_failing(capsys, [str(tmp_path / "test.csv"), "--model", str(tmp_path / "nope.keras"),
                                 "--out", str(tmp_path / "s.csv")])
    assert "nope.keras: no such model file" in line


@pytest.mark.parametrize("argv, message", [
    (["test.csv"], "expected train.csv and test.csv"),
    (["a.csv", "b.csv", "c.csv"], "got 3 files"),
    (["a.csv", "b.csv", "--seeds", "0"], "argument --seeds: '0' is not a whole number >= 1"),
    (["a.csv", "b.csv", "--val-size", "ten"], "argument --val-size: 'ten' is not a whole number >= 0"),
    (["test.csv", "--shipped-model", "--epochs", "3"], "--epochs: options for training"),
    (["test.csv", "--shipped-model", "--model", "m.keras"], "not allowed with argument"),
])
def test_usage_errors_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        kaggle.main(argv)
    assert stop.value.code == 2
    assert re.search(message, capsys.readouterr().err)


# ------------------------------------------------------------------ the command: it works

def test_help_documents_the_command(capsys):
    from mnist_helpers import cnn

    with pytest.raises(SystemExit) as stop:
        kaggle.main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for expected in ("python -m mnist_helpers.kaggle train.csv test.csv --out submission.csv",
                     "kaggle competitions download -c digit-recognizer",
                     "kaggle competitions submit -c digit-recognizer -f submission.csv -m",
                     "the MNIST leak", "--shipped-model", "--seeds N", f"{cnn.FINAL_EPOCHS} epochs"):
        assert expected in text, expected


def test_help_in_a_subprocess_does_not_import_tensorflow():
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mnist_helpers.kaggle", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "digit-recognizer" in done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert not [name for name in imported if name.split(".")[0] in ("tensorflow", "keras", "pandas")]


def test_training_on_train_csv_only(tmp_path, capsys, monkeypatch, small_csvs):
    def no_mnist(*args, **kwargs):
        raise AssertionError("MNIST was loaded: Kaggle training must use train.csv only")
    monkeypatch.setattr(data, "load_mnist", no_mnist)
    monkeypatch.setattr(kaggle.training, "FAST_IMAGES", 150)  # --fast, scaled down: 150 images, 15 of them for validation
    out = tmp_path / "submission.csv"
    assert kaggle.main([*small_csvs, "--fast", "--epochs", "1", "--seeds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "train.csv: 200 labelled images" in printed and "test.csv: 45 images" in printed
    assert "training on 135 images, validation split 15 images (stratified, seed 0)" in printed
    assert printed.count("epoch   1  ") == 2 and "model 2 of 2 (seed 1)" in printed
    assert "model 1: validation accuracy" in printed and "ensemble of 2: validation accuracy" in printed
    assert f"2 model(s) of 1 epoch(s) each: batch {recipes.FINAL_BATCH_SIZE}" in printed
    assert f"wrote {out}: 45 rows" in printed and "total time" in printed
    assert (f'kaggle competitions submit -c digit-recognizer -f {out} -m "final CNN, 135 images of train.csv only, '
            '2 seed(s), 1 epochs"') in printed
    assert kaggle.validate_submission(out, 45)["ImageId"].tolist() == list(range(1, 46))


@pytest.mark.parametrize("option", ["--shipped-model", "--model"])
def test_pretrained_model_warns_with_the_measured_overlap(tmp_path, capsys, small_csvs, option):
    from mnist_helpers.predict import DEFAULT_MODEL

    out = tmp_path / "submission.csv"
    model = [option] if option == "--shipped-model" else [option, str(DEFAULT_MODEL)]
    assert kaggle.main([*small_csvs, *model, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    warning = captured.err.strip()
    assert warning.startswith("warning: ") and len(warning.splitlines()) == 1
    assert "it has seen 30 of the 45 test images (66.7%) with their labels, as exact copies of MNIST" in warning
    assert ("was trained on MNIST" if option == "--shipped-model" else "if the model") in warning
    assert "(10 more are MNIST test images, 5 are in neither), so its leaderboard score is inflated" in warning
    assert "train.csv is not used" in captured.out and "no training" in captured.out
    assert len(kaggle.validate_submission(out, 45)) == 45


def test_leak_warning_without_mnist_says_why(monkeypatch):
    def missing(*args, **kwargs):
        raise mh.MnistNotFoundError("Could not load MNIST. Sources tried: ...")
    monkeypatch.setattr(data, "load_mnist", missing)
    warning = kaggle.leak_warning(np.zeros((4, 28, 28), np.uint8), "the shipped model", shipped=True)
    assert warning.startswith("warning: the shipped model was trained on MNIST: it has seen, with their labels")
    assert "inflated" in warning and "how many could not be measured: MNIST was not found; set MNIST_DATA" in warning
    assert len(warning.splitlines()) == 1
