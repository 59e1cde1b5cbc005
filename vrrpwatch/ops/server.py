"""The metrics endpoint both ``sniff --metrics`` and ``join --metrics`` serve: prometheus-client's
HTTP server on ADDR:PORT in its own daemon threads, a registry of one collector (plus the
process metrics), and ``vrrpwatch_build_info``. The collectors (``metrics.SniffCollector``,
``join.JoinCollector``) build their families at scrape time, so the packet loops do no
metric work and never wait on the server. The server answers with ``exposition.make_app``:
prometheus-client's WSGI app, with sample lines written the cheap way where they come out the
same (``exposition.render``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from wsgiref.types import WSGIApplication

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from vrrpwatch import __version__
from vrrpwatch.ops.exposition import Registry, make_app


def build_info() -> GaugeMetricFamily:
    """``vrrpwatch_build_info{version}``: 1."""
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
        self.address: tuple[str, int] = self._httpd.server_address[:2]  # type: ignore[assignment]

    @property
    def port(self) -> int:
        return self.address[1]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _routed(routes: dict[str, WSGIApplication], default: WSGIApplication) -> WSGIApplication:
    def app(environ: Any, start_response: Any) -> Any:
        return routes.get(environ.get("PATH_INFO", ""), default)(environ, start_response)

    return app
