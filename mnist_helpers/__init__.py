"""Helpers for the MNIST handwritten-digit book: ``import mnist_helpers as mh``.

The most used functions are available at the top level (``mh.load_mnist``, ``mh.setup_book``,
``mh.plot_digits``, ...); each chapter's own tools live in a module named after its topic:

=================  ==============================================================
``config``         setup (seeds, quiet logging), the fast mode
``data``           loading and validating MNIST (IDX, npz, Kaggle CSV, image folders)
``preprocessing``  scaling, subsets and splits, how MNIST was normalised
``plots``          digit grids, class balance, learning curves
``checks``         ``assert_close``: NumPy against Keras to a stated tolerance
``training``       ``fit`` without progress bars, one rounded line per epoch
``models``         model builders shared by chapters
``baselines``      classic scikit-learn classifiers (chapter 2)
``whitening``      standardization, PCA and ZCA whitening (chapter 3)
``layers``         Dense, activations, softmax, cross-entropy in NumPy (chapters 4-5)
``optimizers``     SGD, momentum, RMSprop, Adam in NumPy (chapter 6)
``convolution``    2-D convolution and pooling in NumPy (chapter 7)
``regularization`` dropout in NumPy (chapter 8)
``cnn``            the CNNs of the last chapter and the benchmark (chapter 9)
``predict``        your own images, MNIST-style; `python -m mnist_helpers.predict`
``results``        ``record_results``: a chapter's test results for the results page
=================  ==============================================================
"""
from .config import quiet_tensorflow_import as _quiet_tensorflow_import

_quiet_tensorflow_import()  # before any module below imports Keras

from . import (baselines, checks, cnn, config, convolution, data, layers, models, optimizers,  # noqa: E402
               plots, preprocessing, regularization, results, training, whitening)
from .checks import assert_close  # noqa: E402
from .config import FAST_ENV, fast_mode, pick, setup_book  # noqa: E402
from .data import (DATA_ENV, ChecksumError, DataFormatError, MnistNotFoundError, load_idx,  # noqa: E402
                   load_image_folder, load_kaggle_csv, load_mnist, write_submission)
from .plots import (plot_class_balance, plot_digits, plot_history, plot_mean_images,  # noqa: E402
                    plot_pixel_histogram)
from .preprocessing import (bounding_boxes, centers_of_mass, check_images, scale, subsample,  # noqa: E402
                            train_val_split)
from .results import record_results  # noqa: E402
from .training import fit  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "assert_close", "FAST_ENV", "fast_mode", "pick", "setup_book",
    "DATA_ENV", "ChecksumError", "DataFormatError", "MnistNotFoundError", "load_idx",
    "load_image_folder", "load_kaggle_csv", "load_mnist", "write_submission",
    "plot_class_balance", "plot_digits", "plot_history", "plot_mean_images", "plot_pixel_histogram",
    "bounding_boxes", "centers_of_mass", "check_images", "scale", "subsample", "train_val_split", "fit",
    "record_results",
]
