"""join's loop: the I/O around the sans-IO ``VirtualRouter``.

``Runtime`` sleeps until the router's next deadline or until the transport has something (an
advertisement, a link change, a wake-up from a signal handler), feeds the router, and carries
out the actions it returns through a ``Transport``. After a late wake-up it passes the real
``now``. The clock and the transport are injected, so tests drive the loop with a fake clock
and a fake transport at exact times; ``transport.RawTransport`` is the real one.

The lines it logs are written by ``log.InstanceLog``, the notify command is run by
``notify.Notifier`` and the held addresses are recorded by ``statefile.StateFile``.
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
from vrrpwatch.join.transport import LinkChange, Received, Transport

__all__ = ["Runtime"]


@dataclass
class Runtime:
    router: VirtualRouter
    transport: Transport
    emit: EventSink
    interface: str = "eth0"
    instance: str = "VI_1"
    prefixes: dict[IPAddress, int] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    dry_run: bool = False
    notify: str | None = None
    state_file: Path | None = None
    vmac: VmacRecord | None = None  # use_vmac: listed in the state file while it runs
    # Log a discard reason at most this often (then one summary line per interval).
    discard_log_interval_s: float = 10.0
    # Counters for ``join --metrics`` (plain ints, read from the metrics server's thread).
    sent_adverts: int = field(default=0, init=False)
    received_adverts: int = field(default=0, init=False)  # every VRRP packet for our group
    became_master: int = field(default=0, init=False)
    _stop: bool = field(default=False, init=False)
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
        if self.notify:
            self._notifier = Notifier(self.notify, self.instance)
        if self.state_file is not None and not self.dry_run:
            self._state_file = StateFile(self.state_file, self.interface, vmac=self.vmac)

    # -- control ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Safe from a signal handler: the loop shuts down at its next wake-up."""
        self._stop = True
        self.transport.wake()

    def run(self, *, until: Callable[[], bool] | None = None) -> int:
        """Run until ``request_stop()`` (or ``until()`` is true); return the exit status."""
        self._execute(self.router.start(self._at(self.clock())))
        while not self._stop and not (until is not None and until()):
            self.step()
        now = self._at(self.clock())
        self._execute(self.router.shutdown(now))
        self._log.flush_discards(now, self.router.discards, final=True)
        if self._notifier is not None:
            self._notifier.reap(wait=True)
        return 0

    def step(self) -> None:
        """Sleep until the next deadline or input (not at all while packets are queued), then
        process one batch of what happened and the deadlines that are due."""
        deadline = self.router.get_timer()
        now = self.clock()
        if self.transport.backlog:
            timeout: float | None = 0.0
        else:
            timeout = None if deadline is None else max(0.0, deadline - now)
        received = False
        for item in self.transport.wait(timeout):
            if self._stop:
                break
            if isinstance(item, LinkChange):
                self._log.link(item.up)
                now = self._at(self.clock())
                self._execute(self.router.link_up(now) if item.up else self.router.link_down(now))
                continue
            received = True
            self._receive(item)
        deadline = self.router.get_timer()
        now = self.clock()
        # Due by the clock. A Backup that has just read packets first looks at what came in
        # meanwhile (the next wait does not sleep: the deadline is past): it arrived before now
        # and may be the master's advert; ``_receive`` runs the timer by arrival times. A
        # Master's adverts go out on time whatever is queued.
        waiting = self.router.state is State.BACKUP and (received or self.transport.backlog)
        if deadline is not None and now >= deadline and not self._stop and not waiting:
            self._execute(self.router.handle_timer(self._at(now)))
        self._log.flush_discards(now, self.router.discards)
        if self._notifier is not None:
            self._notifier.reap(wait=False)

    def _at(self, t: float) -> float:
        self._now = max(self._now, t)
        return self._now

    def _receive(self, item: Received) -> None:
        # The packet's arrival time, not the time a busy loop got to it: Master_Down_Interval
        # is judged by when adverts arrived (RFC 5798 section 6.4.2). What fell due before it
        # arrived runs first.
        self.received_adverts += 1
        now = self._at(item.at if item.at is not None else self.clock())
        deadline = self.router.get_timer()
        if deadline is not None and deadline <= now:
            self._execute(self.router.handle_timer(now))
        try:
            adv = parse_vrrp(item.payload, src=item.src, dst=item.dst)
        except DecodeError as exc:
            self.router.discards[DiscardReason.MALFORMED] += 1
            discarded = AdvertisementDiscarded(
                reason=DiscardReason.MALFORMED, source=item.src, detail=f"undecodable: {exc}"
            )
            self._execute([discarded])
            return
        header = IpHeader(src=item.src, dst=item.dst, ttl=item.ttl)
        self._execute(self.router.receive_advertisement(adv, ip=header, now=now))

    # -- actions -----------------------------------------------------------------------------

    def _execute(self, actions: Iterable[Action]) -> None:
        actions = list(actions)
        # Leaving Master, the VIPs go before anything else: while the host holds one its
        # kernel answers ARP for it, after the new master's gratuitous ARPs. Then the adverts,
        # before anything is logged: the wire is what peers time us by.
        for act in actions:
            if isinstance(act, RemoveAddresses):
                self._remove_addresses(act)
        for act in actions:
            if isinstance(act, SendAdvertisement):
                self._send_advert(act)
        for act in actions:
            if isinstance(act, SendAdvertisement | RemoveAddresses):
                continue
            elif isinstance(act, SendGratuitousArp):
                for vip in act.addresses:
                    self._log.gratuitous_arp(vip, act.count)
                    for _ in range(act.count):
                        if not self.dry_run:
                            self._io("garp", self.transport.send_gratuitous_arp, vip)
            elif isinstance(act, SendNeighborAdvertisement):
                for vip6 in act.addresses:
                    self._log.unsolicited_na(vip6, act.count)
                    for _ in range(act.count):
                        if not self.dry_run:
                            self._io("na", self.transport.send_neighbor_advertisement, vip6)
            elif isinstance(act, AddAddresses):
                self._add_addresses(act)
            elif isinstance(act, StateChanged):
                self._state_changed(act)
            elif isinstance(act, AdvertisementDiscarded):
                count = self.router.discards[act.reason]
                self._log.discarded(act, count, self.clock())

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
        self._io("advert", self.transport.send_advertisement, adv)
        self.sent_adverts += 1

    def _add_addresses(self, act: AddAddresses) -> None:
        for addr in act.addresses:
            plen = self._prefixlen(addr)
            self._log.vip_add(addr, plen)
            if not self.dry_run and self._io("vip-add", self.transport.add_address, addr, plen):
                self._added.add(addr)
        self._record_held()

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
        if self._notifier is not None and act.new is not State.INITIALIZE:
            try:
                self._notifier.run(act.new, cfg.priority)
            except OSError as exc:
                self._log.notify_failed(self._notifier.program, exc)

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
