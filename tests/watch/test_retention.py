"""Retention in the monitor (``Monitor.trim``, for ``sniff --retain``): fixed times, no clock."""

from __future__ import annotations

from tests.helpers import KEY, MAC1, MAC2, R1, R2, Feed, advert, garp
from vrrpwatch.watch.model import EventLog


def failovers() -> Feed:
    """r1 (200) masters 0..9 s and resigns at 10 s; r2 (100) takes over at 10.6 s; r1 comes
    back at 40 s and preempts. GARPs at 0.5 s (r1) and 10.7 s (r2)."""
    f = Feed()
    f.every(0.0, 10.0, 1.0, advert(R1, 200))
    f(0.5, garp(MAC1))
    f(10.0, advert(R1, 0))
    f.every(10.625, 40.0, 1.0, advert(R2, 100, mac=MAC2))
    f(10.75, garp(MAC2))
    f.every(40.0, 45.0, 1.0, advert(R1, 200))
    return f


def test_trim_drops_old_events_and_keeps_offsets() -> None:
    f = failovers()
    m = f.m
    alerts, events = list(m.alerts), list(m.address_events)
    timeline = list(m.routers[KEY].transitions)
    assert [(t.time, t.cause) for t in timeline] == [
        (0.0, "first-seen"),
        (10.625, "resigned"),
        (40.0, "preempted"),
    ]
    assert len(events) == 2 and alerts and alerts[-1].time >= 40.0
    version = m.routers[KEY].timeline_version
    m.routers[KEY].dirty = False

    old_alerts = sum(1 for a in alerts if a.time < 35.0)
    assert m.trim(35.0) == old_alerts + 2 + 2
    assert list(m.alerts) == alerts[old_alerts:] and m.alerts.trimmed == old_alerts
    assert list(m.address_events) == [] and m.address_events.trimmed == 2
    vr = m.routers[KEY]
    assert list(vr.transitions) == timeline[2:] and vr.transitions.trimmed == 2
    # The store rewrites a shortened timeline.
    assert vr.timeline_version == version + 1 and vr.dirty
    # Absolute cursors: what a reader took before still counts; what is new is new.
    assert m.alerts.total == len(alerts)
    assert m.alerts.since(len(alerts) - 1) == alerts[-1:]
    assert m.alerts.since(0) == alerts[old_alerts:]


def test_a_router_keeps_its_latest_transition() -> None:
    f = failovers()
    m = f.m
    last = m.routers[KEY].transitions[-1]
    m.trim(1000.0)
    vr = m.routers[KEY]
    assert list(vr.transitions) == [last] and vr.transitions.trimmed == 2
    assert list(m.alerts) == [] and m.alerts.total > 0
    # Nothing older left: a second trim changes nothing.
    version = vr.timeline_version
    assert m.trim(1000.0) == 0 and vr.timeline_version == version


def test_trim_replaces_the_logs_it_shortens() -> None:
    # A reader on another thread that took a log keeps one consistent list and offset.
    f = failovers()
    m = f.m
    taken = m.alerts
    n, total = len(taken), taken.total
    m.trim(35.0)
    assert m.alerts is not taken and len(taken) == n and taken.trimmed == 0
    # New alerts go to the new log, counted on from the old total.
    f.every(45.0, 47.0, 1.0, advert(R2, 250, mac=MAC2))
    assert m.alerts.total > total and len(taken) == n


def test_event_log() -> None:
    log = EventLog([1, 2, 3, 4])
    later = log.after(3)
    assert later == [4] and later.trimmed == 3 and later.total == 4
    assert later.since(0) == [4] and later.since(4) == [] and later.since(3) == [4]
    assert log == [1, 2, 3, 4] and log.trimmed == 0
