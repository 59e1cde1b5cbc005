"""Benchmark: the ``--json`` document of a big run (``analyze --json``, ``report --json``).

    .venv/bin/python tests/bench/bench_json.py [--sources 100000] [--out DIR] [--repeat 2]

The captures: the IPv6 floods of tests/bench/gen.py (generated once, cached in --out, the same
files as bench_flood.py): ``flood-preempt6`` (100,000 transitions and 120,000 alerts in the
document, 78 MB of JSON) and ``flood-master6``; and the bundled ``captures/v2-failover.pcap``.

Each command runs in a child process of its own (wall and CPU seconds from wait4, peak RSS),
twice over, interleaved: ``after`` is the command as it is (vrrpwatch/store/json_text.py's
streaming writer); ``before``, the reference measured in the same run, is the same command with
that writer replaced by what the CLI did before, ``click.echo(json.dumps(doc, indent=2))``. Both
outputs are compared byte for byte, and each child times its JSON step alone (the analysis of a
flood varies by seconds between runs; that step does not). The command without ``--json`` is the
floor (for report: the document read back from the store and the text tables).

Then, in this process, the phases of the flood's ``report --json``: the document read back
(``summarize``), ``json.dumps(doc, indent=2)``, the writer, and ``json.dumps(doc)`` (the C
encoder alone, no indent: the floor of any encoder of this text).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.bench.child import run_measured  # noqa: E402
from tests.bench.gen import write  # noqa: E402

Figures = tuple[float, float, int]  # wall s, CPU s, peak RSS bytes


STEP = "BENCH_JSON_STEP"  # the file a child writes the CPU seconds of its JSON step to


def child(mode: str, args: list[str]) -> None:
    """Run ``vrrpwatch ARGS``; with mode ``before``, the JSON written as the CLI wrote it. The CPU
    seconds of the JSON step (the document already built) go to the file named by $STEP."""
    import click

    from vrrpwatch.cli import cli, jsonout

    def echo_dumps(doc: Any, out: Any) -> None:
        click.echo(json.dumps(doc, indent=2))

    write_json = echo_dumps if mode == "before" else jsonout.write_json

    def timed(doc: Any, out: Any) -> None:
        cpu = time.process_time()
        write_json(doc, out)
        Path(os.environ[STEP]).write_text(repr(time.process_time() - cpu))

    jsonout.write_json = timed  # type: ignore[assignment]
    cli.main(args, prog_name="vrrpwatch")


def measure(mode: str, args: list[str], out: Path) -> tuple[Figures, str, float]:
    """Figures of one child run of ``vrrpwatch ARGS``, the sha256 of what it printed and the CPU
    seconds of its JSON step (nan without --json)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--", *args]
    step = out.with_name(out.name + ".step")
    step.unlink(missing_ok=True)
    with out.open("wb") as f:
        env = os.environ | {STEP: str(step)}
        figures = run_measured(cmd, cwd=ROOT, env=env, stdout=f, what=f"vrrpwatch {' '.join(args)}")
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    step_cpu = float(step.read_text()) if step.exists() else math.nan
    return figures, digest, step_cpu


def best(runs: list[Figures]) -> Figures:
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def row(label: str, f: Figures, ref: Figures | None = None) -> str:
    line = f"  {label:<24} {f[0]:>7.2f} {f[1]:>6.2f} {f[2] / 2**20:>7.1f}"
    if ref is not None:
        rss = (f[2] - ref[2]) / 2**20
        line += f"   CPU before/after {ref[1] / f[1]:.2f}x, peak RSS {rss:+.0f} MB"
    return line


def compare(name: str, capture: Path, db: Path, out: Path, repeat: int) -> None:
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    subprocess.run(
        [sys.executable, "-m", "vrrpwatch", "analyze", str(capture), "--db", str(db)],
        cwd=ROOT, check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    commands = {
        "analyze --json": ["analyze", str(capture), "--db", str(db), "--json"],
        "report --json": ["report", "--db", str(db), "--json"],
    }
    print(f"{name} ({capture.stat().st_size / 2**20:.1f} MB capture)")
    print(f"  {'command':<24} {'wall s':>7} {'CPU s':>6} {'RSS MB':>7}")
    for label, args in commands.items():
        text = [a for a in args if a != "--json"]
        floor = best([measure("after", text, out)[0] for _ in range(repeat)])
        print(row(f"{label.split()[0]} (text, no JSON)", floor))
        runs: dict[str, list[Figures]] = {"before": [], "after": []}
        digests: dict[str, set[str]] = {"before": set(), "after": set()}
        steps: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(repeat):  # interleaved: the load changes alike for both
            for mode in ("before", "after"):
                figures, digest, step = measure(mode, args, out)
                runs[mode].append(figures)
                digests[mode].add(digest)
                steps[mode].append(step)
        ref = best(runs["before"])
        print(row(f"{label} before", ref))
        print(row(f"{label} after", best(runs["after"]), ref))
        print(f"  {label}: its JSON step (the document built) {min(steps['before']):.2f} s CPU "
              f"before, {min(steps['after']):.2f} s after")  # fmt: skip
        if label == "report --json" and digests["before"] != digests["after"]:
            raise SystemExit(f"{name}: report --json text differs from json.dumps(indent=2)")
        if label == "report --json":
            print(f"  report --json: the same {out.stat().st_size / 2**20:.1f} MB text both ways")


def phases(db: Path) -> None:
    from vrrpwatch.store.db import open_db
    from vrrpwatch.store.json_text import write_json
    from vrrpwatch.store.summary import latest_run, summarize

    def timed(f: Any) -> tuple[Any, float, float]:
        w, c = time.perf_counter(), time.process_time()
        result = f()
        return result, time.perf_counter() - w, time.process_time() - c

    conn = open_db(db, read_only=True)
    doc, w, c = timed(lambda: summarize(conn, latest_run(conn)))
    print("phases of report --json (in this process):")
    print(f"  {'summarize (store -> document)':<38} wall {w:6.2f} s  CPU {c:6.2f} s")
    text, w, c = timed(lambda: json.dumps(doc, indent=2) + "\n")
    print(f"  {'json.dumps(doc, indent=2) (before)':<38} wall {w:6.2f} s  CPU {c:6.2f} s")
    buf = io.StringIO()
    _, w, c = timed(lambda: write_json(doc, buf))
    print(f"  {'write_json to memory (after)':<38} wall {w:6.2f} s  CPU {c:6.2f} s")
    with open(os.devnull, "w") as null:
        _, w, c = timed(lambda: write_json(doc, null))
    print(f"  {'write_json to /dev/null (after)':<38} wall {w:6.2f} s  CPU {c:6.2f} s")
    _, w, c = timed(lambda: json.dumps(doc))
    print(f"  {'json.dumps(doc), C, no indent (floor)':<38} wall {w:6.2f} s  CPU {c:6.2f} s")
    if buf.getvalue() != text:
        raise SystemExit("write_json's text differs from json.dumps(doc, indent=2)")
    print(f"  the same text both ways ({len(text) / 2**20:.1f} MB)")
    conn.close()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[4:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/vrrpwatch-bench"))
    ap.add_argument("--repeat", type=int, default=2, help="best of N for each command")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    db, out = args.out / "json.db", args.out / "json-out.txt"
    captures = [("v2-failover", ROOT / "captures" / "v2-failover.pcap")]
    for kind in ("flood-master6", "flood-preempt6"):  # the last one's database stays for phases
        path = args.out / f"{kind}-{args.sources}.pcap"
        if not path.exists():
            print(f"generating {path} ...", flush=True)
            write(kind, args.sources, path)
        captures.append((kind, path))
    for name, capture in captures:
        compare(name, capture, db, out, args.repeat)
    phases(db)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after the runs")


if __name__ == "__main__":
    main()
