"""The store: incremental flushes keep the database equal to the monitor's state."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from dissectors.packet import decode_packet
from tests.conftest import CAPTURES
from tests.helpers import MAC2, MAC3, R1, R2, R3, Feed, advert
from vrrpwatch.fingerprints import fingerprint
from vrrpwatch.pcap import CaptureError, iter_capture
from vrrpwatch.store import db as store_db
from vrrpwatch.store.db import LOCK_TIMEOUT_S, StoreError, open_db
from vrrpwatch.store.keys import fingerprint_key
from vrrpwatch.store.recorder import Store, write_join_event
from vrrpwatch.store.run import RunError, recorded_run
from vrrpwatch.store.schema import SCHEMA_VERSION, TABLES
from vrrpwatch.store.summary import summarize
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor


def test_flush_between_a_takeover_and_its_settling(tmp_path: Path) -> None:
    db = open_db(tmp_path / "s.db")
    store = Store(db)
    store.begin_run(kind="sniff", source="test")
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R3, 200, mac=MAC3))
    f(5.7, advert(R1, 100))  # tentative new master ...
    store.flush(f.m)
    con = sqlite3.connect(tmp_path / "s.db")
    rows = "SELECT from_address, to_address, cause FROM transitions ORDER BY time"
    assert con.execute(rows).fetchall()[-1] == (R3, R1, "silent")
    f(5.71, advert(R2, 100, mac=MAC2))  # ... the better backup wins the same takeover
    store.flush(f.m)
    assert con.execute(rows).fetchall() == [(None, R3, "first-seen"), (R3, R2, "silent")]
    f.every(6.71, 9.0, 1.0, advert(R2, 100, mac=MAC2))
    store.flush(f.m)  # adverts without a new transition leave the timeline alone
    assert con.execute(rows).fetchall() == [(None, R3, "first-seen"), (R3, R2, "silent")]
    (adverts,) = con.execute("SELECT adverts FROM advertisers WHERE address = ?", [R2]).fetchone()
    assert adverts == 4
    store.end_run()
    assert con.execute("SELECT status FROM runs").fetchone() == ("complete",)


# -- schema --------------------------------------------------------------------------------------

FAILOVER = CAPTURES / "v2-failover.pcap"
RUN_TABLES = ("virtual_routers", "advertisers", "transitions", "address_events", "alerts",
              "counters")  # fmt: skip


def _columns(con: sqlite3.Connection, table: str) -> dict[str, str]:
    return {r[1]: r[2] for r in con.execute(f"PRAGMA table_info([{table}])")}


def test_schema_is_explicit(tmp_path: Path) -> None:
    open_db(tmp_path / "s.db").close()
    con = sqlite3.connect(tmp_path / "s.db")
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(TABLES) | {"sqlite_sequence"}  # runs: AUTOINCREMENT, ids not reused
    (runs_sql,) = con.execute("SELECT sql FROM sqlite_master WHERE name = 'runs'").fetchone()
    assert "AUTOINCREMENT" in runs_sql
    for name, (columns, _) in TABLES.items():
        assert list(_columns(con, name)) == list(columns), name
    assert _columns(con, "runs")["started"] == "REAL"
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    pk = [
        r[1]
        for r in sorted(con.execute("PRAGMA table_info(virtual_routers)"), key=lambda r: r[5])
        if r[5]
    ]
    assert pk == ["run_id", "vlan", "family", "vrid", "protocol"]  # schema 3: the protocol
    fks = {(r[2], r[3]) for r in con.execute("PRAGMA foreign_key_list(alerts)")}
    assert fks == {("runs", "run_id")}
    assert stat.S_IMODE((tmp_path / "s.db").stat().st_mode) == 0o600
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_up_to_date_database_is_only_read_when_opened(tmp_path: Path) -> None:
    """Opening needs no write lock: report works while another process holds one."""
    open_db(tmp_path / "s.db").close()
    holder = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        db = open_db(tmp_path / "s.db")
        assert db.conn.total_changes == 0
        db.close()
    finally:
        holder.execute("ROLLBACK")


def test_an_older_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    # a 0.1-era database: no file columns, no join_events table, no schema_version, no indexes
    con.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE runs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, source TEXT,
            identity TEXT, started FLOAT NOT NULL, stopped FLOAT, status TEXT, packets INTEGER);
        CREATE TABLE alerts (id INTEGER PRIMARY KEY, run_id INTEGER, kind TEXT, severity TEXT,
            vlan TEXT, family INTEGER, vrid INTEGER, source TEXT, time FLOAT, frame INTEGER,
            message TEXT);
        INSERT INTO runs (id, kind, source, started, stopped, status, packets)
            VALUES (1, 'analyze', 'old.pcap', 1.0, 2.0, 'complete', 10);
        INSERT INTO alerts (run_id, kind, severity, vlan, time, frame, message)
            VALUES (1, 'plaintext-auth', 'warning', '', 1.5, 3, 'old alert');
        """
    )
    con.commit()
    db = open_db(path)
    assert {"file"} <= set(_columns(con, "alerts")) and "file" in _columns(con, "transitions")
    assert {"kernel_drops", "first_time", "last_time"} <= set(_columns(con, "runs"))
    assert "join_events" in db.table_names()
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "idx_alerts_run_id_severity" in indexes
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    doc = summarize(db, 1)
    assert doc["run"]["status"] == "complete" and doc["packets"] == 10
    assert [(a["kind"], a["message"], a["file"]) for a in doc["alerts"]] == [
        ("plaintext-auth", "old alert", None)
    ]
    db.close()
    # and a second open finds nothing left to do
    db = open_db(path)
    assert db.conn.total_changes == 0


def test_a_schema_2_database_gets_the_protocol_in_its_keys(tmp_path: Path) -> None:
    """Schema 3 (HSRP, CARP): ``protocol`` joins the routers' and advertisers' primary keys;
    the rows of older runs are kept, as VRRP's."""
    path = tmp_path / "v2.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO meta VALUES ('schema_version', '2');
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
            source TEXT, identity TEXT, started FLOAT NOT NULL, stopped FLOAT, status TEXT,
            packets INTEGER);
        CREATE TABLE virtual_routers (run_id INTEGER, vlan TEXT, family INTEGER, vrid INTEGER,
            version INTEGER, master TEXT, master_since FLOAT, priority INTEGER,
            interval_ms INTEGER, vips TEXT, auth_type TEXT, advertisers INTEGER,
            transitions INTEGER, lost INTEGER, last_seen FLOAT,
            PRIMARY KEY (run_id, vlan, family, vrid));
        CREATE TABLE advertisers (run_id INTEGER, vlan TEXT, family INTEGER, vrid INTEGER,
            address TEXT, macs TEXT, priorities TEXT, vips TEXT, ttls TEXT, checksums TEXT,
            adverts INTEGER, PRIMARY KEY (run_id, vlan, family, vrid, address));
        CREATE TABLE transitions (id INTEGER PRIMARY KEY, run_id INTEGER, vlan TEXT,
            family INTEGER, vrid INTEGER, time FLOAT, to_address TEXT, cause TEXT);
        CREATE TABLE alerts (id INTEGER PRIMARY KEY, run_id INTEGER, kind TEXT, severity TEXT,
            vlan TEXT, family INTEGER, vrid INTEGER, source TEXT, time FLOAT, frame INTEGER,
            message TEXT);
        INSERT INTO runs (id, kind, source, started, status, packets)
            VALUES (1, 'analyze', 'old.pcap', 1.0, 'complete', 5);
        INSERT INTO virtual_routers (run_id, vlan, family, vrid, master, vips, lost)
            VALUES (1, '', 4, 7, '192.0.2.1', '[]', 0);
        INSERT INTO advertisers (run_id, vlan, family, vrid, address, macs, priorities, vips,
            ttls, checksums, adverts) VALUES (1, '', 4, 7, '192.0.2.1', '[]', '[100]', '[]',
            '[255]', '["ok"]', 5);
        INSERT INTO transitions (run_id, vlan, family, vrid, time, to_address, cause)
            VALUES (1, '', 4, 7, 1.0, '192.0.2.1', 'first-seen');
        INSERT INTO alerts (run_id, kind, severity, vlan, family, vrid, time, frame, message)
            VALUES (1, 'master-change', 'info', '', 4, 7, 1.0, 1, 'old'),
                   (1, 'malformed', 'warning', '', NULL, NULL, 1.0, 1, 'no router');
        """
    )
    con.commit()
    db = open_db(path)
    for table in ("virtual_routers", "advertisers"):
        pk = [
            r[1]
            for r in sorted(con.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5])
            if r[5]
        ]
        assert pk[:5] == ["run_id", "vlan", "family", "vrid", "protocol"], table
    assert con.execute("SELECT protocol, master FROM virtual_routers").fetchall() == [
        ("vrrp", "192.0.2.1")
    ]
    assert con.execute("SELECT protocol FROM transitions").fetchall() == [("vrrp",)]
    assert con.execute("SELECT protocol FROM alerts ORDER BY id").fetchall() == [
        ("vrrp",),
        (None,),
    ]
    doc = summarize(db, 1)
    (vr,) = doc["virtual_routers"]
    assert (vr["protocol"], vr["vrid"], len(vr["transitions"]), vr["alerts"]) == ("vrrp", 7, 1, 1)
    assert [a["adverts"] for a in vr["advertisers"]] == [5]
    assert "standby" not in vr
    # a CARP vhid 7 beside the old VRRP VRID 7 is another row now
    db.table("virtual_routers").upsert(
        {"run_id": 1, "vlan": "", "family": 4, "vrid": 7, "protocol": "carp", "vips": "[]",
         "lost": 0},
        pk=("run_id", "vlan", "family", "vrid", "protocol"),
    )  # fmt: skip
    assert db.execute("SELECT count(*) FROM virtual_routers").fetchone() == (2,)
    db.close()
    db = open_db(path)
    assert db.conn.total_changes == 0


def test_a_directory_or_a_foreign_file_is_one_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        open_db(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, " * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        open_db(junk)


def test_fingerprint_key_is_made_once_per_database(tmp_path: Path) -> None:
    key = fingerprint_key(open_db(tmp_path / "a.db"))
    assert len(key) == 32
    assert fingerprint_key(open_db(tmp_path / "a.db")) == key
    assert fingerprint_key(open_db(tmp_path / "b.db")) != key


def test_join_event_row(tmp_path: Path) -> None:
    db = open_db(tmp_path / "j.db")
    event = {"time": 5.0, "event": "state", "instance": "VI_1", "interface": "eth0",
             "old": "BACKUP", "new": "MASTER", "cause": "master-down-timer", "vrid": 1,
             "priority": 50, "message": "(VI_1) Entering MASTER STATE"}  # fmt: skip
    write_join_event(db, event)
    (row,) = db.query("SELECT * FROM join_events")
    assert row == {"id": 1, "time": 5.0, "event": "state", "instance": "VI_1",
                   "interface": "eth0", "old_state": "BACKUP", "new_state": "MASTER",
                   "cause": "master-down-timer", "vrid": 1, "priority": 50,
                   "message": "(VI_1) Entering MASTER STATE"}  # fmt: skip


# -- runs: status and batches --------------------------------------------------------------------


def _monitor(db: sqlite_utils.Database) -> Monitor:
    key = fingerprint_key(db)
    return Monitor(fingerprint=lambda pw: fingerprint(pw, key))


def _run_row(path: Path, run_id: int) -> tuple[Any, ...]:
    con = sqlite3.connect(path)
    try:
        return tuple(
            con.execute("SELECT status, packets, stopped IS NOT NULL FROM runs WHERE id = ?",
                        [run_id]).fetchone()
        )  # fmt: skip
    finally:
        con.close()


def test_a_run_is_running_until_it_ends(tmp_path: Path) -> None:
    db = open_db(tmp_path / "s.db")
    store = Store(db)
    run_id = store.begin_run(kind="sniff", source="eth0")
    assert _run_row(tmp_path / "s.db", run_id) == ("running", 0, 0)
    store.end_run("error: every sniffed interface is gone")
    assert _run_row(tmp_path / "s.db", run_id) == ("error: every sniffed interface is gone", 0, 1)


def test_the_same_identity_replaces_the_old_run_in_every_table(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = open_db(path)
    for _ in range(2):
        monitor, store = _monitor(db), Store(db)
        with recorded_run(store, monitor, kind="analyze", source="f", identity="same") as run:
            run_files([str(FAILOVER)], monitor, store)
        run.check()
    con = sqlite3.connect(path)
    assert con.execute("SELECT id FROM runs").fetchall() == [(run.run_id,)]
    for table in RUN_TABLES:
        ids = {r[0] for r in con.execute(f"SELECT DISTINCT run_id FROM [{table}]")}
        assert ids <= {run.run_id}, table
    assert con.execute("SELECT count(*) FROM transitions").fetchone() == (5,)


def test_a_failed_batch_leaves_the_previous_one_whole(tmp_path: Path) -> None:
    """A flush is one transaction: when it fails, the database holds the last good flush."""
    path = tmp_path / "s.db"
    db = open_db(path)
    monitor, store = _monitor(db), Store(db)
    store.begin_run(kind="sniff", source="test")
    packets = list(iter_capture(str(FAILOVER)))
    feed = [(p, decode_packet(p.data, p.linktype)) for p in packets]
    half = len(feed) // 2
    for p, d in feed[:half]:
        if d is not None:
            monitor.observe(p.frame, p.time, d)
    monitor.counters.packets = half
    store.flush(monitor)
    alerts_written = len(monitor.alerts)
    before = {t: sqlite3.connect(path).execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]
              for t in RUN_TABLES}  # fmt: skip
    for p, d in feed[half:]:
        if d is not None:
            monitor.observe(p.frame, p.time, d)
    monitor.counters.packets = len(feed)
    assert len(monitor.alerts) > alerts_written  # this batch has alerts to write
    db.execute(
        "CREATE TRIGGER no_alerts BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.flush(monitor)
    con = sqlite3.connect(path)
    after = {t: con.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in RUN_TABLES}
    assert after == before
    assert con.execute("SELECT packets FROM runs").fetchone() == (half,)


# -- recorded_run: one begin/finish/flush/end for analyze and sniff -------------------------------


def test_recorded_run_complete(tmp_path: Path) -> None:
    db = open_db(tmp_path / "s.db")
    monitor, store = _monitor(db), Store(db)
    with recorded_run(store, monitor, kind="analyze", source="x") as run:
        run_files([str(FAILOVER)], monitor, store)
    run.check()
    assert run.status == "complete"
    assert _run_row(tmp_path / "s.db", run.run_id) == ("complete", monitor.counters.packets, 1)


def test_recorded_run_error_commits_what_was_read(tmp_path: Path) -> None:
    data = FAILOVER.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3 + 5])
    db = open_db(tmp_path / "s.db")
    monitor, store = _monitor(db), Store(db)
    with recorded_run(store, monitor, kind="analyze", source=str(cut)) as run:
        run_files([str(cut)], monitor, store)
    assert isinstance(run.error, CaptureError)
    status, packets, stopped = _run_row(tmp_path / "s.db", run.run_id)
    assert status == f"error: {run.error}" and packets > 10 and stopped
    with pytest.raises(
        RunError, match=r"truncated capture.*\(what was committed before is in .*s\.db, run 1\)"
    ):
        run.check()


def test_recorded_run_turns_a_database_error_into_a_store_error(tmp_path: Path) -> None:
    db = open_db(tmp_path / "s.db")
    monitor, store = _monitor(db), Store(db)
    with recorded_run(store, monitor, kind="analyze", source="x") as run:
        raise sqlite3.OperationalError("database is locked")
    assert isinstance(run.error, StoreError)
    assert str(run.error) == (
        f"{tmp_path / 's.db'}: cannot write the database (database is locked: another process "
        f"holds it; waited {LOCK_TIMEOUT_S:g} s)"
    )
    assert _run_row(tmp_path / "s.db", run.run_id)[0] == f"error: {run.error}"


def test_recorded_run_records_ctrl_c(tmp_path: Path) -> None:
    db = open_db(tmp_path / "s.db")
    monitor, store = _monitor(db), Store(db)
    finished: list[object] = []
    with recorded_run(
        store, monitor, kind="analyze", source="x", on_event=finished.append,
        flush=lambda: finished.append("flushed") or store.flush(monitor),
    ) as run:  # fmt: skip
        raise KeyboardInterrupt
    assert run.interrupted and finished[-1] == "flushed"
    assert _run_row(tmp_path / "s.db", run.run_id)[0] == "error: interrupted"
    with pytest.raises(KeyboardInterrupt):
        run.check()


def test_recorded_run_that_cannot_begin_raises_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    db = open_db(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    # a write transaction waits LOCK_TIMEOUT_S (10 s) for the lock: the test need not
    monkeypatch.setattr(store_db, "LOCK_TIMEOUT_S", 0.1)
    try:
        with pytest.raises(StoreError, match="database is locked"):
            with recorded_run(Store(db), _monitor(db), kind="analyze", source="x"):
                raise AssertionError("the body must not run")
    finally:
        holder.execute("ROLLBACK")
    assert sqlite3.connect(path).execute("SELECT count(*) FROM runs").fetchone() == (0,)
