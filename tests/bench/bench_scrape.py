"""How long one scrape of ``sniff --metrics`` takes with many virtual routers.

A real Monitor is fed decoded adverts of N routers (4 VLANs x N/4 VRIDs, two advertisers each:
a backup first, then the master preempting it, so every router has a master change), then its
collector is scraped through prometheus-client's HTTP server on 127.0.0.1, as Prometheus would.
Target (issue 12): under 50 ms with 1,000 routers.

    .venv/bin/python tests/bench/bench_scrape.py [--routers 1000] [--scrapes 30]
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import struct
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from dissectors.vrrp import VrrpV3, build_vrrp, virtual_mac  # noqa: E402
from vrrpwatch.ops.episodes import EpisodeBook  # noqa: E402
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for  # noqa: E402
from vrrpwatch.watch.files import CachedDecoder  # noqa: E402
from vrrpwatch.watch.monitor import Monitor  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=30)
    args = ap.parse_args()
    m = monitor_with(args.routers)
    now = m.last_time + 2
    server = MetricsServer(
        "127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m), clock=lambda: now))
    )
    url = f"http://127.0.0.1:{server.port}/metrics"
    times, size = [], 0
    try:
        for _ in range(args.scrapes):
            start = time.perf_counter()
            with urllib.request.urlopen(url, timeout=10) as r:
                body = r.read()
            times.append((time.perf_counter() - start) * 1000)
            size = len(body)
    finally:
        server.close()
    # CPU time of one scrape in this thread (the wall time above includes the machine's load):
    # building the families, then prometheus-client's text rendering of them.
    from prometheus_client import generate_latest

    collector = SniffCollector(m, EpisodeBook(m), clock=lambda: now)
    reg = registry_for(collector)
    cpu_collect, cpu_total = [], []
    for _ in range(5):
        t = time.thread_time()
        list(collector.collect())
        cpu_collect.append((time.thread_time() - t) * 1000)
        t = time.thread_time()
        generate_latest(reg)
        cpu_total.append((time.thread_time() - t) * 1000)
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    print(f"routers {args.routers}, series {series}, body {size / 1024:.0f} KiB")
    print(
        f"scrape ms: median {statistics.median(times):.1f}, "
        f"p90 {sorted(times)[int(0.9 * len(times)) - 1]:.1f}, max {max(times):.1f} "
        f"({args.scrapes} scrapes; the first {times[0]:.1f})"
    )
    print(
        f"cpu ms (median of 5): collect {statistics.median(cpu_collect):.0f}, "
        f"collect + render {statistics.median(cpu_total):.0f}"
    )


if __name__ == "__main__":
    main()
