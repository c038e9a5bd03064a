"""book/_ext/mnist_book.py, the book's Sphinx extension, imported by path (it is not a package)."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_extension():
    spec = importlib.util.spec_from_file_location("mnist_book", ROOT / "book" / "_ext" / "mnist_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
