"""``vrrpwatch join --config`` with several instances: a vrrp_sync_group on two segments
against keepalived, and notify scripts that never see a shell."""

from __future__ import annotations

import ast
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import VRRPWATCH, Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import Host, KeepalivedInstance, Lab

pytestmark = pytest.mark.integration


@pytest.fixture
def mlab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


class ConfigJoin(Join):
    """``vrrpwatch join --json --config FILE ...``: no --state-file (an instance's own flag;
    each instance has its default one)."""

    def __init__(self, host: Host, *args: str) -> None:
        self.host = host
        n = len(list(host.workdir.glob("join*.log")))
        self.log_path = host.workdir / f"join{n}.log"
        argv = [VRRPWATCH, "join", "--json", "--db", str(host.workdir / "join.db"), *args]
        self.proc = host.popen(argv, log=self.log_path)

    def states_of(self, instance: str) -> list[str]:
        return [
            e["new"]
            for e in self.events()
            if e["event"] == "state" and e.get("instance") == instance
        ]


SYNC_CONF = """\
! the backup router's keepalived.conf: two instances on two segments, one sync group
global_defs {{ router_id r2 }}
vrrp_sync_group G1 {{
    group {{
        VI_1
        VI_2
    }}
    notify "{python} {recorder} {out}"
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 1
    priority 50
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cret
    }}
    virtual_ipaddress {{
        192.0.2.1/24 dev eth0
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth1
    virtual_router_id 2
    priority 50
    advert_int 1
    virtual_ipaddress {{
        198.51.100.1/24 dev eth1
    }}
}}
"""

RECORDER = "import sys\nopen(sys.argv[1], 'a').write(repr(sys.argv[2:]) + '\\n')\n"


def test_a_sync_group_on_two_segments_fails_over_and_back_together(
    mlab: Lab, tmp_path: Path
) -> None:
    r1, r2, _mon = classic(mlab)
    wan = mlab.segment("wan")
    r1.attach(wan, "eth1", addr4="198.51.100.253/24")
    r2.attach(wan, "eth1", addr4="198.51.100.254/24")
    # keepalived as master of both, in one sync group: its eth0 cable pulled, both go.
    ka = r1.keepalived(
        KeepalivedInstance(vrid=1, priority=100, state="MASTER", vips=("192.0.2.1/24",),
                           auth_type="PASS", auth_pass="s3cret", name="VI_1"),
        KeepalivedInstance(vrid=2, priority=100, state="MASTER", vips=("198.51.100.1/24",),
                           interface="eth1", name="VI_2"),
        extra="vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n",
    )  # fmt: skip
    r1.wait_for_address("192.0.2.1", timeout=10)
    r1.wait_for_address("198.51.100.1", timeout=10)
    recorder = r2.workdir / "recorder.py"
    recorder.write_text(RECORDER)
    out = r2.workdir / "group-notify.txt"
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(SYNC_CONF.format(python=sys.executable, recorder=recorder, out=out))
    j = ConfigJoin(r2, "--config", str(conf), "--learn-timeout", "0")
    j.wait_for(lambda e: e["event"] == "state" and e.get("instance") == "VI_2", 5)
    assert j.states_of("VI_1") == ["BACKUP"] and j.states_of("VI_2") == ["BACKUP"]
    # Pull r1's cable on the first segment only: join takes over on BOTH segments.
    pulled = time.monotonic()
    r1.link_down("eth0")
    r2.wait_for_address("192.0.2.1", timeout=8)
    r2.wait_for_address("198.51.100.1", timeout=8)
    took = time.monotonic() - pulled
    assert j.states_of("VI_1")[:2] == ["BACKUP", "MASTER"]
    assert j.states_of("VI_2")[:2] == ["BACKUP", "MASTER"]
    groups = [(e["old"], e["new"]) for e in j.events() if e["event"] == "group-state"]
    assert groups == [("BACKUP", "MASTER")]
    # keepalived's VI_2 left with the group (its own interface is up): FAULT.
    ka.wait_for_log(r"\(VI_2\) Entering FAULT STATE", timeout=5)
    # Plug it back: keepalived takes both back, and join gives both back together.
    r1.link_up("eth0")
    r2.wait_for_address("192.0.2.1", timeout=10, present=False)
    r2.wait_for_address("198.51.100.1", timeout=10, present=False)
    r1.wait_for_address("192.0.2.1", timeout=5)
    r1.wait_for_address("198.51.100.1", timeout=5)
    assert j.signal(signal.SIGTERM) == 0
    assert j.states_of("VI_1")[:3] == ["BACKUP", "MASTER", "BACKUP"]
    assert j.states_of("VI_2")[:3] == ["BACKUP", "MASTER", "BACKUP"]
    lines = [ast.literal_eval(x) for x in out.read_text().splitlines()]
    assert ["GROUP", "G1", "MASTER", "0"] in lines and ["GROUP", "G1", "BACKUP", "0"] in lines
    assert lines[-1] == ["GROUP", "G1", "STOP", "0"]
    print(f"sync group takeover on both segments {took:.2f} s after the cable pull")


EVIL_CONF = """\
global_defs {{ router_id r2
    notify_fifo {fifo}
}}
vrrp_instance "{name}" {{
    interface eth0
    virtual_router_id 1
    priority 50
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cret
    }}
    virtual_ipaddress {{
        192.0.2.1/24 dev eth0
    }}
    notify "{python} {recorder} {out}"
    notify_backup "{python} {recorder} {out} backup-only"
}}
"""


def test_a_notify_script_gets_a_hostile_instance_name_as_one_argument(mlab: Lab) -> None:
    r1, r2, _mon = classic(mlab)
    r1.keepalived(
        vrid=1, priority=100, state="MASTER", vips=["192.0.2.1/24"], auth_type="PASS",
        auth_pass="s3cret",
    )  # fmt: skip
    r1.wait_for_address("192.0.2.1", timeout=10)
    pwned = r2.workdir / "pwned"
    name = f"VI_1;$(touch {pwned})`touch {pwned}`|touch {pwned}&&x"
    recorder = r2.workdir / "recorder.py"
    recorder.write_text(RECORDER)
    out = r2.workdir / "notify.txt"
    fifo = r2.workdir / "notify.fifo"
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(
        EVIL_CONF.format(name=name, python=sys.executable, recorder=recorder, out=out, fifo=fifo)
    )
    j = ConfigJoin(r2, "--config", str(conf), "--learn-timeout", "0")
    e = j.wait_state("BACKUP", 5)
    assert e["instance"] == name and e["message"] == f"({name}) Entering BACKUP STATE"
    # The FIFO line, read while join holds the FIFO open (read-write, as keepalived does).
    # (The state line is printed just before the notifies run: wait for it.)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    try:
        end = time.monotonic() + 3
        while not data.endswith(b"\n") and time.monotonic() < end:
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.02)
    finally:
        os.close(fd)
    assert data.decode() == f'INSTANCE "{name}" BACKUP 50\n'
    end = time.monotonic() + 5
    while time.monotonic() < end and len(out.read_text().splitlines() if out.exists() else []) < 2:
        time.sleep(0.05)
    assert j.signal(signal.SIGTERM) == 0
    lines = sorted(ast.literal_eval(x) for x in out.read_text().splitlines())
    assert lines == sorted(
        [["backup-only"], ["INSTANCE", name, "BACKUP", "50"], ["INSTANCE", name, "STOP", "50"]]
    )
    assert not pwned.exists()
    assert fifo.is_fifo()


RELOAD_CONF = """\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    advert_int 1
    virtual_ipaddress { 192.0.2.1/24 dev eth0 }
}
"""
RELOAD_VI_2 = """\
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    priority 100
    advert_int 1
    virtual_ipaddress { 192.0.2.2/24 dev eth0 }
}
"""


def test_sighup_keeps_unchanged_instances_and_stops_removed_ones(mlab: Lab) -> None:
    """keepalived's reload: unchanged instances lose no advert, a removed one sends its
    priority 0, an added one starts, a changed one restarts."""
    from tests.lab import read_adverts

    _r1, r2, mon = classic(mlab)
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(RELOAD_CONF + RELOAD_VI_2)
    j = ConfigJoin(r2, "--config", str(conf), "--learn-timeout", "0")
    r2.wait_for_address("192.0.2.1", timeout=8)
    r2.wait_for_address("192.0.2.2", timeout=8)
    pcap = mon.workdir / "reload.pcap"
    dump = mon.tcpdump(pcap)
    time.sleep(1.5)
    # Unchanged: both instances go on, not one advert lost.
    j.proc.send_signal(signal.SIGHUP)
    j.wait_for(lambda e: e["event"] == "reload", 5)
    time.sleep(2.5)
    # VI_2 removed: its priority-0 advert, its VIP gone; VI_1 goes on.
    conf.write_text(RELOAD_CONF)
    hup2 = time.time()
    j.proc.send_signal(signal.SIGHUP)
    r2.wait_for_address("192.0.2.2", timeout=5, present=False)
    time.sleep(2.5)
    # VI_3 added: it starts (backup, then master after its Master_Down_Interval).
    conf.write_text(RELOAD_CONF + RELOAD_VI_2.replace("VI_2", "VI_3").replace("_id 2", "_id 3")
                    .replace("192.0.2.2/", "192.0.2.3/"))  # fmt: skip
    j.proc.send_signal(signal.SIGHUP)
    r2.wait_for_address("192.0.2.3", timeout=8)
    # VI_1 changed (priority 90): it stops (priority 0) and starts again.
    conf.write_text(
        conf.read_text().replace(
            "priority 100\n    advert_int 1\n    virtual_ipaddress { 192.0.2.1",
            "priority 90\n    advert_int 1\n    virtual_ipaddress { 192.0.2.1",
        )
    )
    changed = time.time()
    j.proc.send_signal(signal.SIGHUP)
    j.wait_for(
        lambda e: (
            e["event"] == "state"
            and e.get("instance") == "VI_1"
            and e["priority"] == 90
            and e["new"] == "MASTER"
        ),
        8,
    )
    dump.stop()
    assert r2.has_address("192.0.2.1")
    assert j.signal(signal.SIGTERM) == 0
    assert j.states_of("VI_3") == ["BACKUP", "MASTER", "INIT"]
    adverts = [a for a in read_adverts(pcap) if a.src == "192.0.2.254"]
    vi1 = [
        a.time
        for a in adverts
        if a.packet.vrid == 1 and a.packet.priority == 100 and a.time < changed
    ]
    assert [a.packet.priority for a in adverts if a.packet.vrid == 1 and a.time > changed][:2] == [
        0, 90
    ]  # fmt: skip
    vi2 = [a for a in adverts if a.packet.vrid == 2]
    gaps = [b - a for a, b in zip(vi1, vi1[1:], strict=False)]
    assert len(vi1) >= 9 and max(gaps) < 1.1, gaps
    print(f"VI_1 through three reloads: {len(vi1)} adverts, largest gap {max(gaps):.3f} s")
    assert [a.packet.priority for a in vi2][-1] == 0
    before = [a.time for a in vi2 if a.packet.priority == 100 and a.time < hup2]
    assert len(before) >= 3 and max(b - a for a, b in zip(before, before[1:], strict=False)) < 1.1
    assert j.states_of("VI_2") == ["BACKUP", "MASTER", "INIT"]
    # One run through the first three reloads, then the restart with priority 90.
    assert j.states_of("VI_1") == ["BACKUP", "MASTER", "INIT", "BACKUP", "MASTER", "INIT"]
