"""Predict the digit in your own image files, prepared the way MNIST digits were.

MNIST digits were fitted into a 20 x 20 box keeping their aspect ratio, then centred by
centre of mass in a 28 x 28 image, white ink on black. A photo or a drawing must go through
the same steps, or the model sees something unlike anything it was trained on.

Command line::

    python -m mnist_helpers.predict my_digit.png other.jpg [--model path/to/model.keras]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

DEFAULT_MODEL = Path(__file__).parent / "model" / "mnist_cnn.keras"
"""The trained model shipped with the package (see model/MODEL_CARD.md beside it)."""

MIN_CONTRAST = 32
"""Ink must differ from the background by this many grey levels (of 255), or the image is blank."""


class ImageInputError(ValueError):
    """An image that cannot be turned into one MNIST-like digit; the message says why."""


def to_grayscale(image: Union[Image.Image, np.ndarray], name: str = "image") -> np.ndarray:
    """Convert a PIL image or array (h, w), (h, w, 3) or (h, w, 4) to uint8 grey levels (h, w).

    Transparent pixels of an RGBA image count as background (composited on white).
    """
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
            raise ImageInputError(f"{name}: array of shape {image.shape} is not an image (h, w), (h, w, 3) or (h, w, 4)")
        if image.dtype != np.uint8:
            raise ImageInputError(f"{name}: array dtype {image.dtype}; pass uint8 grey levels 0..255")
        image = Image.fromarray(image)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _ink(gray: np.ndarray, name: str) -> np.ndarray:
    """Ink intensity 0..1 (1 = darkest stroke), whichever way round the image is."""
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

    Steps: grayscale; invert if the background is light; crop to the ink; resize so the larger
    side is 20 pixels, keeping the aspect ratio (anti-aliased); paste into 28 x 28 so that the
    centre of mass is at the centre.

    Parameters
    ----------
    image : PIL.Image or ndarray of uint8, shape (h, w), (h, w, 3) or (h, w, 4)
        One digit, dark on light or light on dark, any size.
    name : str
        Used in error messages (e.g. the file name).

    Returns
    -------
    ndarray of uint8, shape (28, 28)
        White ink on black, like ``mh.load_mnist()``'s images.

    Raises
    ------
    ImageInputError
        Blank image, or several digits side by side.
    """
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


def load_image(path: Union[str, Path]) -> np.ndarray:
    """Read an image file and prepare it with ``preprocess_image``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ImageInputError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
            return preprocess_image(image, name=str(path))
    except UnidentifiedImageError:
        raise ImageInputError(f"{path}: not an image file that Pillow can read (PNG, JPG, BMP, GIF, ...)") from None


def predict_images(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities for uint8 images of shape (n, 28, 28); returns shape (n, 10)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 of shape (n, 28, 28), got {images.dtype} {images.shape}")
    return np.asarray(model.predict(images, verbose=0))


def load_model(path: Optional[Union[str, Path]] = None):
    """Load a ``.keras`` model (the one shipped with the package by default)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file; train one in chapter 9 or pass --model")
    import keras  # quiet: importing the package already set TensorFlow's logging up

    return keras.saving.load_model(path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: print the predicted digit and its probability for each image file."""
    parser = argparse.ArgumentParser(prog="python -m mnist_helpers.predict",
                                     description="Predict the handwritten digit in each image file.")
    parser.add_argument("images", nargs="+", help="image files (PNG, JPG, ...), one digit each")
    parser.add_argument("--model", help=f"a .keras model (default: {DEFAULT_MODEL.name} shipped with the package)")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.model)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for file in args.images:
        try:
            probabilities = predict_images(model, load_image(file)[None])[0]
        except ImageInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        digit = int(probabilities.argmax())
        print(f"{file}: {digit} (probability {probabilities[digit]:.3f})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
