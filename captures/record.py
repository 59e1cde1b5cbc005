#!/usr/bin/env python3
"""Record the captures/ reference set from real VRRP daemons in the namespace lab.

Usage (as root, with keepalived, FRR, ucarp, tcpdump and tshark installed)::

    .venv/bin/python captures/record.py                 # every scenario
    .venv/bin/python captures/record.py v2-failover vmac
    .venv/bin/python captures/record.py --list
    .venv/bin/python captures/record.py --out /tmp/x v3-ipv4-fast

Each scenario builds a fresh lab (tests/lab.py), starts keepalived/FRR routers, acts on them
(stop, cable pull, restore) while a silent monitor host records with tcpdump, then writes
``NAME.pcap`` and ``NAME.json`` (ground truth: what it configured and did, plus the masters and
failover gaps measured in the pcap with ``dissectors.vrrp``). Before writing, it checks the
capture against the scenario's expectations (who advertises, which failovers with which
causes), so a silent lab failure fails the recording instead of producing a wrong capture.
The JSON schema is described in captures/README.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.lab import (  # noqa: E402
    Daemon,
    Host,
    KeepalivedInstance,
    Lab,
    LabError,
    masters_and_failovers,
    missing_prerequisites,
    read_adverts,
)
from tests.lab_carp import carp_masters_and_failovers, read_carp_adverts  # noqa: E402

MAX_BYTES = 1_000_000


class RecordingError(RuntimeError):
    """The capture does not show what the scenario did: do not write it."""


@dataclass
class Scenario:
    """Collects the truth while a scenario runs."""

    name: str
    description: str
    lab: Lab
    out_dir: Path
    routers: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    daemons: dict[str, Daemon] = field(default_factory=dict)
    monitor: Host | None = None
    capture: Daemon | None = None
    bpf: str | None = None  # the capture filter, when not the lab's default

    @property
    def pcap(self) -> Path:
        return self.out_dir / f"{self.name}.pcap"

    def event(self, action: str) -> None:
        self.events.append({"time": round(time.time(), 6), "action": action})

    def start_capture(self, mon: Host, bpf: str | None = None) -> None:
        self.monitor = mon
        self.bpf = bpf
        self.pcap.unlink(missing_ok=True)
        self.capture = mon.tcpdump(self.pcap, **({"bpf": bpf} if bpf else {}))

    def keepalived(
        self, host: Host, inst: KeepalivedInstance, *, name: str | None = None, vlan: list[int]
    ) -> Daemon:
        """Start keepalived on ``host`` with one instance and note the router."""
        return self.keepalived_multi(host, [(inst, vlan)], name=name)

    def keepalived_multi(
        self,
        host: Host,
        entries: list[tuple[KeepalivedInstance, list[int]]],
        *,
        name: str | None = None,
    ) -> Daemon:
        """One keepalived with several instances (each on the interface of its VLAN)."""
        name = name or host.name
        self.event(f"start {name}")
        d = host.keepalived(*(inst for inst, _ in entries))
        self.daemons[name] = d
        for inst, vlan in entries:
            iface = inst.interface
            auth = {None: "none", "PASS": "simple", "AH": "ah"}[inst.auth_type]
            self.routers.append(
                {
                    "name": name,
                    "implementation": "keepalived",
                    "address": _source(host, inst),
                    "mac": _vmac(inst.vrid, inst.family) if inst.use_vmac else host.mac(iface),
                    "vlan": vlan,
                    "family": inst.family,
                    "vrid": inst.vrid,
                    "version": inst.version,
                    "priority": inst.priority,
                    "advert_int_ms": round(inst.advert_int * 1000),
                    "auth_type": auth,
                    "password": inst.auth_pass if inst.auth_type else None,
                    "vips": [_bare(v) for v in inst.vips],
                    "unicast_peers": [_bare(p) for p in inst.unicast_peers],
                    "preempt": not inst.nopreempt,
                    "use_vmac": inst.use_vmac,
                }
            )
        return d

    def frr(self, host: Host, *, vrid: int, priority: int, vips: list[str], name: str) -> Daemon:
        self.event(f"start {name}")
        d = host.frr_vrrpd(vrid=vrid, priority=priority, vips=vips)
        self.daemons[name] = d
        fam = ipaddress.ip_interface(vips[0]).version
        self.routers.append(
            {
                "name": name,
                "implementation": "frr",
                "address": _primary(host, "eth0", fam),
                # FRR sends its adverts from the macvlan that carries the virtual MAC.
                "mac": _vmac(vrid, fam),
                "vlan": [],
                "family": fam,
                "vrid": vrid,
                "version": 3,
                "priority": priority,
                "advert_int_ms": 1000,
                "auth_type": "none",
                "password": None,
                "vips": [_bare(v) for v in vips],
                "unicast_peers": [],
                "preempt": True,
                "use_vmac": True,
            }
        )
        return d

    def ucarp(
        self, host: Host, *, vhid: int, password: str, vip: str, advskew: int, name: str,
        advbase: int = 1, preempt: bool = True,
    ) -> Daemon:  # fmt: skip
        """Start ucarp on ``host``'s eth0 and note the router (CARP: no priority, no version)."""
        self.event(f"start {name}")
        d = host.ucarp(vhid=vhid, password=password, vip=vip, advbase=advbase, advskew=advskew,
                       preempt=preempt)  # fmt: skip
        self.daemons[name] = d
        self.routers.append(
            {
                "name": name,
                "implementation": "ucarp",
                "protocol": "carp",
                "address": _primary(host, "eth0", 4),
                # ucarp sends its adverts from 00:00:5e:00:00:<vhid> whatever the host (its
                # carp_send_ad), its gratuitous ARPs from the interface's own MAC.
                "mac": f"00:00:5e:00:00:{vhid:02x}",
                "arp_mac": host.mac("eth0"),
                "vlan": [],
                "family": 4,
                "vrid": vhid,
                "advbase_s": advbase,
                "advskew": advskew,
                "auth_type": "hmac-sha1",
                "password": password,
                "vips": [_bare(vip)],
                "preempt": preempt,
            }
        )
        return d

    def finish_carp(self, *, failovers: list[tuple[str, str, str]]) -> dict[str, Any]:
        """``finish`` for a CARP scenario: measured with ``tests.lab_carp``."""
        assert self.capture is not None
        time.sleep(0.3)
        self.capture.stop()
        size = self.pcap.stat().st_size
        if size > MAX_BYTES:
            raise RecordingError(f"{self.pcap}: {size} bytes, over {MAX_BYTES}")
        adverts = read_carp_adverts(self.pcap)
        if not adverts or read_adverts(self.pcap):
            raise RecordingError(f"{self.pcap}: no CARP adverts, or VRRP ones too")
        by_addr = {(r["address"], r["vrid"]): r for r in self.routers}
        for a in adverts:
            r = by_addr.get((a.src, a.packet.vhid))
            if r is None:
                raise RecordingError(f"advert from unconfigured {a.src} vhid {a.packet.vhid}")
            p = a.packet
            if (p.advbase_s, p.advskew, a.src_mac) != (r["advbase_s"], r["advskew"], r["mac"]):
                raise RecordingError(f"{a.src}: advbase/advskew/MAC {p} {a.src_mac} != {r}")
        masters, measured = carp_masters_and_failovers(adverts)
        names = {r["address"]: r["name"] for r in self.routers}
        got = [(names[f["from"]], names[f["to"]], f["cause"]) for f in measured]
        if got != failovers:
            raise RecordingError(f"{self.name}: failovers {got}, expected {failovers}")
        _check_no_overlap(masters, measured)
        truth = {
            "capture": self.pcap.name,
            "description": self.description,
            "protocol": "carp",
            "routers": self.routers,
            "events": self.events,
            "masters": masters,
            "failovers": measured,
            # The CARP alerts of analyze/sniff are not pinned here yet: a lower bound of none.
            "expected_alerts": [],
            "no_critical": True,
        }
        (self.out_dir / f"{self.name}.json").write_text(json.dumps(truth, indent=2) + "\n")
        return truth

    def restart(self, name: str, host: Host, *insts: KeepalivedInstance) -> None:
        """Start a stopped keepalived router again with the same configuration."""
        self.event(f"start {name}")
        self.daemons[name] = host.keepalived(*insts)

    def stop(self, name: str) -> None:
        self.event(f"stop {name}")
        self.daemons[name].stop()

    def link_down(self, name: str, host: Host) -> None:
        self.event(f"link-down {name}")
        host.link_down()

    def link_up(self, name: str, host: Host) -> None:
        self.event(f"link-up {name}")
        host.link_up()

    def finish(
        self,
        *,
        failovers: list[tuple[str, str, str]] | list[tuple[list[int], str, str, str]],
        alerts: list[dict[str, Any]],
        no_critical: bool,
        concurrent_masters: bool = False,
    ) -> dict[str, Any]:
        """Stop the capture, check it against the scenario, write NAME.json."""
        assert self.capture is not None
        time.sleep(0.3)
        self.capture.stop()
        size = self.pcap.stat().st_size
        if size > MAX_BYTES:
            raise RecordingError(f"{self.pcap}: {size} bytes, over {MAX_BYTES}")
        adverts = read_adverts(self.pcap)
        if not adverts:
            raise RecordingError(f"{self.pcap}: no VRRP advert recorded")
        by_addr = {(r["address"], tuple(r["vlan"]), r["vrid"]): r for r in self.routers}
        for a in adverts:
            r = by_addr.get((a.src, a.vlan, a.packet.vrid))
            if r is None:
                raise RecordingError(
                    f"advert from unconfigured router {a.src} vlan {a.vlan} vrid {a.packet.vrid}"
                )
            if a.packet.priority not in (0, r["priority"]) and r["priority"] != 255:
                raise RecordingError(f"{a.src}: priority {a.packet.priority} != {r['priority']}")
        masters, measured = masters_and_failovers(adverts)
        names = {r["address"]: r["name"] for r in self.routers}
        # Compared per VLAN, in order (failovers on different VLANs may interleave).
        got = sorted(
            ((f["vlan"], names[f["from"]], names[f["to"]], f["cause"]) for f in measured),
            key=lambda x: x[0],
        )
        want = sorted(((e if len(e) == 4 else ([], *e)) for e in failovers), key=lambda x: x[0])
        if got != want:
            raise RecordingError(f"{self.name}: failovers {got}, expected {failovers}")
        if not concurrent_masters:
            _check_no_overlap(masters, measured)
        truth = {
            "capture": self.pcap.name,
            "description": self.description,
            "routers": self.routers,
            "events": self.events,
            "masters": masters,
            "failovers": measured,
            "expected_alerts": alerts,
            "no_critical": no_critical,
            **({"capture_filter": self.bpf} if self.bpf else {}),
        }
        (self.out_dir / f"{self.name}.json").write_text(json.dumps(truth, indent=2) + "\n")
        return truth


def _check_no_overlap(masters: list[dict[str, Any]], failovers: list[dict[str, Any]]) -> None:
    groups: dict[tuple[Any, ...], int] = {}
    for m in masters:
        key = (tuple(m["vlan"]), m["family"], m["vrid"])
        groups[key] = groups.get(key, 0) + 1
    for key, n in groups.items():
        nf = sum(1 for f in failovers if (tuple(f["vlan"]), f["family"], f["vrid"]) == key)
        if nf != n - 1:
            raise RecordingError(f"group {key}: {n} master runs but {nf} failovers")


def _bare(addr: str) -> str:
    return str(ipaddress.ip_interface(addr).ip)


def _vmac(vrid: int, family: int) -> str:
    return f"00:00:5e:00:0{1 if family == 4 else 2}:{vrid:02x}"


def _source(host: Host, inst: KeepalivedInstance) -> str:
    src = inst.unicast_src or inst.mcast_src
    return _bare(src) if src else _primary(host, inst.interface, inst.family)


def _primary(host: Host, iface: str, family: int) -> str:
    """The address a router sends its adverts from: the interface's first IPv4 address, or
    its IPv6 link-local address (RFC 5798 section 5.1.2.1)."""
    for a in host.addresses(iface):
        if a.version == family and (family == 4 or a.ip.is_link_local):
            return str(a.ip)
    raise LabError(f"{host.name}/{iface}: no IPv{family} primary address")


def alert(kind: str, vrid: int, source: str | None = None, *, family: int = 4,
          vlan: list[int] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "vlan": vlan or [], "family": family, "vrid": vrid, "source": source}


def settle(seconds: float) -> None:
    time.sleep(seconds)


# -- scenarios ---------------------------------------------------------------------------------


def v2_failover(s: Scenario) -> dict[str, Any]:
    lab = s.lab
    r1 = lab.host("r1", addr4="192.0.2.253/24")
    r2 = lab.host("r2", addr4="192.0.2.254/24")
    s.start_capture(lab.host("mon", ipv6=False))
    base = KeepalivedInstance(vrid=1, vips=("192.0.2.1/24",), auth_type="PASS", auth_pass="vrrp4me")
    i1 = KeepalivedInstance(**{**base.__dict__, "priority": 200})
    i2 = KeepalivedInstance(**{**base.__dict__, "priority": 100})
    s.keepalived(r1, i1, vlan=[])
    s.keepalived(r2, i2, vlan=[])
    r1.wait_for_address("192.0.2.1")
    settle(2.5)
    s.stop("r1")  # SIGTERM: priority 0, r2 takes over after its Skew_Time
    r2.wait_for_address("192.0.2.1")
    settle(2.0)
    s.restart("r1", r1, i1)
    r1.wait_for_address("192.0.2.1")  # preempts back after Master_Down_Interval
    settle(2.5)
    s.link_down("r1", r1)  # silence: r2 takes over after Master_Down_Interval
    r2.wait_for_address("192.0.2.1")
    settle(2.0)
    s.link_up("r1", r1)
    r1.wait_for_address("192.0.2.1")
    settle(2.5)
    addr1, addr2 = "192.0.2.253", "192.0.2.254"
    return s.finish(
        failovers=[
            ("r1", "r2", "resigned"),
            ("r2", "r1", "preempted"),
            ("r1", "r2", "silent"),
            ("r2", "r1", "preempted"),
        ],
        alerts=[
            alert("plaintext-auth", 1, addr1),
            alert("plaintext-auth", 1, addr2),
            alert("master-resigned", 1, addr1),
            alert("master-change", 1, addr2),
            alert("master-change", 1, addr1),
        ],
        no_critical=True,
    )


def _pair(
    s: Scenario, base: KeepalivedInstance, p1: int, p2: int, a1: str, a2: str, **kw2: Any
) -> tuple[Host, Host, KeepalivedInstance, KeepalivedInstance]:
    """Two keepalived routers r1 (priority p1) and r2 (p2) and a silent monitor."""
    lab = s.lab
    v6 = ipaddress.ip_interface(a1).version == 6
    r1 = lab.host("r1", addr4=None if v6 else a1, addr6=a1 if v6 else None)
    r2 = lab.host("r2", addr4=None if v6 else a2, addr6=a2 if v6 else None)
    s.start_capture(lab.host("mon", ipv6=False))
    i1 = KeepalivedInstance(**{**base.__dict__, "priority": p1})
    i2 = KeepalivedInstance(**{**base.__dict__, "priority": p2, **kw2})
    s.keepalived(r1, i1, vlan=[])
    s.keepalived(r2, i2, vlan=[])
    return r1, r2, i1, i2


def v2_auth_mismatch(s: Scenario) -> dict[str, Any]:
    base = KeepalivedInstance(vrid=2, vips=("192.0.2.2/24",), auth_type="PASS")
    r1, r2, _, _ = _pair(
        s, KeepalivedInstance(**{**base.__dict__, "auth_pass": "alpha1"}), 150, 100,
        "192.0.2.21/24", "192.0.2.22/24", auth_pass="bravo2",
    )  # fmt: skip
    # Neither accepts the other's adverts (RFC 3768 section 7.1: authentication failure), so
    # both become master: split brain, both claim the VIP.
    r1.wait_for_address("192.0.2.2")
    r2.wait_for_address("192.0.2.2")
    settle(8.0)
    a1, a2 = "192.0.2.21", "192.0.2.22"
    return s.finish(
        failovers=[],
        alerts=[
            alert("plaintext-auth", 2, a1),
            alert("plaintext-auth", 2, a2),
            alert("auth-mismatch", 2, None),
            alert("split-brain", 2, None),
            alert("garp-conflict", 2, None),
        ],
        no_critical=False,
        concurrent_masters=True,
    )


def v2_ah(s: Scenario) -> dict[str, Any]:
    base = KeepalivedInstance(vrid=3, vips=("192.0.2.3/24",), auth_type="AH", auth_pass="ahsecret")
    r1, r2, _, _ = _pair(s, base, 200, 100, "192.0.2.31/24", "192.0.2.32/24")
    r1.wait_for_address("192.0.2.3")
    settle(2.5)
    s.stop("r1")
    r2.wait_for_address("192.0.2.3")
    settle(2.5)
    return s.finish(
        failovers=[("r1", "r2", "resigned")],
        alerts=[
            alert("master-resigned", 3, "192.0.2.31"),
            alert("master-change", 3, "192.0.2.32"),
        ],
        no_critical=True,
    )


def v3_ipv4_fast(s: Scenario) -> dict[str, Any]:
    base = KeepalivedInstance(
        vrid=4, version=3, advert_int=0.1, vips=("203.0.113.1/24", "203.0.113.2/24")
    )
    r1, r2, _, _ = _pair(s, base, 200, 100, "203.0.113.251/24", "203.0.113.252/24")
    r1.wait_for_address("203.0.113.1")
    settle(1.0)
    s.link_down("r1", r1)  # Master_Down_Interval = 3 x 0.1 + 156/256 x 0.1 s
    r2.wait_for_address("203.0.113.1")
    settle(2.0)
    s.link_up("r1", r1)
    r1.wait_for_address("203.0.113.1")
    settle(2.0)
    s.stop("r1")  # Skew_Time = 156/256 x 0.1 s
    r2.wait_for_address("203.0.113.1")
    settle(1.0)
    a1, a2 = "203.0.113.251", "203.0.113.252"
    return s.finish(
        failovers=[("r1", "r2", "silent"), ("r2", "r1", "preempted"), ("r1", "r2", "resigned")],
        alerts=[
            alert("master-change", 4, a2),
            alert("master-change", 4, a1),
            alert("master-resigned", 4, a1),
        ],
        no_critical=True,
    )


def v3_ipv6(s: Scenario) -> dict[str, Any]:
    base = KeepalivedInstance(vrid=6, version=3, vips=("fe80::6/64", "2001:db8:6::1/64"))
    r1, r2, _, _ = _pair(s, base, 200, 100, "2001:db8:6::251/64", "2001:db8:6::252/64")
    r1.wait_for_address("2001:db8:6::1")
    settle(2.5)
    s.stop("r1")
    r2.wait_for_address("2001:db8:6::1")
    settle(2.5)
    a1 = s.routers[0]["address"]
    a2 = s.routers[1]["address"]
    return s.finish(
        failovers=[("r1", "r2", "resigned")],
        alerts=[
            alert("master-resigned", 6, a1, family=6),
            alert("master-change", 6, a2, family=6),
        ],
        no_critical=True,
    )


def unicast(s: Scenario) -> dict[str, Any]:
    a1, a2 = "198.51.100.251", "198.51.100.252"
    base = KeepalivedInstance(vrid=7, vips=("198.51.100.7/24",), unicast_src=a1,
                              unicast_peers=(a2,))  # fmt: skip
    r1, r2, _, _ = _pair(
        s, base, 200, 100, f"{a1}/24", f"{a2}/24", unicast_src=a2, unicast_peers=(a1,)
    )
    r1.wait_for_address("198.51.100.7")
    settle(2.5)
    s.link_down("r1", r1)
    r2.wait_for_address("198.51.100.7")
    settle(2.0)
    s.link_up("r1", r1)
    r1.wait_for_address("198.51.100.7")
    settle(2.0)
    return s.finish(
        failovers=[("r1", "r2", "silent"), ("r2", "r1", "preempted")],
        alerts=[alert("master-change", 7, a2), alert("master-change", 7, a1)],
        no_critical=True,
    )


def vmac(s: Scenario) -> dict[str, Any]:
    base = KeepalivedInstance(vrid=8, vips=("198.51.100.8/24",), use_vmac=True)
    r1, r2, _, _ = _pair(s, base, 200, 100, "198.51.100.81/24", "198.51.100.82/24")
    r1.wait_for_address("198.51.100.8")
    settle(2.5)
    s.stop("r1")
    r2.wait_for_address("198.51.100.8")
    settle(2.5)
    return s.finish(
        failovers=[("r1", "r2", "resigned")],
        alerts=[
            alert("master-resigned", 8, "198.51.100.81"),
            alert("master-change", 8, "198.51.100.82"),
        ],
        no_critical=True,
    )


def rogue(s: Scenario) -> dict[str, Any]:
    base = KeepalivedInstance(vrid=10, version=3, vips=("203.0.113.10/24",))
    r1, r2, _, _ = _pair(s, base, 150, 100, "203.0.113.101/24", "203.0.113.102/24")
    r1.wait_for_address("203.0.113.10")
    settle(3.0)
    # An unexpected router claims the group with priority 255 (the address owner's priority,
    # RFC 5798 section 5.2.4) although it does not own the VIP: it takes over at once.
    evil = s.lab.host("evil", addr4="203.0.113.66/24")
    s.keepalived(evil, KeepalivedInstance(**{**base.__dict__, "priority": 255}), vlan=[],
                 name="rogue")  # fmt: skip
    evil.wait_for_address("203.0.113.10")
    settle(3.0)
    return s.finish(
        failovers=[("r1", "rogue", "preempted")],
        alerts=[
            alert("rogue-advertiser", 10, "203.0.113.66"),
            alert("priority-255", 10, "203.0.113.66"),
            alert("master-change", 10, "203.0.113.66"),
        ],
        no_critical=False,
    )


def vlans(s: Scenario) -> dict[str, Any]:
    lab = s.lab
    v10, v20, v30 = (lab.segment(vlan=v) for v in (10, 20, 30))
    r1 = lab.host("r1", v10, addr4="192.0.2.252/24")
    r2 = lab.host("r2", v10, addr4="192.0.2.253/24")
    r1.attach(v20, "vlan20", addr4="198.51.100.252/24")
    r2.attach(v20, "vlan20", addr4="198.51.100.253/24")
    # On VLAN 30 r1 owns the VIP 203.0.113.254 (one of its interface addresses), runs
    # priority 255 (RFC 5798 section 5.2.4) and advertises from it (mcast_src_ip). keepalived
    # removes VIPs at startup, so the interface keeps a second address, 203.0.113.252. It is a
    # separate keepalived ("r1-owner"), started first: keepalived ignores adverts from an
    # address it holds itself, so a backup holding the VIP would never yield to the owner.
    r1.attach(v30, "vlan30", addr4="203.0.113.252/24")
    r1.add_address("203.0.113.254/24", "vlan30")
    r2.attach(v30, "vlan30", addr4="203.0.113.253/24")
    s.start_capture(lab.trunk_monitor("mon"))

    def inst(vrid: int, prio: int, vip: str, iface: str, **kw: Any) -> KeepalivedInstance:
        return KeepalivedInstance(vrid=vrid, priority=prio, vips=(vip,), interface=iface, **kw)

    def config(on_r1: bool) -> list[tuple[KeepalivedInstance, list[int]]]:
        def p(mine: int, other: int) -> int:
            return mine if on_r1 else other

        return [
            (inst(1, p(200, 100), "192.0.2.1/24", "eth0", name="V10_1"), [10]),
            (inst(2, p(100, 200), "192.0.2.2/24", "eth0", name="V10_2"), [10]),
            # The same VRID 1 on VLAN 20, a nopreempt group (keepalived: state BACKUP).
            (inst(1, p(150, 100), "198.51.100.1/24", "vlan20", nopreempt=True, name="V20_1"), [20]),
        ]

    owner = inst(30, 255, "203.0.113.254/24", "vlan30", mcast_src="203.0.113.254", name="V30")
    s.keepalived_multi(r1, [(owner, [30])], name="r1-owner")
    s.daemons["r1-owner"].wait_for_log(r"\(V30\) Entering MASTER STATE")
    settle(1.0)
    # r2 next: master of VLAN 10 and 20, backup of the owner on VLAN 30; then r1 joins.
    s.keepalived_multi(
        r2, [*config(False), (inst(30, 100, "203.0.113.254/24", "vlan30", name="V30"), [30])],
        name="r2",
    )  # fmt: skip
    for vip in ("192.0.2.1", "192.0.2.2", "198.51.100.1"):
        r2.wait_for_address(vip)
    settle(1.0)
    s.keepalived_multi(r1, config(True), name="r1")
    r1.wait_for_address("192.0.2.1")  # preempts on VLAN 10 VRID 1
    settle(3.0)
    # nopreempt on VLAN 20: r2 keeps VRID 1 although r1 has the higher priority.
    if not r2.has_address("198.51.100.1") or r1.has_address("198.51.100.1"):
        raise RecordingError("nopreempt group changed master")
    s.stop("r1")  # priority 0 on VLAN 10 VRID 1
    s.stop("r1-owner")  # priority 0 on VLAN 30
    r2.wait_for_address("192.0.2.1")
    r2.wait_for_address("203.0.113.254")
    settle(2.5)
    a1_10, a2_10, a1_30, a2_30 = "192.0.2.252", "192.0.2.253", "203.0.113.254", "203.0.113.253"
    return s.finish(
        failovers=[
            ([10], "r2", "r1", "preempted"),
            ([10], "r1", "r2", "resigned"),
            ([30], "r1-owner", "r2", "resigned"),
        ],
        alerts=[
            alert("priority-255", 30, a1_30, vlan=[30]),
            alert("master-change", 1, a1_10, vlan=[10]),
            alert("master-change", 1, a2_10, vlan=[10]),
            alert("master-resigned", 1, a1_10, vlan=[10]),
            alert("master-resigned", 30, a1_30, vlan=[30]),
            alert("master-change", 30, a2_30, vlan=[30]),
        ],
        no_critical=True,
    )


def frr_keepalived(s: Scenario) -> dict[str, Any]:
    lab = s.lab
    r1 = lab.host("r1", addr4="192.0.2.91/24")
    r2 = lab.host("r2", addr4="192.0.2.92/24")
    s.start_capture(lab.host("mon", ipv6=False))
    s.frr(r1, vrid=9, priority=200, vips=["192.0.2.9/24"], name="frr1")
    s.keepalived(r2, KeepalivedInstance(vrid=9, version=3, priority=100,
                                        vips=("192.0.2.9/24",)), vlan=[], name="ka2")  # fmt: skip
    s.daemons["frr1"].wait_for_log(r"Master", timeout=15)
    settle(3.0)
    s.stop("frr1")
    r2.wait_for_address("192.0.2.9")
    settle(2.5)
    return s.finish(
        # FRR's vrrpd sends priority 0 on SIGTERM too (RFC 5798 section 6.4.3).
        failovers=[("frr1", "ka2", "resigned")],
        alerts=[alert("master-resigned", 9, "192.0.2.91"), alert("master-change", 9, "192.0.2.92")],
        no_critical=True,
    )


def carp_ucarp(s: Scenario) -> dict[str, Any]:
    lab = s.lab
    r1, r2, r3 = (lab.host(f"r{i}", addr4=f"192.0.2.{50 + i}/24") for i in (1, 2, 3))
    s.start_capture(lab.host("mon", ipv6=False))
    vip = "192.0.2.50"
    group = {"vhid": 5, "password": "carp4me", "vip": f"{vip}/24"}
    # Every ucarp starts as a backup; r1 (advskew 0) is master before the others start.
    s.ucarp(r1, advskew=0, name="r1", **group)
    r1.wait_for_address(vip, timeout=10)
    s.ucarp(r2, advskew=50, name="r2", **group)
    s.ucarp(r3, advskew=100, name="r3", **group)
    settle(2.5)
    s.link_down("r1", r1)  # ucarp sees no carrier: BACKUP, down script; r2's timer fires first
    r2.wait_for_address(vip, timeout=10)
    settle(2.0)
    s.link_up("r1", r1)  # r1 (--preempt, advertises more often) takes over from r2
    r1.wait_for_address(vip, timeout=15)
    r2.wait_for_address(vip, timeout=5, present=False)
    settle(2.0)
    s.stop("r1")  # SIGTERM with --shutdown: down script, nothing on the wire
    if r1.has_address(vip):
        raise RecordingError("r1 kept the VIP after SIGTERM")
    r2.wait_for_address(vip, timeout=10)
    settle(2.0)
    s.stop("r2")
    r3.wait_for_address(vip, timeout=10)
    settle(2.0)
    return s.finish_carp(
        failovers=[("r1", "r2", "silent"), ("r2", "r1", "preempted"), ("r1", "r2", "silent"),
                   ("r2", "r3", "silent")],
    )  # fmt: skip


def v2_three_routers(s: Scenario) -> dict[str, Any]:
    lab = s.lab
    r1, r2, r3 = (lab.host(f"r{i}", addr4=f"192.0.2.11{i}/24") for i in (1, 2, 3))
    # Adverts only (like a capture filtered on VRRP): when r2 and r3 time out together both
    # send gratuitous ARPs for the VIP, which is not what this capture is about.
    s.start_capture(lab.host("mon", ipv6=False), bpf="ip proto 112")
    base = KeepalivedInstance(vrid=11, vips=("192.0.2.11/24",))
    i1, i2, i3 = (KeepalivedInstance(**{**base.__dict__, "priority": p}) for p in (200, 100, 100))
    s.keepalived(r3, i3, vlan=[])
    r3.wait_for_address("192.0.2.11")
    # r2 has r3's priority and a lower address: it stays backup (RFC 3768 section 6.4.2).
    s.keepalived(r2, i2, vlan=[])
    settle(2.0)
    s.keepalived(r1, i1, vlan=[])
    r1.wait_for_address("192.0.2.11")  # preempts r3 after its Master_Down_Interval
    settle(2.5)
    # Silence: r2 and r3 have one Master_Down_Interval (3 x 1 s + 156/256 s) and time out
    # together; if both advertise, r2 yields to r3's higher address (section 6.4.3).
    s.link_down("r1", r1)
    r3.wait_for_address("192.0.2.11")
    settle(3.0)
    if r2.has_address("192.0.2.11"):
        raise RecordingError("r2 kept the VIP beside r3")
    # Whether r2's timer fires before r3's first advert reaches it is a race (tens of
    # microseconds on the lab's bridge; about one run in three): this capture is about it.
    down = s.events[-1]["time"]
    if not any(a.src == "192.0.2.112" and a.time > down for a in read_adverts(s.pcap)):
        raise RecordingError("r2 did not advertise after r1's cable pull (a lost race): again")
    a1, a3 = "192.0.2.111", "192.0.2.113"
    return s.finish(
        failovers=[("r3", "r1", "preempted"), ("r1", "r3", "silent")],
        alerts=[alert("master-change", 11, a1), alert("master-change", 11, a3)],
        no_critical=True,
    )


SCENARIOS: dict[str, tuple[str, Callable[[Scenario], dict[str, Any]]]] = {
    "v2-failover": (
        "VRRPv2, VRID 1, PASS auth, r1 (priority 200) and r2 (100) share 192.0.2.1: r1 is "
        "stopped cleanly (priority 0), comes back and preempts, loses its cable, gets it back "
        "and preempts again.",
        v2_failover,
    ),
    "v2-auth-mismatch": (
        "VRRPv2, VRID 2, PASS auth with different passwords (r1 'alpha1' priority 150, r2 "
        "'bravo2' priority 100): each discards the other's adverts, both become master and "
        "hold the VIP. keepalived 2.2.7 restarts a master's advert timer on every received "
        "advert, even one it discards, so r2 advertises only now and then.",
        v2_auth_mismatch,
    ),
    "v2-ah": (
        "VRRPv2, VRID 3, IPsec AH authentication (keepalived auth_type AH): r1 (200) master, "
        "stopped cleanly, r2 (100) takes over.",
        v2_ah,
    ),
    "v3-ipv4-fast": (
        "VRRPv3 IPv4, VRID 4, 0.1 s adverts, two VIPs: r1 (200) loses its cable, r2 (100) "
        "takes over, r1 returns and preempts, then r1 is stopped cleanly.",
        v3_ipv4_fast,
    ),
    "v3-ipv6": (
        "VRRPv3 IPv6, VRID 6, adverts from link-local addresses, VIPs fe80::6 and "
        "2001:db8:6::1 with unsolicited neighbour advertisements: r1 (200) stopped cleanly, "
        "r2 (100) takes over.",
        v3_ipv6,
    ),
    "vlans": (
        "Three 802.1Q VLANs seen on a trunk: VLAN 10 runs VRID 1 (r1 200 / r2 100) and VRID 2 "
        "(r2 200 / r1 100); VLAN 20 reuses VRID 1 as a nopreempt group (r1 150 / r2 100); on "
        "VLAN 30 r1 owns the VIP 203.0.113.254 (priority 255, adverts from that address, a "
        "second keepalived 'r1-owner'). The owner starts, then r2, then r1 (it preempts VLAN 10 "
        "VRID 1, not the nopreempt group); finally r1 and the owner are stopped cleanly.",
        vlans,
    ),
    "unicast": (
        "VRRPv2, VRID 7, keepalived unicast_peer (adverts sent to the peer's address, not "
        "224.0.0.18): r1 (200) loses its cable, r2 (100) takes over, r1 returns and preempts.",
        unicast,
    ),
    "vmac": (
        "VRRPv2, VRID 8, keepalived use_vmac (adverts and ARPs from 00:00:5e:00:01:08): r1 "
        "(200) stopped cleanly, r2 (100) takes over.",
        vmac,
    ),
    "frr-keepalived": (
        "VRRPv3 IPv4, VRID 9: FRR vrrpd (priority 200) and keepalived (100) in one group; "
        "FRR is stopped and keepalived takes over.",
        frr_keepalived,
    ),
    "rogue": (
        "VRRPv3 IPv4, VRID 10: r1 (150) master, r2 (100) backup; a rogue host joins with "
        "priority 255 without owning the VIP and takes the group over.",
        rogue,
    ),
    "carp-ucarp": (
        "CARP (not VRRP) from ucarp, vhid 5, HMAC-SHA1 password, VIP 192.0.2.50, advbase 1 s: "
        "r1 (advskew 0), r2 (50) and r3 (100), all --preempt. r1 loses its cable, r2 takes "
        "over; r1 returns and preempts; r1 is stopped (SIGTERM: ucarp sends nothing), r2 takes "
        "over; r2 is stopped, r3 takes over.",
        carp_ucarp,
    ),
    "v2-three-routers": (
        "VRRPv2, VRID 11, no authentication, VIP 192.0.2.11: r3 (priority 100) is master, r2 "
        "(100, lower address) joins as backup, r1 (200) joins and preempts; r1 loses its cable "
        "and r2 and r3 time out together, r3 (the higher address) keeps the group.",
        v2_three_routers,
    ),
}


def record(name: str, out_dir: Path) -> dict[str, Any]:
    description, fn = SCENARIOS[name]
    with Lab() as lab:
        s = Scenario(name, description, lab, out_dir)
        try:
            return fn(s)
        except BaseException:
            for d in s.daemons.values():
                sys.stderr.write(f"--- {d.name} log ---\n{d.log[-3000:]}\n")
            raise


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="scenarios to record (default: all)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = p.parse_args(argv)
    if args.list:
        for n, (d, _) in SCENARIOS.items():
            print(f"{n}: {d}")
        return 0
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
    wanted = args.names or SCENARIOS
    missing = missing_prerequisites(frr="frr-keepalived" in wanted, ucarp="carp-ucarp" in wanted)
    if missing:
        print(f"record.py: cannot run the lab: {'; '.join(missing)}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for n in args.names or list(SCENARIOS):
        t0 = time.monotonic()
        try:
            truth = record(n, args.out)
        except (LabError, RecordingError) as e:
            print(f"{n}: FAILED: {e}", file=sys.stderr)
            failed.append(n)
            continue
        size = (args.out / f"{n}.pcap").stat().st_size
        gaps = ", ".join(
            f"{f['cause']} {f['gap_ms']:.0f}/{f['expected_ms'] or 0:.0f} ms"
            for f in truth["failovers"]
        )
        print(f"{n}: {size} bytes, {time.monotonic() - t0:.1f} s; failovers: {gaps or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
