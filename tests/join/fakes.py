"""Fakes and builders shared by the join loop and set-up tests: a clock and a transport that
deliver scripted packets at exact times (no sockets)."""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import Any

from dissectors.vrrp import AuthType, VrrpPacket, VrrpV2, build_vrrp
from vrrpwatch.join.transport import LinkChange, Received

A = ipaddress.ip_address
VIP = A("192.0.2.1")
ME = A("192.0.2.254")
MASTER = A("192.0.2.253")
GROUP = A("224.0.0.18")


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeTransport:
    """Delivers scripted packets at their times and records what the runtime does, with times."""

    def __init__(
        self,
        clock: FakeClock,
        script: list[tuple[float, Received | LinkChange]],
        *,
        batch: int | None = None,
        cost_s: float = 0.0,
    ):
        """``batch``: at most this many items per wait, as RawTransport reads (``backlog``
        says more are due); ``cost_s``: the clock moves on this much per item delivered, as
        if the loop took that long to process it."""
        self.clock = clock
        self.script = deque(sorted(script, key=lambda x: x[0]))
        self.log: list[tuple[float, str, Any]] = []
        self.addresses: set[Any] = set()
        self.batch = batch
        self.cost_s = cost_s
        self.backlog = False

    def wait(self, timeout: float | None) -> list[Received | LinkChange]:
        nxt = self.script[0][0] if self.script else None
        if timeout is None and nxt is None:
            raise AssertionError("the runtime would sleep forever")
        wake = self.clock.now + timeout if timeout is not None else float("inf")
        if nxt is not None and nxt <= wake:
            self.clock.now = max(self.clock.now, nxt)
            out = []
            while self.script and self.script[0][0] <= self.clock.now:
                if self.batch is not None and len(out) == self.batch:
                    break
                out.append(self.script.popleft()[1])
            self.backlog = bool(self.script) and self.script[0][0] <= self.clock.now
            self.clock.now += self.cost_s * len(out)
            return out
        self.clock.now = wake
        self.backlog = False
        return []

    def send_advertisement(self, adv: VrrpPacket) -> None:
        self.log.append((self.clock.now, "advert", adv))

    def send_gratuitous_arp(self, vip: ipaddress.IPv4Address) -> None:
        self.log.append((self.clock.now, "garp", vip))

    def send_neighbor_advertisement(self, vip: ipaddress.IPv6Address) -> None:
        self.log.append((self.clock.now, "na", vip))

    def add_address(self, vip: Any, prefixlen: int) -> bool:
        self.log.append((self.clock.now, "add", f"{vip}/{prefixlen}"))
        had = vip in self.addresses
        self.addresses.add(vip)
        return not had

    def remove_address(self, vip: Any, prefixlen: int) -> bool:
        self.log.append((self.clock.now, "remove", f"{vip}/{prefixlen}"))
        had = vip in self.addresses
        self.addresses.discard(vip)
        return had

    def wake(self) -> None:
        pass

    def close(self) -> None:
        pass

    def kinds(self, kind: str) -> list[tuple[float, Any]]:
        return [(t, x) for t, k, x in self.log if k == kind]


def v2_bytes(priority: int, password: bytes = b"s3cret", src: Any = MASTER) -> bytes:
    adv = VrrpV2(
        vrid=1,
        priority=priority,
        count_ip_addrs=1,
        auth_type=AuthType.SIMPLE,
        adver_int_s=1,
        addresses=(VIP,),
        auth_data=password.ljust(8, b"\x00"),
    )
    return build_vrrp(adv, src=src, dst=GROUP)


def rx(payload: bytes, src: Any = MASTER, ttl: int = 255) -> Received:
    return Received(payload, src, GROUP, ttl)
