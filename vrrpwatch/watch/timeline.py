"""The master timeline: who is master of an observed router, when and why it changed.

Only the master advertises (RFC 5798 section 6.4.3; backups are silent, section 6.4.2), so the
master is the advertiser whose adverts keep coming. When a different source advertises:

* the current master resigned (its last advert had priority 0, section 6.4.3 "Shutdown"):
  the newcomer took over after Skew_Time: cause ``resigned``;
* the current master fell silent for longer than 1.5 of its intervals: the newcomer took over
  after Master_Down_Interval (section 6.4.2): cause ``silent``;
* the newcomer outranks the master (higher priority, or equal priority and higher primary
  address, section 6.4.3): the master yields: cause ``preempted``;
* otherwise the newcomer is a contender (see ``consistency.split_brain``).

Right after a takeover several backups may advertise briefly until the best one wins (the
others receive its advert and return to Backup; RFC 5798 section 6.4.2). Within one advert
interval of a takeover, a better-ranked newcomer replaces the tentative new master in the same
transition instead of adding a second one, and the old master returning within it (it
outranks them all) undoes the takeover. So a takeover's ``master-change`` is raised once, when
it has settled (``settle``): one interval later, or at the end of the input.

Live monitoring adds silence without a takeover: ``master_lost`` (called with the current time)
and its end when adverts resume (``lost_cleared``).
"""

from __future__ import annotations

from vrrpwatch.rfc import master_down_interval, outranks, skew_time
from vrrpwatch.watch.catalogue import EXPIRE_SLACK_S, FLAP_TRANSITIONS, FLAP_WINDOW_S, AlertKind
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.model import (
    SILENCE_FACTOR,
    Advertiser,
    Cause,
    Event,
    ObservedRouter,
    Transition,
    TransitionCause,
    new_transition,
)

_TAKEOVER = (TransitionCause.RESIGNED, TransitionCause.SILENT)
# How many of a router's latest transitions a gratuitous ARP or NA is judged against: far more
# than a real group makes within GARP_GRACE_S; a flood of takeovers makes them in a moment.
RECENT_TRANSITIONS = 64


def other_version_than_master(vr: ObservedRouter, a: Advertiser, time: float) -> bool:
    """Whether ``a``'s advert is of another VRRP version than the router's master, which still
    advertises: its peers run the master's version and discard it (RFC 5798 section 7.1, "MUST
    verify that the VRRP version field is 3"; RFC 3768 section 7.1 alike for 2), so it moves no
    master, adds no transition and makes no split brain. It is checked and alerted on like any
    other advert (``version-mismatch``). Once the master resigned or fell silent (as
    ``track_master`` judges it) the group is whoever takes over: a router moving the segment
    to another version is followed."""
    cur = vr.current
    if cur is None or cur is a or cur.version == a.version or vr.resigned:
        return False
    return time - cur.last_seen <= SILENCE_FACTOR * cur.interval_s


def track_master(
    book: AlertBook,
    vr: ObservedRouter,
    a: Advertiser,
    priority: int,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    """``a`` advertised with ``priority``: update who is master."""
    src = a.address
    cur = vr.current
    if cur is None:
        if priority == 0:
            return  # a resigning router is nobody's master
        _transition(book, vr, a, None, TransitionCause.FIRST_SEEN, frame, time, events)
        vr.reference = a.profile()
        return
    if cur is a:
        if priority == 0 and not vr.resigned:
            # RFC 5798 section 6.4.3: a master that shuts down sends priority 0.
            book.raise_alert(
                events, AlertKind.MASTER_RESIGNED, vr.key, src, time, frame,
                f"{vr.key.label()}: master {src} resigned (priority 0)",
            )  # fmt: skip
        vr.resigned = priority == 0
        return
    if priority == 0:
        return  # a non-master resigning (e.g. a backup stopped while master elsewhere)
    last = vr.transitions[-1]
    settling = (
        last.cause in _TAKEOVER and last.new == cur.address and time - last.time <= cur.interval_s
    )
    # the address objects when known (comparing them is cheaper than parsing the text)
    mine, theirs = a.ip or src, cur.ip or cur.address
    if settling and outranks(priority, mine, cur.last_priority, theirs):
        # Two backups took over at once; the better one wins (RFC 5798 section 6.4.3):
        # the takeover belongs to the winner.
        old = vr.transitions.pop()
        vr.timeline_low = min(vr.timeline_low, vr.transitions.total)
        prev = vr.advertisers.get(old.old) if old.old else None
        vr.settled_over.append(cur.address)
        vr.contest_losers.append((old.time, cur.address))
        if prev is a:
            # the old master is back and outranks them: there was no takeover
            vr.unannounced = None
            vr.settled_over.clear()
            vr.timeline_version += 1
            vr.profile_version += 1
            vr.master = a.address
            vr.master_since = time
            vr.resigned = False
            vr.dirty = True
            return
        _transition(book, vr, a, prev, old.cause, frame, time, events, replacing=old)
        return
    if vr.resigned:
        cause = TransitionCause.RESIGNED
    elif time - cur.last_seen > SILENCE_FACTOR * cur.interval_s:
        cause = TransitionCause.SILENT
    elif outranks(priority, mine, cur.last_priority, theirs):
        cause = TransitionCause.PREEMPTED
    else:
        return  # a contender while the master still advertises; see split_brain
    _transition(book, vr, a, cur, cause, frame, time, events)


def _transition(
    book: AlertBook,
    vr: ObservedRouter,
    new: Advertiser,
    old: Advertiser | None,
    cause: Cause,
    frame: int,
    time: float,
    events: list[Event],
    replacing: Transition | None = None,
) -> None:
    gap_ms = expected_ms = None
    if old is not None:
        gap_ms = round((time - old.last_seen) * 1000, 3)
        # RFC 5798 section 6.4.2 / RFC 3768 section 6.4.2: a backup takes over after
        # Skew_Time when the master resigned, after Master_Down_Interval when it went
        # silent; both use the new master's priority and the old master's interval.
        if cause is TransitionCause.RESIGNED:
            expected_ms = skew_time(new.last_priority, old.interval_s, new.version) * 1000
        elif cause is TransitionCause.SILENT:
            mdi = master_down_interval(new.last_priority, old.interval_s, new.version)
            expected_ms = mdi * 1000
        if expected_ms is not None:
            expected_ms = round(expected_ms, 3)
    t = new_transition(
        vr.key, time, frame, old.address if old else None, new.address, cause, gap_ms,
        expected_ms, book.source,
    )  # fmt: skip
    vr.transitions.append(t)
    if old is not None:
        vr.lost_mastership(old.address)
    vr.timeline_version += 1
    vr.profile_version += 1
    vr.master = new.address
    vr.master_since = time
    vr.resigned = new.last_priority == 0
    vr.dirty = True
    events.append(t)
    if old is None:
        return
    if cause in _TAKEOVER:
        if replacing is None:
            vr.settled_over.clear()
        vr.unannounced = t  # raised once it has settled (``settle``)
        return
    _announce(book, vr, t, events)


def record_transition(
    book: AlertBook,
    vr: ObservedRouter,
    new: Advertiser,
    old: Advertiser | None,
    cause: Cause,
    frame: int,
    time: float,
    events: list[Event],
    *,
    expected_ms: float | None,
    resigned: bool = False,
) -> Transition:
    """A new master (HSRP active, CARP master) by another protocol's rules (``watch.hsrp``,
    ``watch.carp``): the transition, and its ``master-change`` at once (their takeovers are
    not settled as VRRP's are: the backups' timers differ, so one wins). ``expected_ms`` is
    what that protocol's rule gives for the gap."""
    t = Transition(
        key=vr.key,
        time=time,
        frame=frame,
        old=old.address if old else None,
        new=new.address,
        cause=cause,
        gap_ms=round((time - old.last_seen) * 1000, 3) if old is not None else None,
        expected_ms=round(expected_ms, 3) if expected_ms is not None else None,
        file=book.source,
    )
    vr.transitions.append(t)
    if old is not None:
        vr.lost_mastership(old.address)
    vr.timeline_version += 1
    vr.profile_version += 1
    vr.master = new.address
    vr.master_since = time
    vr.resigned = resigned
    vr.dirty = True
    events.append(t)
    if old is not None:
        _announce(book, vr, t, events)
    return t


def settle(book: AlertBook, vr: ObservedRouter, now: float, events: list[Event]) -> None:
    """Raise the ``master-change`` of a takeover once no better backup can still win it: one
    advert interval of the new master after it (``now`` may be inf: the end of the input)."""
    t = vr.unannounced
    if t is None:
        return
    cur = vr.advertisers.get(t.new)
    if cur is not None and now - t.time <= cur.interval_s:
        return
    vr.unannounced = None
    _announce(book, vr, t, events)
    vr.settled_over.clear()


def _announce(book: AlertBook, vr: ObservedRouter, t: Transition, events: list[Event]) -> None:
    over = vr.settled_over if t.cause in _TAKEOVER else []
    book.raise_alert(
        events,
        AlertKind.MASTER_CHANGE,
        vr.key,
        t.new,
        t.time,
        t.frame,
        f"{vr.key.label()}: master {t.old} -> {t.new} ({t.cause}"
        + (f", gap {t.gap_ms:.0f} ms" if t.gap_ms is not None else "")
        + (f", RFC {t.expected_ms:.0f} ms" if t.expected_ms is not None else "")
        + (f", won over {', '.join(dict.fromkeys(over))}" if over else "")
        + ")",
        file=t.file,
    )
    _flap(book, vr, t.frame, t.time, events)


def _flap(
    book: AlertBook, vr: ObservedRouter, frame: int, time: float, events: list[Event]
) -> None:
    recent = vr.recent_transitions
    recent.append(time)
    while recent and time - recent[0] > FLAP_WINDOW_S:
        recent.popleft()
    if len(recent) >= FLAP_TRANSITIONS:
        book.raise_alert(
            events, AlertKind.MASTER_FLAP, vr.key, vr.master, time, frame,
            f"{vr.key.label()}: {len(recent)} master changes within {FLAP_WINDOW_S:.0f} s",
            episode_extra=str(int(recent[0])),
        )  # fmt: skip
        recent.clear()


def master_lost(
    book: AlertBook, vr: ObservedRouter, now: float, events: list[Event], note: str = ""
) -> None:
    """Live monitoring: master-lost when the master has been silent beyond the
    Master_Down_Interval of its slowest backup (``slowest_backup``) plus EXPIRE_SLACK_S, with
    nobody taking over (``note`` ends the message: what the kernel's drop counters say)."""
    cur = vr.current
    if cur is None or vr.lost:
        return
    mdi = master_down_interval(slowest_backup(vr, cur), cur.interval_s, cur.version)
    silent_beyond(book, vr, cur, now, mdi, "Master_Down_Interval", events, note)


def silent_beyond(
    book: AlertBook,
    vr: ObservedRouter,
    cur: Advertiser,
    now: float,
    limit_s: float,
    rule: str,
    events: list[Event],
    note: str = "",
    *,
    words: tuple[str, str, str] = ("advert", "master", "backup"),
) -> None:
    """The one master-lost rule of every protocol (live): its master ``cur`` has been silent
    beyond ``limit_s``, what its protocol's ``rule`` gives (VRRP: Master_Down_Interval; CARP:
    the master-down time; HSRP: the hold time), plus EXPIRE_SLACK_S, and nobody took over.
    Raised once (``vr.lost``) until adverts resume (``lost_cleared``). ``words``: what it
    sends, what the master and a backup are called (HSRP: hello, active, standby); ``note``
    ends the message (what the kernel's drop counters say)."""
    if now - cur.last_seen <= limit_s + EXPIRE_SLACK_S:
        return
    sends, master, backup = words
    vr.lost = True
    vr.dirty = True
    book.raise_alert(
        events, AlertKind.MASTER_LOST, vr.key, cur.address, now, cur.last_frame,
        f"{vr.key.label()}: no {sends} from {master} {cur.address} for "
        f"{now - cur.last_seen:.1f} s ({rule} {limit_s:.2f} s), "
        f"and no {backup} took over{note}",
    )  # fmt: skip


def lost_cleared(
    book: AlertBook,
    vr: ObservedRouter,
    a: Advertiser,
    frame: int,
    time: float,
    events: list[Event],
) -> None:
    """Adverts resumed: the master-lost episode is over (sniff)."""
    vr.lost = False
    vr.dirty = True
    book.resolve(events, time, AlertKind.MASTER_LOST, vr.key)
    book.raise_alert(
        events, AlertKind.MASTER_LOST_CLEARED, vr.key, a.address, time, frame,
        f"{vr.key.label()}: adverts resumed from {a.address} (master {vr.master})",
    )  # fmt: skip


def slowest_backup(vr: ObservedRouter, master: Advertiser) -> int:
    """The priority whose Master_Down_Interval a silent master is given before master-lost.

    Backups are silent (RFC 5798 section 6.4.2), so their priorities are only known from the
    ones that advertised earlier in the run (a priority 0 is a resignation, not a rank); the
    lowest of those takes over last. With none known, any backup may exist, down to priority 1
    (the longest Master_Down_Interval)."""
    seen = (p for a in vr.advertisers.values() if a is not master for p in a.priorities)
    return min((p for p in seen if 0 < p < 255), default=1)


def recent_transitions(vr: ObservedRouter) -> list[Transition]:
    """The router's latest RECENT_TRANSITIONS transitions, oldest first: what an announcement
    is judged against (``addresses``), so that under a flood of takeovers each gratuitous ARP
    costs the same, not a walk of the whole timeline."""
    return vr.transitions[-RECENT_TRANSITIONS:]


def master_at(vr: ObservedRouter, time: float) -> str | None:
    """Who was master at ``time``, by the timeline (its latest RECENT_TRANSITIONS: before
    them, the master they started from)."""
    log = vr.transitions
    start = max(0, len(log) - RECENT_TRANSITIONS)
    master = log[start - 1].new if start else None
    for t in log[start:]:
        if t.time > time:
            break
        master = t.new
    return master
