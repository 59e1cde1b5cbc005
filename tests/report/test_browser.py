"""The HTML report in a real browser (headless chromium, network cut off): every bundled
capture's page loads without console errors or requests, and its DOM shows what the
capture's truth JSON says; a hostile advert renders as text."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dissectors.frame import build_ethernet
from dissectors.ip import IPv4Header, build_ipv4
from dissectors.vrrp import IPPROTO_VRRP, VRRP_MCAST_V4, VrrpV2, build_vrrp
from tests.conftest import ROOT
from tests.report.conftest import Browser
from vrrpwatch.cli import cli
from vrrpwatch.pcap import PcapWriter

CAPTURES = ROOT / "captures"
NAMES = sorted(p.stem for p in CAPTURES.glob("*.json"))

# What the page shows, per chart, read from the live DOM.
CHARTS_JS = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(s => ({
    key: [s.dataset.vlan, +s.dataset.family, +s.dataset.vrid],
    bars: s.querySelectorAll('rect.bar').length,
    failovers: s.querySelectorAll('a.fo').length,
    slow: s.querySelectorAll('a.fo.slow').length,
    resigned: s.querySelectorAll('a.fo.resigned').length,
    zero: s.querySelectorAll('g.p0').length,
    alerts: [...s.querySelectorAll('a.al')].map(a => +a.dataset.alert),
  })),
  alerts: [...document.querySelectorAll('a.al')].map(a => +a.dataset.alert),
  rows: [...document.querySelectorAll('tr[id^="alert-"]')].length,
  scripts: document.querySelectorAll('script').length,
})"""


def _analyze(capture: Path | str, tmp: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    page = tmp / "report.html"
    args = ["analyze", str(capture), "--db", str(tmp / "r.db"), "--json", "--html", str(page)]
    r = CliRunner().invoke(cli, [*args, *extra])
    assert r.exit_code == 0, r.output
    doc: dict[str, Any] = json.loads(r.output)
    return page, doc


def _vlan(v: list[int]) -> str:
    return ".".join(map(str, v)) or "-"


@pytest.mark.parametrize("name", NAMES)
def test_bundled_capture_report_matches_truth(name: str, tmp_path: Path, browser: Browser) -> None:
    truth = json.loads((CAPTURES / f"{name}.json").read_text())
    page, doc = _analyze(CAPTURES / f"{name}.pcap", tmp_path)
    res = browser.open(page, expression=CHARTS_JS)
    assert res.errors() == []
    assert res.requests == [res.url], "the page fetched something"
    got = json.loads(res.value)
    charts = {tuple(c["key"]): c for c in got["charts"]}
    groups = {(_vlan(r["vlan"]), r["family"], r["vrid"]) for r in truth["routers"]}
    assert len(got["charts"]) == len(doc["virtual_routers"]) == len(groups)
    assert set(charts) == groups
    for key, c in charts.items():

        def mine(items: list[dict[str, Any]], key: tuple[str, int, int] = key) -> list[Any]:
            return [i for i in items if (_vlan(i["vlan"]), i["family"], i["vrid"]) == key]

        fos = mine(truth["failovers"])
        assert c["bars"] == len(mine(truth["masters"])), key
        assert c["failovers"] == len(fos), key
        assert c["resigned"] == sum(1 for f in fos if f["cause"] == "resigned"), key
        slow = [f for f in fos if f["expected_ms"] and f["gap_ms"] - f["expected_ms"] > 50]
        assert c["slow"] == len(slow), key
        assert c["zero"] >= c["resigned"]
        assert sorted(c["alerts"]) == [a["id"] for a in mine_alerts(doc, key)]
    # every alert of the run has exactly one marker and one row
    assert sorted(got["alerts"]) == list(range(len(doc["alerts"])))
    assert got["rows"] == len(doc["alerts"])
    assert got["scripts"] == 1


def mine_alerts(doc: dict[str, Any], key: tuple[str, int, int]) -> list[dict[str, Any]]:
    out = []
    for i, a in enumerate(doc["alerts"]):
        if (_vlan(a["vlan"]), a["family"], a["vrid"]) == key:
            out.append({"id": i})
    return out


def test_v2_failover_page_says_what_happened(tmp_path: Path, browser: Browser) -> None:
    """The README picture's facts are on the page as text: r1 (192.0.2.253) master first,
    r2 (192.0.2.254) takes over twice, one priority-0 hand-over at 610 ms against 609 ms."""
    page, _ = _analyze(CAPTURES / "v2-failover.pcap", tmp_path)
    js = """JSON.stringify({
      lanes: [...document.querySelectorAll('svg.chart .lane text.addr')].map(t => t.textContent),
      labels: [...document.querySelectorAll('svg.chart a.fo text')].map(t => t.textContent),
      to254: [...document.querySelectorAll('svg.chart a.fo title')]
        .filter(t => t.textContent.includes('-> 192.0.2.254')).length,
      focus: (() => {
        const marker = document.querySelector('svg.chart a.al');
        marker.focus();
        const tip = document.querySelector('.tip');
        const shown = [tip.hidden, tip.textContent, marker.querySelector('title').textContent];
        marker.blur();
        return [...shown, tip.hidden];
      })(),
    })"""
    got = json.loads(browser.open(page, expression=js).value)
    assert got["lanes"] == ["192.0.2.253", "192.0.2.254"]
    assert "resigned (priority 0) 610 ms / RFC 609 ms" in got["labels"]
    assert got["to254"] == 2
    # keyboard focus on an alert marker shows its message; leaving hides it
    hidden, text, title, hidden_after = got["focus"]
    assert not hidden and text == title and "192.0.2.253" in text and hidden_after


HOSTILE = [b"<script>", b"'\"&<s>x<"]  # VRRPv2 simple-text passwords: 8 bytes on the wire


def _hostile_capture(path: Path) -> None:
    """Two advertisers of one group whose passwords are markup."""
    w = PcapWriter(path, 1 << 20)
    t = 1_800_000_000.0
    for i in range(12):
        for n, pw in enumerate(HOSTILE):
            src = ipaddress.IPv4Address(f"192.0.2.{10 + n}")
            adv = VrrpV2(
                vrid=5,
                priority=200 - 100 * n,
                count_ip_addrs=1,
                auth_type=1,
                addresses=(ipaddress.IPv4Address("192.0.2.5"),),
                auth_data=pw,
            )
            ip = build_ipv4(
                IPv4Header(src=src, dst=VRRP_MCAST_V4, protocol=IPPROTO_VRRP),
                build_vrrp(adv, src=src, dst=VRRP_MCAST_V4),
            )
            mac = bytes.fromhex("02000000000a") if n else bytes.fromhex("00005e000105")
            frame = build_ethernet(bytes.fromhex("01005e000012"), mac, 0x800, ip)
            w.write(t + i + 0.5 * n, frame)
    w.close()


def test_hostile_advert_renders_as_text(tmp_path: Path, browser: Browser) -> None:
    capture = tmp_path / "x<q>&'\".pcap"  # the file name reaches the page too
    _hostile_capture(capture)
    page, doc = _analyze(capture, tmp_path, "--reveal-secrets")
    assert {a["password"] for a in doc["virtual_routers"][0]["advertisers"]} == {
        p.decode() for p in HOSTILE
    }
    js = """JSON.stringify({
      scripts: document.querySelectorAll('script').length,
      injected: document.querySelectorAll('q, s, svg.chart script').length,
      passwords: [...document.querySelectorAll('code.password')].map(c => c.textContent),
      text: document.body.textContent,
    })"""
    res = browser.open(page, expression=js)
    assert res.errors() == [] and res.requests == [res.url]
    got = json.loads(res.value)
    assert got["scripts"] == 1 and got["injected"] == 0
    assert sorted(got["passwords"]) == sorted(p.decode() for p in HOSTILE)
    assert capture.name in got["text"]
    # without --reveal-secrets the page holds fingerprints, never the password
    r = CliRunner().invoke(
        cli, ["report", "--db", str(tmp_path / "r.db"), "--html", str(tmp_path / "safe.html")]
    )
    assert r.exit_code == 0, r.output
    safe = (tmp_path / "safe.html").read_text()
    assert "<script>" not in safe.replace("<script>(function", "")
    assert "&lt;script&gt;" not in safe and "&lt;s&gt;x" not in safe
    assert doc["virtual_routers"][0]["advertisers"][0]["password_fingerprint"] in safe
    # report --reveal-secrets shows what the run stored, escaped
    shown = tmp_path / "shown.html"
    r = CliRunner().invoke(
        cli, ["report", "--db", str(tmp_path / "r.db"), "--reveal-secrets", "--html", str(shown)]
    )
    assert r.exit_code == 0, r.output
    assert '<code class="password">&lt;script&gt;</code>' in shown.read_text()
