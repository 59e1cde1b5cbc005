"""join's notify scripts and notify FIFO, as keepalived runs them (keepalived/vrrp/vrrp_notify.c).

On every state change of an instance (and of a sync group), in keepalived's order:

1. the per-state script (``notify_master``, ``notify_backup``, ``notify_fault``,
   ``notify_stop``), with exactly the arguments its config line gives;
2. the generic ``notify`` script (and ``join --notify CMD``), with four more arguments:
   ``INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY`` (a group's priority is 0);
3. one line on each notify FIFO (global_defs ``notify_fifo`` / ``vrrp_notify_fifo``):
   ``INSTANCE "VI_1" MASTER 100`` / ``GROUP "G1" MASTER 0``.

A script line is split into argv as keepalived splits it (quotes and backslashes, shlex's
POSIX rules) and run with ``execve``: never through a shell, so a name holding ``$(...)`` or
``;`` arrives as one argument and runs nothing. Scripts run in the background, as keepalived's
do: the router never waits for them (a slow script must not delay an advertisement);
finished ones are reaped on every loop turn, and the rest are given a few seconds at shutdown
(keepalived also waits for its STOP scripts).
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import shlex
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vrrpwatch.join.router import State
from vrrpwatch.join.settings import JoinError, Script

__all__ = ["NotifyFifo", "NotifyScripts", "Notifier", "Script", "split_command"]

# The words keepalived's scripts get for a state (vrrp_notify.c, notify_script_exec).
STATE_WORDS = {
    State.MASTER: "MASTER",
    State.BACKUP: "BACKUP",
    State.FAULT: "FAULT",
    State.INITIALIZE: "STOP",
}


def split_command(text: str, what: str = "--notify") -> Script:
    """``CMD ARG...`` (shell-like quoting, no shell) as a Script; JoinError when it is empty
    or its quotes do not close."""
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise JoinError(f"{what}: cannot split {text!r}: {exc}") from None
    if not argv:
        raise JoinError(f"{what}: empty command")
    return Script(argv)


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyScripts:
    """The notify scripts of one instance or sync group."""

    master: Script | None = None
    backup: Script | None = None
    fault: Script | None = None
    stop: Script | None = None
    notify: Script | None = None  # the generic one: ... TYPE NAME STATE PRIORITY

    def for_state(self, state: State) -> Script | None:
        return {
            State.MASTER: self.master,
            State.BACKUP: self.backup,
            State.FAULT: self.fault,
            State.INITIALIZE: self.stop,
        }[state]

    def __bool__(self) -> bool:
        return any((self.master, self.backup, self.fault, self.stop, self.notify))


def _as_user(script: Script) -> dict[str, Any]:
    """Popen's user/group for ``username [groupname]``: the user's own group when none is
    given and no supplementary groups (keepalived's set_script_uid_gid; never root's gid)."""
    if script.user is None:
        return {}
    group: str | int | None = script.group
    if group is None:
        group = pwd.getpwnam(script.user).pw_gid
    return {"user": script.user, "group": group, "extra_groups": []}


class NotifyFifo:
    """keepalived's notify FIFO: created (mode 0600) when missing, opened read-write and
    non-blocking (a line is dropped, not waited for, when no one reads and the pipe is full)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            os.mkfifo(self.path, 0o600)
        except FileExistsError:
            pass
        except OSError as exc:
            raise JoinError(f"notify_fifo {self.path}: {exc.strerror}") from None
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise JoinError(f"notify_fifo {self.path}: {exc.strerror}") from None
        if not stat.S_ISFIFO(os.fstat(self.fd).st_mode):
            os.close(self.fd)
            raise JoinError(f"notify_fifo {self.path}: exists and is not a FIFO")

    def write(self, line: str) -> None:
        with contextlib.suppress(BlockingIOError):
            try:
                os.write(self.fd, line.encode(errors="surrogateescape"))
            except OSError as exc:
                if exc.errno != errno.EPIPE:
                    raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Notifier:
    """The notifies of one instance (``kind`` INSTANCE) or sync group (``kind`` GROUP)."""

    def __init__(
        self,
        scripts: NotifyScripts | str,
        name: str,
        *,
        kind: str = "INSTANCE",
        fifos: Sequence[NotifyFifo] = (),
    ) -> None:
        if isinstance(scripts, str):  # ``--notify CMD``: the generic script
            scripts = NotifyScripts(notify=split_command(scripts))
        self.scripts = scripts
        self.name = name
        self.kind = kind
        self.fifos = tuple(fifos)
        self._children: list[subprocess.Popen[bytes]] = []

    @property
    def program(self) -> str:
        s = self.scripts.notify
        return s.program if s is not None else ""

    def run(self, state: State, priority: int) -> list[tuple[str, OSError]]:
        """Start the scripts for ``state`` (INITIALIZE: STOP) and write the FIFO line; returns
        (program, error) for each script that could not be started."""
        word = STATE_WORDS[state]
        failed: list[tuple[str, OSError]] = []
        todo: list[tuple[Script, tuple[str, ...]]] = []
        per_state = self.scripts.for_state(state)
        if per_state is not None:
            todo.append((per_state, per_state.argv))
        generic = self.scripts.notify
        if generic is not None:
            todo.append((generic, (*generic.argv, self.kind, self.name, word, str(priority))))
        for script, argv in todo:
            try:
                self._children.append(
                    subprocess.Popen(
                        list(argv), stdin=subprocess.DEVNULL, close_fds=True, **_as_user(script)
                    )
                )
            except (OSError, ValueError, KeyError) as exc:
                err = exc if isinstance(exc, OSError) else OSError(errno.EINVAL, str(exc))
                failed.append((script.program, err))
        line = f'{self.kind} "{self.name}" {word} {priority}\n'
        for fifo in self.fifos:
            try:
                fifo.write(line)
            except OSError as exc:
                failed.append((f"notify_fifo {fifo.path}", exc))
        return failed

    def reap(self, *, wait: bool) -> None:
        """Forget the commands that finished (after up to 5 s each when ``wait``)."""
        for child in list(self._children):
            if wait:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=5)
            if child.poll() is not None:
                self._children.remove(child)
