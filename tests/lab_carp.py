"""CARP adverts in a lab capture, and the rules the CARP truth files are measured with.

The companion of ``tests/lab.py`` (which reads VRRP adverts) for the ucarp lab
(``Host.ucarp``): ``read_carp_adverts`` walks each frame (Ethernet, 802.1Q, IPv4) and decodes
the CARP header with ``dissectors.vrrp.parse_carp``; ``carp_masters_and_failovers`` computes
a truth file's ``masters`` and ``failovers`` from them (captures/README.md, "CARP truth").

CARP has no priority: a router advertises every advbase + advskew/256 s, and the one that
advertises more often wins (OpenBSD carp(4), ``carp_input``: a master yields to an advert with
a smaller advbase/advskew; ucarp ``packethandler`` does the same). A backup declares the
master down after 3 x advbase + advskew/256 s of its own (OpenBSD ``carp_setrun``; ucarp
``carp_setrun`` with its default ``--deadratio`` 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dissectors.common import DecodeError
from dissectors.vrrp import IPPROTO_VRRP, CarpPacket, looks_like_carp, parse_carp
from tests.lab_capture import Group, failover_row, ip_frames, master_row

# OpenBSD's "bow out": a master leaving MASTER sends one advert with advbase and advskew 255
# (``carp_send_ad``, ``sc_bow_out``); its backups take over at once. ucarp never sends it.
BOW_OUT = 255


@dataclass(frozen=True)
class CarpAdvert:
    """A CARP advertisement in a capture, with its frame and IPv4 context."""

    time: float
    vlan: tuple[int, ...]
    src_mac: str
    dst_mac: str
    src: str
    dst: str
    ttl: int
    tos: int
    dont_fragment: bool
    packet: CarpPacket
    raw: bytes  # the 36 CARP bytes

    @property
    def group(self) -> Group:
        return (self.vlan, 4, int(self.packet.vhid))

    @property
    def interval_s(self) -> float:
        """How often this router advertises: advbase + advskew/256 s (carp(4))."""
        return self.packet.advbase_s + self.packet.advskew / 256

    @property
    def bow_out(self) -> bool:
        return self.packet.advbase_s == BOW_OUT and self.packet.advskew == BOW_OUT


def master_down_s(advbase_s: int, advskew: int) -> float:
    """A CARP backup's master-down timer: 3 x advbase + advskew/256 s (OpenBSD carp(4)
    ``carp_setrun``, BACKUP case; ucarp the same with ``--deadratio`` 3)."""
    return 3 * advbase_s + advskew / 256


def read_carp_adverts(path: Path | str) -> list[CarpAdvert]:
    """Every CARP advertisement (IPv4, protocol 112, not in AH, ``looks_like_carp``) in a
    capture (``lab_capture.ip_frames`` walks Ethernet, 802.1Q and IPv4)."""
    out: list[CarpAdvert] = []
    for f in ip_frames(path):
        if f.src.version != 4 or f.in_ah or f.proto != IPPROTO_VRRP:
            continue
        if not looks_like_carp(f.payload):
            continue
        try:
            pkt = parse_carp(f.payload)
        except DecodeError:
            continue
        out.append(
            CarpAdvert(
                time=f.time,
                vlan=f.vlan,
                src_mac=f.src_mac,
                dst_mac=f.dst_mac,
                src=str(f.src),
                dst=str(f.dst),
                ttl=f.ttl,
                tos=f.tos,
                dont_fragment=f.dont_fragment,
                packet=pkt,
                raw=f.payload,
            )
        )
    return out


@dataclass
class _Run:
    group: Group
    address: str
    adverts: list[CarpAdvert]
    outranked: bool = False  # a more frequent advertiser was heard after our last advert

    @property
    def last(self) -> CarpAdvert:
        return self.adverts[-1]


def carp_master_runs(adverts: Iterable[CarpAdvert]) -> list[_Run]:
    """Each source's adverts split into master runs (only a CARP master advertises). A run
    ends with a bow-out advert, with silence longer than 3 intervals + 1 s, or with silence
    longer than 1.5 intervals after a more frequent advertiser was heard (preempted)."""
    runs: list[_Run] = []
    current: dict[tuple[Group, str], _Run] = {}
    for a in sorted(adverts, key=lambda a: a.time):
        key = (a.group, a.src)
        run = current.get(key)
        if run is not None:
            gap = a.time - run.last.time
            if gap > 3 * a.interval_s + 1.0 or (run.outranked and gap > 1.5 * a.interval_s):
                run = None
        if not a.bow_out:
            for (g, src), other in current.items():
                if g == a.group and src != a.src and a.interval_s < other.last.interval_s:
                    other.outranked = True
        if run is None:
            if a.bow_out:
                current.pop(key, None)
                continue
            run = _Run(a.group, a.src, [a])
            runs.append(run)
            current[key] = run
        else:
            run.adverts.append(a)
            run.outranked = False
        if a.bow_out:
            del current[key]
    return sorted(runs, key=lambda r: r.adverts[0].time)


def carp_masters_and_failovers(
    adverts: Iterable[CarpAdvert],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A CARP truth file's ``masters`` and ``failovers`` as measured in a capture.

    A failover is a run of B following a run of A in the same group, A having stopped by the
    time B was one interval old. ``gap_ms``: from A's last advert *before* B's first to B's
    first (ucarp's old master sends one more advert after it heard the preempting one, so
    its run may end a little after B's first advert). ``cause``: ``resigned`` after a
    bow-out advert, ``preempted`` when A advertised within two of its intervals of B's first
    advert and B advertises more often, else ``silent``. ``expected_ms``: 0 after a bow-out,
    B's 3 x advbase + advskew/256 s after silence, None when preempted.
    """
    runs = carp_master_runs(adverts)
    masters = [master_row(r.group, r.address, r.adverts[0].time) for r in runs]
    by_group: dict[Group, list[_Run]] = {}
    for r in runs:
        by_group.setdefault(r.group, []).append(r)
    failovers: list[tuple[float, dict[str, Any]]] = []
    for group, grs in by_group.items():
        for a, b in zip(grs, grs[1:], strict=False):
            first = b.adverts[0]
            if a.address == b.address or a.last.time > first.time + first.interval_s:
                continue
            before = [x for x in a.adverts if x.time <= first.time]
            if not before:
                continue
            old = before[-1]
            gap = first.time - old.time
            expected: float | None
            if old.bow_out:
                cause, expected = "resigned", 0.0
            elif gap < 2 * old.interval_s and first.interval_s < old.interval_s:
                cause, expected = "preempted", None
            else:
                cause = "silent"
                expected = master_down_s(first.packet.advbase_s, first.packet.advskew)
            row = failover_row(group, a.address, b.address, cause, gap, expected)
            failovers.append((first.time, row))
    failovers.sort(key=lambda tf: tf[0])
    return masters, [f for _, f in failovers]
