"""The SQLite store shared by ``analyze``, ``sniff`` and ``report``. The only sqlite_utils user.

Explicit schema (``ensure_schema``), WAL mode, and writes in transactions: ``Store.flush`` writes
what the monitor changed since the last flush in one transaction, so a killed process loses at
most the open batch. The database file is created with mode 0600 (it may hold password
fingerprints, and plaintext passwords with ``--reveal-secrets``); SQLite gives its -wal and
-shm files the same mode.

Tables (``vlan`` is the VLAN ids joined with ".", outermost first, "" when untagged; JSON
columns hold JSON arrays):

runs               one analyze or sniff run: kind, source, identity, started, stopped, status,
                   packets, kernel_drops, first_time, last_time, and its writer: pid,
                   pid_start, host (writers.py); ids are never reused (AUTOINCREMENT, and the
                   meta high-water mark for databases made before it)
virtual_routers    per run and (vlan, family, vrid, protocol): version, master, master_since,
                   priority, interval_ms, vips, auth_type, advertisers, transitions, lost,
                   last_seen; HSRP: standby, hold_ms. ``protocol`` is vrrp, hsrp or carp
                   ('vrrp' in rows from before schema 3); ``vrid`` holds the VRRP VRID, the
                   HSRP group or the CARP vhid, in every table
advertisers        per run, router and address: mac, macs, priorities, last_priority,
                   interval_ms, version, auth_type, password_fingerprint, password (only with
                   --reveal-secrets), vips, ttls, checksums, first_seen, last_seen, adverts;
                   HSRP: hold_ms
transitions        per run and router: time, frame, file, from_address, to_address, cause,
                   gap_ms, expected_ms
standby_transitions  HSRP: the standby's timeline, the same columns
address_events     gratuitous ARPs and unsolicited NAs: time, frame, kind, vlan, address, mac,
                   vrid/family/protocol of the virtual router whose VIP they announce
alerts             kind, severity, vlan, family, vrid, protocol, source, time, frame, message
counters           per run: name, value (packets, vrrp_adverts, garps, findings, ...)
join_events        vrrpwatch join's state changes: time, event, instance, interface, old_state,
                   new_state, cause, vrid, priority, message
meta               key/value: schema_version, last_run_id (the highest run id ever given)

A file is ours when it has a ``meta`` table with a ``schema_version`` row (or is empty): any
other SQLite file is refused before anything is written to it. The password fingerprints' key
is kept outside the database (keys.py).
"""

from __future__ import annotations

import operator
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.store import rows, writers
from vrrpwatch.text import path_label
from vrrpwatch.watch.model import NO_REWRITE, ObservedRouter
from vrrpwatch.watch.monitor import Monitor, RouterKey

# How many of a router's last transitions the store remembers the row ids of (a settled
# takeover replaces the last one or two).
_TIMELINE_TAIL = 64

# 2: runs.pid, pid_start, host; the fingerprint key out of meta. 3: protocol (in the routers'
# and advertisers' keys), HSRP's standby and hold_ms, standby_transitions.
SCHEMA_VERSION = 3
DEFAULT_DB = "vrrpwatch.db"
LOCK_TIMEOUT_S = 10.0  # how long a write waits for another process's transaction

ROUTER_PK = ("run_id", "vlan", "family", "vrid", "protocol")
ADVERTISER_PK = ("run_id", "vlan", "family", "vrid", "protocol", "address")
_TRANSITION_COLUMNS: dict[str, type] = {
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
    "protocol": str,
}
_TRANSITION_OPTS: dict[str, Any] = {
    "pk": "id",
    "foreign_keys": [("run_id", "runs", "id")],
    "defaults": {"protocol": "vrrp"},
    "not_null": {"protocol"},
}
# Tables whose rows carry a router's key only when there is one (an alert of no router, a GARP
# for no VIP): their protocol is NULL then, and 'vrrp' for the older rows that have a vrid.
_KEYED_WHEN_VRID = ("alerts", "address_events")

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
            "pid": int,
            "pid_start": int,
            "host": str,
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
            "protocol": str,
            "standby": str,
            "hold_ms": int,
        },
        {
            "pk": ROUTER_PK,
            "foreign_keys": [("run_id", "runs", "id")],
            "defaults": {"protocol": "vrrp"},
            "not_null": {"protocol"},
        },
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
            "protocol": str,
            "hold_ms": int,
        },
        {
            "pk": ADVERTISER_PK,
            "foreign_keys": [("run_id", "runs", "id")],
            "defaults": {"protocol": "vrrp"},
            "not_null": {"protocol"},
        },
    ),
    "transitions": (_TRANSITION_COLUMNS, _TRANSITION_OPTS),
    "standby_transitions": (_TRANSITION_COLUMNS, _TRANSITION_OPTS),
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
            "protocol": str,
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
            "protocol": str,
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

_META_KEYS = {"schema_version", "fingerprint_key", "last_run_id"}  # every key we ever wrote

_INDEXES = [
    ("runs", ["identity"]),
    ("transitions", ["run_id", "vlan", "family", "vrid", "time"]),
    ("standby_transitions", ["run_id", "vlan", "family", "vrid", "time"]),
    ("transitions", ["gap_ms"]),
    ("alerts", ["run_id", "severity"]),
    ("alerts", ["kind"]),
    ("address_events", ["run_id", "address"]),
    ("advertisers", ["auth_type"]),
]


class StoreError(VrrpwatchError):
    """The database cannot be opened or written; a one-line message."""


def open_db(path: str | Path, *, read_only: bool = False) -> sqlite_utils.Database:
    """Open the database at ``path`` in WAL mode, schema ensured; a new file is created with
    mode 0600. ``read_only`` (report): open it read-only, so a read-only file or directory
    works; a database of an older schema is then upgraded if it can be written, else refused.

    A file that is not ours (an SQLite file of another application, not SQLite at all), a
    directory or a dangling symbolic link gives a one-line StoreError and is left untouched."""
    p = Path(path)
    try:
        str(p).encode()
    except UnicodeEncodeError:
        # SQLite reports its file names as UTF-8 (PRAGMA database_list): refuse before creating.
        raise StoreError(f"{path_label(p)}: not a UTF-8 file name, which SQLite needs") from None
    exists = _check_path(p)
    if read_only and not exists:
        raise StoreError(f"{p}: no such database")
    if read_only:
        db = _connect(p, read_only=True)
        try:
            state = _schema_state(db, p)
        except BaseException:
            db.close()
            raise
        if state == "current":
            return db
        db.close()
        if state == "empty":
            raise StoreError(f"{p}: the database holds no run yet")
    try:
        if not exists:
            fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.close(fd)
    except FileExistsError:
        pass  # made by another process meanwhile
    except OSError as exc:
        raise StoreError(f"{p}: cannot open database ({exc.strerror})") from None
    db = _connect(p, read_only=False)
    try:
        state = _schema_state(db, p)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        if state != "current":
            with write_transaction(db):
                ensure_schema(db)
    except sqlite3.Error as exc:
        db.close()
        raise StoreError(f"{p}: cannot open database ({sqlite_message(exc)})") from None
    except BaseException:
        db.close()
        raise
    return db


def _check_path(p: Path) -> bool:
    """Whether the database file exists; StoreError for a directory, a dangling symbolic link
    or a path that cannot be looked at."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            raise StoreError(
                f"{p}: a symbolic link to {os.readlink(p)}, which does not exist"
            ) from None
        return False
    except OSError as exc:
        raise StoreError(f"{p}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{p}: is a directory")
    return True


def _connect(p: Path, *, read_only: bool) -> sqlite_utils.Database:
    try:
        if read_only:
            # A WAL database needs its -shm file: in a read-only directory that cannot be made,
            # and the file is read as immutable (a writer there would have to make one too).
            for query in ("mode=ro", "mode=ro&immutable=1"):
                conn = sqlite3.connect(
                    f"{p.absolute().as_uri()}?{query}",
                    uri=True,
                    timeout=LOCK_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    break
                except sqlite3.OperationalError:
                    conn.close()
                    if "immutable" in query:
                        raise
                except sqlite3.DatabaseError:
                    conn.close()
                    raise
        else:
            conn = sqlite3.connect(
                p, timeout=LOCK_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
    except sqlite3.Error as exc:
        raise StoreError(f"{p}: cannot open database ({exc})") from None
    return sqlite_utils.Database(conn)


def sqlite_message(exc: sqlite3.Error) -> str:
    """SQLite's message; a lock says how long it was waited for."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{text}: another process holds it; waited {LOCK_TIMEOUT_S:g} s"
    return text


def _schema_state(db: sqlite_utils.Database, p: Path) -> str:
    """ "empty", "current" or "old" (ours, of an earlier version); StoreError if not ours.
    Only reads."""
    try:
        kinds = dict(db.execute("SELECT name, type FROM sqlite_master").fetchall())
        if not kinds:
            return "empty"
        ours = kinds.get("meta") == "table" and {"key", "value"} <= {
            r[1] for r in db.execute("PRAGMA table_info(meta)")
        }
        if ours:  # schema 0 (0.1) had no schema_version: then only our keys, if any
            keys = {r[0] for r in db.execute("SELECT key FROM meta")}
            ours = "schema_version" in keys or keys <= _META_KEYS
        if not ours:
            raise StoreError(
                f"{p}: not a vrrpwatch database (no meta table with a schema_version); "
                "left unchanged"
            )
        clash = [n for n in _TABLES if n in kinds and kinds[n] != "table"]
        if clash:
            raise StoreError(f"{p}: not a vrrpwatch database ({clash[0]} is a {kinds[clash[0]]})")
        return "current" if _schema_is_current(db) else "old"
    except sqlite3.Error as exc:
        raise StoreError(f"{p}: cannot open database ({sqlite_message(exc)})") from None


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """A write transaction that takes the write lock at once (BEGIN IMMEDIATE), so it waits
    up to LOCK_TIMEOUT_S for another writer instead of failing when a read snapshot it holds
    went stale. Nested in an open transaction: a savepoint."""
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    db.conn.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tables and indexes, and add the columns a database from an earlier version
    lacks (columns are only ever added). A database that is up to date is only read."""
    if _schema_is_current(db):
        return
    for name, (columns, opts) in _TABLES.items():
        table = db.table(name)
        if not table.exists():
            if name == "runs":  # ids never reused, even after the latest run is deleted
                db.execute(db.create_table_sql(name, columns, _autoincrement="id", **opts))
            else:
                db.create_table(name, columns, **opts)
            continue
        for col, kind in columns.items():
            if col not in table.columns_dict:
                default = opts.get("defaults", {}).get(col)
                table.add_column(col, kind, not_null_default=default)
                if col == "protocol" and name in _KEYED_WHEN_VRID:
                    db.execute(f"UPDATE [{name}] SET protocol = 'vrrp' WHERE vrid IS NOT NULL")
        if "pk" in opts and isinstance(opts["pk"], tuple) and table.pks != list(opts["pk"]):
            _rekey(db, name, columns, opts)
    for name, cols in _INDEXES:
        db.table(name).create_index(cols, if_not_exists=True)
    db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")


def _rekey(
    db: sqlite_utils.Database, name: str, columns: dict[str, type], opts: dict[str, Any]
) -> None:
    """Give table ``name`` the primary key of ``opts`` (schema 3 added ``protocol`` to the
    routers' and advertisers' keys): a new table, the rows copied, the old one dropped, in
    the caller's transaction (SQLite cannot change a primary key in place)."""
    tmp = f"_{name}_rekey"
    db.execute(f"DROP TABLE IF EXISTS [{tmp}]")
    db.execute(db.create_table_sql(tmp, columns, **opts))
    cols = ", ".join(f"[{c}]" for c in columns)
    db.execute(f"INSERT INTO [{tmp}] ({cols}) SELECT {cols} FROM [{name}]")
    db.execute(f"DROP TABLE [{name}]")
    db.execute(f"ALTER TABLE [{tmp}] RENAME TO [{name}]")


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
