"""Alert episodes: when an alert opens, and when the condition it reports is over.

The monitor raises an alert once per episode; Alertmanager and the open-alerts gauge also need
to know when the episode ends. ``EpisodeBook`` follows ``Monitor.alerts`` (append-only, read
from a cursor as the store does) and the routers' state, and says which episodes are open.

Until the alert catalogue in ``watch/`` states the end of each kind, ``END_ON`` and
``ONE_SHOT_S`` below do:

* ``master-lost`` ends when adverts resume (the monitor raises ``master-lost-cleared``);
* ``interface-down`` ends at ``interface-up`` on the same interface;
* ``split-brain`` ends when at most one source has advertised (priority > 0) for a
  Master_Down_Interval (RFC 5798 section 6.4.2: a backup hearing a master stays silent that
  long, so one source alone for that long is a settled master);
* every other kind is one-shot: it ends ``ONE_SHOT_S`` after it was raised.

``advance(now)`` is called from the metrics and the sender threads, never from the packet loop;
it reads the monitor's dicts through atomic copies (``list(d.values())``) and only tolerates
values a packet may be updating meanwhile (one scrape late at worst).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from vrrpwatch.rfc import master_down_interval
from vrrpwatch.watch.monitor import Alert, Monitor, RouterKey, Severity

# kind -> the alert kind that ends its episode (same router, or same source without a router)
END_ON = {"master-lost": "master-lost-cleared", "interface-down": "interface-up"}
SPLIT_BRAIN = "split-brain"
ONE_SHOT_S = 300.0
ENDED_KEPT = 4096  # ended episodes kept for consumers that have not read them yet

Ident = tuple[str, Severity, RouterKey | None, str | None]


@dataclass(slots=True)
class Episode:
    alert: Alert  # the alert that opened it
    starts_at: float
    ends_at: float | None = None

    @property
    def ident(self) -> Ident:
        a = self.alert
        return (a.kind, a.severity, a.key, a.source)

    @property
    def kind(self) -> str:
        return self.alert.kind


class EpisodeBook:
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self._cursor = 0
        self._open: dict[Ident, Episode] = {}
        self._ended: deque[tuple[int, Episode]] = deque(maxlen=ENDED_KEPT)
        self._seq = 0
        self._lock = threading.Lock()

    def advance(self, now: float) -> None:
        """Take the alerts raised since the last call, and end what has ended by ``now``."""
        with self._lock:
            alerts = self.monitor.alerts
            new = alerts[self._cursor :]
            self._cursor += len(new)
            for a in new:
                self._take(a)
            for ep in list(self._open.values()):
                end = self._end_of(ep, now)
                if end is not None:
                    self._close(ep, end)

    def open(self) -> list[Episode]:
        with self._lock:
            return list(self._open.values())

    def open_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ep in self.open():
            counts[ep.kind] = counts.get(ep.kind, 0) + 1
        return counts

    def is_open(self, kind: str, key: RouterKey) -> bool:
        return any(ep.kind == kind and ep.alert.key == key for ep in self.open())

    def ended_since(self, seq: int) -> tuple[int, list[Episode]]:
        """Episodes ended after sequence number ``seq``, and the sequence number to ask from
        next time (episodes beyond ENDED_KEPT are forgotten)."""
        with self._lock:
            return self._seq, [ep for s, ep in self._ended if s > seq]

    # -- rules -------------------------------------------------------------------------------

    def _take(self, a: Alert) -> None:
        for kind, closer in END_ON.items():
            if a.kind != closer:
                continue
            for ep in list(self._open.values()):
                if ep.kind == kind and _same_subject(ep.alert, a):
                    self._close(ep, a.time)
        ep = Episode(a, a.time)
        if ep.ident not in self._open:
            self._open[ep.ident] = ep

    def _end_of(self, ep: Episode, now: float) -> float | None:
        if ep.kind in END_ON:
            return None
        if ep.kind == SPLIT_BRAIN:
            return self._split_brain_end(ep, now)
        end = ep.starts_at + ONE_SHOT_S
        return end if now >= end else None

    def _split_brain_end(self, ep: Episode, now: float) -> float | None:
        key = ep.alert.key
        vr = self.monitor.routers.get(key) if key is not None else None
        if vr is None:
            return now
        advertising = [a for a in list(vr.advertisers.values()) if a.last_priority > 0]
        if not advertising:
            return None
        advertising.sort(key=lambda a: a.last_seen)
        alone = advertising[-1]
        if len(advertising) > 1:
            second = advertising[-2]
            if now - second.last_seen <= second.silence_s:
                return None  # two still advertise
            since = second.last_seen
        else:
            since = ep.starts_at
        mdi = master_down_interval(
            max(1, min(alone.last_priority, 254)), alone.interval_s, alone.version
        )
        end = max(since + mdi, ep.starts_at)
        return end if now >= end else None

    def _close(self, ep: Episode, when: float) -> None:
        ep.ends_at = when
        self._open.pop(ep.ident, None)
        self._seq += 1
        self._ended.append((self._seq, ep))


def _same_subject(opened: Alert, closer: Alert) -> bool:
    if opened.key is not None or closer.key is not None:
        return opened.key == closer.key
    return opened.source == closer.source
