"""Reading what a lab's monitor host recorded: the frames of a classic pcap file, walked down to
the IP payload, and the rows of a truth file (captures/README.md) that VRRP and CARP share.

``tests/lab_vrrp.py`` (VRRP adverts) and ``tests/lab_carp.py`` (CARP adverts) read their
protocol from :func:`ip_frames`; each decides what a master run and a failover are by its own
protocol's rules and writes them with :func:`master_row` and :func:`failover_row`.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lab_base import LabError

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_ETH_VLAN_TYPES = (0x8100, 0x88A8)
IPPROTO_AH = 51

# (VLAN stack, address family, VRID or vhid): one virtual router of a capture.
Group = tuple[tuple[int, ...], int, int]


def pcap_frames(path: Path | str) -> Iterable[tuple[float, bytes]]:
    """(epoch seconds, frame bytes) of a classic pcap file with Ethernet link type."""
    data = Path(path).read_bytes()
    if len(data) < 24 or data[:4] not in _PCAP_MAGICS:
        raise LabError(f"{path}: not a classic pcap file")
    endian, unit = _PCAP_MAGICS[data[:4]]
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    if linktype != 1:
        raise LabError(f"{path}: link type {linktype}, expected 1 (Ethernet)")
    rec = struct.Struct(endian + "IIII")
    off = 24
    while off + rec.size <= len(data):
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        off += rec.size
        yield sec + frac * unit, data[off : off + incl]
        off += incl


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


@dataclass(frozen=True)
class IpFrame:
    """An IPv4 or IPv6 packet of a capture with its Ethernet context. ``proto`` and
    ``payload`` are those inside AH when the packet was in AH (``in_ah``)."""

    time: float
    vlan: tuple[int, ...]
    src_mac: str
    dst_mac: str
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    ttl: int  # or hop limit
    tos: int  # IPv4 only (0 for IPv6)
    dont_fragment: bool  # IPv4 only
    proto: int
    in_ah: bool
    payload: bytes


def arp_frames(path: Path | str) -> Iterator[tuple[float, bytes, Any]]:
    """Every untagged ARP packet of a capture that decodes: (time, source MAC, dissectors.arp
    packet)."""
    from dissectors.arp import parse_arp
    from dissectors.common import DecodeError

    for ts, frame in pcap_frames(path):
        if frame[12:14] != b"\x08\x06":
            continue
        try:
            arp = parse_arp(frame[14:])
        except DecodeError:
            continue
        yield ts, frame[6:12], arp


def ip_frames(path: Path | str) -> Iterator[IpFrame]:
    """Every IP packet of a capture: walks Ethernet, 802.1Q/802.1ad tags, IPv4/IPv6 and AH
    (RFC 4302 section 2: the payload follows (Payload Len + 2) 32-bit words). Frames that are
    not IP (or too short) are skipped."""
    for ts, frame in pcap_frames(path):
        if len(frame) < 14:
            continue
        vlans: list[int] = []
        etype = int.from_bytes(frame[12:14], "big")
        off = 14
        while etype in _ETH_VLAN_TYPES and len(frame) >= off + 4:
            vlans.append(int.from_bytes(frame[off : off + 2], "big") & 0x0FFF)
            etype = int.from_bytes(frame[off + 2 : off + 4], "big")
            off += 4
        ip = frame[off:]
        src: ipaddress.IPv4Address | ipaddress.IPv6Address
        dst: ipaddress.IPv4Address | ipaddress.IPv6Address
        if etype == 0x0800 and len(ip) >= 20 and ip[0] >> 4 == 4:
            hlen = (ip[0] & 0x0F) * 4
            proto, ttl, tos = ip[9], ip[8], ip[1]
            dont_fragment = bool(int.from_bytes(ip[6:8], "big") & 0x4000)
            src, dst = ipaddress.IPv4Address(ip[12:16]), ipaddress.IPv4Address(ip[16:20])
            payload = ip[hlen : int.from_bytes(ip[2:4], "big")]
        elif etype == 0x86DD and len(ip) >= 40:
            proto, ttl, tos, dont_fragment = ip[6], ip[7], 0, False
            src, dst = ipaddress.IPv6Address(ip[8:24]), ipaddress.IPv6Address(ip[24:40])
            payload = ip[40 : 40 + int.from_bytes(ip[4:6], "big")]
        else:
            continue
        in_ah = False
        if proto == IPPROTO_AH and len(payload) >= 2:
            proto, payload, in_ah = payload[0], payload[(payload[1] + 2) * 4 :], True
        yield IpFrame(
            time=ts,
            vlan=tuple(vlans),
            src_mac=_mac(frame[6:12]),
            dst_mac=_mac(frame[0:6]),
            src=src,
            dst=dst,
            ttl=ttl,
            tos=tos,
            dont_fragment=dont_fragment,
            proto=proto,
            in_ah=in_ah,
            payload=bytes(payload),
        )


def master_row(group: Group, address: str, since: float) -> dict[str, Any]:
    """One entry of a truth file's ``masters``."""
    return {
        "vlan": list(group[0]),
        "family": group[1],
        "vrid": group[2],
        "address": address,
        "since": since,
    }


def failover_row(
    group: Group, old: str, new: str, cause: str, gap_s: float, expected_s: float | None
) -> dict[str, Any]:
    """One entry of a truth file's ``failovers`` (times in ms, rounded to the microsecond)."""
    return {
        "vlan": list(group[0]),
        "family": group[1],
        "vrid": group[2],
        "from": old,
        "to": new,
        "cause": cause,
        "gap_ms": round(gap_s * 1000, 3),
        "expected_ms": None if expected_s is None else round(expected_s * 1000, 3),
    }
