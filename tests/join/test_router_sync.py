"""The router's sync group inputs (keepalived vrrp_sync.c), at fixed times."""

from __future__ import annotations

import ipaddress

from vrrpwatch.join.router import (
    AddAddresses,
    Cause,
    RemoveAddresses,
    RouterConfig,
    SendAdvertisement,
    SendGratuitousArp,
    State,
    StateChanged,
    VirtualRouter,
)

ME = ipaddress.ip_address("192.0.2.254")
VIP = ipaddress.ip_address("192.0.2.1")


def router() -> VirtualRouter:
    vr = VirtualRouter(
        RouterConfig(vrid=1, priority=100, primary_address=ME, addresses=(VIP,), version=3)
    )
    vr.start(0.0)
    return vr


def test_hold_master_restarts_the_timer_and_sync_master_takes_over() -> None:
    vr = router()
    due = vr.get_timer()
    assert due == 3.609375 and not vr.wants_master(3.5) and vr.wants_master(due)
    vr.hold_master(due)
    assert vr.state is State.BACKUP and vr.get_timer() == due + 3.609375
    out = vr.sync_master(4.0)
    assert [type(a) for a in out] == [
        StateChanged,
        SendAdvertisement,
        AddAddresses,
        SendGratuitousArp,
    ]
    assert out[0] == StateChanged(old=State.BACKUP, new=State.MASTER, cause=Cause.SYNC_GROUP)
    assert vr.get_timer() == 5.0  # Adver_Timer
    assert vr.sync_master(4.5) == []  # already master


def test_sync_backup_leaves_master_addresses_first() -> None:
    vr = router()
    vr.sync_master(1.0)
    out = vr.sync_backup(2.0)
    assert out[0] == RemoveAddresses(addresses=(VIP,))
    assert out[1] == StateChanged(old=State.MASTER, new=State.BACKUP, cause=Cause.SYNC_GROUP)
    assert vr.get_timer() == 2.0 + 3.609375
    assert vr.sync_backup(2.5) == []  # already backup


def test_sync_fault_as_master_sends_priority_zero_and_waits_for_sync_backup() -> None:
    vr = router()
    vr.sync_master(1.0)
    out = vr.sync_fault(2.0)
    assert out[0] == RemoveAddresses(addresses=(VIP,))
    assert isinstance(out[1], SendAdvertisement) and out[1].advertisement.priority == 0
    assert out[2] == StateChanged(old=State.MASTER, new=State.FAULT, cause=Cause.SYNC_GROUP)
    assert vr.get_timer() is None and vr.sync_fault(2.5) == []
    # Its own link goes down meanwhile: the group's release does not bring it back.
    vr.link_down(3.0)
    assert vr.sync_backup(4.0) == [] and vr.state is State.FAULT
    back = vr.link_up(5.0)
    assert back[-1] == StateChanged(old=State.FAULT, new=State.BACKUP, cause=Cause.LINK_UP)


def test_sync_fault_as_backup_then_back() -> None:
    vr = router()
    assert vr.sync_fault(1.0) == [
        StateChanged(old=State.BACKUP, new=State.FAULT, cause=Cause.SYNC_GROUP)
    ]
    assert vr.sync_backup(2.0) == [
        StateChanged(old=State.FAULT, new=State.BACKUP, cause=Cause.SYNC_GROUP)
    ]
    assert vr.get_timer() == 2.0 + 3.609375
