"""Who announces the virtual addresses (GARP, unsolicited NA), and CARP on a VRRP segment.

A new master announces its virtual addresses with gratuitous ARPs (IPv4) or unsolicited
neighbour advertisements (IPv6) (RFC 5798 section 6.4.2, 8.1.2, 8.2.2), from the virtual MAC
or, without one (keepalived without use_vmac), its own. An announcement is judged
``GARP_GRACE_S`` after it was seen, so the takeover advert that races it has arrived: a MAC
that is neither the master's at that time, nor a master's within the grace period, nor the
virtual MAC is a ``garp-conflict``.

CARP uses IP protocol 112 and 224.0.0.18 like VRRP (RFC 5798 section 5.1.1.2, 5.1.1.4), and
the virtual MACs of the two can collide: a VLAN carrying both is flagged once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from dissectors.frame import format_mac
from dissectors.hsrp import virtual_mac as hsrp_virtual_mac
from dissectors.packet import Decoded
from dissectors.vrrp import virtual_mac
from vrrpwatch.text import vlan_label
from vrrpwatch.watch.catalogue import GARP_GRACE_S, AlertKind
from vrrpwatch.watch.consistency import priority_255
from vrrpwatch.watch.episodes import AlertBook
from vrrpwatch.watch.known import KnownRouters
from vrrpwatch.watch.model import (
    AddressEvent,
    Event,
    EventLog,
    ObservedRouter,
    Protocol,
    RouterKey,
)
from vrrpwatch.watch.timeline import master_at, recent_transitions


class Announcements:
    """GARP/NA seen for virtual addresses, judged once the grace period is over."""

    def __init__(self, book: AlertBook) -> None:
        self._book = book
        self.events: EventLog[AddressEvent] = EventLog()
        self.pending: deque[tuple[AddressEvent, RouterKey]] = deque()

    def announce(
        self,
        routers: Mapping[RouterKey, ObservedRouter],
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
        for vr in routers.values():
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
            file=self._book.source,
        )
        self.events.append(ev)
        events.append(ev)
        if router is not None:
            routers[router].announcers.setdefault(address, set()).add(mac)
            self.pending.append((ev, router))

    def judge(
        self,
        routers: Mapping[RouterKey, ObservedRouter],
        known: KnownRouters | None,
        now: float,
        events: list[Event],
    ) -> None:
        """Judge the announcements older than the grace period."""
        pending = self.pending
        while pending and now - pending[0][0].time > GARP_GRACE_S:
            ev, key = pending.popleft()
            vr = routers[key]
            allowed = virtual_macs(vr)
            # The master at the time, and anyone who became master within the grace period
            # around it (a new master's GARPs and first advert race each other).
            for t in recent_transitions(vr):
                if abs(t.time - ev.time) <= GARP_GRACE_S and (n := vr.advertisers.get(t.new)):
                    allowed.update(n.macs)
            # and the backups that took over at once and lost (master for a moment, their
            # takeover is not in the timeline: the winner's replaced it)
            for took_over, loser in vr.contest_losers:
                if abs(took_over - ev.time) <= GARP_GRACE_S and (n := vr.advertisers.get(loser)):
                    allowed.update(n.macs)
            # (a master of the past may have been forgotten since: MAX_ADVERTISERS)
            master = master_at(vr, ev.time)
            if master is not None and (m := vr.advertisers.get(master)):
                allowed.update(m.macs)
            if ev.mac not in allowed:
                what = "gratuitous ARP" if ev.kind == "garp" else "neighbour advertisement"
                self._book.raise_alert(
                    events, AlertKind.GARP_CONFLICT, key, ev.mac, ev.time, ev.frame,
                    f"{key.label()}: {what} claims virtual address {ev.address} for {ev.mac}, "
                    f"which is neither the master's ({master or 'none'}) nor the virtual MAC",
                    file=ev.file,
                )  # fmt: skip
                cur = vr.advertisers.get(master) if master else None
                if cur is not None and cur.last_priority == 255 and key.protocol == Protocol.VRRP:
                    priority_255(self._book, known, vr, cur, ev.frame, ev.time, events)


def virtual_macs(vr: ObservedRouter) -> set[str]:
    """The virtual MACs of a router: VRRP's 00-00-5E-00-01/02-{VRID} (RFC 5798 section 7.3);
    CARP's 00-00-5E-00-01-{vhid} for both families (carp(4)); HSRP's per version of its
    advertisers: v1 0000.0c07.acXX (RFC 2281 section 6.1), v2 0000.0c9f.fXXX, over IPv6
    0005.73a0.0XXX."""
    key = vr.key
    if key.protocol == Protocol.CARP:
        return {format_mac(virtual_mac(key.vrid, 4))}
    if key.protocol == Protocol.HSRP:
        versions = {v for a in vr.advertisers.values() for v in a.versions} or {1, 2}
        return {
            format_mac(hsrp_virtual_mac(key.vrid, protocol_version=v, family=key.family))
            for v in versions
        }
    return {format_mac(virtual_mac(key.vrid, key.family))}


class CarpWatch:
    """CARP and VRRP on the same VLAN."""

    def __init__(self, book: AlertBook) -> None:
        self._book = book
        self._carp_vlans: dict[tuple[int, ...], tuple[float, int, str]] = {}
        self._vrrp_vlans: set[tuple[int, ...]] = set()

    def carp(self, frame: int, time: float, pkt: Decoded, events: list[Event]) -> None:
        vlans = pkt.link.vlans
        src = str(pkt.ip.src) if pkt.ip else "?"
        if vlans not in self._carp_vlans:
            self._carp_vlans[vlans] = (time, frame, src)
        if vlans in self._vrrp_vlans:
            self._alert(vlans, time, frame, src, events)

    def vrrp(self, vlans: tuple[int, ...], events: list[Event]) -> None:
        """A VRRP advert on ``vlans`` (the first CARP frame seen there, if any, is flagged)."""
        self._vrrp_vlans.add(vlans)
        if vlans in self._carp_vlans:
            t, f, src = self._carp_vlans[vlans]
            self._alert(vlans, t, f, src, events)

    def _alert(
        self, vlans: tuple[int, ...], time: float, frame: int, src: str, events: list[Event]
    ) -> None:
        self._book.raise_alert(
            events, AlertKind.CARP_ON_VRRP_SEGMENT, None, src, time, frame,
            f"CARP from {src} on a segment that also carries VRRP (vlan "
            f"{vlan_label(vlans)}): both use protocol 112 and 224.0.0.18 and "
            "their virtual MACs can collide",
        )  # fmt: skip
