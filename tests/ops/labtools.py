"""Helpers for the lab tests of sniff's metrics and alerts: run sniff in a namespace, pick a
free port there, scrape /metrics or call an HTTP API from inside the namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
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


_AM_CONFIG = """\
route:
  receiver: "null"
  group_by: [alertname, vlan, family, vrid]
receivers:
  - name: "null"
"""


def alertmanager_binary() -> str | None:
    import shutil

    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class Alertmanager:
    """A real Alertmanager (Debian prometheus-alertmanager) on ADDR:PORT with a generated
    config and its own storage directory, clustering off; stopped by PID.

    ``prefix`` runs it inside a namespace (``ip netns exec NS``); ``get`` fetches a URL from
    where it listens (None if unreachable)."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        *,
        addr: str = "127.0.0.1",
        prefix: Sequence[str] = (),
        get: Callable[[str], str | None] | None = None,
    ) -> None:
        self.workdir = workdir
        self.addr, self.port = addr, port
        self.url = f"http://{addr}:{port}"
        self.prefix = list(prefix)
        self._get = get or _local_get
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "alertmanager.yml").write_text(_AM_CONFIG)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        binary = alertmanager_binary()
        assert binary is not None
        argv = [
            *self.prefix, binary,
            f"--config.file={self.workdir / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.addr}:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]  # fmt: skip
        log = open(self.workdir / "alertmanager.log", "ab")  # the child keeps its own copy
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        wait_until("alertmanager ready", lambda: self._get(f"{self.url}/-/ready"), timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def alerts(self) -> list[dict[str, Any]] | None:
        """GET /api/v2/alerts: the active alerts (None if Alertmanager is unreachable)."""
        text = self._get(f"{self.url}/api/v2/alerts")
        if text is None:
            return None
        out: list[dict[str, Any]] = json.loads(text)
        return out

    def log(self) -> str:
        return (self.workdir / "alertmanager.log").read_text(errors="replace")


def _local_get(url: str) -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            text: str = r.read().decode()
            return text
    except OSError:
        return None


def local_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
