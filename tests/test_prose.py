"""Every number in a chapter's prose that a run produced comes from that run, and reads as a number
in every view of the notebook.

A run-produced number sits between two HTML comments naming the value that the run stored with
``mh.glue`` (``<!-- glue acc:.2% -->99.58%<!-- /glue -->``, see ``mnist_helpers.prose``):
``make execute`` rewrites it from the outputs, and a test here checks that every committed one
equals its stored value. The scan reads each notebook's markdown cells, takes out what cannot hold
a typed result (maths, code, marked numbers, links' targets), and looks for numbers followed by a
unit a run would produce: ``%``, ``s``, ``min``, ``x``, "times", "errors", "images". Each one must
be either marked or allowed: the facts below that are true of every run, or a chapter's own short
list in ``tests/prose_allow/<notebook>.txt`` (one regular expression per line, then ``#`` and why
it is not a result of the run, e.g. a published figure and its source).

The Markdown must also read in a plain viewer (GitHub, Colab, VS Code: CommonMark, no MyST): no
MyST role (``{name}`text```), whose syntax such a viewer would show, and directives written with
colons (``:::{exercise}``), which degrade to text there instead of a code block.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from mnist_helpers import prose

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ALLOW_DIR = Path(__file__).parent / "prose_allow"

# Facts about the data and the book, not results of a run.
ALLOWED_EVERYWHERE = [
    r"\b(60|10|70|55|5|50|42|28|37\.8|4\.2)[,.]000\s+(\w+\s+)?(images|digits|errors)",  # the data sets' sizes
    r"\b\d+ ?[x×] ?\d+(\s+\w+)?\s+images?",  # a size: "28 x 28 images"
    r"\b100 ?%",  # a whole, as in "100% of the pixels"
    r"\b0 ?%",
]

# "x" and "×" before a number are a size ("3 x 3"), not a ratio ("7.8x").
UNIT = r"(%|s\b|min\b|x\b(?!\s*\d)|×(?!\s*\d)|times\b|errors?\b|images?\b|seconds?\b|minutes?\b|hours?\b)"
NUMBER_WITH_UNIT = re.compile(r"(?<![\w.$\\])(\d[\d,]*(?:\.\d+)?)(\s*)" + UNIT)

# What cannot hold a typed result, or holds a glued one: removed before the search.
STRIP = [
    prose.MARKER,                            # numbers marked as the run's (their comments too)
    re.compile(r"```.*?```", re.S),          # fenced blocks' options and code (directive bodies stay)
    re.compile(r"`[^`\n]*`"),                # inline code
    re.compile(r"\$\$.*?\$\$", re.S),        # display maths
    re.compile(r"\$[^$\n]+\$"),              # inline maths
    re.compile(r"\]\([^)]*\)"),              # link targets
    re.compile(r"<!--.*?-->", re.S),         # comments
]
# Directive fences keep their bodies: only the fence lines and option lines go.
DIRECTIVE_LINE = re.compile(r"^\s*(```+|:::+)\s*(\{[\w-]+\}.*)?$|^\s*:[\w-]+:.*$", re.M)


def markdown_cells(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf8"))
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


def allow_list(notebook: Path) -> list[re.Pattern]:
    patterns = list(ALLOWED_EVERYWHERE)
    own = ALLOW_DIR / f"{notebook.stem}.txt"
    if own.exists():
        for line in own.read_text(encoding="utf8").splitlines():
            pattern, _, reason = line.partition("  #")
            if pattern.strip():
                assert reason.strip(), f"{own.name}: every allowed number says why: {line!r}"
                patterns.append(pattern.strip())
    return [re.compile(p) for p in patterns]


def prose_only(text: str) -> str:
    text = DIRECTIVE_LINE.sub("", text)
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    return text


def sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start)) + 1
    right = min([i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0] or [len(text)])
    return " ".join(text[left:right + 1].split())


def typed_numbers(text: str, allowed: list[re.Pattern]) -> list[str]:
    """The sentences of ``text`` holding a number with a unit that is neither glued nor allowed."""
    prose = prose_only(text)
    covered = [m.span() for pattern in allowed for m in pattern.finditer(prose)]
    found = []
    for match in NUMBER_WITH_UNIT.finditer(prose):
        if match.group(3) == "s" and not match.group(2) and re.fullmatch(r"1[89]\d0|20\d0", match.group(1)):
            continue  # a decade, "the 1990s"
        if any(start <= match.start() and match.end() <= end for start, end in covered):
            continue
        found.append(f"{match.group(0)!r} in: {sentence_around(prose, *match.span())}")
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_numbers_in_the_prose_are_glued(notebook):
    allowed = allow_list(notebook)
    problems = [problem for text in markdown_cells(notebook) for problem in typed_numbers(text, allowed)]
    assert not problems, (f"{notebook.name}: numbers typed into the prose (glue them from the run, or "
                          f"allow them in tests/prose_allow/{notebook.stem}.txt with the reason):\n  "
                          + "\n  ".join(problems))


def test_allow_lists_name_existing_notebooks():
    names = {path.stem for path in NOTEBOOKS}
    assert {path.stem for path in ALLOW_DIR.glob("*.txt")} <= names


@pytest.mark.parametrize("text, typed", [
    ("It reached 98.2% after 3 epochs.", ["'98.2%'"]),
    ("It reached <!-- glue acc:.1% -->98.2%<!-- /glue --> after 3 epochs.", []),
    ("It reached 98.2%<!-- glue acc:.1% --> after 3 epochs.", ["'98.2%'"]),
    ("It took 12 s, about 3 times longer; 14 errors remain.", ["'12 s'", "'3 times'", "'14 errors'"]),
    ("The 60,000 training images and the 10,000 test images.", []),
    ("A $3 \\times 3$ kernel, `x = 2 * 3s`, and [a link](https://x.org/9%).", []),
    ("```{exercise}\n:label: ex-1\nWhat is 0.5% of 60,000 images?\n```", ["'0.5%'"]),
    (":::{exercise}\n:label: ex-1\n\nWhat is 0.5% of 60,000 images?\n:::", ["'0.5%'"]),
    ("2.5x faster, 7 min, 4 minutes", ["'2.5x'", "'7 min'", "'4 minutes'"]),
    ("A 3 x 3 kernel on the 28 × 28 images, 7.8× slower, in the 1990s.", ["'7.8×'"]),
])
def test_the_scan_finds_typed_numbers(text, typed):
    found = typed_numbers(text, [re.compile(p) for p in ALLOWED_EVERYWHERE])
    assert [problem.split(" in: ")[0] for problem in found] == typed


# ------------------------------------------------------------------ every view reads the numbers

def notebook_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf8"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_marked_numbers_equal_what_the_run_stored(notebook):
    stale = prose.stale_numbers(notebook_json(notebook))
    assert not stale, (f"{notebook.name}: the prose does not quote the committed run (run "
                       f"`python -m mnist_helpers.prose {notebook}`, which make execute does):\n  " + "\n  ".join(stale))


def test_a_stale_number_is_found():
    notebook = {"cells": [
        {"cell_type": "code", "source": "", "outputs": [{
            "output_type": "display_data", "metadata": {"scrapbook": {"name": "acc", "mime_prefix": prose.RECORD_PREFIX}},
            "data": {prose.RECORD_PREFIX + "text/plain": "0.9958"}}]},
        {"cell_type": "markdown",
         "source": "Now <!-- glue acc:.2% -->99.57%<!-- /glue --> and <!-- glue gone -->3<!-- /glue -->."},
    ]}
    assert prose.stale_numbers(notebook) == ["cell 1: acc shows '99.57%', the run stored '99.58%'",
                                             "cell 1: gone is quoted but no output stores it (mh.glue('gone', ...))"]
    refreshed, missing = prose.refresh_markdown(notebook["cells"][1]["source"], {"acc": "0.9958"})
    assert refreshed == "Now <!-- glue acc:.2% -->99.58%<!-- /glue --> and <!-- glue gone -->3<!-- /glue -->."
    assert missing == ["gone"]


ROLE = re.compile(r"\{[a-z][\w:-]*\}`")
# A role after CommonMark rendering: the braces stay as text, the backticks become <code>.
RENDERED_ROLE = re.compile(r"\{[a-z][\w:-]*\}<code>")
COMMONMARK = MarkdownIt("commonmark")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_plain_viewers_show_no_myst_syntax(notebook):
    for index, text in enumerate(markdown_cells(notebook)):
        html = COMMONMARK.render(text)
        assert not ROLE.search(text) and not RENDERED_ROLE.search(html), (
            f"{notebook.name}, markdown cell {index}: a MyST role shows raw in plain viewers: "
            f"{(ROLE.search(text) or RENDERED_ROLE.search(html))[0]!r}; write a link or a marked number")
        assert not re.search(r"^ {0,3}<!--", text, re.M), (
            f"{notebook.name}, markdown cell {index}: a line starts with an HTML comment, which CommonMark "
            "reads as a raw HTML block (its Markdown unrendered, its line breaks lost): move the marked "
            "number off the start of the line")
        assert "```{" not in text, (f"{notebook.name}, markdown cell {index}: write directives with colons "
                                    "(:::{name}), which plain viewers show as text, not as a code block")


@pytest.mark.parametrize("text, bad", [
    ("Reached {glue:text}`acc:.2%`.", True),
    ("See {ref}`ch01-x`.", True),
    ("Reached <!-- glue acc:.2% -->99.58%<!-- /glue -->; see [an exercise](#ch01-x).", False),
    (":::{exercise}\n:label: ch01-x\n\nText.\n:::", False),
])
def test_the_plain_view_check(text, bad):
    html = COMMONMARK.render(text)
    assert bool(ROLE.search(text) or RENDERED_ROLE.search(html)) == bad
    assert "99.58%" in html or "99.58" not in text  # the marked number is shown, its comments are not


# ------------------------------------------------------------------ mnist_helpers.prose itself

@pytest.mark.parametrize("text, spec, shown", [
    ("0.99583", ".2%", "99.58%"), ("'12.0 min'", None, "12.0 min"), ("60000", ",d", "60,000"),
    ("3.0", "d", "3"), ("0.5", ".1f", "0.5"), ("'RMSprop'", "s", "RMSprop"), ("not python", None, "not python"),
])
def test_values_are_formatted_as_myst_nb_formats_them(text, spec, shown):
    assert prose.format_value(text, spec) == shown


def test_glue_stores_the_value_as_myst_nb_does(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *args, **kwargs: shown.append((args, kwargs)))
    prose.glue("acc", 0.5)
    (bundle,), kwargs = shown[0]
    assert bundle == {prose.RECORD_PREFIX + "text/plain": "0.5"}
    assert kwargs == {"raw": True, "metadata": {"scrapbook": {"name": "acc", "mime_prefix": prose.RECORD_PREFIX}}}
    with pytest.raises(ValueError, match="not an identifier"):
        prose.glue("test acc", 1)


def _executed(tmp_path, text: str, stored: str = "0.9958") -> Path:
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": "", "outputs": [{
            "output_type": "display_data", "metadata": {"scrapbook": {"name": "acc", "mime_prefix": prose.RECORD_PREFIX}},
            "data": {prose.RECORD_PREFIX + "text/plain": stored}}]},
        {"cell_type": "markdown", "source": text}]}))
    return path


def test_the_command_refreshes_and_checks(tmp_path, capsys):
    path = _executed(tmp_path, "A *run* gives <!-- glue acc:.1% -->90.0%<!-- /glue -->.")
    assert prose.main(["--check", str(path)]) == 1
    assert prose.main([str(path)]) == 0
    assert json.loads(path.read_text())["cells"][1]["source"] == ["A *run* gives <!-- glue acc:.1% -->99.6%<!-- /glue -->."]
    assert prose.main(["--check", str(path)]) == 0
    # A quoted name that the run did not store changes nothing and says which.
    path = _executed(tmp_path, "<!-- glue lost -->1<!-- /glue -->")
    before = path.read_text()
    assert prose.main([str(path)]) == 2 and path.read_text() == before
    assert "['lost'], which no output stores" in capsys.readouterr().err
    assert prose.main([str(tmp_path / "missing.ipynb")]) == 2


def test_markdown_in_a_stored_string_is_shown_as_text(tmp_path):
    path = _executed(tmp_path, "Shown: <!-- glue acc -->x<!-- /glue -->", stored="'a*b*_c_'")
    prose.refresh_notebook(path)
    source = json.loads(path.read_text())["cells"][1]["source"]
    assert source == ["Shown: <!-- glue acc -->a\\*b\\*\\_c\\_<!-- /glue -->"]
    assert "a*b*_c_" in COMMONMARK.render("".join(source))
