"""The shipped alert rules: ``promtool test rules`` (each rule fires once and stays quiet once),
and every metric the rules read is one sniff serves."""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CAPTURES, ROOT, lab_unavailable
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor

RULES = ROOT / "deploy/prometheus/vrrpwatch-rules.yml"
TESTS = ROOT / "tests/ops/promtool/vrrpwatch-rules.test.yml"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        lab_unavailable("promtool not installed (Debian package prometheus; scripts/setup)")
    assert path is not None
    return path


def test_promtool_checks_the_rules() -> None:
    r = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 7 rules found" in r.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    r = subprocess.run(
        [_promtool(), "test", "rules", TESTS.name],
        capture_output=True, text=True, cwd=TESTS.parent,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_every_rule_has_a_firing_and_a_quiet_test() -> None:
    alerts = re.findall(r"^\s+- alert: (\S+)$", RULES.read_text(), re.M)
    text = TESTS.read_text()
    for name in alerts:
        blocks = re.findall(rf"alertname: {name}\n\s+exp_alerts:(.*)", text)
        assert any(b.strip() == "[]" for b in blocks), f"{name}: no quiet test"
        assert any(b.strip() == "" for b in blocks), f"{name}: no firing test"


def test_rules_read_only_served_metrics() -> None:
    m = Monitor(fingerprint=lambda pw: "fp")
    # VRRP, and CARP (the group metrics): every family the rules read is served
    run_files([str(CAPTURES / "v2-failover.pcap"), str(CAPTURES / "carp-ucarp.pcap")], m)
    server = MetricsServer("127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m))))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            served = {s.name for f in text_string_to_metric_families(r.read().decode())
                      for s in f.samples}  # fmt: skip
    finally:
        server.close()
    used = set(re.findall(r"\b(vrrpwatch_[a-z_]+)", RULES.read_text()))
    # interface metrics come from the sniffer, absent in this file-fed collector
    assert used - served == {"vrrpwatch_interface_up"}
