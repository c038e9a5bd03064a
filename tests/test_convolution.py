"""Convolution and pooling in NumPy (chapter 7): equal to Keras, wrong versions caught, bad inputs refused."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import signal

import mnist_helpers as mh
from mnist_helpers import convolution as cv

RNG = np.random.default_rng(0)


def random(*shape):
    return RNG.normal(size=shape).astype(np.float32)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------ equal to Keras

@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2, 3, (1, 2)])
@pytest.mark.parametrize("x_shape, k_shape", [
    ((2, 7, 8, 3), (3, 3, 3, 4)),   # odd kernel, several channels
    ((1, 8, 8, 1), (2, 2, 1, 2)),   # even kernel: "same" pads unevenly
    ((2, 9, 6, 2), (4, 3, 2, 3)),   # non-square kernel and image
])
def test_conv2d_equals_keras(x_shape, k_shape, padding, strides):
    x, kernel, bias = random(*x_shape), random(*k_shape), random(k_shape[3])
    assert cv.check_conv2d(cv.conv2d, x, kernel, bias, padding=padding, strides=strides) <= 1e-5
    # And without a bias.
    cv.check_conv2d(cv.conv2d, x, kernel, None, padding=padding, strides=strides)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("pool_size, strides", [(2, None), (3, None), ((2, 3), None), (3, 2), (2, 1)])
def test_max_pool2d_equals_keras(pool_size, strides, padding):
    x = random(2, 9, 8, 3)
    assert cv.check_max_pool2d(cv.max_pool2d, x, pool_size, strides, padding=padding) == 0.0


def test_conv2d_output_shapes_follow_the_formula():
    x, kernel = random(1, 28, 28, 1), random(5, 5, 1, 6)
    assert cv.conv2d(x, kernel).shape == (1, 24, 24, 6)
    assert cv.conv2d(x, kernel, padding="same").shape == (1, 28, 28, 6)
    assert cv.conv2d(x, kernel, strides=2).shape == (1, 12, 12, 6)
    assert cv.conv2d(x, kernel, padding="same", strides=3).shape == (1, 10, 10, 6)
    assert [cv.output_size(28, 5, s, "valid") for s in (1, 2, 3)] == [24, 12, 8]
    assert [cv.output_size(28, 5, s, "same") for s in (1, 2, 3)] == [28, 14, 10]
    assert cv.output_size(3, 5, 1, "valid") == 0


def test_conv2d_is_cross_correlation_as_in_scipy():
    # An independent reference: scipy's correlate2d is our conv2d, convolve2d is it with a flipped kernel.
    image, k = random(6, 7), random(3, 2)
    ours = cv.conv2d(image[None, :, :, None], k[:, :, None, None])[0, :, :, 0]
    np.testing.assert_allclose(ours, signal.correlate2d(image, k, mode="valid"), rtol=1e-5, atol=1e-5)
    flipped = cv.conv2d(image[None, :, :, None], k[::-1, ::-1, None, None])[0, :, :, 0]
    np.testing.assert_allclose(flipped, signal.convolve2d(image, k, mode="valid"), rtol=1e-5, atol=1e-5)


def test_one_output_pixel_by_hand():
    x, kernel, bias = random(1, 5, 5, 2), random(3, 3, 2, 1), random(1)
    by_hand = (x[0, 1:4, 2:5, :] * kernel[:, :, :, 0]).sum() + bias[0]
    assert cv.conv2d(x, kernel, bias)[0, 1, 2, 0] == pytest.approx(by_hand, rel=1e-5)


def test_max_pool2d_small_example():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    assert cv.max_pool2d(x)[0, :, :, 0].tolist() == [[5.0, 7.0], [13.0, 15.0]]
    # "same" pads with -inf, so a negative image keeps its own maxima at the border.
    pooled = cv.max_pool2d(-x[:, :3, :3], padding="same")
    assert pooled.shape == (1, 2, 2, 1) and np.isfinite(pooled).all()


def test_float64_inputs_keep_float64():
    x, kernel = random(1, 5, 5, 1).astype(np.float64), random(3, 3, 1, 1).astype(np.float64)
    assert cv.conv2d(x, kernel).dtype == np.float64
    assert cv.max_pool2d(x).dtype == np.float64


# ------------------------------------------------------------------ wrong implementations fail the same check

def true_convolution(x, kernel, bias=None, padding="valid", strides=1):
    """The textbook convolution (kernel flipped): not what Keras' Conv2D computes."""
    return cv.conv2d(x, kernel[::-1, ::-1], bias, padding=padding, strides=strides)


def padding_before(x, kernel, bias=None, padding="valid", strides=1):
    """'same' with the odd padding pixel *before* the image instead of after (off by one)."""
    kh, kw = kernel.shape[:2]
    pad_h, pad_w = kh - 1, kw - 1
    x = np.pad(x, [(0, 0), (pad_h - pad_h // 2, pad_h // 2), (pad_w - pad_w // 2, pad_w // 2), (0, 0)])
    return cv.conv2d(x, kernel, bias, padding="valid", strides=strides)


def forgets_bias(x, kernel, bias=None, padding="valid", strides=1):
    return cv.conv2d(x, kernel, None, padding=padding, strides=strides)


def ignores_strides(x, kernel, bias=None, padding="valid", strides=1):
    return cv.conv2d(x, kernel, bias, padding=padding, strides=1)


def test_true_convolution_fails_the_keras_check():
    x, kernel = random(2, 8, 8, 2), random(3, 3, 2, 3)
    with pytest.raises(AssertionError, match="differ at index"):
        cv.check_conv2d(true_convolution, x, kernel)


def test_uneven_padding_on_the_wrong_side_fails_the_keras_check():
    x, kernel = random(1, 8, 8, 1), random(2, 2, 1, 2)
    with pytest.raises(AssertionError, match="differ at index"):
        cv.check_conv2d(padding_before, x, kernel, padding="same")


def test_forgotten_bias_fails_the_keras_check():
    x, kernel, bias = random(1, 6, 6, 1), random(3, 3, 1, 2), np.array([0.5, -0.25], dtype=np.float32)
    with pytest.raises(AssertionError, match="differ at index"):
        cv.check_conv2d(forgets_bias, x, kernel, bias)


def test_ignored_strides_fail_the_keras_check():
    x, kernel = random(1, 8, 8, 1), random(3, 3, 1, 1)
    with pytest.raises(AssertionError, match="shape"):
        cv.check_conv2d(ignores_strides, x, kernel, strides=2)


def average_pool(x, pool_size=2, strides=None, padding="valid"):
    window = cv._pair(pool_size, "pool_size")
    strides = window if strides is None else cv._pair(strides, "strides")
    windows = np.lib.stride_tricks.sliding_window_view(x, window, axis=(1, 2))[:, ::strides[0], ::strides[1]]
    return windows.mean(axis=(4, 5))


def overlapping_pool(x, pool_size=2, strides=None, padding="valid"):
    """Forgets that Keras' default stride is the pool size."""
    return cv.max_pool2d(x, pool_size, 1, padding=padding)


def zero_padded_pool(x, pool_size=2, strides=None, padding="valid"):
    """Pads with 0 instead of -inf: wrong wherever a border window is all negative."""
    x = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)]) if padding == "same" else x
    return cv.max_pool2d(x, pool_size, strides, padding="valid")


def test_wrong_poolings_fail_the_keras_check():
    x = random(2, 6, 6, 2)
    with pytest.raises(AssertionError, match="differ at index"):
        cv.check_max_pool2d(average_pool, x)
    with pytest.raises(AssertionError, match="shape"):
        cv.check_max_pool2d(overlapping_pool, x)
    with pytest.raises(AssertionError, match="differ at index"):
        cv.check_max_pool2d(zero_padded_pool, -np.abs(random(1, 5, 5, 1)), padding="same")


# ------------------------------------------------------------------ bad inputs

@pytest.mark.parametrize("x, kernel, error, message", [
    (random(8, 8, 1), random(3, 3, 1, 1), ValueError, r"x must have shape \(n, h, w, c_in\).*\(8, 8, 1\)"),
    (random(1, 8, 8, 1), random(3, 3, 1), ValueError, r"kernel must have shape \(kh, kw, c_in, c_out\)"),
    (np.zeros((1, 8, 8, 1), np.uint8), random(3, 3, 1, 1), TypeError, "x must have a floating dtype.*uint8"),
    (random(1, 8, 8, 1), np.ones((3, 3, 1, 1), int), TypeError, "kernel must have a floating dtype.*int"),
    (random(1, 8, 8, 1).tolist(), random(3, 3, 1, 1), TypeError, "x must be a NumPy array.*list"),
    (random(1, 8, 8, 2), random(3, 3, 1, 4), ValueError, "kernel has 1 input channels.*x has 2 channels"),
    (random(1, 2, 8, 1), random(3, 3, 1, 1), ValueError, "does not fit in images of size \\(2, 8\\)"),
])
def test_conv2d_rejects_bad_arrays(x, kernel, error, message):
    with pytest.raises(error, match=message):
        cv.conv2d(x, kernel)


def test_uint8_message_is_the_one_chapter_7_prints():
    # notebooks/07 shows this error in a committed output that nbval compares.
    with pytest.raises(TypeError) as info:
        cv.conv2d(np.zeros((8, 28, 28, 1), np.uint8), random(3, 3, 1, 1))
    assert str(info.value) == ("x must have a floating dtype (float32 or float64), got uint8; "
                               "scale uint8 images first, e.g. mh.scale(x)[..., None]")


def test_conv2d_rejects_bad_bias_padding_and_strides():
    x, kernel = random(1, 8, 8, 1), random(3, 3, 1, 2)
    with pytest.raises(ValueError, match=r"bias has shape \(3,\), expected \(2,\)"):
        cv.conv2d(x, kernel, random(3))
    with pytest.raises(TypeError, match="bias must have a floating dtype"):
        cv.conv2d(x, kernel, np.zeros(2, int))
    with pytest.raises(ValueError, match="padding='full' must be one of"):
        cv.conv2d(x, kernel, padding="full")
    for strides in (0, -1, (1, 2, 3), 1.5, (2, 0), True):
        with pytest.raises(ValueError, match="strides=.* must be a positive integer"):
            cv.conv2d(x, kernel, strides=strides)


def test_max_pool2d_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"x must have shape \(n, h, w, c\)"):
        cv.max_pool2d(random(8, 8))
    with pytest.raises(TypeError, match="floating dtype.*uint8"):
        cv.max_pool2d(np.zeros((1, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match="pool_size=0"):
        cv.max_pool2d(random(1, 8, 8, 1), 0)
    with pytest.raises(ValueError, match="padding='VALID'"):
        cv.max_pool2d(random(1, 8, 8, 1), padding="VALID")
    with pytest.raises(ValueError, match="does not fit"):
        cv.max_pool2d(random(1, 1, 8, 1), 2)


# ------------------------------------------------------------------ edge kernels

def test_edge_kernels_find_the_edges_of_a_square():
    image = np.zeros((1, 8, 8, 1), np.float32)
    image[0, 2:6, 3:7, 0] = 1.0   # a bright square: left edge at column 3, top edge at row 2
    kernels = cv.edge_kernels()
    assert kernels.shape == (3, 3, 1, 2) and kernels.dtype == np.float32
    edges = cv.conv2d(image, kernels, padding="same")[0]
    vertical, horizontal = edges[..., 0], edges[..., 1]
    # Dark -> bright from left to right: positive response left of the square, negative right of it.
    assert vertical[3, 2] > 0 and vertical[3, 7] < 0 and vertical[3, 4] == 0
    assert horizontal[1, 4] > 0 and horizontal[6, 4] < 0 and horizontal[3, 4] == 0
    # Sobel kernels sum to zero: a flat region gives no response.
    assert edges[0, 0].tolist() == [0.0, 0.0]


# ------------------------------------------------------------------ models and feature maps

def test_build_cnn_parameter_count_matches_the_formula():
    model = cv.build_cnn((32, 64))
    expected = cv.conv_params(3, 1, 32) + cv.conv_params(3, 32, 64) + (5 * 5 * 64 + 1) * 10
    assert model.count_params() == expected == 34826
    assert model.output_shape == (None, 10)
    assert [layer.name for layer in model.layers] == ["conv1", "pool1", "conv2", "pool2", "flatten", "output"]
    with_hidden = cv.build_cnn((8,), dense_units=(16,))
    assert [layer.name for layer in with_hidden.layers][-2:] == ["dense1", "output"]
    assert cv.conv_params((3, 5), 2, 4, bias=False) == 120


@pytest.mark.parametrize("kwargs, error, message", [
    ({"filters": ()}, ValueError, r"filters=\(\) must hold at least 1 integer"),
    ({"filters": (8, 0)}, ValueError, r"filters\[1\]=0 must be in \[1, inf\)"),
    ({"dense_units": (1.5,)}, TypeError, r"dense_units\[0\] must be an integer, got float 1.5"),
    ({"kernel_size": 0}, ValueError, "kernel_size=0"),
    ({"input_shape": (28, 28)}, ValueError, r"input_shape=\(28, 28\) must be \(height, width, channels\)"),
])
def test_build_cnn_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        cv.build_cnn(**kwargs)


def test_numpy_integers_are_accepted_as_sizes():
    # e.g. sizes read from an array of candidates: np.int64, not int.
    x, kernel = random(1, 8, 8, 1), random(3, 3, 1, 2)
    np.testing.assert_array_equal(cv.conv2d(x, kernel, strides=np.int64(2)), cv.conv2d(x, kernel, strides=2))
    np.testing.assert_array_equal(cv.max_pool2d(x, np.int64(2), (np.int32(2), 2)), cv.max_pool2d(x, 2))
    model = cv.build_cnn(np.array([4, 6]), kernel_size=np.int64(3), pool_size=np.int64(2), dense_units=(np.int64(8),))
    assert model.count_params() == cv.build_cnn((4, 6), dense_units=(8,)).count_params()
    assert len(cv.plot_filters(random(3, 3, 2, 4), in_channel=np.int64(1)).axes) == 4


def test_feature_maps_equal_numpy_conv_and_relu():
    model = cv.build_cnn((4, 6))
    x = RNG.uniform(size=(3, 28, 28, 1)).astype(np.float32)
    maps = cv.feature_maps(model, x, ["conv1", "pool1"])
    assert maps["conv1"].shape == (3, 26, 26, 4) and maps["pool1"].shape == (3, 13, 13, 4)
    kernel, bias = model.get_layer("conv1").get_weights()
    ours = np.maximum(cv.conv2d(x, kernel, bias), 0.0)
    mh.assert_close(ours, maps["conv1"], atol=1e-5, name="conv1")
    mh.assert_close(cv.max_pool2d(ours), maps["pool1"], atol=1e-5, name="pool1")
    assert list(cv.feature_maps(model, x, ["conv2"])) == ["conv2"]


def test_feature_maps_rejects_unknown_layers_and_bad_inputs():
    model = cv.build_cnn((4,))
    with pytest.raises(ValueError, match=r"layer_names \['conv9'\] not in the model"):
        cv.feature_maps(model, random(1, 28, 28, 1), ["conv9"])
    with pytest.raises(ValueError, match=r"x must have shape \(n, 28, 28, 1\) \(4 dimensions\), got shape \(1, 28, 28\)"):
        cv.feature_maps(model, random(1, 28, 28), ["conv1"])


# ------------------------------------------------------------------ plots

def test_plot_filters_draws_one_panel_per_filter():
    fig = cv.plot_filters(random(3, 3, 2, 10), in_channel=1, n_cols=4, title="filters")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10 and len(fig.axes) == 12
    # One colour scale centred at zero for all filters, so they compare.
    assert len({ax.images[0].get_clim() for ax in shown}) == 1
    low, high = shown[0].images[0].get_clim()
    assert low == -high


def test_plot_feature_maps_signed_and_non_negative():
    maps = np.concatenate([random(6, 6, 2), np.abs(random(6, 6, 1))], axis=-1)
    fig = cv.plot_feature_maps(maps, titles=["a", "b", "c"])
    cmaps = [ax.images[0].get_cmap().name for ax in fig.axes if ax.images]
    assert cmaps == ["RdBu_r", "RdBu_r", "magma"]
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]


def test_plots_reject_bad_inputs():
    with pytest.raises(ValueError, match=r"kernel must have shape \(kh, kw, c_in, c_out\)"):
        cv.plot_filters(random(3, 3, 8))
    with pytest.raises(ValueError, match=r"in_channel=1 must be in \[0, 0\] \(the kernel has 1 input channels\)"):
        cv.plot_filters(random(3, 3, 1, 8), in_channel=1)
    with pytest.raises(ValueError, match=r"maps must have shape \(h, w, c\)"):
        cv.plot_feature_maps(random(1, 6, 6, 2))
    with pytest.raises(TypeError, match="maps must have a floating dtype"):
        cv.plot_feature_maps(np.zeros((6, 6, 2), np.uint8))
    with pytest.raises(ValueError, match="got 2 maps but 1 titles"):
        cv.plot_feature_maps(random(6, 6, 2), titles=["a"])
