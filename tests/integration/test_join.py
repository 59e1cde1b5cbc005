"""``vrrpwatch join`` against real keepalived (and FRR) routers in network namespaces.

Timing is measured on a monitor host's capture (one clock for every packet): failover latency
is the time from the old master's last advert (or its priority-0 advert) to join's first one.
"""

from __future__ import annotations

import ipaddress
import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from tests.helpers import VRRPWATCH, Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import (
    Advert,
    Daemon,
    Host,
    Lab,
    LabError,
    pcap_frames,
    read_adverts,
)
from vrrpwatch.rfc import master_down_interval, skew_time

pytestmark = pytest.mark.integration

# Scheduling slack on a shared 2-core machine, on top of the RFC value (the target).
SLACK_S = 0.05
# tcpdump (without --immediate-mode) hands packets over in blocks: wait before stopping it.
CAPTURE_FLUSH_S = 1.2


@pytest.fixture
def vlab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


@pytest.fixture
def vlab_frr(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path, frr=True)


def adverts_from(adverts: list[Advert], src: str) -> list[Advert]:
    return [a for a in adverts if a.src == src]


def neigh_mac(host: Host, ip: str) -> str | None:
    out = host.run(["ip", "neigh", "show", ip, "dev", "eth0"]).stdout
    m = re.search(r"lladdr ([0-9a-f:]{17})", out)
    return m.group(1) if m else None


def announcements(pcap: Path, mac: str) -> list[tuple[float, str, Any]]:
    """Gratuitous ARPs and neighbour advertisements sent from ``mac``: (time, kind, decoded)."""
    from dissectors.arp import parse_arp
    from dissectors.common import DecodeError
    from dissectors.ip import parse_ipv6
    from dissectors.nd import parse_na

    out: list[tuple[float, str, Any]] = []
    want = bytes.fromhex(mac.replace(":", ""))
    for ts, frame in pcap_frames(pcap):
        if frame[6:12] != want:
            continue
        etype = int.from_bytes(frame[12:14], "big")
        try:
            if etype == 0x0806:
                arp = parse_arp(frame[14:])
                if arp.is_gratuitous:
                    out.append((ts, "garp", arp))
            elif etype == 0x86DD:
                ip6, payload = parse_ipv6(frame, 14)
                if ip6.protocol == 58 and payload[:1] == b"\x88":
                    out.append((ts, "na", (ip6, parse_na(payload, src=ip6.src, dst=ip6.dst))))
        except DecodeError:
            continue
    return out


KEEPALIVED_COMPLAINTS = re.compile(
    r"invalid|auth|checksum|ip address associated|address list|mismatch|bad |wrong",
    re.IGNORECASE,
)


def test_join_learns_stays_backup_takes_over_and_gives_back(vlab: Lab, tmp_path: Path) -> None:
    """Interop test 1: keepalived master (100, PASS) + `join --vrid 1 --priority 50`."""
    r1, r2, mon = classic(vlab)
    cap = mon.tcpdump(tmp_path / "t1.pcap")
    k1 = r1.keepalived(
        vrid=1,
        priority=100,
        state="MASTER",
        vips=["192.0.2.1/24"],
        auth_type="PASS",
        auth_pass="s3cret",
    )
    r1.wait_for_address("192.0.2.1", timeout=10)
    assert mon.ping("192.0.2.1")
    db = tmp_path / "join.db"
    j = Join(r2, "--vrid", "1", "--priority", "50", "--db", str(db))
    learnt = j.wait_for(lambda e: e["event"] == "learnt", 5)
    assert learnt["master"] == "192.0.2.253" and learnt["version"] == 2
    warning = j.wait_for(lambda e: e["event"] == "warning", 1)
    assert "IPv4 forwarding is off on eth0" in warning["message"]
    assert learnt["addresses"] == ["192.0.2.1"] and "simple password" in learnt["message"]
    j.wait_state("BACKUP", 3)
    time.sleep(2.5)  # longer than Master_Down_Interval would be without adverts
    assert j.states() == ["BACKUP"] and not r2.has_address("192.0.2.1")

    # Cable pull on the master.
    r1.link_down()
    r2.wait_for_address("192.0.2.1", timeout=6)
    assert mon.ping("192.0.2.1")
    assert neigh_mac(mon, "192.0.2.1") == r2.mac()
    assert "192.0.2.1/24" in [str(a) for a in r2.addresses("eth0")]

    # The master returns and preempts: join goes back to backup and drops the VIP.
    r1.link_up()
    r2.wait_for_address("192.0.2.1", timeout=8, present=False)
    j.wait_for(lambda e: e["event"] == "higher-prio", 2)
    r1.wait_for_address("192.0.2.1", timeout=5)
    time.sleep(1.0)

    # keepalived stopped cleanly: priority 0, join takes over after Skew_Time.
    k1.stop()
    r2.wait_for_address("192.0.2.1", timeout=5)
    time.sleep(0.5)
    assert j.signal(signal.SIGTERM) == 0
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    assert j.states() == ["BACKUP", "MASTER", "BACKUP", "MASTER", "INIT"]

    adv = read_adverts(tmp_path / "t1.pcap")
    mine = adverts_from(adv, "192.0.2.254")
    theirs = adverts_from(adv, "192.0.2.253")
    runs: list[list[Advert]] = []
    for a in mine:
        if runs and a.time - runs[-1][-1].time < 1.5:
            runs[-1].append(a)
        else:
            runs.append([a])
    assert len(runs) == 2, [len(r) for r in runs]
    # Failover 1: master's last advert before the pull -> join's first advert.
    last_before = max(a.time for a in theirs if a.time < runs[0][0].time)
    latency1 = runs[0][0].time - last_before
    mdi = master_down_interval(50, 1.0, version=2)
    assert mdi - 0.01 <= latency1 <= mdi + SLACK_S, latency1
    # Failover 2: keepalived's priority-0 advert -> join's first advert.
    zero = [a for a in theirs if a.packet.priority == 0][-1]
    latency2 = runs[1][0].time - zero.time
    skew = skew_time(50, 1.0, version=2)
    assert skew - 0.01 <= latency2 <= skew + SLACK_S, latency2
    print(
        f"cable pull: {latency1 * 1000:.1f} ms (MDI {mdi * 1000:.1f}); "
        f"priority 0: {latency2 * 1000:.1f} ms (skew {skew * 1000:.1f})"
    )
    # join's adverts: TTL 255, PASS with the learnt password, its last one priority 0.
    assert all(a.ttl == 255 and a.packet.password == b"s3cret" for a in mine)
    assert mine[-1].packet.priority == 0
    assert not r2.has_address("192.0.2.1")
    rows = list(sqlite_utils.Database(db)["join_events"].rows)
    assert [r["new_state"] for r in rows if r["event"] == "state"] == [
        "BACKUP",
        "MASTER",
        "BACKUP",
        "MASTER",
        "INIT",
    ]


def test_join_as_master_keepalived_stays_backup(vlab: Lab, tmp_path: Path) -> None:
    """Interop test 2: join (150, v2 PASS) is master; keepalived at 100 never complains."""
    r1, r2, mon = classic(vlab)
    cap = mon.tcpdump(tmp_path / "t2.pcap")
    j = Join(
        r2,
        "--vrid",
        "1",
        "--priority",
        "150",
        "--vip",
        "192.0.2.1/24",
        "--version",
        "2",
        "--auth-pass",
        "s3cret",
        "--learn-timeout",
        "0.5",
    )
    j.wait_state("MASTER", 8)
    k1 = r1.keepalived(
        vrid=1,
        priority=100,
        state="BACKUP",
        vips=["192.0.2.1/24"],
        auth_type="PASS",
        auth_pass="s3cret",
    )
    k1.wait_for_log(r"Entering BACKUP STATE", 5)
    time.sleep(5.0)
    assert mon.ping("192.0.2.1") and neigh_mac(mon, "192.0.2.1") == r2.mac()
    log = k1.log
    assert "Entering MASTER STATE" not in log
    complaints = [line for line in log.splitlines() if KEEPALIVED_COMPLAINTS.search(line)]
    assert complaints == [], complaints
    assert j.states() == ["BACKUP", "MASTER"]
    assert j.signal(signal.SIGTERM) == 0
    # SIGTERM (interop test 6): priority 0 on the wire, keepalived takes over within its skew.
    r1.wait_for_address("192.0.2.1", timeout=3)
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    adv = read_adverts(tmp_path / "t2.pcap")
    zero = [a for a in adverts_from(adv, "192.0.2.254") if a.packet.priority == 0]
    assert len(zero) == 1
    first_k = min(a.time for a in adverts_from(adv, "192.0.2.253") if a.time > zero[0].time)
    latency = first_k - zero[0].time
    assert latency <= skew_time(100, 1.0, version=2) + 0.1, latency
    # Gratuitous ARPs from join's MAC: 5 on becoming master, 5 more 5 s later (as keepalived).
    garps = [
        (t, a) for t, kind, a in announcements(tmp_path / "t2.pcap", r2.mac()) if kind == "garp"
    ]
    assert all(a.sender_ip == a.target_ip == ipaddress.IPv4Address("192.0.2.1") for _, a in garps)
    times = [t for t, _ in garps]
    assert len(times) >= 10
    assert times[4] - times[0] < 0.05 and 4.9 < times[5] - times[0] < 5.2

    print(f"keepalived after join's priority 0: {latency * 1000:.1f} ms")
    assert all(a.ttl == 255 for a in adv)


def test_kill_9_then_restart_removes_stale_vips(vlab: Lab, tmp_path: Path) -> None:
    """Interop test 6, second half: kill -9 as master leaves the VIP; the next start removes it."""
    r1, r2, _mon = classic(vlab)
    state = r2.workdir / "state.json"
    j = Join(
        r2,
        "--vrid",
        "1",
        "--priority",
        "150",
        "--vip",
        "192.0.2.1/24",
        "--version",
        "3",
        "--advert-int",
        "0.1",
        "--learn-timeout",
        "0.3",
        state_file=state,
    )
    j.wait_state("MASTER", 5)
    assert r2.has_address("192.0.2.1")
    assert json.loads(state.read_text())["addresses"] == [["192.0.2.1", 24]]
    j.signal(signal.SIGKILL)
    assert r2.has_address("192.0.2.1")  # left behind
    k1 = r1.keepalived(
        vrid=1, priority=100, state="BACKUP", version=3, advert_int=0.1, vips=["192.0.2.1/24"]
    )
    r1.wait_for_address("192.0.2.1", timeout=5)
    j2 = Join(r2, "--vrid", "1", "--priority", "50", state_file=state)
    j2.wait_for(lambda e: e["event"] == "stale-vip-removed", 5)
    assert not r2.has_address("192.0.2.1")
    j2.wait_state("BACKUP", 3)
    time.sleep(1.0)
    assert j2.states() == ["BACKUP"] and r1.has_address("192.0.2.1")
    assert j2.signal(signal.SIGTERM) == 0
    k1.stop()


def test_no_master_and_no_vip_is_a_clear_error(vlab: Lab) -> None:
    r1, _r2, _mon = classic(vlab)
    r = r1.run(
        [
            VRRPWATCH,
            "join",
            "--vrid",
            "9",
            "--priority",
            "50",
            "--learn-timeout",
            "0.5",
            "--db",
            str(r1.workdir / "j.db"),
        ],
        check=False,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "Error: no advert for VRID 9 seen on eth0 within 0.5 s; pass --vip (and --version, "
        "--advert-int, --auth-pass as needed), --interface or --unicast-peer"
    ]
    # SIGTERM while it waits for a master: a clean exit 0 at once.
    j = Join(r1, "--vrid", "9", "--priority", "50", "--learn-timeout", "30")
    j.wait_for(lambda e: e["event"] == "listening", 5)
    t0 = time.monotonic()
    assert j.signal(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 2.0
    assert j.events()[-1]["message"] == "Stopped before joining"


def test_v3_fast_adverts_and_link_fault(vlab: Lab, tmp_path: Path) -> None:
    """Interop test 3 (VRRPv3 IPv4, 0.1 s) and FAULT on our own link."""
    r1, r2, mon = classic(vlab)
    cap = mon.tcpdump(tmp_path / "t3.pcap")
    k1 = r1.keepalived(
        vrid=3, priority=100, state="MASTER", version=3, advert_int=0.1, vips=["192.0.2.3/24"]
    )
    r1.wait_for_address("192.0.2.3", timeout=5)
    j = Join(r2, "--vrid", "3", "--priority", "50")
    learnt = j.wait_for(lambda e: e["event"] == "learnt", 5)
    assert learnt["version"] == 3 and learnt["interval_cs"] == 10
    j.wait_state("BACKUP", 3)
    time.sleep(1.0)
    r1.link_down()
    r2.wait_for_address("192.0.2.3", timeout=3)
    time.sleep(0.5)
    # Our own cable: FAULT, VIP dropped, no adverts; back to backup/master when it returns.
    r2.link_down()
    j.wait_state("FAULT", 3)
    r2.wait_for_address("192.0.2.3", timeout=2, present=False)
    r2.link_up()
    j.wait_state("MASTER", 3, after=len(j.events()) - 1)
    assert j.signal(signal.SIGTERM) == 0
    k1.stop()
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    assert "Entering FAULT STATE" in " ".join(e["message"] for e in j.events())
    adv = read_adverts(tmp_path / "t3.pcap")
    theirs = adverts_from(adv, "192.0.2.253")
    mine = adverts_from(adv, "192.0.2.254")
    last_before = max(a.time for a in theirs if a.time < mine[0].time)
    latency = mine[0].time - last_before
    mdi = master_down_interval(50, 0.1)
    assert mdi - 0.01 <= latency <= mdi + SLACK_S, latency
    assert all(a.packet.version == 3 and a.packet.interval_cs == 10 for a in mine)


def test_v3_ipv6_link_local_primary_global_vip(vlab: Lab, tmp_path: Path) -> None:
    """Interop test 3: VRRPv3 IPv6, link-local primary, a global VIP, unsolicited NA."""
    lan = vlab.segment()
    r1 = vlab.host("r1", lan, addr6="2001:db8::253/64")
    r2 = vlab.host("r2", lan, addr6="2001:db8::254/64")
    mon = vlab.host("mon", lan, addr6="2001:db8::10/64")
    cap = mon.tcpdump(tmp_path / "t6.pcap")
    k1 = r1.keepalived(
        vrid=6, priority=100, state="MASTER", version=3, advert_int=0.5, vips=["2001:db8::1/64"]
    )
    r1.wait_for_address("2001:db8::1", timeout=5)
    j = Join(r2, "--vrid", "6", "--priority", "50")
    learnt = j.wait_for(lambda e: e["event"] == "learnt", 5)
    assert learnt["addresses"] == ["2001:db8::1"] and learnt["master"].startswith("fe80::")
    j.wait_state("BACKUP", 3)
    time.sleep(2.0)
    assert j.states() == ["BACKUP"]
    k1.stop()
    r2.wait_for_address("2001:db8::1", timeout=3)
    assert "2001:db8::1/64" in [str(a) for a in r2.addresses("eth0")]
    assert mon.ping("2001:db8::1")
    out = mon.run(["ip", "-6", "neigh", "show", "2001:db8::1"]).stdout
    assert r2.mac() in out
    assert j.signal(signal.SIGTERM) == 0
    assert not r2.has_address("2001:db8::1")
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    # Unsolicited NAs (RFC 4861 7.2.6): to all-nodes, hop limit 255, Router and Override set,
    # our MAC as target link-layer address, from our link-local address; 5 at once.
    nas = [x for _, kind, x in announcements(tmp_path / "t6.pcap", r2.mac()) if kind == "na"]
    ours = [(ip6, na) for ip6, na in nas if na.target == ipaddress.IPv6Address("2001:db8::1")]
    unsolicited = [(ip6, na) for ip6, na in ours if not na.solicited]
    assert len(unsolicited) >= 5
    for ip6, na in unsolicited:
        assert str(ip6.dst) == "ff02::1" and ip6.hop_limit == 255 and ip6.src.is_link_local
        assert na.router and na.override and na.checksum_ok
        assert na.target_ll_addr == bytes.fromhex(r2.mac().replace(":", ""))
    # And join's adverts: VRRPv3 over IPv6 from the link-local address, hop limit 255.
    mine = [a for a in read_adverts(tmp_path / "t6.pcap") if a.src_mac == r2.mac()]
    assert mine and all(
        a.ttl == 255 and a.dst == "ff02::12" and a.src.startswith("fe80::") for a in mine
    )
    assert mine[-1].packet.priority == 0


def test_three_routers_keepalived_backup_wins(vlab: Lab) -> None:
    """Interop test 4: keepalived 100 and 80, join 50: the shorter skew wins, join stays backup."""
    lan = vlab.segment()
    r1 = vlab.host("r1", lan, addr4="192.0.2.253/24")
    r2 = vlab.host("r2", lan, addr4="192.0.2.252/24")
    r3 = vlab.host("r3", lan, addr4="192.0.2.254/24")
    k1 = r1.keepalived(vrid=1, priority=100, state="MASTER", vips=["192.0.2.1/24"])
    r1.wait_for_address("192.0.2.1", timeout=10)
    k2 = r2.keepalived(vrid=1, priority=80, state="BACKUP", vips=["192.0.2.1/24"])
    j = Join(r3, "--vrid", "1", "--priority", "50")
    j.wait_state("BACKUP", 5)
    time.sleep(1.0)
    r1.link_down()
    r2.wait_for_address("192.0.2.1", timeout=6)
    time.sleep(4.0)
    assert j.states() == ["BACKUP"]
    assert not r3.has_address("192.0.2.1")
    assert j.signal(signal.SIGTERM) == 0
    k2.stop()
    k1.stop()


def test_wrong_password_is_discarded_without_storm(vlab: Lab) -> None:
    """Interop test 5: join with the wrong password says why and takes over once, no flapping."""
    r1, r2, _mon = classic(vlab)
    k1 = r1.keepalived(
        vrid=1,
        priority=100,
        state="MASTER",
        vips=["192.0.2.1/24"],
        auth_type="PASS",
        auth_pass="s3cret",
    )
    r1.wait_for_address("192.0.2.1", timeout=10)
    j = Join(r2, "--vrid", "1", "--priority", "50", "--auth-pass", "guess")
    e = j.wait_for(lambda e: e["event"] == "discard", 5)
    assert e["reason"] == "auth-failure" and e["source"] == "192.0.2.253"
    time.sleep(6.0)
    assert j.states() == ["BACKUP", "MASTER"]
    discards = [e for e in j.events() if e["event"] == "discard"]
    assert 1 <= len(discards) <= 2  # rate-limited: once, again after 10 s
    assert j.signal(signal.SIGTERM) == 0
    k1.stop()


def test_different_vip_set_is_discarded(vlab: Lab) -> None:
    r1, r2, _mon = classic(vlab)
    k1 = r1.keepalived(
        vrid=1, priority=100, state="MASTER", version=3, vips=["192.0.2.1/24", "192.0.2.2/24"]
    )
    r1.wait_for_address("192.0.2.1", timeout=10)
    j = Join(r2, "--vrid", "1", "--priority", "50", "--vip", "192.0.2.1/24", "--dry-run")
    e = j.wait_for(lambda e: e["event"] == "discard", 5)
    assert e["reason"] == "address-list-mismatch"
    assert "192.0.2.2" in e["detail"]
    j.wait_state("MASTER", 5)  # dry run: it only says what it would do
    assert not r2.has_address("192.0.2.1")
    assert j.signal(signal.SIGTERM) == 0
    k1.stop()


def test_frr_master_join_backup(vlab_frr: Lab) -> None:
    """Interop test 3: FRR vrrpd (VRRPv3) as master, join as backup, takeover on shutdown."""
    r1, r2, _mon = classic(vlab_frr)
    frr = r1.frr_vrrpd(vrid=5, priority=200, vips=["192.0.2.5/24"], advert_int_ms=1000)
    _wait_frr_master(r1, frr)
    j = Join(r2, "--vrid", "5", "--priority", "50")
    learnt = j.wait_for(lambda e: e["event"] == "learnt", 5)
    assert learnt["version"] == 3 and learnt["addresses"] == ["192.0.2.5"]
    j.wait_state("BACKUP", 3)
    time.sleep(2.0)
    assert j.states() == ["BACKUP"]
    r1.link_down()
    r2.wait_for_address("192.0.2.5", timeout=6)
    assert j.signal(signal.SIGTERM) == 0


def _wait_frr_master(host: Host, daemon: Daemon) -> None:
    end = time.monotonic() + 15
    while time.monotonic() < end:
        if "Master" in host.vtysh("show vrrp"):
            return
        time.sleep(0.2)
    raise AssertionError(f"FRR did not become master:\n{host.vtysh('show vrrp')}")


def _vlan_interface(host: Host, vid: int, addr: str) -> str:
    """``eth0.<vid>``: a real 802.1Q sub-interface, or, on a kernel without 8021q (like the
    development machine), eth0 renamed to that name, which still exercises everything join does
    with the name (socket binding, netlink, /proc/sys paths with a dot in them)."""
    try:
        return host.add_vlan(vid, addr, None)
    except LabError:
        name = f"eth0.{vid}"
        host.run(["ip", "link", "set", "eth0", "down"])
        host.run(["ip", "link", "set", "eth0", "name", name])
        host.run(["ip", "link", "set", name, "up"])
        host.add_address(addr, name)
        return name


def test_vlan_subinterface(vlab: Lab) -> None:
    """The same on a VLAN sub-interface: learn, take over, FAULT when the cable goes."""
    lan = vlab.segment()
    r1 = vlab.host("r1", lan)
    r2 = vlab.host("r2", lan)
    if1 = _vlan_interface(r1, 2, "198.51.100.253/24")
    if2 = _vlan_interface(r2, 2, "198.51.100.254/24")
    k1 = r1.keepalived(
        vrid=2,
        priority=100,
        state="MASTER",
        version=3,
        advert_int=0.2,
        vips=["198.51.100.1/24"],
        interface=if1,
    )
    r1.wait_for_address("198.51.100.1", timeout=5)
    j = Join(r2, "--vrid", "2", "--priority", "50", "--interface", if2)
    learnt = j.wait_for(lambda e: e["event"] == "learnt", 5)
    assert learnt["addresses"] == ["198.51.100.1"]
    j.wait_state("BACKUP", 3)
    k1.stop()
    r2.wait_for_address("198.51.100.1", timeout=3)
    assert "198.51.100.1/24" in [str(a) for a in r2.addresses(if2)]
    r2.link_down()  # the cable under the sub-interface
    j.wait_state("FAULT", 3)
    r2.wait_for_address("198.51.100.1", timeout=2, present=False)
    assert j.signal(signal.SIGTERM) == 0


def test_unicast_peers(vlab: Lab) -> None:
    """keepalived with unicast_peer and `join --unicast-peer`: adverts both ways over unicast."""
    r1, r2, _mon = classic(vlab)
    j = Join(
        r2,
        "--vrid",
        "1",
        "--priority",
        "150",
        "--vip",
        "192.0.2.1/24",
        "--version",
        "3",
        "--unicast-peer",
        "192.0.2.253",
        "--learn-timeout",
        "0.5",
    )
    j.wait_state("MASTER", 8)
    k1 = r1.keepalived(
        vrid=1,
        priority=100,
        state="BACKUP",
        version=3,
        vips=["192.0.2.1/24"],
        unicast_src="192.0.2.253",
        unicast_peers=["192.0.2.254"],
    )
    time.sleep(4.0)
    assert "Entering MASTER STATE" not in k1.log
    assert not r1.has_address("192.0.2.1")
    assert j.signal(signal.SIGTERM) == 0
    r1.wait_for_address("192.0.2.1", timeout=3)  # keepalived saw our unicast priority 0
    k1.stop()


def test_address_owner_priority_255(vlab: Lab) -> None:
    """Priority 255: the VIP is join's own address; master at once, keeps it when stopping."""
    r1, r2, mon = classic(vlab)
    refused = r2.run(
        [
            VRRPWATCH,
            "join",
            "--vrid",
            "1",
            "--priority",
            "255",
            "--vip",
            "192.0.2.1/24",
            "--db",
            str(r2.workdir / "j.db"),
            "--learn-timeout",
            "0.2",
        ],
        check=False,
    )
    assert refused.returncode == 2 and "priority 255 means address owner" in refused.stderr
    j = Join(
        r2,
        "--vrid",
        "1",
        "--priority",
        "255",
        "--vip",
        "192.0.2.254/24",
        "--version",
        "3",
        "--learn-timeout",
        "0.2",
    )
    e = j.wait_state("MASTER", 3)
    assert e["cause"] == "address-owner"
    k1 = r1.keepalived(vrid=1, priority=100, state="BACKUP", version=3, vips=["192.0.2.254/24"])
    k1.wait_for_log(r"Entering BACKUP STATE", 5)
    time.sleep(3.0)
    assert "Entering MASTER STATE" not in k1.log
    assert j.signal(signal.SIGTERM) == 0
    assert r2.has_address("192.0.2.254")  # its own address stays
    k1.wait_for_log(r"Entering MASTER STATE", 3)  # after our priority 0
    k1.stop()


def test_frr_backup_accepts_join_as_master(vlab_frr: Lab) -> None:
    """FRR vrrpd (strict VRRPv3 checks, pseudo-header checksum) stays backup under join."""
    r1, r2, _mon = classic(vlab_frr)
    j = Join(
        r2,
        "--vrid",
        "5",
        "--priority",
        "250",
        "--vip",
        "192.0.2.5/24",
        "--version",
        "3",
        "--learn-timeout",
        "0.2",
    )
    # Master_Down_Interval 3.02 s after a 0.2 s listen, plus the start-up of join under load
    j.wait_state("MASTER", 10)
    r1.frr_vrrpd(vrid=5, priority=100, vips=["192.0.2.5/24"], advert_int_ms=1000)
    time.sleep(6.0)
    show = r1.vtysh("show vrrp")
    assert re.search(r"Status \(v4\)\s+Backup", show), show
    assert j.states() == ["BACKUP", "MASTER"]
    assert j.signal(signal.SIGTERM) == 0
    end = time.monotonic() + 5
    while "Master" not in re.findall(r"Status \(v4\)\s+(\w+)", r1.vtysh("show vrrp")):
        assert time.monotonic() < end, r1.vtysh("show vrrp")
        time.sleep(0.1)
