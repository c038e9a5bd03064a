"""Model builders shared by several chapters. Chapter-specific builders live in their topic module."""
from __future__ import annotations

from typing import Sequence

from ._keras import keras  # TensorFlow's start-up notices filtered (config.quiet_tensorflow_import)
from .checks import check_integers, check_real


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
    dropout = check_real(dropout, "dropout", low=0, high=1, high_open=True,
                         hint=" (the probability that an input is dropped)")
    hidden_units = check_integers(hidden_units, "hidden_units", low=1)
    layers = [keras.Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    for units in hidden_units:
        layers.append(keras.layers.Dense(units, activation=activation))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation=None if logits else "softmax"))
    return keras.Sequential(layers, name=name)
