"""What an audit returns: the groups of peers the configs describe, with their failover
estimates, what was seen of them on the wire, and the findings.

The values of :class:`AuditSeverity` and the finding ids are a contract (``audit --json``);
the ids are listed in ``vrrpwatch.keepalived.audit``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from vrrpwatch.keepalived.model import IPAddress, KeepalivedConfig, VrrpInstance


class AuditSeverity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class GroupKey:
    """One virtual router as the configs describe it: the peers ``vrrpwatch.keepalived.audit``
    groups together."""

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
class AuditFinding:
    severity: AuditSeverity
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
class WireAdvertiser:
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
    findings: tuple[AuditFinding, ...]
    advertisers: tuple[WireAdvertiser, ...] | None = None  # None without --capture
    routers: tuple[str, ...] = field(default=())

    @property
    def errors(self) -> tuple[AuditFinding, ...]:
        return tuple(f for f in self.findings if f.severity is AuditSeverity.ERROR)

    @property
    def warnings(self) -> tuple[AuditFinding, ...]:
        return tuple(f for f in self.findings if f.severity is AuditSeverity.WARNING)

    def exit_code(self, *, strict: bool = False) -> int:
        """0 fine, 1 errors (or warnings when ``strict``)."""
        if self.errors or (strict and self.warnings):
            return 1
        return 0


def group_key(inst: VrrpInstance) -> GroupKey:
    return GroupKey(vrid=inst.vrid, interface=inst.interface or "", family=inst.family)


__all__ = [
    "AuditFinding",
    "AuditReport",
    "AuditSeverity",
    "FailoverEstimate",
    "Group",
    "GroupKey",
    "Member",
    "WireAdvertiser",
    "group_key",
]
