"""``join --config`` with keepalived's tracking: a failing track_script lowers join's priority
below a keepalived backup, which takes over, and preemption follows its recovery; a tracked
interface going down puts join in FAULT (priority-0 advert) and keepalived takes over."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import Lab
from vrrpwatch.rfc import master_down_interval, skew_time

pytestmark = pytest.mark.integration

VIP = "192.0.2.1"
# The config below: a 1 s script, fall 2, rise 2; join at 150 - 60 = 90 below keepalived's 100.
INTERVAL_S, FALL, RISE = 1, 2, 2
JOIN_PRIORITY, WEIGHT, KA_PRIORITY = 150, -60, 100
# What this shared 2-core machine adds to a measured time (process wake-ups, reading logs).
SLACK_S = 0.35

SCRIPT_CONF = """\
global_defs {{
    router_id r2
}}
vrrp_script chk_flag {{
    script "/usr/bin/test -f {flag}"
    interval {interval}
    weight {weight}
    fall {fall}
    rise {rise}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 1
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cret
    }}
    virtual_ipaddress {{
        192.0.2.1/24 dev eth0
    }}
    track_script {{
        chk_flag
    }}
}}
"""

IFACE_CONF = """\
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 1
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cret
    }}
    virtual_ipaddress {{
        192.0.2.1/24 dev eth0
    }}
    track_interface {{
        eth1
    }}
}}
"""


@pytest.fixture
def tlab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


def at(event: dict[str, Any]) -> float:
    """An event's wall-clock time (join's JSON ``time`` is ISO 8601)."""
    return datetime.fromisoformat(event["time"]).timestamp()


def test_failing_track_script_hands_over_and_recovery_preempts(tlab: Lab) -> None:
    r1, r2, _mon = classic(tlab)
    flag = r2.workdir / "healthy"
    flag.write_text("ok\n")
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(
        SCRIPT_CONF.format(
            flag=flag,
            interval=INTERVAL_S,
            weight=WEIGHT,
            fall=FALL,
            rise=RISE,
            priority=JOIN_PRIORITY,
        )
    )
    r1.keepalived(
        vrid=1, priority=KA_PRIORITY, vips=[f"{VIP}/24"], auth_type="PASS", auth_pass="s3cret"
    )
    j = Join(r2, "--config", str(conf), "--learn-timeout", "0")
    j.wait_state("MASTER", 10)
    r2.wait_for_address(VIP, timeout=2)
    r1.wait_for_address(VIP, timeout=5, present=False)
    assert not [e for e in j.events() if e["event"] == "priority"]  # healthy: no change

    # The script starts failing: after FALL failed runs the priority drops to 90.
    t_fail = time.time()
    flag.unlink()
    drop = j.wait_for(lambda e: e["event"] == "priority", timeout=FALL * INTERVAL_S + 2)
    assert (drop["previous_priority"], drop["effective_priority"]) == (150, 90)
    assert drop["base_priority"] == 150 and drop["cause"] == "script chk_flag failed"
    took = at(drop) - t_fail
    # The first failed run comes within one interval, the FALL-th FALL - 1 intervals later.
    assert (FALL - 1) * INTERVAL_S <= took + 0.05 < FALL * INTERVAL_S + SLACK_S, took
    # keepalived (preempting, 100) discards our 90s: Master_Down_Interval after our last 150
    # advert (sent at most one interval before the drop) it is master.
    r1.wait_for_address(VIP, timeout=5)
    handover = time.time() - at(drop)
    ka_down = master_down_interval(KA_PRIORITY, 1.0, version=2)
    assert ka_down - 1.0 - SLACK_S < handover < ka_down + SLACK_S, handover
    backup = j.wait_state("BACKUP", 3, after=j.events().index(drop))
    assert backup["cause"] == "higher-priority" and backup["priority"] == 90
    r2.wait_for_address(VIP, timeout=2, present=False)

    # Recovery: RISE good runs bring 150 back, and join preempts keepalived's 100.
    t_ok = time.time()
    flag.write_text("ok\n")
    n = len(j.events())
    rise = j.wait_for(
        lambda e: e["event"] == "priority" and e["effective_priority"] == 150,
        timeout=RISE * INTERVAL_S + 2,
    )
    took = at(rise) - t_ok
    assert (RISE - 1) * INTERVAL_S <= took + 0.05 < RISE * INTERVAL_S + SLACK_S, took
    master = j.wait_state("MASTER", 6, after=n)
    preempt = at(master) - at(rise)
    # Our Master_Down_Timer, restarted by keepalived's last advert (at most one interval
    # before the rise) and moved by the new Skew_Time, runs out: we take over.
    join_down = master_down_interval(JOIN_PRIORITY, 1.0, version=2)
    assert join_down - 1.0 - SLACK_S < preempt < join_down + SLACK_S, preempt
    r2.wait_for_address(VIP, timeout=2)
    r1.wait_for_address(VIP, timeout=3, present=False)
    assert j.signal(signal.SIGTERM) == 0
    assert j.states() == ["BACKUP", "MASTER", "BACKUP", "MASTER", "INIT"]
    lines = j.text()
    assert "VRRP_Script(chk_flag) failed (exited with status 1)" in lines
    assert "Changing effective priority from 150 to 90 (script chk_flag failed)" in lines


def test_tracked_interface_down_faults_and_keepalived_takes_over(tlab: Lab) -> None:
    r1, r2, _mon = classic(tlab)
    r2.attach(tlab.segment(), "eth1", addr4="198.51.100.2/24")
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(IFACE_CONF.format(priority=JOIN_PRIORITY))
    r1.keepalived(
        vrid=1, priority=KA_PRIORITY, vips=[f"{VIP}/24"], auth_type="PASS", auth_pass="s3cret"
    )
    j = Join(r2, "--config", str(conf), "--learn-timeout", "0")
    j.wait_state("MASTER", 10)
    r1.wait_for_address(VIP, timeout=5, present=False)

    t_down = time.time()
    r2.run(["ip", "link", "set", "eth1", "down"])
    fault = j.wait_state("FAULT", 2)
    assert fault["cause"] == "tracking-fault"
    assert at(fault) - t_down < 0.1 + SLACK_S  # read every 0.1 s
    assert not r2.has_address(VIP)
    # Our priority-0 advert: keepalived takes over after its Skew_Time, not 3 intervals.
    r1.wait_for_address(VIP, timeout=3)
    took = time.time() - at(fault)
    assert took < skew_time(KA_PRIORITY, 1.0, version=2) + SLACK_S, took
    zero = [e for e in j.events() if e["event"] == "advert" and e.get("priority") == 0]
    assert zero, "no priority-0 advert logged on entering FAULT"

    n = len(j.events())
    r2.run(["ip", "link", "set", "eth1", "up"])
    back = j.wait_state("BACKUP", 2, after=n)
    assert back["cause"] == "tracking-recovered"
    j.wait_state("MASTER", 6, after=n)  # 150 preempts keepalived's 100 again
    r1.wait_for_address(VIP, timeout=3, present=False)
    assert j.signal(signal.SIGTERM) == 0
    assert j.states() == ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "INIT"]
