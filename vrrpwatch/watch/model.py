"""What the passive watcher knows: observed routers, their advertisers, and the events it reports.

An observed router is one virtual router as seen from the wire, keyed by (VLAN ids, address
family, VRID, protocol) (``RouterKey``); each source address that advertised for it is an
``Advertiser``. The protocol is VRRP's by default; HSRP groups and CARP virtual hosts are
observed routers too, their group number or vhid in ``vrid`` (``watch.hsrp``, ``watch.carp``).
The events (``Transition``, ``Alert``, ``AlertResolved``, ``AddressEvent``) are frozen values the
monitor returns from each input; the store turns them into rows. Nothing here reads a clock.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from dissectors.common import IPAddress, positional
from dissectors.packet import Decoded
from vrrpwatch.text import vlan_label
from vrrpwatch.watch.catalogue import MAX_ADVERTISERS, AlertKind, Severity

NO_REWRITE = 1 << 62  # ObservedRouter.timeline_low: nothing written was replaced
# Advertiser.profile(): version, auth type, password fingerprint, VIPs, interval
Profile = tuple[int, int, "str | None", frozenset[str], int]

# How many of a router's former masters it remembers (``ObservedRouter.former_masters``).
FORMER_MASTERS = 4096

# A master is "silent" once it has missed this many of its own intervals.
SILENCE_FACTOR = 1.5

_T = TypeVar("_T")

# address_text: the text of recent address objects, by identity (the decoders share one object
# per recurring address), at most _TEXTS of them.
_TEXTS = 8192
_texts: dict[int, tuple[IPAddress, str]] = {}
_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


# RFC 5952 section 4.2.3: "::" replaces the longest run of two or more zero groups, the first
# of equal runs. Text of the eight groups with ":" on both ends, searched longest run first.
_GROUPS = struct.Struct(">8H")
_GROUP_FORMAT = ":%x:%x:%x:%x:%x:%x:%x:%x:"
_ZERO_RUNS = tuple(":0" * n + ":" for n in range(8, 1, -1))


def address_text(addr: IPAddress) -> str:
    """``str(addr)``, cheaply: an advert's source and virtual addresses become text for every
    advert, and ``ipaddress`` formats an IPv6 address through several Python functions (about
    6 us). RFC 5952 text from the packed bytes: groups in lower-case hex without leading
    zeros (section 4.1, 4.3), the longest run of two or more zero groups (the first of equal
    runs) as ``::`` (section 4.2). An address with a scope, or IPv4-mapped (whose text depends
    on the Python version), is left to ``str``; so is IPv4, which ``str`` writes quickly."""
    hit = _texts.get(id(addr))
    if hit is not None and hit[0] is addr:
        return hit[1]
    if addr.version == 6 and addr.scope_id is None:
        packed = addr.packed
        if packed[:12] == _MAPPED_PREFIX:
            text = str(addr)
        else:
            padded = _GROUP_FORMAT % _GROUPS.unpack(packed)
            for run in _ZERO_RUNS:
                at = padded.find(run)
                if at >= 0:
                    text = padded[1:at] + "::" + padded[at + len(run) : -1]
                    break
            else:
                text = padded[1:-1]
    else:
        text = str(addr)
    if len(_texts) >= _TEXTS:
        _texts.clear()
    _texts[id(addr)] = (addr, text)
    return text


class EventLog(list[_T]):
    """An append-only list of events whose oldest ones retention may drop (``sniff --retain``).

    ``trimmed`` counts the events dropped so far, so item ``i`` of the run is ``log[i -
    trimmed]`` and readers keep absolute cursors (counters stay monotonic). A trim never
    changes a log in place: the owner replaces it with a new, shorter log (``after``), so a
    reader on another thread that took the log once sees one consistent list and offset.
    """

    __slots__ = ("trimmed",)

    def __init__(self, items: Iterable[_T] = (), trimmed: int = 0) -> None:
        super().__init__(items)
        self.trimmed = trimmed

    @property
    def total(self) -> int:
        """Events ever logged: the absolute index of the next one."""
        return self.trimmed + len(self)

    def since(self, cursor: int) -> list[_T]:
        """The events from absolute index ``cursor`` on (those trimmed meanwhile are gone)."""
        return self[max(0, cursor - self.trimmed) :]

    def after(self, n: int) -> EventLog[_T]:
        """A new log without the first ``n`` events."""
        return EventLog(self[n:], self.trimmed + n)


class Protocol(enum.StrEnum):
    """The redundancy protocol of an observed router (stable ids: ``protocol`` in the JSON and
    the database)."""

    VRRP = "vrrp"
    HSRP = "hsrp"
    CARP = "carp"


class TransitionCause(enum.StrEnum):
    """Why the monitor names a new master (stable ids: the store's ``transitions.cause``)."""

    FIRST_SEEN = "first-seen"  # the first master seen for the router
    # the master sent priority 0 (RFC 5798 section 6.4.3 "Shutdown"); HSRP: a Resign (RFC
    # 2281 section 5.1); CARP: an advert with advbase and advskew 255 (OpenBSD's "bow out")
    RESIGNED = "resigned"
    # the master fell silent (Master_Down_Interval, section 6.4.2); CARP: 3 x advbase +
    # advskew / 256 (``rfc.carp_master_down``)
    SILENT = "silent"
    # the newcomer outranks the master (section 6.4.3); CARP: it advertises more often; HSRP:
    # the old active went on alive in another state with neither Coup nor Resign seen
    PREEMPTED = "preempted"


class HsrpCause(enum.StrEnum):
    """The causes only HSRP's timelines have (stable ids too; VRRP's and CARP's are
    ``TransitionCause``)."""

    COUP = "coup"  # the new active sent a Coup (RFC 2281 section 5.1)
    # the active (or standby) was silent for its hold time (RFC 2281 section 5.3, Active timer)
    HOLD_EXPIRED = "hold-expired"
    PROMOTED = "promoted"  # the standby timeline: the standby became active


Cause = TransitionCause | HsrpCause


# How each protocol names its group id in messages (the key's ``vrid``).
_ID_LABEL: dict[str, str] = {
    Protocol.VRRP: "VRID",
    Protocol.HSRP: "HSRP group",
    Protocol.CARP: "CARP vhid",
}


@dataclass(frozen=True, slots=True, order=True)
class RouterKey:
    """(VLAN ids, family, group id, protocol): ``vrid`` is the VRRP VRID, the HSRP group or
    the CARP vhid. Protocol last, so VRRP keys sort as they always did."""

    vlan: tuple[int, ...]
    family: int
    vrid: int
    protocol: str = Protocol.VRRP

    def label(self) -> str:
        return (
            f"vlan {vlan_label(self.vlan)} IPv{self.family} "
            f"{_ID_LABEL.get(self.protocol, self.protocol)} {self.vrid}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    kind: AlertKind
    severity: Severity
    key: RouterKey | None
    source: str | None
    time: float
    frame: int
    message: str
    file: str | None = None  # the capture file ``frame`` counts in (analyze)


class AlertResolved(NamedTuple):
    """The episode an alert opened is over (its catalogue entry says when): ``alert`` is the
    alert that opened it, ``time`` when it ended. (Immutable like the other events; a named
    tuple is cheaper to define at start-up than a frozen dataclass.)"""

    alert: Alert
    time: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    key: RouterKey
    time: float
    frame: int
    old: str | None
    new: str
    cause: Cause
    gap_ms: float | None
    expected_ms: float | None
    file: str | None = None  # the capture file ``frame`` counts in (analyze)


# Positional constructors (``dissectors.common.positional``) for the events a flood makes one
# of per advert: a transition and a master-change alert per takeover.
new_alert = positional(
    Alert, "kind", "severity", "key", "source", "time", "frame", "message", "file"
)
new_transition = positional(
    Transition, "key", "time", "frame", "old", "new", "cause", "gap_ms", "expected_ms", "file"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressEvent:
    """A gratuitous ARP or unsolicited neighbour advertisement."""

    time: float
    frame: int
    kind: str  # garp | na
    vlan: tuple[int, ...]
    address: str
    mac: str
    router: RouterKey | None  # the virtual router whose VIP it announces, if any
    file: str | None = None


Event = Alert | AlertResolved | Transition | AddressEvent
# (router, the new source, frame, time, events): make room for one more advertiser
# (``ObservedRouter.speaker``; the monitor's ``_forget`` raises advertiser-flood).
Forget = Callable[["ObservedRouter", str, int, float, list[Event]], None]


# The mutable state objects compare by identity (eq=False): one object per advertiser/router.
@dataclass(slots=True, eq=False)
class Advertiser:
    address: str
    first_seen: float
    first_frame: int
    last_seen: float = 0.0
    last_frame: int = 0
    adverts: int = 0
    macs: list[str] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    last_priority: int = 0
    interval_cs: int = 0
    version: int = 0
    versions: list[int] = field(default_factory=list)
    auth_type: int = 0
    fingerprint: str | None = None
    password: str | None = None  # only kept with reveal_secrets
    vips: tuple[str, ...] = ()
    ttls: list[int] = field(default_factory=list)
    checksums: list[str] = field(default_factory=list)
    streak_start: float = 0.0  # start of its current run of uninterrupted adverts
    dirty: bool = True
    last_decoded: Decoded | None = None
    checked_version: int = -1  # the router's profile_version its consistency was checked at
    # Derived from interval_cs by set_interval (plain attributes: read for every advert).
    interval_s: float = 1.0  # 1 s while unknown (interval 0)
    silence_s: float = SILENCE_FACTOR  # past this long without an advert it is not advertising
    # A pause longer than this ends a run of adverts (split-brain measures runs): three
    # intervals, the part of Master_Down_Interval that does not depend on priority.
    streak_gap_s: float = 3.0
    interval_ms: int = 0  # the advert interval as the store shows it (VRRP: interval_cs * 10)
    # HSRP and CARP: how long a silence takes it for gone (HSRP: its hold time; CARP: 3 x
    # advbase + advskew / 256); None for VRRP, whose rule is Master_Down_Interval.
    down_s: float | None = None
    # HSRP: the State of its latest hello (v1 and v2 codes differ); CARP: 0 when its latest
    # advert bowed out, else 1
    state: int | None = None
    hold_ms: int | None = None  # HSRP: its advertised hold time
    demotion: int = 0  # CARP: the demote counter of its latest advert (OpenBSD)
    advbase_s: int = 0  # CARP: the advbase of its latest advert
    stored: bool = False  # the store has written its row (forgetting it deletes the row)
    # VRRP: the source as an address object (what the election compares, ``rfc.outranks``)
    ip: IPAddress | None = None

    @property
    def mac(self) -> str | None:
        """The MAC of its latest advert."""
        return self.macs[-1] if self.macs else None

    def heard_at(self, frame: int, time: float, *, streak: bool = True) -> None:
        """An advert of this advertiser, frame ``frame`` at ``time``. ``streak``: a silence of
        more than ``streak_gap_s`` starts a new streak (VRRP, CARP); HSRP's streak follows its
        Active state, which its caller sets."""
        if streak and time - self.last_seen > self.streak_gap_s:
            self.streak_start = time
        self.last_seen = time
        self.last_frame = frame
        self.adverts += 1
        self.dirty = True

    def set_interval(self, interval_cs: int) -> None:
        self.interval_cs = interval_cs
        self.interval_s = interval_s = interval_cs / 100 if interval_cs else 1.0
        self.silence_s = SILENCE_FACTOR * interval_s
        self.streak_gap_s = 3 * interval_s
        self.interval_ms = interval_cs * 10

    def set_timers(self, interval_ms: int, down_s: float) -> None:
        """HSRP (hello time) and CARP (advbase + advskew / 256): the interval in milliseconds
        and the silence after which it is taken for gone."""
        self.interval_cs = round(interval_ms / 10)
        self.interval_ms = interval_ms
        self.interval_s = interval_s = interval_ms / 1000 if interval_ms else 1.0
        self.silence_s = SILENCE_FACTOR * interval_s
        self.streak_gap_s = down_s
        self.down_s = down_s

    def profile(self) -> Profile:
        return (
            self.version,
            self.auth_type,
            self.fingerprint,
            frozenset(self.vips),
            self.interval_cs,
        )


@dataclass(slots=True, eq=False)
class ObservedRouter:
    """One virtual router as the wire shows it (the join side's ``VirtualRouter`` is a router
    we run; this one we only watch)."""

    key: RouterKey
    advertisers: dict[str, Advertiser] = field(default_factory=dict)
    master: str | None = None
    master_since: float = 0.0
    resigned: bool = False  # the master's latest advert had priority 0
    transitions: EventLog[Transition] = field(default_factory=EventLog)
    reference: tuple[int, int, str | None, frozenset[str], int] | None = None
    recent_transitions: deque[float] = field(default_factory=deque)
    lost: bool = False  # master-lost episode open (sniff)
    # bumped whenever an advertiser's profile or the master changes: consistency checks
    # (mismatches, rogue) only need to run again when it moved
    profile_version: int = 0
    timeline_version: int = 0  # bumped whenever ``transitions`` changes (storage rewrites it)
    # the absolute index of the first transition replaced since the store last wrote the
    # timeline (a settled takeover pops the last one); NO_REWRITE when none was
    timeline_low: int = NO_REWRITE
    announcers: dict[str, set[str]] = field(default_factory=dict)  # VIP -> MACs of GARP/NA
    interface: str | None = None  # sniff: the interface it was first heard on
    # A takeover whose master-change alert waits until it has settled (``timeline.settle``):
    # the backups that advertised at once and lost to its new master.
    unannounced: Transition | None = None
    settled_over: list[str] = field(default_factory=list)
    # (when it took over, address) of the recent backups that took over at once with another
    # and lost the contest (``timeline.track_master``): each was master for a moment, so its
    # gratuitous ARPs then are a master's (RFC 5798 section 6.4.2), not a conflict.
    contest_losers: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=16))
    # the addresses that were master and lost it (the old side of a transition), the latest
    # FORMER_MASTERS of them: an owner returning (``consistency.priority_255``) looks itself up
    # here rather than walk the timeline, which a flood of takeovers makes long
    former_masters: dict[str, None] = field(default_factory=dict)
    # HSRP: the standby router (it sends hellos too) and its timeline
    standby: str | None = None
    standby_transitions: EventLog[Transition] = field(default_factory=EventLog)
    dirty: bool = True
    # sources forgotten to keep at most MAX_ADVERTISERS (``forget_least_recent``): how many in
    # all, and the addresses whose rows the store has yet to delete
    forgotten: int = 0
    # how many of the VRRP advertisers have each profile (Advertiser.profile): with one profile
    # only, no two of them can mismatch (consistency_alerts skips comparing)
    profiles: dict[Profile, int] = field(default_factory=dict)
    # the VRRP advertisers' addresses, the one heard least recently first (``heard``)
    recency: dict[str, None] = field(default_factory=dict)
    forgotten_unstored: list[str] = field(default_factory=list)

    @property
    def current(self) -> Advertiser | None:
        return self.advertisers.get(self.master) if self.master else None

    def lost_mastership(self, address: str) -> None:
        """``address`` was master and another took over from it."""
        former = self.former_masters
        former.pop(address, None)
        if len(former) >= FORMER_MASTERS:
            del former[next(iter(former))]
        former[address] = None

    def count_profile(self, old: Profile | None, new: Profile) -> None:
        """An advertiser's profile changed from ``old`` (None: a new one) to ``new``."""
        counts = self.profiles
        if old is not None and old in counts:
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
        counts[new] = counts.get(new, 0) + 1

    def speaker(
        self,
        address: str,
        frame: int,
        time: float,
        events: list[Event],
        forget: Forget | None,
        ip: IPAddress | None = None,
    ) -> Advertiser:
        """The advertiser ``address`` whose advert arrives now (frame ``frame`` at ``time``):
        found, or made, and then the one heard most recently. One rule for VRRP, HSRP and
        CARP: a router keeps at most MAX_ADVERTISERS, so before a new one is made beyond that
        ``forget`` lets the least recently heard go (the monitor's ``_forget``: its alert)."""
        a = self.advertisers.get(address)
        if a is None:
            if len(self.advertisers) >= MAX_ADVERTISERS and forget is not None:
                forget(self, address, frame, time, events)
            a = self.advertisers[address] = Advertiser(
                address, time, frame, streak_start=time, ip=ip
            )
        self.heard(address)
        return a

    def heard(self, address: str) -> None:
        """An advert from ``address``: it is now the one heard most recently."""
        order = self.recency
        order.pop(address, None)
        order[address] = None

    def forget_least_recent(self) -> Advertiser | None:
        """Forget the advertiser heard least recently, never the master; the forgotten one."""
        oldest: Advertiser | None = None
        for address in self.recency:  # oldest first: the master at most is skipped
            if address != self.master and address in self.advertisers:
                oldest = self.advertisers[address]
                break
        if oldest is None:  # advertisers not kept in ``recency`` (HSRP, CARP)
            candidates = (a for a in self.advertisers.values() if a.address != self.master)
            oldest = min(candidates, key=lambda a: a.last_seen, default=None)
        if oldest is not None:
            self.recency.pop(oldest.address, None)
            del self.advertisers[oldest.address]
            # the monitor's fast path (an advert identical to the source's last) must not
            # update the forgotten object: the source starts afresh
            oldest.last_decoded = None
            profile = oldest.profile()
            if profile in self.profiles:
                self.profiles[profile] -= 1
                if not self.profiles[profile]:
                    del self.profiles[profile]
            self.forgotten += 1
            if oldest.stored:  # a row to delete (a flood's sources mostly never got one)
                self.forgotten_unstored.append(oldest.address)
            self.profile_version += 1
            self.dirty = True
        return oldest

    def vips(self) -> set[str]:
        return {v for a in self.advertisers.values() for v in a.vips}


@dataclass(slots=True)
class Counters:
    packets: int = 0
    vrrp_adverts: int = 0
    carp: int = 0
    hsrp: int = 0  # HSRP messages (v1 and v2), counted; following them is the watch's
    garps: int = 0
    arps: int = 0
    nas: int = 0
    malformed: int = 0
    findings: dict[str, int] = field(default_factory=dict)
