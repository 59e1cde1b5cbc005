"""``sniff --alertmanager`` in the namespace lab: a real split brain between two keepalived
routers (one deaf to the other's multicast), pushed by two sensors to a real Alertmanager inside the
monitor's namespace; it holds the alert once, gets it back after a restart without a restart
of sniff, and sees it resolved when the split brain is over."""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import lab_unavailable
from tests.lab import Lab, missing_prerequisites
from tests.ops.labtools import (
    Alertmanager,
    Sniff,
    alertmanager_binary,
    free_port,
    http_get,
    scrape,
    value,
    wait_until,
)

VIP = "192.0.2.1"
R1, R2 = "192.0.2.253", "192.0.2.254"


@pytest.fixture
def vwn_lab(tmp_path: Path) -> Iterator[Lab]:
    missing = missing_prerequisites()
    if alertmanager_binary() is None:
        missing.append("prometheus-alertmanager (Debian package; scripts/setup)")
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(prefix=f"vwn{secrets.token_hex(2)}", workdir=tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.close()


def split_brains(am: Alertmanager) -> list[dict[str, Any]] | None:
    alerts = am.alerts()
    if alerts is None:
        return None
    return [a for a in alerts if a["labels"]["alertname"] == "split-brain"]


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_split_brain_reaches_alertmanager_once_survives_a_restart_and_resolves(
    vwn_lab: Lab, tmp_path: Path
) -> None:
    lab = vwn_lab
    lan = lab.segment()
    r1 = lab.host("r1", lan, addr4=f"{R1}/24")
    r2 = lab.host("r2", lan, addr4=f"{R2}/24")
    mon = lab.host("mon", lan, ipv6=False)
    am = Alertmanager(
        tmp_path / "am", free_port(mon), prefix=["ip", "netns", "exec", mon.ns],
        get=lambda url: http_get(mon, url),
    )  # fmt: skip
    am.start()
    try:
        metrics = free_port(mon)
        sensors = [
            Sniff(lab, mon, "eth0", "--json", "--db", str(tmp_path / f"{n}.db"),
                  "--alertmanager", am.url, *extra)
            for n, extra in (("a", ("--metrics", f"127.0.0.1:{metrics}")), ("b", ()))
        ]  # fmt: skip
        # r2 speaks unicast to r1 and so never joins 224.0.0.18: it never hears r1's
        # multicast adverts and is master too; r1 hears r2's lower priority and stays master.
        group = {"vrid": 9, "vips": [f"{VIP}/24"], "version": 3}
        r1.keepalived(priority=150, **group)
        k2 = r2.keepalived(priority=100, **group, unicast_peers=(R1,))

        # Both sensors push it; Alertmanager holds it once (no sensor label).
        (sb,) = wait_until("split-brain in Alertmanager", lambda: split_brains(am), 30)
        labels = sb["labels"]
        assert labels["severity"] == "critical" and labels["job"] == "vrrpwatch"
        assert (labels["family"], labels["vrid"]) == ("4", "9") and "vlan" not in labels
        assert labels["source"] in (R1, R2)
        assert sb["annotations"]["sensor"].endswith(" eth0")
        wait_until(
            "both sensors pushed",
            lambda: all(any(j["kind"] == "split-brain" for j in s.json_lines()) for s in sensors),
            15,
        )
        time.sleep(2)
        assert len(split_brains(am) or []) == 1

        # Alertmanager goes away and comes back empty: the open alert is re-sent.
        am.stop()
        time.sleep(3)
        s = scrape(mon, metrics)
        assert s is not None
        am.start()
        assert split_brains(am) == []
        wait_until("split-brain re-sent", lambda: split_brains(am), 45)
        s = scrape(mon, metrics)
        assert s is not None
        assert (value(s, "vrrpwatch_alertmanager_sent_total", alertmanager=am.url) or 0) >= 2
        assert value(s, "vrrpwatch_alertmanager_dropped_total", alertmanager=am.url) == 0
        assert value(s, "vrrpwatch_alerts_open", kind="split-brain") == 1

        # r2 stops: r1 alone for a Master_Down_Interval ends the episode, resolved.
        k2.stop()
        wait_until("split-brain resolved", lambda: split_brains(am) == [], 30)
        s = scrape(mon, metrics)
        assert s is not None and value(s, "vrrpwatch_alerts_open", kind="split-brain") == 0
        for sensor in sensors:
            assert sensor.alive()
            rc, err = sensor.finish(signal.SIGTERM)
            assert rc == 0, err
    finally:
        am.stop()
