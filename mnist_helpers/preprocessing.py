"""Turning uint8 digit images into model inputs, and measuring how MNIST was built."""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.model_selection import train_test_split

from .checks import check_array, check_integer


def check_images(x: np.ndarray, name: str = "x") -> np.ndarray:
    """Validate a stack of digit images as loaded: uint8 pixels 0..255, shape (n, 28, 28).

    Parameters
    ----------
    x : ndarray of uint8, shape (n, 28, 28)
    name : str
        The argument's name, for the message.

    Returns
    -------
    ndarray
        ``x`` itself.

    Raises
    ------
    TypeError
        Not an ndarray, or not uint8 (e.g. images already scaled to floats).
    ValueError
        Any other shape, e.g. flattened rows (n, 784) or a channel axis (n, 28, 28, 1).
    """
    return check_array(x, name, dtypes=(np.uint8,), dtype_text="dtype uint8 (pixels 0..255 as loaded)",
                       dtype_hint="; pass the images as loaded, before mh.scale", shape=(None, 28, 28))


def scale(x: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1].

    Parameters
    ----------
    x : ndarray of uint8, shape (n, 28, 28)

    Returns
    -------
    ndarray of float32, shape (n, 28, 28)
    """
    return check_images(x).astype(np.float32) / 255.0


def subsample(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return a class-stratified random subset of ``n`` examples (all of them if ``n >= len(x)``).

    Used by the fast mode: the same code runs on fewer images.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    n = check_integer(n, "n", low=10, hint=" (a stratified subset needs at least one image per class)")
    if n >= len(x):
        return x, y
    x_sub, _, y_sub, _ = train_test_split(x, y, train_size=n, stratify=y, random_state=seed)
    return x_sub, y_sub


def train_val_split(x: np.ndarray, y: np.ndarray, val_size: int | float = 0.1, seed: int = 0):
    """Hold out a stratified validation split: ``(x_train, y_train), (x_val, y_val)``."""
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=val_size, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_val, y_val)


def bounding_boxes(x: np.ndarray, threshold: int = 0) -> np.ndarray:
    """Height and width of the box around each digit's pixels brighter than ``threshold``.

    Parameters
    ----------
    x : ndarray of uint8, shape (n, 28, 28)

    Returns
    -------
    ndarray of int, shape (n, 2)
        (height, width) per image; (0, 0) for a blank image.
    """
    ink = check_images(x) > threshold
    rows, cols = ink.any(axis=2), ink.any(axis=1)

    def extent(mask: np.ndarray) -> np.ndarray:
        first = mask.argmax(axis=1)
        last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
        return np.where(mask.any(axis=1), last - first + 1, 0)

    return np.stack([extent(rows), extent(cols)], axis=1)


def centers_of_mass(x: np.ndarray) -> np.ndarray:
    """Centre of mass (row, column) of each image's intensity, shape (n, 2)."""
    check_images(x)
    return np.array([ndimage.center_of_mass(image.astype(np.float64)) for image in x])
