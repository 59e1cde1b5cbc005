"""The one "could this frame be ours" table (dissectors/ours.py) and every check derived from
it, on generated frames: 0x8100, 0x88a8, 0x9100 and 0x9200 tags, QinQ, 802.1ah, IPv6
extension headers before VRRP, AH, HSRP (UDP 1985 over IPv4, 2029 over IPv6), ARP and
neighbour advertisements, and their neighbours that are not ours (other UDP ports, HSRP's
ports over the other IP version).

Each derived check must agree with the table and with the full decoder: the decoder's fast
reject, the capture reader's prefilter and its inline peek (pcap in both byte orders, and
pcapng), the decode cache's key (it tells apart what the decoder tells apart) and the feed
built on it, and the kernel filter, which deliberately accepts less (documented below).
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissectors import ours
from dissectors.arp import build_arp, gratuitous_arp
from dissectors.common import DecodeError
from dissectors.hsrp import GroupState, HsrpV1, HsrpV2, V1State, V2State, build_hsrp
from dissectors.ip import (
    AuthHeader,
    IPv4Header,
    IPv6Header,
    UdpHeader,
    build_ah,
    build_ipv4,
    build_ipv6,
    build_udp,
)
from dissectors.nd import ALL_NODES, build_na, unsolicited_na
from dissectors.packet import _BY_UDP_PORT, Decoded, Kind, _decode, decode_packet
from dissectors.vrrp import VRRP_MCAST_V4, VRRP_MCAST_V6, VrrpV2, VrrpV3, build_vrrp, virtual_mac
from tests.helpers import hsrp_ip, kernel_view, run_bpf, summary_of
from vrrpwatch.pcap import CaptureReader
from vrrpwatch.watch.feed import CachedDecoder, Feed, cache_key
from vrrpwatch.watch.live import VRRP_FILTER
from vrrpwatch.watch.monitor import Monitor

# -- helpers: frame builders --------------------------------------------------------------

SRC4 = ipaddress.IPv4Address("192.0.2.1")
VIP4 = ipaddress.IPv4Address("203.0.113.10")
SRC6 = ipaddress.IPv6Address("fe80::1")
VIP6 = ipaddress.IPv6Address("2001:db8::10")
MAC = virtual_mac(7, 4)
MAC6 = virtual_mac(7, 6)
DST = bytes.fromhex("01005e000012")
DST6 = bytes.fromhex("333300000012")


def ipv4(protocol: int, payload: bytes, *, ident: int = 0, ttl: int = 255) -> bytes:
    header = IPv4Header(
        src=SRC4, dst=VRRP_MCAST_V4, protocol=protocol, ttl=ttl, identification=ident
    )
    return build_ipv4(header, payload)


def ipv6(next_header: int, payload: bytes, dst: ipaddress.IPv6Address = VRRP_MCAST_V6) -> bytes:
    return build_ipv6(IPv6Header(src=SRC6, dst=dst, next_header=next_header), payload)


def v2_advert() -> bytes:
    adv = VrrpV2(vrid=7, priority=100, count_ip_addrs=1, addresses=(VIP4,))
    return build_vrrp(adv, src=SRC4, dst=VRRP_MCAST_V4)


def v3_advert6() -> bytes:
    adv = VrrpV3(vrid=7, priority=100, count_ip_addrs=1, addresses=(VIP6,))
    return build_vrrp(adv, src=SRC6, dst=VRRP_MCAST_V6)


HSRP_V1 = HsrpV1(state=V1State.ACTIVE, group=7, virtual_ip_address=VIP4)
HSRP_V2 = HsrpV2(
    tlvs=(GroupState(state=V2State.ACTIVE, group=1000, identifier=MAC, virtual_ip_address=VIP4),)
)
HSRP_V2_6 = HsrpV2(
    tlvs=(
        GroupState(
            state=V2State.STANDBY,
            ip_version=6,
            group=7,
            identifier=MAC,
            virtual_ip_address=VIP6,
            virtual_ip_padding=b"",
        ),
    )
)


def udp(
    port: int,
    payload: bytes = b"payload",
    src: ipaddress.IPv4Address | ipaddress.IPv6Address = SRC4,
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address = VRRP_MCAST_V4,
) -> bytes:
    """A UDP datagram from and to ``port``, checksummed for ``src`` -> ``dst``."""
    return build_udp(UdpHeader(src_port=port, dst_port=port), payload, src=src, dst=dst)


def ext(next_header: int, length_units: int = 0) -> bytes:
    """A generic IPv6 extension header (RFC 8200 section 4) padded with PadN."""
    size = 8 + 8 * length_units
    return bytes((next_header, length_units, 1, size - 4)) + bytes(size - 4)


def fragment(next_header: int, offset_units: int = 0, more: bool = False) -> bytes:
    """An IPv6 Fragment header (RFC 8200 section 4.5)."""
    return struct.pack("!BBHI", next_header, 0, offset_units << 3 | more, 0x1234)


def eth(
    ethertype: int,
    payload: bytes,
    tags: Sequence[int] = (),
    *,
    pbb: bool = False,
    src: bytes = MAC,
    dst: bytes = DST,
) -> bytes:
    """Ethernet II with ``tags`` (TPIDs, outermost first; VIDs 10, 20, ...), optionally
    behind an 802.1ah backbone header (B-MACs, B-tag 0x88a8, I-TAG)."""
    inner = b"".join(struct.pack("!HH", tpid, 10 * (i + 1)) for i, tpid in enumerate(tags))
    frame = dst + src + inner + struct.pack("!H", ethertype) + payload
    if pbb:
        backbone = bytes.fromhex("02000000000a") + bytes.fromhex("02000000000b")
        frame = backbone + struct.pack("!HHHI", 0x88A8, 100, 0x88E7, 0x00012345) + frame
    return frame


@dataclass(frozen=True)
class Case:
    name: str
    frame: bytes
    ours: bool  # the decoder keeps it (decodes it, or reports it malformed)
    table: bool  # the table's checks pass it (a superset of ``ours``)
    kernel: bool  # the kernel filter passes it (as the socket sees it)


def _cases() -> list[Case]:
    v2 = ipv4(112, v2_advert())
    v3 = ipv6(112, v3_advert6())
    tcp4 = ipv4(6, bytes(20) + b"payload")
    udp6 = ipv6(17, bytes(8) + b"payload")
    na = ipv6(58, build_na(unsolicited_na(MAC6, VIP6), src=SRC6, dst=ALL_NODES), ALL_NODES)
    ns = ipv6(58, bytes((135, 0)) + bytes(22), ALL_NODES)
    arp = build_arp(gratuitous_arp(MAC, VIP4))
    ah = AuthHeader(next_header=112, spi=0x100, sequence=1, icv=bytes(12))
    ah_vrrp = ipv4(51, build_ah(ah, v2_advert()))
    ah_tcp = ipv4(51, build_ah(dataclasses.replace(ah, next_header=6), bytes(20)))
    hsrp1 = hsrp_ip(HSRP_V1, src=SRC4)
    hsrp2 = hsrp_ip(HSRP_V2, src=SRC4, ttl=255)
    hsrp6 = hsrp_ip(HSRP_V2_6, src=SRC6, ttl=255)
    # An IPv4 header with options (IHL 6): the UDP header moves, the checks follow the IHL.
    hsrp1_options = build_ipv4(
        IPv4Header(src=SRC4, dst=VRRP_MCAST_V4, protocol=17, ttl=1, options=bytes(4)),
        udp(1985, build_hsrp(HSRP_V1)),
    )
    # A broken HSRPv2 (group state TLV of length 39): ours, reported as malformed.
    broken6 = bytearray(hsrp6)
    broken6[40 + 8 + 1] = 39
    out: list[Case] = []
    for label, payload, et, is_ours in (
        ("v2", v2, 0x0800, True),
        ("v3-ipv6", v3, 0x86DD, True),
        ("garp", arp, 0x0806, True),
        ("na", na, 0x86DD, True),
        ("ah-vrrp", ah_vrrp, 0x0800, True),
        ("hsrp1", hsrp1, 0x0800, True),
        ("hsrp2", hsrp2, 0x0800, True),
        ("hsrp2-ipv6", hsrp6, 0x86DD, True),
        ("hsrp1-ip-options", hsrp1_options, 0x0800, True),
        ("hsrp2-ipv6-malformed", bytes(broken6), 0x86DD, True),
        ("tcp4", tcp4, 0x0800, False),
        ("udp6", udp6, 0x86DD, False),
        ("udp4-dns", ipv4(17, udp(53)), 0x0800, False),
        ("udp4-to-2029", ipv4(17, udp(2029, build_hsrp(HSRP_V2))), 0x0800, False),
        (
            "udp6-to-1985",
            ipv6(17, udp(1985, build_hsrp(HSRP_V2_6), SRC6, VRRP_MCAST_V6)),
            0x86DD,
            False,
        ),
        ("tcp4-to-1985", ipv4(6, struct.pack("!HH", 1985, 1985) + bytes(16)), 0x0800, False),
        ("ns", ns, 0x86DD, False),
        ("lldp", bytes(40), 0x88CC, False),
    ):
        # AH around something else: the table passes IP protocol 51 and leaves opening it to
        # the decoder.
        table = is_ours
        for tags in (
            (),
            (0x8100,),
            (0x88A8,),
            (0x9100,),
            (0x9200,),
            (0x88A8, 0x8100),
            (0x9100, 0x8100),
        ):
            tag_name = "+".join(f"{t:#06x}" for t in tags) or "untagged"
            kernel = is_ours
            out.append(Case(f"{label}-{tag_name}", eth(et, payload, tags), is_ours, table, kernel))
        # Three tags: the kernel takes the outer one off, the filter walks two in the data;
        # two behind an outer tag the kernel leaves (0x9100) too. Four tags, and 802.1ah: the
        # decoder walks them, the kernel filter does not.
        deep = eth(et, payload, (0x88A8, 0x8100, 0x8100))
        out.append(Case(f"{label}-three-tags", deep, is_ours, table, is_ours))
        deep = eth(et, payload, (0x9100, 0x8100, 0x8100))
        out.append(Case(f"{label}-0x9100-three-tags", deep, is_ours, table, False))
        deep = eth(et, payload, (0x88A8, 0x9200, 0x8100, 0x8100))
        out.append(Case(f"{label}-four-tags", deep, is_ours, table, False))
        out.append(Case(f"{label}-802.1ah", eth(et, payload, pbb=True), is_ours, table, False))
        out.append(
            Case(
                f"{label}-802.1ah-tagged",
                eth(et, payload, (0x8100,), pbb=True),
                is_ours,
                table,
                False,
            )
        )
    out.append(Case("ah-tcp", eth(0x0800, ah_tcp), False, True, True))
    # IPv6 extension headers before VRRP: the decoder walks them, the kernel filter does not.
    for name, chain in (
        ("hop-by-hop", [(0, ext)]),
        ("dest-opts", [(60, lambda nh: ext(nh, 1))]),
        ("routing+dest-opts", [(43, ext), (60, ext)]),
        ("atomic-fragment", [(44, fragment)]),
        ("mobility", [(135, ext)]),
    ):
        for upper, body, is_ours in (
            (112, v3_advert6(), True),
            (58, build_na(unsolicited_na(MAC6, VIP6), src=SRC6, dst=ALL_NODES), True),
            (17, udp(2029, build_hsrp(HSRP_V2_6), SRC6, VRRP_MCAST_V6), True),
            (17, bytes(8), False),
            (58, bytes((135, 0)) + bytes(22), False),
        ):
            payload = body
            first = upper
            for nh, make in reversed(chain):
                payload = make(first) + payload
                first = nh
            frame = eth(0x86DD, ipv6(first, payload))
            suffix = "-hsrp" if is_ours and upper == 17 else ""
            out.append(Case(f"ipv6-{name}-{upper}{suffix}", frame, is_ours, is_ours, False))
    # A later IPv6 fragment of VRRP: no header of its own, reported as unreassembled.
    later = eth(0x86DD, ipv6(44, fragment(112, offset_units=3) + bytes(16)))
    out.append(Case("ipv6-later-fragment", later, True, True, False))
    # A later fragment of UDP is nobody's: no UDP header in it, whatever its bytes say.
    later = eth(0x86DD, ipv6(44, fragment(17, offset_units=3) + struct.pack("!HH", 2029, 2029)))
    out.append(Case("ipv6-later-fragment-udp", later, False, False, False))
    # IPv4 with an IHL below 5 and UDP: the table and the filter do not read a port there.
    short = bytearray(eth(0x0800, hsrp1))
    short[14] = 0x44
    out.append(Case("hsrp1-ihl-4", bytes(short), False, False, False))
    # A broken advert is ours too: the monitor counts it as malformed.
    bad = bytearray(eth(0x0800, v2, (0x9200,)))
    bad[18 + 20] = 0x71  # VRRP version 7
    out.append(Case("malformed-0x9200", bytes(bad), True, True, True))
    return out


CASES = _cases()
ID = [c.name for c in CASES]


def ours_by_decoder(data: bytes, linktype: int = 1) -> bool:
    """The full decoder (no fast reject) keeps the frame: decodes it, or reports it."""
    try:
        return _decode(data, linktype) is not None
    except DecodeError:
        return True


def same(a: Decoded | None, b: Decoded | None) -> bool:
    """Equal decodes, but for the IPv4 identification (the cache keeps the first frame's)."""
    if a is None or b is None:
        return a is b
    if isinstance(a.ip, IPv4Header) and isinstance(b.ip, IPv4Header):
        b = dataclasses.replace(b, ip=dataclasses.replace(b.ip, identification=a.ip.identification))
    return a == b


def decode_or_error(data: bytes, linktype: int = 1) -> Decoded | None | str:
    try:
        return decode_packet(data, linktype)
    except DecodeError as exc:
        return f"error: {exc}"


# -- the table and the decoder ------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=ID)
def test_the_table_agrees_with_the_decoder(case: Case) -> None:
    assert ours_by_decoder(case.frame) is case.ours
    assert ours.may_be_ours(case.frame, 1) is case.table
    assert ours.ethernet_may_be_ours(case.frame, 0, len(case.frame)) is case.table
    # The fast reject only saves time: decode_packet says what the full decoder says.
    assert decode_or_error(case.frame) == _full(case.frame)


def _full(data: bytes, linktype: int = 1) -> Decoded | None | str:
    try:
        return _decode(data, linktype)
    except DecodeError as exc:
        return f"error: {exc}"


def test_every_tag_of_the_table_is_generated() -> None:
    tpids = {int.from_bytes(c.frame[12:14], "big") for c in CASES}
    assert ours.TAG_TPIDS <= tpids
    assert ours.ETH_P_PBB in tpids or any(c.frame[16:18] == b"\x88\xe7" for c in CASES)


@pytest.mark.parametrize("case", [c for c in CASES if c.ours], ids=lambda c: c.name)
def test_every_prefix_the_decoder_keeps_passes_the_table(case: Case) -> None:
    """Cut captures (snaplen): the checks give up exactly where the decoder cannot be sure."""
    for n in range(len(case.frame) + 1):
        prefix = case.frame[:n]
        if ours_by_decoder(prefix):
            assert ours.may_be_ours(prefix, 1), n
        assert decode_or_error(prefix) == _full(prefix), n


@given(st.sampled_from([c.frame for c in CASES]), st.data())
def test_one_changed_byte_never_escapes_the_table(frame: bytes, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, len(frame) - 1))
    value = data.draw(st.integers(0, 255))
    mutated = frame[:pos] + bytes((value,)) + frame[pos + 1 :]
    if ours_by_decoder(mutated):
        assert ours.may_be_ours(mutated, 1)
    assert decode_or_error(mutated) == _full(mutated)


def _cooked(frame: bytes, linktype: int) -> bytes:
    """The Ethernet frame as a Linux cooked capture (v1 or v2) shows it."""
    et, rest = frame[12:14], frame[14:]
    if linktype == 113:
        return struct.pack("!HHH8s", 0, 1, 6, frame[6:12] + b"\0\0") + et + rest
    return et + struct.pack("!HIHBB8s", 0, 2, 1, 0, 6, frame[6:12] + b"\0\0") + rest


@pytest.mark.parametrize("linktype", [113, 276])
def test_cooked_captures_agree(linktype: int) -> None:
    for case in CASES:
        cooked = _cooked(case.frame, linktype)
        assert ours_by_decoder(cooked, linktype) is case.ours, case.name
        assert ours.may_be_ours(cooked, linktype) is case.table, case.name
        assert decode_or_error(cooked, linktype) == _full(cooked, linktype), case.name


def test_raw_ip_agrees() -> None:
    for case in CASES:
        if case.frame[12:14] in (b"\x08\x00", b"\x86\xdd"):
            raw = case.frame[14:]
            for linktype in (101, 228 if raw[0] >> 4 == 4 else 229):
                assert ours.may_be_ours(raw, linktype) is case.table, case.name
                assert ours_by_decoder(raw, linktype) is case.ours, case.name


def test_a_frame_inside_a_buffer() -> None:
    """The prefilter reads frames in place, inside a chunk of the capture."""
    for case in CASES:
        buf = b"\xff" * 7 + case.frame + b"\x81\x00\x08\x00" * 3
        got = ours.ethernet_may_be_ours(buf, 7, 7 + len(case.frame))
        assert got is case.table, case.name


# -- the capture reader: prefilter and inline peek ----------------------------------------


def _frames_for_reader() -> list[bytes]:
    """Every case and every prefix of it: the inline peek settles frames of 38 bytes and more
    itself, shorter ones go to ethernet_may_be_ours."""
    out = []
    for case in CASES:
        out += [case.frame[:n] for n in range(0, len(case.frame) + 1, 3)] + [case.frame]
    return out


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcap_reader_keeps_exactly_what_the_table_keeps(order: str) -> None:
    frames = _frames_for_reader()
    data = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, frame in enumerate(frames):
        data += struct.pack(order + "IIII", i, 0, len(frame), len(frame)) + frame
    reader = CaptureReader(io.BytesIO(data))
    kept = [frame for _, _, _, frame in reader.records(candidates_only=True)]
    want = [f for f in frames if ours.ethernet_may_be_ours(f, 0, len(f))]
    assert kept == want
    assert reader.packets == len(frames)
    decoder_keeps = [f for f in frames if ours_by_decoder(f)]
    assert set(decoder_keeps) <= set(kept)


def test_pcapng_reader_keeps_exactly_what_the_table_keeps() -> None:
    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    frames = _frames_for_reader()
    data = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += block(1, struct.pack("<HHI", 1, 0, 65535))
    for frame in frames:
        data += block(6, struct.pack("<IIIII", 0, 0, 0, len(frame), len(frame)) + frame)
    kept = [r[3] for r in CaptureReader(io.BytesIO(data)).records(candidates_only=True)]
    assert kept == [f for f in frames if ours.ethernet_may_be_ours(f, 0, len(f))]


# -- the decode cache ---------------------------------------------------------------------


def _variants(frame: bytes) -> list[bytes]:
    """The frame with other IPv4 identifications (checksums fixed), a broken IPv4 header
    checksum, another TTL: what a master's adverts and a mangled copy look like."""
    et, l3 = ours.network_offset(frame, 1)
    if et != ours.ETH_P_IP or len(frame) < l3 + 20:
        return [frame]
    out = [frame]
    ihl = (frame[l3] & 0x0F) * 4
    for ident, ttl in ((1, 255), (0xFFFE, 255), (0x8000, 255), (7, 64)):
        head = bytearray(frame[l3 : l3 + ihl])
        head[4:6] = ident.to_bytes(2, "big")
        head[8] = ttl
        head[10:12] = b"\0\0"
        total = sum(int.from_bytes(head[i : i + 2], "big") for i in range(0, ihl, 2))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        head[10:12] = (~total & 0xFFFF).to_bytes(2, "big")
        out.append(frame[:l3] + bytes(head) + frame[l3 + ihl :])
    broken = bytearray(out[1])
    broken[l3 + 11] ^= 0x01
    out.append(bytes(broken))
    return out


ALL_VARIANTS = [v for case in CASES for v in _variants(case.frame)]


def test_cache_key_tells_apart_what_the_decoder_tells_apart() -> None:
    by_key: dict[object, list[bytes]] = {}
    for frame in ALL_VARIANTS:
        by_key.setdefault(cache_key(frame, 1), []).append(frame)
    for frames in by_key.values():
        first = decode_or_error(frames[0])
        for other in frames[1:]:
            got = decode_or_error(other)
            if isinstance(first, str) or isinstance(got, str):
                assert first == got
            else:
                assert same(first, got)
                if first is not None and isinstance(first.ip, IPv4Header):
                    assert got is not None and isinstance(got.ip, IPv4Header)
                    assert first.ip.checksum_ok == got.ip.checksum_ok


def test_cache_key_leaves_out_the_identification_behind_any_tags() -> None:
    """Adverts that differ only in the IPv4 identification share an entry (two at most: the
    one's-complement carry), whatever the tags: the monitor's fast path depends on it."""
    v2_cases = [c for c in CASES if c.name.startswith(("v2-", "ah-vrrp-"))]
    assert len(v2_cases) >= 16
    for case in v2_cases:
        variants = _variants(case.frame)
        keys = {cache_key(v, 1) for v in _with_identifications(case.frame, range(0, 65536, 97))}
        assert len(keys) <= 2, case.name
        assert cache_key(variants[4], 1) not in keys, case.name  # TTL 64
        assert cache_key(variants[5], 1) not in keys, case.name  # a bad header checksum


def _with_identifications(frame: bytes, idents: range) -> list[bytes]:
    et, l3 = ours.network_offset(frame, 1)
    assert et == ours.ETH_P_IP
    out = []
    for ident in idents:
        head = bytearray(frame[l3 : l3 + 20])
        head[4:6] = ident.to_bytes(2, "big")
        head[10:12] = b"\0\0"
        total = sum(int.from_bytes(head[i : i + 2], "big") for i in range(0, 20, 2))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        head[10:12] = (~total & 0xFFFF).to_bytes(2, "big")
        out.append(frame[:l3] + bytes(head) + frame[l3 + 20 :])
    return out


def test_cached_decoder_and_feed_decode_as_the_decoder() -> None:
    cache = CachedDecoder()
    for frame in ALL_VARIANTS * 2:
        want = decode_or_error(frame)
        try:
            got: Decoded | None | str = cache.decode(frame, 1)
        except DecodeError as exc:
            got = f"error: {exc}"
        assert got == want if isinstance(want, str) or isinstance(got, str) else same(want, got)
    assert cache.hits > len(ALL_VARIANTS)

    # The feed has cache_key's Ethernet cases inline: every byte of an untagged and a tagged
    # advert changed in turn must still reach the monitor as itself.
    mutants = [
        f[:i] + bytes((f[i] ^ 0x01,)) + f[i + 1 :]
        for f in (CASES[0].frame, CASES[1].frame)
        for i in range(len(f))
    ]
    assert CASES[0].name == "v2-untagged" and CASES[1].name == "v2-0x8100"

    def fed(cache_size: int) -> tuple[object, ...]:
        monitor = Monitor(fingerprint=lambda pw: "fp")
        feed = Feed(monitor)
        feed.cache = CachedDecoder(cache_size)
        events: list[object] = []
        feed.on_event = events.append
        frames = (ALL_VARIANTS + mutants) * 3
        records = [(i, float(i), 1, f) for i, f in enumerate(frames, 1)]
        feed.run(records)
        return summary_of(monitor), monitor.counters, len(events)

    assert fed(4096) == fed(0)


# -- the kernel filter --------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=ID)
def test_kernel_filter_agrees_with_the_table_where_it_walks(case: Case) -> None:
    """The filter accepts what the table accepts, received (outer tag moved to metadata) or
    sent (tags in the data), except where it deliberately walks less: 802.1ah, a third tag
    left in the data, IPv6 extension headers before VRRP or ICMPv6. Those frames are ours to
    analyze from a file, but sniff does not see them."""
    accepted = run_bpf(VRRP_FILTER, kernel_view(case.frame)) > 0
    assert accepted is case.kernel
    tags = 0
    while case.frame[12 + 4 * tags : 14 + 4 * tags] in ours.TAG_TPID_BYTES:
        tags += 1
    if tags <= 2:  # an outgoing frame keeps its tags in the data
        assert (run_bpf(VRRP_FILTER, case.frame) > 0) is case.kernel


def test_kernel_filter_is_built_from_the_table() -> None:
    """Every value of the table that the filter can test appears in it as a jeq constant."""
    constants = {k for code, _jt, _jf, k in VRRP_FILTER if code == 0x15}
    table = (
        ours.TAG_TPIDS
        | ours.ETHERTYPES
        | ours.IP_PROTOCOLS
        | ours.ICMPV6_TYPES
        | ours.UDP_PORTS_V4
        | ours.UDP_PORTS_V6
    )
    assert table <= constants
    assert constants - table == {ours.IPPROTO_ICMPV6, ours.IPPROTO_UDP}


def test_the_table_imports_nothing() -> None:
    """The bottom of dissectors/: frame.py, ip.py and packet.py import it, it imports none."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(ours.__file__).read_text())
    imported = [
        n.module if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    ]
    assert set(imported) == {"__future__"}


# -- HSRP: the dispatch reads the table's ports ---------------------------------------------


def test_udp_dispatch_is_the_tables_ports() -> None:
    """The decoder's (IP version, UDP port) dispatch and the table name the same ports."""
    assert set(_BY_UDP_PORT) == {(4, p) for p in ours.UDP_PORTS_V4} | {
        (6, p) for p in ours.UDP_PORTS_V6
    }
    assert {c.name for c in CASES if c.ours and "hsrp" in c.name} >= {
        "hsrp1-0x8100",
        "hsrp2-ipv6-0x8100",
        "hsrp2-0x88a8+0x8100",
    }


@pytest.mark.parametrize(
    "case", [c for c in CASES if "hsrp" in c.name and c.ours], ids=lambda c: c.name
)
def test_hsrp_frames_decode_as_hsrp(case: Case) -> None:
    """Under 802.1Q and QinQ alike; the malformed one raises (the monitor counts it)."""
    if "malformed" in case.name:
        with pytest.raises(DecodeError):
            decode_packet(case.frame, 1)
        return
    d = decode_packet(case.frame, 1)
    assert d is not None and d.kind is Kind.HSRP and d.udp is not None
    assert d.message in (HSRP_V1, HSRP_V2, HSRP_V2_6)


def test_hsrp_is_counted_by_the_monitor_not_followed() -> None:
    """HSRP frames reach the monitor through the feed: counted (``hsrp``), no VRRP router
    (the watch follows them as HSRP groups); a malformed one is counted as malformed."""
    monitor = Monitor(fingerprint=lambda pw: "fp")
    feed = Feed(monitor)
    frames = [c.frame for c in CASES if "hsrp" in c.name and c.ours]
    feed.run([(i, float(i), 1, f) for i, f in enumerate(frames * 2, 1)])
    malformed = 2 * sum("malformed" in c.name for c in CASES if "hsrp" in c.name and c.ours)
    assert monitor.counters.hsrp == 2 * len(frames) - malformed
    assert monitor.counters.malformed == malformed
    # issue 15: the watch follows HSRP groups (protocol hsrp), never as VRRP routers
    assert monitor.counters.vrrp_adverts == 0
    assert {k.protocol for k in monitor.routers} <= {"hsrp"}
    doc = summary_of(monitor)
    assert doc["hsrp"] == monitor.counters.hsrp and doc["vrrp_adverts"] == 0
