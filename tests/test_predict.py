"""Own-image preprocessing and the `python -m mnist_helpers.predict` command."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import mnist_helpers as mh
from mnist_helpers import cnn, predict
from digit_images import ASSETS, write_all


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A small convnet trained for one epoch on 2,000 digits, saved as .keras."""
    (x, y), _ = mh.load_mnist(download=False)
    mh.setup_book()
    model = cnn.build_keras_example_convnet()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:2000], y[:2000], epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def test_committed_assets_are_the_test_made_ones(tmp_path):
    expected = write_all(tmp_path)
    for name in expected:
        committed = np.asarray(Image.open(ASSETS / name))
        assert np.array_equal(committed, np.asarray(Image.open(tmp_path / name))), name


def test_mnist_digit_survives_preprocessing(mnist):
    """An MNIST digit, enlarged, inverted to dark-on-light and moved off-centre, comes back close to itself."""
    (x, _), _ = mnist
    gaps = []
    for image in x[:50]:
        big = Image.fromarray(255 - image).resize((140, 140), Image.Resampling.BICUBIC)
        canvas = Image.new("L", (300, 220), 255)
        canvas.paste(big, (37, 50))
        back = predict.preprocess_image(canvas)
        assert back.shape == (28, 28) and back.dtype == np.uint8
        gaps.append(np.abs(back.astype(int) - image).mean())
    # Resampling twice and whole-pixel centring leave small differences; a missed inversion or
    # a wrong crop gives gaps of 50 and more.
    assert np.mean(gaps) < 10 and max(gaps) < 35


def test_preprocessed_assets_look_like_mnist():
    for path in sorted(ASSETS.glob("*.png")):
        image = predict.load_image(path)
        assert mh.bounding_boxes(image[None]).max() == 20, path.name
        assert np.allclose(mh.centers_of_mass(image[None])[0], 14, atol=0.5), path.name


def test_blank_image_is_refused():
    with pytest.raises(predict.ImageInputError, match="blank.png: the image is blank"):
        predict.preprocess_image(np.full((50, 60), 200, np.uint8), name="blank.png")


def test_several_digits_are_refused(mnist):
    (x, _), _ = mnist
    with pytest.raises(predict.ImageInputError, match="two.png: found 2 separate pieces .* several digits"):
        predict.preprocess_image(np.concatenate([x[0], x[1]], axis=1), name="two.png")


@pytest.mark.parametrize("array, message", [
    (np.zeros((5, 5, 2), np.uint8), r"shape \(5, 5, 2\) is not an image"),
    (np.zeros((5, 5), np.float32), "dtype float32; pass uint8"),
])
def test_bad_arrays(array, message):
    with pytest.raises(predict.ImageInputError, match=message):
        predict.preprocess_image(array)


def test_predict_images_validates_shape(tiny_model):
    model = predict.load_model(tiny_model)
    with pytest.raises(ValueError, match=r"must be uint8 of shape \(n, 28, 28\)"):
        predict.predict_images(model, np.zeros((2, 32, 32), np.uint8))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mnist_helpers.predict", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_cli_predicts_each_file(tiny_model):
    files = sorted(ASSETS.glob("*.png"))
    result = run_cli(*files, "--model", tiny_model)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(files)
    for file, line in zip(files, lines):
        assert line.startswith(f"{file}: ") and " (probability " in line


def test_cli_bad_inputs_fail_cleanly(tiny_model, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    two = np.concatenate([np.asarray(predict.load_image(p)) for p in sorted(ASSETS.glob("typed_*.png"))], axis=1)
    Image.fromarray(two).save(tmp_path / "two_digits.png")
    cases = {
        tmp_path / "missing.png": "missing.png: no such file",
        tmp_path / "notes.png": "notes.png: not an image file",
        tmp_path / "blank.png": "blank.png: the image is blank",
        tmp_path / "two_digits.png": "two_digits.png: found 2 separate pieces",
    }
    good = ASSETS / "drawn_7_colour.png"
    # One run with every bad file and a good one: each bad file gets its own line, the good
    # one is still predicted, and the exit code says something failed.
    result = run_cli(*cases, good, "--model", tiny_model)
    assert result.returncode == 1, (result.stdout, result.stderr)
    for message in cases.values():
        assert f"error: {tmp_path}/{message}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == len(cases)
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(f"{good}: ")


def test_main_in_process(tiny_model, capsys):
    assert predict.main([str(ASSETS / "typed_3_dark_on_light.png"), "--model", str(tiny_model)]) == 0
    assert "typed_3_dark_on_light.png: " in capsys.readouterr().out


def test_cli_missing_model(tmp_path):
    result = run_cli(ASSETS / "drawn_7_colour.png", "--model", tmp_path / "none.keras")
    assert result.returncode == 2
    assert "none.keras: no such model file" in result.stderr and "Traceback" not in result.stderr


def test_shipped_model_and_its_card():
    """The model chapter 9 trained in full mode is in the package, with how it was trained and how well it did."""
    assert predict.DEFAULT_MODEL.is_file(), "run notebooks/09_final_cnn.ipynb in full mode to write it"
    assert predict.DEFAULT_MODEL.stat().st_size < 5e6
    card = (predict.DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    accuracy = float(card.split("MNIST test accuracy: ")[1].split()[0])
    assert accuracy >= 0.996, card


def test_cli_with_the_shipped_model_reads_the_committed_digits():
    """No --model: the shipped final CNN names the digit in each test-made image (in its file name)."""
    files = sorted(ASSETS.glob("*.png"))
    result = run_cli(*files)
    assert result.returncode == 0, result.stderr
    for file, line in zip(files, result.stdout.strip().splitlines()):
        digit = int(file.name.split("_")[1])
        assert line.startswith(f"{file}: {digit} (probability "), line
