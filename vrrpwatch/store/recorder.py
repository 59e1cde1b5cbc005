"""Writing one run into the store. ``Store`` begins a run (an analyze run of the same capture
replaces the earlier one unless its writer still runs; ids are never reused), writes what the
monitor changed since the last flush in one transaction (``flush``: a killed process loses at
most the open batch), and ends it. ``write_join_event`` writes ``join``'s state changes. The
rows are rows.py's, the tables schema.py's, the transactions db.py's.
"""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from vrrpwatch.store import rows, writers
from vrrpwatch.store.db import write_transaction
from vrrpwatch.store.schema import ADVERTISER_PK, ROUTER_PK
from vrrpwatch.watch.model import NO_REWRITE, ObservedRouter
from vrrpwatch.watch.monitor import Monitor, RouterKey

# How many of a router's last transitions the store remembers the row ids of (a settled
# takeover replaces the last one or two).
_TIMELINE_TAIL = 64


def write_join_event(db: sqlite_utils.Database, event: dict[str, Any]) -> None:
    """One ``join`` event (the runtime's event dict) as a ``join_events`` row."""
    db.table("join_events").insert(
        {
            "time": event["time"],
            "event": event["event"],
            "instance": event.get("instance"),
            "interface": event.get("interface"),
            "old_state": event.get("old"),
            "new_state": event.get("new"),
            "cause": event.get("cause"),
            "vrid": event.get("vrid"),
            "priority": event.get("priority"),
            "message": event["message"],
        }
    )


@dataclass
class Store:
    """Writes one run's monitor state incrementally."""

    db: sqlite_utils.Database
    run_id: int = 0
    identity: str | None = None
    _alerts_done: int = 0
    _events_done: int = 0
    _timelines_done: dict[RouterKey, int] = field(default_factory=dict)
    # transitions written per router (absolute count), and the row ids of the last ones
    _timeline_written: dict[RouterKey, int] = field(default_factory=dict)
    _timeline_rowids: dict[RouterKey, dict[int, int]] = field(default_factory=dict)

    def begin_run(self, *, kind: str, source: str, identity: str | None = None) -> int:
        """Start a run. An analyze run of the same identity (same files) replaces the old one,
        so analyzing a file twice does not duplicate rows; a run whose writer still runs is
        never replaced (it is replaced when this run ends, if that writer is gone by then).
        Run ids are never reused."""
        self.identity = identity
        with write_transaction(self.db):
            if identity is not None:
                self._replace_runs(identity)
            (top,) = self.db.execute(
                "SELECT max(coalesce((SELECT max(id) FROM runs), 0),"
                " coalesce((SELECT CAST(value AS INTEGER) FROM meta"
                " WHERE key = 'last_run_id'), 0))"
            ).fetchone()
            self.run_id = int(top) + 1
            self.db.table("runs").insert(
                {
                    "id": self.run_id,
                    "kind": kind,
                    "source": source,
                    "identity": identity,
                    "started": time.time(),
                    "status": writers.RUNNING,
                    "packets": 0,
                    **writers.this_writer(),
                }
            )
            self.db.table("meta").upsert(
                {"key": "last_run_id", "value": str(self.run_id)}, pk="key"
            )
        return self.run_id

    def _replace_runs(self, identity: str) -> None:
        """Delete the other runs of ``identity`` unless their writer is known to be alive."""
        for row in list(
            self.db.query(
                "SELECT id, status, pid, pid_start, host FROM runs WHERE identity = ? AND id != ?",
                [identity, self.run_id],
            )
        ):
            if row["status"] == writers.RUNNING and writers.writer_alive(row):
                continue
            self._delete_run(row["id"])

    def _delete_run(self, run_id: int) -> None:
        for table in (
            "virtual_routers",
            "advertisers",
            "transitions",
            "standby_transitions",
            "address_events",
            "alerts",
            "counters",
        ):
            self.db.execute(f"DELETE FROM [{table}] WHERE run_id = ?", [run_id])
        self.db.execute("DELETE FROM runs WHERE id = ?", [run_id])

    def _insert(self, table: str, batch: list[rows.Row]) -> None:
        """``insert_all`` of rows of one mapping (the same columns, plain values), as one
        executemany: sqlite_utils inspects every value of every row, which made a flood of
        takeovers (a transition and a master-change alert each) spend most of its time here."""
        if not batch:
            return
        columns = list(batch[0])
        sql = (
            f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        values = operator.itemgetter(*columns)
        self.db.conn.executemany(sql, [values(r) for r in batch])

    def _write_timeline(self, run: int, k: RouterKey, vr: ObservedRouter) -> None:
        """Write what changed in the router's timeline: the transitions from the first one the
        monitor may have replaced (a takeover is settled after it was first written: the
        better of two backups wins; ``timeline_low``) or added since. Rewriting it whole made
        a flood of takeovers quadratic. Where the rows to replace are not known, it is
        rewritten whole."""
        version = vr.timeline_version
        if self._timelines_done.get(k) == version:
            return
        self._timelines_done[k] = version
        log = vr.transitions
        written = self._timeline_written.get(k, 0)
        ids = self._timeline_rowids.setdefault(k, {})
        start = max(min(written, vr.timeline_low), log.trimmed)
        vr.timeline_low = NO_REWRITE
        where = [run, rows.vlan_column(k.vlan), k.family, k.vrid, k.protocol]
        router = "run_id = ? AND vlan = ? AND family = ? AND vrid = ? AND protocol = ?"
        if vr.standby_transitions:  # HSRP's standby timeline (short): rewritten whole
            self.db.execute(f"DELETE FROM standby_transitions WHERE {router}", where)
            self._insert(
                "standby_transitions",
                [rows.transition_row(run, k, t) for t in vr.standby_transitions],
            )
        if start < written and start not in ids:
            self.db.execute(f"DELETE FROM transitions WHERE {router}", where)
            ids.clear()
            start = log.trimmed
        else:
            stale = [rowid for index, rowid in ids.items() if index >= start]
            if stale:
                self.db.conn.executemany(
                    "DELETE FROM transitions WHERE id = ?", [(r,) for r in stale]
                )
                for index in [i for i in ids if i >= start]:
                    del ids[index]
        new = log.since(start)
        if new:
            self._insert("transitions", [rows.transition_row(run, k, t) for t in new])
            # AUTOINCREMENT in one write transaction: the new rows' ids are consecutive.
            last = self.db.execute("SELECT last_insert_rowid()").fetchone()[0]
            first = last - len(new) + 1
            for offset in range(len(new)):
                ids[start + offset] = first + offset
        self._timeline_written[k] = log.total
        # Only the tail is ever replaced: forget the row ids of older transitions.
        for index in [i for i in ids if i < log.total - _TIMELINE_TAIL]:
            del ids[index]

    def flush(self, monitor: Monitor, *, kernel_drops: int | None = None) -> None:
        """Write everything the monitor changed since the last flush, in one transaction."""
        run = self.run_id
        with write_transaction(self.db):
            vr_rows = []
            adv_rows = []
            dirty_keys = []
            for vr in monitor.routers.values():
                if not vr.dirty:
                    continue
                vr.dirty = False
                dirty_keys.append(vr.key)
                if vr.forgotten_unstored:  # MAX_ADVERTISERS: the monitor forgot these
                    k = vr.key
                    self.db.conn.executemany(
                        "DELETE FROM advertisers WHERE run_id = ? AND vlan = ? AND family = ?"
                        " AND vrid = ? AND protocol = ? AND address = ?",
                        [
                            (run, rows.vlan_column(k.vlan), k.family, k.vrid, k.protocol, addr)
                            for addr in vr.forgotten_unstored
                        ],
                    )
                    vr.forgotten_unstored.clear()
                vr_rows.append(rows.router_row(run, vr))
                for a in vr.advertisers.values():
                    if a.dirty:
                        a.dirty = False
                        a.stored = True
                        adv_rows.append(
                            rows.advertiser_row(
                                run, vr.key, a, reveal_secrets=monitor.reveal_secrets
                            )
                        )
            if vr_rows:
                self.db.table("virtual_routers").upsert_all(vr_rows, pk=ROUTER_PK)
            if adv_rows:
                self.db.table("advertisers").upsert_all(adv_rows, pk=ADVERTISER_PK)
            for k in dirty_keys:
                self._write_timeline(run, k, monitor.routers[k])
            # Absolute cursors: retention (Monitor.trim) drops the oldest events.
            alerts = monitor.alerts
            new_alerts = alerts.since(self._alerts_done)
            self._alerts_done = alerts.total
            if new_alerts:
                self._insert("alerts", [rows.alert_row(run, a) for a in new_alerts])
            events = monitor.address_events
            new_events = events.since(self._events_done)
            self._events_done = events.total
            if new_events:
                self.db.table("address_events").insert_all(
                    rows.address_event_row(run, e) for e in new_events
                )
            self.db.table("counters").upsert_all(
                rows.counter_rows(run, monitor.counters), pk=("run_id", "name")
            )
            # first_time never changes once the monitor has one: no need to read it back
            update: dict[str, Any] = {
                "packets": monitor.counters.packets,
                "first_time": monitor.first_time,
                "last_time": monitor.last_time or None,
            }
            if kernel_drops is not None:
                update["kernel_drops"] = kernel_drops
            self.db.table("runs").update(run, update)

    def prune(self, cutoff: float) -> int:
        """``sniff --retain``: sniff runs' event rows from before ``cutoff`` (Unix time), in
        small transactions (``retention.prune_events``); returns how many rows went."""
        from vrrpwatch.store.retention import prune_events

        return prune_events(self.db, cutoff)

    def end_run(self, status: str = "complete", *, identity: str | None = None) -> None:
        """End the run; an ``identity`` known only now (analyze hashes as it reads) is set here,
        and the other runs of it are replaced as in ``begin_run``."""
        with write_transaction(self.db):
            update: dict[str, Any] = {"stopped": time.time(), "status": status}
            if identity is not None:
                self.identity = update["identity"] = identity
            self.db.table("runs").update(self.run_id, update)
            if self.identity is not None:
                self._replace_runs(self.identity)
