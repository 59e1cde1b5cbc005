"""The summary document of a run, read back from the store.

``analyze --json``, ``report --json`` and the terminal tables all come from ``summarize``, so
what analyze prints and what report prints later (or while sniff is still writing) agree. The
mapping of each row to its JSON object is in ``rows.py``, beside the row it reads.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlite_utils

from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.store import rows, writers
from vrrpwatch.store.db import StoreError
from vrrpwatch.watch.monitor import Severity

RouterColumns = tuple[str, int, int, str]  # vlan column, family, vrid, protocol


class NoRun(VrrpwatchError, LookupError):
    """The database holds no such run."""


def latest_run(db: sqlite_utils.Database) -> int:
    row = db.execute("SELECT max(id) FROM runs").fetchone()
    if row is None or row[0] is None:
        raise NoRun("the database holds no run yet")
    return int(row[0])


def summarize(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    """The run's document (README "JSON"). Raises NoRun, or StoreError when it cannot be read.

    Read in one transaction: while another process writes the run, the document is one
    consistent snapshot (its packets never lag its adverts). ``run.status`` is
    ``interrupted`` for a ``running`` run whose writer is gone (writers.py)."""
    try:
        if db.conn.in_transaction:
            return _summarize(db, run_id)
        db.execute("BEGIN")
        try:
            return _summarize(db, run_id)
        finally:
            db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read run {run_id} from the database ({exc})") from None


def _summarize(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    found = list(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not found:
        raise NoRun(f"no run {run_id} in the database")
    run_row = found[0]
    run_row["status"] = writers.shown_status(run_row)
    counters = {
        r["name"]: r["value"]
        for r in db.query("SELECT name, value FROM counters WHERE run_id = ?", [run_id])
    }
    advertisers: dict[RouterColumns, list[dict[str, Any]]] = {}
    for a in db.query(
        "SELECT * FROM advertisers WHERE run_id = ? ORDER BY first_seen, address", [run_id]
    ):
        advertisers.setdefault((a["vlan"], a["family"], a["vrid"], a["protocol"]), []).append(
            rows.advertiser_doc(a)
        )
    timelines: dict[str, dict[RouterColumns, list[dict[str, Any]]]] = {}
    for table in ("transitions", "standby_transitions"):
        timeline = timelines[table] = {}
        for t in db.query(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY time, id", [run_id]):
            timeline.setdefault((t["vlan"], t["family"], t["vrid"], t["protocol"]), []).append(
                rows.transition_doc(t)
            )
    alert_counts: dict[RouterColumns, int] = {}
    alerts = []
    for al in db.query("SELECT * FROM alerts WHERE run_id = ? ORDER BY time, id", [run_id]):
        alerts.append(rows.alert_doc(al))
        if al["vrid"] is not None:
            k = (al["vlan"], al["family"], al["vrid"], al["protocol"] or "vrrp")
            alert_counts[k] = alert_counts.get(k, 0) + 1
    routers = []
    for v in db.query(
        "SELECT * FROM virtual_routers WHERE run_id = ? ORDER BY vlan, family, vrid, protocol",
        [run_id],
    ):
        k = (v["vlan"], v["family"], v["vrid"], v["protocol"])
        routers.append(
            rows.router_doc(
                v,
                alerts=alert_counts.get(k, 0),
                advertisers=advertisers.get(k, []),
                transitions=timelines["transitions"].get(k, []),
                standby_transitions=timelines["standby_transitions"].get(k, []),
            )
        )
    return {
        "run": rows.run_doc(run_row),
        **rows.counters_doc(run_row["packets"], counters),
        "virtual_routers": routers,
        "alerts": alerts,
    }


def worst_severity(doc: dict[str, Any]) -> Severity | None:
    sev = [Severity.parse(a["severity"]) for a in doc["alerts"]]
    return max(sev) if sev else None


class IncompleteRun(VrrpwatchError):
    """``--fail-on`` on a run that did not end complete: no verdict can be given."""


def check_complete(doc: dict[str, Any]) -> None:
    """Raise IncompleteRun when the run was interrupted or ended in an error: its alerts are
    those of part of the input only. A ``running`` run (sniff still writing) passes."""
    run = doc["run"]
    status = run["status"] or ""
    if status == writers.INTERRUPTED:
        raise IncompleteRun(
            f"run {run['id']} was interrupted (its process is gone without ending it): "
            "no verdict on a partial run"
        )
    if status.startswith("error"):
        raise IncompleteRun(f"run {run['id']} ended in {status}: no verdict on a partial run")


def fails_on(doc: dict[str, Any], fail_on: str | None) -> bool:
    """The ``--fail-on SEVERITY`` verdict: an alert of that severity or worse was raised."""
    if fail_on is None:
        return False
    worst = worst_severity(doc)
    return worst is not None and worst >= Severity.parse(fail_on)
