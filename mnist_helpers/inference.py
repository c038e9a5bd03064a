"""The trained CNN at inference: loaded with Keras, or folded and run in NumPy without TensorFlow.

At inference a batch normalization is a fixed affine map per channel, folded here into the
convolution or dense layer before it; dropout and augmentation are the identity. What is left
(``fold_model``) runs on the book's own NumPy references (``forward``). The shipped model, folded,
is saved beside it as float32 (``FOLDED_MODEL``, with the SHA-256 of the ``.keras`` file it came
from), so that ``python -m mnist_helpers.predict`` needs no TensorFlow, whose start-up takes seconds.
Only ``load_model``, ``fold_model``, ``export_folded`` and ``load_shipped``'s fallback import it.

Command line (``make book`` runs it with ``--if-changed``: when the shipped model's content changed)::

    python -m mnist_helpers.inference [--model PATH] [--out PATH] [--if-changed]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np

from .checks import check_integer

DEFAULT_MODEL = Path(__file__).parent / "model" / "mnist_cnn.keras"
"""The trained model shipped with the package (see model/MODEL_CARD.md beside it)."""
FOLDED_MODEL = DEFAULT_MODEL.with_name("mnist_cnn_folded.npz")
"""``DEFAULT_MODEL`` folded for NumPy (``export_folded``), what ``python -m mnist_helpers.predict`` runs."""
TRAINING_NOTEBOOK = "notebooks/09b_choosing_the_cnn.ipynb"
"""The chapter whose full run trains and saves ``DEFAULT_MODEL`` (named in the errors when it is missing)."""

FOLDED_FORMAT = 1
"""Version of the folded file's layout (``FoldedNetwork.save``)."""
FLOAT_ATOL = 1e-5
"""Largest probability gap between the folded float32 network in NumPy and ``model.predict``: folding
reorders float32 operations (~1e-6); a wrong fold or layer order moves probabilities far more."""
CHECK_IMAGES = 1000
"""MNIST test images on which ``export_folded`` checks the fold against Keras (``FLOAT_ATOL``)."""
PREDICT_BATCH = 1024
"""Images per ``model.predict`` call for a Keras model: fewer calls than Keras' default of 32."""
NUMPY_BATCH = 250
"""Images per step of ``forward``: a step's feature maps stay a few tens of MB."""

AUGMENTATION_LAYERS = ("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast",
                       "RandomBrightness", "DigitAffineAugmentation")
"""Layer classes that are random in training and the identity at inference: left out of the fold."""
_ACTIVATIONS = ("linear", "relu", "softmax")
_OPS = ("rescale", "conv2d", "max_pool2d", "flatten", "dense", "relu", "softmax")
_WEIGHTED = ("conv2d", "dense")


class ExportError(ValueError):
    """A model that cannot be folded into the operations ``forward`` runs; the message says why."""


class ModelFileError(ValueError):
    """A model file that cannot be used for prediction; the message says why and what to do."""


def _describe(exc: BaseException) -> str:
    """``Type: first line of the message``: Keras, NumPy and Pillow messages can span many lines."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def check_digit_images(images, name: str = "images") -> np.ndarray:
    """Return ``images`` if they are uint8 of shape (n, 28, 28), MNIST's layout; raise ValueError otherwise."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 of shape (n, 28, 28), got {images.dtype} {images.shape}; "
                         "prepare your own images with mnist_helpers.predict.load_image")
    return images


# --------------------------------------------------------------------------- folding (Keras)

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
    if op is None or op["op"] not in _WEIGHTED:
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


def _is_augmentation(layer, keras) -> bool:
    """An augmentation layer, or a block (e.g. ``cnn.build_augmentation``'s Sequential) made only of them."""
    if type(layer).__name__ in AUGMENTATION_LAYERS:
        return True
    inner = [sub for sub in getattr(layer, "layers", []) if not isinstance(sub, keras.layers.InputLayer)]
    return isinstance(layer, keras.Model) and bool(inner) and all(_is_augmentation(sub, keras) for sub in inner)


def _weights(layer) -> tuple[np.ndarray, np.ndarray]:
    kernel = np.asarray(layer.kernel.numpy(), np.float32)
    bias = np.asarray(layer.bias.numpy(), np.float32) if layer.use_bias else np.zeros(kernel.shape[-1], np.float32)
    return kernel, bias


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
        (n_in, n_out), ``bias``), ``"relu"``, ``"softmax"``; weights float32. Reshape needs no
        operation: activations are kept channels-last, (h, w, c) in C order, whose flat memory a
        reshape does not change. Dropout and augmentation (``AUGMENTATION_LAYERS``) are left out.

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
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)) or _is_augmentation(layer, keras):
            continue  # dropout and augmentation only act in training
        if isinstance(layer, keras.layers.Reshape):
            continue  # see Returns
        if isinstance(layer, keras.layers.Rescaling):
            ops.append({"op": "rescale", "scale": float(layer.scale), "offset": float(layer.offset)})
        elif isinstance(layer, keras.layers.Conv2D) and kind == "Conv2D":
            if layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
                raise ExportError(f"layer {layer.name!r}: only channels-last, undilated, ungrouped Conv2D is supported")
            kernel, bias = _weights(layer)
            ops.append({"op": "conv2d", "kernel": kernel, "bias": bias, "padding": layer.padding,
                        "strides": list(layer.strides)})
            ops += _activation(layer)
        elif isinstance(layer, keras.layers.Dense) and kind == "Dense":
            kernel, bias = _weights(layer)
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
            raise ExportError(f"layer {layer.name!r} of type {kind} is not supported by the folded export; "
                              "add it to mnist_helpers/inference.py and to book/_static/mnist_draw.js")
    if not ops or ops[-1]["op"] != "softmax":
        raise ExportError("the model must end with a softmax, the probabilities the page and predict show")
    return ops


# --------------------------------------------------------------------------- the forward pass (NumPy)

def forward(ops: list[dict], images: np.ndarray, batch_size: int = NUMPY_BATCH) -> np.ndarray:
    """Run the operations of ``fold_model`` on uint8 images (n, 28, 28) in float32 NumPy.

    Each operation is the book's NumPy reference, the code chapters 4-7 check against Keras:
    ``convolution.conv2d`` and ``max_pool2d``, ``layers.dense_forward``, ``relu`` and ``softmax``.
    They favour clarity over speed (``conv2d`` sums with ``np.einsum`` over strided windows, slower
    than one matrix product over copied windows, im2col), yet are quick enough for a few images.

    Returns
    -------
    ndarray of float32, shape (n, n_classes)
        The probabilities.
    """
    from .convolution import conv2d, max_pool2d
    from .layers import dense_forward, relu, softmax

    images = check_digit_images(images)
    batch_size = check_integer(batch_size, "batch_size", low=1)
    results = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size, :, :, None].astype(np.float32)
        for op in ops:
            kind = op["op"]
            if kind == "rescale":
                x = x * np.float32(op["scale"]) + np.float32(op["offset"])
            elif kind == "conv2d":
                x = conv2d(x, op["kernel"], op["bias"], padding=op["padding"], strides=op["strides"])
            elif kind == "max_pool2d":
                x = max_pool2d(x, op["pool_size"], op["strides"], padding=op["padding"])
            elif kind == "flatten":
                x = x.reshape(len(x), -1)  # C order of (h, w, c): Keras' channels-last flatten
            elif kind == "dense":
                x = dense_forward(x, op["kernel"], op["bias"])
            elif kind == "relu":
                x = relu(x)
            elif kind == "softmax":
                x = softmax(x)
        results.append(x)
    if not results:  # no images: the output width is the last dense layer's
        return np.zeros((0, next(op["bias"].shape[0] for op in reversed(ops) if op["op"] == "dense")), np.float32)
    return np.concatenate(results)


@dataclass(frozen=True)
class FoldedNetwork:
    """A folded model: ``forward``'s operations and the SHA-256 of the ``.keras`` file they came from.

    ``predict(images)`` returns probabilities (n, 10) for uint8 images (n, 28, 28), like a Keras
    model's ``predict``; ``save``/``load`` write and read it as an ``.npz`` file, float32.
    """

    ops: list
    model_sha256: str = ""
    model_name: str = ""

    def predict(self, images: np.ndarray, batch_size: int = NUMPY_BATCH) -> np.ndarray:
        """Probabilities, float32 of shape (n, 10), for uint8 images of shape (n, 28, 28)."""
        return forward(self.ops, images, batch_size=batch_size)

    def count_params(self) -> int:
        """Weights after folding (fewer than the Keras model's: batch normalization is gone)."""
        return int(sum(op["kernel"].size + op["bias"].size for op in self.ops if op["op"] in _WEIGHTED))

    def save(self, path: Union[str, Path], **meta) -> Path:
        """Write ``path`` (.npz): ``meta`` (JSON: format, layers without weights, model, ``meta``) and
        ``layerI_kernel``/``layerI_bias`` float32 arrays. Written to a temporary file, then renamed."""
        path = Path(path)
        arrays, layers = {}, []
        for i, op in enumerate(self.ops):
            layers.append({k: v for k, v in op.items() if k not in ("kernel", "bias")})
            if op["op"] in _WEIGHTED:
                arrays[f"layer{i}_kernel"] = np.asarray(op["kernel"], np.float32)
                arrays[f"layer{i}_bias"] = np.asarray(op["bias"], np.float32)
        header = {"format": FOLDED_FORMAT, "model": self.model_name, "model_sha256": self.model_sha256,
                  "layers": layers, **meta}
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as file:
            np.savez(file, meta=np.array(json.dumps(header)), **arrays)
        os.chmod(file.name, 0o644)  # package data: readable by all, like the files pip installs
        os.replace(file.name, path)
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> FoldedNetwork:
        """Read a file written by ``save``; ``ModelFileError`` (saying what to do) if it is not one."""
        path = Path(path)
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "no such file"
            raise ModelFileError(f"{path}: {what}; pass a folded model written by python -m mnist_helpers.inference")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["meta"]))
                if header.get("format") != FOLDED_FORMAT:
                    raise ValueError(f"format {header.get('format')!r}, expected {FOLDED_FORMAT}")
                ops = []
                for i, layer in enumerate(header["layers"]):
                    op = dict(layer)
                    if op["op"] not in _OPS:
                        raise ValueError(f"unknown operation {op['op']!r}")
                    if op["op"] in _WEIGHTED:
                        op["kernel"], op["bias"] = data[f"layer{i}_kernel"], data[f"layer{i}_bias"]
                        if op["kernel"].dtype != np.float32 or op["bias"].shape != op["kernel"].shape[-1:]:
                            raise ValueError(f"layer {i}: kernel {op['kernel'].dtype} {op['kernel'].shape}, "
                                             f"bias {op['bias'].shape}")
                    ops.append(op)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelFileError(f"{path}: not a folded model of this package ({_describe(exc)}); "
                                 "write it again with python -m mnist_helpers.inference") from None
        return cls(ops=ops, model_sha256=str(header.get("model_sha256", "")), model_name=str(header.get("model", "")))


def model_sha256(path: Union[str, Path]) -> str:
    """The SHA-256 of a model file, recorded in what is exported from it (folded file, web page)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_current(model_path: Union[str, Path] = DEFAULT_MODEL, folded_path: Union[str, Path] = FOLDED_MODEL) -> bool:
    """True when ``folded_path`` exists and was folded from exactly this model file.

    Compares contents, not modification times: a fresh clone gives files arbitrary times.
    """
    try:
        network = FoldedNetwork.load(folded_path)
    except ModelFileError:
        return False
    return network.model_sha256 == model_sha256(model_path)


# --------------------------------------------------------------------------- loading and predicting

def _check_model_file(path: Path) -> None:
    """Cheap checks before importing Keras (seconds): exists, a .keras name, a readable zip."""
    if not path.exists():
        hint = f"run {TRAINING_NOTEBOOK} in full mode to write it" if path == DEFAULT_MODEL else "check the path"
        raise ModelFileError(f"{path}: no such model file; {hint}, or pass --model path/to/model.keras")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder; pass the .keras file itself")
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: not a .keras file; pass a model saved with model.save('name.keras')")
    try:
        with open(path, "rb") as file:
            is_zip = zipfile.is_zipfile(file)
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied; make the file readable (chmod u+r)") from None
    if not is_zip:  # a .keras file is a zip archive; anything else is damaged or renamed
        raise ModelFileError(f"{path}: not a Keras model archive (corrupt, truncated or renamed); "
                             "copy it again or save the model again with model.save('name.keras')")


def _check_model_shapes(model, path: Path) -> None:
    """Refuse models that do not map (n, 28, 28) images to (n, 10) probabilities."""
    try:
        shapes = [tuple(t.shape)[1:] for t in (*model.inputs, *model.outputs)]
    except (AttributeError, ValueError):  # a model saved before it was built has no shapes
        shapes = []
    if shapes != [(28, 28), (10,)]:
        raise ModelFileError(f"{path}: the model maps {' -> '.join(map(str, shapes)) or 'unknown shapes'}; "
                             "pass an MNIST classifier from (28, 28) images to 10 probabilities, like chapter 9's")


def load_model(path: Optional[Union[str, Path]] = None):
    """Load a ``.keras`` model with Keras (the one shipped with the package by default).

    Parameters
    ----------
    path : str or Path, optional
        A model saved with ``model.save("name.keras")`` taking uint8 images (n, 28, 28) and
        returning probabilities (n, 10). Default: ``DEFAULT_MODEL``.

    Returns
    -------
    keras.Model

    Raises
    ------
    ModelFileError
        Missing, a folder, not a ``.keras`` zip, unreadable by Keras, or other shapes.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL
    _check_model_file(path)
    from . import augmentation  # noqa: F401  registers DigitAffineAugmentation, a layer of the shipped model
    from ._keras import keras  # here only: it brings TensorFlow, seconds of start-up

    try:
        model = keras.saving.load_model(path)
    except Exception as exc:  # a damaged archive fails in zip, JSON, HDF5 or layer code alike
        raise ModelFileError(f"{path}: Keras cannot load this model ({_describe(exc)}); "
                             "save it again with model.save('name.keras')") from exc
    _check_model_shapes(model, path)
    return model


def fold_file(path: Union[str, Path] = DEFAULT_MODEL) -> FoldedNetwork:
    """Load a ``.keras`` file with Keras and fold it (``ModelFileError``/``ExportError`` if unusable)."""
    path = Path(path)
    return FoldedNetwork(fold_model(load_model(path)), model_sha256(path), path.name)


def load_shipped(note: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> FoldedNetwork:
    """The shipped model folded for NumPy: ``FOLDED_MODEL``, checked against ``DEFAULT_MODEL``'s content.

    When the folded file is missing, damaged or was folded from another model (chapter 9b trained
    a new one), the model is folded again in memory, with Keras (seconds), and ``note`` says so
    and how to refresh the file, rather than predicting with an old network.
    """
    try:
        network = FoldedNetwork.load(FOLDED_MODEL)
    except ModelFileError as exc:
        if not DEFAULT_MODEL.is_file():
            raise ModelFileError(f"{DEFAULT_MODEL}: no such model file, and {exc}; run {TRAINING_NOTEBOOK} "
                                 "in full mode to write the model, then python -m mnist_helpers.inference") from None
        problem = str(exc).split(";")[0]
    else:
        if not DEFAULT_MODEL.is_file() or network.model_sha256 == model_sha256(DEFAULT_MODEL):
            return network  # without the .keras file there is nothing to compare with: the folded file is the model
        problem = f"{FOLDED_MODEL} was folded from another {DEFAULT_MODEL.name}"
    note(f"note: {problem}; folding {DEFAULT_MODEL.name} with Keras instead (seconds). "
         "Run python -m mnist_helpers.inference to write the folded file again.")
    return fold_file(DEFAULT_MODEL)


def load_any(path: Union[str, Path]):
    """A folded ``.npz`` (``FoldedNetwork.load``, no TensorFlow) or a ``.keras`` model (``load_model``)."""
    path = Path(path)
    return FoldedNetwork.load(path) if path.suffix == ".npz" else load_model(path)


def predict_probabilities(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities of shape (n, 10) for uint8 images of shape (n, 28, 28).

    Parameters
    ----------
    model : keras.Model or FoldedNetwork
        A Keras model (run by ``model.predict`` in batches of ``PREDICT_BATCH``) or a folded one
        (run in NumPy, ``forward``).
    images : ndarray of uint8, shape (n, 28, 28)
        MNIST-like digits (``mnist_helpers.predict.load_image`` prepares your own).

    Returns
    -------
    ndarray of float32, shape (n, 10)
    """
    images = check_digit_images(images)
    if isinstance(model, FoldedNetwork):
        return model.predict(images)
    return np.asarray(model.predict(images, batch_size=PREDICT_BATCH, verbose=0))


# --------------------------------------------------------------------------- the export

def export_folded(model_path: Union[str, Path] = DEFAULT_MODEL, out: Union[str, Path] = FOLDED_MODEL,
                  log: Callable[[str], None] = print) -> FoldedNetwork:
    """Fold the model, check it against Keras on ``CHECK_IMAGES`` MNIST test images, and save it.

    Raises
    ------
    ModelFileError, ExportError
        A model that cannot be loaded or folded.
    AssertionError
        The folded network disagrees with ``model.predict`` beyond ``FLOAT_ATOL``.
    """
    from .checks import assert_close
    from .data import load_mnist

    model_path = Path(model_path)
    model = load_model(model_path)
    network = FoldedNetwork(fold_model(model), model_sha256(model_path), model_path.name)
    _, (x_test, _) = load_mnist()
    x_check = x_test[:CHECK_IMAGES]
    gap = assert_close(network.predict(x_check), model.predict(x_check, batch_size=PREDICT_BATCH, verbose=0),
                       atol=FLOAT_ATOL, rtol=0, name="folded float32 network vs model.predict")
    log(f"folded float32 network vs Keras on {len(x_check):,} test images: max probability gap {gap:.2g} "
        f"(tolerance {FLOAT_ATOL:g})")
    network.save(out, checked_images=len(x_check), max_probability_gap=float(gap), keras_params=model.count_params())
    log(f"wrote {out} ({Path(out).stat().st_size:,} bytes, {network.count_params():,} weights float32)")
    return network


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: fold a ``.keras`` model for ``python -m mnist_helpers.predict``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m mnist_helpers.inference",
                                     description="Fold a Keras model's batch norms and save it for NumPy prediction.")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help=f"the .keras model (default: the shipped {DEFAULT_MODEL.name})")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"the .npz file to write (default: {FOLDED_MODEL.name} beside the shipped model, "
                             "or the model's name with .npz)")
    parser.add_argument("--if-changed", action="store_true",
                        help="do nothing when --out was folded from this very model (make book uses it)")
    args = parser.parse_args(argv)
    out = args.out or (FOLDED_MODEL if args.model == DEFAULT_MODEL else args.model.with_suffix(".npz"))
    if out.suffix != ".npz":
        parser.error(f"--out {out}: the folded model is an .npz file; name it e.g. {out.with_suffix('.npz').name}")
    if not args.model.is_file():
        parser.error(f"--model {args.model}: no such file")
    if args.if_changed and is_current(args.model, out):
        print(f"{out} is up to date with {args.model.name}")
        return 0
    from .data import MnistNotFoundError

    try:
        export_folded(args.model, out)
    except (ModelFileError, ExportError, AssertionError, MnistNotFoundError, OSError) as exc:
        print(f"error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
