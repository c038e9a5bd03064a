"""The README's results tables quote the committed results files, not numbers typed from memory.

Every row of the tables in the README's "Results" section names where its figures come from
(a chapter, or a benchmark file); its test accuracy must be that of a model in those files.
"""
import re
from pathlib import Path

import pytest

from mnist_helpers.results import read_results_folder

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf8")


def results_section() -> str:
    start = README.index("\n## Results\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def table_rows(section: str) -> list[list[str]]:
    """The body rows of every Markdown table in ``section``, as lists of cells."""
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[-|: ]+\|", line):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [row for row in rows if row[0] != "model"]  # headers start with "model"


@pytest.fixture(scope="module")
def results_files():
    files, problems = read_results_folder(ROOT / "mnist_helpers" / "book_results")
    assert not problems, problems
    return files


def source_keys(file) -> set[str]:
    """How a README row names ``file``: its file name, and "chapter N" ("chapter 9b") for a chapter's file."""
    keys = {file.path.name}
    number = re.match(r"(\d+)([a-z]?)_", file.chapter or "")
    if number:
        keys.add(f"chapter {int(number[1])}{number[2]}")
    return keys


def named_sources(text: str, keys) -> list[str]:
    """The keys ``text`` names; "chapter 1" must not match "chapter 10". The benchmark table's
    rows name none: they all come from cnn.json."""
    return [key for key in keys if re.search(re.escape(key) + r"(?![\w.])", text)] or ["cnn.json"]


@pytest.fixture(scope="module")
def sources(results_files) -> dict[str, set[str]]:
    """Test accuracies (as the README writes them, "99.61%") per chapter number and per file name."""
    found: dict[str, set[str]] = {}
    for file in results_files:
        for key in source_keys(file):
            found.setdefault(key, set()).update(f"{row.test_accuracy:.2%}" for row in file.rows)
    return found


@pytest.fixture(scope="module")
def spreads(results_files) -> dict[str, list[dict[str, str]]]:
    """Seed statistics as the README writes them, per file name and chapter: mean ± sd, min, max."""
    found: dict[str, list[dict[str, str]]] = {}
    for file in results_files:
        for row in file.rows:
            if "test_accuracy_sd" in row.extra:
                stats = {"mean ± sd": f"{row.test_accuracy:.2%} ± {row.extra['test_accuracy_sd']:.2%}",
                         "min": f"{row.extra['test_accuracy_min']:.2%}", "max": f"{row.extra['test_accuracy_max']:.2%}"}
                for key in source_keys(file):
                    found.setdefault(key, []).append(stats)
    return found


ROWS = table_rows(results_section())


def test_the_results_section_has_tables():
    # Both tables: the chapters' selection, then the CNN benchmark's four networks.
    names = [row[0] for row in ROWS]
    assert any(name.startswith("logistic regression") for name in names)
    assert any("final CNN" in name for name in names) and any("speed run" in name for name in names)
    assert any(name.startswith("Keras code example") for name in names)


@pytest.mark.parametrize("row", ROWS, ids=[row[0][:40] for row in ROWS])
def test_each_quoted_accuracy_is_in_the_files_it_names(row, sources):
    text = " | ".join(row)
    named = named_sources(text, sources)
    accuracy = re.search(r"\b\d{2}\.\d{2}%", " | ".join(row[1:]))
    assert accuracy, f"no test accuracy in README row {text!r}"
    known = set().union(*(sources[key] for key in named))
    assert accuracy.group(0) in known, (f"README row {row[0]!r} quotes {accuracy.group(0)}, which is not a test accuracy "
                                        f"in {named}: {sorted(known)}")


SPREAD_ROWS = [row for row in ROWS if "±" in " | ".join(row)]


@pytest.mark.parametrize("row", SPREAD_ROWS, ids=[row[0][:40] for row in SPREAD_ROWS])
def test_each_quoted_seed_spread_is_in_the_files_it_names(row, sources, spreads):
    text = " | ".join(row).replace("**", "")
    named = named_sources(text, sources)
    quoted = re.search(r"\d{2}\.\d{2}% ± \d\.\d{2}%", text)
    assert quoted, f"README row {row[0]!r}: write a seed spread as '99.58% ± 0.05% (min 99.50%, max 99.61%)'"
    extremes = {name: re.findall(rf"\b{name} (\d{{2}}\.\d{{2}}%)", text) for name in ("min", "max")}
    matches = [stats for key in named for stats in spreads.get(key, [])
               if stats["mean ± sd"] == quoted.group(0)
               and all(stats[name] == value for name, values in extremes.items() for value in values)]
    assert matches, f"README row {row[0]!r} quotes {quoted.group(0)!r} {extremes}: not a seed spread in {named}"


CHAPTER_ROWS = [row for row in ROWS if len(row) == 4]  # model | where | test accuracy | training time


def timings(row) -> list[float]:
    """Every time a results row records, in seconds: training, prediction, and extras named *seconds."""
    extra = [value for key, value in row.extra.items() if key.endswith("seconds") and isinstance(value, (int, float))]
    return [s for s in (row.train_seconds, row.predict_seconds, *extra) if s is not None]


@pytest.mark.parametrize("row", CHAPTER_ROWS, ids=[row[0][:40] for row in CHAPTER_ROWS])
def test_each_quoted_time_is_in_the_files_it_names(row, sources, results_files):
    # A chapter re-run writes new times: a time typed into the README would go stale unnoticed.
    text = " | ".join(row).replace("**", "")
    named = set(named_sources(text, sources))
    accuracy = re.search(r"\b\d{2}\.\d{2}%", text.split(" | ", 1)[1]).group(0)
    seconds = [s for file in results_files if source_keys(file) & named for result in file.rows
               if f"{result.test_accuracy:.2%}" == accuracy for s in timings(result)]
    quoted = re.findall(r"(\d+(?:\.\d+)?) (s|min)\b", row[3])
    assert quoted, f"README row {row[0]!r}: no time in {row[3]!r}"
    for value, unit in quoted:
        decimals = len(value.partition(".")[2])
        shown = {f"{(s / 60 if unit == 'min' else s):.{decimals}f}" for s in seconds}
        assert value in shown, (f"README row {row[0]!r} quotes {value} {unit}; the files it names record "
                                f"{sorted(shown)} {unit} for the row of {accuracy}")
