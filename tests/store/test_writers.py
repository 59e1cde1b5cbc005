"""Runs and their writers: a killed run reads as interrupted, two processes on one database
never delete or reuse each other's run, and a snapshot is read in one transaction."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import CAPTURES, ROOT
from tests.helpers import R1, Feed, advert
from vrrpwatch.cli import cli
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store
from vrrpwatch.store.summary import summarize
from vrrpwatch.store.writers import process_start, shown_status, this_writer, writer_alive

FAILOVER = CAPTURES / "v2-failover.pcap"
VRRPWATCH = str(ROOT / ".venv" / "bin" / "vrrpwatch")


def _repeated(path: Path, times: int) -> Path:
    """v2-failover.pcap played ``times`` times in a row (each copy later by its span)."""
    data = FAILOVER.read_bytes()
    head, body = data[:24], data[24:]
    records: list[tuple[float, bytes]] = []
    off = 0
    while off < len(body):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", body, off)
        records.append((sec + usec / 1e6, body[off + 16 : off + 16 + incl]))
        off += 16 + incl
    span_us = round((records[-1][0] - records[0][0] + 1.0) * 1e6)
    out = bytearray(head)
    for i in range(times):
        for when, frame in records:
            us = round(when * 1e6) + i * span_us
            out += struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame))
            out += frame
    path.write_bytes(out)
    return path


def _feed(stdin: Any, data: bytes, *, piece: int = 64 * 1024, pause_s: float = 0.05) -> None:
    """Write ``data`` a piece at a time and leave the pipe open: the reader never sees its end
    (however fast it reads, the run cannot complete before it is killed), and the pieces keep
    it reading, and flushing batches, for a few seconds."""
    with contextlib.suppress(OSError):  # killed while it reads
        for off in range(0, len(data), piece):
            stdin.write(data[off : off + piece])
            stdin.flush()
            time.sleep(pause_s)


def _committed_packets(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            row = con.execute("SELECT packets FROM runs").fetchone()
    except sqlite3.OperationalError:  # not made yet
        return 0
    return int(row[0]) if row and row[0] else 0


def _report(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["report", "--db", str(db), *args])


# -- a run's writer ------------------------------------------------------------------------------


def test_a_run_records_its_writer(tmp_path: Path) -> None:
    store = Store(open_db(tmp_path / "s.db"))
    run_id = store.begin_run(kind="analyze", source="x")
    (row,) = store.db.query("SELECT pid, pid_start, host FROM runs WHERE id = ?", [run_id])
    assert row == this_writer() and row["pid"] == os.getpid()
    assert writer_alive(row) is True and shown_status(row | {"status": "running"}) == "running"


def test_a_writer_that_is_gone_or_whose_pid_was_reused_is_not_alive() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    me = this_writer()
    assert process_start(dead.pid) is None
    assert writer_alive(me | {"pid": dead.pid}) is False
    assert shown_status(me | {"pid": dead.pid, "status": "running"}) == "interrupted"
    # the same pid, started at another time: another process
    assert writer_alive(me | {"pid_start": int(me["pid_start"]) + 1}) is False
    # killed, but not yet reaped by its parent (a zombie): gone too
    zombie = subprocess.Popen(["sleep", "30"])
    try:
        zombie.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_start(zombie.pid) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert Path(f"/proc/{zombie.pid}").exists()  # still there, as a zombie
    finally:
        zombie.wait()
    # what cannot be judged stays as stored
    assert writer_alive(me | {"host": "elsewhere"}) is None
    assert writer_alive({"pid": None}) is None
    assert shown_status(me | {"pid": dead.pid, "status": "complete"}) == "complete"


def test_kill_9_of_analyze_reads_as_interrupted(tmp_path: Path) -> None:
    """analyze reads a pipe, commits a batch, and is killed: report says interrupted (text and
    JSON), and report --fail-on gives no verdict on it (exit 2, one line)."""
    db = tmp_path / "x.db"
    proc = subprocess.Popen(
        [VRRPWATCH, "analyze", "-", "--db", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    # a few MiB (a read of the pipe waits for 1 MiB), fed over about 3 s: batches are committed
    # meanwhile (every FLUSH_EVERY_S), and the pipe never ends
    data = _repeated(tmp_path / "long.pcap", 1200).read_bytes()
    writer = threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True)
    writer.start()
    try:
        packets = 0
        deadline = time.monotonic() + 120
        while packets == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            packets = _committed_packets(db)
        assert packets > 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    writer.join(30)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT status FROM runs").fetchone() == ("running",)
    r = _report(db)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == "run 1 (analyze -): interrupted"
    doc = json.loads(_report(db, "--json").stdout)
    assert doc["run"]["status"] == "interrupted" and doc["packets"] == packets
    r = _report(db, "--fail-on", "critical")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        "Error: run 1 was interrupted (its process is gone without ending it): "
        "no verdict on a partial run"
    ]


def test_report_fail_on_gives_no_verdict_on_a_run_that_ended_in_an_error(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    cut = tmp_path / "cut.pcap"
    data = FAILOVER.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 5])
    assert CliRunner().invoke(cli, ["analyze", str(cut), "--db", str(db)]).exit_code == 2
    assert _report(db).exit_code == 0  # shown, with its status
    r = _report(db, "--fail-on", "info")
    assert r.exit_code == 2 and r.stderr.startswith("Error: run 1 ended in error: ")


def test_a_snapshot_is_read_in_one_transaction(tmp_path: Path) -> None:
    """Another process commits a batch while report reads the run: the document is the state
    before or after that batch, never packets of one and adverts of the other."""
    path = tmp_path / "s.db"
    store = Store(open_db(path))
    store.begin_run(kind="sniff", source="test")
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R1, 100))
    f.m.counters.packets = 4
    store.flush(f.m)
    reader = open_db(path)
    before = summarize(reader, store.run_id)
    real_query = reader.query
    writes = []

    def read_then_write(sql: str, params: Any = None) -> Any:
        rows = list(real_query(sql, params))
        if not writes:  # after the first read (the run row), the writer commits a batch
            f.every(4.0, 9.0, 1.0, advert(R1, 100))
            f.m.counters.packets = 10
            store.flush(f.m)
            writes.append(sql)
        return iter(rows)

    reader.query = read_then_write  # type: ignore[method-assign]
    doc = summarize(reader, store.run_id)
    assert writes
    assert doc == before
    reader.query = real_query  # type: ignore[method-assign]
    after = summarize(reader, store.run_id)
    assert after["packets"] == 10 and after["vrrp_adverts"] > before["vrrp_adverts"]


# -- two processes on one database ---------------------------------------------------------------


def _analyze(db: Path, capture: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [VRRPWATCH, "analyze", str(capture), "--db", str(db), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _pause_while_running(proc: subprocess.Popen[str], db: Path) -> None:
    """SIGSTOP ``proc`` once its run is ``running`` in ``db`` and it holds no write lock."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=0.01) as con:
                running = con.execute("SELECT 1 FROM runs WHERE status = 'running'").fetchone()
        except sqlite3.OperationalError:
            running = None
        if running:
            proc.send_signal(signal.SIGSTOP)
            probe = sqlite3.connect(db, timeout=0.2, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")  # it was not stopped inside a transaction
                probe.execute("ROLLBACK")
                with sqlite3.connect(db) as con:
                    assert con.execute("SELECT status FROM runs").fetchall() == [("running",)]
                return
            except sqlite3.OperationalError:
                proc.send_signal(signal.SIGCONT)
            finally:
                probe.close()
        assert proc.poll() is None, "the first analyze ended before it could be paused"
        time.sleep(0.002)
    raise AssertionError("the first analyze never began its run")


def _alert_counts(doc: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in doc["alerts"]:
        counts[a["kind"]] = counts.get(a["kind"], 0) + 1
    return counts


def test_two_analyze_processes_of_one_file_on_one_database(tmp_path: Path) -> None:
    """Neither deletes the run the other writes: both end complete with the counts of a run
    alone; the database then holds one run of the file (the last to end), and ids go on."""
    capture = _repeated(tmp_path / "long.pcap", 100)
    alone = _analyze(tmp_path / "alone.db", capture)
    out, err = alone.communicate(timeout=300)
    assert alone.returncode == 0, err
    want = json.loads(out)
    db = tmp_path / "shared.db"
    open_db(db).close()
    # The first is paused (SIGSTOP) once its run is begun, outside any transaction, while the
    # second runs whole; then the first goes on. Alive all along, its run must be kept.
    first = _analyze(db, capture)
    try:
        _pause_while_running(first, db)
        second = _analyze(db, capture)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        assert "Traceback" not in err
    finally:
        first.send_signal(signal.SIGCONT)
    docs = [json.loads(out)]
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "Traceback" not in err
    docs.append(json.loads(out))
    for doc in docs:
        assert doc["run"]["status"] == "complete"
        assert doc["packets"] == want["packets"] and doc["vrrp_adverts"] == want["vrrp_adverts"]
        assert _alert_counts(doc) == _alert_counts(want)
    assert {d["run"]["id"] for d in docs} == {1, 2}
    with sqlite3.connect(db) as con:
        (survivor,) = con.execute("SELECT id FROM runs").fetchall()
        assert con.execute("SELECT count(*) FROM alerts").fetchone() == (len(want["alerts"]),)
        assert con.execute("SELECT DISTINCT run_id FROM alerts").fetchall() == [survivor]
    # the other run's id is not given again
    r = CliRunner().invoke(cli, ["analyze", str(FAILOVER), "--db", str(db), "--json"])
    assert json.loads(r.stdout)["run"]["id"] == 3


def test_a_run_id_is_never_reused_in_an_older_database(tmp_path: Path) -> None:
    """A database made before AUTOINCREMENT: the highest id ever given is kept in meta."""
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE runs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, source TEXT,
            identity TEXT, started FLOAT NOT NULL, stopped FLOAT, status TEXT, packets INTEGER);
        """
    )
    con.commit()
    store = Store(open_db(path))
    assert store.begin_run(kind="sniff", source="a") == 1
    assert store.begin_run(kind="sniff", source="b") == 2
    store.db.execute("DELETE FROM runs WHERE id = 2")  # the latest run, deleted
    assert store.begin_run(kind="sniff", source="c") == 3


def test_a_live_run_of_the_same_identity_is_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Store(open_db(path))
    a = first.begin_run(kind="analyze", source="f", identity="same")
    second = Store(open_db(path))
    b = second.begin_run(kind="analyze", source="f", identity="same")
    assert a != b
    ids = [r["id"] for r in first.db.query("SELECT id FROM runs ORDER BY id")]
    assert ids == [a, b]  # this process is alive: its running run stays
    second.end_run()  # the first is still running
    assert [r["id"] for r in first.db.query("SELECT id FROM runs ORDER BY id")] == [a, b]
    first.end_run()  # the last to end replaces the other
    assert [r["id"] for r in first.db.query("SELECT id FROM runs")] == [a]
    # a running run whose writer is gone is replaced at once
    first.db.execute("UPDATE runs SET status = 'running', pid = 999999999 WHERE id = ?", [a])
    c = second.begin_run(kind="analyze", source="f", identity="same")
    assert [r["id"] for r in first.db.query("SELECT id FROM runs")] == [c]


@pytest.mark.parametrize("holder_s", [0.3])
def test_waiting_for_the_lock_is_bounded_and_one_line(
    tmp_path: Path, holder_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vrrpwatch.store.db as store_db

    path = tmp_path / "s.db"
    open_db(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(store_db, "LOCK_TIMEOUT_S", holder_s)
    try:
        started = time.monotonic()
        r = CliRunner().invoke(cli, ["analyze", str(FAILOVER), "--db", str(path)])
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        f"Error: {path}: cannot write the database (database is locked: another process "
        f"holds it; waited {holder_s:g} s)"
    ]
    assert holder_s <= waited < holder_s + 5
