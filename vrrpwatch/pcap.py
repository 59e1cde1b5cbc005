"""Reading pcap and pcapng files (or pipes) in chunks, with a cheap prefilter.

The analyzer's throughput depends on this module, so it does not build an object per packet:
it walks the record headers inside a large buffer and looks at a few bytes of each frame to
decide whether it could be VRRP, CARP, ARP or an IPv6 neighbour advertisement: the "could this
frame be ours" table of ``dissectors.ours`` (``ethernet_may_be_ours``, and an inline peek at fixed
offsets that reads the same sets). Only those candidates are sliced out and handed to the decoder,
which makes the real decision. The prefilter is a superset: it may pass a frame the decoder then
ignores, never the other way round (tests/test_pcap.py checks this on real captures,
tests/dissectors/test_ours.py on generated ones).

Memory stays flat whatever the file size: at most one chunk plus one record is buffered, so a
pipe (``-``) works as well as a file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from dissectors.ours import (
    ETH_P_IP,
    ETH_P_IPV6,
    IP_PROTOCOLS,
    IPPROTO_UDP,
    IPV6_FIRST,
    TAG_TPIDS,
    UDP_PORTS_V4,
    UDP_PORTS_V6,
    ethernet_may_be_ours,
)
from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.text import path_label

CHUNK_SIZE = 1 << 20

LINKTYPE_ETHERNET = 1

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_PCAPNG_BOM = 0x1A2B3C4D

# The fixed fields each pcapng block body must hold (pcapng spec, sections 4.2-4.4 and
# appendix A): IDB link type, reserved, snaplen; EPB and the obsolete PB interface, timestamp
# and two lengths; SPB the original length.
_PCAPNG_MIN_BODY = {1: 8, 6: 20, 2: 20, 3: 4}
_PCAPNG_NAMES = {
    1: "interface description block",
    6: "enhanced packet block",
    2: "packet block",
    3: "simple packet block",
}

# The largest record or block read: past it the length field is taken as corrupt (a pipe
# would otherwise be buffered without bound). 64 MiB of packet, plus room for block headers.
MAX_RECORD = 0x4000000
_MAX_BLOCK = MAX_RECORD + 0x10000

Record = tuple[int, float, int, bytes]


class CaptureError(VrrpwatchError):
    """A capture that cannot be read (any further); the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class RawPacket:
    frame: int  # 1-based position in the file, as Wireshark numbers frames
    time: float  # epoch seconds
    linktype: int
    data: bytes


class CaptureReader:
    """Iterate over the packets of a pcap or pcapng file object.

    ``packets`` counts every record read so far (for statistics), ``bytes_read`` the bytes
    consumed. Iteration raises ``CaptureError`` at the point where the file stops making
    sense; every packet before that point has been yielded.
    """

    def __init__(self, stream: IO[bytes], *, name: str = "capture") -> None:
        self._stream = stream
        self.name = name
        self.packets = 0
        self.bytes_read = 0
        self.format = ""
        # Called with ``bytes_read`` after each chunk (progress bars).
        self.on_chunk: Callable[[int], None] | None = None
        # Called with every chunk read, the first included (a content hash as it streams).
        self.on_data: Callable[[bytes], None] | None = None

    def _read(self) -> bytes:
        """One chunk; a read error (EIO, ...) becomes a one-line CaptureError."""
        try:
            chunk = self._stream.read(CHUNK_SIZE)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise CaptureError(
                f"{self.name}: read error at byte {self.bytes_read} ({why})"
            ) from None
        if chunk and self.on_data is not None:
            self.on_data(chunk)
        return chunk

    def _chunks(self, first: bytes) -> Iterator[bytes]:
        if first:
            yield first
        while True:
            chunk = self._read()
            if not chunk:
                return
            self.bytes_read += len(chunk)
            if self.on_chunk is not None:
                self.on_chunk(self.bytes_read)
            yield chunk

    def __iter__(self) -> Iterator[RawPacket]:
        return self.read(candidates_only=False)

    def candidates(self) -> Iterator[RawPacket]:
        """Only the packets that may be ours (``ethernet_may_be_ours`` for Ethernet; other link
        types all pass, for the decoder's own fast reject); all are counted."""
        return self.read(candidates_only=True)

    def read(self, *, candidates_only: bool) -> Iterator[RawPacket]:
        return itertools.starmap(RawPacket, self.records(candidates_only=candidates_only))

    def records(self, *, candidates_only: bool) -> Iterator[Record]:
        """Like ``read`` but plain ``(frame, time, linktype, data)`` tuples: the analyzer's
        hot loop saves an object per packet."""
        self.bytes_read = 0
        head = self._read()
        self.bytes_read = len(head)
        if len(head) < 4:
            raise CaptureError(f"{self.name}: not a pcap or pcapng file (too short)")
        magic = head[:4]
        if magic in _PCAP_MAGICS:
            self.format = "pcap"
            return self._read_pcap(head, candidates_only)
        if magic == _PCAPNG_SHB:
            self.format = "pcapng"
            return self._read_pcapng(head, candidates_only)
        raise CaptureError(f"{self.name}: not a pcap or pcapng file (magic {magic.hex()})")

    # -- pcap -------------------------------------------------------------------------------

    def _read_pcap(self, head: bytes, candidates_only: bool) -> Iterator[Record]:
        if len(head) < 24:
            raise CaptureError(f"{self.name}: truncated pcap header")
        order, per_sec = _PCAP_MAGICS[head[:4]]
        (linktype,) = struct.unpack_from(order + "I", head, 20)
        linktype &= 0x0FFFFFFF  # the upper bits carry FCS information (pcap-linktype)
        record = struct.Struct(order + "IIII")
        rec_size = record.size
        unpack_from = record.unpack_from
        # Record header plus the bytes that decide most Ethernet frames in one unpack: the
        # EtherType (frame bytes 12-13), the IPv6 next header (20) and IPv4 protocol (23), and
        # the same behind one tag (EtherType 16-17, next header 24, protocol 27). EtherTypes are
        # read in file order and compared with the table's values in file order (_peek_verdict).
        peek = struct.Struct(order + "IIII12xH2xH2xB2xBB2xB")
        peek_size = peek.size
        peek_from = peek.unpack_from

        passes = _peek_verdict(
            _in_order(ETH_P_IP, order),
            _in_order(ETH_P_IPV6, order),
            frozenset(_in_order(t, order) for t in TAG_TPIDS),
        )
        candidate = ethernet_may_be_ours
        eth = linktype == LINKTYPE_ETHERNET and candidates_only
        frame = 0
        buf = head[24:]
        pos = 24
        chunks = self._chunks(b"")
        while True:
            off = 0
            end = len(buf)
            while off + rec_size <= end:
                if eth and off + peek_size <= end:
                    sec, frac, caplen, _, et, et_in, nh6, p4, nh6_q, p4_q = peek_from(buf, off)
                    start = off + rec_size
                    stop = start + caplen
                    if stop > end:
                        if caplen > 0x4000000:
                            raise CaptureError(
                                f"{self.name}: corrupt record {frame + 1} at byte {pos + off} "
                                f"(length {caplen})"
                            )
                        break
                    frame += 1
                    off = stop
                    if not passes(buf, start, stop, et, et_in, nh6, p4, nh6_q, p4_q):
                        continue
                    yield (frame, sec + frac / per_sec, linktype, buf[start:stop])
                    continue
                sec, frac, caplen, _ = unpack_from(buf, off)
                start = off + rec_size
                if start + caplen > end:
                    if caplen > 0x4000000:
                        raise CaptureError(
                            f"{self.name}: corrupt record {frame + 1} at byte {pos + off} "
                            f"(length {caplen})"
                        )
                    break
                frame += 1
                off = start + caplen
                if eth and not candidate(buf, start, off):
                    continue
                yield (frame, sec + frac / per_sec, linktype, buf[start:off])
            self.packets = frame
            pos += off
            rest = buf[off:]
            # A record that straddles chunks: gather the chunks it needs and join them once,
            # so a large record costs one copy, not one per chunk.
            need = rec_size + unpack_from(rest)[2] if len(rest) >= rec_size else 1
            parts = [rest]
            have = len(rest)
            while have < need or len(parts) == 1:
                more = next(chunks, b"")
                if not more:
                    break
                parts.append(more)
                have += len(more)
            if len(parts) == 1:
                buf = rest
                break
            buf = b"".join(parts)
        self.packets = frame
        if buf:
            raise CaptureError(
                f"{self.name}: truncated capture: record {frame + 1} at byte {pos} is cut short "
                f"after {frame} complete packets"
            )

    # -- pcapng -----------------------------------------------------------------------------

    def _read_pcapng(self, head: bytes, candidates_only: bool) -> Iterator[Record]:
        # Blocks are walked by offset inside the buffer (no copy of the rest per block); a block
        # that straddles chunks is gathered in a list and joined once, so buffering is linear.
        buf = head
        off = 0  # start of the current block in buf
        end = len(buf)
        pos = 0  # file offset of buf[0]
        frame = 0
        order = "<"
        u32 = struct.Struct(order + "I").unpack_from
        hdr = struct.Struct(order + "II").unpack_from
        epb_fields = struct.Struct(order + "IIIII").unpack_from
        # per section: interface id -> (linktype, timestamp units per second)
        interfaces: list[tuple[int, int]] = []
        chunks = self._chunks(b"")
        may_be_ours = ethernet_may_be_ours
        peek = struct.Struct(">12xH2xH2xB2xBB2xB").unpack_from
        passes = _peek_verdict(ETH_P_IP, ETH_P_IPV6, frozenset(TAG_TPIDS))
        # The common block, an EPB, in one unpack as the pcap reader reads a record: block
        # header, EPB fields and the frame bytes the peek reads, EtherTypes in file order.
        epb_peek = struct.Struct("<IIIIIII12xH2xH2xB2xBB2xB")
        epb_peek_from, epb_peek_size = epb_peek.unpack_from, epb_peek.size
        passes_in_order = passes
        eth_only = candidates_only
        while True:
            if end - off >= epb_peek_size:
                (btype, blen, ifid, ts_hi, ts_lo, caplen, _,
                 et, et_in, nh6, p4, nh6_q, p4_q) = epb_peek_from(buf, off)  # fmt: skip
                if (
                    btype == 6
                    and ifid < len(interfaces)
                    and caplen + 32 <= blen <= end - off
                    and blen <= _MAX_BLOCK
                    and not blen & 3
                ):
                    frame += 1
                    data_start = off + 28
                    data_stop = data_start + caplen
                    off += blen
                    linktype, per_sec = interfaces[ifid]
                    if (
                        eth_only
                        and linktype == LINKTYPE_ETHERNET
                        and not passes_in_order(
                            buf, data_start, data_stop, et, et_in, nh6, p4, nh6_q, p4_q
                        )
                    ):
                        continue
                    secs, frac = divmod((ts_hi << 32) | ts_lo, per_sec)
                    self.packets = frame
                    yield (frame, secs + frac / per_sec, linktype, buf[data_start:data_stop])
                    continue
            if end - off < 12:
                more = next(chunks, b"")
                if not more:
                    break
                buf = buf[off:] + more
                pos += off
                off, end = 0, len(buf)
                continue
            if buf[off : off + 4] == _PCAPNG_SHB:
                (bom,) = struct.unpack_from("<I", buf, off + 8)
                if bom == _PCAPNG_BOM:
                    order = "<"
                elif bom == struct.unpack("<I", struct.pack(">I", _PCAPNG_BOM))[0]:
                    order = ">"
                else:
                    raise CaptureError(
                        f"{self.name}: bad pcapng byte-order magic at byte {pos + off}"
                    )
                u32 = struct.Struct(order + "I").unpack_from
                hdr = struct.Struct(order + "II").unpack_from
                epb_fields = struct.Struct(order + "IIIII").unpack_from
                epb_peek_from = struct.Struct(order + "IIIIIII12xH2xH2xB2xBB2xB").unpack_from
                passes_in_order = _peek_verdict(
                    _in_order(ETH_P_IP, order),
                    _in_order(ETH_P_IPV6, order),
                    frozenset(_in_order(t, order) for t in TAG_TPIDS),
                )
                interfaces = []
            btype, blen = hdr(buf, off)
            if blen < 12 or blen % 4:
                raise CaptureError(f"{self.name}: corrupt pcapng block at byte {pos + off}")
            if blen > _MAX_BLOCK:
                self.packets = frame
                raise CaptureError(
                    f"{self.name}: corrupt pcapng block at byte {pos + off} (length {blen})"
                )
            if off + blen > end:
                parts = [buf[off:]]
                have = end - off
                while have < blen:
                    more = next(chunks, b"")
                    if not more:
                        self.packets = frame
                        raise CaptureError(
                            f"{self.name}: truncated capture: block at byte {pos + off} is cut "
                            f"short after {frame} complete packets"
                        )
                    parts.append(more)
                    have += len(more)
                buf = b"".join(parts)
                pos += off
                off, end = 0, len(buf)
            start = off + 8  # the body: buf[start:stop]
            stop = off + blen - 4
            need = _PCAPNG_MIN_BODY.get(btype, 0)
            if stop - start < need:
                self.packets = frame
                raise CaptureError(
                    f"{self.name}: corrupt pcapng {_PCAPNG_NAMES[btype]} at byte {pos + off}: "
                    f"body of {stop - start} bytes, shorter than its {need} bytes of fields"
                )
            if btype == 6 or btype == 2:  # Enhanced Packet Block, obsolete Packet Block
                if btype == 6:
                    ifid, ts_hi, ts_lo, caplen, _ = epb_fields(buf, start)
                else:
                    ifid, _, ts_hi, ts_lo, caplen, _ = struct.unpack_from(
                        order + "HHIIII", buf, start
                    )
                data_start = start + 20
                data_stop = data_start + caplen
                if ifid >= len(interfaces) or data_stop > stop:
                    self.packets = frame
                    raise CaptureError(f"{self.name}: corrupt packet block at byte {pos + off}")
                frame += 1
                off += blen
                linktype, per_sec = interfaces[ifid]
                if candidates_only and linktype == LINKTYPE_ETHERNET:
                    # the pcap reader's peek (see _read_pcap), on the frame's network-order bytes
                    if caplen >= 38:
                        et, et_in, nh6, p4, nh6_q, p4_q = peek(buf, data_start)
                    else:
                        et = et_in = nh6 = p4 = nh6_q = p4_q = 0
                    if not passes(buf, data_start, data_stop, et, et_in, nh6, p4, nh6_q, p4_q):
                        continue
                # integer split first, so times round as the pcap reader's do
                secs, frac = divmod((ts_hi << 32) | ts_lo, per_sec)
                self.packets = frame
                yield (frame, secs + frac / per_sec, linktype, buf[data_start:data_stop])
                continue
            if btype == 1:  # Interface Description Block
                (linktype,) = struct.unpack_from(order + "H", buf, start)
                interfaces.append((linktype, _if_tsresol(buf[start + 8 : stop], order)))
            elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
                if not interfaces:
                    self.packets = frame
                    raise CaptureError(
                        f"{self.name}: packet before any interface at byte {pos + off}"
                    )
                frame += 1
                linktype, _ = interfaces[0]
                (origlen,) = u32(buf, start)
                data_stop = min(start + 4 + origlen, stop)
                if not (
                    candidates_only
                    and linktype == LINKTYPE_ETHERNET
                    and not may_be_ours(buf, start + 4, data_stop)
                ):
                    self.packets = frame
                    yield (frame, 0.0, linktype, buf[start + 4 : data_stop])
            self.packets = frame
            off += blen
        self.packets = frame
        if off < end:
            raise CaptureError(
                f"{self.name}: truncated capture: block at byte {pos + off} is cut short "
                f"after {frame} complete packets"
            )


def _in_order(value: int, order: str) -> int:
    """A 16-bit network-order value as an unpack in ``order`` reads its two bytes."""
    return int(struct.unpack(order + "H", value.to_bytes(2, "big"))[0])


def _peek_verdict(
    et4: int, et6: int, tags: frozenset[int]
) -> Callable[[bytes, int, int, int, int, int, int, int, int], bool]:
    """Both readers' fast verdict on an Ethernet frame ``buf[d:stop]``: whether it may be ours.

    The fields come unpacked with the record header (pcap) or on their own (pcapng): the
    EtherType (frame bytes 12-13), the inner EtherType behind one tag (16-17), the IPv6 next
    header (20), the IPv4 protocol (23), and the same two behind one tag (24, 27). ``et4``,
    ``et6`` and ``tags`` are the EtherTypes as the caller's unpack reads them (the pcap reader
    unpacks in file order). It settles only what ``ethernet_may_be_ours`` would settle the same
    way from those bytes (tests/dissectors/test_ours.py holds it to that, dissectors/ours.py
    is the table); anything else goes to it.
    """
    protos, v6_first = IP_PROTOCOLS, IPV6_FIRST
    udp, ports4, ports6 = IPPROTO_UDP, UDP_PORTS_V4, UDP_PORTS_V6
    candidate = ethernet_may_be_ours

    def passes(
        buf: bytes, d: int, stop: int, et: int, et_in: int, nh6: int, p4: int, nh6_q: int, p4_q: int
    ) -> bool:
        caplen = stop - d
        # 38 bytes: a whole IPv4 header behind one tag, so an IPv4 verdict here is the one
        # ethernet_may_be_ours gives.
        if caplen < 38:
            return candidate(buf, d, stop)
        if et == et4:
            if p4 in protos:
                return True
            if p4 != udp:
                return False
            if buf[d + 14] == 0x45:  # UDP: the port behind a 20-byte header is in the 38 bytes
                return buf[d + 36] << 8 | buf[d + 37] in ports4
            return candidate(buf, d, stop)
        if et in tags:
            if et_in == et4:
                if p4_q in protos:
                    return True
                if p4_q != udp:
                    return False
                if caplen >= 42 and buf[d + 18] == 0x45:
                    return buf[d + 40] << 8 | buf[d + 41] in ports4
                return candidate(buf, d, stop)
            if et_in == et6 and nh6_q == udp and caplen >= 62:
                return buf[d + 60] << 8 | buf[d + 61] in ports6
            if et_in == et6 and nh6_q not in v6_first:
                return False
            return candidate(buf, d, stop)
        if et == et6:
            if nh6 == udp and caplen >= 58:
                return buf[d + 56] << 8 | buf[d + 57] in ports6
            if nh6 not in v6_first:
                return False
        return candidate(buf, d, stop)

    return passes


def _if_tsresol(options: bytes, order: str) -> int:
    """Timestamp units per second from an IDB's options (pcapng if_tsresol, default 10^6)."""
    off = 0
    while off + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, off)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v: int = options[off + 4]
            return int(2 ** (v & 0x7F) if v & 0x80 else 10**v)
        off += 4 + ((length + 3) & ~3)
    return 1_000_000


def open_capture(path: str | Path) -> tuple[BinaryIO, str]:
    """Open a capture path (``-`` is standard input); errors become one-line CaptureErrors."""
    if str(path) == "-":
        return sys.stdin.buffer, "<stdin>"
    p = Path(path)
    name = path_label(p)
    try:
        if p.is_dir():
            raise CaptureError(f"{name}: is a directory, not a capture file")
        return open(p, "rb"), name  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise CaptureError(f"{name}: no such file") from None
    except PermissionError:
        raise CaptureError(f"{name}: permission denied") from None
    except OSError as exc:
        raise CaptureError(f"{name}: cannot open ({exc.strerror})") from None


def iter_capture(path: str | Path, *, candidates_only: bool = False) -> Iterator[RawPacket]:
    """Every packet (or every candidate) of the capture at ``path``."""
    stream, name = open_capture(path)
    try:
        yield from CaptureReader(stream, name=name).read(candidates_only=candidates_only)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


# -- pcap out ------------------------------------------------------------------------------
_SNAPLEN = 65535
# Classic pcap with nanosecond timestamps (magic 0xa1b23c4d), link type 1 (Ethernet).
_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")


class PcapWriter:
    """Writes frames to ``path``; past ``max_bytes`` it goes on in ``path.1``, ``path.2``, …

    The files read in order (``analyze FILE FILE.1 FILE.2``) are the whole capture. Each file
    starts with its own header and holds at least one frame. ``flush()`` (every store flush)
    leaves whole records on disk for Wireshark to open while sniff runs.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.files: list[Path] = []
        self._fh: IO[bytes] | None = None
        self._size = 0
        self._records = 0
        self._open(path)

    def _open(self, path: Path) -> None:
        try:
            # 0600, like the database: the frames hold VRRPv2 and HSRP passwords in clear
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            if stat.S_ISREG(os.fstat(fd).st_mode):
                with contextlib.suppress(OSError):  # an existing file (not ours: left as is)
                    os.fchmod(fd, 0o600)
            self._fh = open(fd, "wb")  # noqa: SIM115 - closed by rotate()/close()
        except OSError as exc:
            raise CaptureError(f"--pcap-out {path}: {exc.strerror}") from None
        self._fh.write(_PCAP_HEADER.pack(0xA1B23C4D, 2, 4, 0, 0, _SNAPLEN, 1))
        self._size = _PCAP_HEADER.size
        self._records = 0
        self.files.append(path)

    def write(self, when: float, data: bytes) -> None:
        assert self._fh is not None
        size = _PCAP_RECORD.size + len(data)
        if self._records and self._size + size > self.max_bytes:
            self._fh.close()
            self._open(self.path.with_name(f"{self.path.name}.{len(self.files)}"))
            assert self._fh is not None
        ns = round(when * 1e9)
        sec, nsec = divmod(ns, 1_000_000_000)
        self._fh.write(_PCAP_RECORD.pack(sec, nsec, len(data), len(data)))
        self._fh.write(data)
        self._size += size
        self._records += 1

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
