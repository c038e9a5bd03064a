"""The book's Sphinx extension (book/_ext/mnist_book.py): its pure functions, without a build."""
import base64
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from book_extension import load_extension

import mnist_helpers as mh
from mnist_helpers.results import Results, Row, write_results

ROOT = Path(__file__).resolve().parents[1]
ext = load_extension()

BASELINES = Results(title="Classic baselines", date="2026-11-25", chapter="02_baselines", path=Path("baselines.json"),
                    description="Fitted on all the training images.", rows=[
                        Row("Logistic regression", 0.9256, 41.3),
                        Row("k-NN", 0.9705, 0.2, chapter="03_x", notes="slow to predict")])
PNG = base64.b64encode(b"\x89PNG fake").decode("ascii")


def code_cell(source: str, *pngs: str) -> dict:
    return {"cell_type": "code", "source": source,
            "outputs": [{"output_type": "display_data", "data": {"image/png": png}} for png in pngs]}


# ------------------------------------------------------------------ the results page

def test_results_table_sorts_by_accuracy_and_links_only_known_chapters():
    table = ext.results_table([BASELINES], known_docs={"notebooks/02_baselines"}).splitlines()
    assert table[0] == "| model | chapter | test accuracy | test error | training time |"
    # A row's own chapter wins over its file's; a chapter outside the book is a name, not a link.
    assert table[2:] == ["| k-NN | `03_x` | 97.05% | 2.95% | 0.2 s |",
                         "| Logistic regression | {doc}`/notebooks/02_baselines` | 92.56% | 7.44% | 41 s |"]


def test_results_table_adds_the_prediction_column_when_a_row_has_one():
    files = [BASELINES, Results(title="t", date="2026-11-25", path=Path("t.json"),
                                rows=[Row("a | b", 0.99, 600.0, predict_seconds=12.0)])]
    table = ext.results_table(files, known_docs=set()).splitlines()
    assert table[0].endswith("| training time | prediction time |") and table[1].count("---:") == 4
    assert table[2] == "| a \\| b |  | 99.00% | 1.00% | 10 min | 12 s |"
    assert table[3].endswith("| 0.2 s |  |")


def test_results_markdown_has_the_table_the_chart_and_a_section_per_file():
    text = ext.results_markdown([BASELINES], known_docs={"notebooks/02_baselines"})
    assert "## Classic baselines\n\nFrom `mnist_helpers/book_results/baselines.json`, written by " \
           "{doc}`/notebooks/02_baselines`, on 2026-11-25.\n\nFitted on all the training images." in text
    assert "* **k-NN**: slow to predict" in text
    assert "```{figure} data:image/png;base64,iVBOR" in text  # the chart, a real PNG


def test_seed_spread_and_time_to_accuracy_plot_appear_when_a_file_has_them():
    runs = [{"seed": seed, "curve_seconds": [10.0, 20.0], "curve_test_accuracy": [0.985, 0.991 + seed / 1000]}
            for seed in range(2)]
    benchmark = Results(title="CNN benchmark", date="2026-11-25", path=Path("cnn.json"), rows=[
        Row("final CNN", 0.9915, 20.0, extra={"seeds": [0, 1], "test_accuracy_sd": 0.0007,
                                             "test_accuracy_min": 0.991, "test_accuracy_max": 0.992,
                                             "runs": runs})])
    assert ext.has_curves(benchmark) and not ext.has_curves(BASELINES)
    text = ext.results_markdown([benchmark], known_docs=set())
    assert "* **final CNN**: 99.15% ± 0.07 over 2 seeds (min 99.10%, max 99.20%)" in text
    assert text.count("```{figure} data:image/png;base64,iVBOR") == 2  # the overview and the curves
    assert "for the plot only: no choice was made from it" in text
    plain = ext.results_markdown([BASELINES], known_docs=set())
    assert plain.count("```{figure}") == 1 and "over seeds" not in plain


def test_time_to_accuracy_table_gives_ratios_times_reached_and_the_other_cpu_use():
    runs = [{"seed": 0, "other_cpu_share": 0.004}, {"seed": 1, "other_cpu_share": 0.012}]
    benchmark = Results(title="CNN benchmark", date="2026-11-26", path=Path("cnn.json"), rows=[
        Row("Keras example", 0.9926, 300.0, extra={"seeds": [0, 1], "time_vs_keras_example": 1.0, "runs": runs,
                                                   "mean_seconds_to_99": 80.0, "seeds_reaching_99": 2,
                                                   "mean_seconds_to_99.5": None, "seeds_reaching_99.5": 0}),
        Row("final CNN", 0.996, 600.0, extra={"seeds": [0, 1], "time_vs_keras_example": 2.0,
                                             "mean_seconds_to_99": 60.0, "seeds_reaching_99": 2,
                                             "mean_seconds_to_99.5": 500.0, "seeds_reaching_99.5": 1})])
    table = ext.time_to_accuracy_table(benchmark).splitlines()
    assert table[0] == ("| model | seeds | training time vs Keras example | time to 99% (first reached) "
                        "| time to 99.5% (first reached) | other CPU use (max of the runs) |")
    assert table[2] == "| Keras example | 2 | 1.00x | 1 min 20 s | not reached | 1.2% |"
    assert table[3] == "| final CNN | 2 | 2.00x | 1 min | 8 min 20 s (1 of 2 seeds) | unknown |"
    assert ext.time_to_accuracy_table(BASELINES) == ""
    assert "| final CNN | 2 | 2.00x |" in ext.results_markdown([benchmark], known_docs=set())


def test_time_to_accuracy_table_prefers_the_sustained_times():
    """Where the benchmark recorded when accuracy stays at or above a level, that is the time shown."""
    row = Row("speed run", 0.991, 50.0, extra={"seeds": [0, 1, 2], "time_vs_keras_example": 0.2,
                                                "mean_seconds_to_99": 30.0, "seeds_reaching_99": 3,
                                                "mean_sustained_seconds_to_99": 44.0, "seeds_sustaining_99": 2})
    table = ext.time_to_accuracy_table(Results(title="CNN benchmark", date="2026-12-03", path=Path("cnn.json"),
                                               rows=[row])).splitlines()
    assert table[0] == "| model | seeds | training time vs speed run | kept 99% from | other CPU use (max of the runs) |"
    assert table[2] == "| speed run | 3 | 0.20x | 44 s (2 of 3 seeds) | unknown |"


def test_expand_results_replaces_only_the_marker(tmp_path):
    write_results(tmp_path / "baselines.json", [{"model": "k-NN", "test_accuracy": 0.97, "train_seconds": 0.2}],
                  title="Classic baselines")
    page = "# Results\n\n```{benchmark-results}\n```\n\n```json\n{}\n```\n"
    text, problems = ext.expand_results(page, tmp_path, set())
    assert problems == [] and "{benchmark-results}" not in text and "| k-NN |" in text
    assert text.startswith("# Results\n\n| model |") and text.endswith("```json\n{}\n```\n")
    assert ext.expand_results("# Other\n", tmp_path / "nope", set()) == ("# Other\n", [])


def test_expand_results_passes_on_every_problem(tmp_path):
    page = "```{benchmark-results}\n```\n"
    assert ext.expand_results(page, tmp_path, set()) == (page, [f"{tmp_path}: no results file (*.json) to show"])
    (tmp_path / "broken.json").write_text("{not json")
    text, problems = ext.expand_results(page, tmp_path, set())
    assert text == page and len(problems) == 1 and "broken.json: not valid JSON" in problems[0]
    write_results(tmp_path / "good.json", [{"model": "m", "test_accuracy": 0.9, "train_seconds": 1}], title="Good")
    text, problems = ext.expand_results(page, tmp_path, set())
    assert "| m |" in text and len(problems) == 1  # the good file is shown, the broken one reported


def test_results_tables_use_the_books_one_duration_format():
    assert ext.format_duration is mh.config.format_duration


# ------------------------------------------------------------------ notebook figures

def test_notebook_image_picks_the_one_matching_cell():
    notebook = {"cells": [{"cell_type": "markdown", "source": "plot_digits(x)"},
                          code_cell("plot_digits(x)"), code_cell("mh.plot_digits(x)\n", PNG)]}
    assert ext.notebook_image(notebook, "plot_digits") == b"\x89PNG fake"


@pytest.mark.parametrize("cells, message", [
    ([code_cell("a()", PNG), code_cell("a()", PNG)], r"match='a\(\)' selects 2 code cells with a PNG output"),
    ([code_cell("b()", PNG)], r"match='a\(\)' selects 0 code cells"),
    ([code_cell("a()", PNG, PNG)], r"the cell selected by match='a\(\)' has 2 PNG outputs, expected exactly 1"),
])
def test_notebook_image_says_why_it_cannot_choose(cells, message):
    with pytest.raises(ValueError, match=message):
        ext.notebook_image({"cells": cells}, "a()")


def test_every_figure_of_the_results_page_is_found():
    page = (ROOT / "book" / "results.md").read_text()
    figures = [block.split("\n")[:2] for block in page.split("```{notebook-figure} ")[1:]]
    assert figures
    for notebook, match in figures:
        png = ext.notebook_image(json.loads((ROOT / notebook).read_text()), match.removeprefix(":match: "))
        assert png.startswith(b"\x89PNG")


# ------------------------------------------------------------------ the "Run this chapter" box

@pytest.mark.parametrize("environ, url", [
    ({}, "http://localhost:8888/lab/tree/"),
    ({"LAB_PORT": ""}, "http://localhost:8888/lab/tree/"),
    ({"LAB_PORT": " 9999 "}, "http://localhost:9999/lab/tree/"),
])
def test_lab_url_follows_lab_port(environ, url):
    assert ext.lab_url(environ) == url


@pytest.mark.parametrize("port", ["http", "0", "65536", "-1", "88 88"])
def test_lab_url_refuses_what_is_not_a_port(port):
    with pytest.raises(ValueError, match=f"LAB_PORT='{port}' is not a TCP port: set it to the port `make lab`"):
        ext.lab_url({"LAB_PORT": port})


def test_setup_reads_lab_port_from_the_environment(monkeypatch):
    """The box's link is a Sphinx config value: a build with another port re-reads every page."""
    class App:
        def __init__(self):
            self.config_values, self.events = {}, []

        def add_config_value(self, name, default, rebuild):
            self.config_values[name] = (default, rebuild)

        def add_directive(self, name, directive):
            self.directive = name

        def connect(self, event, handler):
            self.events.append(event)

    monkeypatch.setenv("LAB_PORT", "8123")
    app = App()
    assert ext.setup(app)["parallel_read_safe"] is True
    assert app.config_values == {"mnist_book_lab_url": ("http://localhost:8123/lab/tree/", "env"),
                                 "mnist_book_results_folder": ("", "env")}
    assert app.directive == "notebook-figure" and "doctree-read" in app.events


def source_read_handler():
    """The extension's ``source-read`` handler, from a setup() on a stand-in Sphinx app."""
    class App:
        def __init__(self):
            self.handlers = {}

        def add_config_value(self, name, default, rebuild):
            pass

        def add_directive(self, name, directive):
            pass

        def connect(self, event, handler):
            self.handlers[event] = handler

    app = App()
    ext.setup(app)
    return app.handlers["source-read"]


def build_app(srcdir: Path, results_folder: str):
    """What the handler reads of Sphinx's app: the source folder, the config, the environment."""
    class Env:
        found_docs = {"results"}

        def note_dependency(self, path):
            self.dependencies = [*getattr(self, "dependencies", []), path]

    return SimpleNamespace(srcdir=str(srcdir), env=Env(),
                           config=SimpleNamespace(mnist_book_results_folder=results_folder))


def test_the_results_page_reads_the_packages_results_folder(tmp_path):
    from mnist_helpers.results import read_results_folder, results_folder

    app, source = build_app(tmp_path, ""), ["# Results\n\n```{benchmark-results}\n```\n"]
    source_read_handler()(app, "results", source)
    assert "{benchmark-results}" not in source[0]
    for row in (row for file in read_results_folder(results_folder())[0] for row in file.rows):
        assert f"| {row.model} |" in source[0], row.model
    assert sorted(app.env.dependencies) == sorted(str(p) for p in results_folder().glob("*.json"))


def test_a_book_can_read_another_results_folder(tmp_path):
    """``mnist_book_results_folder`` (relative to the source folder), e.g. a test book's own files."""
    (tmp_path / "runs").mkdir()
    write_results(tmp_path / "runs" / "runs.json", [{"model": "tiny net", "test_accuracy": 0.5, "train_seconds": 1}],
                  title="Runs")
    app, source = build_app(tmp_path, "runs"), ["```{benchmark-results}\n```\n"]
    source_read_handler()(app, "results", source)
    assert "| tiny net |" in source[0] and "Classic baselines" not in source[0]
    assert app.env.dependencies == [str(tmp_path / "runs" / "runs.json")]


# ------------------------------------------------------------------ launch buttons

def test_the_repository_url_setting():
    env = {"BOOK_REPOSITORY_URL": "https://github.com/org/repo.git/"}
    assert ext.repository_url(env, "") == "https://github.com/org/repo"
    assert ext.repository_url({}, "https://github.com/a/b") == "https://github.com/a/b"
    assert ext.repository_url({"BOOK_REPOSITORY_URL": "https://github.com/c/d"}, "https://github.com/a/b") \
        == "https://github.com/c/d"  # the environment wins
    with pytest.raises(ValueError, match="BOOK_REPOSITORY_URL"):
        ext.repository_url({"BOOK_REPOSITORY_URL": "https://gitlab.com/org/repo"}, "")
    options = {"repository_url": "", "launch_buttons": {"colab_url": "https://colab.research.google.com",
                                                        "binderhub_url": "https://mybinder.org", "thebe": False}}
    assert ext.launch_theme_options(options, {})["launch_buttons"] == {"thebe": False}
    on = ext.launch_theme_options(options, {"BOOK_REPOSITORY_URL": "https://github.com/example/mnist-book"})
    assert on["repository_url"] == "https://github.com/example/mnist-book" and on["launch_buttons"] == options["launch_buttons"]
