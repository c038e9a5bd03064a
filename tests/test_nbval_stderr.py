"""The notebook tests ignore stderr (TensorFlow's timestamped log lines) but nothing else."""
import nbformat
import nbval_stderr


def outputs(stdout: str, stderr: str | None):
    cells = [nbformat.v4.new_output("stream", name="stdout", text=stdout)]
    if stderr is not None:
        cells.append(nbformat.v4.new_output("stream", name="stderr", text=stderr))
    return cells


def test_stderr_is_left_out_and_stdout_kept():
    run = nbval_stderr._coalesce_streams_without_stderr(outputs("accuracy 0.99\n", "E0000 00:00:17.1 26288 x.cc:1] NodeDef"))
    stored = nbval_stderr._coalesce_streams_without_stderr(outputs("accuracy 0.99\n", None))
    assert run == stored and [output["name"] for output in run] == ["stdout"]
    other = nbval_stderr._coalesce_streams_without_stderr(outputs("accuracy 0.98\n", None))
    assert other != stored
