"""The join router with keepalived's AH authentication: it verifies each AH advert it is
given (ICV, SPI, sequence number), keeps keepalived's one sequence counter for receiving and
sending, and marks its own adverts for sealing."""

from __future__ import annotations

import ipaddress

import pytest

from dissectors.ah import ah_icv, seal_ipv4, split_ah
from dissectors.ip import IPv4Header
from dissectors.vrrp import AuthType, VrrpV2, build_vrrp, parse_vrrp
from vrrpwatch.join.router import (
    AdvertisementDiscarded,
    DiscardReason,
    IpHeader,
    RouterConfig,
    SendAdvertisement,
    State,
    VirtualRouter,
)

V4 = ipaddress.IPv4Address
US, MASTER, GROUP, VIP = V4("192.0.2.254"), V4("192.0.2.253"), V4("224.0.0.18"), V4("192.0.2.3")
KEY = b"ahsecret"


def _config(**kw: object) -> RouterConfig:
    fields: dict[str, object] = dict(
        vrid=3, priority=100, primary_address=US, addresses=(VIP,), version=2, ah_key=KEY
    )
    fields.update(kw)
    return RouterConfig(**fields)  # type: ignore[arg-type]


def _received(
    seq: int, *, priority: int = 200, key: bytes = KEY, src: V4 = MASTER
) -> tuple[VrrpV2, IpHeader]:
    adv = VrrpV2(
        vrid=3, priority=priority, count_ip_addrs=1, auth_type=AuthType.AH, adver_int_s=1,
        addresses=(VIP,),
    )  # fmt: skip
    hdr = IPv4Header(src=src, dst=GROUP, protocol=112, ttl=255, tos=0xC0, identification=seq)
    datagram = seal_ipv4(hdr, build_vrrp(adv, src=src, dst=GROUP), key=key, sequence=seq)
    sealed = split_ah(datagram)
    parsed = parse_vrrp(sealed.message, src=src, dst=GROUP)
    assert isinstance(parsed, VrrpV2)
    return parsed, IpHeader(src=src, dst=GROUP, ttl=255, ah=sealed)


def _backup() -> VirtualRouter:
    vr = VirtualRouter(_config())
    vr.start(0.0)
    assert vr.state is State.BACKUP
    return vr


def _discards(actions: list[object]) -> list[tuple[DiscardReason, str]]:
    return [(a.reason, a.detail) for a in actions if isinstance(a, AdvertisementDiscarded)]


def test_a_good_ah_advert_is_accepted_and_sets_the_counter() -> None:
    vr = _backup()
    adv, ip = _received(41)
    assert vr.receive_advertisement(adv, ip=ip, now=1.0) == []
    assert vr.ah_sequence == 41
    # Master_Down_Timer restarted from this advert: 3 s + (256 - 100) / 256 s.
    assert vr.get_timer() == 1.0 + 3.609375


def test_a_wrong_key_is_discarded_as_auth_failure() -> None:
    vr = _backup()
    adv, ip = _received(5, key=b"wrong")
    out = vr.receive_advertisement(adv, ip=ip, now=1.0)
    assert _discards(out) == [
        (
            DiscardReason.AUTH_FAILURE,
            "AH ICV does not match (wrong key, or a covered field changed on the way)",
        )
    ]
    assert vr.discards[DiscardReason.AUTH_FAILURE] == 1 and vr.ah_sequence == 0
    assert vr.get_timer() == 3.609375  # the timer was not restarted


def test_a_replayed_sequence_number_is_discarded() -> None:
    vr = _backup()
    adv, ip = _received(7)
    vr.receive_advertisement(adv, ip=ip, now=1.0)
    out = vr.receive_advertisement(adv, ip=ip, now=2.0)
    assert _discards(out) == [
        (DiscardReason.AUTH_FAILURE, "AH sequence number 7 already seen (ours 7)")
    ]
    older, ip6 = _received(6)
    assert _discards(vr.receive_advertisement(older, ip=ip6, now=2.5))[0][1].startswith(
        "AH sequence number 6 already seen"
    )
    newer, ip8 = _received(8)
    assert vr.receive_advertisement(newer, ip=ip8, now=3.0) == []


def test_the_spi_must_be_the_sender() -> None:
    vr = _backup()
    adv, ip = _received(3)
    assert ip.ah is not None
    forged = bytearray(ip.ah.ah_header)
    forged[4:8] = int(V4("192.0.2.99")).to_bytes(4, "big")
    forged[12:] = ah_icv(KEY, ip.ah.ip_header, bytes(forged), ip.ah.message)
    sealed = split_ah(ip.ah.ip_header + bytes(forged) + ip.ah.message)
    out = vr.receive_advertisement(
        adv, ip=IpHeader(src=MASTER, dst=GROUP, ttl=255, ah=sealed), now=1
    )
    assert _discards(out) == [
        (DiscardReason.AUTH_FAILURE, "AH SPI 0xc0000263 is not the source address")
    ]


def test_ah_and_no_ah_do_not_mix() -> None:
    vr = _backup()
    adv, _ = _received(1)
    bare = IpHeader(src=MASTER, dst=GROUP, ttl=255)
    assert _discards(vr.receive_advertisement(adv, ip=bare, now=1.0)) == [
        (DiscardReason.AUTH_TYPE_MISMATCH, "no AH header, but our auth type is AH")
    ]
    plain = VirtualRouter(_config(ah_key=None))
    plain.start(0.0)
    adv, ip = _received(1)
    assert _discards(plain.receive_advertisement(adv, ip=ip, now=1.0)) == [
        (DiscardReason.AUTH_TYPE_MISMATCH, "AH header, but our auth type is not AH")
    ]


def test_as_master_the_sequence_goes_on_from_the_highest_seen() -> None:
    """keepalived's counter is one for receiving and sending: a new master continues the old
    one's numbers, so the backups (whose counters are there too) accept its adverts."""
    vr = _backup()
    adv, ip = _received(41)
    vr.receive_advertisement(adv, ip=ip, now=1.0)
    out = vr.handle_timer(vr.get_timer() or 0.0)
    assert vr.state is State.MASTER
    sends = [a for a in out if isinstance(a, SendAdvertisement)]
    assert [s.ah_sequence for s in sends] == [42]
    mine = sends[0].advertisement
    assert isinstance(mine, VrrpV2)
    assert mine.auth_type == AuthType.AH and mine.auth_data == bytes(8)
    nxt = vr.handle_timer(vr.get_timer() or 0.0)
    assert [a.ah_sequence for a in nxt if isinstance(a, SendAdvertisement)] == [43]
    bye = vr.shutdown(10.0)
    assert [a.ah_sequence for a in bye if isinstance(a, SendAdvertisement)] == [44]
    assert [a.advertisement.priority for a in bye if isinstance(a, SendAdvertisement)] == [0]


def test_without_ah_no_sequence_is_given() -> None:
    vr = VirtualRouter(_config(ah_key=None, auth_pass=b"s3cret", priority=255, addresses=(US,)))
    out = vr.start(0.0)
    assert [a.ah_sequence for a in out if isinstance(a, SendAdvertisement)] == [None]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"version": 3}, "only in VRRPv2"),
        ({"auth_pass": b"x"}, "either a simple password or AH"),
    ],
)
def test_ah_configuration_is_checked(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**kw)
