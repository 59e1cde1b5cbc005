"""The join loop with a FakeClock and a FakeTransport: exact times, no sockets."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import Any

import sqlite_utils

from dissectors.vrrp import VrrpPacket, build_vrrp, parse_vrrp
from tests.helpers import (
    GROUP,
    ME,
    VIP,
    FakeClock,
    FakeTransport,
    rx,
    v2_bytes,
)
from vrrpwatch import netif
from vrrpwatch.join.loop import Runtime
from vrrpwatch.join.router import DiscardReason, RouterConfig, State, VirtualRouter
from vrrpwatch.join.statefile import remove_stale_addresses
from vrrpwatch.join.transport import LinkChange, Received
from vrrpwatch.rfc import master_down_interval, skew_time


def make(
    script: list[tuple[float, Received | LinkChange]],
    *,
    priority: int = 50,
    tmp_path: Path | None = None,
    **kw: Any,
) -> tuple[Runtime, FakeTransport, FakeClock, list[dict[str, Any]]]:
    clock = FakeClock()
    transport = FakeTransport(clock, script)
    events: list[dict[str, Any]] = []
    config = RouterConfig(
        vrid=1,
        priority=priority,
        primary_address=ME,
        addresses=(VIP,),
        version=2,
        auth_pass=b"s3cret",
    )
    rt = Runtime(
        router=VirtualRouter(config),
        transport=transport,
        emit=events.append,
        prefixes={VIP: 24},
        clock=clock,
        state_file=(tmp_path / "state.json") if tmp_path else None,
        **kw,
    )
    return rt, transport, clock, events


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in events]


def test_backup_takes_over_after_master_down_interval(tmp_path: Path) -> None:
    # The master advertises at 0..3 s, then its cable is pulled.
    script: list[tuple[float, Received | LinkChange]] = [
        (float(t), rx(v2_bytes(100))) for t in range(4)
    ]
    rt, tr, clock, events = make(script, tmp_path=tmp_path)
    rt.run(until=lambda: clock.now >= 20.0)
    takeover = 3.0 + master_down_interval(50, 1.0, version=2)
    assert tr.kinds("add") == [(takeover, "192.0.2.1/24")]
    garps = tr.kinds("garp")
    # 5 at once and 5 more after 5 s, as keepalived does.
    assert [t for t, _ in garps] == [takeover] * 5 + [takeover + 5.0] * 5
    adverts = tr.kinds("advert")
    assert [t for t, _ in adverts][:3] == [takeover, takeover + 1.0, takeover + 2.0]
    assert all(a.priority == 50 for _, a in adverts[:-1])
    # Stopped as master at 20 s: priority 0, address removed, state file gone.
    assert adverts[-1][1].priority == 0
    assert tr.kinds("remove") == [(clock.now, "192.0.2.1/24")]
    assert not (tmp_path / "state.json").exists()
    assert "(VI_1) Entering BACKUP STATE" in messages(events)
    assert "(VI_1) Entering MASTER STATE" in messages(events)
    assert "(VI_1) Sending gratuitous ARP on eth0 for 192.0.2.1" in messages(events)
    # What went on the wire decodes as a valid VRRPv2 PASS advert.
    raw = build_vrrp(adverts[0][1], src=ME, dst=GROUP)
    back = parse_vrrp(raw, src=ME, dst=GROUP)
    assert back.password == b"s3cret" and back.priority == 50


def test_priority_zero_takeover_after_skew_time() -> None:
    script: list[tuple[float, Received | LinkChange]] = [
        (0.0, rx(v2_bytes(100))),
        (1.0, rx(v2_bytes(100))),
        (1.5, rx(v2_bytes(0))),
    ]
    rt, tr, clock, _ = make(script)
    rt.run(until=lambda: clock.now >= 5.0)
    assert tr.kinds("add")[0][0] == 1.5 + skew_time(50, 1.0, version=2)


def test_state_file_lists_held_addresses_and_stale_cleanup(tmp_path: Path) -> None:
    rt, tr, clock, events = make([], tmp_path=tmp_path)
    # Stop right after the takeover, before shutdown: a kill -9 would leave this file.
    rt._execute(rt.router.start(0.0))
    clock.now = 4.0
    rt._execute(rt.router.handle_timer(4.0))
    data = json.loads((tmp_path / "state.json").read_text())
    assert data["addresses"] == [["192.0.2.1", 24]]
    # The next run removes what is listed.
    tr2 = FakeTransport(clock, [])
    tr2.addresses.add(VIP)
    found: list[dict[str, Any]] = []
    assert remove_stale_addresses(tmp_path / "state.json", tr2, found.append) == 1
    assert tr2.kinds("remove") == [(4.0, "192.0.2.1/24")]
    assert found[0]["message"].startswith("Removed stale VIP 192.0.2.1/24")
    assert not (tmp_path / "state.json").exists()
    assert remove_stale_addresses(tmp_path / "state.json", tr2, found.append) == 0


def test_owner_keeps_the_address_it_had_before() -> None:
    # Priority 255: the VIP is the interface's own address; shutdown must not remove it.
    clock = FakeClock()
    transport = FakeTransport(clock, [])
    transport.addresses.add(ME)
    events: list[dict[str, Any]] = []
    config = RouterConfig(
        vrid=1, priority=255, primary_address=ME, addresses=(ME,), version=3, garp_delay_s=0
    )
    rt = Runtime(
        router=VirtualRouter(config),
        transport=transport,
        emit=events.append,
        prefixes={ME: 24},
        clock=clock,
    )
    rt.run(until=lambda: clock.now >= 2.0)
    assert transport.kinds("add") == [(0.0, "192.0.2.254/24")]
    assert transport.kinds("remove") == []
    assert ME in transport.addresses
    assert "(VI_1) Keeping 192.0.2.254/24 on eth0: it was there before" in messages(events)


def test_dry_run_sends_nothing_and_touches_no_address(tmp_path: Path) -> None:
    rt, tr, clock, events = make([], dry_run=True, tmp_path=tmp_path)
    rt.run(until=lambda: clock.now >= 10.0)
    assert tr.log == []
    assert not (tmp_path / "state.json").exists()
    msgs = messages(events)
    assert any("Entering MASTER STATE (dry run" in m for m in msgs)
    assert "(VI_1) Would send advert priority 50 (dry run)" in msgs
    assert "(VI_1) Would send advert priority 0 (dry run)" in msgs
    assert "(VI_1) Adding VIP 192.0.2.1/24 on eth0" in msgs
    assert rt.sent_adverts > 5


def test_link_down_enters_fault_and_recovers() -> None:
    script: list[tuple[float, Received | LinkChange]] = [
        (5.0, LinkChange(up=False)),
        (8.0, LinkChange(up=True)),
    ]
    rt, tr, clock, events = make(script)
    rt.run(until=lambda: clock.now >= 9.0)
    md = master_down_interval(50, 1.0, version=2)
    # Back to Backup at 8 s; with no master around it takes over again one MDI later.
    assert [t for t, _ in tr.kinds("add")] == [md, 8.0 + md]
    assert tr.kinds("remove")[0] == (5.0, "192.0.2.1/24")
    # No adverts while in FAULT (5..8 s).
    assert not [t for t, _ in tr.kinds("advert") if 5.0 < t < 8.0]
    msgs = messages(events)
    assert "(VI_1) Entering FAULT STATE" in msgs
    i = msgs.index("(VI_1) Entering FAULT STATE")
    assert "(VI_1) Entering BACKUP STATE" in msgs[i:]
    assert rt.router.state is State.INITIALIZE  # stopped by run()


def test_malformed_and_wrong_password_are_logged_not_fatal() -> None:
    script: list[tuple[float, Received | LinkChange]] = [(0.5, rx(b"\x21\x01"))]
    script += [(float(t), rx(v2_bytes(100, password=b"wrong"))) for t in range(25)]
    rt, tr, clock, events = make(script, priority=50)
    rt.run(until=lambda: clock.now >= 25.0)
    discards = [e for e in events if e["event"] == "discard"]
    assert discards[1]["reason"] == "malformed" and discards[1]["source"] == "192.0.2.253"
    auth = [e for e in discards if e["reason"] == "auth-failure"]
    # Logged once, then again at most every 10 s: no log storm.
    assert [e["count"] for e in auth] == [1, 11, 21]
    assert auth[0]["message"] == (
        "(VI_1) Discarded advert from 192.0.2.253: auth-failure (password does not match)"
        " [1 so far]"
    )
    # Adverts we cannot accept do not hold us back, and we take over once: no flapping.
    states = [e["new"] for e in events if e["event"] == "state"]
    assert states == ["BACKUP", "MASTER", "INIT"]


def test_higher_priority_advert_makes_master_back_off() -> None:
    script: list[tuple[float, Received | LinkChange]] = [(10.0, rx(v2_bytes(100)))]
    rt, tr, clock, events = make(script)
    rt.run(until=lambda: clock.now >= 11.0)
    msgs = messages(events)
    i = msgs.index("(VI_1) Received higher prio advert 100 from 192.0.2.253, ours 50")
    assert msgs[i + 1] == "(VI_1) Entering BACKUP STATE"
    assert tr.kinds("remove")[0] == (10.0, "192.0.2.1/24")


def test_notify_runs_command_with_state(tmp_path: Path) -> None:
    out = tmp_path / "notify.txt"
    script = tmp_path / "notify.py"
    body = f"open({str(out)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')"
    script.write_text("import sys\n" + body + "\n")
    cmd = f"{sys.executable} {script}"
    rt, tr, clock, _ = make([], notify=cmd)
    rt.run(until=lambda: clock.now >= 5.0)
    # Notify commands run in the background (as keepalived's do): their order is not fixed.
    # STOP at shutdown, as keepalived's notify_shutdown.
    assert sorted(out.read_text().splitlines()) == [
        "INSTANCE VI_1 BACKUP 50",
        "INSTANCE VI_1 MASTER 50",
        "INSTANCE VI_1 STOP 50",
    ]


def test_notify_command_that_cannot_run_is_logged_not_fatal(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-notify"
    rt, tr, clock, events = make([], notify=f"{missing} --flag")
    rt.run(until=lambda: clock.now >= 5.0)
    errors = [e["message"] for e in events if e["event"] == "notify-error"]
    assert len(errors) == 3  # BACKUP, MASTER, then STOP
    assert errors[0].startswith(f"(VI_1) Cannot run notify command {missing}: [Errno 2]")
    assert [e["new"] for e in events if e["event"] == "state"] == ["BACKUP", "MASTER", "INIT"]


def test_join_events_table(tmp_path: Path) -> None:
    from vrrpwatch.store.db import open_db
    from vrrpwatch.store.recorder import write_join_event

    db = open_db(tmp_path / "j.db")
    db = open_db(tmp_path / "j.db")  # schema creation is idempotent
    write_join_event(
        db,
        {
            "time": 0.0,
            "event": "state",
            "message": "(VI_1) Entering MASTER STATE",
            "old": "BACKUP",
            "new": "MASTER",
            "cause": "master-down-timer",
            "vrid": 1,
            "priority": 50,
        },
    )
    rows = list(sqlite_utils.Database(str(tmp_path / "j.db"))["join_events"].rows)
    assert rows[0]["new_state"] == "MASTER" and rows[0]["time"] == 0.0  # epoch, as every table


class FailingTransport(FakeTransport):
    def send_advertisement(self, adv: VrrpPacket) -> None:
        raise OSError(1, "Operation not permitted")

    def add_address(self, vip: Any, prefixlen: int) -> bool:
        raise netif.NetifError(f"cannot add {vip}/{prefixlen}: permission denied")


def test_transport_failures_are_logged_not_fatal() -> None:
    rt, _tr, clock, events = make([])
    rt.transport = FailingTransport(clock, [])
    rt.run(until=lambda: clock.now >= 30.0)
    errors = [e["message"] for e in events if e["event"] == "error"]
    # Logged once per kind, again at most every 10 s, and the machine kept running.
    assert errors[:2] == [
        "(VI_1) advert failed: [Errno 1] Operation not permitted",
        "(VI_1) vip-add failed: cannot add 192.0.2.1/24: permission denied",
    ]
    assert 3 <= len(errors) <= 8
    assert rt.router.state is State.INITIALIZE and rt.sent_adverts > 20


def test_a_flood_from_distinct_sources_is_a_bounded_log_and_table() -> None:
    """The red team's flood: bad adverts from ever new IPv6 sources gave a line per source
    (157,605 lines, 51 MB) and a table entry per source for ever. Now: one line, then one
    summary line per reason per 10 s, and a window of at most 100 sources per reason."""
    from dissectors.vrrp import VrrpV3
    from vrrpwatch.join import log as join_log

    vip6, me6 = ipaddress.ip_address("2001:db8::1"), ipaddress.ip_address("fe80::1")
    group6 = ipaddress.ip_address("ff02::12")
    adv = VrrpV3(vrid=1, priority=100, count_ip_addrs=1, addresses=(vip6,), family=6)
    payload = build_vrrp(adv, src=ipaddress.ip_address("fe80::2"), dst=group6)
    n = 30_000  # 2,000/s for 15 s, each from a source not seen before
    script: list[tuple[float, Received | LinkChange]] = [
        (
            i * 15.0 / n,
            Received(payload, ipaddress.ip_address(f"2001:db8:1::{i + 1:x}"), group6, 255),
        )
        for i in range(n)
    ]
    clock = FakeClock()
    events: list[dict[str, Any]] = []
    config = RouterConfig(
        vrid=1, priority=50, primary_address=me6, addresses=(vip6,), version=3, garp_delay_s=0
    )
    rt = Runtime(
        router=VirtualRouter(config),
        transport=FakeTransport(clock, script),
        emit=events.append,
        clock=clock,
    )
    rt.run(until=lambda: clock.now >= 15.0 and not rt.transport.script)  # type: ignore[attr-defined]
    assert rt.router.discards[DiscardReason.BAD_CHECKSUM] == n
    discard_lines = [e for e in events if e["event"] in ("discard", "discard-summary")]
    assert [e["event"] for e in discard_lines] == [
        "discard", "discard-summary", "discard", "discard-summary"
    ]  # fmt: skip
    first, summary = discard_lines[0], discard_lines[1]
    assert first["count"] == 1 and first["source"] == "2001:db8:1::1"
    assert summary["message"] == (
        f"(VI_1) Discarded {summary['discarded']} more adverts: bad-checksum, from 100+ sources"
        f" in 10 s [{summary['count']} so far]"
    )
    assert summary["count"] == summary["discarded"] + 1 and summary["more_sources"]
    assert discard_lines[3]["count"] == n  # the last window, summarised at shutdown
    assert sum(e.get("discarded", 1) for e in discard_lines) == n
    assert join_log.DISCARD_SOURCES_KEPT == 100
    # The bounded table: nothing per source is left once the windows are summarised.
    assert rt._log._discards == {}


def _bad_checksum() -> bytes:
    good = bytearray(v2_bytes(100, src=ipaddress.ip_address("192.0.2.99")))
    good[6] ^= 0xFF
    return bytes(good)


def _flood(start: float, end: float, rate: float) -> list[tuple[float, Received | LinkChange]]:
    bad, src = _bad_checksum(), ipaddress.ip_address("192.0.2.99")
    n = int((end - start) * rate)
    return [(start + i / rate, Received(bad, src, GROUP, 255, start + i / rate)) for i in range(n)]


def _master_adverts(times: range) -> list[tuple[float, Received | LinkChange]]:
    from tests.helpers import MASTER

    return [(float(t), Received(v2_bytes(100), MASTER, GROUP, 255, float(t))) for t in times]


def test_a_flood_the_loop_cannot_keep_up_with_does_not_fake_a_dead_master() -> None:
    """Bad adverts for our VRID at four times what the loop can process: the master's adverts
    wait behind them in the queue. They are judged by when they arrived (the kernel's stamp),
    not by when the busy loop reached them, so the backup holds."""
    script = _master_adverts(range(11)) + _flood(0.5, 6.5, 4000.0)
    clock = FakeClock()
    transport = FakeTransport(clock, script, batch=64, cost_s=0.001)
    events: list[dict[str, Any]] = []
    config = RouterConfig(
        vrid=1, priority=50, primary_address=ME, addresses=(VIP,), version=2, auth_pass=b"s3cret"
    )
    rt = Runtime(router=VirtualRouter(config), transport=transport, emit=events.append, clock=clock)
    rt.run(until=lambda: not transport.script and clock.now >= 12.0)
    assert clock.now > 20.0  # it really fell behind
    assert rt.router.discards[DiscardReason.BAD_CHECKSUM] == 24_000
    assert [e["new"] for e in events if e["event"] == "state"] == ["BACKUP", "INIT"]
    assert transport.kinds("advert") == []


def test_the_master_down_judgement_is_on_time_under_a_flood() -> None:
    """The master's last advert is at 3 s; a flood of bad adverts goes on. The backup takes
    over one Master_Down_Interval after it, not later."""
    script = _master_adverts(range(4)) + _flood(2.5, 8.0, 2000.0)
    clock = FakeClock()
    transport = FakeTransport(clock, script, batch=64, cost_s=0.0001)
    config = RouterConfig(
        vrid=1, priority=50, primary_address=ME, addresses=(VIP,), version=2, auth_pass=b"s3cret"
    )
    rt = Runtime(router=VirtualRouter(config), transport=transport, emit=[].append, clock=clock)
    rt.run(until=lambda: clock.now >= 10.0)
    takeover = transport.kinds("advert")[0][0]
    due = 3.0 + master_down_interval(50, 1.0, version=2)
    assert due <= takeover <= due + 64 * 0.0001 + 0.0002


def test_the_masters_adverts_go_out_on_time_under_a_flood() -> None:
    """As master under a flood it cannot keep up with, each advert still leaves on time: the
    loop reads bounded batches and runs its timers in between (RFC 5798 section 6.4.3)."""
    script = _flood(5.0, 9.0, 4000.0)
    clock = FakeClock()
    transport = FakeTransport(clock, script, batch=64, cost_s=0.001)
    rt, _tr, _clock, _events = make([])
    rt.transport, rt.clock = transport, clock
    rt.run(until=lambda: clock.now >= 12.0)
    sent = [t for t, a in transport.kinds("advert") if a.priority == 50]
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert len(sent) >= 7 and all(abs(gap - 1.0) <= 64 * 0.001 for gap in gaps), gaps


def test_leaving_master_drops_the_vip_before_anything_else(tmp_path: Path) -> None:
    """The red team's race: the loser of a double takeover still held the VIP (and its kernel
    answered ARP for it) while it logged, wrote the database and started its notify command.
    Now the address is removed before any line is emitted or any command started."""
    marker = tmp_path / "notify.txt"
    script_py = tmp_path / "notify.py"
    script_py.write_text(f"import sys\nopen({str(marker)!r}, 'a').write(sys.argv[3] + '\\n')\n")
    seen: list[tuple[str, list[str]]] = []
    rt, tr, clock, _events = make(
        [(10.0, rx(v2_bytes(100)))], notify=f"{sys.executable} {script_py}"
    )

    def emit(event: dict[str, Any]) -> None:
        seen.append((event["event"], [x for _, k, x in tr.log if k == "remove"]))

    rt.emit = emit
    rt._log.emit = emit
    rt.run(until=lambda: clock.now >= 10.0)
    i = next(n for n, (kind, _) in enumerate(seen) if kind == "higher-prio")
    # From the higher-priority line on (the state line, the notify command), the address is
    # already gone.
    assert {kind for kind, _ in seen[i:]} >= {"higher-prio", "state"}
    assert all(removed == ["192.0.2.1/24"] for _kind, removed in seen[i:])
    assert [kind for kind, _ in seen[: i + 1]][-2:] == ["vip-remove", "higher-prio"]
