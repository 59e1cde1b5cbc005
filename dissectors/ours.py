"""Could this frame be ours? The one table, and the cheap checks derived from it.

"Ours" is what ``decode_packet`` decodes: VRRP and CARP (IP protocol 112), VRRPv2 inside IPsec
AH, HSRP (UDP to port 1985 over IPv4, 2029 over IPv6), ARP (gratuitous ARP announces a new
master, RFC 5798 section 6.4.2) and ICMPv6 Neighbor Advertisements (their IPv6 counterpart),
behind any stack of VLAN tags and 802.1ah. Every place that decides from a few bytes whether a
frame is worth decoding reads this table:

- ``decode_packet``'s fast reject (``may_be_ours``) and its decision inside the IP header;
- the capture reader's prefilter (``ethernet_may_be_ours``) and its inline peek, which reads
  the same constants (vrrpwatch/pcap.py);
- the decode cache's key, which finds the IPv4 header with ``network_offset``
  (vrrpwatch/watch/feed.py);
- the kernel filter for ``sniff``, assembled from these sets (vrrpwatch/watch/live.py); it
  deliberately walks less (no 802.1ah, no IPv6 extension headers, one tag left in the data).

The link-layer walkers (``dissectors.frame``) and the IPv6 extension-header walker
(``dissectors.ip``) take their sets from here too, so "walkable" means the same everywhere.

Each check is a superset of the decoder: it may pass a frame that then decodes to nothing,
never reject one that decodes (or fails to decode, which the monitor counts as malformed).
tests/dissectors/test_ours.py holds every check to that on generated frames.

This module imports nothing: it is the bottom of the dissectors package.
"""

from __future__ import annotations

# -- the table -----------------------------------------------------------------------------

# Tags walked before the EtherType, 4 bytes each (TPID, then TCI: PCP 3 bits, DEI 1, VID 12):
# IEEE 802.1Q C-tag, IEEE 802.1ad S-tag, and the pre-standard QinQ outer tags 0x9100/0x9200.
TAG_TPIDS = frozenset((0x8100, 0x88A8, 0x9100, 0x9200))
# IEEE 802.1ah (PBB) I-TAG: 4 bytes (PCP, DEI, UCA, reserved, 24-bit I-SID), then the customer
# frame's destination and source MAC and its own EtherType (and maybe tags again).
ETH_P_PBB = 0x88E7
PBB_ITAG_LEN = 4
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
# EtherTypes that carry something of ours. ARP is ours whatever follows; IP depends on the
# protocol below.
ETHERTYPES = frozenset((ETH_P_IP, ETH_P_IPV6, ETH_P_ARP))

IPPROTO_HOPOPTS = 0
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_UDP = 17
IPPROTO_AH = 51
IPPROTO_ICMPV6 = 58
IPPROTO_DSTOPTS = 60
IPPROTO_VRRP = 112
# IP protocols (IPv4 Protocol, IPv6 upper-layer Next Header) that are ours: VRRP and CARP
# (RFC 5798 section 5.1.1.4 / 5.1.2.3), and AH, which VRRPv2 Auth Type 2 travels in (RFC 2338
# section 5.3.6.3); the decoder opens AH and keeps it only when VRRP is inside.
IP_PROTOCOLS = frozenset((IPPROTO_VRRP, IPPROTO_AH))
# ICMPv6 types that are ours: Neighbor Advertisement (RFC 4861 section 4.4).
ICMPV6_TYPES = frozenset((136,))
# UDP destination ports that are ours, per IP version (UDP is common: the checks read the
# port, never more): HSRPv1 (RFC 2281 section 5.1) and HSRPv2 over IPv4 use 1985, HSRPv2 over
# IPv6 uses 2029 (Cisco's; see dissectors/hsrp.py).
HSRP_PORT = 1985
HSRP_V6_PORT = 2029
UDP_PORTS_V4 = frozenset((HSRP_PORT,))
UDP_PORTS_V6 = frozenset((HSRP_V6_PORT,))
# IPv6 extension headers walked to reach the upper layer: the generic (next header, length in
# 8-byte units beyond the first 8) layout of RFC 8200 section 4 and RFC 7045 (Hop-by-Hop,
# Routing, Destination Options, Mobility, HIP, Shim6). The Fragment header (RFC 8200 4.5) is
# walked too but has a fixed length of 8; after a later fragment nothing is a header.
IPV6_EXTENSIONS = frozenset((IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, 135, 139, 140))
# Next headers of the fixed IPv6 header that may lead to something of ours.
IPV6_FIRST = IP_PROTOCOLS | {IPPROTO_ICMPV6, IPPROTO_UDP, IPPROTO_FRAGMENT} | IPV6_EXTENSIONS

# pcap link types the checks know how to find the EtherType in (dissectors.frame.LinkType).
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
LINKTYPES_RAW_IP = frozenset((101, 228, 229))

# The same values as the bytes a frame holds them in (for slicing comparisons).
TAG_TPID_BYTES = frozenset(t.to_bytes(2, "big") for t in TAG_TPIDS)
ETH_P_IP_BYTES = ETH_P_IP.to_bytes(2, "big")
ETH_P_IPV6_BYTES = ETH_P_IPV6.to_bytes(2, "big")

# -- the checks ----------------------------------------------------------------------------


def walk_ethertype(buf: bytes, et: int, at: int, end: int) -> tuple[int, int]:
    """Walk tags and 802.1ah from EtherType ``et``, whose payload starts at ``at``.

    Returns the EtherType of the network layer and the offset of its header, or (-1, end)
    when ``buf[:end]`` ends inside the link layer (the decoder gives up there too).
    """
    while True:
        if et in TAG_TPIDS:
            at += 4  # TCI, then the next EtherType
        elif et == ETH_P_PBB:
            at += PBB_ITAG_LEN + 14  # I-TAG, then customer MACs and EtherType
        else:
            return et, at
        if at > end:
            return -1, end
        et = (buf[at - 2] << 8) | buf[at - 1]


def network_offset(data: bytes, linktype: int) -> tuple[int, int]:
    """(EtherType, offset of the network header) of a frame, (-1, len) if none can be told."""
    end = len(data)
    if linktype == LINKTYPE_ETHERNET:
        if end < 14:
            return -1, end
        return walk_ethertype(data, (data[12] << 8) | data[13], 14, end)
    if linktype == LINKTYPE_LINUX_SLL:  # protocol at 14, header 16 bytes
        if end < 16:
            return -1, end
        return walk_ethertype(data, (data[14] << 8) | data[15], 16, end)
    if linktype == LINKTYPE_LINUX_SLL2:  # protocol at 0, header 20 bytes
        if end < 20:
            return -1, end
        return walk_ethertype(data, (data[0] << 8) | data[1], 20, end)
    if linktype in LINKTYPES_RAW_IP:
        version = data[0] >> 4 if data else 0
        return (ETH_P_IP if version == 4 else ETH_P_IPV6 if version == 6 else -1), 0
    return -1, end


def network_may_be_ours(buf: bytes, et: int, l3: int, end: int) -> bool:
    """Could the network-layer packet of EtherType ``et`` at ``buf[l3:end]`` be ours?"""
    if et == ETH_P_IP:
        # The protocol is at +9 whatever the header length (RFC 791 section 3.1).
        if l3 + 20 > end:
            return False
        proto = buf[l3 + 9]
        if proto in IP_PROTOCOLS:
            return True
        if proto != IPPROTO_UDP:
            return False
        # UDP: the destination port (RFC 768) after IHL 32-bit words of IP header.
        ihl = buf[l3] & 0x0F
        at = l3 + 4 * ihl
        return ihl >= 5 and at + 4 <= end and (buf[at + 2] << 8 | buf[at + 3]) in UDP_PORTS_V4
    if et == ETH_P_IPV6:
        if l3 + 40 > end:
            return False
        return ipv6_may_be_ours(buf, buf[l3 + 6], l3 + 40, end)
    return et == ETH_P_ARP


def ipv6_may_be_ours(buf: bytes, nh: int, at: int, end: int) -> bool:
    """Could next header ``nh`` at ``buf[at:end]`` (after the fixed IPv6 header) be ours?"""
    if nh not in IPV6_FIRST:
        return False
    while nh in IPV6_EXTENSIONS or nh == IPPROTO_FRAGMENT:
        if at + 8 > end:
            return False  # the decoder gives up on a cut extension header before the upper layer
        if nh == IPPROTO_FRAGMENT:
            later = buf[at + 2] << 5 | buf[at + 3] >> 3  # fragment offset (RFC 8200 4.5)
            nh, at = buf[at], at + 8
            if later:
                return nh in IP_PROTOCOLS  # the decoder reports an unreassembled fragment
        else:
            nh, at = buf[at], at + 8 + buf[at + 1] * 8
    if nh == IPPROTO_ICMPV6:
        return at < end and buf[at] in ICMPV6_TYPES
    if nh == IPPROTO_UDP:
        return at + 4 <= end and (buf[at + 2] << 8 | buf[at + 3]) in UDP_PORTS_V6
    return nh in IP_PROTOCOLS


def ethernet_may_be_ours(buf: bytes, off: int, end: int) -> bool:
    """Could the Ethernet II frame at ``buf[off:end]`` be ours? (the capture prefilter)"""
    if end - off < 14:
        return False
    et, l3 = walk_ethertype(buf, (buf[off + 12] << 8) | buf[off + 13], off + 14, end)
    return network_may_be_ours(buf, et, l3, end)


def may_be_ours(data: bytes, linktype: int) -> bool:
    """Could ``data``, a frame of pcap link type ``linktype``, be ours? (the decoder's fast
    reject). Link types without an EtherType to look at (BSD loopback, Frame Relay) answer
    True: the decoder peels them and decides from the network header with the same table."""
    et, l3 = network_offset(data, linktype)
    if et == -1 and linktype not in _ETHERTYPE_LINKTYPES:
        return True
    return network_may_be_ours(data, et, l3, len(data))


_ETHERTYPE_LINKTYPES = (
    frozenset((LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2)) | LINKTYPES_RAW_IP
)

__all__ = [
    "ETHERTYPES",
    "ETH_P_ARP",
    "ETH_P_IP",
    "ETH_P_IPV6",
    "ETH_P_PBB",
    "HSRP_PORT",
    "HSRP_V6_PORT",
    "ICMPV6_TYPES",
    "IPV6_EXTENSIONS",
    "IPV6_FIRST",
    "IP_PROTOCOLS",
    "TAG_TPIDS",
    "UDP_PORTS_V4",
    "UDP_PORTS_V6",
    "ethernet_may_be_ours",
    "ipv6_may_be_ours",
    "may_be_ours",
    "network_may_be_ours",
    "network_offset",
    "walk_ethertype",
]
