"""The router's tracking inputs (effective priority, tracker FAULT), at fixed times."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissectors.vrrp import VrrpV3
from tests.helpers import RouterPair
from vrrpwatch.join.router import (
    TRANSITIONS,
    AddAddresses,
    AdvertisementDiscarded,
    Cause,
    IpHeader,
    ProtocolError,
    RemoveAddresses,
    RouterConfig,
    SendAdvertisement,
    SendGratuitousArp,
    State,
    StateChanged,
    VirtualRouter,
)

A = ipaddress.ip_address
VIP = A("192.0.2.1")
ME = A("192.0.2.254")
PEER = A("192.0.2.253")
GROUP = A("224.0.0.18")


def cfg(**kw: object) -> RouterConfig:
    base: dict[str, object] = dict(
        vrid=1, priority=100, primary_address=ME, addresses=(VIP,), version=3
    )
    base.update(kw)
    return RouterConfig(**base)  # type: ignore[arg-type]


def v3(priority: int) -> VrrpV3:
    return VrrpV3(
        vrid=1, priority=priority, count_ip_addrs=1, max_adver_int_cs=100, addresses=(VIP,)
    )


def ip(src: ipaddress.IPv4Address = PEER) -> IpHeader:
    return IpHeader(src=src, dst=GROUP, ttl=255)


def master(**kw: object) -> VirtualRouter:
    vr = VirtualRouter(cfg(**kw))
    vr.start(0.0)
    vr.handle_timer(vr.get_timer() or 0.0)
    assert vr.state is State.MASTER
    return vr


def test_master_advertises_the_new_priority_from_its_next_advert() -> None:
    vr = master()
    assert vr.set_priority(4.0, 90) == []
    assert vr.config.priority == 90
    out = vr.handle_timer(vr.get_timer() or 0.0)
    assert out == [SendAdvertisement(advertisement=v3(90))]


def test_lower_effective_priority_loses_to_the_backup_that_preempts() -> None:
    """join at 100 with a -20 weight drops to 80 under a keepalived backup at 90: the backup's
    adverts (90) now outrank ours, so we go back to Backup at its first advert."""
    vr = master()
    vr.set_priority(4.0, 80)
    out = vr.receive_advertisement(v3(90), ip=ip(), now=4.5)
    assert out[0] == RemoveAddresses(addresses=(VIP,))
    assert out[1] == StateChanged(
        old=State.MASTER,
        new=State.BACKUP,
        cause=Cause.HIGHER_PRIORITY,
        peer=PEER,
        peer_priority=90,
    )


def test_backup_down_timer_moves_by_the_skew_change() -> None:
    vr = VirtualRouter(cfg())
    vr.start(0.0)
    assert vr.get_timer() == 3.609375  # 3 s + (256 - 100) / 256 s
    vr.set_priority(1.0, 228)
    # keepalived: sands moves by the change of ms_down_timer, here (156 - 28) / 256 s earlier.
    assert vr.get_timer() == 3.0 + 28 / 256
    assert vr.master_down_interval == 3.0 + 28 / 256


def test_higher_effective_priority_preempts_a_lower_master() -> None:
    vr = VirtualRouter(cfg())
    vr.start(0.0)
    vr.receive_advertisement(v3(110), ip=ip(), now=1.0)
    vr.set_priority(1.5, 120)
    out = vr.receive_advertisement(v3(110), ip=ip(), now=2.0)
    assert [type(a) for a in out] == [AdvertisementDiscarded]
    deadline = vr.get_timer()
    assert deadline == 1.0 + 3.0 + (256 - 120) / 256
    out = vr.handle_timer(deadline)
    assert out[0] == StateChanged(old=State.BACKUP, new=State.MASTER, cause=Cause.MASTER_DOWN)


def test_owner_priority_never_changes_and_range_is_checked() -> None:
    vr = VirtualRouter(cfg(priority=255))
    with pytest.raises(ProtocolError):
        vr.set_priority(0.0, 254)
    vr = VirtualRouter(cfg())
    for bad in (0, 255):
        with pytest.raises(ProtocolError):
            vr.set_priority(0.0, bad)
    assert vr.set_priority(0.0, 100) == []


def test_track_fault_as_master_releases_with_priority_zero() -> None:
    vr = master()
    out = vr.set_track_fault(5.0, True)
    assert out == [
        RemoveAddresses(addresses=(VIP,)),
        SendAdvertisement(advertisement=v3(0)),
        StateChanged(old=State.MASTER, new=State.FAULT, cause=Cause.TRACK_FAULT),
    ]
    assert vr.get_timer() is None
    assert vr.set_track_fault(5.5, True) == []
    out = vr.set_track_fault(6.0, False)
    assert out == [StateChanged(old=State.FAULT, new=State.BACKUP, cause=Cause.TRACK_RECOVERED)]
    assert vr.get_timer() == 6.0 + 3.609375


def test_track_fault_as_backup_and_before_start() -> None:
    vr = VirtualRouter(cfg())
    vr.start(0.0)
    assert vr.set_track_fault(1.0, True) == [
        StateChanged(old=State.BACKUP, new=State.FAULT, cause=Cause.TRACK_FAULT)
    ]
    vr = VirtualRouter(cfg())
    assert vr.set_track_fault(0.0, True) == []
    assert vr.start(0.0) == [
        StateChanged(old=State.INITIALIZE, new=State.FAULT, cause=Cause.TRACK_FAULT)
    ]


def test_faults_must_all_clear() -> None:
    vr = master()
    vr.set_track_fault(5.0, True)
    assert vr.link_down(6.0) == []
    assert vr.set_track_fault(7.0, False) == []  # our link is still down
    assert vr.state is State.FAULT
    assert vr.link_up(8.0) == [StateChanged(old=State.FAULT, new=State.BACKUP, cause=Cause.LINK_UP)]
    vr.link_down(9.0)
    vr.set_track_fault(9.5, True)
    assert vr.link_up(10.0) == []  # a tracker still holds it
    assert vr.state is State.FAULT


def test_owner_leaves_fault_as_master() -> None:
    vr = VirtualRouter(cfg(priority=255, accept_mode=True))
    vr.start(0.0)
    vr.set_track_fault(1.0, True)
    out = vr.set_track_fault(2.0, False)
    assert out[0] == StateChanged(old=State.FAULT, new=State.MASTER, cause=Cause.OWNER_STARTUP)
    assert AddAddresses(addresses=(VIP,), accept_mode=True) in out
    assert any(isinstance(a, SendGratuitousArp) for a in out)


def test_pair_backup_takes_over_after_skew_on_a_tracker_fault() -> None:
    pair = RouterPair(cfg(priority=100, primary_address=PEER), cfg(priority=50))
    pair.start()
    pair.run_until(10.0)
    assert pair.states() == (State.MASTER, State.BACKUP)
    pair._deliver(0, pair.routers[0].set_track_fault(10.0, True))
    # The backup got the priority-0 advert: Skew_Time (206/256 s) later it is Master.
    pair.run_until(10.0 + 206 / 256)
    assert pair.states() == (State.FAULT, State.MASTER)


_inputs = st.one_of(
    st.tuples(st.just("adv"), st.integers(0, 255)),
    st.tuples(st.just("timer")),
    st.tuples(st.just("down")),
    st.tuples(st.just("up")),
    st.tuples(st.just("fault"), st.booleans()),
    st.tuples(st.just("prio"), st.integers(1, 254)),
)


@settings(max_examples=200, deadline=None)
@given(priority=st.integers(1, 255), steps=st.lists(st.tuples(st.floats(0, 3), _inputs)))
def test_tracking_inputs_keep_the_machine_valid(priority: int, steps: list) -> None:
    vr = VirtualRouter(cfg(priority=priority))
    now = 0.0
    vr.start(now)
    holding = vr.state is State.MASTER
    for delta, inp in steps:
        now += delta
        kind = inp[0]
        if kind == "adv":
            out = vr.receive_advertisement(v3(inp[1]), ip=ip(), now=now)
        elif kind == "timer":
            t = vr.get_timer()
            now = max(now, t) if t is not None else now
            out = vr.handle_timer(now)
        elif kind == "down":
            out = vr.link_down(now)
        elif kind == "up":
            out = vr.link_up(now)
        elif kind == "fault":
            out = vr.set_track_fault(now, inp[1])
        elif vr.is_owner:
            continue
        else:
            out = vr.set_priority(now, inp[1])
        for act in out:
            if isinstance(act, StateChanged):
                assert act.cause in TRANSITIONS[(act.old, act.new)]
            elif isinstance(act, AddAddresses):
                assert not holding
                holding = True
            elif isinstance(act, RemoveAddresses):
                assert holding
                holding = False
        assert holding == (vr.state is State.MASTER)
        assert (vr.get_timer() is None) == (vr.state is State.FAULT)
