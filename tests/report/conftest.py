"""A real browser for the report tests: headless Debian chromium driven over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: no port, no selenium).

``browser.open(path)`` loads a page with the network cut off (a dead proxy, every host name
unresolvable) and returns what the page did: every request it made (the page's own, not the
browser's background services), console messages, uncaught exceptions and log entries (a
Content-Security-Policy violation is one), the DOM after load, and the answers of a few
``document.querySelectorAll`` counts. Without chromium the tests skip with a reason, but
fail when CI is set.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    # no network: every proxied request goes to a port nobody listens on, no name resolves
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def chromium_path() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        msg = "chromium not installed (Debian package chromium; scripts/setup installs it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@dataclass
class PageResult:
    url: str
    requests: list[str] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    dom: str = ""
    value: Any = None  # the value of ``open(..., expression=...)``

    def errors(self) -> list[str]:
        out = [f"console.{c['type']}: {c['args']}" for c in self.console if c["type"] != "log"]
        out += [f"exception: {e}" for e in self.exceptions]
        out += [f"log {e['level']}: {e['text']}" for e in self.log if e["level"] != "verbose"]
        return out


def _pipe_fds(read_end: int, write_end: int) -> None:
    """In the child: the DevTools pipe on fds 3 (commands in) and 4 (answers out)."""
    r, w = os.dup(read_end), os.dup(write_end)  # both out of the way of 3 and 4 first
    os.dup2(r, 3)
    os.dup2(w, 4)


class Browser:
    def __init__(self, exe: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="vrrpwatch-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False,  # Python's own fds are close-on-exec; 3 and 4 are the pipe
            preexec_fn=lambda: _pipe_fds(to_child_r, from_child_w),
        )  # fmt: skip
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read(self, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self._from_child], [], [], 0.5)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str = ""
    ) -> dict[str, Any]:
        want = self._send(method, params, session)
        while True:
            msg = self._read(30)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            self._events.append(msg)

    def wait_event(self, method: str, session: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            for ev in self._events:
                if ev.get("method") == method and ev.get("sessionId") == session:
                    return
            self._events.append(self._read(max(0.1, deadline - time.monotonic())))

    def open(
        self, path: Path | str, *, expression: str | None = None, settle_s: float = 0.3
    ) -> PageResult:
        url = path if isinstance(path, str) else path.resolve().as_uri()  # str: a URL
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Network", "Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=session)
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session)
        self.wait_event("Page.loadEventFired", session)
        end = time.monotonic() + settle_s
        while time.monotonic() < end:  # anything the page does after load (its script)
            try:
                self._events.append(self._read(end - time.monotonic()))
            except TimeoutError:
                break
        dom = self.call(
            "Runtime.evaluate",
            {"expression": "document.documentElement.outerHTML", "returnByValue": True},
            session,
        )["result"]["value"]
        res = PageResult(url=url, dom=dom)
        if expression is not None:
            res.value = self.call(
                "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
            )["result"].get("value")
        for ev in self._events:
            if ev.get("sessionId") != session:
                continue
            p = ev.get("params", {})
            m = ev.get("method")
            if m == "Network.requestWillBeSent":
                res.requests.append(p["request"]["url"])
            elif m == "Runtime.consoleAPICalled":
                args = [a.get("value", a.get("description")) for a in p["args"]]
                res.console.append({"type": p["type"], "args": args})
            elif m == "Runtime.exceptionThrown":
                res.exceptions.append(p["exceptionDetails"])
            elif m == "Log.entryAdded":
                res.log.append(p["entry"])
        self.call("Target.closeTarget", {"targetId": target})
        return res

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._to_child)
            os.close(self._from_child)
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    b = Browser(chromium_path())
    try:
        yield b
    finally:
        b.close()
