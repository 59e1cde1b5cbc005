"""Several instances in one loop, and a sync group between them, with a FakeClock and fake
transports at exact times (keepalived vrrp_sync.c semantics)."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from dissectors.vrrp import AuthType, VrrpV2, build_vrrp
from tests.helpers import GROUP, MASTER, ME, FakeClock, FakeTransport
from vrrpwatch.join.group import SyncGroup
from vrrpwatch.join.loop import GroupRun, Runtime
from vrrpwatch.join.notify import Notifier, NotifyFifo, NotifyScripts
from vrrpwatch.join.router import RouterConfig, State, VirtualRouter
from vrrpwatch.join.settings import Script
from vrrpwatch.join.transport import LinkChange, Received
from vrrpwatch.join.unit import Unit
from vrrpwatch.rfc import master_down_interval, skew_time

VIP1, VIP2 = ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("198.51.100.2")
MDI = master_down_interval(50, 1.0, version=2)  # 3.8046875
SKEW = skew_time(50, 1.0, version=2)  # 0.8046875

Script_ = list[tuple[float, Received | LinkChange]]


class FakeMux:
    """Delivers the fake transports' scripted items at their times, tagged with the index."""

    def __init__(self, clock: FakeClock, transports: list[FakeTransport]) -> None:
        self.clock = clock
        self.transports = transports

    def wait(self, timeout: float | None) -> list[tuple[int, Received | LinkChange]]:
        due = [t.script[0][0] for t in self.transports if t.script]
        nxt = min(due) if due else None
        if timeout is None and nxt is None:
            raise AssertionError("the runtime would sleep forever")
        wake = self.clock.now + timeout if timeout is not None else float("inf")
        if nxt is None or nxt > wake:
            self.clock.now = wake
            return []
        self.clock.now = max(self.clock.now, nxt)
        out: list[tuple[int, Received | LinkChange]] = []
        for i, t in enumerate(self.transports):
            while t.script and t.script[0][0] <= self.clock.now:
                out.append((i, t.script.popleft()[1]))
        return out


def advert(vrid: int, vip: Any, priority: int = 100) -> Received:
    adv = VrrpV2(
        vrid=vrid,
        priority=priority,
        count_ip_addrs=1,
        auth_type=AuthType.NONE,
        adver_int_s=1,
        addresses=(vip,),
        auth_data=bytes(8),
    )
    return Received(build_vrrp(adv, src=MASTER, dst=GROUP), MASTER, GROUP, 255)


def two_instances(
    script1: Script_,
    script2: Script_,
    *,
    group: bool = True,
    notifiers: tuple[Notifier | None, Notifier | None] = (None, None),
    group_notifier: Notifier | None = None,
    names: tuple[str, str] = ("VI_1", "VI_2"),
) -> tuple[Runtime, list[FakeTransport], FakeClock, list[dict[str, Any]]]:
    clock = FakeClock()
    events: list[dict[str, Any]] = []
    transports = [FakeTransport(clock, script1), FakeTransport(clock, script2)]
    units = []
    for i, (vrid, vip, iface) in enumerate(((1, VIP1, "eth0"), (2, VIP2, "eth1"))):
        config = RouterConfig(
            vrid=vrid, priority=50, primary_address=ME, addresses=(vip,), version=2
        )
        units.append(
            Unit(
                router=VirtualRouter(config),
                transport=transports[i],
                emit=events.append,
                interface=iface,
                instance=names[i],
                clock=clock,
                notify=notifiers[i],
            )
        )
    groups = [GroupRun(SyncGroup("G1", names), group_notifier)] if group else []
    rt = Runtime(units=units, groups=groups, mux=FakeMux(clock, transports), clock=clock)
    return rt, transports, clock, events


def states(events: list[dict[str, Any]], instance: str) -> list[tuple[str, str]]:
    return [
        (e["new"], e["cause"])
        for e in events
        if e["event"] == "state" and e.get("instance") == instance
    ]


def test_without_a_group_each_instance_runs_on_its_own_with_its_name() -> None:
    # VI_1's master falls silent after 3 s, VI_2's goes on: only VI_1 takes over.
    rt, (t1, t2), clock, events = two_instances(
        [(float(t), advert(1, VIP1)) for t in range(4)],
        [(float(t), advert(2, VIP2)) for t in range(12)],
        group=False,
    )
    rt.run(until=lambda: clock.now >= 11.0)
    assert t1.kinds("add") == [(3.0 + MDI, "192.0.2.1/32")]
    assert t2.kinds("add") == []
    assert "(VI_1) Entering MASTER STATE" in [e["message"] for e in events]
    assert all(e["instance"] == "VI_2" for e in events if "(VI_2)" in e["message"])
    assert states(events, "VI_2") == [("BACKUP", "startup"), ("INIT", "shutdown")]


def test_a_sync_group_waits_for_every_member_then_all_take_over_together() -> None:
    # VI_1's master falls silent after 3 s; VI_2's goes on until its priority 0 at 8 s, then
    # comes back at 15 s with priority 100 (the give-back).
    s1: Script_ = [(float(t), advert(1, VIP1)) for t in range(4)]
    s1 += [(float(t), advert(1, VIP1)) for t in range(15, 21)]
    s2: Script_ = [(float(t), advert(2, VIP2)) for t in range(8)] + [(8.0, advert(2, VIP2, 0))]
    rt, (t1, t2), clock, events = two_instances(s1, s2)
    rt.run(until=lambda: clock.now >= 20.0)
    # VI_1 wanted to be master at 3 + MDI but VI_2 still heard its master: held. VI_2's
    # master left at 8 s: after Skew_Time VI_2 wants it too, and both take over at once.
    takeover = 8.0 + SKEW
    assert t1.kinds("add") == [(takeover, "192.0.2.1/32")]
    assert t2.kinds("add") == [(takeover, "198.51.100.2/32")]
    assert states(events, "VI_2")[:2] == [("BACKUP", "startup"), ("MASTER", "master-down-timer")]
    assert states(events, "VI_1")[:2] == [("BACKUP", "startup"), ("MASTER", "sync-group")]
    # Said once while VI_1 waited (its timer restarted at 3 + 2 MDI too), not per restart.
    waits = [e for e in events if e["event"] == "sync-wait"]
    assert [(e["instance"], e["time"] > 0) for e in waits[:1]] == [("VI_1", True)]
    assert waits[0]["message"] == (
        "(VI_1) Master down, staying BACKUP until the other members of sync group G1 want "
        "MASTER too"
    )
    assert len([e for e in waits if e["instance"] == "VI_1"]) == 1
    # At 15 s VI_1 hears a higher priority: both go back to backup, VI_2 with it.
    assert t1.kinds("remove")[0] == (15.0, "192.0.2.1/32")
    assert t2.kinds("remove")[0] == (15.0, "198.51.100.2/32")
    assert states(events, "VI_2")[2] == ("BACKUP", "sync-group")
    groups = [e for e in events if e["event"] == "group-state"]
    assert [(e["old"], e["new"]) for e in groups] == [("BACKUP", "MASTER"), ("MASTER", "BACKUP")]
    assert groups[0]["message"] == "VRRP_Group(G1) Syncing instances to MASTER state"
    # VI_2's master is gone, VI_1's is back: VI_2 wants to be master but is held.
    assert rt.units[1].router.state is State.INITIALIZE  # stopped by run()
    assert [t for t, _ in t2.kinds("add")] == [takeover]


def test_a_fault_in_one_member_puts_the_group_in_fault_until_it_recovers() -> None:
    # No masters: both take over after MDI (the first held until the second wants to).
    rt, (t1, t2), clock, events = two_instances(
        [(5.0, LinkChange(up=False)), (8.0, LinkChange(up=True))], [(30.0, advert(2, VIP2))]
    )
    rt.run(until=lambda: clock.now >= 13.0)
    assert [t for t, _ in t1.kinds("add")] == [MDI, 8.0 + MDI]
    assert [t for t, _ in t2.kinds("add")] == [MDI, 8.0 + MDI]
    # VI_1's link goes at 5 s: VI_2 follows into FAULT with a priority-0 advert (keepalived's
    # vrrp_state_leave_master for a wanted FAULT) and drops its address.
    zero = [t for t, a in t2.kinds("advert") if a.priority == 0]
    assert zero[0] == 5.0 and t2.kinds("remove")[0] == (5.0, "198.51.100.2/32")
    assert not [t for t, _ in t2.kinds("advert") if 5.0 < t < 8.0]
    assert states(events, "VI_2")[2:4] == [("FAULT", "sync-group"), ("BACKUP", "sync-group")]
    assert states(events, "VI_1")[2:4] == [("FAULT", "link-down"), ("BACKUP", "link-up")]
    groups = [(e["old"], e["new"]) for e in events if e["event"] == "group-state"]
    assert groups == [
        ("BACKUP", "MASTER"), ("MASTER", "FAULT"), ("FAULT", "BACKUP"), ("BACKUP", "MASTER")
    ]  # fmt: skip


def _recorder(tmp_path: Path, name: str) -> tuple[Script, Path]:
    out = tmp_path / f"{name}.txt"
    py = tmp_path / f"{name}.py"
    py.write_text(
        "import sys\n"
        f"open({str(out)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n"
    )  # fmt: skip
    return Script((sys.executable, str(py))), out


def test_notify_scripts_and_fifo_lines_as_keepalived_writes_them(tmp_path: Path) -> None:
    master, master_out = _recorder(tmp_path, "master")
    generic, generic_out = _recorder(tmp_path, "notify")
    gnotify, gnotify_out = _recorder(tmp_path, "group")
    fifo = NotifyFifo(tmp_path / "fifo")
    # A name with shell metacharacters: one argument, nothing run.
    evil = "VI_1;$(touch pwned)`id`"
    n1 = Notifier(
        NotifyScripts(master=Script((*master.argv, "a b")), notify=generic),
        evil,
        fifos=[fifo],
    )
    gn = Notifier(NotifyScripts(notify=gnotify), "G1", kind="GROUP", fifos=[fifo])
    rt, _t, clock, events = two_instances(
        [], [], notifiers=(n1, None), group_notifier=gn, names=(evil, "VI_2")
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        rt.run(until=lambda: clock.now >= 5.0)
    finally:
        os.chdir(cwd)
    assert master_out.read_text().splitlines() == ["['a b']"]  # the line's own args only
    assert sorted(generic_out.read_text().splitlines()) == sorted(
        f"['INSTANCE', {evil!r}, {state!r}, '50']" for state in ("BACKUP", "MASTER", "STOP")
    )
    assert sorted(gnotify_out.read_text().splitlines()) == sorted(
        f"['GROUP', 'G1', {state!r}, '0']" for state in ("MASTER", "STOP")
    )
    assert not (tmp_path / "pwned").exists()
    lines = os.read(fifo.fd, 65536).decode().splitlines()
    fifo.close()
    assert lines == [
        f'INSTANCE "{evil}" BACKUP 50',
        f'INSTANCE "{evil}" MASTER 50',
        'GROUP "G1" MASTER 0',
        f'INSTANCE "{evil}" STOP 50',
        'GROUP "G1" STOP 0',
    ]
    assert not [e for e in events if e["event"] == "notify-error"]


def test_metrics_have_one_series_per_instance() -> None:
    from vrrpwatch.ops.join import JoinCollector

    rt, _t, clock, _events = two_instances([(float(t), advert(1, VIP1)) for t in range(8)], [])
    rt.run(until=lambda: clock.now >= 6.0)
    families = {m.name: m for m in JoinCollector("VI_1", rt).collect()}
    received = {
        s.labels["instance"]: s.value
        for s in families["vrrpwatch_join_adverts_received"].samples
        if s.name.endswith("_total")
    }
    assert received == {"VI_1": 7.0, "VI_2": 0.0}
    state = {
        (s.labels["instance"], s.labels["state"])
        for s in families["vrrpwatch_join_state"].samples
        if s.value == 1
    }
    assert state == {("VI_1", "initialize"), ("VI_2", "initialize")}  # stopped by run()


def test_a_notify_script_runs_as_the_user_of_its_line() -> None:
    import pwd
    import shutil
    import tempfile

    import pytest

    if os.geteuid() != 0 or not Path("/usr/bin/python3").exists():
        pytest.skip("running a script as another user needs root (and /usr/bin/python3)")
    where = Path(tempfile.mkdtemp(prefix="vw-notify-"))
    try:
        where.chmod(0o777)
        out = where / "ids.txt"
        ids = "repr((os.getuid(), os.getgid(), os.getgroups()))"
        code = f"import os; open({str(out)!r}, 'w').write({ids})"
        nobody = pwd.getpwnam("nobody")
        script = Script(("/usr/bin/python3", "-c", code), "nobody")
        n = Notifier(NotifyScripts(backup=script), "VI_1")
        assert n.run(State.BACKUP, 50) == []
        n.reap(wait=True)
        # nobody's own group, no supplementary groups: never root's.
        assert out.read_text() == repr((nobody.pw_uid, nobody.pw_gid, []))
    finally:
        shutil.rmtree(where)
    bad = Notifier(NotifyScripts(backup=Script(("/bin/true",), "no-such-user-here")), "VI_1")
    ((program, exc),) = bad.run(State.BACKUP, 50)
    assert program == "/bin/true" and "no-such-user-here" in str(exc)


def test_a_reload_keeps_the_unchanged_stops_the_removed_and_starts_the_added() -> None:
    """What SIGHUP does to the loop (setup._Reload decides which units): VI_1 goes on without
    missing an advert, VI_2 leaves with its priority 0, VI_3 starts and takes over."""
    rt, (t1, t2), clock, events = two_instances([], [], group=False)
    t3 = FakeTransport(clock, [])
    config = RouterConfig(vrid=3, priority=50, primary_address=ME, addresses=(VIP1,), version=2)
    vi3 = Unit(
        router=VirtualRouter(config), transport=t3, emit=events.append, clock=clock, instance="VI_3"
    )

    def reload(runtime: Runtime) -> None:
        kept, removed = runtime.units
        runtime.stop_units([removed])
        runtime.reconfigure([kept, vi3], [], FakeMux(clock, [t1, t3]))

    fired: list[float] = []

    def once(runtime: Runtime) -> None:
        fired.append(clock.now)
        reload(runtime)

    rt.reloader = once
    rt.run(
        until=lambda: (clock.now >= 10.0 and not fired and rt.request_reload()) or clock.now >= 20.0
    )  # type: ignore[func-returns-value]
    assert len(fired) == 1
    sent1 = [t for t, a in t1.kinds("advert") if a.priority == 50]
    gaps = [b - a for a, b in zip(sent1, sent1[1:], strict=False)]
    assert sent1[0] == MDI and all(g == 1.0 for g in gaps) and sent1[-1] > 19.0
    zero2 = [t for t, a in t2.kinds("advert") if a.priority == 0]
    assert zero2 == [fired[0]] and t2.kinds("remove") == [(fired[0], "198.51.100.2/32")]
    assert [t for t, _ in t3.kinds("add")] == [fired[0] + MDI]
    assert states(events, "VI_3")[:2] == [("BACKUP", "startup"), ("MASTER", "master-down-timer")]
