"""Loading MNIST from every source, and the clear errors for every kind of bad input."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_idx

import mnist_helpers as mh
from mnist_helpers import data
from mnist_helpers.kaggle import csv_format

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ------------------------------------------------------------------ the real data

def test_real_mnist_matches_published_facts(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    scaled = x_train / 255.0
    assert round(scaled.mean(), 4) == 0.1307 and round(scaled.std(), 4) == 0.3081


def test_env_folder_is_reported_as_source(monkeypatch, tmp_path, mnist):
    folder = tmp_path / "idx"
    folder.mkdir()
    (x_train, y_train), (x_test, y_test) = mnist
    # Uncompressed files are accepted as well as gzipped ones.
    for key, array in zip(data.IDX_FILES, (x_train, y_train, x_test, y_test)):
        write_idx(folder / data.IDX_FILES[key], array, gz=False)
    monkeypatch.setenv("MNIST_DATA", str(folder))
    ((xt, yt), _), source = mh.load_mnist(return_source=True, download=False)
    assert np.array_equal(xt, x_train) and np.array_equal(yt, y_train)
    assert "MNIST_DATA" in source and str(folder) in source


def test_npz_in_keras_cache(monkeypatch, tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    cache = tmp_path / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.delenv("MNIST_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    split, source = mh.load_mnist(return_source=True, download=False)
    assert "Keras cache" in source
    assert np.array_equal(split[1][0], x_test)


def test_explicit_path_wins_over_env(monkeypatch, tmp_path, mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.setenv("MNIST_DATA", str(tmp_path / "does-not-exist"))
    _, source = mh.load_mnist(tmp_path / "mnist.npz", return_source=True)
    assert "path argument" in source


# The three ways a fresh machine gets the data, with no network: the download is mocked by
# replacing data._fetch_npz, the one function that uses it.

@pytest.fixture()
def no_local_data(monkeypatch, tmp_path):
    """No MNIST_DATA and an empty Keras cache under tmp_path; returns where the cache file goes."""
    monkeypatch.delenv("MNIST_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "datasets" / "mnist.npz"


def mock_download(monkeypatch, mnist, damage=None):
    """Replace the network fetch with one that writes ``mnist`` (damaged by ``damage``) as mnist.npz."""
    calls = []

    def fetch(destination):
        calls.append(destination)
        (x_train, y_train), (x_test, y_test) = [[a.copy() for a in pair] for pair in mnist]
        if damage:
            damage(x_train)
        destination.parent.mkdir(parents=True, exist_ok=True)
        np.savez(destination, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        return destination

    monkeypatch.setattr(data, "_fetch_npz", fetch)
    return calls


def test_no_data_and_no_download_is_a_clear_error(no_local_data, monkeypatch, mnist):
    calls = mock_download(monkeypatch, mnist)
    with pytest.raises(mh.MnistNotFoundError) as info:
        mh.load_mnist(download=False)
    message = str(info.value)
    assert "MNIST_DATA: not set" in message and f"Keras cache {no_local_data}: no such file" in message
    assert "Keras download: not attempted (download=False)" in message and "To fix: set MNIST_DATA" in message
    assert calls == [] and not no_local_data.exists()


def test_data_in_the_keras_cache_is_used_without_download(no_local_data, monkeypatch, mnist):
    mock_download(monkeypatch, mnist)
    data._fetch_npz(no_local_data)  # put it in the cache, then forbid any further fetch
    monkeypatch.setattr(data, "_fetch_npz", lambda destination: pytest.fail("downloaded with the data in the cache"))
    split, source = mh.load_mnist(return_source=True)  # download allowed, but not needed
    assert source == f"{no_local_data} (Keras cache)"
    assert np.array_equal(split[1][0], mnist[1][0])


def test_no_data_is_downloaded_once_into_the_cache_and_verified(no_local_data, monkeypatch, mnist):
    calls = mock_download(monkeypatch, mnist)
    verified = []
    monkeypatch.setattr(data, "verify_checksums", lambda split, source: verified.append(source))
    split, source = mh.load_mnist(return_source=True)
    assert calls == [no_local_data] and no_local_data.is_file()
    assert source == f"{no_local_data} (Keras download)" and verified == [str(no_local_data)]
    assert np.array_equal(split[0][1], mnist[0][1])
    _, source = mh.load_mnist(return_source=True)  # the next run finds it in the cache
    assert calls == [no_local_data] and source.endswith("(Keras cache)")


def test_a_corrupted_download_is_a_checksum_error_and_is_not_kept(no_local_data, monkeypatch, mnist):
    def flip_pixel(x_train):
        x_train[7, 14, 14] ^= 1
    calls = mock_download(monkeypatch, mnist, damage=flip_pixel)
    with pytest.raises(mh.ChecksumError, match=r"x_train differs from the original MNIST train-images-idx3-ubyte"):
        mh.load_mnist()
    assert len(calls) == 1 and not no_local_data.exists()  # the next run downloads again


def test_the_download_lands_in_the_keras_cache(no_local_data, monkeypatch):
    # What the real fetch asks Keras for (Keras' get_file replaced: no network).
    import keras

    asked = {}

    def get_file(fname, origin, file_hash, cache_dir, cache_subdir):
        asked.update(fname=fname, origin=origin, file_hash=file_hash)
        return str(Path(cache_dir) / cache_subdir / fname)

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    assert data._fetch_npz(no_local_data) == no_local_data
    assert asked == {"fname": "mnist.npz", "origin": data.MNIST_NPZ_URL, "file_hash": data.MNIST_NPZ_SHA256}


def test_nothing_found_lists_every_source_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(destination):
        raise OSError("URL fetch failure: Name or service not known")

    monkeypatch.setattr(data, "_fetch_npz", offline)
    with pytest.raises(mh.MnistNotFoundError) as info:
        mh.load_mnist()
    message = str(info.value)
    assert f"MNIST_DATA={tmp_path / 'nowhere'}: " in message and "no such file or folder" in message
    assert str(tmp_path / "datasets" / "mnist.npz") in message
    assert "Keras download: OSError: URL fetch failure" in message
    assert "set MNIST_DATA to a folder" in message and "train-images-idx3-ubyte.gz" in message


# ------------------------------------------------------------------ bad IDX input

@pytest.fixture()
def small_idx(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    return write_idx(tmp_path / "images-idx3-ubyte", images), images


def test_idx_round_trip(small_idx):
    path, images = small_idx
    assert np.array_equal(mh.load_idx(path), images)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope-idx3-ubyte.gz: no such file"):
        mh.load_idx(tmp_path / "nope-idx3-ubyte.gz")


def test_missing_file_in_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte"):
        data.load_idx_folder(tmp_path)


def test_truncated_gzip(small_idx):
    path, _ = small_idx
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(mh.DataFormatError, match=rf"{path.name}: truncated or corrupt gzip"):
        mh.load_idx(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(mh.DataFormatError, match="x-idx3-ubyte.gz: truncated or corrupt gzip"):
        mh.load_idx(path)


def test_truncated_idx_data(tmp_path):
    raw = data.idx_bytes(np.zeros((3, 28, 28), np.uint8))
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(raw[:-10])
    with pytest.raises(mh.DataFormatError, match=r"short-idx3-ubyte: IDX header promises shape \(3, 28, 28\)"):
        mh.load_idx(path)


def test_wrong_magic(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(np.array([0x00000D03, 1], ">i4").tobytes() + b"\x00")
    with pytest.raises(mh.DataFormatError, match=r"bad-idx1-ubyte: wrong IDX magic number 0x00000d03"):
        mh.load_idx(path)


def test_checksum_mismatch(small_idx):
    path, _ = small_idx
    with pytest.raises(mh.ChecksumError, match=rf"{path.name}: SHA-256 .* expected 0+1"):
        mh.load_idx(path, expected_sha256="0" * 63 + "1")


def _copy_real_folder(tmp_path, mnist, change=None):
    folder = tmp_path / "mnist"
    folder.mkdir()
    arrays = [a.copy() for split in mnist for a in split]
    if change:
        change(arrays)
    for name, array in zip(data.IDX_FILES.values(), arrays):
        write_idx(folder / name, array)
    return folder


def test_one_changed_pixel_fails_the_checksum(tmp_path, mnist):
    def flip_pixel(arrays):
        arrays[2][0, 0, 0] ^= 1  # one pixel of the first test image
    folder = _copy_real_folder(tmp_path, mnist, flip_pixel)
    with pytest.raises(mh.ChecksumError, match=r"t10k-images-idx3-ubyte.gz: SHA-256"):
        mh.load_mnist(folder)


def test_image_label_count_mismatch(tmp_path, mnist):
    def drop_label(arrays):
        arrays[3] = arrays[3][:-1]
    folder = _copy_real_folder(tmp_path, mnist, drop_label)
    with pytest.raises(mh.DataFormatError, match=r"\(test files\): 10000 images but 9999 labels"):
        data.load_idx_folder(folder, verify=False)


def test_labels_outside_0_to_9(tmp_path):
    x = np.zeros((2, 28, 28), np.uint8)
    y = np.array([3, 12], np.uint8)
    with pytest.raises(mh.DataFormatError, match="label 12 found, labels must be 0..9"):
        data.validate_split(x, y, source="made up")


def test_damaged_env_data_is_an_error_not_a_fallback(monkeypatch, tmp_path, mnist):
    def flip_pixel(arrays):
        arrays[0][5, 10, 10] ^= 1
    monkeypatch.setenv("MNIST_DATA", str(_copy_real_folder(tmp_path, mnist, flip_pixel)))
    with pytest.raises(mh.ChecksumError):
        mh.load_mnist(download=False)


def test_npz_with_missing_key(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(mh.DataFormatError, match=r"mnist.npz: keys \['y_train', 'x_test', 'y_test'\] missing"):
        mh.load_mnist(path)


def test_npz_that_is_not_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_text("hello")
    with pytest.raises(mh.DataFormatError, match="mnist.npz: not a readable .npz file"):
        mh.load_mnist(path)


# ------------------------------------------------------------------ Kaggle CSV

def _kaggle_frame(n=3, label=True, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.integers(0, 256, size=(n, 784)), columns=csv_format.KAGGLE_PIXELS)
    if label:
        frame.insert(0, "label", rng.integers(0, 10, size=n))
    return frame


def test_kaggle_train_and_test_csv(tmp_path):
    train = _kaggle_frame()
    train.to_csv(tmp_path / "train.csv", index=False)
    x, y = mh.load_kaggle_csv(tmp_path / "train.csv")
    assert x.shape == (3, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
    assert np.array_equal(x.reshape(3, -1), train.iloc[:, 1:].to_numpy())
    assert np.array_equal(y, train["label"].to_numpy())
    _kaggle_frame(label=False).to_csv(tmp_path / "test.csv", index=False)
    x_test, y_test = mh.load_kaggle_csv(tmp_path / "test.csv")
    assert x_test.shape == (3, 28, 28) and y_test is None


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.drop(columns="pixel300"), r"missing \['pixel300'\]"),
    (lambda f: f.assign(extra=1), r"unexpected \['extra'\]"),
    (lambda f: f.assign(pixel7=f["pixel7"].astype(object).where(f.index != 1, "abc")),
     r"row 3, column pixel7: 'abc' is not a whole number"),
    (lambda f: f.assign(pixel9=f["pixel9"].astype(float).where(f.index != 0, 1.5)),
     r"row 2, column pixel9: '1.5' is not a whole number"),
    (lambda f: f.assign(pixel5=f["pixel5"].where(f.index != 2, 256)), r"row 4, column pixel5: value 256 is outside 0..255"),
    (lambda f: f.assign(pixel0=f["pixel0"].where(f.index != 0, -1)), r"row 2, column pixel0: value -1 is outside 0..255"),
    (lambda f: f.assign(label=f["label"].where(f.index != 1, 10)), r"row 3: label 10 is outside 0..9"),
    (lambda f: f.assign(pixel1=f["pixel1"].astype(object).where(f.index != 0, "")), r"row 2, column pixel1: '' is not"),
])
def test_bad_kaggle_csv(tmp_path, edit, message):
    path = tmp_path / "train.csv"
    edit(_kaggle_frame()).to_csv(path, index=False)
    with pytest.raises(mh.DataFormatError, match=rf"train.csv: .*{message}"):
        mh.load_kaggle_csv(path)


def test_missing_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.csv: no such file"):
        mh.load_kaggle_csv(tmp_path / "train.csv")
    (tmp_path / "train.csv").mkdir()
    with pytest.raises(FileNotFoundError, match=r"train.csv: no such file \(it is a folder\)"):
        mh.load_kaggle_csv(tmp_path / "train.csv")


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.assign(pixel3=f["pixel3"].where(f.index != 5, 70000)),
     r"row 7, column pixel3: value 70000 is outside 0..255"),
    (lambda f: f.assign(pixel3=f["pixel3"].astype(object).where(f.index != 5, "9" * 25)),
     r"row 7, column pixel3: value 9{25} is outside 0..255"),
    (lambda f: f.assign(label=f["label"].where(f.index != 6, 300)), r"row 8: label 300 is outside 0..9"),
    (lambda f: f.assign(label=f["label"].astype(object).where(f.index != 6, "seven")),
     r"row 8, column label: 'seven' is not a whole number"),
])
def test_bad_cell_far_into_the_file_is_named(tmp_path, monkeypatch, edit, message):
    # Chunks of 2 rows in the checking pass: the row number must count across chunks.
    monkeypatch.setattr(csv_format, "_SLOW_PASS_ROWS", 2)
    path = tmp_path / "train.csv"
    edit(_kaggle_frame(n=9)).to_csv(path, index=False)
    with pytest.raises(mh.DataFormatError, match=rf"train.csv: {message}"):
        mh.load_kaggle_csv(path)


def test_kaggle_csv_row_with_too_many_values(tmp_path):
    path = tmp_path / "test.csv"
    lines = _kaggle_frame(n=4, label=False).to_csv(index=False).splitlines()
    lines[3] += ",7"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(mh.DataFormatError, match=r"test.csv: row 4: 785 values, but the header has 784 columns"):
        mh.load_kaggle_csv(path)


def test_kaggle_csv_that_is_not_text(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b"\xff\xfe\x00\x81" * 100)
    with pytest.raises(mh.DataFormatError, match=r"train.csv: not a text CSV file \(not UTF-8\)"):
        mh.load_kaggle_csv(path)


def test_kaggle_csv_header_only_and_whole_floats(tmp_path):
    path = tmp_path / "test.csv"
    _kaggle_frame(n=0, label=False).to_csv(path, index=False)
    x, y = mh.load_kaggle_csv(path)
    assert x.shape == (0, 28, 28) and x.dtype == np.uint8 and y is None
    frame = _kaggle_frame(n=3)
    frame.astype(float).to_csv(path, index=False)  # "17.0": a whole number, as before
    x, y = mh.load_kaggle_csv(path)
    assert np.array_equal(x.reshape(3, -1), frame.iloc[:, 1:].to_numpy()) and y.tolist() == frame["label"].tolist()


def test_checking_pass_reads_what_the_fast_pass_reads(tmp_path, monkeypatch):
    path = tmp_path / "train.csv"
    _kaggle_frame(n=7).to_csv(path, index=False)
    fast_x, fast_y = mh.load_kaggle_csv(path)

    def fast_pass_fails(*args):
        raise ValueError("forced")
    monkeypatch.setattr(csv_format, "_read_uint8_cells", fast_pass_fails)
    monkeypatch.setattr(csv_format, "_SLOW_PASS_ROWS", 3)
    slow_x, slow_y = mh.load_kaggle_csv(path)
    assert slow_x.dtype == np.uint8 and np.array_equal(slow_x, fast_x) and np.array_equal(slow_y, fast_y)


def test_submission_into_a_missing_folder(tmp_path):
    with pytest.raises(OSError, match=r"missing/s.csv: cannot write the submission \(.*\); write it to an existing"):
        mh.write_submission(tmp_path / "missing" / "s.csv", [3, 0, 9], expected_rows=3)


def test_submission_round_trip(tmp_path):
    labels = np.array([3, 0, 9, 1])
    frame = mh.write_submission(tmp_path / "submission.csv", labels, expected_rows=4)
    written = pd.read_csv(tmp_path / "submission.csv")
    assert list(written.columns) == ["ImageId", "Label"]
    assert written["ImageId"].tolist() == [1, 2, 3, 4] and written["Label"].tolist() == [3, 0, 9, 1]
    assert frame.equals(written)


def test_submission_with_wrong_number_of_rows(tmp_path):
    with pytest.raises(ValueError, match=r"submission.csv: submission needs 28000 rows .* got 4 labels"):
        mh.write_submission(tmp_path / "submission.csv", np.array([3, 0, 9, 1]), expected_rows=28000)
    assert not (tmp_path / "submission.csv").exists()


@pytest.mark.parametrize("labels, error, message", [
    (np.zeros((4, 10), int), ValueError, r"labels must have shape \(n,\) .*pass .argmax\(axis=1\)"),
    (np.zeros((4, 10)), TypeError, r"labels must have an integer dtype .*argmax\(axis=1\) for one-hot rows"),
    (np.array([1.0, 2.0, 3.0, 4.0]), TypeError, r"labels must have an integer dtype \(class indices\), got float64"),
    (np.array([1, 2, 3, 10]), ValueError, r"labels must be class indices in \[0, 10\), got values 1..10"),
])
def test_submission_with_bad_labels(tmp_path, labels, error, message):
    with pytest.raises(error, match=message):
        mh.write_submission(tmp_path / "s.csv", labels, expected_rows=4)
    assert not (tmp_path / "s.csv").exists()


def test_submission_takes_a_list_of_digits(tmp_path):
    frame = mh.write_submission(tmp_path / "s.csv", [3, 0, 9], expected_rows=3)
    assert frame["Label"].tolist() == [3, 0, 9] and frame["ImageId"].tolist() == [1, 2, 3]


# ------------------------------------------------------------------ JPG folders

def test_image_folder_like_the_original_repository(tmp_path, mnist):
    from PIL import Image

    (x_train, y_train), _ = mnist
    root = tmp_path / "trainingSet"
    for i in range(20):
        folder = root / str(y_train[i])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x_train[i]).save(folder / f"img_{i}.png")  # lossless, so exact
    x, y = mh.load_image_folder(root)
    assert x.shape == (20, 28, 28) and x.dtype == np.uint8
    # Each image must come back with its own label: compare (image, label) pairs, not the two
    # sets separately (which would pass with the labels shuffled against the images).
    assert sorted((img.tobytes(), int(label)) for img, label in zip(x, y)) == \
        sorted((img.tobytes(), int(label)) for img, label in zip(x_train[:20], y_train[:20]))


def test_image_folder_with_wrong_subfolders(tmp_path):
    (tmp_path / "cats").mkdir()
    with pytest.raises(mh.DataFormatError, match=r"expected sub-folders named after digits 0..9 .* found \['cats'\]"):
        mh.load_image_folder(tmp_path)


def test_image_folder_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="trainingSet: no such folder"):
        mh.load_image_folder(tmp_path / "trainingSet")
