"""Export the book's final CNN to one JavaScript file, for the "Try it: draw a digit" page.

Command line (``make book`` runs it when the model is newer than the weights file)::

    python -m mnist_helpers.web_export [--model PATH] [--out book/_static/mnist_cnn_weights.js]

The page must work opened from disk, where browsers refuse ``fetch``; so the weights travel
inside a script that sets ``window.MNIST_CNN``. What the export does:

1. walks the model's layers by type and turns them into a short list of inference operations
   (``rescale``, ``conv2d``, ``relu``, ``max_pool2d``, ``flatten``, ``dense``, ``softmax``),
   folding each batch normalization into the convolution or dense layer before it and leaving
   out the layers that are the identity at inference (dropout, augmentation);
2. checks that list, run in NumPy with chapter 7's ``conv2d`` and ``max_pool2d``, against
   ``model.predict`` (``FLOAT_ATOL``);
3. stores the weights as int8 with one scale per output channel (a quarter of float32's size,
   which keeps the file well under ``MAX_BYTES``), and measures how often the int8 network
   predicts the same digit as Keras on the 10,000 MNIST test images (at least
   ``MIN_AGREEMENT``, or no file is written);
4. writes the operations, the first test image of each digit as examples, and those
   measurements (with the file's own size) for the page to show.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

DEFAULT_MODEL = Path(__file__).parent / "model" / "mnist_cnn.keras"
DEFAULT_OUT = Path("book") / "_static" / "mnist_cnn_weights.js"
"""Relative to the working directory: ``make book`` runs from the repository root."""

MAX_BYTES = 1_000_000
"""Largest weights file the page may load (the page must stay light on a phone)."""

FLOAT_ATOL = 1e-5
"""Largest probability gap between the folded float32 network in NumPy and ``model.predict``.

Folding batch normalization changes the order of float32 operations, which moves
probabilities by ~1e-6; a wrong fold or a wrong layer order moves them by far more."""

MIN_AGREEMENT = 0.998
"""Smallest share of test images on which the int8 network must predict Keras' digit."""

# Layers of the augmentation block: random in training, the identity in inference.
_AUGMENTATION = ("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast",
                 "RandomBrightness")
_ACTIVATIONS = ("linear", "relu", "softmax")


class ExportError(ValueError):
    """A model the exporter cannot turn into the page's operations; the message says why."""


# --------------------------------------------------------------------------- the operations

def _activation(layer) -> list[dict]:
    name = layer.activation.__name__
    if name not in _ACTIVATIONS:
        raise ExportError(f"layer {layer.name!r}: activation {name!r} is not supported "
                          f"(only {', '.join(_ACTIVATIONS)})")
    return [] if name == "linear" else [{"op": name}]


def _fold_batch_norm(op: Optional[dict], layer) -> None:
    """Fold an inference-mode batch normalization into the conv2d/dense ``op`` just before it.

    BN(z) = gamma * (z - mean) / sqrt(var + eps) + beta is affine per output channel, so with
    s = gamma / sqrt(var + eps): kernel' = kernel * s (per output channel), bias' = (bias - mean) * s + beta.
    """
    if op is None or op["op"] not in ("conv2d", "dense"):
        raise ExportError(f"layer {layer.name!r}: batch normalization must follow a Conv2D or Dense layer "
                          "without activation, to be folded into it")
    if layer.axis not in (-1, len(layer.input.shape) - 1):
        raise ExportError(f"layer {layer.name!r}: batch normalization over axis {layer.axis}; only the "
                          "channels-last axis can be folded")
    gamma = layer.gamma.numpy() if layer.scale else 1.0
    beta = layer.beta.numpy() if layer.center else 0.0
    mean, var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    s = (gamma / np.sqrt(var + layer.epsilon)).astype(np.float64)
    op["kernel"] = (op["kernel"] * s).astype(np.float32)  # broadcasts over the last axis, c_out
    op["bias"] = ((op["bias"] - mean) * s + beta).astype(np.float32)


def fold_model(model) -> list[dict]:
    """The model's inference computation as a list of operations, batch normalization folded in.

    Parameters
    ----------
    model : keras.Model
        A chain of layers taking uint8 images (n, 28, 28) (e.g. ``cnn.build_final_cnn``).

    Returns
    -------
    list of dict
        Each with ``"op"``: ``"rescale"`` (``scale``, ``offset``), ``"conv2d"`` (``kernel``
        (kh, kw, c_in, c_out), ``bias``, ``padding``, ``strides``), ``"max_pool2d"``
        (``pool_size``, ``strides``, ``padding``), ``"flatten"``, ``"dense"`` (``kernel``
        (n_in, n_out), ``bias``), ``"relu"``, ``"softmax"``. Reshape needs no operation:
        activations are kept channels-last, (h, w, c) in C order, whose flat memory a reshape
        does not change.

    Raises
    ------
    ExportError
        An unknown layer type, an activation other than relu/softmax, or a batch normalization
        that follows anything but a Conv2D or Dense layer.
    """
    from ._keras import keras

    ops: list[dict] = []
    for layer in model.layers:
        kind = type(layer).__name__
        last = ops[-1] if ops else None
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer, keras.layers.Dropout):
            continue  # dropout only acts in training
        if isinstance(layer, keras.Sequential) and all(type(sub).__name__ in _AUGMENTATION for sub in layer.layers):
            continue  # augmentation only acts in training
        if isinstance(layer, keras.layers.Reshape):
            continue  # see Returns
        if isinstance(layer, keras.layers.Rescaling):
            ops.append({"op": "rescale", "scale": float(layer.scale), "offset": float(layer.offset)})
        elif isinstance(layer, keras.layers.Conv2D) and kind == "Conv2D":
            if layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
                raise ExportError(f"layer {layer.name!r}: only channels-last, undilated, ungrouped Conv2D is supported")
            kernel = layer.kernel.numpy()
            bias = layer.bias.numpy() if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
            ops.append({"op": "conv2d", "kernel": kernel, "bias": bias, "padding": layer.padding,
                        "strides": list(layer.strides)})
            ops += _activation(layer)
        elif isinstance(layer, keras.layers.Dense) and kind == "Dense":
            kernel = layer.kernel.numpy()
            bias = layer.bias.numpy() if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
            ops.append({"op": "dense", "kernel": kernel, "bias": bias})
            ops += _activation(layer)
        elif isinstance(layer, keras.layers.BatchNormalization):
            _fold_batch_norm(last, layer)
        elif isinstance(layer, keras.layers.Activation):
            ops += _activation(layer)
        elif isinstance(layer, keras.layers.MaxPooling2D):
            ops.append({"op": "max_pool2d", "pool_size": list(layer.pool_size), "strides": list(layer.strides),
                        "padding": layer.padding})
        elif isinstance(layer, keras.layers.Flatten):
            ops.append({"op": "flatten"})
        else:
            raise ExportError(f"layer {layer.name!r} of type {kind} is not supported by the web export; "
                              "add it to mnist_helpers/web_export.py and to book/_static/mnist_draw.js")
    if not ops or ops[-1]["op"] != "softmax":
        raise ExportError("the model must end with a softmax, the probabilities the page shows")
    return ops


def quantize(ops: list[dict]) -> list[dict]:
    """Int8 kernels with one float32 scale per output channel: kernel ~= q * scale.

    Returns a copy of ``ops`` in which each conv2d/dense also has ``q`` (int8, kernel's shape)
    and ``q_scale`` (float32, (c_out,)), and ``kernel`` is replaced by ``q * scale``, the values
    the page will compute with. Biases stay float32 (a few hundred numbers).
    """
    out = []
    for op in ops:
        op = dict(op)
        if op["op"] in ("conv2d", "dense"):
            kernel = op["kernel"]
            largest = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0)
            scale = (np.where(largest > 0, largest, 1.0) / 127).astype(np.float32)
            op["q"] = np.clip(np.round(kernel / scale), -127, 127).astype(np.int8)
            op["q_scale"] = scale
            op["kernel"] = op["q"].astype(np.float32) * scale
        out.append(op)
    return out


def forward(ops: list[dict], images: np.ndarray, batch_size: int = 250) -> np.ndarray:
    """Run the operations on uint8 images (n, 28, 28) in NumPy; probabilities (n, 10).

    Convolution and pooling are chapter 7's ``conv2d`` and ``max_pool2d``, the functions the
    page's JavaScript mirrors.
    """
    from .convolution import conv2d, max_pool2d

    results = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size, :, :, None].astype(np.float32)
        for op in ops:
            kind = op["op"]
            if kind == "rescale":
                x = x * np.float32(op["scale"]) + np.float32(op["offset"])
            elif kind == "conv2d":
                x = conv2d(x, op["kernel"], op["bias"], padding=op["padding"], strides=op["strides"]).astype(np.float32)
            elif kind == "max_pool2d":
                x = max_pool2d(x, op["pool_size"], op["strides"], padding=op["padding"])
            elif kind == "flatten":
                x = x.reshape(len(x), -1)  # C order of (h, w, c): Keras' channels-last flatten
            elif kind == "dense":
                x = x @ op["kernel"] + op["bias"]
            elif kind == "relu":
                x = np.maximum(x, 0)
            elif kind == "softmax":
                z = np.exp(x - x.max(axis=1, keepdims=True))
                x = z / z.sum(axis=1, keepdims=True)
        results.append(x)
    return np.concatenate(results)


# --------------------------------------------------------------------------- the file

def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _floats(values: np.ndarray) -> list[float]:
    # float32 values written as the doubles they equal: the page's Float32Array gets them back exactly.
    return [float(v) for v in np.asarray(values, dtype=np.float32)]


def _js_layer(op: dict) -> dict:
    layer = {k: v for k, v in op.items() if k not in ("kernel", "bias", "q", "q_scale")}
    if "q" in op:
        layer.update(kernel_shape=list(op["q"].shape), kernel_int8=_b64(op["q"]), kernel_scale=_floats(op["q_scale"]),
                     bias=_floats(op["bias"]))
    return layer


def _script(data: dict) -> str:
    return ("// The book's final CNN for book/draw.md, written by `python -m mnist_helpers.web_export`;\n"
            "// do not edit (make book rewrites it when mnist_helpers/model/mnist_cnn.keras changes).\n"
            "window.MNIST_CNN = " + json.dumps(data, separators=(",", ":")) + ";\n")


def js_data(ops: list[dict], examples: dict, meta: dict) -> dict:
    """What ``window.MNIST_CNN`` holds: the quantized operations (see ``quantize``) as JSON."""
    return {"format": 1, "input_shape": [28, 28, 1], "layers": [_js_layer(op) for op in ops],
            "examples": examples, "meta": meta}


def render(ops: list[dict], examples: dict, meta: dict) -> str:
    """The JavaScript file's text; ``meta["file_bytes"]`` is set to the size of that very text."""
    meta = dict(meta, file_bytes=0)
    data = js_data(ops, examples, meta)
    # The size is written inside the file, so it changes the size: repeat until it is stable.
    for _ in range(5):
        text = _script(data)
        size = len(text.encode("utf8"))
        if size == meta["file_bytes"]:
            return text
        meta["file_bytes"] = size
    raise AssertionError("the file size did not settle")  # cannot happen: digits grow by at most one


def first_of_each_digit(x: np.ndarray, y: np.ndarray) -> dict:
    """The first test image of each digit: ``{"labels", "indices", "pixels"}`` (base64 of 10 x 784 uint8)."""
    indices = [int(np.flatnonzero(y == d)[0]) for d in range(10)]
    return {"labels": list(range(10)), "indices": indices, "pixels": _b64(x[indices].astype(np.uint8))}


def export(model_path: Path = DEFAULT_MODEL, out: Path = DEFAULT_OUT, log=print) -> dict:
    """Fold, check, quantize and write the model; returns the measurements written in the file.

    Raises
    ------
    ExportError
        A model that cannot be exported (see ``fold_model``).
    AssertionError
        The folded network disagrees with Keras beyond ``FLOAT_ATOL``, the int8 one agrees on
        less than ``MIN_AGREEMENT`` of the test images, or the file exceeds ``MAX_BYTES``.
    """
    from ._keras import keras
    from .checks import assert_close
    from .data import load_mnist

    model = keras.models.load_model(model_path)
    _, (x_test, y_test) = load_mnist()
    ops = fold_model(model)

    keras_probs = model.predict(x_test, batch_size=500, verbose=0)
    keras_digits = keras_probs.argmax(axis=1)
    float_gap = assert_close(forward(ops, x_test[:1000]), keras_probs[:1000], atol=FLOAT_ATOL, rtol=0,
                             name="folded float32 network vs model.predict")
    log(f"folded float32 network vs Keras on 1,000 test images: max probability gap {float_gap:.2g} "
        f"(tolerance {FLOAT_ATOL:g})")

    int8_ops = quantize(ops)
    int8_probs = forward(int8_ops, x_test)
    same = float(np.mean(int8_probs.argmax(axis=1) == keras_digits))
    gap = float(np.abs(int8_probs - keras_probs).max())
    log(f"int8 network vs Keras on {len(x_test):,} test images: same digit on {same:.2%}, "
        f"max probability gap {gap:.3f}")
    if same < MIN_AGREEMENT:
        raise AssertionError(f"the int8 network predicts Keras' digit on only {same:.2%} of the test images "
                             f"(at least {MIN_AGREEMENT:.1%} needed); store float16 weights instead")

    meta = {"model": Path(model_path).name, "model_sha256": model_sha256(model_path),
            "params": int(model.count_params()),
            "quantization": "int8, one scale per output channel; biases float32",
            "test_images": int(len(x_test)), "same_digit_as_keras": same, "max_probability_gap": gap,
            "keras_accuracy": float(np.mean(keras_digits == y_test)),
            "int8_accuracy": float(np.mean(int8_probs.argmax(axis=1) == y_test)),
            "float_fold_max_gap": float_gap}
    text = render(int8_ops, first_of_each_digit(x_test, y_test), meta)
    size = len(text.encode("utf8"))
    if size > MAX_BYTES:
        raise AssertionError(f"the weights file would be {size:,} bytes, over MAX_BYTES={MAX_BYTES:,}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf8")
    log(f"wrote {out} ({size:,} bytes)")
    return dict(meta, file_bytes=size)


def model_sha256(path: Path) -> str:
    """The SHA-256 of the model file, recorded in the weights file it was exported to."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_current(model_path: Path, out: Path) -> bool:
    """True when ``out`` exists and was exported from exactly this model file.

    Compares contents, not modification times: a fresh clone gives files arbitrary times.
    """
    out = Path(out)
    if not out.is_file():
        return False
    found = re.search(r'"model_sha256":"([0-9a-f]{64})"', out.read_text(encoding="utf8"))
    return found is not None and found.group(1) == model_sha256(model_path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_helpers.web_export", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the .keras model (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"the JavaScript file to write (default: {DEFAULT_OUT})")
    parser.add_argument("--if-changed", action="store_true",
                        help="do nothing when --out was exported from this very model (make book uses it)")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        parser.error(f"--model {args.model}: no such file")
    if args.if_changed and is_current(args.model, args.out):
        print(f"{args.out} is up to date with {args.model.name}")
        return 0
    from .data import MnistNotFoundError

    try:
        export(args.model, args.out)
    except (ExportError, AssertionError, MnistNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
