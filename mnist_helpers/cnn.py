"""The convolutional networks of the last chapter and of the benchmark.

Every model here takes raw uint8 images of shape (batch, 28, 28) and returns class
probabilities of shape (batch, 10): scaling and the channel axis are layers inside the model,
so a saved ``.keras`` file needs no preprocessing code beside it.
"""
from __future__ import annotations

import math

import keras
from keras import layers


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=(28, 28), name="pixels")
    x = layers.Reshape((28, 28, 1))(inputs)
    return inputs, layers.Rescaling(1.0 / 255)(x)


def build_keras_example_convnet() -> keras.Model:
    """The Keras code example "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet).

    Conv(32, 3x3)-MaxPool-Conv(64, 3x3)-MaxPool-Flatten-Dropout(0.5)-Dense(10): 34,826 parameters.
    """
    inputs, x = _inputs()
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="keras_example_convnet")


def build_original_model(horizontal_flip: bool = False, seed: int = 0) -> keras.Model:
    """The network this book grew from: three Conv+MaxPool blocks (32, 64, 128), Dense 256, Dense 128.

    Parameters
    ----------
    horizontal_flip : bool, default False
        Add the random horizontal flips the original repository trained with.
    """
    inputs, x = _inputs()
    if horizontal_flip:
        x = layers.RandomFlip("horizontal", seed=seed)(x)
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="original_model")


def build_augmentation(rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1,
                       seed: int = 0) -> keras.Sequential:
    """Augmentation that keeps digits digits: small rotations, shifts and zooms, never flips.

    Parameters
    ----------
    rotation_degrees : float
        Largest rotation either way, in degrees.
    shift : float
        Largest shift, as a fraction of the image size (0.1 = 2.8 pixels).
    zoom : float
        Largest zoom in or out, as a fraction.

    The layers are only active in training (``model.fit``); ``predict`` sees the image as it is.
    """
    for name, value, high in (("rotation_degrees", rotation_degrees, 45), ("shift", shift, 0.3), ("zoom", zoom, 0.3)):
        if not 0 <= value <= high:
            raise ValueError(f"{name}={value!r} is outside 0..{high}: larger changes turn digits into other digits")
    return keras.Sequential([
        layers.RandomRotation(rotation_degrees / 360.0, fill_mode="constant", seed=seed),
        layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed + 1),
        layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=seed + 2),
    ], name="augmentation")


def _conv_bn(x, filters: int, kernel_size: int = 3, strides: int = 1, padding: str = "same"):
    # Convolution without bias (batch normalization's shift replaces it), then BN, then ReLU.
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_final_cnn(augment: bool = True, dropout: float = 0.4, seed: int = 0) -> keras.Model:
    """The book's final CNN: stacked 3x3 convolutions with batch normalization, dropout, augmentation.

    Three stages of two 3x3 convolutions (32, 64, 128 filters); stages end by halving the
    resolution (max pooling) and dropping out, then a global average and a softmax layer.
    """
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
    inputs, x = _inputs()
    if augment:
        x = build_augmentation(seed=seed)(x)
    for filters in (32, 64):
        x = _conv_bn(x, filters)
        x = _conv_bn(x, filters)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(dropout / 2, seed=seed)(x)
    x = _conv_bn(x, 128, padding="valid")
    x = layers.Flatten()(x)
    x = layers.Dense(128, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(dropout, seed=seed)(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="final_cnn")


def one_cycle_schedule(epochs: int, steps_per_epoch: int, max_lr: float = 3e-3,
                       warmup_fraction: float = 0.2) -> keras.optimizers.schedules.LearningRateSchedule:
    """Warm up linearly to ``max_lr``, then cosine-decay to ~0 by the last step."""
    total = epochs * steps_per_epoch
    warmup = max(1, int(warmup_fraction * total))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=max_lr / 10, decay_steps=total - warmup, alpha=0.0,
        warmup_target=max_lr, warmup_steps=warmup)


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Number of batches in one epoch."""
    return math.ceil(n_examples / batch_size)
