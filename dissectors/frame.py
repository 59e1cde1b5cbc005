"""Link layers: Ethernet II with 802.1Q/802.1ad tags and 802.1ah (PBB), Linux cooked capture
(SLL, SLL2), BSD loopback, Frame Relay and raw IP, identified by pcap LINKTYPE_ values.

``parse_link(data, linktype)`` peels the link layer and returns a :class:`LinkHeader` plus the
offset of the network-layer payload and its EtherType. Builders make the Ethernet frames the
active mode sends (gratuitous ARP, unsolicited NA).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .common import DecodeError, Truncated, need, positional
from .ours import ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_P_PBB, PBB_ITAG_LEN, TAG_TPIDS


class LinkType(enum.IntEnum):
    """pcap/pcapng link types (https://www.tcpdump.org/linktypes.html)."""

    NULL = 0  # BSD loopback: 4-byte address family in the capturing host's byte order
    ETHERNET = 1
    RAW = 101  # raw IPv4 or IPv6, told apart by the version nibble
    FRELAY = 107  # Frame Relay (Q.922 address, then Cisco EtherType or RFC 2427 NLPID)
    LOOP = 108  # OpenBSD loopback: like NULL, network byte order
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


# The tags and 802.1ah I-TAG walked here are the ones in the "could this frame be ours" table.
VLAN_TPIDS = TAG_TPIDS

BROADCAST_MAC = b"\xff" * 6

_ETH = struct.Struct("!6s6sH")
_TAG = struct.Struct("!HH")  # TCI (PCP 3 bits, DEI 1 bit, VID 12 bits), next EtherType
# SLL: packet type, ARPHRD type, link-layer address length, address (8 bytes), protocol.
_SLL = struct.Struct("!HHH8sH")
# SLL2: protocol, reserved, interface index, ARPHRD type, packet type, address length, address.
_SLL2 = struct.Struct("!HHIHBB8s")
_NLPID_ETHERTYPE = {0xCC: ETH_P_IP, 0x8E: ETH_P_IPV6}
# Address families in DLT_NULL/DLT_LOOP headers: 2 is AF_INET everywhere; AF_INET6 differs.
_AF_ETHERTYPE = {2: ETH_P_IP, 10: ETH_P_IPV6, 24: ETH_P_IPV6, 28: ETH_P_IPV6, 30: ETH_P_IPV6}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkHeader:
    """What the link layer says about a frame. MACs are None when the link type has none."""

    src_mac: bytes | None = None
    dst_mac: bytes | None = None
    vlans: tuple[int, ...] = ()  # VLAN ids, outermost first
    ethertype: int = 0


_new_link = positional(LinkHeader, "src_mac", "dst_mac", "vlans", "ethertype")


def format_mac(mac: bytes) -> str:
    """``00:00:5e:00:01:01``: two lower-case hex digits per byte (``bytes.hex``, in C: the
    monitor formats the source MAC of every advert)."""
    return mac.hex(":")


def parse_mac(text: str) -> bytes:
    """``00:00:5e:00:01:01`` (or ``-`` separated) to 6 bytes; ValueError otherwise."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def _tags(
    data: bytes, off: int, ethertype: int, vlans: list[int], dst: bytes | None, src: bytes | None
) -> tuple[bytes | None, bytes | None, int, int]:
    """Walk 802.1Q/802.1ad tags and 802.1ah from ``ethertype`` (payload at ``off``)."""
    while True:
        if ethertype in VLAN_TPIDS:
            need(data, off + _TAG.size, "802.1Q tag")
            tci, ethertype = _TAG.unpack_from(data, off)
            vlans.append(tci & 0x0FFF)
            off += _TAG.size
        elif ethertype == ETH_P_PBB:
            # 802.1ah: I-TAG (4 bytes), then the encapsulated customer frame; its MACs are the
            # ones VRRP rules apply to.
            need(data, off + PBB_ITAG_LEN + _ETH.size, "802.1ah I-TAG")
            dst, src, ethertype = _ETH.unpack_from(data, off + PBB_ITAG_LEN)
            off += PBB_ITAG_LEN + _ETH.size
        else:
            return dst, src, ethertype, off


def parse_link(data: bytes, linktype: int) -> tuple[LinkHeader, int]:
    """Peel the link layer: returns the header and the offset of the network-layer payload.

    Raises Truncated for a buffer too short for the link header, DecodeError for a link type
    we do not know.
    """
    vlans: list[int] = []
    src: bytes | None
    dst: bytes | None = None
    if linktype == LinkType.ETHERNET:
        need(data, _ETH.size, "Ethernet header")
        dst, src, ethertype = _ETH.unpack_from(data, 0)
        dst, src, ethertype, off = _tags(data, _ETH.size, ethertype, vlans, dst, src)
    elif linktype in (LinkType.LINUX_SLL, LinkType.LINUX_SLL2):
        if linktype == LinkType.LINUX_SLL:
            need(data, _SLL.size, "Linux cooked header")
            _ptype, _hatype, alen, addr, ethertype = _SLL.unpack_from(data)
            off = _SLL.size
        else:
            need(data, _SLL2.size, "Linux cooked v2 header")
            ethertype, _r, _ifindex, _hatype, _ptype, alen, addr = _SLL2.unpack_from(data)
            off = _SLL2.size
        # The address is the sender's link-layer address for every packet type.
        src = addr[:6] if alen == 6 else None
        dst, src, ethertype, off = _tags(data, off, ethertype, vlans, None, src)
    elif linktype in (LinkType.RAW, LinkType.IPV4, LinkType.IPV6):
        need(data, 1, "raw IP")
        version = data[0] >> 4
        ethertype = {4: ETH_P_IP, 6: ETH_P_IPV6}.get(version, 0)
        src, off = None, 0
    elif linktype in (LinkType.NULL, LinkType.LOOP):
        need(data, 4, "loopback header")
        family = int.from_bytes(data[:4], "big")
        if linktype == LinkType.NULL and family > 0xFFFF:
            family = int.from_bytes(data[:4], "little")
        ethertype = _AF_ETHERTYPE.get(family, 0)
        src, off = None, 4
    elif linktype == LinkType.FRELAY:
        # Q.922 address (ITU-T Q.922 section 3.2): octets until one has the EA bit set.
        off = 0
        while True:
            need(data, off + 1, "Frame Relay address")
            off += 1
            if data[off - 1] & 1 or off == 4:
                break
        need(data, off + 2, "Frame Relay header")
        if data[off] == 0x03:  # RFC 2427 section 4: UI control octet, then an NLPID
            ethertype = _NLPID_ETHERTYPE.get(data[off + 1], 0)
            off += 2
        else:  # Cisco encapsulation: an EtherType
            ethertype = int.from_bytes(data[off : off + 2], "big")
            off += 2
        src = None
    else:
        raise DecodeError(f"unsupported link type {linktype}")
    return _new_link(src, dst, tuple(vlans), ethertype), off


def build_ethernet(
    dst: bytes, src: bytes, ethertype: int, payload: bytes, vlans: tuple[int, ...] = ()
) -> bytes:
    """An Ethernet II frame with 802.1Q tags (``vlans`` outermost first), without FCS.

    Frames shorter than the 60-byte minimum are not padded: the kernel pads what it sends.
    """
    if len(dst) != 6 or len(src) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    parts = [dst, src]
    for vid in vlans:
        if not 0 <= vid <= 0xFFF:
            raise ValueError(f"VLAN id out of range: {vid}")
        parts.append(struct.pack("!HH", 0x8100, vid))
    parts.append(struct.pack("!H", ethertype))
    parts.append(payload)
    return b"".join(parts)


__all__ = [
    "BROADCAST_MAC",
    "ETH_P_PBB",
    "VLAN_TPIDS",
    "ETH_P_ARP",
    "ETH_P_IP",
    "ETH_P_IPV6",
    "LinkHeader",
    "LinkType",
    "Truncated",
    "build_ethernet",
    "format_mac",
    "parse_link",
    "parse_mac",
]
