"""2-D convolution and max-pooling in NumPy, checked against Keras (chapter 7).

Shapes follow Keras' ``channels_last`` layout throughout:

* images / feature maps ``x`` : ndarray of shape (n, height, width, channels);
* kernels ``kernel`` : ndarray of shape (kh, kw, c_in, c_out), exactly what
  ``keras.layers.Conv2D(...).get_weights()[0]`` returns.

Like Keras (and every deep-learning library), ``conv2d`` computes a *cross-correlation*:
the kernel slides over the image without being flipped. ``check_conv2d`` and
``check_max_pool2d`` run any implementation and the Keras layer on the same input and
weights and assert that they agree to a stated tolerance; a wrong implementation fails them.
"""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .checks import assert_close, check_array, check_choice, check_float_array, check_integer, check_integers

# Keras and matplotlib are imported by the functions that use them (through ._keras, which
# filters TensorFlow's start-up notices): conv2d and max_pool2d are also the NumPy forward pass
# of `python -m mnist_helpers.predict` (mnist_helpers.inference), which must not start TensorFlow.
if TYPE_CHECKING:
    from ._keras import keras

IntPair = Union[int, Sequence[int]]
PADDINGS = ("valid", "same")

# The fix for the usual mistake, raw uint8 images (shown in chapter 7's committed output).
_SCALE_HINT = "; scale uint8 images first, e.g. mh.scale(x)[..., None]"

SOBEL_VERTICAL = np.array([[-1.0, 0.0, 1.0],
                           [-2.0, 0.0, 2.0],
                           [-1.0, 0.0, 1.0]], dtype=np.float32)
"""Sobel kernel (3, 3) that responds to *vertical* edges: ink increasing from left to right."""

SOBEL_HORIZONTAL = SOBEL_VERTICAL.T.copy()
"""Sobel kernel (3, 3) that responds to *horizontal* edges: ink increasing from top to bottom."""


# --------------------------------------------------------------------------- validation

def _pair(value: IntPair, name: str) -> tuple[int, int]:
    """Turn ``2`` or ``(2, 2)`` into ``(2, 2)``; positive integers only (NumPy integers too)."""
    pair = (value, value) if isinstance(value, (numbers.Number, str)) else value
    try:
        first, second = pair
        return check_integer(first, name, low=1), check_integer(second, name, low=1)
    except (TypeError, ValueError):
        # One message for every way of getting it wrong: it states both accepted forms.
        raise ValueError(f"{name}={value!r} must be a positive integer or a pair of positive integers") from None


def _check_maps(a, name: str, ndim: int, layout: str) -> np.ndarray:
    """``check_float_array`` with this module's layouts (``"(n, h, w, c)"``) and its fix for uint8 images."""
    return check_float_array(a, name, ndim=ndim, layout=layout, dtype_hint=_SCALE_HINT)


def _padding(padding: str) -> str:
    return check_choice(padding, "padding", PADDINGS)


def output_size(size: int, window: int, stride: int, padding: str) -> int:
    """Length of a convolution or pooling output along one axis, as Keras computes it.

    ``"valid"``: floor((size - window) / stride) + 1 (windows that fit entirely);
    ``"same"``: ceil(size / stride) (zero padding makes every stride position a window).
    """
    _padding(padding)
    if padding == "same":
        return -(-size // stride)
    return max((size - window) // stride + 1, 0)


def _same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """Keras/TensorFlow's ``"same"`` padding (before, after): the odd pixel goes *after*."""
    total = max((output_size(size, window, stride, "same") - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, window: tuple[int, int], strides: tuple[int, int], padding: str,
         value: float) -> np.ndarray:
    """Pad the height and width axes of x (n, h, w, c) as Keras does for ``padding``."""
    if padding == "valid":
        return x
    pads = [_same_padding(x.shape[axis + 1], window[axis], strides[axis]) for axis in (0, 1)]
    return np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)], constant_values=value)


def _check_output_not_empty(x: np.ndarray, window: tuple[int, int], strides: tuple[int, int],
                            padding: str, what: str) -> None:
    size = [output_size(x.shape[axis + 1], window[axis], strides[axis], padding) for axis in (0, 1)]
    if min(size) < 1:
        raise ValueError(f"{what} {window} does not fit in images of size {x.shape[1:3]} with "
                         f"padding={padding!r}: the output would be empty; use padding='same' or a smaller window")


# --------------------------------------------------------------------------- the operations

def conv2d(x: np.ndarray, kernel: np.ndarray, bias: Optional[np.ndarray] = None,
           padding: str = "valid", strides: IntPair = 1) -> np.ndarray:
    """2-D cross-correlation of a batch of images with a bank of kernels, like ``keras.layers.Conv2D``.

    y[n, i, j, o] = bias[o] + sum over u, v, c of x_padded[n, s_h*i + u, s_w*j + v, c] * kernel[u, v, c, o]

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c_in), floating
        Images or feature maps, channels last.
    kernel : ndarray of shape (kh, kw, c_in, c_out), floating
        One (kh, kw, c_in) filter per output channel; Keras' weight layout.
    bias : ndarray of shape (c_out,), optional
        Added to every position of each output channel; None for no bias.
    padding : {"valid", "same"}
        "valid" uses only windows that fit inside the image; "same" pads with zeros (the odd
        pixel after, as Keras does) so that the output has ceil(h / stride) rows.
    strides : int or (int, int)
        Step between windows along height and width.

    Returns
    -------
    ndarray of shape (n, h_out, w_out, c_out)
        h_out = ``output_size(h, kh, s_h, padding)``, likewise w_out. The kernel is *not*
        flipped (cross-correlation), as in Keras.
    """
    x = _check_maps(x, "x", 4, "(n, h, w, c_in)")
    kernel = _check_maps(kernel, "kernel", 4, "(kh, kw, c_in, c_out)")
    if kernel.shape[2] != x.shape[3]:
        raise ValueError(f"kernel has {kernel.shape[2]} input channels (shape {kernel.shape}) "
                         f"but x has {x.shape[3]} channels (shape {x.shape})")
    if bias is not None:
        bias = _check_maps(bias, "bias", 1, "(c_out,)")
        if bias.shape[0] != kernel.shape[3]:
            raise ValueError(f"bias has shape {bias.shape}, expected ({kernel.shape[3]},) for kernel {kernel.shape}")
    padding, strides, window = _padding(padding), _pair(strides, "strides"), kernel.shape[:2]
    _check_output_not_empty(x, window, strides, padding, "kernel")

    x = _pad(x, window, strides, padding, value=0.0)
    # Every kh x kw window at every position, then keep one position in `stride`.
    windows = sliding_window_view(x, window, axis=(1, 2))[:, ::strides[0], ::strides[1]]  # (n, h', w', c_in, kh, kw)
    # Multiply each window with each filter and sum over rows, columns and input channels.
    y = np.einsum("nhwcuv,uvco->nhwo", windows, kernel, optimize=True)
    return y if bias is None else y + bias


def max_pool2d(x: np.ndarray, pool_size: IntPair = 2, strides: Optional[IntPair] = None,
               padding: str = "valid") -> np.ndarray:
    """Max-pooling over height and width, like ``keras.layers.MaxPooling2D``.

    y[n, i, j, c] = max over u < p_h, v < p_w of x_padded[n, s_h*i + u, s_w*j + v, c]

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c), floating
    pool_size : int or (int, int), default 2
    strides : int or (int, int), optional
        Defaults to ``pool_size`` (non-overlapping windows), as in Keras.
    padding : {"valid", "same"}
        "same" pads with -inf, so padded pixels never win the max.

    Returns
    -------
    ndarray of shape (n, h_out, w_out, c), same dtype as x
    """
    x = _check_maps(x, "x", 4, "(n, h, w, c)")
    window = _pair(pool_size, "pool_size")
    strides = window if strides is None else _pair(strides, "strides")
    padding = _padding(padding)
    _check_output_not_empty(x, window, strides, padding, "pool_size")

    x = _pad(x, window, strides, padding, value=-np.inf)
    windows = sliding_window_view(x, window, axis=(1, 2))[:, ::strides[0], ::strides[1]]  # (n, h', w', c, ph, pw)
    return windows.max(axis=(4, 5))


def edge_kernels() -> np.ndarray:
    """The two Sobel edge detectors as one Conv2D kernel.

    Returns
    -------
    ndarray of float32, shape (3, 3, 1, 2)
        Output channel 0 responds to vertical edges, channel 1 to horizontal edges.
    """
    return np.stack([SOBEL_VERTICAL, SOBEL_HORIZONTAL], axis=-1)[:, :, None, :]


# --------------------------------------------------------------------------- checks against Keras

def keras_conv2d(x: np.ndarray, kernel: np.ndarray, bias: Optional[np.ndarray] = None,
                 padding: str = "valid", strides: IntPair = 1) -> np.ndarray:
    """The same computation as ``conv2d`` done by a ``keras.layers.Conv2D`` holding these weights.

    Shapes as in ``conv2d``; returns a float32 ndarray of shape (n, h_out, w_out, c_out).
    """
    from ._keras import keras

    x = _check_maps(x, "x", 4, "(n, h, w, c_in)")
    kernel = _check_maps(kernel, "kernel", 4, "(kh, kw, c_in, c_out)")
    layer = keras.layers.Conv2D(kernel.shape[3], kernel.shape[:2], strides=_pair(strides, "strides"),
                                padding=_padding(padding), use_bias=bias is not None)
    layer.build(x.shape)
    layer.set_weights([kernel] if bias is None else [kernel, bias])
    return keras.ops.convert_to_numpy(layer(x.astype(np.float32)))


def keras_max_pool2d(x: np.ndarray, pool_size: IntPair = 2, strides: Optional[IntPair] = None,
                     padding: str = "valid") -> np.ndarray:
    """The same computation as ``max_pool2d`` done by ``keras.layers.MaxPooling2D``."""
    from ._keras import keras

    x = _check_maps(x, "x", 4, "(n, h, w, c)")
    layer = keras.layers.MaxPooling2D(pool_size=_pair(pool_size, "pool_size"),
                                      strides=None if strides is None else _pair(strides, "strides"),
                                      padding=_padding(padding))
    return keras.ops.convert_to_numpy(layer(x.astype(np.float32)))


def check_conv2d(conv_fn: Callable[..., np.ndarray], x: np.ndarray, kernel: np.ndarray,
                 bias: Optional[np.ndarray] = None, padding: str = "valid", strides: IntPair = 1,
                 atol: float = 1e-5) -> float:
    """Assert that ``conv_fn`` computes what ``keras.layers.Conv2D`` computes with the same weights.

    Parameters
    ----------
    conv_fn : callable
        ``conv_fn(x, kernel, bias, padding=..., strides=...)``, e.g. ``conv2d``.
    x, kernel, bias, padding, strides
        As in ``conv2d``.
    atol : float
        Absolute tolerance (relative tolerance 1e-5); float32 sums in another order differ by ~1e-6.

    Returns
    -------
    float
        The largest absolute difference.

    Raises
    ------
    AssertionError
        If the shapes differ or any element is outside the tolerance.
    """
    ours = conv_fn(x, kernel, bias, padding=padding, strides=strides)
    theirs = keras_conv2d(x, kernel, bias, padding=padding, strides=strides)
    return assert_close(ours, theirs, atol=atol, name=f"conv2d(padding={padding!r}, strides={strides!r})")


def check_max_pool2d(pool_fn: Callable[..., np.ndarray], x: np.ndarray, pool_size: IntPair = 2,
                     strides: Optional[IntPair] = None, padding: str = "valid", atol: float = 0.0,
                     rtol: float = 0.0) -> float:
    """Assert that ``pool_fn(x, pool_size, strides, padding=...)`` equals ``keras.layers.MaxPooling2D``.

    Max-pooling only selects input values (no arithmetic), so by default the check demands exact
    equality (``atol = rtol = 0``) on float32 input. Returns the largest absolute difference; raises
    ``AssertionError`` otherwise (see ``check_conv2d``).
    """
    ours = pool_fn(x, pool_size, strides, padding=padding)
    theirs = keras_max_pool2d(x, pool_size, strides, padding=padding)
    return assert_close(ours, theirs, atol=atol, rtol=rtol,
                        name=f"max_pool2d(pool_size={pool_size!r}, padding={padding!r})")


# --------------------------------------------------------------------------- models

def build_cnn(filters: Sequence[int] = (32, 64), kernel_size: int = 3, pool_size: int = 2,
              dense_units: Sequence[int] = (), activation: str = "relu",
              input_shape: tuple[int, int, int] = (28, 28, 1), name: str = "cnn") -> keras.Model:
    """A small convolutional classifier: (Conv2D, MaxPooling2D) per entry of ``filters``, Flatten, Dense.

    Parameters
    ----------
    filters : sequence of int
        Output channels of each Conv2D ("valid" padding), each followed by max-pooling;
        the default (32, 64) has 34,826 parameters.
    kernel_size, pool_size : int
        Square convolution window and pooling window.
    dense_units : sequence of int
        Hidden Dense layers after Flatten (none by default: Flatten goes straight to the 10 outputs).
    activation : str
        Activation of the convolutions and hidden Dense layers.
    input_shape : (h, w, c)
        One image with its channel axis: (28, 28, 1) for MNIST, so feed ``x[..., None]``.

    Returns
    -------
    keras.Model, uncompiled; input (batch, h, w, c), output (batch, 10) softmax probabilities.
    Layers are named ``conv1, pool1, conv2, pool2, ..., flatten, dense1, ..., output``.
    """
    from ._keras import keras

    filters = check_integers(filters, "filters", low=1, min_length=1)
    dense_units = check_integers(dense_units, "dense_units", low=1)
    # As pairs of Python ints: Keras refuses a NumPy integer as a window size.
    kernel_size, pool_size = _pair(kernel_size, "kernel_size"), _pair(pool_size, "pool_size")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={input_shape!r} must be (height, width, channels), e.g. (28, 28, 1)")
    layers: list = [keras.Input(shape=input_shape)]
    for i, f in enumerate(filters, start=1):
        layers.append(keras.layers.Conv2D(f, kernel_size, activation=activation, name=f"conv{i}"))
        layers.append(keras.layers.MaxPooling2D(pool_size, name=f"pool{i}"))
    layers.append(keras.layers.Flatten(name="flatten"))
    for i, units in enumerate(dense_units, start=1):
        layers.append(keras.layers.Dense(units, activation=activation, name=f"dense{i}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    return keras.Sequential(layers, name=name)


def conv_params(kernel_size: IntPair, c_in: int, c_out: int, bias: bool = True) -> int:
    """Number of weights of a Conv2D layer: (kh * kw * c_in + bias) * c_out, whatever the image size."""
    kh, kw = _pair(kernel_size, "kernel_size")
    return (kh * kw * c_in + int(bias)) * c_out


def feature_maps(model: keras.Model, x: np.ndarray, layer_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Outputs of the named intermediate layers of ``model`` for the inputs ``x``.

    Parameters
    ----------
    model : keras.Model
        A built functional or Sequential model (e.g. from ``build_cnn``).
    x : ndarray of shape (n, *model input shape)
        A few images: they go through the model in one batch.
    layer_names : sequence of str
        E.g. ``["conv1", "pool1"]``.

    Returns
    -------
    dict of name -> ndarray of shape (n, *layer output shape)
    """
    from ._keras import keras

    known = [layer.name for layer in model.layers]
    unknown = [name for name in layer_names if name not in known]
    if unknown:
        raise ValueError(f"layer_names {unknown} not in the model; its layers are {known}")
    check_array(x, "x", shape=(None, *model.input_shape[1:]))
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # called with one array, not a list
    probe = keras.Model(inputs, [model.get_layer(name).output for name in layer_names])
    # Called directly, not with predict: meant for the few images one plots, and predict's tf.data
    # pipeline writes a native log line into the notebook's output.
    outputs = probe(x, training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {name: keras.ops.convert_to_numpy(out) for name, out in zip(layer_names, outputs)}


# --------------------------------------------------------------------------- plots

def _grid(n: int, n_cols: int, size: float):
    import matplotlib.pyplot as plt

    n_cols = min(n_cols, n)
    n_rows = -(-n // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, size * n_rows * 1.1), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def plot_filters(kernel: np.ndarray, in_channel: int = 0, n_cols: int = 8, size: float = 0.9,
                 title: str = ""):
    """Show each filter of a Conv2D kernel as a small image, blue negative, red positive.

    Parameters
    ----------
    kernel : ndarray of shape (kh, kw, c_in, c_out)
        E.g. ``model.get_layer("conv1").get_weights()[0]``.
    in_channel : int
        Which input channel's slice of each filter to show (0 for grayscale input).
    n_cols : int
    size : float
        Inches per filter.
    title : str

    Returns
    -------
    matplotlib Figure with c_out panels, all on one colour scale centred at 0 so filters compare.
    """
    kernel = _check_maps(kernel, "kernel", 4, "(kh, kw, c_in, c_out)")
    in_channel = check_integer(in_channel, "in_channel", low=0, high=kernel.shape[2] - 1,
                               hint=f" (the kernel has {kernel.shape[2]} input channels)")
    weights = kernel[:, :, in_channel, :]
    limit = float(np.abs(weights).max()) or 1.0
    fig, axes = _grid(weights.shape[-1], n_cols, size)
    for o, ax in zip(range(weights.shape[-1]), axes):
        ax.imshow(weights[:, :, o], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(o), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_maps(maps: np.ndarray, n_cols: int = 8, size: float = 1.0, titles: Optional[Sequence[str]] = None,
                      title: str = ""):
    """Show the channels of one image's feature maps side by side.

    Parameters
    ----------
    maps : ndarray of shape (h, w, c)
        One image's output of a convolution or pooling layer (e.g. ``maps[0]`` of a batch).
    n_cols : int
    size : float
        Inches per map.
    titles : sequence of c str, optional
        Default: the channel number.
    title : str

    Returns
    -------
    matplotlib Figure with c panels. Each map has its own colour scale: signed maps (edge
    responses) use blue/red centred at 0, non-negative maps (after ReLU or pooling) use magma.
    """
    maps = _check_maps(maps, "maps", 3, "(h, w, c)")
    if titles is not None and len(titles) != maps.shape[-1]:
        raise ValueError(f"got {maps.shape[-1]} maps but {len(titles)} titles")
    fig, axes = _grid(maps.shape[-1], n_cols, size)
    for c, ax in zip(range(maps.shape[-1]), axes):
        image = maps[:, :, c]
        if image.min() < 0:
            limit = float(np.abs(image).max())
            ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(image, cmap="magma", vmin=0)
        ax.set_title(titles[c] if titles is not None else str(c), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
