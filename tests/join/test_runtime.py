"""The join runtime loop with a FakeClock and a FakeTransport: exact times, no sockets."""

from __future__ import annotations

import ipaddress
import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from dissectors.vrrp import AuthType, VrrpPacket, VrrpV2, VrrpV3, build_vrrp, parse_vrrp
from tests.helpers import FakeClock, FakeTransport
from vrrpwatch import netif
from vrrpwatch.join.router import RouterConfig, State, VirtualRouter
from vrrpwatch.join.runtime import (
    JoinError,
    JoinOptions,
    Learnt,
    LinkChange,
    Received,
    Runtime,
    build_config,
    check_options,
    learn_group,
    remove_stale_addresses,
)
from vrrpwatch.rfc import master_down_interval, skew_time

A = ipaddress.ip_address
VIP = A("192.0.2.1")
ME = A("192.0.2.254")
MASTER = A("192.0.2.253")
GROUP = A("224.0.0.18")


def v2_bytes(priority: int, password: bytes = b"s3cret", src: Any = MASTER) -> bytes:
    adv = VrrpV2(
        vrid=1,
        priority=priority,
        count_ip_addrs=1,
        auth_type=AuthType.SIMPLE,
        adver_int_s=1,
        addresses=(VIP,),
        auth_data=password.ljust(8, b"\x00"),
    )
    return build_vrrp(adv, src=src, dst=GROUP)


def rx(payload: bytes, src: Any = MASTER, ttl: int = 255) -> Received:
    return Received(payload, src, GROUP, ttl)


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
    assert sorted(out.read_text().splitlines()) == [
        "INSTANCE VI_1 BACKUP 50",
        "INSTANCE VI_1 MASTER 50",
    ]


def test_learn_group_picks_our_vrid_and_times_out() -> None:
    other = VrrpV3(vrid=7, priority=100, count_ip_addrs=1, addresses=(VIP,))
    ours = VrrpV3(vrid=1, priority=100, count_ip_addrs=1, max_adver_int_cs=10, addresses=(VIP,))
    script: list[tuple[float, Received | LinkChange]] = [
        (0.1, rx(build_vrrp(other, src=MASTER, dst=GROUP))),
        (0.2, rx(build_vrrp(ours, src=MASTER, dst=GROUP), ttl=64)),
        (0.3, rx(build_vrrp(ours, src=MASTER, dst=GROUP))),
    ]
    clock = FakeClock()
    learnt = learn_group(FakeTransport(clock, script), 1, 5.0, clock=clock)
    assert learnt == Learnt(ours, MASTER)
    assert clock.now == 0.3
    assert learn_group(FakeTransport(clock, []), 1, 2.0, clock=clock) is None
    assert clock.now == 2.3


def iface(*addrs: str) -> netif.Interface:
    parsed = []
    for a in addrs:
        i = ipaddress.ip_interface(a)
        parsed.append((i.ip, i.network.prefixlen))
    return netif.Interface(name="eth0", index=2, mac=b"\x02" * 6, up=True, addresses=tuple(parsed))


def test_build_config_from_learnt_v2_pass() -> None:
    adv = parse_vrrp(v2_bytes(100), src=MASTER, dst=GROUP)
    cfg, prefixes = build_config(
        JoinOptions(vrid=1, priority=50), iface("192.0.2.254/24", "fe80::1/64"), Learnt(adv, MASTER)
    )
    assert cfg.version == 2 and cfg.auth_pass == b"s3cret"
    assert cfg.addresses == (VIP,) and cfg.primary_address == ME
    assert cfg.advertisement_interval_cs == 100 and cfg.preempt_mode
    assert prefixes == {VIP: 24}


def test_build_config_v3_ipv6_learnt_and_overrides() -> None:
    vip6 = A("2001:db8::1")
    adv = VrrpV3(
        vrid=1, priority=100, count_ip_addrs=1, max_adver_int_cs=10, addresses=(vip6,), family=6
    )
    cfg, prefixes = build_config(
        JoinOptions(vrid=1, priority=50),
        iface("192.0.2.254/24", "fe80::2/64", "2001:db8::2/64"),
        Learnt(adv, A("fe80::1")),
    )
    assert cfg.version == 3 and cfg.advertisement_interval_cs == 10
    assert cfg.primary_address == A("fe80::2") and prefixes == {vip6: 64}
    # --vip outside every subnet gets a host prefix; flags win over what was learnt.
    cfg, prefixes = build_config(
        JoinOptions(vrid=1, priority=50, vips=("203.0.113.9",), version=3, advert_int_s=0.5),
        iface("192.0.2.254/24"),
        None,
    )
    assert prefixes == {A("203.0.113.9"): 32}
    assert cfg.version == 3 and cfg.advertisement_interval_cs == 50


@pytest.mark.parametrize(
    ("opts", "iface_addrs", "msg"),
    [
        (JoinOptions(vrid=1, priority=255, vips=("192.0.2.1",)), ("192.0.2.254/24",), "owner"),
        (
            JoinOptions(vrid=1, priority=50, vips=("2001:db8::1",)),
            ("192.0.2.254/24",),
            "link-local",
        ),
        (JoinOptions(vrid=1, priority=50, vips=("x",)), ("192.0.2.254/24",), "not an IP"),
        (JoinOptions(vrid=1, priority=50), ("192.0.2.254/24",), "no virtual address"),
        (
            JoinOptions(vrid=1, priority=50, vips=("2001:db8::1",), version=2),
            ("fe80::1/64",),
            "IPv4 only",
        ),
    ],
)
def test_build_config_errors(opts: JoinOptions, iface_addrs: tuple[str, ...], msg: str) -> None:
    with pytest.raises(JoinError, match=msg):
        build_config(opts, iface(*iface_addrs), None)


def test_primary_address_is_not_a_left_over_vip() -> None:
    adv = parse_vrrp(v2_bytes(100), src=MASTER, dst=GROUP)
    cfg, _ = build_config(
        JoinOptions(vrid=1, priority=50),
        iface("192.0.2.1/24", "192.0.2.254/24"),  # a killed run's VIP listed first
        Learnt(adv, MASTER),
    )
    assert cfg.primary_address == ME


def test_owner_priority_accepted_when_vip_is_ours() -> None:
    cfg, _ = build_config(
        JoinOptions(vrid=1, priority=255, vips=("192.0.2.254",)), iface("192.0.2.254/24"), None
    )
    assert cfg.priority == 255


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(vrid=0, priority=50), "invalid VRID 0"),
        (dict(vrid=256, priority=50), "invalid VRID 256"),
        (dict(vrid=1, priority=0), "invalid priority 0"),
        (dict(vrid=1, priority=256), "invalid priority 256"),
    ],
)
def test_check_options(kw: dict[str, int], msg: str) -> None:
    with pytest.raises(JoinError, match=msg):
        check_options(JoinOptions(**kw))


def test_join_events_table(tmp_path: Path) -> None:
    from vrrpwatch.store.db import open_db, write_join_event

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


def test_learn_group_stops_on_request() -> None:
    other = VrrpV3(vrid=7, priority=100, count_ip_addrs=1, addresses=(VIP,))
    clock = FakeClock()
    transport = FakeTransport(clock, [(1.0, rx(build_vrrp(other, src=MASTER, dst=GROUP)))])
    calls = iter([False, True])
    assert learn_group(transport, 1, 5.0, clock=clock, stop=lambda: next(calls)) is None
    assert clock.now == 1.0  # gave up at the first wake-up after the request, not at 5 s


def _newlink(index: int, flags: int, mtype: int = netif.RTM_NEWLINK) -> bytes:
    # struct nlmsghdr + struct ifinfomsg (rtnetlink(7)), host byte order.
    body = struct.pack("=BxHiII", 0, 1, index, flags, 0xFFFFFFFF)
    return struct.pack("=IHHII", 16 + len(body), mtype, 0, 0, 0) + body


def test_link_watcher_reports_changes_of_our_link_only() -> None:
    import socket

    watcher = netif.LinkWatcher(7, up=True)
    watcher.sock.close()
    feed, watcher.sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    watcher.sock.setblocking(False)
    up = netif.IFF_UP | netif.IFF_RUNNING
    assert watcher.read() is None
    feed.send(_newlink(7, up) + _newlink(8, 0))  # still up; another link went down
    assert watcher.read() is None
    feed.send(_newlink(7, netif.IFF_UP))  # carrier lost
    assert watcher.read() is False
    feed.send(_newlink(7, netif.IFF_UP))
    assert watcher.read() is None
    feed.send(_newlink(7, up))
    feed.send(_newlink(7, 0, netif.RTM_DELLINK))
    assert watcher.read() is None  # the latest message wins: down, as before
    feed.send(_newlink(7, up))
    assert watcher.read() is True
    feed.send(_newlink(7, up))
    feed.send(_newlink(7, 0, netif.RTM_DELLINK))
    assert watcher.read() is False
    watcher.close()
    feed.close()


def test_default_state_file_is_per_network_namespace() -> None:
    import os

    from vrrpwatch.join.runtime import default_state_file

    inode = os.stat("/proc/self/ns/net").st_ino
    assert default_state_file("eth0.2", 1, 4) == Path(
        f"/run/vrrpwatch/join-eth0.2-vrid1-ipv4-netns-{inode}.json"
    )
