"""mnist_helpers.inference: the model folded and run in NumPy, the folded file shipped beside it,
and the NumPy path against Keras on all 10,000 MNIST test images."""
import json
import subprocess
import sys

import numpy as np
import pytest
from folding_models import FOLDED_OPS, small_model

from mnist_helpers import inference
from mnist_helpers.inference import FoldedNetwork, ModelFileError

# The folded network computes in float32 in another order than Keras (folded batch norms,
# im2col sums): probabilities move by ~1e-6. A wrong fold or layer order moves them by 1e-2 and more.
PROB_TOL = inference.FLOAT_ATOL


@pytest.fixture(scope="module")
def keras():
    from mnist_helpers._keras import keras

    return keras


@pytest.fixture(scope="module")
def shipped(keras):
    return inference.load_model()


# --------------------------------------------------------------------------- folding
def test_folding_matches_keras_on_a_small_network(mnist):
    _, (x_test, _) = mnist
    model = small_model()
    network = FoldedNetwork(inference.fold_model(model))
    assert [op["op"] for op in network.ops] == FOLDED_OPS
    x = x_test[:200]
    keras_probs = model.predict(x, verbose=0)
    assert np.median(keras_probs.max(axis=1)) > 0.5  # not a flat softmax, where every gap is tiny
    probs = network.predict(x)
    gap = np.abs(probs - keras_probs).max()
    print(f"\nsmall network, batch norms folded, vs Keras: max probability gap {gap:.2g} (tolerance {PROB_TOL:g})")
    assert probs.dtype == np.float32 and gap <= PROB_TOL


def test_a_wrong_fold_fails_the_tolerance(mnist):
    """The check can fail: the same network with one folded bias off by half a unit is far outside it."""
    _, (x_test, _) = mnist
    model = small_model()
    ops = inference.fold_model(model)
    ops[1] = dict(ops[1], bias=ops[1]["bias"] + 0.5)  # one folded shift wrong by half a unit
    gap = np.abs(inference.forward(ops, x_test[:200]) - model.predict(x_test[:200], verbose=0)).max()
    assert gap > 100 * PROB_TOL


def test_augmentation_layers_are_left_out(mnist):
    """Today's three Keras layers (in a block) and the one-warp DigitAffineAugmentation are the identity."""
    from mnist_helpers.augmentation import DigitAffineAugmentation, build_augmentation

    assert "DigitAffineAugmentation" in inference.AUGMENTATION_LAYERS
    _, (x_test, _) = mnist
    for extra in ([build_augmentation(seed=0)], [DigitAffineAugmentation(seed=0)]):
        model = small_model(extra=extra)
        ops = inference.fold_model(model)
        assert [op["op"] for op in ops] == FOLDED_OPS
        gap = np.abs(inference.forward(ops, x_test[:50]) - model.predict(x_test[:50], verbose=0)).max()
        assert gap <= PROB_TOL, type(extra[0]).__name__


def test_unknown_layers_and_activations_are_refused(keras):
    layers = keras.layers
    pooled = keras.Sequential([keras.Input((28, 28)), layers.Reshape((28, 28, 1)), layers.AveragePooling2D(2),
                               layers.Flatten(), layers.Dense(10, activation="softmax")])
    with pytest.raises(inference.ExportError, match="AveragePooling2D is not supported"):
        inference.fold_model(pooled)
    tanh = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(10, activation="tanh")])
    with pytest.raises(inference.ExportError, match="activation 'tanh' is not supported"):
        inference.fold_model(tanh)
    bn_first = keras.Sequential([keras.Input((28, 28)), layers.BatchNormalization(), layers.Flatten(),
                                 layers.Dense(10, activation="softmax")])
    with pytest.raises(inference.ExportError, match="must follow a Conv2D or Dense layer"):
        inference.fold_model(bn_first)


# --------------------------------------------------------------------------- the shipped model
def test_numpy_path_gives_keras_digit_on_all_test_images(shipped, mnist):
    """The acceptance check of the faster prediction: 10,000 of 10,000 digits, and the largest gap."""
    _, (x_test, _) = mnist
    network = inference.FoldedNetwork.load(inference.FOLDED_MODEL)
    numpy_probs = inference.predict_probabilities(network, x_test)
    keras_probs = inference.predict_probabilities(shipped, x_test)
    same = int(np.sum(numpy_probs.argmax(axis=1) == keras_probs.argmax(axis=1)))
    gap = float(np.abs(numpy_probs - keras_probs).max())
    print(f"\nNumPy (folded, float32) vs Keras on {len(x_test):,} test images: same digit on {same:,}, "
          f"max probability gap {gap:.2g} (tolerance {PROB_TOL:g})")
    assert same == len(x_test)
    assert gap <= PROB_TOL


def test_the_shipped_folded_file_comes_from_the_shipped_model():
    """`make book` folds again when the model's content changed; a stale file would predict with an old network."""
    assert inference.is_current(), "run `python -m mnist_helpers.inference` to fold the shipped model again"
    network = FoldedNetwork.load(inference.FOLDED_MODEL)
    assert network.model_name == inference.DEFAULT_MODEL.name
    assert all(op[key].dtype == np.float32 for op in network.ops if op["op"] in ("conv2d", "dense")
               for key in ("kernel", "bias"))
    assert inference.FOLDED_MODEL.stat().st_size < 2e6


def test_is_current_compares_contents(tmp_path):
    other = tmp_path / "other.keras"
    other.write_bytes(inference.DEFAULT_MODEL.read_bytes() + b"changed")
    assert not inference.is_current(other, inference.FOLDED_MODEL)
    assert not inference.is_current(inference.DEFAULT_MODEL, tmp_path / "missing.npz")


def test_save_and_load_keep_every_weight(tmp_path):
    network = FoldedNetwork(inference.fold_model(small_model()), "ab" * 32, "small.keras")
    path = network.save(tmp_path / "small.npz", note="kept")
    back = FoldedNetwork.load(path)
    assert (back.model_sha256, back.model_name) == ("ab" * 32, "small.keras")
    assert [op["op"] for op in back.ops] == [op["op"] for op in network.ops]
    for ours, theirs in zip(back.ops, network.ops):
        for key, value in theirs.items():
            assert np.array_equal(ours[key], value) if isinstance(value, np.ndarray) else ours[key] == value
    with np.load(path) as data:
        assert json.loads(str(data["meta"]))["note"] == "kept"
    assert back.count_params() == network.count_params() > 0


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such file; pass a folded model"),
    ("folder", "is a folder"),
    ("text", "not a folded model of this package"),
    ("other_npz", r"not a folded model of this package \(KeyError"),
    ("future", r"format 2, expected 1"),
])
def test_bad_folded_files_say_what_to_do(tmp_path, kind, message):
    path = tmp_path / f"{kind}.npz"
    if kind == "folder":
        path.mkdir()
    elif kind == "text":
        path.write_text("not an npz")
    elif kind == "other_npz":
        np.savez(path, weights=np.zeros(3))
    elif kind == "future":
        np.savez(path, meta=np.array(json.dumps({"format": 2, "layers": []})))
    with pytest.raises(ModelFileError, match=message) as error:
        FoldedNetwork.load(path)
    assert str(error.value).startswith(f"{path}: ") and len(str(error.value).splitlines()) == 1


def test_predict_probabilities_checks_the_images():
    network = FoldedNetwork.load(inference.FOLDED_MODEL)
    for bad in (np.zeros((2, 28, 28), np.float32), np.zeros((28, 28), np.uint8), np.zeros((1, 32, 32), np.uint8)):
        with pytest.raises(ValueError, match=r"images must be uint8 of shape \(n, 28, 28\)"):
            inference.predict_probabilities(network, bad)
    assert inference.predict_probabilities(network, np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)


def test_load_shipped_folds_again_when_the_file_is_stale(tmp_path, monkeypatch, mnist):
    """A model retrained by chapter 9 without folding it again: predictions from the new model, and a note."""
    stale = FoldedNetwork.load(inference.FOLDED_MODEL)
    path = FoldedNetwork(stale.ops, "0" * 64, stale.model_name).save(tmp_path / "stale.npz")
    monkeypatch.setattr(inference, "FOLDED_MODEL", path)
    notes = []
    network = inference.load_shipped(note=notes.append)
    assert len(notes) == 1 and "was folded from another mnist_cnn.keras" in notes[0]
    assert "python -m mnist_helpers.inference" in notes[0]
    assert network.model_sha256 == inference.model_sha256(inference.DEFAULT_MODEL)
    _, (x_test, _) = mnist
    assert np.abs(network.predict(x_test[:20]) - stale.predict(x_test[:20])).max() <= PROB_TOL


def test_load_shipped_without_model_or_folded_file(tmp_path, monkeypatch):
    monkeypatch.setattr(inference, "FOLDED_MODEL", tmp_path / "none.npz")
    monkeypatch.setattr(inference, "DEFAULT_MODEL", tmp_path / "none.keras")
    with pytest.raises(ModelFileError, match="no such model file, and .* run notebooks/09b_choosing_the_cnn.ipynb"):
        inference.load_shipped()


# --------------------------------------------------------------------------- command line
def test_cli_if_changed_does_nothing_for_the_shipped_model(capsys):
    assert inference.main(["--if-changed"]) == 0
    assert capsys.readouterr().out == f"{inference.FOLDED_MODEL} is up to date with {inference.DEFAULT_MODEL.name}\n"


def test_cli_folds_a_model_and_checks_it(tmp_path, capsys, mnist):
    model_path = tmp_path / "small.keras"
    small_model().save(model_path)
    assert inference.main(["--model", str(model_path)]) == 0  # default out: the model's name with .npz
    printed = capsys.readouterr().out
    out = tmp_path / "small.npz"
    assert f"folded float32 network vs Keras on {inference.CHECK_IMAGES:,} test images" in printed
    assert f"wrote {out}" in printed and inference.is_current(model_path, out)
    assert inference.main(["--model", str(model_path), "--if-changed"]) == 0
    assert "is up to date" in capsys.readouterr().out


def test_cli_usage_errors(tmp_path, capsys):
    for args, message in ((["--out", "x.txt"], "the folded model is an .npz file"),
                          (["--model", str(tmp_path / "none.keras")], "no such file")):
        with pytest.raises(SystemExit) as exit_:
            inference.main(args)
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_loading_the_folded_model_imports_no_tensorflow():
    code = ("import sys\n"
            "from mnist_helpers import inference\n"
            "network = inference.load_shipped()\n"
            "import numpy as np\n"
            "print(network.predict(np.zeros((1, 28, 28), np.uint8)).shape)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'matplotlib'}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["(1, 10)", "[]"]


def test_kaggle_shipped_model_predicts_in_numpy_without_tensorflow(tmp_path, mnist):
    """`python -m mnist_helpers.kaggle test.csv --shipped-model`: the folded model, Keras' digits, no TensorFlow."""
    from mnist_helpers import kaggle

    _, (x_test, _) = mnist
    test_csv = kaggle.write_kaggle_csv(tmp_path / "test.csv", x_test[:40])
    out = tmp_path / "submission.csv"
    code = ("import sys\n"
            "from mnist_helpers.kaggle import main\n"
            f"code = main([{str(test_csv)!r}, '--shipped-model', '--out', {str(out)!r}])\n"
            "print('EXIT:', code)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.splitlines()[-2:] == ["EXIT: 0", "[]"], result.stdout + result.stderr
    expected = FoldedNetwork.load(inference.FOLDED_MODEL).predict(x_test[:40]).argmax(axis=1)
    assert kaggle.validate_submission(out, 40)["Label"].tolist() == expected.tolist()
