"""CARP virtual hosts followed like VRRP routers: the master per vhid, its timeline and alerts.

CARP (OpenBSD's carp(4); FreeBSD's carp and ucarp follow it) shares VRRP's IP protocol 112
and multicast group but is its own protocol. As in VRRP only the master advertises: every
advbase + advskew / 256 seconds; backups are silent. A backup takes the master for gone after
3 x advbase + its own advskew / 256 seconds (``rfc.carp_master_down``; ucarp's factor is
``--deadratio``), and with preemption on it takes over from a master that advertises less
often than it would. So the master is the advertiser whose adverts keep coming, and when
another source advertises:

* the master had bowed out (advbase and advskew 255, OpenBSD's and ucarp's shutdown advert):
  cause ``resigned``; the backups take over at once;
* the master fell silent for longer than 1.5 of its intervals: cause ``silent``, the gap
  measured against the newcomer's 3 x advbase + advskew / 256;
* the newcomer advertises more often (or has a lower demote count): cause ``preempted``;
* otherwise it is a contender: two masters beyond the master-down time are a split brain.

The group id of the key is the vhid, and an advertiser's "priority" is its advskew (lower
wins). CARP adverts carry no addresses (they are configured on both sides) and their HMAC
cannot be checked without the password, so there is no VIP or auth comparison here. Alerts:
``split-brain``, ``master-change``, ``master-resigned``, ``master-lost`` (sniff, by the rule
above for the slowest backup), ``timer-mismatch`` (advbase differs, or a tie of advbase and
advskew), ``carp-demotion``, ``rogue-advertiser`` (``--known-routers``, by VRRP's and HSRP's
rule: ``rogue``), and the adverts' own findings (TTL, checksum: receivers discard those, as
VRRP's do, and they are not followed).
"""

from __future__ import annotations

from dissectors.frame import format_mac
from dissectors.packet import Decoded
from dissectors.vrrp import CarpPacket, discarded_by_receivers
from vrrpwatch.rfc import (
    CARP_BOW_OUT,
    carp_interval_s,
    carp_master_down,
    carp_outranks,
)
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.consistency import discarded_advert, finding_alerts
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.known import KnownRouters
from vrrpwatch.watch.model import (
    SILENCE_FACTOR,
    Advertiser,
    Event,
    Forget,
    ObservedRouter,
    Protocol,
    RouterKey,
    TransitionCause,
)
from vrrpwatch.watch.rivals import two_masters
from vrrpwatch.watch.rogue import rogue_advertiser
from vrrpwatch.watch.timeline import lost_cleared, record_transition, silent_beyond

CARP_AUTH = 2  # the advertisers' auth_type: CARP always carries its SHA1 HMAC (shown "hmac")


def _bows_out(msg: CarpPacket) -> bool:
    return msg.advbase_s == CARP_BOW_OUT and msg.advskew == CARP_BOW_OUT


class CarpFollower:
    """The CARP virtual hosts of a run, in the monitor's ``routers`` (protocol ``carp``)."""

    def __init__(
        self, book: AlertBook, routers: dict[RouterKey, ObservedRouter], known: KnownRouters | None
    ) -> None:
        self._book = book
        self._routers = routers
        self.known = known
        # keeps a vhid's advertisers bounded (the monitor's, raising advertiser-flood)
        self.forget: Forget | None = None

    def observe(
        self, frame: int, time: float, pkt: Decoded, msg: CarpPacket, events: list[Event]
    ) -> ObservedRouter | None:
        """One CARP advert; None when every receiver discards it (it is not followed)."""
        ip = pkt.ip
        assert ip is not None
        book = self._book
        key = RouterKey(pkt.link.vlans, ip.family, msg.vhid, Protocol.CARP)
        src = str(ip.src)
        mac = format_mac(pkt.link.src_mac) if pkt.link.src_mac else None
        discards = discarded_by_receivers(pkt.findings) if pkt.findings else ()
        if discards:
            # carp_input drops adverts with a TTL other than 255 or a bad checksum, as VRRP's
            # receivers do (RFC 5798 section 7.1).
            book.heard_discarded(key, src, time)
            discarded_advert(
                book, key, src, ip.ttl, mac, msg.advskew, discards, pkt, frame, time, events
            )
            return None
        vr = self._routers.get(key)
        if vr is None:
            vr = self._routers[key] = ObservedRouter(key)
        a = vr.speaker(src, frame, time, events, self.forget)
        bow_out = _bows_out(msg)
        before = (a.interval_ms, a.last_priority, a.demotion) if a.adverts else None
        a.heard_at(frame, time)
        vr.dirty = True
        if mac is not None and mac not in a.macs:
            a.macs.append(mac)
        if ip.ttl not in a.ttls:
            a.ttls.append(ip.ttl)
        a.version = msg.version
        if msg.version not in a.versions:
            a.versions.append(msg.version)
        a.auth_type = CARP_AUTH
        status = "ok" if msg.checksum_ok else "bad"
        if status not in a.checksums:
            a.checksums.append(status)
        raised: int | None = None  # the advskew it rose from
        a.state = 0 if bow_out else 1
        if not bow_out:
            if a.adverts > 1 and msg.advskew > a.last_priority:
                raised = a.last_priority
            if msg.advskew not in a.priorities:
                a.priorities.append(msg.advskew)
            a.last_priority = msg.advskew
            a.demotion = msg.demotion
            interval_ms = round(carp_interval_s(msg.advbase_s, msg.advskew) * 1000)
            a.set_timers(interval_ms, carp_master_down(msg.advbase_s, msg.advskew))
            a.advbase_s = msg.advbase_s
        finding_alerts(book, key, src, ip.ttl, a.mac, pkt, frame, time, events)
        if not bow_out:
            self._advert_alerts(vr, a, msg, raised, frame, time, events)
        if (a.interval_ms, a.last_priority, a.demotion) != before:
            vr.profile_version += 1
            self._timers(vr, a, frame, time, events)
        self._track(vr, a, bow_out, frame, time, events)
        if not bow_out:
            two_masters(
                book, vr, a, self._claims, frame, time, events,
                role="master", rule="CARP master-down time",
            )  # fmt: skip
        if vr.lost and vr.master is not None:
            lost_cleared(book, vr, a, frame, time, events)
        return vr

    @staticmethod
    def _claims(a: Advertiser) -> bool:
        return a.state == 1

    def _advert_alerts(
        self,
        vr: ObservedRouter,
        a: Advertiser,
        msg: CarpPacket,
        raised: int | None,
        frame: int,
        time: float,
        events: list[Event],
    ) -> None:
        book, key, src = self._book, vr.key, a.address
        if msg.demotion or raised is not None:
            why = (
                f"demote count {msg.demotion}"
                if msg.demotion
                else f"advskew rose to {msg.advskew} from {raised}"
            )
            book.raise_alert(
                events, AlertKind.CARP_DEMOTION, key, src, time, frame,
                f"{key.label()}: {src} is demoted ({why}): it yields the master role",
            )  # fmt: skip
        # CARP has no evidence without the list (rogue.py)
        rogue_advertiser(book, self.known, vr, a, frame, time, events)

    def _timers(
        self, vr: ObservedRouter, a: Advertiser, frame: int, time: float, events: list[Event]
    ) -> None:
        """advbase differs, or advbase and advskew tie (timer-mismatch): raised for the first
        other advertiser that differs so, once per episode (its message is not written while
        the episode is open: a flood of sources would write one per advertiser per advert)."""
        mine = a.advbase_s
        if not mine or self._book.is_open(AlertKind.TIMER_MISMATCH, vr.key, a.address):
            return
        for other in vr.advertisers.values():
            theirs = other.advbase_s
            if other is a or not theirs or not mine:
                continue
            if theirs != mine:
                why = f"advbase {mine} s but {other.address} advbase {theirs} s"
            elif other.last_priority == a.last_priority:
                why = (
                    f"advbase {mine} s and advskew {a.last_priority}, the same as "
                    f"{other.address}: neither is preferred"
                )
            else:
                continue
            self._book.raise_alert(
                events, AlertKind.TIMER_MISMATCH, vr.key, a.address, time, frame,
                f"{vr.key.label()}: {a.address} uses {why}",
            )  # fmt: skip
            return

    def _track(
        self,
        vr: ObservedRouter,
        a: Advertiser,
        bow_out: bool,
        frame: int,
        time: float,
        events: list[Event],
    ) -> None:
        book = self._book
        cur = vr.current
        if cur is None:
            if not bow_out:
                record_transition(
                    book, vr, a, None, TransitionCause.FIRST_SEEN, frame, time, events,
                    expected_ms=None,
                )  # fmt: skip
            return
        if cur is a:
            if bow_out and not vr.resigned:
                book.raise_alert(
                    events, AlertKind.MASTER_RESIGNED, vr.key, a.address, time, frame,
                    f"{vr.key.label()}: master {a.address} bowed out (advbase and advskew 255)",
                )  # fmt: skip
            vr.resigned = bow_out
            return
        if bow_out:
            return  # a backup that was master elsewhere stopping
        expected: float | None = None
        if vr.resigned:
            # A bow-out advert "will time out" at once: every backup takes over on it.
            cause, expected = TransitionCause.RESIGNED, 0.0
        elif time - cur.last_seen > SILENCE_FACTOR * cur.interval_s:
            assert a.down_s is not None
            cause, expected = TransitionCause.SILENT, a.down_s * 1000
        elif carp_outranks(
            a.advbase_s, a.last_priority, a.demotion,
            cur.advbase_s, cur.last_priority, cur.demotion,
        ):  # fmt: skip
            cause = TransitionCause.PREEMPTED
        else:
            return  # a contender while the master advertises: see two_masters
        record_transition(book, vr, a, cur, cause, frame, time, events, expected_ms=expected)

    def master_lost(
        self, vr: ObservedRouter, now: float, events: list[Event], note: str = ""
    ) -> None:
        """Live: master-lost when the master has been silent beyond the master-down time of
        its slowest backup (3 x advbase + advskew / 256; an unknown backup may have advskew
        254, the highest that is not a bow-out) plus EXPIRE_SLACK_S, with nobody taking
        over."""
        cur = vr.current
        if cur is None or vr.lost or vr.resigned:
            return
        advbase = cur.advbase_s or 1
        backups = [
            o.down_s for o in vr.advertisers.values() if o is not cur and o.down_s is not None
        ]
        limit = max(backups) if backups else carp_master_down(advbase, CARP_BOW_OUT - 1)
        silent_beyond(self._book, vr, cur, now, limit, "CARP master-down time", events, note)
