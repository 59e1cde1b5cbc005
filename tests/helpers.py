"""Shared test builders and fakes. Test files import from here, never from one another.

- Paths: the repository, the bundled captures, the third-party public captures (tests/data/public,
  with their MANIFEST and licences, so a fresh clone needs nothing from outside).
- The monitor's frame builders (VRRP, CARP, HSRP, GARP) and ``Feed`` (a monitor fed frames at
  explicit times).
- The join side: ``FakeClock``, ``FakeTransport`` (scripted packets, recorded actions) and
  ``RouterPair``, two sans-IO routers on one wire, modelled on ``ConnectionPair`` in
  ``h11/tests/helpers.py``.
- The namespace lab's ``join`` process (``Join``), its lab fixture body and the classic pair.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dissectors.arp import build_arp, gratuitous_arp
from dissectors.frame import ETH_P_ARP, ETH_P_IP, build_ethernet
from dissectors.hsrp import (
    HSRP_PORT,
    HSRP_V1_GROUP,
    HSRP_V2_GROUP_V4,
    HSRP_V2_GROUP_V6,
    HSRP_V6_PORT,
    HsrpMessage,
    HsrpV2,
    build_hsrp,
)
from dissectors.ip import (
    IPPROTO_UDP,
    IPv4Header,
    IPv6Header,
    UdpHeader,
    build_ipv4,
    build_ipv6,
    build_udp,
)
from dissectors.packet import decode_packet
from dissectors.vrrp import (
    AuthType,
    CarpPacket,
    VrrpPacket,
    VrrpV2,
    VrrpV3,
    build_carp,
    build_vrrp,
)
from vrrpwatch.fingerprints import fingerprint
from vrrpwatch.join.router import (
    Action,
    IpHeader,
    RouterConfig,
    SendAdvertisement,
    State,
    VirtualRouter,
)
from vrrpwatch.join.transport import LinkChange, Received
from vrrpwatch.watch.monitor import Monitor, RouterKey

if TYPE_CHECKING:
    from tests.lab import Host, Lab

# -- paths -----------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
# Third-party captures (sources and licences: tests/data/public/MANIFEST.md).
PUBLIC_CAPTURES = ROOT / "tests" / "data" / "public"


def lab_unavailable(reason: str) -> None:
    """Skip, or fail under CI, because a lab prerequisite is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"lab prerequisite missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


# -- the monitor: frames and a feed ----------------------------------------------------------

V4 = ipaddress.IPv4Address
GROUP = V4("224.0.0.18")
MAC1 = bytes.fromhex("020000000001")
MAC2 = bytes.fromhex("020000000002")
MAC3 = bytes.fromhex("020000000003")
R1, R2, R3 = "192.0.2.253", "192.0.2.254", "192.0.2.66"
VIP = V4("192.0.2.1")
KEY = RouterKey((), 4, 1)


def advert(
    src: str,
    priority: int,
    *,
    mac: bytes = MAC1,
    version: int = 2,
    vrid: int = 1,
    vips: tuple[V4, ...] = (VIP,),
    password: bytes | None = None,
    interval: int = 1,
    ttl: int = 255,
    vlans: tuple[int, ...] = (),
) -> bytes:
    """An Ethernet frame holding a VRRP advertisement from ``src`` to 224.0.0.18."""
    adv: VrrpV2 | VrrpV3
    if version == 2:
        adv = VrrpV2(
            vrid=vrid,
            priority=priority,
            count_ip_addrs=len(vips),
            auth_type=1 if password is not None else 0,
            adver_int_s=interval,
            addresses=vips,
            auth_data=(password or b"").ljust(8, b"\0"),
        )
    else:
        adv = VrrpV3(
            vrid=vrid,
            priority=priority,
            count_ip_addrs=len(vips),
            max_adver_int_cs=interval * 100,
            addresses=vips,
        )
    body = build_vrrp(adv, src=V4(src), dst=GROUP)
    ip = build_ipv4(IPv4Header(src=V4(src), dst=GROUP, protocol=112, ttl=ttl), body)
    return build_ethernet(bytes.fromhex("01005e000012"), mac, ETH_P_IP, ip, vlans)


def carp_advert(
    src: str,
    advskew: int,
    *,
    advbase: int = 1,
    vhid: int = 7,
    demotion: int = 0,
    ttl: int = 255,
    mac: bytes = bytes.fromhex("00005e000107"),
) -> bytes:
    """An Ethernet frame holding a CARP advertisement from ``src`` to 224.0.0.18."""
    body = build_carp(CarpPacket(vhid=vhid, advskew=advskew, advbase_s=advbase, demotion=demotion))
    ip = build_ipv4(IPv4Header(src=V4(src), dst=GROUP, protocol=112, ttl=ttl), body)
    return build_ethernet(bytes.fromhex("01005e000012"), mac, ETH_P_IP, ip)


def garp(mac: bytes, ip: V4 = VIP) -> bytes:
    """A broadcast gratuitous ARP for ``ip`` from ``mac``."""
    return build_ethernet(b"\xff" * 6, mac, ETH_P_ARP, build_arp(gratuitous_arp(mac, ip)))


class Feed:
    """A monitor fed frames at explicit times; frame numbers count up from 1."""

    def __init__(self, **kw: object) -> None:
        self.m = Monitor(fingerprint=lambda pw: fingerprint(pw, b"k"), **kw)  # type: ignore[arg-type]
        self.frame = 0

    def __call__(self, t: float, data: bytes) -> list[object]:
        self.frame += 1
        d = decode_packet(data, 1)
        assert d is not None
        return list(self.m.observe(self.frame, t, d))

    def every(self, start: float, stop: float, step: float, data: bytes) -> None:
        t = start
        while t < stop:
            self(t, data)
            t += step

    def kinds(self) -> list[str]:
        return [a.kind for a in self.m.alerts]

    def timeline(self) -> list[tuple[str | None, str, str]]:
        return [(t.old, t.new, t.cause) for t in self.m.routers[KEY].transitions]


def summary_of(monitor: Monitor) -> dict[str, Any]:
    """What the store keeps of ``monitor`` and the summary shows (analyze --json), passwords
    included when the monitor kept them; without the wall-clock time the run started."""
    import sqlite_utils

    from vrrpwatch.store.recorder import Store
    from vrrpwatch.store.schema import ensure_schema
    from vrrpwatch.store.summary import summarize

    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    store = Store(db)
    run = store.begin_run(kind="analyze", source="test")
    store.flush(monitor)
    doc = summarize(db, run)
    del doc["run"]["started"]
    return doc


# -- a classic BPF interpreter for the opcodes the filter uses (<linux/filter.h>) -------------


def run_bpf(program: Sequence[tuple[int, int, int, int]], frame: bytes) -> int:
    """Run sniff's kernel filter (code, jt, jf, k) over ``frame``: what it returns."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x01:  # ldx #k
            x = k
        elif code in (0x28, 0x50, 0x48):  # ldh [k], ldb [x + k], ldh [x + k]
            off, size = {0x28: (k, 2), 0x50: (x + k, 1), 0x48: (x + k, 2)}[code]
            if off + size > len(frame):
                return 0  # the kernel ends the program, dropping the packet
            a = int.from_bytes(frame[off : off + size], "big")
        elif code == 0x54:  # and #k
            a &= k
        elif code == 0x64:  # lsh #k
            a = (a << k) & 0xFFFFFFFF
        elif code == 0x0C:  # add x
            a = (a + x) & 0xFFFFFFFF
        elif code == 0x07:  # tax
            x = a
        elif code == 0x15:  # jeq #k
            pc += jt if a == k else jf
        elif code == 0x25:  # jgt #k
            pc += jt if a > k else jf
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def kernel_view(frame: bytes) -> bytes:
    """What a packet socket's filter sees: the receive path moves the outer tag to metadata."""
    if frame[12:14] in (b"\x81\x00", b"\x88\xa8"):
        return frame[:12] + frame[16:]
    return frame


# -- HSRP frames ------------------------------------------------------------------------------

HSRP_SRC = ipaddress.IPv4Address("192.0.2.2")


def hsrp_ip(
    msg: HsrpMessage,
    *,
    src: ipaddress.IPv4Address | ipaddress.IPv6Address = HSRP_SRC,
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None,
    ttl: int = 1,
    src_port: int | None = None,
    dst_port: int | None = None,
) -> bytes:
    """An HSRP message in UDP in IPv4 or IPv6 (``src``'s family), by default to its group and
    port (RFC 2281 section 5.1: 1985 to 224.0.0.2 for v1; 224.0.0.102 / ff02::66:2029 for v2)."""
    v6 = src.version == 6
    if dst is None:
        if v6:
            dst = HSRP_V2_GROUP_V6
        else:
            dst = HSRP_V2_GROUP_V4 if isinstance(msg, HsrpV2) else HSRP_V1_GROUP
    port = HSRP_V6_PORT if v6 else HSRP_PORT
    udp = UdpHeader(src_port=src_port or port, dst_port=dst_port or port)
    datagram = build_udp(udp, build_hsrp(msg), src=src, dst=dst)
    if isinstance(src, ipaddress.IPv6Address):
        assert isinstance(dst, ipaddress.IPv6Address)
        header6 = IPv6Header(src=src, dst=dst, next_header=IPPROTO_UDP, hop_limit=ttl)
        return build_ipv6(header6, datagram)
    assert isinstance(dst, ipaddress.IPv4Address)
    return build_ipv4(IPv4Header(src=src, dst=dst, protocol=IPPROTO_UDP, ttl=ttl), datagram)


def hsrp_frame(
    msg: HsrpMessage,
    *,
    src_mac: bytes = bytes.fromhex("00000c07ac01"),
    vlans: tuple[int, ...] = (),
    **ip: Any,
) -> bytes:
    """``hsrp_ip`` in Ethernet II (802.1Q tags ``vlans``), to the group's multicast MAC."""
    packet = hsrp_ip(msg, **ip)
    if packet[0] >> 4 == 6:
        return build_ethernet(bytes.fromhex("333300000066"), src_mac, 0x86DD, packet, vlans)
    group = packet[16:20]
    dst_mac = bytes.fromhex("01005e") + bytes((group[1] & 0x7F, group[2], group[3]))
    return build_ethernet(dst_mac, src_mac, ETH_P_IP, packet, vlans)


# -- join: a clock, a transport, a pair of routers --------------------------------------------


class FakeClock:
    """Monotonic seconds the test sets (``clock.now = ...``). With ``tick``, each reading
    first advances the clock by ``tick`` (for loops that poll the clock to make progress)."""

    def __init__(self, now: float = 0.0, *, tick: float = 0.0) -> None:
        self.now = now
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
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
        self.ah_sequences: list[int] = []  # the AH sequence number of each advert sent

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

    def send_advertisement(self, adv: VrrpPacket, ah_sequence: int | None = None) -> None:
        self.log.append((self.clock.now, "advert", adv))
        if ah_sequence is not None:
            self.ah_sequences.append(ah_sequence)

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


# The join loop's wire: us (ME) backing up MASTER on VRID 1.
ME = V4("192.0.2.254")
MASTER = V4("192.0.2.253")


def v2_bytes(priority: int, password: bytes = b"s3cret", src: Any = MASTER) -> bytes:
    """A VRRPv2 advert for VRID 1 with a simple password, as the master sends it."""
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
    """What the transport hands the loop for ``payload``."""
    return Received(payload, src, GROUP, ttl)


def _ip_header(src: ipaddress.IPv4Address | ipaddress.IPv6Address) -> IpHeader:
    group = GROUP if src.version == 4 else ipaddress.IPv6Address("ff02::12")
    return IpHeader(src=src, dst=group, ttl=255)


class RouterPair:
    """Two routers on one wire: each one's advertisements are delivered to the other.

    ``link[i]`` is router i's cable: a router whose cable is out neither sends nor hears.
    ``log`` holds every action with its time and the index of the router that returned it.
    """

    def __init__(self, a: RouterConfig, b: RouterConfig) -> None:
        self.routers = [VirtualRouter(a), VirtualRouter(b)]
        self.log: list[tuple[float, int, Action]] = []
        self.now = 0.0
        self.link = [True, True]

    def _deliver(self, sender: int, actions: list[Action]) -> None:
        for act in actions:
            self.log.append((self.now, sender, act))
        for act in actions:
            if isinstance(act, SendAdvertisement) and self.link[sender]:
                other = 1 - sender
                src = self.routers[sender].config.primary_address
                if self.link[other]:
                    out = self.routers[other].receive_advertisement(
                        act.advertisement, ip=_ip_header(src), now=self.now
                    )
                    self._deliver(other, out)

    def start(self, at: float = 0.0) -> None:
        self.now = at
        for i, r in enumerate(self.routers):
            self._deliver(i, r.start(at))

    def run_until(self, end: float) -> None:
        while True:
            timers = [(r.get_timer(), i) for i, r in enumerate(self.routers)]
            due = [(t, i) for t, i in timers if t is not None and t <= end]
            if not due:
                self.now = end
                return
            t, i = min(due)
            self.now = t
            self._deliver(i, self.routers[i].handle_timer(t))

    def states(self) -> tuple[State, State]:
        return (self.routers[0].state, self.routers[1].state)


# -- the namespace lab: a join process -------------------------------------------------------

VRRPWATCH = str(Path(sys.executable).parent / "vrrpwatch")


def make_lab(tmp_path: Path, frr: bool = False, prefix: str = "vwb") -> Iterator[Lab]:
    """The body of a lab fixture (``yield from make_lab(tmp_path)``): torn down in all cases.
    ``prefix`` (three letters) names the run's namespaces, with four random hex digits."""
    from tests.lab import Lab, missing_prerequisites

    missing = missing_prerequisites(frr=frr)
    if missing:
        lab_unavailable("; ".join(missing))
    # The lab makes its own world-readable work directory: FRR runs as user frr.
    lab = Lab(prefix=f"{prefix}{secrets.token_hex(2)}")
    try:
        yield lab
    finally:
        lab.close()


def classic(lab: Lab) -> tuple[Host, Host, Host]:
    """The classic picture: r1 and r2 on one segment, and a monitor host."""
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4="192.0.2.253/24")
    r2 = lab.host("r2", lan, addr4="192.0.2.254/24")
    mon = lab.host("mon", lan, addr4="192.0.2.10/24")
    return r1, r2, mon


class Join:
    """A ``vrrpwatch join --json`` process on a lab host, with its events."""

    def __init__(self, host: Host, *args: str, state_file: Path | None = None) -> None:
        self.host = host
        n = len(list(host.workdir.glob("join*.log")))
        self.log_path = host.workdir / f"join{n}.log"
        self.state_file = state_file or host.workdir / "join-state.json"
        argv = [VRRPWATCH, "join", "--json", "--state-file", str(self.state_file)]
        if "--db" not in args:
            argv += ["--db", str(host.workdir / "join.db")]
        argv += args
        self.proc = host.popen(argv, log=self.log_path)

    def events(self) -> list[dict[str, Any]]:
        out = []
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for e in self.events():
                if pred(e):
                    return e
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"join: event not seen in {timeout} s:\n{self.text()[-3000:]}")

    def wait_state(self, state: str, timeout: float = 10.0, after: int = 0) -> Any:
        return self.wait_for(
            lambda e: (
                e["event"] == "state" and e["new"] == state and self.events().index(e) >= after
            ),
            timeout,
        )

    def states(self) -> list[str]:
        return [e["new"] for e in self.events() if e["event"] == "state"]

    def signal(self, sig: int) -> int:
        self.proc.send_signal(sig)
        rc: int = self.proc.wait(10)
        return rc
