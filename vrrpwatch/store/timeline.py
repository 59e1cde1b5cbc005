"""What the HTML report needs beyond the run summary, read from the store.

``report_data(db, run_id)`` is the summary document (``summary.summarize``) plus, per virtual
router, its GARP/NA events (``address_events``) and each advertiser's last priority (so the
report can mark a priority-0 advert that was nobody's resignation), and a stable ``id`` for
every alert. Only reads; the report package renders it and never touches the database.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from vrrpwatch.store.rows import vlan_ids
from vrrpwatch.store.summary import summarize


def report_data(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    """The summary of ``run_id`` with ``address_events`` and ``last_priority`` added to each
    virtual router's entries, and ``id`` to each alert (its position in the run's alerts).
    Address events that announce no virtual router's VIP go to the top-level
    ``address_events``.

    Read in one transaction: while sniff writes the run, the page is one consistent snapshot."""
    if db.conn.in_transaction:
        return _read(db, run_id)
    db.execute("BEGIN")
    try:
        return _read(db, run_id)
    finally:
        db.execute("ROLLBACK")


def _read(db: sqlite_utils.Database, run_id: int) -> dict[str, Any]:
    doc = summarize(db, run_id)
    for i, alert in enumerate(doc["alerts"]):
        alert["id"] = i
    by_key: dict[tuple[tuple[int, ...], int, int, str], dict[str, Any]] = {}
    for vr in doc["virtual_routers"]:
        by_key[(tuple(vr["vlan"]), vr["family"], vr["vrid"], vr["protocol"])] = vr
        vr["address_events"] = []
    for row in db.query(
        "SELECT vlan, family, vrid, protocol, address, last_priority FROM advertisers"
        " WHERE run_id = ?",
        [run_id],
    ):
        vr = by_key.get((tuple(vlan_ids(row["vlan"])), row["family"], row["vrid"], row["protocol"]))
        for a in vr["advertisers"] if vr else ():
            if a["address"] == row["address"]:
                a["last_priority"] = row["last_priority"]
    loose: list[dict[str, Any]] = []
    for e in db.query("SELECT * FROM address_events WHERE run_id = ? ORDER BY time, id", [run_id]):
        item = {
            "time": e["time"],
            "frame": e["frame"],
            "file": e["file"],
            "kind": e["kind"],
            "vlan": vlan_ids(e["vlan"]),
            "address": e["address"],
            "mac": e["mac"],
        }
        vr = None
        if e["vrid"] is not None:
            vr = by_key.get((tuple(item["vlan"]), e["family"], e["vrid"], e["protocol"] or "vrrp"))
        (vr["address_events"] if vr else loose).append(item)
    doc["address_events"] = loose
    return doc
