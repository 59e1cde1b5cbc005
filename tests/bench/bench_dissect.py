"""Throughput of ``dissectors.packet.decode_packet`` (prints figures; not a pass/fail test).

    python tests/bench/bench_dissect.py [CAPTURE...]

Two paths matter: the reject path (frames that are none of ours, which must cost a handful of
byte compares: the analyzer's target is about 1M packets/s overall) and the full decode of a
VRRP advert (link, IP, VRRP, validation). Without arguments it uses the public captures
(tests/data/public: gnutella.pcap for rejects, vrrp.pcap for adverts) and the bundled
recordings in captures/.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from dissectors.common import DecodeError  # noqa: E402
from dissectors.packet import decode_packet  # noqa: E402
from vrrpwatch.pcap import iter_capture  # noqa: E402

TARGET_PPS = 1_000_000


def rate(frames: list[tuple[bytes, int]], seconds: float = 2.0) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for data, linktype in frames:
            try:
                decode_packet(data, linktype)
            except DecodeError:
                pass
        done += len(frames)
    return done / (time.perf_counter() - start)


def main(argv: list[str]) -> None:
    public = ROOT / "tests" / "data" / "public"
    paths = [Path(a) for a in argv] or [
        *(p for p in (public / "gnutella.pcap", public / "vrrp.pcap") if p.exists()),
        *sorted((ROOT / "captures").glob("*.pcap")),
    ]
    rejects: list[tuple[bytes, int]] = []
    ours: list[tuple[bytes, int]] = []
    for path in paths:
        for p in iter_capture(path):
            try:
                d = decode_packet(p.data, p.linktype)
            except DecodeError:
                continue
            (rejects if d is None else ours).append((p.data, p.linktype))
    if rejects:
        r = rate(rejects)
        print(
            f"reject path: {r:12,.0f} frames/s  ({len(rejects)} distinct frames; "
            f"{r / TARGET_PPS:.2f} x the 1M/s analyzer target)"
        )
    if ours:
        r = rate(ours)
        print(
            f"full decode: {r:12,.0f} frames/s  ({len(ours)} VRRP/ARP/NA frames; "
            f"{1e6 / r:.1f} us each)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
