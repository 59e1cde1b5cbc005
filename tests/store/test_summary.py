"""The run summary read back from the store (``summarize``), and the row <-> JSON mappings it
shares with sniff's JSON lines (``rows.py``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from tests.conftest import CAPTURES
from vrrpwatch.fingerprints import fingerprint
from vrrpwatch.store import rows
from vrrpwatch.store.db import open_db
from vrrpwatch.store.keys import fingerprint_key
from vrrpwatch.store.recorder import Store
from vrrpwatch.store.run import recorded_run
from vrrpwatch.store.summary import NoRun, fails_on, latest_run, summarize, worst_severity
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor, Severity

FAILOVER = CAPTURES / "v2-failover.pcap"
VLANS = CAPTURES / "vlans.pcap"


def analyzed(
    path: Path, capture: Path, *, reveal_secrets: bool = False
) -> tuple[sqlite_utils.Database, Monitor, int]:
    db = open_db(path)
    key = fingerprint_key(db)
    monitor = Monitor(fingerprint=lambda pw: fingerprint(pw, key), reveal_secrets=reveal_secrets)
    store = Store(db)
    with recorded_run(store, monitor, kind="analyze", source=str(capture)) as run:
        run_files([str(capture)], monitor, store)
    run.check()
    return db, monitor, run.run_id


def test_counts_and_run_come_from_the_run(tmp_path: Path) -> None:
    db, monitor, run_id = analyzed(tmp_path / "s.db", FAILOVER)
    doc = summarize(db, run_id)
    c = monitor.counters
    assert (doc["packets"], doc["vrrp_adverts"], doc["garps"], doc["nas"], doc["arps"]) == (
        c.packets, c.vrrp_adverts, c.garps, c.nas, c.arps,
    )  # fmt: skip
    assert doc["malformed"] == c.malformed and doc["carp"] == c.carp
    assert doc["findings"] == dict(sorted(c.findings.items()))
    run = doc["run"]
    assert set(run) == {"id", "kind", "source", "status", "started", "stopped", "first_time",
                        "last_time", "kernel_drops"}  # fmt: skip
    assert (run["id"], run["kind"], run["source"], run["status"]) == (
        run_id, "analyze", str(FAILOVER), "complete",
    )  # fmt: skip
    assert run["first_time"] == monitor.first_time and run["last_time"] == monitor.last_time
    assert run["stopped"] >= run["started"]


def test_routers_advertisers_and_timeline_match_the_monitor(tmp_path: Path) -> None:
    db, monitor, run_id = analyzed(tmp_path / "s.db", FAILOVER)
    doc = summarize(db, run_id)
    (vr,) = monitor.routers.values()
    (r,) = doc["virtual_routers"]
    assert (r["vlan"], r["family"], r["vrid"], r["master"]) == ([], 4, 1, vr.master)
    assert r["master_lost"] is False and r["auth_type"] == "simple"
    assert [a["address"] for a in r["advertisers"]] == [
        a.address for a in sorted(vr.advertisers.values(), key=lambda a: (a.first_seen, a.address))
    ]
    assert [a["adverts"] for a in r["advertisers"]] == [
        vr.advertisers[a["address"]].adverts for a in r["advertisers"]
    ]
    assert [(t["from"], t["to"], t["cause"], t["frame"]) for t in r["transitions"]] == [
        (t.old, t.new, t.cause, t.frame) for t in vr.transitions
    ]
    per_router = sum(1 for a in monitor.alerts if a.key == vr.key)
    assert r["alerts"] == per_router and len(doc["alerts"]) == len(monitor.alerts)


def test_sniff_json_lines_are_exactly_the_alerts_of_the_document(tmp_path: Path) -> None:
    """sniff prints ``rows.alert_json(alert)`` as it happens; report later prints ``alerts[]``
    from the database: the same objects."""
    db, monitor, run_id = analyzed(tmp_path / "s.db", VLANS)
    doc = summarize(db, run_id)
    assert len(monitor.alerts) > 5
    assert doc["alerts"] == sorted(
        (rows.alert_json(a) for a in monitor.alerts), key=lambda a: a["time"]
    )
    assert json.loads(json.dumps(doc["alerts"])) == doc["alerts"]


def test_vlan_is_text_in_the_database_and_a_list_in_json(tmp_path: Path) -> None:
    db, _, run_id = analyzed(tmp_path / "s.db", VLANS)
    doc = summarize(db, run_id)
    assert [(r["vlan"], r["vrid"]) for r in doc["virtual_routers"]] == [
        ([10], 1), ([10], 2), ([20], 1), ([30], 30),
    ]  # fmt: skip
    con = sqlite3.connect(tmp_path / "s.db")
    assert {v for (v,) in con.execute("SELECT vlan FROM virtual_routers")} == {"10", "20", "30"}
    db2, _, run2 = analyzed(tmp_path / "t.db", FAILOVER)
    con2 = sqlite3.connect(tmp_path / "t.db")
    assert con2.execute("SELECT DISTINCT vlan FROM alerts").fetchall() == [("",)]
    assert {tuple(a["vlan"]) for a in summarize(db2, run2)["alerts"]} == {()}


@pytest.mark.parametrize(
    ("vlans", "column"), [((), ""), ((10,), "10"), ((100, 20), "100.20"), ((1, 2, 3), "1.2.3")]
)
def test_vlan_column_round_trip(vlans: tuple[int, ...], column: str) -> None:
    assert rows.vlan_column(vlans) == column
    assert rows.vlan_ids(column) == list(vlans)


def test_passwords_only_with_reveal_secrets(tmp_path: Path) -> None:
    truth = json.loads((CAPTURES / "v2-failover.json").read_text())
    password = truth["routers"][0]["password"]
    db, _, run_id = analyzed(tmp_path / "s.db", FAILOVER)
    advertisers = summarize(db, run_id)["virtual_routers"][0]["advertisers"]
    assert all(a["password_fingerprint"].startswith("hmac:") for a in advertisers)
    assert all("password" not in a for a in advertisers)
    db, _, run_id = analyzed(tmp_path / "r.db", FAILOVER, reveal_secrets=True)
    advertisers = summarize(db, run_id)["virtual_routers"][0]["advertisers"]
    assert {a["password"] for a in advertisers} == {password}


def test_no_run(tmp_path: Path) -> None:
    db = open_db(tmp_path / "empty.db")
    with pytest.raises(NoRun, match="no run yet"):
        latest_run(db)
    with pytest.raises(NoRun, match="no run 7 in the database"):
        summarize(db, 7)


def test_latest_run_is_the_newest(tmp_path: Path) -> None:
    db, _, first = analyzed(tmp_path / "s.db", FAILOVER)
    db, _, second = analyzed(tmp_path / "s.db", VLANS)
    assert latest_run(db) == second > first
    assert summarize(db, first)["run"]["source"] == str(FAILOVER)


def _doc(*severities: str) -> dict[str, Any]:
    return {"alerts": [{"severity": s} for s in severities]}


@pytest.mark.parametrize(
    ("severities", "fail_on", "verdict"),
    [
        ((), "info", False),
        (("info",), None, False),
        (("info",), "info", True),
        (("info", "warning"), "critical", False),
        (("info", "warning"), "warning", True),
        (("critical",), "warning", True),
        (("critical",), "critical", True),
    ],
)
def test_fail_on_verdict(severities: tuple[str, ...], fail_on: str | None, verdict: bool) -> None:
    assert fails_on(_doc(*severities), fail_on) is verdict


def test_worst_severity() -> None:
    assert worst_severity(_doc()) is None
    assert worst_severity(_doc("warning", "info")) == Severity.WARNING
