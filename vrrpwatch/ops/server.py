"""The metrics endpoint both ``sniff --metrics`` and ``join --metrics`` serve: prometheus-client's
HTTP server on ADDR:PORT in its own daemon threads, a registry of one collector (plus the
process metrics), and ``vrrpwatch_build_info``. The collectors (``metrics.SniffCollector``,
``join.JoinCollector``) build their families at scrape time, so the packet loops do no
metric work and never wait on the server. The server answers with ``exposition.make_app``:
prometheus-client's WSGI app, with sample lines written the cheap way where they come out the
same (``exposition.render``).
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any
from wsgiref.types import WSGIApplication

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from vrrpwatch import __version__
from vrrpwatch.ops.exposition import Registry, make_app


@functools.cache
def build_info() -> GaugeMetricFamily:
    """``vrrpwatch_build_info{version}``: 1 (one object: the fast writer keeps its lines)."""
    info = GaugeMetricFamily(
        "vrrpwatch_build_info", "vrrpwatch's version; always 1.", labels=["version"]
    )
    info.add_metric([__version__], 1)
    return info


def registry_for(collector: Collector) -> CollectorRegistry:
    """A registry of our collector alone plus the process metrics (RSS, CPU, open fds)."""
    from prometheus_client import ProcessCollector

    reg = Registry()
    reg.register(collector)
    ProcessCollector(registry=reg)
    return reg


class MetricsError(Exception):
    """The metrics endpoint cannot be served; a one-line message."""


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` (``[v6]:PORT`` for IPv6) -> (address, port)."""
    import ipaddress

    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise MetricsError(f"{text!r}: expected ADDR:PORT, e.g. 127.0.0.1:9567")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise MetricsError(f"{text!r}: {host!r} is not an IP address") from None
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise MetricsError(f"{text!r}: bad port {port!r}")
    return host, int(port)


class MetricsServer:
    """prometheus-client's HTTP server on ADDR:PORT for ``registry``, in a daemon thread,
    answering with ``exposition.make_app`` (a ``Registry``, as ``registry_for`` makes, is
    served the fast way). ``routes``: other WSGI apps by exact path (sniff's page on ``/``,
    ``ops.page``); every other path is the metrics app's."""

    def __init__(
        self,
        listen: str,
        registry: CollectorRegistry,
        *,
        routes: Mapping[str, WSGIApplication] | None = None,
    ) -> None:
        from prometheus_client import start_http_server

        host, port = parse_listen(listen)
        try:
            self._httpd, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise MetricsError(f"{listen}: cannot listen: {exc.strerror or exc}") from None
        app: WSGIApplication = make_app(registry)
        self._httpd.set_app(_routed(dict(routes), app) if routes else app)
        # prometheus-client's server (socketserver.ThreadingMixIn) starts a thread for every
        # request; with a scrape a second that is a good part of what serving costs. Threads
        # that are done wait for the next request instead (as many as may be kept).
        httpd: Any = self._httpd  # a ThreadingMixIn server (typeshed types it WSGIServer)
        self._workers = RequestThreads(httpd.process_request_thread)
        httpd.process_request = self._workers.submit
        self.address: tuple[str, int] = self._httpd.server_address[:2]  # type: ignore[assignment]

    @property
    def port(self) -> int:
        return self.address[1]

    def close(self) -> None:
        self._httpd.shutdown()
        self._workers.close()
        self._httpd.server_close()
        self._thread.join(timeout=5)


KEEP_THREADS = 2  # request threads kept waiting: Prometheus scrapes one at a time (two: a pair)


class RequestThreads:
    """Threads for the server's requests, kept for the next one: a request goes to a thread
    that waits for one if there is any, else to a new thread (as socketserver's ThreadingMixIn
    does for every request, so a slow client never holds up another); a thread done with its
    request waits for the next while fewer than ``keep`` do, else it ends."""

    def __init__(self, handle: Callable[[Any, Any], None], *, keep: int = KEEP_THREADS) -> None:
        self._handle = handle
        self._keep = keep
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting on the queue, not yet promised a request
        self._queue: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._closed = False
        self.started = 0  # threads started (for tests)

    def submit(self, request: Any, address: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._queue.put((request, address))
                return
            self.started += 1
        threading.Thread(
            target=self._work, args=((request, address),), name="metrics request", daemon=True
        ).start()

    def _work(self, job: tuple[Any, Any] | None) -> None:
        while job is not None:
            self._handle(*job)  # ThreadingMixIn.process_request_thread: handles, closes
            with self._lock:
                if self._closed or self._idle >= self._keep:
                    return
                self._idle += 1
            job = self._queue.get()

    def close(self) -> None:
        """Waiting threads end (those busy end after their request)."""
        with self._lock:
            self._closed = True
            waiting, self._idle = self._idle, 0
        for _ in range(waiting):
            self._queue.put(None)


def _routed(routes: dict[str, WSGIApplication], default: WSGIApplication) -> WSGIApplication:
    def app(environ: Any, start_response: Any) -> Any:
        return routes.get(environ.get("PATH_INFO", ""), default)(environ, start_response)

    return app
