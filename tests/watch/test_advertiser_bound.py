"""What the monitor keeps per router is bounded (MAX_ADVERTISERS): a flood of sources forgets the
one heard least recently, never the master, raises advertiser-flood once per episode, and the
database keeps no row of a forgotten source."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from tests.helpers import KEY, R1, Feed, advert
from vrrpwatch.store.db import open_db
from vrrpwatch.store.recorder import Store
from vrrpwatch.watch.catalogue import MAX_ADVERTISERS, Severity
from vrrpwatch.watch.episodes import RECHECK_S


def flood_source(i: int) -> str:
    return str(ipaddress.IPv4Address("198.51.100.0") + i)


def test_a_flood_of_sources_keeps_the_master_and_a_bounded_table(tmp_path: Path) -> None:
    f = Feed()
    db = open_db(tmp_path / "m.db")
    store = Store(db)
    store.begin_run(kind="analyze", source="test")
    f(0.0, advert(R1, 200))  # the master, advertising throughout
    t = 0.0
    for i in range(3 * MAX_ADVERTISERS):
        t += 0.01
        f(t, advert(flood_source(i), 100))  # lower priority: none takes over
        if i % 50 == 0:
            f(t, advert(R1, 200))
            store.flush(f.m)
    store.flush(f.m)
    vr = f.m.routers[KEY]
    assert len(vr.advertisers) == MAX_ADVERTISERS
    assert vr.master == R1 and R1 in vr.advertisers
    # the most recent sources are the ones kept
    assert flood_source(3 * MAX_ADVERTISERS - 1) in vr.advertisers
    assert flood_source(0) not in vr.advertisers
    assert vr.forgotten == 2 * MAX_ADVERTISERS + 1
    floods = [a for a in f.m.alerts if a.kind == "advertiser-flood"]
    assert len(floods) == 1 and floods[0].severity is Severity.WARNING
    assert f"more than {MAX_ADVERTISERS} sources advertise" in floods[0].message
    rows = db.execute("SELECT address FROM advertisers").fetchall()
    assert sorted(r[0] for r in rows) == sorted(vr.advertisers)
    db.close()


def test_below_the_bound_nothing_is_forgotten() -> None:
    f = Feed()
    for i in range(MAX_ADVERTISERS):
        f(i * 0.01, advert(flood_source(i), 100))
    assert len(f.m.routers[KEY].advertisers) == MAX_ADVERTISERS
    assert "advertiser-flood" not in f.kinds()


def test_a_forgotten_source_starts_afresh_through_the_decode_cache() -> None:
    """The monitor's fast path (an advert identical to the source's last one, the same object
    from the decode cache) must not update a forgotten advertiser."""
    from dissectors.packet import decode_packet
    from vrrpwatch.fingerprints import fingerprint
    from vrrpwatch.watch.feed import CachedDecoder
    from vrrpwatch.watch.monitor import Monitor

    m = Monitor(fingerprint=lambda pw: fingerprint(pw, b"k"))
    cache = CachedDecoder()
    frames = [advert(flood_source(i), 100) for i in range(MAX_ADVERTISERS + 1)]
    first = cache.decode(frames[0], 1)
    assert first is not None and first == decode_packet(frames[0], 1)
    n = 0
    for t, data in enumerate([frames[0], frames[0], *frames[1:]]):
        d = cache.decode(data, 1)
        assert d is not None
        n += 1
        m.observe(n, t * 0.01, d)
    vr = m.routers[KEY]
    assert flood_source(0) not in vr.advertisers  # forgotten for the 65th source
    d = cache.decode(frames[0], 1)  # the very object it last sent
    assert d is first
    n += 1
    m.observe(n, 5.0, d)
    again = vr.advertisers[flood_source(0)]
    assert again.adverts == 1 and again.first_seen == 5.0
    assert len(vr.advertisers) == MAX_ADVERTISERS


def _carp(src: str, advskew: int) -> bytes:
    from dissectors.frame import ETH_P_IP, build_ethernet
    from dissectors.ip import IPv4Header, build_ipv4
    from dissectors.vrrp import CarpPacket, build_carp

    body = build_carp(CarpPacket(vhid=7, advskew=advskew, advbase_s=1, demotion=0))
    dst = ipaddress.IPv4Address("224.0.0.18")
    ip = build_ipv4(IPv4Header(src=ipaddress.IPv4Address(src), dst=dst, protocol=112), body)
    return build_ethernet(
        bytes.fromhex("01005e000012"), bytes.fromhex("00005e000107"), ETH_P_IP, ip
    )


def test_a_carp_flood_is_bounded_by_the_same_rule() -> None:
    """One rule for every protocol (ObservedRouter.speaker): CARP's advertisers are kept in
    the order they were heard, and the least recently heard goes first, never the master."""
    from vrrpwatch.watch.model import Protocol, RouterKey

    f = Feed()
    master = "192.0.2.10"
    f(0.0, _carp(master, 0))
    t = 0.0
    for i in range(3 * MAX_ADVERTISERS):
        t += 0.01
        f(t, _carp(flood_source(i), 200))  # a higher advskew: none takes over
        if i % 50 == 0:
            f(t, _carp(master, 0))
    vr = f.m.routers[RouterKey((), 4, 7, Protocol.CARP)]
    assert len(vr.advertisers) == MAX_ADVERTISERS
    assert vr.master == master and master in vr.advertisers
    assert list(vr.recency)[-1] == flood_source(3 * MAX_ADVERTISERS - 1)
    assert flood_source(0) not in vr.advertisers
    assert [a.kind for a in f.m.alerts].count("advertiser-flood") == 1


def test_a_live_flood_keeps_few_episodes_of_forgotten_sources_open() -> None:
    """sniff: each flood source's own alert (here bad-source-mac: a MAC that is not the
    virtual MAC) opens an episode that ends once the source is silent for the hold, or at
    once when the monitor forgets the source. expire judges such episodes at most every
    RECHECK_S, so under a flood they stay about what RECHECK_S of it opens, not what the
    300 s hold of it opens."""
    f = Feed()
    rate = 200  # sources a second, each advertising once from a MAC of its own
    t = 0.0
    for i in range(20 * rate):  # 20 s of flood, expire every 0.1 s as sniff calls it
        t = i / rate
        mac = bytes.fromhex("02") + (i + 1).to_bytes(5, "big")
        f(t, advert(flood_source(i), 100, mac=mac))
        if i % (rate // 10) == 0:
            f.m.expire(t)
    opened = [a for a in f.m.alerts if a.kind == "bad-source-mac"]
    still = [ep for ep in f.m.open_episodes() if ep.alert.kind == "bad-source-mac"]
    assert len(opened) == 20 * rate
    assert len(still) <= MAX_ADVERTISERS + rate * RECHECK_S + rate // 10
