"""join's signals and its SIGHUP reload.

``Stop`` is what SIGTERM/SIGINT/SIGHUP reach before and while the runtime runs, and what join
holds until it ends (the instance locks, the notify FIFOs, the use_vmac macvlans). ``Reload`` is
keepalived's reload of ``--config`` on SIGHUP: it compares the file read again with what runs
and stops, keeps and starts instances (``join.setup`` opens and prepares those it starts).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.join import log
from vrrpwatch.join.checks import check_options
from vrrpwatch.join.group import SyncGroup
from vrrpwatch.join.log import EventSink
from vrrpwatch.join.loop import GroupRun, Runtime
from vrrpwatch.join.mux import TransportMux
from vrrpwatch.join.notify import Notifier, NotifyFifo, NotifyScripts
from vrrpwatch.join.settings import JoinOptions, JoinPlan, Script
from vrrpwatch.join.statefile import InstanceLock
from vrrpwatch.join.transport import RawTransport
from vrrpwatch.join.unit import Unit

__all__ = ["Reload", "Running", "Stop", "notifier_for"]


class Stop:
    """SIGTERM/SIGINT before and while the runtime runs: a flag, and a wake-up of the loop."""

    def __init__(self, transports: list[RawTransport]) -> None:
        self.requested = False
        self.transports = transports
        self.runtime: Runtime | None = None
        self.locks: dict[str, InstanceLock] = {}  # by instance
        self.fifos: list[NotifyFifo] = []
        # use_vmac: remove the macvlan, by instance (before the locks go)
        self.cleanups: dict[str, Callable[[], None]] = {}

    def __call__(self, *_: object) -> None:
        self.requested = True
        if self.runtime is not None:
            self.runtime.request_stop()
        else:
            for t in self.transports:
                t.wake()

    def hup(self, *_: object) -> None:
        if self.runtime is not None:
            self.runtime.request_reload()

    def close(self) -> None:
        for cleanup in self.cleanups.values():
            cleanup()
        for lock in self.locks.values():
            lock.close()
        for fifo in self.fifos:
            fifo.close()


@dataclass
class Running:
    planned: JoinOptions  # as the plan gave it: a reload compares the new plan's with it
    unit: Unit
    transport: RawTransport


class Reload:
    """SIGHUP with ``--config``, as keepalived reloads: the file is read again; an instance
    whose options are unchanged keeps running (its state, timers and addresses: not one advert
    lost); a removed one stops as at shutdown (a Master's priority-0 advert); a changed one
    stops and starts again; an added one starts. Instances start without waiting to learn
    their group (the other instances must not wait), so the config must give their VIPs. A
    config that cannot be read is one error line, and everything goes on as it was."""

    def __init__(
        self,
        reread: Callable[[], JoinOptions | JoinPlan],
        emit: EventSink,
        stop: Stop,
        running: dict[str, Running],
        transports: list[RawTransport],
        *,
        start: Callable[[JoinOptions], Running],
    ) -> None:
        self.reread = reread
        # Opens and prepares an instance the reload adds (setup's, without learning).
        self.start = start
        self.emit = emit
        self.stop = stop
        self.running = running
        self.transports = transports  # join() closes what is left in it at the end

    def __call__(self, runtime: Runtime) -> None:
        self.emit(log.reloading())
        try:
            new = self.reread()
            plan = new if isinstance(new, JoinPlan) else JoinPlan(instances=(new,))
            for o in plan.instances:
                check_options(o)
        except VrrpwatchError as exc:
            self.emit(log.reload_failed(str(exc)))
            return
        wanted = {o.instance: o for o in plan.instances}
        gone = [r for name, r in self.running.items() if wanted.get(name) != r.planned]
        runtime.stop_units([r.unit for r in gone])
        for r in gone:
            del self.running[r.unit.instance]
            self.transports.remove(r.transport)
            r.transport.close()
            # use_vmac: its macvlan goes now, as at exit (before the lock is released).
            cleanup = self.stop.cleanups.pop(r.unit.instance, None)
            if cleanup is not None:
                cleanup()
            lock = self.stop.locks.pop(r.unit.instance, None)
            if lock is not None:
                lock.close()
        for o in plan.instances:
            if o.instance in self.running:
                continue
            try:
                self.running[o.instance] = self.start(o)
            except (VrrpwatchError, OSError) as exc:
                self.emit(log.reload_not_started(o.instance, str(exc)))
        units = [
            self.running[o.instance].unit for o in plan.instances if o.instance in self.running
        ]
        groups = [
            GroupRun(
                SyncGroup(g.name, g.members),
                notifier_for(dict(g.notify_scripts), g.name, "GROUP", self.stop.fifos),
            )
            for g in plan.groups
            if all(m in self.running for m in g.members)
        ]
        transports = [self.running[u.instance].transport for u in units]
        old_mux = runtime.mux
        mux = TransportMux(transports) if len(transports) > 1 else None
        runtime.reconfigure(units, groups, mux)
        if isinstance(old_mux, TransportMux):
            old_mux.close()
        if transports:
            signal.set_wakeup_fd(transports[0].wake_fd, warn_on_full_buffer=False)


def notifier_for(
    scripts: dict[str, Script], name: str, kind: str, fifos: list[NotifyFifo]
) -> Notifier | None:
    ns = NotifyScripts(
        master=scripts.get("master"),
        backup=scripts.get("backup"),
        fault=scripts.get("fault"),
        stop=scripts.get("stop"),
        notify=scripts.get("notify"),
    )
    if not ns and not fifos:
        return None
    return Notifier(ns, name, kind=kind, fifos=fifos)
