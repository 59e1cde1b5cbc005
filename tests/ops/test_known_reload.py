"""sniff's SIGHUP re-reads --known-routers: the monitor checks every advertiser's next advert
against the new list (Monitor.set_known_routers), here with the bundled failover capture."""

from __future__ import annotations

from tests.conftest import CAPTURES
from tests.lab import pcap_frames
from vrrpwatch.watch.files import CachedDecoder
from vrrpwatch.watch.known import KnownRouter, KnownRouters
from vrrpwatch.watch.monitor import Monitor

R1, R2 = "192.0.2.253", "192.0.2.254"


def rogues(m: Monitor) -> list[str | None]:
    return [a.source for a in m.alerts if a.kind == "rogue-advertiser"]


def test_a_new_known_list_applies_to_the_next_adverts() -> None:
    frames = list(pcap_frames(CAPTURES / "v2-failover.pcap"))
    decode = CachedDecoder().decode
    m = Monitor(fingerprint=lambda pw: "fp", known_routers=KnownRouters([KnownRouter(R1)]))
    half = len(frames) // 2
    for i, (t, data) in enumerate(frames[:half], 1):
        d = decode(data, 1)
        if d is not None:
            m.observe(i, t, d)
    assert rogues(m) == [R2]
    # Reloaded: r2 is known now, r1 is not any more; r1 is raised at its next advert.
    m.set_known_routers(KnownRouters([KnownRouter(R2)]))
    for i, (t, data) in enumerate(frames[half:], half + 1):
        d = decode(data, 1)
        if d is not None:
            m.observe(i, t, d)
    assert rogues(m) == [R2, R1]
