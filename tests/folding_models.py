"""A small Keras network for the folding tests (tests/test_inference.py, tests/test_draw_page.py).

It has what the book's final CNN does not use: strides, an odd "same" max-pooling, biases before
batch normalization, a Dense layer without bias before one, and batch statistics far from 0 and 1,
so that a wrong fold shows; its last layer is scaled up for confident outputs, where gaps show.
"""
import numpy as np


def small_model(seed: int = 0, extra=()):
    """The network, untrained but seeded; ``extra`` layers (e.g. augmentation) go right after the rescaling.

    Folded, its operations are rescale, conv2d, relu, max_pool2d, conv2d, relu, flatten, dense, relu,
    dense, relu, dense, softmax.
    """
    from mnist_helpers._keras import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28)), layers.Reshape((28, 28, 1)), layers.Rescaling(1 / 255), *extra,
        layers.Conv2D(6, 3, strides=2, padding="same"), layers.BatchNormalization(), layers.Activation("relu"),
        layers.MaxPooling2D(3, strides=2, padding="same"),  # 14 -> 7
        layers.Conv2D(8, 3, strides=2, use_bias=False), layers.BatchNormalization(), layers.Activation("relu"),
        layers.Dropout(0.3), layers.Flatten(), layers.Dense(16, activation="relu"),
        layers.Dense(12, use_bias=False), layers.BatchNormalization(), layers.Activation("relu"),
        layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape[0]
            # gamma, beta, moving mean, moving variance
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.5, n),
                               rng.uniform(0.2, 3, n)])
    last = model.layers[-1]
    last.set_weights([w * 10 for w in last.get_weights()])  # confident outputs, so that gaps show
    return model


FOLDED_OPS = ["rescale", "conv2d", "relu", "max_pool2d", "conv2d", "relu", "flatten", "dense", "relu", "dense", "relu",
              "dense", "softmax"]
"""``small_model``'s operations once folded (``mnist_helpers.inference.fold_model``)."""
