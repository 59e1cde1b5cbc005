"""The store's schema: its tables, their columns and indexes, and bringing an older
database up to date (``ensure_schema``: columns are only ever added).

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
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

# 2: runs.pid, pid_start, host; the fingerprint key out of meta. 3: protocol (in the routers'
# and advertisers' keys), HSRP's standby and hold_ms, standby_transitions.
SCHEMA_VERSION = 3

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

TABLES: dict[str, tuple[dict[str, type], dict[str, Any]]] = {
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

META_KEYS = {"schema_version", "fingerprint_key", "last_run_id"}  # every key we ever wrote

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


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tables and indexes, and add the columns a database from an earlier version
    lacks (columns are only ever added). A database that is up to date is only read."""
    if schema_is_current(db):
        return
    for name, (columns, opts) in TABLES.items():
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


def schema_is_current(db: sqlite_utils.Database) -> bool:
    """Every table, column and index there, and ``meta`` says SCHEMA_VERSION (only reads)."""
    tables = set(db.table_names())
    if not tables >= set(TABLES):
        return False
    for name, (columns, _) in TABLES.items():
        if not set(columns) <= set(db.table(name).columns_dict):
            return False
    for name, cols in _INDEXES:
        if cols not in [i.columns for i in db.table(name).indexes]:
            return False
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row is not None and row[0] == str(SCHEMA_VERSION)
