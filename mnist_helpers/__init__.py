"""Helpers for the MNIST handwritten-digit book: ``import mnist_helpers as mh``.

Modules: ``config`` (setup, fast mode), ``data`` (loading and validating MNIST, Kaggle CSV),
``preprocessing``, ``plots``.
"""
from .config import FAST_ENV, fast_mode, pick, setup_book
from .data import (DATA_ENV, ChecksumError, DataFormatError, MnistNotFoundError, load_idx,
                   load_image_folder, load_kaggle_csv, load_mnist, write_submission)
from .plots import plot_class_balance, plot_digits, plot_mean_images, plot_pixel_histogram
from .preprocessing import (bounding_boxes, centers_of_mass, check_images, scale, subsample,
                            train_val_split)

__version__ = "0.1.0"

__all__ = [
    "FAST_ENV", "fast_mode", "pick", "setup_book",
    "DATA_ENV", "ChecksumError", "DataFormatError", "MnistNotFoundError", "load_idx",
    "load_image_folder", "load_kaggle_csv", "load_mnist", "write_submission",
    "plot_class_balance", "plot_digits", "plot_mean_images", "plot_pixel_histogram",
    "bounding_boxes", "centers_of_mass", "check_images", "scale", "subsample", "train_val_split",
]
