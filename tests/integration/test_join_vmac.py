"""``vrrpwatch join --use-vmac`` (keepalived's ``use_vmac``) against real keepalived.

Both sides run on a macvlan with the virtual MAC 00:00:5e:00:01:VRID, so a client's ARP entry
for the VIP never changes: the test reads it with ``ip neigh`` on the client before and after
each failover, and checks every advert and ARP on the wire for its source MAC. VRRPv3 at 0.1 s
keeps each test short.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import VRRPWATCH, Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import (
    Daemon,
    Host,
    KeepalivedInstance,
    Lab,
    read_adverts,
)
from tests.lab_capture import arp_frames

pytestmark = pytest.mark.integration

VRID = 9
VMAC = "00:00:5e:00:01:09"
VIP = "192.0.2.9"
UPLINK = "203.0.113.1"
CAPTURE_FLUSH_S = 0.5

BACKUP_CONF = f"""\
vrrp_instance VI_9 {{
    state BACKUP
    interface eth0
    virtual_router_id {VRID}
    priority 50
    version 3
    advert_int 0.1
    use_vmac
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"""


@pytest.fixture
def vlab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


def gateway(client: Host, *routers: Host) -> None:
    """The client reaches 203.0.113.1 through the VIP, as a LAN host through its gateway;
    each router holds that address (its "uplink") on lo.

    A ping of the VIP itself would not do: the master answers from the VIP and, routing the
    reply out of eth0, asks for the client's MAC from eth0's MAC with the VIP as sender,
    which moves the client's entry (keepalived's own use_vmac does the same)."""
    for r in routers:
        r.run(["ip", "addr", "add", UPLINK + "/32", "dev", "lo"])
    client.run(["ip", "route", "add", "203.0.113.0/24", "via", VIP])


def neigh_mac(host: Host, ip: str) -> str | None:
    out = host.run(["ip", "neigh", "show", ip, "dev", "eth0"]).stdout
    m = re.search(r"lladdr ([0-9a-f:]{17})", out)
    return m.group(1) if m else None


def links(host: Host) -> dict[str, dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(host.run(["ip", "-d", "-j", "link", "show"]).stdout)
    return {x["ifname"]: x for x in data}


def conf(host: Host, iface: str, key: str) -> str:
    return host.run(["cat", f"/proc/sys/net/ipv4/conf/{iface}/{key}"]).stdout.strip()


def arp_senders(pcap: Path, ip: str) -> set[str]:
    """The sender MACs of every ARP reply or gratuitous ARP for ``ip`` in a capture."""
    out: set[str] = set()
    for _ts, mac, arp in arp_frames(pcap):
        if str(arp.sender_ip) == ip and (arp.is_gratuitous or arp.oper == 2):
            out.add(":".join(f"{b:02x}" for b in mac))
            out.add(":".join(f"{b:02x}" for b in arp.sender_mac))
    return out


class VmacInstance(KeepalivedInstance):
    """An instance whose VIPs name no ``dev``: keepalived then puts them on its macvlan (the
    lab's ``dev eth0`` would keep them on eth0, answering ARP with eth0's MAC)."""

    def render(self, index: int) -> str:
        return super().render(index).replace(f" dev {self.interface}", "")


def keepalived_vmac(host: Host, **fields: Any) -> Daemon:
    inst = VmacInstance(
        vrid=VRID, version=3, advert_int=0.1, vips=(f"{VIP}/24",), use_vmac=True, **fields
    )
    return host.keepalived(inst)


def test_join_backup_keepalived_master_with_vmac(vlab: Lab, tmp_path: Path) -> None:
    """keepalived master with use_vmac; join runs the backup's keepalived.conf (use_vmac):
    cable pull, take-over, give-back; the client's ARP entry is the virtual MAC throughout."""
    r1, r2, mon = classic(vlab)
    gateway(mon, r1, r2)
    cap = mon.tcpdump(tmp_path / "vmac1.pcap")
    keepalived_vmac(r1, priority=100, state="MASTER")
    r1.wait_for_address(VIP, timeout=10)
    assert mon.ping(UPLINK) and neigh_mac(mon, VIP) == VMAC
    path = r2.workdir / "keepalived.conf"
    path.write_text(BACKUP_CONF)
    j = Join(r2, "--config", str(path), "--learn-timeout", "0")
    j.wait_state("BACKUP", 5)
    created = j.wait_for(lambda e: e["event"] == "vmac", 1)
    assert created["action"] == "created" and created["interface"] == f"vrrp.{VRID}"
    link = links(r2)[f"vrrp.{VRID}"]
    assert link["address"] == VMAC and link["linkinfo"]["info_kind"] == "macvlan"
    assert link["linkinfo"]["info_data"]["mode"] == "private"
    assert "UP" in link["flags"] and not r2.has_address(VIP)  # up, and empty, in BACKUP
    assert (conf(r2, "eth0", "arp_ignore"), conf(r2, "eth0", "arp_filter")) == ("1", "1")
    assert conf(r2, f"vrrp.{VRID}", "arp_ignore") == "1"
    assert conf(r2, f"vrrp.{VRID}", "accept_local") == "1"
    assert conf(r2, f"vrrp.{VRID}", "rp_filter") == "0"

    r1.link_down()
    r2.wait_for_address(VIP, timeout=3)
    assert f"{VIP}/24" in [str(a) for a in r2.addresses(f"vrrp.{VRID}")]
    assert f"{VIP}/24" not in [str(a) for a in r2.addresses("eth0")]
    assert mon.ping(UPLINK) and neigh_mac(mon, VIP) == VMAC
    r1.link_up()
    r2.wait_for_address(VIP, timeout=3, present=False)
    r1.wait_for_address(VIP, timeout=3)
    assert mon.ping(UPLINK) and neigh_mac(mon, VIP) == VMAC
    assert j.signal(signal.SIGTERM) == 0
    assert f"vrrp.{VRID}" not in links(r2)
    assert (conf(r2, "eth0", "arp_ignore"), conf(r2, "eth0", "arp_filter")) == ("0", "0")
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    assert j.states()[:3] == ["BACKUP", "MASTER", "BACKUP"]
    mine = [a for a in read_adverts(tmp_path / "vmac1.pcap") if a.src == "192.0.2.254"]
    assert mine and {a.src_mac for a in mine} == {VMAC}
    assert arp_senders(tmp_path / "vmac1.pcap", VIP) == {VMAC}


def test_join_master_keepalived_backup_with_vmac(vlab: Lab, tmp_path: Path) -> None:
    """join --use-vmac as master, keepalived (use_vmac) as backup; join's SIGTERM hands over."""
    r1, r2, mon = classic(vlab)
    gateway(mon, r1, r2)
    cap = mon.tcpdump(tmp_path / "vmac2.pcap")
    j = Join(
        r2, "--vrid", str(VRID), "--priority", "150", "--vip", f"{VIP}/24", "--version", "3",
        "--advert-int", "0.1", "--learn-timeout", "0.3", "--use-vmac", "vmac9",
    )  # fmt: skip
    j.wait_state("MASTER", 5)
    assert links(r2)["vmac9"]["address"] == VMAC
    k1 = keepalived_vmac(r1, priority=100)
    k1.wait_for_log(r"Entering BACKUP STATE", 5)
    time.sleep(1.0)
    assert "Entering MASTER STATE" not in k1.log
    assert mon.ping(UPLINK) and neigh_mac(mon, VIP) == VMAC
    assert j.signal(signal.SIGTERM) == 0
    r1.wait_for_address(VIP, timeout=3)
    assert "vmac9" not in links(r2) and not r2.has_address(VIP)
    assert mon.ping(UPLINK) and neigh_mac(mon, VIP) == VMAC
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    mine = [a for a in read_adverts(tmp_path / "vmac2.pcap") if a.src == "192.0.2.254"]
    assert mine[-1].packet.priority == 0 and {a.src_mac for a in mine} == {VMAC}
    assert arp_senders(tmp_path / "vmac2.pcap", VIP) == {VMAC}


def test_kill_9_then_restart_leaves_nothing(vlab: Lab, tmp_path: Path) -> None:
    """A SIGKILLed join leaves its macvlan with the VIP; keepalived takes over; the next start
    (the backup's keepalived.conf) removes the stale macvlan before it listens, so it hears
    keepalived's adverts from the virtual MAC, creates a fresh macvlan, holds the VIP once
    after a take-over, and its SIGTERM leaves nothing."""
    r1, r2, mon = classic(vlab)
    gateway(mon, r1, r2)
    state = r2.workdir / "state.json"
    j = Join(
        r2, "--vrid", str(VRID), "--priority", "150", "--vip", f"{VIP}/24", "--version", "3",
        "--advert-int", "0.1", "--learn-timeout", "0.3", "--use-vmac", "-i", "eth0",
        state_file=state,
    )  # fmt: skip
    j.wait_state("MASTER", 5)
    first = links(r2)[f"vrrp.{VRID}"]
    recorded = json.loads(state.read_text())
    assert recorded["addresses"] == [[VIP, 24]]
    assert recorded["vmac"]["name"] == f"vrrp.{VRID}" and recorded["vmac"]["created"]
    assert recorded["vmac"]["index"] == first["ifindex"]
    assert recorded["vmac"]["base_conf"] == {"arp_ignore": 0, "arp_filter": 0}
    j.signal(signal.SIGKILL)
    assert f"vrrp.{VRID}" in links(r2) and r2.has_address(VIP)  # left behind
    keepalived_vmac(r1, priority=100)
    r1.wait_for_address(VIP, timeout=5)

    path = r2.workdir / "keepalived.conf"
    path.write_text(BACKUP_CONF)
    j2 = Join(r2, "--config", str(path), "-i", "eth0", state_file=state)
    stale = j2.wait_for(lambda e: e["event"] == "vmac" and e["action"] == "stale-removed", 5)
    assert stale["interface"] == f"vrrp.{VRID}"
    learnt = j2.wait_for(lambda e: e["event"] in ("learnt", "state"), 3)
    assert learnt["event"] == "learnt" and learnt["master"] == "192.0.2.253"
    j2.wait_state("BACKUP", 3)
    second = links(r2)[f"vrrp.{VRID}"]
    assert second["ifindex"] != first["ifindex"] and not r2.has_address(VIP)
    # The originals of the killed run carry over: the base's sysctls go back to 0 at the end.
    assert json.loads(state.read_text())["vmac"]["base_conf"] == {"arp_ignore": 0, "arp_filter": 0}
    r1.link_down()
    r2.wait_for_address(VIP, timeout=3)
    assert [str(a) for a in r2.addresses()].count(f"{VIP}/24") == 1
    assert mon.ping(UPLINK) and neigh_mac(mon, VIP) == VMAC
    assert j2.signal(signal.SIGTERM) == 0
    assert [n for n in links(r2) if n not in ("lo", "eth0")] == []
    assert not r2.has_address(VIP) and not state.exists()
    assert (conf(r2, "eth0", "arp_ignore"), conf(r2, "eth0", "arp_filter")) == ("0", "0")


def test_xmit_base_and_links_not_ours(vlab: Lab, tmp_path: Path) -> None:
    """vmac_xmit_base: adverts from eth0's MAC, ARPs from the virtual MAC. A matching macvlan
    that existed before is used and left in place; a configured name taken by another kind of
    link is refused (exit 2) and the link kept."""
    _r1, r2, mon = classic(vlab)
    gateway(mon, r2)
    r2.run(["ip", "link", "add", "vrrp.9", "link", "eth0", "type", "macvlan", "mode", "private"])
    r2.run(["ip", "link", "set", "vrrp.9", "address", VMAC])
    r2.run(["ip", "link", "add", "busy0", "type", "bridge"])
    bad = r2.run(
        [VRRPWATCH, "join", "--vrid", "10", "--priority", "150", "--vip", "192.0.2.20/24",
         "-i", "eth0", "--learn-timeout", "0", "--use-vmac", "busy0",
         "--db", str(r2.workdir / "b.db")],
        check=False,
    )  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == (
        "Error: use_vmac: interface busy0 exists and is not a private macvlan with "
        "00:00:5e:00:01:0a on the interface; join does not replace it"
    )
    assert "busy0" in links(r2)

    cap = mon.tcpdump(tmp_path / "vmac4.pcap")
    j = Join(
        r2, "--vrid", str(VRID), "--priority", "150", "--vip", f"{VIP}/24", "--version", "3",
        "--advert-int", "0.1", "--learn-timeout", "0.3", "--use-vmac", "--vmac-xmit-base",
        "-i", "eth0",
    )  # fmt: skip
    j.wait_state("MASTER", 5)
    reused = j.wait_for(lambda e: e["event"] == "vmac", 1)
    assert reused["action"] == "reused" and reused["interface"] == "vrrp.9"
    r2.wait_for_address(VIP, timeout=2)
    assert f"{VIP}/24" in [str(a) for a in r2.addresses("vrrp.9")]
    assert mon.ping(UPLINK) and neigh_mac(mon, VIP) == VMAC
    assert j.signal(signal.SIGTERM) == 0
    assert "vrrp.9" in links(r2) and not r2.has_address(VIP)  # not ours: kept, emptied
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    mine = [a for a in read_adverts(tmp_path / "vmac4.pcap") if a.src == "192.0.2.254"]
    assert mine and {a.src_mac for a in mine} == {r2.mac()}
    assert arp_senders(tmp_path / "vmac4.pcap", VIP) == {VMAC}


def test_ipv6_join_master_keepalived_backup_with_vmac(vlab: Lab, tmp_path: Path) -> None:
    """IPv6: the macvlan carries 00:00:5e:00:02:VRID and the interface's link-local address,
    the adverts' source; keepalived (use_vmac) stays backup; the client's neighbour entry for
    the VIP is the virtual MAC; SIGTERM removes the macvlan."""
    lan = vlab.segment()
    r1 = vlab.host("r1", lan, addr4="192.0.2.253/24")
    r2 = vlab.host("r2", lan, addr4="192.0.2.254/24")
    mon = vlab.host("mon", lan, addr6="2001:db8::10/64")
    vip6, vmac6, uplink6 = "2001:db8::9", "00:00:5e:00:02:09", "2001:db8:1::1"
    for r in (r1, r2):
        r.run(["ip", "addr", "add", uplink6 + "/128", "dev", "lo"])
    mon.run(["ip", "-6", "route", "add", "2001:db8:1::/64", "via", vip6])
    lladdr = next(str(a.ip) for a in r2.addresses("eth0") if a.version == 6)
    cap = mon.tcpdump(tmp_path / "vmac6.pcap")
    j = Join(
        r2, "--vrid", str(VRID), "--priority", "150", "--vip", f"{vip6}/64", "--advert-int",
        "0.1", "--learn-timeout", "0.3", "--use-vmac",
    )  # fmt: skip
    j.wait_state("MASTER", 5)
    link = links(r2)[f"vrrp.{VRID}"]
    assert link["address"] == vmac6
    assert {str(a) for a in r2.addresses(f"vrrp.{VRID}")} == {f"{vip6}/64", f"{lladdr}/64"}
    k1 = r1.keepalived(
        VmacInstance(vrid=VRID, version=3, advert_int=0.1, vips=(f"{vip6}/64",), use_vmac=True)
    )
    k1.wait_for_log(r"Entering BACKUP STATE", 5)
    time.sleep(1.0)
    assert "Entering MASTER STATE" not in k1.log
    ping = mon.run(["ping", "-6", "-n", "-c", "1", "-W", "2", uplink6], check=False)
    assert ping.returncode == 0, ping.stdout
    out = mon.run(["ip", "-6", "neigh", "show", vip6, "dev", "eth0"]).stdout
    assert f"lladdr {vmac6}" in out, out
    assert j.signal(signal.SIGTERM) == 0
    r1.wait_for_address(vip6, timeout=3)
    assert f"vrrp.{VRID}" not in links(r2) and not r2.has_address(vip6)
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    mine = [a for a in read_adverts(tmp_path / "vmac6.pcap") if a.src == lladdr]
    assert mine and {a.src_mac for a in mine} == {vmac6} and mine[-1].packet.priority == 0


RELOAD_VI_1 = """\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    advert_int 1
    virtual_ipaddress { 192.0.2.1/24 dev eth0 }
}
"""
RELOAD_VI_9 = f"""\
vrrp_instance VI_9 {{
    interface eth0
    virtual_router_id {VRID}
    priority 150
    version 3
    advert_int 0.1
    use_vmac vmac9
    virtual_ipaddress {{ {VIP}/24 }}
}}
"""


@pytest.fixture
def wlab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path, prefix="vwj")


def test_sighup_removing_a_vmac_instance_deletes_its_macvlan_at_once(wlab: Lab) -> None:
    """keepalived's reload: a changed use_vmac instance restarts on a fresh macvlan; a removed
    one stops (its priority-0 advert) and its macvlan goes with it, while the other instance
    runs on."""
    lan = wlab.segment()
    r2 = wlab.host("r2", lan, addr4="192.0.2.254/24")
    conf_path = r2.workdir / "keepalived.conf"
    conf_path.write_text(RELOAD_VI_1 + RELOAD_VI_9)
    log = r2.workdir / "join.log"
    argv = [VRRPWATCH, "join", "--json", "--db", str(r2.workdir / "join.db")]
    proc = r2.popen([*argv, "--config", str(conf_path), "--learn-timeout", "0"], log=log)

    def events() -> list[dict[str, Any]]:
        lines = log.read_text(errors="replace").splitlines()
        return [json.loads(x) for x in lines if x.startswith("{")]

    def wait(pred: Any, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end and proc.poll() is None:
            hit = next((e for e in events() if pred(e)), None)
            if hit is not None:
                return hit
            time.sleep(0.02)
        raise AssertionError(log.read_text()[-3000:])

    wait(lambda e: e["event"] == "state" and e["instance"] == "VI_9" and e["new"] == "MASTER", 8)
    first = links(r2)["vmac9"]
    assert first["address"] == VMAC and r2.has_address(VIP)
    # Changed (priority 140): it stops, its macvlan goes, and it starts on a fresh one.
    conf_path.write_text(RELOAD_VI_1 + RELOAD_VI_9.replace("priority 150", "priority 140"))
    proc.send_signal(signal.SIGHUP)
    wait(lambda e: e["event"] == "state" and e["instance"] == "VI_9" and e["priority"] == 140, 5)
    actions = [e["action"] for e in events() if e["event"] == "vmac"]
    assert actions == ["created", "removed", "created"], actions
    wait(lambda e: e["event"] == "state" and e.get("priority") == 140 and e["new"] == "MASTER", 5)
    second = links(r2)["vmac9"]
    assert second["ifindex"] != first["ifindex"] and second["address"] == VMAC
    assert [str(a) for a in r2.addresses("vmac9")].count(f"{VIP}/24") == 1
    # Removed: its macvlan goes at once.
    conf_path.write_text(RELOAD_VI_1)
    removed = [e for e in events() if e["event"] == "vmac" and e["action"] == "removed"]
    hup = time.monotonic()
    proc.send_signal(signal.SIGHUP)
    gone = wait(lambda e: e["event"] == "vmac" and e["action"] == "removed" and e not in removed, 3)
    took = time.monotonic() - hup
    assert gone["interface"] == "vmac9"
    assert "vmac9" not in links(r2) and not r2.has_address(VIP)
    print(f"macvlan gone {took * 1000:.0f} ms after SIGHUP")
    assert took < 1.0, took
    # The removed instance said goodbye as at shutdown; VI_1 runs on.
    stops = [e for e in events() if e["event"] == "state" and e["instance"] == "VI_9"]
    assert [e["new"] for e in stops][-1] == "INIT"
    time.sleep(0.3)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert [n for n in links(r2) if n not in ("lo", "eth0")] == []
