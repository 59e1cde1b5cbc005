"""Benchmark: `vrrpwatch analyze` against tshark on deterministic captures, in the same run.

    .venv/bin/python tests/bench/bench_analyze.py [--packets 1000000] [--out DIR]

Generates (once, cached in DIR) a mixed capture (mostly ordinary IPv4/IPv6 traffic, some
802.1Q-tagged, ~2.5 % VRRP adverts over 20 virtual routers on 4 VLANs, some GARPs), one where
every packet is an advert, and a mixed one three times as long. Times the whole command,
SQLite included, and the reference

    tshark -r FILE -Y 'vrrp or arp' -T fields -e frame.number -e vrrp.virt_rtr_id -e vrrp.prio

and prints packets/s, the ratio to tshark and peak RSS (from wait4 for each child), plus the
memory growth between 1x and 3x (and a run reading the capture from a pipe). The ratio is given
twice: by wall time, and by CPU time (user + system, from wait4), which a busy machine disturbs
less. To compare two trees in one session, run this script with the other tree as the working
directory: ``python -m vrrpwatch`` runs the tree it starts in. Targets (issue 4):
>= 15x tshark on mixed, >= 4x on all-adverts, peak RSS < 100 MB and within 10 % from 1x to 3x.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.bench.child import run_measured  # noqa: E402
from tests.bench.gen import write  # noqa: E402

VRRPWATCH = [sys.executable, "-m", "vrrpwatch"]
TSHARK = "tshark -r {f} -Y 'vrrp or arp' -T fields -e frame.number -e vrrp.virt_rtr_id -e vrrp.prio"


def measure(cmd: str) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (bytes) and CPU seconds of one shell command, output discarded."""
    wall, cpu, rss = run_measured(["bash", "-c", f"exec {cmd}"], what=cmd)
    return wall, rss, cpu


def ours(capture: Path, db: Path, pipe: bool = False) -> tuple[float, int, float]:
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    exe = " ".join(VRRPWATCH)
    if pipe:
        # a shell pipe: the reader must work in chunks; peak RSS is the analyzer's alone
        return measure(f"bash -c 'cat {capture} | {exe} analyze - --db {db} --json'")
    return measure(f"{exe} analyze {capture} --db {db} --json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/vrrpwatch-bench"))
    ap.add_argument("--repeat", type=int, default=2, help="best of N for each command")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    n = args.packets
    files = {
        "mixed": (args.out / f"mixed-{n}.pcap", "mixed", n),
        "adverts": (args.out / f"adverts-{n}.pcap", "adverts", n),
        "mixed-3x": (args.out / f"mixed-{3 * n}.pcap", "mixed", 3 * n),
    }
    for path, kind, count in files.values():
        if not path.exists():
            print(f"generating {path} ({count} packets) ...", flush=True)
            write(kind, count, path)
    db = args.out / "bench.db"

    def best(fn: object, *a: object) -> tuple[float, int, float]:
        runs = [fn(*a) for _ in range(args.repeat)]  # type: ignore[operator]
        return min(r[0] for r in runs), max(r[1] for r in runs), min(r[2] for r in runs)

    print(f"{'capture':<10} {'packets':>9} {'vrrpwatch pkt/s':>16} {'tshark pkt/s':>13} "
          f"{'ratio':>6} {'CPU ratio':>9} {'RSS MB':>7} {'tshark RSS MB':>13}")  # fmt: skip
    results = {}
    for name in ("mixed", "adverts"):
        path, _, count = files[name]
        t_ours, rss, cpu_ours = best(ours, path, db)
        t_shark, rss_shark, cpu_shark = best(measure, TSHARK.format(f=path))
        results[name] = (t_ours, rss)
        print(
            f"{name:<10} {count:>9} {count / t_ours:>16,.0f} {count / t_shark:>13,.0f} "
            f"{t_shark / t_ours:>5.1f}x {cpu_shark / cpu_ours:>8.1f}x {rss / 2**20:>7.1f} "
            f"{rss_shark / 2**20:>13.1f}",
            flush=True,
        )
    path3, _, count3 = files["mixed-3x"]
    t3, rss3, _ = best(ours, path3, db)
    _, rss1 = results["mixed"]
    print(f"mixed-3x   {count3:>9} {count3 / t3:>16,.0f}  peak RSS {rss3 / 2**20:.1f} MB, "
          f"{(rss3 / rss1 - 1) * 100:+.1f} % against 1x")  # fmt: skip
    t_pipe, rss_pipe, _ = ours(files["mixed"][0], db, pipe=True)
    print(f"mixed from a pipe: {n / t_pipe:,.0f} pkt/s, peak RSS {rss_pipe / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
