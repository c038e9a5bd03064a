"""The NumPy backward pass (mh.backprop): equal to TensorFlow's autodiff and to finite differences, and
the checks can fail.

Each backward step is compared with ``tf.GradientTape`` on random inputs. A step given the upstream
gradient ``G`` must return the gradient of ``sum(G * output)``, which is what the tape computes.
Whole networks are compared with the tape on a Keras model holding the same weights, and with
central finite differences in float64. Deliberately wrong gradients are fed to the same checks to
show they would be caught.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

import mnist_helpers as mh
from mnist_helpers import backprop as bp

ATOL = 1e-6  # the tolerance chapter 5b states for float32 gradients
RNG = np.random.default_rng(0)


def tape_vjp(fn, inputs, upstream):
    """Gradients of sum(upstream * fn(*inputs)) with respect to each input, by TensorFlow."""
    tensors = [tf.constant(a) for a in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = tf.reduce_sum(tf.constant(upstream) * fn(*tensors))
    return [g.numpy() for g in tape.gradient(out, tensors)]


def random(*shape, scale=1.0, dtype=np.float32):
    return (RNG.normal(size=shape) * scale).astype(dtype)


# ----------------------------------------------------------------------------- one step at a time

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_backward_equals_tensorflow(dtype):
    x, kernel, bias = random(16, 12, dtype=dtype), random(12, 5, dtype=dtype), random(5, dtype=dtype)
    d_z = random(16, 5, scale=1 / 16, dtype=dtype)
    d_x, d_kernel, d_bias = bp.dense_backward(x, kernel, d_z)
    expected = tape_vjp(lambda a, w, b: a @ w + b, [x, kernel, bias], d_z)
    for name, ours, theirs in zip(["d_x", "d_kernel", "d_bias"], [d_x, d_kernel, d_bias], expected):
        assert ours.dtype == dtype and ours.shape == theirs.shape
        mh.assert_close(ours, theirs, atol=ATOL, name=name)


@pytest.mark.parametrize("activation, keras_fn", [
    ("relu", keras.activations.relu), ("sigmoid", keras.activations.sigmoid),
    ("tanh", keras.activations.tanh), ("linear", keras.activations.linear)])
def test_activation_backward_equals_tensorflow(activation, keras_fn):
    z, d_h = random(20, 7, scale=2.5), random(20, 7)  # up to |z| ~ 8: flat and steep parts
    (expected,) = tape_vjp(keras_fn, [z], d_h)
    mh.assert_close(bp.activation_backward(z, d_h, activation), expected, atol=ATOL, name=activation)


def test_relu_and_sigmoid_backward_are_the_general_step():
    z, d_h = random(9, 4, scale=3), random(9, 4)
    np.testing.assert_array_equal(bp.relu_backward(z, d_h), d_h * (z > 0))
    np.testing.assert_array_equal(bp.sigmoid_backward(z, d_h), bp.activation_backward(z, d_h, "sigmoid"))
    # The sigmoid passes back at most a quarter of the gradient.
    assert (np.abs(bp.sigmoid_backward(z, d_h)) <= np.abs(d_h) / 4 + 1e-7).all()


def test_softmax_cross_entropy_backward_equals_tensorflow():
    logits, labels = random(32, 10, scale=3), RNG.integers(0, 10, size=32)
    z = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z)
    expected = tape.gradient(loss, z)
    ours = bp.softmax_cross_entropy_backward(logits, labels)
    mh.assert_close(ours, expected, atol=ATOL, name="(P - Y) / n")
    np.testing.assert_allclose(ours.sum(axis=1), 0, atol=1e-7)
    # Forgetting the batch mean is n times too large, and the check says so.
    with pytest.raises(AssertionError, match="not divided"):
        mh.assert_close(ours * len(logits), expected, atol=ATOL, name="not divided by n")


# ----------------------------------------------------------------------------- whole networks

def keras_gradients(model, x, labels):
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, model(x))
    return float(loss), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("hidden, activation", [((16,), "relu"), ((16, 8), "sigmoid"), ((8, 8, 8), "tanh")])
def test_mlp_gradients_equal_gradient_tape(hidden, activation):
    keras.utils.set_random_seed(0)
    model = mh.models.build_dense(hidden, activation, logits=True)
    model.set_weights([w + random(*w.shape, scale=0.05) for w in model.get_weights()])  # non-zero biases
    x, labels = RNG.random((24, 28, 28), dtype=np.float32), RNG.integers(0, 10, size=24)
    activations = [activation] * len(hidden) + ["linear"]
    loss, grads = bp.mlp_loss_and_gradients(x, labels, model.get_weights(), activations)
    keras_loss, expected = keras_gradients(model, x, labels)
    mh.assert_close(loss, keras_loss, atol=ATOL, name="loss")
    for i, (ours, theirs) in enumerate(zip(grads, expected)):
        assert ours.shape == theirs.shape
        mh.assert_close(ours, theirs, atol=ATOL, name=f"gradient {i}")


def test_mlp_gradients_on_real_mnist_and_a_wrong_backward_pass_fails(mnist):
    (x_train, y_train), _ = mnist
    x, labels = mh.scale(x_train[:128]), y_train[:128]
    keras.utils.set_random_seed(0)
    model = mh.models.build_dense((32,), "relu", logits=True)
    weights = model.get_weights()
    _, grads = bp.mlp_loss_and_gradients(x, labels, weights, ["relu", "linear"])
    _, expected = keras_gradients(model, x, labels)
    for ours, theirs in zip(grads, expected):
        mh.assert_close(ours, theirs, atol=ATOL, name="MNIST gradient")
    # With 'linear' in place of ReLU on the way back only (the forward pass is right), dW1 is wrong.
    logits, cache = bp.mlp_forward_cache(x, weights, ["relu", "linear"])
    d_logits = bp.softmax_cross_entropy_backward(logits, labels)
    no_mask, _ = bp.mlp_backward(cache, weights, ["linear", "linear"], d_logits)
    with pytest.raises(AssertionError, match="no mask"):
        mh.assert_close(no_mask[0], expected[0], atol=ATOL, name="no mask")


def test_input_gradient_equals_gradient_tape():
    keras.utils.set_random_seed(1)
    model = mh.models.build_dense((16,), "sigmoid", logits=True, input_shape=(20,))
    x, labels = random(10, 20), RNG.integers(0, 10, size=10)
    logits, cache = bp.mlp_forward_cache(x, model.get_weights(), ["sigmoid", "linear"])
    _, d_x = bp.mlp_backward(cache, model.get_weights(), ["sigmoid", "linear"],
                             bp.softmax_cross_entropy_backward(logits, labels))
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, model(x_t))
    mh.assert_close(d_x, tape.gradient(loss, x_t), atol=ATOL, name="dL/dx")


def test_forward_cache_gives_the_forward_pass():
    weights = [random(20, 6), random(6), random(6, 3), random(3)]
    x = random(5, 20)
    logits, cache = bp.mlp_forward_cache(x, weights, ["tanh", "linear"])
    np.testing.assert_array_equal(logits, mh.layers.mlp_forward(x, weights, ["tanh", "linear"]))
    assert [(h.shape, z.shape) for h, z in cache] == [((5, 20), (5, 6)), ((5, 6), (5, 3))]


# ----------------------------------------------------------------------------- finite differences

def test_finite_differences_agree_with_backprop_and_catch_a_wrong_gradient():
    weights = [random(12, 6, scale=0.5, dtype=np.float64), random(6, scale=0.1, dtype=np.float64),
               random(6, 4, scale=0.5, dtype=np.float64), random(4, scale=0.1, dtype=np.float64)]
    x, labels = random(8, 12, dtype=np.float64), RNG.integers(0, 4, size=8)
    activations = ["sigmoid", "linear"]

    def loss(ws):
        return bp.mlp_loss_and_gradients(x, labels, ws, activations)[0]

    _, grads = bp.mlp_loss_and_gradients(x, labels, weights, activations)
    before = [w.copy() for w in weights]
    rows = bp.gradient_check(loss, weights, grads, per_array=4)
    assert len(rows) == 16 and max(row["relative error"] for row in rows) < 1e-6
    for w, b in zip(weights, before):
        np.testing.assert_array_equal(w, b)  # the weights are left as they were
    # A gradient 1% too large is caught: relative error about 1e-2.
    wrong = bp.gradient_check(loss, weights, [g * 1.01 for g in grads], per_array=2)
    assert min(row["relative error"] for row in wrong) > 5e-3


def test_finite_difference_of_a_known_function():
    w = [np.array([[1.0, -2.0], [0.5, 3.0]])]
    positions = [(0, (0, 0)), (0, (1, 1)), (0, [0, 1])]
    np.testing.assert_allclose(bp.finite_difference(lambda ws: float((ws[0] ** 3).sum()), w, positions, eps=1e-5),
                               [3.0, 27.0, 12.0], rtol=1e-8)  # d(w^3)/dw = 3 w^2


def test_gradient_check_picks_the_largest_gradients():
    w = [np.zeros((3, 3))]
    g = [np.zeros((3, 3))]
    g[0][2, 1], g[0][0, 2] = 5.0, -7.0
    rows = bp.gradient_check(lambda ws: float(5 * ws[0][2, 1] - 7 * ws[0][0, 2]), w, g, per_array=2)
    assert [row["index"] for row in rows] == [(0, 2), (2, 1)]
    assert all(row["relative error"] < 1e-8 for row in rows)


def test_relative_error():
    np.testing.assert_allclose(bp.relative_error(np.array([1.0, 0.0, -2.0]), np.array([1.1, 0.0, 2.0])),
                               [0.1 / 1.1, 0.0, 2.0])


# ----------------------------------------------------------------------------- bad inputs

X, KERNEL, D_Z = random(6, 4), random(4, 3), random(6, 3)


@pytest.mark.parametrize("args, error, message", [
    ((X[0], KERNEL, D_Z), ValueError, r"x must have shape \(n, d_in\) \(2 dimensions\), got shape \(4,\); flatten"),
    ((X, KERNEL[:3], D_Z), ValueError, r"x has 4 features.*kernel expects 3"),
    ((X, KERNEL, D_Z[:, :2]), ValueError, r"d_z must have the shape of the layer's output, \(n, d_out\) = \(6, 3\)"),
    ((X, KERNEL, D_Z.astype(np.float64)), TypeError, r"dtypes differ \(x is float32, kernel is float32, d_z is float64\)"),
    ((X.tolist(), KERNEL, D_Z), TypeError, r"x must be a NumPy array, got list"),
])
def test_dense_backward_rejects_bad_inputs(args, error, message):
    with pytest.raises(error, match=message):
        bp.dense_backward(*args)


def test_activation_backward_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"d_h has shape \(6, 3\) but z has shape \(6, 4\)"):
        bp.activation_backward(X, D_Z, "relu")
    with pytest.raises(ValueError, match="'softmax'.*softmax has no element-wise derivative"):
        bp.activation_backward(X, X, "softmax")


def test_softmax_cross_entropy_backward_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"labels must have shape \(6,\), one label per example"):
        bp.softmax_cross_entropy_backward(X, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 4\)"):
        bp.softmax_cross_entropy_backward(X, np.full(6, 4))
    with pytest.raises(ValueError, match=r"logits must have shape \(n, k\).*one row per example"):
        bp.softmax_cross_entropy_backward(X[0], np.array([1]))


def test_network_functions_reject_bad_inputs():
    weights = [KERNEL, random(3)]
    with pytest.raises(ValueError, match="got 2 weight arrays for 2 layers; expected a kernel and a bias per layer"):
        bp.mlp_forward_cache(X, weights, ["relu", "linear"])
    with pytest.raises(TypeError, match="activations must be a sequence of names"):
        bp.mlp_forward_cache(X, weights, "relu")
    with pytest.raises(ValueError, match="activation='softmax'.*softmax is part of the loss"):
        bp.mlp_forward_cache(X, weights, ["softmax"])
    _, cache = bp.mlp_forward_cache(X, weights, ["linear"])
    with pytest.raises(ValueError, match="cache must be the list of 2"):
        bp.mlp_backward(cache, weights + weights, ["linear", "linear"], D_Z)


def test_gradient_checks_reject_bad_inputs():
    w64 = [np.zeros((2, 2))]
    with pytest.raises(TypeError, match=r"weights\[0\] is float32; finite differences need float64.*astype\(np.float64\)"):
        bp.finite_difference(lambda ws: 0.0, [np.zeros((2, 2), dtype=np.float32)], [(0, (0, 0))])
    with pytest.raises(ValueError, match=r"position \(2, 0\) is outside weights\[0\] of shape \(2, 2\)"):
        bp.finite_difference(lambda ws: 0.0, w64, [(0, (2, 0))])
    with pytest.raises(ValueError, match=r"eps=0.0 must be in \(0, inf\)"):
        bp.finite_difference(lambda ws: 0.0, w64, [(0, (0, 0))], eps=0.0)
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(2,\) but weights\[0\] has \(2, 2\)"):
        bp.gradient_check(lambda ws: 0.0, w64, [np.zeros(2)])
    with pytest.raises(ValueError, match="got 2 gradients for 1 weight arrays"):
        bp.gradient_check(lambda ws: 0.0, w64, [np.zeros((2, 2))] * 2)
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        bp.relative_error(np.zeros(2), np.zeros(3))
