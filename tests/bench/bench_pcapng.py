"""Benchmark: the pcapng reader against the pcap reader on the same packets (issue 11).

    .venv/bin/python tests/bench/bench_pcapng.py [--packets 400000] [--out DIR]

Generates a mixed capture (tests/bench/gen.py), writes the same packets as pcapng (one EPB
each, microsecond resolution), then times ``CaptureReader.records(candidates_only=True)`` over
each, best of N, and prints the pcapng/pcap ratio. Target: pcapng within 1.5x of pcap.

Then one record of ``--big-mib`` MiB (under the readers' 64 MiB cap) in each format, read through
a buffered stream: it straddles the 1 MiB read chunks, and a reader that re-copies the buffer per
chunk is quadratic in it. The reference is the same bytes as ordinary 1,500-byte records.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.bench.gen import write  # noqa: E402
from vrrpwatch.pcap import CaptureReader, iter_capture  # noqa: E402


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def to_pcapng(src: Path, dst: Path) -> None:
    with open(dst, "wb") as out:
        out.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        out.write(_block(1, struct.pack("<HHI", 1, 0, 65535)))
        for p in iter_capture(src):
            ticks = round(p.time * 1e6)
            n = len(p.data)
            out.write(
                _block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, n, n) + p.data)
            )


def read_all(path: Path) -> tuple[float, int]:
    with open(path, "rb") as f:
        reader = CaptureReader(f)
        start = time.perf_counter()
        for _ in reader.records(candidates_only=True):
            pass
        return time.perf_counter() - start, reader.packets


def _pcap_bytes(sizes: list[int]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 1 << 30, 1)]
    for i, n in enumerate(sizes):
        out.append(struct.pack("<IIII", i, 0, n, n) + b"\0" * n)
    return b"".join(out)


def _pcapng_bytes(sizes: list[int]) -> bytes:
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out.append(_block(1, struct.pack("<HHI", 1, 0, 0)))
    for i, n in enumerate(sizes):
        out.append(_block(6, struct.pack("<IIIII", 0, 0, i, n, n) + b"\0" * n))
    return b"".join(out)


def read_bytes(data: bytes) -> float:
    reader = CaptureReader(io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]
    start = time.process_time()
    for _ in reader.records(candidates_only=False):
        pass
    return time.process_time() - start


def big_records(mib: int, repeat: int) -> None:
    big = [mib << 20]
    small = [1500] * ((mib << 20) // 1500)
    for fmt, make in (("pcap", _pcap_bytes), ("pcapng", _pcapng_bytes)):
        one = min(read_bytes(make(big)) for _ in range(repeat))
        ref = min(read_bytes(make(small)) for _ in range(repeat))
        print(
            f"{fmt:<7} one {mib} MiB record {one:6.3f} s CPU; the same bytes in "
            f"{len(small):,} records {ref:6.3f} s ({one / ref:.2f}x)"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packets", type=int, default=400_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/vrrpwatch-bench"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-mib", type=int, default=60)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pcap = args.out / f"mixed-{args.packets}.pcap"
    ng = args.out / f"mixed-{args.packets}.pcapng"
    if not pcap.exists():
        write("mixed", args.packets, pcap)
    if not ng.exists():
        to_pcapng(pcap, ng)
    times = {}
    for name, path in (("pcap", pcap), ("pcapng", ng)):
        best, packets = min(read_all(path) for _ in range(args.repeat))
        times[name] = best
        print(f"{name:<7} {packets:>9} packets  {best:6.3f} s  {packets / best:>12,.0f} pkt/s")
    print(f"pcapng / pcap: {times['pcapng'] / times['pcap']:.2f}x (target <= 1.5x)")
    big_records(args.big_mib, args.repeat)


if __name__ == "__main__":
    main()
