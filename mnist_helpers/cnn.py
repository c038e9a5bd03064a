"""The convolutional networks of the last chapter and of the benchmark.

Every model here takes raw uint8 images of shape (batch, 28, 28) and returns class
probabilities of shape (batch, 10): scaling and the channel axis are layers inside the model,
so a saved ``.keras`` file needs no preprocessing code beside it.
"""
from __future__ import annotations

import math

import numpy as np

from ._keras import keras  # first: TensorFlow's start-up notices filtered
from .augmentation import DigitAffineAugmentation, build_augmentation  # build_augmentation: also cnn.build_augmentation
from .checks import check_float_array, check_integer, check_integers, check_real

# The recipes' numbers live in .recipes (no Keras there, so the --help texts can read them).
from .recipes import (  # noqa: F401
    FINAL_AFFINE_AUGMENTATION,
    FINAL_BATCH_SIZE,
    FINAL_EPOCHS,
    FINAL_FILTERS,
    FINAL_MAX_LR,
    SPEED_BATCH_SIZE,
    SPEED_EPOCHS,
    SPEED_FILTERS,
    SPEED_MAX_LR,
)

layers = keras.layers


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=(28, 28), name="pixels")
    x = layers.Reshape((28, 28, 1), name="add_channel")(inputs)
    return inputs, layers.Rescaling(1.0 / 255, name="scale_to_0_1")(x)


def build_keras_example_convnet() -> keras.Model:
    """The Keras code example "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet).

    Conv(32, 3x3)-MaxPool-Conv(64, 3x3)-MaxPool-Flatten-Dropout(0.5)-Dense(10): 34,826 parameters.
    """
    inputs, x = _inputs()
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
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
        # A Python int: Keras' SeedGenerator refuses NumPy integers.
        x = layers.RandomFlip("horizontal", seed=check_integer(seed, "seed"), name="flip")(x)
    for block, filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(filters, 3, activation="relu", padding="same", name=f"conv{block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="dense1")(x)
    x = layers.Dense(128, activation="relu", name="dense2")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="original_model")


BN_MOMENTUM = 0.9
"""Moving-average momentum of the batch statistics: 0.9 settles within a few dozen steps
(Keras' default 0.99 needs hundreds, which leaves short runs with useless statistics)."""


def _conv_bn(x, filters: int, name: str, kernel_size: int = 3, padding: str = "same", batch_norm: bool = True):
    """Layers ``name`` (the convolution), ``name_bn`` and ``name_relu``."""
    if not batch_norm:  # the ablation: a plain convolution with its bias, then ReLU
        return layers.Conv2D(filters, kernel_size, padding=padding, activation="relu", name=name)(x)
    # Convolution without bias (batch normalization's shift replaces it), then BN, then ReLU.
    x = layers.Conv2D(filters, kernel_size, padding=padding, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_final_cnn(filters: tuple[int, int, int] = FINAL_FILTERS, dense_units: int = 128,
                    dropout: float = 0.4, augment: bool = True, seed: int = 0, *,
                    batch_norm: bool = True, first_kernel: int = 5,
                    affine_augmentation: bool = FINAL_AFFINE_AUGMENTATION) -> keras.Model:
    """The book's final CNN: batch-normalized convolutions, dropout and digit-safe augmentation.

    ``augmentation -> conv 5x5 (f1) -> pool -> conv 3x3 (f2) -> conv 3x3 (f2) -> pool -> dropout
    -> conv 3x3 valid (f3) -> dense (dense_units) -> dropout -> softmax``; every convolution and
    the dense layer are followed by batch normalization and ReLU.

    Parameters
    ----------
    filters : (int, int, int)
        Filters of the three convolution stages.
    dense_units : int
        Width of the hidden dense layer.
    dropout : float in [0, 1)
        Dropout before the output layer; half of it after the second stage.
    augment : bool
        Include the augmentation layers (active only in training).
    batch_norm : bool
        False for the ablation without batch normalization (biased layers, ReLU directly).
    first_kernel : int
        Size of the first convolution's window (5; the ablation tries 3).
    affine_augmentation : bool
        Augment with :class:`DigitAffineAugmentation` (one warp per image; the recipe's choice) or,
        if False, with :func:`build_augmentation`'s three Keras layers: same ranges, three
        interpolations.
    """
    dropout = check_real(dropout, "dropout", low=0, high=1, high_open=True,
                         hint=" (the probability that an input is dropped)")
    filters = check_integers(filters, "filters", low=1, length=3)
    dense_units = check_integer(dense_units, "dense_units", low=1)
    seed = check_integer(seed, "seed")  # a Python int, as Keras' SeedGenerator wants
    first_kernel = check_integer(first_kernel, "first_kernel", low=1, high=7)
    inputs, x = _inputs()
    if augment and affine_augmentation:
        x = DigitAffineAugmentation(seed=seed, name="augmentation")(x)
    elif augment:
        x = build_augmentation(seed=seed)(x)
    # 28x28: a larger window sees whole stroke pieces
    x = _conv_bn(x, filters[0], "conv1", kernel_size=first_kernel, batch_norm=batch_norm)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    # 14x14: two stacked 3x3 see 5x5 with fewer weights
    x = _conv_bn(x, filters[1], "conv2a", batch_norm=batch_norm)
    x = _conv_bn(x, filters[1], "conv2b", batch_norm=batch_norm)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Dropout(dropout / 2, seed=seed, name="dropout2")(x)
    x = _conv_bn(x, filters[2], "conv3", padding="valid", batch_norm=batch_norm)  # 7x7 -> 5x5
    x = layers.Flatten(name="flatten")(x)
    if batch_norm:
        x = layers.Dense(dense_units, use_bias=False, name="hidden")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="hidden_bn")(x)
        x = layers.Activation("relu", name="hidden_relu")(x)
    else:
        x = layers.Dense(dense_units, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout, seed=seed + 1, name="dropout_hidden")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="final_cnn")


def warmup_cosine_schedule(epochs: int, steps_per_epoch: int, max_lr: float = 3e-3,
                       warmup_fraction: float = 0.2) -> keras.optimizers.schedules.LearningRateSchedule:
    """Warm up linearly from ``max_lr / 10`` to ``max_lr``, then cosine-decay to 0 by the last step.

    Not fast.ai's one-cycle policy: that one also cycles the momentum (Adam's beta_1) against
    the learning rate; this schedule leaves the optimizer's momentum alone.
    """
    warmup, decay, max_lr = _schedule_steps(epochs, steps_per_epoch, max_lr, warmup_fraction)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=max_lr / 10, decay_steps=decay, alpha=0.0,
        warmup_target=max_lr, warmup_steps=warmup)


def _schedule_steps(epochs, steps_per_epoch, max_lr, warmup_fraction) -> tuple[int, int, float]:
    """The schedule's arguments checked: (warm-up steps, decay steps, peak rate)."""
    epochs = check_integer(epochs, "epochs", low=1)
    steps_per_epoch = check_integer(steps_per_epoch, "steps_per_epoch", low=1)
    max_lr = check_real(max_lr, "max_lr", low=0, low_open=True)
    warmup_fraction = check_real(warmup_fraction, "warmup_fraction", low=0, high=1, high_open=True,
                                 hint=" (the share of all steps spent warming up)")
    total = epochs * steps_per_epoch
    warmup = max(1, int(warmup_fraction * total))
    # At least one step of each: Keras divides by both, and a run of one step (a tiny data set) still trains.
    return warmup, max(1, total - warmup), max_lr


def warmup_cosine_lr(step, *, epochs: int, steps_per_epoch: int, max_lr: float = 3e-3,
                     warmup_fraction: float = 0.2) -> np.ndarray:
    """The learning rate of :func:`warmup_cosine_schedule` at optimizer step ``step``, in NumPy.

    With :math:`T` = ``epochs * steps_per_epoch`` steps, :math:`W` = ``int(warmup_fraction * T)``
    (at least 1) of them warming up, :math:`D = \\max(1, T - W)` decaying, and :math:`\\eta` = ``max_lr``::

        lr(t) = eta/10 + (eta - eta/10) * t / W                       for t < W
        lr(t) = eta * (1 + cos(pi * min(t - W, D) / D)) / 2             for t >= W

    Step ``t`` is the number of updates made before this one (Keras' ``optimizer.iterations``), so
    the first update uses ``lr(0) = eta / 10`` and the last ``lr(T - 1)``, just above 0.

    Parameters
    ----------
    step : int or array of int, shape (n,)
    epochs, steps_per_epoch, max_lr, warmup_fraction
        As for :func:`warmup_cosine_schedule`.

    Returns
    -------
    ndarray of float64, the shape of ``step``
    """
    warmup, decay, max_lr = _schedule_steps(epochs, steps_per_epoch, max_lr, warmup_fraction)
    t = np.asarray(step, dtype=np.float64)
    if np.any(t < 0) or np.any(t != np.round(t)):
        raise ValueError("step must hold whole numbers of updates, 0 or more")
    warming = max_lr / 10 + (max_lr - max_lr / 10) * t / warmup
    cosine = max_lr * 0.5 * (1 + np.cos(np.pi * np.minimum(t - warmup, decay) / decay))
    return np.where(t < warmup, warming, cosine)



def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Number of batches in one epoch (the last one may be smaller)."""
    n_examples = check_integer(n_examples, "n_examples", low=0)
    batch_size = check_integer(batch_size, "batch_size", low=1)
    return math.ceil(n_examples / batch_size)


def train_with_schedule(model: keras.Model, x_train, y_train, validation_data=None, *, epochs: int,
                        batch_size: int, max_lr: float = 3e-3, warmup_fraction: float = 0.2,
                        constant_lr: float | None = None, log_every: int = 1, quiet: bool = False,
                        callbacks=(), strategy=None):
    """Compile ``model`` with Adam on the warm-up + cosine schedule and train it.

    Parameters
    ----------
    model : keras.Model
        Any of this module's builders (uint8 images in, probabilities out).
    x_train : ndarray of uint8, shape (n, 28, 28)
    y_train : ndarray of int, shape (n,)
    validation_data : tuple (x_val, y_val), optional
    epochs, batch_size : int
    max_lr, warmup_fraction : float
        See :func:`warmup_cosine_schedule`.
    constant_lr : float, optional
        Train at this fixed learning rate instead of the schedule (the ablation).
    strategy : tf.distribute.Strategy, optional
        Data-parallel training (see :func:`train_final_cnn`); ``model`` must have been built in
        ``strategy.scope()``, and is compiled there. None: one device, as without it.

    Returns
    -------
    model : keras.Model
    history : DataFrame, one row per epoch
    seconds : float
        Training time.
    """
    import contextlib

    from .training import fit

    strategy = _check_strategy(strategy)
    if strategy is not None and model.distribute_strategy is not strategy:
        # Keras ties a model to the strategy in force when it was built; compiling in another
        # scope would place its optimizer's variables apart from its weights.
        raise ValueError(f"model {model.name!r} was not built in strategy.scope(): build it inside "
                         "`with strategy.scope():` and pass the same strategy (train_final_cnn does both)")
    if constant_lr:  # the ablation: Adam at a fixed rate, the usual default
        schedule = check_real(constant_lr, "constant_lr", low=0, low_open=True)
    else:
        schedule = warmup_cosine_schedule(epochs, steps_per_epoch(len(x_train), batch_size), max_lr=max_lr,
                                          warmup_fraction=warmup_fraction)
    # The optimizer's variables are made in the strategy's scope, mirrored like the weights.
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    history, seconds = fit(model, x_train, y_train, epochs=epochs, batch_size=batch_size,
                           validation_data=validation_data, log_every=log_every, quiet=quiet,
                           callbacks=list(callbacks))
    return model, history, seconds


def train_final_cnn(x_train, y_train, validation_data=None, *, epochs: int = FINAL_EPOCHS,
                    batch_size: int = FINAL_BATCH_SIZE, max_lr: float = FINAL_MAX_LR, seed: int = 0,
                    constant_lr: float | None = None, log_every: int = 1, quiet: bool = False, callbacks=(),
                    strategy=None, **builder_kwargs):
    """Seed, build ``build_final_cnn(**builder_kwargs)`` and train it (:func:`train_with_schedule`).

    Parameters
    ----------
    strategy : tf.distribute.Strategy, optional
        Train data-parallel, e.g. ``tf.distribute.MirroredStrategy()`` over several GPUs: the model
        is built and compiled in ``strategy.scope()``, and every step splits the batch of
        ``batch_size`` images (the *global* batch) evenly over ``strategy.num_replicas_in_sync``
        replicas and averages their gradients. The learning rate is not rescaled for you (the
        README's "Beyond one machine" says how). Each replica normalizes by its own part of the
        batch and draws its own augmentation and dropout, so the numbers differ from one device's.
        ``MultiWorkerMirroredStrategy`` (several machines) fails inside Keras 3.15's ``fit``; the
        README says more. None (the default): one device, as without it.

    Returns ``(model, history, seconds)`` as :func:`train_with_schedule` does.
    """
    import contextlib

    seed = check_integer(seed, "seed")  # epochs and batch_size are checked by fit
    strategy = _check_strategy(strategy)
    keras.utils.set_random_seed(seed)
    # Keras ties the model to the strategy in force when it is built.
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_final_cnn(seed=seed, **builder_kwargs)
    return train_with_schedule(model, x_train, y_train, validation_data, epochs=epochs, batch_size=batch_size,
                               max_lr=max_lr, constant_lr=constant_lr, log_every=log_every, quiet=quiet,
                               callbacks=callbacks, strategy=strategy)


def _check_strategy(strategy):
    """``strategy`` itself if it is a ``tf.distribute`` strategy or None; one clear error otherwise."""
    if strategy is None:
        return None
    import tensorflow as tf  # already loaded by ._keras

    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"strategy must be a tf.distribute strategy such as tf.distribute.MirroredStrategy(), "
                        f"or None for one device; got {type(strategy).__name__}")
    return strategy


def build_speed_cnn(filters: tuple[int, int] = SPEED_FILTERS) -> keras.Model:
    """The speed run's network: two batch-normalized convolution blocks and a softmax layer.

    ``conv 5x5 (f1) -> pool -> conv 3x3 (f2) -> pool -> dense 10``, each convolution followed by
    batch normalization and ReLU. No dropout and no augmentation: in a few epochs the network
    cannot over-fit, so both would only slow it down.
    """
    filters = check_integers(filters, "filters", low=1, length=2)
    inputs, x = _inputs()
    x = _conv_bn(x, filters[0], "conv1", kernel_size=5)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = _conv_bn(x, filters[1], "conv2")
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="speed_cnn")


def batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, variance: np.ndarray,
               epsilon: float = 1e-3) -> np.ndarray:
    """Batch normalization at inference time: ``gamma * (x - mean) / sqrt(variance + epsilon) + beta``.

    Parameters
    ----------
    x : ndarray of shape (..., c)
        Activations, channels last.
    gamma, beta, mean, variance : ndarray of shape (c,)
        Learned scale and shift, and the moving statistics gathered in training.
    epsilon : float
        Keras' default is 1e-3.

    Returns
    -------
    ndarray of the shape of ``x``
    """
    x = check_float_array(x, "x", min_ndim=1)
    _check_channel_vectors(x, gamma=gamma, beta=beta, mean=mean, variance=variance)
    if np.any(np.asarray(variance) < 0):
        raise ValueError("variance must be non-negative")
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def batch_norm_train(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, moving_mean: np.ndarray,
                     moving_variance: np.ndarray, momentum: float = BN_MOMENTUM,
                     epsilon: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training step of batch normalization: normalize by the batch's own statistics.

    ``mu, var = mean and (biased) variance of x over every axis but the last``;
    ``y = gamma * (x - mu) / sqrt(var + epsilon) + beta``; the moving statistics that
    inference uses move towards the batch's: ``moving = momentum * moving + (1 - momentum) * batch``.

    Parameters
    ----------
    x : ndarray of shape (n, ..., c)
        A batch of activations, channels last.
    gamma, beta, moving_mean, moving_variance : ndarray of shape (c,)
    momentum : float in [0, 1)
        The book's models use 0.9 (:data:`BN_MOMENTUM`); Keras' default is 0.99.
    epsilon : float
        Keras' default is 1e-3.

    Returns
    -------
    y : ndarray of the shape of ``x``
    new_moving_mean, new_moving_variance : ndarray of shape (c,)
    """
    x = check_float_array(x, "x", min_ndim=2)
    momentum = check_real(momentum, "momentum", low=0, high=1, high_open=True)
    epsilon = check_real(epsilon, "epsilon", low=0, low_open=True)
    _check_channel_vectors(x, gamma=gamma, beta=beta, moving_mean=moving_mean, moving_variance=moving_variance)
    axes = tuple(range(x.ndim - 1))
    mu, var = x.mean(axis=axes), x.var(axis=axes)  # var divides by n, as Keras' ops.moments does
    # The same normalization as at inference, with the batch's statistics in place of the moving ones.
    y = batch_norm(x, gamma, beta, mu, var, epsilon)
    return (y, momentum * moving_mean + (1 - momentum) * mu,
            momentum * moving_variance + (1 - momentum) * var)


def _check_channel_vectors(x: np.ndarray, **vectors: np.ndarray) -> None:
    for name, value in vectors.items():
        if np.shape(value) != (x.shape[-1],):
            raise ValueError(f"{name} must have shape ({x.shape[-1]},) to match x's last axis, got {np.shape(value)}")
