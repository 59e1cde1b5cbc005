"""Errors, findings and the Internet checksum shared by every dissector."""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import sys
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# ipaddress objects are immutable and costly to build (microseconds each); the same few
# addresses recur in every advertisement, so the decoders share them through these caches.
ipv4_address = functools.lru_cache(maxsize=8192)(ipaddress.IPv4Address)
ipv6_address = functools.lru_cache(maxsize=8192)(ipaddress.IPv6Address)


class DecodeError(ValueError):
    """The bytes cannot be decoded as the message they are supposed to be."""


class Truncated(DecodeError):
    """The buffer ends before the message does."""


def need(data: bytes | memoryview, length: int, what: str) -> None:
    """Raise Truncated unless ``data`` holds at least ``length`` bytes."""
    if len(data) < length:
        raise Truncated(f"{what}: need {length} bytes, have {len(data)}")


class Finding(enum.StrEnum):
    """Short, stable ids for RFC violations found in a packet that still decoded.

    They appear verbatim in ``vrrpwatch decode --json`` (``findings``) and in the monitor's alerts.
    """

    BAD_CHECKSUM = "bad-checksum"
    TTL_NOT_255 = "ttl-not-255"
    UNICAST_DESTINATION = "unicast-destination"
    BAD_DESTINATION = "bad-destination"
    BAD_SOURCE_MAC = "bad-source-mac"
    COUNT_MISMATCH = "count-mismatch"
    BAD_VERSION = "bad-version"
    BAD_TYPE = "bad-type"
    INTERVAL_ZERO = "interval-zero"
    FAMILY_MISMATCH = "family-mismatch"
    AUTH_WITH_V3 = "auth-with-v3"
    FRAGMENTED = "fragmented"
    IP_OPTIONS = "ip-options"
    SHORT_AUTH_DATA = "short-auth-data"
    BAD_CODE = "bad-code"
    MULTICAST_TARGET = "multicast-target"
    SOLICITED_TO_MULTICAST = "solicited-to-multicast"
    # HSRP (dissectors/hsrp.py): RFC 2281 section 5.1's TTL, port, state and timer rules.
    TTL_NOT_1 = "ttl-not-1"
    BAD_PORT = "bad-port"
    BAD_STATE = "bad-state"
    HOLD_NOT_ABOVE_HELLO = "hold-not-above-hello"


def inet_checksum(*chunks: bytes | memoryview) -> int:
    """RFC 1071 one's-complement sum over the concatenation of ``chunks``.

    Returns the 16-bit checksum value to put in a header (0 when the data already
    includes a correct checksum field, i.e. a verifying sum).
    """
    data = chunks[0] if len(chunks) == 1 and type(chunks[0]) is bytes else b"".join(chunks)
    if len(data) % 2:
        data += b"\x00"
    # Summing 16-bit words in host order and swapping the folded result is the same as
    # summing in network order: the one's-complement sum is byte-order independent
    # (RFC 1071 section 2 (B)). memoryview.cast keeps this fast for the monitor.
    total = sum(memoryview(data).cast("H"))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    result = ~total & 0xFFFF
    if sys.byteorder == "little":
        result = ((result & 0xFF) << 8) | (result >> 8)
    return result


def _constructor_source(arity: int) -> str:
    """The source of ``positional``'s constructor of ``arity`` fields: a new object, then one
    slot set per field through its descriptor (``set0`` ... from the scope it runs in). Built
    from the arity alone, so what ``exec`` runs is only ever this text (tests pin it)."""
    params = ", ".join(f"v{i}" for i in range(arity))
    sets = "".join(f"    set{i}(obj, v{i})\n" for i in range(arity))
    return f"def make({params}):\n    obj = new(cls)\n{sets}    return obj\n"


def positional(cls: type[_T], *names: str) -> Callable[..., _T]:
    """A constructor of the frozen, slotted dataclass ``cls`` taking every field positionally,
    in declaration order, which ``names`` spells out (checked here, at import): the same object
    as ``cls(**fields)``. The keyword-only ``__init__`` that dataclasses generates calls
    ``object.__setattr__`` by name for each field; this sets each slot through its descriptor,
    one straight line per field (generated, as dataclasses generates ``__init__``), in about a
    third of the time. For the decoders' per-advert path only: it runs no ``__post_init__``,
    so every value must be the final one (``init=False`` fields too)."""
    fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    if names != fields:
        raise TypeError(f"{cls.__name__} fields are {fields}, not {names}")
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls, "__builtins__": {}}
    for i, name in enumerate(fields):
        scope[f"set{i}"] = getattr(cls, name).__set__
    exec(_constructor_source(len(fields)), scope)
    make: Callable[..., _T] = scope["make"]
    make.__qualname__ = f"positional.<{cls.__name__}>"
    return make
