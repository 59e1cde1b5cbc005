"""scapy as a second, independent encoder and decoder beside tshark.

scapy's VRRP, VRRPv3 (scapy.layers.vrrp) and CARP (scapy.contrib.carp) layers were written apart
from ours, checksums included. Both ways, field by field: frames scapy builds decode with
``decode_packet``, and frames our builders make parse with scapy, whose checksum computed afresh
equals ours. VRRPv2 with and without simple-text authentication, VRRPv3 over IPv4 and IPv6.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.packet import Packet, bind_layers, split_layers

from dissectors.frame import ETH_P_IP, ETH_P_IPV6, build_ethernet
from dissectors.ip import IPv4Header, IPv6Header, build_ipv4, build_ipv6
from dissectors.packet import Decoded, Kind, decode_packet
from dissectors.vrrp import (
    CarpPacket,
    ChecksumStatus,
    VrrpV2,
    VrrpV3,
    build_carp,
    build_vrrp,
    virtual_mac,
)

V4, V6 = ipaddress.IPv4Address, ipaddress.IPv6Address
GROUP4, GROUP6 = V4("224.0.0.18"), V6("ff02::12")
MCAST4, MCAST6 = bytes.fromhex("01005e000012"), bytes.fromhex("333300000012")
SRC4, SRC6 = V4("192.0.2.253"), V6("fe80::253")
ETHERNET = 1

vrids = st.integers(1, 255)
priorities = st.integers(0, 255)
vlans = st.lists(st.integers(1, 4094), max_size=1).map(tuple)
v4_addresses = st.lists(
    st.integers(0, 255).map(lambda i: V4(f"192.0.2.{i}")), min_size=1, max_size=6
).map(tuple)
v6_addresses = st.lists(
    st.integers(0, 0xFFFF).map(lambda i: V6(f"2001:db8::{i:x}")), min_size=1, max_size=4
).map(tuple)
# Simple-text passwords are up to 8 bytes, NUL-padded (RFC 3768 section 5.3.10).
passwords = st.binary(min_size=1, max_size=8).filter(lambda b: not b.endswith(b"\0"))
ORACLE = settings(max_examples=60, deadline=None)


def _decode(frame: bytes) -> Decoded:
    d = decode_packet(frame, ETHERNET)
    assert d is not None
    return d


def _auth_words(data: bytes) -> tuple[int, int]:
    first, second = struct.unpack("!II", data.ljust(8, b"\0"))
    return first, second


def _fresh_checksum(pkt: Packet, layer: type[Packet]) -> int:
    """scapy's own checksum of the message: rebuild it with the field cleared."""
    again = pkt.copy()
    again[layer].chksum = None
    value: int = Ether(bytes(again))[layer].chksum
    return value


def _ours_v4(adv: VrrpV2 | VrrpV3, vlan: tuple[int, ...], ttl: int = 255) -> bytes:
    body = build_vrrp(adv, src=SRC4, dst=GROUP4)
    ip = build_ipv4(IPv4Header(src=SRC4, dst=GROUP4, protocol=112, ttl=ttl), body)
    return build_ethernet(MCAST4, virtual_mac(adv.vrid, 4), ETH_P_IP, ip, vlan)


def _ours_v6(adv: VrrpV3) -> bytes:
    body = build_vrrp(adv, src=SRC6, dst=GROUP6)
    ip = build_ipv6(IPv6Header(src=SRC6, dst=GROUP6, next_header=112, hop_limit=255), body)
    return build_ethernet(MCAST6, virtual_mac(adv.vrid, 6), ETH_P_IPV6, ip)


def _scapy_ether(vrid: int, family: int, vlan: tuple[int, ...]) -> Packet:
    mac = ":".join(f"{b:02x}" for b in virtual_mac(vrid, family))
    eth = Ether(src=mac, dst="01:00:5e:00:00:12" if family == 4 else "33:33:00:00:00:12")
    return eth / Dot1Q(vlan=vlan[0]) if vlan else eth


# -- scapy builds, we decode -------------------------------------------------------------------


def _check_common(d: Decoded, pkt: Packet, layer: type[Packet], vlan: tuple[int, ...]) -> None:
    assert d.kind is Kind.VRRP and d.findings == ()
    assert d.link.vlans == vlan
    assert d.link.src_mac == bytes.fromhex(pkt[Ether].src.replace(":", ""))
    msg = d.message
    assert isinstance(msg, VrrpV2 | VrrpV3)
    v = pkt[layer]
    assert (msg.version, msg.type, msg.vrid, msg.priority) == (
        v.version,
        v.type,
        v.vrid,
        v.priority,
    )
    assert msg.count_ip_addrs == v.ipcount == len(v.addrlist)
    assert [str(a) for a in msg.addresses] == list(v.addrlist)
    assert msg.checksum == v.chksum and msg.checksum_status is ChecksumStatus.GOOD


@ORACLE
@given(vrid=vrids, prio=priorities, addrs=v4_addresses, adv=st.integers(1, 255), vlan=vlans)
def test_scapy_v2_no_auth_decodes(
    vrid: int, prio: int, addrs: tuple[V4, ...], adv: int, vlan: tuple[int, ...]
) -> None:
    vrrp = VRRP(vrid=vrid, priority=prio, authtype=0, adv=adv, addrlist=[str(a) for a in addrs])
    pkt = Ether(
        bytes(_scapy_ether(vrid, 4, vlan) / IP(src=str(SRC4), dst=str(GROUP4), ttl=255) / vrrp)
    )
    d = _decode(bytes(pkt))
    _check_common(d, pkt, VRRP, vlan)
    msg = d.message
    assert isinstance(msg, VrrpV2)
    assert (msg.auth_type, msg.adver_int_s, msg.password) == (0, adv, None)
    assert msg.auth_data == b"\0" * 8 and msg.trailing == b""
    assert d.ip is not None and (d.ip.src, d.ip.dst, d.ip.ttl) == (SRC4, GROUP4, 255)


@ORACLE
@given(vrid=vrids, prio=priorities, addrs=v4_addresses, pw=passwords)
def test_scapy_v2_simple_auth_decodes(
    vrid: int, prio: int, addrs: tuple[V4, ...], pw: bytes
) -> None:
    auth1, auth2 = _auth_words(pw)
    vrrp = VRRP(vrid=vrid, priority=prio, authtype=1, adv=1, addrlist=[str(a) for a in addrs],
                auth1=auth1, auth2=auth2)  # fmt: skip
    pkt = Ether(
        bytes(_scapy_ether(vrid, 4, ()) / IP(src=str(SRC4), dst=str(GROUP4), ttl=255) / vrrp)
    )
    d = _decode(bytes(pkt))
    _check_common(d, pkt, VRRP, ())
    msg = d.message
    assert isinstance(msg, VrrpV2)
    assert msg.auth_type == 1 and msg.password == pw
    assert msg.auth_data == pw.ljust(8, b"\0")


@ORACLE
@given(vrid=vrids, prio=priorities, addrs=v4_addresses, adv=st.integers(1, 4095), vlan=vlans)
def test_scapy_v3_ipv4_decodes(
    vrid: int, prio: int, addrs: tuple[V4, ...], adv: int, vlan: tuple[int, ...]
) -> None:
    vrrp = VRRPv3(vrid=vrid, priority=prio, adv=adv, addrlist=[str(a) for a in addrs])
    pkt = Ether(
        bytes(_scapy_ether(vrid, 4, vlan) / IP(src=str(SRC4), dst=str(GROUP4), ttl=255) / vrrp)
    )
    d = _decode(bytes(pkt))
    _check_common(d, pkt, VRRPv3, vlan)
    msg = d.message
    assert isinstance(msg, VrrpV3)
    assert (msg.max_adver_int_cs, msg.reserved, msg.family) == (adv, 0, 4)


@ORACLE
@given(vrid=vrids, prio=priorities, addrs=v6_addresses, adv=st.integers(1, 4095))
def test_scapy_v3_ipv6_decodes(vrid: int, prio: int, addrs: tuple[V6, ...], adv: int) -> None:
    vrrp = VRRPv3(vrid=vrid, priority=prio, adv=adv, addrlist=[str(a) for a in addrs])
    ip6 = IPv6(src=str(SRC6), dst=str(GROUP6), hlim=255)
    pkt = Ether(bytes(_scapy_ether(vrid, 6, ()) / ip6 / vrrp))
    d = _decode(bytes(pkt))
    _check_common(d, pkt, VRRPv3, ())
    msg = d.message
    assert isinstance(msg, VrrpV3)
    assert (msg.max_adver_int_cs, msg.family) == (adv, 6)
    assert d.ip is not None and (d.ip.src, d.ip.dst, d.ip.hop_limit) == (SRC6, GROUP6, 255)


def test_scapy_bad_checksum_is_reported() -> None:
    """The oracle is live: a checksum scapy was told to get wrong is seen as wrong."""
    base = _scapy_ether(1, 4, ()) / IP(src=str(SRC4), dst=str(GROUP4), ttl=255)
    for vrrp in (VRRP(addrlist=["192.0.2.1"]), VRRPv3(addrlist=["192.0.2.1"])):
        good = Ether(bytes(base / vrrp))
        layer = VRRP if isinstance(vrrp, VRRP) else VRRPv3
        bad = good.copy()
        bad[layer].chksum = good[layer].chksum ^ 0x0101
        msg = _decode(bytes(bad)).message
        assert isinstance(msg, VrrpV2 | VrrpV3)
        assert msg.checksum_status is ChecksumStatus.BAD


# -- we build, scapy parses --------------------------------------------------------------------


def _check_scapy_view(v: Any, adv: VrrpV2 | VrrpV3) -> None:
    assert (v.version, v.type, v.vrid, v.priority) == (adv.version, 1, adv.vrid, adv.priority)
    assert v.ipcount == adv.count_ip_addrs
    assert list(v.addrlist) == [str(a) for a in adv.addresses]


@ORACLE
@given(vrid=vrids, prio=priorities, addrs=v4_addresses, adv=st.integers(1, 255), vlan=vlans,
       pw=st.one_of(st.none(), passwords))  # fmt: skip
def test_our_v2_parses_in_scapy(
    vrid: int, prio: int, addrs: tuple[V4, ...], adv: int, vlan: tuple[int, ...], pw: bytes | None
) -> None:
    ours = VrrpV2(
        vrid=vrid,
        priority=prio,
        count_ip_addrs=len(addrs),
        auth_type=0 if pw is None else 1,
        adver_int_s=adv,
        addresses=addrs,
        auth_data=(pw or b"").ljust(8, b"\0"),
    )
    pkt = Ether(_ours_v4(ours, vlan))
    assert pkt.haslayer(VRRP) and not pkt.haslayer(VRRPv3)
    if vlan:
        assert pkt[Dot1Q].vlan == vlan[0]
    assert (pkt[IP].src, pkt[IP].dst, pkt[IP].ttl, pkt[IP].proto) == (
        str(SRC4),
        str(GROUP4),
        255,
        112,
    )
    assert pkt[IP].chksum == _fresh_checksum(pkt, IP)  # our IPv4 header checksum too
    v = pkt[VRRP]
    _check_scapy_view(v, ours)
    assert (v.authtype, v.adv) == (ours.auth_type, adv)
    assert (v.auth1, v.auth2) == _auth_words(pw or b"")
    assert v.chksum == _fresh_checksum(pkt, VRRP)


@ORACLE
@given(vrid=vrids, prio=priorities, addrs=v4_addresses, adv=st.integers(1, 4095), vlan=vlans)
def test_our_v3_ipv4_parses_in_scapy(
    vrid: int, prio: int, addrs: tuple[V4, ...], adv: int, vlan: tuple[int, ...]
) -> None:
    ours = VrrpV3(vrid=vrid, priority=prio, count_ip_addrs=len(addrs), max_adver_int_cs=adv,
                  addresses=addrs)  # fmt: skip
    pkt = Ether(_ours_v4(ours, vlan))
    v = pkt[VRRPv3]
    _check_scapy_view(v, ours)
    assert (v.adv, v.res) == (adv, 0)
    # scapy's checksum includes the IPv4 pseudo-header (RFC 5798 section 5.2.8), as ours.
    assert v.chksum == _fresh_checksum(pkt, VRRPv3)


@ORACLE
@given(vrid=vrids, prio=priorities, addrs=v6_addresses, adv=st.integers(1, 4095))
def test_our_v3_ipv6_parses_in_scapy(vrid: int, prio: int, addrs: tuple[V6, ...], adv: int) -> None:
    ours = VrrpV3(vrid=vrid, priority=prio, count_ip_addrs=len(addrs), max_adver_int_cs=adv,
                  addresses=addrs, family=6)  # fmt: skip
    pkt = Ether(_ours_v6(ours))
    assert (pkt[IPv6].src, pkt[IPv6].dst, pkt[IPv6].hlim, pkt[IPv6].nh) == (
        str(SRC6), str(GROUP6), 255, 112,
    )  # fmt: skip
    v = pkt[VRRPv3]
    _check_scapy_view(v, ours)
    assert v.adv == adv
    assert v.chksum == _fresh_checksum(pkt, VRRPv3)


# -- CARP ------------------------------------------------------------------------------------


@pytest.fixture
def scapy_carp() -> Iterator[type[Packet]]:
    """scapy's CARP layer. Importing it rebinds IP protocol 112 from VRRP to CARP for the whole
    process, so the binding is set here and VRRP's restored afterwards."""
    carp = pytest.importorskip("scapy.contrib.carp", reason="this scapy has no CARP layer")
    split_layers(IP, VRRP, proto=112)
    split_layers(IP, VRRPv3, proto=112)
    bind_layers(IP, carp.CARP, proto=112, dst="224.0.0.18")
    try:
        yield carp.CARP
    finally:
        split_layers(IP, carp.CARP, proto=112, dst="224.0.0.18")
        bind_layers(IP, VRRP, proto=112)
        bind_layers(IP, VRRPv3, proto=112)


def _carp_words(data: bytes) -> list[int]:
    return list(struct.unpack(f"!{len(data) // 4}I", data))


carp_fields = st.fixed_dictionaries(
    {
        "vhid": vrids,
        "advskew": st.integers(0, 254),
        "demotion": st.integers(0, 255),
        "advbase_s": st.integers(1, 255),
        "counter": st.binary(min_size=8, max_size=8),
        "hmac": st.binary(min_size=20, max_size=20),
    }
)


# The fixture only sets bindings: the same for every example.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=carp_fields)
def test_carp_both_ways(scapy_carp: type[Packet], fields: dict[str, Any]) -> None:
    counter, hmac = _carp_words(fields["counter"]), _carp_words(fields["hmac"])
    theirs = scapy_carp(
        version=2, type=1, vhid=fields["vhid"], advskew=fields["advskew"], authlen=7,
        demotion=fields["demotion"], advbase=fields["advbase_s"],
        counter1=counter[0], counter2=counter[1],
        **{f"hmac{i + 1}": w for i, w in enumerate(hmac)},
    )  # fmt: skip
    frame = bytes(
        _scapy_ether(fields["vhid"], 4, ()) / IP(src=str(SRC4), dst=str(GROUP4), ttl=255) / theirs
    )
    d = _decode(frame)
    assert d.kind is Kind.CARP and d.findings == ()
    ours = CarpPacket(authlen=7, **fields)
    assert d.message == ours
    assert isinstance(d.message, CarpPacket) and d.message.checksum_ok
    assert d.message.checksum == Ether(frame)[scapy_carp].chksum
    # And back: our encoding is scapy's, byte for byte (checksum included).
    assert build_carp(ours) == bytes(Ether(frame)[scapy_carp])
    parsed = scapy_carp(build_carp(ours))
    assert (parsed.vhid, parsed.advskew, parsed.advbase, parsed.demotion) == (
        fields["vhid"], fields["advskew"], fields["advbase_s"], fields["demotion"],
    )  # fmt: skip
    assert [parsed.counter1, parsed.counter2] == counter


def test_carp_binding_is_restored() -> None:
    """After the CARP tests, scapy dissects protocol 112 as VRRP again (the other tests need it)."""
    pkt = Ether(_ours_v4(VrrpV3(vrid=1, priority=100, count_ip_addrs=1, addresses=(SRC4,)), ()))
    assert pkt.haslayer(VRRPv3)
