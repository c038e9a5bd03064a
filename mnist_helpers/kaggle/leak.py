"""The MNIST leak: which of Kaggle's images are MNIST images, by exact pixel match.

Kaggle's ``train.csv`` and ``test.csv`` come from MNIST's 70,000 images, so a model trained on
MNIST's training set has seen, with their labels, every test image that is one of them.
:func:`overlap_with_mnist` counts them rather than assuming a number; :func:`leak_warning` says it
in one line; :func:`lookup_labels` is the exploit itself, a "submission" that copies each image's
MNIST label and needs no model.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


def image_hashes(images: np.ndarray) -> np.ndarray:
    """A 64-bit BLAKE2b hash of each image's 784 bytes.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 28, 28)

    Returns
    -------
    ndarray of uint64, shape (n,)
        Equal images have equal hashes; two different images share one with probability
        2**-64 (and :func:`overlap_with_mnist` compares the pixels of every match anyway).
    """
    from ..preprocessing import check_images

    rows = np.ascontiguousarray(check_images(images, "images")).reshape(len(images), -1)
    digests = b"".join(hashlib.blake2b(row, digest_size=8).digest() for row in rows)  # ~0.1 s for 70,000
    return np.frombuffer(digests, dtype=np.uint64)


def find_identical(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each image, the index of an identical image in ``reference``, or -1.

    Hashes turn 28,000 x 70,000 comparisons of 784 bytes into one sort and one binary search;
    the pixels of every hash match are then compared, so a match is an exact pixel match.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 28, 28)
    reference : ndarray of uint8, shape (m, 28, 28)

    Returns
    -------
    ndarray of int64, shape (n,)
        ``reference[index[i]]`` equals ``images[i]`` pixel for pixel where ``index[i] >= 0``.
        When ``reference`` holds the same image twice, either index may be returned.
    """
    hashes, reference_hashes = image_hashes(images), image_hashes(reference)
    index = np.full(len(images), -1, dtype=np.int64)
    if len(reference) == 0 or len(images) == 0:
        return index
    order = np.argsort(reference_hashes, kind="stable")
    position = np.minimum(np.searchsorted(reference_hashes[order], hashes), len(order) - 1)
    candidate = order[position]
    hit = np.flatnonzero(reference_hashes[candidate] == hashes)
    same = (images[hit] == reference[candidate[hit]]).all(axis=(1, 2))
    index[hit[same]] = candidate[hit[same]]
    return index


@dataclass(frozen=True)
class Overlap:
    """Which images are exact copies of MNIST images: the result of :func:`overlap_with_mnist`.

    Attributes
    ----------
    mnist_train_index, mnist_test_index : ndarray of int64, shape (n,)
        For each image, the index of an identical image in MNIST's training (test) set, or -1.
    """

    mnist_train_index: np.ndarray
    mnist_test_index: np.ndarray

    @property
    def n_images(self) -> int:
        return len(self.mnist_train_index)

    @property
    def in_train(self) -> np.ndarray:
        """Indices (shape (k,)) of the images found in MNIST's training set."""
        return np.flatnonzero(self.mnist_train_index >= 0)

    @property
    def in_test(self) -> np.ndarray:
        """Indices of the images found in MNIST's test set."""
        return np.flatnonzero(self.mnist_test_index >= 0)

    @property
    def in_neither(self) -> np.ndarray:
        """Indices of the images found in neither."""
        return np.flatnonzero((self.mnist_train_index < 0) & (self.mnist_test_index < 0))

    def counts(self) -> dict[str, int]:
        """``{"images", "in_mnist_train", "in_mnist_test", "in_neither"}``; an image found in both
        MNIST sets (none is: MNIST's 70,000 images are all different) would count in both."""
        return {"images": self.n_images, "in_mnist_train": len(self.in_train),
                "in_mnist_test": len(self.in_test), "in_neither": len(self.in_neither)}

    def summary(self) -> str:
        """One line, e.g. ``"of 28,000 images, 24,000 (85.7%) are in MNIST's training set, ..."``."""
        def share(count: int) -> str:
            return f"{count:,} ({count / max(self.n_images, 1):.1%})"

        counts = self.counts()
        return (f"of {self.n_images:,} images, {share(counts['in_mnist_train'])} are in MNIST's training set, "
                f"{share(counts['in_mnist_test'])} in its test set, {share(counts['in_neither'])} in neither")


def overlap_with_mnist(images: np.ndarray, mnist=None) -> Overlap:
    """Count the exact pixel copies of MNIST training and test images among ``images``.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 28, 28)
        E.g. Kaggle's test images as ``mh.load_kaggle_csv("test.csv")`` returns them.
    mnist : ``((x_train, y_train), (x_test, y_test))``, optional
        As ``mh.load_mnist()`` returns it (the default, loaded when None).

    Returns
    -------
    Overlap
        Per image, the index of its copy in each MNIST set; ``.counts()`` and ``.summary()``.

    Raises
    ------
    MnistNotFoundError, DataFormatError
        ``mnist`` is None and MNIST cannot be loaded (see ``mh.load_mnist``).
    """
    from ..preprocessing import check_images

    check_images(images, "images")
    if mnist is None:
        from ..data import load_mnist

        mnist = load_mnist()
    (x_train, _), (x_test, _) = mnist
    return Overlap(mnist_train_index=find_identical(images, check_images(x_train, "MNIST's x_train")),
                   mnist_test_index=find_identical(images, check_images(x_test, "MNIST's x_test")))


def lookup_labels(images: np.ndarray, mnist=None) -> np.ndarray:
    """The leak's "submission": each image's label copied from its exact copy among MNIST's 70,000 images.

    No model is involved, only :func:`overlap_with_mnist` and MNIST's labels: this table lookup is
    all a perfect leaderboard score takes when every test image is an MNIST image. Both MNIST sets
    are searched, as ``keras.datasets.mnist.load_data()`` returns both with their labels; a model
    trained on the 60,000 training images alone has seen none of the test images that come from
    MNIST's test set.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, 28, 28)
        E.g. Kaggle's test images as ``mh.load_kaggle_csv("test.csv")`` returns them.
    mnist : ``((x_train, y_train), (x_test, y_test))``, optional
        As ``mh.load_mnist()`` returns it (the default, loaded when None).

    Returns
    -------
    ndarray of int64, shape (n,)
        The label of each image's MNIST copy, 0..9, or -1 for an image that is in neither MNIST set.

    Raises
    ------
    MnistNotFoundError, DataFormatError
        ``mnist`` is None and MNIST cannot be loaded (see ``mh.load_mnist``).
    """
    from ..checks import check_labels

    if mnist is None:
        from ..data import load_mnist

        mnist = load_mnist()
    (x_train, y_train), (x_test, y_test) = mnist
    y_train = check_labels(y_train, "MNIST's y_train", n=len(x_train))
    y_test = check_labels(y_test, "MNIST's y_test", n=len(x_test))
    overlap = overlap_with_mnist(images, mnist)
    labels = np.full(overlap.n_images, -1, dtype=np.int64)
    labels[overlap.in_train] = y_train[overlap.mnist_train_index[overlap.in_train]]
    labels[overlap.in_test] = y_test[overlap.mnist_test_index[overlap.in_test]]
    return labels


def leak_warning(test_images: np.ndarray, model_name: str, shipped: bool) -> str:
    """The one-line warning for a model that was (``shipped``) or may have been trained on MNIST.

    It gives the overlap measured by :func:`overlap_with_mnist`; when MNIST cannot be loaded,
    it warns all the same, without the number, and says why.
    """
    from ..data import DataFormatError, MnistNotFoundError

    premise = f"{model_name} was trained on MNIST:" if shipped else f"if {model_name} was trained on MNIST,"
    consequence = ("so its leaderboard score is inflated, not a fair measure; "
                   "train on train.csv alone for an honest one")
    try:
        overlap = overlap_with_mnist(test_images)
    except (MnistNotFoundError, DataFormatError, OSError) as exc:
        reason = ("MNIST was not found; set MNIST_DATA to a folder with its four files"
                  if isinstance(exc, MnistNotFoundError) else str(exc).strip().splitlines()[0])
        return (f"warning: {premise} it has seen, with their labels, the test images that are MNIST training "
                f"images, {consequence} (how many could not be measured: {reason})")
    counts = overlap.counts()
    return (f"warning: {premise} it has seen {counts['in_mnist_train']:,} of the {overlap.n_images:,} test images "
            f"({counts['in_mnist_train'] / max(overlap.n_images, 1):.1%}) with their labels, as exact copies of "
            f"MNIST training images ({counts['in_mnist_test']:,} more are MNIST test images, "
            f"{counts['in_neither']:,} are in neither), {consequence}")
