"""The benchmarks' timing tools (mnist_helpers.timing): how idle the machine was, and waiting for it."""
import json
from pathlib import Path

import pytest

from mnist_helpers import timing
from mnist_helpers.data import MnistNotFoundError


def test_other_cpu_use_counts_every_process_but_this_one(monkeypatch):
    import types

    from mnist_helpers import timing

    readings = {"busy": iter([(100.0, 7.0), (110.0, 8.0)]), "own": iter([1.0, 3.0]), "wall": iter([50.0, 55.0])}
    monkeypatch.setattr(timing, "_busy_cpu_seconds", lambda: next(readings["busy"]))
    monkeypatch.setattr(timing, "time", types.SimpleNamespace(process_time=lambda: next(readings["own"]),
                                                               perf_counter=lambda: next(readings["wall"])))
    monkeypatch.setattr(timing.os, "cpu_count", lambda: 2)
    with timing.OtherCpuUse() as other:
        pass
    assert other.share == 0.8  # (10 busy - 2 own) CPU seconds out of 5 s x 2 CPUs
    assert other.steal_share == 0.1  # 1 s of it stolen by the hypervisor
    assert str(other) == "80.0%"


def test_other_cpu_use_reads_proc_stat_or_says_it_cannot(monkeypatch, tmp_path):
    from mnist_helpers import timing

    with timing.OtherCpuUse() as other:
        sum(range(10_000))
    if Path("/proc/stat").exists():
        assert 0.0 <= other.share <= 1.0
    stat = tmp_path / "stat"
    stat.write_text("cpu  200 0 100 5000 10 0 0 50 0 0\ncpu0 100 0 50 2500 5 0 0 25 0 0\n")
    monkeypatch.setattr(timing, "PROC_STAT", stat)
    ticks = timing.os.sysconf("SC_CLK_TCK")
    assert timing._busy_cpu_seconds() == (350 / ticks, 50 / ticks)  # steal counts as busy
    monkeypatch.setattr(timing, "PROC_STAT", tmp_path / "missing")
    with timing.OtherCpuUse() as other:
        pass
    assert other.share is None and other.steal_share is None  # not Linux: unknown, not 0
    assert str(other) == "unknown"


def test_wait_until_idle_waits_for_the_load_to_fall_and_gives_up_with_a_clear_error(monkeypatch):
    import types

    from mnist_helpers import timing

    loads = iter([(1.8, 1.9, 2.0), (1.2, 1.8, 2.0), (0.7, 1.6, 1.9)])
    clock = {"now": 0.0}
    fake_time = types.SimpleNamespace(monotonic=lambda: clock["now"],
                                      sleep=lambda s: clock.__setitem__("now", clock["now"] + s))
    monkeypatch.setattr(timing, "time", fake_time)
    monkeypatch.setattr(timing.os, "getloadavg", lambda: next(loads))
    said = []
    assert timing.wait_until_idle(poll_seconds=10, log=said.append) == [0.7, 1.6, 1.9]
    assert clock["now"] == 20 and len(said) == 2 and "load average 1.80" in said[0]

    clock["now"] = 0.0
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (1.5, 1.5, 1.5))
    with pytest.raises(TimeoutError, match=r"still 1.50 after 60 s: stop the other jobs"):
        timing.wait_until_idle(timeout_seconds=60, log=said.append)

    monkeypatch.delattr(timing.os, "getloadavg")  # not Unix: nothing to wait for, nothing to record
    assert timing.load_average() == [] and timing.wait_until_idle(log=said.append) == []


def test_write_timing_file_makes_folders_replaces_whole_and_says_so(tmp_path, capsys):
    target = tmp_path / "new" / "folder" / "t.json"
    assert timing.write_timing_file(target, {"rows": [1, 2], "shape": (28, 28)}) == target
    assert json.loads(target.read_text()) == {"rows": [1, 2], "shape": [28, 28]}
    timing.write_timing_file(target, {"rows": []})  # a second write replaces the first, nothing left beside it
    assert json.loads(target.read_text()) == {"rows": []} and [p.name for p in target.parent.iterdir()] == ["t.json"]
    assert capsys.readouterr().out == f"wrote {target}\nwrote {target}\n"


def _raise(exc):
    raise exc


@pytest.mark.parametrize("main, code", [
    (lambda: None, None), (lambda: 3, 3),  # SystemExit(None): exit status 0
    (lambda: _raise(MnistNotFoundError("no MNIST data: set MNIST_DATA")), "error: no MNIST data: set MNIST_DATA"),
    (lambda: _raise(TimeoutError("the load is 2.00: stop the other jobs")), "error: the load is 2.00: stop the other jobs"),
])
def test_run_script_exits_with_main_status_or_one_line(main, code):
    with pytest.raises(SystemExit) as exit_info:
        timing.run_script(main)
    assert exit_info.value.code == code
    if isinstance(code, str):  # `from None`: the user sees the one line, no chained traceback
        assert exit_info.value.__suppress_context__


def test_run_script_leaves_other_errors_their_traceback():
    with pytest.raises(ValueError, match="a bug"):
        timing.run_script(lambda: _raise(ValueError("a bug")))


def test_pass_seconds_times_each_pass_over_every_batch(monkeypatch):
    clock, calls = [0.0], []

    def step(batch):  # each call takes `batch` seconds on the patched clock
        calls.append(batch)
        clock[0] += batch
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    assert timing.pass_seconds(step, [0.5, 1.5], repeats=3) == [2.0, 2.0, 2.0]
    assert calls == [0.5, 1.5] * 3
