"""Active mode: the I/O loop around the sans-IO ``VirtualRouter`` (``vrrpwatch join``).

``Runtime`` sleeps until the router's next deadline or until the transport has something
(an advertisement, a link change, a signal), feeds the router, and carries out the actions it
returns through a ``Transport``. The clock and the transport are injected, so tests drive the
loop with a ``FakeClock`` and a ``FakeTransport``; ``RawTransport`` is the real one: raw IP
protocol 112 sockets, AF_PACKET for gratuitous ARP / unsolicited NA, netlink for addresses.

``join()`` is the library entry point of the CLI command: it picks the interface, learns the
group from the current master's advertisement, builds the ``RouterConfig`` and runs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import selectors
import shlex
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dissectors.arp import build_arp, gratuitous_arp
from dissectors.common import DecodeError, IPAddress
from dissectors.frame import BROADCAST_MAC, ETH_P_ARP, ETH_P_IPV6, build_ethernet
from dissectors.ip import IPPROTO_ICMPV6, IPv4Header, IPv6Header, build_ipv4, build_ipv6, parse_ipv4
from dissectors.nd import ALL_NODES, build_na, unsolicited_na
from dissectors.vrrp import (
    IPPROTO_VRRP,
    VRRP_MCAST_V4,
    VRRP_MCAST_V6,
    AuthType,
    ChecksumStatus,
    VrrpPacket,
    VrrpV2,
    build_vrrp,
    parse_vrrp,
)
from vrrpwatch import netif
from vrrpwatch.errors import VrrpwatchError
from vrrpwatch.join.router import (
    Action,
    AddAddresses,
    AdvertisementDiscarded,
    Cause,
    DiscardReason,
    IpHeader,
    RemoveAddresses,
    RouterConfig,
    SendAdvertisement,
    SendGratuitousArp,
    SendNeighborAdvertisement,
    State,
    StateChanged,
    VirtualRouter,
)

Event = dict[str, Any]
EventSink = Callable[[Event], None]


class JoinError(VrrpwatchError):
    """A one-line, operator-facing reason why ``join`` cannot start."""


# --- what a transport delivers ----------------------------------------------------------------


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


# --- the loop -----------------------------------------------------------------------------------


@dataclass
class Runtime:
    router: VirtualRouter
    transport: Transport
    emit: EventSink
    interface: str = "eth0"
    instance: str = "VI_1"
    prefixes: dict[IPAddress, int] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    dry_run: bool = False
    notify: str | None = None
    state_file: Path | None = None
    # Repeat the same discard message at most this often (per reason and source).
    discard_log_interval_s: float = 10.0
    _stop: bool = field(default=False, init=False)
    _discard_logged: dict[tuple[DiscardReason, IPAddress], float] = field(
        default_factory=dict, init=False
    )
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)
    _io_error_logged: dict[str, float] = field(default_factory=dict, init=False)
    # VIPs this run added (and so removes): not those the interface already had.
    _added: set[IPAddress] = field(default_factory=set, init=False)
    sent_adverts: int = field(default=0, init=False)

    # -- control ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Safe from a signal handler: the loop shuts down at its next wake-up."""
        self._stop = True
        self.transport.wake()

    def run(self, *, until: Callable[[], bool] | None = None) -> int:
        """Run until ``request_stop()`` (or ``until()`` is true); return the exit status."""
        self._execute(self.router.start(self.clock()))
        while not self._stop and not (until is not None and until()):
            self.step()
        self._execute(self.router.shutdown(self.clock()))
        self._reap(wait=True)
        return 0

    def step(self) -> None:
        """Sleep until the next deadline or input, then process what happened."""
        deadline = self.router.get_timer()
        now = self.clock()
        timeout = None if deadline is None else max(0.0, deadline - now)
        for item in self.transport.wait(timeout):
            if self._stop:
                break
            if isinstance(item, LinkChange):
                now = self.clock()
                if item.up:
                    self._log("link-up", f"Kernel is reporting: interface {self.interface} UP")
                    self._execute(self.router.link_up(now))
                else:
                    self._log("link-down", f"Kernel is reporting: interface {self.interface} DOWN")
                    self._execute(self.router.link_down(now))
                continue
            self._receive(item)
        deadline = self.router.get_timer()
        now = self.clock()
        if deadline is not None and now >= deadline and not self._stop:
            self._execute(self.router.handle_timer(now))
        self._reap(wait=False)

    def _receive(self, item: Received) -> None:
        now = self.clock()
        try:
            adv = parse_vrrp(item.payload, src=item.src, dst=item.dst)
        except DecodeError as exc:
            self.router.discards[DiscardReason.MALFORMED] += 1
            self._execute(
                [
                    AdvertisementDiscarded(
                        reason=DiscardReason.MALFORMED,
                        source=item.src,
                        detail=f"undecodable: {exc}",
                    )
                ]
            )
            return
        header = IpHeader(src=item.src, dst=item.dst, ttl=item.ttl)
        self._execute(self.router.receive_advertisement(adv, ip=header, now=now))

    # -- actions -----------------------------------------------------------------------------

    def _execute(self, actions: Iterable[Action]) -> None:
        actions = list(actions)
        # Adverts go out before anything is logged: the wire is what peers time us by.
        for act in actions:
            if isinstance(act, SendAdvertisement):
                self._send_advert(act)
        for act in actions:
            if isinstance(act, SendAdvertisement):
                continue
            elif isinstance(act, SendGratuitousArp):
                for vip in act.addresses:
                    self._log(
                        "garp",
                        f"Sending gratuitous ARP on {self.interface} for {vip}",
                        address=str(vip),
                        count=act.count,
                    )
                    for _ in range(act.count):
                        if not self.dry_run:
                            self._io("garp", self.transport.send_gratuitous_arp, vip)
            elif isinstance(act, SendNeighborAdvertisement):
                for vip6 in act.addresses:
                    self._log(
                        "unsolicited-na",
                        f"Sending unsolicited Neighbour Adverts on {self.interface} for {vip6}",
                        address=str(vip6),
                        count=act.count,
                    )
                    for _ in range(act.count):
                        if not self.dry_run:
                            self._io("na", self.transport.send_neighbor_advertisement, vip6)
            elif isinstance(act, AddAddresses):
                for addr in act.addresses:
                    plen = self.prefixes.get(addr, addr.max_prefixlen)
                    self._log(
                        "vip-add",
                        f"Adding VIP {addr}/{plen} on {self.interface}",
                        address=f"{addr}/{plen}",
                    )
                    if not self.dry_run and self._io(
                        "vip-add", self.transport.add_address, addr, plen
                    ):
                        self._added.add(addr)
                self._write_state_file()
            elif isinstance(act, RemoveAddresses):
                for addr in act.addresses:
                    plen = self.prefixes.get(addr, addr.max_prefixlen)
                    if not self.dry_run and addr not in self._added:
                        # An address the interface had before we added it (an owner's own
                        # address at priority 255): not ours to remove.
                        self._log(
                            "vip-keep",
                            f"Keeping {addr}/{plen} on {self.interface}: it was there before",
                            address=f"{addr}/{plen}",
                        )
                        continue
                    self._log(
                        "vip-remove",
                        f"Removing VIP {addr}/{plen} from {self.interface}",
                        address=f"{addr}/{plen}",
                    )
                    if not self.dry_run:
                        self._io("vip-remove", self.transport.remove_address, addr, plen)
                        self._added.discard(addr)
                self._write_state_file()
            elif isinstance(act, StateChanged):
                self._state_changed(act)
            elif isinstance(act, AdvertisementDiscarded):
                self._discarded(act)

    def _send_advert(self, act: SendAdvertisement) -> None:
        adv = act.advertisement
        if self.dry_run:
            # Only log the unusual ones: a periodic "would send" would flood the output.
            if adv.priority == 0 or self.sent_adverts == 0:
                self._log(
                    "advert",
                    f"Would send advert priority {adv.priority} (dry run)",
                    priority=adv.priority,
                )
            self.sent_adverts += 1
            return
        if adv.priority == 0:
            self._log("advert", "Sending priority-0 advert (releasing mastership)", priority=0)
        self._io("advert", self.transport.send_advertisement, adv)
        self.sent_adverts += 1

    def _io(self, what: str, fn: Callable[..., object], *args: Any) -> object:
        """Carry out one transport operation and return its result; a failure is logged (at
        most every 10 s per kind), never fatal: the state machine goes on, as keepalived's."""
        try:
            return fn(*args)
        except (OSError, netif.NetifError) as exc:
            now = self.clock()
            last = self._io_error_logged.get(what)
            if last is None or now - last >= self.discard_log_interval_s:
                self._io_error_logged[what] = now
                self._log("error", f"{what} failed: {exc}", operation=what)
            return None

    def _state_changed(self, act: StateChanged) -> None:
        cfg = self.router.config
        if act.cause is Cause.HIGHER_PRIORITY:
            self._log(
                "higher-prio",
                f"Received higher prio advert {act.peer_priority} from {act.peer}, "
                f"ours {cfg.priority}",
                peer=str(act.peer),
                peer_priority=act.peer_priority,
            )
        elif act.cause is Cause.EQUAL_PRIORITY_HIGHER_ADDRESS:
            self._log(
                "higher-prio",
                f"Received equal prio advert {act.peer_priority} from higher address {act.peer}",
                peer=str(act.peer),
                peer_priority=act.peer_priority,
            )
        text = {
            State.MASTER: "Entering MASTER STATE",
            State.BACKUP: "Entering BACKUP STATE",
            State.FAULT: "Entering FAULT STATE",
            State.INITIALIZE: "Stopped",
        }[act.new]
        if self.dry_run and act.new is State.MASTER:
            text += " (dry run: nothing sent, no address added)"
        self._log(
            "state",
            text,
            old=act.old.value,
            new=act.new.value,
            cause=str(act.cause),
            vrid=cfg.vrid,
            priority=cfg.priority,
        )
        if self.notify and act.new is not State.INITIALIZE:
            self._run_notify(act.new)

    def _discarded(self, act: AdvertisementDiscarded) -> None:
        if act.reason is DiscardReason.VRID_MISMATCH:
            return  # another group on the segment: counted by the router, not an error
        key = (act.reason, act.source)
        now = self.clock()
        last = self._discard_logged.get(key)
        if last is not None and now - last < self.discard_log_interval_s:
            return
        self._discard_logged[key] = now
        count = self.router.discards[act.reason]
        detail = f" ({act.detail})" if act.detail else ""
        self._log(
            "discard",
            f"Discarded advert from {act.source}: {act.reason}{detail} [{count} so far]",
            reason=str(act.reason),
            source=str(act.source),
            detail=act.detail,
            count=count,
        )

    def _run_notify(self, state: State) -> None:
        assert self.notify is not None
        cfg = self.router.config
        argv = [*shlex.split(self.notify), "INSTANCE", self.instance, state.value]
        argv.append(str(cfg.priority))
        try:
            self._children.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))
        except OSError as exc:
            self._log("notify-error", f"Cannot run notify command {argv[0]}: {exc}")

    def _reap(self, *, wait: bool) -> None:
        for child in list(self._children):
            if wait:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=5)
            if child.poll() is not None:
                self._children.remove(child)

    def _write_state_file(self) -> None:
        if self.state_file is None or self.dry_run:
            return
        addresses = sorted(self._added, key=lambda a: (a.version, int(a)))
        if not addresses:
            with contextlib.suppress(FileNotFoundError):
                self.state_file.unlink()
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "interface": self.interface,
            "pid": os.getpid(),
            "addresses": [[str(a), self.prefixes.get(a, a.max_prefixlen)] for a in addresses],
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.state_file)

    def _log(self, kind: str, message: str, **fields: Any) -> None:
        self.emit(
            {
                "time": time.time(),
                "event": kind,
                "instance": self.instance,
                "interface": self.interface,
                "message": f"({self.instance}) {message}",
                **fields,
            }
        )


def remove_stale_addresses(state_file: Path, transport: Transport, emit: EventSink) -> int:
    """Remove the VIPs a killed earlier run left behind (listed in its state file)."""
    try:
        data = json.loads(state_file.read_text())
    except FileNotFoundError:
        return 0
    except (OSError, ValueError):
        state_file.unlink(missing_ok=True)
        return 0
    removed = 0
    for text, plen in data.get("addresses", []):
        try:
            vip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if transport.remove_address(vip, int(plen)):
            removed += 1
            emit(
                {
                    "time": time.time(),
                    "event": "stale-vip-removed",
                    "address": f"{vip}/{plen}",
                    "message": f"Removed stale VIP {vip}/{plen} left by a previous run "
                    f"(pid {data.get('pid')})",
                }
            )
    state_file.unlink(missing_ok=True)
    return removed


# --- the real transport --------------------------------------------------------------------

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


# --- join: options, learning, setup ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinOptions:
    vrid: int
    priority: int
    interface: str | None = None
    vips: tuple[str, ...] = ()
    version: int | None = None
    advert_int_s: float | None = None
    auth_pass: str | None = None
    unicast_peers: tuple[str, ...] = ()
    preempt: bool = True
    preempt_delay_s: float = 0.0
    accept_mode: bool = False
    learn_timeout_s: float = 5.0
    dry_run: bool = False
    notify: str | None = None
    state_file: str | None = None
    garp_repeat: int = 5
    garp_delay_s: float = 5.0
    instance: str = "VI_1"


@dataclass(frozen=True, slots=True)
class Learnt:
    adv: VrrpPacket
    src: IPAddress


def learn_group(
    transport: Transport,
    vrid: int,
    timeout_s: float,
    *,
    family: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    stop: Callable[[], bool] = lambda: False,
) -> Learnt | None:
    """Wait for the current master's advertisement for ``vrid``; None after ``timeout_s``
    (or as soon as ``stop()`` is true)."""
    end = clock() + timeout_s
    while True:
        left = end - clock()
        if left <= 0 or stop():
            return None
        for item in transport.wait(left):
            if not isinstance(item, Received) or item.ttl != 255:
                continue
            if family is not None and item.src.version != family:
                continue
            try:
                adv = parse_vrrp(item.payload, src=item.src, dst=item.dst)
            except DecodeError:
                continue
            if adv.vrid != vrid or adv.checksum_status is ChecksumStatus.BAD or adv.priority == 0:
                continue
            if adv.findings():
                continue
            return Learnt(adv, item.src)


def _parse_ip(text: str, what: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        raise JoinError(f"{what}: {text!r} is not an IP address") from None


def build_config(
    opts: JoinOptions,
    iface: netif.Interface,
    learnt: Learnt | None,
) -> tuple[RouterConfig, dict[IPAddress, int]]:
    """Merge flags and what was learnt from the wire into a RouterConfig and VIP prefixes."""
    prefixes: dict[IPAddress, int] = {}
    vips: list[IPAddress] = []
    for text in opts.vips:
        vip = _parse_ip(text, "--vip")
        if "/" in text:
            try:
                prefixes[vip] = int(text.split("/", 1)[1])
            except ValueError:
                raise JoinError(f"--vip: bad prefix length in {text!r}") from None
        vips.append(vip)
    adv = learnt.adv if learnt else None
    if not vips:
        if adv is None:
            raise JoinError("no virtual address known")
        vips = list(adv.addresses)
    family = vips[0].version
    if any(v.version != family for v in vips):
        raise JoinError("--vip: one address family per group (run a second join for the other)")
    for vip in vips:
        prefixes.setdefault(vip, iface.prefix_for(vip))
    if opts.version is not None:
        version = opts.version
    elif adv is not None:
        version = adv.version
    else:
        version = 2 if family == 4 else 3  # keepalived's default for IPv4 is VRRPv2
    if version == 2 and family == 6:
        raise JoinError("VRRPv2 carries IPv4 only; use --version 3 for IPv6")
    if opts.advert_int_s is not None:
        interval_cs = round(opts.advert_int_s * 100)
    elif adv is not None and adv.version == version:
        interval_cs = adv.interval_cs
    else:
        interval_cs = 100
    auth: bytes | None = None
    if opts.auth_pass is not None:
        auth = opts.auth_pass.encode()
    elif isinstance(adv, VrrpV2) and version == 2:
        if adv.auth_type == AuthType.SIMPLE:
            auth = adv.password
        elif adv.auth_type != AuthType.NONE:
            raise JoinError(
                f"the master uses VRRPv2 auth type {adv.auth_type}; only simple password "
                "(PASS) authentication is supported"
            )
    primary = iface.primary(family, exclude=vips)
    if primary is None:
        kind = "IPv4" if family == 4 else "link-local IPv6"
        raise JoinError(f"interface {iface.name} has no {kind} address to send adverts from")
    if opts.priority == 255 and not any(iface.has_address(v) for v in vips):
        raise JoinError(
            "priority 255 means address owner: one of the virtual addresses must be an "
            f"address of {iface.name}"
        )
    try:
        config = RouterConfig(
            vrid=opts.vrid,
            priority=opts.priority,
            primary_address=primary,
            addresses=tuple(vips),
            version=version,
            advertisement_interval_cs=interval_cs,
            preempt_mode=opts.preempt,
            preempt_delay_s=opts.preempt_delay_s,
            accept_mode=opts.accept_mode or opts.priority == 255,
            auth_pass=auth,
            garp_repeat=opts.garp_repeat,
            garp_delay_s=opts.garp_delay_s,
        )
    except ValueError as exc:
        raise JoinError(str(exc)) from None
    return config, prefixes


def check_options(opts: JoinOptions) -> None:
    if not 1 <= opts.vrid <= 255:
        raise JoinError(f"invalid VRID {opts.vrid}: must be 1..255")
    if not 1 <= opts.priority <= 255:
        raise JoinError(f"invalid priority {opts.priority}: must be 1..255 (0 is reserved)")
    if opts.version not in (None, 2, 3):
        raise JoinError(f"invalid --version {opts.version}: must be 2 or 3")
    if opts.advert_int_s is not None and opts.advert_int_s <= 0:
        raise JoinError("--advert-int must be positive")
    if opts.preempt_delay_s < 0 or opts.garp_delay_s < 0 or opts.garp_repeat < 0:
        raise JoinError("--preempt-delay, --garp-delay and --garp-repeat cannot be negative")
    if opts.learn_timeout_s < 0:
        raise JoinError("--learn-timeout cannot be negative")


def default_state_file(iface: str, vrid: int, family: int) -> Path:
    """``/run/vrrpwatch/join-IFACE-vridN-ipvF-netns-INODE.json``: interface names repeat across
    network namespaces (every lab host has an eth0), so the namespace's inode is in the name."""
    name = f"join-{iface}-vrid{vrid}-ipv{family}"
    with contextlib.suppress(OSError):
        name += f"-netns-{os.stat('/proc/self/ns/net').st_ino}"
    return Path("/run/vrrpwatch") / f"{name}.json"


class _Stop:
    """SIGTERM/SIGINT before and while the runtime runs: a flag, and a wake-up of the loop."""

    def __init__(self, transport: RawTransport) -> None:
        self.requested = False
        self.transport = transport
        self.runtime: Runtime | None = None

    def __call__(self, *_: object) -> None:
        self.requested = True
        if self.runtime is not None:
            self.runtime.request_stop()
        else:
            self.transport.wake()


def join(
    opts: JoinOptions,
    emit: EventSink,
    *,
    before_start: Callable[[], None] | None = None,
) -> int:
    """Set up and run ``vrrpwatch join``; returns the exit status.

    ``before_start`` runs once the arguments, root and the interface are checked (the CLI opens
    its database there, so a bad invocation leaves no file behind).
    """
    check_options(opts)
    if not netif.is_root():
        raise JoinError("join needs root (raw sockets and address changes); run it with sudo")
    try:
        name = opts.interface or netif.default_interface()
        iface = netif.get_interface(name)
    except netif.NetifError as exc:
        raise JoinError(str(exc)) from None
    want_family: int | None = None
    if opts.vips:
        want_family = _parse_ip(opts.vips[0], "--vip").version
    peers = tuple(_parse_ip(p, "--unicast-peer") for p in opts.unicast_peers)
    if before_start is not None:
        before_start()
    families = (want_family,) if want_family else (4, 6)
    transport = RawTransport(iface, families=families, unicast_peers=peers)
    stop = _Stop(transport)
    old_handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_wakeup = signal.set_wakeup_fd(transport.wake_fd, warn_on_full_buffer=False)
    try:
        return _join(opts, emit, iface, transport, want_family, stop)
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        transport.close()


def _join(
    opts: JoinOptions,
    emit: EventSink,
    iface: netif.Interface,
    transport: RawTransport,
    want_family: int | None,
    stop: _Stop,
) -> int:
    if not transport.socks:
        raise JoinError(f"interface {iface.name} has no address to run VRRP from")
    emit(
        {
            "time": time.time(),
            "event": "listening",
            "message": f"Listening on {iface.name} for VRID {opts.vrid} adverts "
            f"(up to {opts.learn_timeout_s:g} s)",
        }
    )
    learnt = learn_group(
        transport,
        opts.vrid,
        opts.learn_timeout_s,
        family=want_family,
        stop=lambda: stop.requested,
    )
    if stop.requested:
        emit({"time": time.time(), "event": "stopped", "message": "Stopped before joining"})
        return 0
    if learnt is None and not opts.vips:
        raise JoinError(
            f"no advert for VRID {opts.vrid} seen on {iface.name} within "
            f"{opts.learn_timeout_s:g} s; pass --vip (and --version, --advert-int, "
            "--auth-pass as needed), --interface or --unicast-peer"
        )
    if learnt is not None:
        a = learnt.adv
        emit(
            {
                "time": time.time(),
                "event": "learnt",
                "master": str(learnt.src),
                "version": a.version,
                "vrid": a.vrid,
                "master_priority": a.priority,
                "interval_cs": a.interval_cs,
                "addresses": [str(x) for x in a.addresses],
                "message": f"Learnt VRID {a.vrid} from {learnt.src}: VRRPv{a.version}, "
                f"priority {a.priority}, interval {a.interval_cs / 100:g} s, VIPs "
                + ", ".join(str(x) for x in a.addresses)
                + (", simple password" if a.password is not None else ""),
            }
        )
    config, prefixes = build_config(opts, iface, learnt)
    transport.keep_family(config.family)
    for fam in (4, 6):
        if fam == config.family and netif.forwarding_enabled(iface.name, fam) is False:
            emit(
                {
                    "time": time.time(),
                    "event": "warning",
                    "message": f"Warning: IPv{fam} forwarding is off on {iface.name}: "
                    "as master this host would own the gateway address but not route",
                }
            )
    state_file = Path(opts.state_file or default_state_file(iface.name, config.vrid, config.family))
    if not opts.dry_run:
        remove_stale_addresses(state_file, transport, emit)
    router = VirtualRouter(config)
    if not iface.up:
        router.link_down(time.monotonic())
    runtime = Runtime(
        router=router,
        transport=transport,
        emit=emit,
        interface=iface.name,
        instance=opts.instance,
        prefixes=prefixes,
        dry_run=opts.dry_run,
        notify=opts.notify,
        state_file=state_file,
    )
    stop.runtime = runtime
    if stop.requested:
        runtime.request_stop()
    return runtime.run()
