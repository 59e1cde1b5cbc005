"""Who writes a run, and whether that process is still there.

A run row carries the writer's ``pid``, its start time (``pid_start``: field 22 of
``/proc/PID/stat``, clock ticks since boot, so a reused pid is not taken for the writer) and
``host``. A ``running`` run whose writer is gone was killed (``kill -9``, a crash, a power
cut): ``report`` shows it as ``interrupted``, and a new analyze of the same capture may replace
it. A run of another host, or one written before these columns existed, cannot be judged.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

RUNNING = "running"
INTERRUPTED = "interrupted"  # shown, never stored: a running run whose writer is gone


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot), None if there is none (or
    only its zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields restart after
    # the last ")". starttime is field 22, the 20th after the state (proc(5)).
    fields = stat[stat.rfind(b")") + 2 :].split()
    if fields[:1] in ([b"Z"], [b"X"]):  # killed, not yet reaped by its parent: gone
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def this_writer() -> dict[str, Any]:
    """The ``pid``, ``pid_start`` and ``host`` columns of a run this process writes."""
    pid = os.getpid()
    return {"pid": pid, "pid_start": process_start(pid), "host": socket.gethostname()}


def writer_alive(row: Mapping[str, Any]) -> bool | None:
    """True if the run's writer still runs, False if it is gone, None if that cannot be told
    (no pid recorded, or another host)."""
    pid = row.get("pid")
    if pid is None or row.get("host") != socket.gethostname():
        return None
    start = process_start(int(pid))
    if start is None:
        return False
    recorded = row.get("pid_start")
    return recorded is None or start == int(recorded)


def shown_status(row: Mapping[str, Any]) -> str | None:
    """The status to show: ``interrupted`` for a ``running`` run whose writer is gone."""
    status = row.get("status")
    if status == RUNNING and writer_alive(row) is False:
        return INTERRUPTED
    return status
