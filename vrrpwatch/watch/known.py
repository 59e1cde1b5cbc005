"""The ``--known-routers`` list: which addresses (and MACs, VRIDs) may advertise."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

MAX_GROUP_ID = 4095  # HSRPv2's 12-bit group number


@dataclass(frozen=True, slots=True)
class KnownRouter:
    address: str
    mac: str | None = None
    vrids: frozenset[int] | None = None


class KnownRouters:
    """The ``--known-routers`` TOML: ``[[router]]`` tables with ``address``, optional ``mac``
    and ``vrids``."""

    def __init__(self, routers: Iterable[KnownRouter]) -> None:
        self.routers: dict[str, KnownRouter] = {r.address: r for r in routers}

    @classmethod
    def from_toml(cls, text: str) -> KnownRouters:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML: {exc}") from None
        except RecursionError:
            # tomllib parses nested arrays and inline tables recursively.
            raise ValueError("not valid TOML: nested too deeply") from None
        tables = doc.get("router", [])
        if not isinstance(tables, list):
            raise ValueError("expected [[router]] tables")
        return cls(_router(i, t) for i, t in enumerate(tables, 1))

    def allows(self, address: str, mac: str | None, vrid: int) -> bool:
        r = self.routers.get(address)
        if r is None:
            return False
        if r.mac is not None and mac is not None and mac != r.mac:
            return False
        return r.vrids is None or vrid in r.vrids


def _router(i: int, t: object) -> KnownRouter:
    """One ``[[router]]`` table; a bad value raises ValueError naming the table and field."""
    if not isinstance(t, dict) or "address" not in t:
        raise ValueError(f"router #{i}: 'address' is required")
    return KnownRouter(_address(i, t["address"]), _mac(i, t.get("mac")), _vrids(i, t.get("vrids")))


def _address(i: int, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"router #{i}: address: expected a string, not {value!r}")
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"router #{i}: address: not an IP address: {value!r}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id is not None:
        # An advert's source address carries no zone, so fe80::1%eth0 could never match.
        raise ValueError(
            f"router #{i}: address: {value!r} has a zone index; write it without '%{addr.scope_id}'"
        )
    return str(addr)


def _mac(i: int, value: object) -> str | None:
    """``02:00:5e:00:01:01``, ``02-00-5e-00-01-01``, ``0200.5e00.0101`` or ``02005e000101``,
    normalised to the colon form the wire's MACs are compared in."""
    if value is None:
        return None
    if isinstance(value, str):
        digits = value.lower()
        for sep in ":-.":
            digits = digits.replace(sep, "")
        shape_ok = len(value) == 12 or (
            len(value) in (14, 17) and len({c for c in value if not c.isalnum()}) == 1
        )
        if shape_ok and len(digits) == 12 and all(c in "0123456789abcdef" for c in digits):
            return ":".join(digits[k : k + 2] for k in range(0, 12, 2))
    raise ValueError(
        f"router #{i}: mac: expected a MAC address like 02:00:5e:00:01:01, not {value!r}"
    )


def _vrids(i: int, value: object) -> frozenset[int] | None:
    if value is None:
        return None
    # bool is an int in Python: ``vrids = [true, 2]`` must not read as VRID 1.
    # Group ids of any protocol: VRRP VRIDs and CARP vhids (1..255), HSRP groups (v1 0..255,
    # v2 0..4095).
    if not isinstance(value, list) or not all(
        type(v) is int and 0 <= v <= MAX_GROUP_ID for v in value
    ):
        raise ValueError(
            f"router #{i}: vrids: expected a list of integers 0..{MAX_GROUP_ID} (VRRP VRIDs, "
            f"HSRP groups, CARP vhids), not {value!r}"
        )
    return frozenset(value)
