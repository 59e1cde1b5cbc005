"""The audit of configs against each other: each instance alone, then each group of peers,
and how long each peer waits before it takes over.

Peers are grouped as the module docstring of ``vrrpwatch.keepalived.audit`` explains.
"""

from __future__ import annotations

from collections.abc import Sequence

from vrrpwatch.keepalived.model import KeepalivedConfig, Source, VrrpInstance
from vrrpwatch.keepalived.report import (
    AuditFinding,
    AuditSeverity,
    FailoverEstimate,
    GroupKey,
    Member,
    group_key,
)
from vrrpwatch.rfc import master_down_interval, skew_time
from vrrpwatch.text import raw_bytes

# --------------------------------------------------------------------------------------------
# Timers


def failover_estimates(members: Sequence[Member]) -> tuple[FailoverEstimate, ...]:
    ranked = sorted(members, key=lambda m: -m.instance.priority)
    out: list[FailoverEstimate] = []
    for rank, m in enumerate(ranked):
        inst = m.instance
        interval_s = inst.advert_int_ms / 1000
        if inst.version == 3 and rank > 0:
            # A VRRPv3 backup times the master with the master's interval (RFC 5798 6.4.2).
            interval_s = ranked[0].instance.advert_int_ms / 1000
        # RFC 3768 / RFC 5798 section 6.1, as the router computes them; a priority out of
        # range (reported elsewhere) is clamped as keepalived would treat it
        priority = min(max(inst.priority, 1), 255)
        skew = skew_time(priority, interval_s, inst.version)
        role = "master" if rank == 0 else ("backup" if rank == 1 else "standby")
        out.append(
            FailoverEstimate(
                router=m.router,
                instance=inst.name,
                priority=inst.priority,
                role=role,
                interval_s=interval_s,
                skew_s=skew,
                master_down_s=master_down_interval(priority, interval_s, inst.version),
                clean_stop_s=skew,
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Config checks

_LISTED = 5  # peers named in one master-lower-priority finding


def members_of(configs: Sequence[KeepalivedConfig]) -> list[Member]:
    """One member per instance. A router is called by its name (router_id, else the file's
    name), or by its file (with ``@ID``) when two configs share that name."""
    names: dict[str, int] = {}
    for c in configs:
        names[c.name] = names.get(c.name, 0) + 1
    out: list[Member] = []
    for cfg in configs:
        router = cfg.name if names[cfg.name] == 1 else cfg.label
        out.extend(Member(router=router, config=cfg, instance=i) for i in cfg.instances)
    return out


def instance_checks(m: Member) -> list[AuditFinding]:
    """What is wrong with one instance whatever its peers say."""
    inst = m.instance
    out: list[AuditFinding] = []
    key = group_key(inst)

    def finding(
        severity: AuditSeverity, ident: str, message: str, source: Source = inst.source
    ) -> AuditFinding:
        return AuditFinding(
            severity=severity,
            id=ident,
            message=f"{m.label}: {message}",
            group=key,
            routers=(m.router,),
            source=str(source),
        )

    if not 1 <= inst.priority <= 255:
        out.append(
            finding(
                AuditSeverity.ERROR,
                "priority-out-of-range",
                f"priority {inst.priority} is outside 1..255 (keepalived falls back to 100)",
            )
        )
    if not 1 <= inst.vrid <= 255:
        out.append(
            finding(
                AuditSeverity.ERROR,
                "vrid-out-of-range",
                f"virtual_router_id {inst.vrid} is outside 1..255",
            )
        )
    if inst.auth_type is not None and inst.version == 3:
        out.append(
            finding(
                AuditSeverity.WARNING,
                "auth-ignored-v3",
                "authentication is configured but VRRPv3 has none; keepalived ignores it",
            )
        )
    elif inst.auth_type == "PASS":
        out.append(
            finding(
                AuditSeverity.WARNING,
                "plaintext-auth",
                "auth_type PASS sends the password in clear in every advert",
            )
        )
    if inst.state == "MASTER" and (not inst.preempt or inst.preempt_delay_s):
        what = "nopreempt" if not inst.preempt else "preempt_delay"
        out.append(
            finding(
                AuditSeverity.WARNING,
                "preempt-setting-ignored",
                f"{what} has no effect with state MASTER "
                "(keepalived.conf(5): the initial state must be BACKUP)",
            )
        )
    for vip in inst.vips:
        if vip.dev is not None and inst.interface is not None and vip.dev != inst.interface:
            out.append(
                finding(
                    AuditSeverity.WARNING,
                    "vip-dev-mismatch",
                    f"VIP {vip.ip} is on {vip.dev}, the instance runs on {inst.interface}",
                    vip.source,
                )
            )
    return out


def _fmt_ms(ms: int) -> str:
    return f"{ms / 1000:g}s"


def _disagreement(
    key: GroupKey,
    members: Sequence[Member],
    ident: str,
    what: str,
    value: dict[str, str],
    consequence: str = "adverts are dropped and both sides become master",
    severity: AuditSeverity = AuditSeverity.ERROR,
) -> AuditFinding | None:
    """One finding when members disagree on a value (``value`` maps label -> rendering)."""
    if len(set(value.values())) <= 1:
        return None
    parts = ", ".join(f"{label} {v}" for label, v in value.items())
    return AuditFinding(
        severity=severity,
        id=ident,
        message=f"{key}: peers disagree on {what}: {parts}; {consequence}",
        group=key,
        routers=tuple(dict.fromkeys(m.router for m in members)),
        source=str(members[0].instance.source),
    )


def group_checks(key: GroupKey, members: Sequence[Member]) -> list[AuditFinding]:
    """What is wrong with a group of peers (one VRID on one link) taken together."""
    out = _duplicate_instances(key, members)
    if len(members) == 1:
        return [*out, _single_router(key, members)]
    for check in (_disagreements, _two_owners, _equal_priorities, _masters_below_others):
        out.extend(check(key, members))
    return out


def _routers(members: Sequence[Member]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.router for m in members))


def _duplicate_instances(key: GroupKey, members: Sequence[Member]) -> list[AuditFinding]:
    if len(_routers(members)) == len(members):
        return []
    counts: dict[str, int] = {}
    for m in members:
        counts[m.router] = counts.get(m.router, 0) + 1
    dup = [m.router for m in members if counts[m.router] > 1]
    return [
        AuditFinding(
            severity=AuditSeverity.ERROR,
            id="duplicate-vrid",
            message=f"{key}: {dup[0]} runs more than one instance of this group",
            group=key,
            routers=(dup[0],),
            source=str(members[0].instance.source),
        )
    ]


def _single_router(key: GroupKey, members: Sequence[Member]) -> AuditFinding:
    return AuditFinding(
        severity=AuditSeverity.INFO,
        id="single-router",
        message=f"{key}: only {members[0].label} is configured; nothing to fail over to",
        group=key,
        routers=_routers(members),
        source=str(members[0].instance.source),
    )


def _disagreements(key: GroupKey, members: Sequence[Member]) -> list[AuditFinding]:
    """Values every peer must share: version, interval, authentication (VRRPv2), VIPs."""
    checks: list[AuditFinding | None] = [
        _disagreement(
            key,
            members,
            "version-mismatch",
            "the VRRP version",
            {m.label: f"v{m.instance.version}" for m in members},
        ),
    ]
    intervals = {m.label: _fmt_ms(m.instance.advert_int_ms) for m in members}
    if all(m.instance.version == 3 for m in members):
        # RFC 5798 section 6.4.2: a VRRPv3 backup adopts the master's interval
        # (Master_Adver_Interval); keepalived does so too and drops nothing.
        checks.append(
            _disagreement(
                key, members, "interval-mismatch", "the advertisement interval", intervals,
                "VRRPv3 backups adopt the master's, so failover times depend on who is master",
                AuditSeverity.WARNING,
            )
        )  # fmt: skip
    else:
        # RFC 3768 section 7.1: a VRRPv2 receiver MUST drop an advert with another interval.
        checks.append(
            _disagreement(
                key, members, "interval-mismatch", "the advertisement interval", intervals
            )
        )
    v2 = [m for m in members if m.instance.version == 2]
    if len(v2) > 1:
        checks.append(
            _disagreement(
                key, v2, "auth-mismatch", "authentication",
                _auth_labels(v2),
            )
        )  # fmt: skip
    checks.append(
        _disagreement(
            key, members, "vip-mismatch", "the virtual addresses",
            {m.label: _vip_label(m.instance) for m in members},
        )
    )  # fmt: skip
    return [f for f in checks if f is not None]


def _two_owners(key: GroupKey, members: Sequence[Member]) -> list[AuditFinding]:
    owners = [m for m in members if m.instance.priority == 255]
    if len(owners) <= 1:
        return []
    return [
        AuditFinding(
            severity=AuditSeverity.ERROR,
            id="two-owners",
            message=f"{key}: {len(owners)} address owners (priority 255): "
            + ", ".join(m.label for m in owners),
            group=key,
            routers=tuple(m.router for m in owners),
            source=str(owners[1].instance.source),
        )
    ]


def _equal_priorities(key: GroupKey, members: Sequence[Member]) -> list[AuditFinding]:
    out: list[AuditFinding] = []
    by_prio: dict[int, list[Member]] = {}
    for m in members:
        by_prio.setdefault(m.instance.priority, []).append(m)
    for prio, same in sorted(by_prio.items()):
        if len(same) > 1 and prio != 255:
            out.append(
                AuditFinding(
                    severity=AuditSeverity.WARNING,
                    id="equal-priorities",
                    message=f"{key}: "
                    + ", ".join(m.label for m in same)
                    + f" share priority {prio}; the higher primary IP address wins the election",
                    group=key,
                    routers=tuple(m.router for m in same),
                    source=str(same[1].instance.source),
                )
            )
    return out


def _masters_below_others(key: GroupKey, members: Sequence[Member]) -> list[AuditFinding]:
    # Highest priority first (config order within one): the peers a MASTER is below are a
    # prefix, named up to _LISTED of them (a group of thousands stays linear).
    out: list[AuditFinding] = []
    ranked = sorted(members, key=lambda x: -x.instance.priority)
    above: dict[int, int] = {}  # priority -> how many members have a higher one
    for rank, x in enumerate(ranked):
        above.setdefault(x.instance.priority, rank)
    for m in members:
        n_better = above[m.instance.priority]
        if m.instance.state == "MASTER" and n_better:
            better = ", ".join(x.label for x in ranked[: min(n_better, _LISTED)])
            if n_better > _LISTED:
                better += f" and {n_better - _LISTED} more"
            out.append(
                AuditFinding(
                    severity=AuditSeverity.WARNING,
                    id="master-lower-priority",
                    message=f"{m.label}: state MASTER with priority {m.instance.priority}, "
                    f"below {better}",
                    group=key,
                    routers=(m.router,),
                    source=str(m.instance.source),
                )
            )
    return out


def auth_label(inst: VrrpInstance) -> str:
    if inst.auth_type is None:
        return "none"
    if inst.auth_type == "AH":
        return "AH"
    return "PASS"


def _auth_labels(members: Sequence[Member]) -> dict[str, str]:
    """Auth per member; distinct passwords are told apart as password A, B, ... (never shown)."""
    seen: dict[bytes, str] = {}
    out: dict[str, str] = {}
    for m in members:
        label = auth_label(m.instance)
        # PASS and AH both key on auth_pass, of which keepalived uses 8 characters.
        raw = m.instance.auth_pass if m.instance.auth_type is not None else None
        pw = raw_bytes(raw)[:8] if raw is not None else None
        if pw is not None:
            label += " password " + seen.setdefault(pw, _letters(len(seen)))
        out[m.label] = label
    return out


def _letters(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, ...: names for distinct passwords."""
    name = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _vip_label(inst: VrrpInstance) -> str:
    return "{" + ", ".join(str(ip) for ip in sorted(v.ip for v in inst.vips)) + "}"


__all__ = ["auth_label", "failover_estimates", "group_checks", "instance_checks", "members_of"]
