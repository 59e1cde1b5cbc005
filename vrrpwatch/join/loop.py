"""join's loop: one ``selectors`` loop around every instance join runs.

``Runtime`` sleeps until the earliest deadline of its units' routers or until a transport has
something (an advertisement, a link change, a wake-up from a signal handler), hands each input
to its ``unit.Unit`` (the router of one instance and its I/O), runs the deadlines that are due,
and keeps the members of each ``vrrp_sync_group`` together (``group.SyncGroup``). After a late
wake-up it passes the real ``now``. The clock and the transports are injected, so tests drive
the loop with a fake clock and fake transports at exact times; ``transport.RawTransport`` is
the real one, and ``mux.TransportMux`` waits on several of them at once.

``Runtime(router=..., transport=..., emit=...)`` runs a single instance, as before sync groups
and multi-instance configs; ``Runtime(units=[...], groups=[...], mux=...)`` runs several.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dissectors.common import IPAddress
from vrrpwatch.join import log
from vrrpwatch.join.group import GroupChanged, SyncGroup, groups_of
from vrrpwatch.join.log import EventSink, InstanceLog
from vrrpwatch.join.notify import Notifier
from vrrpwatch.join.router import Action, Cause, State, StateChanged, VirtualRouter
from vrrpwatch.join.transport import LinkChange, Received, Transport
from vrrpwatch.join.unit import Unit

__all__ = ["GroupRun", "Mux", "Runtime"]


class Mux(Protocol):
    """Waits on every unit's transport at once: (unit index, input) pairs."""

    def wait(self, timeout: float | None) -> list[tuple[int, Received | LinkChange]]: ...


@dataclass
class GroupRun:
    """A sync group and its notify scripts (a Notifier of kind GROUP)."""

    group: SyncGroup
    notifier: Notifier | None = None


class Runtime:
    def __init__(
        self,
        router: VirtualRouter | None = None,
        transport: Transport | None = None,
        emit: EventSink | None = None,
        *,
        interface: str = "eth0",
        instance: str = "VI_1",
        prefixes: dict[IPAddress, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        dry_run: bool = False,
        notify: str | Notifier | None = None,
        state_file: Path | None = None,
        discard_log_interval_s: float = 10.0,
        units: Sequence[Unit] = (),
        groups: Sequence[GroupRun] = (),
        mux: Mux | None = None,
    ) -> None:
        self.clock = clock
        if router is not None:
            if transport is None or emit is None or units:
                raise ValueError("a single-instance Runtime needs a router, transport and emit")
            units = [
                Unit(
                    router=router,
                    transport=transport,
                    emit=emit,
                    interface=interface,
                    instance=instance,
                    prefixes=prefixes or {},
                    clock=self._clock,
                    dry_run=dry_run,
                    notify=notify,
                    state_file=state_file,
                    discard_log_interval_s=discard_log_interval_s,
                )
            ]
        if not units:
            raise ValueError("a Runtime needs at least one unit")
        if len(units) > 1 and mux is None:
            raise ValueError("several units need a Mux to wait on their transports")
        self.units = list(units)
        self.mux = mux
        self.groups = list(groups)
        names = {u.instance for u in self.units}
        for g in self.groups:
            for m in g.group.members:
                if m not in names:
                    raise ValueError(f"sync group {g.group.name}: no instance {m}")
        self._stop = False
        # SIGHUP (join --config): ``reloader`` re-reads the config and calls ``stop_units``
        # and ``reconfigure``; asked for from a signal handler, done at the next wake-up.
        self.reloader: Callable[[Runtime], None] | None = None
        self._reload = False
        self._held: set[str] = set()  # members told they wait for their sync group
        self._index()

    def _index(self) -> None:
        self._by_name = {u.instance: u for u in self.units}
        self._group_of = groups_of([g.group for g in self.groups])
        self._runs = {g.group.name: g for g in self.groups}
        for unit in self.units:
            grp = self._group_of.get(unit.instance)
            unit.hold = self._holder(grp, unit.instance) if grp is not None else None

    # -- the single instance's view (tests, metrics) ------------------------------------------

    def _clock(self) -> float:
        return self.clock()

    @property
    def router(self) -> VirtualRouter:
        return self.units[0].router

    @property
    def transport(self) -> Transport:
        return self.units[0].transport

    @transport.setter
    def transport(self, value: Transport) -> None:
        self.units[0].transport = value

    @property
    def emit(self) -> EventSink:
        return self.units[0].emit

    @emit.setter
    def emit(self, value: EventSink) -> None:
        self.units[0].set_emit(value)

    @property
    def _log(self) -> InstanceLog:
        return self.units[0]._log

    @property
    def sent_adverts(self) -> int:
        return self.units[0].sent_adverts

    @property
    def received_adverts(self) -> int:
        return self.units[0].received_adverts

    @property
    def became_master(self) -> int:
        return self.units[0].became_master

    def _execute(self, actions: Iterable[Action]) -> None:
        self._after(self.units[0], self.units[0].execute(actions))

    # -- control ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Safe from a signal handler: the loop shuts down at its next wake-up."""
        self._stop = True
        for unit in self.units:
            unit.transport.wake()

    def request_reload(self) -> None:
        """Safe from a signal handler (SIGHUP): the config is re-read at the next wake-up."""
        self._reload = True
        for unit in self.units:
            unit.transport.wake()

    def stop_units(self, units: Sequence[Unit]) -> None:
        """Stop these units as at shutdown (a Master sends its priority-0 advert and drops its
        addresses, the STOP notifies run); they leave the loop."""
        for unit in units:
            self._after(unit, unit.execute(unit.router.shutdown(unit.at(self.clock()))))
            unit.flush(self.clock(), final=True)
        gone = set(map(id, units))
        self.units = [u for u in self.units if id(u) not in gone]

    def reconfigure(
        self, units: Sequence[Unit], groups: Sequence[GroupRun], mux: Mux | None
    ) -> None:
        """Run ``units`` from now on (those already running keep their state and timers; the
        new ones start), with ``groups``: a group of the same name and members as before is
        kept as it is, a new one learns its running members' states."""
        old_runs = {g.group.name: g for g in self.groups}
        running = {u.instance: u.router.state for u in units if u in self.units}
        kept: list[GroupRun] = []
        for g in groups:
            before = old_runs.get(g.group.name)
            if before is not None and before.group.members == g.group.members:
                kept.append(GroupRun(before.group, g.notifier))
            else:
                g.group.seed(running)
                kept.append(g)
        started = [u for u in units if u not in self.units]
        self.units, self.groups, self.mux = list(units), kept, mux
        self._index()
        for unit in started:
            self._after(unit, unit.execute(unit.router.start(unit.at(self.clock()))))

    def run(self, *, until: Callable[[], bool] | None = None) -> int:
        """Run until ``request_stop()`` (or ``until()`` is true); return the exit status."""
        for unit in self.units:
            self._after(unit, unit.execute(unit.router.start(unit.at(self.clock()))))
        while not self._stop and not (until is not None and until()):
            self.step()
        for unit in self.units:
            self._after(unit, unit.execute(unit.router.shutdown(unit.at(self.clock()))))
        # keepalived's notify_shutdown: every instance's STOP, then every group's.
        for run in self.groups:
            self._group_notify(run, State.INITIALIZE)
        now = self.clock()
        for unit in self.units:
            unit.flush(now, final=True)
        for run in self.groups:
            if run.notifier is not None:
                run.notifier.reap(wait=True)
        return 0

    def step(self) -> None:
        """Sleep until the next deadline or input (not at all while packets are queued), then
        process one batch of what happened and the deadlines that are due."""
        if self._reload:
            self._reload = False
            if self.reloader is not None:
                self.reloader(self)
            if not self.units:
                self._stop = True
                return
        timers = [t for t in (u.router.get_timer() for u in self.units) if t is not None]
        now = self.clock()
        if any(u.transport.backlog for u in self.units):
            timeout: float | None = 0.0
        else:
            timeout = None if not timers else max(0.0, min(timers) - now)
        received: set[int] = set()
        for index, item in self._wait(timeout):
            if self._stop:
                break
            unit = self.units[index]
            if isinstance(item, LinkChange):
                was = unit.router.state
                changes = unit.link(item.up)
                if not item.up and was is State.FAULT and not changes:
                    # Held in Fault by its group when its own link went: a fault of its own.
                    changes = [StateChanged(old=was, new=was, cause=Cause.LINK_DOWN)]
                self._after(unit, changes)
                continue
            received.add(index)
            changes, heard = unit.receive(item)
            grp = self._group_of.get(unit.instance)
            if heard and grp is not None:
                grp.master_heard(unit.instance)
                self._held.discard(unit.instance)
            self._after(unit, changes)
        now = self.clock()
        for index, unit in enumerate(self.units):
            # Due by the clock. A Backup that has just read packets first looks at what came
            # in meanwhile (the next wait does not sleep: the deadline is past): it arrived
            # before now and may be the master's advert; ``Unit.receive`` runs the timer by
            # arrival times. A Master's adverts go out on time whatever is queued.
            router = unit.router
            waiting = router.state is State.BACKUP and (index in received or unit.transport.backlog)
            deadline = router.get_timer()
            if deadline is not None and now >= deadline and not self._stop and not waiting:
                self._after(unit, unit.run_timer(unit.at(now)))
            unit.flush(now)

    def _wait(self, timeout: float | None) -> list[tuple[int, Received | LinkChange]]:
        if self.mux is None:
            return [(0, item) for item in self.units[0].transport.wait(timeout)]
        return self.mux.wait(timeout)

    # -- sync groups ----------------------------------------------------------------------------

    def _holder(self, grp: SyncGroup, member: str) -> Callable[[float], bool]:
        def hold(now: float) -> bool:
            held = not grp.may_become_master(member)
            if held and member not in self._held:
                # Said once per wait (the timer restarts every Master_Down_Interval).
                self._held.add(member)
                self._by_name[member]._log.held_by_group(grp.name)
            return held

        return hold

    def _after(self, unit: Unit, changes: list[StateChanged]) -> None:
        """Let the unit's sync group answer its state changes: move the other members, run
        the group's notifies."""
        grp = self._group_of.get(unit.instance)
        if grp is None:
            return
        if changes:
            self._held.discard(unit.instance)
        for change in changes:
            syncs, group_changes = grp.changed(unit.instance, change.old, change.new, change.cause)
            for sync in syncs:
                other = self._by_name[sync.member]
                now = other.at(self.clock())
                router = other.router
                if sync.state is State.MASTER:
                    actions = router.sync_master(now)
                elif sync.state is State.BACKUP:
                    actions = router.sync_backup(now)
                else:
                    actions = router.sync_fault(now)
                self._after(other, other.execute(actions))
            for gc in group_changes:
                self._group_changed(gc)

    def _group_changed(self, gc: GroupChanged) -> None:
        run = self._runs[gc.group]
        self.units[0].emit(log.group_state(gc.group, gc.old.value, gc.new.value))
        self._group_notify(run, gc.new)

    def _group_notify(self, run: GroupRun, state: State) -> None:
        if run.notifier is None:
            return
        for program, exc in run.notifier.run(state, 0):  # a group's priority is 0
            self.units[0].emit(log.group_notify_failed(run.group.name, program, exc))
