"""The run's output contract, side by side: for each table, the row written from the monitor's
state and the JSON object read back from that row (``analyze --json``, ``report --json``,
``sniff --json``). README.md documents both ("The database", "JSON").

Rows keep the database's conventions: ``vlan`` is the ids joined with "." ("" when untagged),
lists are JSON text. Documents give lists as lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dissectors.vrrp import auth_type_label
from vrrpwatch.text import vlan_label
from vrrpwatch.watch.hsrp import HSRP_AUTH_LABELS
from vrrpwatch.watch.monitor import AddressEvent, Alert, Counters, Protocol, RouterKey, Transition

Row = dict[str, Any]
Doc = dict[str, Any]


# -- vlan columns --------------------------------------------------------------------------------


def vlan_column(vlans: tuple[int, ...] | list[int]) -> str:
    """The ``vlan`` column: "10.20", "" when untagged."""
    return vlan_label(vlans, untagged="")


def vlan_ids(column: str) -> list[int]:
    """A ``vlan`` column back as the ids, outermost first."""
    return [int(v) for v in column.split(".")] if column else []


def _auth(value: str | None) -> str | int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def _key_columns(run_id: int, key: RouterKey) -> Row:
    return {
        "run_id": run_id,
        "vlan": vlan_column(key.vlan),
        "family": key.family,
        "vrid": key.vrid,
        "protocol": str(key.protocol),
    }


def auth_label(protocol: str, auth_type: int) -> str:
    """The ``auth_type`` column: VRRP's none/simple/ah (or the number), HSRP's none/text/md5,
    CARP's hmac (it always carries its SHA1 HMAC)."""
    if protocol == Protocol.HSRP:
        return HSRP_AUTH_LABELS.get(auth_type, str(auth_type))
    if protocol == Protocol.CARP:
        return "hmac"
    return str(auth_type_label(auth_type))


# -- runs ----------------------------------------------------------------------------------------


def run_doc(row: Mapping[str, Any]) -> Doc:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "source": row["source"],
        "status": row["status"],
        "started": row["started"],
        "stopped": row["stopped"],
        "first_time": row["first_time"],
        "last_time": row["last_time"],
        "kernel_drops": row["kernel_drops"],
    }


# -- virtual_routers -----------------------------------------------------------------------------


def router_row(run_id: int, vr: Any) -> Row:
    """One observed router: the monitor's state per (vlan, family, vrid, protocol)."""
    cur = vr.current
    protocol = vr.key.protocol
    return _key_columns(run_id, vr.key) | {
        "version": cur.version if cur else None,
        "master": vr.master,
        "master_since": vr.master_since if vr.master else None,
        "priority": cur.last_priority if cur else None,
        "interval_ms": cur.interval_ms if cur else None,
        "vips": json.dumps(list(cur.vips) if cur else []),
        "auth_type": auth_label(protocol, cur.auth_type) if cur else None,
        "advertisers": len(vr.advertisers),
        "transitions": len(vr.transitions),
        "lost": int(vr.lost),
        "last_seen": max((a.last_seen for a in vr.advertisers.values()), default=None),
        "standby": vr.standby,
        "hold_ms": cur.hold_ms if cur else None,
    }


def router_doc(
    row: Mapping[str, Any],
    *,
    alerts: int,
    advertisers: list[Doc],
    transitions: list[Doc],
    standby_transitions: list[Doc] | None = None,
) -> Doc:
    """``protocol`` is vrrp, hsrp or carp, and ``vrid`` the VRID, HSRP group or CARP vhid;
    ``master`` the VRRP/CARP master or the HSRP active. HSRP entries add ``standby``,
    ``standby_transitions`` and ``hold_ms``."""
    doc: Doc = {
        "vlan": vlan_ids(row["vlan"]),
        "family": row["family"],
        "vrid": row["vrid"],
        "protocol": row["protocol"],
        "version": row["version"],
        "master": row["master"],
        "master_since": row["master_since"],
        "priority": row["priority"],
        "interval_ms": row["interval_ms"],
        "vips": json.loads(row["vips"]) if row["vips"] else [],
        "auth_type": _auth(row["auth_type"]),
        "master_lost": bool(row["lost"]),
        "last_seen": row["last_seen"],
        "alerts": alerts,
        "advertisers": advertisers,
        "transitions": transitions,
    }
    if row["protocol"] == Protocol.HSRP:
        doc["hold_ms"] = row["hold_ms"]
        doc["standby"] = row["standby"]
        doc["standby_transitions"] = standby_transitions or []
    return doc


# -- advertisers ---------------------------------------------------------------------------------


def advertiser_row(run_id: int, key: RouterKey, a: Any, *, reveal_secrets: bool) -> Row:
    """One source address advertising for the router ``key`` (the monitor's advertiser)."""
    return _key_columns(run_id, key) | {
        "address": a.address,
        "mac": a.mac,
        "macs": json.dumps(a.macs),
        "priorities": json.dumps(a.priorities),
        "last_priority": a.last_priority,
        "interval_ms": a.interval_ms,
        "version": a.version,
        "auth_type": auth_label(key.protocol, a.auth_type),
        "password_fingerprint": a.fingerprint,
        "password": a.password if reveal_secrets else None,
        "vips": json.dumps(list(a.vips)),
        "ttls": json.dumps(a.ttls),
        "checksums": json.dumps(a.checksums),
        "first_seen": a.first_seen,
        "last_seen": a.last_seen,
        "adverts": a.adverts,
        "hold_ms": a.hold_ms,
    }


def advertiser_doc(row: Mapping[str, Any]) -> Doc:
    doc: Doc = {
        "address": row["address"],
        "mac": row["mac"],
        "macs": json.loads(row["macs"]),
        "priority": json.loads(row["priorities"]),
        "interval_ms": row["interval_ms"],
        "version": row["version"],
        "auth_type": _auth(row["auth_type"]),
        "vips": json.loads(row["vips"]),
        "adverts": row["adverts"],
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "ttl": json.loads(row["ttls"]),
        "checksum": json.loads(row["checksums"]),
    }
    if row["hold_ms"] is not None:
        doc["hold_ms"] = row["hold_ms"]  # HSRP
    if row["password_fingerprint"] is not None:
        doc["password_fingerprint"] = row["password_fingerprint"]
        if row["password"] is not None:
            doc["password"] = row["password"]
    return doc


# -- transitions ---------------------------------------------------------------------------------


def transition_row(run_id: int, key: RouterKey, t: Transition) -> Row:
    return _key_columns(run_id, key) | {
        "time": t.time,
        "frame": t.frame,
        "from_address": t.old,
        "to_address": t.new,
        "cause": t.cause,
        "gap_ms": t.gap_ms,
        "expected_ms": t.expected_ms,
        "file": t.file,
    }


def transition_doc(row: Mapping[str, Any]) -> Doc:
    return {
        "time": row["time"],
        "frame": row["frame"],
        "file": row["file"],
        "from": row["from_address"],
        "to": row["to_address"],
        "cause": row["cause"],
        "gap_ms": row["gap_ms"],
        "expected_ms": row["expected_ms"],
    }


# -- address_events (in the database only) -------------------------------------------------------


def address_event_row(run_id: int, e: AddressEvent) -> Row:
    return {
        "run_id": run_id,
        "time": e.time,
        "frame": e.frame,
        "kind": e.kind,
        "vlan": vlan_column(e.vlan),
        "address": e.address,
        "mac": e.mac,
        "family": e.router.family if e.router else None,
        "vrid": e.router.vrid if e.router else None,
        "protocol": str(e.router.protocol) if e.router else None,
        "file": e.file,
    }


# -- alerts --------------------------------------------------------------------------------------


def alert_row(run_id: int | None, a: Alert) -> Row:
    k = a.key
    return {
        "run_id": run_id,
        "kind": a.kind,
        "severity": str(a.severity),
        "vlan": vlan_column(k.vlan) if k else "",
        "family": k.family if k else None,
        "vrid": k.vrid if k else None,
        "protocol": str(k.protocol) if k else None,
        "source": a.source,
        "time": a.time,
        "frame": a.frame,
        "file": a.file,
        "message": a.message,
    }


def alert_doc(row: Mapping[str, Any]) -> Doc:
    return {
        "kind": row["kind"],
        "severity": row["severity"],
        "vlan": vlan_ids(row["vlan"]),
        "family": row["family"],
        "vrid": row["vrid"],
        "protocol": row["protocol"],
        "source": row["source"],
        "time": row["time"],
        "frame": row["frame"],
        "file": row["file"],
        "message": row["message"],
    }


def alert_json(a: Alert) -> Doc:
    """An alert as it appears in ``alerts[]`` (sniff's JSON lines), without a database."""
    return alert_doc(alert_row(None, a))


# -- counters ------------------------------------------------------------------------------------


def counter_rows(run_id: int, c: Counters) -> list[Row]:
    counts = {
        "packets": c.packets,
        "vrrp_adverts": c.vrrp_adverts,
        "carp": c.carp,
        "hsrp": c.hsrp,
        "garps": c.garps,
        "arps": c.arps,
        "nas": c.nas,
        "malformed": c.malformed,
        **{f"finding:{k}": v for k, v in c.findings.items()},
    }
    return [{"run_id": run_id, "name": k, "value": v} for k, v in counts.items()]


def counters_doc(packets: int | None, counters: Mapping[str, int]) -> Doc:
    """The document's top-level counts from the ``counters`` rows (name -> value)."""
    return {
        "packets": packets or 0,
        "vrrp_adverts": counters.get("vrrp_adverts", 0),
        "garps": counters.get("garps", 0),
        "nas": counters.get("nas", 0),
        "arps": counters.get("arps", 0),
        "carp": counters.get("carp", 0),
        "hsrp": counters.get("hsrp", 0),
        "malformed": counters.get("malformed", 0),
        "findings": {
            k.split(":", 1)[1]: v for k, v in sorted(counters.items()) if k.startswith("finding:")
        },
    }
