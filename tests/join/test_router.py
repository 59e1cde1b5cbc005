"""The sans-IO state machine, driven with explicit times (no sleeping, no sockets)."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissectors.common import Finding
from dissectors.vrrp import (
    AuthType,
    ChecksumStatus,
    VrrpPacket,
    VrrpV2,
    VrrpV3,
    build_vrrp,
    parse_vrrp,
    validate_advert,
)
from tests.helpers import RouterPair
from vrrpwatch.join.router import (
    DISCARDED_FINDINGS,
    TRANSITIONS,
    Action,
    AddAddresses,
    AdvertisementDiscarded,
    Cause,
    DiscardReason,
    IpHeader,
    ProtocolError,
    RemoveAddresses,
    RouterConfig,
    SendAdvertisement,
    SendGratuitousArp,
    SendNeighborAdvertisement,
    State,
    StateChanged,
    VirtualRouter,
    discard_reason,
)
from vrrpwatch.rfc import master_down_interval, skew_time

A = ipaddress.ip_address
VIP = A("192.0.2.1")
ME = A("192.0.2.254")
PEER = A("192.0.2.253")
HIGH_PEER = A("192.0.2.255")  # numerically above ME
GROUP = A("224.0.0.18")


def cfg(**kw: object) -> RouterConfig:
    base: dict[str, object] = dict(
        vrid=1, priority=100, primary_address=ME, addresses=(VIP,), version=3
    )
    base.update(kw)
    return RouterConfig(**base)  # type: ignore[arg-type]


def v3(priority: int, *, vrid: int = 1, interval_cs: int = 100, addrs: tuple = (VIP,)) -> VrrpV3:
    return VrrpV3(
        vrid=vrid,
        priority=priority,
        count_ip_addrs=len(addrs),
        max_adver_int_cs=interval_cs,
        addresses=addrs,
    )


def v2(priority: int, *, password: bytes | None = b"s3cret", interval_s: int = 1) -> VrrpV2:
    return VrrpV2(
        vrid=1,
        priority=priority,
        count_ip_addrs=1,
        auth_type=AuthType.SIMPLE if password is not None else AuthType.NONE,
        adver_int_s=interval_s,
        addresses=(VIP,),
        auth_data=(password or b"").ljust(8, b"\x00"),
    )


def ip(src: ipaddress.IPv4Address | ipaddress.IPv6Address = PEER, ttl: int = 255) -> IpHeader:
    return IpHeader(src=src, dst=GROUP if src.version == 4 else A("ff02::12"), ttl=ttl)


def kinds(actions: list[Action]) -> list[type]:
    return [type(a) for a in actions]


# --- RFC formulas ---------------------------------------------------------------------------


def test_skew_and_master_down_v3() -> None:
    # RFC 5798 section 6.1 with values floats hold exactly.
    assert skew_time(100, 1.0) == 156 / 256 == 0.609375
    assert master_down_interval(100, 1.0) == 3.609375
    assert skew_time(50, 1.0) == 206 / 256
    assert master_down_interval(50, 0.5) == 1.5 + 206 / 512
    assert skew_time(255, 1.0) == 1 / 256


def test_skew_v2_ignores_interval() -> None:
    # RFC 3768 section 6.1: Skew_Time = (256 - Priority) / 256 seconds.
    assert skew_time(100, 2.0, version=2) == 0.609375
    assert master_down_interval(100, 2.0, version=2) == 6.609375
    assert skew_time(100, 2.0, version=3) == 1.21875


# --- startup --------------------------------------------------------------------------------


def test_start_as_backup_sets_master_down_timer() -> None:
    vr = VirtualRouter(cfg())
    out = vr.start(0.0)
    assert out == [StateChanged(old=State.INITIALIZE, new=State.BACKUP, cause=Cause.STARTUP)]
    assert vr.state is State.BACKUP
    assert vr.get_timer() == 3.609375


def test_master_down_timer_fires_exactly() -> None:
    vr = VirtualRouter(cfg())
    vr.start(0.0)
    assert vr.handle_timer(3.609) == []  # not due yet
    out = vr.handle_timer(vr.get_timer() or 0)
    assert out == [
        StateChanged(old=State.BACKUP, new=State.MASTER, cause=Cause.MASTER_DOWN),
        SendAdvertisement(advertisement=v3(100)),
        AddAddresses(addresses=(VIP,), accept_mode=False),
        SendGratuitousArp(addresses=(VIP,), count=5),
    ]
    assert vr.state is State.MASTER
    # Next advertisement one interval later; second GARP burst after 5 s.
    assert vr.get_timer() == 4.609375
    assert vr.handle_timer(4.609375) == [SendAdvertisement(advertisement=v3(100))]
    for t in (5.609375, 6.609375, 7.609375):
        assert vr.handle_timer(t) == [SendAdvertisement(advertisement=v3(100))]
    assert vr.get_timer() == 8.609375
    assert vr.handle_timer(8.609375) == [
        SendAdvertisement(advertisement=v3(100)),
        SendGratuitousArp(addresses=(VIP,), count=5),
    ]
    assert vr.get_timer() == 9.609375


def test_owner_starts_as_master() -> None:
    vr = VirtualRouter(cfg(priority=255, garp_delay_s=0))
    out = vr.start(10.0)
    assert kinds(out) == [StateChanged, SendAdvertisement, AddAddresses, SendGratuitousArp]
    assert out[0] == StateChanged(old=State.INITIALIZE, new=State.MASTER, cause=Cause.OWNER_STARTUP)
    assert vr.get_timer() == 11.0


def test_owner_discards_every_advert() -> None:
    # RFC 5798 section 7.1: not even a higher address at priority 255 moves the owner.
    vr = VirtualRouter(cfg(priority=255, garp_delay_s=0))
    vr.start(0.0)
    for prio in (0, 100, 255):
        out = vr.receive_advertisement(v3(prio), ip=ip(HIGH_PEER), now=0.5)
        assert kinds(out) == [AdvertisementDiscarded]
        assert isinstance(out[0], AdvertisementDiscarded)
        assert out[0].reason is DiscardReason.LOCAL_OWNER
    assert vr.state is State.MASTER and vr.get_timer() == 1.0


def test_late_wakeup_keeps_advert_schedule() -> None:
    vr = VirtualRouter(cfg(priority=255, garp_delay_s=0))
    vr.start(0.0)
    vr.handle_timer(1.25)  # woke 0.25 s late
    assert vr.get_timer() == 2.0
    vr.handle_timer(4.5)  # more than an interval late: restart from now
    assert vr.get_timer() == 5.5


# --- backup ---------------------------------------------------------------------------------


def test_backup_restarts_timer_and_learns_interval_v3() -> None:
    vr = VirtualRouter(cfg(priority=50))
    vr.start(0.0)
    assert vr.receive_advertisement(v3(100, interval_cs=50), ip=ip(), now=1.0) == []
    assert vr.master_adver_interval_cs == 50
    # 3 * 0.5 + (206 * 0.5) / 256
    assert vr.get_timer() == 1.0 + 1.5 + 103 / 256


def test_backup_priority_zero_sets_skew_time() -> None:
    vr = VirtualRouter(cfg(priority=50))
    vr.start(0.0)
    vr.receive_advertisement(v3(100), ip=ip(), now=1.0)
    assert vr.receive_advertisement(v3(0), ip=ip(), now=2.0) == []
    assert vr.get_timer() == 2.0 + 206 / 256
    out = vr.handle_timer(2.0 + 206 / 256)
    assert out[0] == StateChanged(old=State.BACKUP, new=State.MASTER, cause=Cause.MASTER_DOWN)


def test_backup_preempts_lower_priority_master() -> None:
    vr = VirtualRouter(cfg(priority=100))
    vr.start(0.0)
    out = vr.receive_advertisement(v3(50), ip=ip(), now=1.0)
    assert out == [
        AdvertisementDiscarded(
            reason=DiscardReason.LOWER_PRIORITY,
            source=PEER,
            detail="priority 50 < ours 100, preempting",
        )
    ]
    assert vr.get_timer() == 3.609375  # unchanged: it will run out


def test_no_preempt_accepts_lower_priority_master() -> None:
    vr = VirtualRouter(cfg(priority=100, preempt_mode=False))
    vr.start(0.0)
    assert vr.receive_advertisement(v3(50), ip=ip(), now=1.0) == []
    assert vr.get_timer() == 4.609375


def test_preempt_delay() -> None:
    vr = VirtualRouter(cfg(priority=100, preempt_delay_s=10.0))
    vr.start(0.0)
    assert vr.receive_advertisement(v3(50), ip=ip(), now=9.0) == []
    assert vr.get_timer() == 12.609375
    out = vr.receive_advertisement(v3(50), ip=ip(), now=10.0)
    assert kinds(out) == [AdvertisementDiscarded]
    assert vr.get_timer() == 12.609375


def test_v2_uses_own_interval_and_discards_other_interval() -> None:
    vr = VirtualRouter(cfg(priority=50, version=2, auth_pass=b"s3cret"))
    vr.start(0.0)
    assert vr.get_timer() == 3.0 + 206 / 256
    assert vr.receive_advertisement(v2(100), ip=ip(), now=1.0) == []
    assert vr.get_timer() == 4.0 + 206 / 256
    out = vr.receive_advertisement(v2(100, interval_s=2), ip=ip(), now=2.0)
    assert out == [
        AdvertisementDiscarded(
            reason=DiscardReason.INTERVAL_MISMATCH, source=PEER, detail="interval 2 s, ours 1 s"
        )
    ]
    assert vr.get_timer() == 4.0 + 206 / 256


# --- master ---------------------------------------------------------------------------------


def master(**kw: object) -> VirtualRouter:
    vr = VirtualRouter(cfg(**kw))
    vr.start(0.0)
    vr.handle_timer(vr.get_timer() or 0.0)
    assert vr.state is State.MASTER
    return vr


def test_master_yields_to_higher_priority() -> None:
    vr = master(priority=50)
    t = 5.0
    out = vr.receive_advertisement(v3(100, interval_cs=200), ip=ip(), now=t)
    # The addresses go first (a host holding the VIP answers ARP for it).
    assert out == [
        RemoveAddresses(addresses=(VIP,)),
        StateChanged(
            old=State.MASTER,
            new=State.BACKUP,
            cause=Cause.HIGHER_PRIORITY,
            peer=PEER,
            peer_priority=100,
        ),
    ]
    assert vr.get_timer() == t + 6.0 + 2 * 206 / 256
    # No more adverts or GARP bursts are pending.
    assert vr.handle_timer(t + 5.5) == []


def test_master_equal_priority_tie_break_by_address() -> None:
    vr = master()
    # Lower address: we stay master, answer at once and announce the VIPs again.
    out = vr.receive_advertisement(v3(100), ip=ip(PEER), now=4.0)
    assert out == [
        SendAdvertisement(advertisement=v3(100)),
        SendGratuitousArp(addresses=(VIP,), count=5),
    ]
    assert vr.get_timer() == 5.0
    out = vr.receive_advertisement(v3(100), ip=ip(HIGH_PEER), now=4.5)
    assert out[0] == RemoveAddresses(addresses=(VIP,))
    assert out[1] == StateChanged(
        old=State.MASTER,
        new=State.BACKUP,
        cause=Cause.EQUAL_PRIORITY_HIGHER_ADDRESS,
        peer=HIGH_PEER,
        peer_priority=100,
    )


def test_tie_break_is_unsigned_ipv6() -> None:
    me, peer = A("fe80::1"), A("fe80::ffff:ffff:ffff:ffff")
    vip = A("2001:db8::1")
    vr = VirtualRouter(cfg(primary_address=me, addresses=(vip,)))
    vr.start(0.0)
    out = vr.handle_timer(3.609375)
    assert SendNeighborAdvertisement(addresses=(vip,), count=5) in out
    adv = v3(100, addrs=(vip,))
    adv = dataclasses.replace(adv, family=6)
    out = vr.receive_advertisement(adv, ip=ip(peer), now=4.0)
    assert vr.state is State.BACKUP


def test_master_answers_lower_priority_at_once() -> None:
    # RFC 9568 section 6.4.3; the sender thinks it is Master and may have announced our VIPs,
    # so they are announced again (keepalived's vrrp_state_master_rx).
    vr = master()
    out = vr.receive_advertisement(v3(50), ip=ip(), now=4.0)
    assert out == [
        SendAdvertisement(advertisement=v3(100)),
        SendGratuitousArp(addresses=(VIP,), count=5),
    ]
    assert vr.get_timer() == 5.0


def test_master_announces_again_with_its_next_advert_after_a_lower_one() -> None:
    # The other Master's kernel answers ARP for the VIP until it hears us: one more burst
    # after it surely has, with our next advert (one interval after our answer).
    vr = master()
    vr.receive_advertisement(v3(50), ip=ip(), now=4.0)
    assert vr.get_timer() == 5.0
    assert vr.handle_timer(5.0) == [
        SendAdvertisement(advertisement=v3(100)),
        SendGratuitousArp(addresses=(VIP,), count=5),
    ]
    assert vr.handle_timer(6.0) == [SendAdvertisement(advertisement=v3(100))]


def test_a_pending_announcement_does_not_outlive_mastership() -> None:
    vr = master()
    vr.receive_advertisement(v3(50), ip=ip(), now=4.0)
    vr.receive_advertisement(v3(200), ip=ip(HIGH_PEER), now=4.5)  # back to Backup
    assert vr.state is State.BACKUP
    out = vr.handle_timer(vr.get_timer() or 0.0)  # Master again: its own burst only
    assert kinds(out).count(SendGratuitousArp) == 1
    assert kinds(vr.handle_timer(vr.get_timer() or 0.0)) == [SendAdvertisement]


def test_master_reannounces_at_most_once_per_interval() -> None:
    # A flood of lower priority adverts gets our advert each time, but one GARP burst per
    # Advertisement_Interval (1 s here).
    vr = master()
    bursts = 0
    for i in range(40):  # 40 adverts in 1.25 s
        out = vr.receive_advertisement(v3(50), ip=ip(), now=4.0 + i / 32)
        assert out[0] == SendAdvertisement(advertisement=v3(100))
        bursts += sum(isinstance(a, SendGratuitousArp) for a in out)
    assert bursts == 2  # at 4.0 and 5.0


def test_master_reannounces_with_neighbor_advertisements_for_ipv6() -> None:
    me, vip = A("fe80::1"), A("2001:db8::1")
    vr = master(primary_address=me, addresses=(vip,))
    adv = dataclasses.replace(v3(50, addrs=(vip,)), family=6)
    out = vr.receive_advertisement(adv, ip=ip(A("fe80::2")), now=4.0)
    assert out[1:] == [SendNeighborAdvertisement(addresses=(vip,), count=5)]


def test_master_answers_priority_zero() -> None:
    vr = master()
    assert vr.receive_advertisement(v3(0), ip=ip(), now=4.25) == [
        SendAdvertisement(advertisement=v3(100))
    ]
    assert vr.get_timer() == 5.25


def test_shutdown_as_master_sends_priority_zero() -> None:
    vr = master(version=2, auth_pass=b"s3cret")
    out = vr.shutdown(5.0)
    assert out == [
        RemoveAddresses(addresses=(VIP,)),
        SendAdvertisement(advertisement=v2(0)),
        StateChanged(old=State.MASTER, new=State.INITIALIZE, cause=Cause.SHUTDOWN),
    ]
    assert vr.get_timer() is None


def test_shutdown_as_backup_is_silent() -> None:
    vr = VirtualRouter(cfg())
    vr.start(0.0)
    assert vr.shutdown(1.0) == [
        StateChanged(old=State.BACKUP, new=State.INITIALIZE, cause=Cause.SHUTDOWN)
    ]


def test_advert_bytes_roundtrip_through_dissector() -> None:
    vr = master(version=2, auth_pass=b"s3cret")
    adv = vr.handle_timer(vr.get_timer() or 0.0)[0]
    assert isinstance(adv, SendAdvertisement)
    raw = build_vrrp(adv.advertisement, src=ME, dst=GROUP)
    assert raw[:8] == bytes([0x21, 1, 100, 1, 1, 1]) + raw[6:8]
    assert raw[-8:] == b"s3cret\x00\x00"
    back = parse_vrrp(raw, src=ME, dst=GROUP)
    assert back == adv.advertisement and back.checksum_status is ChecksumStatus.GOOD


# --- fault ----------------------------------------------------------------------------------


def test_link_down_and_up() -> None:
    vr = master()
    out = vr.link_down(5.0)
    assert out == [
        RemoveAddresses(addresses=(VIP,)),
        StateChanged(old=State.MASTER, new=State.FAULT, cause=Cause.LINK_DOWN),
    ]
    assert vr.get_timer() is None
    assert kinds(vr.receive_advertisement(v3(50), ip=ip(), now=6.0)) == [AdvertisementDiscarded]
    out = vr.link_up(7.0)
    assert out == [StateChanged(old=State.FAULT, new=State.BACKUP, cause=Cause.LINK_UP)]
    assert vr.get_timer() == 7.0 + 3.609375


def test_start_with_link_down() -> None:
    vr = VirtualRouter(cfg())
    vr.link_down(0.0)
    assert vr.start(0.0) == [
        StateChanged(old=State.INITIALIZE, new=State.FAULT, cause=Cause.LINK_DOWN)
    ]


# --- receive checks, RFC 5798 section 7.1 ---------------------------------------------------


@pytest.mark.parametrize(
    ("adv", "header", "reason"),
    [
        (v3(100), ip(ttl=64), DiscardReason.TTL_NOT_255),
        (v2(100), ip(), DiscardReason.BAD_VERSION),
        (v3(100, vrid=2), ip(), DiscardReason.VRID_MISMATCH),
        (
            dataclasses.replace(v3(100), checksum_status=ChecksumStatus.BAD),
            ip(),
            DiscardReason.BAD_CHECKSUM,
        ),
        (dataclasses.replace(v3(100), type=2), ip(), DiscardReason.BAD_TYPE),
        (dataclasses.replace(v3(100), count_ip_addrs=2), ip(), DiscardReason.COUNT_MISMATCH),
        (v3(100), ip(ME), DiscardReason.OWN_ADVERTISEMENT),
        (v3(100, interval_cs=0), ip(), DiscardReason.INTERVAL_ZERO),
        (v3(100, addrs=(A("192.0.2.2"),)), ip(), DiscardReason.ADDRESS_LIST_MISMATCH),
        (v3(100, addrs=(VIP, A("192.0.2.2"))), ip(), DiscardReason.ADDRESS_LIST_MISMATCH),
    ],
)
def test_receive_checks_v3(adv: VrrpPacket, header: IpHeader, reason: DiscardReason) -> None:
    vr = VirtualRouter(cfg(priority=50))
    vr.start(0.0)
    out = vr.receive_advertisement(adv, ip=header, now=1.0)
    assert kinds(out) == [AdvertisementDiscarded]
    assert isinstance(out[0], AdvertisementDiscarded) and out[0].reason is reason
    assert vr.discards[reason] == 1
    assert vr.get_timer() == 3.0 + 206 / 256  # the discarded advert restarted nothing


# One packet per finding the router discards for: the decoder's validation finds it, and the
# router gives the reason its table maps it to (the table and the checks cannot drift apart).
FINDING_PACKETS: dict[Finding, tuple[VrrpPacket, IpHeader]] = {
    Finding.TTL_NOT_255: (v3(100), ip(ttl=64)),
    Finding.BAD_CHECKSUM: (dataclasses.replace(v3(100), checksum_status=ChecksumStatus.BAD), ip()),
    Finding.BAD_TYPE: (dataclasses.replace(v3(100), type=2), ip()),
    Finding.COUNT_MISMATCH: (dataclasses.replace(v3(100), count_ip_addrs=2), ip()),
    Finding.FAMILY_MISMATCH: (v3(100, addrs=(A("2001:db8::1"),)), ip()),
    Finding.INTERVAL_ZERO: (v3(100, interval_cs=0), ip()),
}


@pytest.mark.parametrize("finding", list(DISCARDED_FINDINGS))
def test_each_discarded_finding_is_checked_by_the_router(finding: Finding) -> None:
    adv, header = FINDING_PACKETS[finding]
    found = validate_advert(adv, src=header.src, dst=header.dst, ttl=header.ttl)
    assert found == (finding,)
    assert discard_reason(found) is DISCARDED_FINDINGS[finding]
    vr = VirtualRouter(cfg(priority=50))
    vr.start(0.0)
    out = vr.receive_advertisement(adv, ip=header, now=1.0)
    assert isinstance(out[0], AdvertisementDiscarded)
    assert out[0].reason is DISCARDED_FINDINGS[finding]


def test_tolerated_findings_are_accepted() -> None:
    # A unicast destination (keepalived's unicast_peer) and VRRPv2 without authentication
    # data (some senders omit it with auth type 0): findings the watcher reports, which the
    # router accepts.
    vr = VirtualRouter(cfg(priority=50))
    vr.start(0.0)
    unicast = IpHeader(src=PEER, dst=ME, ttl=255)
    assert validate_advert(v3(100), src=PEER, dst=ME, ttl=255) == (Finding.UNICAST_DESTINATION,)
    assert discard_reason([Finding.UNICAST_DESTINATION]) is None
    assert vr.receive_advertisement(v3(100), ip=unicast, now=1.0) == []
    assert vr.get_timer() == 4.0 + 206 / 256
    vr2 = VirtualRouter(cfg(priority=50, version=2))
    vr2.start(0.0)
    short = dataclasses.replace(v2(100, password=None), auth_data=b"")
    assert short.findings() == (Finding.SHORT_AUTH_DATA,)
    assert discard_reason(short.findings()) is None
    assert vr2.receive_advertisement(short, ip=ip(), now=1.0) == []
    assert vr2.get_timer() == 4.0 + 206 / 256


def test_owner_may_send_other_addresses() -> None:
    vr = VirtualRouter(cfg(priority=50))
    vr.start(0.0)
    assert vr.receive_advertisement(v3(255, addrs=(A("192.0.2.9"),)), ip=ip(), now=1.0) == []


@pytest.mark.parametrize(
    ("adv", "reason", "detail"),
    [
        (v2(100, password=b"wrong"), DiscardReason.AUTH_FAILURE, "password does not match"),
        (v2(100, password=None), DiscardReason.AUTH_TYPE_MISMATCH, "auth type 0, ours 1"),
    ],
)
def test_receive_checks_v2_auth(adv: VrrpV2, reason: DiscardReason, detail: str) -> None:
    vr = VirtualRouter(cfg(priority=50, version=2, auth_pass=b"s3cret"))
    vr.start(0.0)
    assert vr.receive_advertisement(adv, ip=ip(), now=1.0) == [
        AdvertisementDiscarded(reason=reason, source=PEER, detail=detail)
    ]


def test_wrong_password_master_leads_to_takeover_not_storm() -> None:
    # A peer whose adverts we cannot accept is, for us, no master at all: we take over once
    # and then simply keep advertising (no flapping).
    vr = VirtualRouter(cfg(priority=50, version=2, auth_pass=b"s3cret"))
    vr.start(0.0)
    changes = []
    t = 0.0
    while t < 20.0:
        changes += [
            a
            for a in vr.receive_advertisement(v2(100, password=b"x"), ip=ip(), now=t)
            if isinstance(a, StateChanged)
        ]
        nxt = vr.get_timer()
        assert nxt is not None
        while nxt <= t + 1.0:
            changes += [a for a in vr.handle_timer(nxt) if isinstance(a, StateChanged)]
            nxt = vr.get_timer()
            assert nxt is not None
        t += 1.0
    assert [c.new for c in changes] == [State.MASTER]


# --- caller misuse --------------------------------------------------------------------------


def test_misuse_raises() -> None:
    vr = VirtualRouter(cfg())
    with pytest.raises(ProtocolError):
        vr.shutdown(0.0)
    vr.start(1.0)
    with pytest.raises(ProtocolError):
        vr.start(1.0)
    with pytest.raises(ProtocolError):
        vr.handle_timer(0.5)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(vrid=0), "VRID"),
        (dict(vrid=256), "VRID"),
        (dict(priority=0), "priority"),
        (dict(priority=256), "priority"),
        (dict(version=2, advertisement_interval_cs=50), "whole seconds"),
        (dict(auth_pass=b"x"), "only in VRRPv2"),
        (dict(addresses=()), "at least one"),
        (dict(addresses=(A("2001:db8::1"),)), "one family"),
    ],
)
def test_config_validation(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        cfg(**kw)


# --- a pair of routers ----------------------------------------------------------------------


def test_pair_election_failover_and_return() -> None:
    hi = cfg(priority=100, primary_address=PEER)
    lo = cfg(priority=50)
    pair = RouterPair(hi, lo)
    pair.start()
    pair.run_until(10.0)
    assert pair.states() == (State.MASTER, State.BACKUP)
    # The master's last advert before its cable is pulled at t=10.2
    last = max(t for t, i, a in pair.log if i == 0 and isinstance(a, SendAdvertisement))
    pair.link[0] = False
    pair.run_until(20.0)
    took = [
        t
        for t, i, a in pair.log
        if i == 1 and isinstance(a, StateChanged) and a.new is State.MASTER
    ]
    assert took == [last + master_down_interval(50, 1.0)]
    # Back: the higher-priority router preempts us.
    pair.link[0] = True
    pair.run_until(30.0)
    assert pair.states() == (State.MASTER, State.BACKUP)
    # Clean shutdown of the master: priority 0 -> takeover after Skew_Time.
    pair._deliver(0, pair.routers[0].shutdown(30.0))
    pair.run_until(40.0)
    took = [
        t
        for t, i, a in pair.log
        if i == 1 and isinstance(a, StateChanged) and a.new is State.MASTER
    ]
    assert took[-1] == 30.0 + skew_time(50, 1.0)
    assert pair.states() == (State.INITIALIZE, State.MASTER)


def test_pair_lower_priority_master_is_preempted() -> None:
    pair = RouterPair(cfg(priority=50, primary_address=PEER), cfg(priority=100))
    pair.routers[0].start(0.0)
    pair.run_until(5.0)
    assert pair.routers[0].state is State.MASTER
    pair._deliver(1, pair.routers[1].start(5.0))
    pair.run_until(15.0)
    assert pair.states() == (State.BACKUP, State.MASTER)


# --- every (state, input) pair ends in a valid state ----------------------------------------

_inputs = st.one_of(
    st.tuples(
        st.just("adv"),
        st.integers(0, 255),
        st.sampled_from([PEER, HIGH_PEER, ME]),
        st.sampled_from([255, 64]),
        st.sampled_from([1, 2]),
    ),
    st.tuples(st.just("timer")),
    st.tuples(st.just("down")),
    st.tuples(st.just("up")),
    st.tuples(st.just("shutdown")),
    st.tuples(st.just("start")),
    # The sync group inputs (keepalived vrrp_sync.c), in any state.
    st.tuples(st.sampled_from(["sync_master", "sync_backup", "sync_fault", "hold"])),
)


@settings(max_examples=300, deadline=None)
@given(
    priority=st.integers(1, 255),
    steps=st.lists(st.tuples(st.floats(0, 3), _inputs), max_size=40),
)
def test_state_machine_stays_valid(priority: int, steps: list) -> None:
    vr = VirtualRouter(cfg(priority=priority))
    now = 0.0
    vr.start(now)
    have_addresses = vr.state is State.MASTER
    for delta, inp in steps:
        now += delta
        kind = inp[0]
        try:
            if kind == "adv":
                _, prio, src, ttl, vrid = inp
                out = vr.receive_advertisement(v3(prio, vrid=vrid), ip=ip(src, ttl), now=now)
            elif kind == "timer":
                t = vr.get_timer()
                out = vr.handle_timer(max(now, t) if t is not None else now)
                now = max(now, t) if t is not None else now
            elif kind == "down":
                out = vr.link_down(now)
            elif kind == "up":
                out = vr.link_up(now)
            elif kind == "shutdown":
                out = vr.shutdown(now)
            elif kind == "hold":
                vr.hold_master(now)
                out = []
            elif kind.startswith("sync_"):
                out = getattr(vr, kind)(now)
            else:
                out = vr.start(now)
        except ProtocolError:
            assert kind in ("start", "shutdown")
            continue
        for act in out:
            if isinstance(act, StateChanged):
                assert act.cause in TRANSITIONS[(act.old, act.new)]
            elif isinstance(act, AddAddresses):
                assert not have_addresses
                have_addresses = True
            elif isinstance(act, RemoveAddresses):
                assert have_addresses
                have_addresses = False
        assert vr.state in State
        assert have_addresses == (vr.state is State.MASTER)
        timer = vr.get_timer()
        if vr.state in (State.BACKUP, State.MASTER):
            # A pending deadline (it may be overdue: only handle_timer consumes it).
            assert timer is not None
        if vr.state in (State.INITIALIZE, State.FAULT):
            assert timer is None


@settings(max_examples=100, deadline=None)
@given(
    prios=st.lists(st.integers(1, 254), min_size=2, max_size=2, unique=True),
    version=st.sampled_from([2, 3]),
    cuts=st.lists(st.tuples(st.floats(0, 30), st.integers(0, 1), st.booleans()), max_size=6),
)
def test_pair_converges_to_the_highest_priority(
    prios: list[int], version: int, cuts: list[tuple[float, int, bool]]
) -> None:
    """Whatever the cable cuts, once both links are up the higher priority ends up the only
    master, and each router changes state a bounded number of times (no storm)."""
    a = cfg(priority=prios[0], primary_address=PEER, version=version)
    b = cfg(priority=prios[1], version=version)
    pair = RouterPair(a, b)
    pair.start()
    for t, which, up in sorted(cuts):
        pair.run_until(t)
        pair.link[which] = up
    pair.run_until(31.0)
    pair.link = [True, True]
    pair.run_until(45.0)
    winner = 0 if prios[0] > prios[1] else 1
    expected = [State.BACKUP, State.BACKUP]
    expected[winner] = State.MASTER
    assert list(pair.states()) == expected
    changes = [a for _, _, a in pair.log if isinstance(a, StateChanged)]
    assert len(changes) <= 4 + 2 * len(cuts)
