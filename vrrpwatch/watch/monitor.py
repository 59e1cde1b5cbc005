"""The passive monitor: decoded packets in, per-virtual-router state, transitions and alerts out.

Shared by ``analyze`` (packets from a file) and ``sniff`` (packets from the wire). It performs no
I/O and reads no clock: the caller feeds it ``(frame, time, Decoded)``, link changes and, live,
the current time (``expire``), and reads back events; ``store/`` persists its state.

The monitor coordinates; each rule lives in its own module of ``vrrpwatch.watch``:

* ``model``: the observed routers, their advertisers and the events;
* ``timeline``: who is master, when and why it changed (RFC 5798 section 6.4), master-lost;
* ``consistency``: per-advert alerts, advertisers that disagree, rogues, split brain;
* ``addresses``: GARP/NA judgement and CARP on a VRRP segment;
* ``carp`` and ``hsrp``: CARP virtual hosts and HSRP groups, followed by their own rules
  (the monitor dispatches by the decoded message; their routers share ``routers``, keyed
  with their protocol);
* ``links``: the sniffed interfaces (down, up, the blind window after link-up);
* ``catalogue`` and ``episodes``: every alert is raised through the catalogue, once per
  episode, and the end of each episode is reported (``AlertResolved``, ``open_episodes``).
"""

from __future__ import annotations

from collections.abc import Callable

from dissectors.arp import ArpPacket
from dissectors.frame import format_mac
from dissectors.hsrp import HsrpV1, HsrpV1Advert, HsrpV2
from dissectors.nd import NeighborAdvert
from dissectors.packet import Decoded, Kind
from dissectors.vrrp import CarpPacket, VrrpV2, VrrpV3, discarded_by_receivers
from vrrpwatch.watch.addresses import Announcements, CarpWatch
from vrrpwatch.watch.carp import CarpFollower
from vrrpwatch.watch.catalogue import (
    CATALOGUE,
    EXPIRE_SLACK_S,
    FLAP_TRANSITIONS,
    FLAP_WINDOW_S,
    GARP_GRACE_S,
    MAX_ADVERTISERS,
    AlertKind,
    Ends,
    Severity,
)
from vrrpwatch.watch.consistency import (
    consistency_alerts,
    discarded_advert,
    packet_alerts,
    split_brain,
)
from vrrpwatch.watch.episodes import AlertBook, Episode
from vrrpwatch.watch.hsrp import HsrpFollower
from vrrpwatch.watch.known import KnownRouter, KnownRouters
from vrrpwatch.watch.links import Links
from vrrpwatch.watch.model import (
    SILENCE_FACTOR,
    AddressEvent,
    Advertiser,
    Alert,
    AlertResolved,
    Counters,
    Event,
    EventLog,
    ObservedRouter,
    Protocol,
    RouterKey,
    Transition,
    TransitionCause,
    address_text,
)
from vrrpwatch.watch.timeline import (
    lost_cleared,
    master_lost,
    other_version_than_master,
    settle,
    track_master,
)

__all__ = [
    "EXPIRE_SLACK_S",
    "FLAP_TRANSITIONS",
    "FLAP_WINDOW_S",
    "GARP_GRACE_S",
    "SILENCE_FACTOR",
    "AddressEvent",
    "Advertiser",
    "Alert",
    "AlertKind",
    "AlertResolved",
    "Counters",
    "Episode",
    "Event",
    "EventLog",
    "KnownRouter",
    "KnownRouters",
    "Monitor",
    "ObservedRouter",
    "Protocol",
    "RouterKey",
    "Severity",
    "Transition",
    "TransitionCause",
]


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
        self.routers: dict[RouterKey, ObservedRouter] = {}
        self.counters = Counters()
        self.book = AlertBook()
        self.announcements = Announcements(self.book)
        self._pending = self.announcements.pending  # read for every frame
        self.links = Links(self.book)
        self._carp = CarpWatch(self.book)
        self.carp = CarpFollower(self.book, self.routers, known_routers)
        self.hsrp = HsrpFollower(
            self.book, self.routers, known_routers, fingerprint, reveal_secrets
        )
        self.carp.forget = self.hsrp.forget = self._forget
        self.last_time = 0.0
        self.first_time: float | None = None
        self._seen: dict[int, tuple[Decoded, ObservedRouter, Advertiser]] = {}
        self._keys: dict[tuple[tuple[int, ...], int, int], RouterKey] = {}

    @property
    def alerts(self) -> EventLog[Alert]:
        """Every alert of the run, in order (but those ``trim`` dropped)."""
        return self.book.alerts

    @property
    def address_events(self) -> EventLog[AddressEvent]:
        return self.announcements.events

    @property
    def source(self) -> str | None:
        """The capture file being read (analyze sets it per file): frames count within it."""
        return self.book.source

    @source.setter
    def source(self, name: str | None) -> None:
        self.book.source = name

    def open_episodes(self) -> list[Episode]:
        """The alert episodes still open (their catalogue entry says what ends them)."""
        return self.book.open_episodes()

    # -- inputs ------------------------------------------------------------------------------

    def observe(
        self, frame: int, time: float, pkt: Decoded, iface: str | None = None
    ) -> list[Event]:
        """One decoded frame; ``iface`` (sniff) is the interface it came in on."""
        events: list[Event] = []
        self.last_time = time
        if self._pending:
            self.announcements.judge(self.routers, self.known, time, events)
        hit = self._seen.get(id(pkt))
        if hit is not None and hit[0] is pkt and hit[2].last_decoded is pkt:
            # The same decoded advert as this advertiser's previous one (the decode cache
            # hands out one object per distinct advert): its content changed nothing and
            # raised what it could; only timing matters now.
            _, vr, a = hit
            self.counters.vrrp_adverts += 1
            if pkt.findings:
                self._count_findings(pkt)
            vr.heard(a.address)
            a.heard_at(frame, time)
            vr.dirty = True
            if vr.unannounced is not None:
                settle(self.book, vr, time, events)
            in_group = not other_version_than_master(vr, a, time)
            if in_group and (vr.master != a.address or vr.resigned or a.last_priority == 0):
                track_master(self.book, vr, a, a.last_priority, frame, time, events)
            if a.checked_version != vr.profile_version:
                consistency_alerts(self.book, self.known, vr, a, frame, time, events)
                a.checked_version = vr.profile_version
            if in_group and len(vr.advertisers) > 1:
                split_brain(self.book, vr, a, frame, time, events)
            if vr.lost:
                lost_cleared(self.book, vr, a, frame, time, events)
            if iface is not None and vr.interface != iface:
                self.links.heard_on(vr, iface, frame, time, events)
            return events
        if self.first_time is None:
            self.first_time = time
        self._count_findings(pkt)
        msg = pkt.message
        if isinstance(msg, VrrpV2 | VrrpV3):
            self.counters.vrrp_adverts += 1
            followed = self._advert(frame, time, pkt, msg, events)
            if followed is not None and iface is not None and followed.interface != iface:
                self.links.heard_on(followed, iface, frame, time, events)
        elif isinstance(msg, CarpPacket):
            self.counters.carp += 1
            self._carp.carp(frame, time, pkt, events)
            followed = self.carp.observe(frame, time, pkt, msg, events)
            if followed is not None and iface is not None and followed.interface != iface:
                self.links.heard_on(followed, iface, frame, time, events)
        elif isinstance(msg, ArpPacket):
            if pkt.kind is Kind.GARP:
                self.counters.garps += 1
                mac = format_mac(msg.sender_mac)
                self.announcements.announce(
                    self.routers, frame, time, "garp", pkt.link.vlans, 4, str(msg.sender_ip),
                    mac, events,
                )  # fmt: skip
            else:
                self.counters.arps += 1
        elif isinstance(msg, NeighborAdvert):
            self.counters.nas += 1
            if not msg.solicited:
                ll = msg.target_ll_addr or pkt.link.src_mac
                mac = format_mac(ll) if ll else "?"
                self.announcements.announce(
                    self.routers, frame, time, "na", pkt.link.vlans, 6, str(msg.target), mac,
                    events,
                )  # fmt: skip
        elif isinstance(msg, HsrpV1 | HsrpV2):
            self.counters.hsrp += 1
            followed = self.hsrp.observe(frame, time, pkt, msg, events)
            if followed is not None and iface is not None and followed.interface != iface:
                self.links.heard_on(followed, iface, frame, time, events)
        elif isinstance(msg, HsrpV1Advert):
            self.counters.hsrp += 1  # the interface state: no group to follow
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
        self.book.raise_alert(
            events, AlertKind.MALFORMED, None, source, time, frame,
            f"undecodable packet from {source or 'unknown source'}: {error}",
        )  # fmt: skip
        return events

    def interface_down(
        self, name: str, now: float, *, frame: int, removed: bool = False
    ) -> list[Event]:
        """Sniff: interface ``name`` lost its link (``removed``: it was deleted)."""
        events: list[Event] = []
        self.links.interface_down(name, now, frame, removed, events)
        return events

    def interface_up(self, name: str, now: float, *, frame: int) -> list[Event]:
        """Sniff: interface ``name`` is up again."""
        events: list[Event] = []
        self.links.interface_up(name, now, frame, self.routers, events)
        return events

    def kernel_drops(self, name: str, now: float, count: int) -> None:
        """Sniff: the kernel dropped ``count`` frames on interface ``name`` since its last
        report, read at ``now`` (0: none, and the counters are read)."""
        self.links.dropped(name, now, count)

    def expire(self, now: float) -> list[Event]:
        """Live monitoring, called periodically with the current time: master-lost for routers
        whose master went silent (``timeline.master_lost``), except those heard on an
        interface in its blind window (``links``), and the end of the episodes that end with
        time. Nor for routers on an interface where the kernel dropped frames since their
        master's last advert (``kernel_drops``)."""
        events: list[Event] = []
        if self.announcements.pending:
            self.announcements.judge(self.routers, self.known, now, events)
        links = self.links
        blind = links.blind(now)
        book = self.book
        for vr in self.routers.values():
            if vr.unannounced is not None:
                settle(book, vr, now, events)
            if blind and vr.interface in blind:
                continue
            if links.drops_at and links.lost_to_drops(vr):
                continue  # frames dropped since the master's last advert: no judgement
            note = links.drop_note(vr) if links.drops else ""
            protocol = vr.key.protocol
            if protocol == Protocol.VRRP:
                master_lost(book, vr, now, events, note)
            elif protocol == Protocol.CARP:
                self.carp.master_lost(vr, now, events, note)
            else:
                self.hsrp.active_lost(vr, now, events, note)
        first = len(events)
        book.expire(now, self.routers, events)
        for e in events[first:]:
            assert isinstance(e, AlertResolved)
            self._reopenable(e.alert)
        return events

    def set_known_routers(self, known: KnownRouters | None) -> None:
        """Sniff's SIGHUP: a new ``--known-routers`` list; every advertiser's next advert is
        checked in full against it (not through the fast path)."""
        self.known = known
        self.carp.known = self.hsrp.known = known
        for vr in self.routers.values():
            for a in vr.advertisers.values():
                a.last_decoded = None
                a.checked_version = -1

    def _reopenable(self, alert: Alert) -> None:
        """An episode about an advertiser ended: its next advert is checked in full again (not
        through the fast path), so the alert is raised again if it still applies."""
        if CATALOGUE[alert.kind].ends is Ends.AFTER_HOLD or alert.key is None:
            return
        vr = self.routers.get(alert.key)
        if vr is not None:
            for a in vr.advertisers.values():
                a.last_decoded = None
                a.checked_version = -1

    def trim(self, cutoff: float) -> int:
        """Retention (``sniff --retain``): drop the alerts, address events and transitions from
        before ``cutoff``, oldest first, and return how many. A router keeps its latest
        transition (who is master now; a takeover may still be settled). Each log is replaced,
        not changed (``EventLog``), its ``trimmed`` offset grown: cursors stay valid. A router
        whose timeline shrank is dirty, so the store rewrites it without the old rows."""

        def older(log: EventLog[Alert] | EventLog[AddressEvent] | EventLog[Transition]) -> int:
            n = 0
            for e in log:
                if e.time >= cutoff:
                    break
                n += 1
            return n

        book, ann = self.book, self.announcements
        dropped = n = older(book.alerts)
        if n:
            book.alerts = book.alerts.after(n)
        dropped += (n := older(ann.events))
        if n:
            ann.events = ann.events.after(n)
        for vr in self.routers.values():
            n = min(older(vr.transitions), len(vr.transitions) - 1)
            if n > 0:
                vr.transitions = vr.transitions.after(n)
                vr.timeline_version += 1
                vr.dirty = True
                dropped += n
            n = min(older(vr.standby_transitions), len(vr.standby_transitions) - 1)
            if n > 0:  # HSRP's standby timeline, likewise
                vr.standby_transitions = vr.standby_transitions.after(n)
                vr.timeline_version += 1
                vr.dirty = True
                dropped += n
        return dropped

    def finish(self) -> list[Event]:
        events: list[Event] = []
        for vr in self.routers.values():
            if vr.unannounced is not None:
                settle(self.book, vr, float("inf"), events)
        self.announcements.judge(self.routers, self.known, float("inf"), events)
        return events

    # -- VRRP --------------------------------------------------------------------------------

    def _forget(
        self, vr: ObservedRouter, src: str, frame: int, time: float, events: list[Event]
    ) -> None:
        """Keep the router's advertisers bounded: the cost of an advert (consistency and split
        brain compare it with the others) and the memory stay flat under a flood of sources."""
        gone = vr.forget_least_recent()
        if gone is None or self.book.is_open(AlertKind.ADVERTISER_FLOOD, vr.key, None):
            return  # raised once per episode: its message is not even written
        self.book.raise_alert(
            events, AlertKind.ADVERTISER_FLOOD, vr.key, None, time, frame,
            f"{vr.key.label()}: more than {MAX_ADVERTISERS} sources advertise; {gone.address} "
            f"(last heard {time - gone.last_seen:.1f} s ago) is forgotten to follow {src} "
            f"({vr.forgotten} forgotten so far)",
        )  # fmt: skip

    def _advert(
        self, frame: int, time: float, pkt: Decoded, adv: VrrpV2 | VrrpV3, events: list[Event]
    ) -> ObservedRouter | None:
        """Follow one advert; None when every receiver discards it (it is not followed)."""
        ip = pkt.ip
        assert ip is not None
        link = pkt.link
        vlans = link.vlans
        # RouterKey's hash and equality are Python code: the keys are looked up by a plain tuple
        spec = (vlans, ip.family, adv.vrid)
        key = self._keys.get(spec)
        if key is None:
            if len(self._keys) >= 4096:
                self._keys.clear()
            key = self._keys[spec] = RouterKey(vlans, ip.family, adv.vrid)
        self._carp.vrrp(vlans, events)
        src_ip = ip.src
        src = address_text(src_ip)
        mac = format_mac(link.src_mac) if link.src_mac else None
        discards = discarded_by_receivers(pkt.findings) if pkt.findings else ()
        if discards:
            # RFC 5798 / RFC 3768 section 7.1: every router drops it, so it is no advertiser
            # of the router: it moves no master, adds no transition, makes no split brain.
            self.book.heard_discarded(key, src, time)
            discarded_advert(
                self.book, key, src, ip.ttl, mac, adv.priority, discards, pkt, frame, time,
                events,
            )  # fmt: skip
            return None
        vr = self.routers.get(key)
        if vr is None:
            vr = self.routers[key] = ObservedRouter(key)
        a = vr.speaker(src, frame, time, events, self._forget, src_ip)
        before = a.profile() if a.adverts else None
        a.heard_at(frame, time)
        vr.dirty = True
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
        a.vips = tuple([address_text(x) for x in adv.addresses])
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
        book = self.book
        packet_alerts(book, self.known, vr, a, pkt, frame, time, events)
        profile = a.profile()
        if profile != before:
            vr.profile_version += 1
            vr.count_profile(before, profile)
        consistency_alerts(book, self.known, vr, a, frame, time, events)
        a.checked_version = vr.profile_version
        if vr.unannounced is not None:
            settle(book, vr, time, events)
        if not other_version_than_master(vr, a, time):
            track_master(book, vr, a, adv.priority, frame, time, events)
            split_brain(book, vr, a, frame, time, events)
        if vr.lost and vr.master is not None:
            lost_cleared(book, vr, a, frame, time, events)
        return vr
