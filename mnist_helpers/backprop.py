"""Backpropagation in plain NumPy: the backward pass of the Dense networks of chapter 4 (chapter 5b).

Each forward step of :mod:`mnist_helpers.layers` gets its backward step here. A backward step is
given the gradient of the loss with respect to the step's output and returns the gradients with
respect to its input and its parameters, by the chain rule. Chained from the loss back to the image,
they give every gradient of the network for about twice the arithmetic of the forward pass (two
matrix products per layer where the forward pass has one), however many weights it has: that is
backpropagation.

Names: ``d_z`` is the gradient of the (scalar, batch-mean) loss with respect to ``z``, an array
shaped exactly like ``z``. Shapes follow Keras: a batch of ``n`` examples on the first axis;
``weights`` is ``[kernel_1, bias_1, kernel_2, bias_2, ...]``, the order of ``model.get_weights()``
and of ``model.trainable_variables``, so the gradients can be compared with ``tf.GradientTape``'s
one for one.

:func:`finite_difference` and :func:`gradient_check` check any of it against the definition of a
derivative, with no chain rule at all.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .checks import check_choice, check_float_array, check_integer, check_labels, check_real, check_same_dtype
from .layers import ACTIVATIONS, activation_grad, dense_forward, one_hot, softmax, sparse_categorical_crossentropy

# The activations with an element-wise derivative (softmax belongs to the loss, see below).
ELEMENTWISE = ("linear", "relu", "sigmoid", "tanh")

Cache = list
"""What :func:`mlp_forward_cache` keeps for the backward pass: per layer, ``(input, pre-activation)``."""


# ----------------------------------------------------------------------------- one step at a time

def softmax_cross_entropy_backward(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r"""Gradient of the batch-mean cross-entropy with respect to the logits: :math:`(P - Y) / n`.

    For one example, :math:`\ell = -z_y + \log \sum_k e^{z_k}`, so
    :math:`\partial \ell / \partial z_j = p_j - y_j`; the loss Keras reports is the mean over the
    batch, hence the division by ``n``.

    Parameters
    ----------
    logits : ndarray of float, shape (n, k)
        The network's last Dense layer, before any softmax.
    labels : ndarray of int, shape (n,)
        True classes in [0, k).

    Returns
    -------
    d_logits : ndarray of shape (n, k), the dtype of ``logits``
        Each row sums to 0 (up to rounding).
    """
    logits = check_float_array(logits, "logits", ndim=2, layout="(n, k)", min_rows=1,
                               shape_hint="; pass a batch of logits, one row per example")
    labels = check_labels(labels, num_classes=logits.shape[1], n=len(logits))
    return (softmax(logits) - one_hot(labels, logits.shape[1], dtype=logits.dtype)) / logits.dtype.type(len(logits))


def dense_backward(x: np.ndarray, kernel: np.ndarray, d_z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Backward step of ``z = x @ kernel + bias``: gradients for the input, the kernel and the bias.

    .. math::
        \frac{\partial L}{\partial W} = X^\top \delta, \qquad
        \frac{\partial L}{\partial \mathbf{b}} = \sum_{\text{rows}} \delta, \qquad
        \frac{\partial L}{\partial X} = \delta\, W^\top, \qquad \delta = \frac{\partial L}{\partial Z}.

    The bias was added to every row, so its gradient sums over the rows.

    Parameters
    ----------
    x : ndarray of float, shape (n, d_in)
        The layer's input in the forward pass.
    kernel : ndarray of float, shape (d_in, d_out)
    d_z : ndarray of float, shape (n, d_out)
        Gradient of the loss with respect to the layer's output ``z`` (before its activation).

    Returns
    -------
    d_x : ndarray of shape (n, d_in)
    d_kernel : ndarray of shape (d_in, d_out)
    d_bias : ndarray of shape (d_out,)
    """
    x = check_float_array(x, "x", ndim=2, layout="(n, d_in)", shape_hint="; flatten images with x.reshape(len(x), -1)")
    kernel = check_float_array(kernel, "kernel", ndim=2, layout="(d_in, d_out)")
    d_z = check_float_array(d_z, "d_z", ndim=2, layout="(n, d_out)")
    check_same_dtype(x=x, kernel=kernel, d_z=d_z)
    if x.shape[1] != kernel.shape[0]:
        raise ValueError(f"x has {x.shape[1]} features per example (shape {x.shape}) but kernel expects "
                         f"{kernel.shape[0]} (shape {kernel.shape})")
    if d_z.shape != (len(x), kernel.shape[1]):
        raise ValueError(f"d_z must have the shape of the layer's output, (n, d_out) = ({len(x)}, {kernel.shape[1]}), "
                         f"got {d_z.shape}")
    return d_z @ kernel.T, x.T @ d_z, d_z.sum(axis=0)


def activation_backward(z: np.ndarray, d_h: np.ndarray, activation: str) -> np.ndarray:
    r"""Backward step of ``h = activation(z)`` element-wise: :math:`\partial z = \partial h \odot \phi'(z)`.

    Parameters
    ----------
    z : ndarray of float, any shape
        The pre-activation of the forward pass.
    d_h : ndarray of float, the shape and dtype of ``z``
        Gradient of the loss with respect to the activation's output.
    activation : {"linear", "relu", "sigmoid", "tanh"}

    Returns
    -------
    d_z : ndarray, the shape and dtype of ``z``
    """
    z = check_float_array(z, "z")
    d_h = check_float_array(d_h, "d_h")
    if d_h.shape != z.shape:
        raise ValueError(f"d_h has shape {d_h.shape} but z has shape {z.shape}: a gradient is shaped like its variable")
    check_same_dtype(z=z, d_h=d_h)
    return d_h * activation_grad(z, activation)


def relu_backward(z: np.ndarray, d_h: np.ndarray) -> np.ndarray:
    """``d_h`` where ``z > 0``, 0 elsewhere (also at ``z = 0``, as TensorFlow): :func:`activation_backward` for ReLU."""
    return activation_backward(z, d_h, "relu")


def sigmoid_backward(z: np.ndarray, d_h: np.ndarray) -> np.ndarray:
    """``d_h * s * (1 - s)`` with ``s = sigmoid(z)``, at most ``d_h / 4``: :func:`activation_backward` for sigmoid."""
    return activation_backward(z, d_h, "sigmoid")


# ----------------------------------------------------------------------------- a whole network

def _check_network(weights: Sequence[np.ndarray], activations: Sequence[str]) -> None:
    if isinstance(activations, str):
        raise TypeError(f"activations must be a sequence of names, one per layer, e.g. ['relu', 'linear'], "
                        f"got the string {activations!r}")
    if len(weights) != 2 * len(activations) or not activations:
        raise ValueError(f"got {len(weights)} weight arrays for {len(activations)} layers; expected a kernel and "
                         f"a bias per layer ({2 * len(activations)} arrays), as model.get_weights() gives them")
    for activation in activations:
        check_choice(activation, "activation", ELEMENTWISE,
                     hint=" (the last layer outputs logits: 'linear'; softmax is part of the loss)")


def mlp_forward_cache(x: np.ndarray, weights: Sequence[np.ndarray],
                      activations: Sequence[str]) -> tuple[np.ndarray, Cache]:
    """The forward pass of ``mh.layers.mlp_forward``, keeping what the backward pass needs.

    Parameters
    ----------
    x : ndarray of float, shape (n, 28, 28) or (n, d)
        Flattened row by row to (n, d), as ``keras.layers.Flatten`` does.
    weights : sequence of ndarray
        ``[kernel_1, bias_1, ...]``, as ``model.get_weights()``.
    activations : sequence of str
        One element-wise activation per layer; the last is ``"linear"`` for logits.

    Returns
    -------
    output : ndarray of shape (n, d_out of the last layer), the logits
    cache : list of (input, pre-activation) pairs, one per layer, shapes (n, d_in) and (n, d_out)
    """
    x = check_float_array(x, "x", min_ndim=2)
    _check_network(weights, activations)
    h, cache = x.reshape(len(x), -1), []
    for i, activation in enumerate(activations):
        z = dense_forward(h, weights[2 * i], weights[2 * i + 1])  # checks shapes and dtypes
        cache.append((h, z))
        h = ACTIVATIONS[activation](z)
    return h, cache


def mlp_backward(cache: Cache, weights: Sequence[np.ndarray], activations: Sequence[str],
                 d_out: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Backpropagate ``d_out`` through the layers of :func:`mlp_forward_cache`, last layer first.

    Parameters
    ----------
    cache : the list returned by :func:`mlp_forward_cache` with the same weights
    weights, activations : as given to :func:`mlp_forward_cache`
    d_out : ndarray of float, shape (n, d_out of the last layer)
        Gradient of the loss with respect to the network's output, e.g.
        :func:`softmax_cross_entropy_backward`.

    Returns
    -------
    grads : list of ndarray
        ``[d_kernel_1, d_bias_1, ...]``, each shaped like its weight: the order of ``weights``.
    d_x : ndarray of shape (n, d_in of the first layer)
        Gradient with respect to the (flattened) input.
    """
    _check_network(weights, activations)
    if not isinstance(cache, list) or len(cache) != len(activations):
        raise ValueError(f"cache must be the list of {len(activations)} (input, pre-activation) pairs that "
                         f"mlp_forward_cache returned for these weights")
    grads: list[np.ndarray] = [np.empty(0)] * len(weights)
    d_h = d_out
    for i in reversed(range(len(activations))):
        h_in, z = cache[i]
        d_z = activation_backward(z, d_h, activations[i])
        d_h, grads[2 * i], grads[2 * i + 1] = dense_backward(h_in, weights[2 * i], d_z)
    return grads, d_h


def mlp_loss_and_gradients(x: np.ndarray, labels: np.ndarray, weights: Sequence[np.ndarray],
                           activations: Sequence[str]) -> tuple[float, list[np.ndarray]]:
    """Batch-mean cross-entropy of a Dense network's logits and its gradient for every weight.

    The same loss as ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``, and the
    gradients ``tf.GradientTape`` computes for ``model.trainable_variables``.

    Parameters
    ----------
    x : ndarray of float, shape (n, 28, 28) or (n, d)
    labels : ndarray of int, shape (n,)
    weights : sequence of ndarray, ``[kernel_1, bias_1, ...]``
    activations : sequence of str, one per layer, the last ``"linear"``

    Returns
    -------
    loss : float
    grads : list of ndarray, shaped like ``weights``, in the same order
    """
    logits, cache = mlp_forward_cache(x, weights, activations)
    loss = float(sparse_categorical_crossentropy(labels, logits, from_logits=True).mean())
    grads, _ = mlp_backward(cache, weights, activations, softmax_cross_entropy_backward(logits, labels))
    return loss, grads


# ----------------------------------------------------------------------------- checking gradients

def _check_float64_weights(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    for i, w in enumerate(weights):
        check_float_array(w, f"weights[{i}]")
        if w.dtype != np.float64:
            raise TypeError(f"weights[{i}] is {w.dtype}; finite differences need float64 (in float32 a step of 1e-6 "
                            f"is lost in rounding): pass [w.astype(np.float64) for w in weights]")
    return list(weights)


def finite_difference(loss: Callable[[list[np.ndarray]], float], weights: Sequence[np.ndarray],
                      positions: Sequence[tuple[int, tuple[int, ...]]], eps: float = 1e-6) -> np.ndarray:
    r"""Central differences :math:`(L(w + \epsilon e) - L(w - \epsilon e)) / 2\epsilon` at chosen weights.

    Each value costs two evaluations of the whole loss, which is why nobody trains this way: a
    network of 100,000 weights would need 200,000 forward passes per step.

    Parameters
    ----------
    loss : callable
        ``loss(weights) -> float``, the loss with these weights (e.g. on one fixed batch).
    weights : sequence of ndarray of float64
        The point where the derivative is taken; left unchanged.
    positions : sequence of (int, tuple of int)
        ``(i, index)``: the entry ``weights[i][index]`` to perturb.
    eps : float > 0, default 1e-6

    Returns
    -------
    ndarray of float64, shape (len(positions),)
    """
    weights = _check_float64_weights(weights)
    eps = check_real(eps, "eps", low=0, low_open=True)
    if not callable(loss):
        raise TypeError(f"loss must be a function of the weights, got {type(loss).__name__}")
    values = []
    for i, index in positions:
        i = check_integer(i, "the array index of a position", low=0, high=len(weights) - 1)
        index = tuple(index) if isinstance(index, (tuple, list)) else (index,)
        try:
            original = weights[i][index]
        except IndexError:
            raise ValueError(f"position {index} is outside weights[{i}] of shape {weights[i].shape}") from None
        shifted = [w.copy() for w in weights]
        shifted[i][index] = original + eps
        up = loss(shifted)
        shifted[i][index] = original - eps
        down = loss(shifted)
        values.append((up - down) / (2 * eps))
    return np.array(values, dtype=np.float64)


def relative_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b| / max(|a|, |b|)`` element-wise (0 where both are 0): scale-free agreement of two gradients."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape} but b has shape {b.shape}; compare gradients of the same weights")
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.divide(np.abs(a - b), scale, out=np.zeros_like(scale), where=scale > 0)


def gradient_check(loss: Callable[[list[np.ndarray]], float], weights: Sequence[np.ndarray],
                   grads: Sequence[np.ndarray], per_array: int = 3, eps: float = 1e-6) -> list[dict]:
    """Compare backpropagated gradients with finite differences at the largest entries of each array.

    The entries with the largest gradients are checked (``per_array`` of each weight array): a
    random one is often exactly 0 on both sides (a weight of a blank pixel), which checks nothing.

    Parameters
    ----------
    loss, weights, eps : as in :func:`finite_difference` (float64 weights)
    grads : sequence of ndarray
        The gradients to check, shaped like ``weights``, e.g. from :func:`mlp_loss_and_gradients`.
    per_array : int >= 1, default 3

    Returns
    -------
    list of dict, one per checked entry
        ``{"array": i, "index": index, "backprop": g, "finite difference": fd, "relative error": r}``.
    """
    weights = _check_float64_weights(weights)
    per_array = check_integer(per_array, "per_array", low=1)
    if len(grads) != len(weights):
        raise ValueError(f"got {len(grads)} gradients for {len(weights)} weight arrays; one gradient per array")
    positions = []
    for i, (w, g) in enumerate(zip(weights, grads)):
        g = check_float_array(g, f"grads[{i}]")
        if g.shape != w.shape:
            raise ValueError(f"grads[{i}] has shape {g.shape} but weights[{i}] has {w.shape}; a gradient is shaped "
                             f"like its weights")
        largest = np.argsort(np.abs(g), axis=None)[::-1][:per_array]
        positions += [(i, tuple(int(j) for j in np.unravel_index(flat, g.shape))) for flat in largest]
    numeric = finite_difference(loss, weights, positions, eps)
    analytic = np.array([grads[i][index] for i, index in positions], dtype=np.float64)
    errors = relative_error(analytic, numeric)
    return [{"array": i, "index": index, "backprop": float(a), "finite difference": float(f), "relative error": float(r)}
            for (i, index), a, f, r in zip(positions, analytic, numeric, errors)]
