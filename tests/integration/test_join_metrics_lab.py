"""``join --metrics`` beside a real keepalived master in the namespace lab, scraped over HTTP
from inside join's namespace (127.0.0.1 there) through a takeover."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Join, classic
from tests.helpers import make_lab as _lab
from tests.lab import Lab
from tests.ops.labtools import free_port, scrape, value, wait_until

pytestmark = pytest.mark.integration

VIP = "192.0.2.1"
INST = {"instance": "VI_7"}  # no --config: VI_<vrid>


@pytest.fixture
def jlab(tmp_path: Path) -> Iterator[Lab]:
    yield from _lab(tmp_path)


def states(s: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[str, float]:
    return {
        dict(lab)["state"]: v
        for (n, lab), v in s.items()
        if n == "vrrpwatch_join_state" and dict(lab)["instance"] == "VI_7"
    }


@pytest.mark.timeout(90)
def test_join_metrics_follow_a_takeover_from_keepalived(jlab: Lab) -> None:
    r1, r2, _mon = classic(jlab)
    k1 = r1.keepalived(
        vrid=7, priority=100, state="MASTER", vips=[f"{VIP}/24"], auth_type="PASS",
        auth_pass="s3cret",
    )  # fmt: skip
    r1.wait_for_address(VIP, timeout=10)
    port = free_port(r2)
    j = Join(r2, "--vrid", "7", "--priority", "50", "--metrics", f"127.0.0.1:{port}")
    j.wait_state("BACKUP", 8)

    def at(probe):  # type: ignore[no-untyped-def]
        s = scrape(r2, port)
        return s if s is not None and probe(s) else None

    # Backup, hearing keepalived's adverts, sending none.
    s = wait_until(
        "backup with adverts received",
        lambda: at(
            lambda s: (
                (value(s, "vrrpwatch_join_adverts_received_total", **INST) or 0) >= 2
                and states(s).get("backup") == 1
            )
        ),
        timeout=10,
    )
    assert states(s) == {"initialize": 0, "backup": 1, "master": 0, "fault": 0}
    assert value(s, "vrrpwatch_join_adverts_sent_total", **INST) == 0
    assert value(s, "vrrpwatch_join_become_master_total", **INST) == 0
    assert value(s, "vrrpwatch_join_priority", **INST) == 50
    assert value(s, "vrrpwatch_join_master_adver_interval_seconds", **INST) == 1.0
    assert value(s, "vrrpwatch_join_discards_total", reason="auth-failure", **INST) == 0
    assert value(s, "vrrpwatch_build_info") == 1

    # keepalived stops (priority 0): join takes over after Skew_Time.
    k1.stop()
    j.wait_state("MASTER", 5)
    s = wait_until(
        "master with adverts sent",
        lambda: at(
            lambda s: (
                states(s).get("master") == 1
                and (value(s, "vrrpwatch_join_adverts_sent_total", **INST) or 0) >= 2
            )
        ),
        timeout=10,
    )
    assert states(s) == {"initialize": 0, "backup": 0, "master": 1, "fault": 0}
    assert value(s, "vrrpwatch_join_become_master_total", **INST) == 1
    assert r2.has_address(VIP)
    assert j.signal(signal.SIGTERM) == 0
