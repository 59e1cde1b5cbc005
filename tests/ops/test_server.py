"""The metrics server's request threads (ops/server.RequestThreads) and the episode book's
shortcuts (ops/episodes.EpisodeBook): what makes a scrape a second cheap must not change what
is served, nor let one client hold up another."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from tests.conftest import CAPTURES
from vrrpwatch.ops import exposition
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.exposition import TEXT_0_0_4, Registry, render
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.model import Event, RouterKey
from vrrpwatch.watch.monitor import Monitor


def analyze(name: str) -> Monitor:
    m = Monitor(fingerprint=lambda pw: "fp")
    run_files([str(CAPTURES / name)], m)
    return m


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    m = analyze("v2-failover.pcap")
    s = MetricsServer(
        "127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time))
    )
    try:
        yield s
    finally:
        s.close()


def get(server: MetricsServer) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
        body: bytes = r.read()
    return body


def ours(body: bytes) -> bytes:
    """The vrrpwatch_ families of an answer (the process metrics move from one to the next)."""
    return body[: body.index(b"# HELP process_")]


def request_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "metrics request"]


def test_one_thread_serves_scrapes_one_after_another(server: MetricsServer) -> None:
    first = ours(get(server))
    for _ in range(20):
        time.sleep(0.05)  # the thread is back waiting before the next scrape
        assert ours(get(server)) == first  # the capture's monitor does not move
    assert server._workers.started <= 3  # one thread per request would be 21


def test_a_client_that_sends_nothing_holds_up_no_scrape(server: MetricsServer) -> None:
    """Two connections that never send a request keep two threads busy (the kept ones, as
    ThreadingMixIn's); scrapes meanwhile go to other threads."""
    get(server)
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
    try:
        time.sleep(0.2)
        for _ in range(3):
            assert b"vrrpwatch_router_state{" in get(server)
        assert len(request_threads()) >= 4
    finally:
        for s in silent:
            s.close()


def test_close_ends_the_waiting_threads() -> None:
    m = analyze("v2-failover.pcap")
    s = MetricsServer("127.0.0.1:0", registry_for(SniffCollector(m, EpisodeBook(m))))
    for _ in range(3):
        get(s)
    before = len(request_threads())
    assert before >= 1
    s.close()
    deadline = time.monotonic() + 5
    while request_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert request_threads() == []


class _Static:
    def __init__(self, metrics: list[GaugeMetricFamily]) -> None:
        self.metrics = metrics

    def collect(self) -> list[GaugeMetricFamily]:
        return self.metrics


def test_a_family_yielded_again_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same Metric object in the next answer reuses its lines; a new object is written
    anew (so a family whose values change is never served stale)."""
    calls: list[str] = []
    real = exposition.metric_lines

    def counting(metric: exposition.Metric) -> list[str] | None:
        calls.append(metric.name)
        return real(metric)

    monkeypatch.setattr(exposition, "metric_lines", counting)
    g = GaugeMetricFamily("g_kept", "Kept.", labels=["a"])
    g.add_metric(["x"], 1)
    static = _Static([g])
    reg = Registry()
    reg.register(static)
    first = render(reg, generate_latest, TEXT_0_0_4)
    assert first == generate_latest(reg) and calls == ["g_kept"]
    assert render(reg, generate_latest, TEXT_0_0_4) == first and calls == ["g_kept"]
    g2 = GaugeMetricFamily("g_kept", "Kept.", labels=["a"])
    g2.add_metric(["x"], 2)
    static.metrics = [g2]
    second = render(reg, generate_latest, TEXT_0_0_4)
    assert second == generate_latest(reg) and second != first
    assert calls == ["g_kept", "g_kept"]


def test_the_book_sees_an_episode_end_and_another_open_between_two_calls() -> None:
    """As many episodes open as before, but not the same ones: the shortcut (the same open
    alerts as last time) must not hide it."""
    m = Monitor(fingerprint=lambda pw: "fp")
    book = EpisodeBook(m)
    a, b = RouterKey(vlan=(), family=4, vrid=1), RouterKey(vlan=(), family=4, vrid=2)
    events: list[Event] = []
    m.book.raise_alert(events, AlertKind.SPLIT_BRAIN, a, "198.51.100.1", 10.0, 1, "split a")
    book.advance(11.0)
    assert book.open_keys(AlertKind.SPLIT_BRAIN) == {a}
    assert book.open_counts() == {"split-brain": 1}
    version = book.version
    book.advance(12.0)
    assert book.version == version  # nothing changed
    seq, _ended = book.ended_since(0)
    m.book.resolve(events, 12.5, AlertKind.SPLIT_BRAIN, a)
    m.book.raise_alert(events, AlertKind.SPLIT_BRAIN, b, "198.51.100.2", 12.5, 2, "split b")
    book.advance(13.0)
    assert book.open_keys(AlertKind.SPLIT_BRAIN) == {b}
    assert book.open_counts() == {"split-brain": 1}
    _seq, ended = book.ended_since(seq)
    assert [(ep.alert.key, ep.ends_at) for ep in ended] == [(a, 13.0)]
    assert [ep.alert.key for ep in book.open()] == [b]


def test_ended_since_gives_the_episodes_after_the_cursor_and_at_most_the_kept() -> None:
    from vrrpwatch.ops.episodes import ENDED_KEPT

    m = Monitor(fingerprint=lambda pw: "fp")
    book = EpisodeBook(m)
    events: list[Event] = []
    n = ENDED_KEPT + 10
    for i in range(n):
        key = RouterKey(vlan=(), family=4, vrid=1 + i % 255)
        m.book.raise_alert(events, AlertKind.SPLIT_BRAIN, key, f"198.51.100.{i % 250}", i, i, "x")
        book.advance(i + 0.5)
        m.book.resolve(events, i + 0.6, AlertKind.SPLIT_BRAIN, key)
        book.advance(i + 0.7)
    seq, ended = book.ended_since(0)
    assert seq == n and len(ended) == ENDED_KEPT  # the oldest forgotten
    assert [ep.alert.time for ep in ended] == list(range(10, n))
    _seq, ended = book.ended_since(n - 3)
    assert [ep.alert.time for ep in ended] == [n - 3, n - 2, n - 1]
    assert book.ended_since(n) == (n, [])
