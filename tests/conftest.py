"""Shared fixtures: the real MNIST (found as the notebooks find it), small IDX files made on the fly,
and the one headless Chromium of the reader tests (website, draw page, JupyterLab)."""
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


@pytest.fixture(scope="session")
def book_build(tmp_path_factory):
    """`make book` (the README's command) into a fresh folder, once for every reader test of the
    session (website, draw page, JupyterLab's comparison); any warning fails the build.

    Returns ``{"html": the built site's folder, "log": make's output}``.
    """
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("book")
    # -o: never re-run `setup` from here; BIN: the tools of the interpreter running the tests.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "book",
               f"BOOK_OUT={out}", f"BIN={Path(sys.executable).parent}"]
    result = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                            timeout=600)
    log = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"`make book` failed (exit {result.returncode}):\n{log[-5000:]}")
    return {"html": out / "_build" / "html", "log": log}


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session, driven by Playwright's sync API.

    Shared, because a second ``sync_playwright()`` in the same process, while the first is open,
    fails ("Sync API inside the asyncio loop"): one fixture lets the browser tests run in one pytest.
    """
    import site_checks as sc
    from playwright.sync_api import sync_playwright

    try:
        sc.find_chromium()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))  # never skipped: `make test` gets a browser first (make browser)
    with sync_playwright() as playwright:
        browser = sc.launch(playwright)
        yield browser
        browser.close()


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
