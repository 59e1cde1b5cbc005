"""IPv6 Neighbor Advertisements (RFC 4861 section 4.4), the IPv6 counterpart of gratuitous ARP.

Layout::

    Type (136) | Code (0) | Checksum (2)
    R | S | O | Reserved (29 bits)
    Target Address (16)
    Options: Type (1) | Length (1, in units of 8 bytes) | ...  (type 2 = target link-layer)

A VRRPv3 IPv6 master sends unsolicited NAs for its addresses to ff02::1 with the Router and
Override flags (RFC 5798 section 6.4.2).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from .common import DecodeError, Finding, inet_checksum, ipv6_address, need
from .ip import IPPROTO_ICMPV6, pseudo_header

ICMPV6_NEIGHBOR_ADVERT = 136
ALL_NODES = ipaddress.IPv6Address("ff02::1")
OPT_TARGET_LL_ADDR = 2
_NA = struct.Struct("!BBHI16s")
_FLAG_ROUTER = 0x80000000
_FLAG_SOLICITED = 0x40000000
_FLAG_OVERRIDE = 0x20000000


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborAdvert:
    target: ipaddress.IPv6Address
    router: bool = False
    solicited: bool = False
    override: bool = False
    target_ll_addr: bytes | None = None  # from the Target Link-Layer Address option
    code: int = 0
    reserved: int = 0
    # Options other than the target link-layer address, raw (type, value without the 2-byte head).
    other_options: tuple[tuple[int, bytes], ...] = ()
    checksum: int = field(default=0, compare=False)
    checksum_ok: bool = field(default=True, compare=False)

    def findings(self, *, hop_limit: int, dst: ipaddress.IPv6Address) -> tuple[Finding, ...]:
        """RFC 4861 section 7.1.2 validity checks, reported rather than enforced."""
        out: list[Finding] = []
        if not self.checksum_ok:
            out.append(Finding.BAD_CHECKSUM)
        if hop_limit != 255:
            out.append(Finding.TTL_NOT_255)
        if self.code != 0:
            out.append(Finding.BAD_CODE)
        if self.target.is_multicast:
            out.append(Finding.MULTICAST_TARGET)
        if self.solicited and dst.is_multicast:
            out.append(Finding.SOLICITED_TO_MULTICAST)
        return tuple(out)


def parse_na(
    data: bytes, *, src: ipaddress.IPv6Address, dst: ipaddress.IPv6Address
) -> NeighborAdvert:
    """Decode the ICMPv6 message ``data`` (type 136); the addresses feed the checksum."""
    need(data, _NA.size, "Neighbor Advertisement")
    icmp_type, code, cksum, flags, target = _NA.unpack_from(data)
    if icmp_type != ICMPV6_NEIGHBOR_ADVERT:
        raise DecodeError(f"ICMPv6 type {icmp_type} is not a Neighbor Advertisement")
    ll: bytes | None = None
    others: list[tuple[int, bytes]] = []
    off = _NA.size
    while off < len(data):
        need(data, off + 2, "ND option")
        otype, olen = data[off], data[off + 1] * 8
        if olen == 0:
            # RFC 4861 section 4.6: a zero length is invalid and the packet must be discarded.
            raise DecodeError("ND option with length 0")
        need(data, off + olen, "ND option")
        value = bytes(data[off + 2 : off + olen])
        if otype == OPT_TARGET_LL_ADDR and ll is None and len(value) == 6:
            ll = value
        else:
            others.append((otype, value))
        off += olen
    # RFC 4443 section 2.3: the ICMPv6 checksum covers the IPv6 pseudo-header.
    ok = inet_checksum(pseudo_header(src, dst, IPPROTO_ICMPV6, len(data)), data) == 0
    return NeighborAdvert(
        target=ipv6_address(target),
        router=bool(flags & _FLAG_ROUTER),
        solicited=bool(flags & _FLAG_SOLICITED),
        override=bool(flags & _FLAG_OVERRIDE),
        target_ll_addr=ll,
        code=code,
        reserved=flags & 0x1FFFFFFF,
        other_options=tuple(others),
        checksum=cksum,
        checksum_ok=ok,
    )


def build_na(
    na: NeighborAdvert, *, src: ipaddress.IPv6Address, dst: ipaddress.IPv6Address
) -> bytes:
    """The ICMPv6 message with a correct checksum."""
    flags = (
        (_FLAG_ROUTER if na.router else 0)
        | (_FLAG_SOLICITED if na.solicited else 0)
        | (_FLAG_OVERRIDE if na.override else 0)
        | (na.reserved & 0x1FFFFFFF)
    )
    opts = b""
    if na.target_ll_addr is not None:
        opts += _option(OPT_TARGET_LL_ADDR, na.target_ll_addr)
    for otype, value in na.other_options:
        opts += _option(otype, value)

    def pack(cksum: int) -> bytes:
        return _NA.pack(ICMPV6_NEIGHBOR_ADVERT, na.code, cksum, flags, na.target.packed) + opts

    raw = pack(0)
    return pack(inet_checksum(pseudo_header(src, dst, IPPROTO_ICMPV6, len(raw)), raw))


def _option(otype: int, value: bytes) -> bytes:
    if (len(value) + 2) % 8:
        raise ValueError(f"ND option {otype}: value of {len(value)} bytes is not 8n-2 long")
    return bytes((otype, (len(value) + 2) // 8)) + value


def unsolicited_na(mac: bytes, target: ipaddress.IPv6Address) -> NeighborAdvert:
    """What a VRRP master sends to ff02::1 for each IPv6 address (RFC 5798 section 6.4.2):
    Router and Override set, Solicited clear, with the virtual MAC as target link-layer address."""
    return NeighborAdvert(target=target, router=True, override=True, target_ll_addr=mac)


__all__ = [
    "ALL_NODES",
    "ICMPV6_NEIGHBOR_ADVERT",
    "NeighborAdvert",
    "build_na",
    "parse_na",
    "unsolicited_na",
]
