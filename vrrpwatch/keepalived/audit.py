"""Audit a set of keepalived configurations against each other and against the wire.

Pure: takes parsed configs (``vrrpwatch.keepalived.config``) and, optionally, observed
advertisements, and returns an :class:`AuditReport`. The CLI (``vrrpwatch audit``) reads the
files and renders.

Peers. keepalived.conf does not say which L2 segment an interface is on, so instances are taken
to be peers of one virtual router when they have the same VRID, the same interface name and the
same address family (the family of their VIPs). An interface name like ``eth0.10`` carries its
VLAN (10), so ``eth0.10`` and ``eth0.20`` are different segments; routers whose interfaces have
different names (``eth0`` on one, ``ens3`` on the other) are *not* grouped, which is the price of
not guessing. RFC 5798 section 7.3 ties the virtual MAC to VRID and family only, so two groups
that differ only in the interface name would collide if they were in fact on one segment.

Finding ids (stable; they appear in ``--json``):

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

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from dissectors.packet import Decoded, Kind
from dissectors.vrrp import VrrpV2, VrrpV3
from vrrpwatch.keepalived.config import IPAddress, KeepalivedConfig, VrrpInstance
from vrrpwatch.rfc import master_down_interval, skew_time
from vrrpwatch.watch.model import ObservedRouter


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class GroupKey:
    """One virtual router as the configs describe it (see the module docstring)."""

    vrid: int
    interface: str  # "" when the instance names none (unicast without interface)
    family: int

    @property
    def vlan(self) -> int | None:
        m = re.fullmatch(r".+\.(\d+)", self.interface)
        return int(m.group(1)) if m else None

    def __str__(self) -> str:
        where = self.interface or "(no interface)"
        return f"VRID {self.vrid} on {where} (IPv{self.family})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    router: str  # router_id, else the file name; made unique within a report
    config: KeepalivedConfig
    instance: VrrpInstance

    @property
    def label(self) -> str:
        return f"{self.router}/{self.instance.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    severity: Severity
    id: str
    message: str
    group: GroupKey | None = None
    routers: tuple[str, ...] = ()
    source: str | None = None  # file:line


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverEstimate:
    """How long this router waits before taking over (RFC 5798 section 6.1; RFC 3768 6.1).

    ``master_down_s`` = 3 x interval + skew: the master vanished silently (crash, cable).
    ``clean_stop_s`` = skew: the master sent priority 0 on a clean stop (RFC 5798 6.4.2).
    """

    router: str
    instance: str
    priority: int
    role: str  # "master" (expected), "backup" (takes over first) or "standby"
    interval_s: float
    skew_s: float
    master_down_s: float
    clean_stop_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    key: GroupKey
    members: tuple[Member, ...]
    failover: tuple[FailoverEstimate, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Advert:
    """One observed VRRP advertisement, reduced to what the audit compares."""

    time: float
    src: IPAddress
    vrid: int
    family: int
    version: int
    priority: int
    interval_cs: int
    addresses: frozenset[IPAddress]
    auth_type: int = 0
    password: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Advertiser:
    """Everything one source said about one (VRID, family) in a capture."""

    src: IPAddress
    vrid: int
    family: int
    count: int
    vlan: tuple[int, ...] = ()  # 802.1Q tags seen on the wire, outermost first
    versions: frozenset[int]
    priorities: frozenset[int]  # priority 0 (release) excluded
    released: bool  # sent priority 0
    intervals_cs: frozenset[int]
    address_sets: frozenset[frozenset[IPAddress]]
    auth_types: frozenset[int]
    passwords: frozenset[bytes]
    matched: str | None = None  # the Member label it was matched to


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReport:
    groups: tuple[Group, ...]
    findings: tuple[Finding, ...]
    advertisers: tuple[Advertiser, ...] | None = None  # None without --capture
    routers: tuple[str, ...] = field(default=())

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    def exit_code(self, *, strict: bool = False) -> int:
        """0 fine, 1 errors (or warnings when ``strict``)."""
        if self.errors or (strict and self.warnings):
            return 1
        return 0


# --------------------------------------------------------------------------------------------
# Timers


def _failover(members: Sequence[Member]) -> tuple[FailoverEstimate, ...]:
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


def group_key(inst: VrrpInstance) -> GroupKey:
    return GroupKey(vrid=inst.vrid, interface=inst.interface or "", family=inst.family)


def _members(configs: Sequence[KeepalivedConfig]) -> list[Member]:
    names = [c.name for c in configs]
    out: list[Member] = []
    for cfg, name in zip(configs, names, strict=True):
        router = name if names.count(name) == 1 else cfg.label
        out.extend(Member(router=router, config=cfg, instance=i) for i in cfg.instances)
    return out


def _src(inst: VrrpInstance) -> str:
    return str(inst.source)


def _instance_checks(m: Member) -> list[Finding]:
    inst = m.instance
    out: list[Finding] = []
    key = group_key(inst)
    if not 1 <= inst.priority <= 255:
        out.append(
            Finding(
                severity=Severity.ERROR,
                id="priority-out-of-range",
                message=f"{m.label}: priority {inst.priority} is outside 1..255 "
                "(keepalived falls back to 100)",
                group=key,
                routers=(m.router,),
                source=_src(inst),
            )
        )
    if not 1 <= inst.vrid <= 255:
        out.append(
            Finding(
                severity=Severity.ERROR,
                id="vrid-out-of-range",
                message=f"{m.label}: virtual_router_id {inst.vrid} is outside 1..255",
                group=key,
                routers=(m.router,),
                source=_src(inst),
            )
        )
    if inst.auth_type is not None and inst.version == 3:
        out.append(
            Finding(
                severity=Severity.WARNING,
                id="auth-ignored-v3",
                message=f"{m.label}: authentication is configured but VRRPv3 has none; "
                "keepalived ignores it",
                group=key,
                routers=(m.router,),
                source=_src(inst),
            )
        )
    elif inst.auth_type == "PASS":
        out.append(
            Finding(
                severity=Severity.WARNING,
                id="plaintext-auth",
                message=f"{m.label}: auth_type PASS sends the password in clear in every advert",
                group=key,
                routers=(m.router,),
                source=_src(inst),
            )
        )
    if inst.state == "MASTER" and (not inst.preempt or inst.preempt_delay_s):
        what = "nopreempt" if not inst.preempt else "preempt_delay"
        out.append(
            Finding(
                severity=Severity.WARNING,
                id="preempt-setting-ignored",
                message=f"{m.label}: {what} has no effect with state MASTER "
                "(keepalived.conf(5): the initial state must be BACKUP)",
                group=key,
                routers=(m.router,),
                source=_src(inst),
            )
        )
    for vip in inst.vips:
        if vip.dev is not None and inst.interface is not None and vip.dev != inst.interface:
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    id="vip-dev-mismatch",
                    message=f"{m.label}: VIP {vip.ip} is on {vip.dev}, "
                    f"the instance runs on {inst.interface}",
                    group=key,
                    routers=(m.router,),
                    source=str(vip.source),
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
    severity: Severity = Severity.ERROR,
) -> Finding | None:
    """One finding when members disagree on a value (``value`` maps label -> rendering)."""
    if len(set(value.values())) <= 1:
        return None
    parts = ", ".join(f"{label} {v}" for label, v in value.items())
    return Finding(
        severity=severity,
        id=ident,
        message=f"{key}: peers disagree on {what}: {parts}; {consequence}",
        group=key,
        routers=tuple(dict.fromkeys(m.router for m in members)),
        source=_src(members[0].instance),
    )


def _group_checks(key: GroupKey, members: Sequence[Member]) -> list[Finding]:
    out: list[Finding] = []
    routers = tuple(dict.fromkeys(m.router for m in members))
    if len(routers) < len(members):
        dup = [m.router for m in members if [x.router for x in members].count(m.router) > 1]
        out.append(
            Finding(
                severity=Severity.ERROR,
                id="duplicate-vrid",
                message=f"{key}: {dup[0]} runs more than one instance of this group",
                group=key,
                routers=(dup[0],),
                source=_src(members[0].instance),
            )
        )
    if len(members) == 1:
        out.append(
            Finding(
                severity=Severity.INFO,
                id="single-router",
                message=f"{key}: only {members[0].label} is configured; nothing to fail over to",
                group=key,
                routers=routers,
                source=_src(members[0].instance),
            )
        )
        return out
    checks: list[Finding | None] = [
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
                Severity.WARNING,
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
    out.extend(f for f in checks if f is not None)
    owners = [m for m in members if m.instance.priority == 255]
    if len(owners) > 1:
        out.append(
            Finding(
                severity=Severity.ERROR,
                id="two-owners",
                message=f"{key}: {len(owners)} address owners (priority 255): "
                + ", ".join(m.label for m in owners),
                group=key,
                routers=tuple(m.router for m in owners),
                source=_src(owners[1].instance),
            )
        )
    by_prio: dict[int, list[Member]] = {}
    for m in members:
        by_prio.setdefault(m.instance.priority, []).append(m)
    for prio, same in sorted(by_prio.items()):
        if len(same) > 1 and prio != 255:
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    id="equal-priorities",
                    message=f"{key}: "
                    + ", ".join(m.label for m in same)
                    + f" share priority {prio}; the higher primary IP address wins the election",
                    group=key,
                    routers=tuple(m.router for m in same),
                    source=_src(same[1].instance),
                )
            )
    top = max(m.instance.priority for m in members)
    for m in members:
        if m.instance.state == "MASTER" and m.instance.priority < top:
            better = [x.label for x in members if x.instance.priority > m.instance.priority]
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    id="master-lower-priority",
                    message=f"{m.label}: state MASTER with priority {m.instance.priority}, "
                    f"below {', '.join(better)}",
                    group=key,
                    routers=(m.router,),
                    source=_src(m.instance),
                )
            )
    return out


def _auth_label(inst: VrrpInstance) -> str:
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
        label = _auth_label(m.instance)
        # PASS and AH both key on auth_pass, of which keepalived uses 8 characters.
        raw = m.instance.auth_pass if m.instance.auth_type is not None else None
        pw = raw.encode()[:8] if raw is not None else None
        if pw is not None:
            label += " password " + seen.setdefault(pw, chr(ord("A") + len(seen)))
        out[m.label] = label
    return out


def _vip_label(inst: VrrpInstance) -> str:
    return "{" + ", ".join(str(ip) for ip in sorted(v.ip for v in inst.vips)) + "}"


def audit(
    configs: Sequence[KeepalivedConfig],
    adverts: Iterable[Advert] | None = None,
    *,
    observed: Sequence[Advertiser] | None = None,
) -> AuditReport:
    """Check ``configs`` (one per router) against each other, and against what was seen on
    the wire: ``adverts`` one by one, or ``observed`` already summarised per advertiser
    (:func:`from_monitor`)."""
    members = _members(configs)
    grouped: dict[GroupKey, list[Member]] = {}
    for m in members:
        grouped.setdefault(group_key(m.instance), []).append(m)
    findings: list[Finding] = [
        Finding(
            severity=Severity.WARNING,
            id="no-instances",
            message=f"{cfg.label} has no vrrp_instance: nothing to check",
            source=cfg.path,
        )
        for cfg in configs
        if not cfg.instances
    ]
    for m in members:
        findings.extend(_instance_checks(m))
    groups: list[Group] = []
    for key in sorted(grouped):
        ms = grouped[key]
        findings.extend(_group_checks(key, ms))
        groups.append(Group(key=key, members=tuple(ms), failover=_failover(ms)))
    advertisers: tuple[Advertiser, ...] | None = None
    if observed is None and adverts is not None:
        observed = summarize(adverts)
    if observed is not None:
        advertisers, wire = _compare_wire(groups, observed)
        findings.extend(wire)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(
        key=lambda f: (order[f.severity], f.group or GroupKey(vrid=0, interface="", family=0))
    )
    return AuditReport(
        groups=tuple(groups),
        findings=tuple(findings),
        advertisers=advertisers,
        routers=tuple(dict.fromkeys(m.router for m in members)),
    )


# --------------------------------------------------------------------------------------------
# The wire


def advert_from_decoded(d: Decoded, time: float = 0.0) -> Advert | None:
    """The comparable part of a decoded VRRP advert; None for anything else."""
    if d.kind is not Kind.VRRP or d.ip is None:
        return None
    msg = d.message
    if not isinstance(msg, VrrpV2 | VrrpV3):
        return None
    return Advert(
        time=time,
        src=d.ip.src,
        vrid=msg.vrid,
        family=d.ip.src.version,
        version=msg.version,
        priority=msg.priority,
        interval_cs=msg.interval_cs,
        addresses=frozenset(msg.addresses),
        auth_type=msg.auth_type,
        password=msg.password,
    )


def summarize(adverts: Iterable[Advert]) -> tuple[Advertiser, ...]:
    """Fold adverts into one :class:`Advertiser` per (source, VRID, family)."""
    acc: dict[tuple[int, int, IPAddress], list[Advert]] = {}
    for a in adverts:
        acc.setdefault((a.vrid, a.family, a.src), []).append(a)
    out: list[Advertiser] = []
    for (vrid, family, src), items in sorted(
        acc.items(), key=lambda kv: (kv[0][0], kv[0][1], int(kv[0][2]))
    ):
        out.append(
            Advertiser(
                src=src,
                vrid=vrid,
                family=family,
                count=len(items),
                versions=frozenset(a.version for a in items),
                priorities=frozenset(a.priority for a in items if a.priority != 0),
                released=any(a.priority == 0 for a in items),
                intervals_cs=frozenset(a.interval_cs for a in items),
                address_sets=frozenset(a.addresses for a in items),
                auth_types=frozenset(a.auth_type for a in items if a.version == 2),
                passwords=frozenset(a.password for a in items if a.password is not None),
            )
        )
    return tuple(out)


def from_monitor(routers: Iterable[ObservedRouter]) -> tuple[Advertiser, ...]:
    """The advertisers the analyze engine (``vrrpwatch.watch.monitor.Monitor``) saw, for the audit.

    The monitor keeps the latest interval, VIP list and authentication of each advertiser and
    every priority; it must run with ``reveal_secrets=True`` for passwords to be compared (they
    are compared only, never shown).
    """
    out: list[Advertiser] = []
    for vr in sorted(routers, key=lambda r: r.key):
        for a in vr.advertisers.values():
            v2 = 2 in a.versions
            out.append(
                Advertiser(
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


def _known_addresses(m: Member) -> set[IPAddress]:
    inst = m.instance
    return {a for a in (inst.unicast_src_ip, inst.mcast_src_ip) if a is not None}


def _pick_group(adv: Advertiser, groups: Sequence[Group]) -> Group | None:
    candidates = [g for g in groups if g.key.vrid == adv.vrid and g.key.family == adv.family]
    if not candidates:
        return None
    seen = set().union(*adv.address_sets) if adv.address_sets else set()

    def score(g: Group) -> tuple[bool, int]:
        # Prefer the group whose interface carries the VLAN the adverts were tagged with,
        # then the one whose VIPs the adverts list.
        vlan_fits = g.key.vlan is not None and g.key.vlan in adv.vlan
        return vlan_fits, max(len(seen & {v.ip for v in m.instance.vips}) for m in g.members)

    return max(candidates, key=score)


def _compare_wire(
    groups: Sequence[Group], advertisers: Sequence[Advertiser]
) -> tuple[tuple[Advertiser, ...], list[Finding]]:
    findings: list[Finding] = []
    matched: dict[int, Member] = {}  # index into advertisers -> member
    by_group: dict[GroupKey, list[int]] = {}
    unknown: list[int] = []
    for i, adv in enumerate(advertisers):
        g = _pick_group(adv, groups)
        if g is None:
            unknown.append(i)
        else:
            by_group.setdefault(g.key, []).append(i)
    for g in groups:
        idxs = by_group.get(g.key, [])
        if not idxs:
            findings.append(
                Finding(
                    severity=Severity.INFO,
                    id="not-observed",
                    message=f"{g.key}: no advertisement in the capture",
                    group=g.key,
                    routers=tuple(m.router for m in g.members),
                )
            )
            continue
        free = list(g.members)
        # 1. By a configured source address; 2. by priority; 3. the last one left on each side.
        for i in idxs:
            for m in free:
                if advertisers[i].src in _known_addresses(m):
                    matched[i] = m
                    free.remove(m)
                    break
        for i in idxs:
            if i in matched:
                continue
            for m in free:
                if not _known_addresses(m) and m.instance.priority in advertisers[i].priorities:
                    matched[i] = m
                    free.remove(m)
                    break
        left = [i for i in idxs if i not in matched]
        loose = [m for m in free if not _known_addresses(m)]
        if (
            len(left) == 1
            and len(loose) == 1
            and loose[0].instance.dynamic_priority
            and 255 not in advertisers[left[0]].priorities
            and {f.id for f in _compare_one(advertisers[left[0]], loose[0])}
            <= {"wire-priority-differs"}
        ):
            # The one silent router whose priority moves with track weights, and the one
            # unexplained source, agree on everything but the priority: take them to be the
            # same. Weights never reach 255 (keepalived.conf(5), "priority"). Without weights
            # a stranger with a copy of the settings is exactly what a rogue looks like.
            matched[left[0]] = loose[0]
            left = []
        unknown.extend(left)
    for i in sorted(unknown):
        adv = advertisers[i]
        g = _pick_group(adv, groups)
        prios = ", ".join(str(p) for p in sorted(adv.priorities)) or "0"
        where = f"{g.key}" if g else f"VRID {adv.vrid} (IPv{adv.family}), which no config has,"
        findings.append(
            Finding(
                severity=Severity.ERROR,
                id="unknown-advertiser",
                message=f"{adv.src} advertises {where} at priority {prios} "
                f"({adv.count} adverts) and matches no configured router",
                group=g.key if g else None,
            )
        )
    for i, m in sorted(matched.items()):
        findings.extend(_compare_one(advertisers[i], m))
    out = tuple(
        replace(a, matched=matched[i].label if i in matched else None)
        for i, a in enumerate(advertisers)
    )
    return out, findings


def _compare_one(adv: Advertiser, m: Member) -> list[Finding]:
    inst = m.instance
    key = group_key(inst)
    out: list[Finding] = []

    def add(sev: Severity, ident: str, text: str) -> None:
        out.append(
            Finding(
                severity=sev,
                id=ident,
                message=f"{m.label} ({adv.src}): {text}",
                group=key,
                routers=(m.router,),
                source=_src(inst),
            )
        )

    if adv.versions != {inst.version}:
        seen = "/".join(f"v{v}" for v in sorted(adv.versions))
        add(Severity.ERROR, "wire-version-differs", f"sends {seen}, configured v{inst.version}")
    want_cs = inst.advert_int_cs
    if adv.intervals_cs != {want_cs}:
        seen = ", ".join(f"{cs / 100:g}s" for cs in sorted(adv.intervals_cs))
        add(
            Severity.ERROR,
            "wire-interval-differs",
            f"advertises every {seen}, configured {want_cs / 100:g}s",
        )
    want_vips = frozenset(v.ip for v in inst.vips)
    for addrs in sorted(adv.address_sets, key=lambda s: sorted(int(a) for a in s)):
        if addrs != want_vips:
            seen = ", ".join(str(a) for a in sorted(addrs)) or "none"
            conf = ", ".join(str(a) for a in sorted(want_vips)) or "none"
            add(Severity.ERROR, "wire-vips-differ", f"advertises {{{seen}}}, configured {{{conf}}}")
    if inst.version == 2 and 2 in adv.versions:
        want_pw = inst.auth_pass_wire
        want_type = 1 if want_pw is not None else (2 if inst.auth_type == "AH" else 0)
        pw_differs = want_pw is not None and any(p != want_pw for p in adv.passwords)
        if adv.auth_types - {want_type}:
            names = {0: "none", 1: "PASS", 2: "AH"}
            seen = "/".join(names.get(t, str(t)) for t in sorted(adv.auth_types))
            add(
                Severity.ERROR,
                "wire-password-differs",
                f"authentication {seen} on the wire, configured {_auth_label(inst)}",
            )
        elif pw_differs:
            add(
                Severity.ERROR,
                "wire-password-differs",
                "the password on the wire differs from the configured one",
            )
    if adv.priorities and adv.priorities != {inst.priority}:
        seen = ", ".join(str(p) for p in sorted(adv.priorities))
        add(
            Severity.WARNING if inst.dynamic_priority else Severity.ERROR,
            "wire-priority-differs",
            f"advertises priority {seen}, configured {inst.priority}",
        )
    return out


__all__ = [
    "Advert",
    "Advertiser",
    "AuditReport",
    "FailoverEstimate",
    "Finding",
    "Group",
    "GroupKey",
    "Member",
    "Severity",
    "advert_from_decoded",
    "audit",
    "from_monitor",
    "group_key",
    "summarize",
]
