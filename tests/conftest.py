"""Shared fixtures: the real MNIST (through MNIST_DATA) and small IDX files made on the fly."""
import gzip
from pathlib import Path

import numpy as np
import pytest

import mnist_helpers as mh
from mnist_helpers.data import idx_bytes


@pytest.fixture(scope="session")
def mnist():
    """The real data set; fails (never skips) when it cannot be found."""
    try:
        return mh.load_mnist(download=False)
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
