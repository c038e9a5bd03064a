"""The NumPy Dense layer, activations, softmax and cross-entropy: equal to Keras, and the checks can fail.

Every reference function is compared with its Keras counterpart through ``mh.assert_close``
at the tolerance the notebooks state, and a deliberately wrong implementation is fed to the
same comparison to prove that it would catch the mistake.
"""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import mnist_helpers as mh
from mnist_helpers import layers as L

ATOL = 1e-6  # the tolerance chapters 4 and 5 state for float32 results
RNG = np.random.default_rng(0)
X = (RNG.normal(size=(32, 12)) * 4).astype(np.float32)  # spans the flat and the steep parts
LABELS = RNG.integers(0, 12, size=32)
PROBS = L.softmax(X)
ONE_HOT = L.one_hot(LABELS, 12)


def keras_grad(fn, x):
    """d fn(x) / dx element-wise, by TensorFlow's autodiff."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
    return tape.gradient(y, xt).numpy()


def keras_dense(kernel, bias, activation):
    layer = keras.layers.Dense(kernel.shape[1], activation=activation)
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel, bias])
    return layer


KERNEL = RNG.normal(size=(12, 5)).astype(np.float32)
BIAS = RNG.normal(size=5).astype(np.float32)

# name -> (our function, Keras' value, a plausible but wrong implementation), all on the same inputs
CASES = {
    "relu": (lambda: L.relu(X), lambda: keras.activations.relu(X), lambda: np.abs(X)),
    "sigmoid": (lambda: L.sigmoid(X), lambda: keras.activations.sigmoid(X), lambda: 1 / (1 + np.exp(X))),
    "tanh": (lambda: L.tanh(X), lambda: keras.activations.tanh(X), lambda: 2 * L.sigmoid(X) - 1),
    "linear": (lambda: L.linear(X), lambda: keras.activations.linear(X), lambda: L.relu(X)),
    "relu'": (lambda: L.activation_grad(X, "relu"), lambda: keras_grad(keras.activations.relu, X),
              lambda: np.sign(X)),  # -1 for negative inputs
    "sigmoid'": (lambda: L.activation_grad(X, "sigmoid"), lambda: keras_grad(keras.activations.sigmoid, X),
                 lambda: L.sigmoid(X)),
    "tanh'": (lambda: L.activation_grad(X, "tanh"), lambda: keras_grad(keras.activations.tanh, X),
              lambda: 1 - np.abs(np.tanh(X))),
    "linear'": (lambda: L.activation_grad(X, "linear"), lambda: keras_grad(keras.activations.linear, X),
                lambda: X),
    "softmax": (lambda: L.softmax(X), lambda: keras.ops.softmax(X),
                lambda: np.exp(X) / np.exp(X).sum(axis=0, keepdims=True)),  # normalised over the wrong axis
    "log_softmax": (lambda: L.log_softmax(X), lambda: keras.ops.log_softmax(X),
                    lambda: X - X.max(axis=-1, keepdims=True)),  # forgot the log-sum-exp
    "one_hot": (lambda: L.one_hot(LABELS, 12), lambda: keras.utils.to_categorical(LABELS, 12),
                lambda: np.eye(12)[(LABELS + 1) % 12]),  # off by one
    "dense": (lambda: L.dense_forward(X, KERNEL, BIAS, "relu"),
              lambda: keras_dense(KERNEL, BIAS, "relu")(X),
              lambda: np.maximum(X @ KERNEL, 0) + BIAS),  # bias after the activation
    "categorical_crossentropy": (
        lambda: L.categorical_crossentropy(ONE_HOT, PROBS),
        lambda: keras.losses.categorical_crossentropy(ONE_HOT, PROBS),
        lambda: -(ONE_HOT * np.log2(PROBS)).sum(axis=1)),  # log base 2: bits, not nats
    "categorical_crossentropy from logits": (
        lambda: L.categorical_crossentropy(ONE_HOT, X, from_logits=True),
        lambda: keras.losses.categorical_crossentropy(ONE_HOT, X, from_logits=True),
        lambda: L.categorical_crossentropy(ONE_HOT, L.softmax(L.softmax(X)))),  # softmax applied twice
    "sparse_categorical_crossentropy": (
        lambda: L.sparse_categorical_crossentropy(LABELS, PROBS),
        lambda: keras.losses.sparse_categorical_crossentropy(LABELS, PROBS),
        lambda: -np.log(PROBS).mean(axis=1)),  # averaged over all classes instead of the true one
    "sparse_categorical_crossentropy from logits": (
        lambda: L.sparse_categorical_crossentropy(LABELS, X, from_logits=True),
        lambda: keras.losses.sparse_categorical_crossentropy(LABELS, X, from_logits=True),
        lambda: -X[np.arange(len(X)), LABELS]),  # a raw logit is not a log-probability
    "mean categorical_crossentropy (loss object)": (
        lambda: L.categorical_crossentropy(ONE_HOT, PROBS).mean(),
        lambda: keras.losses.CategoricalCrossentropy()(ONE_HOT, PROBS),
        lambda: L.categorical_crossentropy(ONE_HOT, PROBS).sum()),  # Keras averages over the batch
    "mean sparse_categorical_crossentropy (loss object)": (
        lambda: L.sparse_categorical_crossentropy(LABELS, X, from_logits=True).mean(),
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, X),
        lambda: L.sparse_categorical_crossentropy(LABELS, L.softmax(X), epsilon=0.1).mean()),  # clipped too hard
}


@pytest.mark.parametrize("name", CASES)
def test_numpy_equals_keras(name):
    ours, theirs, _ = CASES[name]
    mh.assert_close(ours(), theirs(), atol=ATOL, name=name)


@pytest.mark.parametrize("name", CASES)
def test_wrong_implementation_fails_the_same_check(name):
    _, theirs, wrong = CASES[name]
    with pytest.raises(AssertionError, match=name.split(" ")[0]):
        mh.assert_close(wrong(), theirs(), atol=ATOL, name=name)


# ----------------------------------------------------------------------------- numerical behaviour

def test_softmax_survives_huge_logits_where_the_naive_formula_fails():
    z = np.array([[1000.0, 1001.0, 1002.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    assert np.isnan(naive).all()
    np.testing.assert_allclose(L.softmax(z), L.softmax(z - 1000), rtol=1e-12)
    assert np.isfinite(L.log_softmax(z)).all()


def test_sigmoid_has_no_overflow_warning_and_keeps_dtype():
    x = np.array([-1000.0, 0.0, 1000.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = L.sigmoid(x)
    assert s.dtype == np.float32 and s.tolist() == [0.0, 0.5, 1.0]


def test_sparse_equals_categorical_with_one_hot():
    np.testing.assert_allclose(L.sparse_categorical_crossentropy(LABELS, PROBS),
                               L.categorical_crossentropy(ONE_HOT, PROBS), rtol=1e-6)


def test_clipping_caps_the_loss_and_epsilon_zero_does_not():
    probs = np.array([[1.0, 0.0]])
    clipped = L.sparse_categorical_crossentropy(np.array([1]), probs)
    assert clipped[0] == pytest.approx(-np.log(L.EPSILON))
    assert np.isinf(L.sparse_categorical_crossentropy(np.array([1]), probs, epsilon=0))
    assert np.isinf(L.categorical_crossentropy(np.array([[0.0, 1.0]]), probs, epsilon=0))
    # A class with no target mass contributes 0, not 0 * log(0) = nan.
    assert L.categorical_crossentropy(np.array([[1.0, 0.0]]), probs, epsilon=0)[0] == 0


def test_a_loss_that_ignores_clipping_fails_against_keras():
    probs = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    labels = np.array([2])
    theirs = keras.losses.sparse_categorical_crossentropy(labels, probs)
    mh.assert_close(L.sparse_categorical_crossentropy(labels, probs), theirs, atol=ATOL)
    with pytest.raises(AssertionError):
        mh.assert_close(L.sparse_categorical_crossentropy(labels, probs, epsilon=0), theirs, atol=ATOL)


def test_soft_targets_are_accepted():
    soft = np.full((2, 4), 0.25)
    logits = np.zeros((2, 4))
    np.testing.assert_allclose(L.categorical_crossentropy(soft, logits, from_logits=True), np.log(4))


# ----------------------------------------------------------------------------- whole networks

def test_sequential_forward_matches_predict_and_fails_without_activations():
    keras.utils.set_random_seed(1)
    model = mh.models.build_dense((16, 8), activation="tanh", dropout=0.3)
    # Non-zero biases, so that a forward pass that forgets them is caught too.
    model.set_weights([w + 0.1 for w in model.get_weights()])
    x = RNG.random((6, 28, 28), dtype=np.float32)
    theirs = model.predict(x, verbose=0)
    assert L.dense_activations(model) == ["tanh", "tanh", "softmax"]
    mh.assert_close(L.sequential_forward(model, x), theirs, atol=ATOL, name="forward")
    wrong = L.mlp_forward(x, model.get_weights(), ["linear", "linear", "softmax"])
    with pytest.raises(AssertionError, match="forward"):
        mh.assert_close(wrong, theirs, atol=ATOL, name="forward")


def test_sequential_forward_after_training_on_real_mnist(mnist):
    (x_train, y_train), _ = mnist
    x, y = mh.scale(x_train[:2000]), y_train[:2000]
    keras.utils.set_random_seed(0)
    model = mh.models.build_dense((32,), logits=True)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=256, verbose=0)
    logits = model.predict(x[:500], verbose=0)
    mh.assert_close(L.sequential_forward(model, x[:500]), logits, atol=1e-5, name="logits")
    keras_loss = model.evaluate(x[:500], y[:500], verbose=0, batch_size=500)
    ours = L.sparse_categorical_crossentropy(y[:500], L.sequential_forward(model, x[:500]), from_logits=True)
    mh.assert_close(ours.mean(), keras_loss, atol=1e-5, name="loss")


def test_linear_layers_collapse_into_one():
    k1, b1 = RNG.normal(size=(12, 6)), RNG.normal(size=6)
    k2, b2 = RNG.normal(size=(6, 3)), RNG.normal(size=3)
    x = X.astype(np.float64)
    two = L.mlp_forward(x, [k1, b1, k2, b2], ["linear", "linear"])
    np.testing.assert_allclose(two, L.dense_forward(x, k1 @ k2, b1 @ k2 + b2), rtol=1e-10)


# ----------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("fn", [L.relu, L.sigmoid, L.tanh, L.linear, L.softmax, L.log_softmax])
def test_elementwise_functions_reject_lists_and_integers(fn):
    with pytest.raises(TypeError, match=r"(x|z) must be a NumPy array, got list"):
        fn([1.0, 2.0])
    with pytest.raises(TypeError, match=r"floating dtype \(float32 or float64\), got int64; scale uint8 pixels with mh.scale"):
        fn(np.array([1, 2]))


def test_softmax_rejects_a_scalar():
    with pytest.raises(ValueError, match=r"z must have at least 1 dimension.*\(\)"):
        L.softmax(np.array(3.0))


def test_activation_grad_rejects_unknown_name():
    with pytest.raises(ValueError, match="'softmax'.*'relu'.*softmax has no element-wise derivative"):
        L.activation_grad(X, "softmax")


@pytest.mark.parametrize("args, error, message", [
    ((X[0], KERNEL, BIAS), ValueError, r"x must have 2 dimensions, got shape \(12,\)"),
    ((X, KERNEL[:5], BIAS), ValueError, r"x has 12 features.*kernel expects 5"),
    ((X, KERNEL, BIAS[:3]), ValueError, r"bias has shape \(3,\).*5 units"),
    ((X, KERNEL, BIAS[None]), ValueError, r"bias must have 1 dimension"),
    ((X.astype(np.float64), KERNEL, BIAS), TypeError, r"dtypes differ \(x is float64, kernel is float32"),
    ((X.astype(np.int32), KERNEL, BIAS), TypeError, r"x must have a floating dtype.*int32"),
    ((X, KERNEL.tolist(), BIAS), TypeError, r"kernel must be a NumPy array, got list"),
])
def test_dense_forward_rejects_bad_inputs(args, error, message):
    with pytest.raises(error, match=message):
        L.dense_forward(*args)


def test_dense_forward_rejects_unknown_activation():
    with pytest.raises(ValueError, match=r"activation='gelu' must be one of 'linear', 'relu'"):
        L.dense_forward(X, KERNEL, BIAS, "gelu")


def test_mlp_forward_needs_a_kernel_and_bias_per_layer():
    with pytest.raises(ValueError, match="got 1 weight arrays for 1 layers"):
        L.mlp_forward(X, [KERNEL], ["relu"])
    with pytest.raises(ValueError, match="x must have at least 2"):
        L.mlp_forward(X[0], [KERNEL, BIAS], ["relu"])


def test_dense_activations_rejects_other_layers_and_missing_bias():
    conv = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="is a Conv2D; only Flatten, Dense and Dropout"):
        L.dense_activations(conv)
    no_bias = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, use_bias=False)])
    with pytest.raises(ValueError, match="has no bias"):
        L.dense_activations(no_bias)


@pytest.mark.parametrize("labels, num_classes, error, message", [
    (np.array([0, 10]), 10, ValueError, r"labels must be class indices in \[0, 10\), got values 0..10"),
    (np.array([-1, 2]), 10, ValueError, r"got values -1..2"),
    (np.array([0.0, 1.0]), 10, TypeError, r"integer dtype \(class indices\), got float64"),
    (np.array([[0, 1]]), 10, ValueError, r"labels must have shape \(n,\) \(1 dimension\), got shape \(1, 2\)"),
    ([0, 1], 10, TypeError, r"labels must be a NumPy array, got list"),
    (np.array([0, 1]), 0, ValueError, r"num_classes=0 must be in \[1, inf\)"),
    (np.array([0, 1]), 2.0, TypeError, r"num_classes must be an integer, got float 2.0"),
])
def test_one_hot_rejects_bad_inputs(labels, num_classes, error, message):
    with pytest.raises(error, match=message):
        L.one_hot(labels, num_classes)


def test_one_hot_of_mnist_labels_keeps_uint8_indices_working():
    np.testing.assert_array_equal(L.one_hot(np.array([3], dtype=np.uint8))[0], np.eye(10)[3])


def test_build_dense_accepts_numpy_scalars_and_checks_its_arguments():
    model = mh.models.build_dense(np.array([16, 8]), dropout=np.float32(0.25))
    assert model.count_params() == mh.models.build_dense((16, 8), dropout=0.25).count_params()
    with pytest.raises(ValueError, match=r"dropout=1.0 must be in \[0, 1\) \(the probability that an input is dropped\)"):
        mh.models.build_dense(dropout=1.0)
    with pytest.raises(TypeError, match=r"hidden_units\[0\] must be an integer, got float 128.0"):
        mh.models.build_dense((128.0,))


def test_numpy_scalars_are_accepted_as_num_classes_and_epsilon():
    # e.g. num_classes = labels.max() + 1 is an np.int64; an epsilon read from a float32 array.
    assert L.one_hot(np.array([1, 4]), np.int64(5)).shape == (2, 5)
    losses = L.categorical_crossentropy(ONE_HOT, PROBS, epsilon=np.float32(1e-7))
    np.testing.assert_array_equal(losses, L.categorical_crossentropy(ONE_HOT, PROBS, epsilon=float(np.float32(1e-7))))
    assert L.sparse_categorical_crossentropy(LABELS, PROBS, epsilon=np.float64(0)).shape == (len(LABELS),)


@pytest.mark.parametrize("y_true, y_pred, kwargs, error, message", [
    (ONE_HOT, X, {}, ValueError, r"y_pred must lie in \[0, 1\].*pass from_logits=True"),
    (ONE_HOT, PROBS * 0.5, {}, ValueError, r"each row of y_pred must sum to 1.*row \d+ sums to 0.5"),
    (ONE_HOT[:, :5], PROBS, {}, ValueError, r"y_true has shape \(32, 5\) but y_pred has \(32, 12\)"),
    (LABELS, PROBS, {}, TypeError, r"y_true must have a floating dtype.*int64"),
    (ONE_HOT * 2, PROBS, {}, ValueError, r"y_true must lie in \[0, 1\].*one_hot\(labels\)"),
    (ONE_HOT.astype(np.float64), PROBS, {}, TypeError, r"dtypes differ \(y_true is float64, y_pred is float32\)"),
    (ONE_HOT, PROBS[0], {}, ValueError, r"y_pred must have 2 dimension"),
    (ONE_HOT, PROBS, {"epsilon": 0.5}, ValueError, r"epsilon=0.5 must be in \[0, 0.5\) \(Keras uses 1e-07\)"),
    (ONE_HOT, PROBS, {"epsilon": "1e-7"}, TypeError, r"epsilon must be a real number, got str"),
])
def test_categorical_crossentropy_rejects_bad_inputs(y_true, y_pred, kwargs, error, message):
    with pytest.raises(error, match=message):
        L.categorical_crossentropy(y_true, y_pred, **kwargs)


@pytest.mark.parametrize("labels, y_pred, kwargs, error, message", [
    (LABELS, X, {}, ValueError, r"y_pred must lie in \[0, 1\].*from_logits=True"),
    (LABELS[:5], PROBS, {}, ValueError, r"labels has 5 examples but y_pred has 32"),
    (ONE_HOT, PROBS, {}, TypeError, r"integer dtype \(class indices\), got float32.*argmax\(axis=1\)"),
    (LABELS + 12, X, {"from_logits": True}, ValueError, r"labels must be class indices in \[0, 12\)"),
    (LABELS, PROBS.astype(np.uint8), {}, TypeError, r"y_pred must have a floating dtype.*uint8"),
    (LABELS, PROBS, {"epsilon": -1e-7}, ValueError, r"epsilon=-1e-07 must be in"),
])
def test_sparse_categorical_crossentropy_rejects_bad_inputs(labels, y_pred, kwargs, error, message):
    with pytest.raises(error, match=message):
        L.sparse_categorical_crossentropy(labels, y_pred, **kwargs)


def test_empty_batch_gives_empty_losses():
    empty = np.zeros((0, 10), dtype=np.float32)
    assert L.categorical_crossentropy(empty, empty).shape == (0,)
    assert L.sparse_categorical_crossentropy(np.zeros(0, dtype=int), empty).shape == (0,)
