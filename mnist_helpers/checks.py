"""Checks the whole package shares: NumPy against Keras to a stated tolerance, and the
validators of user arguments (one set, used by every module).

Arrays: ``check_array`` (any dtype), ``check_float_array`` (float32/float64), ``check_labels``
(integer class indices), ``check_same_dtype``. Scalars: ``check_real``, ``check_integer`` and
``check_integers`` (NumPy scalars accepted, bool refused), ``check_choice``, ``check_text``.
Every error is one line that names the argument, what is wrong, and where it helps, the fix.
"""
from __future__ import annotations

import math
import numbers

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
            f"{float(ours[worst])!r} vs {float(theirs[worst])!r} "
            f"(gap {gap[worst]:.3g} > atol {atol:g} + rtol {rtol:g} * |keras|)")
    return float(gap.max()) if gap.size else 0.0


# --------------------------------------------------------------------------- array arguments
# Arrays are never converted silently: a list, integer pixels or a wrong rank is a mistake to
# name, not to fix behind the caller's back. Checks run in a fixed order (ndarray, dtype,
# shape, length, values), so the first message names the most basic problem.

FLOAT_DTYPES = (np.float32, np.float64)
"""The float dtypes the NumPy reference functions accept (Keras computes in float32)."""

_FLOAT_HINT = "; scale uint8 pixels with mh.scale, or cast with .astype(np.float32)"


def _layout(shape) -> str:
    """``(None, 28, 28)`` -> ``"(n, 28, 28)"``: the expected shape as the messages show it."""
    sizes = ["n" if size is None else str(size) for size in shape]
    return f"({sizes[0]},)" if len(sizes) == 1 else f"({', '.join(sizes)})"


def _check_shape(value: np.ndarray, name: str, ndim, min_ndim: int, shape, layout, hint: str) -> None:
    """The rank, then the fixed axes of ``shape``; ``hint`` goes with rank errors only."""
    if shape is not None:
        ndim, layout = len(shape), layout or _layout(shape)
    if ndim is not None and value.ndim != ndim:
        dims = f"{ndim} dimension{'' if ndim == 1 else 's'}"
        expected = f"shape {layout} ({dims})" if layout else dims
        raise ValueError(f"{name} must have {expected}, got shape {value.shape}{hint}")
    if value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {value.shape}{hint}")
    if shape is not None and any(want is not None and have != want for have, want in zip(value.shape, shape)):
        raise ValueError(f"{name} must have shape {layout}, got shape {value.shape}")


def check_array(value, name: str, *, dtypes=None, dtype_text: str = "", dtype_hint: str = "",
                ndim: int | None = None, min_ndim: int = 0, shape=None, layout: str | None = None,
                shape_hint: str = "", min_rows: int = 0, min_cols: int = 0,
                finite: bool = False) -> np.ndarray:
    """Return ``value`` unchanged if it is an ndarray of the wanted dtype and shape; raise otherwise.

    The one array validator of the package; ``check_float_array``, ``check_labels`` and
    ``mh.check_images`` are this with their dtype and wording filled in.

    Parameters
    ----------
    value : object
        Must be an ``np.ndarray`` already (lists are refused, not converted).
    name : str
        The argument's name, for the messages.
    dtypes : tuple of dtype or abstract type, optional
        Accepted dtypes, e.g. ``(np.uint8,)``, ``FLOAT_DTYPES`` or ``(np.integer,)``; None for any.
    dtype_text : str
        What the dtype should be, as the message says it: ``"x must have {dtype_text}, got int64"``.
    dtype_hint : str
        Appended to the dtype error; names the fix (``"; scale uint8 images first"``).
    ndim, min_ndim : int, optional
        Exact or least number of dimensions.
    shape : tuple of int or None, optional
        Expected shape, None for an axis of any length: ``(None, 28, 28)``. Implies ``ndim``.
    layout : str, optional
        The shape in words for the message, e.g. ``"(n, h, w, c)"``; default from ``shape``.
    shape_hint : str
        Appended to a wrong-rank error, e.g. ``"; flatten with x.reshape(len(x), -1)"``.
    min_rows, min_cols : int
        Least length of the first and of the last axis (2 rows where a variance is estimated).
    finite : bool
        Refuse NaN and infinite values (costs a pass over the data).

    Returns
    -------
    ndarray
        ``value`` itself.

    Raises
    ------
    TypeError
        Not an ndarray, or a dtype not in ``dtypes``.
    ValueError
        Wrong rank or shape, too few rows or columns, or (``finite``) NaN/inf values.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(value).__name__}; "
                        f"convert it explicitly with np.asarray")
    if dtypes is not None and not any(np.issubdtype(value.dtype, dtype) for dtype in dtypes):
        wanted = dtype_text or " or ".join(getattr(dtype, "__name__", str(dtype)) for dtype in dtypes)
        raise TypeError(f"{name} must have {wanted}, got {value.dtype}{dtype_hint}")
    _check_shape(value, name, ndim, min_ndim, shape, layout, shape_hint)
    rows, cols = (value.shape[0], value.shape[-1]) if value.ndim else (1, 1)
    if rows < min_rows or cols < min_cols:
        wanted = f"at least {min_rows} row(s)" + (f" and {min_cols} column(s)" if min_cols else "")
        raise ValueError(f"{name} must have {wanted}, got shape {value.shape}")
    if finite and not np.isfinite(value).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise ValueError(f"{name} contains NaN or infinite values (the first at index {first}); "
                         f"remove or replace them first")
    return value


def check_float_array(value, name: str, *, dtype_hint: str = _FLOAT_HINT, **options) -> np.ndarray:
    """Return ``value`` if it is a float32/float64 ndarray meeting ``options``; raise otherwise.

    The NumPy reference functions take float arrays only (Keras computes in float32):
    integers and lists are refused rather than silently cast.

    Parameters
    ----------
    value : ndarray of float32 or float64, any shape unless ``options`` say otherwise
    name : str
    dtype_hint : str
        Appended to the dtype error: the fix in this caller's words.
    **options
        ``ndim``, ``min_ndim``, ``shape``, ``layout``, ``shape_hint``, ``min_rows``,
        ``min_cols``, ``finite``: as in ``check_array``.

    Returns
    -------
    ndarray
        ``value`` itself.
    """
    return check_array(value, name, dtypes=FLOAT_DTYPES, dtype_text="a floating dtype (float32 or float64)",
                       dtype_hint=dtype_hint, **options)


def check_same_dtype(**arrays: np.ndarray) -> None:
    """Raise TypeError unless the named arrays share one dtype: NumPy would up-cast silently.

    Example: ``check_same_dtype(w=w, g=g)`` raises "dtypes differ (w is float32, g is float64); ...".
    """
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} is {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"dtypes differ ({listed}); cast explicitly to one of them, e.g. .astype(np.float32)")


def check_labels(labels, name: str = "labels", *, num_classes: int = 10, n: int | None = None) -> np.ndarray:
    """Return ``labels`` if it is a 1-D integer ndarray of class indices in [0, num_classes).

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
        Any integer dtype (MNIST's labels are uint8).
    name : str
    num_classes : int, default 10
    n : int, optional
        The number of examples the labels must match (one label per image).

    Returns
    -------
    ndarray
        ``labels`` itself.
    """
    num_classes = check_integer(num_classes, "num_classes", low=1)
    check_array(labels, name, dtypes=(np.integer,), dtype_text="an integer dtype (class indices)",
                dtype_hint="; convert with .astype(int), or .argmax(axis=1) for one-hot rows",
                ndim=1, layout="(n,)", shape_hint="; for one-hot rows or probabilities pass .argmax(axis=1)")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name} must have shape ({n},), one label per example, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} must be class indices in [0, {num_classes}), "
                         f"got values {int(labels.min())}..{int(labels.max())}")
    return labels


# --------------------------------------------------------------------------- scalar arguments
# The package's one set of argument validators. Integers and reals follow the ``numbers``
# ABCs, so NumPy scalars (np.int64, np.float32) are accepted; bool is refused (True is not
# a learning rate) and strings are never parsed.

def _interval(low, high, low_open: bool, high_open: bool) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    return f"{left}{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}{right}"


def _check_bounds(value, name: str, low, high, low_open: bool, high_open: bool, hint: str):
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name}={value!r} must be in {_interval(low, high, low_open, high_open)}{hint}")
    return value


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, hint: str = "") -> float:
    """Return ``value`` as a finite float within the interval; raise a one-line error otherwise.

    Parameters
    ----------
    value : numbers.Real (Python or NumPy scalar; not bool)
    name : str
        The argument's name, for the message (``"lr=-1.0 must be in (0, inf)"``).
    low, high : float, optional
        Bounds; None for no bound.
    low_open, high_open : bool, default False
        Exclude the bound itself (``low_open=True`` means ``value > low``).
    hint : str
        Appended to the range error, e.g. ``" (a fraction, not a percentage)"``.

    Raises
    ------
    TypeError
        Not a real number (a string, a bool, an array, None).
    ValueError
        NaN, infinite, or outside the interval.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r:.50}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return _check_bounds(value, name, low, high, low_open, high_open, hint)


def check_integer(value, name: str, *, low: int | None = None, high: int | None = None, hint: str = "") -> int:
    """Return ``value`` as an int within ``[low, high]``; raise a one-line error otherwise.

    ``numbers.Integral`` (Python or NumPy integers) only: ``2.0`` and ``True`` are refused
    rather than coerced.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r:.50}")
    return _check_bounds(int(value), name, low, high, False, False, hint)


def check_integers(values, name: str, *, low: int | None = None, high: int | None = None,
                   length: int | None = None, min_length: int = 0, hint: str = "") -> tuple[int, ...]:
    """Return ``values`` as a tuple of ints, each checked by ``check_integer`` as ``name[i]``.

    Parameters
    ----------
    values : sequence of int (a tuple, a list, a 1-D array; not a string)
    name : str
    low, high, hint
        As in ``check_integer``, for every element.
    length, min_length : int, optional
        Exact or least number of elements.
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integers, e.g. (32, 64), got {type(values).__name__} "
                        f"{values!r:.50}")
    values = tuple(values)
    if (length is not None and len(values) != length) or len(values) < min_length:
        wanted = f"exactly {length}" if length is not None else f"at least {min_length}"
        raise ValueError(f"{name}={values!r:.50} must hold {wanted} integer(s), got {len(values)}")
    return tuple(check_integer(v, f"{name}[{i}]", low=low, high=high, hint=hint) for i, v in enumerate(values))


def check_choice(value, name: str, choices, *, hint: str = "") -> object:
    """Return ``value`` if it is one of ``choices``; the error lists them, then ``hint``."""
    if not any(_same_choice(value, choice) for choice in choices):
        raise ValueError(f"{name}={value!r:.50} must be one of {', '.join(repr(c) for c in choices)}{hint}")
    return value


def _same_choice(value, choice) -> bool:
    # One by one rather than `value in choices`: an array would raise "truth value is
    # ambiguous", and True == 1 would let a bool through where 1 is a choice.
    if isinstance(value, bool) != isinstance(choice, bool):
        return False
    try:
        return bool(value == choice)
    except (TypeError, ValueError):
        return False


def check_text(value, name: str) -> str:
    """Return ``value`` stripped if it is a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{name} must be a non-empty string, got {value!r:.50}")
    return value.strip()
