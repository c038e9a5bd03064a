"""Export the book's final CNN to one JavaScript file, for the "Try it: draw a digit" page.

Command line (``make book`` runs it with ``--if-changed``: only when the model's content changed)::

    python tools/web_export.py [--model PATH] [--out book/_static/mnist_cnn_weights.js] [--if-changed]

A build tool of the book, not part of the reader's library: the folding and the NumPy forward pass
it checks against are ``mnist_helpers.inference``'s, which ``python -m mnist_helpers.predict`` runs.

The page must work opened from disk, where browsers refuse ``fetch``; so the weights travel
inside a script that sets ``window.MNIST_CNN``. What the export does:

1. folds the model into a short list of inference operations (``inference.fold_model``:
   ``rescale``, ``conv2d``, ``relu``, ``max_pool2d``, ``flatten``, ``dense``, ``softmax``, each
   batch normalization folded into the layer before it, dropout and augmentation left out);
2. checks that list, run in NumPy (``inference.forward``: chapter 7's ``conv2d`` and
   ``max_pool2d``), against ``model.predict`` (``inference.FLOAT_ATOL``);
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
import json
import re
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mnist_helpers.inference import (  # fold_model and forward: this tool's names too (tests/test_draw_page.py)
    DEFAULT_MODEL,
    FLOAT_ATOL,
    ExportError,
    fold_model,
    forward,
    model_sha256,
)

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "book" / "_static" / "mnist_cnn_weights.js"

MAX_BYTES = 1_000_000
"""Largest weights file the page may load (the page must stay light on a phone)."""

MIN_AGREEMENT = 0.998
"""Smallest share of test images on which the int8 network must predict Keras' digit."""


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
    return ("// The book's final CNN for book/draw.md, written by `python tools/web_export.py`;\n"
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
    from mnist_helpers.checks import assert_close
    from mnist_helpers.data import load_mnist
    from mnist_helpers.inference import load_model

    model = load_model(model_path)
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
    parser = argparse.ArgumentParser(prog="python tools/web_export.py", description=__doc__.split("\n")[0])
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
    from mnist_helpers.data import MnistNotFoundError
    from mnist_helpers.inference import ModelFileError

    try:
        export(args.model, args.out)
    except (ExportError, ModelFileError, AssertionError, MnistNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
