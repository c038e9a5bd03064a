"""The first code cell of every chapter: install the helper package on Colab, stop clearly without it.

The cell is written from one template, with the package's version (``pyproject.toml``) and the
book's repository (``repository: url:`` in ``book/_config.yml``, the setting that also turns on
the website's Colab and Binder buttons), so a notebook always names the version it was written
for, as d2l's notebooks pin ``d2l==x.y``. Without a repository the line names the package alone.

    python tools/setup_cell.py --write notebooks/*.ipynb   # after a version or repository change
    python tools/setup_cell.py --check notebooks/*.ipynb   # what the tests run
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from mnist_helpers.prose import write_notebook

ROOT = Path(__file__).resolve().parents[1]
# The cell is recognised by its first line.
FIRST_LINE = "# Run anywhere: the chapter needs the book's helper package, mnist_helpers"
TEMPLATE = '''\
{first_line} (README: "Run the notebooks").
import sys

PACKAGE = "{requirement}"  # the version this chapter was written for
if "google.colab" in sys.modules:  # on Colab, install it first
    %pip install --quiet "{{PACKAGE}}"
try:
    import mnist_helpers as mh
except ModuleNotFoundError:
    raise SystemExit(f"This chapter needs the book's helper package: pip install '{{PACKAGE}}'") from None'''


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def repository() -> str:
    """``repository: url:`` of ``book/_config.yml``, or "" when it is unset."""
    import yaml

    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
    return str((config.get("repository") or {}).get("url") or "").rstrip("/")


def requirement(repo: str, ver: str) -> str:
    """What pip installs: the tagged release from the repository, or the package by version."""
    return f"mnist-helpers[notebooks] @ git+{repo}@v{ver}" if repo else f"mnist-helpers[notebooks]=={ver}"


def cell_source(repo: str | None = None, ver: str | None = None) -> str:
    req = requirement(repository() if repo is None else repo, version() if ver is None else ver)
    return TEMPLATE.format(first_line=FIRST_LINE, requirement=req)


def first_code_cell(notebook: dict) -> dict:
    return next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 if a notebook's first code cell differs")
    mode.add_argument("--write", action="store_true", help="rewrite the first code cell from the template")
    args = parser.parse_args(argv)
    expected, status = cell_source(), 0
    for path in args.notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cell = first_code_cell(notebook)
        source = "".join(cell["source"])
        if not source.startswith(FIRST_LINE):
            print(f"{path}: the first code cell is not the setup cell (it starts {source[:40]!r})", file=sys.stderr)
            status = 1
        elif source != expected:
            if args.check:
                print(f"{path}: the setup cell is out of date: python tools/setup_cell.py --write {path}")
                status = 1
            else:
                cell["source"] = expected.splitlines(keepends=True)
                write_notebook(path, notebook)
                print(f"{path}: setup cell rewritten")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
