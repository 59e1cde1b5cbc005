"""Raising alerts through the catalogue, and the episodes they open and close.

``AlertBook.raise_alert`` is the only way an alert is made: the severity comes from the
catalogue entry, and an alert that is raised once per episode (kind, router, source) is not
raised again while its episode is open. An episode ends as its entry says (``Ends``): the rules
that see the end call ``resolve``; ``expire(now)`` ends the ones that end with time (a hold, a
source or one of two masters falling silent). Each end is an ``AlertResolved`` event, and
``open_episodes()`` lists what is still open, so metrics and alert delivery can follow both.

``analyze`` never calls ``expire`` (a file has no "now"): there an episode only ends on an
event, and an alert is raised at most once per (kind, router, source) in a run.

``expire`` looks only at the episodes that may have ended: those of a hold or a silent source
wait in a heap by the earliest time they can end, and only those due are judged (sniff calls
it ten times a second, and a flood of takeovers or of sources opens an episode per advert);
split-brain's, which end when either master falls silent, are few and judged every time.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import NamedTuple

from vrrpwatch.rfc import master_down_interval
from vrrpwatch.watch.catalogue import CATALOGUE, AlertKind, Ends, Severity
from vrrpwatch.watch.model import (
    Advertiser,
    Alert,
    AlertResolved,
    Event,
    EventLog,
    ObservedRouter,
    RouterKey,
    new_alert,
)

# How often at most ``expire`` judges an open episode that a silent source ends (seconds).
RECHECK_S = 1.0

# How many sources of discarded adverts the book remembers (their alerts' ends).
DISCARDED_SOURCES = 4096

EpisodeId = tuple[str, RouterKey | None, str | None]


class Episode(NamedTuple):
    alert: Alert  # the alert that opened it
    ident: EpisodeId
    peer: str | None = None  # split-brain: the other master


class AlertBook:
    """Every alert of a run (``alerts``, in order) and the episodes still open."""

    def __init__(self) -> None:
        self.alerts: EventLog[Alert] = EventLog()
        self.source: str | None = None  # the capture file being read (analyze)
        self._open: dict[EpisodeId, Episode] = {}
        self._serial = 0
        # (router, source) -> when its latest discarded advert was seen (RFC 5798 section 7.1:
        # every receiver drops it, so the source is no advertiser of the router); its alerts
        # end when it has been silent as long as an advertiser's do. Bounded: a flood from
        # distinct sources keeps at most DISCARDED_SOURCES (the oldest are forgotten).
        self.discarded: dict[tuple[RouterKey, str], float] = {}
        # Kept from the first ``expire`` on (analyze never calls it: there they would only grow):
        # (earliest end, raise order, episode) of the episodes that end with a hold or a silent
        # source; an entry whose episode ended otherwise is dropped when due
        self._due: list[tuple[float, int, Episode]] = []
        # the episodes that end when one of two masters falls silent, by raise order
        self._watched: dict[EpisodeId, tuple[int, Episode]] = {}
        self._raised = 0
        self._timed = False

    def is_open(self, kind: AlertKind, key: RouterKey | None, source: str | None) -> bool:
        return (kind, key, source) in self._open

    def any_open(self, kind: AlertKind, key: RouterKey | None) -> bool:
        """Whether an episode of ``kind`` is open for ``key``, whatever its source."""
        return any(ep.alert.kind is kind and ep.alert.key == key for ep in self._open.values())

    def raise_alert(
        self,
        events: list[Event],
        kind: AlertKind,
        key: RouterKey | None,
        source: str | None,
        time: float,
        frame: int,
        message: str,
        *,
        severity: Severity | None = None,
        episode_extra: str = "",
        peer: str | None = None,
        file: str | None = None,
    ) -> None:
        """Raise ``kind`` unless its episode is open. ``severity`` only picks one of the
        severities the entry allows; ``episode_extra`` splits episodes further (priority-255
        per severity, master-flap per window); ``file`` is the capture file of ``frame`` when
        it is not the one being read."""
        entry = CATALOGUE[kind]
        if severity is None:
            severity = entry.severity
        elif severity not in entry.allowed():
            raise ValueError(f"{kind}: severity {severity} is not in the catalogue")
        ident: EpisodeId
        if entry.each_event:
            self._serial += 1
            ident = (f"{kind}#{self._serial}", key, source)
        else:
            ident = (kind + episode_extra, key, source)
            if ident in self._open:
                return
        alert = new_alert(kind, severity, key, source, time, frame, message, file or self.source)
        episode = self._open[ident] = Episode(alert, ident, peer)
        if self._timed:
            self._schedule(episode)
        self.alerts.append(alert)
        events.append(alert)

    def resolve(
        self,
        events: list[Event],
        now: float,
        kind: AlertKind,
        key: RouterKey | None,
        source: str | None = None,
    ) -> None:
        """End the open episodes of ``kind`` for ``key`` (and ``source``, when given)."""
        for ident, ep in list(self._open.items()):
            a = ep.alert
            if a.kind is kind and a.key == key and (source is None or a.source == source):
                del self._open[ident]
                events.append(AlertResolved(alert=a, time=now))

    def _schedule(self, ep: Episode) -> None:
        """File a new open episode for ``expire`` by how it ends with time (if it does)."""
        self._raised += 1
        alert = ep.alert
        entry = CATALOGUE[alert.kind]
        if entry.ends is Ends.AFTER_HOLD:
            assert entry.hold_s is not None
            heapq.heappush(self._due, (alert.time + entry.hold_s, self._raised, ep))
        elif entry.ends is Ends.SOURCE_SILENT:
            if alert.key is not None and alert.source is not None:  # (else it never ends)
                heapq.heappush(self._due, (alert.time, self._raised, ep))
        elif entry.ends is Ends.ONE_MASTER_LEFT:
            self._watched[ep.ident] = (self._raised, ep)

    def expire(
        self, now: float, routers: Mapping[RouterKey, ObservedRouter], events: list[Event]
    ) -> None:
        """End the episodes whose end is a matter of time (live monitoring), in the order they
        were raised. Only the due ones are judged: one not over yet is due again at the
        earliest time it can be (its source's last advert plus the hold)."""
        if not self._timed:  # the first call: what is open so far, in the order raised
            self._timed = True
            for ep in self._open.values():
                self._schedule(ep)
        is_open = self._open.get
        ended: list[tuple[int, Episode]] = []
        later: list[tuple[float, int, Episode]] = []
        due = self._due
        while due and due[0][0] <= now:
            entry = heapq.heappop(due)
            ep = entry[2]
            if is_open(ep.ident) is not ep:
                continue  # ended on an event, or by ``resolve``
            if _over(ep, now, routers, self.discarded):
                ended.append((entry[1], ep))
            else:
                later.append((_next_check(ep, now, routers, self.discarded), entry[1], ep))
        for entry in later:
            heapq.heappush(due, entry)
        for ident, (order, ep) in list(self._watched.items()):
            if is_open(ident) is not ep:
                del self._watched[ident]
            elif _over(ep, now, routers, self.discarded):
                del self._watched[ident]
                ended.append((order, ep))
        ended.sort(key=lambda item: item[0])
        for _, ep in ended:
            del self._open[ep.ident]
            events.append(AlertResolved(alert=ep.alert, time=now))

    def heard_discarded(self, key: RouterKey, source: str, time: float) -> None:
        """A discarded advert from ``source`` for ``key`` (see ``discarded``)."""
        table = self.discarded
        table.pop((key, source), None)
        table[(key, source)] = time
        if len(table) > DISCARDED_SOURCES:
            del table[next(iter(table))]

    def open_episodes(self) -> list[Episode]:
        return list(self._open.values())


def _silent_for_mdi(a: Advertiser | None, now: float) -> bool:
    # RFC 5798 section 6.4.2: a router that hears nothing for Master_Down_Interval (at
    # priority 1, the longest) takes the master for gone.
    # HSRP and CARP advertisers carry their own rule (``Advertiser.down_s``).
    if a is None:
        return True
    if a.down_s is not None:
        return now - a.last_seen > a.down_s
    return now - a.last_seen > master_down_interval(1, a.interval_s, a.version)


def _source_heard(
    alert: Alert,
    routers: Mapping[RouterKey, ObservedRouter],
    discarded: Mapping[tuple[RouterKey, str], float],
) -> tuple[float | None, bool]:
    """When the alert's source was last heard (an advert or a discarded one), and whether its
    router is known (a source of a known router that is heard of no more was forgotten)."""
    assert alert.key is not None and alert.source is not None
    heard = discarded.get((alert.key, alert.source))
    vr = routers.get(alert.key)
    a = vr.advertisers.get(alert.source) if vr is not None else None
    if a is not None:
        heard = a.last_seen if heard is None else max(heard, a.last_seen)
    return heard, vr is not None


def _next_check(
    ep: Episode,
    now: float,
    routers: Mapping[RouterKey, ObservedRouter],
    discarded: Mapping[tuple[RouterKey, str], float],
) -> float:
    """When an episode that is not over at ``now`` is next judged: a silent source's once its
    last advert is a hold old, or RECHECK_S from now if that is sooner, since the source may be
    forgotten meanwhile (a flood of sources: the monitor keeps 64 per router), which ends its
    episodes at once; so open episodes of a flood's forgotten sources number at most what
    RECHECK_S of the flood opens, and each open one is judged at most once per RECHECK_S."""
    alert = ep.alert
    entry = CATALOGUE[alert.kind]
    if entry.ends is Ends.SOURCE_SILENT and entry.hold_s is not None:
        heard, _ = _source_heard(alert, routers, discarded)
        if heard is not None and heard + entry.hold_s >= now:
            return min(heard + entry.hold_s, now + RECHECK_S)
    return now + RECHECK_S


def _over(
    ep: Episode,
    now: float,
    routers: Mapping[RouterKey, ObservedRouter],
    discarded: Mapping[tuple[RouterKey, str], float],
) -> bool:
    alert = ep.alert
    entry = CATALOGUE[alert.kind]
    if entry.ends is Ends.AFTER_HOLD:
        assert entry.hold_s is not None
        return now - alert.time >= entry.hold_s
    if entry.ends is Ends.SOURCE_SILENT:
        assert entry.hold_s is not None
        if alert.key is None or alert.source is None:
            return False
        heard, known = _source_heard(alert, routers, discarded)
        if heard is None:
            return known
        return now - heard > entry.hold_s
    if entry.ends is Ends.ONE_MASTER_LEFT:
        vr = routers.get(alert.key) if alert.key is not None else None
        if vr is None or alert.source is None or ep.peer is None:
            return False
        return _silent_for_mdi(vr.advertisers.get(alert.source), now) or _silent_for_mdi(
            vr.advertisers.get(ep.peer), now
        )
    return False  # ADVERTS_RESUME and INTERFACE_UP end on their event
