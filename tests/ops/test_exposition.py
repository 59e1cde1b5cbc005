"""The fast /metrics answer is byte for byte what prometheus-client renders.

The sniff collector writes its per-router lines itself (vrrpwatch.ops.routers); the oracle is
the collector as it was before (tests/ops/oracle_metrics.py: prometheus-client ``Metric``
families rendered by prometheus-client). Both scrape the same monitor at the same times, on the
bundled captures and on 1,000 generated routers, in every format the server negotiates; each
answer is also parsed (prometheus_client.parser, the OpenMetrics parser) and a real scrape is
checked with ``promtool check metrics``.
"""

from __future__ import annotations

import gzip
import math
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as om_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from tests.conftest import CAPTURES, lab_unavailable
from tests.ops.generated import monitor_with
from tests.ops.oracle_metrics import OldSniffCollector
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.exposition import Registry, TextFamily, make_app, metric_lines, number
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor

# What clients send: nothing (text 0.0.4), Prometheus 2.42 (OpenMetrics 1.0.0), Prometheus 3
# (OpenMetrics with allow-utf-8), text 1.0.0 with either fast escaping.
FAST_ACCEPTS = (
    "",
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4",
    "application/openmetrics-text",
    "text/plain;version=1.0.0;escaping=underscores",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
)
# Escapings that rewrite names: prometheus-client answers those itself.
SLOW_ACCEPTS = (
    "text/plain;version=1.0.0;escaping=dots",
    "application/openmetrics-text;version=1.0.0;escaping=values",
    "application/openmetrics-text;version=2.0.0",
)
CAPTURE_FILES = (
    "v2-failover.pcap",
    "v2-auth-mismatch.pcap",
    "vlans.pcap",
    "v3-ipv6.pcap",
    "v3-ipv4-fast.pcap",
    "rogue.pcap",
    "frr-keepalived.pcap",
    "unicast.pcap",
    "vmac.pcap",
    "v2-ah.pcap",
)


def analyze(*names: str) -> Monitor:
    m = Monitor(fingerprint=lambda pw: "fp")
    run_files([str(CAPTURES / n) for n in names], m)
    return m


def get(app: Callable[..., Any], accept: str, query: str = "", gzipped: bool = False) -> Any:
    """(status, headers, body) of one GET through a WSGI app."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": query}
    if accept:
        environ["HTTP_ACCEPT"] = accept
    if gzipped:
        environ["HTTP_ACCEPT_ENCODING"] = "gzip"
    seen: list[Any] = []
    body = b"".join(app(environ, lambda status, headers: seen.extend((status, dict(headers)))))
    return seen[0], seen[1], body


class Pair:
    """The new collector and the oracle on one monitor and one clock, each alone in a registry
    (so the process metrics, which differ between two renderings, stay out)."""

    def __init__(self, m: Monitor, now: float) -> None:
        self.m, self.now = m, [now]
        self.new = SniffCollector(m, EpisodeBook(m), clock=lambda: self.now[0])
        self.old = OldSniffCollector(m, EpisodeBook(m), clock=lambda: self.now[0])
        self.new_reg = Registry()
        self.new_reg.register(self.new)
        self.old_reg = CollectorRegistry(auto_describe=False)
        self.old_reg.register(self.old)
        self.app = make_app(self.new_reg)

    def compare(self, accept: str) -> bytes:
        """Scrape both at the current time; assert the same answer; return it."""
        encoder, content_type = choose_encoder(accept)
        status, headers, body = get(self.app, accept)
        assert status == "200 OK"
        assert headers["Content-Type"] == content_type
        want = encoder(self.old_reg)
        if body != want:  # show the first differing line
            for a, b in zip(body.decode().splitlines(), want.decode().splitlines(), strict=False):
                assert a == b
        assert body == want
        return body


def samples(text: str, openmetrics: bool = False) -> dict[tuple[str, frozenset[Any]], float]:
    parse = om_families if openmetrics else text_string_to_metric_families
    return {(s.name, frozenset(s.labels.items())): s.value for f in parse(text) for s in f.samples}


def scrape_times(m: Monitor) -> Iterator[float]:
    """Times to scrape a capture's monitor at: during it (takeovers not yet settled), right
    after it, and once everyone is silent (after ``expire``: lost routers, ended episodes)."""
    first = min(a.first_seen for vr in m.routers.values() for a in vr.advertisers.values())
    yield (first + m.last_time) / 2
    yield m.last_time
    yield m.last_time + 5
    m.expire(m.last_time + 120)
    yield m.last_time + 120


@pytest.mark.parametrize("name", CAPTURE_FILES)
def test_every_format_is_byte_identical_on_the_bundled_captures(name: str) -> None:
    m = analyze(name)
    pair = Pair(m, m.last_time)
    for now in scrape_times(m):
        pair.now[0] = now
        for accept in FAST_ACCEPTS:
            body = pair.compare(accept)
        # The same state as the Prometheus text parser sees it, and as OpenMetrics.
        text = pair.compare("")
        assert samples(text.decode())
        om = pair.compare("application/openmetrics-text;version=1.0.0")
        assert samples(om.decode(), openmetrics=True)
        assert body


def test_failover_histograms_and_state_set_are_unchanged() -> None:
    """The families that must stay exactly as they were: both histograms (the excess one with
    its negative buckets) and the router state set, on a capture where they all move."""
    m = analyze("v2-failover.pcap", "v2-auth-mismatch.pcap")
    pair = Pair(m, m.last_time + 60)
    got = samples(pair.compare("").decode())
    buckets = {
        dict(lab)["le"]: v for (n, lab), v in got.items() if n.endswith("excess_seconds_bucket")
    }
    assert list(buckets) == [
        *("-1.0", "-0.5", "-0.1", "0.0", "0.05", "0.1", "0.25", "0.5", "1.0", "2.0"),
        *("5.0", "10.0", "+Inf"),
    ]
    assert got[("vrrpwatch_failover_seconds_count", frozenset())] == 2
    states = {dict(lab)["state"] for (n, lab) in got if n == "vrrpwatch_router_state"}
    assert states == {"ok", "lost", "resigned", "split-brain"}


def test_thousand_generated_routers_are_byte_identical() -> None:
    m = monitor_with(1000)
    pair = Pair(m, m.last_time)  # the masters advertising, their takeovers not yet settled
    text = pair.compare("")
    assert sum(1 for line in text.splitlines() if not line.startswith(b"#")) > 16_000
    pair.compare(FAST_ACCEPTS[1])
    # Scraped again later (cached lines must follow the values): masters fell silent, the
    # takeovers count.
    pair.now[0] = m.last_time + 30
    later = pair.compare("")
    assert later != text
    assert (
        samples(later.decode())[
            (
                "vrrpwatch_router_masters",
                frozenset({("vlan", "10"), ("family", "4"), ("vrid", "1")}),
            )
        ]
        == 0
    )


def test_cached_lines_follow_new_adverts_and_new_routers() -> None:
    """Adverts, priorities and new routers between scrapes show up in the next one."""
    m = analyze("v2-failover.pcap")
    more = analyze("v2-failover.pcap", "vlans.pcap", "v3-ipv6.pcap")
    pair = Pair(m, m.last_time)
    pair.compare("")
    # The same Monitor object carries on with more captures (run_files appends).
    run_files([str(CAPTURES / "vlans.pcap"), str(CAPTURES / "v3-ipv6.pcap")], m)
    assert len(m.routers) == len(more.routers)
    pair.now[0] = m.last_time
    pair.compare("")
    pair.compare(FAST_ACCEPTS[1])


@pytest.mark.parametrize("accept", SLOW_ACCEPTS)
def test_escapings_that_rewrite_names_are_prometheus_clients_own(accept: str) -> None:
    m = analyze("v2-failover.pcap")
    pair = Pair(m, m.last_time)
    pair.compare(accept)


def test_name_filter_and_other_requests_go_to_prometheus_client() -> None:
    m = analyze("v2-failover.pcap")
    reg = registry_for(SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time))
    Gauge("x_described", "A collector that describes its names.", registry=reg).set(7)
    app = make_app(reg)
    # prometheus-client filters by the names collectors describe (only the gauge does).
    status, _h, body = get(app, "", query="name[]=x_described")
    assert status == "200 OK"
    assert body == generate_latest(reg.restricted_registry(["x_described"]))
    assert body.endswith(b"\nx_described 7.0\n") and body.count(b"\n") == 3
    # Unfiltered, the fast answer has it too, where the registry order puts it: last.
    _s, _h, full = get(app, "")
    assert full.endswith(b"\nx_described 7.0\n") and b"\nvrrpwatch_router_masters{" in full
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/metrics", "QUERY_STRING": ""}
    seen: list[Any] = []
    app(environ, lambda status, headers: seen.append(status))
    assert seen == ["405 Method Not Allowed"]


def test_collect_gives_the_same_families_as_the_oracle() -> None:
    """``collect()`` (what any other prometheus-client consumer reads) parses the text parts
    back into ``Metric`` objects: the same families, samples and values as before."""
    m = analyze("v2-failover.pcap", "vlans.pcap")
    pair = Pair(m, m.last_time + 60)
    new, old = list(pair.new.collect()), list(pair.old.collect())
    assert all(isinstance(f, Metric) for f in new)
    assert [(f.name, f.type, f.documentation) for f in new] == [
        (f.name, f.type, f.documentation) for f in old
    ]
    assert [f.samples for f in new] == [f.samples for f in old]


def test_gzip_answer_is_the_same_text() -> None:
    m = analyze("v2-failover.pcap")
    pair = Pair(m, m.last_time)
    plain = pair.compare("")
    _status, headers, body = get(pair.app, "", gzipped=True)
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == plain


@pytest.mark.parametrize(
    "value",
    [
        *range(0, 300),
        *(999_999, 1_000_000, 1_000_001, 123_456_789, 2**53 + 1, -1, -1_000_000),
        *(0.0, -0.0, 0.5, 1.5, 1e-9, 3.609375, 1_800_000_003.1001, 1e21, -2.5),
        *(math.inf, -math.inf, math.nan, True, False),
        *(999_999.5, 1_000_000.0, 9_999_999.25, 10_000_000.5, 1_764_612_000.0, 1e15 + 0.5),
        *(1e16, 1.5e16, 1e-300, 5e-324, 1.7976931348623157e308, 0.1, 100.0, 0.75),
    ],
)
def test_number_is_floatToGoString(value: float) -> None:
    assert number(value) == floatToGoString(value)


def test_text_family_round_trips() -> None:
    fam = TextFamily("x_things", "counter", 'Help with "quotes" and \\ and\nnewline.', [])
    fam.lines.append('x_things_total{a="1\\"2",b="\\\\"} 3.0\n')
    metric = fam.metric()
    assert (metric.name, metric.type, metric.documentation) == (
        "x_things",
        "counter",
        fam.documentation,
    )
    (s,) = metric.samples
    assert (s.name, s.labels, s.value) == ("x_things_total", {"a": '1"2', "b": "\\"}, 3.0)


def test_promtool_accepts_a_real_scrape() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        lab_unavailable("promtool not installed (Debian package prometheus; scripts/setup)")
    assert promtool is not None
    m = analyze("v2-failover.pcap", "v2-auth-mismatch.pcap", "vlans.pcap", "v3-ipv6.pcap")
    server = MetricsServer(
        "127.0.0.1:0",
        registry_for(SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time + 60)),
    )
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            text = r.read()
    finally:
        server.close()
    assert b"vrrpwatch_router_state{" in text and b"process_cpu_seconds_total" in text
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout == b"" and check.stderr == b""


def _families() -> list[Metric]:
    """prometheus-client families of every kind, some the fast lines cannot write."""
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        InfoMetricFamily,
        StateSetMetricFamily,
        SummaryMetricFamily,
    )
    from prometheus_client.samples import Exemplar

    out: list[Metric] = []
    g = GaugeMetricFamily("g_plain", 'Help "quoted" \\ and\nnewline.', labels=["b", "a"])
    g.add_metric(['x"y', "back\\slash\nnl"], 1.5)
    g.add_metric(["", "é"], -0.0)
    out.append(g)
    out.append(GaugeMetricFamily("g_nolabels", "No labels.", value=1e21))
    c = CounterMetricFamily("c_things", "Counted.", labels=["k"])
    c.add_metric(["v"], 3)
    out.append(c)
    c2 = CounterMetricFamily("c_created", "With _created.", labels=["k"])
    c2.add_metric(["v"], 2, created=1_700_000_000.25)
    out.append(c2)
    stamped = GaugeMetricFamily("g_stamp", "With a timestamp.", labels=["k"])
    stamped.add_metric(["v"], 1, timestamp=12.5)
    out.append(stamped)
    out.append(GaugeMetricFamily("g_bytes", "With a unit.", value=2, unit="bytes"))
    h = HistogramMetricFamily("h_seconds", "A histogram.", labels=["x"])
    h.add_metric(["1"], [("-1.0", 0), ("0.5", 2), ("+Inf", 3)], 0.75)
    out.append(h)
    he = HistogramMetricFamily("h_ex", "With an exemplar.")
    he.add_metric([], [("1.0", 1, Exemplar({"t": "1"}, 0.5)), ("+Inf", 1)], 0.5)
    out.append(he)
    s = SummaryMetricFamily("s_sum", "A summary.", count_value=2, sum_value=1.0)
    out.append(s)
    i = InfoMetricFamily("i_build", "An info.", labels=["v"])
    i.add_metric(["x"], {"rev": "abc"})
    out.append(i)
    ss = StateSetMetricFamily("ss_state", "A state set.", labels=["r"])
    ss.add_metric(["1"], {"up": True, "down": False})
    out.append(ss)
    colon = GaugeMetricFamily("job:rate:sum", "A recording-rule name.", value=4)
    out.append(colon)
    return out


class _Static:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


@pytest.mark.parametrize("accept", FAST_ACCEPTS)
def test_prometheus_client_families_render_as_prometheus_client_writes_them(accept: str) -> None:
    """Families of other collectors (process metrics, the alert push, join) go through the
    fast lines when they can, through prometheus-client's encoder when they cannot: the same
    bytes either way."""
    families = _families()
    slow = {f.name for f in families if metric_lines(f) is None}
    assert slow == {"c_created", "g_stamp", "g_bytes", "h_ex", "job:rate:sum"}
    reg = Registry()
    reg.register(_Static(families))
    encoder, _ct = choose_encoder(accept)
    _status, _h, body = get(make_app(reg), accept)
    assert body == encoder(reg)


def test_process_metrics_render_as_prometheus_client_writes_them() -> None:
    from prometheus_client import ProcessCollector

    frozen = list(ProcessCollector(registry=None).collect())
    assert frozen
    reg = Registry()
    reg.register(_Static(frozen))
    for accept in FAST_ACCEPTS:
        encoder, _ct = choose_encoder(accept)
        assert get(make_app(reg), accept)[2] == encoder(reg)


def test_retention_trims_keep_the_answer_byte_identical() -> None:
    """``sniff --retain`` replaces the monitor's logs by shorter ones with a ``trimmed`` offset
    (watch.model.EventLog): the text lines follow the absolute cursors as the oracle does, so
    the counters stay where they were and the answer stays the same bytes."""
    m = analyze("v2-failover.pcap", "v2-auth-mismatch.pcap", "frr-keepalived.pcap")
    pair = Pair(m, m.last_time + 60)
    first = samples(pair.compare("").decode())
    assert len(m.alerts) and any(len(vr.transitions) > 1 for vr in m.routers.values())
    # Part of the logs (the first capture's), then everything: all alerts, all transitions
    # but each router's latest.
    assert m.trim(m.alerts[len(m.alerts) // 2].time) > 0
    assert m.alerts.trimmed and m.alerts
    pair.compare("")
    assert m.trim(math.inf) > 0
    assert not m.alerts and m.alerts.trimmed
    assert all(len(vr.transitions) == 1 for vr in m.routers.values() if vr.transitions)
    for accept in FAST_ACCEPTS:
        pair.compare(accept)
    after = samples(pair.compare("").decode())
    counters = {k: v for k, v in first.items() if k[0].endswith("_total")}
    assert counters and all(after[k] == v for k, v in counters.items())
    # New routers and alerts after the trim count on from there.
    run_files([str(CAPTURES / "vlans.pcap")], m)
    pair.now[0] = m.last_time + 60
    pair.compare("")
    pair.compare(FAST_ACCEPTS[1])


def test_join_metrics_render_as_prometheus_client_writes_them() -> None:
    """join --metrics' collector yields prometheus-client families: through the fast lines
    they are the bytes prometheus-client writes, before the runtime exists and while it runs."""
    from tests.helpers import ME, VIP, FakeClock, FakeTransport, rx, v2_bytes
    from vrrpwatch.join.loop import Runtime
    from vrrpwatch.join.router import RouterConfig, VirtualRouter
    from vrrpwatch.ops.join import JoinCollector

    collector = JoinCollector("VI_1")
    fast, plain = Registry(), CollectorRegistry(auto_describe=False)
    fast.register(collector)
    plain.register(collector)
    app = make_app(fast)

    def same() -> bytes:
        for accept in FAST_ACCEPTS:
            encoder, _ct = choose_encoder(accept)
            assert get(app, accept)[2] == encoder(plain)
        return get(app, "")[2]

    assert b"vrrpwatch_build_info{" in same()
    clock = FakeClock()
    script = [(float(t), rx(v2_bytes(100))) for t in range(3)]
    script.append((1.5, rx(v2_bytes(100, password=b"wrong"))))
    transport = FakeTransport(clock, script)  # type: ignore[arg-type]
    config = RouterConfig(
        vrid=1, priority=50, primary_address=ME, addresses=(VIP,), version=2, auth_pass=b"s3cret"
    )
    rt = Runtime(
        router=VirtualRouter(config),
        transport=transport,
        emit=lambda e: None,
        prefixes={VIP: 24},
        clock=clock,
    )
    collector.attach(rt)
    scraped: list[bytes] = []

    def until() -> bool:  # the master falls silent at 2 s: we take over
        if clock.now >= 10.0 and not scraped:
            scraped.append(same())
        return clock.now >= 12.0

    rt.run(until=until)
    (body,) = scraped
    assert b'vrrpwatch_join_state{instance="VI_1",state="master"} 1.0\n' in body
    assert b'vrrpwatch_join_discards_total{instance="VI_1",reason="auth-failure"} 1.0\n' in body


def test_the_server_keeps_its_routes_beside_the_fast_metrics() -> None:
    """The live page's hook (``routes``, sniff's page on ``/``) and the fast /metrics share
    one server: ``/`` is the route's, /metrics and every other path the metrics app's."""
    m = analyze("v2-failover.pcap")

    def page(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<p>page</p>"]

    server = MetricsServer(
        "127.0.0.1:0",
        registry_for(SniffCollector(m, EpisodeBook(m), clock=lambda: m.last_time)),
        routes={"/": page},
    )
    base = f"http://127.0.0.1:{server.port}"
    try:
        with urllib.request.urlopen(base + "/", timeout=5) as r:
            assert r.read() == b"<p>page</p>"
        req = urllib.request.Request(
            base + "/metrics", headers={"Accept": FAST_ACCEPTS[1], "Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.headers["Content-Type"] == choose_encoder(FAST_ACCEPTS[1])[1]
            assert r.headers["Content-Encoding"] == "gzip"
            text = gzip.decompress(r.read()).decode()
    finally:
        server.close()
    assert text.endswith("# EOF\n")
    names = {f.name for f in om_families(text)}
    assert {"vrrpwatch_router_state", "vrrpwatch_adverts", "process_cpu_seconds"} <= names
