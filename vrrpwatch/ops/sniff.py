"""What ``sniff --metrics/--alertmanager`` start beside the packet loop, and stop after it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric

from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, SnifferInterfaces, registry_for
from vrrpwatch.ops.page import LivePage
from vrrpwatch.watch.monitor import Monitor


class OpsError(Exception):
    """--metrics or --alertmanager cannot start; a one-line message."""


class SniffOps:
    """The metrics endpoint and the Alertmanager sender of one sniff run (each optional); with
    ``db_file``, the endpoint serves the run's page on ``/`` too (``serve_run`` once begun)."""

    def __init__(
        self,
        monitor: Monitor,
        sniffer: Any,
        *,
        metrics: str | None = None,
        alertmanagers: Sequence[str] = (),
        min_severity: str = "warning",
        sensor: str = "",
        db_file: str | Path | None = None,
    ) -> None:
        from vrrpwatch.ops.alertmanager import AlertPusher
        from vrrpwatch.ops.metrics import MetricsError

        self.book = EpisodeBook(monitor)
        self.pusher: AlertPusher | None = None
        self.server: MetricsServer | None = None
        self.page = LivePage(db_file) if metrics is not None and db_file is not None else None
        if alertmanagers:
            try:
                self.pusher = AlertPusher(
                    self.book, alertmanagers, min_severity=min_severity, sensor=sensor
                )
            except ValueError as exc:
                raise OpsError(str(exc)) from None
        if metrics is not None:
            collector = SniffCollector(
                monitor, self.book, SnifferInterfaces(sniffer), extra=self._extra
            )
            try:
                self.server = MetricsServer(
                    metrics,
                    registry_for(collector),
                    routes={"/": self.page} if self.page is not None else None,
                )
            except MetricsError as exc:
                raise OpsError(f"--metrics {exc}") from None
        if self.pusher is not None:
            self.pusher.start()

    def serve_run(self, run_id: int) -> None:
        """The run ``/`` shows (until then it answers 503)."""
        if self.page is not None:
            self.page.run_id = run_id

    def _extra(self) -> Iterator[Metric]:
        if self.pusher is not None:
            yield from self.pusher.metrics()

    def close(self) -> None:
        if self.pusher is not None:
            self.pusher.close()
        if self.server is not None:
            self.server.close()
