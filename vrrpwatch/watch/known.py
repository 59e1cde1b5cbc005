"""The ``--known-routers`` list: which addresses (and MACs, VRIDs) may advertise."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass


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
        tables = doc.get("router", [])
        if not isinstance(tables, list):
            raise ValueError("expected [[router]] tables")
        out = []
        for i, t in enumerate(tables, 1):
            if not isinstance(t, dict) or "address" not in t:
                raise ValueError(f"router #{i}: 'address' is required")
            try:
                addr = str(ipaddress.ip_address(str(t["address"])))
            except ValueError:
                raise ValueError(f"router #{i}: bad address {t['address']!r}") from None
            mac = t.get("mac")
            if mac is not None:
                mac = str(mac).lower().replace("-", ":")
                if len(bytes.fromhex(mac.replace(":", ""))) != 6:
                    raise ValueError(f"router #{i}: bad mac {t['mac']!r}")
            vrids = t.get("vrids")
            if vrids is not None:
                if not isinstance(vrids, list) or not all(
                    isinstance(v, int) and 1 <= v <= 255 for v in vrids
                ):
                    raise ValueError(f"router #{i}: vrids must be a list of 1..255")
                vrids = frozenset(vrids)
            out.append(KnownRouter(addr, mac, vrids))
        return cls(out)

    def allows(self, address: str, mac: str | None, vrid: int) -> bool:
        r = self.routers.get(address)
        if r is None:
            return False
        if r.mac is not None and mac is not None and mac != r.mac:
            return False
        return r.vrids is None or vrid in r.vrids
