"""Numbers from the run in a chapter's prose, readable in every view of the notebook.

A chapter's text quotes what its code measured ("reaches 99.58% in 12.0 min"). Typing those
numbers would let them drift from the outputs, so the run stores each value with :func:`glue`,
and the Markdown holds the formatted value between two HTML comments that name it::

    reaches <!-- glue final_mean:.2% -->99.58%<!-- /glue --> in ...

The comments are invisible in every Markdown renderer (JupyterLab, Colab, GitHub, VS Code, the
website), so the number reads as a number everywhere; ``make execute`` rewrites the text between
them from the stored values after each full run (:func:`refresh_notebook`), and the tests check
that every marked number equals its stored value (:func:`stale_numbers`). MyST-NB's ``{glue}``
roles would show raw outside the website (jupyterlab-myst#165), which is why the book does not
use them.

:func:`glue` writes the value as MyST-NB's ``glue`` does (a display output with the
``application/papermill.record/`` prefix and ``scrapbook`` metadata), so the stored values stay
readable by MyST-NB and scrapbook, but a reader running a chapter needs no MyST-NB.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

# MyST-NB's prefix for a value stored but not shown (``glue(..., display=False)``).
RECORD_PREFIX = "application/papermill.record/"

# <!-- glue NAME[:SPEC] -->TEXT<!-- /glue -->: NAME is the glued variable, SPEC an optional
# format specification (https://docs.python.org/3/library/string.html#formatspec).
MARKER = re.compile(r"<!-- glue (?P<name>[A-Za-z_]\w*)(?::(?P<spec>[^>]*?))? -->(?P<text>.*?)<!-- /glue -->", re.S)


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` in the cell's outputs, for the prose to quote.

    Parameters
    ----------
    name : str
        A Python identifier, unique in the chapter; the prose's markers name it.
    value : object
        What to store: its ``text/plain`` representation (and any other of IPython's formats).
    display : bool, default False
        Also show the value in the cell's output.

    Raises
    ------
    ValueError
        ``name`` is not an identifier.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"glue name {name!r} is not an identifier: use letters, digits and _ (e.g. 'test_acc')")
    bundle, metadata = format_display_data(value)
    prefix = "" if display else RECORD_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + key: data for key, data in bundle.items()}, raw=True, metadata=metadata)


def format_value(text_plain: str, spec: str | None) -> str:
    """Format a stored ``text/plain`` value as MyST-NB's ``{glue:text}`` role does.

    The text is read back with ``ast.literal_eval`` when it can be (``"'10 min'"`` -> ``10 min``),
    then formatted with ``spec``; a spec ending in ``d`` converts to ``int``, one ending in
    ``f``, ``e``, ``g`` or ``%`` to ``float``.

    Examples
    --------
    >>> format_value("0.99583", ".2%")
    '99.58%'
    >>> format_value("'12.0 min'", None)
    '12.0 min'
    """
    try:
        value = ast.literal_eval(text_plain)
    except (SyntaxError, ValueError):
        value = text_plain
    if not spec:
        return str(value)
    kind = spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, spec)


def glued_values(notebook: dict) -> dict[str, str]:
    """The ``text/plain`` of every value a notebook's outputs store with :func:`glue`.

    Parameters
    ----------
    notebook : dict
        A notebook as read from its JSON (nbformat 4).

    Raises
    ------
    ValueError
        Two outputs store the same name.
    """
    values: dict[str, str] = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            book = output.get("metadata", {}).get("scrapbook")
            if not book:
                continue
            name, data = book["name"], output["data"]
            text = data.get(book.get("mime_prefix", "") + "text/plain")
            if name in values:
                raise ValueError(f"{name!r} is glued twice: give each value its own name")
            if text is not None:
                values[name] = "".join(text) if isinstance(text, list) else text
    return values


def _escape(text: str) -> str:
    """Text that Markdown shows as it is (a glued string may hold ``*`` or ``_``)."""
    return re.sub(r"([\\`*_\[\]<>$])", r"\\\1", text)


def _quoted(values: dict[str, str], name: str, spec: str | None) -> str:
    """What the prose shows for ``name``: its stored value, formatted and escaped for Markdown."""
    return _escape(format_value(values[name], spec))


def write_notebook(path: str | Path, notebook: dict) -> None:
    """Write a notebook's JSON laid out as nbformat writes it (sorted keys, indent 1, a final newline)."""
    Path(path).write_text(json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def refresh_markdown(source: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Rewrite every marked number in ``source`` from ``values``; return the text and unknown names."""
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        name, spec = match["name"], match["spec"]
        if name not in values:
            missing.append(name)
            return match[0]
        head = match[0][:match.start("text") - match.start()]
        return f"{head}{_quoted(values, name, spec)}<!-- /glue -->"

    return MARKER.sub(replace, source), missing


def _markdown_sources(notebook: dict):
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "markdown":
            source = cell["source"]
            yield index, cell, "".join(source) if isinstance(source, list) else source


def stale_numbers(notebook: dict) -> list[str]:
    """Every marked number that differs from the value its notebook stores, or names none.

    Returns
    -------
    list of str
        One line per problem, e.g. ``"cell 12: final_mean shows '99.57%', the run stored '99.58%'"``.
    """
    values = glued_values(notebook)
    problems = []
    for index, _cell, source in _markdown_sources(notebook):
        for match in MARKER.finditer(source):
            name = match["name"]
            if name not in values:
                problems.append(f"cell {index}: {name} is quoted but no output stores it (mh.glue({name!r}, ...))")
                continue
            expected = _quoted(values, name, match["spec"])
            if match["text"] != expected:
                problems.append(f"cell {index}: {name} shows {match['text']!r}, the run stored {expected!r}")
    return problems


def refresh_notebook(path: str | Path) -> int:
    """Rewrite the marked numbers of the notebook at ``path`` from its own outputs.

    Returns
    -------
    int
        How many Markdown cells changed.

    Raises
    ------
    ValueError
        The prose quotes a name that no output stores (nothing is written then).
    """
    path = Path(path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    values = glued_values(notebook)
    changed, missing = 0, []
    for _index, cell, source in _markdown_sources(notebook):
        new, unknown = refresh_markdown(source, values)
        missing += unknown
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
            changed += 1
    if missing:
        raise ValueError(f"{path.name}: the prose quotes {sorted(set(missing))}, which no output stores: "
                         "glue them in the code (mh.glue) or remove the markers")
    if changed:
        write_notebook(path, notebook)
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m mnist_helpers.prose NOTEBOOK...``: refresh the prose's numbers from the outputs."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mnist_helpers.prose",
                                     description="Rewrite the numbers that a notebook's prose quotes "
                                                 "(<!-- glue NAME:SPEC -->...<!-- /glue -->) from the "
                                                 "values its outputs store (mh.glue).")
    parser.add_argument("notebooks", nargs="+", type=Path, help="executed .ipynb files")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a number is stale")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        try:
            if args.check:
                problems = stale_numbers(json.loads(path.read_text(encoding="utf-8")))
                for problem in problems:
                    print(f"{path}: {problem}")
                status |= bool(problems)
            else:
                print(f"{path}: {refresh_notebook(path)} Markdown cell(s) refreshed")
        except (OSError, ValueError) as error:  # a missing file, bad JSON, an unknown name
            print(f"error: {path}: {error}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())
