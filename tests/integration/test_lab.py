"""The namespace lab itself, against real keepalived routers (tests/lab.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CAPTURES, lab_unavailable
from tests.lab import (
    KeepalivedInstance,
    Lab,
    LabError,
    master_down_interval_s,
    masters_and_failovers,
    missing_prerequisites,
    read_adverts,
    skew_time_s,
)

VIP = "192.0.2.1"
# Slack on top of the RFC timers: keepalived's timer granularity, netlink polling, a busy
# 2-core machine running other tests.
TOLERANCE_S = 0.8


@pytest.mark.integration
def test_two_router_group_elects_fails_over_and_preempts_back(lab: Lab, tmp_path: Path) -> None:
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4="192.0.2.253/24")
    r2 = lab.host("r2", lan, addr4="192.0.2.254/24")
    mon = lab.host("mon", lan, addr4="192.0.2.10/24")
    pcap = tmp_path / "lab.pcap"
    cap = mon.tcpdump(pcap)
    group = {"vrid": 7, "vips": [f"{VIP}/24"], "auth_type": "PASS", "auth_pass": "s3cret"}
    r1.keepalived(priority=200, **group)
    k2 = r2.keepalived(priority=100, **group)

    # Election: the higher priority wins and holds the VIP; the backup does not.
    r1.wait_for_address(VIP, timeout=10)
    time.sleep(1.5)
    assert r1.has_address(VIP) and not r2.has_address(VIP)
    assert mon.ping(VIP) and mon.arping(VIP)
    assert not mon.arping("192.0.2.99")  # nobody there

    # Cable pull: the backup takes over within Master_Down_Interval (RFC 3768 section 6.1),
    # counted from the master's last advert, which is at most one interval before the pull.
    mdi = master_down_interval_s(100, 1.0, 2)
    r1.link_down()
    took = r2.wait_for_address(VIP, timeout=mdi + 3)
    assert took <= mdi + TOLERANCE_S, f"backup took {took:.2f} s, MDI {mdi:.2f} s"
    assert not r1.has_address(VIP)  # keepalived drops it in FAULT state
    assert mon.ping(VIP)

    # The cable returns: preemption gives the VIP back to the higher priority.
    r1.link_up()
    r1.wait_for_address(VIP, timeout=mdi + 3)
    r2.wait_for_address(VIP, timeout=3, present=False)

    # r2 gets the last word: stopping the master (SIGTERM, priority 0) hands over within
    # Skew_Time of the backup.
    k2.stop()
    assert not k2.alive
    time.sleep(1.2)
    cap.stop()

    adverts = read_adverts(pcap)
    assert {a.src for a in adverts} == {"192.0.2.253", "192.0.2.254"}
    assert all(a.packet.vrid == 7 and a.packet.password == b"s3cret" for a in adverts)
    assert all(a.ttl == 255 and a.dst == "224.0.0.18" for a in adverts)
    masters, failovers = masters_and_failovers(adverts)
    assert [m["address"] for m in masters] == ["192.0.2.253", "192.0.2.254", "192.0.2.253"]
    assert [(f["from"], f["to"], f["cause"]) for f in failovers] == [
        ("192.0.2.253", "192.0.2.254", "silent"),
        ("192.0.2.254", "192.0.2.253", "preempted"),
    ]
    # Measured on the wire: last advert of r1 -> first advert of r2 is the MDI itself.
    assert abs(failovers[0]["gap_ms"] / 1000 - mdi) < 0.5, failovers[0]
    # r2 was stopped as a backup: it sent nothing more, so no priority-0 advert from it.
    assert not [a for a in adverts if a.src == "192.0.2.254" and a.packet.priority == 0]


@pytest.mark.integration
def test_clean_stop_sends_priority_zero_and_backup_takes_over_after_skew(
    lab: Lab, tmp_path: Path
) -> None:
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4="198.51.100.2/24")
    r2 = lab.host("r2", lan, addr4="198.51.100.3/24")
    mon = lab.host("mon", lan, ipv6=False)
    pcap = tmp_path / "stop.pcap"
    cap = mon.tcpdump(pcap)
    inst = KeepalivedInstance(vrid=3, version=3, advert_int=0.5, vips=("198.51.100.1/24",))
    k1 = r1.keepalived(KeepalivedInstance(**{**inst.__dict__, "priority": 150}))
    r2.keepalived(KeepalivedInstance(**{**inst.__dict__, "priority": 50}))
    r1.wait_for_address("198.51.100.1")
    time.sleep(1.0)
    k1.stop()
    took = r2.wait_for_address("198.51.100.1", timeout=3)
    skew = skew_time_s(50, 0.5, 3)
    assert took <= skew + TOLERANCE_S
    time.sleep(0.6)
    cap.stop()
    masters, failovers = masters_and_failovers(read_adverts(pcap))
    assert [m["address"] for m in masters] == ["198.51.100.2", "198.51.100.3"]
    (f,) = failovers
    assert f["cause"] == "resigned" and f["expected_ms"] == pytest.approx(skew * 1000)
    assert abs(f["gap_ms"] / 1000 - skew) < 0.3, f


@pytest.mark.integration
def test_teardown_leaves_no_namespace_link_or_process(tmp_path: Path) -> None:
    if missing := missing_prerequisites():
        lab_unavailable("; ".join(missing))
    lab = Lab(workdir=tmp_path / "lab")
    try:
        r1 = lab.host("r1", addr4="203.0.113.2/24")
        k = r1.keepalived(vrid=9, priority=120, vips=["203.0.113.1/24"], use_vmac=True)
        cap = r1.tcpdump(tmp_path / "x.pcap")
        r1.wait_for_address("203.0.113.1", timeout=10)
        child = int((lab.workdir / "r1" / "keepalived1" / "vrrp.pid").read_text())
        assert sorted(lab.namespaces()) == sorted([f"{lab.prefix}-sw0", f"{lab.prefix}-r1"])
        started = [*lab.pids, child]
        assert k.alive and cap.alive
    finally:
        lab.close()
    assert lab.namespaces() == []
    assert lab.living_pids() == []
    for pid in started:
        assert not Path(f"/proc/{pid}").exists() or _comm(pid) not in ("keepalived", "tcpdump")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert lab.prefix not in links
    assert not lab.teardown_notes, lab.teardown_notes
    lab.close()  # idempotent


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_lab_refuses_addresses_outside_documentation_ranges() -> None:
    with pytest.raises(LabError, match="documentation"):
        KeepalivedInstance(vrid=1, vips=("10.0.0.1/24",)).render(1)
    with pytest.raises(LabError, match="documentation"):
        KeepalivedInstance(vrid=1, vips=("2001:db8::1/64",), unicast_peers=("8.8.8.8",)).render(1)
    conf = KeepalivedInstance(
        vrid=4, version=3, advert_int=0.1, vips=("2001:db8::4/64",), nopreempt=True, use_vmac=True
    ).render(1)
    assert "advert_int 0.1" in conf and "nopreempt" in conf and "use_vmac vrrp.6.4" in conf


def _record_module() -> object:
    spec = importlib.util.spec_from_file_location("captures_record", CAPTURES / "record.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.integration
@pytest.mark.parametrize("name", ["frr-keepalived", "vlans"])
def test_record_script_regenerates_a_capture_like_the_committed_one(
    name: str, tmp_path: Path
) -> None:
    """captures/record.py on demand: FRR + keepalived, and the 802.1Q trunk monitor."""
    if missing := missing_prerequisites(frr=True):
        lab_unavailable("; ".join(missing))
    record = _record_module()
    assert record.main(["--out", str(tmp_path), name]) == 0  # type: ignore[attr-defined]
    new = json.loads((tmp_path / f"{name}.json").read_text())
    old = json.loads((CAPTURES / f"{name}.json").read_text())
    volatile = {"mac", "address"}  # random MACs, and IPv6 link-locals derived from them

    def stable(routers: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k not in volatile} for r in routers]

    assert stable(new["routers"]) == stable(old["routers"])
    assert [e["action"] for e in new["events"]] == [e["action"] for e in old["events"]]
    key = ("vlan", "vrid", "cause")
    assert [[f[k] for k in key] for f in new["failovers"]] == [
        [f[k] for k in key] for f in old["failovers"]
    ]
    assert new["expected_alerts"] == old["expected_alerts"]
    adverts = read_adverts(tmp_path / f"{name}.pcap")
    assert {a.vlan for a in adverts} == {tuple(r["vlan"]) for r in old["routers"]}
