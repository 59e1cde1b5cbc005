"""Time-compressed soak of ``vrrpwatch sniff``: memory, database size and the cost of --metrics and
--alertmanager, measured side by side.

Run as root (the namespace lab of tests/lab.py, prefix ``vws`` + 4 hex digits):

    .venv/bin/python tests/bench/bench_soak.py [--seconds 600] [--every 30] [--no-alertmanager]

A sender namespace plays 100 virtual routers advertising every 0.1 s (VRRPv3, 1,000 adverts/s):
each has a master (priority 200) and a backup (priority 100); every 30 s one router's master
falls silent and its backup takes over after its Master_Down_Interval. Two monitor hosts on the
segment sniff the same traffic at the same time: ``full`` with ``--metrics`` (scraped every
second by a scraper in its namespace) and ``--alertmanager`` (a real Alertmanager there,
``--alertmanager-severity info`` so every master change is pushed), ``plain`` with neither. Every
``--every`` seconds the table shows each sniff's RSS, its CPU since the previous row and its
database size. CPU is counted from when both sniffs have started (their imports done: the
full one's extra imports are a one-off, reported as ``startup_cpu_s``), and split by thread
(``cpu_s_by_thread``: the packet loop is ``main``; the metrics server's ``serve_forever`` and
``metrics request`` threads, the ``alert pusher`` and one sender per Alertmanager; ``ended``:
threads gone by the end). Targets (issue 12): RSS flat after warm-up (within 2 MB), at most
10 % more CPU with metrics and alert push, a scrape under 50 ms.

Investigating (not for the figures): ``VWS_PROFILE=FILE`` runs each thread under cProfile with
a CPU clock and writes FILE.<arm>.<thread>; ``VWS_PROFILE_THREADS=request`` profiles only the
threads whose names match (profiling the packet loop slows it behind the traffic).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.lab import Lab, missing_prerequisites  # noqa: E402
from tests.ops.labtools import Alertmanager, free_port, http_get  # noqa: E402

ROUTERS = 100
INTERVAL_S = 0.1
FAILOVER_EVERY_S = 30.0

# The sender (argv: seconds). Per 0.1 s tick one advert per router from its current master; a
# failed-over router is silent for its backup's Master_Down_Interval, then the backup advertises.
SENDER = r"""
import ipaddress, socket, sys, time
sys.path.insert(0, %(root)r)
from dissectors.frame import ETH_P_IP, build_ethernet
from dissectors.ip import IPv4Header, build_ipv4
from dissectors.vrrp import VrrpV3, build_vrrp, virtual_mac
from vrrpwatch.rfc import master_down_interval
seconds = float(sys.argv[1])
group = ipaddress.IPv4Address("224.0.0.18")
def frame(vrid, which):
    src = ipaddress.IPv4Address("198.51.100.%%d" %% (1 + which))
    adv = VrrpV3(vrid=vrid, priority=200 - 100 * which, count_ip_addrs=1, max_adver_int_cs=10,
                 addresses=(ipaddress.IPv4Address("203.0.113.0") + vrid,))
    ip = build_ipv4(IPv4Header(src=src, dst=group, protocol=112, ttl=255),
                    build_vrrp(adv, src=src, dst=group))
    return build_ethernet(bytes.fromhex("01005e000012"), virtual_mac(vrid, 4), ETH_P_IP, ip)
frames = {(v, w): frame(v, w) for v in range(1, %(routers)d + 1) for w in (0, 1)}
master = {v: 0 for v in range(1, %(routers)d + 1)}
silent_until = {}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
start = time.monotonic()
tick, sent, failovers = 0, 0, 0
mdi = master_down_interval(100, %(interval)r, 3)
while True:
    now = time.monotonic() - start
    if now >= seconds:
        break
    if now >= (failovers + 1) * %(every)r:
        vrid = 1 + failovers %% %(routers)d
        failovers += 1
        silent_until[vrid] = now + mdi
        master[vrid] ^= 1
    for vrid, which in master.items():
        if silent_until.get(vrid, 0) > now:
            continue
        s.send(frames[(vrid, which)])
        sent += 1
    tick += 1
    time.sleep(max(0.0, start + tick * %(interval)r - time.monotonic()))
print(sent, failovers)
"""

SCRAPER = r"""
import sys, time, urllib.request
url, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
times = []
while time.monotonic() < end:
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
        times.append((time.perf_counter() - t) * 1000)
    except OSError:
        pass
    time.sleep(max(0.0, 1.0 - (time.perf_counter() - t)))
print(" ".join("%.2f" % x for x in times))
"""

# Both sniffs start through this wrapper (argv: sniff's arguments): each Python thread names
# its OS thread (prctl PR_SET_NAME, 15 bytes) after itself, so /proc/PID/task/*/comm tells the
# packet loop (the main thread) from the metrics server, the alert pusher and its senders.
# With env VWS_PROFILE=FILE, each thread runs under cProfile with a CPU-time clock (per-thread
# CPU, its overhead included) and the stats are dumped to FILE.<arm>.<thread> at exit; with
# VWS_PROFILE_THREADS=REGEX only the threads whose names match (investigation only: the
# soak's figures are measured without it, and profiling the packet loop slows it behind).
WRAPPER = r"""
import ctypes, os, re, runpy, sys, threading, time
libc = ctypes.CDLL(None)
profile = os.environ.get("VWS_PROFILE")
only = re.compile(os.environ.get("VWS_PROFILE_THREADS", ""))  # e.g. "request": those alone
profiles = []
def short(name):
    target = re.search(r"[(](\w+)[)]", name)  # "Thread-3 (serve_forever)": its target
    return target.group(1) if target else name.replace("alertmanager http://", "am ")
inner = threading.Thread._bootstrap_inner
def bootstrap(self):
    libc.prctl(15, short(self.name).encode()[:15], 0, 0, 0)
    if not profile or not only.search(self.name):
        return inner(self)
    import cProfile
    prof = cProfile.Profile(time.thread_time)
    profiles.append((self.name, prof))
    prof.enable()
    try:
        inner(self)
    finally:
        prof.disable()
threading.Thread._bootstrap_inner = bootstrap
sys.argv = ["vrrpwatch", *sys.argv[1:]]
if profile:
    import atexit, cProfile, pstats
    main = cProfile.Profile(time.thread_time)
    if only.search("main"):
        profiles.append(("main", main))
    def dump():
        main.disable()
        merged = {}
        for name, prof in profiles:
            key = re.sub(r"[^a-z0-9]+", "_", short(name).lower())
            merged.setdefault(key, []).append(prof)
        for key, profs in merged.items():
            profs[0].create_stats()
            st = pstats.Stats(profs[0])
            for other in profs[1:]:
                other.create_stats()
                st.add(other)
            st.dump_stats(profile + "." + key)
    atexit.register(dump)
    if only.search("main"):
        main.enable()
runpy.run_module("vrrpwatch", run_name="__main__")
"""


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MB, user + system CPU seconds) of a running process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, cpu


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process's live threads by name (main, metrics server, alert pusher,
    am HOST:PORT); what threads that have ended used is under ``ended``."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        name = "main" if task.name == str(pid) else name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    out["ended"] = max(0.0, proc_stats(pid)[1] - sum(out.values()))
    return out


def settled(
    sniffs: dict[str, subprocess.Popen[bytes]], timeout_s: float = 60.0
) -> dict[str, float]:
    """Wait until every sniff has started (its CPU time still for a second: imports done, the
    packet loop waiting, no traffic yet); their CPU seconds so far. The soak's CPU figures
    are counted from then on, so the full sniff's extra imports (prometheus-client, the HTTP
    server) are reported apart, as a one-off."""
    deadline = time.monotonic() + timeout_s
    before = {n: proc_stats(p.pid)[1] for n, p in sniffs.items()}
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = {n: proc_stats(p.pid)[1] for n, p in sniffs.items()}
        if now == before:
            break
        before = now
    return before


def db_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / (1 << 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--every", type=float, default=30.0)
    ap.add_argument(
        "--no-alertmanager",
        action="store_true",
        help="the full sniff serves --metrics only (to tell the two costs apart)",
    )
    args = ap.parse_args()
    missing = missing_prerequisites()
    if missing:
        raise SystemExit("; ".join(missing))
    with Lab(prefix=f"vws{secrets.token_hex(2)}") as lab:
        lan = lab.segment()
        gen = lab.host("gen", lan, addr4="198.51.100.250/24", ipv6=False)
        full = lab.host("full", lan, ipv6=False)
        plain = lab.host("plain", lan, ipv6=False)
        work = lab.workdir
        am = Alertmanager(
            work / "am", free_port(full), prefix=["ip", "netns", "exec", full.ns],
            get=lambda url: http_get(full, url),
        )  # fmt: skip
        am.start()
        try:
            port = free_port(full)
            dbs = {"full": work / "full.db", "plain": work / "plain.db"}
            push = (
                []
                if args.no_alertmanager
                else ["--alertmanager", am.url, "--alertmanager-severity", "info"]
            )
            extra = {"full": ["--metrics", f"127.0.0.1:{port}", *push], "plain": []}  # fmt: skip
            sniffs = {}
            env = dict(os.environ)
            profile = env.pop("VWS_PROFILE", "")
            for name, host in (("full", full), ("plain", plain)):
                p = subprocess.Popen(
                    ["ip", "netns", "exec", host.ns, sys.executable, "-c", WRAPPER, "sniff",
                     "eth0", "--json", "--quiet", "--db", str(dbs[name]), *extra[name]],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    env=env | {"VWS_PROFILE": f"{profile}.{name}"} if profile else env,
                )  # fmt: skip
                lab.processes.append(p)
                sniffs[name] = p
            startup = settled(sniffs)
            sender = gen.popen(
                [sys.executable, "-c", SENDER % {"root": str(ROOT), "routers": ROUTERS,
                 "interval": INTERVAL_S, "every": FAILOVER_EVERY_S}, str(args.seconds)],
                log=work / "sender.log",
            )  # fmt: skip
            scraper = full.popen(
                [sys.executable, "-c", SCRAPER, f"http://127.0.0.1:{port}/metrics",
                 str(args.seconds)],
                log=work / "scraper.log",
            )  # fmt: skip
            start = time.monotonic()
            last = {n: proc_stats(p.pid) for n, p in sniffs.items()}
            cpu0 = {n: last[n][1] for n in sniffs}
            threads0 = {n: thread_cpu(p.pid) for n, p in sniffs.items()}
            rows = []
            print(f"{'t s':>5} | {'full RSS MB':>11} {'CPU %':>6} {'db MB':>6} | "
                  f"{'plain RSS MB':>12} {'CPU %':>6} {'db MB':>6}", flush=True)  # fmt: skip
            t_prev = start
            while time.monotonic() - start < args.seconds:
                time.sleep(args.every - (time.monotonic() - start) % args.every)
                now = time.monotonic()
                row: dict[str, float] = {"t": round(now - start)}
                for n, p in sniffs.items():
                    rss, cpu = proc_stats(p.pid)
                    row[f"{n}_rss"] = round(rss, 2)
                    row[f"{n}_cpu"] = round(100 * (cpu - last[n][1]) / (now - t_prev), 1)
                    row[f"{n}_db"] = round(db_mb(dbs[n]), 2)
                    last[n] = (rss, cpu)
                t_prev = now
                rows.append(row)
                print(f"{row['t']:>5.0f} | {row['full_rss']:>11} {row['full_cpu']:>6} "
                      f"{row['full_db']:>6} | {row['plain_rss']:>12} {row['plain_cpu']:>6} "
                      f"{row['plain_db']:>6}", flush=True)  # fmt: skip
            sender.wait(60)
            scraper.wait(60)
            total_cpu = {n: last[n][1] - cpu0[n] for n in sniffs}
            threads = {
                n: {k: v - threads0[n].get(k, 0.0) for k, v in thread_cpu(p.pid).items()}
                for n, p in sniffs.items()
            }
            alerts = am.alerts() or []
            for p in sniffs.values():
                p.terminate()
                p.wait(20)
        finally:
            am.stop()
        sent, failovers = (work / "sender.log").read_text().split()[:2]
        scrapes = [float(x) for x in (work / "scraper.log").read_text().split()]
        warm = [r for r in rows if r["t"] >= 60] or rows
        summary = {
            "adverts_sent": int(sent),
            "failovers": int(failovers),
            "rss_growth_after_60s_mb": {
                n: round(warm[-1][f"{n}_rss"] - warm[0][f"{n}_rss"], 2) for n in sniffs
            },
            "cpu_s": {n: round(c, 1) for n, c in total_cpu.items()},
            "cpu_extra_pct": round(100 * (total_cpu["full"] / total_cpu["plain"] - 1), 1),
            "startup_cpu_s": {n: round(c, 2) for n, c in startup.items()},
            "cpu_s_by_thread": {
                n: {k: round(v, 2) for k, v in sorted(t.items())} for n, t in threads.items()
            },
            "db_mb": {n: rows[-1][f"{n}_db"] for n in sniffs},
            "scrapes": len(scrapes),
            "scrape_ms_median": round(statistics.median(scrapes), 1) if scrapes else None,
            "scrape_ms_max": round(max(scrapes), 1) if scrapes else None,
            "alertmanager_alerts_at_end": len(alerts),
        }
        print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
