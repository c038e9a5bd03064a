"""Predict the digit in your own image files, prepared the way MNIST digits were.

MNIST digits were fitted into a 20 x 20 box keeping their aspect ratio, then centred by
centre of mass in a 28 x 28 image, white ink on black. A photo or a drawing must go through
the same steps, or the model sees something unlike anything it was trained on.

Command line::

    python -m mnist_helpers.predict my_digit.png other.jpg [--keras] [--model FILE]

One line per image on stdout (``file: digit (probability p)``); each image that cannot be
read gets one line ``error: file: what is wrong and what to do`` on stderr, never a traceback.
Exit code 0 when every image was predicted, 1 when some could not be, 2 for a model that
cannot be used or a usage error (argparse).

By default the shipped model runs in NumPy, folded (``mnist_helpers.inference``), without
TensorFlow and its seconds of start-up. ``--keras`` runs the ``.keras`` model with Keras instead;
``--model`` takes a ``.keras`` model (run by Keras) or a folded ``.npz`` (run in NumPy). Keras is
imported only to load a ``.keras`` model.
"""
from __future__ import annotations

import argparse
import importlib.resources
import struct
import sys
import warnings
import zlib
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ._cli import run_interruptible
from .inference import (  # DEFAULT_MODEL, ModelFileError, load_model: public here too (chapters 9, 10)
    DEFAULT_MODEL,
    FoldedNetwork,
    ModelFileError,
    _describe,
    load_model,
    load_shipped,
    predict_probabilities,
)

SAMPLE_DIGITS = "sample_digits"
"""The package's folder of sample digit images (see :func:`sample_digit_files`)."""

MIN_CONTRAST = 32
"""Ink must differ from the background by this many grey levels (of 255), or the image is blank."""

MAX_PIXELS = 50_000_000
"""Largest image (width x height) ``load_image`` decodes: a 50-megapixel photo, ~8200 x 6100.

Checked on the file's header, before any pixel is decoded: decoding is where a huge or
hostile file costs memory (4 bytes a pixel as RGBA, then float64 copies in preprocessing,
~2 GB at this limit). A digit needs a few hundred pixels a side, so shrink larger photos.
Pillow's own guard (``Image.MAX_IMAGE_PIXELS``, ~89 million) also applies.
"""

# What Pillow raises for files it cannot decode: OSError (truncated, broken data stream),
# ValueError and SyntaxError (some plugins' header checks), EOFError (missing frames),
# struct.error and zlib.error (cut-off headers and compressed data), MemoryError (sizes in
# a corrupt header). Pillow's own fuzzers treat the same list as "bad file", not as a bug.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, MemoryError)


class ImageInputError(ValueError):
    """An image that cannot be turned into one MNIST-like digit; the message says why."""


def sample_digit_files() -> list[Path]:
    """The sample digit images shipped with the package, to try :func:`load_image` and the model on.

    Four PNGs made by ``tools/make_sample_digits.py``: typed and drawn digits, dark ink on light paper,
    the reverse and a coloured one. Each name says its digit, e.g. ``typed_3_dark_on_light.png``.

    Returns
    -------
    list of Path
        The files, sorted by name (``mnist_helpers/sample_digits/*.png``).

    Raises
    ------
    FileNotFoundError
        The package was installed without its data (the folder is missing or holds no PNG).
    """
    folder = importlib.resources.files("mnist_helpers") / SAMPLE_DIGITS
    files = sorted(folder.glob("*.png")) if isinstance(folder, Path) and folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no sample digit images in {folder}: install mnist_helpers from its repository "
                                "(pip install .), which ships sample_digits/*.png as package data")
    return files


# --------------------------------------------------------------------------- grey levels
def _from_16_bit(values: np.ndarray, name: str) -> np.ndarray:
    """16-bit grey levels 0..65535 (any integer dtype) -> uint8 0..255, same shape.

    Scaled by the nominal 16-bit range, not the image's own min..max: stretching would blow
    sensor noise of a blank frame up to full contrast, and nothing would ever be blank.
    Data using fewer bits (12-bit cameras) therefore look dark.
    """
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > 65535:
        raise ImageInputError(f"{name}: integer grey levels {low}..{high} do not fit 16 bits (0..65535); "
                              "save the image as an 8- or 16-bit PNG")
    # 65535 / 257 = 255 exactly; + 128 rounds to the nearest level.
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _from_float(values: np.ndarray, name: str, allow_0_255: bool) -> np.ndarray:
    """Float grey levels in [0, 1] (times 255), or in [0, 255] if allowed -> uint8, same shape.

    Any other range is refused rather than stretched (see ``_from_16_bit`` for why).
    """
    if not np.isfinite(values).all():
        raise ImageInputError(f"{name}: the float image holds NaN or infinite values; replace them first")
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        return np.round(values.astype(np.float64) * 255).astype(np.uint8)
    if allow_0_255 and low >= 0 and high <= 255:
        return np.round(values).astype(np.uint8)
    expected = "[0, 1] or [0, 255]" if allow_0_255 else "[0, 1]"
    raise ImageInputError(f"{name}: float values {low:g}..{high:g} are outside {expected}; "
                          "scale them to [0, 1] (e.g. divide by 255)")


def _array_to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """Check an array image (h, w), (h, w, 3) or (h, w, 4) and return it as uint8, same shape."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageInputError(f"{name}: array of shape {array.shape} is not an image (h, w), (h, w, 3) or (h, w, 4)")
    if array.size == 0:
        raise ImageInputError(f"{name}: array of shape {array.shape} has no pixels")
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return _from_16_bit(array, name)
    if np.issubdtype(array.dtype, np.floating):
        return _from_float(array, name, allow_0_255=False)
    raise ImageInputError(f"{name}: array dtype {array.dtype}; pass uint8 grey levels 0..255, "
                          "uint16 0..65535 or floats in [0, 1]")


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "RGBa", "LA", "La", "PA", "P") or "transparency" in image.info


def to_grayscale(image: Union[Image.Image, np.ndarray], name: str = "image") -> np.ndarray:
    """Convert a PIL image or an array to uint8 grey levels 0..255.

    Every conversion is explicit; nothing else is coerced:

    - uint8 arrays and 8-bit images: as they are (colour through Pillow's ``convert("L")``,
      ITU-R 601-2 luma);
    - uint16 arrays and 16-bit images (modes ``"I;16*"``, and ``"I"`` holding 0..65535):
      divided by 257, so 65535 -> 255. The nominal range, not the image's min..max, so that
      "blank" (``MIN_CONTRAST``) means the same at every bit depth;
    - float arrays: values in [0, 1], times 255. Float images (mode ``"F"``, e.g. a float
      TIFF): [0, 1] times 255, or [0, 255] as they are;
    - transparent pixels (RGBA, LA, PA, P, a transparency key) count as paper: the image is
      composited on white.

    Parameters
    ----------
    image : PIL.Image or ndarray, shape (h, w), (h, w, 3) RGB or (h, w, 4) RGBA
        Arrays of dtype uint8, uint16 or float. Any other dtype (int64, bool, ...), floats
        outside the ranges above, NaN and infinity are refused.
    name : str
        Used in error messages (e.g. the file name).

    Returns
    -------
    ndarray of uint8, shape (h, w)

    Raises
    ------
    ImageInputError
        An array that is not an image, or values of unknown scale.
    TypeError
        Neither a PIL image nor an ndarray.
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(_array_to_uint8(image, name))
    elif not isinstance(image, Image.Image):
        raise TypeError(f"{name}: expected a PIL image or a NumPy array, got {type(image).__name__}")
    if image.mode == "F":
        return _from_float(np.asarray(image), name, allow_0_255=True)
    # Pillow's convert("L") clips these modes at 255 instead of scaling them.
    if image.mode == "I" or image.mode.startswith("I;16"):
        return _from_16_bit(np.asarray(image), name)
    if _has_transparency(image):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    try:
        return np.asarray(image.convert("L"), dtype=np.uint8)
    except ValueError:  # e.g. LAB: Pillow has no conversion to grey
        raise ImageInputError(f"{name}: Pillow cannot turn colour mode {image.mode} into grey levels; "
                              "save the image as RGB or greyscale PNG") from None


# --------------------------------------------------------------------------- MNIST-like
def _ink(gray: np.ndarray, name: str) -> np.ndarray:
    """Ink intensity 0..1 (1 = darkest stroke) of grey levels (h, w), whichever way round the image is."""
    if gray.size == 0:
        raise ImageInputError(f"{name}: the image has no pixels")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).astype(np.float64)
    background = np.median(border)
    if gray.max() - gray.min() < MIN_CONTRAST:
        raise ImageInputError(f"{name}: the image is blank (grey levels {gray.min()}..{gray.max()}); no digit to read")
    # Light background (paper): ink is dark, so invert. Dark background (MNIST-like): keep.
    ink = (background - gray) if background > 127 else (gray - background)
    ink = np.clip(ink, 0, None)
    if ink.max() < MIN_CONTRAST:
        raise ImageInputError(f"{name}: no strokes stand out from the background; no digit to read")
    ink = ink / ink.max()
    ink[ink < 0.15] = 0.0  # paper texture and JPEG noise are not ink
    return ink


def _check_single_digit(ink: np.ndarray, name: str) -> None:
    """Refuse images holding several digits side by side: their large blobs do not overlap in x."""
    from scipy import ndimage  # here, not at the top: it takes ~1 s to import, --help needs none of it

    labels, count = ndimage.label(ink > 0)
    if count < 2:
        return
    sizes = ndimage.sum(ink > 0, labels, index=range(1, count + 1))
    big = [i + 1 for i, s in enumerate(sizes) if s >= 0.1 * sizes.sum()]
    spans = sorted((sl[1].start, sl[1].stop) for i, sl in enumerate(ndimage.find_objects(labels)) if i + 1 in big)
    for (_, stop), (start, _) in zip(spans, spans[1:]):
        if start >= stop:
            raise ImageInputError(
                f"{name}: found {len(spans)} separate pieces of ink side by side; this looks like several digits. "
                "Crop the image to a single digit.")


def preprocess_image(image: Union[Image.Image, np.ndarray], name: str = "image") -> np.ndarray:
    """Prepare any digit image the way MNIST digits were prepared.

    Steps: grayscale (``to_grayscale``); invert if the background is light; crop to the ink;
    resize so the larger side is 20 pixels, keeping the aspect ratio (anti-aliased); paste
    into 28 x 28 so that the centre of mass is at the centre.

    Parameters
    ----------
    image : PIL.Image or ndarray, shape (h, w), (h, w, 3) or (h, w, 4)
        One digit, dark on light or light on dark, any size. Arrays: uint8 0..255, uint16
        0..65535 or float in [0, 1] (see ``to_grayscale``). A PIL image is taken as it is:
        its EXIF orientation is not applied (``load_image`` does that for files).
    name : str
        Used in error messages (e.g. the file name).

    Returns
    -------
    ndarray of uint8, shape (28, 28)
        White ink on black, like ``mh.load_mnist()``'s images.

    Raises
    ------
    ImageInputError
        Not an image, values of unknown scale, blank image, or several digits side by side.
    """
    from scipy import ndimage  # see _check_single_digit

    ink = _ink(to_grayscale(image, name), name)
    _check_single_digit(ink, name)
    rows, cols = np.nonzero(ink)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = ink.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray((ink * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    canvas = np.zeros((28, 28), dtype=np.float64)
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = np.asarray(small, dtype=np.float64)
    # Shift by whole pixels so the centre of mass lands on (14, 14), as in MNIST.
    com_row, com_col = ndimage.center_of_mass(canvas)
    canvas = ndimage.shift(canvas, (round(14 - com_row), round(14 - com_col)), order=0, mode="constant")
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- files
def _check_size(image: Image.Image, path: Path) -> None:
    """Refuse an image over ``MAX_PIXELS`` from its header (``Image.open`` decodes nothing yet)."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageInputError(f"{path}: {width} x {height} pixels is over the limit of {MAX_PIXELS:,} "
                              "(predict.MAX_PIXELS); shrink the image, a digit needs a few hundred pixels a side")


def _decode_error(path: Path, exc: BaseException) -> ImageInputError:
    if isinstance(exc, OSError) and "truncated" in str(exc):
        return ImageInputError(f"{path}: the file is truncated (an incomplete download or copy?); "
                               "download or copy it again")
    return ImageInputError(f"{path}: cannot decode the image ({_describe(exc)}); the file is corrupt or "
                           "an unusual variant: open it in an image viewer and save it again as PNG")


def open_image(path: Union[str, Path]) -> Image.Image:
    """Open, size-check and decode one image file, turned upright by its EXIF orientation.

    Parameters
    ----------
    path : str or Path
        Any format Pillow reads (PNG, JPEG, BMP, GIF, TIFF, ...); of several frames the first.

    Returns
    -------
    PIL.Image
        Decoded and independent of the file, in the file's mode ("L", "RGB", "I;16", "F", ...),
        rotated or flipped as its EXIF Orientation tag says (phone photos store the
        sensor's orientation there instead of rotating the pixels).

    Raises
    ------
    ImageInputError
        Missing, a folder, unreadable, not an image, over ``MAX_PIXELS`` or Pillow's
        decompression-bomb limit, truncated or corrupt. The message starts with the path.
    """
    path = Path(path)
    if path.is_dir():  # checked first: Windows reports opening a folder as PermissionError
        raise ImageInputError(f"{path}: is a folder, not an image file; pass the image files inside it")
    try:
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; as an error (here only,
        # not process-wide) it stops there, from the header, like the larger sizes.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                _check_size(image, path)
                image.load()
                return ImageOps.exif_transpose(image)  # always a new image, so it outlives the file
    except ImageInputError:
        raise
    except FileNotFoundError:
        raise ImageInputError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise ImageInputError(f"{path}: is a folder, not an image file; pass the image files inside it") from None
    except PermissionError:
        raise ImageInputError(f"{path}: permission denied; make the file readable (chmod u+r) "
                              "or copy it somewhere you can read") from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{path}: not an image file that Pillow can read; "
                              "save it as PNG or JPEG") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"{path}: too large to decode safely ({_describe(exc)}); shrink the image, "
                              "a digit needs a few hundred pixels a side") from exc
    except _DECODE_ERRORS as exc:
        raise _decode_error(path, exc) from exc


def load_image(path: Union[str, Path]) -> np.ndarray:
    """Read an image file (``open_image``) and prepare it with ``preprocess_image``.

    Returns
    -------
    ndarray of uint8, shape (28, 28)

    Raises
    ------
    ImageInputError
        The file cannot be read, or holds no single digit; the message starts with the path.
    """
    return preprocess_image(open_image(path), name=str(path))


# --------------------------------------------------------------------------- model
predict_images = predict_probabilities
"""Class probabilities (n, 10) of uint8 images (n, 28, 28) from a Keras or folded model:
``mnist_helpers.inference.predict_probabilities`` under the name chapter 10 uses."""


# --------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_helpers.predict",
                                     description="Predict the handwritten digit in each image file.",
                                     epilog="Exit code: 0 all predicted, 1 some images unusable, 2 model or usage error.")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPG, ...), one digit each")
    parser.add_argument("--keras", action="store_true",
                        help="run the .keras model with Keras (seconds to start TensorFlow) instead of its folded "
                             "copy in NumPy")
    parser.add_argument("--model", metavar="FILE",
                        help="a .keras model (run by Keras) or a folded .npz (python -m mnist_helpers.inference, run "
                             f"in NumPy); default: the shipped {DEFAULT_MODEL.name}, folded")
    return parser


def _network(model_path: Optional[str], keras: bool):
    """The model the command runs: the shipped one folded, a folded .npz, or a .keras model in Keras."""
    if keras or (model_path is not None and Path(model_path).suffix != ".npz"):
        return load_model(model_path)
    return FoldedNetwork.load(model_path) if model_path is not None else load_shipped()


def _predict_files(files: Sequence[str], model_path: Optional[str], keras: bool = False) -> int:
    try:
        model = _network(model_path, keras)
    except ModelFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    good, images = [], []
    for file in files:
        try:
            images.append(load_image(file))
            good.append(file)
        except ImageInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
    if good:  # one batch: Keras' per-call overhead dwarfs one 28 x 28 image
        for file, probabilities in zip(good, predict_images(model, np.stack(images))):
            digit = int(probabilities.argmax())
            print(f"{file}: {digit} (probability {probabilities[digit]:.3f})")
    return 0 if len(good) == len(files) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: print the predicted digit and its probability for each image file.

    Returns the exit code (see the module docstring; 130 after Ctrl-C); usage errors exit through argparse.
    """
    args = _parser().parse_args(argv)
    return run_interruptible(lambda: _predict_files(args.images, args.model, args.keras))


if __name__ == "__main__":
    sys.exit(main())
