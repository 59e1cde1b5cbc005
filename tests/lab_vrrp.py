"""VRRP adverts in a lab capture, and the rules the VRRP truth files are measured with.

``read_adverts`` decodes every VRRP advert of a capture (``tests/lab_capture.py`` walks the
frames); ``masters_and_failovers`` computes a truth file's ``masters`` and ``failovers`` from
them (captures/README.md), with the RFC timers (``skew_time_s``, ``master_down_interval_s``).
The CARP counterpart is ``tests/lab_carp.py``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dissectors.common import DecodeError
from dissectors.vrrp import IPPROTO_VRRP, looks_like_carp, parse_vrrp
from tests.lab_capture import Group, failover_row, ip_frames, master_row


@dataclass(frozen=True)
class Advert:
    """A VRRP advertisement found in a capture, with the frame and IP context it came in."""

    time: float
    vlan: tuple[int, ...]
    src_mac: str
    dst_mac: str
    src: str
    dst: str
    ttl: int
    in_ah: bool
    packet: Any  # dissectors.vrrp.VrrpV2 | VrrpV3

    @property
    def family(self) -> int:
        return 6 if ":" in self.src else 4

    @property
    def group(self) -> Group:
        return (self.vlan, self.family, int(self.packet.vrid))

    @property
    def interval_s(self) -> float:
        return float(self.packet.interval_cs) / 100.0


def read_adverts(path: Path | str) -> list[Advert]:
    """Every VRRP advertisement in a capture (``lab_capture.ip_frames``: Ethernet, 802.1Q,
    IPv4/IPv6, AH), decoded with ``dissectors.vrrp.parse_vrrp``. CARP (``looks_like_carp``)
    and frames that do not decode are skipped."""
    out: list[Advert] = []
    for f in ip_frames(path):
        if f.proto != IPPROTO_VRRP or looks_like_carp(f.payload):
            continue
        try:
            pkt = parse_vrrp(f.payload, src=f.src, dst=f.dst)
        except DecodeError:
            continue
        src, dst = str(f.src), str(f.dst)
        out.append(Advert(f.time, f.vlan, f.src_mac, f.dst_mac, src, dst, f.ttl, f.in_ah, pkt))
    return out


@dataclass
class MasterRun:
    """A stretch of adverts from one source in one group (see ``master_runs``)."""

    group: Group
    address: str
    first: Advert
    last: Advert
    count: int = 1
    outranked: bool = False  # a better advert from another source came after ``last``


def _outranks(a: Advert, run: MasterRun) -> bool:
    """RFC 5798 section 6.4.3: a higher priority wins, equal priorities go to the higher
    primary address."""
    p, q = a.packet.priority, run.last.packet.priority
    mine, theirs = ipaddress.ip_address(a.src), ipaddress.ip_address(run.address)
    return p > q or (p == q and mine.packed > theirs.packed)


def skew_time_s(priority: int, interval_s: float, version: int) -> float:
    """RFC 3768 section 6.1: (256 - Priority) / 256; RFC 5798 section 6.1 scales it by the
    (Master_)Advertisement_Interval."""
    return (256 - priority) / 256 * (interval_s if version == 3 else 1.0)


def master_down_interval_s(priority: int, interval_s: float, version: int) -> float:
    """RFC 3768 section 6.1 / RFC 5798 section 6.1: 3 x interval + Skew_Time."""
    return 3 * interval_s + skew_time_s(priority, interval_s, version)


def master_runs(adverts: Iterable[Advert]) -> list[MasterRun]:
    """Split each source's adverts into master runs. A run ends with a priority-0 advert (the
    master resigned, RFC 5798 section 6.4.3), with silence longer than 3 intervals + 1 s, or
    with silence longer than 1.5 intervals during which a better router advertised (the
    source was preempted and was a backup until it advertised again)."""
    runs: list[MasterRun] = []
    current: dict[tuple[Group, str], MasterRun] = {}
    for a in sorted(adverts, key=lambda a: a.time):
        key = (a.group, a.src)
        run = current.get(key)
        if run is not None:
            gap = a.time - run.last.time
            if gap > 3 * a.interval_s + 1.0 or (run.outranked and gap > 1.5 * a.interval_s):
                run = None
        if a.packet.priority > 0:
            for (g, src), other in current.items():
                if g == a.group and src != a.src and _outranks(a, other):
                    other.outranked = True
        if run is None:
            if a.packet.priority == 0:
                current.pop(key, None)
                continue  # a resignation from a router we never saw as master
            run = MasterRun(a.group, a.src, a, a)
            runs.append(run)
            current[key] = run
        else:
            run.last = a
            run.count += 1
            run.outranked = False
        if a.packet.priority == 0:
            del current[key]
    return sorted(runs, key=lambda r: r.first.time)


def drop_contests(runs: list[MasterRun]) -> list[MasterRun]:
    """Two backups that time out together both advertise (RFC 3768 / RFC 5798 section 6.4.2);
    the one outranked yields at the other's first advert (section 6.4.3). Its few adverts,
    all within one interval of the winner's first, are a contest, not a master run."""

    def lost(r: MasterRun) -> bool:
        interval = r.first.interval_s
        return any(
            s.group == r.group
            and s.address != r.address
            and abs(s.first.time - r.first.time) <= interval
            and r.last.time < s.first.time + interval
            and _outranks(s.first, r)
            for s in runs
        )

    return [r for r in runs if not lost(r)]


def merge_split_brain(runs: list[MasterRun]) -> list[MasterRun]:
    """In a group where two sources advertised at the same time for more than an interval
    (split brain), each source counts as one master run from its first advert to its last:
    neither left the master state, even if its adverts came irregularly (keepalived restarts a
    master's advert timer on every advert it receives, even one it then discards)."""
    split: set[Group] = set()
    for a in runs:
        for b in runs:
            if a.group == b.group and a.address < b.address:
                overlap = min(a.last.time, b.last.time) - max(a.first.time, b.first.time)
                if overlap > a.first.interval_s:
                    split.add(a.group)
    out: list[MasterRun] = []
    merged: dict[tuple[Group, str], MasterRun] = {}
    for r in runs:
        key = (r.group, r.address)
        if r.group in split and key in merged:
            m = merged[key]
            m.last, m.count = r.last, m.count + r.count
            continue
        merged[key] = r
        out.append(r)
    return out


def masters_and_failovers(
    adverts: Iterable[Advert],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The truth file's ``masters`` and ``failovers`` as measured in a capture.

    Runs of one source in a split-brain group are merged (``merge_split_brain``).
    A failover is a run of B following a run of A in the same group, A having stopped by the
    time B was one interval old (otherwise both are masters at once: split brain, no failover).
    Its cause is ``resigned`` (A's last advert had priority 0), ``preempted`` (A was still
    advertising less than two intervals before B's first advert and B has the higher priority)
    or ``silent``. ``expected_ms``: Skew_Time after priority 0, Master_Down_Interval after
    silence, both with B's priority (RFC 3768 / RFC 5798 section 6.1), None when preempted.
    """
    runs = drop_contests(merge_split_brain(master_runs(adverts)))
    masters = [master_row(r.group, r.address, r.first.time) for r in runs]
    failovers: list[tuple[float, dict[str, Any]]] = []
    by_group: dict[Group, list[MasterRun]] = {}
    for r in runs:
        by_group.setdefault(r.group, []).append(r)
    for group, grs in by_group.items():
        for a, b in zip(grs, grs[1:], strict=False):
            if a.address == b.address:
                continue
            interval = b.first.interval_s
            if a.last.time > b.first.time + interval:
                continue  # both advertise at once
            gap = b.first.time - a.last.time
            prio, version = int(b.first.packet.priority), int(b.first.packet.version)
            expected: float | None
            if a.last.packet.priority == 0:
                cause, expected = "resigned", skew_time_s(prio, interval, version)
            elif gap < 2 * a.last.interval_s and prio > a.last.packet.priority:
                cause, expected = "preempted", None
            else:
                cause, expected = "silent", master_down_interval_s(prio, interval, version)
            row = failover_row(group, a.address, b.address, cause, gap, expected)
            failovers.append((b.first.time, row))
    failovers.sort(key=lambda tf: tf[0])
    return masters, [f for _, f in failovers]
