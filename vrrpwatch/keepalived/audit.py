"""Audit a set of keepalived configurations against each other and against the wire.

Pure: :func:`audit` takes parsed configs (``vrrpwatch.keepalived.config``) and, optionally,
observed advertisements, and returns an :class:`~vrrpwatch.keepalived.report.AuditReport`.
The configs are checked against each other in ``checks``, against the wire in ``wire``; the
report's types are in ``report``. ``vrrpwatch.store.audit_doc`` reads the files and a capture
for ``vrrpwatch audit`` and maps the report to its JSON document.

Peers. keepalived.conf does not say which L2 segment an interface is on, so instances are taken
to be peers of one virtual router when they have the same VRID, the same interface name and the
same address family (the family of their VIPs). An interface name like ``eth0.10`` carries its
VLAN (10), so ``eth0.10`` and ``eth0.20`` are different segments; routers whose interfaces have
different names (``eth0`` on one, ``ens3`` on the other) are *not* grouped, which is the price of
not guessing. RFC 5798 section 7.3 ties the virtual MAC to VRID and family only, so two groups
that differ only in the interface name would collide if they were in fact on one segment.

AuditFinding ids (stable; they appear in ``--json``):

errors (exit 1)
  version-mismatch, interval-mismatch, auth-mismatch, vip-mismatch: peers disagree; a receiver
      drops adverts that do not match its own configuration (RFC 3768 section 7.1, RFC 5798
      section 7.1, keepalived ``vrrp_in_chk``), so each side believes the master is gone and
      both become master. Exception: in an all-VRRPv3 group interval-mismatch is a warning,
      because a v3 backup adopts the master's interval (RFC 5798 section 6.4.2).
  two-owners: more than one router with priority 255, the address owner (RFC 5798 section 5.2.4).
  priority-out-of-range, vrid-out-of-range: outside 1..255 (RFC 5798 sections 5.2.3-5.2.4).
  duplicate-vrid: one config runs two instances of the same group.
  unknown-advertiser, wire-version-differs, wire-interval-differs, wire-vips-differ,
  wire-password-differs: ``--capture`` saw something the configs do not explain.
warnings (exit 0 unless ``--strict``)
  plaintext-auth: PASS authentication puts the password on the wire in clear (RFC 3768
      section 5.3.6 removed authentication for this reason).
  auth-ignored-v3: VRRPv3 has no authentication (RFC 5798 section 9); keepalived ignores it.
  equal-priorities: the election falls to the primary IP address (RFC 5798 section 6.4.3).
  master-lower-priority: ``state MASTER`` on a router a peer outranks: it takes over at start
      and is preempted again.
  vip-dev-mismatch: a VIP configured on another interface than the instance's.
  preempt-setting-ignored: nopreempt or preempt_delay with state MASTER, where keepalived
      ignores them.
  no-instances: a config without any vrrp_instance (the wrong file?).
  wire-priority-differs: observed priority differs from the config, which has track weights
      (an error when it has none: then nothing but another config explains it).
info
  single-router: a group with one router has nobody to fail over to.
  not-observed: ``--capture`` holds no advert for a configured group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vrrpwatch.keepalived.checks import (
    failover_estimates,
    group_checks,
    instance_checks,
    members_of,
)
from vrrpwatch.keepalived.model import KeepalivedConfig
from vrrpwatch.keepalived.report import (
    AuditFinding,
    AuditReport,
    AuditSeverity,
    Group,
    GroupKey,
    Member,
    WireAdvertiser,
    group_key,
)
from vrrpwatch.keepalived.wire import Advert, compare_wire, summarize_adverts


def audit(
    configs: Sequence[KeepalivedConfig],
    adverts: Iterable[Advert] | None = None,
    *,
    observed: Sequence[WireAdvertiser] | None = None,
) -> AuditReport:
    """Check ``configs`` (one per router) against each other, and against what was seen on
    the wire: ``adverts`` one by one, or ``observed`` already summarised per advertiser
    (``vrrpwatch.store.audit_doc.wire_advertisers`` makes them from the analyze engine)."""
    members = members_of(configs)
    grouped: dict[GroupKey, list[Member]] = {}
    for m in members:
        grouped.setdefault(group_key(m.instance), []).append(m)
    findings: list[AuditFinding] = [
        AuditFinding(
            severity=AuditSeverity.WARNING,
            id="no-instances",
            message=f"{cfg.label} has no vrrp_instance: nothing to check",
            source=cfg.path,
        )
        for cfg in configs
        if not cfg.instances
    ]
    for m in members:
        findings.extend(instance_checks(m))
    groups: list[Group] = []
    for key in sorted(grouped):
        ms = grouped[key]
        findings.extend(group_checks(key, ms))
        groups.append(Group(key=key, members=tuple(ms), failover=failover_estimates(ms)))
    advertisers: tuple[WireAdvertiser, ...] | None = None
    if observed is None and adverts is not None:
        observed = summarize_adverts(adverts)
    if observed is not None:
        advertisers, wire = compare_wire(groups, observed)
        findings.extend(wire)
    order = {AuditSeverity.ERROR: 0, AuditSeverity.WARNING: 1, AuditSeverity.INFO: 2}
    findings.sort(
        key=lambda f: (order[f.severity], f.group or GroupKey(vrid=0, interface="", family=0))
    )
    return AuditReport(
        groups=tuple(groups),
        findings=tuple(findings),
        advertisers=advertisers,
        routers=tuple(dict.fromkeys(m.router for m in members)),
    )


__all__ = ["audit"]
