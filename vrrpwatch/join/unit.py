"""One running instance of join: its ``VirtualRouter`` and the I/O around it.

A ``Unit`` feeds its router what its transport delivered and carries out the actions the
router returns: adverts, gratuitous ARPs / NAs, the virtual addresses, the log lines
(``log.InstanceLog``), the notify scripts (``notify.Notifier``) and the state file
(``statefile.StateFile``). It does not wait: ``loop.Runtime`` sleeps for all units at once and
hands each one its inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dissectors.common import DecodeError, IPAddress
from dissectors.vrrp import parse_vrrp
from vrrpwatch import netif
from vrrpwatch.join.log import EventSink, InstanceLog
from vrrpwatch.join.notify import Notifier
from vrrpwatch.join.router import (
    Action,
    AddAddresses,
    AdvertisementDiscarded,
    DiscardReason,
    IpHeader,
    RemoveAddresses,
    SendAdvertisement,
    SendGratuitousArp,
    SendNeighborAdvertisement,
    State,
    StateChanged,
    VirtualRouter,
)
from vrrpwatch.join.statefile import StateFile, VmacRecord
from vrrpwatch.join.trackers import Trackers
from vrrpwatch.join.transport import Received, Transport

__all__ = ["Unit"]


@dataclass(eq=False)  # compared by identity: the loop tells units apart
class Unit:
    router: VirtualRouter
    transport: Transport
    emit: EventSink
    interface: str = "eth0"
    instance: str = "VI_1"
    prefixes: dict[IPAddress, int] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    dry_run: bool = False
    # ``--notify CMD`` (a string) or the instance's notify scripts and FIFOs.
    notify: str | Notifier | None = None
    state_file: Path | None = None
    vmac: VmacRecord | None = None  # use_vmac: listed in the state file while it runs
    # Log a discard reason at most this often (then one summary line per interval).
    discard_log_interval_s: float = 10.0
    # Asked when Master_Down_Timer runs out: True keeps the router Backup (a sync group whose
    # other members do not want to be Master yet, join/group.py).
    hold: Callable[[float], bool] | None = None
    # track_interface / track_script / track_file (join.trackers): the loop wakes at its
    # deadline() and carries out the router actions its poll() returns.
    trackers: Trackers | None = None
    # Counters for ``join --metrics`` (plain ints, read from the metrics server's thread).
    sent_adverts: int = field(default=0, init=False)
    received_adverts: int = field(default=0, init=False)  # every VRRP packet for our group
    became_master: int = field(default=0, init=False)
    # The latest time given to the router (its inputs must not go back in time).
    _now: float = field(default=float("-inf"), init=False)
    # VIPs this run added (and so removes): not those the interface already had.
    _added: set[IPAddress] = field(default_factory=set, init=False)
    _log: InstanceLog = field(init=False)
    _notifier: Notifier | None = field(default=None, init=False)
    _state_file: StateFile | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._log = InstanceLog(
            self.emit, self.instance, self.interface, self.discard_log_interval_s
        )
        if isinstance(self.notify, Notifier):
            self._notifier = self.notify
        elif self.notify:
            self._notifier = Notifier(self.notify, self.instance)
        if self.state_file is not None and not self.dry_run:
            self._state_file = StateFile(self.state_file, self.interface, vmac=self.vmac)
        if self.trackers is not None:
            self.trackers.log = self._log.line

    def set_emit(self, emit: EventSink) -> None:
        self.emit = emit
        self._log.emit = emit

    def at(self, t: float) -> float:
        """``t``, or the latest time already given to the router when ``t`` is earlier."""
        self._now = max(self._now, t)
        return self._now

    # -- inputs ------------------------------------------------------------------------------

    def link(self, up: bool) -> list[StateChanged]:
        self._log.link(up)
        now = self.at(self.clock())
        return self.execute(self.router.link_up(now) if up else self.router.link_down(now))

    def receive(self, item: Received) -> tuple[list[StateChanged], bool]:
        """One packet: the state changes it caused, and whether the router accepted it as a
        master's advert (for a sync group: the member hears a master)."""
        # The packet's arrival time, not the time a busy loop got to it: Master_Down_Interval
        # is judged by when adverts arrived (RFC 5798 section 6.4.2). What fell due before it
        # arrived runs first.
        self.received_adverts += 1
        now = self.at(item.at if item.at is not None else self.clock())
        changes = self.run_timer(now)
        try:
            adv = parse_vrrp(item.payload, src=item.src, dst=item.dst)
        except DecodeError as exc:
            self.router.discards[DiscardReason.MALFORMED] += 1
            discarded = AdvertisementDiscarded(
                reason=DiscardReason.MALFORMED, source=item.src, detail=f"undecodable: {exc}"
            )
            return changes + self.execute([discarded]), False
        header = IpHeader(src=item.src, dst=item.dst, ttl=item.ttl, ah=item.ah)
        actions = self.router.receive_advertisement(adv, ip=header, now=now)
        heard = adv.priority != 0 and not any(
            isinstance(a, AdvertisementDiscarded) for a in actions
        )
        return changes + self.execute(actions), heard

    def run_timer(self, now: float) -> list[StateChanged]:
        """Run the router's deadlines that are due at ``now`` (``hold`` asked first)."""
        deadline = self.router.get_timer()
        if deadline is None or deadline > now:
            return []
        if self.hold is not None and self.router.wants_master(now) and self.hold(now):
            self.router.hold_master(now)
        return self.execute(self.router.handle_timer(now))

    def flush(self, now: float, *, final: bool = False) -> None:
        self._log.flush_discards(now, self.router.discards, final=final)
        if self._notifier is not None:
            self._notifier.reap(wait=final)

    # -- actions -----------------------------------------------------------------------------

    def execute(self, actions: Iterable[Action]) -> list[StateChanged]:
        """Carry out the router's actions; returns its state changes."""
        actions = list(actions)
        # Leaving Master, the VIPs go before anything else: while the host holds one its
        # kernel answers ARP for it, after the new master's gratuitous ARPs. Then the wire,
        # before anything is logged or a notify script is started (the wire is what peers
        # time us by): the adverts, the addresses, the gratuitous ARPs / NAs. The sooner a
        # new Master's announcements follow its advert, the sooner they are out before a
        # rival Master's answer to that advert (router: a Master hearing a lower priority
        # advert announces its addresses again).
        for act in actions:
            if isinstance(act, RemoveAddresses):
                self._remove_addresses(act)
        for act in actions:
            if isinstance(act, SendAdvertisement):
                self._send_advert(act)
        added: dict[int, list[tuple[IPAddress, int]]] = {}
        for i, act in enumerate(actions):
            if isinstance(act, AddAddresses):
                added[i] = self._add_addresses(act)
                self._record_held()  # at once: a kill -9 from here on leaves them listed
            elif isinstance(act, SendGratuitousArp | SendNeighborAdvertisement):
                self._announce(act)
        changes: list[StateChanged] = []
        for i, act in enumerate(actions):
            if isinstance(act, SendGratuitousArp):
                for vip in act.addresses:
                    self._log.gratuitous_arp(vip, act.count)
            elif isinstance(act, SendNeighborAdvertisement):
                for vip6 in act.addresses:
                    self._log.unsolicited_na(vip6, act.count)
            elif isinstance(act, AddAddresses):
                for addr, plen in added[i]:
                    self._log.vip_add(addr, plen)
            elif isinstance(act, StateChanged):
                self._state_changed(act)
                changes.append(act)
            elif isinstance(act, AdvertisementDiscarded):
                count = self.router.discards[act.reason]
                self._log.discarded(act, count, self.clock())
        return changes

    def _announce(self, act: SendGratuitousArp | SendNeighborAdvertisement) -> None:
        if self.dry_run:
            return
        for vip in act.addresses:
            for _ in range(act.count):
                if isinstance(act, SendGratuitousArp):
                    self._io("garp", self.transport.send_gratuitous_arp, vip)
                else:
                    self._io("na", self.transport.send_neighbor_advertisement, vip)

    def _send_advert(self, act: SendAdvertisement) -> None:
        adv = act.advertisement
        if self.dry_run:
            # Only log the unusual ones: a periodic "would send" would flood the output.
            if adv.priority == 0 or self.sent_adverts == 0:
                self._log.would_send(adv.priority)
            self.sent_adverts += 1
            return
        if adv.priority == 0:
            self._log.releasing()
        if act.ah_sequence is None:
            self._io("advert", self.transport.send_advertisement, adv)
        else:
            self._io("advert", self.transport.send_advertisement, adv, act.ah_sequence)
        self.sent_adverts += 1

    def _add_addresses(self, act: AddAddresses) -> list[tuple[IPAddress, int]]:
        """Put the addresses on the interface (logged afterwards, by ``execute``)."""
        out = []
        for addr in act.addresses:
            plen = self._prefixlen(addr)
            out.append((addr, plen))
            if not self.dry_run and self._io("vip-add", self.transport.add_address, addr, plen):
                self._added.add(addr)
        return out

    def _remove_addresses(self, act: RemoveAddresses) -> None:
        for addr in act.addresses:
            plen = self._prefixlen(addr)
            if not self.dry_run and addr not in self._added:
                # An address the interface had before we added it (an owner's own address at
                # priority 255): not ours to remove.
                self._log.vip_keep(addr, plen)
                continue
            self._log.vip_remove(addr, plen)
            if not self.dry_run:
                self._io("vip-remove", self.transport.remove_address, addr, plen)
                self._added.discard(addr)
        self._record_held()

    def _state_changed(self, act: StateChanged) -> None:
        cfg = self.router.config
        if act.new is State.MASTER:
            self.became_master += 1
        self._log.state_changed(act, cfg, dry_run=self.dry_run)
        if self._notifier is not None:
            # keepalived's STOP notifies when the instance stops (vrrp_notify.c,
            # notify_shutdown); INITIALIZE is only entered then.
            for program, exc in self._notifier.run(act.new, cfg.priority):
                self._log.notify_failed(program, exc)

    def _io(self, what: str, fn: Callable[..., object], *args: Any) -> object:
        """Carry out one transport operation and return its result; a failure is logged (at
        most every 10 s per kind), never fatal: the state machine goes on, as keepalived's."""
        try:
            return fn(*args)
        except (OSError, netif.NetifError) as exc:
            self._log.io_failed(what, exc, self.clock())
            return None

    def _prefixlen(self, addr: IPAddress) -> int:
        return self.prefixes.get(addr, addr.max_prefixlen)

    def _record_held(self) -> None:
        if self._state_file is not None:
            self._state_file.write((a, self._prefixlen(a)) for a in self._added)
