"""The HSRP and CARP group families (``vrrpwatch_group_*``, ops/groups.py), from real captures:
ucarp's CARP failovers (captures/carp-ucarp.pcap) and a Cisco HSRPv1 failover
(tests/data/public/HSRP_failover.pcap, tcpdump's BSD-licensed copy of packetlife's), scraped
through the real server."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dissectors.packet import decode_packet
from tests.conftest import CAPTURES, lab_unavailable
from tests.helpers import advert
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.exposition import TextFamily, _Metrics
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def analyze(*paths: Path) -> Monitor:
    m = Monitor(fingerprint=lambda pw: "fp")
    run_files([str(p) for p in paths], m)
    return m


def scrape_text(m: Monitor, now: float) -> str:
    server = MetricsServer(
        "127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m), clock=lambda: now))
    )
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            return str(r.read().decode())
    finally:
        server.close()


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def group(name: str, protocol: str, gid: int, **extra: str) -> tuple[str, frozenset[Any]]:
    labels = {"family": "4", "group": str(gid), "protocol": protocol, "vlan": "", **extra}
    return name, frozenset(labels.items())


def test_carp_failovers_from_ucarp() -> None:
    """r1 (advskew 0) loses its cable, r2 (50) takes over, r1 preempts back, r1 stops, r2
    takes over, r2 stops, r3 (100) takes over: four changes, the last settled 5 s on."""
    m = analyze(CAPTURES / "carp-ucarp.pcap")
    facts = json.loads((CAPTURES / "carp-ucarp.json").read_text())
    skew = {r["address"]: r["advskew"] for r in facts["routers"]}
    got = samples(scrape_text(m, m.last_time + 5))
    g = "carp", 5
    assert got[group("vrrpwatch_group_masters", *g)] == 0  # r3 too is silent 5 s on
    now = samples(scrape_text(m, m.last_time))
    assert now[group("vrrpwatch_group_masters", *g)] == 1  # r3 alone, r1 and r2 are gone
    for address, advskew in skew.items():
        assert got[group("vrrpwatch_group_advertiser_priority", *g, address=address)] == advskew
        master = got[group("vrrpwatch_group_advertiser_master", *g, address=address)]
        assert master == (1 if address == "192.0.2.53" else 0)
        vr = next(iter(m.routers.values()))
        adverts = vr.advertisers[address].adverts
        assert got[group("vrrpwatch_group_adverts_total", *g, address=address)] == adverts
    changes = {
        dict(lab)["cause"]: v
        for (name, lab), v in got.items()
        if name == "vrrpwatch_group_master_changes_total"
    }
    assert changes == {"resigned": 0, "silent": 3, "preempted": 1}
    states = {
        dict(lab)["state"]: v for (name, lab), v in got.items() if name == "vrrpwatch_group_state"
    }
    assert states == {"ok": 1, "lost": 0, "resigned": 0, "split-brain": 0}
    # advbase 1 s + advskew 100 / 256, as the monitor keeps it (milliseconds)
    assert got[group("vrrpwatch_group_interval_seconds", *g)] == 1.391
    assert not any(name.startswith("vrrpwatch_router_") for name, _lab in got)


def test_hsrp_standby_hellos_are_no_second_master() -> None:
    """HSRP's standby sends hellos too (RFC 2281 section 5.2): the group's masters counts
    the speakers saying Active, so the failover shows one master, not a split brain."""
    m = analyze(PUBLIC / "HSRP_failover.pcap")
    got = samples(scrape_text(m, m.last_time))
    g = "hsrp", 1
    assert got[group("vrrpwatch_group_masters", *g)] == 1
    masters = {
        dict(lab)["address"]: v
        for (name, lab), v in got.items()
        if name == "vrrpwatch_group_advertiser_master"
    }
    assert masters == {"192.168.0.10": 0, "192.168.0.20": 0, "192.168.0.30": 1}
    changes = {
        dict(lab)["cause"]: v
        for (name, lab), v in got.items()
        if name == "vrrpwatch_group_master_changes_total"
    }
    assert changes == {"resigned": 0, "coup": 0, "hold-expired": 1, "preempted": 0}
    assert got[group("vrrpwatch_group_interval_seconds", *g)] == 3.0  # the hello time
    assert got[group("vrrpwatch_group_advertiser_priority", *g, address="192.168.0.10")] == 200


def test_one_id_in_three_protocols_makes_three_series_sets() -> None:
    """A VRRP router, an HSRP group and a CARP vhid with one VLAN, family and id: VRRP's under
    the router names, the others under the group names with their protocol, no duplicate."""
    m = analyze(CAPTURES / "carp-ucarp.pcap", PUBLIC / "HSRP_failover.pcap")  # vhid 5, group 1
    last = m.last_time
    for i, vrid in enumerate((1, 5)):
        d = decode_packet(advert("192.0.2.253", 100, vrid=vrid), 1)
        assert d is not None
        m.observe(10_000 + i, last + 0.5, d)
    text = scrape_text(m, last + 0.5)
    series = Counter(
        (s.name, frozenset(s.labels.items()))
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    )
    assert [k for k, n in series.items() if n > 1] == []
    ids = {
        (dict(lab).get("protocol", "vrrp"), dict(lab).get("group") or dict(lab)["vrid"])
        for name, lab in series
        if name in ("vrrpwatch_router_masters", "vrrpwatch_group_masters")
    }
    assert ids == {("vrrp", "1"), ("vrrp", "5"), ("hsrp", "1"), ("carp", "5")}


def test_group_lines_are_what_prometheus_client_writes() -> None:
    """Each group family, parsed back into a prometheus-client Metric and rendered by
    prometheus-client, is the same text; promtool accepts the scrape."""
    m = analyze(CAPTURES / "carp-ucarp.pcap", PUBLIC / "HSRP_failover.pcap")
    c = SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time + 60)
    fams = [p for p in c.parts() if isinstance(p, TextFamily) and "_group_" in p.name]
    assert len(fams) == 8
    for fam in fams:
        ours = "".join(fam.lines)
        theirs = generate_latest(_Metrics([fam.metric()])).decode()
        assert theirs.endswith(ours) and theirs.count("\n") == ours.count("\n") + 2
    promtool = shutil.which("promtool")
    if promtool is None:
        lab_unavailable("promtool not installed (Debian package prometheus; scripts/setup)")
    assert promtool is not None
    text = scrape_text(m, m.last_time + 60).encode()
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_no_group_no_group_family() -> None:
    """A VRRP-only segment is served exactly as before: no empty group families."""
    m = analyze(CAPTURES / "v2-failover.pcap")
    assert "vrrpwatch_group_" not in scrape_text(m, m.last_time)
