"""HSRP version 1 (RFC 2281) and version 2 (Cisco), carried in UDP.

HSRPv1 (RFC 2281 section 5.1), UDP port 1985 to 224.0.0.2 with TTL 1, 20 bytes::

     0                   1                   2                   3
    |   Version     |   Op Code     |     State     |   Hellotime   |
    |   Holdtime    |   Priority    |     Group     |   Reserved    |
    |                      Authentication  Data                     |
    |                      Authentication  Data                     |
    |                      Virtual IP Address                       |

Op Code 3, Advertise (the interface-state message of later IOS releases, not in the RFC), keeps
Version and Op Code and follows them with one TLV of 16-bit type and length, 16 bytes in all::

    |   Version     |  Op Code = 3  |             Type              |
    |            Length             |     State     |   Reserved    |
    |     Active Group Count        |     Passive Group Count       |
    |                           Reserved                            |

Some IOS releases append the MD5 authentication TLV (see ``hsrp_tlv``) to a 20-byte v1 message.

HSRPv2 (no RFC; Cisco's layout, see ``hsrp_tlv``) is a sequence of TLVs, sent to UDP port 1985
at 224.0.0.102 over IPv4 and to UDP port 2029 at ff02::66 over IPv6.

The two versions are told apart by the first byte: HSRPv1's Version is 0 (RFC 2281 section
5.1), HSRPv2 starts with a TLV type, never 0. Over IPv6 there is only HSRPv2. Unknown TLV types
are kept and counted, never fatal.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass, field

from .common import DecodeError, Finding, IPAddress, ipv4_address, need
from .hsrp_tlv import (
    DEFAULT_AUTHENTICATION_DATA,
    GroupState,
    InterfaceState,
    Md5Algorithm,
    Md5Auth,
    OpCode,
    TextAuth,
    Tlv,
    TlvType,
    UnknownTlv,
    V2State,
    build_tlv,
    code,
    parse_tlvs,
    timer_findings,
)
from .ours import HSRP_PORT, HSRP_V6_PORT

# UDP ports (from the "could this frame be ours" table): 1985 (RFC 2281 section 5.1; HSRPv2
# over IPv4 too) and 2029 (HSRPv2 over IPv6).
HSRP_V1_GROUP = ipaddress.IPv4Address("224.0.0.2")  # RFC 2281 section 5.1: all routers
HSRP_V2_GROUP_V4 = ipaddress.IPv4Address("224.0.0.102")
HSRP_V2_GROUP_V6 = ipaddress.IPv6Address("ff02::66")
# RFC 2281 section 5.1: version, op code, state, hellotime (s), holdtime (s), priority, group,
# reserved, authentication data (8), virtual IP address.
_V1 = struct.Struct("!BBBBBBBB8s4s")
# Op Code 3: version, op code, TLV type (16 bits), TLV length (16 bits, the TLV's whole size),
# state, reserved, active group count, passive group count, reserved (32 bits).
_V1_ADVERT = struct.Struct("!BBHHBBHHI")
_V1_ADVERT_LENGTH = _V1_ADVERT.size - 2


class V1State(enum.IntEnum):
    """HSRPv1 State (RFC 2281 section 5.1): one bit per state."""

    INITIAL = 0
    LEARN = 1
    LISTEN = 2
    SPEAK = 4
    STANDBY = 8
    ACTIVE = 16


class AdvertType(enum.IntEnum):
    """The TLV type of an HSRPv1 Advertise (Op Code 3)."""

    INTERFACE_STATE = 1
    IP_REDUNDANCY = 2


class AdvertState(enum.IntEnum):
    """The interface state in an HSRPv1 Advertise."""

    DORMANT = 1
    PASSIVE = 2
    ACTIVE = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class HsrpV1:
    """An HSRPv1 Hello, Coup or Resign (RFC 2281 section 5.1). Times are in seconds.

    ``tlvs`` holds what follows the 20 bytes: the MD5 authentication TLV some IOS releases
    append, or unknown TLVs. A ``version`` other than 0 is encoded as given but decodes as
    HSRPv2, since the first byte tells the versions apart.
    """

    version: int = 0
    op_code: int = OpCode.HELLO
    state: int
    hellotime_s: int = 3
    holdtime_s: int = 10
    priority: int = 100
    group: int
    reserved: int = 0
    authentication_data: bytes = DEFAULT_AUTHENTICATION_DATA
    virtual_ip_address: ipaddress.IPv4Address
    tlvs: tuple[Md5Auth | UnknownTlv, ...] = ()

    @property
    def protocol_version(self) -> int:
        return 1

    @property
    def hello_time_ms(self) -> int:
        return self.hellotime_s * 1000

    @property
    def hold_time_ms(self) -> int:
        return self.holdtime_s * 1000

    @property
    def is_active(self) -> bool:
        return self.state == V1State.ACTIVE

    @property
    def is_standby(self) -> bool:
        return self.state == V1State.STANDBY

    @property
    def password(self) -> bytes:
        """The text password, NUL padding stripped (RFC 2281 section 5.1)."""
        return self.authentication_data.rstrip(b"\x00")

    @property
    def md5_auth(self) -> Md5Auth | None:
        return next((t for t in self.tlvs if isinstance(t, Md5Auth)), None)

    @property
    def unknown_tlv_count(self) -> int:
        return sum(isinstance(t, UnknownTlv) for t in self.tlvs)

    def findings(self) -> tuple[Finding, ...]:
        """RFC 2281 violations visible in the message alone."""
        out: list[Finding] = []
        if self.version != 0:
            out.append(Finding.BAD_VERSION)
        if self.op_code not in (OpCode.HELLO, OpCode.COUP, OpCode.RESIGN):
            out.append(Finding.BAD_TYPE)
        if self.state not in V1State.__members__.values():
            out.append(Finding.BAD_STATE)
        # Hellotime and Holdtime are "only meaningful in Hello messages" (section 5.1). IOS
        # with millisecond timers, which one octet of seconds cannot hold, sends 0 in both.
        if self.op_code == OpCode.HELLO and (self.hellotime_s, self.holdtime_s) != (0, 0):
            out += timer_findings(self.hellotime_s, self.holdtime_s)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class HsrpV1Advert:
    """An HSRPv1 Advertise (Op Code 3): the interface state. ``length`` is the TLV's own
    Length field (14 when well formed); bytes after the 16 are ``trailing``."""

    version: int = 0
    type: int = AdvertType.INTERFACE_STATE
    length: int = _V1_ADVERT_LENGTH
    state: int
    reserved1: int = 0
    active_groups: int
    passive_groups: int
    reserved2: int = 0
    trailing: bytes = b""

    op_code: int = field(default=OpCode.ADVERTISE, init=False)

    @property
    def protocol_version(self) -> int:
        return 1

    def findings(self) -> tuple[Finding, ...]:
        out: list[Finding] = []
        if self.version != 0:
            out.append(Finding.BAD_VERSION)
        if self.state not in AdvertState.__members__.values():
            out.append(Finding.BAD_STATE)
        if self.length != _V1_ADVERT_LENGTH or self.trailing:
            out.append(Finding.COUNT_MISMATCH)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class HsrpV2:
    """An HSRPv2 message: its TLVs in wire order, unknown ones included."""

    tlvs: tuple[Tlv, ...]

    @property
    def protocol_version(self) -> int:
        return 2

    @property
    def group_states(self) -> tuple[GroupState, ...]:
        return tuple(t for t in self.tlvs if isinstance(t, GroupState))

    @property
    def group_state(self) -> GroupState | None:
        return next((t for t in self.tlvs if isinstance(t, GroupState)), None)

    @property
    def interface_state(self) -> InterfaceState | None:
        return next((t for t in self.tlvs if isinstance(t, InterfaceState)), None)

    @property
    def text_auth(self) -> TextAuth | None:
        return next((t for t in self.tlvs if isinstance(t, TextAuth)), None)

    @property
    def md5_auth(self) -> Md5Auth | None:
        return next((t for t in self.tlvs if isinstance(t, Md5Auth)), None)

    @property
    def password(self) -> bytes | None:
        """The text authentication TLV's password, NUL padding stripped; None without one."""
        auth = self.text_auth
        return None if auth is None else auth.authentication_data.rstrip(b"\x00")

    @property
    def unknown_tlv_count(self) -> int:
        return sum(isinstance(t, UnknownTlv) for t in self.tlvs)

    def findings(self) -> tuple[Finding, ...]:
        out: list[Finding] = []
        for gs in self.group_states:
            out += [f for f in gs.findings() if f not in out]
        return tuple(out)


HsrpMessage = HsrpV1 | HsrpV1Advert | HsrpV2


def is_hsrp_port(family: int, dst_port: int) -> bool:
    """Whether a UDP datagram to ``dst_port`` over IPv``family`` is HSRP's to decode."""
    return (family, dst_port) in ((4, HSRP_PORT), (6, HSRP_V6_PORT))


def parse_hsrp(data: bytes, *, family: int, dst_port: int) -> HsrpMessage:
    """Decode the UDP payload ``data`` of a datagram to ``dst_port`` over IPv``family``.

    Raises DecodeError when the port is not HSRP's for the family (1985 over IPv4, 2029 over
    IPv6) or the bytes cannot be decoded, Truncated when they end too soon.
    """
    if not is_hsrp_port(family, dst_port):
        raise DecodeError(f"HSRP: UDP port {dst_port} over IPv{family} is not HSRP")
    need(data, 1, "HSRP")
    if family == 4 and data[0] == 0:
        return _parse_v1(data)
    return HsrpV2(tlvs=parse_tlvs(data))


def _parse_v1(data: bytes) -> HsrpV1 | HsrpV1Advert:
    need(data, 2, "HSRPv1 header")
    op_code = data[1]
    if op_code == OpCode.ADVERTISE:
        need(data, _V1_ADVERT.size, "HSRPv1 advertise")
        version, _op, atype, length, state, rsvd1, active, passive, rsvd2 = _V1_ADVERT.unpack_from(
            data
        )
        return HsrpV1Advert(
            version=version,
            type=code(AdvertType, atype),
            length=length,
            state=code(AdvertState, state),
            reserved1=rsvd1,
            active_groups=active,
            passive_groups=passive,
            reserved2=rsvd2,
            trailing=bytes(data[_V1_ADVERT.size :]),
        )
    if op_code > OpCode.ADVERTISE:
        raise DecodeError(f"HSRPv1: unknown op code {op_code}")
    need(data, _V1.size, "HSRPv1 message")
    version, op, state, hello, hold, prio, group, rsvd, auth, vip = _V1.unpack_from(data)
    tlvs = tuple(
        t for t in parse_tlvs(data, _V1.size, v1=True) if isinstance(t, Md5Auth | UnknownTlv)
    )
    return HsrpV1(
        version=version,
        op_code=code(OpCode, op),
        state=code(V1State, state),
        hellotime_s=hello,
        holdtime_s=hold,
        priority=prio,
        group=group,
        reserved=rsvd,
        authentication_data=auth,
        virtual_ip_address=ipv4_address(vip),
        tlvs=tlvs,
    )


def build_hsrp(msg: HsrpMessage) -> bytes:
    """Encode a message (the UDP payload). Raises ValueError for fields that do not fit."""
    try:
        return _build(msg)
    except struct.error as exc:  # a number too large for its field
        raise ValueError(f"HSRP: {exc}") from None


def _build(msg: HsrpMessage) -> bytes:
    if isinstance(msg, HsrpV2):
        return b"".join(build_tlv(t) for t in msg.tlvs)
    if isinstance(msg, HsrpV1Advert):
        head = _V1_ADVERT.pack(
            msg.version,
            msg.op_code,
            msg.type,
            msg.length,
            msg.state,
            msg.reserved1,
            msg.active_groups,
            msg.passive_groups,
            msg.reserved2,
        )
        return head + msg.trailing
    if len(msg.authentication_data) != 8:
        raise ValueError("HSRPv1 Authentication Data is 8 bytes")
    head = _V1.pack(
        msg.version,
        msg.op_code,
        msg.state,
        msg.hellotime_s,
        msg.holdtime_s,
        msg.priority,
        msg.group,
        msg.reserved,
        msg.authentication_data,
        msg.virtual_ip_address.packed,
    )
    return head + b"".join(build_tlv(t) for t in msg.tlvs)


def validate_hsrp(
    msg: HsrpMessage,
    *,
    src: IPAddress,
    dst: IPAddress,
    ttl: int,
    src_port: int,
    dst_port: int,
) -> tuple[Finding, ...]:
    """Every finding for a message in its IP and UDP context.

    RFC 2281 section 5.1: HSRPv1 goes from UDP port 1985 to port 1985 at 224.0.0.2 with TTL 1.
    HSRPv2 uses 224.0.0.102 (port 1985) or ff02::66 (port 2029) and, published nowhere, no TTL
    rule we could check: real captures show TTL 1 and 255 over IPv4, hop limit 255 over IPv6.
    """
    out = list(msg.findings())
    if isinstance(msg, HsrpV2):
        group: IPAddress = HSRP_V2_GROUP_V4 if src.version == 4 else HSRP_V2_GROUP_V6
        port = HSRP_PORT if src.version == 4 else HSRP_V6_PORT
        if any(g.ip_version != src.version for g in msg.group_states):
            if Finding.FAMILY_MISMATCH not in out:
                out.append(Finding.FAMILY_MISMATCH)
    else:
        group, port = HSRP_V1_GROUP, HSRP_PORT
        if ttl != 1:
            out.append(Finding.TTL_NOT_1)
        if src.version != 4:
            out.append(Finding.FAMILY_MISMATCH)
    if dst != group:
        out.append(Finding.BAD_DESTINATION if dst.is_multicast else Finding.UNICAST_DESTINATION)
    if src_port != port or dst_port != port:
        out.append(Finding.BAD_PORT)
    return tuple(out)


def virtual_mac(group: int, *, protocol_version: int, family: int = 4) -> bytes:
    """The group's virtual MAC: 0000.0c07.acXX for HSRPv1 (RFC 2281 section 6.1), and, from
    Cisco's documentation, 0000.0c9f.fXXX for HSRPv2 over IPv4, 0005.73a0.0XXX over IPv6."""
    if protocol_version == 1:
        return bytes.fromhex("00000c07ac") + bytes((group & 0xFF,))
    base = 0x00000C9FF000 if family == 4 else 0x000573A00000
    return (base | (group & 0xFFF)).to_bytes(6, "big")


__all__ = [
    "DEFAULT_AUTHENTICATION_DATA",
    "HSRP_PORT",
    "HSRP_V1_GROUP",
    "HSRP_V2_GROUP_V4",
    "HSRP_V2_GROUP_V6",
    "HSRP_V6_PORT",
    "AdvertState",
    "AdvertType",
    "GroupState",
    "HsrpMessage",
    "HsrpV1",
    "HsrpV1Advert",
    "HsrpV2",
    "InterfaceState",
    "Md5Algorithm",
    "Md5Auth",
    "OpCode",
    "TextAuth",
    "Tlv",
    "TlvType",
    "UnknownTlv",
    "V1State",
    "V2State",
    "build_hsrp",
    "is_hsrp_port",
    "parse_hsrp",
    "validate_hsrp",
    "virtual_mac",
]
