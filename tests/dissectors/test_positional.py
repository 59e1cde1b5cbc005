"""``common.positional``: the decoders' positional constructors make the very object the
dataclass's own ``__init__`` makes (every field, the ones outside equality too), and refuse a
field list that is not the class's."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from dissectors.common import _constructor_source, positional
from dissectors.ip import IPv6Header
from dissectors.vrrp import ChecksumStatus, VrrpV3


def _all_fields(obj: object) -> tuple[object, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))  # type: ignore[arg-type]


def test_the_same_object_as_the_keyword_constructor() -> None:
    src, dst = ipaddress.IPv6Address("fe80::1"), ipaddress.IPv6Address("ff02::12")
    make = positional(
        VrrpV3, "type", "vrid", "priority", "count_ip_addrs", "reserved", "max_adver_int_cs",
        "addresses", "checksum", "checksum_status", "trailing", "family", "version",
    )  # fmt: skip
    made = make(1, 7, 100, 1, 0, 100, (src,), 0xBEEF, ChecksumStatus.BAD, b"x", 6, 3)
    want = VrrpV3(
        vrid=7, priority=100, count_ip_addrs=1, addresses=(src,), checksum=0xBEEF,
        checksum_status=ChecksumStatus.BAD, trailing=b"x", family=6,
    )  # fmt: skip
    assert made == want and _all_fields(made) == _all_fields(want) and repr(made) == repr(want)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.vrid = 8  # type: ignore[misc]
    hdr = positional(
        IPv6Header, "src", "dst", "next_header", "hop_limit", "traffic_class", "flow_label",
        "protocol", "extension_headers", "fragment_offset", "more_fragments", "payload_length",
    )(src, dst, 112, 255, 0, 0, 112, (), 0, False, 20)  # fmt: skip
    assert _all_fields(hdr) == _all_fields(
        IPv6Header(src=src, dst=dst, next_header=112, payload_length=20)
    )


def test_a_wrong_field_list_is_refused() -> None:
    with pytest.raises(TypeError, match="IPv6Header fields are"):
        positional(IPv6Header, "dst", "src")
    make = positional(IPv6Header, *(f.name for f in dataclasses.fields(IPv6Header)))
    with pytest.raises(TypeError, match="missing 9"):  # every field, no fewer
        make(1, 2)
    with pytest.raises(TypeError, match="takes 11 positional"):  # and no more
        make(*range(12))


def test_the_generated_constructor_only_sets_slots() -> None:
    """What ``positional`` hands to ``exec`` (the one exec pure code may call, test_layering):
    a new object and one slot set per field, nothing else, and it runs without builtins."""
    assert _constructor_source(3) == (
        "def make(v0, v1, v2):\n"
        "    obj = new(cls)\n"
        "    set0(obj, v0)\n"
        "    set1(obj, v1)\n"
        "    set2(obj, v2)\n"
        "    return obj\n"
    )
    make = positional(IPv6Header, *(f.name for f in dataclasses.fields(IPv6Header)))
    assert make.__globals__["__builtins__"] == {}
