"""Loading and validating MNIST: IDX files, Keras' ``mnist.npz``, folders of digit images.

Kaggle's CSV format lives with the rest of Kaggle's competition in ``mnist_helpers.kaggle``.

``load_mnist()`` returns exactly what ``keras.datasets.mnist.load_data()`` returns,
``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, but it also reads a local copy,
verifies it byte for byte against the published SHA-256 sums, and when it finds nothing
raises one error that lists every place it looked and how to fix it.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path
from typing import Optional, Union

import numpy as np

PathLike = Union[str, os.PathLike]
Split = tuple[np.ndarray, np.ndarray]

DATA_ENV = "MNIST_DATA"
"""Environment variable naming a folder (or ``mnist.npz`` file) with the MNIST data."""

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
"""The four original file names (without ``.gz``), keyed by the array they hold."""

SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""SHA-256 of each *uncompressed* IDX file, as published with the data set."""

IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # uint8 data, 1-D labels / 3-D images
N_PIXELS = 28 * 28

FIX_HINT = (
    f"To fix: set {DATA_ENV} to a folder holding the four MNIST files "
    "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz, gzipped or not) or a Keras mnist.npz, e.g. "
    f"`export {DATA_ENV}=../shared/data/mnist`; or pass that path to load_mnist(path); "
    "or connect to the internet once so Keras can download and cache mnist.npz."
)


class DataFormatError(ValueError):
    """A data file exists but its content is not what it should be."""


class ChecksumError(DataFormatError):
    """A data file parsed, but its bytes differ from the published MNIST files."""


class MnistNotFoundError(FileNotFoundError):
    """No source of MNIST worked; the message lists every source tried and why."""


# --------------------------------------------------------------------------- IDX files

def _read_bytes(path: Path) -> bytes:
    """Read a file, gunzipping it when its name ends in ``.gz``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: truncated or corrupt gzip file ({exc}); download it again") from exc


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file holding uint8 data.

    Parameters
    ----------
    raw : bytes
        The whole file: big-endian int32 magic (0x801 or 0x803), one big-endian int32
        per dimension, then the uint8 data.
    source : str
        Name used in error messages.

    Returns
    -------
    ndarray of dtype uint8 and shape (n,) or (n, rows, cols)
    """
    if len(raw) < 4:
        raise DataFormatError(f"{source}: {len(raw)} bytes is too short for an IDX header")
    magic = int(np.frombuffer(raw, dtype=">i4", count=1)[0])
    ndim = magic & 0xFF
    if ndim not in IDX_MAGIC or magic != IDX_MAGIC[ndim]:
        raise DataFormatError(
            f"{source}: wrong IDX magic number 0x{magic:08x}; expected 0x00000801 (labels) "
            "or 0x00000803 (images). Is this really an MNIST IDX file?")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{source}: truncated IDX header ({len(raw)} bytes, need {header})")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataFormatError(
            f"{source}: IDX header promises shape {shape} = {expected} bytes of data, "
            f"but the file holds {len(raw) - header}; the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array of 1 or 3 dimensions to the IDX format (inverse of ``parse_idx``)."""
    if array.dtype != np.uint8 or array.ndim not in IDX_MAGIC:
        raise ValueError(f"idx_bytes needs a uint8 array of 1 or 3 dimensions, got {array.dtype} {array.shape}")
    header = np.array([IDX_MAGIC[array.ndim], *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def load_idx(path: PathLike, expected_sha256: Optional[str] = None) -> np.ndarray:
    """Read one IDX file (``.gz`` or not) and optionally verify its SHA-256.

    Parameters
    ----------
    path : str or path-like
        The file.
    expected_sha256 : str, optional
        SHA-256 hex digest of the *uncompressed* bytes; a mismatch raises ``ChecksumError``.

    Returns
    -------
    ndarray of dtype uint8, shape (n,) for labels or (n, 28, 28) for images
    """
    path = Path(path)
    raw = _read_bytes(path)
    array = parse_idx(raw, source=str(path))
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise ChecksumError(
                f"{path}: SHA-256 of the uncompressed data is {digest}, expected {expected_sha256}; "
                "the file is modified or not the original MNIST file. Download it again.")
    return array


def _find_idx_file(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{folder}: neither {name}.gz nor {name} is there")


def load_idx_folder(folder: PathLike, verify: bool = True) -> tuple[Split, Split]:
    """Read the four original MNIST IDX files from ``folder`` (gzipped or not).

    Parameters
    ----------
    folder : str or path-like
        Folder holding ``train-images-idx3-ubyte[.gz]`` and the three other files.
    verify : bool, default True
        Check each file's SHA-256 against the published values.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : uint8 arrays of shapes
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,)
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    arrays = {}
    for key, name in IDX_FILES.items():
        path = _find_idx_file(folder, name)
        arrays[key] = load_idx(path, SHA256[name] if verify else None)
    split = (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    validate_split(*split[0], source=f"{folder} (training files)")
    validate_split(*split[1], source=f"{folder} (test files)")
    return split


def validate_split(x: np.ndarray, y: np.ndarray, source: str = "data") -> None:
    """Check that images and labels belong together: uint8, (n, 28, 28) and (n,), labels 0..9."""
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        raise DataFormatError(f"{source}: expected uint8 images and labels, got {x.dtype} and {y.dtype}")
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DataFormatError(f"{source}: images have shape {x.shape}, expected (n, 28, 28)")
    if y.ndim != 1:
        raise DataFormatError(f"{source}: labels have shape {y.shape}, expected (n,)")
    if len(x) != len(y):
        raise DataFormatError(f"{source}: {len(x)} images but {len(y)} labels; the files do not belong together")
    if len(y) and y.max() > 9:
        raise DataFormatError(f"{source}: label {int(y.max())} found, labels must be 0..9")


def verify_checksums(split: tuple[Split, Split], source: str) -> None:
    """Check arrays against the published SHA-256 of the IDX files they would make."""
    (x_train, y_train), (x_test, y_test) = split
    for key, array in zip(IDX_FILES, (x_train, y_train, x_test, y_test)):
        name = IDX_FILES[key]
        digest = hashlib.sha256(idx_bytes(array)).hexdigest()
        if digest != SHA256[name]:
            raise ChecksumError(
                f"{source}: {key} differs from the original MNIST {name} "
                f"(SHA-256 {digest}, expected {SHA256[name]}); the file is modified or not MNIST")


def load_npz(path: PathLike, verify: bool = True) -> tuple[Split, Split]:
    """Read a Keras ``mnist.npz`` (keys ``x_train, y_train, x_test, y_test``) and verify it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in IDX_FILES if k not in f.files]
            if missing:
                raise DataFormatError(f"{path}: keys {missing} missing; a Keras mnist.npz has {list(IDX_FILES)}")
            split = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except (OSError, ValueError, zlib.error) as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"{path}: not a readable .npz file ({exc})") from exc
    validate_split(*split[0], source=f"{path} (training arrays)")
    validate_split(*split[1], source=f"{path} (test arrays)")
    if verify:
        verify_checksums(split, source=str(path))
    return split


def load_path(path: PathLike, verify: bool = True) -> tuple[Split, Split]:
    """Load MNIST from a folder (IDX files, or a ``mnist.npz`` in it) or an ``.npz`` file."""
    path = Path(path)
    if path.is_file():
        return load_npz(path, verify)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if any((path / f"{IDX_FILES['x_train']}{ext}").is_file() for ext in (".gz", "")):
        return load_idx_folder(path, verify)
    if (path / "mnist.npz").is_file():
        return load_npz(path / "mnist.npz", verify)
    return load_idx_folder(path, verify)  # raises, naming the missing file


def keras_cache_path() -> Path:
    """Where Keras caches ``mnist.npz``: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


MNIST_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
"""Where ``keras.datasets.mnist.load_data()`` downloads ``mnist.npz`` from."""
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
"""SHA-256 of that file, as Keras checks it."""


def _fetch_npz(destination: Path) -> Path:
    """Download Keras' ``mnist.npz`` to ``destination`` with Keras' own ``get_file`` (no-op when there).

    The only function here that uses the network (the tests replace it). ``get_file`` checks the
    file's SHA-256 and returns where it wrote it: ``destination``, unless that folder is not
    writable (Keras then uses ``/tmp/.keras``).
    """
    from ._keras import keras

    return Path(keras.utils.get_file(destination.name, origin=MNIST_NPZ_URL, file_hash=MNIST_NPZ_SHA256,
                                     cache_dir=str(destination.parent.parent),
                                     cache_subdir=destination.parent.name))


def _keras_download(verify: bool = True) -> tuple[tuple[Split, Split], Path]:
    """Download ``mnist.npz`` once into the Keras cache; return its arrays (verified) and its path.

    The arrays are checked against the published SHA-256 of the four IDX files, like every
    other source; a download that fails the check is deleted, so the next call downloads again
    instead of finding a damaged cache.
    """
    path = _fetch_npz(keras_cache_path())
    try:
        return load_npz(path, verify), path
    except DataFormatError:
        path.unlink(missing_ok=True)
        raise


def load_mnist(path: Optional[PathLike] = None, *, verify: bool = True, download: bool = True,
               return_source: bool = False):
    """Load the real MNIST data set exactly as ``keras.datasets.mnist.load_data()`` does.

    Sources are tried in this order, and the first that works is used:

    1. ``path``, when given (a folder of IDX files, a folder with ``mnist.npz``, or the file);
       when it fails, nothing else is tried;
    2. the folder or file named by the ``MNIST_DATA`` environment variable;
    3. the Keras cache, ``$KERAS_HOME/datasets/mnist.npz`` (default ``~/.keras``);
    4. if ``download``, Keras' download of ``mnist.npz`` (once: into the Keras cache of 3,
       verified like every other source).

    This is the one place that decides where the data comes from: the notebooks, the tests
    and ``python -m mnist_helpers.inference`` all call it without arguments.

    Parameters
    ----------
    path : str or path-like, optional
        Explicit location of the data.
    verify : bool, default True
        Check the data against the published SHA-256 sums of the four IDX files.
    download : bool, default True
        Let Keras download the data as a last resort.
    return_source : bool, default False
        Also return a string saying where the data came from.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : uint8 arrays of shapes
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,)
    source : str
        Only when ``return_source``.

    Raises
    ------
    MnistNotFoundError
        When no source works; lists every source tried, why it failed and how to fix it.
    DataFormatError, ChecksumError
        When an explicitly given ``path`` holds damaged or non-MNIST data.
    """
    def done(split, source):
        return (split, source) if return_source else split

    if path is not None:
        return done(load_path(path, verify), f"{path} (path argument)")

    failures = []
    env = os.environ.get(DATA_ENV)
    if env:
        try:
            return done(load_path(env, verify), f"{Path(env).resolve()} ({DATA_ENV})")
        except (OSError, DataFormatError) as exc:
            if isinstance(exc, DataFormatError):
                raise  # damaged data is reported, never skipped in favour of another source
            failures.append(f"{DATA_ENV}={env}: {exc}")
    else:
        failures.append(f"{DATA_ENV}: not set")

    cache = keras_cache_path()
    if cache.is_file():
        return done(load_npz(cache, verify), f"{cache} (Keras cache)")
    failures.append(f"Keras cache {cache}: no such file")

    if download:
        try:
            split, downloaded = _keras_download(verify)
        except DataFormatError:
            raise  # the download arrived but is not MNIST: reported as such, never as "not found"
        except Exception as exc:  # the download can fail in many ways; all are reported below
            failures.append(f"Keras download: {type(exc).__name__}: {exc}")
        else:
            return done(split, f"{downloaded} (Keras download)")
    else:
        failures.append("Keras download: not attempted (download=False)")

    raise MnistNotFoundError("Could not load MNIST. Sources tried:\n"
                             + "\n".join(f"  - {f}" for f in failures) + "\n" + FIX_HINT)


# --------------------------------------------------------------------------- image folders

def load_image_folder(directory: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a folder of digit images laid out as ``directory/<digit>/<any>.jpg``.

    This is the layout of the repository this book grew from (``trainingSet/3/img_1.jpg``).
    Reading is Keras' own ``keras.utils.image_dataset_from_directory`` (grayscale, resized
    to 28x28 where needed).

    Returns
    -------
    x : ndarray of uint8, shape (n, 28, 28)
    y : ndarray of uint8, shape (n,)
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such folder")
    subfolders = sorted(p.name for p in directory.iterdir() if p.is_dir())
    wrong = [name for name in subfolders if name not in [str(d) for d in range(10)]]
    if not subfolders or wrong:
        raise DataFormatError(
            f"{directory}: expected sub-folders named after digits 0..9 (e.g. {directory}/3/img_1.jpg), "
            f"found {subfolders if subfolders else 'none'}")
    from ._keras import keras

    dataset = keras.utils.image_dataset_from_directory(
        directory, labels="inferred", label_mode="int", class_names=[str(d) for d in range(10)],
        color_mode="grayscale", image_size=(28, 28), batch_size=None, shuffle=False, verbose=False)
    pairs = [(image.numpy(), int(label)) for image, label in dataset]  # one pass: each file decoded once
    x = np.stack([image for image, _ in pairs]) if pairs else np.empty((0, 28, 28, 1))
    y = np.array([label for _, label in pairs], dtype=np.uint8)
    if len(x) == 0:
        raise DataFormatError(f"{directory}: no images found (jpg, png, bmp or gif) in the digit folders")
    return np.clip(np.round(x[..., 0]), 0, 255).astype(np.uint8), y
