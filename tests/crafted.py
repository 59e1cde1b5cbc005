"""Crafted captures for what no licensed public capture and no lab daemon gives us: HSRPv2 hellos
over IPv4 and IPv6, its text and MD5 authentication TLVs, a resign, an HSRPv2 election,
HSRPv1 with millisecond timers (sent as 0), gratuitous ARPs from HSRP's virtual MACs, and an
empty VRRP payload. They replace third-party captures without a licence (tests/data/public/
MANIFEST.md). Test files import them from here, never from one another.

The HSRP frames are built with ``tests.helpers.hsrp_frame`` from the layouts of RFC 2281
section 5.1 (v1) and of Wireshark's packet-hsrp.c (the v2 TLVs: group state type 1 of 40
bytes, interface state 2 of 4, text authentication 3 of 8, MD5 authentication 4 of 28).
tests/dissectors/test_hsrp_tshark.py decodes every one with tshark (an independent decoder)
and compares it field by field with ours, and pins what tshark shows, so a crafted frame is
not just our encoder checked against our decoder. Addresses are documentation ones
(192.0.2.0/24, link-local); identifiers are locally administered MACs.
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

from dissectors.arp import build_arp, gratuitous_arp
from dissectors.frame import ETH_P_ARP, ETH_P_IP, build_ethernet
from dissectors.hsrp import (
    GroupState,
    HsrpV1,
    HsrpV2,
    InterfaceState,
    Md5Auth,
    OpCode,
    TextAuth,
    V1State,
    V2State,
)
from dissectors.ip import IPv4Header, build_ipv4
from tests.helpers import hsrp_frame

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address

T0 = 1_700_000_000.0
# Router A (priority 150) and B (100) of HSRP group 1, VIP 192.0.2.254.
A, B = V4("192.0.2.1"), V4("192.0.2.2")
A6, B6 = V6("fe80::1"), V6("fe80::2")
MAC_A, MAC_B = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")
VIP = V4("192.0.2.254")
# HSRPv2 over IPv6: the virtual link-local address IOS derives from the virtual MAC
# 0005.73a0.0001 (nDPI's hsrp2_ipv6.pcapng shows fe80::5:73ff:fea0:10 for group 16).
VIP6 = V6("fe80::5:73ff:fea0:1")
V1_VMAC = bytes.fromhex("00000c07ac01")  # RFC 2281 section 6.1: 0000.0c07.ac<group>
V2_VMAC = bytes.fromhex("00000c9ff001")  # HSRPv2: 0000.0c9f.f<group, 12 bits>
KEY = b"MY_KEY\0\0"  # an HSRPv2 text password, NUL-padded to 8 bytes
DIGEST = bytes.fromhex("00112233445566778899aabbccddeeff")  # MD5 data: carried, not checked

Timed = list[tuple[float, bytes]]


def group_state(
    state: V2State,
    priority: int,
    mac: bytes,
    *,
    op: OpCode = OpCode.HELLO,
    family: int = 4,
) -> GroupState:
    return GroupState(
        op_code=op,
        state=state,
        ip_version=family,
        group=1,
        identifier=mac,
        priority=priority,
        hello_time_ms=3000,
        hold_time_ms=10000,
        virtual_ip_address=VIP6 if family == 6 else VIP,
        virtual_ip_padding=b"" if family == 6 else bytes(12),
    )


def v2(state: V2State, priority: int, who: str, *, op: OpCode = OpCode.HELLO,
       auth: TextAuth | Md5Auth | None = None, family: int = 4) -> bytes:  # fmt: skip
    """An HSRPv2 message from A or B, with a text (default "cisco") or MD5 TLV."""
    mac = MAC_A if who == "A" else MAC_B
    src = (A6 if who == "A" else B6) if family == 6 else (A if who == "A" else B)
    tlv = auth if auth is not None else TextAuth()
    msg = HsrpV2(tlvs=(group_state(state, priority, mac, op=op, family=family), tlv))
    return hsrp_frame(msg, src=src, src_mac=mac, ttl=255 if family == 6 else 1)


def v1(state: V1State, priority: int, who: str, *, hello: int = 3, hold: int = 10) -> bytes:
    msg = HsrpV1(state=state, hellotime_s=hello, holdtime_s=hold, priority=priority, group=1,
                 virtual_ip_address=VIP)  # fmt: skip
    return hsrp_frame(msg, src=A if who == "A" else B, src_mac=MAC_A if who == "A" else MAC_B)


def garp_reply(mac: bytes, ip: V4 = VIP) -> bytes:
    """The broadcast gratuitous ARP reply a new HSRP active sends for its VIP."""
    arp = build_arp(gratuitous_arp(mac, ip, reply=True))
    return build_ethernet(b"\xff" * 6, mac, ETH_P_ARP, arp)


def v2_hellos() -> Timed:
    """A active (150) and B standby (100), text authentication "cisco"."""
    return [(0.0, v2(V2State.ACTIVE, 150, "A")), (0.4, v2(V2State.STANDBY, 100, "B"))]


def v2_ipv6_hellos() -> Timed:
    """The same over IPv6: from link-local addresses to ff02::66 port 2029, hop limit 255."""
    return [
        (0.0, v2(V2State.ACTIVE, 150, "A", family=6)),
        (0.4, v2(V2State.STANDBY, 100, "B", family=6)),
    ]


def v2_text_auth() -> Timed:
    """Hellos with the text authentication TLV carrying "MY_KEY"."""
    key = TextAuth(authentication_data=KEY)
    return [
        (0.0, v2(V2State.ACTIVE, 150, "A", auth=key)),
        (0.4, v2(V2State.STANDBY, 100, "B", auth=key)),
    ]


def v2_md5_key_chain() -> Timed:
    """An active's hello with the MD5 TLV of a key chain (key id 1)."""
    md5 = Md5Auth(ip_address=A, key_id=1, authentication_data=DIGEST)
    return [(0.0, v2(V2State.ACTIVE, 150, "A", auth=md5))]


def v2_md5_key_string() -> Timed:
    """An active's hello with the MD5 TLV of a key string (key id 0)."""
    md5 = Md5Auth(ip_address=A, key_id=0, authentication_data=DIGEST)
    return [(0.0, v2(V2State.ACTIVE, 150, "A", auth=md5))]


def v2_resign() -> Timed:
    """The active resigns (op code 2, state Active, text "cisco"), then an interface state TLV
    alone (1 active group, 0 passive) from the same router."""
    iface = hsrp_frame(HsrpV2(tlvs=(InterfaceState(active_groups=1, passive_groups=0),)),
                       src=A, src_mac=MAC_A)  # fmt: skip
    return [(0.0, v2(V2State.ACTIVE, 150, "A", op=OpCode.RESIGN)), (0.2, iface)]


def v2_election() -> Timed:
    """A (150) and B (100) start together in Speak; after the hold time A becomes Standby, then
    Active, and B Standby; hellos every 3 s to steady state (HSRP's state machine, RFC 2281
    section 5.3, as IOS runs it for v2)."""
    out: Timed = []
    for t in (0.0, 3.0, 6.0, 9.0):
        out += [(t, v2(V2State.SPEAK, 150, "A")), (t + 0.5, v2(V2State.SPEAK, 100, "B"))]
    out += [(10.0, v2(V2State.STANDBY, 150, "A")), (10.5, v2(V2State.SPEAK, 100, "B"))]
    out += [(11.0, v2(V2State.ACTIVE, 150, "A")), (11.0, garp_reply(V2_VMAC))]
    out += [(11.5, v2(V2State.STANDBY, 100, "B"))]
    for t in (14.0, 17.0, 20.0):
        out += [(t, v2(V2State.ACTIVE, 150, "A")), (t + 0.5, v2(V2State.STANDBY, 100, "B"))]
    return out


def v1_millisecond_timers() -> Timed:
    """An HSRPv1 hello in Speak whose timers are set in milliseconds: IOS sends 0 and 0."""
    return [(0.0, v1(V1State.SPEAK, 150, "A", hello=0, hold=0))]


def hsrp_garps() -> Timed:
    """Gratuitous ARP replies for the VIP from HSRPv1's and HSRPv2's virtual MACs."""
    return [(0.0, garp_reply(V1_VMAC)), (0.0, garp_reply(V1_VMAC)), (1.0, garp_reply(V2_VMAC))]


CRAFTED_HSRP = {
    "v2-hellos": v2_hellos,
    "v2-ipv6-hellos": v2_ipv6_hellos,
    "v2-text-auth": v2_text_auth,
    "v2-md5-key-chain": v2_md5_key_chain,
    "v2-md5-key-string": v2_md5_key_string,
    "v2-resign": v2_resign,
    "v2-election": v2_election,
    "v1-millisecond-timers": v1_millisecond_timers,
    "hsrp-garps": hsrp_garps,
}

# IP protocol 112 with an empty payload, TTL 5 (not 255), unicast to 192.0.2.1 but to the VRRP
# virtual MAC of VRID 1: the shape of a known VRRP DoS frame. Nothing to decode as VRRP.
EMPTY_VRRP_FRAME = build_ethernet(
    bytes.fromhex("00005e000101"),
    bytes.fromhex("020000000066"),
    ETH_P_IP,
    build_ipv4(IPv4Header(src=V4("198.51.100.66"), dst=V4("192.0.2.1"), protocol=112, ttl=5), b""),
)


def write_pcap(path: Path, frames: Timed | list[bytes]) -> Path:
    """A classic pcap (microseconds, Ethernet) of ``frames``: (seconds after T0, frame) pairs,
    or bare frames one second apart."""
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, item in enumerate(frames):
        t, frame = item if isinstance(item, tuple) else (float(i), item)
        sec, usec = divmod(round((T0 + t) * 1_000_000), 1_000_000)
        records.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(records))
    return path


def write_crafted(directory: Path, name: str) -> Path:
    """CRAFTED_HSRP[name] written to ``directory/name.pcap``."""
    return write_pcap(directory / f"{name}.pcap", CRAFTED_HSRP[name]())
