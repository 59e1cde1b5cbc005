"""The loop drives the trackers: tracked interfaces and files read on a fake clock, their
verdicts reaching the router (and the wire) at exact times; the config mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import ME, VIP, FakeClock, FakeTransport
from vrrpwatch.join.loop import Runtime
from vrrpwatch.join.router import RouterConfig, VirtualRouter
from vrrpwatch.join.trackers import (
    POLL_S,
    ScriptSetup,
    Trackers,
    TrackingSetup,
    read_track_file,
    tracking_setup,
)
from vrrpwatch.join.tracking import Kind, Tracked
from vrrpwatch.keepalived.config import parse_config


def run(
    items: tuple[Tracked, ...],
    down: dict[str, tuple[float, float]],
    *,
    until: float,
    priority: int = 150,
) -> tuple[FakeTransport, list[dict[str, Any]]]:
    """Run a lone router (it becomes master) whose tracked interface NAME is down in the
    window ``down[NAME]``."""
    clock = FakeClock()
    transport = FakeTransport(clock, [])
    events: list[dict[str, Any]] = []
    config = RouterConfig(
        vrid=1, priority=priority, primary_address=ME, addresses=(VIP,), version=3
    )

    def up(name: str) -> bool:
        start, end = down.get(name, (-1.0, -1.0))
        return not start <= clock.now < end

    trackers = Trackers(setup=TrackingSetup(items=items), base_priority=priority, read_interface=up)
    rt = Runtime(
        router=VirtualRouter(config),
        transport=transport,
        emit=events.append,
        prefixes={VIP: 24},
        clock=clock,
        trackers=trackers,
    )
    rt.run(until=lambda: clock.now >= until)
    return transport, events


def test_tracked_interface_down_faults_and_releases_with_priority_zero() -> None:
    items = (Tracked(kind=Kind.INTERFACE, name="eth1"),)
    tr, events = run(items, {"eth1": (10.0, 12.0)}, until=20.0)
    # Master after Master_Down_Interval (3 s + 106/256 s at priority 150).
    takeover = 3.0 + 106 / 256
    assert tr.kinds("add")[0][0] == takeover
    # Read every POLL_S: the fault is seen at the first read at or after 10 s.
    (removed,) = [t for t, _ in tr.kinds("remove")[:1]]
    assert 10.0 <= removed < 10.0 + POLL_S + 1e-9
    zero = [t for t, a in tr.kinds("advert") if a.priority == 0]
    assert zero[0] == removed
    states = [e["new"] for e in events if e["event"] == "state"]
    assert states[:4] == ["BACKUP", "MASTER", "FAULT", "BACKUP"]
    fault = next(e for e in events if e["event"] == "state" and e["new"] == "FAULT")
    assert fault["cause"] == "tracking-fault"
    msgs = [e["message"] for e in events]
    assert "(VI_1) Tracked interface eth1 is DOWN" in msgs
    assert "(VI_1) Tracking fault: interface eth1 down" in msgs
    # Back up at 12 s: Backup, and Master again Master_Down_Interval later (nobody else).
    back = [t for t, _ in tr.kinds("add")]
    assert len(back) == 2 and 12.0 + takeover <= back[1] < 12.0 + POLL_S + takeover + 1e-9


def test_weighted_interface_changes_the_advertised_priority() -> None:
    items = (Tracked(kind=Kind.INTERFACE, name="eth2", weight=-60),)
    tr, events = run(items, {"eth2": (10.0, 15.0)}, until=20.0)
    prios = {a.priority for t, a in tr.kinds("advert") if 11.0 <= t < 15.0}
    assert prios == {90}
    assert {a.priority for t, a in tr.kinds("advert") if 16.0 <= t < 19.9} == {150}
    changes = [e for e in events if e["event"] == "priority"]
    assert [(e["previous_priority"], e["effective_priority"]) for e in changes] == [
        (150, 90),
        (90, 150),
    ]
    assert changes[0]["cause"] == "interface eth2 down"
    assert changes[0]["base_priority"] == 150
    assert changes[0]["message"] == (
        "(VI_1) Changing effective priority from 150 to 90 (interface eth2 down)"
    )
    # No state change: it stays master (nobody else outranks it).
    assert [e["new"] for e in events if e["event"] == "state"] == ["BACKUP", "MASTER", "INIT"]


def test_interface_down_at_start_starts_in_fault() -> None:
    items = (Tracked(kind=Kind.INTERFACE, name="eth1"),)
    tr, events = run(items, {"eth1": (0.0, 5.0)}, until=6.0)
    states = [(e["old"], e["new"]) for e in events if e["event"] == "state"]
    assert states[0] == ("INIT", "FAULT")
    assert states[1] == ("FAULT", "BACKUP")
    assert tr.kinds("add") == []


def test_read_track_file(tmp_path: Path) -> None:
    f = tmp_path / "prio"
    assert read_track_file(str(f)) == 0  # missing
    for text, value in [
        ("-20\n", -20),
        ("  0x10", 16),
        ("010", 8),
        ("900", 254),
        ("ok", 0),
        ("+7 apples", 7),
    ]:
        f.write_text(text)
        assert read_track_file(str(f)) == value, text


CONF = """\
vrrp_script chk {
    script "/bin/true"
    interval 2
    weight -30
    rise 2
    fall 3
}
vrrp_track_file tf {
    file /run/prio
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    track_interface {
        eth1 weight 10
    }
    track_script {
        chk
        missing
    }
    track_file {
        tf weight -2
    }
}
"""


def test_tracking_setup_from_config(tmp_path: Path) -> None:
    path = tmp_path / "keepalived.conf"
    path.write_text(CONF)
    cfg = parse_config(path)
    setup, warnings = tracking_setup(cfg, cfg.instances[0])
    assert setup is not None
    assert setup.items == (
        Tracked(kind=Kind.INTERFACE, name="eth1", weight=10),
        Tracked(kind=Kind.SCRIPT, name="chk", weight=-30),
        Tracked(kind=Kind.FILE, name="tf", weight=-2),
    )
    assert setup.scripts == (
        ScriptSetup(name="chk", text="/bin/true", interval_s=2, timeout_s=2, rise=2, fall=3),
    )
    assert setup.files == (("tf", "/run/prio"),)
    assert warnings == ["track script missing not found (or has no script): ignored"]


def test_join_options_carry_the_tracking(tmp_path: Path) -> None:
    from vrrpwatch.join.settings import load_join_settings, resolve_options

    path = tmp_path / "keepalived.conf"
    path.write_text(CONF)
    settings = load_join_settings(path)
    assert "track script missing not found (or has no script): ignored" in settings.warnings
    opts = resolve_options({"priority": 120}, settings)
    assert opts.tracking is not None and opts.tracking == settings.tracking
    assert [i.name for i in opts.tracking.items] == ["eth1", "chk", "tf"]
    assert opts.priority == 120  # the flag still overrides: the base the weights apply to
