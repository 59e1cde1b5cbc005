"""Alert episodes as the metrics and alert-delivery threads see them.

The monitor opens and ends episodes as the alert catalogue says (``watch.catalogue``: what
opens an episode, what ends it; ``watch.episodes.AlertBook`` applies it, ``Monitor.expire``
ends the ones that end with time). ``EpisodeBook`` follows that from another thread, without
the packet loop doing anything for it: each ``advance(now)`` copies the monitor's open
episodes (an atomic ``list`` of a dict's values) and the alerts raised since the last call
(``Monitor.alerts`` is append-only but for retention's trims, read from an absolute cursor
as the store does). An episode that was
open and is not any more ended by ``now``; an alert whose episode opened and ended between two
calls (an event-like kind) is reported ended at once.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass

from vrrpwatch.watch.catalogue import AlertKind, Severity
from vrrpwatch.watch.model import Alert, RouterKey
from vrrpwatch.watch.monitor import Monitor

ENDED_KEPT = 4096  # ended episodes kept for consumers that have not read them yet

Ident = tuple[str, Severity, RouterKey | None, str | None, float]


@dataclass(slots=True)
class Episode:
    alert: Alert  # the alert that opened it
    starts_at: float
    ends_at: float | None = None

    @property
    def ident(self) -> Ident:
        a = self.alert
        return (a.kind, a.severity, a.key, a.source, a.time)

    @property
    def kind(self) -> AlertKind:
        return self.alert.kind


class EpisodeBook:
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self._cursor = 0
        self._open: dict[Ident, Episode] = {}
        self._ended: deque[tuple[int, Episode]] = deque(maxlen=ENDED_KEPT)
        self._seq = 0
        self._lock = threading.Lock()
        # The monitor's open alerts at the last call: while they are the same (most calls),
        # nothing opened or ended, and the open episodes are not looked at one by one.
        self._seen: list[Alert] = []
        self._version = 0  # bumped when an episode opens or ends
        self._counts: tuple[int, dict[str, int]] = (-1, {})
        self._keys: dict[AlertKind, tuple[int, frozenset[RouterKey | None]]] = {}

    def advance(self, now: float) -> None:
        """Take the episodes opened and ended since the last call."""
        with self._lock:
            m = self.monitor
            alerts = m.alerts  # one log: a trim replaces it (watch.model.EventLog)
            new = alerts.since(self._cursor)
            self._cursor = alerts.total
            seen = [e.alert for e in m.open_episodes()]
            if seen != self._seen:  # the same Alert objects compare by identity: cheap
                self._seen = seen
                self._version += 1
                current = {ep.ident: ep for ep in (Episode(a, a.time) for a in seen)}
                for ident in [i for i in self._open if i not in current]:
                    self._close(self._open.pop(ident), now)
                for ident, ep in current.items():
                    self._open.setdefault(ident, ep)
            for a in new:
                ep = Episode(a, a.time)
                if ep.ident not in self._open:
                    self._close(ep, now)  # opened and ended since the last call

    @property
    def version(self) -> int:
        """Changes whenever an episode opens or ends."""
        return self._version

    def open(self) -> list[Episode]:
        with self._lock:
            return list(self._open.values())

    def open_counts(self) -> dict[str, int]:
        """Open episodes by kind (a copy, counted again only after a change)."""
        with self._lock:
            version, counts = self._counts
            if version != self._version:
                counts = {}
                for ep in self._open.values():
                    counts[str(ep.kind)] = counts.get(str(ep.kind), 0) + 1
                self._counts = (self._version, counts)
            return dict(counts)

    def open_keys(self, kind: AlertKind) -> frozenset[RouterKey | None]:
        """The routers with an episode of ``kind`` open."""
        with self._lock:
            version, keys = self._keys.get(kind, (-1, frozenset()))
            if version != self._version:
                keys = frozenset(ep.alert.key for ep in self._open.values() if ep.kind is kind)
                self._keys[kind] = (self._version, keys)
            return keys

    def ended_since(self, seq: int) -> tuple[int, list[Episode]]:
        """Episodes ended after sequence number ``seq``, and the sequence number to ask from
        next time (episodes beyond ENDED_KEPT are forgotten)."""
        with self._lock:
            ended = self._ended  # sequence numbers one after another, the newest last
            new = min(len(ended), max(0, self._seq - seq))
            return self._seq, [ep for _s, ep in itertools.islice(ended, len(ended) - new, None)]

    def _close(self, ep: Episode, when: float) -> None:
        self._version += 1
        ep.ends_at = max(when, ep.starts_at)
        self._seq += 1
        self._ended.append((self._seq, ep))
