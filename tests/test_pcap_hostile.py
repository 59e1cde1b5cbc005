"""Hostile capture input (issue 11): short pcapng blocks, times outside datetime's range, read
errors, huge block lengths on a pipe. Each test builds its input."""

from __future__ import annotations

import io
import sqlite3
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import CAPTURES
from vrrpwatch.cli import cli
from vrrpwatch.pcap import CaptureError, CaptureReader, iter_capture

FAILOVER = CAPTURES / "v2-failover.pcap"


def block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


SHB = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(tsresol: int | None = None) -> bytes:
    opt = b""
    if tsresol is not None:
        opt = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
    return block(1, struct.pack("<HHI", 1, 0, 65535) + opt)


def epb(ticks: int, frame: bytes) -> bytes:
    hi, lo = ticks >> 32, ticks & 0xFFFFFFFF
    return block(6, struct.pack("<IIIII", 0, hi, lo, len(frame), len(frame)) + frame)


def pcapng_of(pcap: Path, repeat: int = 1, filler: int = 0) -> tuple[bytes, int]:
    """The packets of a (microsecond, little-endian) pcap as pcapng EPBs, ``repeat`` times,
    then ``filler`` 1000-byte frames that are not ours."""
    data = pcap.read_bytes()
    out, n = [], 0
    pad = b"\x02" * 12 + b"\x88\xb5" + b"\0" * 986  # local experimental EtherType
    out += [epb(2_000_000_000, pad)] * filler
    n += filler
    for _ in range(repeat):
        for p in iter_capture(pcap):
            out.append(epb(round(p.time * 1e6), p.data))
            n += 1
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    return SHB + idb() + b"".join(out), n


def cli_run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def one_error(output: str) -> str:
    assert "Traceback" not in output
    errors = [ln for ln in output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, output
    return errors[0]


# -- short pcapng blocks -----------------------------------------------------------------------

SHORT = {
    "interface description block": block(1, b""),
    "enhanced packet block": block(6, struct.pack("<III", 0, 0, 0)),
    "packet block": block(2, struct.pack("<HHII", 0, 0, 0, 0)),
    "simple packet block": block(3, b""),
}


@pytest.mark.parametrize("name", sorted(SHORT))
def test_short_pcapng_block_is_a_capture_error(name: str) -> None:
    good = epb(1_000_000, b"\x01" * 20)
    data = SHB + idb() + good + SHORT[name]
    reader = CaptureReader(io.BytesIO(data), name="x.pcapng")
    offset = len(SHB) + len(idb()) + len(good)
    with pytest.raises(CaptureError, match=f"{name} at byte {offset}"):
        for _ in reader:
            pass
    assert reader.packets == 1


def test_analyze_short_block_after_good_packets_is_an_error_run(tmp_path: Path) -> None:
    data, n = pcapng_of(FAILOVER, repeat=1000 // 15 + 1)
    assert n >= 1000
    path = tmp_path / "short.pcapng"
    path.write_bytes(data + block(1, b""))
    db = tmp_path / "x.db"
    r = cli_run("analyze", str(path), "--db", str(db))
    assert r.exit_code == 2, r.output
    line = one_error(r.output)
    assert f"interface description block at byte {len(data)}" in line
    status, packets = sqlite3.connect(db).execute("SELECT status, packets FROM runs").fetchone()
    assert status.startswith("error: ") and "interface description block" in status
    assert packets == n


@pytest.mark.parametrize("name", sorted(SHORT))
def test_decode_short_block_exit_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / "short.pcapng"
    path.write_bytes(SHB + idb() + SHORT[name])
    r = cli_run("decode", str(path))
    assert r.exit_code == 2, r.output
    assert name in one_error(r.output)


# -- read errors --------------------------------------------------------------------------------


class _FailingStream(io.BytesIO):
    """Gives its bytes in one chunk, then EIO, as a failing disk does."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.calls = 0

    def read(self, n: int | None = -1) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise OSError(5, "Input/output error")
        return super().read(n)


def test_read_error_midway_is_a_capture_error() -> None:
    data, n = pcapng_of(FAILOVER)
    reader = CaptureReader(_FailingStream(data), name="disk.pcapng")
    with pytest.raises(CaptureError, match=r"disk.pcapng: read error at byte \d+ \(Input/output"):
        for _ in reader:
            pass
    assert reader.packets == n


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="no /proc/self/mem")
@pytest.mark.parametrize("command", ["analyze", "decode"])
def test_eio_on_first_read_is_one_line(tmp_path: Path, command: str) -> None:
    extra = ["--db", str(tmp_path / "x.db")] if command == "analyze" else []
    r = cli_run(command, "/proc/self/mem", *extra)
    assert r.exit_code == 2, r.output
    assert "read error" in one_error(r.output)


# -- times outside datetime's range ---------------------------------------------------------------


def _adverts(tsresol: int | None, ticks: Any) -> bytes:
    """The failover capture's frames as EPBs with the given interface resolution and times."""
    frames = [p.data for p in iter_capture(FAILOVER)]
    body = b"".join(epb(ticks(i), f) for i, f in enumerate(frames))
    return SHB + idb(tsresol) + body + epb((1 << 64) - 1, frames[-1])  # and one all-ones


@pytest.mark.parametrize(
    ("tsresol", "ticks"),
    [
        (None, lambda i: (1 << 64) - 1 - 10**9 + i * 10**6),  # near all-ones, microseconds
        (0, lambda i: 10**12 + i),  # if_tsresol 10^0: seconds, year ~33,700
    ],
    ids=["all-ones", "tsresol-10^0"],
)
def test_far_times_render_as_epoch_seconds(tmp_path: Path, tsresol: int | None, ticks: Any) -> None:
    path = tmp_path / "far.pcapng"
    path.write_bytes(_adverts(tsresol, ticks))
    db = str(tmp_path / "x.db")
    r = cli_run("decode", str(path))
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    r = cli_run("analyze", str(path), "--db", db)
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    for args in (["report"], ["report", "--json"]):
        r = cli_run(*args, "--db", db)
        assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    status = sqlite3.connect(db).execute("SELECT status FROM runs").fetchone()[0]
    assert status == "complete"


def test_format_time_outside_datetime() -> None:
    from vrrpwatch.times import format_time

    t = float((1 << 64) - 1) / 1e6
    assert format_time(t) == f"{t:.3f}"
    assert format_time(t, "us") == f"{t:.6f}"
    assert format_time(t, "iso") == f"{t:.6f}"
    assert format_time(1e12, "syslog") == "1000000000000.000"
    assert format_time(0.0) == "1970-01-01 00:00:00.000"


# -- huge block lengths on a pipe ----------------------------------------------------------------


class _Pipe(io.RawIOBase):
    """``head`` then ``zeros`` bytes of zeros, handed out a read at a time like a pipe."""

    def __init__(self, head: bytes, zeros: int) -> None:
        self.head, self.zeros, self.given = head, zeros, 0

    def read(self, n: int | None = -1) -> bytes:
        n = 1 << 20 if n is None or n < 0 else n
        if self.head:
            out, self.head = self.head[:n], self.head[n:]
        else:
            out = b"\0" * min(n, self.zeros)
            self.zeros -= len(out)
        self.given += len(out)
        return out


def test_huge_pcapng_block_length_is_refused_before_buffering() -> None:
    huge = struct.pack("<II", 6, 0xFFFFFFF0)
    head = SHB + idb() + epb(1, b"\x01" * 20)
    pipe = _Pipe(head + huge, zeros=80 << 20)
    reader = CaptureReader(pipe, name="<stdin>")  # type: ignore[arg-type]
    with pytest.raises(CaptureError, match=f"block at byte {len(head)} \\(length 4294967280\\)"):
        for _ in reader:
            pass
    assert reader.packets == 1
    assert pipe.given <= 2 << 20  # nothing past the first chunk was read


def test_large_block_across_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import vrrpwatch.pcap as capture

    monkeypatch.setattr(capture, "CHUNK_SIZE", 4096)
    big = bytes(range(256)) * (3 << 12)  # 3 MiB frame in 768 chunks
    data = SHB + idb() + epb(1, b"\x01" * 20) + epb(2_000_000, big) + epb(3, b"\x02" * 30)
    got = list(CaptureReader(io.BytesIO(data)))
    assert [(p.frame, len(p.data)) for p in got] == [(1, 20), (2, len(big)), (3, 30)]
    assert got[1].data == big and got[1].time == 2.0


# -- the run identity: by content, in one pass -----------------------------------------------------


def _runs(db: Path) -> list[tuple[Any, ...]]:
    return sqlite3.connect(db).execute("SELECT packets, status, identity FROM runs").fetchall()


def _big_pcap(middle: int) -> bytes:
    """The failover capture followed by ~4 MB of filler frames; ``middle`` is one byte halfway."""
    data = FAILOVER.read_bytes()
    filler = b"\x02" * 12 + b"\x88\xb5" + b"\0" * 986  # local experimental EtherType
    recs = [struct.pack("<IIII", 1000, 0, len(filler), len(filler)) + filler] * 4400
    recs[2200] = recs[2200][:-1] + bytes([middle])
    return data + b"".join(recs)


def test_files_differing_only_in_the_middle_are_two_runs(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    a.write_bytes(_big_pcap(0))
    b.write_bytes(_big_pcap(1))
    assert a.stat().st_size == b.stat().st_size > 4 << 20
    db = tmp_path / "x.db"
    for p in (a, b):
        assert cli_run("analyze", str(p), "--db", str(db)).exit_code == 0
    runs = _runs(db)
    assert len(runs) == 2 and runs[0][2] != runs[1][2] and None not in (runs[0][2], runs[1][2])
    # the same content from another path is the same run
    c = tmp_path / "copy.pcap"
    c.write_bytes(a.read_bytes())
    assert cli_run("analyze", str(c), "--db", str(db)).exit_code == 0
    assert len(_runs(db)) == 2


def _feed(path: str, data: bytes) -> Any:
    import threading

    def write() -> None:
        with open(path, "wb") as f:
            f.write(data)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def test_analyze_a_fifo_reads_it_once(tmp_path: Path) -> None:
    import os

    data, n = pcapng_of(FAILOVER, filler=1500)
    assert len(data) > 1 << 20
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    writer = _feed(str(fifo), data)
    db = tmp_path / "x.db"
    r = cli_run("analyze", str(fifo), "--db", str(db))
    writer.join(5)
    assert r.exit_code == 0, r.output
    (packets, status, identity), *_ = _runs(db)
    assert (packets, status) == (n, "complete") and identity is not None
    # and it is the identity of the same bytes in a regular file
    f = tmp_path / "same.pcapng"
    f.write_bytes(data)
    assert cli_run("analyze", str(f), "--db", str(db)).exit_code == 0
    assert _runs(db) == [(n, "complete", identity)]


def test_analyze_a_process_substitution_loses_nothing(tmp_path: Path) -> None:
    import os
    import threading

    data, n = pcapng_of(FAILOVER, filler=1500)
    assert len(data) > 1 << 20
    rfd, wfd = os.pipe()

    def write() -> None:
        with os.fdopen(wfd, "wb") as f:
            f.write(data)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    db = tmp_path / "x.db"
    try:
        r = cli_run("analyze", f"/dev/fd/{rfd}", "--db", str(db))
    finally:
        t.join(5)
        os.close(rfd)
    assert r.exit_code == 0, r.output
    assert _runs(db)[0][:2] == (n, "complete")


def test_pcapng_prefilter_passes_what_the_pcap_prefilter_passes() -> None:
    from tests.bench.gen import frames

    pkts = list(frames("mixed", 20_000, seed=7))
    pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(
        struct.pack("<IIII", 0, 0, len(d), len(d)) + d for _, d in pkts
    )
    ng = SHB + idb() + b"".join(epb(0, d) for _, d in pkts)
    a = [r[0] for r in CaptureReader(io.BytesIO(pcap)).records(candidates_only=True)]
    b = [r[0] for r in CaptureReader(io.BytesIO(ng)).records(candidates_only=True)]
    assert a == b and 0 < len(a) < len(pkts)
