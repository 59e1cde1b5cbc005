"""The fleet, with real components only: two segments with keepalived routers, a sensor on one
and two sensors on the other, one real Prometheus (Debian ``prometheus``, the shipped rules)
scraping all three over a management segment, one real Alertmanager receiving their pushes.

Prometheus's HTTP API shows each segment's master; a real split brain on segment B fires the
shipped ``VrrpSplitBrain`` rule; Alertmanager holds sniff's pushed ``split-brain`` once although
two sensors push it, and gets it back after 90 s down; when the split brain ends both are
resolved."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, lab_unavailable
from tests.lab import Host, Lab, missing_prerequisites
from tests.ops.labtools import (
    Alertmanager,
    Sniff,
    alertmanager_binary,
    free_port,
    http_get,
    wait_until,
)

VIP_A, VIP_B = "192.0.2.1", "192.0.2.129"
A1, A2 = "192.0.2.11", "192.0.2.12"  # segment A: r1 (200) master, r2 backup
B1, B2 = "192.0.2.141", "192.0.2.142"  # segment B: split brain
PROM, AM = "198.51.100.10", "198.51.100.11"
SENSORS = {"sa": "198.51.100.21", "sb": "198.51.100.22", "sb2": "198.51.100.23"}
RULES = ROOT / "deploy/prometheus/vrrpwatch-rules.yml"


@pytest.fixture
def vwf_lab(tmp_path: Path) -> Iterator[Lab]:
    missing = missing_prerequisites()
    if alertmanager_binary() is None or shutil.which("prometheus") is None:
        missing.append("prometheus and prometheus-alertmanager (Debian packages; scripts/setup)")
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(prefix=f"vwf{secrets.token_hex(2)}", workdir=tmp_path / "lab")
    try:
        yield lab
    finally:
        lab.close()


class Prometheus:
    def __init__(self, host: Host, work: Path, targets: list[str]) -> None:
        self.host = host
        self.url = f"http://{PROM}:{free_port(host)}"
        work.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "vrrpwatch", "static_configs": [{"targets": targets}]}],
        }
        (work / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        argv = [
            "ip", "netns", "exec", host.ns, "prometheus",
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={self.url.removeprefix('http://')}", "--log.level=warn",
        ]  # fmt: skip
        log = open(work / "prometheus.log", "ab")  # the child keeps its own copy
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        wait_until("prometheus ready", lambda: http_get(host, f"{self.url}/-/ready"), 30)

    def api(self, path: str, **params: str) -> Any:
        q = urllib.parse.urlencode(params)
        text = http_get(self.host, f"{self.url}{path}?{q}" if q else f"{self.url}{path}")
        return json.loads(text)["data"] if text else None

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = self.api("/api/v1/query", query=promql)
        return list(data["result"]) if data else []

    def firing(self, name: str) -> list[dict[str, Any]]:
        data = self.api("/api/v1/alerts")
        alerts = data["alerts"] if data else []
        return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.mark.integration
@pytest.mark.timeout(420)
def test_fleet_prometheus_and_alertmanager(vwf_lab: Lab, tmp_path: Path) -> None:
    lab = vwf_lab
    seg_a, seg_b, mgmt = lab.segment("sega"), lab.segment("segb"), lab.segment("mgmt")
    prom_host = lab.host("prom", mgmt, addr4=f"{PROM}/24", ipv6=False)
    prom_host.add_address(f"{AM}/24")
    sensors: dict[str, Host] = {}
    for name, addr in SENSORS.items():
        h = lab.host(name, seg_a if name == "sa" else seg_b, ipv6=False)
        h.attach(mgmt, "eth1", addr4=f"{addr}/24")
        sensors[name] = h
    ra1 = lab.host("ra1", seg_a, addr4=f"{A1}/24")
    ra2 = lab.host("ra2", seg_a, addr4=f"{A2}/24")
    rb1 = lab.host("rb1", seg_b, addr4=f"{B1}/25")
    rb2 = lab.host("rb2", seg_b, addr4=f"{B2}/25")
    ra1.keepalived(priority=200, vrid=1, vips=[f"{VIP_A}/24"], version=3)
    ra2.keepalived(priority=100, vrid=1, vips=[f"{VIP_A}/24"], version=3)
    rb1.keepalived(priority=150, vrid=2, vips=[f"{VIP_B}/25"], version=3)

    am = Alertmanager(
        tmp_path / "am", free_port(prom_host), addr=AM,
        prefix=["ip", "netns", "exec", prom_host.ns], get=lambda url: http_get(prom_host, url),
    )  # fmt: skip
    am.start()
    prom = None
    try:
        targets = {name: f"{SENSORS[name]}:{free_port(h)}" for name, h in sensors.items()}
        sniffs = {
            name: Sniff(lab, h, "eth0", "--json", "--db", str(tmp_path / f"{name}.db"),
                        "--metrics", targets[name], "--alertmanager", am.url)
            for name, h in sensors.items()
        }  # fmt: skip
        prom = Prometheus(prom_host, tmp_path / "prom", list(targets.values()))

        # Each segment's master, as Prometheus has it.
        def masters() -> set[tuple[str, str, str]]:
            return {
                (r["metric"]["instance"].split(":")[0], r["metric"]["vrid"],
                 r["metric"]["address"])
                for r in prom.query("vrrpwatch_advertiser_master == 1")
            }  # fmt: skip

        want = {(SENSORS["sa"], "1", A1), (SENSORS["sb"], "2", B1), (SENSORS["sb2"], "2", B1)}
        wait_until("masters in Prometheus", lambda: masters() == want, 40)

        # A real split brain on segment B: rb2 speaks unicast to rb1 and never hears rb1.
        kb2 = rb2.keepalived(priority=100, vrid=2, vips=[f"{VIP_B}/25"], version=3,
                             unicast_peers=(B1,))  # fmt: skip
        firing = wait_until("VrrpSplitBrain firing", lambda: prom.firing("VrrpSplitBrain"), 60)
        assert {a["labels"]["instance"].split(":")[0] for a in firing} <= {
            SENSORS["sb"], SENSORS["sb2"],
        }  # fmt: skip
        assert all(a["labels"]["vrid"] == "2" for a in firing)

        def pushed() -> list[dict[str, Any]]:
            return [a for a in am.alerts() or [] if a["labels"]["alertname"] == "split-brain"]

        wait_until(
            "both sensors of B pushed split-brain",
            lambda: all(
                any(j["kind"] == "split-brain" for j in sniffs[n].json_lines())
                for n in ("sb", "sb2")
            ),
            30,
        )
        (one,) = wait_until("split-brain in Alertmanager", pushed, 15)
        assert one["labels"]["vrid"] == "2" and one["labels"]["severity"] == "critical"
        assert not prom.firing("VrrpNoMaster")

        # Alertmanager is down for 90 s during the episode and comes back empty: the open alert
        # reappears without a restart of sniff (re-sent every 30 s, retried with backoff).
        am.stop()
        time.sleep(90)
        am.start()
        (again,) = wait_until("split-brain back in Alertmanager", pushed, 75)
        assert again["labels"] == one["labels"]
        assert all(s.alive() for s in sniffs.values())

        # The split brain ends: resolved in Alertmanager, the rule stops firing.
        kb2.stop()
        wait_until("split-brain resolved", lambda: am.alerts() is not None and not pushed(), 40)
        wait_until("VrrpSplitBrain over", lambda: not prom.firing("VrrpSplitBrain"), 40)
        assert masters() == want
        for s in sniffs.values():
            rc, err = s.finish(signal.SIGTERM)
            assert rc == 0, err
    finally:
        if prom is not None:
            prom.stop()
        am.stop()
