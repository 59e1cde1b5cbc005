"""join's socket transport: what a transport delivers, the ``Transport`` protocol the loop
drives, and ``RawTransport``, the real one on one interface.

RawTransport: raw IP protocol 112 sockets (IPv4 with IP_HDRINCL so the source is always the
primary address, IPv6 with IPV6_PKTINFO), TTL / hop limit 255 on 224.0.0.18 / ff02::12
(RFC 5798 section 5.1.1.3 and 5.1.2.3); AF_PACKET for gratuitous ARP and unsolicited NA;
netlink for the virtual addresses and link-state changes. Its ``wait`` is the selectors loop's
sleep: until a deadline, a packet, a link change or a wake-up (a signal).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import selectors
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from dissectors.arp import build_arp, gratuitous_arp
from dissectors.common import DecodeError, IPAddress
from dissectors.frame import BROADCAST_MAC, ETH_P_ARP, ETH_P_IPV6, build_ethernet
from dissectors.ip import IPPROTO_ICMPV6, IPv4Header, IPv6Header, build_ipv4, build_ipv6, parse_ipv4
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

__all__ = ["LinkChange", "RawTransport", "Received", "Transport"]


@dataclass(frozen=True, slots=True)
class Received:
    """One IP protocol 112 payload with the IP header facts the router checks."""

    payload: bytes
    src: IPAddress
    dst: IPAddress
    ttl: int


@dataclass(frozen=True, slots=True)
class LinkChange:
    up: bool


class Transport(Protocol):
    def wait(self, timeout: float | None) -> list[Received | LinkChange]: ...

    def send_advertisement(self, adv: VrrpPacket) -> None: ...

    def send_gratuitous_arp(self, vip: ipaddress.IPv4Address) -> None: ...

    def send_neighbor_advertisement(self, vip: ipaddress.IPv6Address) -> None: ...

    def add_address(self, vip: IPAddress, prefixlen: int) -> bool: ...

    def remove_address(self, vip: IPAddress, prefixlen: int) -> bool: ...

    def wake(self) -> None: ...

    def close(self) -> None: ...


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


class RawTransport:
    """Raw IP protocol 112 on one interface (both families until ``keep_family``)."""

    def __init__(
        self,
        iface: netif.Interface,
        *,
        families: Iterable[int] = (4, 6),
        unicast_peers: tuple[IPAddress, ...] = (),
        watch_link: bool = True,
    ) -> None:
        self.iface = iface
        self.unicast_peers = unicast_peers
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
    def wake_fd(self) -> int:
        return self._wake_w.fileno()

    def _open4(self) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.name.encode())
        s.setsockopt(_SOL_IP, _IP_HDRINCL, 1)
        # struct ip_mreqn: group, local address, ifindex.
        mreqn = VRRP_MCAST_V4.packed + bytes(4) + struct.pack("=i", self.iface.index)
        s.setsockopt(_SOL_IP, _IP_ADD_MEMBERSHIP, mreqn)
        s.setsockopt(_SOL_IP, _IP_MULTICAST_IF, mreqn)
        s.setsockopt(_SOL_IP, _IP_MULTICAST_TTL, 255)  # RFC 5798 section 5.1.1.3
        s.setsockopt(_SOL_IP, _IP_MULTICAST_LOOP, 0)
        s.setblocking(False)
        return s

    def _open6(self) -> socket.socket:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_VRRP)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.name.encode())
        ipv6 = socket.IPPROTO_IPV6
        s.setsockopt(ipv6, _IPV6_RECVPKTINFO, 1)
        s.setsockopt(ipv6, _IPV6_RECVHOPLIMIT, 1)
        mreq = VRRP_MCAST_V6.packed + struct.pack("=I", self.iface.index)
        s.setsockopt(ipv6, _IPV6_JOIN_GROUP, mreq)
        s.setsockopt(ipv6, _IPV6_MULTICAST_IF, self.iface.index)
        s.setsockopt(ipv6, _IPV6_MULTICAST_HOPS, 255)  # RFC 5798 section 5.1.2.3
        s.setsockopt(ipv6, _IPV6_UNICAST_HOPS, 255)
        s.setsockopt(ipv6, _IPV6_MULTICAST_LOOP, 0)
        s.setblocking(False)
        return s

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
                out += self._recv4(self.socks[4])
            elif tag == 6:
                out += self._recv6(self.socks[6])
        return out

    def _select(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        # The kernel lets epoll_wait wake up late by 0.1 % of its timeout (timer slack,
        # select_estimate_accuracy(): 3.8 ms on a 3.8 s Master_Down_Interval) and Python rounds
        # the timeout up to whole milliseconds. So aim short, in shrinking steps, and sleep the
        # last 2 ms (nanosleep has 50 us of slack).
        if timeout is None:
            return self.sel.select(None)
        end = time.monotonic() + timeout
        while True:
            rest = end - time.monotonic()
            if rest <= 0:
                return []
            if rest < 0.002:
                time.sleep(rest)
                return []
            ready = self.sel.select(math.floor((rest * 0.99 - 0.001) * 1000) / 1000)
            if ready:
                return ready

    def _recv4(self, sock: socket.socket) -> list[Received | LinkChange]:
        out: list[Received | LinkChange] = []
        while True:
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                return out
            try:
                header, payload = parse_ipv4(data)
            except DecodeError:
                continue
            if header.src == self.src.get(4):
                continue
            out.append(Received(payload, header.src, header.dst, header.ttl))

    def _recv6(self, sock: socket.socket) -> list[Received | LinkChange]:
        out: list[Received | LinkChange] = []
        while True:
            try:
                data, anc, _flags, addr = sock.recvmsg(65535, socket.CMSG_SPACE(64))
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
            out.append(Received(data, src, dst, hop))

    def send_advertisement(self, adv: VrrpPacket) -> None:
        fam = 4 if isinstance(adv, VrrpV2) else adv.family
        src = self.src[fam]
        group = VRRP_MCAST_V4 if fam == 4 else VRRP_MCAST_V6
        dsts = self.unicast_peers or (group,)
        sock = self.socks[fam]
        for dst in dsts:
            payload = build_vrrp(adv, src=src, dst=dst)
            try:
                if fam == 4:
                    # RFC 5798 section 5.1.1.3: TTL 255; IP header built here (IP_HDRINCL)
                    # so the source is always the primary address, never a VIP.
                    assert isinstance(src, ipaddress.IPv4Address)
                    assert isinstance(dst, ipaddress.IPv4Address)
                    hdr = IPv4Header(src=src, dst=dst, protocol=IPPROTO_VRRP, ttl=255, tos=0xC0)
                    sock.sendto(build_ipv4(hdr, payload), (str(dst), 0))
                else:
                    pktinfo = src.packed + struct.pack("=I", self.iface.index)
                    sock.sendmsg(
                        [payload],
                        [(socket.IPPROTO_IPV6, _IPV6_PKTINFO, pktinfo)],
                        0,
                        (str(dst), 0, 0, self.iface.index),
                    )
            except OSError:
                # ENETDOWN/ENXIO while our link is down: the link watcher reports the fault.
                if self.iface_up():
                    raise

    def send_gratuitous_arp(self, vip: ipaddress.IPv4Address) -> None:
        mac = self.iface.mac
        frame = build_ethernet(BROADCAST_MAC, mac, ETH_P_ARP, build_arp(gratuitous_arp(mac, vip)))
        self._packet.send(frame)

    def send_neighbor_advertisement(self, vip: ipaddress.IPv6Address) -> None:
        # RFC 4861 section 7.2.6: unsolicited NA to all-nodes, hop limit 255, Override set.
        mac = self.iface.mac
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
        return self.netlink.add_address(self.iface.index, vip, prefixlen)

    def remove_address(self, vip: IPAddress, prefixlen: int) -> bool:
        return self.netlink.remove_address(self.iface.index, vip, prefixlen)

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
