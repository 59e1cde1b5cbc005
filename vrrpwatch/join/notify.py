"""join's notify command: ``CMD INSTANCE NAME STATE PRIORITY`` on every state change.

The arguments are those of keepalived's ``notify`` script, so an operator's script for
keepalived works unchanged. Commands run in the background, as keepalived's do: the router
never waits for them (a slow script must not delay an advertisement); finished ones are
reaped on every loop turn, and the rest are given a few seconds at shutdown.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess

from vrrpwatch.join.router import State

__all__ = ["Notifier"]


class Notifier:
    def __init__(self, command: str, instance: str) -> None:
        self.argv = shlex.split(command)
        self.instance = instance
        self._children: list[subprocess.Popen[bytes]] = []

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""

    def run(self, state: State, priority: int) -> None:
        """Start the command for ``state``; OSError when it cannot be started."""
        argv = [*self.argv, "INSTANCE", self.instance, state.value, str(priority)]
        self._children.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))

    def reap(self, *, wait: bool) -> None:
        """Forget the commands that finished (after up to 5 s each when ``wait``)."""
        for child in list(self._children):
            if wait:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=5)
            if child.poll() is not None:
                self._children.remove(child)
