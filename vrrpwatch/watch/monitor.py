"""The passive monitor: decoded packets in, per-virtual-router state, transitions and alerts out.

Shared by ``analyze`` (packets from a file) and ``sniff`` (packets from the wire). It performs no
I/O: the caller feeds it ``(frame, time, Decoded)`` and reads back events; ``storage.py``
persists its state.

Theory of operation
-------------------
A virtual router is keyed by (VLAN ids, address family, VRID). Only its master advertises
(RFC 5798 section 6.4.3; backups are silent, section 6.4.2), so the monitor's notion of "the
master" is the advertiser whose adverts keep coming. When a different source advertises:

* the current master resigned (its last advert had priority 0, section 6.4.3 "Shutdown"):
  the newcomer took over after Skew_Time: cause ``resigned``;
* the current master fell silent for longer than 1.5 of its intervals: the newcomer took over
  after Master_Down_Interval (section 6.4.2): cause ``silent``;
* the newcomer outranks the master (higher priority, or equal priority and higher primary
  address, section 6.4.3): the master yields: cause ``preempted``;
* otherwise the newcomer is a contender; if both keep advertising beyond a
  Master_Down_Interval that is split brain.

Right after a takeover several backups may advertise briefly until the best one wins (the
others receive its advert and return to Backup). Within one advert interval of a takeover, a
better-ranked newcomer replaces the tentative new master in the same transition instead of
adding a second one.
"""

from __future__ import annotations

import enum
import ipaddress
import tomllib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dissectors.arp import ArpPacket
from dissectors.common import Finding
from dissectors.frame import format_mac
from dissectors.nd import NeighborAdvert
from dissectors.packet import Decoded, Kind
from dissectors.vrrp import VrrpV2, VrrpV3, auth_type_label, virtual_mac
from vrrpwatch.rfc import master_down_interval, outranks, skew_time
from vrrpwatch.text import vlan_label

# A master is "silent" once it has missed this many of its own intervals.
SILENCE_FACTOR = 1.5
# master-flap: this many transitions of one router within the window.
FLAP_TRANSITIONS = 5
FLAP_WINDOW_S = 60.0
# GARP/NA judged this long after it was seen, so a takeover's first advert can arrive first.
GARP_GRACE_S = 2.0
# master-lost waits this long beyond the Master_Down_Interval, so the takeover advert of a
# backup that is on time (its timer fired, its advert is on the way) is not taken for silence.
EXPIRE_SLACK_S = 0.25


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, slots=True, order=True)
class RouterKey:
    vlan: tuple[int, ...]
    family: int
    vrid: int

    def label(self) -> str:
        return f"vlan {vlan_label(self.vlan)} IPv{self.family} VRID {self.vrid}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    kind: str
    severity: Severity
    key: RouterKey | None
    source: str | None
    time: float
    frame: int
    message: str
    file: str | None = None  # the capture file ``frame`` counts in (analyze)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": str(self.severity),
            "vlan": list(self.key.vlan) if self.key else [],
            "family": self.key.family if self.key else None,
            "vrid": self.key.vrid if self.key else None,
            "source": self.source,
            "time": self.time,
            "frame": self.frame,
            "file": self.file,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    key: RouterKey
    time: float
    frame: int
    old: str | None
    new: str
    cause: str  # first-seen | resigned | silent | preempted
    gap_ms: float | None
    expected_ms: float | None
    file: str | None = None  # the capture file ``frame`` counts in (analyze)

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "frame": self.frame,
            "file": self.file,
            "from": self.old,
            "to": self.new,
            "cause": self.cause,
            "gap_ms": self.gap_ms,
            "expected_ms": self.expected_ms,
        }


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


Event = Alert | Transition | AddressEvent


@dataclass(slots=True)
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
    _silence_s: float = SILENCE_FACTOR
    last_decoded: Decoded | None = None
    checked_version: int = -1  # the router's profile_version its consistency was checked at

    @property
    def interval_s(self) -> float:
        return self.interval_cs / 100 if self.interval_cs else 1.0

    @property
    def mac(self) -> str | None:
        """The MAC of its latest advert."""
        return self.macs[-1] if self.macs else None

    @property
    def silence_s(self) -> float:
        """Past this long without an advert it is no longer advertising."""
        return self._silence_s

    @property
    def streak_gap_s(self) -> float:
        """A pause longer than this ends a run of adverts (split-brain measures runs): three
        intervals, the part of Master_Down_Interval that does not depend on priority."""
        return 3 * self.interval_s

    def set_interval(self, interval_cs: int) -> None:
        self.interval_cs = interval_cs
        self._silence_s = SILENCE_FACTOR * self.interval_s

    def profile(self) -> tuple[int, int, str | None, frozenset[str], int]:
        return (
            self.version,
            self.auth_type,
            self.fingerprint,
            frozenset(self.vips),
            self.interval_cs,
        )

    def to_json(self, *, reveal_secrets: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "mac": self.mac,
            "macs": list(self.macs),
            "priority": list(self.priorities),
            "interval_ms": self.interval_cs * 10,
            "version": self.version,
            "auth_type": auth_type_label(self.auth_type),
            "vips": list(self.vips),
            "adverts": self.adverts,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "ttl": list(self.ttls),
            "checksum": list(self.checksums),
        }
        if self.fingerprint is not None:
            out["password_fingerprint"] = self.fingerprint
            if reveal_secrets:
                out["password"] = self.password
        return out


@dataclass(slots=True)
class VirtualRouter:
    key: RouterKey
    advertisers: dict[str, Advertiser] = field(default_factory=dict)
    master: str | None = None
    master_since: float = 0.0
    resigned: bool = False  # the master's latest advert had priority 0
    transitions: list[Transition] = field(default_factory=list)
    reference: tuple[int, int, str | None, frozenset[str], int] | None = None
    recent_transitions: deque[float] = field(default_factory=deque)
    lost: bool = False  # master-lost episode open (sniff)
    # bumped whenever an advertiser's profile or the master changes: consistency checks
    # (mismatches, rogue) only need to run again when it moved
    profile_version: int = 0
    timeline_version: int = 0  # bumped whenever ``transitions`` changes (storage rewrites it)
    announcers: dict[str, set[str]] = field(default_factory=dict)  # VIP -> MACs of GARP/NA
    dirty: bool = True

    @property
    def current(self) -> Advertiser | None:
        return self.advertisers.get(self.master) if self.master else None

    def vips(self) -> set[str]:
        return {v for a in self.advertisers.values() for v in a.vips}

    def to_json(self, *, reveal_secrets: bool) -> dict[str, Any]:
        cur = self.current
        return {
            "vlan": list(self.key.vlan),
            "family": self.key.family,
            "vrid": self.key.vrid,
            "version": cur.version if cur else None,
            "master": self.master,
            "priority": cur.last_priority if cur else None,
            "interval_ms": cur.interval_cs * 10 if cur else None,
            "vips": list(cur.vips) if cur else [],
            "auth_type": auth_type_label(cur.auth_type) if cur else None,
            "advertisers": [
                a.to_json(reveal_secrets=reveal_secrets) for a in self.advertisers.values()
            ],
            "transitions": [t.to_json() for t in self.transitions],
        }


@dataclass(frozen=True, slots=True)
class KnownRouter:
    address: str
    mac: str | None = None
    vrids: frozenset[int] | None = None


class KnownRouters:
    """The ``--known-routers`` TOML: ``[[router]]`` tables with ``address``, optional ``mac``
    and ``vrids``."""

    def __init__(self, routers: Iterable[KnownRouter]) -> None:
        self.routers: dict[str, KnownRouter] = {r.address: r for r in routers}

    @classmethod
    def from_toml(cls, text: str) -> KnownRouters:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML: {exc}") from None
        tables = doc.get("router", [])
        if not isinstance(tables, list):
            raise ValueError("expected [[router]] tables")
        out = []
        for i, t in enumerate(tables, 1):
            if not isinstance(t, dict) or "address" not in t:
                raise ValueError(f"router #{i}: 'address' is required")
            try:
                addr = str(ipaddress.ip_address(str(t["address"])))
            except ValueError:
                raise ValueError(f"router #{i}: bad address {t['address']!r}") from None
            mac = t.get("mac")
            if mac is not None:
                mac = str(mac).lower().replace("-", ":")
                if len(bytes.fromhex(mac.replace(":", ""))) != 6:
                    raise ValueError(f"router #{i}: bad mac {t['mac']!r}")
            vrids = t.get("vrids")
            if vrids is not None:
                if not isinstance(vrids, list) or not all(
                    isinstance(v, int) and 1 <= v <= 255 for v in vrids
                ):
                    raise ValueError(f"router #{i}: vrids must be a list of 1..255")
                vrids = frozenset(vrids)
            out.append(KnownRouter(addr, mac, vrids))
        return cls(out)

    def allows(self, address: str, mac: str | None, vrid: int) -> bool:
        r = self.routers.get(address)
        if r is None:
            return False
        if r.mac is not None and mac is not None and mac != r.mac:
            return False
        return r.vrids is None or vrid in r.vrids


# Findings that mean the advert breaks the message layout: reported as "malformed".
_LAYOUT_FINDINGS = frozenset(
    {
        Finding.COUNT_MISMATCH,
        Finding.SHORT_AUTH_DATA,
        Finding.INTERVAL_ZERO,
        Finding.BAD_TYPE,
        Finding.FAMILY_MISMATCH,
    }
)


@dataclass(slots=True)
class Counters:
    packets: int = 0
    vrrp_adverts: int = 0
    carp: int = 0
    garps: int = 0
    arps: int = 0
    nas: int = 0
    malformed: int = 0
    findings: dict[str, int] = field(default_factory=dict)


class Monitor:
    def __init__(
        self,
        *,
        fingerprint: Callable[[bytes], str],
        known_routers: KnownRouters | None = None,
        reveal_secrets: bool = False,
    ) -> None:
        self._fingerprint = fingerprint
        self.known = known_routers
        self.reveal_secrets = reveal_secrets
        self.routers: dict[RouterKey, VirtualRouter] = {}
        self.counters = Counters()
        self.alerts: list[Alert] = []
        self.address_events: list[AddressEvent] = []
        self._raised: set[tuple[str, RouterKey | None, str | None]] = set()
        self._pending_garps: deque[tuple[AddressEvent, RouterKey]] = deque()
        self._carp_vlans: dict[tuple[int, ...], tuple[float, int, str]] = {}
        self._vrrp_vlans: set[tuple[int, ...]] = set()
        self.last_time = 0.0
        # The capture file being read (analyze sets it per file): frames count within it.
        self.source: str | None = None
        self.first_time: float | None = None
        self._seen: dict[int, tuple[Decoded, VirtualRouter, Advertiser]] = {}

    # -- inputs ------------------------------------------------------------------------------

    def observe(self, frame: int, time: float, pkt: Decoded) -> list[Event]:
        events: list[Event] = []
        self.last_time = time
        if self._pending_garps:
            self._judge_garps(time, events)
        hit = self._seen.get(id(pkt))
        if hit is not None and hit[0] is pkt and hit[2].last_decoded is pkt:
            # The same decoded advert as this advertiser's previous one (the decode cache
            # hands out one object per distinct advert): its content changed nothing and
            # raised what it could; only timing matters now.
            _, vr, a = hit
            self.counters.vrrp_adverts += 1
            if pkt.findings:
                self._count_findings(pkt)
            if time - a.last_seen > a.streak_gap_s:
                a.streak_start = time
            a.last_seen = time
            a.last_frame = frame
            a.adverts += 1
            a.dirty = vr.dirty = True
            if vr.master != a.address or vr.resigned or a.last_priority == 0:
                self._track_master(vr, a, a.last_priority, frame, time, events)
            if a.checked_version != vr.profile_version:
                self._consistency_alerts(vr, a, frame, time, events)
                a.checked_version = vr.profile_version
            if len(vr.advertisers) > 1:
                self._split_brain(vr, a, frame, time, events)
            if vr.lost:
                self._lost_cleared(vr, a, frame, time, events)
            return events
        if self.first_time is None:
            self.first_time = time
        self._count_findings(pkt)
        msg = pkt.message
        if isinstance(msg, VrrpV2 | VrrpV3):
            self.counters.vrrp_adverts += 1
            self._advert(frame, time, pkt, msg, events)
        elif pkt.kind is Kind.CARP:
            self.counters.carp += 1
            self._carp(frame, time, pkt, events)
        elif isinstance(msg, ArpPacket):
            if pkt.kind is Kind.GARP:
                self.counters.garps += 1
                mac = format_mac(msg.sender_mac)
                self._announce(
                    frame, time, "garp", pkt.link.vlans, 4, str(msg.sender_ip), mac, events
                )
            else:
                self.counters.arps += 1
        elif isinstance(msg, NeighborAdvert):
            self.counters.nas += 1
            if not msg.solicited:
                ll = msg.target_ll_addr or pkt.link.src_mac
                mac = format_mac(ll) if ll else "?"
                self._announce(frame, time, "na", pkt.link.vlans, 6, str(msg.target), mac, events)
        return events

    def _count_findings(self, pkt: Decoded) -> None:
        found = self.counters.findings
        for f in pkt.findings:
            found[f] = found.get(f, 0) + 1

    def malformed(self, frame: int, time: float, error: str, source: str | None) -> list[Event]:
        """A frame that looked like ours but could not be decoded."""
        self.counters.malformed += 1
        self.last_time = time
        events: list[Event] = []
        self._raise(
            events, "malformed", Severity.WARNING, None, source, time, frame,
            f"undecodable packet from {source or 'unknown source'}: {error}",
        )  # fmt: skip
        return events

    def expire(self, now: float, skip: Callable[[RouterKey], bool] | None = None) -> list[Event]:
        """Live monitoring: raise master-lost for routers whose master went silent beyond the
        Master_Down_Interval of its slowest backup (``_slowest_backup``) plus EXPIRE_SLACK_S,
        with nobody taking over. Call periodically with the current time. Routers for which
        ``skip(key)`` is true are not judged this time (sniff: their interface is down)."""
        events: list[Event] = []
        if self._pending_garps:
            self._judge_garps(now, events)
        for vr in self.routers.values():
            cur = vr.current
            if cur is None or vr.lost or (skip is not None and skip(vr.key)):
                continue
            mdi = master_down_interval(_slowest_backup(vr, cur), cur.interval_s, cur.version)
            if now - cur.last_seen > mdi + EXPIRE_SLACK_S:
                vr.lost = True
                vr.dirty = True
                self._raise(
                    events, "master-lost", Severity.CRITICAL, vr.key, cur.address, now,
                    cur.last_frame,
                    f"{vr.key.label()}: no advert from master {cur.address} for "
                    f"{now - cur.last_seen:.1f} s (Master_Down_Interval {mdi:.2f} s), "
                    "and no backup took over",
                    episode=False,
                )  # fmt: skip
        return events

    def finish(self) -> list[Event]:
        events: list[Event] = []
        self._judge_garps(float("inf"), events)
        return events

    # -- VRRP --------------------------------------------------------------------------------

    def _advert(
        self, frame: int, time: float, pkt: Decoded, adv: VrrpV2 | VrrpV3, events: list[Event]
    ) -> None:
        ip = pkt.ip
        assert ip is not None
        family = ip.family
        key = RouterKey(pkt.link.vlans, family, adv.vrid)
        self._vrrp_vlans.add(pkt.link.vlans)
        if pkt.link.vlans in self._carp_vlans:
            t, f, src = self._carp_vlans[pkt.link.vlans]
            self._carp_alert(pkt.link.vlans, t, f, src, events)
        vr = self.routers.get(key)
        if vr is None:
            vr = self.routers[key] = VirtualRouter(key)
        src = str(ip.src)
        mac = format_mac(pkt.link.src_mac) if pkt.link.src_mac else None
        a = vr.advertisers.get(src)
        if a is None:
            a = vr.advertisers[src] = Advertiser(src, time, frame, streak_start=time)
        elif time - a.last_seen > a.streak_gap_s:
            a.streak_start = time
        a.last_seen = time
        a.last_frame = frame
        a.adverts += 1
        a.dirty = True
        vr.dirty = True
        before = a.profile() if a.adverts > 1 else None
        if mac is not None and mac not in a.macs:
            a.macs.append(mac)
        if adv.priority not in a.priorities:
            a.priorities.append(adv.priority)
        a.last_priority = adv.priority
        a.set_interval(adv.interval_cs)
        a.version = adv.version
        if adv.version not in a.versions:
            a.versions.append(adv.version)
        a.auth_type = adv.auth_type
        a.vips = tuple(str(x) for x in adv.addresses)
        if ip.ttl not in a.ttls:
            a.ttls.append(ip.ttl)
        status = str(adv.checksum_status)
        if status not in a.checksums:
            a.checksums.append(status)
        password = adv.password if isinstance(adv, VrrpV2) else None
        if password is not None:
            a.fingerprint = self._fingerprint(password)
            if self.reveal_secrets:
                a.password = password.decode("latin-1")
        else:
            a.fingerprint = None
            a.password = None

        if len(self._seen) > 4096:
            self._seen.clear()
        self._seen[id(pkt)] = (pkt, vr, a)
        a.last_decoded = pkt
        self._packet_alerts(vr, a, pkt, frame, time, events)
        if a.profile() != before:
            vr.profile_version += 1
        self._consistency_alerts(vr, a, frame, time, events)
        a.checked_version = vr.profile_version
        self._track_master(vr, a, adv.priority, frame, time, events)
        self._split_brain(vr, a, frame, time, events)
        if vr.lost and vr.master is not None:
            self._lost_cleared(vr, a, frame, time, events)

    def _lost_cleared(
        self, vr: VirtualRouter, a: Advertiser, frame: int, time: float, events: list[Event]
    ) -> None:
        """Adverts resumed: the master-lost episode is over (sniff)."""
        vr.lost = False
        vr.dirty = True
        self._raise(
            events, "master-lost-cleared", Severity.INFO, vr.key, a.address, time, frame,
            f"{vr.key.label()}: adverts resumed from {a.address} (master {vr.master})",
            episode=False,
        )  # fmt: skip

    def _packet_alerts(
        self,
        vr: VirtualRouter,
        a: Advertiser,
        pkt: Decoded,
        frame: int,
        time: float,
        events: list[Event],
    ) -> None:
        key = vr.key
        src = a.address
        findings = set(pkt.findings)
        if Finding.TTL_NOT_255 in findings:
            self._raise(
                events, "ttl-not-255", Severity.WARNING, key, src, time, frame,
                f"{key.label()}: advert from {src} with TTL/hop limit {a.ttls[-1]}, not 255 "
                "(RFC 5798 section 7.1: receivers discard it; it did not originate on this link)",
            )  # fmt: skip
        if Finding.BAD_CHECKSUM in findings:
            self._raise(
                events, "bad-checksum", Severity.WARNING, key, src, time, frame,
                f"{key.label()}: advert from {src} with a bad checksum",
            )  # fmt: skip
        if Finding.BAD_SOURCE_MAC in findings:
            self._raise(
                events, "bad-source-mac", Severity.INFO, key, src, time, frame,
                f"{key.label()}: {src} advertises from {a.mac or '?'}, not the "
                "virtual MAC (keepalived without use_vmac does this)",
            )  # fmt: skip
        layout = sorted(str(f) for f in findings & _LAYOUT_FINDINGS)
        if layout:
            self._raise(
                events, "malformed", Severity.WARNING, key, src, time, frame,
                f"{key.label()}: advert from {src} breaks the RFC layout: {', '.join(layout)}",
            )  # fmt: skip
        if a.auth_type == 1:
            self._raise(
                events, "plaintext-auth", Severity.WARNING, key, src, time, frame,
                f"{key.label()}: {src} sends its VRRPv2 password in clear text "
                f"({a.fingerprint}); anyone on the segment can read it",
            )  # fmt: skip
        if a.last_priority == 255:
            self._priority_255(vr, a, frame, time, events)
        if self.known is not None and not self.known.allows(src, a.mac, key.vrid):
            self._raise(
                events, "rogue-advertiser", Severity.CRITICAL, key, src, time, frame,
                f"{key.label()}: {src} ({a.mac or '?'}) advertises but is not "
                "in the known routers list",
            )  # fmt: skip

    def _priority_255(
        self, vr: VirtualRouter, a: Advertiser, frame: int, time: float, events: list[Event]
    ) -> None:
        # RFC 5798 section 5.2.4: 255 is reserved for the router that owns the virtual
        # addresses; it preempts everyone at once.
        key = vr.key
        owns = a.address in a.vips
        unknown = self.known is not None and not self.known.allows(a.address, a.mac, key.vrid)
        vmac = format_mac(virtual_mac(key.vrid, key.family))
        foreign = [
            (vip, mac)
            for vip in a.vips
            for mac in sorted(vr.announcers.get(vip, ()))
            if mac not in a.macs and mac != vmac
        ]
        if unknown or foreign:
            sev = Severity.CRITICAL
            why = (
                "it is not a known router"
                if unknown
                else (f"{foreign[0][0]} is also announced by {foreign[0][1]}")
            )
        elif not owns:
            sev, why = Severity.WARNING, "its address is not one of the virtual addresses"
        else:
            sev, why = Severity.INFO, "it owns the virtual address"
        self._raise(
            events, "priority-255", sev, key, a.address, time, frame,
            f"{key.label()}: {a.address} claims address ownership (priority 255) and preempts "
            f"every other router; {why}",
            episode_extra=str(sev),
        )  # fmt: skip
        if foreign and not owns:
            # Another station announced the virtual address before: this one is taking over
            # an address it does not own.
            self._raise(
                events, "rogue-advertiser", Severity.CRITICAL, key, a.address, time, frame,
                f"{key.label()}: {a.address} takes the group over with priority 255 but does not "
                f"own {foreign[0][0]} ({foreign[0][1]} announced it)",
            )  # fmt: skip

    def _consistency_alerts(
        self, vr: VirtualRouter, a: Advertiser, frame: int, time: float, events: list[Event]
    ) -> None:
        key = vr.key
        src = a.address
        for other in vr.advertisers.values():
            if other is a or other.last_priority == 0 and other.adverts == 1:
                continue
            if (other.auth_type, other.fingerprint) != (a.auth_type, a.fingerprint):
                self._raise(
                    events, "auth-mismatch", Severity.CRITICAL, key, src, time, frame,
                    f"{key.label()}: {src} uses auth {_auth_desc(a)} but {other.address} uses "
                    f"{_auth_desc(other)}; each drops the other's adverts and both become master",
                )  # fmt: skip
            if frozenset(other.vips) != frozenset(a.vips):
                self._raise(
                    events, "vip-mismatch", Severity.WARNING, key, src, time, frame,
                    f"{key.label()}: {src} advertises {', '.join(a.vips) or 'no addresses'} but "
                    f"{other.address} advertises {', '.join(other.vips) or 'no addresses'}",
                )  # fmt: skip
            if other.interval_cs != a.interval_cs:
                self._raise(
                    events, "interval-mismatch", Severity.WARNING, key, src, time, frame,
                    f"{key.label()}: {src} advertises every {a.interval_cs * 10} ms but "
                    f"{other.address} every {other.interval_cs * 10} ms",
                )  # fmt: skip
            if other.version != a.version:
                self._raise(
                    events, "version-mismatch", Severity.WARNING, key, src, time, frame,
                    f"{key.label()}: {src} speaks VRRPv{a.version} but {other.address} "
                    f"VRRPv{other.version}",
                )  # fmt: skip
        if self.known is None and vr.reference is not None and a.address != vr.master:
            ref = vr.reference
            prof = a.profile()
            diffs = [
                name
                for name, x, y in (
                    ("version", prof[0], ref[0]),
                    ("auth", (prof[1], prof[2]), (ref[1], ref[2])),
                    ("virtual addresses", prof[3], ref[3]),
                    ("interval", prof[4], ref[4]),
                )
                if x != y
            ]
            if diffs:
                self._raise(
                    events, "rogue-advertiser", Severity.CRITICAL, key, src, time, frame,
                    f"{key.label()}: {src} advertises with a {', '.join(diffs)} that differs "
                    "from the established router's",
                )  # fmt: skip

    def _track_master(
        self,
        vr: VirtualRouter,
        a: Advertiser,
        priority: int,
        frame: int,
        time: float,
        events: list[Event],
    ) -> None:
        src = a.address
        cur = vr.current
        if cur is None:
            if priority == 0:
                return  # a resigning router is nobody's master
            self._transition(vr, a, None, "first-seen", frame, time, events)
            vr.reference = a.profile()
            return
        if cur is a:
            if priority == 0 and not vr.resigned:
                # RFC 5798 section 6.4.3: a master that shuts down sends priority 0.
                self._raise(
                    events, "master-resigned", Severity.INFO, vr.key, src, time, frame,
                    f"{vr.key.label()}: master {src} resigned (priority 0)",
                    episode=False,
                )  # fmt: skip
            vr.resigned = priority == 0
            return
        if priority == 0:
            return  # a non-master resigning (e.g. a backup stopped while master elsewhere)
        last = vr.transitions[-1]
        settling = (
            last.cause in ("resigned", "silent")
            and last.new == cur.address
            and time - last.time <= cur.interval_s
        )
        if settling and outranks(priority, src, cur.last_priority, cur.address):
            # Two backups took over at once; the better one wins (RFC 5798 section 6.4.3):
            # the takeover belongs to the winner.
            old = vr.transitions.pop()
            prev = vr.advertisers.get(old.old) if old.old else None
            self._transition(vr, a, prev, old.cause, frame, time, events, replacing=old)
            return
        if vr.resigned:
            cause = "resigned"
        elif time - cur.last_seen > SILENCE_FACTOR * cur.interval_s:
            cause = "silent"
        elif outranks(priority, src, cur.last_priority, cur.address):
            cause = "preempted"
        else:
            return  # a contender while the master still advertises; see _split_brain
        self._transition(vr, a, cur, cause, frame, time, events)

    def _transition(
        self,
        vr: VirtualRouter,
        new: Advertiser,
        old: Advertiser | None,
        cause: str,
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
            if cause == "resigned":
                expected_ms = skew_time(new.last_priority, old.interval_s, new.version) * 1000
            elif cause == "silent":
                mdi = master_down_interval(new.last_priority, old.interval_s, new.version)
                expected_ms = mdi * 1000
            if expected_ms is not None:
                expected_ms = round(expected_ms, 3)
        t = Transition(
            key=vr.key,
            time=time,
            frame=frame,
            old=old.address if old else None,
            new=new.address,
            cause=cause,
            gap_ms=gap_ms,
            expected_ms=expected_ms,
            file=self.source,
        )
        vr.transitions.append(t)
        vr.timeline_version += 1
        vr.profile_version += 1
        vr.master = new.address
        vr.master_since = time
        vr.resigned = new.last_priority == 0
        vr.dirty = True
        events.append(t)
        if old is not None:
            self._raise(
                events,
                "master-change",
                Severity.INFO,
                vr.key,
                new.address,
                time,
                frame,
                f"{vr.key.label()}: master {old.address} -> {new.address} ({cause}"
                + (f", gap {gap_ms:.0f} ms" if gap_ms is not None else "")
                + (f", RFC {expected_ms:.0f} ms" if expected_ms is not None else "")
                + (f", won over {replacing.new}" if replacing is not None else "")
                + ")",
                episode=False,
            )
            if replacing is None:
                self._flap(vr, frame, time, events)

    def _flap(self, vr: VirtualRouter, frame: int, time: float, events: list[Event]) -> None:
        recent = vr.recent_transitions
        recent.append(time)
        while recent and time - recent[0] > FLAP_WINDOW_S:
            recent.popleft()
        if len(recent) >= FLAP_TRANSITIONS:
            self._raise(
                events, "master-flap", Severity.WARNING, vr.key, vr.master, time, frame,
                f"{vr.key.label()}: {len(recent)} master changes within {FLAP_WINDOW_S:.0f} s",
                episode_extra=str(int(recent[0])),
            )  # fmt: skip
            recent.clear()

    def _split_brain(
        self, vr: VirtualRouter, a: Advertiser, frame: int, time: float, events: list[Event]
    ) -> None:
        if a.last_priority == 0:
            return
        for other in vr.advertisers.values():
            if other is a or other.last_priority == 0:
                continue
            if time - other.last_seen > SILENCE_FACTOR * other.interval_s:
                continue  # not advertising any more
            overlap = time - max(a.streak_start, other.streak_start)
            # RFC 5798 section 6.4.2: a backup hearing the master never advertises beyond
            # Master_Down_Interval; two sources doing so each believe they are master.
            mdi = master_down_interval(
                max(1, min(a.last_priority, other.last_priority, 254)),
                max(a.interval_s, other.interval_s),
                a.version,
            )
            if overlap > mdi and ("split-brain", vr.key, other.address) not in self._raised:
                # one episode per pair, whichever of the two is named as the source
                self._raise(
                    events, "split-brain", Severity.CRITICAL, vr.key, a.address, time, frame,
                    f"{vr.key.label()}: {a.address} and {other.address} have both advertised "
                    f"for {overlap:.1f} s (Master_Down_Interval {mdi:.2f} s): two masters",
                )  # fmt: skip

    # -- CARP, GARP, NA ----------------------------------------------------------------------

    def _carp(self, frame: int, time: float, pkt: Decoded, events: list[Event]) -> None:
        vlans = pkt.link.vlans
        src = str(pkt.ip.src) if pkt.ip else "?"
        if vlans not in self._carp_vlans:
            self._carp_vlans[vlans] = (time, frame, src)
        if vlans in self._vrrp_vlans:
            self._carp_alert(vlans, time, frame, src, events)

    def _carp_alert(
        self, vlans: tuple[int, ...], time: float, frame: int, src: str, events: list[Event]
    ) -> None:
        self._raise(
            events, "carp-on-vrrp-segment", Severity.WARNING, None, src, time, frame,
            f"CARP from {src} on a segment that also carries VRRP (vlan "
            f"{vlan_label(vlans)}): both use protocol 112 and 224.0.0.18 and "
            "their virtual MACs can collide",
        )  # fmt: skip

    def _announce(
        self,
        frame: int,
        time: float,
        kind: str,
        vlans: tuple[int, ...],
        family: int,
        address: str,
        mac: str,
        events: list[Event],
    ) -> None:
        router = None
        for vr in self.routers.values():
            if vr.key.vlan == vlans and vr.key.family == family and address in vr.vips():
                router = vr.key
                break
        ev = AddressEvent(
            time=time,
            frame=frame,
            kind=kind,
            vlan=vlans,
            address=address,
            mac=mac,
            router=router,
            file=self.source,
        )
        self.address_events.append(ev)
        events.append(ev)
        if router is not None:
            self.routers[router].announcers.setdefault(address, set()).add(mac)
            self._pending_garps.append((ev, router))

    def _judge_garps(self, now: float, events: list[Event]) -> None:
        while self._pending_garps and now - self._pending_garps[0][0].time > GARP_GRACE_S:
            ev, key = self._pending_garps.popleft()
            vr = self.routers[key]
            allowed = {format_mac(virtual_mac(key.vrid, key.family))}
            # The master at the time, and anyone who became master within the grace period
            # around it (a new master's GARPs and first advert race each other).
            for t in vr.transitions:
                if abs(t.time - ev.time) <= GARP_GRACE_S:
                    allowed.update(vr.advertisers[t.new].macs)
            master = _master_at(vr, ev.time)
            if master is not None:
                allowed.update(vr.advertisers[master].macs)
            if ev.mac not in allowed:
                what = "gratuitous ARP" if ev.kind == "garp" else "neighbour advertisement"
                self._raise(
                    events, "garp-conflict", Severity.CRITICAL, key, ev.mac, ev.time, ev.frame,
                    f"{key.label()}: {what} claims virtual address {ev.address} for {ev.mac}, "
                    f"which is neither the master's ({master or 'none'}) nor the virtual MAC",
                    file=ev.file,
                )  # fmt: skip
                cur = vr.advertisers.get(master) if master else None
                if cur is not None and cur.last_priority == 255:
                    self._priority_255(vr, cur, ev.frame, ev.time, events)

    # -- alerts ------------------------------------------------------------------------------

    def _raise(
        self,
        events: list[Event],
        kind: str,
        severity: Severity,
        key: RouterKey | None,
        source: str | None,
        time: float,
        frame: int,
        message: str,
        *,
        episode: bool = True,
        episode_extra: str = "",
        file: str | None = None,
    ) -> None:
        """Raise an alert once per episode (kind, router, source); ``episode=False`` for
        alerts that are events in themselves (master-change, master-resigned). ``file`` is
        the capture file of ``frame`` when it is not the one being read."""
        if episode:
            ident = (kind + episode_extra, key, source)
            if ident in self._raised:
                return
            self._raised.add(ident)
        alert = Alert(
            kind=kind,
            severity=severity,
            key=key,
            source=source,
            time=time,
            frame=frame,
            message=message,
            file=file or self.source,
        )
        self.alerts.append(alert)
        events.append(alert)


def _slowest_backup(vr: VirtualRouter, master: Advertiser) -> int:
    """The priority whose Master_Down_Interval a silent master is given before master-lost.

    Backups are silent (RFC 5798 section 6.4.2), so their priorities are only known from the
    ones that advertised earlier in the run (a priority 0 is a resignation, not a rank); the
    lowest of those takes over last. With none
    known, any backup may exist, down to priority 1 (the longest Master_Down_Interval)."""
    seen = (p for a in vr.advertisers.values() if a is not master for p in a.priorities)
    return min((p for p in seen if 0 < p < 255), default=1)


def _master_at(vr: VirtualRouter, time: float) -> str | None:
    master = None
    for t in vr.transitions:
        if t.time > time:
            break
        master = t.new
    return master


def _auth_desc(a: Advertiser) -> str:
    label = auth_type_label(a.auth_type)
    return f"{label} ({a.fingerprint})" if a.fingerprint else str(label)
