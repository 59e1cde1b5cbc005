"""VRRPv2 (RFC 3768), VRRPv3 (RFC 5798) and CARP, all carried in IP protocol 112.

VRRPv2 (RFC 3768 section 5.1)::

     0                   1                   2                   3
    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
    |   Auth Type   |   Adver Int   |          Checksum             |
    |                         IP Address (1..n)                     |
    |                     Authentication Data (1)                   |
    |                     Authentication Data (2)                   |

VRRPv3 (RFC 5798 section 5.1)::

    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
    |(rsvd) |     Max Adver Int     |          Checksum             |
    |                    IPvX Address(es) (1..n)                    |

CARP (OpenBSD carp(4)) shares the first byte with VRRPv2 (version 2, type 1) and is 36 bytes:
vhid, advskew, authlen (7), demotion, advbase, checksum, an 8-byte counter and a 20-byte SHA-1
HMAC. Wireshark decodes it as VRRP by default; we tell them apart (see ``looks_like_carp``).
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from .common import (
    DecodeError,
    Finding,
    IPAddress,
    Truncated,
    inet_checksum,
    ipv4_address,
    ipv6_address,
    need,
    positional,
)

IPPROTO_VRRP = 112
# From the decoders' address cache: a decoded destination is usually this very object.
VRRP_MCAST_V4 = ipv4_address(bytes((224, 0, 0, 18)))
VRRP_MCAST_V6 = ipv6_address(bytes.fromhex("ff020000000000000000000000000012"))

# Byte 0: version (high nibble) and type (low nibble), RFC 3768 5.3.1-5.3.2 / RFC 5798 5.2.1-5.2.2.
# v2: vtype, vrid, priority, count, auth_type, adver_int (s), checksum.
_V2_HEADER = struct.Struct("!BBBBBBH")
# v3: vtype, vrid, priority, count, rsvd(4 bits) + max_adver_int (12 bits, cs), checksum.
_V3_HEADER = struct.Struct("!BBBBHH")
# CARP: vtype, vhid, advskew, authlen, demote, advbase, cksum, counter (8), md (20).
_CARP = struct.Struct("!BBBBBBH8s20s")
_V2_AUTH_LEN = 8


class AuthType(enum.IntEnum):
    """VRRPv2 Auth Type (RFC 3768 section 5.3.6; RFC 2338 defined 1 and 2)."""

    NONE = 0
    SIMPLE = 1
    AH = 2


class ChecksumStatus(enum.StrEnum):
    GOOD = "good"
    # VRRPv3 over IPv4 whose checksum only verifies without the pseudo-header: RFC 9568
    # section 5.2.8 clarified this variant, which Cisco and Juniper send. keepalived and FRR
    # include the pseudo-header, as RFC 5798 says.
    GOOD_WITHOUT_PSEUDO_HEADER = "good-without-pseudo-header"
    BAD = "bad"
    # The first fragment of a fragmented datagram: the rest of the message is elsewhere.
    UNVERIFIED = "unverified"


def auth_type_label(auth_type: int) -> str | int:
    """``none``/``simple``/``ah`` or the number itself (e.g. 254, Cisco's MD5)."""
    try:
        return {0: "none", 1: "simple", 2: "ah"}[auth_type]
    except KeyError:
        return auth_type


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpV2:
    """A VRRPv2 advertisement. ``checksum`` and ``checksum_status`` are derived data and take
    no part in equality, so ``parse_vrrp(build_vrrp(x)) == x`` whatever checksum ``x`` holds."""

    type: int = 1
    vrid: int
    priority: int
    count_ip_addrs: int
    auth_type: int = AuthType.NONE
    adver_int_s: int = 1
    addresses: tuple[ipaddress.IPv4Address, ...]
    auth_data: bytes = b"\x00" * _V2_AUTH_LEN
    checksum: int = field(default=0, compare=False)
    checksum_status: ChecksumStatus = field(default=ChecksumStatus.GOOD, compare=False)
    trailing: bytes = b""

    version: int = field(default=2, init=False)

    @property
    def interval_cs(self) -> int:
        return self.adver_int_s * 100

    @property
    def password(self) -> bytes | None:
        """The simple-text password with its NUL padding stripped (RFC 3768 section 5.3.10)."""
        if self.auth_type != AuthType.SIMPLE:
            return None
        return self.auth_data.rstrip(b"\x00")

    @property
    def family(self) -> int:
        return 4

    def findings(self) -> tuple[Finding, ...]:
        """RFC violations visible in the message alone."""
        out: list[Finding] = []
        if self.checksum_status is ChecksumStatus.BAD:
            out.append(Finding.BAD_CHECKSUM)
        if self.type != 1:
            out.append(Finding.BAD_TYPE)
        if self.adver_int_s == 0:
            out.append(Finding.INTERVAL_ZERO)
        if self.checksum_status is ChecksumStatus.UNVERIFIED:
            return tuple(out)  # a fragment: length checks need the whole message
        if self.trailing or self.count_ip_addrs != len(self.addresses):
            out.append(Finding.COUNT_MISMATCH)
        if len(self.auth_data) != _V2_AUTH_LEN:
            out.append(Finding.SHORT_AUTH_DATA)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class VrrpV3:
    """A VRRPv3 advertisement (IPv4 or IPv6 addresses, per the carrying IP header)."""

    type: int = 1
    vrid: int
    priority: int
    count_ip_addrs: int
    reserved: int = 0
    max_adver_int_cs: int = 100
    addresses: tuple[IPAddress, ...]
    checksum: int = field(default=0, compare=False)
    checksum_status: ChecksumStatus = field(default=ChecksumStatus.GOOD, compare=False)
    trailing: bytes = b""
    family: int = 4

    version: int = field(default=3, init=False)

    @property
    def interval_cs(self) -> int:
        return self.max_adver_int_cs

    @property
    def password(self) -> None:
        return None

    @property
    def auth_type(self) -> int:
        return AuthType.NONE

    def findings(self) -> tuple[Finding, ...]:
        out: list[Finding] = []
        if self.checksum_status is ChecksumStatus.BAD:
            out.append(Finding.BAD_CHECKSUM)
        if self.type != 1:
            out.append(Finding.BAD_TYPE)
        if self.max_adver_int_cs == 0:
            out.append(Finding.INTERVAL_ZERO)
        if self.checksum_status is ChecksumStatus.UNVERIFIED:
            return tuple(out)  # a fragment: length checks need the whole message
        if self.trailing or self.count_ip_addrs != len(self.addresses):
            out.append(Finding.COUNT_MISMATCH)
        return tuple(out)


VrrpPacket = VrrpV2 | VrrpV3


@dataclass(frozen=True, slots=True, kw_only=True)
class CarpPacket:
    """An OpenBSD CARP advertisement (not VRRP, though it shares protocol 112 and 224.0.0.18)."""

    version: int = 2
    type: int = 1
    vhid: int
    advskew: int
    authlen: int = 7
    demotion: int = 0
    advbase_s: int = 1
    counter: bytes = b"\x00" * 8
    hmac: bytes = b"\x00" * 20
    checksum: int = field(default=0, compare=False)
    checksum_ok: bool = field(default=True, compare=False)


_new_v2 = positional(
    VrrpV2, "type", "vrid", "priority", "count_ip_addrs", "auth_type", "adver_int_s",
    "addresses", "auth_data", "checksum", "checksum_status", "trailing", "version",
)  # fmt: skip
_new_v3 = positional(
    VrrpV3, "type", "vrid", "priority", "count_ip_addrs", "reserved", "max_adver_int_cs",
    "addresses", "checksum", "checksum_status", "trailing", "family", "version",
)  # fmt: skip


def _pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    # RFC 5798 section 5.2.8: the checksum covers an IPv4 (RFC 768) or IPv6 (RFC 8200
    # section 8.1) pseudo-header. The real destination is used, so unicast VRRP verifies too.
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)


def looks_like_carp(data: bytes | memoryview) -> bool:
    """CARP: version 2, type 1, exactly 36 bytes and authlen 7.

    A VRRPv2 message of 36 bytes carries 5 addresses (16 + 4 x 5), so count 7 there is
    impossible; CARP always sends authlen 7 (the 28 bytes after the first 8, in 32-bit words).
    """
    return len(data) == _CARP.size and data[0] == 0x21 and data[3] == 7


def parse_carp(data: bytes | memoryview) -> CarpPacket:
    need(data, _CARP.size, "CARP")
    vtype, vhid, advskew, authlen, demote, advbase, cksum, counter, md = _CARP.unpack_from(data)
    return CarpPacket(
        version=vtype >> 4,
        type=vtype & 0x0F,
        vhid=vhid,
        advskew=advskew,
        authlen=authlen,
        demotion=demote,
        advbase_s=advbase,
        counter=counter,
        hmac=md,
        checksum=cksum,
        checksum_ok=inet_checksum(data[: _CARP.size]) == 0,
    )


def build_carp(pkt: CarpPacket) -> bytes:
    def pack(cksum: int) -> bytes:
        return _CARP.pack(
            (pkt.version << 4) | pkt.type,
            pkt.vhid,
            pkt.advskew,
            pkt.authlen,
            pkt.demotion,
            pkt.advbase_s,
            cksum,
            pkt.counter,
            pkt.hmac,
        )

    return pack(inet_checksum(pack(0)))


def parse_vrrp(
    data: bytes | memoryview, *, src: IPAddress, dst: IPAddress, fragment: bool = False
) -> VrrpPacket:
    """Decode a VRRP message: ``data`` is exactly the IP payload (padding already removed).

    ``src`` and ``dst`` are the carrying IP header's addresses; they select the VRRPv3 address
    family and feed the pseudo-header checksum. ``fragment=True`` says ``data`` is the start
    of a fragmented datagram: the addresses present are decoded, the checksum is UNVERIFIED.
    """
    need(data, 1, "VRRP")
    version = data[0] >> 4
    if version == 2:
        return _parse_v2(data, fragment)
    if version == 3:
        return _parse_v3(data, src, dst, fragment)
    raise DecodeError(f"VRRP: unknown version {version}")


def _parse_v2(data: bytes | memoryview, fragment: bool = False) -> VrrpV2:
    need(data, _V2_HEADER.size, "VRRPv2 header")
    vtype, vrid, prio, count, auth_type, adver_int, cksum = _V2_HEADER.unpack_from(data)
    end = _V2_HEADER.size + 4 * count
    if fragment:
        end = min(end, _V2_HEADER.size + (len(data) - _V2_HEADER.size) // 4 * 4)
    # The Authentication Data is 8 bytes (RFC 3768 section 5.3.10), but some senders omit it
    # when Auth Type is 0 (PcapPlusPlus' VRRP-V2.pcap; Wireshark accepts it). Short auth data
    # is kept as it is and reported; short addresses are truncation.
    need(data, end, f"VRRPv2 with {count} addresses")
    raw = data if type(data) is bytes else bytes(data)
    addrs = tuple([ipv4_address(raw[off : off + 4]) for off in range(_V2_HEADER.size, end, 4)])
    # RFC 3768 section 5.3.8: checksum over the entire VRRP message, no pseudo-header.
    ok = inet_checksum(raw) == 0
    if fragment:
        status = ChecksumStatus.UNVERIFIED
    else:
        status = ChecksumStatus.GOOD if ok else ChecksumStatus.BAD
    return _new_v2(
        vtype & 0x0F,
        vrid,
        prio,
        count,
        auth_type,
        adver_int,
        addrs,
        raw[end : end + _V2_AUTH_LEN],
        cksum,
        status,
        raw[end + _V2_AUTH_LEN :],
        2,
    )


def _parse_v3(
    data: bytes | memoryview, src: IPAddress, dst: IPAddress, fragment: bool = False
) -> VrrpV3:
    need(data, _V3_HEADER.size, "VRRPv3 header")
    vtype, vrid, prio, count, rsvd_int, cksum = _V3_HEADER.unpack_from(data)
    alen = 4 if src.version == 4 else 16
    if alen == 4 and not fragment and count and len(data) == _V3_HEADER.size + 16 * count:
        # Exactly ``count`` IPv6 addresses over IPv4 (RFC 5798 section 5.2.9 wants addresses of
        # the carrying IP version): decode them, validate_advert reports FAMILY_MISMATCH. The
        # converse (4n bytes over IPv6) stays truncation: it is also a prefix of a good packet.
        alen = 16
    end = _V3_HEADER.size + alen * count
    if fragment:
        end = min(end, _V3_HEADER.size + (len(data) - _V3_HEADER.size) // alen * alen)
    need(data, end, f"VRRPv3 with {count} addresses")
    raw = data if type(data) is bytes else bytes(data)
    cls = ipv4_address if alen == 4 else ipv6_address
    addrs = tuple([cls(raw[off : off + alen]) for off in range(_V3_HEADER.size, end, alen)])
    if fragment:
        status = ChecksumStatus.UNVERIFIED
    elif inet_checksum(_pseudo_header(src, dst, len(raw)), raw) == 0:
        status = ChecksumStatus.GOOD
    elif alen == 4 and inet_checksum(raw) == 0:
        status = ChecksumStatus.GOOD_WITHOUT_PSEUDO_HEADER
    else:
        status = ChecksumStatus.BAD
    return _new_v3(
        vtype & 0x0F,
        vrid,
        prio,
        count,
        rsvd_int >> 12,
        rsvd_int & 0x0FFF,
        addrs,
        cksum,
        status,
        raw[end:],
        src.version,
        3,
    )


def build_vrrp(
    adv: VrrpPacket,
    *,
    src: IPAddress,
    dst: IPAddress,
    pseudo_header: bool = True,
    checksum: int | None = None,
) -> bytes:
    """Encode an advertisement with a correct checksum (or ``checksum`` if given, for tests).

    ``pseudo_header=False`` produces the RFC 9568 IPv4 variant of the VRRPv3 checksum.
    """
    if isinstance(adv, VrrpV2):
        auth = adv.auth_data
        body = b"".join(a.packed for a in adv.addresses) + auth + adv.trailing

        def pack2(c: int) -> bytes:
            head = _V2_HEADER.pack(
                0x20 | adv.type,
                adv.vrid,
                adv.priority,
                adv.count_ip_addrs,
                adv.auth_type,
                adv.adver_int_s,
                c,
            )
            return head + body

        return pack2(inet_checksum(pack2(0)) if checksum is None else checksum)

    body = b"".join(a.packed for a in adv.addresses) + adv.trailing

    def pack3(c: int) -> bytes:
        head = _V3_HEADER.pack(
            0x30 | adv.type,
            adv.vrid,
            adv.priority,
            adv.count_ip_addrs,
            (adv.reserved << 12) | (adv.max_adver_int_cs & 0x0FFF),
            c,
        )
        return head + body

    if checksum is None:
        unsummed = pack3(0)
        if pseudo_header or src.version == 6:
            checksum = inet_checksum(_pseudo_header(src, dst, len(unsummed)), unsummed)
        else:
            checksum = inet_checksum(unsummed)
    return pack3(checksum)


def virtual_mac(vrid: int, family: int) -> bytes:
    """00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6 (RFC 5798 section 7.3)."""
    return bytes((0x00, 0x00, 0x5E, 0x00, 0x01 if family == 4 else 0x02, vrid & 0xFF))


# virtual_mac(vrid, 4) and virtual_mac(vrid, 6) for every VRID (validate_advert's, per advert)
_VIRTUAL_MACS = (
    tuple(virtual_mac(v, 4) for v in range(256)),
    tuple(virtual_mac(v, 6) for v in range(256)),
)

# RFC 5798 / RFC 3768 section 7.1: the findings for which every receiver discards an advert by
# itself, whatever its own configuration (in this order: join reports the first). The others
# are tolerated: a unicast or foreign destination (keepalived's and FRR's unicast peers), a
# source MAC that is not the virtual MAC (keepalived without use_vmac), short VRRPv2 auth data.
# join's router discards by them (``vrrpwatch.join.router.DISCARDED_FINDINGS`` maps each to its
# reason) and the watcher does not follow an advert that has one.
RECEIVER_DISCARDS: tuple[Finding, ...] = (
    Finding.TTL_NOT_255,
    Finding.BAD_CHECKSUM,
    Finding.BAD_TYPE,
    Finding.COUNT_MISMATCH,
    Finding.FAMILY_MISMATCH,
    Finding.INTERVAL_ZERO,
)
_RECEIVER_DISCARDS = frozenset(RECEIVER_DISCARDS)


def discarded_by_receivers(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The findings among ``findings`` for which every receiver discards the advert."""
    return tuple(f for f in findings if f in _RECEIVER_DISCARDS)


def validate_advert(
    adv: VrrpPacket,
    *,
    src: IPAddress,
    dst: IPAddress,
    ttl: int,
    src_mac: bytes | None = None,
) -> tuple[Finding, ...]:
    """Every finding for an advert in its IP (and, when known, Ethernet) context.

    RFC 5798 section 7.1 / RFC 3768 section 7.1: TTL/hop limit must be 255; the destination is
    the VRRP multicast group (unicast is a keepalived/FRR extension, reported, not rejected).
    RFC 5798 section 7.3: adverts come from the virtual MAC (keepalived without use_vmac
    sends from the interface MAC, so this finding is informational).

    These are the section 7.1 receive checks a packet fails by itself, written once: the
    watcher reports them, and join's router (and its learning) and the watcher discard by
    those in ``RECEIVER_DISCARDS``.
    """
    out = list(adv.findings())
    if ttl != 255:
        out.append(Finding.TTL_NOT_255)
    family = src.version
    group = VRRP_MCAST_V4 if family == 4 else VRRP_MCAST_V6
    if dst is not group and dst != group:  # (the decoders' address cache shares the group's)
        out.append(Finding.BAD_DESTINATION if dst.is_multicast else Finding.UNICAST_DESTINATION)
    if isinstance(adv, VrrpV2):
        if family != 4:
            out.append(Finding.FAMILY_MISMATCH)
    else:
        for a in adv.addresses:
            if a.version != family:
                out.append(Finding.FAMILY_MISMATCH)
                break
    if src_mac is not None and src_mac != _VIRTUAL_MACS[family == 6][adv.vrid & 0xFF]:
        out.append(Finding.BAD_SOURCE_MAC)
    return tuple(out)


__all__ = [
    "AuthType",
    "CarpPacket",
    "RECEIVER_DISCARDS",
    "ChecksumStatus",
    "DecodeError",
    "IPPROTO_VRRP",
    "Truncated",
    "VRRP_MCAST_V4",
    "VRRP_MCAST_V6",
    "VrrpPacket",
    "VrrpV2",
    "VrrpV3",
    "auth_type_label",
    "build_carp",
    "build_vrrp",
    "discarded_by_receivers",
    "looks_like_carp",
    "parse_carp",
    "parse_vrrp",
    "validate_advert",
    "virtual_mac",
]
