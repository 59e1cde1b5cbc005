"""The sniff collector as main served it before it rendered its own text (commit d13b8ce,
vrrpwatch/ops/metrics.py), kept unchanged as the oracle the new one is compared with: every
family built as prometheus-client ``Metric`` objects at scrape time and rendered by
prometheus-client. Do not "fix" it; a difference from it is a change of the metrics contract."""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from vrrpwatch import __version__
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.metrics import SnifferInterfaces
from vrrpwatch.store.rows import vlan_column as vlan_text
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.model import ObservedRouter, RouterKey, TransitionCause
from vrrpwatch.watch.monitor import Monitor

ROUTER_STATES = ("ok", "lost", "resigned", "split-brain")
# every cause but first-seen (the first master is no change)
CHANGE_CAUSES = tuple(str(c) for c in TransitionCause if c is not TransitionCause.FIRST_SEEN)
# Failover gaps: keepalived's 1 s default gives 3.6-4 s, sub-second adverts give tenths.
FAILOVER_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 3.5, 4.0, 5.0, 7.5, 10.0, 20.0, 60.0)
# The gap minus the RFC's Skew_Time / Master_Down_Interval: around 0 on time, late above.
EXCESS_BUCKETS_S = (-1.0, -0.5, -0.1, 0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
# A takeover is final once no better backup replaced it within one advert interval (the
# monitor's settling rule); this much more for the packet that may still be in the queue.
SETTLE_SLACK_S = 1.0


def build_info() -> GaugeMetricFamily:
    """``vrrpwatch_build_info{version}``: 1 (ops/server.py at d13b8ce)."""
    info = GaugeMetricFamily(
        "vrrpwatch_build_info", "vrrpwatch's version; always 1.", labels=["version"]
    )
    info.add_metric([__version__], 1)
    return info


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


def _router_labels(key: RouterKey) -> list[str]:
    return [vlan_text(key.vlan), str(key.family), str(key.vrid)]


class _Timeline:
    """Counters and histograms of settled transitions, read from the routers' timelines at
    scrape time (each transition is counted once, when it can no longer be replaced)."""

    def __init__(self) -> None:
        self.done: dict[RouterKey, int] = {}
        self.changes: dict[tuple[RouterKey, str], int] = {}
        self.failover = _Histogram(FAILOVER_BUCKETS_S)
        self.excess = _Histogram(EXCESS_BUCKETS_S)

    def update(self, routers: Sequence[ObservedRouter], now: float) -> None:
        for vr in routers:
            # Absolute positions: retention drops the oldest transitions (``trimmed``), a
            # settling takeover may pop the newest. What was trimmed uncounted is skipped.
            log = vr.transitions
            off, timeline = log.trimmed, list(log)  # one log, copied at once
            n = off + len(timeline)
            done = max(off, min(self.done.get(vr.key, 0), n))
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
                k = (vr.key, str(t.cause))
                self.changes[k] = self.changes.get(k, 0) + 1
                # A failover is a takeover the RFC times (resigned: Skew_Time, silent:
                # Master_Down_Interval); a preemption's gap is only the adverts' phase.
                if t.gap_ms is not None and t.expected_ms is not None:
                    self.failover.observe(t.gap_ms / 1000)
                    self.excess.observe((t.gap_ms - t.expected_ms) / 1000)
            self.done[vr.key] = done


class OldSniffCollector(Collector):
    """Every ``vrrpwatch_*`` family of a sniff run, built from the monitor at scrape time."""

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
        self._alerts_done = 0
        self._alerts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()  # between scrapes only; the packet loop never takes it

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            yield from self._collect(self.clock())

    def _collect(self, now: float) -> Iterator[Metric]:
        yield build_info()
        routers = [vr for _k, vr in sorted(list(self.monitor.routers.items()))]
        self.book.advance(now)
        yield from self._routers(routers, now)
        yield from self._changes(routers, now)
        yield from self._alert_families()
        if self.interfaces is not None:
            yield from self._interface_families(self.interfaces)
        if self.extra is not None:
            yield from self.extra()

    def _routers(self, routers: list[ObservedRouter], now: float) -> Iterator[Metric]:
        rl = ["vlan", "family", "vrid"]
        al = [*rl, "address"]
        master = GaugeMetricFamily(
            "vrrpwatch_advertiser_master",
            "1 for the advertiser followed as the router's master, 0 for the others seen.",
            labels=al,
        )
        prio = GaugeMetricFamily(
            "vrrpwatch_advertiser_priority",
            "Priority of the advertiser's latest advert.",
            labels=al,
        )
        adverts = CounterMetricFamily(
            "vrrpwatch_adverts", "Adverts received from the advertiser.", labels=al
        )
        masters = GaugeMetricFamily(
            "vrrpwatch_router_masters",
            "Sources currently advertising (priority > 0, within 1.5 of their intervals): "
            "2 or more is split brain, 0 means no master.",
            labels=rl,
        )
        # A state set with a ``state`` label (prometheus-client's StateSetMetricFamily would
        # name the label after the metric): one series per state, exactly one of them 1.
        state = GaugeMetricFamily(
            "vrrpwatch_router_state",
            "The router's state, one series per state: ok, lost (master-lost open), resigned "
            "(the master's latest advert had priority 0) or split-brain (an episode is open).",
            labels=[*rl, "state"],
        )
        last = GaugeMetricFamily(
            "vrrpwatch_router_last_advert_timestamp_seconds",
            "When the master's latest advert arrived (Unix time).",
            labels=rl,
        )
        interval = GaugeMetricFamily(
            "vrrpwatch_router_interval_seconds",
            "The master's advertisement interval.",
            labels=rl,
        )
        split = {ep.alert.key for ep in self.book.open() if ep.kind is AlertKind.SPLIT_BRAIN}
        for vr in routers:
            labels = _router_labels(vr.key)
            n = 0
            for a in list(vr.advertisers.values()):
                lab = [*labels, a.address]
                master.add_metric(lab, 1 if a.address == vr.master else 0)
                prio.add_metric(lab, a.last_priority)
                adverts.add_metric(lab, a.adverts)
                if a.last_priority > 0 and now - a.last_seen <= a.silence_s:
                    n += 1
            masters.add_metric(labels, n)
            st = (
                "split-brain"
                if vr.key in split
                else "lost"
                if vr.lost
                else "resigned"
                if vr.resigned or vr.master is None
                else "ok"
            )
            for s in ROUTER_STATES:
                state.add_metric([*labels, s], 1 if s == st else 0)
            cur = vr.current
            if cur is not None:
                last.add_metric(labels, cur.last_seen)
                interval.add_metric(labels, cur.interval_s)
        yield from (master, masters, state, last, interval, prio, adverts)

    def _changes(self, routers: list[ObservedRouter], now: float) -> Iterator[Metric]:
        tl = self._timeline
        tl.update(routers, now)
        changes = CounterMetricFamily(
            "vrrpwatch_master_changes",
            "Master changes (first masters not counted), by cause: resigned, silent, preempted.",
            labels=["vlan", "family", "vrid", "cause"],
        )
        # Every cause of every router from 0 on, so increase() sees a router's first change.
        causes = [*CHANGE_CAUSES, *sorted({c for _k, c in tl.changes} - set(CHANGE_CAUSES))]
        for vr in routers:
            labels = _router_labels(vr.key)
            for cause in causes:
                changes.add_metric([*labels, cause], tl.changes.get((vr.key, cause), 0))
        yield changes
        for name, hist, text in (
            (
                "vrrpwatch_failover_seconds",
                tl.failover,
                "Measured failover gaps (a backup taking over from a resigned or silent master): "
                "the old master's last advert to the new one's first.",
            ),
            (
                "vrrpwatch_failover_excess_seconds",
                tl.excess,
                "Failover gap minus the RFC's expectation (Skew_Time after a resignation, "
                "Master_Down_Interval after silence): above 0 is slower than the RFC allows.",
            ),
        ):
            h = HistogramMetricFamily(name, text)
            h.add_metric([], hist.buckets(), hist.total)
            yield h

    def _alert_families(self) -> Iterator[Metric]:
        alerts = self.monitor.alerts
        new = alerts.since(self._alerts_done)
        self._alerts_done = alerts.total
        for a in new:
            k = (str(a.kind), str(a.severity))
            self._alerts[k] = self._alerts.get(k, 0) + 1
        total = CounterMetricFamily(
            "vrrpwatch_alerts", "Alerts raised, by kind and severity.", labels=["kind", "severity"]
        )
        for (kind, sev), n in sorted(self._alerts.items()):
            total.add_metric([kind, sev], n)
        yield total
        opened = GaugeMetricFamily(
            "vrrpwatch_alerts_open",
            "Alert episodes open now, by kind (one-shot kinds stay open a fixed time).",
            labels=["kind"],
        )
        counts = self.book.open_counts()
        for kind in sorted({k for k, _s in self._alerts} | set(counts)):
            opened.add_metric([kind], counts.get(kind, 0))
        yield opened

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
