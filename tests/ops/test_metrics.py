"""sniff's metrics: a real Monitor fed the bundled captures, scraped through prometheus-client's
real HTTP server on 127.0.0.1, parsed with prometheus_client.parser."""

from __future__ import annotations

import socket
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CAPTURES
from tests.lab import pcap_frames, read_adverts
from vrrpwatch import __version__
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.metrics import (
    MetricsError,
    MetricsServer,
    SniffCollector,
    SnifferInterfaces,
    parse_listen,
    registry_for,
)
from vrrpwatch.rfc import master_down_interval
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.live import Sniffer
from vrrpwatch.watch.monitor import Monitor

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def analyze(name: str) -> Monitor:
    m = Monitor(fingerprint=lambda pw: "fp")
    run_files([str(CAPTURES / name)], m)
    return m


@pytest.fixture
def scrape() -> Iterator[Callable[[SniffCollector], Samples]]:
    servers: list[MetricsServer] = []

    def _scrape(collector: SniffCollector) -> Samples:
        if not servers:
            servers.append(MetricsServer("127.0.0.1:0", registry_for(collector)))
        url = f"http://127.0.0.1:{servers[0].port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        out: Samples = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    yield _scrape
    for s in servers:
        s.close()


def pick(samples: Samples, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    """The samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return {lab: v for (n, lab), v in samples.items() if n == name and want <= lab}


def one(samples: Samples, name: str, **labels: str) -> float:
    (value,) = pick(samples, name, **labels).values()
    return value


R = {"vlan": "", "family": "4"}


def test_failover_capture_counts_changes_gaps_and_adverts(scrape) -> None:  # type: ignore[no-untyped-def]
    m = analyze("v2-failover.pcap")
    c = SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time + 60)
    s = scrape(c)
    assert one(s, "vrrpwatch_build_info", version=__version__) == 1
    # r1 resigns (priority 0), comes back and preempts, loses its cable, preempts again.
    changes = pick(s, "vrrpwatch_master_changes_total", vrid="1", **R)
    assert {dict(k)["cause"]: v for k, v in changes.items()} == {
        "resigned": 1,
        "preempted": 2,
        "silent": 1,
    }
    # The two failovers the RFC times: Skew_Time (0.609 s) and Master_Down_Interval (3.609 s).
    assert one(s, "vrrpwatch_failover_seconds_count") == 2
    assert one(s, "vrrpwatch_failover_seconds_bucket", le="0.5") == 0
    assert one(s, "vrrpwatch_failover_seconds_bucket", le="1.0") == 1
    assert one(s, "vrrpwatch_failover_seconds_bucket", le="3.5") == 1
    assert one(s, "vrrpwatch_failover_seconds_bucket", le="4.0") == 2
    assert one(s, "vrrpwatch_failover_seconds_sum") == pytest.approx(0.609688 + 3.609559)
    # Both on time: within 50 ms over the RFC's expectation, never under it.
    assert one(s, "vrrpwatch_failover_excess_seconds_bucket", le="0.0") == 0
    assert one(s, "vrrpwatch_failover_excess_seconds_bucket", le="0.05") == 2
    # Adverts per source, against an independent reading of the capture.
    truth = Counter(a.src for a in read_adverts(CAPTURES / "v2-failover.pcap"))
    adverts = pick(s, "vrrpwatch_adverts_total", vrid="1", **R)
    assert {dict(k)["address"]: v for k, v in adverts.items()} == truth
    master = pick(s, "vrrpwatch_advertiser_master", vrid="1", **R)
    assert {dict(k)["address"]: v for k, v in master.items()} == {
        "192.0.2.253": 1,
        "192.0.2.254": 0,
    }
    assert one(s, "vrrpwatch_advertiser_priority", address="192.0.2.254") == 100
    assert one(s, "vrrpwatch_router_interval_seconds", vrid="1") == 1.0
    last = max(a.time for a in read_adverts(CAPTURES / "v2-failover.pcap") if a.src.endswith("253"))
    assert one(s, "vrrpwatch_router_last_advert_timestamp_seconds", vrid="1") == pytest.approx(last)
    # A minute after the capture nobody advertises.
    assert one(s, "vrrpwatch_router_masters", vrid="1") == 0
    # master-change is counted per alert; the monitor raised four.
    assert one(s, "vrrpwatch_alerts_total", kind="master-change", severity="info") == 4
    assert one(s, "vrrpwatch_alerts_total", kind="plaintext-auth", severity="warning") == 2


def test_a_takeover_counts_once_no_better_backup_can_replace_it(scrape) -> None:  # type: ignore[no-untyped-def]
    m = analyze("v2-failover.pcap")
    last = m.routers[next(iter(m.routers))].transitions[-1]
    now = [last.time + 0.5]  # within the new master's interval: it may still be replaced
    c = SniffCollector(m, EpisodeBook(m), clock=lambda: now[0])
    s = scrape(c)
    assert one(s, "vrrpwatch_master_changes_total", cause="preempted") == 1
    now[0] = last.time + 5
    s = scrape(c)
    assert one(s, "vrrpwatch_master_changes_total", cause="preempted") == 2
    s = scrape(c)  # and never twice
    assert one(s, "vrrpwatch_master_changes_total", cause="preempted") == 2


def test_split_brain_state_masters_and_episode_end(scrape) -> None:  # type: ignore[no-untyped-def]
    m = analyze("v2-auth-mismatch.pcap")
    now = [m.last_time]
    c = SniffCollector(m, EpisodeBook(m), clock=lambda: now[0])
    s = scrape(c)
    assert one(s, "vrrpwatch_router_masters", vrid="2") == 2
    states = pick(s, "vrrpwatch_router_state", vrid="2", **R)
    assert {dict(k)["state"]: v for k, v in states.items()} == {
        "ok": 0,
        "lost": 0,
        "resigned": 0,
        "split-brain": 1,
    }
    assert one(s, "vrrpwatch_alerts_open", kind="split-brain") == 1
    assert one(s, "vrrpwatch_alerts_total", kind="split-brain", severity="critical") == 1
    # Both stop; once the last of them fell silent a Master_Down_Interval ago, the episode is
    # over, and sniff's expire() has declared the master lost.
    vr = m.routers[next(iter(m.routers))]
    later = max(a.last_seen for a in vr.advertisers.values())
    now[0] = later + master_down_interval(1, 1.0, 2) + 1
    m.expire(now[0])
    s = scrape(c)
    assert one(s, "vrrpwatch_router_masters", vrid="2") == 0
    assert one(s, "vrrpwatch_alerts_open", kind="split-brain") == 0
    assert one(s, "vrrpwatch_router_state", vrid="2", state="lost") == 1
    assert one(s, "vrrpwatch_router_state", vrid="2", state="split-brain") == 0


def test_vlan_label_is_the_database_text(scrape) -> None:  # type: ignore[no-untyped-def]
    m = analyze("vlans.pcap")
    c = SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time)
    s = scrape(c)
    want = {".".join(map(str, a.vlan)) for a in read_adverts(CAPTURES / "vlans.pcap")}
    got = {dict(k)["vlan"] for k in pick(s, "vrrpwatch_router_masters")}
    assert got == want
    assert "" not in want and len(want) > 1  # tagged only, several VLANs


class _FakeSocket:
    """A socket-like source for the Sniffer loop: always readable, frames handed out once."""

    def __init__(self, name: str, frames: list[tuple[float, bytes]], drops: int = 0) -> None:
        self.name, self.index = name, 0
        self.sock, self._peer = socket.socketpair()
        self._peer.send(b"x")
        self.frames = frames
        self.drops = 0
        self._drops = drops

    def read(self, limit: int = 256) -> list[tuple[float, bytes]]:
        out, self.frames = self.frames[:limit], self.frames[limit:]
        return out

    def update_stats(self) -> None:
        self.drops, self._drops = self.drops + self._drops, 0

    def close(self) -> None:
        self.sock.close()
        self._peer.close()


def test_interface_counters_through_the_sniffer(scrape) -> None:  # type: ignore[no-untyped-def]
    frames = list(pcap_frames(CAPTURES / "v3-ipv4-fast.pcap"))
    bad = bytearray(frames[0][1])
    bad[14 + 20] = 0x71  # VRRP version 7: looks like ours, does not decode
    a = _FakeSocket("lab0", frames, drops=3)
    b = _FakeSocket("lab1", [(frames[0][0], bytes(bad))] * 2)
    m = Monitor(fingerprint=lambda pw: "fp")
    t = [frames[-1][0]]

    def clock() -> float:
        t[0] += 0.05
        return t[0]

    sniffer = Sniffer([a, b], m, watch_links=False, clock=clock)  # type: ignore[list-item]
    try:
        sniffer.run(duration_s=1.0)
        sniffer.flush()
        m.interface_down("lab1", t[0], frame=sniffer.frames)  # what the link watcher reports
        c = SniffCollector(m, EpisodeBook(m), SnifferInterfaces(sniffer), clock=clock)
        s = scrape(c)
    finally:
        sniffer.close()
    assert one(s, "vrrpwatch_packets_total", interface="lab0") == len(frames)
    assert one(s, "vrrpwatch_packets_total", interface="lab1") == 2
    assert one(s, "vrrpwatch_malformed_total", interface="lab0") == 0
    assert one(s, "vrrpwatch_malformed_total", interface="lab1") == 2
    assert one(s, "vrrpwatch_kernel_drops_total", interface="lab0") == 3
    assert one(s, "vrrpwatch_interface_up", interface="lab0") == 1
    assert one(s, "vrrpwatch_interface_up", interface="lab1") == 0


def test_no_state_label_on_counters_and_names_follow_conventions(scrape) -> None:  # type: ignore[no-untyped-def]
    m = analyze("v2-failover.pcap")
    s = scrape(SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time))
    names = {n for n, _l in s}
    ours = {n for n in names if n.startswith("vrrpwatch_")}
    assert ours, names
    for name, labels in s:
        if name.endswith("_total"):
            assert "state" not in dict(labels), name


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("127.0.0.1:9567", ("127.0.0.1", 9567)),
        ("[::1]:80", ("::1", 80)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
    ],
)
def test_parse_listen(text: str, want: tuple[str, int]) -> None:
    assert parse_listen(text) == want


@pytest.mark.parametrize("text", ["9567", "localhost:9567", "127.0.0.1:x", "127.0.0.1:70000", ":1"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(MetricsError):
        parse_listen(text)


def test_port_in_use_is_one_error(tmp_path: Path) -> None:
    m = Monitor(fingerprint=lambda pw: "fp")
    first = MetricsServer("127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m))))
    try:
        with pytest.raises(MetricsError, match="cannot listen: Address already in use"):
            MetricsServer(
                f"127.0.0.1:{first.port}", registry_for(SniffCollector(m, EpisodeBook(m)))
            )
    finally:
        first.close()


def test_a_stranger_of_the_other_version_is_no_second_master(scrape) -> None:  # type: ignore[no-untyped-def]
    # RFC 5798 section 7.1 (watch.timeline.other_version_than_master): a VRRPv2 stranger
    # beside a live VRRPv3 master is no second master for the rules (VrrpSplitBrain).
    from tests.helpers import MAC3, R1, R3, Feed, advert

    f = Feed()
    for i in range(10):
        f(float(i), advert(R1, 100, version=3))
        f(i + 0.5, advert(R3, 254, mac=MAC3, version=2))
    c = SniffCollector(f.m, EpisodeBook(f.m), clock=lambda: 9.6)
    s = scrape(c)
    assert one(s, "vrrpwatch_router_masters", vrid="1") == 1
    assert one(s, "vrrpwatch_advertiser_master", vrid="1", address=R1) == 1
    assert one(s, "vrrpwatch_advertiser_master", vrid="1", address=R3) == 0
