"""Benchmark: the HTML report of a 24-hour run of 100 virtual routers (issue 13).

    .venv/bin/python tests/bench/bench_html.py [--hours 24] [--routers 100] [--out DIR]

Generates (once, cached in DIR) a capture of 100 VRRP groups (v2 and v3, on 4 VLANs), each
two routers advertising every second for 24 hours: about 8.6 million adverts. Masters change
now and then (a clean stop with priority 0, or a silent master, alternately; the new master
sends 5 gratuitous ARPs) and a few groups flap for a while. Analyzes it, then renders the
report and prints its size and render time, and checks that no transition or alert was
dropped from the page. Targets: < 5 MB, < 2 s.
"""

from __future__ import annotations

import argparse
import heapq
import ipaddress
import random
import re
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from dissectors.arp import build_arp, gratuitous_arp  # noqa: E402
from dissectors.frame import BROADCAST_MAC, build_ethernet  # noqa: E402
from dissectors.ip import IPv4Header, build_ipv4  # noqa: E402
from dissectors.vrrp import (  # noqa: E402
    IPPROTO_VRRP,
    VRRP_MCAST_V4,
    VrrpV2,
    VrrpV3,
    build_vrrp,
    virtual_mac,
)

T0 = 1_800_000_000.0
MCAST_MAC = bytes.fromhex("01005e000012")
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
_REC = struct.Struct("<IIII")


class Group:
    """One virtual router: two routers (prio 200 and 100), one master at a time."""

    def __init__(self, idx: int, rng: random.Random, hours: float) -> None:
        self.vlan = (10, 20, 30, 40)[idx % 4]
        self.vrid = 1 + idx // 4
        self.version = 2 if idx % 2 else 3
        self.addrs = [ipaddress.IPv4Address(f"198.51.100.{1 + 2 * idx + i}") for i in (0, 1)]
        self.vip = ipaddress.IPv4Address(f"203.0.113.{1 + idx}")
        self.mac = virtual_mac(self.vrid, 4)
        self.phase = rng.random()
        span = hours * 3600
        count = rng.randint(200, 300) if idx % 20 == 7 else rng.randint(0, 8)
        if idx % 20 == 7:  # a flapping group: its changes come in one bad hour
            start = rng.uniform(0, span - 3600)
            times = [start + rng.uniform(0, 3600) for _ in range(count)]
        else:
            times = [rng.uniform(60, span - 60) for _ in range(count)]
        self.changes = sorted(times)
        self.end = T0 + span
        self.adverts = {(w, p): self._advert(w, p) for w in (0, 1) for p in (0, 100, 200)}
        garp = build_arp(gratuitous_arp(self.mac, self.vip))
        self.garp = build_ethernet(BROADCAST_MAC, self.mac, 0x0806, garp, (self.vlan,))

    def _advert(self, which: int, priority: int) -> bytes:
        src = self.addrs[which]
        adv: VrrpV2 | VrrpV3
        if self.version == 2:
            adv = VrrpV2(vrid=self.vrid, priority=priority, count_ip_addrs=1,
                         addresses=(self.vip,))  # fmt: skip
        else:
            adv = VrrpV3(vrid=self.vrid, priority=priority, count_ip_addrs=1,
                         addresses=(self.vip,))  # fmt: skip
        ip = build_ipv4(
            IPv4Header(src=src, dst=VRRP_MCAST_V4, protocol=IPPROTO_VRRP),
            build_vrrp(adv, src=src, dst=VRRP_MCAST_V4),
        )
        return build_ethernet(MCAST_MAC, self.mac, 0x0800, ip, (self.vlan,))

    def frames(self) -> Iterator[tuple[float, bytes]]:
        master = 0
        t = T0 + self.phase
        changes = iter(self.changes)
        nxt = next(changes, None)
        resign = True
        while t < self.end:
            if nxt is not None and t >= T0 + nxt:
                new = master ^ 1
                prio_new = 200 if new == 0 else 100
                if resign:  # clean stop: priority 0, the backup after Skew_Time
                    yield t, self.adverts[(master, 0)]
                    t += (256 - prio_new) / 256
                else:  # silent: the backup after Master_Down_Interval
                    t += 2 + (256 - prio_new) / 256
                for _ in range(5):
                    yield t, self.garp
                resign = not resign
                master = new
                nxt = next(changes, None)
            yield t, self.adverts[(master, 200 if master == 0 else 100)]
            t += 1.0


def write_capture(path: Path, routers: int, hours: float) -> int:
    rng = random.Random(13)
    groups = [Group(i, rng, hours) for i in range(routers)]
    n = 0
    with open(path, "wb") as out:
        out.write(_PCAP_HEADER)
        buf: list[bytes] = []
        for t, frame in heapq.merge(*(g.frames() for g in groups), key=lambda x: x[0]):
            sec = int(t)
            buf.append(_REC.pack(sec, int((t - sec) * 1e6), len(frame), len(frame)))
            buf.append(frame)
            n += 1
            if len(buf) > 40000:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--routers", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("/tmp/vrrpwatch-bench"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    capture = args.out / f"html-{args.routers}r-{args.hours:g}h.pcap"
    db = args.out / f"html-{args.routers}r-{args.hours:g}h.db"
    if not capture.exists():
        print(f"generating {capture} ...", flush=True)
        start = time.perf_counter()
        n = write_capture(capture, args.routers, args.hours)
        print(f"  {n} frames, {capture.stat().st_size / 1e6:.0f} MB, "
              f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    if not db.exists():
        print(f"analyzing {capture} ...", flush=True)
        start = time.perf_counter()
        exe = [sys.executable, "-m", "vrrpwatch"]
        subprocess.run([*exe, "analyze", str(capture), "--db", str(db), "--json"],
                       stdout=subprocess.DEVNULL, check=True)  # fmt: skip
        print(f"  {time.perf_counter() - start:.0f} s", flush=True)

    from vrrpwatch.report.html import render_html
    from vrrpwatch.store.db import open_db
    from vrrpwatch.store.summary import latest_run
    from vrrpwatch.store.timeline import report_data

    store = open_db(db)
    start = time.perf_counter()
    data = report_data(store, latest_run(store))
    read_s = time.perf_counter() - start
    render_s = cpu_s = float("inf")
    for _ in range(3):  # best of 3: the machine is shared
        start, cpu = time.perf_counter(), time.process_time()
        page = render_html(data)
        render_s = min(render_s, time.perf_counter() - start)
        cpu_s = min(cpu_s, time.process_time() - cpu)
    size = len(page.encode())
    (args.out / "html-report.html").write_text(page)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "vrrpwatch", "report", "--db", str(db),
         "--html", str(args.out / "html-report-cli.html")],
        stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    cli_s = time.perf_counter() - start
    failovers = sum(1 for v in data["virtual_routers"] for t in v["transitions"] if t["from"])
    alerts = len(data["alerts"])
    whole = re.sub(r'<svg class="closeup".*?</svg>', "", page, flags=re.S)  # the run's charts
    fo_marks = len(re.findall(r'<a class="fo ', whole))
    alert_marks = len(re.findall(r"data-alert=", whole))
    print(f"routers {len(data['virtual_routers'])}, failovers {failovers} (markers {fo_marks}), "
          f"alerts {alerts} (markers {alert_marks})")  # fmt: skip
    print(f"size {size / 1e6:.2f} MB (target < 5 MB)")
    print(f"render {render_s:.2f} s, {cpu_s:.2f} s CPU (target < 2 s); "
          f"reading the store {read_s:.2f} s; "
          f"whole `vrrpwatch report --html` {cli_s:.2f} s")  # fmt: skip
    ok = size < 5e6 and render_s < 2 and fo_marks == failovers and alert_marks == alerts
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
