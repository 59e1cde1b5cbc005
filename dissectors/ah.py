"""VRRPv2 IPsec AH authentication as keepalived does it (``auth_type AH``; RFC 2338 section
5.3.6.3, Auth Type 2), with HMAC-MD5-96 (RFC 2403) and no key exchange.

keepalived (vrrp.c: ``vrrp_build_ipsecah``, ``vrrp_update_pkt``, ``vrrp_in_chk_ipsecah``):

* the datagram is IPv4 header, a 24-byte AH header (RFC 4302 section 2: next header 112,
  payload length 4, SPI, sequence number, a 12-byte ICV), then the VRRPv2 message, whose
  Auth Type is 2 and whose 8 bytes of Authentication Data are zero;
* the ICV is the first 12 bytes of HMAC-MD5 (RFC 2104) over the IPv4 header with the
  mutable fields zeroed (TOS, flags and fragment offset, header checksum; the TTL too, but
  only for unicast peers, whose routers may lower it), the AH header with the ICV zeroed,
  and the VRRP message. The identification field is covered, so a sender must fill it in
  before the ICV is computed (the kernel would fill in a zero one afterwards);
* the key is ``auth_pass`` cut to 8 bytes (``vrrp_auth_pass_handler``: keepalived's
  ``auth_data`` is 8 bytes; HMAC pads a short key with zeros);
* the SPI is the sender's IPv4 address (as a 32-bit big-endian number);
* the sequence number counter is one per instance, shared by sending and receiving: an
  advert is accepted only with a number above the counter, which it then sets; each advert
  sent increments the counter first. It starts at 0 with every run (nothing is kept across
  restarts): a new master continues from the numbers it has seen, so the others accept it.

This module holds the pure computations; the join router keeps the counter.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass

from .common import DecodeError, need
from .ip import IPPROTO_AH, IPPROTO_VRRP, AuthHeader, IPv4Header, build_ah, build_ipv4, parse_ah

__all__ = [
    "AH_HEADER_LEN",
    "AH_ICV_LEN",
    "AH_KEY_LEN",
    "AhCheck",
    "AhProtected",
    "ah_icv",
    "ah_key",
    "check_ah",
    "seal_ipv4",
    "split_ah",
]

AH_ICV_LEN = 12  # HMAC-MD5-96 (RFC 2403 section 2)
AH_HEADER_LEN = 12 + AH_ICV_LEN  # keepalived's ipsec_ah_t
AH_KEY_LEN = 8  # keepalived's auth_data (VRRP_AUTH_LEN)
SEQUENCE_MAX = 0xFFFFFFFF


def ah_key(auth_pass: bytes) -> bytes:
    """The HMAC key keepalived forms from ``auth_pass``: its first 8 bytes."""
    return auth_pass[:AH_KEY_LEN]


@dataclass(frozen=True, slots=True, kw_only=True)
class AhProtected:
    """What an AH-protected advert's ICV is computed over: the raw IPv4 header (options
    included), the AH header as received (ICV included) and the VRRP message."""

    ip_header: bytes
    ah: AuthHeader
    ah_header: bytes
    message: bytes

    @property
    def src_spi(self) -> int:
        """The IPv4 source address as a 32-bit number (what keepalived's SPI must equal)."""
        return int.from_bytes(self.ip_header[12:16], "big")


def split_ah(datagram: bytes) -> AhProtected:
    """An IPv4 datagram carrying AH: its parts (``DecodeError`` if it is not one)."""
    need(datagram, 20, "IPv4 header")
    ihl = (datagram[0] & 0x0F) * 4
    if datagram[0] >> 4 != 4 or ihl < 20:
        raise DecodeError("AH: not an IPv4 datagram")
    need(datagram, ihl, "IPv4 header")
    if datagram[9] != IPPROTO_AH:
        raise DecodeError(f"AH: IP protocol {datagram[9]}, not {IPPROTO_AH}")
    total = int.from_bytes(datagram[2:4], "big")
    if total < ihl:
        raise DecodeError(f"AH: IPv4 total length {total} below header length {ihl}")
    need(datagram, total, "IPv4 datagram")
    body = datagram[ihl:total]
    ah, message = parse_ah(body)
    return AhProtected(
        ip_header=bytes(datagram[:ihl]),
        ah=ah,
        ah_header=bytes(body[: len(body) - len(message)]),
        message=message,
    )


def ah_icv(
    key: bytes, ip_header: bytes, ah_header: bytes, message: bytes, *, zero_ttl: bool = False
) -> bytes:
    """HMAC-MD5-96 over the header with its mutable fields zeroed, the AH header with its
    ICV zeroed, and the message (keepalived's ``vrrp_in_chk_ipsecah``)."""
    ip = bytearray(ip_header)
    ip[1] = 0  # TOS
    ip[6:8] = b"\x00\x00"  # flags, fragment offset
    ip[10:12] = b"\x00\x00"  # header checksum
    if zero_ttl:
        ip[8] = 0
    ah = bytearray(ah_header)
    ah[12:] = bytes(len(ah) - 12)
    digest = hmac.new(key, bytes(ip) + bytes(ah) + message, hashlib.md5).digest()
    return digest[:AH_ICV_LEN]


class AhCheck(enum.Enum):
    """The verdict on an AH header's ICV and SPI (the sequence number is the caller's)."""

    OK = "ok"
    NOT_VRRP = "not-vrrp"  # AH around another protocol: not an advert (keepalived drops it)
    BAD_ICV = "bad-icv"
    BAD_SPI = "bad-spi"


def check_ah(key: bytes, sealed: AhProtected, *, zero_ttl: bool = False) -> AhCheck:
    """keepalived's checks in its order: next header, ICV (in constant time), SPI."""
    if sealed.ah.next_header != IPPROTO_VRRP:
        return AhCheck.NOT_VRRP
    want = ah_icv(key, sealed.ip_header, sealed.ah_header, sealed.message, zero_ttl=zero_ttl)
    if len(sealed.ah.icv) != AH_ICV_LEN or not hmac.compare_digest(want, sealed.ah.icv):
        return AhCheck.BAD_ICV
    if sealed.ah.spi != sealed.src_spi:
        return AhCheck.BAD_SPI
    return AhCheck.OK


def seal_ipv4(
    header: IPv4Header, message: bytes, *, key: bytes, sequence: int, zero_ttl: bool = False
) -> bytes:
    """An IPv4 datagram (protocol 51) carrying ``message`` (a VRRPv2 advert) under AH with
    SPI = the source address, ``sequence`` and the ICV. ``header.identification`` must not
    be 0: the kernel would fill it in after the ICV was computed."""
    if not 0 < sequence <= SEQUENCE_MAX:
        raise ValueError(f"AH sequence number {sequence} out of 1..{SEQUENCE_MAX}")
    hdr = IPv4Header(
        src=header.src,
        dst=header.dst,
        protocol=IPPROTO_AH,
        ttl=header.ttl,
        tos=header.tos,
        identification=header.identification,
        dont_fragment=header.dont_fragment,
        options=header.options,
    )
    blank = AuthHeader(
        next_header=IPPROTO_VRRP,
        spi=int(header.src),
        sequence=sequence,
        icv=bytes(AH_ICV_LEN),
    )
    unsigned = build_ipv4(hdr, build_ah(blank, message))
    ihl = (unsigned[0] & 0x0F) * 4
    ah_bytes = unsigned[ihl : ihl + AH_HEADER_LEN]
    icv = ah_icv(key, unsigned[:ihl], ah_bytes, message, zero_ttl=zero_ttl)
    return unsigned[: ihl + 12] + icv + unsigned[ihl + AH_HEADER_LEN :]
