"""join's log text: keepalived-style lines ("(VI_1) Entering MASTER STATE") as event dicts.

Every line join prints is written here, and nowhere else. An event is a dict with ``time``
(epoch seconds), ``event`` (a stable kind: ``state``, ``discard``, ``garp``...), ``message``
(the text) and the kind's fields; the CLI renders it as text or JSON and stores some kinds.
The wording follows keepalived's own log lines where keepalived has one, so an operator's
log searches keep working.

``InstanceLog`` holds the lines of one running instance and their repeat limits (a peer that
sends a bad advert every second must not flood the log); the module functions are the lines
of set-up, before there is an instance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dissectors.common import IPAddress
from dissectors.vrrp import VrrpPacket
from vrrpwatch.join.router import (
    AdvertisementDiscarded,
    Cause,
    DiscardReason,
    RouterConfig,
    State,
    StateChanged,
)

__all__ = [
    "Event",
    "EventSink",
    "InstanceLog",
    "forwarding_off",
    "learnt",
    "listening",
    "stale_vip_kept",
    "stale_vip_removed",
    "state_file_ignored",
    "stopped_before_joining",
    "vmac",
]

Event = dict[str, Any]
EventSink = Callable[[Event], None]

_STATE_TEXT = {
    State.MASTER: "Entering MASTER STATE",
    State.BACKUP: "Entering BACKUP STATE",
    State.FAULT: "Entering FAULT STATE",
    State.INITIALIZE: "Stopped",
}


def _event(kind: str, message: str, **fields: Any) -> Event:
    return {"time": time.time(), "event": kind, "message": message, **fields}


# --- set-up -------------------------------------------------------------------------------------


def listening(interface: str, vrid: int, timeout_s: float) -> Event:
    return _event(
        "listening",
        f"Listening on {interface} for VRID {vrid} adverts (up to {timeout_s:g} s)",
    )


def learnt(adv: VrrpPacket, master: IPAddress) -> Event:
    addresses = ", ".join(str(x) for x in adv.addresses)
    password = ", simple password" if adv.password is not None else ""
    return _event(
        "learnt",
        f"Learnt VRID {adv.vrid} from {master}: VRRPv{adv.version}, priority {adv.priority}, "
        f"interval {adv.interval_cs / 100:g} s, VIPs {addresses}{password}",
        master=str(master),
        version=adv.version,
        vrid=adv.vrid,
        master_priority=adv.priority,
        interval_cs=adv.interval_cs,
        addresses=[str(x) for x in adv.addresses],
    )


def forwarding_off(interface: str, family: int) -> Event:
    return _event(
        "warning",
        f"Warning: IPv{family} forwarding is off on {interface}: "
        "as master this host would own the gateway address but not route",
    )


def stopped_before_joining() -> Event:
    return _event("stopped", "Stopped before joining")


def stale_vip_removed(vip: IPAddress, prefixlen: int, pid: object) -> Event:
    return _event(
        "stale-vip-removed",
        f"Removed stale VIP {vip}/{prefixlen} left by a previous run (pid {pid})",
        address=f"{vip}/{prefixlen}",
    )


def stale_vip_kept(vip: IPAddress, prefixlen: int, why: str) -> Event:
    return _event(
        "warning",
        f"Warning: not removing {vip}/{prefixlen} listed in the state file: {why}",
        address=f"{vip}/{prefixlen}",
    )


def state_file_ignored(path: object, why: str) -> Event:
    return _event(
        "warning",
        f"Warning: ignoring state file {path}: {why}; nothing removed",
        path=str(path),
    )


def vmac(action: str, name: str, base: str, mac: str, *, pid: object = None) -> Event:
    """The macvlan of ``use_vmac``: ``created``, ``reused`` (it existed: left in place at the
    end), ``removed`` (at the end), ``stale-removed`` (a killed run's), in keepalived's words."""
    text = {
        "created": f"Success creating VMAC interface {name} on {base} ({mac})",
        "reused": f"Using existing VMAC interface {name} on {base} ({mac}); it stays at the end",
        "removed": f"Success removing VMAC interface {name}",
        "stale-removed": f"Removed VMAC interface {name} left by a previous run (pid {pid}), "
        "with its addresses",
    }[action]
    return _event("vmac", text, action=action, interface=name, base=base, mac=mac)


# --- a running instance -------------------------------------------------------------------------


# How many distinct sources a discard window remembers (beyond: "100+ sources").
DISCARD_SOURCES_KEPT = 100


@dataclass
class _DiscardWindow:
    """The discards of one reason since its last logged line: a bounded count of sources."""

    started_at: float
    suppressed: int = 0
    sources: set[IPAddress] = field(default_factory=set)
    more_sources: bool = False

    def add(self, source: IPAddress) -> None:
        self.suppressed += 1
        if source in self.sources:
            return
        if len(self.sources) < DISCARD_SOURCES_KEPT:
            self.sources.add(source)
        else:
            self.more_sources = True


@dataclass
class InstanceLog:
    """The lines of one instance on one interface, each prefixed ``(INSTANCE)``.

    ``now`` arguments are the loop's monotonic clock, for the repeat limits only.

    Discards are logged per reason: the first one in full, then at most one summary line per
    reason per ``repeat_interval_s`` (how many, from how many sources), so a flood from any
    number of sources costs a bounded log and a bounded table (one window per reason, each
    remembering at most ``DISCARD_SOURCES_KEPT`` sources).
    """

    emit: EventSink
    instance: str = "VI_1"
    interface: str = "eth0"
    # Repeat a discard line (per reason) or I/O error (per kind) at most this often.
    repeat_interval_s: float = 10.0
    _discards: dict[DiscardReason, _DiscardWindow] = field(default_factory=dict, init=False)
    _io_error_logged: dict[str, float] = field(default_factory=dict, init=False)

    def line(self, kind: str, message: str, **fields: Any) -> None:
        self.emit(
            _event(
                kind,
                f"({self.instance}) {message}",
                instance=self.instance,
                interface=self.interface,
                **fields,
            )
        )

    def link(self, up: bool) -> None:
        word = "UP" if up else "DOWN"
        kind = "link-up" if up else "link-down"
        self.line(kind, f"Kernel is reporting: interface {self.interface} {word}")

    def gratuitous_arp(self, vip: IPAddress, count: int) -> None:
        self.line(
            "garp",
            f"Sending gratuitous ARP on {self.interface} for {vip}",
            address=str(vip),
            count=count,
        )

    def unsolicited_na(self, vip: IPAddress, count: int) -> None:
        self.line(
            "unsolicited-na",
            f"Sending unsolicited Neighbour Adverts on {self.interface} for {vip}",
            address=str(vip),
            count=count,
        )

    def vip_add(self, vip: IPAddress, prefixlen: int) -> None:
        where = f"{vip}/{prefixlen}"
        self.line("vip-add", f"Adding VIP {where} on {self.interface}", address=where)

    def vip_keep(self, vip: IPAddress, prefixlen: int) -> None:
        where = f"{vip}/{prefixlen}"
        self.line(
            "vip-keep", f"Keeping {where} on {self.interface}: it was there before", address=where
        )

    def vip_remove(self, vip: IPAddress, prefixlen: int) -> None:
        where = f"{vip}/{prefixlen}"
        self.line("vip-remove", f"Removing VIP {where} from {self.interface}", address=where)

    def would_send(self, priority: int) -> None:
        self.line("advert", f"Would send advert priority {priority} (dry run)", priority=priority)

    def releasing(self) -> None:
        self.line("advert", "Sending priority-0 advert (releasing mastership)", priority=0)

    def state_changed(self, act: StateChanged, config: RouterConfig, *, dry_run: bool) -> None:
        if act.cause is Cause.HIGHER_PRIORITY:
            self.line(
                "higher-prio",
                f"Received higher prio advert {act.peer_priority} from {act.peer}, "
                f"ours {config.priority}",
                peer=str(act.peer),
                peer_priority=act.peer_priority,
            )
        elif act.cause is Cause.EQUAL_PRIORITY_HIGHER_ADDRESS:
            self.line(
                "higher-prio",
                f"Received equal prio advert {act.peer_priority} from higher address {act.peer}",
                peer=str(act.peer),
                peer_priority=act.peer_priority,
            )
        text = _STATE_TEXT[act.new]
        if dry_run and act.new is State.MASTER:
            text += " (dry run: nothing sent, no address added)"
        self.line(
            "state",
            text,
            old=act.old.value,
            new=act.new.value,
            cause=str(act.cause),
            vrid=config.vrid,
            priority=config.priority,
        )

    def discarded(self, act: AdvertisementDiscarded, count: int, now: float) -> None:
        """``count``: how many adverts were discarded for this reason so far."""
        if act.reason is DiscardReason.VRID_MISMATCH:
            return  # another group on the segment: counted by the router, not an error
        window = self._discards.get(act.reason)
        if window is not None and now - window.started_at < self.repeat_interval_s:
            window.add(act.source)
            return
        if window is not None:
            self._summary(act.reason, window, count - 1)
        self._discards[act.reason] = _DiscardWindow(started_at=now)
        detail = f" ({act.detail})" if act.detail else ""
        self.line(
            "discard",
            f"Discarded advert from {act.source}: {act.reason}{detail} [{count} so far]",
            reason=str(act.reason),
            source=str(act.source),
            detail=act.detail,
            count=count,
        )

    def flush_discards(
        self, now: float, counts: Mapping[DiscardReason, int], *, final: bool = False
    ) -> None:
        """Summarise the windows that are over (all of them when ``final``)."""
        for reason, window in list(self._discards.items()):
            if final or now - window.started_at >= self.repeat_interval_s:
                del self._discards[reason]
                self._summary(reason, window, counts.get(reason, 0))

    def _summary(self, reason: DiscardReason, window: _DiscardWindow, total: int) -> None:
        if not window.suppressed:
            return
        n = len(window.sources)
        sources = f"{n}+ sources" if window.more_sources else f"{n} source{'s' * (n != 1)}"
        self.line(
            "discard-summary",
            f"Discarded {window.suppressed} more advert{'s' * (window.suppressed != 1)}: "
            f"{reason}, from {sources} in {self.repeat_interval_s:g} s [{total} so far]",
            reason=str(reason),
            discarded=window.suppressed,
            sources=n,
            more_sources=window.more_sources,
            count=total,
        )

    def io_failed(self, what: str, exc: Exception, now: float) -> None:
        last = self._io_error_logged.get(what)
        if last is not None and now - last < self.repeat_interval_s:
            return
        self._io_error_logged[what] = now
        self.line("error", f"{what} failed: {exc}", operation=what)

    def held_by_group(self, group: str) -> None:
        self.line(
            "sync-wait",
            f"Master down, staying BACKUP until the other members of sync group {group} "
            "want MASTER too",
            group=group,
        )

    def notify_failed(self, program: str, exc: OSError) -> None:
        self.line("notify-error", f"Cannot run notify command {program}: {exc}")


# --- a sync group -------------------------------------------------------------------------------


def group_state(group: str, old: str, new: str) -> Event:
    """keepalived's line (vrrp_sync.c): ``VRRP_Group(G1) Syncing instances to MASTER state``."""
    return _event(
        "group-state",
        f"VRRP_Group({group}) Syncing instances to {new} state",
        group=group,
        old=old,
        new=new,
    )


def group_notify_failed(group: str, program: str, exc: OSError) -> Event:
    return _event(
        "notify-error",
        f"VRRP_Group({group}) Cannot run notify command {program}: {exc}",
        group=group,
    )


# --- SIGHUP -------------------------------------------------------------------------------------


def reloading() -> Event:
    """keepalived's line on SIGHUP."""
    return _event("reload", "Reloading configuration file")


def reload_failed(why: str) -> Event:
    return _event("error", f"Reload failed: {why}; running as before")


def reload_not_started(instance: str, why: str) -> Event:
    """An instance a reload added (or changed) that could not start; the rest of the reload
    holds."""
    return _event("warning", f"Reload: {instance} not started: {why}", instance=instance)
