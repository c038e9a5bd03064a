"""The committed notebooks are whole, clean runs: what the website shows and nbval compares.

The outputs must come from one execution from top to bottom (``make execute``), so every code
cell has run, in order, without an error; nothing in them names the machine they ran on; every
cell has the id that nbformat 4.5 requires (a cell pasted in by hand has none, and nbformat
says a missing id will become an error).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# A path of the machine that ran the notebook, or a Path's repr, in an output.
MACHINE_PATH = re.compile(r"PosixPath\(|WindowsPath\(|(?<![\w.])/(?:work|tmp|home|root|Users)/")


def read(notebook: Path) -> dict:
    return json.loads(notebook.read_text(encoding="utf8"))


def code_cells(notebook: Path) -> list[dict]:
    return [cell for cell in read(notebook)["cells"] if cell["cell_type"] == "code"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_cell_has_a_unique_id(notebook):
    ids = [cell.get("id") for cell in read(notebook)["cells"]]
    missing = [index for index, cell_id in enumerate(ids) if not cell_id]
    assert not missing, f"{notebook.name}: cells {missing} have no id; run nbformat's normalize() on it"
    assert len(set(ids)) == len(ids), f"{notebook.name}: cell ids repeat"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_outputs_come_from_one_run_in_order(notebook):
    counts = [cell.get("execution_count") for cell in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{notebook.name}: execution counts {counts} are not 1, 2, 3, ...: "
        f"commit the outputs of `make execute NOTEBOOKS=notebooks/{notebook.name}`")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_outputs_hold_no_error_and_no_machine_path(notebook):
    for index, cell in enumerate(code_cells(notebook), start=1):
        outputs = cell.get("outputs", [])
        assert not [out for out in outputs if out["output_type"] == "error"], (
            f"{notebook.name}, code cell {index}: the committed output is an error")
        text = json.dumps(outputs)
        found = MACHINE_PATH.search(text)
        assert not found, (f"{notebook.name}, code cell {index}: an output names this machine's "
                           f"path ({text[max(0, found.start() - 40):found.end() + 40]!r}); print a "
                           "path relative to the book")


@pytest.mark.parametrize("text, found", [
    ("saved to /work/main/model.keras", True),
    ("PosixPath('model.keras')", True),
    ("saved to mnist_helpers/model/mnist_cnn.keras", False),
    ("a ratio 2/tmp/", False),
])
def test_the_path_pattern(text, found):
    assert bool(MACHINE_PATH.search(text)) == found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_the_cells_that_record_results_are_ignored_by_nbval(notebook):
    # record_results prints "wrote ..." in the full mode and "fast mode: ... not written" in the
    # fast mode that nbval runs: the output depends on the mode, so nbval must not compare it.
    for cell in code_cells(notebook):
        if "record_results(" in "".join(cell["source"]):
            assert "nbval-ignore-output" in cell["metadata"].get("tags", []), (
                f"{notebook.name}: the cell calling record_results needs the tag nbval-ignore-output")


def test_every_chapter_starts_with_the_setup_cell(capsys):
    # tools/setup_cell.py writes it from pyproject's version and the book's repository setting.
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import setup_cell

    assert setup_cell.main(["--check", *map(str, NOTEBOOKS)]) == 0, capsys.readouterr()
    assert "git+https://github.com/o/r@v1.2" in setup_cell.cell_source(repo="https://github.com/o/r", ver="1.2")
    assert "mnist-helpers[notebooks]==1.2\"" in setup_cell.cell_source(repo="", ver="1.2")


def test_a_stale_setup_cell_is_caught(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import setup_cell

    notebook = read(NOTEBOOKS[0])
    cell = setup_cell.first_code_cell(notebook)
    cell["source"] = "".join(cell["source"]).replace("==", "==0.0.1+")
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(notebook))
    assert setup_cell.main(["--check", str(path)]) == 1
    assert setup_cell.main(["--write", str(path)]) == 0
    assert setup_cell.main(["--check", str(path)]) == 0


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_no_tensorflow_noise_in_the_outputs(notebook):
    from mnist_helpers.config import NATIVE_NOISE

    for index, cell in enumerate(code_cells(notebook), start=1):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            noise = [line for line in text.splitlines() if NATIVE_NOISE.match(line)]
            assert not noise, f"{notebook.name}, code cell {index}: TensorFlow's noise in the output: {noise[0][:100]!r}"
