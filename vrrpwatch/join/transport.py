"""join's socket transport: what a transport delivers, the ``Transport`` protocol the loop
drives, and ``RawTransport``, the real one on one interface.

RawTransport: raw IP protocol 112 sockets (IPv4 with IP_HDRINCL so the source is always the
primary address, IPv6 with IPV6_PKTINFO), TTL / hop limit 255 on 224.0.0.18 / ff02::12
(RFC 5798 section 5.1.1.3 and 5.1.2.3); with keepalived's AH authentication (``ah_key``) a
raw IP protocol 51 socket instead, whose adverts it seals (``dissectors.ah``) and whose
received AH headers it hands on, raw, for the router to verify; AF_PACKET for gratuitous ARP
and unsolicited NA;
netlink for the virtual addresses and link-state changes. Its ``wait`` is the selectors loop's
sleep: until a deadline, a packet, a link change or a wake-up (a signal).

Under a flood: a classic BPF program on each raw socket (``join.bpf.vrrp_filter``) passes only
adverts of our VRID and version, so a flood for other groups is dropped in the kernel and never
reaches Python; each ``wait`` reads at most ``BATCH`` packets per socket (``backlog`` says more are
queued), so the loop gets back to its timers between batches; and every packet carries its
kernel arrival time (SO_TIMESTAMPNS), so the router judges Master_Down_Interval by when an
advert arrived, not by when a busy loop got to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import math
import selectors
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from dissectors.ah import AhProtected, seal_ipv4, split_ah
from dissectors.arp import build_arp, gratuitous_arp
from dissectors.common import DecodeError, IPAddress
from dissectors.frame import BROADCAST_MAC, ETH_P_ARP, ETH_P_IPV6, build_ethernet
from dissectors.ip import (
    IPPROTO_AH,
    IPPROTO_ICMPV6,
    IPv4Header,
    IPv6Header,
    build_ipv4,
    build_ipv6,
    parse_ipv4,
)
from dissectors.nd import ALL_NODES, build_na, unsolicited_na
from dissectors.vrrp import (
    IPPROTO_VRRP,
    VRRP_MCAST_V4,
    VRRP_MCAST_V6,
    VrrpPacket,
    VrrpV2,
    build_vrrp,
)
from vrrpwatch import netif
from vrrpwatch.join.bpf import Insn, attach_filter, vrrp_filter
from vrrpwatch.text import raw_bytes

__all__ = [
    "BATCH",
    "Insn",
    "LinkChange",
    "RawTransport",
    "Received",
    "Transport",
    "attach_filter",
    "select_until",
    "vrrp_filter",
]


@dataclass(frozen=True, slots=True)
class Received:
    """One IP protocol 112 payload (the VRRP message) with the IP header facts the router
    checks, and when it arrived (the loop's monotonic clock; None: now). ``ah``: the raw
    parts of an advert that came inside AH, for the router's check."""

    payload: bytes
    src: IPAddress
    dst: IPAddress
    ttl: int
    at: float | None = None
    ah: AhProtected | None = None


@dataclass(frozen=True, slots=True)
class LinkChange:
    up: bool


class Transport(Protocol):
    def wait(self, timeout: float | None) -> list[Received | LinkChange]: ...

    # True when the last ``wait`` left packets queued (it reads a bounded batch).
    @property
    def backlog(self) -> bool: ...

    # ``ah_sequence``: with AH authentication, the sequence number to seal it with.
    def send_advertisement(self, adv: VrrpPacket, ah_sequence: int | None = None) -> None: ...

    def send_gratuitous_arp(self, vip: ipaddress.IPv4Address) -> None: ...

    def send_neighbor_advertisement(self, vip: ipaddress.IPv6Address) -> None: ...

    def add_address(self, vip: IPAddress, prefixlen: int) -> bool: ...

    def remove_address(self, vip: IPAddress, prefixlen: int) -> bool: ...

    def wake(self) -> None: ...

    def close(self) -> None: ...


# At most this many packets per socket per wait: the loop runs its timers between batches.
BATCH = 64
# Room in the kernel for a burst while the loop is busy (SO_RCVBUFFORCE as root).
RCVBUF_BYTES = 4 << 20
_SO_RCVBUFFORCE = 33
_SO_TIMESTAMPNS = 35  # and SCM_TIMESTAMPNS: a struct timespec of CLOCK_REALTIME
_TIMESPEC = struct.Struct("=qq")

_SOL_IP = 0
_IP_HDRINCL = 3
_IP_MULTICAST_IF = 32
_IP_MULTICAST_TTL = 33
_IP_MULTICAST_LOOP = 34
_IP_ADD_MEMBERSHIP = 35
_IPV6_RECVPKTINFO = 49
_IPV6_PKTINFO = 50
_IPV6_RECVHOPLIMIT = 51
_IPV6_HOPLIMIT = 52
_IPV6_MULTICAST_IF = 17
_IPV6_MULTICAST_HOPS = 18
_IPV6_MULTICAST_LOOP = 19
_IPV6_UNICAST_HOPS = 16
_IPV6_JOIN_GROUP = 20
_IPV6_ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
_ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(64) + socket.CMSG_SPACE(4)


def select_until(
    sel: selectors.BaseSelector, timeout: float | None
) -> list[tuple[selectors.SelectorKey, int]]:
    """``sel.select(timeout)``, on time: the kernel lets epoll_wait wake up late by 0.1 % of
    its timeout (timer slack, select_estimate_accuracy(): 3.8 ms on a 3.8 s
    Master_Down_Interval) and Python rounds the timeout up to whole milliseconds. So aim short,
    in shrinking steps, and sleep the last 2 ms (nanosleep has 50 us of slack). A timeout of 0
    polls: what is ready now."""
    if timeout is None:
        return sel.select(None)
    if timeout <= 0:
        return sel.select(0)
    end = time.monotonic() + timeout
    while True:
        rest = end - time.monotonic()
        if rest <= 0:
            return []
        if rest < 0.002:
            time.sleep(rest)
            return []
        ready = sel.select(math.floor((rest * 0.99 - 0.001) * 1000) / 1000)
        if ready:
            return ready


class RawTransport:
    """Raw IP protocol 112 on one interface (both families until ``keep_family``)."""

    def __init__(
        self,
        iface: netif.Interface,
        *,
        families: Iterable[int] = (4, 6),
        unicast_peers: tuple[IPAddress, ...] = (),
        watch_link: bool = True,
        ah_key: bytes | None = None,
    ) -> None:
        self.iface = iface
        # use_vmac: the macvlan that holds the VIPs and sends the ARPs / NAs, and ``vrrp_on``
        # the one the adverts are sent and received on; the interface itself otherwise
        # (``use_send_interface``).
        self.announce = iface
        self.vrrp_on = iface
        self._filter: tuple[int, int | None, int | None] | None = None
        self.unicast_peers = unicast_peers
        # keepalived's auth_type AH (IPv4 only): protocol 51, adverts sealed with this key.
        self.ah_key = ah_key
        self._ip_id = 0
        self._backlog = False
        self.sel = selectors.DefaultSelector()
        self.socks: dict[int, socket.socket] = {}
        self.src: dict[int, IPAddress] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.link: netif.LinkWatcher | None = None
        if watch_link:
            self.link = netif.LinkWatcher(iface.index, iface.up)
            self.sel.register(self.link.sock, selectors.EVENT_READ, "link")
        # Opened up front so a takeover pays for no socket setup or import.
        self._packet = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self._packet.bind((iface.name, 0))
        self.netlink = netif.Netlink()
        for fam in families:
            src = iface.primary(fam)
            if src is None:
                continue
            self.src[fam] = src
            sock = self._open4() if fam == 4 else self._open6()
            self.socks[fam] = sock
            self.sel.register(sock, selectors.EVENT_READ, fam)

    @property
    def backlog(self) -> bool:
        return self._backlog

    def set_filter(
        self, vrid: int, version: int | None = None, *, length: int | None = None
    ) -> None:
        """Pass only adverts of ``vrid`` (and ``version``; of ``length`` bytes, only with a
        good checksum) from now on, on every socket."""
        self._filter = (vrid, version, length)
        for fam, sock in self.socks.items():
            ah = fam == 4 and self.ah_key is not None
            attach_filter(sock, vrrp_filter(fam, vrid, version, length=length, ah=ah))

    def _tune(self, s: socket.socket) -> None:
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RCVBUF_BYTES)
        s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)

    @property
    def wake_fd(self) -> int:
        return self._wake_w.fileno()

    def _open4(self) -> socket.socket:
        # keepalived's AH adverts are IP protocol 51 (the kernel hands raw sockets a copy of
        # each, IPsec state or not); the others 112.
        proto = IPPROTO_VRRP if self.ah_key is None else IPPROTO_AH
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, raw_bytes(self.vrrp_on.name))
        s.setsockopt(_SOL_IP, _IP_HDRINCL, 1)
        # struct ip_mreqn: group, local address, ifindex.
        mreqn = VRRP_MCAST_V4.packed + bytes(4) + struct.pack("=i", self.vrrp_on.index)
        s.setsockopt(_SOL_IP, _IP_ADD_MEMBERSHIP, mreqn)
        s.setsockopt(_SOL_IP, _IP_MULTICAST_IF, mreqn)
        s.setsockopt(_SOL_IP, _IP_MULTICAST_TTL, 255)  # RFC 5798 section 5.1.1.3
        s.setsockopt(_SOL_IP, _IP_MULTICAST_LOOP, 0)
        self._tune(s)
        s.setblocking(False)
        return s

    def _open6(self) -> socket.socket:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_VRRP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, raw_bytes(self.vrrp_on.name))
        ipv6 = socket.IPPROTO_IPV6
        s.setsockopt(ipv6, _IPV6_RECVPKTINFO, 1)
        s.setsockopt(ipv6, _IPV6_RECVHOPLIMIT, 1)
        mreq = VRRP_MCAST_V6.packed + struct.pack("=I", self.vrrp_on.index)
        s.setsockopt(ipv6, _IPV6_JOIN_GROUP, mreq)
        s.setsockopt(ipv6, _IPV6_MULTICAST_IF, self.vrrp_on.index)
        s.setsockopt(ipv6, _IPV6_MULTICAST_HOPS, 255)  # RFC 5798 section 5.1.2.3
        s.setsockopt(ipv6, _IPV6_UNICAST_HOPS, 255)
        s.setsockopt(ipv6, _IPV6_MULTICAST_LOOP, 0)
        self._tune(s)
        s.setblocking(False)
        return s

    def use_send_interface(self, iface: netif.Interface, *, adverts: bool = True) -> None:
        """use_vmac: VIPs, gratuitous ARPs and NAs on ``iface`` (the macvlan with the virtual
        MAC), and the adverts, sent and received, too unless ``adverts`` is false
        (vmac_xmit_base), as keepalived's sockpool. Received too: the kernel hands a multicast
        frame whose source MAC is a private macvlan's own (a peer's advert from the same
        virtual MAC) to that macvlan only, never to the interface under it."""
        self.announce = iface
        packet = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        packet.bind((iface.name, 0))
        self._packet.close()
        self._packet = packet
        if not adverts:
            return
        self.vrrp_on = iface
        for fam, old in list(self.socks.items()):
            self.sel.unregister(old)
            old.close()
            self.socks[fam] = self._open4() if fam == 4 else self._open6()
            self.sel.register(self.socks[fam], selectors.EVENT_READ, fam)
        if self._filter is not None:
            vrid, version, length = self._filter
            self.set_filter(vrid, version, length=length)

    def keep_family(self, family: int) -> None:
        for fam in list(self.socks):
            if fam != family:
                sock = self.socks.pop(fam)
                self.sel.unregister(sock)
                sock.close()

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_w.send(b"\0")

    def wait(self, timeout: float | None) -> list[Received | LinkChange]:
        out: list[Received | LinkChange] = []
        ready = self._select(timeout)
        self._backlog = False
        # CLOCK_REALTIME (the kernel's stamps) to the loop's monotonic clock, once per wait.
        offset = time.time() - time.monotonic()
        for key, _ in ready:
            tag = key.data
            if tag == "wake":
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            elif tag == "link":
                assert self.link is not None
                state = self.link.read()
                if state is not None:
                    out.append(LinkChange(up=state))
            elif tag == 4:
                out += self._recv4(self.socks[4], offset)
            elif tag == 6:
                out += self._recv6(self.socks[6], offset)
        return out

    def _select(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        return select_until(self.sel, timeout)

    def fileno(self) -> int:
        """The selector's own descriptor, readable when any of ours is (``mux.TransportMux``
        waits on several transports through it)."""
        return self.sel.fileno()

    def _arrival(self, anc: list[tuple[int, int, bytes]], offset: float) -> float | None:
        for level, ctype, cdata in anc:
            if level == socket.SOL_SOCKET and ctype == _SO_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack_from(cdata)
                return min(float(sec + nsec / 1e9 - offset), time.monotonic())
        return None

    def _recv4(self, sock: socket.socket, offset: float) -> list[Received | LinkChange]:
        out: list[Received | LinkChange] = []
        for _ in range(BATCH):
            try:
                data, anc, _flags, _addr = sock.recvmsg(65535, _ANC_SIZE)
            except BlockingIOError:
                return out
            try:
                header, payload = parse_ipv4(data)
                sealed = split_ah(data) if header.protocol == IPPROTO_AH else None
            except DecodeError:
                continue
            if header.src == self.src.get(4):
                continue
            if sealed is not None:
                if sealed.ah.next_header != IPPROTO_VRRP:
                    continue  # AH around something else: not for us (keepalived drops it too)
                payload = sealed.message
            at = self._arrival(anc, offset)
            out.append(Received(payload, header.src, header.dst, header.ttl, at, sealed))
        self._backlog = True
        return out

    def _recv6(self, sock: socket.socket, offset: float) -> list[Received | LinkChange]:
        out: list[Received | LinkChange] = []
        for _ in range(BATCH):
            try:
                data, anc, _flags, addr = sock.recvmsg(65535, _ANC_SIZE)
            except BlockingIOError:
                return out
            hop, dst = -1, VRRP_MCAST_V6
            for level, ctype, cdata in anc:
                if level != socket.IPPROTO_IPV6:
                    continue
                if ctype == _IPV6_HOPLIMIT and len(cdata) >= 4:
                    hop = struct.unpack("=i", cdata[:4])[0]
                elif ctype == _IPV6_PKTINFO and len(cdata) >= 16:
                    dst = ipaddress.IPv6Address(cdata[:16])
            src = ipaddress.IPv6Address(addr[0].split("%")[0])
            if src == self.src.get(6):
                continue
            out.append(Received(data, src, dst, hop, self._arrival(anc, offset)))
        self._backlog = True
        return out

    def send_advertisement(self, adv: VrrpPacket, ah_sequence: int | None = None) -> None:
        fam = 4 if isinstance(adv, VrrpV2) else adv.family
        src = self.src[fam]
        group = VRRP_MCAST_V4 if fam == 4 else VRRP_MCAST_V6
        dsts = self.unicast_peers or (group,)
        sock = self.socks[fam]
        index = self.vrrp_on.index
        for dst in dsts:
            payload = build_vrrp(adv, src=src, dst=dst)
            try:
                if fam == 4:
                    # RFC 5798 section 5.1.1.3: TTL 255; IP header built here (IP_HDRINCL)
                    # so the source is always the primary address, never a VIP.
                    assert isinstance(src, ipaddress.IPv4Address)
                    assert isinstance(dst, ipaddress.IPv4Address)
                    hdr = IPv4Header(src=src, dst=dst, protocol=IPPROTO_VRRP, ttl=255, tos=0xC0)
                    sock.sendto(self._ipv4(hdr, payload, ah_sequence), (str(dst), 0))
                else:
                    pktinfo = src.packed + struct.pack("=I", index)
                    sock.sendmsg(
                        [payload],
                        [(socket.IPPROTO_IPV6, _IPV6_PKTINFO, pktinfo)],
                        0,
                        (str(dst), 0, 0, index),
                    )
            except OSError:
                # ENETDOWN/ENXIO while our link is down: the link watcher reports the fault.
                if self.iface_up():
                    raise

    def _ipv4(self, hdr: IPv4Header, payload: bytes, ah_sequence: int | None) -> bytes:
        if self.ah_key is None or ah_sequence is None:
            return build_ipv4(hdr, payload)
        # The identification is covered by the ICV: ours, never 0 (with 0 the kernel would
        # pick one after the ICV was computed), as keepalived's vrrp_update_pkt does.
        self._ip_id = self._ip_id % 0xFFFF + 1
        hdr = dataclasses.replace(hdr, identification=self._ip_id)
        # keepalived leaves the TTL out of the ICV with unicast peers (routers lower it).
        zero_ttl = bool(self.unicast_peers)
        return seal_ipv4(hdr, payload, key=self.ah_key, sequence=ah_sequence, zero_ttl=zero_ttl)

    def send_gratuitous_arp(self, vip: ipaddress.IPv4Address) -> None:
        mac = self.announce.mac
        frame = build_ethernet(BROADCAST_MAC, mac, ETH_P_ARP, build_arp(gratuitous_arp(mac, vip)))
        self._packet.send(frame)

    def send_neighbor_advertisement(self, vip: ipaddress.IPv6Address) -> None:
        # RFC 4861 section 7.2.6: unsolicited NA to all-nodes, hop limit 255, Override set.
        mac = self.announce.mac
        src = self.src.get(6)
        if not isinstance(src, ipaddress.IPv6Address):
            return
        na = build_na(unsolicited_na(mac, vip), src=src, dst=ALL_NODES)
        ip6 = build_ipv6(
            IPv6Header(src=src, dst=ALL_NODES, next_header=IPPROTO_ICMPV6, hop_limit=255), na
        )
        frame = build_ethernet(_IPV6_ALL_NODES_MAC, mac, ETH_P_IPV6, ip6)
        self._packet.send(frame)

    def add_address(self, vip: IPAddress, prefixlen: int) -> bool:
        return self.netlink.add_address(self.announce.index, vip, prefixlen)

    def remove_address(self, vip: IPAddress, prefixlen: int) -> bool:
        return self.netlink.remove_address(self.announce.index, vip, prefixlen)

    def iface_up(self) -> bool:
        try:
            return netif.get_interface(self.iface.name).up
        except netif.NetifError:
            return False

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()
        self._packet.close()
        if self.link is not None:
            self.link.close()
        self.netlink.close()
        self._wake_r.close()
        self._wake_w.close()
        self.sel.close()
