"""The capture reader: frame numbering and times as tshark sees them, the prefilter never drops
a packet the decoder would keep, pipes, resolutions, and bad files."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from dissectors.common import DecodeError
from dissectors.packet import decode_packet
from tests.conftest import CAPTURES, PUBLIC_CAPTURES, lab_unavailable
from vrrpwatch.pcap import CaptureError, CaptureReader, iter_capture

ALL = sorted(
    [p for p in PUBLIC_CAPTURES.glob("*") if p.suffix in (".pcap", ".pcapng", ".cap")]
    + list(CAPTURES.glob("*.pcap"))
)


def _ours(data: bytes, linktype: int) -> bool:
    try:
        return decode_packet(data, linktype) is not None
    except DecodeError:
        return True


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_prefilter_keeps_everything_the_decoder_keeps(path: Path) -> None:
    kept = {p.frame for p in iter_capture(path, candidates_only=True)}
    for p in iter_capture(path):
        if _ours(p.data, p.linktype):
            assert p.frame in kept, f"frame {p.frame} dropped by the prefilter"


@pytest.mark.parametrize(
    "name", ["vrrp.pcap", "vrrp3.pcapng", "hsrp2_ipv6.pcapng", "linuxsll-arp.pcap"]
)
def test_frames_and_times_match_tshark(name: str) -> None:
    if shutil.which("tshark") is None:
        lab_unavailable("tshark is not installed")
    path = PUBLIC_CAPTURES / name
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e",
         "frame.time_epoch", "-e", "frame.cap_len"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    want = [line.split("\t") for line in out if line]
    got = list(iter_capture(path))
    assert len(got) == len(want)
    for p, (num, epoch, caplen) in zip(got, want, strict=True):
        assert p.frame == int(num)
        assert p.time == pytest.approx(float(epoch), abs=1e-6)
        assert len(p.data) == int(caplen)


def test_reads_a_pipe_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import vrrpwatch.pcap as capture

    monkeypatch.setattr(capture, "CHUNK_SIZE", 100)  # records straddle chunk boundaries
    data = (CAPTURES / "v2-failover.pcap").read_bytes()
    want = list(iter_capture(CAPTURES / "v2-failover.pcap"))
    got = list(CaptureReader(io.BytesIO(data)))
    assert got == want


def test_a_record_over_many_chunks_is_gathered_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of 100 bytes: a 10,000-byte record spans 100 of them, then small ones follow.
    import vrrpwatch.pcap as capture

    monkeypatch.setattr(capture, "CHUNK_SIZE", 100)
    big = bytes(range(256)) * 39 + b"end"
    data = _pcap(0xA1B2C3D4, [(1, 0, big), (2, 0, b"\x01" * 60), (3, 0, b"\x02" * 7)])
    got = [(p.frame, p.data) for p in CaptureReader(io.BytesIO(data))]
    assert got == [(1, big), (2, b"\x01" * 60), (3, b"\x02" * 7)]
    with pytest.raises(CaptureError, match="record 2 at byte"):
        list(CaptureReader(io.BytesIO(data[: 24 + 16 + len(big) + 30])))


def _pcap(magic: int, records: list[tuple[int, int, bytes]]) -> bytes:
    out = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for sec, frac, data in records:
        out += struct.pack("<IIII", sec, frac, len(data), len(data)) + data
    return out


def test_nanosecond_pcap() -> None:
    frame = b"\xff" * 14
    data = _pcap(0xA1B23C4D, [(10, 500_000_000, frame)])
    (p,) = CaptureReader(io.BytesIO(data))
    assert p.time == 10.5 and p.frame == 1 and p.data == frame


def test_pcapng_tsresol_and_simple_packet_block() -> None:
    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    opt = struct.pack("<HHB3x", 9, 1, 3) + struct.pack("<HH", 0, 0)  # if_tsresol = 10^-3
    idb = block(1, struct.pack("<HHI", 1, 0, 65535) + opt)
    frame = b"\x01" * 20
    ticks = 1_500_250  # ms
    epb = block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, 20, 20) + frame)
    spb = block(3, struct.pack("<I", 20) + frame)
    a, b = CaptureReader(io.BytesIO(shb + idb + epb + spb))
    assert (a.frame, a.time, a.data) == (1, 1500.25, frame)
    assert (b.frame, b.data) == (2, frame)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"GIF89a........................", "not a pcap"),
        (_pcap(0xA1B2C3D4, [(1, 0, b"\xff" * 20)])[:-5], "truncated capture: record 1"),
        (_pcap(0xA1B2C3D4, [])[:20], "truncated pcap header"),
    ],
)
def test_bad_files(data: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        list(CaptureReader(io.BytesIO(data)))


def test_truncated_pcapng_names_the_block() -> None:
    data = (PUBLIC_CAPTURES / "vrrp3.pcapng").read_bytes()
    reader = CaptureReader(io.BytesIO(data[:-10]))
    with pytest.raises(CaptureError, match="truncated capture: block at byte"):
        for _ in reader:
            pass
    assert reader.packets == 9


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        list(iter_capture(tmp_path / "missing"))
    with pytest.raises(CaptureError, match="is a directory"):
        list(iter_capture(tmp_path))


def _as_pcapng(path: Path, order: str) -> bytes:
    """The packets of a pcap as pcapng EPBs (microseconds), in byte order ``order``."""

    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)

    with open(path, "rb") as f:
        reader = CaptureReader(f)
        packets = list(reader)
    linktype = packets[0].linktype if packets else 1
    out = [block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out.append(block(1, struct.pack(order + "HHI", linktype, 0, 0)))
    for p in packets:
        ticks = round(p.time * 1e6)
        n = len(p.data)
        out.append(
            block(
                6, struct.pack(order + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, n, n) + p.data
            )
        )
    return b"".join(out)


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("path", sorted(CAPTURES.glob("*.pcap")), ids=lambda p: p.name)
def test_pcapng_reads_what_pcap_reads(path: Path, order: str) -> None:
    # The pcapng reader's one-unpack EPB path and its general path against the pcap reader:
    # the same frames, times and data, with and without the candidate filter.
    ng = _as_pcapng(path, order)
    for only in (False, True):
        with open(path, "rb") as f:
            want = [
                (n, round(t, 6), d) for n, t, _, d in CaptureReader(f).records(candidates_only=only)
            ]
        got = [
            (n, round(t, 6), d)
            for n, t, _, d in CaptureReader(io.BytesIO(ng)).records(candidates_only=only)
        ]
        assert got == want
