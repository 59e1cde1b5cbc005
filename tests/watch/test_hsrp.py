"""HSRP groups (watch/hsrp.py): the active and standby timelines from the State field, the
hold-time rule, and the HSRP alerts, on messages built with the dissectors' builders."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dissectors.frame import ETH_P_IP, ETH_P_IPV6, build_ethernet
from dissectors.hsrp import (
    GroupState,
    HsrpV1,
    HsrpV2,
    OpCode,
    TextAuth,
    V1State,
    V2State,
    build_hsrp,
)
from dissectors.ip import (
    IPv4Header,
    IPv6Header,
    UdpHeader,
    build_ipv4,
    build_ipv6,
    build_udp,
)
from dissectors.packet import Decoded, Kind, decode_packet
from tests.crafted import write_crafted
from tests.helpers import PUBLIC_CAPTURES, garp, summary_of
from vrrpwatch.fingerprints import fingerprint
from vrrpwatch.rfc import hsrp_active_down
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.known import KnownRouter, KnownRouters
from vrrpwatch.watch.model import Protocol, RouterKey
from vrrpwatch.watch.monitor import Monitor

V4, V6 = ipaddress.IPv4Address, ipaddress.IPv6Address
A, B, C = "192.0.2.2", "192.0.2.3", "192.0.2.66"
MAC_A, MAC_B, MAC_C = (bytes.fromhex(f"02000000000{i}") for i in (1, 2, 3))
VIP = V4("192.0.2.1")
KEY = RouterKey((), 4, 1, Protocol.HSRP)


def v1(
    state: int,
    priority: int,
    *,
    op: int = OpCode.HELLO,
    group: int = 1,
    auth: bytes = b"s3cret\0\0",
    vip: V4 = VIP,
    hello: int = 3,
    hold: int = 10,
) -> HsrpV1:
    return HsrpV1(
        op_code=op, state=state, priority=priority, group=group, authentication_data=auth,
        virtual_ip_address=vip, hellotime_s=hello, holdtime_s=hold,
    )  # fmt: skip


def frame(msg: HsrpV1 | HsrpV2, src: str, mac: bytes) -> bytes:
    payload = build_hsrp(msg)
    if ":" in src:
        s6, d6 = V6(src), V6("ff02::66")
        udp = build_udp(UdpHeader(src_port=2029, dst_port=2029), payload, src=s6, dst=d6)
        ip6 = build_ipv6(IPv6Header(src=s6, dst=d6, next_header=17, hop_limit=255), udp)
        return build_ethernet(bytes.fromhex("333300000066"), mac, ETH_P_IPV6, ip6)
    dst = V4("224.0.0.2") if isinstance(msg, HsrpV1) else V4("224.0.0.102")
    udp = build_udp(UdpHeader(src_port=1985, dst_port=1985), payload, src=V4(src), dst=dst)
    ip = build_ipv4(IPv4Header(src=V4(src), dst=dst, protocol=17, ttl=1), udp)
    return build_ethernet(bytes.fromhex("01005e000002"), mac, ETH_P_IP, ip)


def decoded(data: bytes) -> Decoded:
    d = decode_packet(data, 1)
    assert d is not None
    return d


class Hsrp:
    def __init__(self, **kw: Any) -> None:
        self.m = Monitor(fingerprint=lambda pw: fingerprint(pw, b"k"), **kw)
        self.frame = 0

    def __call__(
        self, t: float, msg: HsrpV1 | HsrpV2 | bytes, src: str = A, mac: bytes = MAC_A
    ) -> list[Any]:
        self.frame += 1
        if isinstance(msg, bytes):
            return self.m.observe(self.frame, t, decoded(msg))
        d = decoded(frame(msg, src, mac))
        assert d.kind is Kind.HSRP
        return self.m.observe(self.frame, t, d)

    def every(
        self, start: float, stop: float, step: float, msg: HsrpV1 | HsrpV2, src: str, mac: bytes
    ) -> None:
        t = start
        while t < stop:
            self(t, msg, src, mac)
            t += step

    def kinds(self) -> list[str]:
        return [a.kind for a in self.m.alerts]

    def active(self, key: RouterKey = KEY) -> list[tuple[Any, ...]]:
        return [
            (t.old, t.new, t.cause, t.gap_ms, t.expected_ms)
            for t in self.m.routers[key].transitions
        ]

    def standby(self, key: RouterKey = KEY) -> list[tuple[Any, ...]]:
        return [(t.old, t.new, t.cause) for t in self.m.routers[key].standby_transitions]


def pair(h: Hsrp, start: float, stop: float) -> None:
    """A active (110) and B standby (100), hellos every 3 s."""
    t = start
    while t < stop:
        h(t, v1(V1State.ACTIVE, 110), A, MAC_A)
        h(t + 0.5, v1(V1State.STANDBY, 100), B, MAC_B)
        t += 3


def test_hold_time_expiry_and_both_timelines() -> None:
    h = Hsrp()
    pair(h, 0.0, 9.0)  # A's last hello at 6.0
    h.every(6.5, 16.0, 3.0, v1(V1State.STANDBY, 100), B, MAC_B)
    h.every(16.0, 20.0, 3.0, v1(V1State.ACTIVE, 100), B, MAC_B)  # 10 s after A's last
    h.every(21.0, 26.0, 3.0, v1(V1State.STANDBY, 110), A, MAC_A)  # A back, no preemption
    assert h.active() == [
        (None, A, "first-seen", None, None),
        (A, B, "hold-expired", 10000.0, 10000.0),
    ]
    assert h.standby() == [(None, B, "first-seen"), (B, A, "promoted")]
    assert h.m.routers[KEY].standby_transitions[1].gap_ms is None  # B is heard, as active
    assert hsrp_active_down(10.0) == 10.0
    vr = h.m.routers[KEY]
    assert (vr.master, vr.standby) == (B, A)
    assert vr.key.label() == "vlan - IPv4 HSRP group 1"
    assert h.kinds() == ["plaintext-auth", "plaintext-auth", "master-change"]


def test_coup_by_an_unknown_source_is_rogue_and_a_priority_takeover() -> None:
    h = Hsrp()
    pair(h, 0.0, 15.0)
    # C turns up at 14 s (after A had been active 10 s, its hold time) and takes over
    h(14.0, v1(V1State.SPEAK, 255, op=OpCode.COUP), C, MAC_C)
    h(14.1, v1(V1State.SPEAK, 110), A, MAC_A)
    h(15.0, v1(V1State.ACTIVE, 255), C, MAC_C)
    assert [t[:3] for t in h.active()] == [(None, A, "first-seen"), (A, C, "coup")]
    assert {AlertKind.ROGUE_ADVERTISER, AlertKind.PRIORITY_TAKEOVER} <= set(h.kinds())
    take = next(a for a in h.m.alerts if a.kind == AlertKind.PRIORITY_TAKEOVER)
    assert take.source == C and "priority 255 from 192.0.2.2 (priority 110)" in take.message


def test_coup_by_a_known_router_is_no_alert_but_a_change() -> None:
    known = KnownRouters([KnownRouter(A), KnownRouter(B)])
    h = Hsrp(known_routers=known)
    h(0.0, v1(V1State.ACTIVE, 100), A, MAC_A)
    h(1.0, v1(V1State.SPEAK, 120, op=OpCode.COUP), B, MAC_B)
    assert [t[2] for t in h.active()] == ["first-seen", "coup"]
    assert AlertKind.PRIORITY_TAKEOVER not in h.kinds()
    assert AlertKind.ROGUE_ADVERTISER not in h.kinds()
    h(2.0, v1(V1State.ACTIVE, 120), C, MAC_C)
    assert AlertKind.ROGUE_ADVERTISER in h.kinds()  # not in the list


def test_resign() -> None:
    h = Hsrp()
    pair(h, 0.0, 6.0)
    h(6.0, v1(V1State.ACTIVE, 110, op=OpCode.RESIGN), A, MAC_A)
    h(6.1, v1(V1State.ACTIVE, 100), B, MAC_B)
    assert [t[2] for t in h.active()] == ["first-seen", "resigned"]
    assert h.kinds()[-2:] == ["master-resigned", "master-change"]


def test_two_actives_with_different_passwords() -> None:
    h = Hsrp()
    for i in range(6):
        h(i * 3.0, v1(V1State.ACTIVE, 110, auth=b"alpha\0\0\0"), A, MAC_A)
        h(i * 3.0 + 1, v1(V1State.ACTIVE, 100, auth=b"bravo\0\0\0"), B, MAC_B)
    kinds = h.kinds()
    assert AlertKind.AUTH_MISMATCH in kinds
    (sb,) = [a for a in h.m.alerts if a.kind == AlertKind.SPLIT_BRAIN]
    assert "hold time 10.00 s" in sb.message and sb.time > 10.0
    assert [t[2] for t in h.active()] == ["first-seen"]  # B is a contender, not a takeover
    assert "alpha" not in " ".join(a.message for a in h.m.alerts)


def test_default_password_shown_only_with_reveal_secrets() -> None:
    h = Hsrp()
    h(0.0, v1(V1State.ACTIVE, 100, auth=b"cisco\0\0\0"), A, MAC_A)
    assert h.kinds() == ["plaintext-auth", "default-password"]
    assert "cisco" not in h.m.alerts[1].message
    r = Hsrp(reveal_secrets=True)
    r(0.0, v1(V1State.ACTIVE, 100, auth=b"cisco\0\0\0"), A, MAC_A)
    assert "(cisco)" in r.m.alerts[1].message
    doc = summary_of(r.m)
    (adv,) = doc["virtual_routers"][0]["advertisers"]
    assert adv["password"] == "cisco" and adv["auth_type"] == "text"


def test_timer_and_vip_mismatch_and_a_learning_router() -> None:
    h = Hsrp()
    h(0.0, v1(V1State.ACTIVE, 110), A, MAC_A)
    h(0.5, v1(V1State.STANDBY, 100, hello=1, hold=4), B, MAC_B)
    h(1.0, v1(V1State.SPEAK, 90, vip=V4("0.0.0.0")), C, MAC_C)  # learns the VIP: not compared
    h(2.0, v1(V1State.SPEAK, 90, vip=V4("192.0.2.9")), "192.0.2.67", MAC_C)
    timers = [a for a in h.m.alerts if a.kind == AlertKind.TIMER_MISMATCH]
    # each source that disagrees with another, once: B with A, then C and .67 with B
    assert [a.source for a in timers] == [B, C, "192.0.2.67"]
    assert "hello 1000 ms / hold 4000 ms but 192.0.2.2 hello 3000 ms" in timers[0].message
    (vip,) = [a for a in h.m.alerts if a.kind == AlertKind.VIP_MISMATCH]
    assert vip.source == "192.0.2.67"


def test_v2_ipv6_group_and_its_virtual_mac() -> None:
    src = "fe80::1"
    msg = HsrpV2(
        tlvs=(
            GroupState(
                state=V2State.ACTIVE, ip_version=6, group=4095, identifier=MAC_A,
                priority=150, hello_time_ms=250, hold_time_ms=750,
                virtual_ip_address=V6("fe80::5:73ff:fea0:fff"), virtual_ip_padding=b"",
            ),
            TextAuth(authentication_data=b"cisco\0\0\0"),
        )
    )  # fmt: skip
    h = Hsrp()
    h.every(0.0, 2.0, 0.25, msg, src, bytes.fromhex("000573a00fff"))
    key = RouterKey((), 6, 4095, Protocol.HSRP)
    vr = h.m.routers[key]
    assert vr.master == src and vr.current is not None
    assert (vr.current.interval_ms, vr.current.hold_ms, vr.current.down_s) == (250, 750, 0.75)
    assert h.m.expire(1.75 + 0.75 + 0.2) == []
    (lost,) = h.m.expire(1.75 + 0.75 + 0.3)
    assert lost.kind == AlertKind.MASTER_LOST and "hold time 0.75 s" in lost.message
    doc = summary_of(h.m)
    (r,) = doc["virtual_routers"]
    assert (r["protocol"], r["family"], r["vrid"], r["version"], r["hold_ms"]) == (
        "hsrp",
        6,
        4095,
        2,
        750,
    )
    assert r["interval_ms"] == 250 and r["standby"] is None and r["standby_transitions"] == []
    assert doc["hsrp"] == 8


def test_garp_from_the_group_virtual_mac_is_no_conflict() -> None:
    h = Hsrp()
    h(0.0, v1(V1State.ACTIVE, 110), A, MAC_A)
    h(0.1, garp(bytes.fromhex("00000c07ac01")))  # HSRPv1 group 1
    h(0.2, garp(bytes.fromhex("02000000ee01")))  # someone else
    h(5.0, v1(V1State.ACTIVE, 110), A, MAC_A)
    conflicts = [a for a in h.m.alerts if a.kind == AlertKind.GARP_CONFLICT]
    assert [a.source for a in conflicts] == ["02:00:00:00:ee:01"]
    assert conflicts[0].key == KEY


def test_summary_keeps_standby_transitions_through_the_store() -> None:
    h = Hsrp()
    pair(h, 0.0, 9.0)
    doc = summary_of(h.m)
    (r,) = doc["virtual_routers"]
    assert (r["protocol"], r["master"], r["standby"], r["auth_type"]) == ("hsrp", A, B, "text")
    assert [(t["from"], t["to"], t["cause"]) for t in r["standby_transitions"]] == [
        (None, B, "first-seen")
    ]
    assert [a["protocol"] for a in doc["alerts"]] == ["hsrp", "hsrp"]


# -- the public captures (tests/data/public, MANIFEST.md) ------------------------------------


def _follow(name: str | Path) -> Monitor:
    """A public capture by name, or a capture file."""
    from vrrpwatch.pcap import iter_capture

    m = Monitor(fingerprint=lambda pw: fingerprint(pw, b"k"))
    for p in iter_capture(name if isinstance(name, Path) else PUBLIC_CAPTURES / name):
        d = decode_packet(p.data, p.linktype)
        if d is not None:
            m.observe(p.frame, p.time, d)
    m.finish()
    return m


def _tshark_active_gap(name: str, old: str, new: str) -> float | None:
    """From tshark: ms between ``old``'s last and ``new``'s first Active (16) hello."""
    if shutil.which("tshark") is None:
        return None
    out = subprocess.run(
        ["tshark", "-r", str(PUBLIC_CAPTURES / name), "-Y", "hsrp.state == 16",
         "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = [(float(t), src) for t, src in (line.split("\t") for line in out.splitlines())]
    first_new = min(t for t, s in rows if s == new)
    last_old = max(t for t, s in rows if s == old and t < first_new)
    return round((first_new - last_old) * 1000, 3)


def test_public_failover_is_a_hold_time_expiry() -> None:
    m = _follow("HSRP_failover.pcap")
    key = RouterKey((), 4, 1, Protocol.HSRP)
    vr = m.routers[key]
    (first, takeover) = vr.transitions
    assert (first.new, takeover.old, takeover.new, takeover.cause) == (
        "192.168.0.10", "192.168.0.10", "192.168.0.30", "hold-expired",
    )  # fmt: skip
    assert takeover.expected_ms == 10000.0  # the hold time the active advertised
    assert takeover.gap_ms == 10000.506
    truth = _tshark_active_gap("HSRP_failover.pcap", "192.168.0.10", "192.168.0.30")
    assert truth in (None, takeover.gap_ms)
    assert [(t.old, t.new, t.cause) for t in vr.standby_transitions] == [
        (None, "192.168.0.30", "first-seen"),
        ("192.168.0.30", "192.168.0.20", "promoted"),
    ]
    assert AlertKind.DEFAULT_PASSWORD in {a.kind for a in m.alerts}


def test_public_coup() -> None:
    m = _follow("HSRP_coup.pcap")
    vr = m.routers[RouterKey((), 4, 1, Protocol.HSRP)]
    assert [(t.old, t.new, t.cause) for t in vr.transitions] == [
        (None, "192.168.0.30", "first-seen"),
        ("192.168.0.30", "192.168.0.10", "coup"),
    ]
    # .10 was first heard 21 s into the capture, long after .30 became active: unknown
    assert {AlertKind.ROGUE_ADVERTISER, AlertKind.PRIORITY_TAKEOVER} <= {a.kind for a in m.alerts}


def test_resign_is_nobody_becoming_active(tmp_path: Path) -> None:
    # tests/crafted.py: the active's resign, then an interface state TLV alone
    m = _follow(write_crafted(tmp_path, "v2-resign"))
    (vr,) = [v for k, v in m.routers.items() if k.protocol == Protocol.HSRP]
    assert vr.master is None and not vr.transitions


def test_crafted_election_and_authentication(tmp_path: Path) -> None:
    # tests/crafted.py (checked against tshark): A (150) and B (100) speak, A goes Standby at
    # frame 9 and Active at frame 11, B then Standby.
    m = _follow(write_crafted(tmp_path, "v2-election"))
    vr = m.routers[RouterKey((), 4, 1, Protocol.HSRP)]
    assert [(t.old, t.new, t.cause, t.frame) for t in vr.transitions] == [
        (None, "192.0.2.1", "first-seen", 11)
    ]
    assert [(t.old, t.new, t.cause) for t in vr.standby_transitions] == [
        (None, "192.0.2.1", "first-seen"),
        ("192.0.2.1", "192.0.2.2", "promoted"),
    ]
    assert {AlertKind.DEFAULT_PASSWORD, AlertKind.PLAINTEXT_AUTH} <= {a.kind for a in m.alerts}
    text = _follow(write_crafted(tmp_path, "v2-text-auth")).alerts
    kinds = {a.kind for a in text}
    assert AlertKind.PLAINTEXT_AUTH in kinds and AlertKind.DEFAULT_PASSWORD not in kinds
    assert "MY_KEY" not in " ".join(a.message for a in text)  # a fingerprint, not the key
    md5 = _follow(write_crafted(tmp_path, "v2-md5-key-chain"))
    assert not {AlertKind.PLAINTEXT_AUTH, AlertKind.DEFAULT_PASSWORD} & {a.kind for a in md5.alerts}


def test_the_old_actives_hello_racing_a_coup_does_not_undo_it() -> None:
    h = Hsrp()
    h(0.0, v1(V1State.ACTIVE, 100), A, MAC_A)
    h(0.5, v1(V1State.STANDBY, 90), B, MAC_B)
    h(1.0, v1(V1State.SPEAK, 120, op=OpCode.COUP), B, MAC_B)
    h(1.001, v1(V1State.ACTIVE, 100), A, MAC_A)  # sent before A read the Coup
    h(1.01, v1(V1State.SPEAK, 100), A, MAC_A)
    h(1.02, v1(V1State.ACTIVE, 120), B, MAC_B)
    assert [t[:3] for t in h.active()] == [(None, A, "first-seen"), (A, B, "coup")]


def test_known_routers_list_hsrp_groups() -> None:
    known = KnownRouters.from_toml(f'[[router]]\naddress = "{A}"\nvrids = [0, 4095]\n')
    assert known.allows(A, None, 4095) and known.allows(A, None, 0)
    assert not known.allows(A, None, 1)
    with pytest.raises(ValueError, match="0..4095"):
        KnownRouters.from_toml(f'[[router]]\naddress = "{A}"\nvrids = [4096]\n')
    h = Hsrp(known_routers=known)
    h(0.0, v1(V1State.ACTIVE, 100, group=0), A, MAC_A)
    assert AlertKind.ROGUE_ADVERTISER not in h.kinds()
