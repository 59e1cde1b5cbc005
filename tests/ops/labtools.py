"""Helpers for the lab tests of sniff's metrics and alerts: run sniff in a namespace, pick a
free port there, scrape /metrics or call an HTTP API from inside the namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.lab import Host, Lab

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port(host: Host) -> int:
    """A TCP port free on the host's loopback (bound once by the kernel's choice, released)."""
    code = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
    return int(host.run([sys.executable, "-c", code]).stdout)


_GET = """
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode())
except OSError as exc:
    sys.stderr.write(str(exc)); sys.exit(3)
"""


def http_get(host: Host, url: str) -> str | None:
    """GET ``url`` from inside the host's namespace; None if it cannot be reached."""
    r = host.run([sys.executable, "-c", _GET, url], check=False)
    return r.stdout if r.returncode == 0 else None


def scrape(host: Host, port: int) -> Samples | None:
    text = http_get(host, f"http://127.0.0.1:{port}/metrics")
    if text is None:
        return None
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The one sample of ``name`` whose labels include ``labels`` (None: no such sample)."""
    want = set(labels.items())
    found = [v for (n, lab), v in samples.items() if n == name and want <= lab]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def wait_until(what: str, probe: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Call ``probe`` until it returns something true; AssertionError with the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


class Sniff:
    """``vrrpwatch sniff`` in a lab namespace (optionally as another user via ``prefix``), its
    output kept; stopped by PID at the lab's close() if the test does not stop it."""

    def __init__(self, lab: Lab, host: Host, *args: str, prefix: tuple[str, ...] = ()) -> None:
        argv = ["ip", "netns", "exec", host.ns, *prefix, sys.executable, "-m", "vrrpwatch"]
        self.proc = subprocess.Popen(
            [*argv, "sniff", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        lab.processes.append(self.proc)  # type: ignore[arg-type]
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def finish(self, sig: int) -> tuple[int, str]:
        self.proc.send_signal(sig)
        rc = self.proc.wait(15)
        self._reader.join(5)
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read()

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in list(self.lines) if x.startswith("{")]
