"""The "draw a digit" page's network, folded as :mod:`mnist_helpers.inference` folds it.

The page's JavaScript file is written by the book's build tool ``tools/web_export.py`` (``make
book`` runs it), which is not part of the library. This module keeps the name chapter 9's text
quotes for the folding; the functions are ``inference``'s.
"""
from __future__ import annotations

from .inference import DEFAULT_MODEL, FLOAT_ATOL, ExportError, fold_model, forward, model_sha256

__all__ = ["DEFAULT_MODEL", "FLOAT_ATOL", "ExportError", "fold_model", "forward", "model_sha256"]
