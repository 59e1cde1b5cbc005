"""keepalived's tracking rules (vrrp_track.c, vrrp_scheduler.c), pure."""

from __future__ import annotations

import pytest

from vrrpwatch.join.tracking import (
    Kind,
    ScriptCounter,
    Tracked,
    Tracking,
    applied_weight,
    clamp_priority,
    faults,
    file_effect,
)


@pytest.mark.parametrize(
    ("weight", "reverse", "good", "added"),
    [
        (10, False, True, 10),  # positive: added while good
        (10, False, False, 0),
        (-10, False, False, -10),  # negative: subtracted while bad
        (-10, False, True, 0),
        (10, True, True, -10),  # reverse: the weight times -1
        (-10, True, False, 10),
        (0, False, False, 0),
    ],
)
def test_applied_weight(weight: int, reverse: bool, good: bool, added: int) -> None:
    assert applied_weight(weight, reverse, good) == added


def test_weight_zero_faults_while_bad() -> None:
    assert faults(0, False, False) and not faults(0, False, True)
    assert faults(0, True, True) and not faults(0, True, False)
    assert not faults(-5, False, False)


def test_clamp_and_owner() -> None:
    assert clamp_priority(100, -200) == 1
    assert clamp_priority(100, 200) == 254
    assert clamp_priority(100, -20) == 80
    assert clamp_priority(255, -100) == 255


def test_file_effect() -> None:
    assert file_effect(0, 0) == 0
    assert file_effect(0, 3) is None  # weight 0: non-zero is FAULT
    assert file_effect(1, -20) == -20
    assert file_effect(2, 200) == 253
    assert file_effect(1, -254) is None
    assert file_effect(-3, 100) is None  # -300 clamps to -254: FAULT


def test_counter_first_result_is_always_reported() -> None:
    c = ScriptCounter(rise=3, fall=2)
    assert c.record(True) is True  # one success is enough at start
    c = ScriptCounter(rise=3, fall=2)
    assert c.record(False) is False


def test_counter_fall_then_rise() -> None:
    c = ScriptCounter(rise=2, fall=3)
    assert c.record(True) is True and c.good
    assert c.record(False) is None  # 1st failure of 3
    assert c.record(False) is None
    assert c.record(True) is None  # back to the top, still good
    assert [c.record(False) for _ in range(3)] == [None, None, False]
    assert not c.good
    assert c.record(False) is None
    assert c.record(True) is None  # 1st success of 2
    assert c.record(True) is True and c.good


def test_counter_init_fail() -> None:
    c = ScriptCounter(rise=2, fall=1, init_fail=True)
    assert c.record(False) is False  # the first result is reported even when already bad
    c = ScriptCounter(rise=2, fall=1, init_fail=True)
    assert c.record(True) is None
    assert c.record(True) is True


def test_tracking_script_weights_and_fault() -> None:
    t = Tracking(
        base_priority=100,
        items=(
            Tracked(kind=Kind.SCRIPT, name="chk_web", weight=-30),
            Tracked(kind=Kind.SCRIPT, name="chk_db", weight=5),
            Tracked(kind=Kind.INTERFACE, name="eth1"),
        ),
    )
    assert (t.priority, t.fault) == (100, False)  # nothing known yet: nothing applied
    ch = t.update(Kind.SCRIPT, "chk_db", True)
    assert ch is not None and (ch.previous_priority, ch.priority) == (100, 105)
    assert ch.cause == "script chk_db succeeded"
    assert t.update(Kind.SCRIPT, "chk_db", True) is None
    ch = t.update(Kind.SCRIPT, "chk_web", False)
    assert ch is not None and ch.priority == 75 and not ch.fault
    assert t.update(Kind.INTERFACE, "eth1", True) is None  # up: no change
    ch = t.update(Kind.INTERFACE, "eth1", False)
    assert ch is not None and ch.fault and ch.fault_changed and not ch.priority_changed
    assert t.fault_causes() == ["interface eth1 down"]
    ch = t.update(Kind.INTERFACE, "eth1", True)
    assert ch is not None and not ch.fault


def test_tracking_owner_keeps_255_but_faults() -> None:
    t = Tracking(
        base_priority=255,
        items=(
            Tracked(kind=Kind.SCRIPT, name="s", weight=-50),
            Tracked(kind=Kind.INTERFACE, name="eth1"),
        ),
    )
    assert t.update(Kind.SCRIPT, "s", False) is None
    assert t.priority == 255
    ch = t.update(Kind.INTERFACE, "eth1", False)
    assert ch is not None and ch.fault


def test_tracking_file() -> None:
    t = Tracking(base_priority=100, items=(Tracked(kind=Kind.FILE, name="f", weight=2),))
    ch = t.update(Kind.FILE, "f", -10)
    assert ch is not None and ch.priority == 80 and ch.cause == "file f reads -10"
    ch = t.update(Kind.FILE, "f", -127)
    assert ch is not None and ch.fault
