"""HSRP TLVs: HSRPv2's four (group state, interface state, text and MD5 authentication), the
MD5 authentication TLV that some IOS releases append to HSRPv1, and the codes both versions share.

HSRPv2 has no RFC: its layout is Cisco's, as Wireshark's packet-hsrp.c documents it. A TLV is
an 8-bit type, an 8-bit length of the value that follows, and the value::

    group state (1), 40 bytes:
    |    Type=1     |  Length=40    | HSRP Version  |    Opcode     |
    |     State     |  IP Version   |         Group Number          |
    |                  Identifier (6 bytes: the sender's MAC)       |
    |  ...          |             Priority (32 bits)                |
    |  ...          |        Hello Time (32 bits, milliseconds)     |
    |  ...          |        Hold Time (32 bits, milliseconds)      |
    |  ...          |  Virtual IP Address (16 bytes; IPv4 in the first 4)
    interface state (2), 4 bytes: active groups (16 bits), passive groups (16 bits)
    text authentication (3), 8 bytes: the password, NUL padded
    MD5 authentication (4), 28 bytes: algorithm, padding, flags (16 bits), the sender's IPv4
        address, key id (32 bits), 16-byte digest

Unknown TLV types are kept as ``UnknownTlv`` (their bytes, undecoded) and counted; a known type
whose length is not its fixed size cannot be decoded and raises DecodeError.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .common import DecodeError, Finding, IPAddress, ipv4_address, ipv6_address, need

# RFC 2281 section 5.1: the RECOMMENDED default Authentication Data, "cisco" NUL padded.
DEFAULT_AUTHENTICATION_DATA = b"cisco\x00\x00\x00"

_TLV = struct.Struct("!BB")  # HSRPv2 (and v1's MD5 TLV): type, length of the value
# Group state TLV value: version, opcode, state, IP version, group (16 bits), identifier (6),
# priority (32 bits), hello time (ms), hold time (ms), virtual IP address (16).
_GROUP_STATE = struct.Struct("!BBBBH6sIII16s")
_INTERFACE_STATE = struct.Struct("!HH")  # active groups, passive groups
_TEXT_AUTH_LEN = 8
# MD5 authentication TLV value: algorithm, padding, flags (16 bits), IP address, key id
# (32 bits), digest (16).
_MD5_AUTH = struct.Struct("!BBH4sI16s")


class OpCode(enum.IntEnum):
    """Op Code (RFC 2281 section 5.1; Advertise is Cisco's later interface-state message)."""

    HELLO = 0
    COUP = 1
    RESIGN = 2
    ADVERTISE = 3  # HSRPv1 only


class V2State(enum.IntEnum):
    """HSRPv2 group state TLV State: consecutive numbers, unlike v1."""

    DISABLED = 0
    INIT = 1
    LEARN = 2
    LISTEN = 3
    SPEAK = 4
    STANDBY = 5
    ACTIVE = 6


class TlvType(enum.IntEnum):
    GROUP_STATE = 1
    INTERFACE_STATE = 2
    TEXT_AUTH = 3
    MD5_AUTH = 4


class Md5Algorithm(enum.IntEnum):
    MD5 = 1


def code(cls: type[enum.IntEnum], value: int) -> int:
    """The enum member for a known code, the number itself otherwise (a dict lookup: the
    decoder runs for every HSRP packet of a capture)."""
    member: int = cls._value2member_map_.get(value, value)  # type: ignore[assignment]
    return member


def timer_findings(hello: int, hold: int) -> list[Finding]:
    # RFC 2281 section 5.1: the Holdtime MUST be greater than the Hellotime.
    out: list[Finding] = []
    if hello == 0:
        out.append(Finding.INTERVAL_ZERO)
    if hold <= hello:
        out.append(Finding.HOLD_NOT_ABOVE_HELLO)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Md5Auth:
    """The MD5 authentication TLV (type 4), in HSRPv2 and after some IOS HSRPv1 messages."""

    algorithm: int = Md5Algorithm.MD5
    padding: int = 0
    flags: int = 0
    ip_address: ipaddress.IPv4Address
    key_id: int = 0
    authentication_data: bytes  # the 16-byte digest

    type: int = field(default=TlvType.MD5_AUTH, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownTlv:
    """A TLV of a type we do not decode: kept as it came, counted, never fatal."""

    type: int
    value: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupState:
    """The HSRPv2 group state TLV (type 1). Times are in milliseconds, as on the wire.

    ``virtual_ip_address`` is None when ``ip_version`` is neither 4 nor 6; the bytes of the
    16-byte field that the address does not use are ``virtual_ip_padding`` (12 for IPv4).
    """

    version: int = 2
    op_code: int = OpCode.HELLO
    state: int
    ip_version: int = 4
    group: int
    identifier: bytes  # 6 bytes: the sender's MAC address
    priority: int = 100
    hello_time_ms: int = 3000
    hold_time_ms: int = 10000
    virtual_ip_address: IPAddress | None
    virtual_ip_padding: bytes = bytes(12)

    type: int = field(default=TlvType.GROUP_STATE, init=False)

    @property
    def is_active(self) -> bool:
        return self.state == V2State.ACTIVE

    @property
    def is_standby(self) -> bool:
        return self.state == V2State.STANDBY

    def findings(self) -> tuple[Finding, ...]:
        out: list[Finding] = []
        if self.version != 2:
            out.append(Finding.BAD_VERSION)
        if self.op_code not in (OpCode.HELLO, OpCode.COUP, OpCode.RESIGN):
            out.append(Finding.BAD_TYPE)
        if self.state not in V2State.__members__.values():
            out.append(Finding.BAD_STATE)
        if self.ip_version not in (4, 6):
            out.append(Finding.FAMILY_MISMATCH)
        if self.op_code == OpCode.HELLO:
            out += timer_findings(self.hello_time_ms, self.hold_time_ms)
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class InterfaceState:
    """The HSRPv2 interface state TLV (type 2)."""

    active_groups: int
    passive_groups: int

    type: int = field(default=TlvType.INTERFACE_STATE, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TextAuth:
    """The HSRPv2 text authentication TLV (type 3): 8 bytes, NUL padded."""

    authentication_data: bytes = DEFAULT_AUTHENTICATION_DATA

    type: int = field(default=TlvType.TEXT_AUTH, init=False)


Tlv = GroupState | InterfaceState | TextAuth | Md5Auth | UnknownTlv


def _group_state(value: bytes) -> GroupState:
    version, op, state, ipver, group, ident, prio, hello, hold, vip = _GROUP_STATE.unpack(value)
    addr: IPAddress | None
    if ipver == 4:
        addr, padding = ipv4_address(vip[:4]), vip[4:]
    elif ipver == 6:
        addr, padding = ipv6_address(vip), b""
    else:
        addr, padding = None, vip
    return GroupState(
        version=version,
        op_code=code(OpCode, op),
        state=code(V2State, state),
        ip_version=ipver,
        group=group,
        identifier=ident,
        priority=prio,
        hello_time_ms=hello,
        hold_time_ms=hold,
        virtual_ip_address=addr,
        virtual_ip_padding=padding,
    )


def _interface_state(value: bytes) -> InterfaceState:
    active, passive = _INTERFACE_STATE.unpack(value)
    return InterfaceState(active_groups=active, passive_groups=passive)


def _text_auth(value: bytes) -> TextAuth:
    return TextAuth(authentication_data=value)


def _md5_auth(value: bytes) -> Md5Auth:
    algorithm, padding, flags, ip, key_id, digest = _MD5_AUTH.unpack(value)
    return Md5Auth(
        algorithm=code(Md5Algorithm, algorithm),
        padding=padding,
        flags=flags,
        ip_address=ipv4_address(ip),
        key_id=key_id,
        authentication_data=digest,
    )


# Known TLV types: their fixed value length and decoder.
_V2_TLVS: dict[int, tuple[int, Callable[[bytes], Tlv]]] = {
    TlvType.GROUP_STATE: (_GROUP_STATE.size, _group_state),
    TlvType.INTERFACE_STATE: (_INTERFACE_STATE.size, _interface_state),
    TlvType.TEXT_AUTH: (_TEXT_AUTH_LEN, _text_auth),
    TlvType.MD5_AUTH: (_MD5_AUTH.size, _md5_auth),
}
_V1_TLVS: dict[int, tuple[int, Callable[[bytes], Tlv]]] = {
    TlvType.MD5_AUTH: _V2_TLVS[TlvType.MD5_AUTH]
}


def parse_tlvs(data: bytes, off: int = 0, *, v1: bool = False) -> tuple[Tlv, ...]:
    """The TLVs from ``off`` to the end of ``data``. After an HSRPv1 message (``v1``) only the
    MD5 authentication TLV is known."""
    known = _V1_TLVS if v1 else _V2_TLVS
    out: list[Tlv] = []
    while off < len(data):
        need(data, off + _TLV.size, "HSRP TLV header")
        tlv_type, length = _TLV.unpack_from(data, off)
        end = off + _TLV.size + length
        if len(data) < end:  # the message is formatted only when it is raised
            need(data, end, f"HSRP TLV type {tlv_type} with {length} bytes")
        value = bytes(data[off + _TLV.size : end])
        entry = known.get(tlv_type)
        if entry is None:
            out.append(UnknownTlv(type=tlv_type, value=value))
        else:
            size, decode = entry
            if length != size:
                raise DecodeError(f"HSRP: TLV type {tlv_type} has length {length}, not {size}")
            out.append(decode(value))
        off = end
    return tuple(out)


def build_tlv(tlv: Tlv) -> bytes:
    if isinstance(tlv, GroupState):
        vip = (tlv.virtual_ip_address.packed if tlv.virtual_ip_address else b"") + (
            tlv.virtual_ip_padding
        )
        if len(vip) != 16 or len(tlv.identifier) != 6:
            raise ValueError("group state: the virtual IP field is 16 bytes, the identifier 6")
        value = _GROUP_STATE.pack(
            tlv.version,
            tlv.op_code,
            tlv.state,
            tlv.ip_version,
            tlv.group,
            tlv.identifier,
            tlv.priority,
            tlv.hello_time_ms,
            tlv.hold_time_ms,
            vip,
        )
    elif isinstance(tlv, InterfaceState):
        value = _INTERFACE_STATE.pack(tlv.active_groups, tlv.passive_groups)
    elif isinstance(tlv, TextAuth):
        if len(tlv.authentication_data) != _TEXT_AUTH_LEN:
            raise ValueError("text authentication data is 8 bytes")
        value = tlv.authentication_data
    elif isinstance(tlv, Md5Auth):
        if len(tlv.authentication_data) != 16:
            raise ValueError("the MD5 digest is 16 bytes")
        value = _MD5_AUTH.pack(
            tlv.algorithm,
            tlv.padding,
            tlv.flags,
            tlv.ip_address.packed,
            tlv.key_id,
            tlv.authentication_data,
        )
    else:
        value = tlv.value
        if len(value) > 255:
            raise ValueError("a TLV value is at most 255 bytes")
    return _TLV.pack(tlv.type, len(value)) + value


__all__ = [
    "DEFAULT_AUTHENTICATION_DATA",
    "GroupState",
    "InterfaceState",
    "Md5Algorithm",
    "Md5Auth",
    "OpCode",
    "TextAuth",
    "Tlv",
    "TlvType",
    "UnknownTlv",
    "V2State",
    "build_tlv",
    "parse_tlvs",
]
