"""The monitor under hostile input (issue 11): adverts every router discards are reported, never
followed."""

from __future__ import annotations

from dissectors.common import Finding
from dissectors.vrrp import RECEIVER_DISCARDS
from tests.helpers import KEY, MAC2, MAC3, R1, R2, R3, Feed, advert, garp
from vrrpwatch.watch.catalogue import EVENT_HOLD_S, Severity
from vrrpwatch.watch.model import AlertResolved


def _bad_checksum(frame: bytes) -> bytes:
    # Ethernet 14 + IPv4 20: the VRRP checksum is bytes 6-7 of the advert
    at = 14 + 20 + 6
    return frame[:at] + bytes([frame[at] ^ 0xFF]) + frame[at + 1 :]


def test_ttl_1_stranger_at_254_moves_no_master_and_makes_no_split_brain() -> None:
    f = Feed()
    for i in range(10):
        f(float(i), advert(R1, 100))
        f(i + 0.5, advert(R3, 254, mac=MAC3, ttl=1))
    vr = f.m.routers[KEY]
    assert vr.master == R1
    assert f.timeline() == [(None, R1, "first-seen")]
    assert R3 not in vr.advertisers
    kinds = f.kinds()
    assert "split-brain" not in kinds
    assert "master-change" not in kinds
    assert kinds.count("ttl-not-255") == 1
    (spoofed,) = [a for a in f.m.alerts if a.kind == "spoofed-advert"]
    assert spoofed.source == R3 and spoofed.key == KEY
    assert "ttl-not-255" in spoofed.message and "254" in spoofed.message
    assert f.m.counters.findings[Finding.TTL_NOT_255] == 10


def test_ttl_64_priority_0_spoofed_from_the_master_is_no_resignation() -> None:
    f = Feed()
    f.every(0.0, 10.0, 1.0, advert(R2, 100, mac=MAC2))
    f(0.5, advert(R1, 200))
    for i in range(1, 10):
        f(i + 0.5, advert(R1, 200))
        f(i + 0.6, advert(R1, 0, ttl=64))
    vr = f.m.routers[KEY]
    assert vr.master == R1 and not vr.resigned
    assert f.timeline() == [(None, R2, "first-seen"), (R2, R1, "preempted")]
    assert vr.advertisers[R1].priorities == [200]
    assert "master-resigned" not in f.kinds()
    assert "spoofed-advert" in f.kinds()


def test_bad_checksum_adverts_are_not_followed() -> None:
    f = Feed()
    for i in range(10):
        f(float(i), advert(R1, 100))
        f(i + 0.5, _bad_checksum(advert(R2, 254, mac=MAC2)))
    vr = f.m.routers[KEY]
    assert vr.master == R1
    assert f.timeline() == [(None, R1, "first-seen")]
    kinds = f.kinds()
    assert "split-brain" not in kinds
    assert kinds.count("bad-checksum") == 1 and kinds.count("spoofed-advert") == 1


def test_a_discarded_stranger_alone_makes_no_router() -> None:
    f = Feed()
    f.every(0.0, 10.0, 1.0, advert(R3, 254, mac=MAC3, vrid=7, ttl=1))
    assert f.m.routers == {}
    assert "spoofed-advert" in f.kinds()


def test_spoofed_advert_ends_when_its_source_falls_silent() -> None:
    f = Feed()
    f.every(0.0, 5.0, 1.0, advert(R1, 100))
    f.every(0.5, 5.0, 1.0, advert(R3, 254, mac=MAC3, ttl=1))
    ended = [e for e in f.m.expire(5.0) if isinstance(e, AlertResolved)]
    assert [e.alert.kind for e in ended] == []  # heard 0.5 s ago: still open
    later = f.m.expire(4.5 + EVENT_HOLD_S + 1)
    kinds = sorted(e.alert.kind for e in later if isinstance(e, AlertResolved))
    assert "spoofed-advert" in kinds and "ttl-not-255" in kinds


def test_join_discards_for_exactly_the_receiver_discards() -> None:
    from vrrpwatch.join.router import DISCARDED_FINDINGS

    assert tuple(DISCARDED_FINDINGS) == RECEIVER_DISCARDS


R4, R5 = "192.0.2.14", "192.0.2.15"


def _outage_then_five_backups(old_master_returns: bool) -> Feed:
    # A 5 s outage of master R5 (priority 250), then the five backups' timers fire within
    # 40 ms (RFC 5798 section 6.4.2); the best one (R4, 200) wins and keeps advertising.
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(R5, 250, mac=MAC3))
    backups = [(R1, 100), (R2, 150), ("192.0.2.16", 120), ("192.0.2.17", 180), (R4, 200)]
    for i, (src, prio) in enumerate(backups):
        f(7.0 + i * 0.01, advert(src, prio, mac=MAC2))
    if old_master_returns:
        f.every(7.04, 10.0, 1.0, advert(R5, 250, mac=MAC3))
    else:
        f.every(8.0, 10.0, 1.0, advert(R4, 200, mac=MAC2))
    f.m.finish()
    return f


def test_five_backups_after_an_outage_make_one_transition_and_one_alert() -> None:
    f = _outage_then_five_backups(old_master_returns=False)
    assert f.timeline() == [(None, R5, "first-seen"), (R5, R4, "silent")]
    t = f.m.routers[KEY].transitions[1]
    assert t.gap_ms == 5040.0  # last advert of R5 at 2.0, the winner's first at 7.04
    (change,) = [a for a in f.m.alerts if a.kind == "master-change"]
    assert change.source == R4 and f"{R5} -> {R4}" in change.message
    assert "won over" in change.message


def test_the_old_master_back_within_the_takeover_is_no_transition() -> None:
    f = _outage_then_five_backups(old_master_returns=True)
    assert f.timeline() == [(None, R5, "first-seen")]
    assert f.m.routers[KEY].master == R5
    assert "master-change" not in f.kinds()


OWNER = "192.0.2.10"  # the owner's primary address; the VIP 192.0.2.1 is a secondary


def _owner_returns(garp_mac: bytes) -> Feed:
    f = Feed()
    f.every(0.0, 3.0, 1.0, advert(OWNER, 255, mac=MAC3))
    # the owner goes away; the backup takes over and announces the VIP (RFC 5798 6.4.2)
    f(6.0, advert(R2, 100, mac=MAC2))
    f(6.01, garp(garp_mac))
    f.every(7.0, 12.0, 1.0, advert(R2, 100, mac=MAC2))
    f.every(12.5, 16.0, 1.0, advert(OWNER, 255, mac=MAC3))  # the owner is back
    f.m.finish()
    return f


def test_owner_with_a_secondary_vip_returning_is_no_critical_alert() -> None:
    f = _owner_returns(MAC2)
    assert f.timeline()[-1] == (R2, OWNER, "preempted")
    assert not [a for a in f.m.alerts if a.severity is Severity.CRITICAL], f.kinds()
    assert "rogue-advertiser" not in f.kinds()
    (p255,) = [a for a in f.m.alerts if a.kind == "priority-255"]
    assert p255.severity is Severity.WARNING  # its address is not a virtual address


def test_owner_returning_is_still_flagged_when_a_non_vrrp_mac_answered_for_the_vip() -> None:
    stranger = bytes.fromhex("0200000000aa")
    f = _owner_returns(stranger)
    sev = {a.severity for a in f.m.alerts if a.kind == "priority-255"}
    assert Severity.CRITICAL in sev
    assert "rogue-advertiser" in f.kinds()


def _on_eth0(drops: list[tuple[float, int]]) -> list[object]:
    from dissectors.packet import decode_packet
    from vrrpwatch.fingerprints import fingerprint
    from vrrpwatch.watch.monitor import Monitor

    m = Monitor(fingerprint=lambda pw: fingerprint(pw, b"k"))
    for i in range(3):
        d = decode_packet(advert(R1, 100), 1)
        assert d is not None
        m.observe(i + 1, float(i), d, "eth0")
    for at, count in drops:
        m.kernel_drops("eth0", at, count)
    # No backup has advertised: Master_Down_Interval 3.996 s + 0.25 s after the last advert
    return [e for e in m.expire(6.3) if getattr(e, "kind", None) == "master-lost"]


def test_no_master_lost_when_the_kernel_dropped_frames_since_the_last_advert() -> None:
    assert _on_eth0([(1.5, 0), (4.0, 5000)]) == []


def test_master_lost_says_no_frames_were_dropped() -> None:
    (lost,) = _on_eth0([(1.5, 7), (4.0, 0)])  # drops before the master's last advert only
    assert "dropped no frames on eth0" in lost.message  # type: ignore[attr-defined]
    (plain,) = _on_eth0([])
    assert "dropped" not in plain.message  # type: ignore[attr-defined]


def test_a_stranger_of_the_other_version_moves_no_master_and_makes_no_split_brain() -> None:
    """RFC 5798 section 7.1: a VRRPv3 group's routers discard a VRRPv2 advert. A stranger at
    254 speaking v2 beside a live v3 master is alerted on (version-mismatch), but is no
    takeover and no second master."""
    f = Feed()
    for i in range(10):
        f(float(i), advert(R1, 100, version=3))
        f(i + 0.5, advert(R3, 254, mac=MAC3, version=2))
    vr = f.m.routers[KEY]
    assert vr.master == R1
    assert f.timeline() == [(None, R1, "first-seen")]
    kinds = f.kinds()
    assert "split-brain" not in kinds and "master-change" not in kinds
    assert R3 in {a.source for a in f.m.alerts if a.kind == "version-mismatch"}
    assert R3 in vr.advertisers  # checked and shown like any advertiser


def test_the_other_version_is_followed_once_the_master_is_gone() -> None:
    """A router moving the segment to VRRPv3 takes over from a v2 master that stopped (or
    resigned): the takeover is recorded, with its gap."""
    f = Feed()
    f.every(0.0, 5.0, 1.0, advert(R1, 200))
    f.every(8.5, 12.0, 1.0, advert(R2, 100, mac=MAC2, version=3))
    assert f.timeline() == [(None, R1, "first-seen"), (R1, R2, "silent")]
    g = Feed()
    g.every(0.0, 5.0, 1.0, advert(R1, 200))
    g(4.5, advert(R1, 0))
    g.every(5.2, 8.0, 1.0, advert(R2, 100, mac=MAC2, version=3))
    assert g.timeline() == [(None, R1, "first-seen"), (R1, R2, "resigned")]
