"""Live capture for ``vrrpwatch sniff``: packet sockets in, the analyze engine, a pcap out.

One AF_PACKET socket per interface, each with a classic BPF program attached in the kernel
(``VRRP_FILTER``) so only VRRP/CARP (IP protocol 112, also inside AH, protocol 51), HSRP (UDP
to port 1985 over IPv4, 2029 over IPv6), ARP and ICMPv6 neighbour advertisements ever reach
Python. The kernel moves a received frame's outer
802.1Q/802.1ad tag out of the frame into the socket buffer's metadata before packet sockets
see it, so the filter looks at the untagged frame (two more tags left in the data are walked),
and ``PacketSocket`` puts the tag back from PACKET_AUXDATA: a router keeps its VLAN in its key.

``Sniffer`` is the loop: a ``selectors`` wait over the sockets and a netlink link watcher per
interface, the monitor fed with kernel timestamps (SO_TIMESTAMPNS), ``Monitor.expire`` every
100 ms with the wall clock, the store flushed (one transaction) every half second with the
kernel's drop counters (PACKET_STATISTICS), and the frames written to a rotating pcap file.
Frame numbers count captured frames from 1 across all interfaces: they are the positions of
the frames in the ``--pcap-out`` files read in order.
"""

from __future__ import annotations

import ctypes
import errno
import selectors
import socket
import struct
import time as _time
from collections.abc import Callable, Iterator, Sequence

from dissectors import ours
from vrrpwatch import netif
from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.pcap import PcapWriter
from vrrpwatch.watch.feed import Feed, Record, RunSink
from vrrpwatch.watch.monitor import Event, Monitor

FLUSH_EVERY_S = 0.5  # the issue asks for at least every second
RETAIN_EVERY_S = 60.0  # --retain: how often old events are dropped (memory and database)
EXPIRE_EVERY_S = 0.1
TICK_S = 0.1
BATCH = 256
SNAPLEN = 65535
RCVBUF_BYTES = 16 << 20

# <linux/if_packet.h>, <asm-generic/socket.h>
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
ETH_P_ALL = 0x0003
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
_AUXDATA = struct.Struct("=IIIHHHH")  # tp_status, tp_len, tp_snaplen, tp_mac, tp_net, tci, tpid
_TIMESPEC = struct.Struct("=qq")
_STATS = struct.Struct("=II")  # tp_packets, tp_drops (reset by each read)
_ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(_AUXDATA.size) + 64

# -- the kernel filter ---------------------------------------------------------------------
# Classic BPF opcodes (<linux/filter.h>).
BPF_LDX_IMM = 0x01  # X <- k
BPF_LDH_ABS = 0x28  # A <- u16 at [k]
BPF_LDB_IND = 0x50  # A <- u8 at [X + k]
BPF_LDH_IND = 0x48  # A <- u16 at [X + k]
BPF_AND_K = 0x54  # A <- A & k
BPF_LSH_K = 0x64  # A <- A << k
BPF_ADD_X = 0x0C  # A <- A + X
BPF_TAX = 0x07  # X <- A
BPF_JEQ_K = 0x15  # pc += (A == k) ? jt : jf
BPF_JGT_K = 0x25  # pc += (A > k) ? jt : jf
BPF_RET_K = 0x06

Insn = tuple[int, int, int, int]  # code, jt, jf, k
_Src = tuple[str | None, int, int, str | None, str | None]  # label, code, k, jt label, jf label


def _assemble(src: Sequence[_Src]) -> list[Insn]:
    """(label, code, k, jt label, jf label) -> struct sock_filter tuples with relative jumps."""
    where = {label: i for i, (label, *_rest) in enumerate(src) if label}
    out: list[Insn] = []
    for i, (_label, code, k, jt, jf) in enumerate(src):
        rel_t = where[jt] - i - 1 if jt else 0
        rel_f = where[jf] - i - 1 if jf else 0
        assert 0 <= rel_t < 256 and 0 <= rel_f < 256
        out.append((code, rel_t, rel_f, k))
    return out


def _jeq(label: str | None, cases: Sequence[tuple[int, str]], otherwise: str | None) -> list[_Src]:
    """``jeq value, target`` for each case in turn; the last one falls to ``otherwise`` (or on,
    for None). ``label`` names the first."""
    return [
        (
            label if i == 0 else None,
            BPF_JEQ_K,
            v,
            target,
            otherwise if i == len(cases) - 1 else None,
        )
        for i, (v, target) in enumerate(cases)
    ]


def _filter_source() -> list[_Src]:
    """The kernel filter, assembled from the "could this frame be ours" table.

    Offsets count from the start of the Ethernet frame as the filter sees it: EtherType at 12;
    IPv4 protocol at 14 + 9 = 23 (fixed whatever the IHL, RFC 791); IPv6 next header at
    14 + 6 = 20 and, right after the 40-byte header, the ICMPv6 type at 54 (RFC 8200, RFC 4443)
    or the UDP destination port at 56 (RFC 768). Over IPv4 the UDP header follows IHL 32-bit
    words (an IHL below 5 is rejected, as the table does): X becomes the tag offset plus 4 * IHL,
    and the port is at X + 14 + 2.
    X holds 4 or 8 when one or two tags (any TPID of the table) are still in the data: QinQ's
    inner tag, an outer 0x9100/0x9200 tag the kernel leaves in place (it takes only 802.1Q and
    802.1ad tags off), an outgoing frame's. It walks less than the decoder, deliberately (a
    classic BPF program has no loops): no third tag in the data, no 802.1ah, no IPv6 extension
    headers; tests/dissectors/test_ours.py documents each case.
    """
    # What each EtherType of the table leads to (a new one must be taught to the filter).
    targets = {ours.ETH_P_ARP: "accept", ours.ETH_P_IP: "ipv4", ours.ETH_P_IPV6: "ipv6"}
    # VRRP and CARP (RFC 5798 sections 5.1.1.4, 5.1.2.3), AH around VRRPv2 (RFC 2338 5.3.6.3)
    ours_ip = [(p, "accept") for p in sorted(ours.IP_PROTOCOLS)]
    # HSRP (RFC 2281 section 5.1; HSRPv2 over IPv6 on 2029): UDP ports per IP version
    udp4 = [(port, "accept") for port in sorted(ours.UDP_PORTS_V4)]
    udp6 = [(port, "accept") for port in sorted(ours.UDP_PORTS_V6)]
    tpids = sorted(ours.TAG_TPIDS)
    return [
        (None, BPF_LDX_IMM, 0, None, None),
        (None, BPF_LDH_ABS, 12, None, None),
        *_jeq(None, [(tpid, "tag") for tpid in tpids], "ethertype"),
        ("tag", BPF_LDX_IMM, 4, None, None),
        (None, BPF_LDH_ABS, 16, None, None),
        *_jeq(None, [(tpid, "tag2") for tpid in tpids], "ethertype"),
        ("tag2", BPF_LDX_IMM, 8, None, None),
        (None, BPF_LDH_ABS, 20, None, None),
        *_jeq("ethertype", [(et, targets[et]) for et in sorted(ours.ETHERTYPES)], "reject"),
        ("ipv4", BPF_LDB_IND, 23, None, None),
        *_jeq(None, [*ours_ip, (ours.IPPROTO_UDP, "udp4")], "reject"),
        ("udp4", BPF_LDB_IND, 14, None, None),  # version and IHL
        (None, BPF_AND_K, 0x0F, None, None),
        (None, BPF_JGT_K, 4, None, "reject"),
        (None, BPF_LSH_K, 2, None, None),
        (None, BPF_ADD_X, 0, None, None),
        (None, BPF_TAX, 0, None, None),
        (None, BPF_LDH_IND, 16, None, None),
        *_jeq(None, udp4, "reject"),
        ("ipv6", BPF_LDB_IND, 20, None, None),
        *_jeq(
            None,
            [*ours_ip, (ours.IPPROTO_ICMPV6, "icmp6"), (ours.IPPROTO_UDP, "udp6")],
            "reject",
        ),
        ("icmp6", BPF_LDB_IND, 54, None, None),
        # Neighbor Advertisement (RFC 4861 section 4.4)
        *_jeq(None, [(t, "accept") for t in sorted(ours.ICMPV6_TYPES)], "reject"),
        ("udp6", BPF_LDH_IND, 56, None, None),
        *_jeq(None, udp6, "reject"),
        ("accept", BPF_RET_K, SNAPLEN, None, None),
        ("reject", BPF_RET_K, 0, None, None),
    ]


VRRP_FILTER: list[Insn] = _assemble(_filter_source())


class LiveError(VrrpwatchError):
    """Live capture cannot start or go on; a one-line message for the operator."""


def available_interfaces() -> list[str]:
    return sorted(name for _index, name in socket.if_nameindex())


def resolve_interfaces(names: Sequence[str]) -> list[tuple[str, int]]:
    """(name, index) of each interface; LiveError naming the available ones otherwise."""
    known = {name: index for index, name in socket.if_nameindex()}
    out = []
    for name in names:
        if name not in known:
            raise LiveError(
                f"unknown interface {name!r} (available: {', '.join(available_interfaces())})"
            )
        if (name, known[name]) not in out:
            out.append((name, known[name]))
    return out


def attach_filter(sock: socket.socket, program: Sequence[Insn]) -> None:
    """SO_ATTACH_FILTER with a struct sock_fprog {unsigned short len; sock_filter *filter}."""
    insns = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(insns)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def reinsert_vlan(data: bytes, status: int, tci: int, tpid: int) -> bytes:
    """Put back the tag the kernel moved to PACKET_AUXDATA (IEEE 802.1Q: TPID, then TCI)."""
    if not status & TP_STATUS_VLAN_VALID:
        return data
    if not status & TP_STATUS_VLAN_TPID_VALID or not tpid:
        tpid = 0x8100
    return data[:12] + struct.pack("!HH", tpid, tci) + data[12:]


class PacketSocket:
    """A filtered AF_PACKET socket on one interface, non-blocking."""

    def __init__(self, name: str, index: int, *, program: Sequence[Insn] = VRRP_FILTER) -> None:
        self.name = name
        self.index = index
        self.drops = 0
        self.kernel_packets = 0
        try:
            # Protocol 0 receives nothing until bind(): the filter is in place before the
            # first frame is queued, so nothing unfiltered slips in.
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise LiveError(
                f"capturing on {name} needs root or CAP_NET_RAW (packet sockets)"
            ) from None
        self.sock = s
        try:
            attach_filter(s, program)
            s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            try:
                s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_BYTES)
            except PermissionError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            s.bind((name, ETH_P_ALL))
            s.setblocking(False)
        except OSError as exc:
            s.close()
            raise LiveError(f"{name}: cannot capture: {exc.strerror or exc}") from None
        self._buf = bytearray(SNAPLEN)
        self._view = memoryview(self._buf)

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, limit: int = BATCH) -> list[tuple[float, bytes]]:
        """Up to ``limit`` queued frames as (epoch time, frame with its VLAN tags)."""
        out: list[tuple[float, bytes]] = []
        recv = self.sock.recvmsg_into
        bufs = [self._buf]
        view = self._view
        for _ in range(limit):
            try:
                n, anc, _flags, _addr = recv(bufs, _ANC_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                # The kernel reports ENETDOWN once when the interface goes down; the socket
                # stays bound and receives again once it is up.
                if exc.errno in (errno.ENETDOWN, errno.ENXIO, errno.ENODEV):
                    break
                raise
            when = 0.0
            data = bytes(view[:n])
            for level, kind, cdata in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA:
                    status, _len, _snap, _mac, _net, tci, tpid = _AUXDATA.unpack_from(cdata)
                    if status & TP_STATUS_VLAN_VALID:
                        data = reinsert_vlan(data, status, tci, tpid)
                elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(cdata)
                    when = sec + nsec * 1e-9
            out.append((when or _time.time(), data))
        return out

    def update_stats(self) -> None:
        """Add the kernel's counters since the last call (PACKET_STATISTICS resets them)."""
        packets, drops = _STATS.unpack(self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        self.kernel_packets += packets
        self.drops += drops

    def close(self) -> None:
        self.sock.close()


# -- the loop ------------------------------------------------------------------------------
class Sniffer:
    """Drives the monitor and the store from packet sockets until ``stop()`` or a deadline."""

    def __init__(
        self,
        sockets: Sequence[PacketSocket],
        monitor: Monitor,
        store: RunSink | None = None,
        *,
        pcap: PcapWriter | None = None,
        on_event: Callable[[Event], None] | None = None,
        on_tick: Callable[[float], None] | None = None,
        watch_links: bool = True,
        clock: Callable[[], float] = _time.time,
        retain_s: float | None = None,
    ) -> None:
        self.sockets = list(sockets)
        self.retain_s = retain_s  # --retain: keep events this long
        self.monitor = monitor
        self.store = store
        self.pcap = pcap
        self.on_event = on_event
        self.on_tick = on_tick
        self.clock = clock
        self.frames = 0
        self.stopping = False
        self.error: str | None = None
        # Per-interface counts for the metrics (read from another thread; ints only)
        self.frames_by_interface: dict[str, int] = {s.name: 0 for s in self.sockets}
        self.malformed_by_interface: dict[str, int] = {s.name: 0 for s in self.sockets}
        self._gone_drops = 0
        self._feed = Feed(monitor, on_event=on_event)
        self._sel = selectors.DefaultSelector()
        self._watchers: list[netif.LinkWatcher] = []
        for s in self.sockets:
            self._sel.register(s.sock, selectors.EVENT_READ, s)
            if watch_links:
                w = netif.LinkWatcher(s.index)
                self._watchers.append(w)
                self._sel.register(w.sock, selectors.EVENT_READ, (s, w))

    @property
    def kernel_drops(self) -> int:
        return self._gone_drops + sum(s.drops for s in self.sockets)

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler)."""
        self.stopping = True

    def run(self, duration_s: float | None = None) -> None:
        start = self.clock()
        deadline = start + duration_s if duration_s is not None else None
        next_flush = start + FLUSH_EVERY_S
        next_expire = start + EXPIRE_EVERY_S
        next_retain = start  # at once: an existing database may hold old rows
        select = self._sel.select
        while not self.stopping:
            now = self.clock()
            if deadline is not None and now >= deadline:
                break
            timeout = TICK_S if deadline is None else max(0.0, min(TICK_S, deadline - now))
            for key, _mask in select(timeout):
                src = key.data
                if isinstance(src, tuple):
                    sock, watcher = src
                    self._link(sock, watcher, watcher.read())
                    break  # a removed interface's socket may be further down the list
                else:
                    self._frames(src.read(), src.name)
            now = self.clock()
            if now >= next_expire:
                next_expire = now + EXPIRE_EVERY_S
                self._read_drops(now)
                self._emit(self.monitor.expire(now))
            if now >= next_flush:
                next_flush = now + FLUSH_EVERY_S
                self.flush()
            if self.retain_s is not None and now >= next_retain:
                next_retain = now + RETAIN_EVERY_S
                self.retain(now - self.retain_s)
            if self.on_tick is not None:
                self.on_tick(now)

    def _read_drops(self, now: float) -> None:
        """The kernel's drops per interface since the last read, to the monitor."""
        for s in self.sockets:
            before = s.drops
            try:
                s.update_stats()
            except OSError:
                continue
            self.monitor.kernel_drops(s.name, now, s.drops - before)

    def _frames(self, frames: list[tuple[float, bytes]], iface: str) -> None:
        monitor = self.monitor
        malformed = monitor.counters.malformed
        self.frames_by_interface[iface] = self.frames_by_interface.get(iface, 0) + len(frames)
        self._feed.on_event = self.on_event
        try:
            self._feed.run(self._records(frames), iface=iface)
        finally:
            bad = monitor.counters.malformed - malformed
            if bad:
                by_iface = self.malformed_by_interface
                by_iface[iface] = by_iface.get(iface, 0) + bad
            monitor.counters.packets = self.frames

    def _records(self, frames: list[tuple[float, bytes]]) -> Iterator[Record]:
        """Number the frames (from 1 across all interfaces) and write each to --pcap-out just
        before the feed decodes it, so a write error stops the run at that frame."""
        pcap = self.pcap
        for when, data in frames:
            self.frames += 1
            if pcap is not None:
                pcap.write(when, data)
            yield self.frames, when, 1, data

    def _link(self, sock: PacketSocket, watcher: netif.LinkWatcher, up: bool | None) -> None:
        if up is None:
            return
        now = self.clock()
        name = sock.name
        if not up:
            try:
                gone = socket.if_nametoindex(name) != sock.index
            except OSError:
                gone = True
            if gone:
                self._forget(sock, watcher)
            self._emit(self.monitor.interface_down(name, now, frame=self.frames, removed=gone))
            if not self.sockets:
                self.error = "every sniffed interface is gone"
                self.stop()
        else:
            self._emit(self.monitor.interface_up(name, now, frame=self.frames))

    def _forget(self, sock: PacketSocket, watcher: netif.LinkWatcher) -> None:
        """An interface that was deleted: its socket will never receive again."""
        try:
            sock.update_stats()
        except OSError:
            pass
        self._gone_drops += sock.drops
        self._sel.unregister(sock.sock)
        self._sel.unregister(watcher.sock)
        self.sockets.remove(sock)
        self._watchers.remove(watcher)
        sock.close()
        watcher.close()

    def _emit(self, events: list[Event]) -> None:
        if self.on_event is not None:
            for e in events:
                self.on_event(e)

    def flush(self) -> None:
        """Commit the monitor's changes with the kernel's drop counters; flush the pcap."""
        for s in self.sockets:
            try:
                s.update_stats()
            except OSError:
                pass
        self.monitor.counters.packets = self.frames
        if self.pcap is not None:
            self.pcap.flush()
        if self.store is not None:
            self.store.flush(self.monitor, kernel_drops=self.kernel_drops)

    def retain(self, cutoff: float) -> None:
        """--retain: drop the events from before ``cutoff`` from the monitor and the database.
        What is due is written first, so nothing is dropped unwritten; the next flush rewrites
        the shortened timelines."""
        self.flush()
        self.monitor.trim(cutoff)
        if self.store is not None:
            self.store.prune(cutoff)

    def close(self) -> None:
        for w in self._watchers:
            w.close()
        for s in self.sockets:
            s.close()
        self._sel.close()
        if self.pcap is not None:
            self.pcap.close()
