"""``/`` of ``sniff --metrics``: the failover picture of the running run, reloading itself.

The same page as ``analyze --html`` (``report.html.render_html``, same template, same
escaping, same Content-Security-Policy) plus a meta refresh: the browser reloads ``/`` every
``refresh_s`` seconds and fetches nothing else. Each request renders in the HTTP server's own
thread from what the sniffer has committed (it commits twice a second), read through a
read-only connection opened for that request and closed after it: never the sniffer's
connection, so a page view never waits on or holds up the packet loop. At most one render runs
at a time, and a page younger than ``reuse_s`` is served again, so many open tabs cost what one
does. Passwords are never shown here (fingerprints only, whatever ``--reveal-secrets`` stored):
the endpoint has no authentication.
"""

from __future__ import annotations

import sqlite3
import threading
import time as _time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.report.html import render_html
from vrrpwatch.store.db import open_db
from vrrpwatch.store.timeline import report_data

REFRESH_S = 5
REUSE_S = 1.0

_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


class LivePage:
    """A WSGI app: the page of run ``run_id`` (set once the run has begun) of the database at
    ``db_file``."""

    def __init__(
        self,
        db_file: str | Path,
        *,
        refresh_s: int = REFRESH_S,
        reuse_s: float = REUSE_S,
        clock: Callable[[], float] = _time.monotonic,
    ) -> None:
        self.db_file = Path(db_file).absolute()
        self.refresh_s = refresh_s
        self.reuse_s = reuse_s
        self.clock = clock
        self.run_id: int | None = None
        self._lock = threading.Lock()  # between page requests only
        self._last: tuple[float, int, bytes] | None = None  # (rendered at, run id, page)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _answer(
                start_response, "405 Method Not Allowed", _TEXT,
                f"{method}: use GET\n".encode(), [("Allow", "GET, HEAD")], method,
            )  # fmt: skip
        run_id = self.run_id
        if run_id is None:
            return self._unavailable(start_response, "the run has not begun yet", method)
        try:
            body = self.page(run_id)
        except (VrrpwatchError, sqlite3.Error) as exc:
            return self._unavailable(start_response, f"cannot read the run: {exc}", method)
        return _answer(
            start_response, "200 OK", _HTML, body, [("Cache-Control", "no-store")], method
        )

    def page(self, run_id: int) -> bytes:
        """The rendered page of ``run_id`` as committed now (or at most ``reuse_s`` ago)."""
        with self._lock:
            now = self.clock()
            last = self._last
            if last is not None and last[1] == run_id and now - last[0] < self.reuse_s:
                return last[2]
            db = open_db(self.db_file, read_only=True)
            try:
                data = report_data(db, run_id)
            finally:
                db.close()
            body = render_html(data, refresh_s=self.refresh_s).encode()
            self._last = (now, run_id, body)
            return body

    def _unavailable(self, start_response: Any, why: str, method: str) -> Iterable[bytes]:
        # Plain text, so nothing of the message is ever markup; the browser retries by itself.
        return _answer(
            start_response, "503 Service Unavailable", _TEXT, f"vrrpwatch: {why}\n".encode(),
            [("Retry-After", "1"), ("Refresh", "1"), ("Cache-Control", "no-store")], method,
        )  # fmt: skip


def _answer(
    start_response: Any,
    status: str,
    content_type: str,
    body: bytes,
    headers: list[tuple[str, str]],
    method: str,
) -> Iterable[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            *headers,
        ],
    )
    return [b"" if method == "HEAD" else body]
