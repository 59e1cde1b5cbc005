"""keepalived's tracking rules, pure: what a tracked interface, script or file does to an
instance's effective priority and whether it forces FAULT.

Nothing here runs a script or reads an interface: ``join.trackers`` does the I/O and feeds the
results in, ``Tracking.update`` answers with the new effective priority and fault verdict.

The rules are keepalived's (keepalived/vrrp/vrrp_track.c, vrrp_scheduler.c):

* A tracker with **weight 0** puts the instance in FAULT while it is bad (interface down,
  script failed, file non-zero); ``reverse`` turns that round (FAULT while good).
* A **positive weight** is added while the tracker is good, a **negative weight** is added
  (so subtracted) while it is bad (``initialise_track_script_state``,
  ``process_script_update_priority``); ``reverse`` multiplies the weight by -1 (a positive
  weight then subtracts while good, a negative one adds while bad).
* The effective priority is the configured one plus every applied weight, clamped to 1..254
  (``vrrp_set_effective_priority``); an address owner (priority 255) keeps 255 whatever the
  weights, though a weight-0 tracker still puts it in FAULT.
* A script's result goes through keepalived's rise/fall counter (``vrrp_script_child_thread``):
  ``result`` runs from 0 to rise + fall - 1 and the script is good while it is >= rise. It
  starts at rise - 1 (one success makes it good, one failure makes it bad: the first result
  is always reported), or at 0 with ``init_fail``. Until its first result a script changes
  nothing.
* A tracked file holds a number (keepalived's ``process_track_file``: strtol, clamped to
  -254..254; missing or unreadable reads 0). With weight 0 any non-zero value is FAULT;
  otherwise value * weight is added, clamped to -254..253, and -254 is FAULT.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "Kind",
    "ScriptCounter",
    "Tracked",
    "Tracking",
    "TrackingChange",
    "applied_weight",
    "clamp_priority",
    "file_effect",
    "faults",
]

OWNER_PRIORITY = 255


class Kind(enum.StrEnum):
    INTERFACE = "interface"
    SCRIPT = "script"
    FILE = "file"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracked:
    """One line of an instance's track_interface / track_script / track_file block."""

    kind: Kind
    name: str
    weight: int = 0
    reverse: bool = False

    def describe(self, good: bool | int) -> str:
        """How a log line names this tracker's state."""
        if self.kind is Kind.INTERFACE:
            return f"interface {self.name} {'up' if good else 'down'}"
        if self.kind is Kind.SCRIPT:
            return f"script {self.name} {'succeeded' if good else 'failed'}"
        return f"file {self.name} reads {int(good)}"


def applied_weight(weight: int, reverse: bool, good: bool) -> int:
    """What a weighted tracker adds to the priority (keepalived: ``weight * multiplier`` when
    ``(weight > 0) == good``, else nothing)."""
    if weight == 0 or (weight > 0) != good:
        return 0
    return -weight if reverse else weight


def faults(weight: int, reverse: bool, good: bool) -> bool:
    """A weight-0 tracker's verdict: FAULT while bad (``reverse``: while good)."""
    return weight == 0 and good == reverse


def file_effect(weight: int, value: int) -> int | None:
    """A tracked file's contribution (None: FAULT), keepalived's ``update_track_file_status``."""
    value = max(-254, min(254, value))
    if weight == 0:
        return None if value else 0
    status = max(-254, min(253, value * weight))
    return None if status == -254 else status


def clamp_priority(base: int, delta: int) -> int:
    """keepalived's ``vrrp_set_effective_priority``: 1..254, the owner's 255 unchanged."""
    if base == OWNER_PRIORITY:
        return OWNER_PRIORITY
    return max(1, min(OWNER_PRIORITY - 1, base + delta))


@dataclass(slots=True)
class ScriptCounter:
    """keepalived's rise/fall counter for one vrrp_script (``vscript->result``)."""

    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    result: int = field(init=False)
    initial: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ValueError("rise and fall are at least 1")
        # vrrp_init_script: "one success is enough", or "assume failed by config".
        self.result = 0 if self.init_fail else self.rise - 1

    @property
    def good(self) -> bool:
        return self.result >= self.rise

    def record(self, success: bool) -> bool | None:
        """One run's outcome; the script's new state when it changes (else None)."""
        top = self.rise + self.fall - 1
        reported: bool | None = None
        if success:
            if self.result < self.rise - 1:
                self.result += 1
            elif self.result != top:
                if self.result < self.rise:
                    reported = True
                self.result = top
        elif self.result > self.rise:
            self.result -= 1
        else:
            if self.result == self.rise or self.initial:
                reported = False
            self.result = 0
        self.initial = False
        return reported


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingChange:
    """What one update changed; ``cause`` says which tracker, for the log."""

    priority: int
    previous_priority: int
    fault: bool
    previous_fault: bool
    cause: str

    @property
    def priority_changed(self) -> bool:
        return self.priority != self.previous_priority

    @property
    def fault_changed(self) -> bool:
        return self.fault != self.previous_fault


@dataclass(slots=True)
class Tracking:
    """The trackers of one instance and their last known states."""

    base_priority: int
    items: tuple[Tracked, ...] = ()
    # (kind, name) -> good (interfaces, scripts) or the file's value; absent: not known yet.
    _states: dict[tuple[Kind, str], bool | int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.base_priority <= OWNER_PRIORITY:
            raise ValueError(f"priority must be 1..255, not {self.base_priority}")

    @property
    def states(self) -> dict[tuple[Kind, str], bool | int]:
        """The last known state of each tracker (absent: not known yet)."""
        return dict(self._states)

    @property
    def priority(self) -> int:
        delta = 0
        for item in self.items:
            state = self._states.get((item.kind, item.name))
            if state is None:
                continue
            if item.kind is Kind.FILE:
                delta += file_effect(item.weight, int(state)) or 0
            else:
                delta += applied_weight(item.weight, item.reverse, bool(state))
        return clamp_priority(self.base_priority, delta)

    @property
    def fault(self) -> bool:
        return bool(self.fault_causes())

    def fault_causes(self) -> list[str]:
        causes = []
        for item in self.items:
            state = self._states.get((item.kind, item.name))
            if state is None:
                continue
            if item.kind is Kind.FILE:
                bad = file_effect(item.weight, int(state)) is None
            else:
                bad = faults(item.weight, item.reverse, bool(state))
            if bad:
                causes.append(item.describe(state))
        return causes

    def update(self, kind: Kind, name: str, state: bool | int) -> TrackingChange | None:
        """A tracker's new state; the change it makes (None: it changes neither the priority
        nor the fault verdict)."""
        key = (kind, name)
        if key in self._states and self._states[key] == state:
            return None
        old_priority, old_fault = self.priority, self.fault
        self._states[key] = state
        new_priority, new_fault = self.priority, self.fault
        if (new_priority, new_fault) == (old_priority, old_fault):
            return None
        item = next((i for i in self.items if (i.kind, i.name) == key), None)
        cause = item.describe(state) if item is not None else f"{kind} {name}"
        return TrackingChange(
            priority=new_priority,
            previous_priority=old_priority,
            fault=new_fault,
            previous_fault=old_fault,
            cause=cause,
        )
