"""join's transport: the link watcher it reads link changes from, the kernel filter on its raw
sockets and its bounded reads (no sockets but a pair)."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from typing import Any

import pytest

from dissectors.ip import IPv4Header, IPv6Header, build_ipv4, build_ipv6
from dissectors.vrrp import VrrpPacket, VrrpV2, VrrpV3, build_vrrp
from vrrpwatch import netif
from vrrpwatch.join.bpf import Insn, vrrp_filter
from vrrpwatch.join.transport import BATCH, RawTransport, Received


def _newlink(index: int, flags: int, mtype: int = netif.RTM_NEWLINK) -> bytes:
    # struct nlmsghdr + struct ifinfomsg (rtnetlink(7)), host byte order.
    body = struct.pack("=BxHiII", 0, 1, index, flags, 0xFFFFFFFF)
    return struct.pack("=IHHII", 16 + len(body), mtype, 0, 0, 0) + body


def test_link_watcher_reports_changes_of_our_link_only() -> None:
    import socket

    watcher = netif.LinkWatcher(7, up=True)
    watcher.sock.close()
    feed, watcher.sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    watcher.sock.setblocking(False)
    up = netif.IFF_UP | netif.IFF_RUNNING
    assert watcher.read() is None
    feed.send(_newlink(7, up) + _newlink(8, 0))  # still up; another link went down
    assert watcher.read() is None
    feed.send(_newlink(7, netif.IFF_UP))  # carrier lost
    assert watcher.read() is False
    feed.send(_newlink(7, netif.IFF_UP))
    assert watcher.read() is None
    feed.send(_newlink(7, up))
    feed.send(_newlink(7, 0, netif.RTM_DELLINK))
    assert watcher.read() is None  # the latest message wins: down, as before
    feed.send(_newlink(7, up))
    assert watcher.read() is True
    feed.send(_newlink(7, up))
    feed.send(_newlink(7, 0, netif.RTM_DELLINK))
    assert watcher.read() is False
    watcher.close()
    feed.close()


# -- the kernel filter, run by a small classic-BPF interpreter (join's own copy) --------------


_NET_OFF = (1 << 32) - 0x100000


def run_bpf(program: Sequence[Insn], packet: bytes, net: bytes = b"") -> int:
    """The opcodes ``vrrp_filter`` uses (<linux/filter.h>); a load past the end ends the
    program with 0 (drop), as the kernel does. ``net``: the network header, for loads at
    SKF_NET_OFF (an IPv6 raw socket's filter sees the payload only)."""
    a = x = pc = 0
    mem = [0] * 16

    def load(k: int, size: int, base: int = 0) -> int | None:
        buf, off = (net, k - _NET_OFF) if k >= _NET_OFF else (packet, base + k)
        if off + size > len(buf):
            return None
        return int.from_bytes(buf[off : off + size], "big")

    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x01:  # ldx #k
            x = k
        elif code == 0xB1:  # ldxb 4*([k]&0xf)
            v = load(k, 1)
            if v is None:
                return 0
            x = 4 * (v & 0x0F)
        elif code in (0x50, 0x30, 0x28):  # ldb [x + k], ldb [k], ldh [k]
            v = load(k, 2 if code == 0x28 else 1, x if code == 0x50 else 0)
            if v is None:
                return 0
            a = v
        elif code == 0x80:  # ld len
            a = len(packet)
        elif code == 0x0C:  # add x
            a = (a + x) & 0xFFFFFFFF
        elif code == 0x04:  # add #k
            a = (a + k) & 0xFFFFFFFF
        elif code == 0x54:  # and #k
            a &= k
        elif code == 0x74:  # rsh #k
            a >>= k
        elif code == 0x07:  # tax
            x = a
        elif code == 0x87:  # txa
            a = x
        elif code == 0x02:  # st M[k]
            mem[k] = a
        elif code == 0x61:  # ldx M[k]
            x = mem[k]
        elif code == 0x15:  # jeq #k
            pc += jt if a == k else jf
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def _v4_packet(payload: bytes, options: bytes = b"") -> bytes:
    """What a raw IPv4 socket's filter sees: the IP header (IHL counts the options), then VRRP."""
    src, dst = ipaddress.IPv4Address("192.0.2.253"), ipaddress.IPv4Address("224.0.0.18")
    hdr = IPv4Header(src=src, dst=dst, protocol=112, ttl=255)
    packet = bytearray(build_ipv4(hdr, payload))
    if options:
        packet = packet[:20] + bytearray(options) + packet[20:]
        packet[0] = 0x40 | (20 + len(options)) // 4
    return bytes(packet)


def _advert(version: int, vrid: int, family: int = 4) -> bytes:
    if version == 2:
        adv: VrrpPacket = VrrpV2(
            vrid=vrid,
            priority=100,
            count_ip_addrs=1,
            addresses=(ipaddress.ip_address("192.0.2.1"),),
        )
        return build_vrrp(
            adv, src=ipaddress.ip_address("192.0.2.253"), dst=ipaddress.ip_address("224.0.0.18")
        )
    vip = ipaddress.ip_address("192.0.2.1" if family == 4 else "2001:db8::1")
    adv = VrrpV3(vrid=vrid, priority=100, count_ip_addrs=1, addresses=(vip,), family=family)
    src = ipaddress.ip_address("192.0.2.253" if family == 4 else "fe80::2")
    dst = ipaddress.ip_address("224.0.0.18" if family == 4 else "ff02::12")
    return build_vrrp(adv, src=src, dst=dst)


def test_the_kernel_filter_passes_only_our_vrid_and_version() -> None:
    for version in (2, 3):
        prog4 = vrrp_filter(4, 7, version)
        for vrid in (1, 6, 7, 8, 255):
            for ver in (2, 3):
                want = 0xFFFF if (vrid, ver) == (7, version) else 0
                payload = _advert(ver, vrid)
                assert run_bpf(prog4, _v4_packet(payload)) == want, (version, vrid, ver)
                # IP options move VRRP on: the filter follows the IHL.
                assert run_bpf(prog4, _v4_packet(payload, options=b"\x01" * 4)) == want
    prog6 = vrrp_filter(6, 7, 3)
    for vrid, want in ((7, 0xFFFF), (8, 0)):
        assert run_bpf(prog6, _advert(3, vrid, family=6)) == want  # IPv6: the payload only
    # While the group is learnt: either version, still our VRID only.
    learn = vrrp_filter(4, 7)
    assert run_bpf(learn, _v4_packet(_advert(2, 7))) == 0xFFFF
    assert run_bpf(learn, _v4_packet(_advert(3, 7))) == 0xFFFF
    assert run_bpf(learn, _v4_packet(_advert(3, 9))) == 0
    # Not an advert (type 2), another version (1), too short: dropped, no crash.
    for first in (0x22, 0x32, 0x11):
        assert run_bpf(learn, _v4_packet(bytes([first, 7]) + bytes(14))) == 0
    assert run_bpf(learn, _v4_packet(b"")) == 0
    assert run_bpf(learn, _v4_packet(b"\x31")) == 0
    assert run_bpf(vrrp_filter(6, 7), b"\x31") == 0
    with pytest.raises(ValueError):
        vrrp_filter(4, 0)


class _EndlessSocket:
    """A socket under a flood that never ends: recvmsg never runs dry."""

    def __init__(self, packet: bytes) -> None:
        self.packet = packet
        self.reads = 0

    def recvmsg(self, *_: object) -> tuple[bytes, list[Any], int, Any]:
        self.reads += 1
        return self.packet, [], 0, None


def test_a_flood_that_never_ends_still_hands_back_a_batch() -> None:
    """The red team's starvation: the reader drained the socket until EAGAIN, which a flood
    never gives, so the loop never got back to its timers. Now: BATCH packets, and
    ``backlog`` says more are queued."""
    transport = object.__new__(RawTransport)
    transport.src = {4: ipaddress.ip_address("192.0.2.254")}
    transport._backlog = False
    sock = _EndlessSocket(_v4_packet(_advert(2, 1)))
    got = transport._recv4(sock, 0.0)  # type: ignore[arg-type]
    assert len(got) == BATCH and sock.reads == BATCH and transport.backlog


def _corrupt(payload: bytes, at: int = 6) -> bytes:
    bad = bytearray(payload)
    bad[at] ^= 0x01
    return bytes(bad)


def _ipv6_header(payload: bytes) -> bytes:
    src, dst = ipaddress.IPv6Address("fe80::2"), ipaddress.IPv6Address("ff02::12")
    return build_ipv6(IPv6Header(src=src, dst=dst, next_header=112, hop_limit=255), payload)[:40]


@pytest.mark.parametrize("count", [1, 3, 90])
def test_the_kernel_filter_drops_bad_checksums_of_our_length(count: int) -> None:
    """With our advert's length: good checksums pass, a flipped bit anywhere is dropped in the
    kernel, other lengths pass on to the router (which logs them). VRRPv2, VRRPv3 over IPv4
    (with the pseudo-header, or the RFC 9568 variant without) and over IPv6."""
    g4, g6 = ipaddress.ip_address("224.0.0.18"), ipaddress.ip_address("ff02::12")
    s4, s6 = ipaddress.ip_address("192.0.2.253"), ipaddress.ip_address("fe80::2")
    v4 = tuple(ipaddress.ip_address(f"198.51.100.{i + 1}") for i in range(count))
    v6 = tuple(ipaddress.ip_address(f"2001:db8::{i + 1:x}") for i in range(count))
    ok, drop = 0xFFFF, 0
    two = build_vrrp(
        VrrpV2(vrid=7, priority=100, count_ip_addrs=count, addresses=v4), src=s4, dst=g4
    )
    prog = vrrp_filter(4, 7, 2, length=len(two))
    assert len(two) == 16 + 4 * count and len(prog) <= 4096  # BPF_MAXINSNS
    assert run_bpf(prog, _v4_packet(two)) == ok
    for at in (2, 6, 7, len(two) - 1):
        assert run_bpf(prog, _v4_packet(_corrupt(two, at))) == drop, at
    assert run_bpf(prog, _v4_packet(_corrupt(two) + bytes(4))) == ok  # another length
    assert run_bpf(prog, _v4_packet(_corrupt(two), options=bytes(4))) == ok  # IP options
    three = VrrpV3(vrid=7, priority=100, count_ip_addrs=count, addresses=v4)
    with_pseudo = build_vrrp(three, src=s4, dst=g4)
    without = build_vrrp(three, src=s4, dst=g4, pseudo_header=False)
    prog = vrrp_filter(4, 7, 3, length=len(with_pseudo))
    assert run_bpf(prog, _v4_packet(with_pseudo)) == ok
    assert run_bpf(prog, _v4_packet(without)) == ok
    assert run_bpf(prog, _v4_packet(_corrupt(with_pseudo))) == drop
    assert run_bpf(prog, _v4_packet(_corrupt(without, 9))) == drop
    six = build_vrrp(
        VrrpV3(vrid=7, priority=100, count_ip_addrs=count, addresses=v6, family=6), src=s6, dst=g6
    )
    prog = vrrp_filter(6, 7, 3, length=len(six))
    assert run_bpf(prog, six, net=_ipv6_header(six)) == ok
    assert run_bpf(prog, _corrupt(six), net=_ipv6_header(six)) == drop
    other_src = _ipv6_header(six).replace(s6.packed, ipaddress.ip_address("fe80::3").packed)
    assert run_bpf(prog, six, net=other_src) == drop  # the pseudo-header is summed
    assert run_bpf(prog, _corrupt(six) + bytes(16), net=_ipv6_header(six)) == ok
    assert run_bpf(prog, _advert(3, 8, family=6), net=_ipv6_header(six)) == drop  # VRID 8


def test_select_until_zero_polls_what_is_ready() -> None:
    """The loop's backlog turn waits 0 s: it must still read what is queued (it used to return
    nothing at once), and a TransportMux polls each ready transport the same way."""
    import selectors
    import socket

    from vrrpwatch.join.transport import select_until

    a, b = socket.socketpair()
    with a, b, selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ, "a")
        assert select_until(sel, 0.0) == []
        b.send(b"x")
        assert [key.data for key, _ in select_until(sel, 0.0)] == ["a"]
        assert [key.data for key, _ in select_until(sel, 1.0)] == ["a"]


# -- keepalived's AH (IP protocol 51): the filter looks past the AH header ---------------------


def _ah_packet(payload: bytes, *, seq: int = 1, key: bytes = b"k3y") -> bytes:
    from dissectors.ah import seal_ipv4

    src, dst = ipaddress.IPv4Address("192.0.2.253"), ipaddress.IPv4Address("224.0.0.18")
    hdr = IPv4Header(src=src, dst=dst, protocol=112, ttl=255, identification=1)
    return seal_ipv4(hdr, payload, key=key, sequence=seq)


def test_the_ah_kernel_filter_finds_vrrp_after_the_ah_header() -> None:
    ok, drop = 0xFFFF, 0
    learn = vrrp_filter(4, 7, ah=True)
    assert run_bpf(learn, _ah_packet(_advert(2, 7))) == ok
    assert run_bpf(learn, _ah_packet(_advert(2, 8))) == drop
    # Without ``ah`` the AH header's first bytes are read as VRRP: nothing passes.
    assert run_bpf(vrrp_filter(4, 7), _ah_packet(_advert(2, 7))) == drop
    two = _advert(2, 7)
    prog = vrrp_filter(4, 7, 2, length=len(two), ah=True)
    assert run_bpf(prog, _ah_packet(two)) == ok
    for at in (2, 6, len(two) - 1):
        assert run_bpf(prog, _ah_packet(_corrupt(two, at))) == drop, at
    assert run_bpf(prog, _ah_packet(_corrupt(two) + bytes(4))) == ok  # another length
    with pytest.raises(ValueError, match="IPv4"):
        vrrp_filter(6, 7, ah=True)


class _OneShotSocket:
    def __init__(self, *packets: bytes) -> None:
        self.packets = list(packets)

    def recvmsg(self, *_: object) -> tuple[bytes, list[Any], int, Any]:
        if not self.packets:
            raise BlockingIOError
        return self.packets.pop(0), [], 0, None


def test_an_ah_advert_is_handed_on_with_its_raw_parts() -> None:
    """The router verifies (it holds the sequence counter): the transport hands it the VRRP
    message as the payload and the raw header parts; AH around another protocol is dropped."""
    from dissectors.ah import split_ah

    transport = object.__new__(RawTransport)
    transport.src = {4: ipaddress.ip_address("192.0.2.254")}
    transport._backlog = False
    good = _ah_packet(_advert(2, 7), seq=9)
    other = bytearray(_ah_packet(_advert(2, 7)))
    other[20] = 17  # AH next header: UDP
    got = transport._recv4(_OneShotSocket(good, bytes(other)), 0.0)  # type: ignore[arg-type]
    assert len(got) == 1
    (item,) = got
    assert isinstance(item, Received)
    assert item.payload == _advert(2, 7) and item.ah == split_ah(good)
    assert item.ah is not None and item.ah.ah.sequence == 9
