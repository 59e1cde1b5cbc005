"""One captured frame in, one decoded VRRP, CARP, HSRP, ARP or Neighbor Advertisement out.

``decode_packet(data, linktype)`` is the entry point for the monitor, the analyzer and
``vrrpwatch decode``. It returns None for the (vast) majority of frames that are none of ours,
deciding from a few bytes before any object is built (``dissectors.ours``, the one "could this
frame be ours" table), because the analyzer reads captures of millions of frames. A frame that
is ours (IP protocol 112, possibly behind VLAN tags, 802.1ah or AH; UDP to HSRP's ports; ARP;
ICMPv6 type 136) but cannot be decoded raises a ``DecodeError``; nothing else is ever raised.

What follows the IP header is dispatched through two explicit tables: ``_BY_PROTOCOL`` (IP
protocol -> decoder) and ``_BY_UDP_PORT`` ((IP version, UDP destination port) -> decoder),
whose keys are the "could this frame be ours" table's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from .arp import ArpPacket, parse_arp
from .common import DecodeError, Finding, need, positional
from .frame import ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, LinkHeader, LinkType, parse_link
from .hsrp import HsrpMessage, parse_hsrp, validate_hsrp
from .ip import (
    IPPROTO_AH,
    IPPROTO_ICMPV6,
    IPPROTO_VRRP,
    AuthHeader,
    IPHeader,
    IPv4Header,
    IPv6Header,
    UdpHeader,
    parse_ah,
    parse_ipv4,
    parse_ipv6,
    parse_udp,
)
from .nd import ICMPV6_NEIGHBOR_ADVERT, NeighborAdvert, parse_na
from .ours import (
    HSRP_PORT,
    HSRP_V6_PORT,
    IPPROTO_UDP,
    may_be_ours,
    network_may_be_ours,
)
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
    HSRP = "hsrp"  # v1 and v2 alike: the message says which (``protocol_version``)
    GARP = "garp"
    ARP = "arp"
    NA = "na"


Message = VrrpV2 | VrrpV3 | CarpPacket | HsrpMessage | ArpPacket | NeighborAdvert

SUPPORTED_LINKTYPES = frozenset(int(t) for t in LinkType)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decoded:
    kind: Kind
    link: LinkHeader
    ip: IPHeader | None  # None for ARP
    ah: AuthHeader | None
    message: Message
    findings: tuple[Finding, ...] = ()
    udp: UdpHeader | None = None  # HSRP's


_new_decoded = positional(Decoded, "kind", "link", "ip", "ah", "message", "findings", "udp")


def decode_packet(data: bytes, linktype: int) -> Decoded | None:
    """Decode ``data`` (a captured frame of pcap link type ``linktype``) if it is ours."""
    # The fast reject: where the EtherType and the network header are, per link type, without
    # building anything, judged by the one table (dissectors.ours).
    if linktype not in SUPPORTED_LINKTYPES or not may_be_ours(data, linktype):
        return None
    return _decode(data, linktype)


def _decode(data: bytes, linktype: int) -> Decoded | None:
    try:
        link, off = parse_link(data, linktype)
    except DecodeError:
        return None  # a runt or unknown framing: nothing says it is ours
    et = link.ethertype
    # The same table decides once the link layer is peeled (the only decision for link types
    # whose EtherType the fast reject cannot see: loopback, Frame Relay).
    if not network_may_be_ours(data, et, off, len(data)):
        return None
    if et == ETH_P_IP:
        if data[off] >> 4 != 4:
            return None
        ip4, payload = parse_ipv4(data, off)
        return _upper(link, ip4, ip4.protocol, payload)
    if et == ETH_P_IPV6:
        if data[off] >> 4 != 6:
            return None
        nh = data[off + 6]
        try:
            ip6, payload = parse_ipv6(data, off)
        except DecodeError:
            # Straight after the fixed header, UDP passed the table only to one of our ports.
            if nh in (IPPROTO_VRRP, IPPROTO_AH, IPPROTO_ICMPV6, IPPROTO_UDP):
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
    decode = _BY_PROTOCOL.get(proto)
    if decode is None:
        return None
    ip_findings: tuple[Finding, ...] = ()
    if ip.is_fragment:
        ip_findings += (Finding.FRAGMENTED,)
    if isinstance(ip, IPv4Header) and ip.options:
        ip_findings += (Finding.IP_OPTIONS,)
    return decode(link, ip, ah, payload, ip_findings)


def _vrrp(
    link: LinkHeader,
    ip: IPHeader,
    ah: AuthHeader | None,
    payload: bytes,
    ip_findings: tuple[Finding, ...],
) -> Decoded:
    if looks_like_carp(payload):
        carp = parse_carp(payload)
        findings = _carp_findings(carp, ip) + ip_findings
        return Decoded(kind=Kind.CARP, link=link, ip=ip, ah=ah, message=carp, findings=findings)
    adv = parse_vrrp(payload, src=ip.src, dst=ip.dst, fragment=ip.is_fragment)
    findings = validate_advert(adv, src=ip.src, dst=ip.dst, ttl=ip.ttl, src_mac=link.src_mac)
    return _new_decoded(Kind.VRRP, link, ip, ah, adv, findings + ip_findings, None)


def _icmpv6(
    link: LinkHeader,
    ip: IPHeader,
    ah: AuthHeader | None,
    payload: bytes,
    ip_findings: tuple[Finding, ...],
) -> Decoded | None:
    if not isinstance(ip, IPv6Header):
        return None
    need(payload, 1, "ICMPv6")
    if payload[0] != ICMPV6_NEIGHBOR_ADVERT:
        return None
    na = parse_na(payload, src=ip.src, dst=ip.dst)
    findings = na.findings(hop_limit=ip.hop_limit, dst=ip.dst) + ip_findings
    return Decoded(kind=Kind.NA, link=link, ip=ip, ah=None, message=na, findings=findings)


def _udp(
    link: LinkHeader,
    ip: IPHeader,
    ah: AuthHeader | None,
    payload: bytes,
    ip_findings: tuple[Finding, ...],
) -> Decoded | None:
    # The destination port decides before anything is built (RFC 768: bytes 2-3).
    need(payload, 4, "UDP header")
    decode = _BY_UDP_PORT.get((ip.family, payload[2] << 8 | payload[3]))
    if decode is None:
        return None
    udp, body = parse_udp(payload, src=ip.src, dst=ip.dst)
    findings: tuple[Finding, ...] = ()
    # RFC 768: a checksum of 0 means none, allowed over IPv4 only (RFC 8200 section 8.1).
    if udp.checksum_ok is False or (udp.checksum_ok is None and ip.family == 6):
        findings = (Finding.BAD_CHECKSUM,)
    return decode(link, ip, udp, body, findings + ip_findings)


def _hsrp(
    link: LinkHeader,
    ip: IPHeader,
    udp: UdpHeader,
    body: bytes,
    findings: tuple[Finding, ...],
) -> Decoded:
    msg = parse_hsrp(body, family=ip.family, dst_port=udp.dst_port)
    found = validate_hsrp(
        msg,
        src=ip.src,
        dst=ip.dst,
        ttl=ip.ttl,
        src_port=udp.src_port,
        dst_port=udp.dst_port,
    )
    return Decoded(
        kind=Kind.HSRP,
        link=link,
        ip=ip,
        ah=None,
        udp=udp,
        message=msg,
        findings=findings + found,
    )


_Upper = Callable[
    [LinkHeader, IPHeader, AuthHeader | None, bytes, tuple[Finding, ...]], Decoded | None
]
_Udp = Callable[[LinkHeader, IPHeader, UdpHeader, bytes, tuple[Finding, ...]], Decoded | None]
# IP protocol (after AH) -> decoder: VRRP and CARP (RFC 5798 section 5.1.1.4), UDP, and ICMPv6
# (Neighbor Advertisements, RFC 4861 section 4.4). The table (dissectors.ours) lets through
# only these.
_BY_PROTOCOL: dict[int, _Upper] = {
    IPPROTO_VRRP: _vrrp,
    IPPROTO_UDP: _udp,
    IPPROTO_ICMPV6: _icmpv6,
}
# (IP version, UDP destination port) -> decoder: the table's UDP_PORTS_V4 / UDP_PORTS_V6.
_BY_UDP_PORT: dict[tuple[int, int], _Udp] = {
    (4, HSRP_PORT): _hsrp,
    (6, HSRP_V6_PORT): _hsrp,
}


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
