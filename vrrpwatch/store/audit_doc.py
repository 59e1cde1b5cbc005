"""``vrrpwatch audit`` as a library: the one call the command makes, and its JSON document.

:func:`run_audit` reads the configs and, optionally, a capture (through the analyze engine),
and returns the audit's report; :func:`audit_document` maps the report to the ``audit --json``
document. The document's field names, the finding ids and the severity strings are a contract.

Names, paths and messages come from the configs, which the lexer reads with ``surrogateescape``:
a byte that is not UTF-8 is a lone surrogate there, which strict JSON consumers refuse; the
document writes it as ``\\xd2``, as the text output does (``vrrpwatch.text.path_label``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from typing import Any

from vrrpwatch.fingerprints import fingerprint
from vrrpwatch.keepalived.audit import audit
from vrrpwatch.keepalived.config import parse_config, split_config_id
from vrrpwatch.keepalived.report import AuditReport, GroupKey, WireAdvertiser
from vrrpwatch.text import path_label
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor


def run_audit(configs: Sequence[str], capture: str | None = None) -> AuditReport:
    """Audit ``configs`` (one per router; ``FILE@ID`` selects keepalived's ``@ID`` lines)
    against each other and, with ``capture`` (a pcap/pcapng path, ``-`` for standard input),
    against the wire.

    Raises ``KaConfError`` for a config and ``CaptureError`` for a capture that cannot be read.
    """
    parsed = [parse_config(*split_config_id(arg)) for arg in configs]
    observed = read_capture(capture) if capture is not None else None
    return audit(parsed, observed=observed)


def read_capture(path: str) -> tuple[WireAdvertiser, ...]:
    """Run the analyze engine over a capture; its advertisers, as the audit compares them."""
    key = os.urandom(32)
    # reveal_secrets keeps the passwords in memory so they can be compared with the configs;
    # the audit never prints them.
    monitor = Monitor(fingerprint=lambda pw: fingerprint(pw, key), reveal_secrets=True)
    try:
        run_files([path], monitor)
    finally:
        monitor.finish()
    return wire_advertisers(monitor)


def wire_advertisers(monitor: Monitor) -> tuple[WireAdvertiser, ...]:
    """The advertisers the analyze engine saw, for the audit.

    The monitor keeps the latest interval, VIP list and authentication of each advertiser and
    every priority; it must run with ``reveal_secrets=True`` for passwords to be compared (they
    are compared only, never shown).
    """
    out: list[WireAdvertiser] = []
    for vr in sorted(monitor.routers.values(), key=lambda r: r.key):
        for a in vr.advertisers.values():
            v2 = 2 in a.versions
            out.append(
                WireAdvertiser(
                    src=ipaddress.ip_address(a.address),
                    vrid=vr.key.vrid,
                    family=vr.key.family,
                    vlan=vr.key.vlan,
                    count=a.adverts,
                    versions=frozenset(a.versions),
                    priorities=frozenset(p for p in a.priorities if p != 0),
                    released=0 in a.priorities,
                    intervals_cs=frozenset({a.interval_cs}),
                    address_sets=frozenset({frozenset(ipaddress.ip_address(v) for v in a.vips)}),
                    auth_types=frozenset({a.auth_type}) if v2 else frozenset(),
                    passwords=frozenset({a.password.encode("latin-1")})
                    if a.password is not None
                    else frozenset(),
                )
            )
    return tuple(out)


def _group_json(key: GroupKey) -> dict[str, Any]:
    return {
        "vrid": key.vrid,
        "interface": key.interface or None,
        "vlan": key.vlan,
        "family": key.family,
    }


def _as_text(value: Any) -> Any:
    """``value`` with every string in it written by ``path_label`` (lone surrogates, bytes that
    are not UTF-8, become ``\\xNN``; any other string is left as it is)."""
    if isinstance(value, str):
        return path_label(value)
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    return value


def audit_document(report: AuditReport, *, strict: bool = False) -> dict[str, Any]:
    """The ``audit --json`` document. ``strict`` (``--strict``) decides its ``exit_code``.
    Every string in it is UTF-8 text (``_as_text``)."""
    return _as_text(_document(report, strict=strict))  # type: ignore[no-any-return]


def _document(report: AuditReport, *, strict: bool) -> dict[str, Any]:
    groups = []
    for g in report.groups:
        by_label = {(m.router, m.instance.name): m for m in g.members}
        routers = []
        for est in g.failover:
            inst = by_label[(est.router, est.instance)].instance
            routers.append(
                {
                    "router": est.router,
                    "instance": est.instance,
                    "file": inst.source.path,
                    "line": inst.source.line,
                    "state": inst.state,
                    "priority": inst.priority,
                    "version": inst.version,
                    "advert_int_ms": inst.advert_int_ms,
                    "auth_type": inst.auth_type,
                    "vips": [str(v.address) for v in inst.vips],
                    "preempt": inst.preempt,
                    "role": est.role,
                    "skew_s": round(est.skew_s, 6),
                    "failover_s": round(est.master_down_s, 6),
                    "failover_clean_stop_s": round(est.clean_stop_s, 6),
                }
            )
        groups.append({**_group_json(g.key), "routers": routers})
    out: dict[str, Any] = {
        "routers": list(report.routers),
        "groups": groups,
        "findings": [
            {
                "severity": str(f.severity),
                "id": f.id,
                "message": f.message,
                "group": _group_json(f.group) if f.group else None,
                "routers": list(f.routers),
                "source": f.source,
            }
            for f in report.findings
        ],
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "exit_code": report.exit_code(strict=strict),
    }
    if report.advertisers is not None:
        out["observed"] = [
            {
                "src": str(a.src),
                "vlan": list(a.vlan),
                "vrid": a.vrid,
                "family": a.family,
                "adverts": a.count,
                "versions": sorted(a.versions),
                "priorities": sorted(a.priorities),
                "released": a.released,
                "intervals_cs": sorted(a.intervals_cs),
                "vips": sorted(str(x) for s in a.address_sets for x in s),
                "matched": a.matched,
            }
            for a in report.advertisers
        ]
    return out


__all__ = ["audit_document", "read_capture", "run_audit", "wire_advertisers"]
