"""keepalived's ``vrrp_sync_group``: the members of a group change state together.

A pure rule, no I/O: the loop tells a ``SyncGroup`` what its members did (``changed``) and asks
it before a member becomes Master on its own (``may_become_master``); the group answers with
what the other members must do (``Sync`` commands, carried out through the router's sync
inputs) and whether the group itself changed state (``GroupChanged``, for its notify scripts).

The rules, as keepalived 2.x implements them (keepalived/vrrp/vrrp_sync.c, vrrp.c):

* A member whose Master_Down_Timer runs out becomes Master only when the group is already
  Master, or when every other member wants to be Master too (``vrrp_sync_can_goto_master``:
  "prefer backup state to avoid thrashing"); otherwise it stays Backup, remembers that it
  wants to be Master, and restarts its timer. A member stops wanting it when it hears a
  master it accepts again.
* A member that becomes Master takes the others with it (``vrrp_sync_master``); the group is
  Master.
* A member that goes back to Backup takes the Masters with it (``vrrp_sync_backup``); the
  group is Backup.
* A member in a fault of its own (its interface down, a failed tracker) puts every other
  member in Fault (``vrrp_sync_fault``, a Master leaving with a priority-0 advert); the group is
  Fault. The group leaves Fault only when no member has a fault of its own any more
  (keepalived counts them, ``num_member_fault``); a member whose own fault ends while another
  member's goes on is put back in Fault.

A state change the group itself caused (``Cause.SYNC_GROUP``) is not a member's own: it moves
no one else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vrrpwatch.join.router import Cause, State

__all__ = ["GroupChanged", "Sync", "SyncGroup", "groups_of"]


@dataclass(frozen=True, slots=True)
class Sync:
    """Member ``member`` must move to ``state`` (MASTER, BACKUP or FAULT)."""

    member: str
    state: State


@dataclass(frozen=True, slots=True)
class GroupChanged:
    group: str
    old: State
    new: State


@dataclass
class SyncGroup:
    name: str
    members: tuple[str, ...]
    # keepalived's GROUP_STATE: BACKUP until a member becomes Master or faults.
    state: State = State.BACKUP
    _states: dict[str, State] = field(default_factory=dict, init=False)
    _own_fault: set[str] = field(default_factory=set, init=False)
    _wants_master: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if len(set(self.members)) != len(self.members) or len(self.members) < 2:
            raise ValueError(f"sync group {self.name} needs two or more distinct members")
        self._states = dict.fromkeys(self.members, State.INITIALIZE)

    def seed(self, states: dict[str, State]) -> None:
        """A group made on a reload around members already running: their states, and the
        group's (Master when they all are, Fault when one is, else Backup)."""
        self._states.update((m, s) for m, s in states.items() if m in self._states)
        running = [self._states[m] for m in self.members if self._states[m] is not State.INITIALIZE]
        if running and all(s is State.MASTER for s in running):
            self.state = State.MASTER
        elif any(s is State.FAULT for s in running):
            self.state = State.FAULT
            self._own_fault |= {m for m in self.members if self._states[m] is State.FAULT}

    def member_state(self, member: str) -> State:
        return self._states[member]

    def may_become_master(self, member: str) -> bool:
        """May ``member``, whose Master_Down_Timer ran out, become Master now? When not, it
        is remembered as wanting to (``vrrp_sync_can_goto_master``)."""
        if self.state is State.MASTER:
            return True
        others = [m for m in self.members if m != member]
        if all(m in self._wants_master for m in others):
            return True
        self._wants_master.add(member)
        return False

    def master_heard(self, member: str) -> None:
        """``member`` accepted a master's advertisement: it no longer wants to be Master."""
        self._wants_master.discard(member)

    def changed(
        self, member: str, old: State, new: State, cause: Cause
    ) -> tuple[list[Sync], list[GroupChanged]]:
        """``member`` went from ``old`` to ``new``: what the others must do, and the group's
        own change (if any)."""
        self._states[member] = new
        if new is not State.MASTER:
            self._wants_master.discard(member)
        if cause is Cause.SYNC_GROUP or new is State.INITIALIZE:
            return [], []
        if new is State.FAULT:
            self._own_fault.add(member)
            return self._move(member, State.FAULT)
        if old is State.FAULT:
            self._own_fault.discard(member)
        if self._own_fault:
            # Another member's own fault goes on: this one is in Fault too (keepalived keeps
            # a member there until no member of its group has a fault of its own).
            return [Sync(member, State.FAULT)], []
        if old is State.INITIALIZE and new is State.BACKUP and self.state is State.MASTER:
            return [Sync(member, State.MASTER)], []  # started while the group is Master
        if new is State.MASTER:
            self._wants_master.clear()
            return self._move(member, State.MASTER)
        if new is State.BACKUP and old in (State.MASTER, State.FAULT):
            return self._move(member, State.BACKUP)
        return [], []

    def _move(self, member: str, state: State) -> tuple[list[Sync], list[GroupChanged]]:
        syncs = [
            Sync(m, state)
            for m in self.members
            if m != member and self._movable(self._states[m], state)
        ]
        if self.state is state:
            return syncs, []
        old, self.state = self.state, state
        return syncs, [GroupChanged(self.name, old, state)]

    @staticmethod
    def _movable(current: State, target: State) -> bool:
        if current is target or current is State.INITIALIZE:
            return False
        # A member in Fault cannot be taken to Master (keepalived: its wantstate is FAULT).
        return not (target is State.MASTER and current is State.FAULT)


def groups_of(groups: Sequence[SyncGroup]) -> dict[str, SyncGroup]:
    """Member name -> its group (keepalived: an instance is in at most one sync group)."""
    out: dict[str, SyncGroup] = {}
    for g in groups:
        for m in g.members:
            if m in out:
                raise ValueError(f"{m} is in sync groups {out[m].name} and {g.name}")
            out[m] = g
    return out
