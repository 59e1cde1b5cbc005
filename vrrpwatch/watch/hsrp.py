"""HSRP groups followed like VRRP routers: the active and the standby, their timelines, alerts.

Unlike VRRP, where only the master advertises, every HSRP router in Speak, Standby or Active
sends hellos (RFC 2281 section 5.3), so both roles are visible: the monitor follows them from
the State field of each hello (v1 and v2 code the states differently; ``role``). A group is
keyed by (VLAN, family, group, ``hsrp``); one HSRPv2 message may carry several group states.

The active timeline: when a source other than the active says Active (or sends a Coup),

* it sent a Coup: cause ``coup`` (a higher-priority router preempting; RFC 2281 5.1);
* the active had sent a Resign: cause ``resigned``;
* the active fell silent for longer than 1.5 hello times: cause ``hold-expired``, the gap
  measured against the hold time the active advertised (the standby's Active timer, RFC 2281
  section 5.3; ``rfc.hsrp_active_down``);
* the active is alive but says another state (neither Coup nor Resign seen): ``preempted``;
* otherwise both say Active: two actives beyond the hold time are a split brain.

The standby timeline (``standby_transitions``): a new source in Standby replaces the previous
standby, which became active (``promoted``), fell silent (``hold-expired``), was outranked
(``preempted``) or left the role by itself (``resigned``).

Alerts, through the catalogue (ids shared with VRRP where the meaning is the same):
``plaintext-auth`` and ``default-password`` (the text is RFC 2281's default ``cisco``),
``auth-mismatch``, ``vip-mismatch`` (a router that learns the virtual IP sends none: not
compared), ``timer-mismatch`` (hello or hold time), ``version-mismatch`` (v1 and v2 in one
group), ``rogue-advertiser`` (``--known-routers``, or a Coup from a source first heard after
the group had an active for a hold time: ``rogue``, the rule VRRP and CARP share),
``priority-takeover`` (such an unknown source taking over with a higher priority),
``split-brain``, ``master-change``, ``master-resigned`` and (sniff) ``master-lost`` after the
active's hold time. ``garp-conflict`` for the group's virtual
MAC is judged with VRRP's (``addresses``). Passwords are kept as fingerprints unless
``reveal_secrets``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import NamedTuple

from dissectors.frame import format_mac
from dissectors.hsrp import (
    DEFAULT_AUTHENTICATION_DATA,
    HsrpV1,
    HsrpV2,
    OpCode,
    V1State,
    V2State,
)
from dissectors.packet import Decoded
from vrrpwatch.rfc import hsrp_active_down, hsrp_outranks
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.consistency import finding_alerts
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.known import KnownRouters
from vrrpwatch.watch.model import (
    SILENCE_FACTOR,
    Advertiser,
    Cause,
    Event,
    Forget,
    HsrpCause,
    ObservedRouter,
    Protocol,
    RouterKey,
    Transition,
    TransitionCause,
)
from vrrpwatch.watch.rivals import two_masters
from vrrpwatch.watch.rogue import SENDS_HELLOS, rogue_advertiser, stranger
from vrrpwatch.watch.timeline import lost_cleared, record_transition, silent_beyond

# Advertiser.auth_type for HSRP (the store shows the labels)
AUTH_NONE, AUTH_TEXT, AUTH_MD5 = 0, 1, 3
HSRP_AUTH_LABELS = {AUTH_NONE: "none", AUTH_TEXT: "text", AUTH_MD5: "md5"}
DEFAULT_PASSWORD = DEFAULT_AUTHENTICATION_DATA.rstrip(b"\x00")  # b"cisco"
# RFC 2281 section 5.1: Hellotime 3 s and Holdtime 10 s by default. IOS with millisecond
# timers sends 0 in both (one octet of seconds cannot hold them): the defaults are assumed.
DEFAULT_HELLO_MS, DEFAULT_HOLD_MS = 3000, 10000

# Advertiser.state for HSRP: the role its latest hello states.
OTHER, STANDBY, ACTIVE = 0, 1, 2


class Hello(NamedTuple):
    """One group's part of an HSRP message, the same for v1 and v2."""

    version: int
    op_code: int
    role: int
    group: int
    priority: int
    hello_ms: int
    hold_ms: int
    vip: str | None  # None when it sends none (a router that learns it, RFC 2281 5.1)


def role(version: int, state: int) -> int:
    if version == 1:
        return ACTIVE if state == V1State.ACTIVE else STANDBY if state == V1State.STANDBY else 0
    return ACTIVE if state == V2State.ACTIVE else STANDBY if state == V2State.STANDBY else 0


def _vip(addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> str | None:
    return None if addr is None or addr.is_unspecified else str(addr)


def hellos(msg: HsrpV1 | HsrpV2) -> list[Hello]:
    """The group states of a Hello, Coup or Resign (an HSRPv1 Advertise has none)."""
    if isinstance(msg, HsrpV1):
        hello, hold = msg.hello_time_ms, msg.hold_time_ms
        if (hello, hold) == (0, 0):
            hello, hold = DEFAULT_HELLO_MS, DEFAULT_HOLD_MS
        return [
            Hello(
                1,
                msg.op_code,
                role(1, msg.state),
                msg.group,
                msg.priority,
                hello,
                hold,
                _vip(msg.virtual_ip_address),
            )  # fmt: skip
        ]
    return [
        Hello(
            2,
            g.op_code,
            role(2, g.state),
            g.group,
            g.priority,
            g.hello_time_ms,
            g.hold_time_ms,
            _vip(g.virtual_ip_address),
        )  # fmt: skip
        for g in msg.group_states
    ]


def authentication(msg: HsrpV1 | HsrpV2) -> tuple[int, bytes | None]:
    """(auth type, text password or None): MD5 when the MD5 TLV is there, else text when a
    password is (HSRPv1 always carries 8 bytes; all NULs is no password)."""
    if msg.md5_auth is not None:
        return AUTH_MD5, None
    password = msg.password
    if password:
        return AUTH_TEXT, password
    return AUTH_NONE, None


class HsrpFollower:
    """The HSRP groups of a run, in the monitor's ``routers`` (protocol ``hsrp``)."""

    def __init__(
        self,
        book: AlertBook,
        routers: dict[RouterKey, ObservedRouter],
        known: KnownRouters | None,
        fingerprint: Callable[[bytes], str],
        reveal_secrets: bool,
    ) -> None:
        self._book = book
        self._routers = routers
        self.known = known
        self._fingerprint = fingerprint
        self._reveal = reveal_secrets
        # keeps a group's advertisers bounded (the monitor's, raising advertiser-flood)
        self.forget: Forget | None = None

    def observe(
        self, frame: int, time: float, pkt: Decoded, msg: HsrpV1 | HsrpV2, events: list[Event]
    ) -> ObservedRouter | None:
        """One HSRP message; the (last) group it speaks for, None for none."""
        ip = pkt.ip
        assert ip is not None
        src = str(ip.src)
        mac = format_mac(pkt.link.src_mac) if pkt.link.src_mac else None
        auth_type, password = authentication(msg)
        fp = self._fingerprint(password) if password is not None else None
        out = None
        for h in hellos(msg):
            key = RouterKey(pkt.link.vlans, ip.family, h.group, Protocol.HSRP)
            vr = self._routers.get(key)
            if vr is None:
                vr = self._routers[key] = ObservedRouter(key)
            a = vr.speaker(src, frame, time, events, self.forget)
            before = self._profile(a) if a.adverts else None
            # A Resign gives the Active role up, whatever State it carries; a Coup takes it
            # (RFC 2281 section 5.1), so a last Active hello of the old active racing the Coup
            # makes it no active again.
            state = OTHER if h.op_code == OpCode.RESIGN else h.role
            if h.op_code == OpCode.COUP:
                state = ACTIVE
            was_active = a.state == ACTIVE and time - a.last_seen <= a.streak_gap_s
            if state == ACTIVE and not was_active:
                a.streak_start = time
            a.heard_at(frame, time, streak=False)
            vr.dirty = True
            if mac is not None and mac not in a.macs:
                a.macs.append(mac)
            if h.priority not in a.priorities:
                a.priorities.append(h.priority)
            a.last_priority = h.priority
            a.version = h.version
            if h.version not in a.versions:
                a.versions.append(h.version)
            if ip.ttl not in a.ttls:
                a.ttls.append(ip.ttl)
            a.auth_type = auth_type
            a.fingerprint = fp
            a.password = password.decode("latin-1") if password and self._reveal else None
            if h.vip is not None:
                a.vips = (h.vip,)
            a.state = state
            a.hold_ms = h.hold_ms
            a.set_timers(h.hello_ms, hsrp_active_down(h.hold_ms / 1000))
            self._hello_alerts(vr, a, password, pkt, frame, time, events)
            if self._profile(a) != before:
                vr.profile_version += 1
            if a.checked_version != vr.profile_version:
                self._consistency(vr, a, frame, time, events)
                a.checked_version = vr.profile_version
            self._track_active(vr, a, h, frame, time, events)
            self._track_standby(vr, a, h, frame, time)
            two_masters(
                self._book, vr, a, _claims_active, frame, time, events,
                role="active", rule="hold time",
            )  # fmt: skip
            if vr.lost and vr.master is not None:
                lost_cleared(self._book, vr, a, frame, time, events)
            out = vr
        return out

    @staticmethod
    def _profile(a: Advertiser) -> tuple[object, ...]:
        return (a.version, a.auth_type, a.fingerprint, a.vips, a.interval_ms, a.hold_ms)

    def _hello_alerts(
        self,
        vr: ObservedRouter,
        a: Advertiser,
        password: bytes | None,
        pkt: Decoded,
        frame: int,
        time: float,
        events: list[Event],
    ) -> None:
        book, key, src = self._book, vr.key, a.address
        finding_alerts(
            book,
            key,
            src,
            pkt.ip.ttl if pkt.ip is not None else 255,
            a.mac,
            pkt,
            frame,
            time,
            events,
        )
        if password is not None:
            book.raise_alert(
                events, AlertKind.PLAINTEXT_AUTH, key, src, time, frame,
                f"{key.label()}: {src} sends its HSRP password in clear text "
                f"({a.fingerprint}); anyone on the segment can read it",
            )  # fmt: skip
            if password == DEFAULT_PASSWORD:
                book.raise_alert(
                    events, AlertKind.DEFAULT_PASSWORD, key, src, time, frame,
                    f"{key.label()}: {src} uses HSRP's default password "
                    f"({'cisco' if self._reveal else a.fingerprint}): anyone who knows the "
                    "default can join the group and take it over",
                )  # fmt: skip
        # the known-routers list; without it a hello is no evidence (a Coup is: _track_active)
        rogue_advertiser(book, self.known, vr, a, frame, time, events, sends=SENDS_HELLOS)

    def _consistency(
        self, vr: ObservedRouter, a: Advertiser, frame: int, time: float, events: list[Event]
    ) -> None:
        book, key, src = self._book, vr.key, a.address
        for other in vr.advertisers.values():
            if other is a:
                continue
            if (other.auth_type, other.fingerprint) != (a.auth_type, a.fingerprint):
                # RFC 2281 section 5.1: a router ignores messages whose authentication data
                # differs from its own.
                book.raise_alert(
                    events, AlertKind.AUTH_MISMATCH, key, src, time, frame,
                    f"{key.label()}: {src} uses auth {_auth_desc(a)} but {other.address} uses "
                    f"{_auth_desc(other)}; each ignores the other's hellos",
                )  # fmt: skip
            if a.vips and other.vips and frozenset(a.vips) != frozenset(other.vips):
                book.raise_alert(
                    events, AlertKind.VIP_MISMATCH, key, src, time, frame,
                    f"{key.label()}: {src} has virtual IP {', '.join(a.vips)} but "
                    f"{other.address} {', '.join(other.vips)}",
                )  # fmt: skip
            if (other.interval_ms, other.hold_ms) != (a.interval_ms, a.hold_ms):
                book.raise_alert(
                    events, AlertKind.TIMER_MISMATCH, key, src, time, frame,
                    f"{key.label()}: {src} uses hello {a.interval_ms} ms / hold {a.hold_ms} ms "
                    f"but {other.address} hello {other.interval_ms} ms / hold "
                    f"{other.hold_ms} ms",
                )  # fmt: skip
            if other.version != a.version:
                book.raise_alert(
                    events, AlertKind.VERSION_MISMATCH, key, src, time, frame,
                    f"{key.label()}: {src} speaks HSRPv{a.version} but {other.address} "
                    f"HSRPv{other.version}",
                )  # fmt: skip

    def _track_active(
        self,
        vr: ObservedRouter,
        a: Advertiser,
        h: Hello,
        frame: int,
        time: float,
        events: list[Event],
    ) -> None:
        book = self._book
        cur = vr.current
        # A Resign carries the sender's state (Active) but gives the role up (RFC 2281 5.1).
        claims = (h.role == ACTIVE and h.op_code != OpCode.RESIGN) or h.op_code == OpCode.COUP
        if cur is a:
            if h.op_code == OpCode.RESIGN and not vr.resigned:
                book.raise_alert(
                    events, AlertKind.MASTER_RESIGNED, vr.key, a.address, time, frame,
                    f"{vr.key.label()}: active {a.address} resigned",
                )  # fmt: skip
            vr.resigned = h.op_code == OpCode.RESIGN or (vr.resigned and not claims)
            return
        if not claims:
            return
        if cur is None:
            record_transition(
                book, vr, a, None, TransitionCause.FIRST_SEEN, frame, time, events,
                expected_ms=None,
            )  # fmt: skip
            return
        expected: float | None = None
        cause: Cause
        if h.op_code == OpCode.COUP:
            cause = HsrpCause.COUP
        elif vr.resigned:
            cause = TransitionCause.RESIGNED
        elif time - cur.last_seen > SILENCE_FACTOR * cur.interval_s:
            assert cur.down_s is not None
            cause, expected = HsrpCause.HOLD_EXPIRED, cur.down_s * 1000
        elif cur.state != ACTIVE:
            cause = TransitionCause.PREEMPTED
        else:
            return  # both say Active: see two_masters
        unknown = stranger(self.known, vr, a)
        if h.op_code == OpCode.COUP and unknown:
            rogue_advertiser(
                book, self.known, vr, a, frame, time, events, sends=SENDS_HELLOS,
                evidence=f"({a.mac or '?'}), a source not known to the group, sent a Coup to "
                f"take it over from {cur.address}",
            )  # fmt: skip
        if (
            cause in (HsrpCause.COUP, TransitionCause.PREEMPTED)
            and unknown
            and hsrp_outranks(a.last_priority, a.address, cur.last_priority, cur.address)
        ):
            book.raise_alert(
                events, AlertKind.PRIORITY_TAKEOVER, vr.key, a.address, time, frame,
                f"{vr.key.label()}: {a.address} ({a.mac or '?'}), a source not known to the "
                f"group, took it over with priority {a.last_priority} from {cur.address} "
                f"(priority {cur.last_priority})",
            )  # fmt: skip
        record_transition(book, vr, a, cur, cause, frame, time, events, expected_ms=expected)

    def _track_standby(
        self, vr: ObservedRouter, a: Advertiser, h: Hello, frame: int, time: float
    ) -> None:
        if h.role != STANDBY:
            if vr.standby == a.address:
                vr.standby = None  # it left the role (the active timeline says if it took over)
                vr.dirty = True
            return
        if vr.standby == a.address:
            return
        log = vr.standby_transitions
        prev_addr = vr.standby or (log[-1].new if log else None)
        vr.standby = a.address
        vr.dirty = True
        if prev_addr == a.address:
            return  # back in the role it last held
        prev = vr.advertisers.get(prev_addr) if prev_addr is not None else None
        expected: float | None = None
        cause: Cause
        if prev is None:
            cause = TransitionCause.FIRST_SEEN
        elif prev.address == vr.master:
            cause = HsrpCause.PROMOTED
        elif time - prev.last_seen > SILENCE_FACTOR * prev.interval_s:
            assert prev.down_s is not None
            cause, expected = HsrpCause.HOLD_EXPIRED, prev.down_s * 1000
        elif hsrp_outranks(a.last_priority, a.address, prev.last_priority, prev.address):
            cause = TransitionCause.PREEMPTED
        elif prev.state == STANDBY:
            vr.standby = prev.address  # a contender that does not outrank the standby
            return
        else:
            cause = TransitionCause.RESIGNED
        log.append(
            Transition(
                key=vr.key,
                time=time,
                frame=frame,
                old=prev.address if prev else None,
                new=a.address,
                cause=cause,
                # a promoted standby is still heard (as active): no gap to measure
                gap_ms=(
                    round((time - prev.last_seen) * 1000, 3)
                    if prev and cause is not HsrpCause.PROMOTED
                    else None
                ),
                expected_ms=round(expected, 3) if expected is not None else None,
                file=self._book.source,
            )
        )
        vr.timeline_version += 1

    def active_lost(
        self, vr: ObservedRouter, now: float, events: list[Event], note: str = ""
    ) -> None:
        """Live: master-lost when the active has sent no hello for its hold time plus
        EXPIRE_SLACK_S and nobody took over; a standby silent as long is no standby."""
        sb = vr.advertisers.get(vr.standby) if vr.standby else None
        if sb is not None and sb.down_s is not None and now - sb.last_seen > sb.down_s:
            vr.standby = None
            vr.dirty = True
        cur = vr.current
        if cur is None or vr.lost or vr.resigned or cur.down_s is None:
            return
        silent_beyond(
            self._book, vr, cur, now, cur.down_s, "hold time", events, note,
            words=("hello", "active", "standby"),
        )  # fmt: skip


def _claims_active(a: Advertiser) -> bool:
    return a.state == ACTIVE


def _auth_desc(a: Advertiser) -> str:
    label = HSRP_AUTH_LABELS.get(a.auth_type, str(a.auth_type))
    return f"{label} ({a.fingerprint})" if a.fingerprint else label
