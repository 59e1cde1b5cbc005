"""``vrrpwatch join --config``: the backup's own keepalived.conf, with a keepalived master."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import Lab, read_adverts
from vrrpwatch.rfc import master_down_interval

pytestmark = pytest.mark.integration

# The master's keepalived.conf as the article that started this project writes it (state
# MASTER, priority 100, PASS, a VIP with brd and dev); the backup runs the very same file
# with the priority changed, under join.
ARTICLE_CONF = """\
! Configuration File for keepalived
global_defs {
    router_id r2
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 1
    priority PRIORITY
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        192.0.2.1/24 brd 192.0.2.255 dev eth0
    }
}
"""
BACKUP_CONF = ARTICLE_CONF.replace("PRIORITY", "50")
# Scheduling slack on the shared 2-core machine above the RFC value (as tests/integration/
# test_join.py); below it, 10 ms.
SLACK_S = 0.05
CAPTURE_FLUSH_S = 1.2


@pytest.fixture
def clab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


def test_join_from_keepalived_conf_takes_over_and_gives_back(clab: Lab, tmp_path: Path) -> None:
    r1, r2, mon = classic(clab)
    cap = mon.tcpdump(tmp_path / "article.pcap")
    r1.keepalived(
        vrid=1, priority=100, state="MASTER", vips=["192.0.2.1/24"], auth_type="PASS",
        auth_pass="s3cret",
    )  # fmt: skip
    r1.wait_for_address("192.0.2.1", timeout=10)
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(BACKUP_CONF)
    j = Join(r2, "--config", str(conf), "--learn-timeout", "0")
    j.wait_state("BACKUP", 5)
    time.sleep(1.5)
    r1.link_down()  # cable pull on the master
    r2.wait_for_address("192.0.2.1", timeout=6)
    assert "192.0.2.1/24" in [str(a) for a in r2.addresses("eth0")]
    assert mon.ping("192.0.2.1")
    r1.link_up()  # plugged back: keepalived preempts, join gives back
    r2.wait_for_address("192.0.2.1", timeout=8, present=False)
    assert j.signal(signal.SIGTERM) == 0
    time.sleep(CAPTURE_FLUSH_S)
    cap.stop()
    assert j.states()[:3] == ["BACKUP", "MASTER", "BACKUP"]
    adverts = read_adverts(tmp_path / "article.pcap")
    mine = [a for a in adverts if a.src == "192.0.2.254" and a.packet.priority == 50]
    theirs = [a for a in adverts if a.src == "192.0.2.253"]
    assert mine and theirs
    # The takeover: the master's last advert before the pull -> join's first advert, against
    # RFC 3768's Master_Down_Interval for priority 50 (3 x 1 s + 206/256 s).
    last_before = max(a.time for a in theirs if a.time < mine[0].time)
    latency = mine[0].time - last_before
    mdi = master_down_interval(50, 1.0, version=2)
    assert mdi - 0.01 <= latency <= mdi + SLACK_S, latency
