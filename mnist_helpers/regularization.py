"""Inverted dropout in NumPy, the pieces to check it against ``keras.layers.Dropout``, and the
generalization-gap table of chapter 8.

Dropout zeroes each input with probability ``rate`` during training and scales the kept ones by
``1 / (1 - rate)`` ("inverted" dropout), so that nothing needs to change at inference, where the
layer is the identity. Keras draws its mask at random, so the check recovers Keras' own mask from
its output (:func:`keep_mask_from_output`) and feeds it to :func:`dropout`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .checks import check_array, check_float_array, check_integer, check_integers, check_real, check_text


def _rate(rate) -> float:
    """The dropout rate as a float in [0, 1), NumPy scalars included."""
    # rate = 1 drops everything and the 1 / (1 - rate) scaling divides by zero.
    return check_real(rate, "rate", low=0, high=1, high_open=True, hint=" (the probability that an input is dropped)")


def dropout_mask(shape: tuple[int, ...], rate: float, rng: np.random.Generator) -> np.ndarray:
    """Draw a keep-mask: each entry is True (kept) with probability ``1 - rate``.

    Uses the same rule as TensorFlow: draw :math:`u \\sim U[0, 1)` and keep where :math:`u \\ge` rate.

    Parameters
    ----------
    shape : tuple of int
        Shape of the mask, usually ``x.shape`` (batch, features).
    rate : float in [0, 1)
        Probability of dropping each entry.
    rng : numpy.random.Generator
        Source of randomness (``np.random.default_rng(seed)``), so the mask is reproducible.

    Returns
    -------
    ndarray of bool, shape ``shape``
    """
    rate = _rate(rate)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if not isinstance(shape, tuple):
        raise ValueError(f"shape={shape!r} must be a tuple of non-negative ints, e.g. x.shape")
    return rng.random(check_integers(shape, "shape", low=0)) >= rate


def dropout(x: np.ndarray, rate: float, *, training: bool, mask: np.ndarray | None = None,
            rng: np.random.Generator | None = None) -> np.ndarray:
    r"""Inverted dropout, as ``keras.layers.Dropout(rate)(x, training=training)``.

    .. math::
        \text{training:}\quad y = \frac{m \odot x}{1 - p}, \quad m_i \sim \text{Bernoulli}(1 - p);
        \qquad \text{inference:}\quad y = x

    so that :math:`\mathbb{E}[y] = x` in training and the layer is the identity at inference.

    Parameters
    ----------
    x : ndarray of float, any shape, e.g. (batch, features)
        Activations.
    rate : float in [0, 1)
        :math:`p`, the probability of dropping each entry.
    training : bool
        True applies the mask and the scaling; False returns ``x`` unchanged.
    mask : ndarray of bool, shape ``x.shape`` or broadcastable to it, optional
        Keep-mask to use (True = kept), e.g. Keras' own mask; a mask of shape (batch, 1) drops
        whole rows, like Keras' ``noise_shape``.
    rng : numpy.random.Generator, optional
        Draw a fresh mask with :func:`dropout_mask`. In training exactly one of ``mask`` and ``rng``
        is needed (unless ``rate == 0``).

    Returns
    -------
    ndarray, same shape and dtype as ``x``
    """
    check_float_array(x, "x")
    rate = _rate(rate)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {training!r}")
    if mask is not None and rng is not None:
        raise ValueError("give either mask or rng, not both")
    if not training or rate == 0.0:
        return x
    if mask is None:
        if rng is None:
            raise ValueError("training=True needs a keep-mask (mask=...) or a random generator (rng=...)")
        mask = dropout_mask(x.shape, rate, rng)
    check_array(mask, "mask", dtypes=(np.bool_,), dtype_text="a boolean dtype (True = kept)",
                dtype_hint="; convert it, e.g. mask != 0")
    try:
        broadcast = np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        broadcast = None
    if broadcast != x.shape:
        raise ValueError(f"mask has shape {mask.shape}, which does not broadcast to x's shape {x.shape}")
    # Like TensorFlow: multiply by the scale 1 / (1 - rate) rounded to x's dtype.
    scale = x.dtype.type(1.0 / (1.0 - rate))
    return np.where(mask, x * scale, x.dtype.type(0))


def keep_mask_from_output(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Recover which entries a dropout layer kept, from its input and output: kept where ``y != 0``.

    Parameters
    ----------
    x : ndarray of float, shape (...)
        The layer's input; must have no zeros, else a kept zero and a dropped entry look alike.
    y : ndarray of float, same shape
        The layer's output in training mode.

    Returns
    -------
    ndarray of bool, same shape (True = kept)
    """
    check_float_array(x, "x")
    check_float_array(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x has shape {x.shape} but y has shape {y.shape}: a dropout output is shaped like its input")
    if (x == 0).any():
        raise ValueError(f"x has {int((x == 0).sum())} zero entries: a kept zero cannot be told from a dropped one; "
                         "use an input with no zeros to recover the mask")
    return y != 0


def keras_dropout(x: np.ndarray, rate: float, *, training: bool, seed: int = 0) -> np.ndarray:
    """Run ``keras.layers.Dropout(rate, seed=seed)`` on ``x`` and return the result as NumPy.

    Parameters
    ----------
    x : ndarray of float, any shape
    rate : float in [0, 1)
    training : bool
    seed : int
        Seed of the layer's own random generator (its mask is reproducible for a given seed).

    Returns
    -------
    ndarray, same shape and dtype as ``x``
    """
    from ._keras import keras  # the one import that sets oneDNN and the log level first

    check_float_array(x, "x")
    rate = _rate(rate)
    # A Python int: Keras' SeedGenerator refuses NumPy integers.
    layer = keras.layers.Dropout(rate, seed=check_integer(seed, "seed"), dtype=str(x.dtype))
    return keras.ops.convert_to_numpy(layer(x, training=training))


def generalization_gap(histories: dict[str, pd.DataFrame], metric: str = "accuracy") -> pd.DataFrame:
    """One row per run: final training and validation ``metric``, their gap, and the best validation epoch.

    Parameters
    ----------
    histories : dict of name -> DataFrame
        As returned by ``mh.fit``: one row per epoch, columns ``metric``, ``val_metric``, ``val_loss``.
    metric : str, default "accuracy"

    Returns
    -------
    DataFrame indexed by run name, with columns
        ``train``, ``validation``: the metric at the last epoch;
        ``gap``: train minus validation at the last epoch;
        ``best validation``, ``best epoch``: the best validation metric and when it happened;
        ``val loss min epoch``: the epoch with the lowest validation loss (where over-fitting starts).
    """
    if check_text(metric, "metric").endswith("loss"):
        raise ValueError(f"metric={metric!r}: give a higher-is-better metric such as 'accuracy'")
    if not isinstance(histories, dict) or not histories:
        raise ValueError("histories must be a non-empty dict of name -> history DataFrame")
    rows = {}
    for name, frame in histories.items():
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"histories[{name!r}] must be a DataFrame, got {type(frame).__name__}")
        missing = [c for c in (metric, f"val_{metric}", "val_loss") if c not in frame]
        if missing or frame.empty:
            raise ValueError(f"histories[{name!r}] lacks columns {missing} or rows; it has {list(frame.columns)}")
        last = frame.iloc[-1]
        rows[name] = {"train": last[metric], "validation": last[f"val_{metric}"],
                      "gap": last[metric] - last[f"val_{metric}"],
                      "best validation": frame[f"val_{metric}"].max(),
                      "best epoch": int(frame[f"val_{metric}"].idxmax()),
                      "val loss min epoch": int(frame["val_loss"].idxmin())}
    return pd.DataFrame(rows).T.astype({"best epoch": int, "val loss min epoch": int})
