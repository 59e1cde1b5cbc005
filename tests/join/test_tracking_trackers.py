"""``Trackers`` with real scripts (short ones) and fake files: results, security, users."""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ME, VIP
from vrrpwatch.join.router import RouterConfig, State, VirtualRouter
from vrrpwatch.join.trackers import ScriptSetup, Trackers, TrackingSetup
from vrrpwatch.join.tracking import Kind, Tracked


def router(priority: int = 100) -> VirtualRouter:
    vr = VirtualRouter(
        RouterConfig(vrid=1, priority=priority, primary_address=ME, addresses=(VIP,))
    )
    return vr


def make(
    scripts: tuple[ScriptSetup, ...],
    weights: dict[str, int],
    *,
    security: bool = False,
    files: tuple[tuple[str, str], ...] = (),
    read_file: Any = None,
) -> tuple[Trackers, list[tuple[str, str, dict[str, Any]]]]:
    lines: list[tuple[str, str, dict[str, Any]]] = []
    items = tuple(Tracked(kind=Kind.SCRIPT, name=s.name, weight=weights[s.name]) for s in scripts)
    items += tuple(Tracked(kind=Kind.FILE, name=n, weight=weights[n]) for n, _ in files)
    setup = TrackingSetup(items=items, scripts=scripts, files=files, script_security=security)
    kw: dict[str, Any] = {} if read_file is None else {"read_file": read_file}
    t = Trackers(setup=setup, base_priority=100, **kw)
    t.log = lambda kind, message, **fields: lines.append((kind, message, fields))
    return t, lines


def drive(t: Trackers, vr: VirtualRouter, seconds: float) -> list[Any]:
    now = time.monotonic()
    actions = t.start(now, vr)
    end = now + seconds
    while time.monotonic() < end:
        deadline = t.deadline()
        assert deadline is not None
        time.sleep(max(0.0, min(deadline, end) - time.monotonic()))
        actions += t.poll(time.monotonic(), vr)
    t.stop()
    return actions


def test_failing_script_with_negative_weight_lowers_the_priority() -> None:
    spec = ScriptSetup(name="chk", text="/bin/false", interval_s=0.2, timeout_s=1.0)
    t, lines = make((spec,), {"chk": -30})
    vr = router()
    vr.start(time.monotonic())
    drive(t, vr, 0.5)
    assert vr.config.priority == 70
    prio = [f for k, _, f in lines if k == "priority"]
    assert prio == [
        {
            "effective_priority": 70,
            "previous_priority": 100,
            "base_priority": 100,
            "cause": "script chk failed",
        }
    ]
    msgs = [m for _, m, _ in lines]
    assert "VRRP_Script(chk) failed (exited with status 1)" in msgs
    # Reported once (on the change), not on every failed run.
    assert msgs.count("VRRP_Script(chk) failed (exited with status 1)") == 1


def test_weight_zero_script_failure_is_fault() -> None:
    spec = ScriptSetup(name="chk", text="/bin/false", interval_s=0.2, timeout_s=1.0)
    t, lines = make((spec,), {"chk": 0})
    vr = router()
    vr.start(time.monotonic())
    drive(t, vr, 0.3)
    assert vr.state is State.FAULT
    assert ("track", "Tracking fault: script chk failed") in [(k, m) for k, m, _ in lines]


@pytest.mark.skipif(os.geteuid() != 0, reason="the security check is for scripts run as root")
def test_insecure_script_is_disabled_under_script_security(tmp_path: Path) -> None:
    script = tmp_path / "chk"
    script.write_text("#!/bin/sh\nexit 1\n")
    os.chmod(script, 0o777)
    spec = ScriptSetup(name="chk", text=str(script), interval_s=0.2, timeout_s=1.0, user="root")
    t, lines = make((spec,), {"chk": -30}, security=True)
    vr = router()
    vr.start(time.monotonic())
    drive(t, vr, 0.3)
    assert vr.config.priority == 100 and not t.runners
    warnings = [m for k, m, _ in lines if k == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("Disabling track script chk: unsafe")


def test_without_script_security_join_warns_as_keepalived() -> None:
    spec = ScriptSetup(name="chk", text="/bin/true", interval_s=0.2, timeout_s=1.0)
    t, lines = make((spec,), {"chk": 10})
    vr = router()
    drive(t, vr, 0.1)
    assert vr.config.priority == 110
    assert any("script_security is not enabled" in m for k, m, _ in lines if k == "warning")


def test_unknown_script_user_disables_the_script() -> None:
    spec = ScriptSetup(
        name="chk", text="/bin/true", interval_s=0.2, timeout_s=1.0, user="no-such-user-vw"
    )
    t, lines = make((spec,), {"chk": 10}, security=True)
    drive(t, router(), 0.1)
    assert not t.runners
    assert [m for k, m, _ in lines if k == "warning"] == [
        "Disabling track script chk: script user 'no-such-user-vw' does not exist"
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another user needs root")
def test_script_runs_as_its_user() -> None:
    nobody = pwd.getpwnam("nobody").pw_uid
    spec = ScriptSetup(
        name="chk",
        text=f"/bin/sh -c 'test $(id -u) -eq {nobody}'",
        interval_s=5.0,
        timeout_s=1.0,
        user="nobody",
    )
    t, _ = make((spec,), {"chk": 10})
    vr = router()
    drive(t, vr, 0.3)
    assert vr.config.priority == 110  # it succeeded: it ran as nobody


def test_track_file_value_times_weight() -> None:
    values = iter([0, -10, -10, -200])
    t, lines = make((), {"tf": 3}, files=(("tf", "/run/x"),), read_file=lambda _: next(values))
    vr = router()
    vr.start(0.0)
    assert t.start(0.0, vr) == [] and vr.config.priority == 100
    t.poll(1.0, vr)
    assert vr.config.priority == 70
    t.poll(2.0, vr)
    t.poll(3.0, vr)  # -600 clamps to -254: FAULT
    assert vr.state is State.FAULT
    assert "Tracked file tf (/run/x) reads -200" in [m for _, m, _ in lines]
