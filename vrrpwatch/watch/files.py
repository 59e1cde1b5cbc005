"""``analyze`` as a library: capture files -> monitor -> store.

The native engine reads pcap/pcapng itself (``capture.py``). The ``tshark`` engine lets tshark
read whatever Wireshark can (pcap.gz, snoop, ERF, ...) and hand it over as pcapng on a pipe;
the same decoder and monitor then run on the same bytes, so both engines agree by construction
on the frames they share.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time as _time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dissectors.common import DecodeError
from dissectors.frame import format_mac
from dissectors.packet import SUPPORTED_LINKTYPES, Decoded, decode_packet
from vrrpwatch.pcap import CaptureError, CaptureReader, open_capture
from vrrpwatch.store.db import Store
from vrrpwatch.watch.monitor import Event, Monitor

FLUSH_EVERY_S = 1.0
_IDENTITY_SAMPLE = 1 << 20


@dataclass
class FileProgress:
    name: str
    size: int | None


def capture_identity(paths: Sequence[str]) -> str | None:
    """Content identity of a list of capture files (size and SHA-256 of the first and last MiB
    of each), so re-analyzing the same files, from any path, replaces the earlier run."""
    h = hashlib.sha256()
    for p in paths:
        if p == "-":
            return None
        try:
            size = Path(p).stat().st_size
            with open(p, "rb") as f:
                h.update(f"{size}:".encode())
                h.update(f.read(_IDENTITY_SAMPLE))
                if size > 2 * _IDENTITY_SAMPLE:
                    f.seek(-_IDENTITY_SAMPLE, 2)
                    h.update(f.read())
        except OSError:
            return None  # open_capture reports it properly
    return h.hexdigest()


@contextmanager
def _open(path: str, engine: str) -> Iterator[tuple[IO[bytes], str]]:
    if engine == "native":
        stream, name = open_capture(path)
        try:
            yield stream, name
        finally:
            if name != "<stdin>":
                stream.close()
        return
    tshark = shutil.which("tshark")
    if tshark is None:
        raise CaptureError("--engine tshark: tshark is not installed")
    stream, name = open_capture(path)  # the same one-line errors for missing files
    if name != "<stdin>":
        stream.close()
    proc = subprocess.Popen(
        [tshark, "-r", path, "-F", "pcapng", "-w", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL if path != "-" else None,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        yield proc.stdout, name
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        rc = proc.wait()
        proc.stderr.close()
    if rc != 0:
        first = next((ln for ln in err.splitlines() if "root" not in ln), err)
        raise CaptureError(f"{name}: tshark could not read it: {first}")


def run_files(
    paths: Sequence[str],
    monitor: Monitor,
    store: Store | None = None,
    *,
    engine: str = "native",
    on_event: Callable[[Event], None] | None = None,
    on_progress: Callable[[FileProgress, int], None] | None = None,
) -> None:
    """Feed every candidate packet of ``paths`` (in order) to ``monitor``, flushing ``store``
    at least every second. Raises CaptureError where a file stops making sense; everything
    before it has been fed (the caller calls ``monitor.finish()`` and flushes either way)."""
    last_flush = _time.monotonic()
    emit = on_event
    decode = CachedDecoder().decode
    for path in paths:
        with _open(path, engine) as (stream, name):
            monitor.source = name
            reader = CaptureReader(stream, name=name)
            if on_progress is not None:
                size = Path(path).stat().st_size if path != "-" and engine == "native" else None
                progress = FileProgress(name, size)
                reader.on_chunk = lambda n, p=progress: on_progress(p, n)
            base = monitor.counters.packets
            try:
                supported = SUPPORTED_LINKTYPES
                for n, (frame, when, linktype, data) in enumerate(
                    reader.records(candidates_only=True)
                ):
                    if linktype not in supported:
                        raise CaptureError(
                            f"{name}: unsupported link type {linktype} (frame {frame})"
                        )
                    try:
                        decoded = decode(data, linktype)
                    except DecodeError as exc:
                        src = format_mac(data[6:12]) if linktype == 1 and len(data) >= 12 else None
                        events = monitor.malformed(frame, when, str(exc), src)
                    else:
                        if decoded is None:
                            continue
                        events = monitor.observe(frame, when, decoded)
                    if emit is not None:
                        for e in events:
                            emit(e)
                    if store is not None and n % 512 == 0:
                        now = _time.monotonic()
                        if now - last_flush >= FLUSH_EVERY_S:
                            monitor.counters.packets = base + reader.packets
                            store.flush(monitor)
                            last_flush = now
            finally:
                monitor.counters.packets = base + reader.packets


class CachedDecoder:
    """``decode_packet`` with a cache of recent distinct frames.

    A master sends the same advert again and again, so most VRRP frames in a capture are
    byte-identical to an earlier one except for the IPv4 identification and header checksum.
    The cache key leaves those two fields out (the decoded result does not use them), and a
    hit returns the very same ``Decoded`` object, which also lets the monitor take its fast
    path. Malformed frames are not cached: each one is decoded and reported.
    """

    def __init__(self, size: int = 4096) -> None:
        self._cache: dict[bytes, Decoded | None] = {}
        self._size = size
        self.hits = 0

    def decode(self, data: bytes, linktype: int) -> Decoded | None:
        if linktype == 1 and len(data) > 38:
            off = 18 if data.startswith(b"\x81\x00", 12) else 14
            if data.startswith(b"\x08\x00", off - 2):
                # IPv4 identification (bytes 4-5) and header checksum (10-11), RFC 791.
                key = data[: off + 4] + data[off + 6 : off + 10] + data[off + 12 :]
            else:
                key = data
        else:
            key = data
        try:
            hit = self._cache[key]
        except KeyError:
            pass
        else:
            self.hits += 1
            return hit
        decoded = decode_packet(data, linktype)
        if len(self._cache) >= self._size:
            self._cache.clear()
        self._cache[key] = decoded
        return decoded
