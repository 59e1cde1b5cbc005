"""``sniff --alertmanager URL``: alert episodes pushed to Alertmanager (API v2).

One thread follows the episode book once a second and queues what changed: an episode that
opened, one that ended (with ``endsAt``), and every open one again each ``RESEND_S`` (the API
resolves an alert that is not re-sent within its ``resolve_timeout``, 5 minutes by default).
Each Alertmanager URL has its own sender thread and bounded queue, so a down or slow one
delays nothing else: the packet loop never waits on any of this. A failed send is retried
with exponential backoff; the queue keeps the latest state of each alert (keyed by its labels),
and past ``QUEUE_MAX`` alerts the oldest is dropped, counted, and logged once.

Labels carry no sensor: two sensors on one segment send the same labels, and Alertmanager
deduplicates them; the sensor is an annotation.
"""

from __future__ import annotations

import json
import logging
import threading
import time as _time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vrrpwatch.ops.episodes import Episode, EpisodeBook
from vrrpwatch.store.rows import vlan_column as vlan_text
from vrrpwatch.watch.catalogue import Severity

RESEND_S = 30.0  # the issue asks for at least every 60 s
TICK_S = 1.0
QUEUE_MAX = 1000
TIMEOUT_S = 5.0
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
JOB = "vrrpwatch"

log = logging.getLogger("vrrpwatch.alertmanager")

AlertKey = tuple[tuple[str, str], ...]


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_labels(ep: Episode) -> dict[str, str]:
    """alertname, severity, vlan, family, vrid, protocol (HSRP and CARP only), source, job
    (vlan left out when untagged, as Prometheus and Alertmanager treat an empty label as no
    label)."""
    a = ep.alert
    labels = {"alertname": str(a.kind), "severity": str(a.severity)}
    if a.key is not None:
        vlan = vlan_text(a.key.vlan)
        if vlan:
            labels["vlan"] = vlan
        labels["family"] = str(a.key.family)
        labels["vrid"] = str(a.key.vrid)
        if a.key.protocol != "vrrp":
            # An HSRP group or CARP vhid may share VLAN, family and id with a VRRP router:
            # its alerts must not merge with the router's (VRRP's labels stay as they were).
            labels["protocol"] = str(a.key.protocol)
    if a.source is not None:
        labels["source"] = a.source
    labels["job"] = JOB
    return labels


def alert_document(ep: Episode, sensor: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "labels": alert_labels(ep),
        "annotations": {"summary": ep.alert.message, "sensor": sensor},
        "startsAt": rfc3339(ep.starts_at),
    }
    if ep.ends_at is not None:
        doc["endsAt"] = rfc3339(ep.ends_at)
    return doc


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r}: expected http://HOST:PORT")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{url!r}: bad port") from None
    return url.rstrip("/")


class _Target:
    """One Alertmanager: a bounded queue of alert documents and the thread that sends them."""

    def __init__(self, url: str, *, queue_max: int, timeout_s: float) -> None:
        self.url = url
        self.endpoint = url + "/api/v2/alerts"
        self.queue_max = queue_max
        self.timeout_s = timeout_s
        self.pending: OrderedDict[AlertKey, dict[str, Any]] = OrderedDict()
        self.sent = 0
        self.errors = 0
        self.dropped = 0
        self._drop_logged = False
        self._failing = False
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"alertmanager {url}", daemon=True)

    def put(self, docs: Sequence[dict[str, Any]]) -> None:
        with self._cond:
            for doc in docs:
                self._put(doc)
            self._cond.notify()

    def _put(self, doc: dict[str, Any]) -> None:
        k: AlertKey = tuple(sorted(doc["labels"].items()))
        self.pending.pop(k, None)
        self.pending[k] = doc
        while len(self.pending) > self.queue_max:
            self.pending.popitem(last=False)
            self.dropped += 1
            if not self._drop_logged:
                self._drop_logged = True
                log.warning(
                    "alertmanager %s: queue full (%d alerts), dropping the oldest; "
                    "vrrpwatch_alertmanager_dropped_total counts them",
                    self.url,
                    self.queue_max,
                )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=self.timeout_s + 1)

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._cond:
                resume = _time.monotonic() + backoff
                while backoff and not self._stopping and _time.monotonic() < resume:
                    self._cond.wait(resume - _time.monotonic())
                while not self.pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                batch = list(self.pending.items())
                self.pending.clear()
            if self._send([doc for _k, doc in batch]):
                backoff = 0.0
            else:
                with self._cond:
                    for k, doc in reversed(batch):
                        if k not in self.pending:  # a newer state of it was queued meanwhile
                            self.pending[k] = doc
                            self.pending.move_to_end(k, last=False)
                    while len(self.pending) > self.queue_max:
                        self.pending.popitem(last=False)
                        self.dropped += 1
                backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, backoff * 2))

    def _send(self, docs: list[dict[str, Any]]) -> bool:
        req = urllib.request.Request(
            self.endpoint,
            data=json.dumps(docs).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                resp.read()
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
            self.errors += 1
            if not self._failing:
                self._failing = True
                log.warning("alertmanager %s: cannot send (%s); retrying", self.url, exc)
            return False
        if self._failing:
            self._failing = False
            log.warning("alertmanager %s: sending again", self.url)
        self.sent += len(docs)
        return True


class AlertPusher:
    """Follows the episode book and feeds every Alertmanager's queue."""

    def __init__(
        self,
        book: EpisodeBook,
        urls: Sequence[str],
        *,
        min_severity: str = "warning",
        sensor: str = "",
        clock: Callable[[], float] = _time.time,
        resend_s: float = RESEND_S,
        tick_s: float = TICK_S,
        queue_max: int = QUEUE_MAX,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.book = book
        try:
            self.min_severity = Severity.parse(min_severity)
        except KeyError:
            raise ValueError(
                f"--alertmanager-severity {min_severity!r}: expected info, warning or critical"
            ) from None
        self.targets = [
            _Target(check_url(u), queue_max=queue_max, timeout_s=timeout_s) for u in urls
        ]
        self.sensor = sensor
        self.clock = clock
        self.resend_s = resend_s
        self.tick_s = tick_s
        self._seq = 0
        self._last_sent: dict[tuple[Any, ...], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert pusher", daemon=True)

    def start(self) -> None:
        for t in self.targets:
            t.start()
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for t in self.targets:
            t.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.step(self.clock())

    def step(self, now: float) -> list[dict[str, Any]]:
        """Queue what changed by ``now``; returns the documents queued."""
        self.book.advance(now)
        docs = []
        self._seq, ended = self.book.ended_since(self._seq)
        for ep in ended:
            if ep.alert.severity >= self.min_severity:
                self._last_sent.pop(ep.ident, None)
                docs.append(alert_document(ep, self.sensor))
        for ep in self.book.open():
            if ep.alert.severity < self.min_severity:
                continue
            last = self._last_sent.get(ep.ident)
            if last is None or now - last >= self.resend_s:
                self._last_sent[ep.ident] = now
                docs.append(alert_document(ep, self.sensor))
        if docs:
            for t in self.targets:
                t.put(docs)
        return docs

    def metrics(self) -> Iterator[Metric]:
        lab = ["alertmanager"]
        sent = CounterMetricFamily(
            "vrrpwatch_alertmanager_sent", "Alerts Alertmanager accepted.", labels=lab
        )
        errors = CounterMetricFamily(
            "vrrpwatch_alertmanager_errors", "Failed sends (retried with backoff).", labels=lab
        )
        dropped = CounterMetricFamily(
            "vrrpwatch_alertmanager_dropped",
            "Alerts dropped from a full queue while Alertmanager was unreachable.",
            labels=lab,
        )
        queued = GaugeMetricFamily(
            "vrrpwatch_alertmanager_queue", "Alerts waiting to be sent.", labels=lab
        )
        for t in self.targets:
            sent.add_metric([t.url], t.sent)
            errors.add_metric([t.url], t.errors)
            dropped.add_metric([t.url], t.dropped)
            queued.add_metric([t.url], len(t.pending))
        yield from (sent, errors, dropped, queued)
