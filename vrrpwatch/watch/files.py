"""``analyze`` as a library: capture files -> the feed (decode cache, monitor) -> a run sink.

The native engine reads pcap/pcapng itself (``vrrpwatch.pcap``). The ``tshark`` engine lets tshark
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
from typing import IO, Any

from vrrpwatch.pcap import CaptureError, CaptureReader, open_capture
from vrrpwatch.watch.feed import CachedDecoder, Feed, RunSink
from vrrpwatch.watch.monitor import Event, Monitor

FLUSH_EVERY_S = 1.0


@dataclass
class FileProgress:
    name: str
    size: int | None


class ContentIdentity:
    """Content identity of the capture files of one run, computed while they are read: SHA-256
    over the SHA-256 of each file's whole content (the bytes the reader consumed), so
    re-analyzing the same files, from any path, replaces the earlier run. A run that reads
    standard input has none."""

    def __init__(self, paths: Sequence[str], engine: str = "native") -> None:
        self._all = hashlib.sha256(f"vrrpwatch-capture-v2:{engine}:{len(paths)}:".encode())
        self._stdin = "-" in paths
        self._file: Any = None

    def start_file(self) -> Callable[[bytes], None]:
        self._end_file()
        self._file = hashlib.sha256()
        return self._file.update  # type: ignore[no-any-return]

    def _end_file(self) -> None:
        if self._file is not None:
            self._all.update(self._file.digest())
            self._file = None

    def hexdigest(self) -> str | None:
        """The identity of what was read so far (all of it once ``run_files`` returns)."""
        if self._stdin:
            return None
        self._end_file()
        return self._all.hexdigest()


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
        raise CaptureError(f"{name}: tshark could not read it: {tshark_message(err, rc)}")


def tshark_message(stderr: str, rc: int) -> str:
    """tshark's own reason, on one line: its lines without the warning it prints whenever it
    runs as root (``Running as user "root" ...``) and without its ``tshark: `` prefix."""
    lines = [
        ln.strip().removeprefix("tshark: ")
        for ln in stderr.splitlines()
        if ln.strip() and not ln.startswith("Running as user ")
    ]
    return " ".join(lines) or f"exit status {rc}, no message"


def run_files(
    paths: Sequence[str],
    monitor: Monitor,
    store: RunSink | None = None,
    *,
    engine: str = "native",
    on_event: Callable[[Event], None] | None = None,
    on_progress: Callable[[FileProgress, int], None] | None = None,
    identity: ContentIdentity | None = None,
) -> None:
    """Feed every candidate packet of ``paths`` (in order) to ``monitor``, flushing ``store``
    at least every second. Raises CaptureError where a file stops making sense; everything
    before it has been fed (the caller calls ``monitor.finish()`` and flushes either way).
    Each file is read once, in one pass: ``identity`` hashes its content as it streams."""
    last_flush = [_time.monotonic()]
    feed = Feed(monitor, on_event=on_event)
    for path in paths:
        with _open(path, engine) as (stream, name):
            monitor.source = name
            reader = CaptureReader(stream, name=name)
            if identity is not None:
                reader.on_data = identity.start_file()
            if on_progress is not None:
                size = Path(path).stat().st_size if path != "-" and engine == "native" else None
                progress = FileProgress(name, size)
                reader.on_chunk = lambda n, p=progress: on_progress(p, n)
            base = monitor.counters.packets
            tick = None
            if store is not None:

                def tick(
                    reader: CaptureReader = reader, base: int = base, sink: RunSink = store
                ) -> None:
                    now = _time.monotonic()
                    if now - last_flush[0] >= FLUSH_EVERY_S:
                        monitor.counters.packets = base + reader.packets
                        sink.flush(monitor)
                        last_flush[0] = now

            try:
                feed.run(reader.records(candidates_only=True), name=name, tick=tick)
            finally:
                monitor.counters.packets = base + reader.packets


__all__ = ["CachedDecoder", "ContentIdentity", "FileProgress", "run_files"]
