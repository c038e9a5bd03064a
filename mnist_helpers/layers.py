"""The Dense layer, its activations, softmax and cross-entropy in plain NumPy (chapters 4 and 5).

These are the reference implementations the notebooks check against Keras with
``mh.assert_close``. They favour clarity over speed, and they refuse inputs Keras would
quietly convert (lists, integer pixels, mixed precisions) so that a mistake shows up as a
clear error rather than as a small numerical disagreement.

Shapes follow Keras: a batch of ``n`` examples is the first axis, features or classes the last.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .checks import check_choice, check_float_array, check_labels, check_real, check_same_dtype

# Keras' default fuzz factor (``keras.backend.epsilon()``): probabilities are clipped to
# [EPSILON, 1 - EPSILON] before the log, so a loss computed from probabilities is at most
# -log(1e-7) = 16.12 per example.
EPSILON = 1e-7

# How far a row of probabilities may sum from 1 (float32 softmax is off by ~1e-7 per class).
_ROW_SUM_ATOL = 1e-4


# ----------------------------------------------------------------------------- validation

# The package's float-array checker, under a short name for this module's many calls.
_check_float = check_float_array


def _check_distribution(p: np.ndarray, name: str, hint: str = "") -> None:
    """Raise ValueError unless every row of ``p`` is a probability distribution."""
    if p.size == 0:
        return
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{p.min():.4g}, {p.max():.4g}]{hint}")
    sums = p.sum(axis=-1)
    worst = int(np.argmax(np.abs(sums - 1)))
    if abs(sums.flat[worst] - 1) > _ROW_SUM_ATOL:
        raise ValueError(f"each row of {name} must sum to 1 (within {_ROW_SUM_ATOL:g}); "
                         f"row {worst} sums to {sums.flat[worst]:.6g}{hint}")


# ----------------------------------------------------------------------------- activations

def linear(x: np.ndarray) -> np.ndarray:
    """The identity, Keras' ``activation=None`` / ``"linear"``; ``x`` of any shape, returned as is."""
    return _check_float(x, "x")


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit, ``max(x, 0)`` element-wise.

    Parameters
    ----------
    x : ndarray of float, any shape

    Returns
    -------
    ndarray of the same shape and dtype
    """
    return np.maximum(_check_float(x, "x"), 0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, ``1 / (1 + exp(-x))`` element-wise, without overflow.

    Written as ``exp(-log(1 + exp(-x)))`` with ``np.logaddexp``, which never overflows
    (the textbook form warns about ``exp(1000)`` for x = -1000).

    Parameters
    ----------
    x : ndarray of float, any shape

    Returns
    -------
    ndarray of the same shape and dtype, values in [0, 1]
    """
    x = _check_float(x, "x")
    return np.exp(-np.logaddexp(x.dtype.type(0), -x))


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent element-wise, ``(exp(x) - exp(-x)) / (exp(x) + exp(-x))``.

    Parameters
    ----------
    x : ndarray of float, any shape

    Returns
    -------
    ndarray of the same shape and dtype, values in [-1, 1]
    """
    return np.tanh(_check_float(x, "x"))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed stably by subtracting each row's maximum first.

    ``softmax(z)_j = exp(z_j) / sum_k exp(z_k)``; subtracting ``max(z)`` leaves the result
    unchanged mathematically and keeps every ``exp`` in (0, 1], so large logits cannot overflow.

    Parameters
    ----------
    z : ndarray of float, shape (..., k)
        Logits, e.g. (n, 10) for a batch of digit scores.

    Returns
    -------
    ndarray of the same shape and dtype; each row is non-negative and sums to 1
    """
    z = _check_float(z, "z", min_ndim=1)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` over the last axis, without ever taking the log of an underflowed 0.

    ``log_softmax(z)_j = z_j - max(z) - log(sum_k exp(z_k - max(z)))``.

    Parameters
    ----------
    z : ndarray of float, shape (..., k)

    Returns
    -------
    ndarray of the same shape and dtype, all values <= 0
    """
    z = _check_float(z, "z", min_ndim=1)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
}
"""Keras activation name -> NumPy function, for the activations the book uses."""


def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    return ACTIVATIONS[check_choice(name, "activation", tuple(ACTIVATIONS))]


def activation_grad(x: np.ndarray, activation: str) -> np.ndarray:
    """Derivative of an element-wise activation at ``x``: how much of a gradient passes through.

    ``sigmoid' = s (1 - s)`` (at most 0.25), ``tanh' = 1 - tanh^2`` (at most 1),
    ``relu' = 1 if x > 0 else 0`` (0 at x = 0, as in TensorFlow), ``linear' = 1``.

    Parameters
    ----------
    x : ndarray of float, any shape
    activation : {"linear", "relu", "sigmoid", "tanh"}

    Returns
    -------
    ndarray of the same shape and dtype
    """
    x = _check_float(x, "x")
    check_choice(activation, "activation", ("linear", "relu", "sigmoid", "tanh"),
                 hint=" (element-wise activations; softmax has no element-wise derivative)")
    if activation == "linear":
        return np.ones_like(x)
    if activation == "relu":
        return (x > 0).astype(x.dtype)
    if activation == "sigmoid":
        s = sigmoid(x)
        return s * (1 - s)
    return 1 - np.tanh(x) ** 2  # tanh, the last choice left


# ----------------------------------------------------------------------------- Dense layers

def dense_forward(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, activation: str = "linear") -> np.ndarray:
    """One ``keras.layers.Dense`` layer: ``activation(x @ kernel + bias)``.

    Parameters
    ----------
    x : ndarray of float, shape (n, d_in)
        A batch of inputs, one row per example.
    kernel : ndarray of float, shape (d_in, d_out)
        The weights, as ``layer.get_weights()[0]``: column j holds the weights of unit j.
    bias : ndarray of float, shape (d_out,)
        As ``layer.get_weights()[1]``.
    activation : str, default "linear"
        A key of ``ACTIVATIONS``.

    Returns
    -------
    ndarray of shape (n, d_out), the dtype of the inputs
    """
    x = _check_float(x, "x", ndim=2)
    kernel = _check_float(kernel, "kernel", ndim=2)
    bias = _check_float(bias, "bias", ndim=1)
    check_same_dtype(x=x, kernel=kernel, bias=bias)
    if x.shape[1] != kernel.shape[0]:
        raise ValueError(f"x has {x.shape[1]} features per example (shape {x.shape}) but kernel expects "
                         f"{kernel.shape[0]} (shape {kernel.shape})")
    if bias.shape[0] != kernel.shape[1]:
        raise ValueError(f"bias has shape {bias.shape} but kernel has {kernel.shape[1]} units (shape {kernel.shape})")
    return _activation(activation)(x @ kernel + bias)


def mlp_forward(x: np.ndarray, weights: Sequence[np.ndarray], activations: Sequence[str]) -> np.ndarray:
    """A stack of Dense layers: ``Flatten`` then ``dense_forward`` layer after layer.

    Parameters
    ----------
    x : ndarray of float, shape (n, 28, 28) or (n, d)
        Images are flattened row by row to (n, 784), as ``keras.layers.Flatten`` does.
    weights : sequence of ndarray
        ``[kernel_1, bias_1, kernel_2, bias_2, ...]``, exactly ``model.get_weights()``.
    activations : sequence of str
        One activation name per layer, ``len(weights) // 2`` of them.

    Returns
    -------
    ndarray of shape (n, d_out of the last layer)
    """
    x = _check_float(x, "x", min_ndim=2)
    if len(weights) != 2 * len(activations):
        raise ValueError(f"got {len(weights)} weight arrays for {len(activations)} layers; "
                         f"expected a kernel and a bias per layer ({2 * len(activations)} arrays)")
    h = x.reshape(len(x), -1)
    for i, activation in enumerate(activations):
        h = dense_forward(h, weights[2 * i], weights[2 * i + 1], activation)
    return h


def dense_activations(model) -> list[str]:
    """The activation name of each Dense layer of a Keras ``Sequential`` of Flatten/Dense/Dropout layers.

    Dropout is the identity at prediction time, and Flatten is done by ``mlp_forward``,
    so these names and ``model.get_weights()`` describe the whole forward pass.

    Raises
    ------
    ValueError
        For any other kind of layer, or a Dense layer without a bias.
    """
    from ._keras import keras  # the one import that sets oneDNN and the log level first

    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            if not layer.use_bias:
                raise ValueError(f"layer {layer.name!r} has no bias; mlp_forward expects kernel and bias pairs")
            names.append(keras.activations.serialize(layer.activation))
        elif not isinstance(layer, (keras.layers.Flatten, keras.layers.Dropout)):
            raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__}; only Flatten, Dense and "
                             f"Dropout layers can be replayed in NumPy")
    return names


def sequential_forward(model, x: np.ndarray) -> np.ndarray:
    """``model.predict(x)`` recomputed in NumPy from ``model.get_weights()``.

    Parameters
    ----------
    model : keras.Sequential of Flatten, Dense and Dropout layers
    x : ndarray of float, shape (n, *model input shape)

    Returns
    -------
    ndarray of shape (n, model output units)
    """
    return mlp_forward(x, model.get_weights(), dense_activations(model))


# ----------------------------------------------------------------------------- targets and losses

def one_hot(labels: np.ndarray, num_classes: int = 10, dtype=np.float32) -> np.ndarray:
    """Turn class indices into one-hot rows, as ``keras.utils.to_categorical``.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
        Values in [0, num_classes).
    num_classes : int, default 10
    dtype : float dtype, default float32

    Returns
    -------
    ndarray of shape (n, num_classes): row i is all zeros except a 1 at column ``labels[i]``
    """
    labels = check_labels(labels, num_classes=num_classes)  # checks num_classes too
    # Row i of the identity matrix is the one-hot vector of class i.
    return np.eye(num_classes, dtype=dtype)[labels]


def _log_probs(y_pred: np.ndarray, from_logits: bool, epsilon: float) -> np.ndarray:
    """log p for every class: exact from logits, or from clipped probabilities as Keras does."""
    # Below 0.5, so that the clipping interval [epsilon, 1 - epsilon] is not empty.
    epsilon = check_real(epsilon, "epsilon", low=0, high=0.5, high_open=True, hint=f" (Keras uses {EPSILON:g})")
    if from_logits:
        return log_softmax(y_pred)
    _check_distribution(y_pred, "y_pred", hint=" (if these are logits, pass from_logits=True)")
    with np.errstate(divide="ignore"):  # epsilon=0 lets log(0) = -inf through, on purpose
        return np.log(np.clip(y_pred, epsilon, 1 - epsilon))


def categorical_crossentropy(y_true: np.ndarray, y_pred: np.ndarray, *, from_logits: bool = False,
                             epsilon: float = EPSILON) -> np.ndarray:
    """Cross-entropy of each example, ``-sum_j y_true[j] * log p[j]``, with one-hot (or soft) targets.

    Parameters
    ----------
    y_true : ndarray of float, shape (n, k)
        Target distributions, usually ``one_hot(labels)``; each row sums to 1.
    y_pred : ndarray of float, shape (n, k)
        Predicted probabilities (rows summing to 1), or logits if ``from_logits``.
    from_logits : bool, default False
        If True, ``y_pred`` are logits and log p is computed exactly with ``log_softmax``.
    epsilon : float, default 1e-7
        Probabilities are clipped to [epsilon, 1 - epsilon] before the log, as Keras does;
        0 gives the exact (possibly infinite) loss. Ignored when ``from_logits``.

    Returns
    -------
    ndarray of shape (n,), the loss of each example (Keras' loss objects report the mean)
    """
    y_true = _check_float(y_true, "y_true", ndim=2)
    y_pred = _check_float(y_pred, "y_pred", ndim=2)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}; they must match")
    check_same_dtype(y_true=y_true, y_pred=y_pred)
    _check_distribution(y_true, "y_true", hint=" (one-hot targets: use one_hot(labels))")
    log_p = _log_probs(y_pred, from_logits, epsilon)
    # 0 * log(0) counts as 0: classes with no target mass contribute nothing.
    with np.errstate(invalid="ignore"):
        return -np.where(y_true > 0, y_true * log_p, 0).sum(axis=-1)


def sparse_categorical_crossentropy(labels: np.ndarray, y_pred: np.ndarray, *, from_logits: bool = False,
                                    epsilon: float = EPSILON) -> np.ndarray:
    """Cross-entropy of each example with integer targets: ``-log p[label]``.

    The same number as ``categorical_crossentropy(one_hot(labels), y_pred)``, without
    building the one-hot matrix: only the log-probability of the true class is read.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
        True classes in [0, k).
    y_pred : ndarray of float, shape (n, k)
        Predicted probabilities (rows summing to 1), or logits if ``from_logits``.
    from_logits : bool, default False
    epsilon : float, default 1e-7
        Clipping of probabilities as in ``categorical_crossentropy``.

    Returns
    -------
    ndarray of shape (n,)
    """
    y_pred = _check_float(y_pred, "y_pred", ndim=2)
    labels = check_labels(labels, num_classes=y_pred.shape[1])
    if len(labels) != len(y_pred):
        raise ValueError(f"labels has {len(labels)} examples but y_pred has {len(y_pred)} (shape {y_pred.shape})")
    log_p = _log_probs(y_pred, from_logits, epsilon)
    return -log_p[np.arange(len(labels)), labels]
