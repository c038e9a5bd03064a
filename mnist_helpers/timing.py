"""Timing tools of the benchmark scripts: what a timing was measured on, and whether the machine was idle.

``machine_info`` says what ran (CPUs, processor, Python, library versions); ``OtherCpuUse`` measures
how much of the machine other processes (and the hypervisor) used while a block ran;
``wait_until_idle`` holds a benchmark until the load average has fallen. The results files
(``mnist_helpers.results``) store what these measure beside the timings.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

CPU_INFO = Path("/proc/cpuinfo")


def cpu_model() -> str:
    """The processor's model name as the system reports it ("AMD EPYC 7B13", "Apple M2"), not just
    the architecture; the architecture (``x86_64``) where no name can be read."""
    try:  # Linux
        for line in CPU_INFO.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5).stdout.strip()
            if name:
                return name
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def machine_info(**versions: str) -> dict:
    """What timings were measured on: CPUs, the processor's model, Python, plus the given library ``versions``."""
    return {"cpus": os.cpu_count(), "processor": cpu_model(), "architecture": platform.machine(),
            "python": platform.python_version(), **versions}


PROC_STAT = Path("/proc/stat")


def _busy_cpu_seconds() -> tuple[float, float] | None:
    """CPU seconds all processes used since boot, and the part of it stolen by the hypervisor
    (Linux ``/proc/stat``); None elsewhere."""
    try:
        fields = PROC_STAT.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[:1] != ["cpu"] or len(fields) < 9:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / ticks, steal / ticks


class OtherCpuUse:
    """How much of the machine other processes used while a block ran: is a timing from an idle machine?

    A load average cannot say it for a run that follows another run of the same script (the
    previous run is still in the average); this counts CPU time instead::

        with OtherCpuUse() as other:
            train()
        other.share  # CPU time of every other process / (wall time x CPUs); 0.0 on an idle machine

    On a virtual machine, the time the hypervisor gave these CPUs to other machines (``steal`` in
    ``/proc/stat``) counts as other use too: it slows a timing just as another process does.
    ``other.steal_share`` is that part alone (a share of wall time x CPUs, like ``share``).
    Both are None where ``/proc/stat`` does not exist (not Linux).
    """

    def __enter__(self) -> "OtherCpuUse":
        self.share = self.steal_share = None
        self._start = (_busy_cpu_seconds(), time.process_time(), time.perf_counter())
        return self

    def __exit__(self, *exc_info) -> None:
        cpu, own, wall = _busy_cpu_seconds(), time.process_time(), time.perf_counter()
        if cpu is None or self._start[0] is None:
            return
        (busy, steal), (busy_before, steal_before) = cpu, self._start[0]
        other = (busy - busy_before) - (own - self._start[1])  # this process's threads excluded
        elapsed = (wall - self._start[2]) * (os.cpu_count() or 1)
        if elapsed <= 0:
            self.share = self.steal_share = 0.0
            return
        self.share = round(min(1.0, max(0.0, other / elapsed)), 3)
        self.steal_share = round(min(1.0, max(0.0, (steal - steal_before) / elapsed)), 3)

    def __str__(self) -> str:
        """The share as a reader says it: ``"0.3%"``, or ``"unknown"`` where it cannot be measured."""
        return "unknown" if self.share is None else f"{self.share:.1%}"


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, to 0.01; ``[]`` where they cannot be read (not Unix)."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else []


def wait_until_idle(max_load: float = 1.0, timeout_seconds: float = 900.0, poll_seconds: float = 10.0,
                    log=print) -> list[float]:
    """Wait until the 1-minute load average is under ``max_load``; return the three load averages then.

    A job that has just ended keeps the load average up for a minute or two after it; a benchmark
    that starts then would record a busy start although nothing else runs. Waiting makes the load
    average written beside the timings say what it should. Raises ``TimeoutError`` (naming the
    load and the fix) if the machine stays busy for ``timeout_seconds``; returns ``[]`` at once where
    the load average cannot be read (not Unix).
    """
    deadline = time.monotonic() + timeout_seconds
    load = load_average()
    while load and load[0] >= max_load:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the 1-minute load average is still {load[0]:.2f} after {timeout_seconds:.0f} s: "
                               f"stop the other jobs (see `top`), then run the benchmark again")
        log(f"waiting for an idle machine: load average {load[0]:.2f} (under {max_load:g} to start)")
        time.sleep(poll_seconds)
        load = load_average()
    return load


def write_timing_file(path: str | os.PathLike, data: dict) -> Path:
    """Write a benchmark's timing record as JSON (folders made, the file replaced whole) and say so.

    A reader never sees half a file: it is written beside its target, then renamed over it.
    Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(data, indent=1, default=list) + "\n", encoding="utf8")
    partial.replace(path)
    print(f"wrote {path}")
    return path


def pass_seconds(step: Callable[[Any], Any], batches: Sequence, repeats: int) -> list[float]:
    """Wall-clock seconds of each of ``repeats`` passes of ``step`` over ``batches``, one call per batch.

    Call ``step`` once per batch shape before (a compiled function traces then), so that no pass
    times the tracing. Compare the fastest pass, or the median, of one run: single passes vary.
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            step(batch)
        times.append(time.perf_counter() - start)
    return times


def run_script(main: Callable[[], int | None]) -> NoReturn:
    """Run a benchmark script's ``main()`` and exit with the status it returns (0 for None).

    The two errors a user meets and can fix end in one line, ``error: ...``, not a traceback: no
    MNIST data (the message lists the sources tried and how to fix it) and a machine that never
    became idle (:func:`wait_until_idle` names the load and the fix).
    """
    from .data import MnistNotFoundError  # here: this module stays light for the book's extension

    try:
        status = main()
    except (MnistNotFoundError, TimeoutError) as exc:
        raise SystemExit(f"error: {exc}") from None
    raise SystemExit(status)
