"""pytest plugin for `make test-notebooks`: nbval compares what a cell prints and returns, not stderr.

TensorFlow's C++ side writes log lines to stderr that carry a timestamp and a thread id
("E0000 00:00:1795662403.25 26288 node_def_util.cc:682] NodeDef mentions ...") and appear or
not depending on the size of a prediction, so two runs of the same cell never have the same
stderr. The book's website leaves stderr out too (``stderr_output: remove``). Everything else,
stdout included, is still compared.
"""
import nbval.plugin

_coalesce_streams = nbval.plugin.coalesce_streams


def _coalesce_streams_without_stderr(outputs):
    return [output for output in _coalesce_streams(outputs)
            if not (output.get("output_type") == "stream" and output.get("name") == "stderr")]


def pytest_configure(config):
    # nbval calls coalesce_streams on both sides of the comparison: the run's and the stored outputs.
    nbval.plugin.coalesce_streams = _coalesce_streams_without_stderr
