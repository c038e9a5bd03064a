"""What the package's commands (``predict``, ``kaggle``) share: Ctrl-C ends them with one line."""
from __future__ import annotations

import sys
from typing import Callable

INTERRUPTED = 130
"""Exit code after Ctrl-C: 128 + SIGINT's number, what shells report for a process SIGINT ended."""


def run_interruptible(run: Callable[[], int]) -> int:
    """Return ``run()``'s exit code; on Ctrl-C print ``error: interrupted`` on stderr and return ``INTERRUPTED``.

    Ctrl-C during TensorFlow's start-up or hours of training then shows a line, not a traceback.
    """
    try:
        return run()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED
