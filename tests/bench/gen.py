"""Deterministic benchmark captures (classic pcap, Ethernet), written without scapy for speed.

``mixed``: mostly ordinary IPv4/IPv6 TCP and UDP of realistic sizes (a share 802.1Q-tagged), about
2.5 % VRRP adverts from 20 virtual routers on several VLANs (v2 and v3, one plaintext group, a
failover now and then) and a few gratuitous ARPs. ``adverts``: every packet a VRRP advert.

    python tests/bench/gen.py mixed 1000000 /tmp/mixed.pcap

A flood of sources for one virtual router (VRID 1, VRRPv3, issue 11), every advert from a source
of its own, 20,000 adverts/s (``flood_frames``):

* ``flood-preempt6`` / ``flood-preempt4``: every source at priority 100 with a higher address
  than the one before, so each outranks the master and takes over (RFC 5798 section 6.4.3);
* ``flood-master6`` / ``flood-master4``: the sources at priority 100 under a live master at
  priority 200 that advertises every second throughout;
* ``flood-owner6`` / ``flood-owner4``: like flood-preempt, every source at priority 255 (each
  claims to own the addresses and takes over: the priority-255 checks on every advert);
* ``flood-garp6`` / ``flood-garp4``: like flood-preempt, each advert followed by a gratuitous
  ARP (IPv6: an unsolicited neighbour advertisement) for the VIP from a MAC of no router (every
  announcement judged against the timeline, and a garp-conflict).

IPv6 sources are link-local (fe80::1:0:0 on); IPv4 ones come from 169.254.0.0/16, the one
IPv4 block we may use that is big enough: at most 65,024 of them (169.254.1.0 to
169.254.254.255, RFC 3927 section 2.1).

    python tests/bench/gen.py flood-master6 100000 /tmp/flood.pcap
"""

from __future__ import annotations

import ipaddress
import random
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

from dissectors.vrrp import VrrpV2, VrrpV3, build_vrrp, virtual_mac

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
_REC = struct.Struct("<IIII")
_V4 = ipaddress.IPv4Address
_GROUP4 = _V4("224.0.0.18")
_GROUP4_MAC = bytes.fromhex("01005e000012")
_PAYLOAD = bytes(random.Random(7).getrandbits(8) for _ in range(2048))


def _ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ttl: int = 64) -> bytes:
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, proto, 0, src, dst)
    return head + payload


def _ipv6(src: bytes, dst: bytes, nh: int, payload: bytes, hlim: int = 64) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, hlim, src, dst) + payload


def _eth(dst: bytes, src: bytes, ethertype: int, payload: bytes, vlan: int | None) -> bytes:
    if vlan is None:
        return dst + src + struct.pack("!H", ethertype) + payload
    return dst + src + struct.pack("!HHH", 0x8100, vlan, ethertype) + payload


class _Router:
    def __init__(self, idx: int) -> None:
        self.vlan = (10, 20, 30, 40)[idx % 4]
        self.vrid = 1 + idx // 4
        self.version = 2 if idx % 2 else 3
        base = 0xC6336400 + idx * 4  # 198.51.100.0/24
        self.addrs = [_V4(base + 1), _V4(base + 2)]
        self.vip = _V4(0xCB007100 + idx)  # 203.0.113.0/24
        self.master = 0
        self.frames = [self._advert(i, 200 - 100 * i) for i in range(2)]

    def _advert(self, which: int, priority: int) -> bytes:
        src = self.addrs[which]
        adv: VrrpV2 | VrrpV3
        if self.version == 2:
            pw = b"bench" if self.vrid == 1 else b""
            adv = VrrpV2(
                vrid=self.vrid,
                priority=priority,
                count_ip_addrs=1,
                auth_type=1 if pw else 0,
                adver_int_s=1,
                addresses=(self.vip,),
                auth_data=pw.ljust(8, b"\0"),
            )
        else:
            adv = VrrpV3(vrid=self.vrid, priority=priority, count_ip_addrs=1, addresses=(self.vip,))
        body = build_vrrp(adv, src=src, dst=_GROUP4)
        ip = _ipv4(src.packed, _GROUP4.packed, 112, body, ttl=255)
        return _eth(_GROUP4_MAC, virtual_mac(self.vrid, 4), 0x0800, ip, self.vlan)


def _other(rng: random.Random) -> bytes:
    size = rng.choice((54, 54, 66, 66, 74, 120, 200, 576, 1000, 1460, 1460, 1460))
    vlan = rng.choice((None, None, None, 10, 20))
    src_mac = bytes((2, 0, 0, 0, rng.randrange(256), rng.randrange(256)))
    dst_mac = bytes((2, 0, 0, 1, rng.randrange(256), rng.randrange(256)))
    payload = _PAYLOAD[: max(0, size - 40)]
    if rng.random() < 0.8:
        src = struct.pack("!I", 0xC0000200 | rng.randrange(256))
        dst = struct.pack("!I", 0xCB007100 | rng.randrange(256))
        l4 = struct.pack("!HHIIHHHH", rng.randrange(65536), 443, 1, 2, 0x5010, 512, 0, 0)
        return _eth(
            dst_mac, src_mac, 0x0800, _ipv4(src, dst, 6 if size > 60 else 17, l4 + payload), vlan
        )
    src6 = ipaddress.IPv6Address(0x20010DB8 << 96 | rng.randrange(1 << 16)).packed
    dst6 = ipaddress.IPv6Address(0x20010DB8 << 96 | 1 << 32 | rng.randrange(1 << 16)).packed
    l4 = struct.pack("!HHHH", rng.randrange(65536), 53, 8 + len(payload), 0)
    return _eth(dst_mac, src_mac, 0x86DD, _ipv6(src6, dst6, 17, l4 + payload), vlan)


def _garp(router: _Router) -> bytes:
    mac = virtual_mac(router.vrid, 4)
    ip = router.vip.packed
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, ip, b"\xff" * 6, ip)
    return _eth(b"\xff" * 6, mac, 0x0806, arp, router.vlan)


def frames(kind: str, count: int, seed: int = 1) -> Iterator[tuple[float, bytes]]:
    rng = random.Random(seed)
    routers = [_Router(i) for i in range(20)]
    t = 1_700_000_000.0
    advert_share = 1.0 if kind == "adverts" else 0.025
    # 20 routers x 1 advert/s sets the clock: other traffic fills the gaps between adverts.
    step = advert_share / 20.0
    for n in range(count):
        t += step
        r = rng.random()
        if r < advert_share:
            router = routers[n % 20]
            if rng.random() < 0.0005:  # a failover: the other router takes over
                router.master ^= 1
            yield t, router.frames[router.master]
        elif r < advert_share + 0.001:
            yield t, _garp(routers[rng.randrange(20)])
        else:
            yield t, _other(rng)


_V6 = ipaddress.IPv6Address
_GROUP6 = _V6("ff02::12")
_GROUP6_MAC = bytes.fromhex("333300000012")
FLOOD_RATE = 20_000.0  # adverts/s of the flood
FLOOD_V4_MAX = 65_024  # 169.254.1.0 .. 169.254.254.255


def _flood_advert(src: _V4 | _V6, priority: int) -> bytes:
    """A VRRPv3 advert for VRID 1 from ``src`` (interval 1 s, one VIP), TTL/hop limit 255,
    from the virtual MAC."""
    if src.version == 6:
        vip6 = _V6("2001:db8:1::1")
        adv = VrrpV3(vrid=1, priority=priority, count_ip_addrs=1, addresses=(vip6,), family=6)
        body = build_vrrp(adv, src=src, dst=_GROUP6)
        ip = _ipv6(src.packed, _GROUP6.packed, 112, body, hlim=255)
        return _eth(_GROUP6_MAC, virtual_mac(1, 6), 0x86DD, ip, None)
    vip4 = _V4("203.0.113.1")
    adv = VrrpV3(vrid=1, priority=priority, count_ip_addrs=1, addresses=(vip4,))
    body = build_vrrp(adv, src=src, dst=_GROUP4)
    ip = _ipv4(src.packed, _GROUP4.packed, 112, body, ttl=255)
    return _eth(_GROUP4_MAC, virtual_mac(1, 4), 0x0800, ip, None)


FLOOD_SHAPES = ("flood-master", "flood-preempt", "flood-owner", "flood-garp")
_FOREIGN_MAC = bytes.fromhex("020000000099")  # locally administered: no router's


def _foreign_announcement(family: int) -> bytes:
    """A gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6, RFC 4861 section
    7.2.6: to all-nodes, Override set, the target's link-layer address option) for the flood's
    VIP from a MAC of no router."""
    if family == 4:
        ip = _V4("203.0.113.1").packed
        arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, _FOREIGN_MAC, ip, b"\xff" * 6, ip)
        return _eth(b"\xff" * 6, _FOREIGN_MAC, 0x0806, arp, None)
    target = _V6("2001:db8:1::1").packed
    src, dst = _V6("fe80::99").packed, _V6("ff02::1").packed
    body = struct.pack("!BBHI16sBB6s", 136, 0, 0, 0x20000000, target, 2, 1, _FOREIGN_MAC)
    pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
    total = sum(struct.unpack(f"!{(len(pseudo) + len(body)) // 2}H", pseudo + body))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    body = body[:2] + struct.pack("!H", ~total & 0xFFFF) + body[4:]
    return _eth(
        bytes.fromhex("333300000001"), _FOREIGN_MAC, 0x86DD, _ipv6(src, dst, 58, body, 255), None
    )


def flood_frames(kind: str, count: int) -> Iterator[tuple[float, bytes]]:
    """``count`` adverts of a flood of distinct sources (``flood-preempt6`` etc., above); with
    a live master its adverts come on top, one a second."""
    shape, family = kind[:-1], int(kind[-1])
    if shape not in FLOOD_SHAPES or family not in (4, 6):
        raise ValueError(f"unknown flood {kind!r}")
    if family == 4 and count > FLOOD_V4_MAX:
        raise ValueError(f"at most {FLOOD_V4_MAX} distinct IPv4 sources (169.254.0.0/16)")
    first: _V4 | _V6
    if family == 6:
        first, master = _V6("fe80::1:0:0"), _V6("fe80::1")
    else:
        first, master = _V4("169.254.1.0"), _V4("169.254.0.1")
    master_frame = _flood_advert(master, 200)
    announcement = _foreign_announcement(family)
    t = 1_700_000_000.0
    next_master = t
    step = 1.0 / FLOOD_RATE
    for i in range(count):
        if shape == "flood-master" and t >= next_master:
            yield t, master_frame
            next_master += 1.0
        yield t, _flood_advert(first + i, 255 if shape == "flood-owner" else 100)
        if shape == "flood-garp":
            yield t, announcement
        t += step


def write(kind: str, count: int, path: Path, seed: int = 1) -> None:
    source = flood_frames(kind, count) if kind.startswith("flood-") else frames(kind, count, seed)
    with open(path, "wb") as out:
        out.write(_PCAP_HEADER)
        buf: list[bytes] = []
        for t, frame in source:
            sec = int(t)
            buf.append(_REC.pack(sec, int((t - sec) * 1e6), len(frame), len(frame)))
            buf.append(frame)
            if len(buf) > 20000:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
