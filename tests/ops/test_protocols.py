"""HSRP groups and CARP vhids beside VRRP routers: a CARP vhid with the same VLAN, family and
id as a VRRP router must not make a duplicate series (Prometheus then refuses the whole
scrape) nor merge its alerts with the router's in Alertmanager."""

from __future__ import annotations

import urllib.request
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from dissectors.packet import decode_packet
from tests.conftest import CAPTURES
from tests.helpers import advert
from vrrpwatch.ops.alertmanager import alert_labels
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for
from vrrpwatch.pcap import iter_capture
from vrrpwatch.watch.monitor import Monitor


def test_a_carp_vhid_and_a_vrrp_router_with_one_id() -> None:
    m = Monitor(fingerprint=lambda pw: "fp")
    frame = 0
    last = 0.0
    for pkt in iter_capture(CAPTURES / "carp-ucarp.pcap"):  # CARP vhid 5, untagged, IPv4
        d = decode_packet(pkt.data, pkt.linktype)
        if d is not None:
            frame += 1
            last = pkt.time
            m.observe(frame, pkt.time, d)
    vrrp = decode_packet(advert("192.0.2.253", 100, vrid=5), 1)
    assert vrrp is not None
    m.observe(frame + 1, last + 0.5, vrrp)
    assert {str(k.protocol) for k in m.routers if k.vrid == 5} == {"carp", "vrrp"}

    server = MetricsServer("127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m))))
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    finally:
        server.close()
    series = Counter(
        (s.name, frozenset(s.labels.items()))
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    )
    assert [k for k, n in series.items() if n > 1] == []
    masters = [lab for (name, lab) in series if name == "vrrpwatch_advertiser_master"]
    assert {dict(lab)["address"] for lab in masters if dict(lab)["vrid"] == "5"} == {"192.0.2.253"}

    carp_alerts = [a for a in m.alerts if a.key is not None and str(a.key.protocol) == "carp"]
    vrrp_alerts = [a for a in m.alerts if a.key is not None and str(a.key.protocol) == "vrrp"]
    assert carp_alerts and vrrp_alerts
    episodes = m.open_episodes()
    kinds = {str(ep.alert.key.protocol) for ep in episodes if ep.alert.key is not None}
    assert {"carp", "vrrp"} <= kinds, kinds
    for ep in episodes:
        if ep.alert.key is not None:
            labels = alert_labels(ep)
            assert labels.get("protocol") == (
                None if str(ep.alert.key.protocol) == "vrrp" else str(ep.alert.key.protocol)
            )
