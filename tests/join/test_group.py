"""The sync group rule (join/group.py), as keepalived's vrrp_sync.c: pure, no loop."""

from __future__ import annotations

import pytest

from vrrpwatch.join.group import GroupChanged, Sync, SyncGroup, groups_of
from vrrpwatch.join.router import Cause, State

B, M, F, INIT = State.BACKUP, State.MASTER, State.FAULT, State.INITIALIZE


def started(*members: str) -> SyncGroup:
    g = SyncGroup("G1", members)
    for m in members:
        assert g.changed(m, INIT, B, Cause.STARTUP) == ([], [])
    return g


def test_a_member_goes_master_only_when_every_other_member_wants_to() -> None:
    g = started("VI_1", "VI_2", "VI_3")
    assert not g.may_become_master("VI_1")  # the others still hear their masters
    assert not g.may_become_master("VI_2")
    # VI_2 hears its master again: it no longer wants to be master.
    g.master_heard("VI_2")
    assert not g.may_become_master("VI_3")  # VI_2 does not want to any more
    assert g.may_become_master("VI_2")  # its timer runs out again: VI_1 and VI_3 want to
    syncs, changes = g.changed("VI_2", B, M, Cause.MASTER_DOWN)
    assert syncs == [Sync("VI_1", M), Sync("VI_3", M)]
    assert changes == [GroupChanged("G1", B, M)]
    assert g.state is M
    # The group is master: the others' own changes to master move no one.
    assert g.changed("VI_1", B, M, Cause.SYNC_GROUP) == ([], [])
    assert g.may_become_master("VI_1")


def test_one_member_back_to_backup_takes_the_masters_with_it() -> None:
    g = started("VI_1", "VI_2")
    g.may_become_master("VI_2")
    assert g.may_become_master("VI_1")
    g.changed("VI_1", B, M, Cause.MASTER_DOWN)
    g.changed("VI_2", B, M, Cause.SYNC_GROUP)
    syncs, changes = g.changed("VI_2", M, B, Cause.HIGHER_PRIORITY)
    assert syncs == [Sync("VI_1", B)] and changes == [GroupChanged("G1", M, B)]
    assert g.changed("VI_1", M, B, Cause.SYNC_GROUP) == ([], [])
    assert not g.may_become_master("VI_1")  # wanting master was forgotten


def test_a_fault_puts_every_member_in_fault_until_no_member_has_its_own() -> None:
    g = started("VI_1", "VI_2", "VI_3")
    syncs, changes = g.changed("VI_1", B, F, Cause.LINK_DOWN)
    assert syncs == [Sync("VI_2", F), Sync("VI_3", F)]
    assert changes == [GroupChanged("G1", B, F)]
    g.changed("VI_2", B, F, Cause.SYNC_GROUP)
    g.changed("VI_3", B, F, Cause.SYNC_GROUP)
    # VI_2's own link goes down too while held in fault (the loop reports FAULT -> FAULT).
    assert g.changed("VI_2", F, F, Cause.LINK_DOWN) == ([], [])
    # VI_1 comes back, VI_2 is still down: VI_1 goes back to fault.
    assert g.changed("VI_1", F, B, Cause.LINK_UP) == ([Sync("VI_1", F)], [])
    g.changed("VI_1", B, F, Cause.SYNC_GROUP)
    # VI_2 comes back: the group leaves fault, every member to backup.
    syncs, changes = g.changed("VI_2", F, B, Cause.LINK_UP)
    assert syncs == [Sync("VI_1", B), Sync("VI_3", B)]
    assert changes == [GroupChanged("G1", F, B)]


def test_a_member_starting_in_a_faulty_group_or_a_master_group_follows() -> None:
    g = SyncGroup("G1", ("VI_1", "VI_2"))
    syncs, changes = g.changed("VI_1", INIT, F, Cause.LINK_DOWN)
    assert syncs == [] and changes == [GroupChanged("G1", B, F)]  # VI_2 not started yet
    assert g.changed("VI_2", INIT, B, Cause.STARTUP) == ([Sync("VI_2", F)], [])
    owner = SyncGroup("G2", ("A", "B"))
    syncs, changes = owner.changed("A", INIT, M, Cause.OWNER_STARTUP)
    assert syncs == [] and changes == [GroupChanged("G2", B, M)]
    assert owner.changed("B", INIT, B, Cause.STARTUP) == ([Sync("B", M)], [])


def test_a_member_in_fault_is_not_taken_to_master_and_shutdown_moves_no_one() -> None:
    g = started("VI_1", "VI_2")
    g.changed("VI_1", B, F, Cause.LINK_DOWN)
    g.changed("VI_2", B, F, Cause.SYNC_GROUP)
    assert g._movable(F, M) is False
    assert g.changed("VI_2", F, INIT, Cause.SHUTDOWN) == ([], [])


def test_groups_need_two_distinct_members_and_a_member_is_in_one_group() -> None:
    with pytest.raises(ValueError, match="two or more"):
        SyncGroup("G", ("VI_1",))
    with pytest.raises(ValueError, match="two or more"):
        SyncGroup("G", ("VI_1", "VI_1"))
    a, b = SyncGroup("A", ("x", "y")), SyncGroup("B", ("y", "z"))
    with pytest.raises(ValueError, match="y is in sync groups A and B"):
        groups_of([a, b])
    assert set(groups_of([a])) == {"x", "y"}
