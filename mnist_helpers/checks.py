"""The NumPy-against-Keras check every chapter uses: same numbers, to a stated tolerance."""
from __future__ import annotations

import numpy as np


def assert_close(numpy_value, keras_value, *, atol: float = 1e-6, rtol: float = 1e-5,
                 name: str = "value") -> float:
    """Assert that a NumPy re-implementation agrees with Keras, and return the largest gap.

    Parameters
    ----------
    numpy_value, keras_value : array-like of the same shape
        Our result and Keras' (tensors are converted with ``np.asarray``).
    atol, rtol : float
        Tolerances as in ``np.allclose``: ``|a - b| <= atol + rtol * |b|`` element-wise.
        Float32 arithmetic in a different order differs by ~1e-7 relative, so the defaults
        leave room for that and nothing more.
    name : str
        What is compared, for the message.

    Returns
    -------
    float
        The largest absolute difference, to print next to the tolerance.

    Raises
    ------
    AssertionError
        On different shapes, NaNs, or any element outside the tolerance; the message names
        the worst element.
    """
    ours = np.asarray(numpy_value, dtype=np.float64)
    theirs = np.asarray(keras_value, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise AssertionError(f"{name}: NumPy result has shape {ours.shape}, Keras' has {theirs.shape}")
    if np.isnan(ours).any() or np.isnan(theirs).any():
        raise AssertionError(f"{name}: NaN in the {'NumPy' if np.isnan(ours).any() else 'Keras'} result")
    gap = np.abs(ours - theirs)
    allowed = atol + rtol * np.abs(theirs)
    if (gap > allowed).any():
        worst = np.unravel_index(np.argmax(gap - allowed), gap.shape)
        raise AssertionError(
            f"{name}: NumPy and Keras differ at index {tuple(int(i) for i in worst)}: "
            f"{float(ours[worst])!r} vs {float(theirs[worst])!r} (gap {gap[worst]:.3g} > atol {atol:g} + rtol {rtol:g} * |keras|)")
    return float(gap.max()) if gap.size else 0.0


def check_float_array(value, name: str) -> np.ndarray:
    """Return ``value`` if it is a floating-point ndarray; raise a clear error otherwise.

    The NumPy reference functions take float arrays only (Keras computes in float32):
    integers are refused rather than silently cast.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(value).__name__}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"{name} must have a floating-point dtype (float32 like Keras' tensors), got {value.dtype}")
    return value
