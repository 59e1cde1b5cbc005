"""sniff's live page: a real Store written by a real Monitor fed the bundled failover capture,
served by the metrics server on 127.0.0.1 next to /metrics (which still parses), rendered
per request from what the writer committed."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CAPTURES
from tests.lab import pcap_frames
from vrrpwatch.ops.episodes import EpisodeBook
from vrrpwatch.ops.metrics import MetricsServer, SniffCollector, registry_for
from vrrpwatch.ops.page import LivePage
from vrrpwatch.pcap import PcapWriter
from vrrpwatch.report.html import render_html
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store
from vrrpwatch.store.timeline import report_data
from vrrpwatch.watch.files import run_files
from vrrpwatch.watch.monitor import Monitor

FAILOVER = CAPTURES / "v2-failover.pcap"
TRUTH = json.loads((CAPTURES / "v2-failover.json").read_text())


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


class Sniff:
    """What sniff has while it runs: a Monitor writing through a Store (its own connection),
    and the metrics server with the page on /."""

    def __init__(self, tmp: Path, *, reveal_secrets: bool = False) -> None:
        self.db_file = tmp / "live.db"
        self.db = open_db(self.db_file)
        self.monitor = Monitor(fingerprint=lambda pw: "fp-0123", reveal_secrets=reveal_secrets)
        self.store = Store(self.db)
        self.page = LivePage(self.db_file, refresh_s=5, reuse_s=0)
        collector = SniffCollector(self.monitor, EpisodeBook(self.monitor))
        self.server = MetricsServer("127.0.0.1:0", registry_for(collector), routes={"/": self.page})
        self.base = f"http://127.0.0.1:{self.server.port}"

    def begin(self) -> None:
        self.page.run_id = self.store.begin_run(kind="sniff", source="eth0")

    def feed(self, *paths: Path) -> None:
        run_files([str(p) for p in paths], self.monitor, self.store)
        self.store.flush(self.monitor)

    def close(self) -> None:
        self.server.close()
        self.db.close()


@pytest.fixture
def sniff(tmp_path: Path) -> Iterator[Sniff]:
    s = Sniff(tmp_path)
    yield s
    s.close()


def _halves(tmp: Path) -> tuple[Path, Path]:
    """The failover capture cut in two files after its first takeover."""
    frames = list(pcap_frames(FAILOVER))
    first_takeover = TRUTH["masters"][1]["since"]
    cut = next(i for i, (t, _b) in enumerate(frames) if t > first_takeover + 2)
    paths = (tmp / "a.pcap", tmp / "b.pcap")
    for path, part in zip(paths, (frames[:cut], frames[cut:]), strict=True):
        w = PcapWriter(path, 1 << 30)
        for t, b in part:
            w.write(t, b)
        w.close()
    return paths


def _charts(page: str) -> int:
    return page.count('<svg class="chart"')


def _failovers(page: str) -> int:
    return page.count('<a class="fo ')


def test_root_serves_the_running_runs_page_and_metrics_still_parse(
    sniff: Sniff, tmp_path: Path
) -> None:
    status, headers, text = _get(sniff.base + "/")
    assert status == 503 and "not begun" in text
    assert headers["Content-Type"].startswith("text/plain")
    sniff.begin()
    a, b = _halves(tmp_path)
    sniff.feed(a)
    status, headers, early = _get(sniff.base + "/")
    assert status == 200, early
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert '<meta http-equiv="refresh" content="5">' in early
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', early)
    assert csp is not None and csp.group(1).startswith("default-src &#39;none&#39;; ")
    # the file report's page of the same committed data, plus the refresh
    db = open_db(sniff.db_file, read_only=True)
    try:
        assert early == render_html(report_data(db, sniff.page.run_id or 0), refresh_s=5)
    finally:
        db.close()
    assert "(running)" in early and "live: reloads every 5 s" in early
    groups = {(tuple(r["vlan"]), r["family"], r["vrid"]) for r in TRUTH["routers"]}
    assert _charts(early) == len(groups)
    assert 0 < _failovers(early) < len(TRUTH["failovers"])

    sniff.feed(b)  # the writer commits more: the next request shows it
    status, _h, later = _get(sniff.base + "/")
    assert status == 200 and _charts(later) == len(groups)
    assert _failovers(later) == len(TRUTH["failovers"])

    status, headers, metrics = _get(sniff.base + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(metrics)}
    assert {"vrrpwatch_build_info", "vrrpwatch_advertiser_master", "vrrpwatch_alerts"} <= names
    assert "vrrpwatch_master_changes" in names
    # every other path is still prometheus-client's, as before the page
    status, _h, other = _get(sniff.base + "/other")
    assert status == 200 and "vrrpwatch_build_info" in other


def test_page_reads_committed_data_while_the_writer_holds_a_transaction(
    sniff: Sniff,
) -> None:
    sniff.begin()
    sniff.feed(FAILOVER)
    writer = sqlite3.connect(sniff.db_file, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM transitions")
        status, _h, page = _get(sniff.base + "/")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert status == 200 and _failovers(page) == len(TRUTH["failovers"])


def test_page_never_shows_a_password_and_escapes_like_the_file(tmp_path: Path) -> None:
    s = Sniff(tmp_path, reveal_secrets=True)  # the store keeps the password ...
    try:
        s.begin()
        s.feed(FAILOVER)
        password = TRUTH["routers"][0]["password"]
        stored = s.db.execute("SELECT count(*) FROM advertisers WHERE password = ?", [password])
        assert stored.fetchone()[0] > 0
        status, _h, page = _get(s.base + "/")
    finally:
        s.close()
    assert status == 200
    assert password not in page and "fp-0123" in page  # ... the page shows the fingerprint


def test_head_and_other_methods(sniff: Sniff) -> None:
    sniff.begin()
    sniff.feed(FAILOVER)
    req = urllib.request.Request(sniff.base + "/", method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b""
    req = urllib.request.Request(sniff.base + "/", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 405


def test_a_broken_database_answers_503_in_one_line(tmp_path: Path) -> None:
    page = LivePage(tmp_path / "gone.db")
    page.run_id = 1
    seen: list[Any] = []
    body = b"".join(
        page({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda s, h: seen.append((s, h)))
    )
    assert seen[0][0].startswith("503") and body.decode().count("\n") == 1
    assert b"no such database" in body


def test_served_page_in_a_browser_reloads_itself_and_fetches_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headless chromium with every request but the loopback page's own sent to a dead proxy."""
    from tests.report import conftest as rc

    # the file tests' flags, but the page's own server (an IP literal, which the resolver rule
    # would map too) reachable
    keep = [f for f in rc.FLAGS if not f.startswith(("--proxy-bypass-list", "--host-resolver"))]
    loopback = [
        "--proxy-bypass-list=127.0.0.1",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]
    monkeypatch.setattr(rc, "FLAGS", [*keep, *loopback])
    exe = rc.chromium_path()
    s = Sniff(tmp_path)
    s.page.refresh_s = 2
    browser = rc.Browser(exe)
    try:
        s.begin()
        s.feed(FAILOVER)
        url = s.base + "/"
        res = browser.open(url, expression=CHARTS_JS)  # read well before the reload
        later = browser.open(url, settle_s=s.page.refresh_s + 0.8)
    finally:
        browser.close()
        s.close()
    assert res.errors() == [] and later.errors() == []
    assert res.requests == [url]
    assert set(later.requests) == {url} and len(later.requests) >= 2, later.requests  # reloaded
    got = json.loads(res.value)
    groups = {
        (".".join(map(str, r["vlan"])) or "-", r["family"], r["vrid"]) for r in TRUTH["routers"]
    }
    assert {tuple(c) for c in got["charts"]} == groups
    assert got["failovers"] == len(TRUTH["failovers"])


CHARTS_JS = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(
    s => [s.dataset.vlan, +s.dataset.family, +s.dataset.vrid]),
  failovers: document.querySelectorAll('svg.chart a.fo').length,
})"""


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_sniff_serves_the_live_page_beside_keepalived(tmp_path: Path) -> None:
    """The real command in the namespace lab: / follows r1's resignation within a refresh,
    /metrics beside it still parses."""
    import secrets
    import signal

    from tests.conftest import lab_unavailable
    from tests.lab import Lab, missing_prerequisites
    from tests.ops.labtools import Sniff as LabSniff
    from tests.ops.labtools import free_port, http_get, scrape, value, wait_until

    missing = missing_prerequisites()
    if missing:
        lab_unavailable("; ".join(missing))
    lab = Lab(prefix=f"vwp{secrets.token_hex(2)}", workdir=tmp_path / "lab")
    try:
        lan = lab.segment()
        r1 = lab.host("r1", lan, addr4="192.0.2.253/24")
        r2 = lab.host("r2", lan, addr4="192.0.2.254/24")
        mon = lab.host("mon", lan, ipv6=False)
        group = {"vrid": 9, "vips": ["192.0.2.1/24"], "version": 3, "advert_int": 0.5}
        k1 = r1.keepalived(priority=200, **group)
        r2.keepalived(priority=100, **group)
        r1.wait_for_address("192.0.2.1", timeout=10)
        port = free_port(mon)
        sniff = LabSniff(lab, mon, "eth0", "--quiet", "--db", str(tmp_path / "p.db"),
                         "--metrics", f"127.0.0.1:{port}")  # fmt: skip
        url = f"http://127.0.0.1:{port}/"

        def page(probe):  # type: ignore[no-untyped-def]
            text = http_get(mon, url)
            return text if text is not None and probe(text) else None

        first = wait_until(
            "a chart with r1 master",
            lambda: page(lambda t: _charts(t) == 1 and "192.0.2.253" in t),
            timeout=15,
        )
        assert _failovers(first) == 0 and '<meta http-equiv="refresh" content="5">' in first
        k1.stop()  # resigns: r2 takes over after Skew_Time; the next page shows it
        later = wait_until(
            "the takeover on the page", lambda: page(lambda t: _failovers(t) == 1), timeout=15
        )
        assert _charts(later) == 1 and "resigned" in later
        s = scrape(mon, port)
        assert s is not None and value(s, "vrrpwatch_build_info") == 1
        rc, err = sniff.finish(signal.SIGTERM)
        assert rc == 0, err
    finally:
        lab.close()
