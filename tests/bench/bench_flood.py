"""Benchmark: ``vrrpwatch analyze`` of a flood of distinct sources in one virtual router (issue 11).

    .venv/bin/python tests/bench/bench_flood.py [--sources 100000] [--before DIR] [--repeat 2]

Generates (once, cached in --out) the flood captures of tests/bench/gen.py: every advert from a
source of its own for VRID 1, 20,000 adverts/s, IPv6 (link-local sources) and IPv4
(169.254.0.0/16, at most 65,024 sources):

* ``flood-preempt``: each source outranks the one before and takes over (a transition, a
  master-change alert and a forgotten advertiser per advert);
* ``flood-master``: the sources under a live master that advertises every second;
* with ``--shapes``, also ``flood-owner`` (every source at priority 255, each taking over) and
  ``flood-garp`` (flood-preempt with a gratuitous ARP or NA from a foreign MAC after each
  advert).

Times the whole command (decode, monitor, SQLite store, the summary read back and the text
output; ``--json`` adds the JSON document) and prints wall and CPU seconds (user + system, from
wait4) and peak RSS. The reference, measured in the same run: with ``--before DIR`` (a checkout
of the tree before, e.g. ``git worktree add /tmp/perf-before 64b1558``) the same command of that
tree, interleaved run by run with this one (``python -m vrrpwatch`` runs the tree it starts in),
and the ratio before/after; without it, ``vrrpwatch analyze`` of a capture of the same number of
adverts from a single master (the decode cache and the monitor's fast path: the cost a flood
adds). The best of --repeat runs of each. Target (issue 11): 100,000 distinct sources in one
router in under 10 s.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.bench.child import run_measured  # noqa: E402
from tests.bench.gen import FLOOD_SHAPES, FLOOD_V4_MAX, write  # noqa: E402


def analyze(tree: Path, capture: Path, db: Path, as_json: bool) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (bytes) of ``vrrpwatch analyze`` of ``tree``."""
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    cmd = [sys.executable, "-m", "vrrpwatch", "analyze", str(capture), "--db", str(db)]
    if as_json:
        cmd.append("--json")
    return run_measured(cmd, cwd=tree, what=f"{tree}: analyze {capture}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/vrrpwatch-bench"))
    ap.add_argument("--before", type=Path, help="a checkout of the tree to compare with")
    ap.add_argument("--repeat", type=int, default=2, help="best of N for each command")
    ap.add_argument("--json", action="store_true", help="analyze --json (the JSON document too)")
    ap.add_argument("--families", default="6,4")
    ap.add_argument(
        "--shapes", default="flood-master,flood-preempt",
        help=f"comma-separated, of {', '.join(FLOOD_SHAPES)} (tests/bench/gen.py)",
    )  # fmt: skip
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    captures: list[tuple[str, Path, int]] = []
    for family in (int(f) for f in args.families.split(",")):
        n = min(args.sources, FLOOD_V4_MAX) if family == 4 else args.sources
        for shape in args.shapes.split(","):
            kind = f"{shape}{family}"
            path = args.out / f"{kind}-{n}.pcap"
            if not path.exists():
                print(f"generating {path} ...", flush=True)
                write(kind, n, path)
            captures.append((kind, path, n))
    ref = args.out / f"adverts-{args.sources}.pcap"
    if args.before is None and not ref.exists():
        write("adverts", args.sources, ref)
    trees = [("after", ROOT)] + ([("before", args.before)] if args.before else [])
    db = args.out / "flood.db"
    other = "before" if args.before else "one master"
    print(f"{'capture':<16} {'sources':>8} {'wall s':>7} {'CPU s':>6} {'RSS MB':>7} "
          f"{other + ' wall s':>17} {'CPU s':>6} {'CPU ratio':>9}")  # fmt: skip
    for kind, path, n in captures:
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _ in trees}
        for _ in range(args.repeat):  # interleaved: the load changes alike for both
            for name, tree in trees:
                runs[name].append(analyze(tree, path, db, args.json))
            if args.before is None:
                runs.setdefault("ref", []).append(analyze(ROOT, ref, db, args.json))
        best = {
            name: (min(r[0] for r in rs), min(r[1] for r in rs), max(r[2] for r in rs))
            for name, rs in runs.items()
        }
        wall, cpu, rss = best["after"]
        o_wall, o_cpu, _ = best["before" if args.before else "ref"]
        print(f"{kind:<16} {n:>8} {wall:>7.2f} {cpu:>6.2f} {rss / 2**20:>7.1f} {o_wall:>17.2f} "
              f"{o_cpu:>6.2f} {o_cpu / cpu:>8.2f}x", flush=True)  # fmt: skip
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after the runs")


if __name__ == "__main__":
    main()
