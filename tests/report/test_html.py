"""The HTML report without a browser: time axis, ordering and collapsing, the page's promises
(no URL, scripts and styles allowed by hash only), the CLI's --html, package data."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from vrrpwatch.cli import cli
from vrrpwatch.report.chart import TARGET_TICKS, Scale, master_spans
from vrrpwatch.report.html import render_html

FAILOVER = str(ROOT / "captures" / "v2-failover.pcap")
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


@pytest.mark.parametrize(
    ("span_s", "label"),
    [
        (10, r"^\d\d:\d\d:\d\d$"),
        (3600, r"^\d\d:\d\d$"),
        (86400, r"^\d\d:\d\d$"),
        (30 * 86400, r"^[A-Z][a-z]{2} \d\d$"),
        (0.5, r"^\d\d:\d\d:\d\d\.\d+$"),
    ],
)
def test_time_axis_has_sensible_ticks_from_seconds_to_a_month(span_s: float, label: str) -> None:
    scale = Scale.for_span(T0, T0 + span_s)
    ticks = scale.ticks()
    assert 3 <= len(ticks) <= TARGET_TICKS
    xs = [t.x for t in ticks]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert all(re.match(label, t.label) for t in ticks), [t.label for t in ticks]
    assert ticks[0].date  # the first tick names its day


def test_a_month_long_axis_names_days_once() -> None:
    ticks = Scale.for_span(T0, T0 + 2 * 86400).ticks()
    dates = [t.date for t in ticks if t.date]
    assert dates == sorted(set(dates)) and len(dates) >= 2


def _adv(address: str, first: float, last: float, **kw: Any) -> dict[str, Any]:
    return {
        "address": address, "mac": "02:00:00:00:00:01", "macs": ["02:00:00:00:00:01"],
        "priority": [100], "interval_ms": 1000, "version": 3, "auth_type": "none",
        "vips": ["192.0.2.1"], "adverts": 10, "first_seen": first, "last_seen": last,
        "ttl": [255], "checksum": ["good"], "last_priority": 100, **kw,
    }  # fmt: skip


def _tr(time: float, old: str | None, new: str, cause: str, gap: float | None) -> dict[str, Any]:
    return {
        "time": time, "frame": 1, "file": "x.pcap", "from": old, "to": new, "cause": cause,
        "gap_ms": gap, "expected_ms": None,
    }  # fmt: skip


def _router(vrid: int, transitions: list[dict[str, Any]], advs: list[dict[str, Any]]) -> Any:
    return {
        "vlan": [], "family": 4, "vrid": vrid, "version": 3, "master": transitions[-1]["to"],
        "master_since": transitions[-1]["time"], "priority": 100, "interval_ms": 1000,
        "vips": ["192.0.2.1"], "auth_type": "none", "master_lost": False,
        "last_seen": max(a["last_seen"] for a in advs), "alerts": 0, "advertisers": advs,
        "transitions": transitions, "address_events": [],
    }  # fmt: skip


def _doc(routers: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run": {
            "id": 1, "kind": "analyze", "source": "x.pcap", "status": "complete",
            "started": T0, "stopped": T0, "first_time": T0, "last_time": T0 + 100,
            "kernel_drops": None,
        },
        "packets": 1, "vrrp_adverts": 1, "garps": 0, "nas": 0, "arps": 0, "carp": 0,
        "malformed": 0, "findings": {}, "virtual_routers": routers, "alerts": alerts,
        "address_events": [],
    }  # fmt: skip


def test_busy_routers_first_quiet_ones_collapsed() -> None:
    quiet = [
        _router(v, [_tr(T0, None, "192.0.2.10", "first-seen", None)],
                [_adv("192.0.2.10", T0, T0 + 100)])
        for v in (1, 2, 3)
    ]  # fmt: skip
    busy = _router(
        9,
        [_tr(T0, None, "192.0.2.20", "first-seen", None),
         _tr(T0 + 50, "192.0.2.20", "192.0.2.21", "silent", 3500.0)],
        [_adv("192.0.2.20", T0, T0 + 46.5), _adv("192.0.2.21", T0 + 50, T0 + 100)],
    )  # fmt: skip
    alert = {
        "kind": "plaintext-auth", "severity": "warning", "vlan": [], "family": 4, "vrid": 2,
        "source": "192.0.2.10", "time": T0 + 1, "frame": 2, "file": "x.pcap", "message": "m",
        "id": 0,
    }  # fmt: skip
    page = render_html(_doc([*quiet, busy], [alert]))
    sections = re.findall(r'<details class="vr" id="vr-u-4-(\d+)"( open)?>', page)
    assert sections == [("2", " open"), ("9", " open"), ("1", ""), ("3", "")]


def test_master_span_ends_at_the_old_masters_last_advert() -> None:
    vr = _router(
        1,
        [_tr(T0, None, "192.0.2.20", "first-seen", None),
         _tr(T0 + 50, "192.0.2.20", "192.0.2.21", "silent", 3500.0)],
        [_adv("192.0.2.20", T0, T0 + 46.5), _adv("192.0.2.21", T0 + 50, T0 + 90)],
    )  # fmt: skip
    assert master_spans(vr, []) == [("192.0.2.20", T0, T0 + 46.5), ("192.0.2.21", T0 + 50, T0 + 90)]
    lost = [
        {"kind": "master-lost", "source": "192.0.2.21", "time": T0 + 60},
        {"kind": "master-lost-cleared", "source": "192.0.2.21", "time": T0 + 70},
    ]
    assert master_spans(vr, lost)[1:] == [
        ("192.0.2.21", T0 + 50, T0 + 60), ("192.0.2.21", T0 + 70, T0 + 90),
    ]  # fmt: skip


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_names_no_url_and_allows_only_its_own_style_and_script(tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    r = CliRunner().invoke(
        cli, ["analyze", FAILOVER, "--db", str(tmp_path / "r.db"), "--html", str(page)]
    )
    assert r.exit_code == 0, r.output
    text = page.read_text()
    assert "://" not in text and "src=" not in text and 'href="#' in text
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp is not None
    policy = csp.group(1).replace("&#39;", "'")
    assert policy.startswith("default-src 'none';")
    styles = re.findall(r"<style>(.*?)</style>", text, re.S)
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    assert len(styles) == len(scripts) == 1
    assert f"style-src {_sha(styles[0])};" in policy
    assert f"script-src {_sha(scripts[0])};" in policy


def test_report_html_is_the_analyze_page_and_errors_are_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    one, two = tmp_path / "a.html", tmp_path / "b.html"
    assert (
        CliRunner().invoke(cli, ["analyze", FAILOVER, "--db", db, "--html", str(one)]).exit_code
        == 0
    )
    r = CliRunner().invoke(cli, ["report", "--db", db, "--html", str(two)])
    assert r.exit_code == 0, r.output
    assert one.read_text() == two.read_text()
    bad = CliRunner().invoke(cli, ["report", "--db", db, "--html", str(tmp_path / "no/x.html")])
    assert bad.exit_code == 2
    assert bad.output.startswith("Error: --html ") and bad.output.count("\n") == 1


def test_templates_ship_as_package_data() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = conf["tool"]["setuptools"]["package-data"]["vrrpwatch.report"]
    assets = [p.name for p in (ROOT / "vrrpwatch" / "report").iterdir() if p.suffix != ".py"]
    assets = [a for a in assets if a != "__pycache__"]
    assert assets and all(any(fnmatch.fnmatch(a, p) for p in patterns) for a in assets)


def test_slow_failover_is_marked_and_segment_alerts_get_markers() -> None:
    slow = _tr(T0 + 50, "192.0.2.20", "192.0.2.21", "silent", 3700.0) | {"expected_ms": 3609.0}
    fast = _tr(T0 + 80, "192.0.2.21", "192.0.2.20", "silent", 3650.0) | {"expected_ms": 3609.0}
    vr = _router(
        1,
        [_tr(T0, None, "192.0.2.20", "first-seen", None), slow, fast],
        [_adv("192.0.2.20", T0, T0 + 100), _adv("192.0.2.21", T0 + 50, T0 + 76)],
    )
    malformed = {
        "kind": "malformed", "severity": "warning", "vlan": [], "family": None, "vrid": None,
        "source": "192.0.2.99", "time": T0 + 5, "frame": 7, "file": "x.pcap",
        "message": "undecodable <packet>", "id": 0,
    }  # fmt: skip
    page = render_html(_doc([vr], [malformed]))
    assert len(re.findall(r'<a class="fo silent slow"', page)) == 1
    assert len(re.findall(r'<a class="fo silent"', page)) == 1
    assert "3700 ms / RFC 3609 ms" in page
    segment = page[page.index('<svg class="chart-segment"') :]
    assert segment.count('data-alert="0"') == 1 and page.count("data-alert=") == 1
    assert "undecodable &lt;packet&gt;" in page and "x.pcap #7" in page


def test_report_data_reads_the_committed_run_while_a_writer_holds_the_database(
    tmp_path: Path,
) -> None:
    """sniff writes in transactions: the page shows what was committed (WAL readers)."""
    import sqlite3

    from vrrpwatch.store.db import open_db
    from vrrpwatch.store.timeline import report_data

    db = tmp_path / "r.db"
    assert CliRunner().invoke(cli, ["analyze", FAILOVER, "--db", str(db)]).exit_code == 0
    reader = open_db(db)
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE runs SET status = 'running'")
        writer.execute("DELETE FROM transitions")
        page = render_html(report_data(reader, 1))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.close()
    assert "(complete)" in page and page.count('<a class="fo ') == 4


def test_report_package_imports_neither_click_nor_sqlite_utils() -> None:
    """store/ reads the database, cli/ parses options; report/ only renders."""
    import ast

    for path in (ROOT / "vrrpwatch" / "report").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        roots = {n.split(".")[0] for n in names}
        assert not roots & {"click", "sqlite_utils", "sqlite3"}, path
        assert not {n for n in names if n.startswith(("vrrpwatch.cli", "vrrpwatch.store"))}, path


def test_failovers_too_close_for_the_run_axis_get_a_closeup() -> None:
    a, b = "192.0.2.20", "192.0.2.21"
    burst = [T0 + 40_000 + 10 * i for i in range(6)]  # six failovers in a minute of a day
    trs = [_tr(T0, None, a, "first-seen", None)]
    for i, t in enumerate(burst):
        trs.append(_tr(t, (a, b)[i % 2], (b, a)[i % 2], "silent", 3600.0))
    dense = _router(1, trs, [_adv(a, T0, T0 + 86400), _adv(b, burst[0], burst[-2] + 5)])
    spread = _router(
        2,
        [_tr(T0, None, a, "first-seen", None), _tr(T0 + 9000, a, b, "silent", 3600.0),
         _tr(T0 + 50_000, b, a, "silent", 3600.0)],
        [_adv(a, T0, T0 + 86400), _adv(b, T0 + 9000, T0 + 49_996)],
    )  # fmt: skip
    doc = _doc([dense, spread], [])
    doc["run"]["last_time"] = T0 + 86400
    page = render_html(doc)
    closeups = re.findall(r'<svg class="closeup".*?</svg>', page, re.S)
    assert len(closeups) == 1
    assert closeups[0].count('<a class="fo ') == 6
    assert all(f'href="#vr-u-4-1-t{i}"' in closeups[0] for i in range(1, 7))
    whole = re.sub(r'<svg class="closeup".*?</svg>', "", page, flags=re.S)
    assert whole.count('<a class="fo ') == 8 and "data-alert" not in closeups[0]


def test_files_are_named_short_unless_two_share_a_name() -> None:
    from vrrpwatch.report.chart import Files

    files = Files(["day1/cap.pcap", "day2/cap.pcap", "/x/other.pcap", None])
    assert files.where("day1/cap.pcap", 3) == "day1/cap.pcap #3"
    assert files.where("/x/other.pcap", 7) == "other.pcap #7"
    assert files.where(None, 9) == "frame 9 (live)" and files.where("x", None) == "-"
    assert Files.command("a b.pcap") == "wireshark -r 'a b.pcap' -g FRAME"


@pytest.mark.parametrize("t", [T0, T0 + 0.9999996, T0 + 0.0004, 1795600749.934464, T0 - 0.5])
def test_utc_matches_datetime_truncated_to_milliseconds(t: float) -> None:
    import datetime

    from vrrpwatch.report.chart import utc

    want = datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    assert utc(t) == want[:-3]


def test_times_outside_the_calendar_are_raw_epoch_seconds() -> None:
    """A capture's bogus timestamps (an all-ones pcapng EPB) must not crash the page: the
    chart's ticks and labels fall back to format_time's raw epoch seconds."""
    from vrrpwatch.report.chart import Scale, utc
    from vrrpwatch.times import format_time

    far = 1.8e19
    assert utc(far) == format_time(far)
    ticks = Scale.for_span(far, far + 10.0).ticks()
    assert ticks and all(t.label for t in ticks)


def test_carp_and_vrrp_with_one_id_are_two_sections_and_advskew_0_is_no_resignation() -> None:
    """Issue 15: a CARP vhid beside a VRRP VRID of the same number; CARP's advskew 0 (the
    advertisers' ``priority``) is its best rank, not VRRP's priority 0."""
    vrrp = _router(7, [_tr(T0, None, "192.0.2.10", "first-seen", None)],
                   [_adv("192.0.2.10", T0, T0 + 100)])  # fmt: skip
    carp = _router(
        7,
        [_tr(T0, None, "192.0.2.20", "first-seen", None),
         _tr(T0 + 50, "192.0.2.20", "192.0.2.21", "silent", 3500.0)],
        [_adv("192.0.2.20", T0, T0 + 46.5, priority=[0], last_priority=0),
         _adv("192.0.2.21", T0 + 50, T0 + 100, priority=[0], last_priority=0)],
    )  # fmt: skip
    vrrp["protocol"], carp["protocol"] = "vrrp", "carp"
    page = render_html(_doc([vrrp, carp], []))
    assert 'id="vr-u-4-7"' in page and 'id="vr-u-4-7-carp"' in page
    assert "IPv4 · CARP vhid 7" in page and "IPv4 · VRID 7" in page
    assert "advertised priority 0" not in page
