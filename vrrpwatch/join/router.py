"""A sans-IO VRRP virtual router: RFC 5798 (VRRPv3) and RFC 3768 (VRRPv2) section 6.

Theory of operation
===================

One ``VirtualRouter`` is one (VRID, address family) on one interface. It performs no I/O and
never reads a clock: the caller passes ``now`` (monotonic seconds) to every input, and every
input returns the list of actions the caller must carry out, in order.

The machine follows RFC 5798 section 6.4 (and RFC 3768 section 6.4, which has the same shape):

* ``Initialize`` (6.4.1): on ``start`` a router with priority 255 (the address owner) sends an
  advertisement, announces its addresses and becomes ``Master``; any other router sets
  Master_Down_Timer to Master_Down_Interval and becomes ``Backup``.
* ``Backup`` (6.4.2): an advertisement of priority 0 sets Master_Down_Timer to Skew_Time; an
  advertisement whose priority is >= ours (or any, when Preempt_Mode is off) restarts
  Master_Down_Timer (VRRPv3 first learns Master_Adver_Interval from it); a lower priority one
  is discarded, so the timer runs out and we preempt. When Master_Down_Timer fires we become
  ``Master``.
* ``Master`` (6.4.3): Adver_Timer sends an advertisement every Advertisement_Interval; a
  priority-0 advertisement is answered at once; a higher priority advertisement (or an equal one
  from a higher primary address, compared as unsigned integers in network byte order) makes us
  ``Backup``; a lower priority one is answered at once with our own advertisement (RFC 9568
  section 6.4.3), which lets a freshly started lower-priority router see us immediately.
* ``shutdown`` as Master sends an advertisement with priority 0 (6.4.3) so a backup takes over
  after Skew_Time instead of Master_Down_Interval.

``Fault`` is not in the RFC: it is keepalived's state for "our own interface is down" and for
a tracker (track_interface, track_script with weight 0, ...) that failed (``set_track_fault``).
The router leaves Master (addresses removed; after a tracker fault also a priority-0
advertisement, as keepalived's ``vrrp_state_leave_master`` sends on entering FAULT) and goes back
to Backup when every fault has cleared. ``set_priority`` changes the effective priority a
tracker's weight gives (keepalived's ``vrrp_set_effective_priority``): a Master advertises it
from its next advertisement on, a Backup moves its running Master_Down_Timer by the change in
Skew_Time, as keepalived moves its down timer.

Every state change is checked against ``TRANSITIONS``. A misbehaving peer never raises: its
packet yields ``AdvertisementDiscarded`` with a reason (RFC 5798 section 7.1 receive checks; the
address owner discards every advertisement for its VRID). The actions of becoming Master come
in the RFC's order: the advertisement, then the addresses, then the announcements; the
gratuitous ARP / NA burst repeats once after ``garp_delay_s``, as keepalived does. Leaving
Master, the addresses go first, before any advertisement or notification: a host that still
holds a VIP answers ARP for it, and the new Master's gratuitous ARPs are already out.
A Master that hears a lower priority advertisement (another router that also
believes it is Master) answers with its advertisement and announces its addresses again, at
once and with its next advertisement (keepalived does so too), so clients end at its MAC
whatever the other announced or answered meanwhile.
Misuse by the caller (starting twice, time going backwards) raises ``ProtocolError``.

The vocabulary is in two modules of its own, re-exported here: ``join.states`` (State, Cause,
TRANSITIONS, DiscardReason) and ``join.actions`` (IpHeader, RouterConfig and the actions).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field, replace

from dissectors.ah import SEQUENCE_MAX, AhCheck, AhProtected, check_ah
from dissectors.common import Finding, IPAddress
from dissectors.vrrp import (
    AuthType,
    VrrpPacket,
    VrrpV2,
    VrrpV3,
    validate_advert,
)
from vrrpwatch.join.actions import (
    Action,
    AddAddresses,
    AdvertisementDiscarded,
    IpHeader,
    RemoveAddresses,
    RouterConfig,
    SendAdvertisement,
    SendGratuitousArp,
    SendNeighborAdvertisement,
    StateChanged,
)
from vrrpwatch.join.states import (
    DISCARDED_FINDINGS,
    TRANSITIONS,
    Cause,
    DiscardReason,
    ProtocolError,
    State,
    discard_reason,
)
from vrrpwatch.rfc import master_down_interval, outranks, skew_time

__all__ = [
    "Action",
    "AddAddresses",
    "AdvertisementDiscarded",
    "Cause",
    "DISCARDED_FINDINGS",
    "DiscardReason",
    "IpHeader",
    "ProtocolError",
    "RemoveAddresses",
    "RouterConfig",
    "SendAdvertisement",
    "SendGratuitousArp",
    "SendNeighborAdvertisement",
    "State",
    "StateChanged",
    "TRANSITIONS",
    "VirtualRouter",
    "discard_reason",
]


# --- the machine ---------------------------------------------------------------------------


@dataclass(slots=True)
class VirtualRouter:
    config: RouterConfig
    state: State = field(default=State.INITIALIZE, init=False)
    # Master_Adver_Interval (VRRPv3 learns it from the Master; VRRPv2 uses its own interval).
    master_adver_interval_cs: int = field(default=0, init=False)
    discards: Counter[DiscardReason] = field(default_factory=Counter, init=False)
    # keepalived's AH sequence number counter: one for sending and receiving (dissectors.ah).
    ah_sequence: int = field(default=0, init=False)
    _master_down_at: float | None = field(default=None, init=False)
    _adver_at: float | None = field(default=None, init=False)
    _garp_at: float | None = field(default=None, init=False)
    # When a lower priority advertisement last made us announce our addresses again.
    _reannounced_at: float = field(default=float("-inf"), init=False)
    # ... and announce them once more with the next advertisement.
    _announce_with_advert: bool = field(default=False, init=False)
    _started_at: float = field(default=0.0, init=False)
    _last_now: float = field(default=float("-inf"), init=False)
    _link_up: bool = field(default=True, init=False)
    _track_fault: bool = field(default=False, init=False)
    _running: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.master_adver_interval_cs = self.config.advertisement_interval_cs

    # -- derived values, RFC 5798 section 6.1 -------------------------------------------------

    @property
    def skew_time(self) -> float:
        return skew_time(
            self.config.priority, self.master_adver_interval_cs / 100, self.config.version
        )

    @property
    def master_down_interval(self) -> float:
        return master_down_interval(
            self.config.priority, self.master_adver_interval_cs / 100, self.config.version
        )

    @property
    def is_owner(self) -> bool:
        return self.config.priority == 255

    # -- inputs ---------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """The Startup event (RFC 5798 section 6.4.1)."""
        self._tick(now)
        if self._running:
            raise ProtocolError("start() called twice")
        self._running = True
        self._started_at = now
        if not self._link_up:
            return self._set_state(State.FAULT, Cause.LINK_DOWN)
        if self._track_fault:
            return self._set_state(State.FAULT, Cause.TRACK_FAULT)
        return self._leave_initialize(now, Cause.STARTUP)

    def shutdown(self, now: float) -> list[Action]:
        """The Shutdown event: as Master, a priority-0 advertisement (RFC 5798 section 6.4.3)."""
        self._tick(now)
        if not self._running:
            raise ProtocolError("shutdown() before start()")
        self._running = False
        out: list[Action] = []
        if self.state is State.MASTER:
            out.append(RemoveAddresses(addresses=self.config.addresses))
            out.append(self._send_advertisement(priority=0))
        self._cancel_timers()
        out += self._set_state(State.INITIALIZE, Cause.SHUTDOWN)
        return out

    def link_down(self, now: float) -> list[Action]:
        """Our interface lost its carrier or was set down (keepalived's FAULT state); as Master
        no advertisement is tried (the link is down)."""
        self._tick(now)
        self._link_up = False
        if not self._running or self.state is State.FAULT:
            return []
        was_master = self.state is State.MASTER
        self._cancel_timers()
        out: list[Action] = []
        if was_master:
            out.append(RemoveAddresses(addresses=self.config.addresses))
        return out + self._set_state(State.FAULT, Cause.LINK_DOWN)

    def link_up(self, now: float) -> list[Action]:
        self._tick(now)
        self._link_up = True
        if not self._running or self.state is not State.FAULT or self._track_fault:
            return []
        self.master_adver_interval_cs = self.config.advertisement_interval_cs
        return self._leave_initialize(now, Cause.LINK_UP)

    def set_track_fault(self, now: float, faulted: bool) -> list[Action]:
        """A tracker's verdict (keepalived's ``down_instance`` / ``try_up_instance``): while
        ``faulted`` the router stays in Fault. Leaving Master for it, the addresses go and a
        priority-0 advertisement tells the backups to take over after Skew_Time (keepalived's
        ``vrrp_state_leave_master`` with wantstate FAULT sends VRRP_PRIO_STOP)."""
        self._tick(now)
        if faulted == self._track_fault:
            return []
        self._track_fault = faulted
        if not self._running:
            return []
        if not faulted:
            if self.state is not State.FAULT or not self._link_up:
                return []
            self.master_adver_interval_cs = self.config.advertisement_interval_cs
            return self._leave_initialize(now, Cause.TRACK_RECOVERED)
        if self.state is State.FAULT:
            return []
        was_master = self.state is State.MASTER
        self._cancel_timers()
        out: list[Action] = []
        if was_master:
            out.append(RemoveAddresses(addresses=self.config.addresses))
            out.append(SendAdvertisement(advertisement=self._advertisement(priority=0)))
        return out + self._set_state(State.FAULT, Cause.TRACK_FAULT)

    def set_priority(self, now: float, priority: int) -> list[Action]:
        """The effective priority a tracker's weight gives (1..254; keepalived's
        ``vrrp_set_effective_priority``, which never changes an address owner's 255).

        A Master advertises it from its next advertisement on; a Backup's running
        Master_Down_Timer moves by the change of Master_Down_Interval (its Skew_Time), as
        keepalived moves ``sands`` by the change of ``ms_down_timer``."""
        self._tick(now)
        if self.is_owner:
            raise ProtocolError("the address owner's priority (255) never changes")
        if not 1 <= priority <= 254:
            raise ProtocolError(f"effective priority must be 1..254, not {priority}")
        if priority == self.config.priority:
            return []
        old_down = self.master_down_interval
        self.config = replace(self.config, priority=priority)
        if self.state is State.BACKUP and self._master_down_at is not None:
            self._master_down_at += self.master_down_interval - old_down
        return []

    def get_timer(self) -> float | None:
        """The earliest pending deadline (absolute, in the caller's clock), or None."""
        pending = [
            t for t in (self._master_down_at, self._adver_at, self._garp_at) if t is not None
        ]
        return min(pending) if pending else None

    def handle_timer(self, now: float) -> list[Action]:
        """Run every deadline that is due at ``now``; a no-op when none is."""
        self._tick(now)
        out: list[Action] = []
        if self._master_down_at is not None and now >= self._master_down_at:
            # RFC 5798 section 6.4.2: Master_Down_Timer fires -> become Master.
            self._master_down_at = None
            out += self._become_master(now, Cause.MASTER_DOWN)
        if self._adver_at is not None and now >= self._adver_at:
            # RFC 5798 section 6.4.3: Adver_Timer fires -> advertise, restart the timer. The
            # next deadline follows the previous one so a late wake-up does not drift.
            out.append(self._send_advertisement())
            nxt = self._adver_at + self.config.advertisement_interval_s
            self._adver_at = nxt if nxt > now else now + self.config.advertisement_interval_s
            if self._announce_with_advert:
                self._announce_with_advert = False
                out += self._announce()
        if self._garp_at is not None and now >= self._garp_at:
            self._garp_at = None
            out += self._announce()
        return out

    def receive_advertisement(self, adv: VrrpPacket, *, ip: IpHeader, now: float) -> list[Action]:
        self._tick(now)
        reason, detail = self._check(adv, ip)
        if reason is not None:
            return [self._discard(reason, ip.src, detail)]
        if self.state is State.BACKUP:
            return self._backup_receive(adv, ip, now)
        if self.state is State.MASTER:
            return self._master_receive(adv, ip, now)
        return [self._discard(DiscardReason.NOT_RUNNING, ip.src, self.state.value)]

    # -- per-state behaviour ----------------------------------------------------------------

    def _backup_receive(self, adv: VrrpPacket, ip: IpHeader, now: float) -> list[Action]:
        cfg = self.config
        if adv.priority == 0:
            # RFC 5798 section 6.4.2: the Master is leaving; take over after Skew_Time.
            self._master_down_at = now + self.skew_time
            return []
        preempting = cfg.preempt_mode and now >= self._started_at + cfg.preempt_delay_s
        if not preempting or adv.priority >= cfg.priority:
            if cfg.version == 3:
                # RFC 5798 section 6.4.2: Master_Adver_Interval from the advertisement.
                self.master_adver_interval_cs = adv.interval_cs
            self._master_down_at = now + self.master_down_interval
            return []
        # Preempt: drop it and let Master_Down_Timer run out.
        return [
            self._discard(
                DiscardReason.LOWER_PRIORITY,
                ip.src,
                f"priority {adv.priority} < ours {cfg.priority}, preempting",
            )
        ]

    def _master_receive(self, adv: VrrpPacket, ip: IpHeader, now: float) -> list[Action]:
        cfg = self.config
        if adv.priority == 0:
            # RFC 5798 section 6.4.3: answer a leaving router at once.
            return self._advertise_now(now)
        higher = adv.priority > cfg.priority
        if outranks(adv.priority, ip.src, cfg.priority, cfg.primary_address):
            self._adver_at = None
            self._garp_at = None
            if cfg.version == 3:
                self.master_adver_interval_cs = adv.interval_cs
            self._master_down_at = now + self.master_down_interval
            cause = Cause.HIGHER_PRIORITY if higher else Cause.EQUAL_PRIORITY_HIGHER_ADDRESS
            out: list[Action] = [RemoveAddresses(addresses=cfg.addresses)]
            return out + self._set_state(
                State.BACKUP, cause, peer=ip.src, peer_priority=adv.priority
            )
        # RFC 9568 section 6.4.3: a lower priority advertisement gets ours at once. Its
        # sender believes it is Master and may have announced our addresses (two Backups
        # whose Master_Down_Timers ran out together): announce them again after the advert,
        # as keepalived's vrrp_state_master_rx does ("we just refresh remote ARP cache",
        # garp_lower_prio_repeat), and once more with our next advertisement, as keepalived
        # sends a second burst (garp_lower_prio_delay; it waits garp_master_delay, we one
        # Advertisement_Interval): until the other has heard us and dropped the addresses
        # its kernel answers ARP for them, and a host whose first request it answered would
        # otherwise point at it until our next burst. At most once per
        # Advertisement_Interval: a peer's flood of low adverts is no ARP storm.
        out = self._advertise_now(now)
        if now >= self._reannounced_at + cfg.advertisement_interval_s:
            self._reannounced_at = now
            self._announce_with_advert = True
            out += self._announce()
        return out

    def _leave_initialize(self, now: float, cause: Cause) -> list[Action]:
        if self.is_owner:
            return self._become_master(now, Cause.OWNER_STARTUP)
        # RFC 5798 section 6.4.1: Master_Adver_Interval = Advertisement_Interval.
        self.master_adver_interval_cs = self.config.advertisement_interval_cs
        self._master_down_at = now + self.master_down_interval
        return self._set_state(State.BACKUP, cause)

    def _become_master(self, now: float, cause: Cause) -> list[Action]:
        cfg = self.config
        self._master_down_at = None
        self._announce_with_advert = False
        # RFC 5798 section 6.4.1/6.4.2 order: advertise first, then announce the addresses
        # (which must be on the interface by the time the gratuitous ARPs go out).
        out: list[Action] = self._set_state(State.MASTER, cause)
        out.append(self._send_advertisement())
        out.append(AddAddresses(addresses=cfg.addresses, accept_mode=cfg.accept_mode))
        out += self._announce()
        self._adver_at = now + cfg.advertisement_interval_s
        self._garp_at = now + cfg.garp_delay_s if cfg.garp_delay_s > 0 else None
        return out

    def _advertise_now(self, now: float) -> list[Action]:
        self._adver_at = now + self.config.advertisement_interval_s
        return [self._send_advertisement()]

    def _announce(self) -> list[Action]:
        # RFC 5798 section 6.4.1/6.4.2: gratuitous ARP (IPv4) or unsolicited Neighbor
        # Advertisement (IPv6, RFC 4861 section 7.2.6) for each virtual address.
        cfg = self.config
        if cfg.garp_repeat <= 0:
            return []
        v4 = tuple(a for a in cfg.addresses if isinstance(a, ipaddress.IPv4Address))
        v6 = tuple(a for a in cfg.addresses if isinstance(a, ipaddress.IPv6Address))
        if v4:
            return [SendGratuitousArp(addresses=v4, count=cfg.garp_repeat)]
        return [SendNeighborAdvertisement(addresses=v6, count=cfg.garp_repeat)]

    def _send_advertisement(self, priority: int | None = None) -> SendAdvertisement:
        adv = self._advertisement(priority)
        if self.config.ah_key is None:
            return SendAdvertisement(advertisement=adv)
        # keepalived's vrrp_update_pkt: the counter goes up before each advert (it stops at
        # the top: 2^32 adverts at 1 s are 136 years).
        self.ah_sequence = min(self.ah_sequence + 1, SEQUENCE_MAX)
        return SendAdvertisement(advertisement=adv, ah_sequence=self.ah_sequence)

    def _advertisement(self, priority: int | None = None) -> VrrpPacket:
        cfg = self.config
        prio = cfg.priority if priority is None else priority
        if cfg.version == 2:
            v4 = tuple(a for a in cfg.addresses if isinstance(a, ipaddress.IPv4Address))
            pw = cfg.auth_pass
            return VrrpV2(
                vrid=cfg.vrid,
                priority=prio,
                count_ip_addrs=len(v4),
                auth_type=self._auth_type,
                adver_int_s=cfg.advertisement_interval_cs // 100,
                addresses=v4,
                auth_data=(pw or b"").ljust(8, b"\x00"),
            )
        return VrrpV3(
            vrid=cfg.vrid,
            priority=prio,
            count_ip_addrs=len(cfg.addresses),
            max_adver_int_cs=cfg.advertisement_interval_cs,
            addresses=cfg.addresses,
            family=cfg.family,
        )

    # -- receive checks, RFC 5798 / RFC 3768 section 7.1 -------------------------------------

    def _check(self, adv: VrrpPacket, ip: IpHeader) -> tuple[DiscardReason | None, str]:
        cfg = self.config
        found = frozenset(validate_advert(adv, src=ip.src, dst=ip.dst, ttl=ip.ttl))
        # In section 7.1's order: TTL, version, VRID and owner, the message itself, ...
        if Finding.TTL_NOT_255 in found:
            return DISCARDED_FINDINGS[Finding.TTL_NOT_255], f"TTL/hop limit {ip.ttl}"
        if adv.version != cfg.version:
            return DiscardReason.BAD_VERSION, f"version {adv.version}, ours {cfg.version}"
        if adv.vrid != cfg.vrid:
            return DiscardReason.VRID_MISMATCH, f"VRID {adv.vrid}"
        if cfg.priority == 255:
            # RFC 5798 / RFC 3768 section 7.1: the address owner discards every advertisement
            # for its VRID (it is master whatever the others say).
            return DiscardReason.LOCAL_OWNER, f"priority {adv.priority}; we own the addresses"
        if Finding.BAD_CHECKSUM in found:
            return DISCARDED_FINDINGS[Finding.BAD_CHECKSUM], f"checksum {adv.checksum:#06x}"
        if Finding.BAD_TYPE in found:
            return DISCARDED_FINDINGS[Finding.BAD_TYPE], f"type {adv.type}"
        if Finding.COUNT_MISMATCH in found:
            return DISCARDED_FINDINGS[Finding.COUNT_MISMATCH], f"count {adv.count_ip_addrs}"
        # ... then our own configuration: the family of the sender and of the addresses, ...
        if Finding.FAMILY_MISMATCH in found or ip.src.version != cfg.family:
            return DISCARDED_FINDINGS[Finding.FAMILY_MISMATCH], f"from IPv{ip.src.version}"
        if ip.src == cfg.primary_address:
            return DiscardReason.OWN_ADVERTISEMENT, ""
        if Finding.INTERVAL_ZERO in found:
            return DISCARDED_FINDINGS[Finding.INTERVAL_ZERO], ""
        if isinstance(adv, VrrpV2):
            # RFC 3768 section 7.1: the Auth Type must match ours, and with simple text
            # authentication the password too (section 5.3.10); with AH (keepalived) the
            # advert must come inside AH, and AH only with it.
            want = self._auth_type
            if (ip.ah is not None) != (want is AuthType.AH):
                return DiscardReason.AUTH_TYPE_MISMATCH, (
                    "AH header, but our auth type is not AH"
                    if ip.ah is not None
                    else "no AH header, but our auth type is AH"
                )
            if adv.auth_type != want:
                return DiscardReason.AUTH_TYPE_MISMATCH, (
                    f"auth type {adv.auth_type}, ours {int(want)}"
                )
            if want is AuthType.SIMPLE and adv.auth_data[:8] != (cfg.auth_pass or b"").ljust(
                8, b"\x00"
            ):
                return DiscardReason.AUTH_FAILURE, "password does not match"
            if ip.ah is not None:
                failed = self._check_ah(ip.ah)
                if failed:
                    return DiscardReason.AUTH_FAILURE, failed
            # RFC 3768 section 7.1: the Adver Interval must be ours.
            if adv.interval_cs != cfg.advertisement_interval_cs:
                return DiscardReason.INTERVAL_MISMATCH, (
                    f"interval {adv.adver_int_s} s, ours {cfg.advertisement_interval_cs // 100} s"
                )
        # Section 7.1: a different address list is dropped unless the sender is the owner.
        if adv.priority != 255 and sorted(adv.addresses, key=int) != sorted(cfg.addresses, key=int):
            theirs = ",".join(str(a) for a in adv.addresses)
            return DiscardReason.ADDRESS_LIST_MISMATCH, f"addresses {theirs}"
        return None, ""

    @property
    def _auth_type(self) -> AuthType:
        cfg = self.config
        if cfg.ah_key is not None:
            return AuthType.AH
        return AuthType.NONE if cfg.auth_pass is None else AuthType.SIMPLE

    def _check_ah(self, sealed: AhProtected) -> str:
        """keepalived's vrrp_in_chk_ipsecah: the ICV, the SPI, then the sequence number,
        which must be above the counter and then sets it. Empty: accepted."""
        assert self.config.ah_key is not None
        verdict = check_ah(self.config.ah_key, sealed, zero_ttl=self.config.ah_zero_ttl)
        if verdict is AhCheck.NOT_VRRP:
            return f"AH around IP protocol {sealed.ah.next_header}, not VRRP"
        if verdict is AhCheck.BAD_ICV:
            return "AH ICV does not match (wrong key, or a covered field changed on the way)"
        if verdict is AhCheck.BAD_SPI:
            return f"AH SPI {sealed.ah.spi:#010x} is not the source address"
        if sealed.ah.sequence <= self.ah_sequence:
            return f"AH sequence number {sealed.ah.sequence} already seen (ours {self.ah_sequence})"
        self.ah_sequence = sealed.ah.sequence
        return ""

    # -- helpers ------------------------------------------------------------------------------

    def _discard(
        self, reason: DiscardReason, src: IPAddress, detail: str
    ) -> AdvertisementDiscarded:
        self.discards[reason] += 1
        return AdvertisementDiscarded(reason=reason, source=src, detail=detail)

    def _cancel_timers(self) -> None:
        self._master_down_at = self._adver_at = self._garp_at = None

    def _tick(self, now: float) -> None:
        if now < self._last_now:
            raise ProtocolError(f"time went backwards: {now} < {self._last_now}")
        self._last_now = now

    def _set_state(
        self,
        new: State,
        cause: Cause,
        *,
        peer: IPAddress | None = None,
        peer_priority: int | None = None,
    ) -> list[Action]:
        old = self.state
        allowed = TRANSITIONS.get((old, new), frozenset())
        if cause not in allowed:
            raise ProtocolError(f"illegal transition {old.name} -> {new.name} ({cause})")
        self.state = new
        return [StateChanged(old=old, new=new, cause=cause, peer=peer, peer_priority=peer_priority)]

    # -- sync group inputs (keepalived vrrp_sync.c; the rule is join/group.py's) ---------------

    def wants_master(self, now: float) -> bool:
        """A Backup whose Master_Down_Timer has run out: it would become Master at ``now``."""
        due = self._master_down_at
        return self.state is State.BACKUP and due is not None and now >= due

    def hold_master(self, now: float) -> None:
        """Stay Backup although Master_Down_Timer ran out, and restart it (keepalived's
        ``vrrp_sync_can_goto_master``: a member goes Master only when the others want to)."""
        self._tick(now)
        if self.wants_master(now):
            self._master_down_at = now + self.master_down_interval

    def sync_master(self, now: float) -> list[Action]:
        """Become Master because the sync group does (a Backup only)."""
        self._tick(now)
        if self.state is not State.BACKUP:
            return []
        return self._become_master(now, Cause.SYNC_GROUP)

    def sync_backup(self, now: float) -> list[Action]:
        """Become Backup because the sync group does: a Master leaves (addresses first), a
        member held in Fault by the group comes back (not while its own link is down)."""
        self._tick(now)
        if self.state is State.MASTER:
            self._cancel_timers()
            out: list[Action] = [RemoveAddresses(addresses=self.config.addresses)]
            self._master_down_at = now + self.master_down_interval
            return out + self._set_state(State.BACKUP, Cause.SYNC_GROUP)
        if self.state is State.FAULT and self._link_up and self._running:
            self.master_adver_interval_cs = self.config.advertisement_interval_cs
            self._master_down_at = now + self.master_down_interval
            return self._set_state(State.BACKUP, Cause.SYNC_GROUP)
        return []

    def sync_fault(self, now: float) -> list[Action]:
        """Enter Fault because another member of the sync group did. A Master leaves with a
        priority-0 advertisement (its link is up), as keepalived's vrrp_state_leave_master
        does for a wanted FAULT, so the peer takes over after Skew_Time."""
        self._tick(now)
        if self.state not in (State.BACKUP, State.MASTER):
            return []
        out: list[Action] = []
        if self.state is State.MASTER:
            out.append(RemoveAddresses(addresses=self.config.addresses))
            out.append(SendAdvertisement(advertisement=self._advertisement(priority=0)))
        self._cancel_timers()
        return out + self._set_state(State.FAULT, Cause.SYNC_GROUP)
