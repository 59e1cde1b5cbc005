"""HSRPv1 (RFC 2281) and HSRPv2 from byte vectors (of public captures, or crafted), round
trips, every prefix, random bytes, the findings, and the UDP header parser they travel in."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dissectors.common import DecodeError, Truncated
from dissectors.hsrp import (
    DEFAULT_AUTHENTICATION_DATA,
    AdvertState,
    AdvertType,
    GroupState,
    HsrpMessage,
    HsrpV1,
    HsrpV1Advert,
    HsrpV2,
    InterfaceState,
    Md5Algorithm,
    Md5Auth,
    OpCode,
    TextAuth,
    TlvType,
    UnknownTlv,
    V1State,
    V2State,
    build_hsrp,
    is_hsrp_port,
    parse_hsrp,
    validate_hsrp,
)
from tests.crafted import CRAFTED_HSRP

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address
SRC4, SRC6 = V4("192.0.2.10"), V6("fe80::1")
V1_GROUP, V2_GROUP4, V2_GROUP6 = V4("224.0.0.2"), V4("224.0.0.102"), V6("ff02::66")

# HSRP_coup.pcap frame 1 (tcpdump's test capture): RFC 2281 section 5.1, 20 bytes.
V1_HELLO = bytes.fromhex(
    "00"  # version 0
    "00"  # op code 0, hello
    "10"  # state 16, active
    "03"  # hellotime 3 s
    "0a"  # holdtime 10 s
    "64"  # priority 100
    "01"  # group 1
    "00"  # reserved
    "636973636f000000"  # authentication data "cisco"
    "c0a80001"  # virtual IP 192.168.0.1
)
# HSRP_coup.pcap frame 22: R1 (priority 200), still in listen state, sends a coup.
V1_COUP = bytes.fromhex("000102030ac80100636973636f000000c0a80001")
# HSRP_coup.pcap frame 8: op code 3, the interface-state advertise.
V1_ADVERT = bytes.fromhex(
    "00"  # version 0
    "03"  # op code 3, advertise
    "0001"  # type 1, HSRP interface state
    "000e"  # length 14
    "02"  # state 2, passive
    "00"  # reserved
    "0000"  # active groups 0
    "0001"  # passive groups 1
    "6f000000"  # reserved
)
# The vectors below written here byte by byte are the payloads of tests/crafted.py's frames,
# which tests/dissectors/test_hsrp_tshark.py checks against tshark (test_vectors_are_crafted).
# A v1 hello in Speak with millisecond timers, which IOS sends as 0 and 0.
V1_MS_TIMERS = bytes.fromhex("0000040000960100636973636f000000c00002fe")
# An active's resign: group state (op code 2, state active), text auth "cisco".
V2_RESIGN = bytes.fromhex(
    "01"  # type 1, group state
    "28"  # length 40
    "02"  # version 2
    "02"  # op code 2, resign
    "06"  # state 6, active
    "04"  # IP version 4
    "0001"  # group 1
    "02000000000a"  # identifier (the sender's MAC)
    "00000096"  # priority 150
    "00000bb8"  # hello time 3000 ms
    "00002710"  # hold time 10000 ms
    "c00002fe000000000000000000000000"  # virtual IP 192.0.2.254, padded to 16 bytes
    "03"  # type 3, text authentication
    "08"  # length 8
    "636973636f000000"  # "cisco"
)
# An interface state TLV alone (1 active group, 0 passive).
V2_INTERFACE = bytes.fromhex("020400010000")
# An active's hello: group state and MD5 authentication (key id 1, a key chain).
V2_MD5 = bytes.fromhex(
    "012802000604000102000000000a0000009600000bb800002710c00002fe000000000000000000000000"
    "04"  # type 4, MD5 authentication
    "1c"  # length 28
    "01"  # algorithm 1, MD5
    "00"  # padding
    "0000"  # flags
    "c0000201"  # IP address 192.0.2.1
    "00000001"  # key id 1
    "00112233445566778899aabbccddeeff"  # digest
)
# hsrp2_ipv6.pcapng frame 3: HSRPv2 over IPv6, group 16, MD5 authentication.
V2_IPV6_MD5 = bytes.fromhex(
    "0128020004060010aabbcc000120000000690000271000004e20fe80000000000000000573fffea00010"
    "041c01000000000000010000000051d1ec51ab34509ab2e33188ca4fee3b"
)
# HSRPv1 with the MD5 authentication TLV some IOS releases append (laid out after Wireshark's
# packet-hsrp.c; none of the public captures has one): 20 + 30 bytes.
V1_MD5 = (
    V1_HELLO
    + bytes.fromhex(
        "04"  # type 4, MD5 authentication
        "1c"  # length 28
        "01"  # algorithm 1, MD5
        "00"  # padding
        "0000"  # flags
        "c0a80002"  # IP address 192.168.0.2
        "00000007"  # key id 7
    )
    + bytes(range(16))
)


def test_vectors_are_crafted() -> None:
    """The vectors written here are the HSRP payloads of tests/crafted.py's frames, which
    test_hsrp_tshark.py decodes with tshark: bytes and layout checked independently."""
    frames = {n: [f for _, f in fn()] for n, fn in CRAFTED_HSRP.items()}
    udp_payload = 14 + 20 + 8
    assert frames["v1-millisecond-timers"][0][udp_payload:] == V1_MS_TIMERS
    assert [f[udp_payload:] for f in frames["v2-resign"]] == [V2_RESIGN, V2_INTERFACE]
    assert frames["v2-md5-key-chain"][0][udp_payload:] == V2_MD5


def test_v1_hello_vector() -> None:
    msg = parse_hsrp(V1_HELLO, family=4, dst_port=1985)
    assert msg == HsrpV1(
        state=V1State.ACTIVE,
        hellotime_s=3,
        holdtime_s=10,
        priority=100,
        group=1,
        virtual_ip_address=V4("192.168.0.1"),
    )
    assert isinstance(msg, HsrpV1)
    assert msg.version == 0 and msg.op_code is OpCode.HELLO and msg.state is V1State.ACTIVE
    assert msg.authentication_data == DEFAULT_AUTHENTICATION_DATA == b"cisco\0\0\0"
    assert msg.password == b"cisco" and msg.md5_auth is None and msg.protocol_version == 1
    assert msg.is_active and not msg.is_standby
    assert (msg.hello_time_ms, msg.hold_time_ms) == (3000, 10000)
    assert msg.findings() == ()
    assert build_hsrp(msg) == V1_HELLO


def test_v1_coup_vector() -> None:
    msg = parse_hsrp(V1_COUP, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV1)
    assert (msg.op_code, msg.state, msg.priority, msg.group) == (
        OpCode.COUP,
        V1State.LISTEN,
        200,
        1,
    )


def test_v1_advertise_vector() -> None:
    msg = parse_hsrp(V1_ADVERT, family=4, dst_port=1985)
    assert msg == HsrpV1Advert(
        type=AdvertType.INTERFACE_STATE,
        length=14,
        state=AdvertState.PASSIVE,
        active_groups=0,
        passive_groups=1,
        reserved2=0x6F000000,
    )
    assert msg.op_code is OpCode.ADVERTISE and msg.findings() == ()
    assert build_hsrp(msg) == V1_ADVERT


def test_v1_millisecond_timers_are_not_a_finding() -> None:
    msg = parse_hsrp(V1_MS_TIMERS, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV1)
    assert (msg.hellotime_s, msg.holdtime_s, msg.state) == (0, 0, V1State.SPEAK)
    assert msg.findings() == ()


def test_v1_md5_tlv() -> None:
    msg = parse_hsrp(V1_MD5, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV1)
    assert msg.md5_auth == Md5Auth(
        algorithm=Md5Algorithm.MD5,
        ip_address=V4("192.168.0.2"),
        key_id=7,
        authentication_data=bytes(range(16)),
    )
    assert msg.virtual_ip_address == V4("192.168.0.1") and msg.unknown_tlv_count == 0
    assert build_hsrp(msg) == V1_MD5


def test_v2_resign_vector() -> None:
    msg = parse_hsrp(V2_RESIGN, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV2)
    gs = msg.group_state
    assert gs == GroupState(
        op_code=OpCode.RESIGN,
        state=V2State.ACTIVE,
        ip_version=4,
        group=1,
        identifier=bytes.fromhex("02000000000a"),
        priority=150,
        hello_time_ms=3000,
        hold_time_ms=10000,
        virtual_ip_address=V4("192.0.2.254"),
    )
    assert gs is not None and gs.version == 2 and gs.type == TlvType.GROUP_STATE
    assert gs.is_active and not gs.is_standby
    assert msg.text_auth == TextAuth(authentication_data=b"cisco\0\0\0")
    assert msg.password == b"cisco" and msg.md5_auth is None and msg.protocol_version == 2
    assert msg.findings() == ()
    assert build_hsrp(msg) == V2_RESIGN


def test_v2_interface_state_alone() -> None:
    msg = parse_hsrp(V2_INTERFACE, family=4, dst_port=1985)
    assert msg == HsrpV2(tlvs=(InterfaceState(active_groups=1, passive_groups=0),))
    assert isinstance(msg, HsrpV2) and msg.group_state is None and msg.password is None


def test_v2_md5_vector() -> None:
    msg = parse_hsrp(V2_MD5, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV2) and msg.text_auth is None
    assert msg.md5_auth == Md5Auth(
        ip_address=V4("192.0.2.1"),
        key_id=1,
        authentication_data=bytes.fromhex("00112233445566778899aabbccddeeff"),
    )
    assert build_hsrp(msg) == V2_MD5


def test_v2_ipv6_vector() -> None:
    msg = parse_hsrp(V2_IPV6_MD5, family=6, dst_port=2029)
    assert isinstance(msg, HsrpV2)
    gs = msg.group_state
    assert gs is not None
    assert (gs.ip_version, gs.group, gs.priority, gs.state) == (6, 16, 105, V2State.SPEAK)
    assert (gs.hello_time_ms, gs.hold_time_ms) == (10000, 20000)
    assert gs.virtual_ip_address == V6("fe80::5:73ff:fea0:10") and gs.virtual_ip_padding == b""
    assert msg.md5_auth is not None and msg.md5_auth.key_id == 0
    assert validate_hsrp(msg, src=SRC6, dst=V2_GROUP6, ttl=255, src_port=2029, dst_port=2029) == ()
    assert build_hsrp(msg) == V2_IPV6_MD5


def test_unknown_tlvs_skipped_and_counted() -> None:
    data = bytes.fromhex("0900") + V2_RESIGN[:42] + bytes.fromhex("2a03abcdef") + V2_RESIGN[42:]
    msg = parse_hsrp(data, family=4, dst_port=1985)
    assert isinstance(msg, HsrpV2)
    assert msg.unknown_tlv_count == 2
    assert msg.tlvs[0] == UnknownTlv(type=9, value=b"")
    assert msg.tlvs[2] == UnknownTlv(type=42, value=b"\xab\xcd\xef")
    assert msg.group_state is not None and msg.password == b"cisco"
    assert build_hsrp(msg) == data
    # After an HSRPv1 message only MD5 is known: a text auth TLV there is an unknown one.
    v1 = parse_hsrp(V1_HELLO + V2_RESIGN[42:], family=4, dst_port=1985)
    assert isinstance(v1, HsrpV1) and v1.unknown_tlv_count == 1 and v1.md5_auth is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (V2_RESIGN[:1] + b"\x27" + V2_RESIGN[2:41], "HSRP: TLV type 1 has length 39, not 40"),
        (bytes.fromhex("0205000000000000"), "HSRP: TLV type 2 has length 5, not 4"),
        (V1_HELLO + bytes.fromhex("0402") + bytes(2), "HSRP: TLV type 4 has length 2, not 28"),
        (bytes.fromhex("0004"), "HSRPv1: unknown op code 4"),
    ],
)
def test_undecodable(data: bytes, error: str) -> None:
    with pytest.raises(DecodeError) as exc:
        parse_hsrp(data, family=4, dst_port=1985)
    assert str(exc.value) == error and not isinstance(exc.value, Truncated)


def test_ports_and_families() -> None:
    assert is_hsrp_port(4, 1985) and is_hsrp_port(6, 2029)
    assert not is_hsrp_port(4, 2029) and not is_hsrp_port(6, 1985) and not is_hsrp_port(5, 2029)
    for family, port in ((4, 2029), (6, 1985), (5, 1985)):
        with pytest.raises(DecodeError, match="is not HSRP"):
            parse_hsrp(V2_RESIGN, family=family, dst_port=port)
    # Over IPv6 there is no HSRPv1: a first byte of 0 is a TLV type there.
    msg = parse_hsrp(bytes.fromhex("0000"), family=6, dst_port=2029)
    assert msg == HsrpV2(tlvs=(UnknownTlv(type=0, value=b""),))


# --- round trips and prefixes ----------------------------------------------------------------

GS6 = GroupState(
    state=V2State.STANDBY,
    ip_version=6,
    group=4095,
    identifier=bytes(6),
    priority=0xFFFFFFFF,
    virtual_ip_address=V6("2001:db8::1"),
    virtual_ip_padding=b"",
)
GS_ODD = GroupState(
    version=3,
    op_code=9,
    state=77,
    ip_version=5,
    group=7,
    identifier=b"abcdef",
    virtual_ip_address=None,
    virtual_ip_padding=bytes(range(16)),
)
MESSAGES: list[HsrpMessage] = [
    parse_hsrp(v, family=6 if v is V2_IPV6_MD5 else 4, dst_port=2029 if v is V2_IPV6_MD5 else 1985)
    for v in (V1_HELLO, V1_COUP, V1_ADVERT, V1_MS_TIMERS, V1_MD5, V2_RESIGN, V2_MD5, V2_IPV6_MD5)
] + [
    HsrpV2(
        tlvs=(
            GS6,
            UnknownTlv(type=200, value=bytes(255)),
            InterfaceState(active_groups=3, passive_groups=4),
        )
    ),
    HsrpV2(tlvs=(GS_ODD, TextAuth(authentication_data=b"\xff" * 8))),
    HsrpV1Advert(type=9, length=99, state=0, active_groups=1, passive_groups=2, trailing=b"x"),
    HsrpV1(
        op_code=OpCode.RESIGN,
        state=3,
        group=255,
        virtual_ip_address=V4("203.0.113.1"),
        tlvs=(UnknownTlv(type=3, value=b"cisco"), UnknownTlv(type=0, value=b"")),
    ),
]


def _family(msg: HsrpMessage) -> int:
    if isinstance(msg, HsrpV2) and any(
        isinstance(t, GroupState) and t.ip_version == 6 for t in msg.tlvs
    ):
        return 6
    return 4


@pytest.mark.parametrize("msg", MESSAGES)
def test_round_trip(msg: HsrpMessage) -> None:
    family = _family(msg)
    assert parse_hsrp(build_hsrp(msg), family=family, dst_port=1985 if family == 4 else 2029) == msg


def _boundaries(msg: HsrpMessage) -> dict[int, HsrpMessage]:
    """Prefix lengths at which a shorter, valid message ends, and that message."""
    if isinstance(msg, HsrpV2):
        out: dict[int, HsrpMessage] = {}
        for i in range(1, len(msg.tlvs)):
            shorter = HsrpV2(tlvs=msg.tlvs[:i])
            out[len(build_hsrp(shorter))] = shorter
        return out
    if isinstance(msg, HsrpV1):
        out = {}
        for i in range(len(msg.tlvs)):
            shorter1 = HsrpV1(**{**_fields(msg), "tlvs": msg.tlvs[:i]})
            out[len(build_hsrp(shorter1))] = shorter1
        return out
    return {}


def _fields(msg: HsrpV1) -> dict[str, object]:
    return {name: getattr(msg, name) for name in msg.__dataclass_fields__}


@pytest.mark.parametrize("msg", MESSAGES)
def test_every_strict_prefix_is_truncated(msg: HsrpMessage) -> None:
    """A prefix raises Truncated, except where it ends exactly after a TLV: the UDP length is
    what delimits a message, so there it is the message with the TLVs before that point."""
    data = build_hsrp(msg)
    family = _family(msg)
    port = 1985 if family == 4 else 2029
    shorter = _boundaries(msg)
    if isinstance(msg, HsrpV1Advert):
        data = data[:16]  # the trailing bytes are not a TLV; a shorter tail is still valid
    for n in range(len(data)):
        if n in shorter:
            assert parse_hsrp(data[:n], family=family, dst_port=port) == shorter[n]
            continue
        with pytest.raises(Truncated):
            parse_hsrp(data[:n], family=family, dst_port=port)


tlv_strategy = st.one_of(
    st.builds(
        GroupState,
        state=st.integers(0, 255),
        ip_version=st.just(6),
        group=st.integers(0, 0xFFFF),
        identifier=st.binary(min_size=6, max_size=6),
        virtual_ip_address=st.ip_addresses(v=6),
        virtual_ip_padding=st.just(b""),
    ),
    st.builds(
        GroupState,
        state=st.integers(0, 255),
        ip_version=st.integers(0, 255).filter(lambda v: v not in (4, 6)),
        group=st.integers(0, 0xFFFF),
        identifier=st.binary(min_size=6, max_size=6),
        virtual_ip_address=st.none(),
        virtual_ip_padding=st.binary(min_size=16, max_size=16),
    ),
    st.builds(
        GroupState,
        version=st.integers(0, 255),
        op_code=st.integers(0, 255),
        state=st.integers(0, 255),
        ip_version=st.just(4),
        group=st.integers(0, 0xFFFF),
        identifier=st.binary(min_size=6, max_size=6),
        priority=st.integers(0, 0xFFFFFFFF),
        hello_time_ms=st.integers(0, 0xFFFFFFFF),
        hold_time_ms=st.integers(0, 0xFFFFFFFF),
        virtual_ip_address=st.ip_addresses(v=4),
        virtual_ip_padding=st.binary(min_size=12, max_size=12),
    ),
    st.builds(
        InterfaceState,
        active_groups=st.integers(0, 0xFFFF),
        passive_groups=st.integers(0, 0xFFFF),
    ),
    st.builds(TextAuth, authentication_data=st.binary(min_size=8, max_size=8)),
    st.builds(
        Md5Auth,
        algorithm=st.integers(0, 255),
        padding=st.integers(0, 255),
        flags=st.integers(0, 0xFFFF),
        ip_address=st.ip_addresses(v=4),
        key_id=st.integers(0, 0xFFFFFFFF),
        authentication_data=st.binary(min_size=16, max_size=16),
    ),
    st.builds(UnknownTlv, type=st.integers(5, 255), value=st.binary(max_size=40)),
)


@given(tlvs=st.lists(tlv_strategy, min_size=1, max_size=5))
def test_v2_round_trip_generated(tlvs: list[object]) -> None:
    msg = HsrpV2(tlvs=tuple(tlvs))  # type: ignore[arg-type]
    assert parse_hsrp(build_hsrp(msg), family=4, dst_port=1985) == msg


@given(
    op=st.sampled_from([0, 1, 2]),
    head=st.binary(min_size=6, max_size=6),
    auth=st.binary(min_size=8, max_size=8),
    vip=st.ip_addresses(v=4),
)
def test_v1_round_trip_generated(op: int, head: bytes, auth: bytes, vip: V4) -> None:
    state, hello, hold, prio, group, rsvd = head
    msg = HsrpV1(
        op_code=op,
        state=state,
        hellotime_s=hello,
        holdtime_s=hold,
        priority=prio,
        group=group,
        reserved=rsvd,
        authentication_data=auth,
        virtual_ip_address=vip,
    )
    assert parse_hsrp(build_hsrp(msg), family=4, dst_port=1985) == msg


@given(data=st.binary(max_size=120), six=st.booleans())
def test_random_bytes_raise_only_decode_error(data: bytes, six: bool) -> None:
    family, port = (6, 2029) if six else (4, 1985)
    try:
        msg = parse_hsrp(data, family=family, dst_port=port)
    except DecodeError:
        return
    assert build_hsrp(msg) == data  # what decodes, encodes back to the same bytes


@given(data=st.binary(min_size=1, max_size=80))
def test_random_tails_after_valid_heads(data: bytes) -> None:
    for head in (V1_HELLO, V2_RESIGN, b"\x00"):
        try:
            parse_hsrp(head + data, family=4, dst_port=1985)
        except DecodeError:
            pass


def test_build_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        build_hsrp(HsrpV1(state=0, group=1, authentication_data=b"short", virtual_ip_address=SRC4))
    with pytest.raises(ValueError):
        build_hsrp(HsrpV2(tlvs=(TextAuth(authentication_data=b"x"),)))
    with pytest.raises(ValueError):
        build_hsrp(HsrpV2(tlvs=(UnknownTlv(type=9, value=bytes(256)),)))
    with pytest.raises(ValueError, match="HSRP: "):
        build_hsrp(HsrpV1(state=0, group=256, virtual_ip_address=SRC4))
    with pytest.raises(ValueError, match="HSRP: "):
        build_hsrp(HsrpV2(tlvs=(InterfaceState(active_groups=-1, passive_groups=0),)))
    bad_vip = GroupState(
        state=6, group=1, identifier=bytes(6), virtual_ip_address=V6("2001:db8::1")
    )
    with pytest.raises(ValueError):
        build_hsrp(HsrpV2(tlvs=(bad_vip,)))  # IPv6 address plus the 12-byte IPv4 padding
