"""How many adverts per second ``vrrpwatch sniff`` keeps up with, and its CPU use.

Run as root (the namespace lab of tests/lab.py, prefix ``vwc`` + 4 hex digits):

    .venv/bin/python tests/bench/bench_sniff.py [--seconds 5] [--rates 100,1000,...]

A sender namespace floods a lab segment with VRRPv2 adverts from 100 sources at a fixed rate
through an AF_PACKET socket, paced per millisecond, in one of two shapes (``--shape``):
``vrids`` (the default), 100 virtual routers (VRIDs 1-100, each from its own address and
virtual MAC, as 100 masters would); ``one-vrid``, 100 sources in VRID 1, the first at priority
200 (the master) and 99 at 100 (issue 11). ``vrrpwatch sniff eth0 --json --quiet`` listens on
a monitor host for the same time plus a second. For each rate the table shows what was sent,
what sniff counted, the kernel's drop counter (PACKET_STATISTICS, from the run row), the CPU
time sniff used (user + system, from wait4) per second of wall time, and the ``split-brain``
alerts (with the distinct pairs they name) and ``master-lost`` alerts it raised. Target (issue
5): 20,000 adverts/s without drops.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.lab import Lab, missing_prerequisites  # noqa: E402

# The sender, run inside the sender namespace: argv = rate, seconds. Prints frames sent.
SENDER = r"""
import socket, sys, time, ipaddress
sys.path.insert(0, %(root)r)
from dissectors.frame import ETH_P_IP, build_ethernet
from dissectors.ip import IPv4Header, build_ipv4
from dissectors.vrrp import VrrpV2, build_vrrp, virtual_mac
rate, seconds, shape = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
group = ipaddress.IPv4Address("224.0.0.18")
frames = []
for n in range(1, 101):
    src = ipaddress.IPv4Address("198.51.100.0") + n
    if shape == "vrids":  # 100 masters, VRIDs 1-100
        vrid, priority, vip = n, 100, ipaddress.IPv4Address("203.0.113.0") + n
    else:  # one VRID: the first source at priority 200, 99 others at 100
        vrid, priority, vip = 1, 200 if n == 1 else 100, ipaddress.IPv4Address("203.0.113.1")
    adv = VrrpV2(vrid=vrid, priority=priority, count_ip_addrs=1, auth_type=0, adver_int_s=1,
                 addresses=(vip,), auth_data=bytes(8))
    ip = build_ipv4(IPv4Header(src=src, dst=group, protocol=112, ttl=255),
                    build_vrrp(adv, src=src, dst=group))
    frames.append(build_ethernet(bytes.fromhex("01005e000012"), virtual_mac(vrid, 4), ETH_P_IP, ip))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
send = s.send
start = time.monotonic()
total = int(rate * seconds)
sent = 0
while sent < total:
    due = min(total, int((time.monotonic() - start) * rate) + 1)
    while sent < due:
        try:
            send(frames[sent %% 100])
        except BlockingIOError:
            break
        sent += 1
    time.sleep(0.001)
print(sent, time.monotonic() - start)
"""


def run_rate(
    lab_hosts: tuple[object, object], rate: int, seconds: float, work: Path, shape: str = "vrids"
) -> dict:
    sender, mon = lab_hosts
    db = work / f"sniff-{rate}.db"
    for p in work.glob(db.name + "*"):
        p.unlink()
    sniff = subprocess.Popen(
        ["ip", "netns", "exec", mon.ns, sys.executable, "-m", "vrrpwatch", "sniff", "eth0",  # type: ignore[attr-defined]
         "--json", "--quiet", "--db", str(db), "--duration", str(seconds + 2.5)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    lab = mon.lab  # type: ignore[attr-defined]
    lab.processes.append(sniff)
    time.sleep(1.5)  # interpreter start, sockets open
    cpu0 = _cpu_s(sniff.pid)
    out = sender.run(  # type: ignore[attr-defined]
        [sys.executable, "-c", SENDER % {"root": str(ROOT)}, str(rate), str(seconds), shape],
        timeout=seconds + 30,
    ).stdout.split()
    sent, took = int(out[0]), float(out[1])
    flood_cpu = _cpu_s(sniff.pid) - cpu0
    _pid, status, usage = os.wait4(sniff.pid, 0)
    sniff.returncode = os.waitstatus_to_exitcode(status)
    if sniff.returncode != 0:
        raise SystemExit(f"sniff failed: {sniff.stderr.read().decode() if sniff.stderr else ''}")
    con = sqlite3.connect(db)
    packets, drops, started, stopped = con.execute(
        "SELECT packets, kernel_drops, started, stopped FROM runs"
    ).fetchone()
    kinds = dict(con.execute("SELECT kind, count(*) FROM alerts GROUP BY kind").fetchall())
    pairs = {
        frozenset((src, msg.split(" and ", 1)[1].split(" ", 1)[0]))
        for src, msg in con.execute(
            "SELECT source, substr(message, instr(message, ': ') + 2) FROM alerts"
            " WHERE kind = 'split-brain'"
        )
    }
    con.close()
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "rate": rate,
        "sent": sent,
        "send_rate": round(sent / took),
        "captured": packets,
        "kernel_drops": drops,
        "cpu_s": round(cpu, 2),  # the whole run, start-up included
        "flood_cpu_pct": round(100 * flood_cpu / took, 1),  # while the sender ran
        "wall_s": round(stopped - started, 2),
        "split_brain": kinds.get("split-brain", 0),
        "split_brain_pairs": len(pairs),
        "master_lost": kinds.get("master-lost", 0),
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rates", default="100,1000,5000,10000,20000,30000,40000")
    ap.add_argument("--json", action="store_true", help="one JSON object per rate")
    ap.add_argument("--shape", choices=("vrids", "one-vrid"), default="vrids")
    ap.add_argument("--prefix", default="vwc", help="the lab's namespace prefix (+ 4 hex digits)")
    args = ap.parse_args()
    missing = missing_prerequisites()
    if missing:
        raise SystemExit("; ".join(missing))
    rates = [int(r) for r in args.rates.split(",")]
    with Lab(prefix=f"{args.prefix}{secrets.token_hex(2)}") as lab:
        lan = lab.segment()
        sender = lab.host("gen", lan, addr4="198.51.100.250/24", ipv6=False)
        mon = lab.host("mon", lan, ipv6=False)
        work = lab.workdir
        rows = []
        print(f"shape {args.shape}; load average {os.getloadavg()[0]:.2f}")
        print(f"{'rate/s':>8} {'sent/s':>8} {'sent':>8} {'captured':>9} {'drops':>7} "
              f"{'cpu s':>6} {'flood cpu %':>11} {'split-brain (pairs)':>19} "
              f"{'master-lost':>11}")  # fmt: skip
        for rate in rates:
            r = run_rate((sender, mon), rate, args.seconds, work, args.shape)
            rows.append(r)
            if args.json:
                print(json.dumps(r), flush=True)
            else:
                sb = f"{r['split_brain']} ({r['split_brain_pairs']})"
                print(f"{r['rate']:>8} {r['send_rate']:>8} {r['sent']:>8} {r['captured']:>9} "
                      f"{r['kernel_drops']:>7} {r['cpu_s']:>6} {r['flood_cpu_pct']:>11} "
                      f"{sb:>19} {r['master_lost']:>11}", flush=True)  # fmt: skip
        clean = [r for r in rows if r["kernel_drops"] == 0 and r["captured"] >= r["sent"]]
        best = max((r["send_rate"] for r in clean), default=0)
        print(f"highest rate without kernel drops: {best} adverts/s (target 20000)")
        for r in rows:
            if r["rate"] in (100, 1000):
                print(f"CPU at {r['rate']} adverts/s: {r['flood_cpu_pct']} % of one core")


if __name__ == "__main__":
    main()
