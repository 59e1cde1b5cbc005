"""The frame -> events feed: every captured frame, from a file (analyze) or a packet socket
(sniff), takes this one path: the decode cache, then the monitor, malformed frames counted.

``Feed.run`` is the per-advert hot path of both commands, so it keeps to local names and
calls as few functions per frame as it can. ``RunSink`` is what the feeders need of the store
(watch never imports the store; ``vrrpwatch.store.recorder.Store`` satisfies it).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from dissectors.common import DecodeError
from dissectors.frame import format_mac
from dissectors.ours import ETH_P_IP, ETH_P_IP_BYTES, TAG_TPID_BYTES, network_offset
from dissectors.packet import SUPPORTED_LINKTYPES, Decoded, decode_packet
from vrrpwatch.pcap import CaptureError
from vrrpwatch.watch.monitor import Event, Monitor

# (frame number, epoch time, pcap link type, frame bytes): what CaptureReader.records yields.
Record = tuple[int, float, int, bytes]
TICK_EVERY = 512  # records between two ``tick`` calls
CacheKey = bytes | tuple[int, bytes, bytes, bytes]


class RunSink(Protocol):
    """Where a run's results go while it runs (vrrpwatch.store.recorder.Store)."""

    def flush(self, monitor: Monitor, *, kernel_drops: int | None = None) -> None:
        """Commit what changed in ``monitor`` since the last flush."""

    def prune(self, cutoff: float) -> int:
        """Drop the event rows from before ``cutoff`` (sniff --retain); how many went."""


def cache_key(data: bytes, linktype: int) -> CacheKey:
    """What the decode cache files ``data`` under: the frame, or for IPv4 the frame without
    the identification and header checksum (RFC 791 section 3.1), which change with every
    datagram of an otherwise identical advert, but with their sum. For a correct checksum that
    sum is fixed by the rest of the header, up to the one's-complement carry, so an advert
    takes at most two entries; and the sum with the rest decides ``checksum_ok``, so a
    mangled header does not share an entry with a sound one. The IPv4 header is found with
    the "could this frame be ours" table's walker, behind any tags. (``Feed.run`` has the
    untagged and single-tagged Ethernet cases inline.)"""
    if linktype == 1 and data[12:14] == ETH_P_IP_BYTES:
        off = 14
    elif linktype == 1 and data[12:14] in TAG_TPID_BYTES and data[16:18] == ETH_P_IP_BYTES:
        off = 18
    else:
        et, off = network_offset(data, linktype)
        if et != ETH_P_IP:
            return data
    if len(data) < off + 20:
        return data
    ident_and_checksum = (data[off + 4] + data[off + 10]) * 256 + data[off + 5] + data[off + 11]
    return ident_and_checksum, data[: off + 4], data[off + 6 : off + 10], data[off + 12 :]


_MISS: object = object()

# The cyclic garbage collector's thresholds while frames are fed (``gc.set_threshold``): every
# advert of a flood makes a few dozen objects, nearly none of them in a reference cycle, and
# with the defaults (700, 10, 10) the collector ran a full collection over everything the run
# holds (a transition and an alert per takeover) every few thousand adverts: 100,000 takeovers
# spent more time collecting than monitoring.
FEED_GC_THRESHOLDS = (20_000, 50, 100)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect less often while feeding (``FEED_GC_THRESHOLDS``); the thresholds before are
    restored after."""
    before = gc.get_threshold()
    gc.set_threshold(*FEED_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


class CachedDecoder:
    """``decode_packet`` with a cache of recent distinct frames.

    A master sends the same advert again and again, so most VRRP frames in a capture are
    byte-identical to an earlier one except for the IPv4 identification and header checksum.
    ``cache_key`` leaves those two out (but for their sum, which decides the checksum's
    verdict), and a hit returns the very same ``Decoded`` object, which also lets the monitor
    take its fast path; its ``ip.identification`` is the first frame's (nothing downstream
    reads it). Malformed
    frames are not cached: each one is decoded and reported. ``size`` 0 caches nothing.
    """

    def __init__(self, size: int = 4096) -> None:
        self.entries: dict[CacheKey, Decoded | None] = {}
        self.size = size
        self.lookups = 0
        self.misses = 0

    @property
    def hits(self) -> int:
        """Hits of ``decode`` (``Feed.run`` looks entries up itself and counts only misses)."""
        return self.lookups - self.misses

    def decode(self, data: bytes, linktype: int) -> Decoded | None:
        key = cache_key(data, linktype)
        self.lookups += 1
        hit = self.entries.get(key, _MISS)
        if hit is _MISS:
            return self.miss(key, data, linktype)
        return hit  # type: ignore[return-value]

    def miss(self, key: CacheKey, data: bytes, linktype: int) -> Decoded | None:
        """Decode a frame not in the cache, and file it under ``key`` unless it raises."""
        self.misses += 1
        decoded = decode_packet(data, linktype)
        entries = self.entries
        if len(entries) >= self.size:
            entries.clear()
            if not self.size:
                return decoded
        entries[key] = decoded
        return decoded


class Feed:
    """frame -> decode cache -> monitor, for analyze and sniff alike.

    ``on_event`` gets every event the monitor returns. ``run`` raises CaptureError at the first
    frame of a link type the decoder does not know (everything before it has been fed).
    """

    CACHE_SIZE = 4096  # distinct frames; 0 turns the cache (and the monitor's fast path) off

    def __init__(
        self, monitor: Monitor, *, on_event: Callable[[Event], None] | None = None
    ) -> None:
        self.monitor = monitor
        self.on_event = on_event
        self.cache = CachedDecoder(self.CACHE_SIZE)

    def run(
        self,
        records: Iterable[Record],
        *,
        name: str = "capture",
        tick: Callable[[], None] | None = None,
        iface: str | None = None,
    ) -> None:
        """Feed ``records`` to the monitor. ``tick`` is called every TICK_EVERY records (the
        store's flush clock); ``iface`` is the interface the records came in on (sniff)."""
        with fewer_collections():
            self._run(records, name=name, tick=tick, iface=iface)

    def _run(
        self,
        records: Iterable[Record],
        *,
        name: str,
        tick: Callable[[], None] | None,
        iface: str | None,
    ) -> None:
        monitor = self.monitor
        observe = monitor.observe
        cache = self.cache
        get = cache.entries.get
        miss = cache.miss
        emit = self.on_event
        ip_bytes = ETH_P_IP_BYTES
        tag_bytes = TAG_TPID_BYTES
        missing = _MISS
        known_linktype = -1
        countdown = TICK_EVERY
        for frame, when, linktype, data in records:
            if linktype != known_linktype:
                if linktype not in SUPPORTED_LINKTYPES:
                    raise CaptureError(f"{name}: unsupported link type {linktype} (frame {frame})")
                known_linktype = linktype
            # cache_key, with its two commonest cases inline (the per-advert hot path).
            key: CacheKey
            et = data[12:14]
            if linktype != 1:
                key = cache_key(data, linktype)
            elif et == ip_bytes and len(data) >= 34:
                sums = (data[18] + data[24]) * 256 + data[19] + data[25]
                key = sums, data[:18], data[20:24], data[26:]
            elif et in tag_bytes and data[16:18] == ip_bytes and len(data) >= 38:
                sums = (data[22] + data[28]) * 256 + data[23] + data[29]
                key = sums, data[:22], data[24:28], data[30:]
            else:
                key = cache_key(data, linktype)
            decoded = get(key, missing)
            if decoded is missing:
                try:
                    decoded = miss(key, data, linktype)
                except DecodeError as exc:
                    src = format_mac(data[6:12]) if linktype == 1 and len(data) >= 12 else None
                    events = monitor.malformed(frame, when, str(exc), src)
                    if events and emit is not None:
                        for e in events:
                            emit(e)
                    continue
            if decoded is not None:
                events = observe(frame, when, decoded, iface)  # type: ignore[arg-type]
                if events and emit is not None:
                    for e in events:
                        emit(e)
            if tick is not None:
                countdown -= 1
                if not countdown:
                    countdown = TICK_EVERY
                    tick()


__all__ = ["CachedDecoder", "Feed", "Record", "RunSink", "cache_key"]
