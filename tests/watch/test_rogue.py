"""The rogue-advertiser rule (watch/rogue.py) is one for VRRP, HSRP and CARP: the same
``--known-routers`` input gives the same verdict and the same sentence for each protocol."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import pytest

from dissectors.hsrp import HsrpV1, V1State
from tests.helpers import ROOT, Feed, advert, carp_advert, hsrp_frame
from vrrpwatch.watch import carp, consistency, hsrp, rogue, timeline
from vrrpwatch.watch.catalogue import AlertKind
from vrrpwatch.watch.known import KnownRouters

A, B = "192.0.2.10", "192.0.2.11"
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
VIP = ipaddress.IPv4Address("192.0.2.1")
GROUP = 7


def _vrrp(src: str, mac: bytes, group: int) -> bytes:
    return advert(src, 100, mac=mac, vrid=group)


def _hsrp(src: str, mac: bytes, group: int) -> bytes:
    hello = HsrpV1(state=V1State.ACTIVE, group=group, virtual_ip_address=VIP)
    return hsrp_frame(hello, src=ipaddress.IPv4Address(src), src_mac=mac)


def _carp(src: str, mac: bytes, group: int) -> bytes:
    return carp_advert(src, 0, vhid=group, mac=mac)


# protocol -> (its frame builder, what the alert says it sends, its router label)
PROTOCOLS: dict[str, tuple[Callable[[str, bytes, int], bytes], str, str]] = {
    "vrrp": (_vrrp, "advertises", "VRID"),
    "hsrp": (_hsrp, "sends HSRP hellos", "HSRP group"),
    "carp": (_carp, "advertises", "CARP vhid"),
}

# (source, its MAC, its group id) -> whether the list makes it a rogue
CASES = [
    ((A, MAC_A, GROUP), False),  # address, MAC and group listed
    ((A, MAC_B, GROUP), True),  # another MAC than the listed one
    ((A, MAC_A, GROUP + 1), True),  # a group the entry does not list
    ((B, MAC_A, GROUP), True),  # an address not in the list
]
KNOWN_TOML = f'[[router]]\naddress = "{A}"\nmac = "02:00:00:00:00:01"\nvrids = [{GROUP}]\n'


def rogues(
    protocol: str, known: KnownRouters | None, src: str, mac: bytes, group: int
) -> list[str]:
    build, _, _ = PROTOCOLS[protocol]
    f = Feed(known_routers=known)
    f(0.0, build(src, mac, group))
    f(1.0, build(src, mac, group))
    return [a.message for a in f.m.alerts if a.kind == AlertKind.ROGUE_ADVERTISER]


@pytest.mark.parametrize(("advert_of", "rogue_expected"), CASES)
def test_one_known_routers_verdict_for_every_protocol(
    advert_of: tuple[str, bytes, int], rogue_expected: bool
) -> None:
    known = KnownRouters.from_toml(KNOWN_TOML)
    src, mac, group = advert_of
    verdicts = {}
    for protocol, (_, sends, label) in PROTOCOLS.items():
        got = rogues(protocol, known, src, mac, group)
        verdicts[protocol] = bool(got)
        if got:
            assert got == [
                f"vlan - IPv4 {label} {group}: {src} ({mac.hex(':')}) {sends} but is not in the "
                "known routers list"
            ]
    assert verdicts == dict.fromkeys(PROTOCOLS, rogue_expected)


def test_without_a_list_one_advert_is_no_evidence_for_any_protocol() -> None:
    # What makes a stranger without the list is each protocol's own evidence over time (VRRP:
    # a profile unlike the established master's; HSRP: a late Coup; CARP: none): a lone
    # source is never one.
    for protocol in PROTOCOLS:
        assert rogues(protocol, None, B, MAC_B, GROUP) == [], protocol


def test_the_rule_is_written_once() -> None:
    # every protocol's follower calls the one function ...
    assert consistency.rogue_advertiser is rogue.rogue_advertiser
    assert carp.rogue_advertiser is rogue.rogue_advertiser
    assert hsrp.rogue_advertiser is rogue.rogue_advertiser
    # ... and nothing else in watch/ raises the alert, but the priority-255 takeover
    # (consistency.priority_255: rogue by what it does, with or without the list)
    raisers = {
        p.name: p.read_text().count("AlertKind.ROGUE_ADVERTISER")
        for p in sorted(Path(ROOT, "vrrpwatch", "watch").glob("*.py"))
    }
    assert {name: n for name, n in raisers.items() if n} == {
        "catalogue.py": 1,
        "consistency.py": 1,
        "rogue.py": 1,
    }


def test_the_master_lost_rule_is_written_once() -> None:
    """Each protocol gives its limit (VRRP: Master_Down_Interval of the slowest backup; CARP:
    the slowest backup's master-down time; HSRP: the active's hold time) and words; one
    function (timeline.silent_beyond) judges the silence and raises master-lost."""
    assert carp.silent_beyond is timeline.silent_beyond
    assert hsrp.silent_beyond is timeline.silent_beyond
    raisers = {
        p.name: p.read_text().count("events, AlertKind.MASTER_LOST, ")  # raise_alert(...)
        for p in sorted(Path(ROOT, "vrrpwatch", "watch").glob("*.py"))
    }
    assert {name: n for name, n in raisers.items() if n} == {"timeline.py": 1}
