"""CARP virtual hosts followed per vhid (watch/carp.py): master timeline, CARP's failover rule,
alerts, and the ``protocol`` key beside VRRP's."""

from __future__ import annotations

import ipaddress

import pytest

from tests.helpers import Feed, advert, summary_of
from tests.helpers import carp_advert as carp
from vrrpwatch.rfc import carp_master_down, carp_outranks
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.known import KnownRouter, KnownRouters
from vrrpwatch.watch.model import Protocol, RouterKey

V4 = ipaddress.IPv4Address
A, B, C = "192.0.2.10", "192.0.2.11", "192.0.2.12"
CARP_KEY = RouterKey((), 4, 7, Protocol.CARP)


def timeline(f: Feed) -> list[tuple[str | None, str, str, float | None, float | None]]:
    return [
        (t.old, t.new, t.cause, t.gap_ms, t.expected_ms) for t in f.m.routers[CARP_KEY].transitions
    ]


def test_rule_three_advbase_plus_own_skew() -> None:
    assert carp_master_down(1, 0) == 3.0
    assert carp_master_down(1, 128) == 3.5
    assert carp_master_down(2, 64, dead_ratio=4) == 8.25  # ucarp --deadratio 4
    assert carp_outranks(1, 0, 0, 1, 100, 0)
    assert not carp_outranks(1, 100, 0, 1, 100, 0)  # a tie outranks nobody
    assert not carp_outranks(1, 0, 1, 1, 100, 0)  # OpenBSD: the demote count first


def test_backup_takes_over_after_the_carp_rule() -> None:
    f = Feed()
    f.every(0.0, 10.0, 1.0, carp(A, 0))
    f.every(12.5, 16.0, 1.5, carp(B, 128))  # 3 x 1 + 128/256 = 3.5 s after A's last
    assert timeline(f) == [
        (None, A, "first-seen", None, None),
        (A, B, "silent", 3500.0, 3500.0),
    ]
    assert f.kinds() == ["master-change"]
    vr = f.m.routers[CARP_KEY]
    assert vr.key.label() == "vlan - IPv4 CARP vhid 7"
    assert f.m.counters.carp == 13


def test_bow_out_is_a_resignation_and_a_faster_advertiser_preempts() -> None:
    f = Feed()
    f.every(0.0, 3.0, 1.0, carp(A, 0))
    f(3.0, carp(A, 255, advbase=255))  # OpenBSD / ucarp shut down
    f(3.01, carp(B, 100))
    f.every(4.0, 6.0, 1.0, carp(B, 100))
    f(6.2, carp(A, 0))  # A is back and advertises more often: B yields (preempt)
    assert [t[:3] for t in timeline(f)] == [
        (None, A, "first-seen"),
        (A, B, "resigned"),
        (B, A, "preempted"),
    ]
    assert timeline(f)[1][4] == 0.0  # every backup takes over on a bow-out at once
    assert f.kinds() == ["master-resigned", "master-change", "master-change"]


def test_two_masters_beyond_the_rule_are_a_split_brain() -> None:
    f = Feed()
    for i in range(8):
        f(float(i), carp(A, 0))
        f(i + 0.5, carp(B, 50))
    alerts = [a for a in f.m.alerts if a.kind == AlertKind.SPLIT_BRAIN]
    assert len(alerts) == 1
    assert "CARP master-down time 3.20 s" in alerts[0].message


def test_advbase_mismatch_and_tie_are_timer_mismatches() -> None:
    f = Feed()
    f(0.0, carp(A, 0, advbase=1))
    f(0.5, carp(B, 0, advbase=2))
    f(1.0, carp(A, 0, advbase=1))
    msgs = [a.message for a in f.m.alerts if a.kind == AlertKind.TIMER_MISMATCH]
    assert msgs == [f"vlan - IPv4 CARP vhid 7: {B} uses advbase 2 s but {A} advbase 1 s"]
    g = Feed()
    g(0.0, carp(A, 10))
    g(0.5, carp(B, 10))
    assert [a.kind for a in g.m.alerts if a.kind == AlertKind.TIMER_MISMATCH] == [
        AlertKind.TIMER_MISMATCH
    ]
    assert "neither is preferred" in g.m.alerts[-1].message


def test_a_tie_among_many_is_judged_once_per_episode(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of CARP sources that all tie: each one's timer-mismatch names the first it ties
    with, and while its episode is open its adverts raise nothing more (each advert had raised
    one alert per other advertiser, up to 64, all but the first dropped by the episode)."""
    f = Feed()
    calls: list[AlertKind] = []
    real = f.m.book.raise_alert

    def counting(events: list[object], kind: AlertKind, *args: object, **kw: object) -> None:
        calls.append(kind)
        real(events, kind, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(f.m.book, "raise_alert", counting)
    sources = [f"192.0.2.{i}" for i in range(10, 50)]
    for rnd in range(3):
        for i, src in enumerate(sources):
            f(rnd + i / 100, carp(src, 10))
    mismatches = [a for a in f.m.alerts if a.kind == AlertKind.TIMER_MISMATCH]
    assert [a.source for a in mismatches] == sources[1:]  # the first had nobody to tie with
    assert f"{sources[1]} uses advbase 1 s and advskew 10, the same as {sources[0]}" in (
        mismatches[0].message
    )
    assert calls.count(AlertKind.TIMER_MISMATCH) == len(sources) - 1


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ([carp(A, 0, demotion=2)], "demote count 2"),
        ([carp(A, 0), carp(A, 240)], "advskew rose to 240 from 0"),
    ],
)
def test_demotion_seen(frames: list[bytes], why: str) -> None:
    f = Feed()
    for i, data in enumerate(frames):
        f(float(i), data)
    (alert,) = [a for a in f.m.alerts if a.kind == AlertKind.CARP_DEMOTION]
    assert why in alert.message


def test_master_lost_waits_for_the_slowest_backup() -> None:
    f = Feed()
    f.every(0.0, 2.0, 1.0, carp(B, 200))  # a backup known from the run: 3 + 200/256 s
    f.every(2.0, 10.0, 1.0, carp(A, 0, ttl=255))
    # A preempted B; A's last advert at 9.0. B's rule: 3.78125 s (+ 0.25 s slack).
    assert not f.m.expire(9.0 + 4.0)
    (lost,) = f.m.expire(9.0 + 4.1)
    assert lost.kind == AlertKind.MASTER_LOST  # type: ignore[union-attr]
    assert "CARP master-down time 3.78 s" in lost.message  # type: ignore[union-attr]
    events = f(14.0, carp(A, 0))
    assert [getattr(e, "kind", None) for e in events][-1] == AlertKind.MASTER_LOST_CLEARED


def test_unknown_backup_gets_advskew_254() -> None:
    f = Feed()
    f.every(0.0, 5.0, 1.0, carp(A, 0, advbase=2))
    # nothing else heard: any backup may have advskew 254: 6 + 254/256 s
    assert not f.m.expire(4.0 + 6.99 + 0.25)
    assert [e.kind for e in f.m.expire(4.0 + 7.3)] == [AlertKind.MASTER_LOST]  # type: ignore[union-attr]


def test_known_routers_and_discarded_adverts() -> None:
    f = Feed(known_routers=KnownRouters([KnownRouter(A)]))
    f(0.0, carp(A, 0))
    f(1.0, carp(C, 0))
    assert [(a.kind, a.source) for a in f.m.alerts if a.kind == AlertKind.ROGUE_ADVERTISER] == [
        (AlertKind.ROGUE_ADVERTISER, C)
    ]
    g = Feed()
    g(0.0, carp(A, 0, ttl=64))  # carp_input drops it, as VRRP's receivers do
    assert CARP_KEY not in g.m.routers
    assert {AlertKind.TTL_NOT_255, AlertKind.SPOOFED_ADVERT} <= set(g.kinds())


def test_carp_and_vrrp_with_one_id_are_two_routers() -> None:
    f = Feed()
    f(0.0, advert("192.0.2.253", 100, vrid=7))
    f(0.5, carp(A, 0))
    keys = sorted(f.m.routers)
    assert keys == [CARP_KEY, RouterKey((), 4, 7)]  # protocol sorts last
    assert AlertKind.CARP_ON_VRRP_SEGMENT in f.kinds()
    doc = summary_of(f.m)
    assert [(r["protocol"], r["vrid"], r["master"]) for r in doc["virtual_routers"]] == [
        ("carp", 7, A),
        ("vrrp", 7, "192.0.2.253"),
    ]
    carp_doc = doc["virtual_routers"][0]
    assert carp_doc["auth_type"] == "hmac"
    assert carp_doc["advertisers"][0]["priority"] == [0]  # the advskew
    assert "standby" not in carp_doc  # HSRP's fields only
    assert doc["carp"] == 1
