"""The monitor engine on frames built with our own builders, at explicit times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from dissectors.packet import decode_packet
from dissectors.vrrp import virtual_mac
from tests.helpers import KEY, MAC1, MAC2, MAC3, R1, R2, R3, V4, Feed, advert, garp
from vrrpwatch.fingerprints import fingerprint
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store
from vrrpwatch.store.schema import ensure_schema
from vrrpwatch.store.summary import summarize
from vrrpwatch.watch.model import FORMER_MASTERS
from vrrpwatch.watch.monitor import (
    FLAP_TRANSITIONS,
    Alert,
    AlertResolved,
    KnownRouters,
    Monitor,
    RouterKey,
    Severity,
    Transition,
    TransitionCause,
)
from vrrpwatch.watch.timeline import RECENT_TRANSITIONS, master_at, recent_transitions


def stored(m: Monitor) -> tuple[sqlite_utils.Database, dict[str, Any]]:
    """The monitor's state as the store writes it, and the run's summary document."""
    db = sqlite_utils.Database(memory=True)
    ensure_schema(db)
    store = Store(db)
    run = store.begin_run(kind="analyze", source="test")
    store.flush(m)
    return db, summarize(db, run)


def test_first_master_is_a_transition_from_none() -> None:
    f = Feed()
    events = f(10.0, advert(R1, 100))
    assert [e for e in events if isinstance(e, Transition)] == [Transition(
        key=KEY, time=10.0, frame=1, old=None, new=R1, cause="first-seen", gap_ms=None,
        expected_ms=None,
    )]  # fmt: skip
    assert f.kinds() == ["bad-source-mac"]
    assert type(f.m.routers[KEY].transitions[0].cause) is TransitionCause


def test_resign_then_takeover_after_skew() -> None:
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R1, 200))
    f(2.5, advert(R1, 0))
    f(3.109375, advert(R2, 100, mac=MAC2))
    assert f.timeline() == [(None, R1, "first-seen"), (R1, R2, "resigned")]
    t = f.m.routers[KEY].transitions[1]
    # RFC 3768 section 6.1: Skew_Time = (256 - 100) / 256 s
    assert t.expected_ms == 609.375
    assert t.gap_ms == 609.375
    assert "master-resigned" in f.kinds()
    f.m.finish()  # a takeover's master-change is raised once it has settled: here, at the end
    assert "master-change" in f.kinds()


def test_silence_then_takeover_after_master_down_interval() -> None:
    f = Feed()
    f.every(0.0, 5.0, 1.0, advert(R1, 200))
    f(4.0 + 3.609375, advert(R2, 100, mac=MAC2))
    t = f.m.routers[KEY].transitions[1]
    assert (t.old, t.new, t.cause) == (R1, R2, "silent")
    assert t.expected_ms == 3609.375  # 3 x 1 s + 156/256 s
    assert t.gap_ms == 3609.375


def test_v3_skew_scales_with_the_interval() -> None:
    f = Feed()
    f.every(0.0, 1.0, 0.25, advert(R1, 200, version=3, interval=1))
    f(0.75, advert(R1, 0, version=3))
    f(1.0, advert(R2, 128, mac=MAC2, version=3))
    t = f.m.routers[KEY].transitions[1]
    # RFC 5798 section 6.1: Skew_Time = (256 - 128) * 1 s / 256 = 0.5 s
    assert t.expected_ms == 500.0


def test_higher_priority_preempts() -> None:
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R2, 100, mac=MAC2))
    f(2.5, advert(R1, 200))
    assert f.timeline()[-1] == (R2, R1, "preempted")
    assert f.m.routers[KEY].transitions[-1].expected_ms is None


def test_lower_priority_while_master_advertises_is_no_transition() -> None:
    f = Feed()
    f.every(0.0, 2.0, 1.0, advert(R1, 200))
    f(1.5, advert(R2, 100, mac=MAC2))
    assert f.timeline() == [(None, R1, "first-seen")]


def test_two_backups_at_once_the_better_one_wins_in_one_transition() -> None:
    # captures/v2-three-routers.pcap's shape: both backups advertise once, the higher address
    # keeps on (test_analyze_bundled.py checks that capture).
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R3, 200, mac=MAC3))
    f(5.7, advert(R1, 100))
    f(5.71, advert(R2, 100, mac=MAC2))
    f.every(6.71, 9.0, 1.0, advert(R2, 100, mac=MAC2))
    assert f.timeline() == [(None, R3, "first-seen"), (R3, R2, "silent")]
    assert f.m.routers[KEY].transitions[1].frame == 5


def test_split_brain_after_master_down_interval_of_overlap() -> None:
    f = Feed()
    for i in range(8):
        f(float(i), advert(R1, 150, password=b"alpha"))
        f(i + 0.5, advert(R2, 100, mac=MAC2, password=b"bravo"))
    kinds = f.kinds()
    assert "split-brain" in kinds
    assert "auth-mismatch" in kinds
    split = next(a for a in f.m.alerts if a.kind == "split-brain")
    assert split.severity is Severity.CRITICAL
    assert split.time > 3.6  # not before a Master_Down_Interval of overlap
    assert kinds.count("split-brain") == 1  # once per episode


def _stored(f: Feed, tmp_path: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]], bytes]:
    """The monitor written to a store: the JSON document (what analyze --json and report print),
    the advertisers' password columns, and every byte of the database files."""
    db = open_db(tmp_path / "m.db")
    store = Store(db)
    store.begin_run(kind="analyze", source="test")
    store.flush(f.m)
    store.end_run()
    doc = summarize(db, store.run_id)
    rows = db.execute("SELECT password_fingerprint, password FROM advertisers").fetchall()
    db.close()
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("m.db*")))
    return doc, rows, raw


def test_plaintext_password_is_fingerprinted_never_shown(tmp_path: Path) -> None:
    f = Feed()
    f(0.0, advert(R1, 100, password=b"s3cret"))
    (alert,) = [a for a in f.m.alerts if a.kind == "plaintext-auth"]
    assert "s3cret" not in alert.message
    assert fingerprint(b"s3cret", b"k") in alert.message
    adv = f.m.routers[KEY].advertisers[R1]
    assert adv.password is None
    doc, rows, raw = _stored(f, tmp_path)
    (advertiser,) = doc["virtual_routers"][0]["advertisers"]
    assert advertiser["password_fingerprint"] == fingerprint(b"s3cret", b"k")
    assert "password" not in advertiser
    assert rows == [(fingerprint(b"s3cret", b"k"), None)]
    assert "s3cret" not in json.dumps(doc) and b"s3cret" not in raw


def test_reveal_secrets_keeps_the_password(tmp_path: Path) -> None:
    f = Feed(reveal_secrets=True)
    f(0.0, advert(R1, 100, password=b"s3cret"))
    doc, rows, _ = _stored(f, tmp_path)
    (advertiser,) = doc["virtual_routers"][0]["advertisers"]
    assert advertiser["password"] == "s3cret"
    assert advertiser["password_fingerprint"] == fingerprint(b"s3cret", b"k")
    assert rows == [(fingerprint(b"s3cret", b"k"), "s3cret")]


def test_mismatches_between_advertisers() -> None:
    f = Feed()
    f(0.0, advert(R1, 200))
    f(0.5, advert(R2, 100, mac=MAC2, vips=(V4("192.0.2.9"),), interval=2, version=3))
    kinds = set(f.kinds())
    assert {"vip-mismatch", "interval-mismatch", "version-mismatch", "rogue-advertiser"} <= kinds


def test_known_routers() -> None:
    known = KnownRouters.from_toml(
        f'[[router]]\naddress = "{R1}"\nmac = "02:00:00:00:00:01"\nvrids = [1]\n'
    )
    f = Feed(known_routers=known)
    f(0.0, advert(R1, 200))
    assert "rogue-advertiser" not in f.kinds()
    f(0.5, advert(R2, 100, mac=MAC2))
    rogue = [a for a in f.m.alerts if a.kind == "rogue-advertiser"]
    assert [a.source for a in rogue] == [R2]
    f(0.6, advert(R1, 200, mac=MAC3))  # the known address from another MAC
    assert len([a for a in f.m.alerts if a.kind == "rogue-advertiser"]) == 2


@pytest.mark.parametrize(
    "text",
    ["[[router]]\nmac = 'x'\n", "router = 1\n", "[[router]]\naddress = 'nope'\n", "[[router"],
)
def test_known_routers_errors(text: str) -> None:
    with pytest.raises(ValueError):
        KnownRouters.from_toml(text)


def test_ttl_and_checksum_findings_raise_once() -> None:
    f = Feed()
    for i in range(5):
        f(float(i), advert(R1, 100, ttl=64))
    assert f.kinds().count("ttl-not-255") == 1


def test_garp_from_the_master_or_the_virtual_mac_is_fine() -> None:
    f = Feed()
    f(0.0, advert(R1, 100))
    f(0.001, garp(MAC1))
    f(0.002, garp(virtual_mac(1, 4)))
    f(5.0, advert(R1, 100))
    f.m.finish()
    assert "garp-conflict" not in f.kinds()
    assert f.m.counters.garps == 2


def test_garp_from_another_mac_is_a_conflict() -> None:
    f = Feed()
    f.every(0.0, 6.0, 1.0, advert(R1, 100))
    f(2.5, garp(MAC3))
    f.m.finish()
    (c,) = [a for a in f.m.alerts if a.kind == "garp-conflict"]
    assert c.severity is Severity.CRITICAL and c.source == "02:00:00:00:00:03"


def test_new_masters_garp_just_before_its_first_advert_is_fine() -> None:
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R1, 200))
    f(2.5, advert(R1, 0))
    f(3.1, garp(MAC2))
    f(3.1001, advert(R2, 100, mac=MAC2))
    f.every(4.1, 8.0, 1.0, advert(R2, 100, mac=MAC2))
    f.m.finish()
    assert "garp-conflict" not in f.kinds()


def test_the_losing_backups_garps_in_a_contest_are_no_conflict() -> None:
    """Two backups time out together (keepalived, captures/README.md "v2-three-routers"): both
    become master, both send gratuitous ARPs (RFC 5798 section 6.4.2), the lower address yields
    on the other's advert (section 6.4.3). One transition goes to the winner, and the loser's
    GARPs are a master's of that moment, not a conflict; another MAC's still is."""
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R3, 200, mac=MAC3))
    f(5.7, advert(R1, 100))
    f(5.7001, garp(MAC1))  # R1, about to lose
    f(5.71, advert(R2, 100, mac=MAC2))
    f(5.7101, garp(MAC2))
    f.every(6.71, 12.0, 1.0, advert(R2, 100, mac=MAC2))
    f.m.finish()
    assert f.timeline() == [(None, R3, "first-seen"), (R3, R2, "silent")]
    assert "garp-conflict" not in f.kinds()
    stranger = bytes.fromhex("020000000099")
    f(12.5, garp(stranger))
    f.every(13.0, 16.0, 1.0, advert(R2, 100, mac=MAC2))
    f.m.finish()
    (c,) = [a for a in f.m.alerts if a.kind == "garp-conflict"]
    assert c.source == "02:00:00:00:00:99"


def test_a_garp_is_judged_against_the_latest_transitions_only() -> None:
    """Under a flood of takeovers each announcement costs the same: it is judged against the
    router's latest RECENT_TRANSITIONS (before them, the master they started from), not a walk
    of the whole timeline."""
    f = Feed()
    n = RECENT_TRANSITIONS * 3
    for i in range(n):  # each source outranks the one before: a takeover per advert
        f(i * 0.001, advert(f"192.0.2.{10 + i % 200}", 1 + i % 254, mac=MAC1))
    vr = f.m.routers[KEY]
    assert len(vr.transitions) > RECENT_TRANSITIONS
    assert recent_transitions(vr) == vr.transitions[-RECENT_TRANSITIONS:]
    last = vr.transitions[-1]
    assert master_at(vr, last.time) == last.new
    before_tail = vr.transitions[-RECENT_TRANSITIONS - 1]
    assert master_at(vr, vr.transitions[-RECENT_TRANSITIONS].time - 1e-9) == before_tail.new


def test_former_masters_are_each_transitions_old_master_bounded() -> None:
    """An owner returning is looked up among the router's former masters (the old side of each
    transition), not by walking the timeline: a flood of takeovers at priority 255 made every
    advert walk it (5,000: 1.1 s, 10,000: 5.4 s of monitor CPU; now 0.33 s and 0.85 s)."""
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R1, 100))
    f.every(3.0, 6.0, 1.0, advert(R2, 200, mac=MAC2))
    vr = f.m.routers[KEY]
    assert list(vr.former_masters) == [R1]
    for i in range(FORMER_MASTERS + 10):
        vr.lost_mastership(f"fe80::{i:x}")
    assert len(vr.former_masters) == FORMER_MASTERS
    assert R1 not in vr.former_masters and "fe80::9" not in vr.former_masters
    vr.lost_mastership("fe80::a")  # the oldest kept becomes the latest
    assert list(vr.former_masters)[-1] == "fe80::a" and "fe80::b" in vr.former_masters


def test_priority_255_owner_is_info_non_owner_with_evidence_is_critical() -> None:
    f = Feed()
    f(0.0, advert("192.0.2.1", 255))
    (a,) = [x for x in f.m.alerts if x.kind == "priority-255"]
    assert a.severity is Severity.INFO
    g = Feed()
    g(0.0, advert(R1, 100))
    g(0.001, garp(MAC1))
    g(1.0, advert(R3, 255, mac=MAC3))
    sev = {x.severity for x in g.m.alerts if x.kind == "priority-255"}
    assert sev == {Severity.CRITICAL}
    assert "rogue-advertiser" in g.kinds()


def test_master_flap() -> None:
    f = Feed()
    t = 0.0
    for i in range(FLAP_TRANSITIONS + 1):
        f(t, advert(R1 if i % 2 else R2, 100 + 50 * (i % 2), mac=MAC1 if i % 2 else MAC2))
        t += 4.0
    f.m.finish()  # the last takeover's master-change is raised once it has settled
    assert "master-flap" in f.kinds()


def test_master_lost_when_nobody_takes_over_and_clears() -> None:
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R1, 100))
    # No backup has advertised: one of priority 1 may exist, Master_Down_Interval 3.996 s,
    # plus 0.25 s of slack, after the last advert at 2.0.
    assert f.m.expire(6.2) == []
    (lost,) = f.m.expire(6.3)
    assert lost.kind == "master-lost" and lost.severity is Severity.CRITICAL
    assert f.m.expire(6.0) == []  # once per episode
    assert lost in [ep.alert for ep in f.m.open_episodes()]
    ended, cleared = f(7.0, advert(R1, 100))
    assert not f.m.routers[KEY].lost
    assert ended == AlertResolved(alert=lost, time=7.0)  # type: ignore[arg-type]
    assert lost not in [ep.alert for ep in f.m.open_episodes()]
    assert isinstance(cleared, Alert)
    assert cleared.kind == "master-lost-cleared" and cleared.source == R1
    assert cleared.severity is Severity.INFO
    f.every(8.0, 9.0, 1.0, advert(R1, 100))
    assert [e.kind for e in f.m.expire(20.0)] == ["master-lost"]  # a new episode


def test_master_lost_waits_for_the_slowest_known_backup() -> None:
    # R2 (priority 100) advertised once as master; now R1 (200) is master. A silent R1 gets
    # R2's Master_Down_Interval (3.609 s), not its own (3.219 s), before master-lost: R2
    # takes over only then (RFC 3768 section 6.4.2).
    f = Feed()
    f(0.0, advert(R2, 100, mac=MAC2))
    f.every(0.5, 3.0, 1.0, advert(R1, 200))
    assert f.m.routers[KEY].master == R1
    assert f.m.expire(2.5 + 3.609375 + 0.24) == []
    assert [e.kind for e in f.m.expire(2.5 + 3.609375 + 0.26)] == ["master-lost"]


def test_same_vrid_on_two_vlans_are_two_routers() -> None:
    f = Feed()
    f(0.0, advert(R1, 100, vlans=(10,)))
    f(0.1, advert(R2, 100, mac=MAC2, vlans=(20,)))
    assert set(f.m.routers) == {RouterKey((10,), 4, 1), RouterKey((20,), 4, 1)}
    assert all(len(vr.transitions) == 1 for vr in f.m.routers.values())


def test_malformed_is_counted_and_alerted_once_per_source() -> None:
    m = Monitor(fingerprint=lambda pw: "x")
    m.malformed(1, 0.0, "VRRP: unknown version 7", "02:00:00:00:00:09")
    m.malformed(2, 1.0, "VRRP: unknown version 7", "02:00:00:00:00:09")
    assert m.counters.malformed == 2
    assert [a.kind for a in m.alerts] == ["malformed"]


def test_split_brain_ends_when_one_master_is_left_and_can_open_again() -> None:
    f = Feed()
    for i in range(8):
        f(float(i), advert(R1, 150))
        f(i + 0.5, advert(R2, 100, mac=MAC2))
    (split,) = [a for a in f.m.alerts if a.kind == "split-brain"]
    assert f.m.expire(8.0) == []  # both still advertising
    f.every(8.0, 12.0, 1.0, advert(R1, 150))  # R2 stopped after 7.5
    # RFC 5798 section 6.4.2: Master_Down_Interval at priority 1 is 3 s + 255/256 s
    assert not [e for e in f.m.expire(7.5 + 3.99) if isinstance(e, AlertResolved)]
    ended = [e for e in f.m.expire(7.5 + 4.0) if isinstance(e, AlertResolved)]
    assert [e.alert for e in ended] == [split]
    for i in range(12, 20):
        f(float(i), advert(R1, 150))
        f(i + 0.5, advert(R2, 100, mac=MAC2))
    assert f.kinds().count("split-brain") == 2  # a new episode


def test_an_advertisers_condition_ends_with_its_silence_and_comes_back_with_it() -> None:
    m = Monitor(fingerprint=lambda pw: "x")
    d = decode_packet(advert(R1, 100, ttl=64), 1)
    assert d is not None
    for i in range(3):
        m.observe(i + 1, float(i), d)  # one decoded object, as the decode cache hands out
    (ttl,) = [a for a in m.alerts if a.kind == "ttl-not-255"]
    assert ttl in [ep.alert for ep in m.open_episodes()]
    assert not [e for e in m.expire(2.0 + 300.0) if isinstance(e, AlertResolved)]
    ended = [e.alert for e in m.expire(2.0 + 300.5) if isinstance(e, AlertResolved)]
    assert ttl in ended and ttl not in [ep.alert for ep in m.open_episodes()]
    m.observe(4, 400.0, d)  # back, with the very same advert: checked in full again
    m.observe(5, 401.0, d)
    assert [a.kind for a in m.alerts].count("ttl-not-255") == 2


def test_interfaces_are_monitor_inputs() -> None:
    f = Feed()
    d = decode_packet(advert(R1, 100), 1)
    assert d is not None
    f.m.observe(1, 0.0, d, "eth0")
    (down,) = f.m.interface_down("eth0", 1.0, frame=1)
    assert isinstance(down, Alert) and down.kind == "interface-down"
    assert down.severity is Severity.WARNING and down.source == "eth0"
    assert f.m.interface_down("eth0", 1.5, frame=1) == []  # already down
    assert f.m.expire(30.0) == []  # blind: no master-lost while the link is down
    ended, up = f.m.interface_up("eth0", 40.0, frame=1)
    assert ended == AlertResolved(alert=down, time=40.0)
    assert isinstance(up, Alert) and up.kind == "interface-up" and up.severity is Severity.INFO
    assert f.m.interface_up("eth0", 40.5, frame=1) == []
    # one Master_Down_Interval (priority 1: 3.996 s) plus 0.25 s after link-up
    assert f.m.expire(40.0 + 4.2) == []
    assert [e.kind for e in f.m.expire(40.0 + 4.3)] == ["master-lost"]  # type: ignore[union-attr]
    (removed,) = f.m.interface_down("eth0", 50.0, frame=2, removed=True)
    assert removed.message == "eth0: interface removed; no longer sniffed"  # type: ignore[union-attr]


def test_one_router_heard_on_two_interfaces_is_flagged_once() -> None:
    f = Feed()
    d1 = decode_packet(advert(R1, 100), 1)
    d2 = decode_packet(advert(R2, 100, mac=MAC2), 1)
    assert d1 is not None and d2 is not None
    f.m.observe(1, 0.0, d1, "eth0")
    f.m.observe(2, 0.5, d2, "eth1")
    f.m.observe(3, 1.0, d2, "eth2")
    (two,) = [a for a in f.m.alerts if a.kind == "router-on-two-interfaces"]
    assert two.source == "eth1" and "eth0 and eth1" in two.message
