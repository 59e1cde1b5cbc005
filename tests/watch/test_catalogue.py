"""The alert catalogue: one entry per alert id, the README tables rendered from it, and the
monitor raising alerts only as it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vrrpwatch.watch import episodes
from vrrpwatch.watch.catalogue import CATALOGUE, AlertKind, Ends, Severity, markdown_table
from vrrpwatch.watch.episodes import AlertBook

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

# The alert ids (JSON ``kind`` and ``alerts.kind``: a contract): those from before the catalogue,
# and the ones added since.
IDS = {
    "master-change", "master-resigned", "master-lost", "master-lost-cleared", "master-flap",
    "split-brain", "auth-mismatch", "vip-mismatch", "interval-mismatch", "version-mismatch",
    "rogue-advertiser", "plaintext-auth", "priority-255", "ttl-not-255", "bad-checksum",
    "bad-source-mac", "malformed", "garp-conflict", "carp-on-vrrp-segment", "interface-down",
    "interface-up", "router-on-two-interfaces", "spoofed-advert", "advertiser-flood",
    # issue 15: HSRP and CARP
    "default-password", "timer-mismatch", "priority-takeover", "carp-demotion",
}  # fmt: skip


def test_every_id_has_one_entry_and_the_ids_are_unchanged() -> None:
    assert {str(k) for k in AlertKind} == IDS
    assert set(CATALOGUE) == set(AlertKind)
    for kind, e in CATALOGUE.items():
        assert e.kind is kind
        assert e.severity in e.allowed()
        assert e.description and e.opens and e.ends_text
        assert "\n" not in e.description + e.opens + e.ends_text
        if e.ends in (Ends.AFTER_HOLD, Ends.SOURCE_SILENT):
            assert e.hold_s is not None and e.hold_s > 0, kind
        if e.rfc:
            assert re.fullmatch(
                r"RFC \d{4} [\d.]+(, [\d.]+)*(, RFC \d{4} [\d.]+(, [\d.]+)*)*", e.rfc
            )


@pytest.mark.parametrize("sniff_only", [False, True], ids=["analyze", "sniff"])
def test_readme_tables_are_the_catalogue(sniff_only: bool) -> None:
    table = markdown_table(sniff_only=sniff_only)
    assert table in README, f"README alert table out of date; it should read:\n{table}"


def test_readme_rows_name_each_id_with_its_severity_once() -> None:
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([a-z /]+) \|", README, re.M)
    alert_rows = [(k, sev) for k, sev in rows if k in IDS]
    assert sorted(k for k, _ in alert_rows) == sorted(IDS)
    for kind, sev in alert_rows:
        e = CATALOGUE[AlertKind(kind)]
        assert sev == " / ".join(str(s) for s in e.allowed())


def test_the_source_raises_no_alert_outside_the_catalogue() -> None:
    # every alert is made by AlertBook.raise_alert with an AlertKind member: no bare id strings
    watch = ROOT / "vrrpwatch" / "watch"
    raised: set[AlertKind] = set()
    for path in watch.glob("*.py"):
        text = path.read_text()
        if path.name != "episodes.py":
            assert "Alert(" not in text.replace("AlertResolved(", ""), path.name
        for call in re.findall(r"raise_alert\(\s*events,\s*([^,]+),", text):
            assert call.startswith("AlertKind."), (path.name, call)
            raised.add(AlertKind[call.removeprefix("AlertKind.")])
    assert raised == set(CATALOGUE)  # and no entry that nothing raises


def test_severity_comes_from_the_catalogue() -> None:
    book = AlertBook()
    events: list[object] = []
    book.raise_alert(events, AlertKind.SPLIT_BRAIN, None, "x", 0.0, 1, "m")  # type: ignore[arg-type]
    assert book.alerts[0].severity is Severity.CRITICAL
    book.raise_alert(events, AlertKind.PRIORITY_255, None, "x", 0.0, 1, "m", severity=Severity.INFO)  # type: ignore[arg-type]
    assert book.alerts[1].severity is Severity.INFO
    with pytest.raises(ValueError, match="not in the catalogue"):
        book.raise_alert(
            events, AlertKind.MASTER_CHANGE, None, "x", 0.0, 1, "m", severity=Severity.CRITICAL
        )  # type: ignore[arg-type]


def test_once_per_episode_and_each_event() -> None:
    book = AlertBook()
    events: list[object] = []
    for t in (0.0, 1.0):
        book.raise_alert(events, AlertKind.BAD_CHECKSUM, None, "x", t, 1, "m")  # type: ignore[arg-type]
        book.raise_alert(events, AlertKind.MASTER_CHANGE, None, "x", t, 1, "m")  # type: ignore[arg-type]
    assert [a.kind for a in book.alerts] == ["bad-checksum", "master-change", "master-change"]
    assert len(book.open_episodes()) == 3
    book.expire(300.0, {}, events)  # type: ignore[arg-type]
    assert [ep.alert.time for ep in book.open_episodes()] == [0.0, 1.0]  # bad-checksum, change
    book.expire(301.0, {}, events)  # type: ignore[arg-type]
    assert [ep.alert.kind for ep in book.open_episodes()] == ["bad-checksum"]


def test_expire_judges_only_the_episodes_due(monkeypatch: pytest.MonkeyPatch) -> None:
    """sniff calls expire ten times a second; a flood opens an episode per advert. Only the
    episodes that may have ended are judged (a hold's at its end, a silent source's at its
    last advert plus the hold), and those that end come out in the order they were raised."""
    book = AlertBook()
    events: list[object] = []
    for i in range(1000):  # 1,000 master changes at t = 0 .. 99.9, each held 300 s
        book.raise_alert(events, AlertKind.MASTER_CHANGE, None, f"s{i}", i / 10, i, "m")  # type: ignore[arg-type]
    assert book._due == []  # nothing kept for expire until it is first called (analyze never)
    judged: list[str | None] = []
    real_over = episodes._over

    def counting(ep: episodes.Episode, *args: object) -> bool:
        judged.append(ep.alert.source)
        return real_over(ep, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(episodes, "_over", counting)
    out: list[object] = []
    for tick in range(100):  # ten seconds of ticks before any hold ends: nothing judged
        book.expire(200.0 + tick / 10, {}, out)  # type: ignore[arg-type]
    assert judged == [] and out == []
    book.expire(300.05, {}, out)  # type: ignore[arg-type]
    assert judged == ["s0"] and [e.alert.source for e in out] == ["s0"]  # type: ignore[attr-defined]
    book.expire(301.0, {}, out)  # type: ignore[arg-type]
    assert [e.alert.source for e in out] == [f"s{i}" for i in range(11)]  # type: ignore[attr-defined]
    assert len(judged) == 11 and len(book.open_episodes()) == 989
