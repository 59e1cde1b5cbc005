"""``sniff --metrics ADDR:PORT``: the monitor's state as Prometheus metrics.

A custom collector builds every family at scrape time from what the monitor and the sniffer
already keep (advertisers, transitions, ``Monitor.alerts``, per-interface counters), so the
packet loop does no metric work. The per-router families (most of the series) are written as
text from label strings kept across scrapes (``ops.routers``, ``ops.exposition``); the rest are
prometheus-client families. The HTTP server is prometheus-client's, in its own daemon
threads; a scrape reads the monitor's dicts through atomic copies and never takes a lock the
packet loop waits on.

Names follow the Prometheus conventions and are a contract (add, never rename): all start with
``vrrpwatch_``, times are ``_seconds``, counters ``_total``, enums are state sets (one series
per state, 0 or 1) and no counter carries a ``state`` label. ``vlan`` is the text of the
database's ``vlan`` column (``store.rows.vlan_column``: ``""`` untagged, ``"10"``, ``"100.10"``).
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.exposition import Part, TextFamily, collect_parts
from vrrpwatch.ops.groups import CAUSES as GROUP_CAUSES
from vrrpwatch.ops.groups import CLAIMS as GROUP_CLAIMS
from vrrpwatch.ops.groups import GROUPS
from vrrpwatch.ops.routers import RouterFamilies

# MetricsServer, parse_listen and registry_for are shared with join --metrics (ops.server);
# they stay importable from here.
from vrrpwatch.ops.server import MetricsError as MetricsError
from vrrpwatch.ops.server import MetricsServer as MetricsServer
from vrrpwatch.ops.server import build_info
from vrrpwatch.ops.server import parse_listen as parse_listen
from vrrpwatch.ops.server import registry_for as registry_for
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.model import ObservedRouter, RouterKey, TransitionCause
from vrrpwatch.watch.monitor import Monitor

# every cause but first-seen (the first master is no change)
CHANGE_CAUSES = tuple(str(c) for c in TransitionCause if c is not TransitionCause.FIRST_SEEN)
# Failover gaps: keepalived's 1 s default gives 3.6-4 s, sub-second adverts give tenths.
FAILOVER_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 3.5, 4.0, 5.0, 7.5, 10.0, 20.0, 60.0)
# The gap minus the RFC's Skew_Time / Master_Down_Interval: around 0 on time, late above.
EXCESS_BUCKETS_S = (-1.0, -0.5, -0.1, 0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
# A takeover is final once no better backup replaced it within one advert interval (the
# monitor's settling rule); this much more for the packet that may still be in the queue.
SETTLE_SLACK_S = 1.0


class _Socket(Protocol):
    name: str
    drops: int


class _Sniffer(Protocol):
    sockets: list[Any]
    monitor: Monitor
    frames_by_interface: dict[str, int]
    malformed_by_interface: dict[str, int]


class SnifferInterfaces:
    """What the collector reads of the sniffer (``watch.live.Sniffer``): its per-interface
    counters, and the sockets it started with (a removed interface keeps its last counts and
    reads as down)."""

    def __init__(self, sniffer: _Sniffer) -> None:
        self.sniffer = sniffer
        self._sockets: list[_Socket] = list(sniffer.sockets)

    def rows(self) -> Iterator[tuple[str, int, int, int, bool]]:
        """(interface, frames, kernel drops, malformed, up)."""
        s = self.sniffer
        frames = dict(s.frames_by_interface)
        bad = dict(s.malformed_by_interface)
        down = set(s.monitor.links.down)
        live = {id(x) for x in list(s.sockets)}
        for sock in self._sockets:
            name = sock.name
            up = id(sock) in live and name not in down
            yield name, frames.get(name, 0), sock.drops, bad.get(name, 0), up


@dataclass(slots=True)
class _Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.bounds)

    def observe(self, value: float) -> None:
        for i, b in enumerate(self.bounds):
            if value <= b:
                self.counts[i] += 1
        self.total += value
        self.n += 1

    def buckets(self) -> list[tuple[str, float]]:
        out = [(_float(b), float(c)) for b, c in zip(self.bounds, self.counts, strict=True)]
        out.append(("+Inf", float(self.n)))
        return out


def _float(v: float) -> str:
    return repr(float(v))


@dataclass(slots=True)
class _Counted:
    """What the timeline has counted of one router (by key: a router forgotten and seen again
    carries on from its counts)."""

    done: int = 0  # absolute position in its transitions up to which they were counted
    changes: dict[str, int] = field(default_factory=dict)  # cause -> count
    total: int = 0  # all causes


class _Timeline:
    """Counters and histograms of settled transitions, read from the routers' timelines at
    scrape time (each transition is counted once, when it can no longer be replaced)."""

    def __init__(self) -> None:
        self.counted: dict[RouterKey, _Counted] = {}
        self.causes: set[str] = set()
        self.failover = _Histogram(FAILOVER_BUCKETS_S)
        self.excess = _Histogram(EXCESS_BUCKETS_S)
        self._aligned: list[_Counted] = []  # the routers' entries in scrape order
        self._version = -1

    def aligned(self, routers: Sequence[ObservedRouter], version: int) -> list[_Counted]:
        """The entries of ``routers`` in their order, looked up again only when the routers
        changed (``version``, ``RouterFamilies.version``)."""
        if version != self._version:
            self._version = version
            self._aligned = [self.counted.setdefault(vr.key, _Counted()) for vr in routers]
        return self._aligned

    def update(self, routers: Sequence[ObservedRouter], now: float, version: int) -> None:
        for vr, counted in zip(routers, self.aligned(routers, version), strict=True):
            # Absolute positions: retention drops the oldest transitions (``trimmed``), a
            # settling takeover may pop the newest. What was trimmed uncounted is skipped.
            log = vr.transitions  # one log: a trim replaces it (watch.model.EventLog)
            off = log.trimmed
            n = off + len(log)
            done = max(off, min(counted.done, n))
            if done == n:  # nothing new (most routers at most scrapes): no copy
                counted.done = done
                continue
            timeline = list(log)  # one log, copied at once
            n = off + len(timeline)
            done = min(done, n)
            while done < n:
                t = timeline[done - off]
                if done == n - 1:
                    cur = vr.advertisers.get(t.new)
                    settle = (cur.interval_s if cur is not None else 1.0) + SETTLE_SLACK_S
                    if now - t.time <= settle:
                        break  # a better backup may still take this takeover over
                done += 1
                if t.old is None:
                    continue  # first-seen is no change
                counts = counted.changes
                cause = str(t.cause)
                counts[cause] = counts.get(cause, 0) + 1
                counted.total += 1
                self.causes.add(cause)
                # A failover is a takeover the RFC times (resigned: Skew_Time, silent:
                # Master_Down_Interval); a preemption's gap is only the adverts' phase.
                if t.gap_ms is not None and t.expected_ms is not None:
                    self.failover.observe(t.gap_ms / 1000)
                    self.excess.observe((t.gap_ms - t.expected_ms) / 1000)
            counted.done = done


class SniffCollector(Collector):
    """Every ``vrrpwatch_*`` family of a sniff run, built from the monitor at scrape time: the
    per-router ones as text (``routers.RouterFamilies``), the rest as prometheus-client
    ``Metric`` objects (``parts()``, what ``exposition.make_app`` serves; ``collect()`` gives
    them all as ``Metric``)."""

    def __init__(
        self,
        monitor: Monitor,
        book: EpisodeBook,
        interfaces: SnifferInterfaces | None = None,
        *,
        clock: Callable[[], float] = _time.time,
        extra: Callable[[], Iterator[Metric]] | None = None,
    ) -> None:
        self.monitor = monitor
        self.book = book
        self.interfaces = interfaces
        self.clock = clock
        self.extra = extra
        self._timeline = _Timeline()
        self._routers = RouterFamilies()
        self._groups = RouterFamilies(GROUPS, GROUP_CLAIMS)
        self._group_timeline = _Timeline()  # its histograms unused: those are VRRP's
        self._alerts_done = 0
        self._alerts: dict[tuple[str, str], int] = {}
        # Families kept while what they show is unchanged: (what they were built for, them).
        self._histograms_of: tuple[tuple[int, int], list[Metric]] = ((-1, -1), [])
        self._alert_families_of: tuple[tuple[int, int], list[Metric]] = ((-1, -1), [])
        self._lock = threading.Lock()  # between scrapes only; the packet loop never takes it

    def collect(self) -> Iterator[Metric]:
        yield from collect_parts(self.parts())

    def parts(self) -> list[Part]:
        with self._lock:
            return self._parts(self.clock())

    def _parts(self, now: float) -> list[Part]:
        out: list[Part] = [build_info()]
        fams = self._routers
        routers = fams.sorted_routers(self.monitor.routers)
        self.book.advance(now)
        split = self.book.open_keys(AlertKind.SPLIT_BRAIN)
        tl = self._timeline
        tl.update(routers, now, fams.version)
        # Every cause of every router from 0 on, so increase() sees a router's first change.
        causes = [*CHANGE_CAUSES, *sorted(tl.causes - set(CHANGE_CAUSES))]
        changes = tl.aligned(routers, fams.version)
        out += fams.families(routers, now, split, changes, {"vrrp": causes})
        out += self._group_families(now, split)
        out += self._histograms()
        out += self._alert_families()
        if self.interfaces is not None:
            out += self._interface_families(self.interfaces)
        if self.extra is not None:
            out += self.extra()
        return out

    def _group_families(self, now: float, split: Set[RouterKey | None]) -> list[TextFamily]:
        """HSRP groups and CARP vhids (``ops.groups``); nothing while there is none."""
        fams = self._groups
        groups = fams.sorted_routers(self.monitor.routers)
        if not groups:
            return []
        tl = self._group_timeline
        tl.update(groups, now, fams.version)
        # a cause no protocol is known to give (none today) shows for every group
        unknown = sorted(tl.causes.difference(*GROUP_CAUSES.values()))
        causes = {p: [*c, *unknown] for p, c in GROUP_CAUSES.items()}
        return fams.families(groups, now, split, tl.aligned(groups, fams.version), causes)

    def _histograms(self) -> list[Metric]:
        """Both histograms; the same ``Metric`` objects while nothing was observed (the fast
        writer keeps the lines of an object it has written: ``exposition.render``)."""
        tl = self._timeline
        seen = (tl.failover.n, tl.excess.n)
        if seen != self._histograms_of[0]:
            self._histograms_of = (seen, [
                self._histogram(name, hist, text) for name, hist, text in (
                    (
                        "vrrpwatch_failover_seconds",
                        tl.failover,
                        "Measured failover gaps (a backup taking over from a resigned or silent "
                        "master): the old master's last advert to the new one's first.",
                    ),
                    (
                        "vrrpwatch_failover_excess_seconds",
                        tl.excess,
                        "Failover gap minus the RFC's expectation (Skew_Time after a resignation, "
                        "Master_Down_Interval after silence): above 0 is slower than the RFC "
                        "allows.",
                    ),
                )
            ])  # fmt: skip
        return self._histograms_of[1]

    @staticmethod
    def _histogram(name: str, hist: _Histogram, text: str) -> Metric:
        h = HistogramMetricFamily(name, text)
        h.add_metric([], hist.buckets(), hist.total)
        return h

    def _alert_families(self) -> list[Metric]:
        """The alert counters and the open episodes; the same objects while neither changed."""
        alerts = self.monitor.alerts
        new = alerts.since(self._alerts_done)
        self._alerts_done = alerts.total
        for a in new:
            k = (str(a.kind), str(a.severity))
            self._alerts[k] = self._alerts.get(k, 0) + 1
        seen = (sum(self._alerts.values()), self.book.version)
        if seen == self._alert_families_of[0]:
            return self._alert_families_of[1]
        total = CounterMetricFamily(
            "vrrpwatch_alerts", "Alerts raised, by kind and severity.", labels=["kind", "severity"]
        )
        for (kind, sev), n in sorted(self._alerts.items()):
            total.add_metric([kind, sev], n)
        opened = GaugeMetricFamily(
            "vrrpwatch_alerts_open",
            "Alert episodes open now, by kind (one-shot kinds stay open a fixed time).",
            labels=["kind"],
        )
        counts = self.book.open_counts()
        for kind in sorted({k for k, _s in self._alerts} | set(counts)):
            opened.add_metric([kind], counts.get(kind, 0))
        self._alert_families_of = (seen, [total, opened])
        return [total, opened]

    def _interface_families(self, s: SnifferInterfaces) -> Iterator[Metric]:
        il = ["interface"]
        packets = CounterMetricFamily(
            "vrrpwatch_packets", "Frames captured (past the kernel filter).", labels=il
        )
        drops = CounterMetricFamily(
            "vrrpwatch_kernel_drops",
            "Frames the kernel dropped because the socket buffer was full.",
            labels=il,
        )
        malformed = CounterMetricFamily(
            "vrrpwatch_malformed", "Frames that look like VRRP but cannot be decoded.", labels=il
        )
        up = GaugeMetricFamily(
            "vrrpwatch_interface_up", "1 while the interface is up and sniffed.", labels=il
        )
        for name, n_frames, n_drops, n_bad, is_up in s.rows():
            packets.add_metric([name], n_frames)
            drops.add_metric([name], n_drops)
            malformed.add_metric([name], n_bad)
            up.add_metric([name], 1 if is_up else 0)
        yield from (packets, drops, malformed, up)
