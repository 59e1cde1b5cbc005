"""ARP for Ethernet and IPv4 (RFC 826), with the RFC 5227 probe/announcement vocabulary.

Layout (RFC 826, "Packet format")::

    hrd (2) | pro (2) | hln (1) | pln (1) | op (2) | sha (6) | spa (4) | tha (6) | tpa (4)

A VRRP master announces itself with gratuitous ARP (RFC 5798 section 6.4.1 / RFC 3768 section
6.4.1): a request or reply whose sender IP equals the target IP, from the virtual MAC.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from .common import DecodeError, ipv4_address, need

_ARP = struct.Struct("!HHBBH6s4s6s4s")
HTYPE_ETHERNET = 1
PTYPE_IPV4 = 0x0800
_ZERO_MAC = b"\x00" * 6
_ZERO_IP = ipaddress.IPv4Address(0)


class ArpOp(enum.IntEnum):
    REQUEST = 1
    REPLY = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ArpPacket:
    oper: int
    sender_mac: bytes
    sender_ip: ipaddress.IPv4Address
    target_mac: bytes
    target_ip: ipaddress.IPv4Address
    htype: int = HTYPE_ETHERNET
    ptype: int = PTYPE_IPV4

    @property
    def is_gratuitous(self) -> bool:
        """A request or reply whose sender IP equals its target IP (Wireshark's definition too,
        so a reply for 0.0.0.0 counts)."""
        return self.sender_ip == self.target_ip

    @property
    def is_probe(self) -> bool:
        """RFC 5227 section 2.1.1: a request with an all-zero sender IP for a target address."""
        return (
            self.oper == ArpOp.REQUEST and self.sender_ip == _ZERO_IP and self.target_ip != _ZERO_IP
        )

    @property
    def is_announcement(self) -> bool:
        """RFC 5227 section 2.3: a request whose sender and target IP are both the address."""
        return self.oper == ArpOp.REQUEST and self.is_gratuitous and self.sender_ip != _ZERO_IP


def parse_arp(data: bytes) -> ArpPacket:
    """Decode Ethernet/IPv4 ARP; other hardware or protocol types raise DecodeError."""
    need(data, 8, "ARP header")
    htype, ptype, hlen, plen = struct.unpack_from("!HHBB", data)
    if hlen != 6 or plen != 4 or ptype != PTYPE_IPV4:
        raise DecodeError(f"ARP: unsupported types {htype}/{ptype:#06x} lengths {hlen}/{plen}")
    need(data, _ARP.size, "ARP")
    htype, ptype, _hlen, _plen, oper, sha, spa, tha, tpa = _ARP.unpack_from(data)
    return ArpPacket(
        oper=oper,
        sender_mac=sha,
        sender_ip=ipv4_address(spa),
        target_mac=tha,
        target_ip=ipv4_address(tpa),
        htype=htype,
        ptype=ptype,
    )


def build_arp(pkt: ArpPacket) -> bytes:
    return _ARP.pack(
        pkt.htype,
        pkt.ptype,
        6,
        4,
        pkt.oper,
        pkt.sender_mac,
        pkt.sender_ip.packed,
        pkt.target_mac,
        pkt.target_ip.packed,
    )


def gratuitous_arp(mac: bytes, ip: ipaddress.IPv4Address, *, reply: bool = False) -> ArpPacket:
    """The gratuitous ARP a new VRRP master sends for each virtual address.

    By default a request with a zero target MAC (the RFC 5227 section 2.3 announcement);
    ``reply=True`` gives the reply form (target MAC = sender MAC) some stacks prefer.
    """
    return ArpPacket(
        oper=ArpOp.REPLY if reply else ArpOp.REQUEST,
        sender_mac=mac,
        sender_ip=ip,
        target_mac=mac if reply else _ZERO_MAC,
        target_ip=ip,
    )


__all__ = ["ArpOp", "ArpPacket", "build_arp", "gratuitous_arp", "parse_arp"]
