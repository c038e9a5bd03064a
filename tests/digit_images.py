"""The sample digit images' generator, ``tools/make_sample_digits.py``, for the tests: its
``ASSETS`` folder and ``write_all``, which ``test_predict.py`` uses to check that the committed
files under ``mnist_helpers/sample_digits`` are exactly what the script draws.

The script is a tool of the repository (``python tools/make_sample_digits.py`` writes the images
again), not part of the package, so it is loaded from its file.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "tools" / "make_sample_digits.py"
_SPEC = importlib.util.spec_from_file_location("make_sample_digits", _PATH)
make_sample_digits = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(make_sample_digits)

ASSETS = make_sample_digits.ASSETS
write_all = make_sample_digits.write_all
