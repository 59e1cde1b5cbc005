"""``vrrpwatch join`` with keepalived's IPsec AH authentication (``auth_type AH``), against a
real keepalived: join as backup takes over and gives back, join as master keeps keepalived
backup, and a wrong key is discarded (and counted) on both sides."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import Lab

pytestmark = pytest.mark.integration

KEY = "ahsecret"
VIP = "192.0.2.3"
AH_CONF = """\
vrrp_instance VI_AH {{
    state BACKUP
    interface eth0
    virtual_router_id 3
    priority {priority}
    advert_int 1
    authentication {{
        auth_type AH
        auth_pass {key}
    }}
    virtual_ipaddress {{
        192.0.2.3/24 dev eth0
    }}
}}
"""
# What keepalived logs when an AH advert does not verify (vrrp.c, vrrp_in_chk_ipsecah).
KA_AH_INVALID = "IPSEC-AH : invalid"
KA_AH_REPLAY = "already processed"


@pytest.fixture
def alab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


def _discards(j: Join, reason: str) -> list[dict[str, object]]:
    return [e for e in j.events() if e["event"] == "discard" and e["reason"] == reason]


def test_join_backup_takes_over_from_keepalived_ah_master_and_gives_back(
    alab: Lab, tmp_path: Path
) -> None:
    r1, r2, mon = classic(alab)
    ka = r1.keepalived(
        vrid=3, priority=100, state="MASTER", vips=[f"{VIP}/24"], auth_type="AH", auth_pass=KEY
    )
    r1.wait_for_address(VIP, timeout=10)
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(AH_CONF.format(priority=50, key=KEY))
    j = Join(r2, "--config", str(conf))
    # It learns from keepalived's AH advert (one that verifies), then runs as backup.
    learnt = j.wait_for(lambda e: e["event"] == "learnt", 5)
    assert learnt["master"] == "192.0.2.253" and learnt["addresses"] == [VIP]
    j.wait_state("BACKUP", 5)
    time.sleep(2.5)  # two of keepalived's adverts at least: each must verify
    assert j.states() == ["BACKUP"], j.text()[-2000:]
    assert [e for e in j.events() if e["event"] == "discard"] == []
    # The master's cable is pulled: join takes over after Master_Down_Interval.
    r1.link_down()
    r2.wait_for_address(VIP, timeout=6)
    assert mon.ping(VIP)
    # Back: keepalived (100, preempting) accepts join's AH adverts, whose sequence numbers go
    # on from its own, and takes the group back; join accepts keepalived's in turn.
    r1.link_up()
    r2.wait_for_address(VIP, timeout=8, present=False)
    assert r1.has_address(VIP)
    assert j.signal(signal.SIGTERM) == 0
    assert j.states()[:3] == ["BACKUP", "MASTER", "BACKUP"]
    assert [e for e in j.events() if e["event"] == "discard"] == []
    # keepalived verified join's adverts (it logs the lower priority of each it accepts)...
    assert "received lower priority (50) advert from 192.0.2.254" in ka.log, ka.log[-3000:]
    assert KA_AH_INVALID not in ka.log, ka.log[-3000:]
    # ... but for at most one: entering FAULT it counted a priority-0 advert that its dead
    # link never carried, so join's first number after its own was one it had "seen".
    assert ka.log.count(KA_AH_REPLAY) <= 1, ka.log[-3000:]


def test_keepalived_backup_stays_backup_under_join_ah_master(alab: Lab, tmp_path: Path) -> None:
    r1, r2, _ = classic(alab)
    keyfile = tmp_path / "ah.key"
    keyfile.write_text(KEY + "\n")
    j = Join(
        r2, "--vrid", "3", "--priority", "200", "--vip", f"{VIP}/24", "--version", "2",
        "--auth-type", "ah", "--auth-pass-file", str(keyfile), "--learn-timeout", "0",
    )  # fmt: skip
    j.wait_state("MASTER", 10)  # Master_Down_Interval 3.22 s, plus start-up under load
    ka = r1.keepalived(
        vrid=3, priority=100, state="BACKUP", vips=[f"{VIP}/24"], auth_type="AH", auth_pass=KEY
    )
    ka.wait_for_log(r"Entering BACKUP STATE", timeout=5)
    # Longer than keepalived's Master_Down_Interval (3 s + skew): it hears us, so it waits.
    time.sleep(4.5)
    assert "Entering MASTER STATE" not in ka.log, ka.log[-2000:]
    assert KA_AH_INVALID not in ka.log and KA_AH_REPLAY not in ka.log, ka.log[-3000:]
    assert not r1.has_address(VIP) and r2.has_address(VIP)
    # Our priority-0 advert verifies too: keepalived takes over after Skew_Time (0.61 s),
    # not after Master_Down_Interval (3.61 s).
    stopped = time.monotonic()
    assert j.signal(signal.SIGTERM) == 0
    r1.wait_for_address(VIP, timeout=5)
    took = time.monotonic() - stopped
    assert took < 2.5, f"keepalived took over after {took:.2f} s: our priority 0 was ignored?"
    assert KA_AH_INVALID not in ka.log


def test_a_wrong_ah_key_is_discarded_and_counted(alab: Lab, tmp_path: Path) -> None:
    r1, r2, _ = classic(alab)
    ka = r1.keepalived(
        vrid=3, priority=100, state="MASTER", vips=[f"{VIP}/24"], auth_type="AH", auth_pass=KEY
    )
    r1.wait_for_address(VIP, timeout=10)
    conf = r2.workdir / "keepalived.conf"
    conf.write_text(AH_CONF.format(priority=50, key="wrongkey"))
    j = Join(r2, "--config", str(conf), "--learn-timeout", "0")
    j.wait_state("BACKUP", 5)
    first = j.wait_for(lambda e: e["event"] == "discard", timeout=4)
    assert first["reason"] == "auth-failure" and first["source"] == "192.0.2.253"
    assert "AH ICV does not match" in str(first["detail"]) and first["count"] == 1
    # Nothing it hears verifies, so join's Master_Down_Timer runs out (both end up master,
    # as two keepalived with different keys would).
    j.wait_state("MASTER", 6)
    assert j.signal(signal.SIGTERM) == 0
    fails = _discards(j, "auth-failure")
    summaries = [e for e in j.events() if e["event"] == "discard-summary"]
    assert fails, j.text()[-2000:]
    counted = max(int(str(e.get("count", 0))) for e in fails + summaries)
    assert counted >= 3, j.text()[-2000:]  # one a second for ~4 s, counted
    ka.wait_for_log(KA_AH_INVALID, timeout=3)  # and keepalived drops ours likewise


def test_ah_over_unicast_peers_leaves_the_ttl_out(alab: Lab, tmp_path: Path) -> None:
    """keepalived with unicast_peer zeroes the TTL in the ICV (routers may lower it): join
    with --unicast-peer does the same, both ways."""
    r1, r2, _ = classic(alab)
    keyfile = tmp_path / "ah.key"
    keyfile.write_text(KEY + "\n")
    ka = r1.keepalived(
        vrid=3, priority=100, state="BACKUP", vips=[f"{VIP}/24"], auth_type="AH",
        auth_pass=KEY, unicast_src="192.0.2.253", unicast_peers=["192.0.2.254"],
    )  # fmt: skip
    r1.wait_for_address(VIP, timeout=10)
    j = Join(
        r2, "--vrid", "3", "--priority", "50", "--vip", f"{VIP}/24", "--version", "2",
        "--auth-type", "ah", "--auth-pass-file", str(keyfile), "--unicast-peer", "192.0.2.253",
    )  # fmt: skip
    j.wait_for(lambda e: e["event"] == "learnt", 5)  # keepalived's unicast AH advert verified
    j.wait_state("BACKUP", 5)
    time.sleep(2.5)
    assert j.states() == ["BACKUP"] and [e for e in j.events() if e["event"] == "discard"] == []
    # keepalived stops: its priority 0 verifies, join takes over at once (Skew_Time 0.8 s) ...
    ka.stop()
    r2.wait_for_address(VIP, timeout=3)
    # ... and a keepalived restarted as backup accepts join's unicast AH adverts.
    ka2 = r1.keepalived(
        vrid=3, priority=40, state="BACKUP", vips=[f"{VIP}/24"], auth_type="AH",
        auth_pass=KEY, unicast_src="192.0.2.253", unicast_peers=["192.0.2.254"],
    )  # fmt: skip
    time.sleep(4.5)
    assert "Entering MASTER STATE" not in ka2.log, ka2.log[-2000:]
    assert KA_AH_INVALID not in ka2.log, ka2.log[-2000:]
    assert j.signal(signal.SIGTERM) == 0
    r1.wait_for_address(VIP, timeout=3)  # our unicast priority 0 verified too
