"""Helpers for the MNIST handwritten-digit book: ``import mnist_helpers as mh``.

The most used functions are available at the top level (``mh.load_mnist``, ``mh.setup_book``,
``mh.plot_digits``, ...); each chapter's own tools live in a module named after its topic:

=================  ==============================================================
``config``         setup (seeds, quiet TensorFlow start-up), the fast mode
``data``           loading and validating MNIST (IDX, npz, image folders)
``preprocessing``  scaling, subsets and splits, how MNIST was normalised
``plots``          digit grids, class balance, learning curves
``checks``         ``assert_close`` (NumPy against Keras) and the argument validators
``training``       ``fit`` without progress bars, one rounded line per epoch
``models``         model builders shared by chapters
``baselines``      classic scikit-learn classifiers (chapter 2)
``whitening``      standardization, PCA and ZCA whitening (chapter 3)
``layers``         Dense, activations, softmax, cross-entropy in NumPy (chapters 4-5)
``backprop``       the backward pass of Dense networks in NumPy, finite differences (chapter 5b)
``optimizers``     SGD, momentum, RMSprop, Adam in NumPy (chapter 6)
``convolution``    2-D convolution and pooling in NumPy (chapter 7)
``regularization`` dropout in NumPy (chapter 8)
``recipes``        the final CNN's and the speed run's numbers (epochs, batch, rate, filters)
``cnn``            the CNNs of chapters 9 and 9b and the benchmark
``prose``          ``glue``: the run's numbers that a chapter's text quotes
``predict``        your own images, MNIST-style; `python -m mnist_helpers.predict`
``inference``      the model folded and run in NumPy, without TensorFlow; loading a model
``kaggle``         Digit Recognizer: its CSVs, a submission from train.csv alone, the MNIST leak measured
``results``        the results files: ``record_results`` writes, ``read_results`` reads
``stats``          paired comparisons on the same images: McNemar, seed k against seed k
``timing``         the benchmarks' machine facts: ``OtherCpuUse``, ``wait_until_idle``
``model_card``     the shipped model's metrics (JSON) and the model card made from them
``web_export``     the draw page's folding (``inference``'s); its JavaScript: tools/web_export.py
=================  ==============================================================

Importing the package imports none of them: each module, and each top-level name, is loaded
on first use (PEP 562), so ``python -m mnist_helpers.predict --help`` does not pay for
TensorFlow, and nothing happens at import time.
"""
from __future__ import annotations

import importlib

# __version__ comes from the installed package's metadata (pyproject.toml's version, the one
# place it is written), on first use like the names below.

_SUBMODULES = ("backprop", "baselines", "checks", "cnn", "config", "convolution", "data", "inference", "kaggle", "layers",
               "model_card", "models", "optimizers", "plots", "predict", "preprocessing", "prose", "recipes", "regularization",
               "results", "stats", "timing", "training", "web_export", "whitening")

# Top-level name -> the module that defines it.
_EXPORTS = {
    "assert_close": "checks",
    "FAST_ENV": "config", "fast_mode": "config", "pick": "config", "run_times": "config", "setup_book": "config",
    "DATA_ENV": "data", "ChecksumError": "data", "DataFormatError": "data", "MnistNotFoundError": "data",
    "load_idx": "data", "load_image_folder": "data", "load_kaggle_csv": "kaggle", "load_mnist": "data",
    "write_submission": "kaggle",
    "plot_class_balance": "plots", "plot_digits": "plots", "plot_history": "plots",
    "plot_mean_images": "plots", "plot_pixel_histogram": "plots",
    "bounding_boxes": "preprocessing", "centers_of_mass": "preprocessing", "check_images": "preprocessing",
    "scale": "preprocessing", "subsample": "preprocessing", "train_val_split": "preprocessing",
    "sample_digit_files": "predict",
    "glue": "prose",
    "record_results": "results",
    "fit": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Load a submodule or a top-level name on first use, then keep it as a module attribute."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("mnist-helpers")
        except PackageNotFoundError:  # imported from a folder on sys.path, never installed
            value = "unknown (not installed)"
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES) | set(_EXPORTS))
