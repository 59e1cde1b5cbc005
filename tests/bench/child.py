"""One child process of a benchmark, measured: wall seconds, CPU seconds (user + system) and
peak RSS, all from ``os.wait4`` on that child alone. Exit codes 0 and 1 (a verdict) pass; any
other ends the benchmark with the child's error output."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import IO


def run_measured(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdout: IO[bytes] | int = subprocess.DEVNULL,
    what: str | None = None,
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (bytes) of ``cmd``; ``what`` names it in the
    error (default: the command line)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{what or ' '.join(cmd)} failed ({code}):\n{err}")
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
