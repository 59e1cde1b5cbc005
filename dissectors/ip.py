"""IPv4 (RFC 791) and IPv6 (RFC 8200) headers, IPsec AH (RFC 4302) and UDP (RFC 768).

``parse_ipv4``/``parse_ipv6`` return the header and the upper-layer payload with link-layer
padding removed (the IP length fields say where the datagram ends). IPv6 extension headers are
walked up to the first upper-layer protocol; AH is kept as its own header because VRRPv2 with
Auth Type 2 (RFC 2338 section 5.3.6) travels inside it.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from .common import (
    DecodeError,
    IPAddress,
    inet_checksum,
    ipv4_address,
    ipv6_address,
    need,
    positional,
)
from .ours import (
    IPPROTO_AH,
    IPPROTO_DSTOPTS,
    IPPROTO_FRAGMENT,
    IPPROTO_HOPOPTS,
    IPPROTO_ICMPV6,
    IPPROTO_ROUTING,
    IPPROTO_VRRP,
    IPV6_EXTENSIONS,
)

IPPROTO_UDP = 17
IPPROTO_ESP = 50
IPPROTO_NONE = 59
# The extension headers walked (RFC 8200 section 4, RFC 7045): the "could this be ours" table's.
_V6_EXTENSIONS = IPV6_EXTENSIONS

# RFC 791 section 3.1: version/IHL, TOS, total length, identification, flags/fragment offset,
# TTL, protocol, header checksum, source, destination.
_V4 = struct.Struct("!BBHHHBBH4s4s")
# RFC 8200 section 3: version/traffic class/flow label (32 bits), payload length, next header,
# hop limit, source, destination.
_V6 = struct.Struct("!IHBB16s16s")
# RFC 4302 section 2: next header, payload length (in 32-bit words, minus 2), reserved, SPI,
# sequence number; the ICV follows.
_AH = struct.Struct("!BBHII")
# RFC 768: source port, destination port, length (header included), checksum.
_UDP = struct.Struct("!HHHH")


@dataclass(frozen=True, slots=True, kw_only=True)
class IPv4Header:
    src: ipaddress.IPv4Address
    dst: ipaddress.IPv4Address
    protocol: int
    ttl: int = 255
    tos: int = 0
    identification: int = 0
    dont_fragment: bool = False
    more_fragments: bool = False
    fragment_offset: int = 0  # in 8-byte units, as on the wire
    options: bytes = b""
    total_length: int = field(default=0, compare=False)
    checksum: int = field(default=0, compare=False)
    checksum_ok: bool = field(default=True, compare=False)

    @property
    def family(self) -> int:
        return 4

    @property
    def hop_limit(self) -> int:
        return self.ttl

    @property
    def is_fragment(self) -> bool:
        return self.more_fragments or self.fragment_offset != 0


@dataclass(frozen=True, slots=True, kw_only=True)
class IPv6Header:
    src: ipaddress.IPv6Address
    dst: ipaddress.IPv6Address
    next_header: int  # of the fixed header
    hop_limit: int = 255
    traffic_class: int = 0
    flow_label: int = 0
    # Upper-layer protocol reached after walking the extension headers, and the headers walked.
    protocol: int = field(default=-1)
    extension_headers: tuple[int, ...] = ()
    fragment_offset: int = 0  # from a Fragment header, in 8-byte units
    more_fragments: bool = False
    payload_length: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.protocol == -1:
            object.__setattr__(self, "protocol", self.next_header)

    @property
    def family(self) -> int:
        return 6

    @property
    def ttl(self) -> int:
        return self.hop_limit

    @property
    def is_fragment(self) -> bool:
        return self.more_fragments or self.fragment_offset != 0


IPHeader = IPv4Header | IPv6Header


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthHeader:
    """IPsec Authentication Header (RFC 4302 section 2)."""

    next_header: int
    spi: int
    sequence: int
    icv: bytes = b""
    reserved: int = 0


_new_ipv4 = positional(
    IPv4Header, "src", "dst", "protocol", "ttl", "tos", "identification", "dont_fragment",
    "more_fragments", "fragment_offset", "options", "total_length", "checksum", "checksum_ok",
)  # fmt: skip
_new_ipv6 = positional(
    IPv6Header, "src", "dst", "next_header", "hop_limit", "traffic_class", "flow_label",
    "protocol", "extension_headers", "fragment_offset", "more_fragments", "payload_length",
)  # fmt: skip


def parse_ipv4(data: bytes, off: int = 0) -> tuple[IPv4Header, bytes]:
    """The IPv4 header at ``off`` and its payload (up to Total Length)."""
    need(data, off + _V4.size, "IPv4 header")
    vihl, tos, total, ident, frag, ttl, proto, cksum, src, dst = _V4.unpack_from(data, off)
    if vihl >> 4 != 4:
        raise DecodeError(f"IPv4: version {vihl >> 4}")
    ihl = (vihl & 0x0F) * 4
    if ihl < _V4.size:
        raise DecodeError(f"IPv4: header length {ihl} below 20")
    if total < ihl:
        raise DecodeError(f"IPv4: total length {total} below header length {ihl}")
    need(data, off + total, "IPv4 datagram")
    header = _new_ipv4(
        ipv4_address(src),
        ipv4_address(dst),
        proto,
        ttl,
        tos,
        ident,
        bool(frag & 0x4000),
        bool(frag & 0x2000),
        frag & 0x1FFF,
        bytes(data[off + _V4.size : off + ihl]),
        total,
        cksum,
        inet_checksum(data[off : off + ihl]) == 0,
    )
    return header, bytes(data[off + ihl : off + total])


def build_ipv4(header: IPv4Header, payload: bytes) -> bytes:
    """An IPv4 header (with a correct header checksum) followed by ``payload``."""
    options = header.options + b"\x00" * (-len(header.options) % 4)
    ihl = _V4.size + len(options)
    frag = (
        (0x4000 if header.dont_fragment else 0)
        | (0x2000 if header.more_fragments else 0)
        | (header.fragment_offset & 0x1FFF)
    )

    def pack(cksum: int) -> bytes:
        return (
            _V4.pack(
                0x40 | (ihl // 4),
                header.tos,
                ihl + len(payload),
                header.identification,
                frag,
                header.ttl,
                header.protocol,
                cksum,
                header.src.packed,
                header.dst.packed,
            )
            + options
        )

    return pack(inet_checksum(pack(0))) + payload


def parse_ipv6(data: bytes, off: int = 0) -> tuple[IPv6Header, bytes]:
    """The IPv6 header at ``off`` and the payload after the extension headers (not AH).

    Walking stops at the first header that is not a generic extension header or a Fragment
    header: an upper-layer protocol, AH, ESP or No Next Header.
    """
    need(data, off + _V6.size, "IPv6 header")
    vtcfl, plen, nxt, hlim, src, dst = _V6.unpack_from(data, off)
    if vtcfl >> 28 != 6:
        raise DecodeError(f"IPv6: version {vtcfl >> 28}")
    start = off + _V6.size
    # A payload length of 0 means a Jumbo Payload option (RFC 2675); take what was captured.
    end = start + plen if plen else len(data)
    need(data, end, "IPv6 datagram")
    walked: list[int] = []
    proto, pos = nxt, start
    frag_off, more = 0, False
    while proto in _V6_EXTENSIONS or proto == IPPROTO_FRAGMENT:
        need(data[:end], pos + 8, "IPv6 extension header")
        walked.append(proto)
        if proto == IPPROTO_FRAGMENT:
            # RFC 8200 section 4.5: next header, reserved, offset (13 bits) + res + M flag, id.
            fo = int.from_bytes(data[pos + 2 : pos + 4], "big")
            frag_off, more = fo >> 3, bool(fo & 1)
            proto, pos = data[pos], pos + 8
            if frag_off:
                break  # a later fragment: what follows is not a header
        else:
            proto, pos = data[pos], pos + 8 + data[pos + 1] * 8
    need(data[:end], pos, "IPv6 extension headers")
    header = _new_ipv6(
        ipv6_address(src),
        ipv6_address(dst),
        nxt,
        hlim,
        (vtcfl >> 20) & 0xFF,
        vtcfl & 0xFFFFF,
        proto,
        tuple(walked),
        frag_off,
        more,
        plen,
    )
    return header, bytes(data[pos:end])


def build_ipv6(header: IPv6Header, payload: bytes) -> bytes:
    """A fixed IPv6 header followed by ``payload`` (extension headers are the caller's)."""
    vtcfl = (6 << 28) | ((header.traffic_class & 0xFF) << 20) | (header.flow_label & 0xFFFFF)
    return (
        _V6.pack(
            vtcfl,
            len(payload),
            header.next_header,
            header.hop_limit,
            header.src.packed,
            header.dst.packed,
        )
        + payload
    )


def parse_ah(data: bytes) -> tuple[AuthHeader, bytes]:
    """The AH header at the start of ``data`` and what it protects."""
    need(data, _AH.size, "AH header")
    nxt, plen, reserved, spi, seq = _AH.unpack_from(data)
    # RFC 4302 section 2.2: Payload Length is the AH length in 32-bit words minus 2.
    length = (plen + 2) * 4
    if length < _AH.size:
        raise DecodeError(f"AH: payload length {plen} is too small")
    need(data, length, "AH header with ICV")
    ah = AuthHeader(
        next_header=nxt,
        spi=spi,
        sequence=seq,
        icv=bytes(data[_AH.size : length]),
        reserved=reserved,
    )
    return ah, bytes(data[length:])


def build_ah(ah: AuthHeader, payload: bytes) -> bytes:
    icv = ah.icv + b"\x00" * (-len(ah.icv) % 4)
    plen = (_AH.size + len(icv)) // 4 - 2
    return _AH.pack(ah.next_header, plen, ah.reserved, ah.spi, ah.sequence) + icv + payload


@dataclass(frozen=True, slots=True, kw_only=True)
class UdpHeader:
    """A UDP header (RFC 768). ``checksum_ok`` is None when the sender sent no checksum (0,
    allowed over IPv4 only)."""

    src_port: int
    dst_port: int
    length: int = field(default=0, compare=False)
    checksum: int = field(default=0, compare=False)
    checksum_ok: bool | None = field(default=True, compare=False)


def parse_udp(
    data: bytes,
    *,
    src: IPAddress,
    dst: IPAddress,
) -> tuple[UdpHeader, bytes]:
    """The UDP header at the start of ``data`` (the IP payload) and the datagram's payload."""
    need(data, _UDP.size, "UDP header")
    sport, dport, length, cksum = _UDP.unpack_from(data)
    if length < _UDP.size:
        raise DecodeError(f"UDP: length {length} below 8")
    need(data, length, "UDP datagram")
    # RFC 768 / RFC 8200 section 8.1: the checksum covers a pseudo-header; 0 means none (IPv4).
    ok = (
        None
        if cksum == 0
        else inet_checksum(pseudo_header(src, dst, IPPROTO_UDP, length), data[:length]) == 0
    )
    header = UdpHeader(
        src_port=sport, dst_port=dport, length=length, checksum=cksum, checksum_ok=ok
    )
    return header, bytes(data[_UDP.size : length])


def build_udp(
    header: UdpHeader,
    payload: bytes,
    *,
    src: IPAddress,
    dst: IPAddress,
) -> bytes:
    """A UDP datagram with a correct length and checksum (0xffff stands for a sum of 0)."""
    length = _UDP.size + len(payload)
    unsummed = _UDP.pack(header.src_port, header.dst_port, length, 0) + payload
    cksum = inet_checksum(pseudo_header(src, dst, IPPROTO_UDP, length), unsummed) or 0xFFFF
    return _UDP.pack(header.src_port, header.dst_port, length, cksum) + payload


def pseudo_header(
    src: ipaddress.IPv4Address | ipaddress.IPv6Address,
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address,
    protocol: int,
    length: int,
) -> bytes:
    """The upper-layer checksum pseudo-header: RFC 768 for IPv4, RFC 8200 section 8.1 for IPv6."""
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, protocol, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, protocol)


__all__ = [
    "IPPROTO_AH",
    "IPPROTO_DSTOPTS",
    "IPPROTO_FRAGMENT",
    "IPPROTO_HOPOPTS",
    "IPPROTO_ICMPV6",
    "IPPROTO_ROUTING",
    "IPPROTO_VRRP",
    "AuthHeader",
    "IPHeader",
    "IPv4Header",
    "IPv6Header",
    "UdpHeader",
    "build_ah",
    "build_ipv4",
    "build_ipv6",
    "build_udp",
    "parse_ah",
    "parse_ipv4",
    "parse_ipv6",
    "parse_udp",
    "pseudo_header",
]
