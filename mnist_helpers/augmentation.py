"""Digit-safe augmentation: small rotations, shifts and zooms, as three Keras layers or as one affine warp.

Keras' ``RandomRotation``, ``RandomTranslation`` and ``RandomZoom`` in sequence interpolate every
image three times. :class:`DigitAffineAugmentation` draws the same three random transforms from the
same ranges, composes them into one matrix per image and interpolates once: less work, and one
blur instead of three. :func:`affine_matrix` is its NumPy reference (a test checks it against
the product of Keras' own three matrices) and :func:`warp` the NumPy reference of the warp.

Matrices here follow ``keras.ops.image.affine_transform``: they map an *output* pixel
``(x, y)`` (column, row) to the *input* point it is read from, ``[x_in, y_in, 1] = M @ [x, y, 1]``,
flattened to ``[a0, a1, a2, b0, b1, b2, 0, 0]``.
"""
from __future__ import annotations

import math

import numpy as np

from ._keras import keras  # first: TensorFlow's start-up notices filtered
from .checks import check_integer, check_real

layers = keras.layers
ops = keras.ops

DIGIT_SAFE = ": larger changes turn digits into other digits"


def _check_ranges(rotation_degrees, shift, zoom) -> tuple[float, float, float]:
    return (check_real(rotation_degrees, "rotation_degrees", low=0, high=45, hint=DIGIT_SAFE),
            check_real(shift, "shift", low=0, high=0.3, hint=DIGIT_SAFE),
            check_real(zoom, "zoom", low=0, high=0.3, hint=DIGIT_SAFE))


def build_augmentation(rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1,
                       seed: int = 0) -> keras.Sequential:
    """Augmentation that keeps digits digits: small rotations, shifts and zooms, never flips.

    Three Keras layers in sequence (three interpolations per image);
    :class:`DigitAffineAugmentation` does the same in one.

    Parameters
    ----------
    rotation_degrees : float
        Largest rotation either way, in degrees.
    shift : float
        Largest shift, as a fraction of the image size (0.1 = 2.8 pixels).
    zoom : float
        Largest zoom in or out, as a fraction, drawn separately for height and width.

    The layers are only active in training (``model.fit``); ``predict`` sees the image as it is.
    """
    rotation_degrees, shift, zoom = _check_ranges(rotation_degrees, shift, zoom)
    seed = check_integer(seed, "seed")  # a Python int, as Keras' SeedGenerator wants
    return keras.Sequential([
        layers.RandomRotation(rotation_degrees / 360.0, fill_mode="constant", seed=seed, name="rotate"),
        layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed + 1, name="shift"),
        layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=seed + 2, name="zoom"),
    ], name="augmentation")


def affine_matrix(angle_degrees, shift_x, shift_y, zoom_x, zoom_y, height: int = 28, width: int = 28) -> np.ndarray:
    """Rotate, then shift, then zoom, as one matrix per image (NumPy, float64).

    Parameters
    ----------
    angle_degrees, shift_x, shift_y, zoom_x, zoom_y : array-like of shape (n,)
        Rotation about the image centre (degrees), shift in pixels (x: columns, y: rows) and zoom
        factors (1.1 = the content shrinks by 10%, as Keras' ``RandomZoom`` means it).
    height, width : int

    Returns
    -------
    ndarray of shape (n, 3, 3): the output-to-input map of the three transforms in sequence.
    Each Keras layer's matrix maps its output to its input, so the composition is
    ``rotation @ translation @ zoom``: the last transform applied is the first matrix met.
    """
    angle, dx, dy, zx, zy = (np.atleast_1d(np.asarray(v, dtype=np.float64))
                             for v in (angle_degrees, shift_x, shift_y, zoom_x, zoom_y))
    n = len(angle)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    rotation = np.zeros((n, 3, 3))
    rotation[:, 0] = np.stack([cos, -sin, cx - cx * cos + cy * sin], axis=1)
    rotation[:, 1] = np.stack([sin, cos, cy - cx * sin - cy * cos], axis=1)
    translation = np.tile(np.eye(3), (n, 1, 1))
    translation[:, 0, 2], translation[:, 1, 2] = -dx, -dy
    zoom = np.tile(np.eye(3), (n, 1, 1))
    zoom[:, 0, 0], zoom[:, 0, 2] = zx, cx * (1 - zx)
    zoom[:, 1, 1], zoom[:, 1, 2] = zy, cy * (1 - zy)
    rotation[:, 2, 2] = 1.0
    return rotation @ translation @ zoom


def warp(images: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """NumPy/SciPy reference of the warp: bilinear, zeros outside the image.

    images : (n, height, width) floats; matrices : (n, 3, 3) output-to-input maps on (x, y).
    Returns (n, height, width) float64.
    """
    from scipy import ndimage

    swap = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])  # SciPy indexes (row, column) = (y, x)
    # "grid-constant": neighbours outside the image count as 0 in the interpolation, as in TensorFlow.
    return np.stack([ndimage.affine_transform(np.asarray(image, dtype=np.float64), swap @ m @ swap, order=1,
                                              mode="grid-constant", cval=0.0)
                     for image, m in zip(images, matrices)])


@keras.saving.register_keras_serializable(package="mnist_helpers")
class DigitAffineAugmentation(layers.Layer):
    """Random rotation, shift and zoom of a batch of images in one bilinear warp (training only).

    The same ranges and the same order as :func:`build_augmentation`'s three layers: an angle
    uniform in ±``rotation_degrees``; a shift uniform in ±``shift`` × the size, per axis; zoom
    factors uniform in 1 ± ``zoom``, per axis. Input and output: (batch, height, width, channels)
    floats. Outside training (``predict``, ``evaluate``) the images pass unchanged.
    """

    def __init__(self, rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1, seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        self.rotation_degrees, self.shift, self.zoom = _check_ranges(rotation_degrees, shift, zoom)
        self.seed = check_integer(seed, "seed")
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def random_parameters(self, batch_size):
        """Angle (degrees), shift x and y (pixels), zoom x and y of each image: five (batch,) tensors."""
        def uniform(low, high):
            return keras.random.uniform((batch_size,), low, high, seed=self.seed_generator)
        return (uniform(-self.rotation_degrees, self.rotation_degrees),
                uniform(-self.shift, self.shift), uniform(-self.shift, self.shift),
                uniform(1 - self.zoom, 1 + self.zoom), uniform(1 - self.zoom, 1 + self.zoom))

    @staticmethod
    def transform(angle_degrees, shift_x, shift_y, zoom_x, zoom_y, height, width):
        """:func:`affine_matrix` in Keras ops (the shifts scaled to pixels), flattened for affine_transform."""
        cx, cy = (width - 1) / 2, (height - 1) / 2
        angle = angle_degrees * (math.pi / 180)
        cos, sin = ops.cos(angle), ops.sin(angle)
        dx, dy = shift_x * width, shift_y * height
        # rotation @ translation @ zoom, multiplied out (affine_matrix's docstring says why in this order)
        a0, a1 = cos * zoom_x, -sin * zoom_y
        a2 = cos * (cx * (1 - zoom_x) - dx) - sin * (cy * (1 - zoom_y) - dy) + cx - cx * cos + cy * sin
        b0, b1 = sin * zoom_x, cos * zoom_y
        b2 = sin * (cx * (1 - zoom_x) - dx) + cos * (cy * (1 - zoom_y) - dy) + cy - cx * sin - cy * cos
        zero = ops.zeros_like(a0)
        return ops.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)

    def call(self, images, training=None):
        if not training:
            return images
        shape = ops.shape(images)
        angle, shift_x, shift_y, zoom_x, zoom_y = self.random_parameters(shape[0])
        matrices = self.transform(angle, shift_x, shift_y, zoom_x, zoom_y, shape[1], shape[2])
        return ops.image.affine_transform(images, matrices, interpolation="bilinear", fill_mode="constant",
                                          fill_value=0.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rotation_degrees": self.rotation_degrees, "shift": self.shift,
                "zoom": self.zoom, "seed": self.seed}
