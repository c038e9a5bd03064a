"""Model builders shared by several chapters. Chapter-specific builders live in their topic module."""
from __future__ import annotations

from typing import Sequence

import keras


def build_dense(hidden_units: Sequence[int] = (128,), activation: str = "relu", dropout: float = 0.0,
                logits: bool = False, input_shape: tuple[int, ...] = (28, 28), name: str = "dense_net") -> keras.Model:
    """A fully connected classifier: Flatten, then ``Dense`` hidden layers, then 10 outputs.

    Parameters
    ----------
    hidden_units : sequence of int
        Width of each hidden layer, e.g. ``(256, 128)``; empty for a linear (softmax regression) model.
    activation : str
        Activation of the hidden layers ("relu", "tanh", "sigmoid", ...).
    dropout : float in [0, 1)
        Dropout rate after each hidden layer (0 = none).
    logits : bool
        If True the last layer is linear (use a loss with ``from_logits=True``); else softmax.
    input_shape : tuple
        Shape of one example: (28, 28) images or (784,) / (k,) feature vectors.

    Returns
    -------
    keras.Model, uncompiled; input shape (batch, *input_shape), output shape (batch, 10)
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
    if any(int(u) != u or u < 1 for u in hidden_units):
        raise ValueError(f"hidden_units={tuple(hidden_units)!r} must be positive integers")
    layers = [keras.Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    for units in hidden_units:
        layers.append(keras.layers.Dense(int(units), activation=activation))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation=None if logits else "softmax"))
    return keras.Sequential(layers, name=name)
