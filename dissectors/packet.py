"""One captured frame in, one decoded VRRP, CARP, ARP or Neighbor Advertisement out.

``decode_packet(data, linktype)`` is the entry point for the monitor, the analyzer and
``vrrpwatch decode``. It returns None for the (vast) majority of frames that are none of ours,
deciding from a few bytes before any object is built, because the analyzer reads captures of
millions of frames. A frame that is ours (IP protocol 112, possibly behind VLAN tags, 802.1ah
or AH; ARP; ICMPv6 type 136) but cannot be decoded raises a ``DecodeError``; nothing else is
ever raised.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .arp import ArpPacket, parse_arp
from .common import DecodeError, Finding, need
from .frame import ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, LinkHeader, LinkType, parse_link
from .ip import (
    IPPROTO_AH,
    IPPROTO_ICMPV6,
    IPPROTO_VRRP,
    AuthHeader,
    IPHeader,
    IPv4Header,
    IPv6Header,
    parse_ah,
    parse_ipv4,
    parse_ipv6,
)
from .nd import ICMPV6_NEIGHBOR_ADVERT, NeighborAdvert, parse_na
from .vrrp import (
    VRRP_MCAST_V4,
    VRRP_MCAST_V6,
    CarpPacket,
    VrrpV2,
    VrrpV3,
    looks_like_carp,
    parse_carp,
    parse_vrrp,
    validate_advert,
)


class Kind(enum.StrEnum):
    VRRP = "vrrp"
    CARP = "carp"
    GARP = "garp"
    ARP = "arp"
    NA = "na"


Message = VrrpV2 | VrrpV3 | CarpPacket | ArpPacket | NeighborAdvert

SUPPORTED_LINKTYPES = frozenset(int(t) for t in LinkType)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decoded:
    kind: Kind
    link: LinkHeader
    ip: IPHeader | None  # None for ARP
    ah: AuthHeader | None
    message: Message
    findings: tuple[Finding, ...] = ()


# Fast reject (Ethernet II, Linux cooked v1/v2, raw IP): the EtherType, after any 802.1Q or
# 802.1ad tags (4 bytes each); then the IPv4 protocol at +9 or the IPv6 next header at +6 and
# the ICMPv6 type at +40, counted from the start of the IP header.
_ET_IPV4 = b"\x08\x00"
_ET_IPV6 = b"\x86\xdd"
_ET_ARP = b"\x08\x06"
_ET_PBB = b"\x88\xe7"
_ET_TAGS = frozenset((b"\x81\x00", b"\x88\xa8", b"\x91\x00", b"\x92\x00"))
_V4_OURS = frozenset((IPPROTO_VRRP, IPPROTO_AH))
_RAW_IP = frozenset((LinkType.RAW, LinkType.IPV4, LinkType.IPV6))
# IPv6 next headers worth a closer look: ours, AH, and extension headers that may precede them.
_V6_MAYBE = frozenset((IPPROTO_VRRP, IPPROTO_AH, IPPROTO_ICMPV6, 0, 43, 44, 60))


def decode_packet(data: bytes, linktype: int) -> Decoded | None:
    """Decode ``data`` (a captured frame of pcap link type ``linktype``) if it is ours."""
    # Where the EtherType and the network header are, per link type, without building anything.
    if linktype == 1:  # Ethernet II
        et, ip = data[12:14], 14
    elif linktype == 113:  # Linux cooked v1: protocol at 14
        et, ip = data[14:16], 16
    elif linktype == 276:  # Linux cooked v2: protocol at 0, header 20 bytes
        et, ip = data[0:2], 20
    elif linktype in _RAW_IP:
        version = data[0] >> 4 if data else 0
        et, ip = (_ET_IPV4 if version == 4 else _ET_IPV6 if version == 6 else b""), 0
    elif linktype in SUPPORTED_LINKTYPES:
        return _decode(data, linktype)
    else:
        return None
    while et in _ET_TAGS:
        ip += 4
        et = data[ip - 2 : ip]
    n = len(data)
    if et == _ET_IPV4:
        if n < ip + 20 or data[ip + 9] not in _V4_OURS:
            return None
    elif et == _ET_IPV6:
        if n < ip + 40:
            return None
        nh = data[ip + 6]
        if nh not in _V6_MAYBE or (nh == IPPROTO_ICMPV6 and (n <= ip + 40 or data[ip + 40] != 136)):
            return None
    elif et != _ET_ARP and et != _ET_PBB:
        return None
    return _decode(data, linktype)


def _decode(data: bytes, linktype: int) -> Decoded | None:
    try:
        link, off = parse_link(data, linktype)
    except DecodeError:
        return None  # a runt or unknown framing: nothing says it is ours
    et = link.ethertype
    if et == ETH_P_IP:
        if len(data) < off + 20 or data[off + 9] not in _V4_OURS or data[off] >> 4 != 4:
            return None
        ip4, payload = parse_ipv4(data, off)
        return _upper(link, ip4, ip4.protocol, payload)
    if et == ETH_P_IPV6:
        if len(data) < off + 40 or data[off] >> 4 != 6:
            return None
        nh = data[off + 6]
        if nh not in _V6_MAYBE:
            return None
        if nh == IPPROTO_ICMPV6 and (len(data) <= off + 40 or data[off + 40] != 136):
            return None
        try:
            ip6, payload = parse_ipv6(data, off)
        except DecodeError:
            if nh in (IPPROTO_VRRP, IPPROTO_AH, IPPROTO_ICMPV6):
                raise
            return None  # broken extension headers in front of who knows what
        return _upper(link, ip6, ip6.protocol, payload)
    if et == ETH_P_ARP:
        arp = parse_arp(data[off:])
        kind = Kind.GARP if arp.is_gratuitous else Kind.ARP
        return Decoded(kind=kind, link=link, ip=None, ah=None, message=arp)
    return None


def _upper(link: LinkHeader, ip: IPHeader, proto: int, payload: bytes) -> Decoded | None:
    if ip.fragment_offset:
        # A later fragment carries no header of its own; we do not reassemble.
        if proto == IPPROTO_VRRP:
            raise DecodeError(f"IP fragment at offset {ip.fragment_offset * 8}, not reassembled")
        return None
    ah: AuthHeader | None = None
    if proto == IPPROTO_AH:
        ah, payload = parse_ah(payload)
        proto = ah.next_header
        if proto != IPPROTO_VRRP:
            return None
    ip_findings: list[Finding] = []
    if ip.is_fragment:
        ip_findings.append(Finding.FRAGMENTED)
    if isinstance(ip, IPv4Header) and ip.options:
        ip_findings.append(Finding.IP_OPTIONS)
    if proto == IPPROTO_VRRP:
        if looks_like_carp(payload):
            carp = parse_carp(payload)
            findings = _carp_findings(carp, ip) + tuple(ip_findings)
            return Decoded(kind=Kind.CARP, link=link, ip=ip, ah=ah, message=carp, findings=findings)
        adv = parse_vrrp(payload, src=ip.src, dst=ip.dst, fragment=ip.is_fragment)
        findings = validate_advert(adv, src=ip.src, dst=ip.dst, ttl=ip.ttl, src_mac=link.src_mac)
        return Decoded(
            kind=Kind.VRRP,
            link=link,
            ip=ip,
            ah=ah,
            message=adv,
            findings=findings + tuple(ip_findings),
        )
    if proto == IPPROTO_ICMPV6 and isinstance(ip, IPv6Header):
        need(payload, 1, "ICMPv6")
        if payload[0] != ICMPV6_NEIGHBOR_ADVERT:
            return None
        na = parse_na(payload, src=ip.src, dst=ip.dst)
        findings = na.findings(hop_limit=ip.hop_limit, dst=ip.dst) + tuple(ip_findings)
        return Decoded(kind=Kind.NA, link=link, ip=ip, ah=None, message=na, findings=findings)
    return None


def _carp_findings(carp: CarpPacket, ip: IPHeader) -> tuple[Finding, ...]:
    out: list[Finding] = []
    if not carp.checksum_ok:
        out.append(Finding.BAD_CHECKSUM)
    if ip.ttl != 255:
        out.append(Finding.TTL_NOT_255)
    group = VRRP_MCAST_V4 if ip.family == 4 else VRRP_MCAST_V6
    if ip.dst != group:
        out.append(Finding.BAD_DESTINATION if ip.dst.is_multicast else Finding.UNICAST_DESTINATION)
    return tuple(out)


__all__ = ["SUPPORTED_LINKTYPES", "Decoded", "Kind", "Message", "decode_packet"]
