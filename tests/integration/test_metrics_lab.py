"""``sniff --metrics`` beside real keepalived routers in the namespace lab, scraped over HTTP
from inside the monitor's namespace (127.0.0.1 there)."""

from __future__ import annotations

import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import lab_unavailable
from tests.lab import Lab, missing_prerequisites
from tests.ops.labtools import Sniff, free_port, scrape, value, wait_until

VIP = "192.0.2.1"
R1, R2 = "192.0.2.253", "192.0.2.254"
L = {"vlan": "", "family": "4", "vrid": "7"}


@pytest.fixture
def vwm_lab(tmp_path: Path) -> Iterator[Lab]:
    missing = missing_prerequisites()
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(prefix=f"vwm{secrets.token_hex(2)}", workdir=tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.close()


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_sniff_metrics_follow_keepalived(vwm_lab: Lab, tmp_path: Path) -> None:
    lab = vwm_lab
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4=f"{R1}/24")
    r2 = lab.host("r2", lan, addr4=f"{R2}/24")
    mon = lab.host("mon", lan, ipv6=False)
    group = {"vrid": 7, "vips": [f"{VIP}/24"], "version": 3, "advert_int": 0.5}
    k1 = r1.keepalived(priority=200, **group)
    k2 = r2.keepalived(priority=100, **group)
    r1.wait_for_address(VIP, timeout=10)
    port = free_port(mon)
    sniff = Sniff(lab, mon, "eth0", "--json", "--db", str(tmp_path / "m.db"),
                  "--metrics", f"127.0.0.1:{port}")  # fmt: skip

    def at(probe):  # type: ignore[no-untyped-def]
        s = scrape(mon, port)
        return s if s is not None and probe(s) else None

    # r1 is master: one source advertising, state ok, the interface up and counting.
    s = wait_until(
        "r1 followed as master",
        lambda: at(lambda s: value(s, "vrrpwatch_advertiser_master", address=R1, **L) == 1),
        timeout=15,
    )
    s = wait_until(
        "one master, state ok",
        lambda: at(
            lambda s: (
                value(s, "vrrpwatch_router_masters", **L) == 1
                and value(s, "vrrpwatch_router_state", state="ok", **L) == 1
            )
        ),
        timeout=5,
    )
    assert value(s, "vrrpwatch_interface_up", interface="eth0") == 1
    assert (value(s, "vrrpwatch_packets_total", interface="eth0") or 0) > 0
    assert value(s, "vrrpwatch_router_interval_seconds", **L) == 0.5
    assert value(s, "vrrpwatch_advertiser_priority", address=R1, **L) == 200
    assert value(s, "vrrpwatch_build_info") == 1

    # r1 stops: it resigns (priority 0), r2 takes over after Skew_Time; once settled the
    # change is counted with its gap, within 0.25 s of the RFC's.
    k1.stop()
    s = wait_until(
        "resigned takeover counted",
        lambda: at(lambda s: value(s, "vrrpwatch_master_changes_total", cause="resigned", **L)),
        timeout=15,
    )
    assert value(s, "vrrpwatch_master_changes_total", cause="resigned", **L) == 1
    assert value(s, "vrrpwatch_advertiser_master", address=R2, **L) == 1
    assert value(s, "vrrpwatch_failover_seconds_count") == 1
    assert value(s, "vrrpwatch_failover_excess_seconds_bucket", le="0.25") == 1
    assert value(s, "vrrpwatch_failover_excess_seconds_bucket", le="-0.1") == 0
    assert value(s, "vrrpwatch_alerts_total", kind="master-resigned", severity="info") == 1

    # r2 stops too: nobody advertises; master-lost is open.
    k2.stop()
    s = wait_until(
        "master lost",
        lambda: at(lambda s: value(s, "vrrpwatch_router_state", state="lost", **L) == 1),
        timeout=15,
    )
    assert value(s, "vrrpwatch_router_masters", **L) == 0
    assert value(s, "vrrpwatch_alerts_open", kind="master-lost") == 1
    assert value(s, "vrrpwatch_kernel_drops_total", interface="eth0") == 0

    rc, err = sniff.finish(signal.SIGTERM)
    assert rc == 0, err
    assert any(j["kind"] == "master-lost" for j in sniff.json_lines())
