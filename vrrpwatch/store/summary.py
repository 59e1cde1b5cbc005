"""The summary document of a run, read back from the store.

``analyze --json``, ``report --json`` and the terminal tables all come from ``summarize``, so
what analyze prints and what report prints later (or while sniff is still writing) agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlite_utils

from vrrpwatch.store.db import vlan_list
from vrrpwatch.watch.monitor import Severity


class NoRun(LookupError):
    pass


def latest_run(db: sqlite_utils.Database) -> int:
    row = db.execute("SELECT max(id) FROM runs").fetchone()
    if row is None or row[0] is None:
        raise NoRun("the database holds no run yet")
    return int(row[0])


def _auth(value: str | None) -> str | int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def alert_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    """An ``alerts`` row as an object of ``alerts[]`` (sniff --json prints the same)."""
    return {
        "kind": row["kind"],
        "severity": row["severity"],
        "vlan": vlan_list(row["vlan"]),
        "family": row["family"],
        "vrid": row["vrid"],
        "source": row["source"],
        "time": row["time"],
        "frame": row["frame"],
        "file": row["file"],
        "message": row["message"],
    }


def summarize(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    run = db.execute("SELECT * FROM runs WHERE id = ?", [run_id]).fetchone()
    if run is None:
        raise NoRun(f"no run {run_id} in the database")
    cols = [d[0] for d in db.execute("SELECT * FROM runs LIMIT 0").description]
    run_row = dict(zip(cols, run, strict=True))
    counters = {
        r["name"]: r["value"]
        for r in db.query("SELECT name, value FROM counters WHERE run_id = ?", [run_id])
    }
    advertisers: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for a in db.query(
        "SELECT * FROM advertisers WHERE run_id = ? ORDER BY first_seen, address", [run_id]
    ):
        item: dict[str, Any] = {
            "address": a["address"],
            "mac": a["mac"],
            "macs": json.loads(a["macs"]),
            "priority": json.loads(a["priorities"]),
            "interval_ms": a["interval_ms"],
            "version": a["version"],
            "auth_type": _auth(a["auth_type"]),
            "vips": json.loads(a["vips"]),
            "adverts": a["adverts"],
            "first_seen": a["first_seen"],
            "last_seen": a["last_seen"],
            "ttl": json.loads(a["ttls"]),
            "checksum": json.loads(a["checksums"]),
        }
        if a["password_fingerprint"] is not None:
            item["password_fingerprint"] = a["password_fingerprint"]
            if a["password"] is not None:
                item["password"] = a["password"]
        advertisers.setdefault((a["vlan"], a["family"], a["vrid"]), []).append(item)
    transitions: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for t in db.query("SELECT * FROM transitions WHERE run_id = ? ORDER BY time, id", [run_id]):
        transitions.setdefault((t["vlan"], t["family"], t["vrid"]), []).append(
            {
                "time": t["time"],
                "frame": t["frame"],
                "file": t["file"],
                "from": t["from_address"],
                "to": t["to_address"],
                "cause": t["cause"],
                "gap_ms": t["gap_ms"],
                "expected_ms": t["expected_ms"],
            }
        )
    alert_counts: dict[tuple[str, int, int], int] = {}
    alerts = []
    for al in db.query("SELECT * FROM alerts WHERE run_id = ? ORDER BY time, id", [run_id]):
        alerts.append(alert_doc(al))
        if al["vrid"] is not None:
            k = (al["vlan"], al["family"], al["vrid"])
            alert_counts[k] = alert_counts.get(k, 0) + 1
    routers = []
    for v in db.query(
        "SELECT * FROM virtual_routers WHERE run_id = ? ORDER BY vlan, family, vrid", [run_id]
    ):
        k = (v["vlan"], v["family"], v["vrid"])
        routers.append(
            {
                "vlan": vlan_list(v["vlan"]),
                "family": v["family"],
                "vrid": v["vrid"],
                "version": v["version"],
                "master": v["master"],
                "master_since": v["master_since"],
                "priority": v["priority"],
                "interval_ms": v["interval_ms"],
                "vips": json.loads(v["vips"]) if v["vips"] else [],
                "auth_type": _auth(v["auth_type"]),
                "master_lost": bool(v["lost"]),
                "last_seen": v["last_seen"],
                "alerts": alert_counts.get(k, 0),
                "advertisers": advertisers.get(k, []),
                "transitions": transitions.get(k, []),
            }
        )
    return {
        "run": {
            "id": run_row["id"],
            "kind": run_row["kind"],
            "source": run_row["source"],
            "status": run_row["status"],
            "started": run_row["started"],
            "stopped": run_row["stopped"],
            "first_time": run_row["first_time"],
            "last_time": run_row["last_time"],
            "kernel_drops": run_row["kernel_drops"],
        },
        "packets": run_row["packets"] or 0,
        "vrrp_adverts": counters.get("vrrp_adverts", 0),
        "garps": counters.get("garps", 0),
        "nas": counters.get("nas", 0),
        "arps": counters.get("arps", 0),
        "carp": counters.get("carp", 0),
        "malformed": counters.get("malformed", 0),
        "findings": {
            k.split(":", 1)[1]: v for k, v in sorted(counters.items()) if k.startswith("finding:")
        },
        "virtual_routers": routers,
        "alerts": alerts,
    }


def worst_severity(doc: dict[str, Any]) -> Severity | None:
    sev = [Severity.parse(a["severity"]) for a in doc["alerts"]]
    return max(sev) if sev else None
