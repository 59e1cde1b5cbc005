"""The SQLite store shared by ``analyze``, ``sniff`` and ``report``. The only sqlite_utils user.

Explicit schema (``ensure_schema``), WAL mode, and writes in transactions: ``Store.flush`` writes
what the monitor changed since the last flush in one transaction, so a killed process loses at
most the open batch. The database file is created with mode 0600 (it may hold password
fingerprints, and plaintext passwords with ``--reveal-secrets``); SQLite gives its -wal and
-shm files the same mode.

Tables (``vlan`` is the VLAN ids joined with ".", outermost first, "" when untagged; JSON
columns hold JSON arrays):

runs               one analyze or sniff run: kind, source, identity, started, stopped, status,
                   packets, kernel_drops, first_time, last_time
virtual_routers    per run and (vlan, family, vrid): version, master, master_since, priority,
                   interval_ms, vips, auth_type, advertisers, transitions, lost, last_seen
advertisers        per run, router and address: mac, macs, priorities, last_priority,
                   interval_ms, version, auth_type, password_fingerprint, password (only with
                   --reveal-secrets), vips, ttls, checksums, first_seen, last_seen, adverts
transitions        per run and router: time, frame, file, from_address, to_address, cause,
                   gap_ms, expected_ms
address_events     gratuitous ARPs and unsolicited NAs: time, frame, kind, vlan, address, mac,
                   vrid/family of the virtual router whose VIP they announce
alerts             kind, severity, vlan, family, vrid, source, time, frame, message
counters           per run: name, value (packets, vrrp_adverts, garps, findings, ...)
join_events        vrrpwatch join's state changes: time, event, instance, interface, old_state,
                   new_state, cause, vrid, priority, message
meta               key/value: schema_version, fingerprint_key
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.store import rows
from vrrpwatch.watch.monitor import Monitor, RouterKey

SCHEMA_VERSION = 1
DEFAULT_DB = "vrrpwatch.db"
LOCK_TIMEOUT_S = 10.0  # how long a write waits for another process's transaction

_TABLES: dict[str, tuple[dict[str, type], dict[str, Any]]] = {
    "meta": ({"key": str, "value": str}, {"pk": "key"}),
    "runs": (
        {
            "id": int,
            "kind": str,
            "source": str,
            "identity": str,
            "started": float,
            "stopped": float,
            "status": str,
            "packets": int,
            "kernel_drops": int,
            "first_time": float,
            "last_time": float,
        },
        {"pk": "id", "not_null": {"kind", "started"}},
    ),
    "virtual_routers": (
        {
            "run_id": int,
            "vlan": str,
            "family": int,
            "vrid": int,
            "version": int,
            "master": str,
            "master_since": float,
            "priority": int,
            "interval_ms": int,
            "vips": str,
            "auth_type": str,
            "advertisers": int,
            "transitions": int,
            "lost": int,
            "last_seen": float,
        },
        {"pk": ("run_id", "vlan", "family", "vrid"), "foreign_keys": [("run_id", "runs", "id")]},
    ),
    "advertisers": (
        {
            "run_id": int,
            "vlan": str,
            "family": int,
            "vrid": int,
            "address": str,
            "mac": str,
            "macs": str,
            "priorities": str,
            "last_priority": int,
            "interval_ms": int,
            "version": int,
            "auth_type": str,
            "password_fingerprint": str,
            "password": str,
            "vips": str,
            "ttls": str,
            "checksums": str,
            "first_seen": float,
            "last_seen": float,
            "adverts": int,
        },
        {
            "pk": ("run_id", "vlan", "family", "vrid", "address"),
            "foreign_keys": [("run_id", "runs", "id")],
        },
    ),
    "transitions": (
        {
            "id": int,
            "run_id": int,
            "vlan": str,
            "family": int,
            "vrid": int,
            "time": float,
            "frame": int,
            "from_address": str,
            "to_address": str,
            "cause": str,
            "gap_ms": float,
            "expected_ms": float,
            "file": str,
        },
        {"pk": "id", "foreign_keys": [("run_id", "runs", "id")]},
    ),
    "address_events": (
        {
            "id": int,
            "run_id": int,
            "time": float,
            "frame": int,
            "kind": str,
            "vlan": str,
            "address": str,
            "mac": str,
            "family": int,
            "vrid": int,
            "file": str,
        },
        {"pk": "id", "foreign_keys": [("run_id", "runs", "id")]},
    ),
    "alerts": (
        {
            "id": int,
            "run_id": int,
            "kind": str,
            "severity": str,
            "vlan": str,
            "family": int,
            "vrid": int,
            "source": str,
            "time": float,
            "frame": int,
            "message": str,
            "file": str,
        },
        {"pk": "id", "foreign_keys": [("run_id", "runs", "id")]},
    ),
    "counters": (
        {"run_id": int, "name": str, "value": int},
        {"pk": ("run_id", "name"), "foreign_keys": [("run_id", "runs", "id")]},
    ),
    # vrrpwatch join: one row per state change (and learnt group, stale VIP removed)
    "join_events": (
        {
            "id": int,
            "time": float,
            "event": str,
            "instance": str,
            "interface": str,
            "old_state": str,
            "new_state": str,
            "cause": str,
            "vrid": int,
            "priority": int,
            "message": str,
        },
        {"pk": "id"},
    ),
}

_INDEXES = [
    ("runs", ["identity"]),
    ("transitions", ["run_id", "vlan", "family", "vrid", "time"]),
    ("transitions", ["gap_ms"]),
    ("alerts", ["run_id", "severity"]),
    ("alerts", ["kind"]),
    ("address_events", ["run_id", "address"]),
    ("advertisers", ["auth_type"]),
]


class StoreError(VrrpwatchError):
    """The database cannot be opened or written; a one-line message."""


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating with mode 0600) the database at ``path`` in WAL mode, schema ensured."""
    p = Path(path)
    try:
        if p.is_dir():
            raise StoreError(f"{p}: is a directory")
        if not p.exists():
            fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            os.close(fd)
        conn = sqlite3.connect(
            p, timeout=LOCK_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        ensure_schema(db)
    except FileExistsError:
        return open_db(path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{p}: cannot open database ({exc})") from None
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tables and indexes, and add the columns a database from an earlier version
    lacks (columns are only ever added). A database that is up to date is only read."""
    if _schema_is_current(db):
        return
    for name, (columns, opts) in _TABLES.items():
        table = db.table(name)
        if not table.exists():
            db.create_table(name, columns, **opts)
            continue
        for col, kind in columns.items():
            if col not in table.columns_dict:
                table.add_column(col, kind)
    for name, cols in _INDEXES:
        db.table(name).create_index(cols, if_not_exists=True)
    db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")


def _schema_is_current(db: sqlite_utils.Database) -> bool:
    tables = set(db.table_names())
    if not tables >= set(_TABLES):
        return False
    for name, (columns, _) in _TABLES.items():
        if not set(columns) <= set(db.table(name).columns_dict):
            return False
    for name, cols in _INDEXES:
        if cols not in [i.columns for i in db.table(name).indexes]:
            return False
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row is not None and row[0] == str(SCHEMA_VERSION)


def fingerprint_key(db: sqlite_utils.Database) -> bytes:
    """The database's own key for password fingerprints, made on first use."""
    try:
        try:
            row = db.table("meta").get("fingerprint_key")
            return bytes.fromhex(row["value"])
        except sqlite_utils.db.NotFoundError:
            key = secrets.token_bytes(32)
            db.table("meta").insert({"key": "fingerprint_key", "value": key.hex()}, ignore=True)
            return bytes.fromhex(db.table("meta").get("fingerprint_key")["value"])
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read or write the database's fingerprint key ({exc})") from None


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
    _alerts_done: int = 0
    _events_done: int = 0
    _timelines_done: dict[RouterKey, int] = field(default_factory=dict)

    def begin_run(self, *, kind: str, source: str, identity: str | None = None) -> int:
        """Start a run. An analyze run of the same identity (same files) replaces the old one,
        so analyzing a file twice does not duplicate rows."""
        with self.db.atomic():
            if identity is not None:
                for row in self.db.query("SELECT id FROM runs WHERE identity = ?", [identity]):
                    self._delete_run(row["id"])
            self.run_id = int(
                self.db.table("runs")  # type: ignore[arg-type]
                .insert(
                    {
                        "kind": kind,
                        "source": source,
                        "identity": identity,
                        "started": time.time(),
                        "status": "running",
                        "packets": 0,
                    }
                )
                .last_pk
            )
        return self.run_id

    def _delete_run(self, run_id: int) -> None:
        for table in (
            "virtual_routers",
            "advertisers",
            "transitions",
            "address_events",
            "alerts",
            "counters",
        ):
            self.db.execute(f"DELETE FROM [{table}] WHERE run_id = ?", [run_id])
        self.db.execute("DELETE FROM runs WHERE id = ?", [run_id])

    def flush(self, monitor: Monitor, *, kernel_drops: int | None = None) -> None:
        """Write everything the monitor changed since the last flush, in one transaction."""
        run = self.run_id
        with self.db.atomic():
            vr_rows = []
            adv_rows = []
            dirty_keys = []
            for vr in monitor.routers.values():
                if not vr.dirty:
                    continue
                vr.dirty = False
                dirty_keys.append(vr.key)
                vr_rows.append(rows.router_row(run, vr))
                for a in vr.advertisers.values():
                    if a.dirty:
                        a.dirty = False
                        adv_rows.append(
                            rows.advertiser_row(
                                run, vr.key, a, reveal_secrets=monitor.reveal_secrets
                            )
                        )
            if vr_rows:
                self.db.table("virtual_routers").upsert_all(
                    vr_rows, pk=("run_id", "vlan", "family", "vrid")
                )
            if adv_rows:
                self.db.table("advertisers").upsert_all(
                    adv_rows, pk=("run_id", "vlan", "family", "vrid", "address")
                )
            # A changed timeline is rewritten whole: a takeover can still be settled (the
            # better of two backups wins) after it was first written.
            for k in dirty_keys:
                version = monitor.routers[k].timeline_version
                if self._timelines_done.get(k) == version:
                    continue
                self._timelines_done[k] = version
                self.db.execute(
                    "DELETE FROM transitions"
                    " WHERE run_id = ? AND vlan = ? AND family = ? AND vrid = ?",
                    [run, rows.vlan_column(k.vlan), k.family, k.vrid],
                )
                self.db.table("transitions").insert_all(
                    rows.transition_row(run, k, t) for t in monitor.routers[k].transitions
                )
            # Absolute cursors: retention (Monitor.trim) drops the oldest events.
            alerts = monitor.alerts
            new_alerts = alerts.since(self._alerts_done)
            self._alerts_done = alerts.total
            if new_alerts:
                self.db.table("alerts").insert_all(rows.alert_row(run, a) for a in new_alerts)
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

    def end_run(self, status: str = "complete") -> None:
        with self.db.atomic():
            self.db.table("runs").update(self.run_id, {"stopped": time.time(), "status": status})
