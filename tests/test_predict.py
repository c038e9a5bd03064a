"""Own-image preprocessing and the `python -m mnist_helpers.predict` command.

The command runs in-process (``predict.main`` with ``capsys``) except for the subprocesses that
check what it imports: ``--help`` nothing heavy, a NumPy prediction no TensorFlow. Tests that never
read a prediction use a tiny untrained model; the shipped model is used where predictions must be
right. The benchmark's quick mode is smoke-tested here too.
"""
import errno
import importlib.util
import json
import re
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from digit_images import ASSETS, write_all
from PIL import Image, ImageFile

import mnist_helpers as mh
from mnist_helpers import inference, predict

THREE = ASSETS / "typed_3_dark_on_light.png"  # not symmetric: a wrong rotation shows


def save_classifier(path, classes=10):
    """Save an untrained (28, 28) -> Rescaling -> Flatten -> Dense(classes, softmax) model."""
    from mnist_helpers.config import quiet_tensorflow_import

    quiet_tensorflow_import()
    import keras

    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(classes, activation="softmax")])
    model.save(path)
    return path


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    """For tests whose predictions nobody reads: saved untrained, in a second."""
    return save_classifier(tmp_path_factory.mktemp("model") / "untrained.keras")


def run_main(capsys, *args):
    """``predict.main`` in-process: (exit code, stdout lines, stderr lines)."""
    code = predict.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def mode_of(path):
    with Image.open(path) as image:
        return image.mode


def png_with_header(width, height):
    """A PNG whose header claims width x height 8-bit grey pixels, with 100 bytes of data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(100)))
            + chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any pixel decoding fail loudly, to show a refusal came from the header alone."""
    def load(self):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


# --------------------------------------------------------------------------- preprocessing
def test_committed_assets_are_the_test_made_ones(tmp_path):
    expected = write_all(tmp_path)
    for name in expected:
        committed = np.asarray(Image.open(ASSETS / name))
        assert np.array_equal(committed, np.asarray(Image.open(tmp_path / name))), name


def test_sample_digit_files_are_the_packages_test_made_images(tmp_path):
    files = mh.sample_digit_files()
    assert files == sorted(ASSETS.glob("*.png")) == sorted(files)
    assert [path.name for path in files] == sorted(write_all(tmp_path))
    assert all(path.is_absolute() and path.parent.name == "sample_digits" for path in files)
    assert "sample_digit_files" in mh.__all__


def test_sample_digit_files_without_the_package_data_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(predict.importlib.resources, "files", lambda package: tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no sample digit images in .*sample_digits: install mnist_helpers"):
        predict.sample_digit_files()


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


def test_uint16_and_float_arrays_are_scaled_like_uint8():
    gray = np.asarray(Image.open(THREE))
    expected = predict.preprocess_image(gray)
    assert np.array_equal(predict.preprocess_image(gray.astype(np.uint16) * 257), expected)
    assert np.array_equal(predict.preprocess_image((gray / 255).astype(np.float32)), expected)


@pytest.mark.parametrize("array, message", [
    (np.zeros((5, 5, 2), np.uint8), r"shape \(5, 5, 2\) is not an image"),
    (np.zeros((0, 5), np.uint8), "has no pixels"),
    (np.zeros((5, 5), np.int64), "dtype int64; pass uint8 .* uint16 .* floats in \\[0, 1\\]"),
    (np.zeros((5, 5), bool), "dtype bool"),
    (np.full((5, 5), 200.0), r"float values 200..200 are outside \[0, 1\]"),
    (np.full((5, 5), np.nan), "NaN or infinite"),
])
def test_bad_arrays(array, message):
    with pytest.raises(predict.ImageInputError, match=message):
        predict.preprocess_image(array)


def test_32_bit_integer_image_outside_16_bits_is_refused():
    image = Image.fromarray(np.array([[-5, 70000]], np.int32))
    assert image.mode == "I"
    with pytest.raises(predict.ImageInputError, match=r"grey levels -5..70000 do not fit 16 bits"):
        predict.to_grayscale(image, name="wide.tif")


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("orientation, stored, suffix", [
    (6, Image.Transpose.ROTATE_90, ".jpg"),   # phone held upright: pixels stored turned left
    (8, Image.Transpose.ROTATE_270, ".jpg"),
    (3, Image.Transpose.ROTATE_180, ".png"),
])
def test_exif_orientation_is_honoured(tmp_path, orientation, stored, suffix):
    """Pixels stored turned, with the EXIF tag (0x0112) that turns them back, read like the upright image."""
    upright = Image.open(THREE)
    upright.save(tmp_path / f"upright{suffix}", quality=95)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned{suffix}"
    upright.transpose(stored).save(path, exif=exif, quality=95)
    expected = predict.load_image(tmp_path / f"upright{suffix}").astype(int)
    ignoring_exif = predict.preprocess_image(Image.open(path)).astype(int)
    gap = np.abs(predict.load_image(path).astype(int) - expected).mean()
    # JPEG blocks fall differently on turned pixels: a few grey levels; a wrong turn: over 30.
    assert gap == 0 if suffix == ".png" else gap < 3
    assert np.abs(ignoring_exif - expected).mean() > 30


def test_16_bit_png_is_scaled_by_the_16_bit_range(tmp_path):
    path = tmp_path / "digit16.png"
    Image.fromarray(np.asarray(Image.open(THREE)).astype(np.uint16) * 257).save(path)
    assert mode_of(path) in ("I;16", "I")
    assert np.array_equal(predict.load_image(path), predict.load_image(THREE))


def test_16_bit_noise_is_blank_not_stretched(tmp_path):
    """Levels 30000..30100 of 65535 are one grey: min..max stretching would call the noise a digit."""
    path = tmp_path / "noise16.png"
    noise = np.random.default_rng(0).integers(30000, 30100, size=(60, 50)).astype(np.uint16)
    Image.fromarray(noise).save(path)
    with pytest.raises(predict.ImageInputError, match="noise16.png: the image is blank"):
        predict.load_image(path)


@pytest.mark.parametrize("top", [1.0, 255.0])
def test_float_tiff_in_0_1_or_0_255(tmp_path, top):
    path = tmp_path / "digit.tif"
    Image.fromarray((np.asarray(Image.open(THREE)) / 255 * top).astype(np.float32)).save(path)
    assert mode_of(path) == "F"
    assert np.array_equal(predict.load_image(path), predict.load_image(THREE))


def test_float_tiff_of_unknown_range_is_refused(tmp_path):
    path = tmp_path / "wide.tif"
    Image.fromarray(np.linspace(-1, 2, 600, dtype=np.float32).reshape(20, 30)).save(path)
    with pytest.raises(predict.ImageInputError, match=r"wide.tif: float values -1..2 are outside \[0, 1\] or \[0, 255\]"):
        predict.load_image(path)


def test_oversized_image_is_refused_before_decoding(monkeypatch, no_decoding):
    monkeypatch.setattr(predict, "MAX_PIXELS", 1000)
    with pytest.raises(predict.ImageInputError, match=r"180 x 240 pixels is over the limit of 1,000 \(predict.MAX_PIXELS\)"):
        predict.load_image(THREE)


@pytest.mark.parametrize("width, height, message", [
    (10_000, 8_000, "10000 x 8000 pixels is over the limit of 50,000,000"),  # ours (Pillow allows 89 M)
    (12_000, 8_000, "too large to decode safely .*DecompressionBombWarning"),  # Pillow warns: made an error
    (40_000, 40_000, "too large to decode safely .*DecompressionBombError"),
])
def test_png_header_claiming_a_huge_size_is_refused_without_decoding(tmp_path, no_decoding, width, height, message):
    path = tmp_path / "huge.png"
    path.write_bytes(png_with_header(width, height))
    filters = list(warnings.filters)
    with pytest.raises(predict.ImageInputError, match=f"huge.png: {message}"):
        predict.load_image(path)
    assert warnings.filters == filters, "the warning-as-error filter must not outlive load_image"


@pytest.mark.parametrize("error", [OSError("broken data stream"), ValueError("bad tile"), SyntaxError("bad header"),
                                   EOFError("no more frames"), MemoryError()])
def test_any_decoding_error_becomes_an_image_input_error(monkeypatch, error):
    def load(self):
        raise error
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with pytest.raises(predict.ImageInputError, match=f"cannot decode the image \\({type(error).__name__}"):
        predict.load_image(THREE)


# --------------------------------------------------------------------------- command line
def test_cli_bad_image_files_each_get_one_line(untrained_model, tmp_path, capsys):
    """One run with every bad file and a good one: each bad file gets one line, the good one is predicted."""
    png = THREE.read_bytes()
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "random.png").write_bytes(np.random.default_rng(0).bytes(2000))
    (tmp_path / "truncated.png").write_bytes(png[:len(png) // 2])
    (tmp_path / "corrupt_data.png").write_bytes(png[:60] + bytes(len(png) - 60))  # header intact, data zeroed
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    two = np.concatenate([predict.load_image(p) for p in sorted(ASSETS.glob("typed_*.png"))], axis=1)
    Image.fromarray(two).save(tmp_path / "two_digits.png")
    cases = {
        "missing.png": "no such file; check the path",
        "folder.png": "is a folder, not an image file",
        "notes.png": "not an image file that Pillow can read",
        "random.png": "not an image file that Pillow can read",
        "truncated.png": "the file is truncated",
        "corrupt_data.png": "cannot decode the image",
        "blank.png": "the image is blank",
        "two_digits.png": "found 2 separate pieces",
    }
    good = ASSETS / "drawn_7_colour.png"
    code, out, err = run_main(capsys, *(tmp_path / name for name in cases), good, "--model", untrained_model)
    assert code == 1
    assert len(err) == len(cases), err
    for line, (name, message) in zip(err, cases.items()):
        assert line.startswith(f"error: {tmp_path / name}: {message}"), line
    assert len(out) == 1 and out[0].startswith(f"{good}: ") and " (probability " in out[0]


def test_cli_unreadable_file(untrained_model, monkeypatch, capsys):
    """Tests run as root, who reads anything: permission is denied by a stand-in Image.open."""
    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    monkeypatch.setattr(Image, "open", denied)
    code, out, err = run_main(capsys, THREE, "--model", untrained_model)
    assert (code, out) == (1, [])
    assert err == [f"error: {THREE}: permission denied; make the file readable (chmod u+r) "
                   "or copy it somewhere you can read"]


def test_cli_predicts_each_file(untrained_model, capsys):
    files = sorted(ASSETS.glob("*.png"))
    code, out, err = run_main(capsys, *files, "--model", untrained_model)
    assert (code, err) == (0, [])
    assert len(out) == len(files)
    for file, line in zip(files, out):
        assert line.startswith(f"{file}: ") and " (probability " in line


def test_predict_images_validates_shape(untrained_model):
    model = predict.load_model(untrained_model)
    with pytest.raises(ValueError, match=r"must be uint8 of shape \(n, 28, 28\)"):
        predict.predict_images(model, np.zeros((2, 32, 32), np.uint8))


def make_bad_model(kind, folder, untrained_model):
    """A --model argument that cannot be used, of the given kind."""
    path = folder / {"missing": "none.keras", "folder": "dir.keras", "suffix": "model.h5"}.get(kind, f"{kind}.keras")
    if kind == "folder":
        path.mkdir()
    elif kind == "suffix":
        path.write_bytes(untrained_model.read_bytes())
    elif kind == "not_a_zip":
        path.write_text("not a model")
    elif kind == "truncated":
        data = untrained_model.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == "zip_without_model":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hello")
    elif kind == "five_classes":
        save_classifier(path, classes=5)
    return path


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such model file; check the path, or pass --model"),
    ("folder", "is a folder; pass the .keras file itself"),
    ("suffix", "not a .keras file"),
    ("not_a_zip", "not a Keras model archive"),
    ("truncated", "not a Keras model archive"),
    ("zip_without_model", "Keras cannot load this model"),
    ("five_classes", r"the model maps \(28, 28\) -> \(5,\); pass an MNIST classifier"),
])
def test_cli_bad_model(untrained_model, tmp_path, capsys, kind, message):
    model = make_bad_model(kind, tmp_path, untrained_model)
    code, out, err = run_main(capsys, THREE, "--model", model)
    assert (code, out, len(err)) == (2, [], 1), err
    assert err[0].startswith(f"error: {model}: ")
    assert re.search(message, err[0]), err[0]


def test_cli_usage_errors_are_argparse_s(capsys):
    with pytest.raises(SystemExit) as exit_:
        predict.main([])
    assert exit_.value.code == 2
    assert "usage: python -m mnist_helpers.predict" in capsys.readouterr().err


def test_cli_interrupted(untrained_model, monkeypatch, capsys):
    def interrupt(path):
        raise KeyboardInterrupt
    monkeypatch.setattr(predict, "load_image", interrupt)
    assert run_main(capsys, THREE, "--model", untrained_model) == (130, [], ["error: interrupted"])


def test_kaggle_command_is_interrupted_the_same_way(monkeypatch, capsys):
    """Both commands share one Ctrl-C wrapper (mnist_helpers._cli): one line, exit code 130."""
    from mnist_helpers.kaggle import cli

    def interrupt(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_run", interrupt)
    assert cli.main(["test.csv", "--shipped-model"]) == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_help_imports_nothing_heavy():
    """``--help`` must stay quick: no TensorFlow, Keras, scikit-learn, seaborn or matplotlib."""
    exit_line, lines, stderr, heavy = run_in_subprocess("--help")
    assert exit_line == "EXIT: 0", stderr
    assert lines[0].startswith("usage: python -m mnist_helpers.predict")
    assert heavy == "HEAVY: []"


# --------------------------------------------------------------------------- the shipped model
def test_shipped_model_is_in_the_package():
    assert predict.DEFAULT_MODEL.is_file(), "run notebooks/09b_choosing_the_cnn.ipynb in full mode to write it"
    assert predict.DEFAULT_MODEL.stat().st_size < 5e6


def run_in_subprocess(*args):
    """``python -m mnist_helpers.predict *args`` in a fresh Python: (exit code, stdout lines, stderr, heavy
    modules imported by the end). The last two stdout lines are the code's own."""
    code = ("import runpy, sys\n"
            f"sys.argv = ['predict', *{[str(a) for a in args]!r}]\n"
            "try:\n"
            "    runpy.run_module('mnist_helpers.predict', run_name='__main__')\n"
            "except SystemExit as exit_:\n"
            "    print('EXIT:', exit_.code)\n"
            "heavy = {'tensorflow', 'keras', 'sklearn', 'seaborn', 'matplotlib'}\n"
            "print('HEAVY:', sorted({m.split('.')[0] for m in sys.modules} & heavy))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = result.stdout.strip().splitlines()
    return lines[-2], lines[:-2], result.stderr, lines[-1]


def test_command_reads_the_committed_digits_in_numpy_without_tensorflow():
    """The real command, no options: the shipped model, folded, in NumPy; the digit of each image is in its name."""
    files = sorted(ASSETS.glob("*.png"))
    exit_line, lines, stderr, heavy = run_in_subprocess(*files)
    assert exit_line == "EXIT: 0", stderr
    assert "Traceback" not in stderr and "error:" not in stderr and "note:" not in stderr
    assert heavy == "HEAVY: []"  # no TensorFlow, Keras or the notebooks' libraries
    assert len(lines) == len(files)
    for file, line in zip(files, lines):
        assert line.startswith(f"{file}: {file.name.split('_')[1]} (probability "), line


def test_keras_flag_gives_the_numpy_paths_answers(capsys):
    """Same digits and the same probabilities to the printed 3 decimals (the gap is ~1e-6, test_inference)."""
    files = sorted(ASSETS.glob("*.png"))
    numpy_run, keras_run = run_main(capsys, *files), run_main(capsys, *files, "--keras")
    assert numpy_run == keras_run and numpy_run[0] == 0 and len(numpy_run[1]) == len(files)


def test_cli_runs_a_folded_npz_like_its_keras_model(untrained_model, tmp_path, capsys):
    folded = inference.fold_file(untrained_model).save(tmp_path / "untrained.npz")
    files = sorted(ASSETS.glob("*.png"))
    assert run_main(capsys, *files, "--model", folded) == run_main(capsys, *files, "--model", untrained_model)


@pytest.mark.parametrize("options, message", [
    (["--model", "{tmp}/broken.npz"], "not a folded model of this package"),
    (["--model", "{tmp}/none.npz"], "no such file; pass a folded model"),
    (["--keras", "--model", "{tmp}/broken.npz"], "not a .keras file"),
])
def test_cli_bad_folded_model(tmp_path, capsys, options, message):
    (tmp_path / "broken.npz").write_text("not a model")
    code, out, err = run_main(capsys, THREE, *(option.format(tmp=tmp_path) for option in options))
    assert (code, out, len(err)) == (2, [], 1), err
    assert err[0].startswith(f"error: {tmp_path}/") and message in err[0], err[0]


def test_cli_with_a_stale_folded_file_folds_again_and_says_so(tmp_path, monkeypatch, capsys):
    shipped = inference.FoldedNetwork.load(inference.FOLDED_MODEL)
    stale = inference.FoldedNetwork(shipped.ops, "0" * 64, shipped.model_name).save(tmp_path / "stale.npz")
    monkeypatch.setattr(inference, "FOLDED_MODEL", stale)
    code, out, err = run_main(capsys, THREE)
    assert (code, len(out)) == (0, 1) and out[0].startswith(f"{THREE}: 3 (probability ")
    assert len(err) == 1 and err[0].startswith(f"note: {stale} was folded from another mnist_cnn.keras; folding")


def test_benchmark_quick_mode(tmp_path, capsys):
    """benchmarks/predict_benchmark.py --quick: one cold NumPy run, its line and its JSON."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "predict_benchmark.py"
    spec = importlib.util.spec_from_file_location("predict_benchmark", script)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    out = tmp_path / "predict.json"
    assert benchmark.main(["--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "one image cold (typed_3_dark_on_light.png), fresh Python each run:"
    assert re.fullmatch(r"  numpy  median +\d+\.\d\d s \(CPU +\d+\.\d\d s\), peak +\d+\.\d MB \(1 run\(s\)\)  "
                        r"targets <= 1 s and <= 150 MB: (met|NOT met)", printed[1]), printed[1]
    assert printed[2] == f"wrote {out}"
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["path"] == "numpy" and len(row["runs"]) == 1
    run = row["runs"][0]
    assert 0 < run["cpu_seconds"] and 0 < run["seconds"] and 10 < run["peak_mb"] == row["max_peak_mb"] < 1000
    assert data["targets"] == {"numpy_seconds": 1.0, "numpy_peak_mb": 150} and data["machine"]["processor"]
