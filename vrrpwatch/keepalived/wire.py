"""The audit against the wire: observed advertisements, folded per advertiser, matched to the
configured routers and compared with their configs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from dissectors.packet import Decoded, Kind
from dissectors.vrrp import VrrpV2, VrrpV3
from vrrpwatch.keepalived.checks import auth_label
from vrrpwatch.keepalived.model import IPAddress
from vrrpwatch.keepalived.report import (
    AuditFinding,
    AuditSeverity,
    Group,
    GroupKey,
    Member,
    WireAdvertiser,
    group_key,
)


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


def summarize_adverts(adverts: Iterable[Advert]) -> tuple[WireAdvertiser, ...]:
    """Fold adverts into one :class:`WireAdvertiser` per (source, VRID, family)."""
    acc: dict[tuple[int, int, IPAddress], list[Advert]] = {}
    for a in adverts:
        acc.setdefault((a.vrid, a.family, a.src), []).append(a)
    out: list[WireAdvertiser] = []
    for (vrid, family, src), items in sorted(
        acc.items(), key=lambda kv: (kv[0][0], kv[0][1], int(kv[0][2]))
    ):
        out.append(
            WireAdvertiser(
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


def _known_addresses(m: Member) -> set[IPAddress]:
    inst = m.instance
    return {a for a in (inst.unicast_src_ip, inst.mcast_src_ip) if a is not None}


def _pick_group(adv: WireAdvertiser, candidates: Sequence[Group]) -> Group | None:
    """The group of ``candidates`` (those of the advertiser's VRID and family) it belongs to."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    seen = set().union(*adv.address_sets) if adv.address_sets else set()

    def score(g: Group) -> tuple[bool, int]:
        # Prefer the group whose interface carries the VLAN the adverts were tagged with,
        # then the one whose VIPs the adverts list.
        vlan_fits = g.key.vlan is not None and g.key.vlan in adv.vlan
        return vlan_fits, max(len(seen & {v.ip for v in m.instance.vips}) for m in g.members)

    return max(candidates, key=score)


def _match(
    members: Sequence[Member], idxs: Sequence[int], advertisers: Sequence[WireAdvertiser]
) -> dict[int, Member]:
    """Advertisers (by index) to members of their group: 1. by a configured source address;
    2. by priority, among members without one. Each takes the first member (in config order)
    still free; members are looked up by address and by priority, so a group of thousands
    against a capture of thousands stays linear."""
    matched: dict[int, Member] = {}
    used = [False] * len(members)
    by_addr: dict[IPAddress, list[int]] = {}
    by_prio: dict[int, list[int]] = {}  # free members per priority, the first one last
    for pos, m in enumerate(members):
        known = _known_addresses(m)
        for addr in known:
            by_addr.setdefault(addr, []).append(pos)
        if not known:
            by_prio.setdefault(m.instance.priority, []).append(pos)
    for positions in by_prio.values():
        positions.reverse()
    for i in idxs:
        for pos in by_addr.get(advertisers[i].src, ()):
            if not used[pos]:
                matched[i] = members[pos]
                used[pos] = True
                break
    for i in idxs:
        if i in matched:
            continue
        heads = [by_prio[p][-1] for p in advertisers[i].priorities if by_prio.get(p)]
        if heads:
            pos = min(heads)
            by_prio[members[pos].instance.priority].pop()
            matched[i] = members[pos]
            used[pos] = True
    return matched


def compare_wire(
    groups: Sequence[Group], advertisers: Sequence[WireAdvertiser]
) -> tuple[tuple[WireAdvertiser, ...], list[AuditFinding]]:
    """Match each advertiser to a configured router of its group and compare the two.

    Returns the advertisers with ``matched`` filled in, and the findings: the groups nobody
    advertised, the advertisers nothing explains, and what each matched one does otherwise
    than its config says.
    """
    findings: list[AuditFinding] = []
    matched: dict[int, Member] = {}  # index into advertisers -> member
    by_group: dict[GroupKey, list[int]] = {}
    unknown: list[int] = []
    by_vrid: dict[tuple[int, int], list[Group]] = {}
    for g in groups:
        by_vrid.setdefault((g.key.vrid, g.key.family), []).append(g)
    picked = [_pick_group(adv, by_vrid.get((adv.vrid, adv.family), ())) for adv in advertisers]
    for i, pick in enumerate(picked):
        if pick is None:
            unknown.append(i)
        else:
            by_group.setdefault(pick.key, []).append(i)
    for g in groups:
        idxs = by_group.get(g.key, [])
        if not idxs:
            findings.append(
                AuditFinding(
                    severity=AuditSeverity.INFO,
                    id="not-observed",
                    message=f"{g.key}: no advertisement in the capture",
                    group=g.key,
                    routers=tuple(m.router for m in g.members),
                )
            )
            continue
        # 1. By a configured source address; 2. by priority; 3. the last one left on each side.
        found = _match(g.members, idxs, advertisers)
        matched.update(found)
        taken = {id(m) for m in found.values()}
        free = [m for m in g.members if id(m) not in taken]
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
        pick = picked[i]
        prios = ", ".join(str(p) for p in sorted(adv.priorities)) or "0"
        nowhere = f"VRID {adv.vrid} (IPv{adv.family}), which no config has,"
        where = str(pick.key) if pick else nowhere
        findings.append(
            AuditFinding(
                severity=AuditSeverity.ERROR,
                id="unknown-advertiser",
                message=f"{adv.src} advertises {where} at priority {prios} "
                f"({adv.count} adverts) and matches no configured router",
                group=pick.key if pick else None,
            )
        )
    for i, m in sorted(matched.items()):
        findings.extend(_compare_one(advertisers[i], m))
    out = tuple(
        replace(a, matched=matched[i].label if i in matched else None)
        for i, a in enumerate(advertisers)
    )
    return out, findings


def _compare_one(adv: WireAdvertiser, m: Member) -> list[AuditFinding]:
    inst = m.instance
    key = group_key(inst)
    out: list[AuditFinding] = []

    def add(sev: AuditSeverity, ident: str, text: str) -> None:
        out.append(
            AuditFinding(
                severity=sev,
                id=ident,
                message=f"{m.label} ({adv.src}): {text}",
                group=key,
                routers=(m.router,),
                source=str(inst.source),
            )
        )

    if adv.versions != {inst.version}:
        seen = "/".join(f"v{v}" for v in sorted(adv.versions))
        add(
            AuditSeverity.ERROR, "wire-version-differs", f"sends {seen}, configured v{inst.version}"
        )
    want_cs = inst.advert_int_cs
    if adv.intervals_cs != {want_cs}:
        seen = ", ".join(f"{cs / 100:g}s" for cs in sorted(adv.intervals_cs))
        add(
            AuditSeverity.ERROR,
            "wire-interval-differs",
            f"advertises every {seen}, configured {want_cs / 100:g}s",
        )
    want_vips = frozenset(v.ip for v in inst.vips)
    for addrs in sorted(adv.address_sets, key=lambda s: sorted(int(a) for a in s)):
        if addrs != want_vips:
            seen = ", ".join(str(a) for a in sorted(addrs)) or "none"
            conf = ", ".join(str(a) for a in sorted(want_vips)) or "none"
            add(
                AuditSeverity.ERROR,
                "wire-vips-differ",
                f"advertises {{{seen}}}, configured {{{conf}}}",
            )
    if inst.version == 2 and 2 in adv.versions:
        want_pw = inst.auth_pass_wire
        want_type = 1 if want_pw is not None else (2 if inst.auth_type == "AH" else 0)
        pw_differs = want_pw is not None and any(p != want_pw for p in adv.passwords)
        if adv.auth_types - {want_type}:
            names = {0: "none", 1: "PASS", 2: "AH"}
            seen = "/".join(names.get(t, str(t)) for t in sorted(adv.auth_types))
            add(
                AuditSeverity.ERROR,
                "wire-password-differs",
                f"authentication {seen} on the wire, configured {auth_label(inst)}",
            )
        elif pw_differs:
            add(
                AuditSeverity.ERROR,
                "wire-password-differs",
                "the password on the wire differs from the configured one",
            )
    if adv.priorities and adv.priorities != {inst.priority}:
        seen = ", ".join(str(p) for p in sorted(adv.priorities))
        add(
            AuditSeverity.WARNING if inst.dynamic_priority else AuditSeverity.ERROR,
            "wire-priority-differs",
            f"advertises priority {seen}, configured {inst.priority}",
        )
    return out


__all__ = ["Advert", "advert_from_decoded", "compare_wire", "summarize_adverts"]
