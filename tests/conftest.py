"""Shared fixtures: the real MNIST (found as the notebooks find it) and small IDX files made on the fly."""
import gzip
from pathlib import Path

import numpy as np
import pytest

import mnist_helpers as mh
from mnist_helpers.data import idx_bytes


@pytest.fixture(scope="session")
def mnist():
    """The real data set, from ``MNIST_DATA``, the Keras cache or one download into that cache;
    fails (never skips) when none works."""
    try:
        return mh.load_mnist()
    except mh.MnistNotFoundError as exc:
        pytest.fail(f"the tests need the real MNIST: {exc}")


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """Write ``array`` as an IDX file (gzipped if ``gz``) and return its path."""
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path
