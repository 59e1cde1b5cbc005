"""keepalived's VRRPv2 IPsec AH (dissectors/ah.py): every ICV of captures/v2-ah.pcap, sealing
and checking, and what a wrong key, SPI or field does."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissectors.ah import (
    AH_HEADER_LEN,
    AhCheck,
    ah_icv,
    ah_key,
    check_ah,
    seal_ipv4,
    split_ah,
)
from dissectors.common import DecodeError
from dissectors.ip import IPv4Header, parse_ipv4
from dissectors.vrrp import AuthType, VrrpV2, build_vrrp, parse_vrrp
from tests.helpers import CAPTURES
from vrrpwatch.pcap import iter_capture

V4 = ipaddress.IPv4Address
SRC, GROUP = V4("192.0.2.31"), V4("224.0.0.18")


def _capture_adverts() -> list[bytes]:
    out = []
    for pkt in iter_capture(CAPTURES / "v2-ah.pcap"):
        ip = pkt.data[14:]  # Ethernet, no VLAN tag in this capture
        if len(ip) > 20 and ip[9] == 51:
            out.append(ip)
    return out


def _truth_key() -> bytes:
    truth = json.loads((CAPTURES / "v2-ah.json").read_text())
    (password,) = {r["password"] for r in truth["routers"]}
    return ah_key(password.encode())


def test_every_icv_of_keepalived_capture_is_reproduced() -> None:
    adverts = _capture_adverts()
    assert len(adverts) == 7  # r1's four (seq 1..4), then r2's three (seq 5..7)
    key = _truth_key()
    seqs = []
    for datagram in adverts:
        sealed = split_ah(datagram)
        assert ah_icv(key, sealed.ip_header, sealed.ah_header, sealed.message) == sealed.ah.icv
        assert check_ah(key, sealed) is AhCheck.OK
        seqs.append(sealed.ah.sequence)
    # One counter per instance, shared by sending and receiving: r2 goes on from r1's 4.
    assert seqs == [1, 2, 3, 4, 5, 6, 7]


def test_capture_icv_is_an_independent_hmac_md5_96() -> None:
    """The same digest written out by hand: header with TOS, flags/offset and checksum zeroed
    (TTL kept: multicast), AH with ICV zeroed, the VRRP message."""
    datagram = _capture_adverts()[0]
    ip = bytearray(datagram[:20])
    ip[1] = 0
    ip[6:8] = bytes(2)
    ip[10:12] = bytes(2)
    ah = bytearray(datagram[20:44])
    icv = bytes(ah[12:])
    ah[12:] = bytes(12)
    digest = hmac.new(b"ahsecret", bytes(ip) + bytes(ah) + datagram[44:], hashlib.md5).digest()
    assert digest[:12] == icv


def test_our_seal_is_byte_for_byte_keepalived() -> None:
    """Rebuilding keepalived's first advert from its fields gives its exact bytes."""
    datagram = _capture_adverts()[0]
    header, _ = parse_ipv4(datagram)
    sealed = split_ah(datagram)
    adv = parse_vrrp(sealed.message, src=header.src, dst=header.dst)
    assert isinstance(adv, VrrpV2) and adv.auth_type == AuthType.AH
    rebuilt = seal_ipv4(
        IPv4Header(
            src=header.src, dst=header.dst, protocol=112, ttl=255, tos=0xC0,
            identification=header.identification,
        ),
        build_vrrp(adv, src=header.src, dst=header.dst),
        key=_truth_key(),
        sequence=sealed.ah.sequence,
    )  # fmt: skip
    assert rebuilt == datagram


def _advert(seq: int = 1, *, zero_ttl: bool = False, key: bytes = b"k3y") -> bytes:
    adv = VrrpV2(
        vrid=3, priority=100, count_ip_addrs=1, auth_type=AuthType.AH, adver_int_s=1,
        addresses=(V4("192.0.2.3"),),
    )  # fmt: skip
    hdr = IPv4Header(src=SRC, dst=GROUP, protocol=112, ttl=255, tos=0xC0, identification=7)
    return seal_ipv4(
        hdr, build_vrrp(adv, src=SRC, dst=GROUP), key=key, sequence=seq, zero_ttl=zero_ttl
    )


def test_seal_then_check_round_trip_and_layout() -> None:
    datagram = _advert(42)
    header, payload = parse_ipv4(datagram)
    assert header.protocol == 51 and header.checksum_ok and header.ttl == 255
    sealed = split_ah(datagram)
    assert len(sealed.ah_header) == AH_HEADER_LEN
    assert sealed.ah.spi == int(SRC) and sealed.ah.sequence == 42
    assert sealed.ah.next_header == 112
    assert check_ah(b"k3y", sealed) is AhCheck.OK


def test_wrong_key_fails() -> None:
    assert check_ah(b"other", split_ah(_advert())) is AhCheck.BAD_ICV


def test_key_is_auth_pass_cut_to_eight_bytes() -> None:
    assert ah_key(b"0123456789") == b"01234567"
    assert ah_key(b"short") == b"short"
    # HMAC pads a short key with zeros: keepalived's zero-filled 8 bytes are the same key.
    sealed = split_ah(_advert(key=b"short"))
    assert check_ah(b"short\x00\x00\x00", sealed) is AhCheck.OK
    assert check_ah(ah_key(b"0123456789"), split_ah(_advert(key=b"01234567"))) is AhCheck.OK


@pytest.mark.parametrize(
    ("offset", "mutable"),
    [(1, True), (6, True), (10, True), (8, False), (4, False), (15, False)],
    ids=["tos", "flags", "checksum", "ttl", "identification", "source"],
)
def test_mutable_fields_only_are_outside_the_icv(offset: int, mutable: bool) -> None:
    datagram = bytearray(_advert())
    datagram[offset] ^= 0x01
    verdict = check_ah(b"k3y", split_ah(bytes(datagram)))
    assert (verdict is AhCheck.OK) is mutable


def test_unicast_zeroes_the_ttl_both_ways() -> None:
    datagram = bytearray(_advert(zero_ttl=True))
    assert check_ah(b"k3y", split_ah(bytes(datagram)), zero_ttl=True) is AhCheck.OK
    assert check_ah(b"k3y", split_ah(bytes(datagram))) is AhCheck.BAD_ICV
    datagram[8] = 61  # routed: a lower TTL still verifies
    assert check_ah(b"k3y", split_ah(bytes(datagram)), zero_ttl=True) is AhCheck.OK


def test_spi_must_be_the_source_address() -> None:
    # A sender that signs a wrong SPI (the key is right): keepalived drops it.
    datagram = bytearray(_advert())
    datagram[20 + 4 : 20 + 8] = int(V4("192.0.2.99")).to_bytes(4, "big")
    sealed = split_ah(bytes(datagram))
    icv = ah_icv(b"k3y", sealed.ip_header, sealed.ah_header, sealed.message)
    datagram[20 + 12 : 20 + 24] = icv
    assert check_ah(b"k3y", split_ah(bytes(datagram))) is AhCheck.BAD_SPI


def test_ah_around_another_protocol_is_not_an_advert() -> None:
    datagram = bytearray(_advert())
    datagram[20] = 17
    assert check_ah(b"k3y", split_ah(bytes(datagram))) is AhCheck.NOT_VRRP


def test_split_rejects_what_is_not_ah() -> None:
    with pytest.raises(DecodeError):
        split_ah(bytes.fromhex("45000014000000004070") + bytes(10))  # protocol 112
    datagram = _advert()
    for n in (0, 19, 30, 43):
        with pytest.raises(DecodeError):
            split_ah(datagram[:n])


def test_sequence_bounds() -> None:
    with pytest.raises(ValueError, match="sequence"):
        _advert(0)
    with pytest.raises(ValueError, match="sequence"):
        _advert(1 << 32)


def test_every_strict_prefix_is_truncated() -> None:
    from dissectors.common import Truncated

    datagram = _advert()
    for n in range(len(datagram)):
        if n >= 20:
            # The header says how long the datagram is: a shorter capture is cut off.
            with pytest.raises(Truncated):
                split_ah(datagram[:n])
        else:
            with pytest.raises(DecodeError):
                split_ah(datagram[:n])


@given(st.binary(max_size=80))
def test_arbitrary_bytes_raise_only_decode_errors(data: bytes) -> None:
    try:
        sealed = split_ah(data)
    except DecodeError:
        return
    check_ah(b"k3y", sealed)  # never raises either
