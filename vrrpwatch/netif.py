"""Interface facts and virtual addresses through netlink (pyroute2), and link-state events.

Everything here acts on the network namespace the process runs in.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dissectors.common import IPAddress
from vrrpwatch.errors import VrrpwatchError

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40  # RFC 2863 operational "up": carrier present (lower layer up)
IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
RTMGRP_LINK = 0x1
RTM_NEWLINK = 16
RTM_DELLINK = 17
_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")


class NetifError(VrrpwatchError):
    """An interface or address operation failed; the message is meant for the operator."""


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    index: int
    mac: bytes
    up: bool
    # (address, prefix length) of every address on the interface.
    addresses: tuple[tuple[IPAddress, int], ...]

    def primary(self, family: int, exclude: Iterable[IPAddress] = ()) -> IPAddress | None:
        """The address a VRRP router sources adverts from: IPv4 the first address, IPv6 the
        link-local one (RFC 5798 section 5.1.2.2). Addresses in ``exclude`` (the VIPs, which a
        killed run may have left behind) are taken only when there is nothing else, as for an
        address owner whose one address is the VIP."""
        skip = set(exclude)
        found = [
            addr
            for addr, _plen in self.addresses
            if addr.version == family and (family == 4 or addr.is_link_local)
        ]
        for addr in found:
            if addr not in skip:
                return addr
        return found[0] if found else None

    def prefix_for(self, vip: IPAddress) -> int:
        """The prefix of the interface subnet holding ``vip``, else a host prefix."""
        for addr, plen in self.addresses:
            if addr.version == vip.version and addr != vip:
                net = ipaddress.ip_interface(f"{addr}/{plen}").network
                if vip in net and plen < addr.max_prefixlen:
                    return plen
        return vip.max_prefixlen

    def has_address(self, ip: IPAddress) -> bool:
        return any(a == ip for a, _ in self.addresses)


def _ipr() -> Any:
    from pyroute2 import IPRoute

    return IPRoute()


def get_interface(name: str) -> Interface:
    with _ipr() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise NetifError(f"no interface named {name!r}")
        index = found[0]
        link = ipr.get_links(index)[0]
        addrs = []
        for msg in ipr.get_addr(index=index):
            addrs.append((ipaddress.ip_address(msg.get("IFA_ADDRESS")), int(msg["prefixlen"])))
    mac_text = link.get("IFLA_ADDRESS") or "00:00:00:00:00:00"
    flags = int(link["flags"])
    return Interface(
        name=name,
        index=index,
        mac=bytes.fromhex(mac_text.replace(":", "")),
        up=bool(flags & IFF_UP) and bool(flags & IFF_RUNNING),
        addresses=tuple(addrs),
    )


def default_interface() -> str:
    """The interface of the IPv4 (else IPv6) default route, else the only non-loopback one."""
    with _ipr() as ipr:
        names = {int(link["index"]): link.get("IFLA_IFNAME") for link in ipr.get_links()}
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in ipr.get_routes(family=family):
                if route["dst_len"] == 0 and route.get("RTA_OIF") in names:
                    return str(names[route.get("RTA_OIF")])
        candidates = [
            str(link.get("IFLA_IFNAME"))
            for link in ipr.get_links()
            if not int(link["flags"]) & IFF_LOOPBACK
        ]
    if len(candidates) == 1:
        return candidates[0]
    raise NetifError(
        "no default route and "
        + ("no" if not candidates else f"{len(candidates)}")
        + " non-loopback interfaces; pass --interface"
    )


def broadcast_for(vip: IPAddress, prefixlen: int) -> str | None:
    if vip.version != 4 or prefixlen >= 31:
        return None
    return str(ipaddress.ip_interface(f"{vip}/{prefixlen}").network.broadcast_address)


class Netlink:
    """One open rtnetlink socket (pyroute2 ``IPRoute``) for the address changes of a run, so a
    takeover does not pay for an import and a socket setup."""

    def __init__(self) -> None:
        self._ipr = _ipr()

    def add_address(self, index: int, vip: IPAddress, prefixlen: int) -> bool:
        return add_address(index, vip, prefixlen, ipr=self._ipr)

    def remove_address(self, index: int, vip: IPAddress, prefixlen: int) -> bool:
        return remove_address(index, vip, prefixlen, ipr=self._ipr)

    def close(self) -> None:
        self._ipr.close()


def add_address(index: int, vip: IPAddress, prefixlen: int, *, ipr: Any = None) -> bool:
    """Add a virtual address as keepalived does: with its subnet's prefix and broadcast (the
    kernel makes it secondary when the primary shares the subnet); IPv6 without DAD.
    False when the interface already had it."""
    kw: dict[str, Any] = {"index": index, "address": str(vip), "prefixlen": prefixlen}
    if vip.version == 4:
        brd = broadcast_for(vip, prefixlen)
        if brd:
            kw["broadcast"] = brd
    else:
        kw["flags"] = IFA_F_NODAD
    try:
        if ipr is not None:
            ipr.addr("add", **kw)
        else:
            with _ipr() as own:
                own.addr("add", **kw)
    except Exception as exc:  # NetlinkError
        if getattr(exc, "code", None) == 17:  # EEXIST
            return False
        raise NetifError(f"cannot add {vip}/{prefixlen}: {exc}") from exc
    return True


def remove_address(index: int, vip: IPAddress, prefixlen: int, *, ipr: Any = None) -> bool:
    """Remove a virtual address; False when it was not there."""
    kw: dict[str, Any] = {"index": index, "address": str(vip), "prefixlen": prefixlen}
    try:
        if ipr is not None:
            ipr.addr("del", **kw)
        else:
            with _ipr() as own:
                own.addr("del", **kw)
    except Exception as exc:
        if getattr(exc, "code", None) in (99, 19, 2):  # EADDRNOTAVAIL, ENODEV, ENOENT
            return False
        raise NetifError(f"cannot remove {vip}/{prefixlen}: {exc}") from exc
    return True


def forwarding_enabled(name: str, family: int) -> bool | None:
    """IPv4/IPv6 forwarding on ``name`` (None when the sysctl cannot be read)."""
    base = "/proc/sys/net/ipv4/conf" if family == 4 else "/proc/sys/net/ipv6/conf"
    try:
        return Path(base, name, "forwarding").read_text().strip() != "0"
    except OSError:
        return None


class LinkWatcher:
    """A netlink socket subscribed to link changes; ``read()`` returns our link's new state."""

    def __init__(self, index: int, up: bool = True) -> None:
        self.index = index
        self.up = up
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, 0)
        self.sock.bind((0, RTMGRP_LINK))

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> bool | None:
        """Drain pending messages; our link's new up/down state, or None if it did not change."""
        state = self.up
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                if state == self.up:
                    return None
                self.up = state
                return state
            off = 0
            while off + _NLMSGHDR.size <= len(data):
                length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, off)
                if length < _NLMSGHDR.size:
                    break
                body = off + _NLMSGHDR.size
                if mtype in (RTM_NEWLINK, RTM_DELLINK) and body + _IFINFOMSG.size <= len(data):
                    _fam, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, body)
                    if index == self.index:
                        state = (
                            mtype == RTM_NEWLINK
                            and bool(flags & IFF_UP)
                            and bool(flags & IFF_RUNNING)
                        )
                off += (length + 3) & ~3

    def close(self) -> None:
        self.sock.close()


CAP_NET_ADMIN, CAP_NET_RAW = 12, 13  # <linux/capability.h>


def is_root() -> bool:
    """Root, or an unprivileged user holding what join needs, CAP_NET_RAW and CAP_NET_ADMIN
    (a systemd unit's AmbientCapabilities, setpriv --ambient-caps)."""
    if os.geteuid() == 0:
        return True
    need = (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16) & need == need
    except (OSError, ValueError):
        pass
    return False
