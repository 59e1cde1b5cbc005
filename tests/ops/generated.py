"""A Monitor of many generated virtual routers, for the scrape benchmark and the exposition
tests: 4 VLANs x N/4 VRIDs, two advertisers each (a backup first, then the master preempting
it, so every router has a master change)."""

from __future__ import annotations

import ipaddress
import struct

from dissectors.vrrp import VrrpV3, build_vrrp, virtual_mac
from vrrpwatch.watch.files import CachedDecoder
from vrrpwatch.watch.monitor import Monitor

GROUP = ipaddress.IPv4Address("224.0.0.18")
SOURCES = (ipaddress.IPv4Address("198.51.100.2"), ipaddress.IPv4Address("198.51.100.1"))


def advert(vlan: int, vrid: int, which: int) -> bytes:
    src = SOURCES[which]
    vip = ipaddress.IPv4Address(f"203.0.113.{vrid}")
    adv = VrrpV3(vrid=vrid, priority=100 + 100 * which, count_ip_addrs=1, addresses=(vip,))
    body = build_vrrp(adv, src=src, dst=GROUP)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 255, 112, 0, src.packed, GROUP.packed
    ) + body  # fmt: skip
    eth = bytes.fromhex("01005e000012") + virtual_mac(vrid, 4)
    return eth + struct.pack("!HHH", 0x8100, vlan, 0x0800) + ip


def monitor_with(routers: int) -> Monitor:
    m = Monitor(fingerprint=lambda pw: "fp")
    decode = CachedDecoder().decode
    keys = [(10 * (1 + i % 4), 1 + i // 4) for i in range(routers)]
    t, frame = 1_800_000_000.0, 0
    for second in range(4):
        for vlan, vrid in keys:
            frame += 1
            d = decode(advert(vlan, vrid, 0 if second < 2 else 1), 1)
            assert d is not None
            m.observe(frame, t + second + vrid * 1e-4, d)
    assert len(m.routers) == routers
    return m
